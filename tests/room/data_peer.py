"""A participant exchanging data and RPC through the upstream Python SDK
(livekit.rtc), on whichever library LIVEKIT_LIB_PATH names (unset: the
wheel's own Rust library).

    data_peer.py receiver URL TOKEN   register RPC methods; record every data
                                      packet until one with topic "done"
    data_peer.py sender URL TOKEN     wait until "receiver" and "bystander"
                                      know it; send reliable, lossy, addressed
                                      packets; make RPC calls; send "done"
    data_peer.py leaver URL TOKEN     wait until "receiver" knows it; send a
                                      burst of reliable packets and "done",
                                      and leave at once

Prints READY once connected (and, for a receiver, registered), then one
JSON object at the end: what it saw, for the test to check."""
import asyncio
import hashlib
import json
import sys
import time

from livekit import rtc

BOUND_S = 60
RELIABLE = 1000
LOSSY = 50
# more than SCTP can have acknowledged when the leaver leaves
BURST = 200
BURST_BYTES = 15000


def burst_payload(i):
    return bytes([i % 256]) * BURST_BYTES


async def receiver(room, out):
    done = asyncio.Event()
    got = out["packets"] = []
    burst = hashlib.sha256()
    out["burst"], out["burst_packets"] = burst.hexdigest(), 0

    def on_data(p):
        if p.topic == "burst":
            burst.update(p.data)
            out["burst"] = burst.hexdigest()
            out["burst_packets"] += 1
            return
        got.append([getattr(p.participant, "identity", None), p.topic, p.kind,
                    p.data.decode(errors="replace")])
        if p.topic == "done":
            done.set()

    room.on("data_received", on_data)
    room.on("sip_dtmf_received", lambda d: got.append(
        [getattr(d.participant, "identity", None), "dtmf", d.code, d.digit]))
    lp = room.local_participant

    # The server may deliver a newcomer's packets before it tells us the
    # newcomer joined; the sender waits for this word so that every packet
    # it sends comes from a participant we know.
    def on_joined(p):
        asyncio.ensure_future(lp.publish_data(lp.identity, topic="seen",
                                              destination_identities=[p.identity]))

    room.on("participant_connected", on_joined)

    @lp.register_rpc_method("echo")
    async def echo(data):
        return f"{data.caller_identity}:{data.payload}"

    @lp.register_rpc_method("slow")
    async def slow(data):
        await asyncio.sleep(4)
        return "too late"

    @lp.register_rpc_method("fail")
    async def fail(data):
        raise ValueError("not a user-facing error")

    @lp.register_rpc_method("refuse")
    async def refuse(data):
        raise rtc.RpcError(4321, "refused on purpose", "details")

    @lp.register_rpc_method("big")
    async def big(data):
        return "x" * 20000

    @lp.register_rpc_method("gone")
    async def gone(data):
        return "registered, then unregistered"

    lp.unregister_rpc_method("gone")
    print("READY", flush=True)
    await asyncio.wait_for(done.wait(), BOUND_S)


async def call(lp, out, name, **kw):
    t0 = time.monotonic()
    try:
        res = await lp.perform_rpc(**{"destination_identity": "receiver", **kw})
        out["rpc"][name] = {"payload": res}
    except rtc.RpcError as e:
        out["rpc"][name] = {"code": e.code, "message": e.message, "data": e.data}
    out["rpc"][name]["ms"] = round((time.monotonic() - t0) * 1000)


async def wait_seen(room, identities):
    seen = set()
    room.on("data_received", lambda p: p.topic == "seen" and seen.add(p.data.decode()))
    print("READY", flush=True)
    for _ in range(BOUND_S * 10):
        if seen == identities:
            break
        await asyncio.sleep(0.1)


async def leaver(room, out):
    await wait_seen(room, {"receiver"})
    lp = room.local_participant
    for i in range(BURST):
        await lp.publish_data(burst_payload(i), reliable=True, topic="burst",
                              destination_identities=["receiver"])
    await lp.publish_data("", reliable=True, topic="done")


async def sender(room, out):
    await wait_seen(room, {"receiver", "bystander"})
    lp = room.local_participant
    for i in range(RELIABLE):
        await lp.publish_data(f"r-{i}", reliable=True, topic="rel")
    for i in range(LOSSY):
        await lp.publish_data(f"l-{i}", reliable=False, topic="lossy")
    await lp.publish_data("for the receiver", reliable=True, topic="private",
                          destination_identities=["receiver"])
    await lp.publish_data("for the bystander", reliable=True, topic="private",
                          destination_identities=["bystander"])
    await lp.publish_data(bytes(range(256)) * 40, reliable=True, topic="binary")
    await lp.publish_dtmf(code=11, digit="#")
    out["rpc"] = {}
    await call(lp, out, "echo", method="echo", payload="hello")
    await call(lp, out, "unsupported", method="nope", payload="")
    await call(lp, out, "unregistered", method="gone", payload="")
    await call(lp, out, "timeout", method="slow", payload="", response_timeout=1.5)
    await call(lp, out, "application", method="fail", payload="")
    await call(lp, out, "custom", method="refuse", payload="")
    await call(lp, out, "request_too_large", method="echo", payload="y" * 15361)
    await call(lp, out, "response_too_large", method="big", payload="")
    await call(lp, out, "megabyte", method="echo", payload="z" * 1_000_000)
    await call(lp, out, "nobody", destination_identity="nobody", method="echo", payload="",
               max_round_trip_latency=1.0)
    await lp.publish_data("", reliable=True, topic="done",
                          destination_identities=["receiver", "bystander"])


async def main(role, url, token):
    room = rtc.Room()
    out = {"error": None}
    try:
        await asyncio.wait_for(room.connect(url, token), BOUND_S)
    except Exception as e:  # the test reads the error text
        out["error"] = str(e) or repr(e)
        print(json.dumps(out), flush=True)
        return
    try:
        await {"sender": sender, "leaver": leaver, "receiver": receiver}[role](room, out)
    except Exception as e:
        out["error"] = repr(e)
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
