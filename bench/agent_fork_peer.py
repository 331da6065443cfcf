"""Participants of bench/agent_fork.py, through the upstream Python SDK on
whichever library LIVEKIT_LIB_PATH names.

    agent_fork_peer.py dispatcher URL TOKEN TOKENS_JSON
        in room "home": answers "ping" with "pong"; on "job:NAME" joins the
        job's room (its token from TOKENS_JSON), answers "ready:NAME", and
        when the job's audio track arrives listens for its voice, then calls
        its RPC "job"; leaves when the job does (or "end:NAME"); until "bye".
        Prints what each job did.
    agent_fork_peer.py worker URL TOKEN TOKENS_JSON MODE JOBS
        the warm agent worker: joins "home", then runs JOBS jobs in a row,
        each in a fork child (MODE fork: livekit_ffi_reinit, then the job)
        or in a new process (MODE spawn: the usual workaround), and pings
        the dispatcher in "home" after each. MODE fork-no-reinit: what a
        child on upstream's library can do (it has no reinit): try the job
        with a bound.
    agent_fork_peer.py job URL TOKEN T0
        one job in a process of its own (MODE spawn), T0 the monotonic time
        the worker started it.

A job: join its room, publish a microphone track, answer the RPC "job",
leave. The worker prints one JSON object: per job, the milliseconds from
fork (or spawn) to joined-and-publishing, and whether the job ended."""
import asyncio
import json
import math
import os
import subprocess
import sys
import time

from livekit import rtc
from livekit.rtc._ffi_client import FfiClient, FfiQueue

BOUND_S = 30
NO_REINIT_BOUND_S = 5  # upstream's child: long enough to show it never joins


# --- the job ------------------------------------------------------------------------------

async def job(url, token, t0):
    """Join, publish, answer "job", leave; the times are since t0."""
    room = rtc.Room()
    answered = asyncio.Event()
    await asyncio.wait_for(room.connect(url, token), BOUND_S)
    joined_ms = (time.monotonic() - t0) * 1000

    @room.local_participant.register_rpc_method("job")
    async def on_job(data):
        answered.set()
        return "done"

    source = rtc.AudioSource(48000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("voice", source)
    opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    await asyncio.wait_for(room.local_participant.publish_track(track, opts), BOUND_S)
    publishing_ms = (time.monotonic() - t0) * 1000
    frame = rtc.AudioFrame.create(48000, 1, 480)
    samples = frame.data  # int16
    deadline = time.monotonic() + BOUND_S
    n = 0
    while not answered.is_set() and time.monotonic() < deadline:  # a 440 Hz voice
        for i in range(480):
            samples[i] = int(8000 * math.sin(2 * math.pi * 440 * (n * 480 + i) / 48000))
        await source.capture_frame(frame)
        n += 1
    # The SDK sends the answer from a task of its own once the handler has
    # returned, and a disconnect before that answers the caller with
    # "recipient disconnected" instead: let it go first.
    await asyncio.sleep(0.1)
    await room.disconnect()
    return {"joined_ms": joined_ms, "publishing_ms": publishing_ms,
            "answered": answered.is_set(), "error": None}


def job_in_fork_child(url, token, t0, wfd, reinit):
    """In the fork child: rebuild the runtime (reinit), a fresh event loop,
    the job; its result through the pipe."""
    ffi = FfiClient.instance
    if reinit and not ffi._ffi_lib.livekit_ffi_reinit():
        out = {"error": "livekit_ffi_reinit failed"}
    else:
        ffi._pid = os.getpid()  # the SDK's own fork guard: let it try
        ffi._queue = FfiQueue()  # the parent's subscribers (and lock) stay behind
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        coro = job(url, token, t0)
        if not reinit:
            coro = asyncio.wait_for(coro, NO_REINIT_BOUND_S)
        try:
            out = loop.run_until_complete(coro)
        except asyncio.TimeoutError:
            out = {"error": f"no join within {NO_REINIT_BOUND_S} s (hangs)"}
        except Exception as e:
            out = {"error": repr(e)}
    os.write(wfd, json.dumps(out).encode())
    os._exit(0)


# --- the worker ---------------------------------------------------------------------------

class Home:
    """The worker's own room: asks the dispatcher to get ready for a job,
    and pings it."""

    def __init__(self, room):
        self.room, self.inbox = room, asyncio.Queue()
        room.on("data_received", lambda p: self.inbox.put_nowait(p.data.decode()))

    async def ask(self, msg, want):
        await self.room.local_participant.publish_data(msg, destination_identities=["dispatcher"])
        while True:
            got = await asyncio.wait_for(self.inbox.get(), BOUND_S)
            if got == want:
                return


def run_fork(loop, url, token, reinit):
    t0 = time.monotonic()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        job_in_fork_child(url, token, t0, wfd, reinit)
    os.close(wfd)
    deadline = time.monotonic() + BOUND_S + NO_REINIT_BOUND_S
    while time.monotonic() < deadline:  # the parent's loop keeps serving its room
        loop.run_until_complete(asyncio.sleep(0.01))
        if os.waitpid(pid, os.WNOHANG)[0]:
            break
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    with os.fdopen(rfd, "rb") as f:
        data = f.read()
    return json.loads(data) if data else {"error": "the child hung and was killed"}


def run_spawn(loop, url, token):
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, __file__, "job", url, token, repr(t0)],
                         stdout=subprocess.PIPE, text=True)
    try:
        out, _ = p.communicate(timeout=BOUND_S * 2)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    lines = out.strip().splitlines()
    return json.loads(lines[-1]) if lines else {"error": "the process wrote nothing"}


