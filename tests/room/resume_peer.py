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
    {"ev": "published", "sid"}           our tone's track is published
    {"ev": "republished", "previous_sid", "sid", "same"}
                                         local_track_republished (same: the
                                         publication object publish_track gave)
    {"ev": "track_subscribed" / "track_unpublished", "identity", "sid"}
    {"ev": "audio", "identity", "sid"}   a subscribed track brought a second
                                         of sound (peak over AUDIBLE)
    {"ev": "text", "topic", "from", "length", "whole"}
                                         a text stream read to its end (whole:
                                         the text the senders here send)
    {"ev": "text_sent", "topic", "error"} a send_text returned
    {"ev": "status", "sid", "state", "remote": {identity: sid},
     "publications": [sid]}
    {"ev": "bye"}                        left the room; the process ends

and reads its commands from the file COMMANDS, one JSON object a line,
appended by the test (polled; a command file keeps testbed.spawn as it is):

    {"cmd": "simulate"}                  simulate_scenario(SIMULATE_SIGNAL_RECONNECT)
    {"cmd": "simulate", "kind": K}       simulate_scenario(SIMULATE_<K>), e.g.
                                         FULL_RECONNECT, NODE_FAILURE
    {"cmd": "publish_tone"}              publishes a microphone playing a 440 Hz tone
    {"cmd": "send", "topic", "payload"}  a reliable publish_data
    {"cmd": "send_on_reconnecting", "topic", "payload"}
                                         the same, from inside the next
                                         "reconnecting" handler (so while
                                         the room reconnects)
    {"cmd": "metadata_on_reconnecting", "metadata"}
                                         set_metadata from inside the next
                                         "reconnecting" handler
    {"cmd": "text_on_reconnecting", "topic", "length"}
                                         send_text of TEXT(length) from inside
                                         the next "reconnecting" handler
    {"cmd": "status"}
    {"cmd": "quit"}

Every wait is bounded; the process leaves on its own after LIFETIME_S."""
import asyncio
import json
import math
import sys
import time

import numpy as np
from livekit import rtc

BOUND_S = 30
PUBLISH_BOUND_S = 45  # a publish made while reconnecting waits for the resume
LIFETIME_S = 240
POLL_S = 0.05
RATE, FRAME = 48000, 480
AUDIBLE = 3000  # the tone's peak is 8000


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


async def simulate(room, kind):
    emit("trigger")
    scenario = rtc.SimulateScenarioKind.Value("SIMULATE_" + (kind or "SIGNAL_RECONNECT"))
    try:
        await asyncio.wait_for(room.simulate_scenario(scenario), BOUND_S)
        emit("simulated", error=None)
    except Exception as e:
        emit("simulated", error=f"{type(e).__name__}: {e}" if str(e) else repr(e))


def text_of(length):
    return ("0123456789abcdef" * (length // 16 + 1))[:length]


async def send_text(room, topic, length):
    try:
        await asyncio.wait_for(room.local_participant.send_text(text_of(length), topic=topic),
                               PUBLISH_BOUND_S)
        emit("text_sent", topic=topic, error=None)
    except Exception as e:  # the test reads the error text
        emit("text_sent", topic=topic, error=f"{type(e).__name__}: {e}" if str(e) else repr(e))


async def read_text(reader, sender):
    try:
        text = await asyncio.wait_for(reader.read_all(), BOUND_S)
    except Exception as e:
        emit("text", topic=reader.info.topic, error=repr(e), **{"from": sender})
        return
    emit("text", topic=reader.info.topic, length=len(text), whole=text == text_of(len(text)),
         error=None, **{"from": sender})


async def play_tone(source):
    """10 ms frames of a 440 Hz tone, paced by the clock, for the peer's life."""
    t0, n = time.monotonic(), 0
    while True:
        i = np.arange(n * FRAME, (n + 1) * FRAME)
        pcm = (8000 * np.sin(2 * math.pi * 440 * i / RATE)).astype(np.int16)
        await source.capture_frame(rtc.AudioFrame(pcm.tobytes(), RATE, 1, FRAME))
        n += 1
        await asyncio.sleep(max(0.0, t0 + n * FRAME / RATE - time.monotonic()))


async def hear(track, identity, sid):
    """Reports a second of sound from the track (bounded by the peer's life)."""
    loud = 0
    async for ev in rtc.AudioStream(track, sample_rate=RATE, num_channels=1):
        pcm = np.frombuffer(ev.frame.data, np.int16)
        loud = loud + 1 if pcm.size and int(np.abs(pcm).max()) > AUDIBLE else 0
        if loud == 100:
            emit("audio", identity=identity, sid=sid)
            return


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
    published = []  # the LocalTrackPublication publish_track gave

    def on_republished(pub, previous_sid):
        emit("republished", previous_sid=previous_sid, sid=pub.sid,
             same=bool(published) and pub is published[0])

    def on_subscribed(track, pub, p):
        emit("track_subscribed", identity=p.identity, sid=pub.sid)
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            spawn_task(hear(track, p.identity, pub.sid))

    room.register_text_stream_handler(
        "during-text", lambda reader, sender: spawn_task(read_text(reader, sender)))
    room.on("local_track_republished", on_republished)
    room.on("track_subscribed", on_subscribed)
    room.on("track_unpublished",
            lambda pub, p: emit("track_unpublished", identity=p.identity, sid=pub.sid))
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
                spawn_task(simulate(room, c.get("kind")))
            elif cmd == "publish_tone":
                source = rtc.AudioSource(RATE, 1)
                track = rtc.LocalAudioTrack.create_audio_track("tone", source)
                pub = await asyncio.wait_for(room.local_participant.publish_track(
                    track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)),
                    BOUND_S)
                published.append(pub)
                spawn_task(play_tone(source))
                emit("published", sid=pub.sid)
            elif cmd == "send":
                spawn_task(publish(room, c["topic"], c["payload"]))
            elif cmd == "send_on_reconnecting":
                armed.append(lambda c=c: publish(room, c["topic"], c["payload"]))
            elif cmd == "text_on_reconnecting":
                armed.append(lambda c=c: send_text(room, c["topic"], c["length"]))
            elif cmd == "metadata_on_reconnecting":
                armed.append(lambda c=c: set_metadata(room, c["metadata"]))
            elif cmd == "status":
                emit("status", sid=room.local_participant.sid, state=int(room.connection_state),
                     remote=remote_of(room),
                     publications=sorted(room.local_participant.track_publications))
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
