"""One side of bench/room_audio.py, through the upstream Python SDK on
whichever library LIVEKIT_LIB_PATH names.

    room_audio_peer.py talker URL TOKEN SECONDS    publish a microphone: silence
                                                   with a click (20 ms of a loud
                                                   tone) every CLICK_EVERY_S
    room_audio_peer.py listener URL TOKEN SECONDS  read the talker's track

Both print READY, then one JSON object: the talker the monotonic times at
which each click was handed to its source, the listener the times at which
each click came out of its stream; and each its CPU seconds over the run.
CLOCK_MONOTONIC is one clock for every process on the machine."""
import asyncio
import json
import math
import sys
import time

import numpy as np
from livekit import rtc

RATE = 48000
FRAME = RATE // 100
CLICK_EVERY_S = 0.5
QUEUE_MS = 20  # the same small source queue on both libraries
BOUND_S = 120


async def talker(room, out, seconds):
    lp = room.local_participant
    heard = asyncio.Event()
    room.on("data_received", lambda p: p.topic == "listening" and heard.set())
    source = rtc.AudioSource(RATE, 1, queue_size_ms=QUEUE_MS)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    await lp.publish_track(track, rtc.TrackPublishOptions(
        source=rtc.TrackSource.SOURCE_MICROPHONE))
    print("READY", flush=True)
    await asyncio.wait_for(heard.wait(), BOUND_S)
    silence = np.zeros(FRAME, dtype=np.int16)
    t = np.arange(FRAME) / RATE
    click = (20000 * np.sin(2 * math.pi * 1000 * t)).astype(np.int16)
    clicks = out["clicks"] = []
    every = round(CLICK_EVERY_S * 100)
    cpu0 = time.process_time()
    for i in range(round(seconds * 100)):
        loud = i % every in (every - 2, every - 1)  # 20 ms of tone
        if i % every == every - 2:
            clicks.append(time.monotonic())
        pcm = click if loud else silence
        await source.capture_frame(rtc.AudioFrame(pcm.tobytes(), RATE, 1, FRAME))
    out["cpu_s"] = time.process_time() - cpu0
    out["audio_s"] = seconds
    await lp.publish_data("", reliable=True, topic="done")
    await asyncio.sleep(0.5)


async def listener(room, out, seconds):
    lp = room.local_participant
    done = asyncio.Event()
    room.on("data_received", lambda p: p.topic == "done" and done.set())
    onsets = out["onsets"] = []
    started = []

    async def read(track):
        stream = rtc.AudioStream(track, sample_rate=RATE, num_channels=1)
        await lp.publish_data("", reliable=True, topic="listening")
        quiet = 0
        cpu0 = time.process_time()
        async for ev in stream:
            now = time.monotonic()
            x = np.frombuffer(ev.frame.data, dtype=np.int16).astype(np.float64)
            level = 20 * math.log10(math.sqrt((x * x).mean()) / 32768 + 1e-9)
            if level > -30 and quiet >= 20:  # an onset after 200 ms of quiet
                onsets.append(now)
            quiet = quiet + 1 if level < -40 else 0
            if done.is_set():
                break
        out["cpu_s"] = time.process_time() - cpu0

    room.on("track_subscribed", lambda track, pub, p: not started and started.append(
        asyncio.ensure_future(read(track))))
    print("READY", flush=True)
    await asyncio.wait_for(done.wait(), BOUND_S + seconds)
    if started:
        await asyncio.wait_for(started[0], 5)


async def main(role, url, token, seconds):
    room = rtc.Room()
    out = {"error": None}
    try:
        await asyncio.wait_for(room.connect(url, token), BOUND_S)
        await {"talker": talker, "listener": listener}[role](room, out, float(seconds))
    except Exception as e:
        out["error"] = repr(e)
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