def worker(url, token, tokens_path, mode, jobs):
    with open(tokens_path) as f:
        tokens = json.load(f)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    room = rtc.Room()
    loop.run_until_complete(asyncio.wait_for(room.connect(url, token), BOUND_S))
    home = Home(room)
    print("READY", flush=True)
    out = {"error": None, "jobs": [], "pings_ok": 0}
    try:
        for i in range(int(jobs)):
            name = f"{mode}-{i}"
            loop.run_until_complete(home.ask(f"job:{name}", f"ready:{name}"))
            url_token = tokens["jobs"][name]
            if mode == "spawn":
                r = run_spawn(loop, url, url_token)
            else:
                r = run_fork(loop, url, url_token, reinit=(mode == "fork"))
            out["jobs"].append(r)
            loop.run_until_complete(room.local_participant.publish_data(
                f"end:{name}", destination_identities=["dispatcher"]))
            loop.run_until_complete(home.ask("ping", "pong"))  # the parent's room still works
            out["pings_ok"] += 1
        out["state"] = room.connection_state
        loop.run_until_complete(home.ask("bye", "bye"))
        loop.run_until_complete(room.disconnect())
    except Exception as e:
        out["error"] = repr(e)
    print(json.dumps(out), flush=True)


# --- the dispatcher -----------------------------------------------------------------------

async def dispatcher(url, token, tokens_path):
    with open(tokens_path) as f:
        tokens = json.load(f)
    home = rtc.Room()
    await asyncio.wait_for(home.connect(url, token), BOUND_S)
    lp = home.local_participant
    done = asyncio.Event()
    out = {"error": None, "jobs": {}}
    tasks = []
    ends = {}

    async def reply(msg, who):
        await lp.publish_data(msg, destination_identities=[who])

    async def take_job(name, who):
        room = rtc.Room()
        seen = out["jobs"][name] = {"rpc": None, "heard": False}
        finished = asyncio.Event()

        async def listen(stream):
            async for ev in stream:
                if any(abs(s) > 1000 for s in ev.frame.data):
                    return True
            return False

        async def call(track, participant):
            stream = rtc.AudioStream(track)
            try:  # the job's voice reaches us, then the job answers
                seen["heard"] = await asyncio.wait_for(listen(stream), 5)
            except asyncio.TimeoutError:
                pass
            await stream.aclose()
            try:
                seen["rpc"] = await room.local_participant.perform_rpc(
                    destination_identity=participant.identity, method="job", payload="go")
            except Exception as e:
                seen["rpc"] = repr(e)

        room.on("track_subscribed", lambda track, pub, participant: tasks.append(
            asyncio.ensure_future(call(track, participant))))
        room.on("participant_disconnected", lambda p: finished.set())
        ends[name] = finished
        await asyncio.wait_for(room.connect(url, tokens["dispatcher"][name]), BOUND_S)
        await reply(f"ready:{name}", who)
        try:
            await asyncio.wait_for(finished.wait(), BOUND_S * 2)
        finally:
            await room.disconnect()

    def on_data(p):
        msg, who = p.data.decode(), "worker"  # the server may not have named the sender yet
        if msg == "ping":
            tasks.append(asyncio.ensure_future(reply("pong", who)))
        elif msg == "bye":
            tasks.append(asyncio.ensure_future(reply("bye", who)))
            done.set()
        elif msg.startswith("job:"):
            tasks.append(asyncio.ensure_future(take_job(msg[4:], who)))
        elif msg.startswith("end:") and msg[4:] in ends:
            ends[msg[4:]].set()

    home.on("data_received", on_data)
    print("READY", flush=True)
    await asyncio.wait_for(done.wait(), 600)
    await asyncio.gather(*tasks, return_exceptions=True)
    await home.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "dispatcher":
        asyncio.run(dispatcher(*sys.argv[2:5]))
    elif role == "worker":
        worker(*sys.argv[2:7])
    else:
        print(json.dumps(asyncio.run(job(sys.argv[2], sys.argv[3], float(sys.argv[4])))),
              flush=True)
