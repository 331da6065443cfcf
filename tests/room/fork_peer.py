"""Participants for the fork test, through the upstream Python SDK
(livekit.rtc) on whichever library LIVEKIT_LIB_PATH names.

    fork_peer.py echo URL TOKEN    answer RPC "echo" with its payload and
                                   data topic "ping" with "pong", until a
                                   "bye"; record who called
    fork_peer.py forker URL TOKEN_A TOKEN_B
                                   join room A, talk to "echo-a", fork; the
                                   child rebuilds the runtime
                                   (livekit_ffi_reinit), joins room B and
                                   talks to "echo-b" while the parent keeps
                                   talking in room A; then both leave

Prints READY once connected, then one JSON object: what it saw."""
import asyncio
import json
import os
import sys
import time

from livekit import rtc
from livekit.rtc._ffi_client import FfiClient, FfiQueue

BOUND_S = 60
# The echo outlives the forker's every bound: a stall on a shared machine
# must fail the forker's own checks (which say what was slow), not the echo.
ECHO_BOUND_S = 4 * BOUND_S


async def echo(room, out):
    callers = set()
    bye = asyncio.Event()
    lp = room.local_participant

    @lp.register_rpc_method("echo")
    async def on_echo(data):
        callers.add(data.caller_identity)
        return data.payload

    def on_data(p):
        if p.topic == "ping":  # "identity:…": the server may not have named the sender yet
            who = p.data.decode().split(":")[0]
            callers.add(who)
            asyncio.ensure_future(lp.publish_data(p.data, topic="pong",
                                                  destination_identities=[who]))
        elif p.topic == "bye":
            bye.set()

    room.on("data_received", on_data)
    print("READY", flush=True)
    await asyncio.wait_for(bye.wait(), ECHO_BOUND_S)
    out["callers"] = sorted(callers)


class Talker:
    """RPC and data round trips with one echo participant."""

    def __init__(self, room, peer):
        self.room, self.peer = room, peer
        self.pongs = asyncio.Queue()
        room.on("data_received", lambda p: p.topic == "pong" and self.pongs.put_nowait(p.data))

    async def wait_for_peer(self):
        for _ in range(BOUND_S * 10):
            if self.peer in self.room.remote_participants:
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.peer} never joined")

    async def round_trip(self, i):
        """One RPC and one data ping; True when both came back intact."""
        lp = self.room.local_participant
        payload = f"{lp.identity}:{os.getpid()}:{i}"
        reply = await lp.perform_rpc(destination_identity=self.peer, method="echo",
                                     payload=payload)
        await lp.publish_data(payload.encode(), topic="ping", destination_identities=[self.peer])
        pong = await asyncio.wait_for(self.pongs.get(), 10)
        return reply == payload and pong == payload.encode()

    async def bye(self):
        await self.room.local_participant.publish_data(
            b"", topic="bye", destination_identities=[self.peer])


async def connect(url, token, peer):
    room = rtc.Room()
    await asyncio.wait_for(room.connect(url, token), BOUND_S)
    talker = Talker(room, peer)
    await talker.wait_for_peer()
    return room, talker


async def child_main(url, token):
    out = {"error": None, "ok": 0, "bad": 0}
    try:
        room, talker = await connect(url, token, "echo-b")
        out["room"] = room.name
        for i in range(20):
            if await talker.round_trip(i):
                out["ok"] += 1
            else:
                out["bad"] += 1
        await talker.bye()
        await room.disconnect()
    except Exception as e:
        out["error"] = repr(e)
    return out


def run_child(url, token, wfd):
    """In the fork child: rebuild the runtime, then a fresh event loop."""
    ffi = FfiClient.instance
    if not ffi._ffi_lib.livekit_ffi_reinit():
        out = {"error": "livekit_ffi_reinit failed"}
    else:
        ffi._pid = os.getpid()  # the SDK's own fork guard: this pid is fine now
        # a fresh event queue: the parent's subscribers stay behind, and so
        # does the queue's lock, which a thread delivering an event held at
        # the fork (that thread does not exist here)
        ffi._queue = FfiQueue()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        out = loop.run_until_complete(child_main(url, token))
    os.write(wfd, json.dumps(out).encode())
    os._exit(0)


async def parent_rounds(talker, out, key, until):
    """Round trips until `until()` says stop (at least one, bounded)."""
    deadline = time.monotonic() + BOUND_S
    i = 0
    while time.monotonic() < deadline:
        ok = await talker.round_trip(i)
        out[key]["ok" if ok else "bad"] += 1
        i += 1
        if until():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{key}: still going after {BOUND_S} s")


def forker(url, token_a, token_b):
    out = {"error": None, "before": {"ok": 0, "bad": 0}, "during": {"ok": 0, "bad": 0},
           "after": {"ok": 0, "bad": 0}}
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    room, talker = loop.run_until_complete(connect(url, token_a, "echo-a"))
    print("READY", flush=True)
    n = 0

    def ten():
        nonlocal n
        n += 1
        return n % 10 == 0

    loop.run_until_complete(parent_rounds(talker, out, "before", ten))
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        run_child(url, token_b, wfd)
    os.close(wfd)
    status = []

    def child_done():
        if not status:
            got, st = os.waitpid(pid, os.WNOHANG)
            if got:
                status.append(st)
        return bool(status)

    try:
        loop.run_until_complete(parent_rounds(talker, out, "during", child_done))
        loop.run_until_complete(parent_rounds(talker, out, "after", ten))
        out["state"] = room.connection_state
        loop.run_until_complete(talker.bye())
        loop.run_until_complete(room.disconnect())
    except Exception as e:
        out["error"] = repr(e)
    if not status:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    with os.fdopen(rfd, "rb") as f:
        data = f.read()
    out["child"] = json.loads(data) if data else {"error": "the child wrote nothing"}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    role, url = sys.argv[1], sys.argv[2]
    if role == "echo":
        async def main():
            room = rtc.Room()
            out = {"error": None}
            await asyncio.wait_for(room.connect(url, sys.argv[3]), BOUND_S)
            try:
                await echo(room, out)
            except Exception as e:
                out["error"] = repr(e)
            await room.disconnect()
            print(json.dumps(out), flush=True)
        asyncio.run(main())
    else:
        forker(url, sys.argv[3], sys.argv[4])
