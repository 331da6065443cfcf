"""A participant in the subscription test, on the upstream Python SDK
(livekit.rtc) unchanged, on whichever library LIVEKIT_LIB_PATH names
(unset: the wheel's own Rust library).

    subscribe_peer.py speaker URL TOKEN   publish "mic": TALK_S of a loud
                                          440 Hz tone, PAUSE_S of silence,
                                          again and again until "listener"
                                          says "done"; report the active
                                          speakers and connection qualities
                                          it is told of
    subscribe_peer.py listener URL TOKEN  join with auto_subscribe off; see
                                          the publication and wait QUIET_S
                                          (nothing may arrive), then
                                          set_subscribed(True) and read the
                                          track, set_subscribed(False) and
                                          see it go, set_subscribed(True)
                                          again and read it; then "done"

Prints READY once connected, then one JSON object at the end: the events
in order (each with the seconds since READY) and, for the listener, how
much audio it read in each phase and how loud."""
import asyncio
import json
import math
import sys
import time

import numpy as np
from livekit import rtc

BOUND_S = 30
RATE = 48000
FRAME = RATE // 100
TALK_S, PAUSE_S = 2.0, 1.5
QUIET_S = 2.0
READ_S = 3.0


def tone(start, n):
    t = np.arange(start, start + n) / RATE
    return (32767 * 10 ** (-10 / 20) * np.sin(2 * math.pi * 440 * t)).astype(np.int16)


def clock():
    t0 = time.monotonic()
    return lambda: round(time.monotonic() - t0, 3)


async def speaker(room, out):
    at = clock()
    events = out["events"] = []
    done = asyncio.Event()
    room.on("data_received", lambda p: p.topic == "done" and done.set())
    room.on("active_speakers_changed", lambda speakers: events.append(
        ["speakers", [p.identity for p in speakers], at()]))
    room.on("connection_quality_changed", lambda p, quality: events.append(
        ["quality", p.identity, int(quality), at()]))
    room.on("local_track_subscribed", lambda track: events.append(["subscribed", track.sid, at()]))
    source = rtc.AudioSource(RATE, 1, queue_size_ms=50)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    pub = await room.local_participant.publish_track(track, opts)
    out["sid"] = pub.sid
    print("READY", flush=True)
    sent, silence = 0, np.zeros(FRAME, np.int16)
    deadline = time.monotonic() + 4 * BOUND_S
    while not done.is_set() and time.monotonic() < deadline:
        for i in range(round((TALK_S + PAUSE_S) * 100)):
            pcm = tone(sent, FRAME) if i < TALK_S * 100 else silence
            await source.capture_frame(rtc.AudioFrame(pcm.tobytes(), RATE, 1, FRAME))
            sent += FRAME
            if done.is_set():
                break
    if not done.is_set():
        out["error"] = "the listener never said done"


class Reader:
    """One AudioStream on a subscribed track, read until it ends: how many
    10 ms frames, and how many of them loud."""

    def __init__(self, track):
        self.frames = self.loud = 0
        self.ended = asyncio.Event()
        self.task = asyncio.ensure_future(self.run(rtc.AudioStream(track, sample_rate=RATE, num_channels=1)))

    async def run(self, stream):
        try:
            async for ev in stream:
                pcm = np.frombuffer(ev.frame.data, dtype=np.int16).astype(np.float64)
                self.frames += 1
                self.loud += int(np.sqrt((pcm ** 2).mean()) > 32768 * 10 ** (-30 / 20))
        finally:
            self.ended.set()


async def listener(room, out):
    at = clock()
    events = out["events"] = []
    published, subscribed, unsubscribed = asyncio.Queue(), asyncio.Queue(), asyncio.Queue()

    def on_published(pub, p):
        events.append(["track_published", p.identity, pub.sid, at()])
        published.put_nowait(pub)

    def on_subscribed(track, pub, p):
        events.append(["track_subscribed", p.identity, pub.sid, at()])
        subscribed.put_nowait(track)

    def on_unsubscribed(track, pub, p):
        events.append(["track_unsubscribed", p.identity, pub.sid, at()])
        unsubscribed.put_nowait(track)

    room.on("track_published", on_published)
    room.on("track_subscribed", on_subscribed)
    room.on("track_unsubscribed", on_unsubscribed)
    room.on("active_speakers_changed", lambda speakers: events.append(
        ["speakers", [p.identity for p in speakers], at()]))
    room.on("connection_quality_changed", lambda p, quality: events.append(
        ["quality", p.identity, int(quality), at()]))
    print("READY", flush=True)

    pub = await asyncio.wait_for(published.get(), BOUND_S)
    await asyncio.sleep(QUIET_S)  # auto_subscribe is off: nothing comes
    phases = out["phases"] = {}

    async def subscribe_and_read(name):
        events.append(["set_subscribed", True, at()])
        pub.set_subscribed(True)
        reader = Reader(await asyncio.wait_for(subscribed.get(), BOUND_S))
        await asyncio.sleep(READ_S)
        phases[name] = {"frames": reader.frames, "loud": reader.loud}
        return reader

    reader = await subscribe_and_read("first")
    events.append(["set_subscribed", False, at()])
    pub.set_subscribed(False)
    frames_then, loud_then = reader.frames, reader.loud
    await asyncio.wait_for(unsubscribed.get(), BOUND_S)
    # Frames already on their way are read (upstream's stream then stays
    # open and silent; ours ends): then nothing more comes.
    try:
        await asyncio.wait_for(reader.ended.wait(), QUIET_S)
    except asyncio.TimeoutError:
        pass
    drained = reader.frames
    await asyncio.sleep(QUIET_S)  # nothing comes back by itself
    phases["unsubscribed"] = {"ended": reader.ended.is_set(),
                              "frames_after": drained - frames_then,
                              "loud_after": reader.loud - loud_then,
                              "frames_later": reader.frames - drained}
    events.append(["quiet_end", at()])
    again = await subscribe_and_read("again")
    again.task.cancel()


async def main(role, url, token):
    room = rtc.Room()
    out = {"error": None}
    opts = rtc.RoomOptions(auto_subscribe=role != "listener")
    try:
        await asyncio.wait_for(room.connect(url, token, opts), BOUND_S)
    except Exception as e:  # the test reads the error text
        out["error"] = str(e) or repr(e)
        print(json.dumps(out), flush=True)
        return
    try:
        await {"speaker": speaker, "listener": listener}[role](room, out)
    except Exception as e:
        out["error"] = repr(e)
    if role == "listener":  # the speaker stops when told, whatever happened here
        await room.local_participant.publish_data("", reliable=True, topic="done")
        await asyncio.sleep(0.5)  # let "done" leave before the disconnect
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
