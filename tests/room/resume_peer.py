"""A participant on the upstream Python SDK (livekit.rtc) that a test drives
while it runs, on whichever library LIVEKIT_LIB_PATH names (unset: the
wheel's own Rust library).

    resume_peer.py URL TOKEN COMMANDS

Connects, then prints one JSON line per thing that happens, as it happens,
each stamped with time.monotonic() (one clock for every process on the
machine, so the test can compare it with its own):

    {"ev": "ready", "sid", "identity", "remote": {identity: sid}}
    {"ev": "state", "state": n}          connection_state_changed
    {"ev": "reconnecting"} / {"ev": "reconnected"}
    {"ev": "disconnected", "reason", "reason_name"}
    {"ev": "participant_connected" / "participant_disconnected", "identity", "sid"}
    {"ev": "data", "from", "topic", "payload", "kind"}
    {"ev": "trigger"} then {"ev": "simulated", "error"}   around simulate_scenario
    {"ev": "sent", "topic", "error"}     a publish_data returned (error: its text)
    {"ev": "metadata_set", "error"}      a set_metadata returned
    {"ev": "metadata", "identity", "metadata"}
                                         participant_metadata_changed
    {"ev": "status", "sid", "state", "remote": {identity: sid}}
    {"ev": "bye"}                        left the room; the process ends

and reads its commands from the file COMMANDS, one JSON object a line,
appended by the test (polled; a command file keeps testbed.spawn as it is):

    {"cmd": "simulate"}                  simulate_scenario(SIMULATE_SIGNAL_RECONNECT)
    {"cmd": "send", "topic", "payload"}  a reliable publish_data
    {"cmd": "send_on_reconnecting", "topic", "payload"}
                                         the same, from inside the next
                                         "reconnecting" handler (so while
                                         the room reconnects)
    {"cmd": "metadata_on_reconnecting", "metadata"}
                                         set_metadata from inside the next
                                         "reconnecting" handler
    {"cmd": "status"}
    {"cmd": "quit"}

Every wait is bounded; the process leaves on its own after LIFETIME_S."""
import asyncio
import json
import sys
import time

from livekit import rtc

BOUND_S = 30
PUBLISH_BOUND_S = 45  # a publish made while reconnecting waits for the resume
LIFETIME_S = 240
POLL_S = 0.05


def emit(ev, **fields):
    print(json.dumps({"ev": ev, "t": time.monotonic(), **fields}), flush=True)


def reason_name(reason):
    try:
        return rtc.DisconnectReason.Name(int(reason))
    except ValueError:
        return str(reason)


async def set_metadata(room, value):
    try:
        await asyncio.wait_for(room.local_participant.set_metadata(value), PUBLISH_BOUND_S)
        emit("metadata_set", error=None)
    except asyncio.TimeoutError:
        emit("metadata_set", error=f"set_metadata did not return within {PUBLISH_BOUND_S} s")
    except Exception as e:  # the test reads the error text
        emit("metadata_set", error=f"{type(e).__name__}: {e}" if str(e) else repr(e))


def remote_of(room):
    return {identity: p.sid for identity, p in room.remote_participants.items()}


async def publish(room, topic, payload):
    try:
        await asyncio.wait_for(
            room.local_participant.publish_data(payload, reliable=True, topic=topic),
            PUBLISH_BOUND_S)
        emit("sent", topic=topic, error=None)
    except asyncio.TimeoutError:
        emit("sent", topic=topic, error=f"publish_data did not return within {PUBLISH_BOUND_S} s")
    except Exception as e:  # the test reads the error text
        emit("sent", topic=topic, error=f"{type(e).__name__}: {e}" if str(e) else repr(e))


async def simulate(room):
    emit("trigger")
    try:
        await asyncio.wait_for(
            room.simulate_scenario(rtc.SimulateScenarioKind.SIMULATE_SIGNAL_RECONNECT), BOUND_S)
        emit("simulated", error=None)
    except Exception as e:
        emit("simulated", error=f"{type(e).__name__}: {e}" if str(e) else repr(e))


async def commands(path):
    """Yields each command appended to the file, as it is appended."""
    offset, pending = 0, ""
    while True:
        with open(path) as f:
            f.seek(offset)
            chunk = f.read()
            offset = f.tell()
        pending += chunk
        while "\n" in pending:
            line, pending = pending.split("\n", 1)
            if line.strip():
                yield json.loads(line)
        await asyncio.sleep(POLL_S)


async def main(url, token, path):
    room = rtc.Room()
    tasks = set()
    armed = []  # coroutines to start from the next "reconnecting"

    def spawn_task(coro):
        t = asyncio.ensure_future(coro)
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    def on_reconnecting():
        emit("reconnecting")
        while armed:
            spawn_task(armed.pop(0)())

    room.on("connection_state_changed", lambda s: emit("state", state=int(s)))
    room.on("reconnecting", on_reconnecting)
    room.on("reconnected", lambda: emit("reconnected"))
    room.on("disconnected", lambda reason=0: emit(
        "disconnected", reason=int(reason), reason_name=reason_name(reason)))
    room.on("participant_connected",
            lambda p: emit("participant_connected", identity=p.identity, sid=p.sid))
    room.on("participant_disconnected",
            lambda p: emit("participant_disconnected", identity=p.identity, sid=p.sid))
    room.on("participant_metadata_changed", lambda p, old, new: emit(
        "metadata", identity=p.identity, metadata=new))
    room.on("data_received", lambda p: emit(
        "data", topic=p.topic, kind=int(p.kind), payload=p.data.decode(errors="replace"),
        **{"from": getattr(p.participant, "identity", None)}))
    try:
        await asyncio.wait_for(room.connect(url, token), BOUND_S)
    except Exception as e:  # the test reads the error text
        emit("connect_failed", error=str(e) or repr(e))
        return
    lp = room.local_participant
    emit("ready", sid=lp.sid, identity=lp.identity, remote=remote_of(room))

    async def serve():
        async for c in commands(path):
            cmd = c["cmd"]
            if cmd == "simulate":
                spawn_task(simulate(room))
            elif cmd == "send":
                spawn_task(publish(room, c["topic"], c["payload"]))
            elif cmd == "send_on_reconnecting":
                armed.append(lambda c=c: publish(room, c["topic"], c["payload"]))
            elif cmd == "metadata_on_reconnecting":
                armed.append(lambda c=c: set_metadata(room, c["metadata"]))
            elif cmd == "status":
                emit("status", sid=room.local_participant.sid, state=int(room.connection_state),
                     remote=remote_of(room))
            elif cmd == "quit":
                return

    try:
        await asyncio.wait_for(serve(), LIFETIME_S)
    except asyncio.TimeoutError:
        emit("lifetime_over")
    for t in list(tasks):
        t.cancel()
    try:
        await asyncio.wait_for(room.disconnect(), BOUND_S)
    except Exception as e:
        emit("disconnect_failed", error=str(e) or repr(e))
    emit("bye")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
