"""One side of bench/room_tracks.py, through the upstream Python SDK on
whichever library LIVEKIT_LIB_PATH names.

    room_tracks_peer.py publisher URL TOKEN N SECONDS   publish N microphone
                                                        tracks of a steady tone
    room_tracks_peer.py listener URL TOKEN N SECONDS    read all N of them

Audio goes through the SDK in 100 ms frames (the libraries still code and
pace it in 10 and 20 ms units): at 10 ms a frame, 100 tracks would be 10000
Python calls a second, and the bench would measure Python.

Both print READY, then one JSON object: each its CPU seconds over the
measured window (from the listener reading every track to the publisher's
"done"), the listener per track how many frames came, the longest wait
between two of them, and the share of the window in which the tone was
heard."""
import asyncio
import json
import math
import sys
import time

import numpy as np
from livekit import rtc

RATE = 48000
FRAME_MS = 100
FRAME = RATE * FRAME_MS // 1000
TONE_DBFS = -20.0  # peak; a sine's RMS is 3 dB below it
TONE_RMS_DB = TONE_DBFS - 3.0
BOUND_S = 180


def tone_frame():
    """One frame of the tone: a whole number of periods (400 Hz in 100 ms),
    so frames join without a click."""
    t = np.arange(FRAME) / RATE
    amp = 32767 * 10 ** (TONE_DBFS / 20)
    return (amp * np.sin(2 * math.pi * 400 * t)).astype(np.int16).tobytes()


async def publisher(room, out, n, seconds):
    lp = room.local_participant
    listening = asyncio.Event()
    room.on("data_received", lambda p: p.topic == "listening" and listening.set())
    sources = []
    for i in range(n):
        source = rtc.AudioSource(RATE, 1, queue_size_ms=2 * FRAME_MS)
        track = rtc.LocalAudioTrack.create_audio_track(f"mic{i}", source)
        await lp.publish_track(track, rtc.TrackPublishOptions(
            source=rtc.TrackSource.SOURCE_MICROPHONE))
        sources.append(source)
    print("READY", flush=True)
    await asyncio.wait_for(listening.wait(), BOUND_S)
    pcm = tone_frame()

    async def feed(source):
        for _ in range(round(seconds * 1000 / FRAME_MS)):
            await source.capture_frame(rtc.AudioFrame(pcm, RATE, 1, FRAME))

    cpu0 = time.process_time()
    await asyncio.gather(*(feed(s) for s in sources))
    out["cpu_s"] = time.process_time() - cpu0
    await lp.publish_data("", reliable=True, topic="done")
    await asyncio.sleep(0.5)


async def listener(room, out, n, seconds):
    lp = room.local_participant
    done = asyncio.Event()
    room.on("data_received", lambda p: p.topic == "done" and done.set())
    tracks = []
    all_here = asyncio.Event()

    def subscribed(track, pub, p):
        tracks.append(track)
        if len(tracks) == n:
            all_here.set()

    room.on("track_subscribed", subscribed)
    print("READY", flush=True)
    await asyncio.wait_for(all_here.wait(), BOUND_S)

    recs = [{"levels": [], "max_gap_ms": 0.0} for _ in tracks]
    streams = [rtc.AudioStream(t, sample_rate=RATE, num_channels=1, frame_size_ms=FRAME_MS)
               for t in tracks]
    readers = [asyncio.ensure_future(read_levels(s, r, done)) for s, r in zip(streams, recs)]
    await lp.publish_data("", reliable=True, topic="listening")
    cpu0 = time.process_time()
    await asyncio.wait_for(done.wait(), BOUND_S + seconds)
    out["cpu_s"] = time.process_time() - cpu0
    for s in streams:
        await s.aclose()
    await asyncio.wait(readers, timeout=5)
    out["tracks"] = [summary(r, seconds) for r in recs]


async def read_levels(stream, rec, stop):
    """Each frame's level into rec["levels"] and the longest wait between
    two frames into rec["max_gap_ms"], until stop is set."""
    last = None
    async for ev in stream:
        now = time.monotonic()
        if stop.is_set():
            break
        x = np.frombuffer(ev.frame.data, dtype=np.int16).astype(np.float64)
        rec["levels"].append(20 * math.log10(math.sqrt((x * x).mean()) / 32768 + 1e-9))
        if last is not None:
            rec["max_gap_ms"] = max(rec["max_gap_ms"], (now - last) * 1000)
        last = now


def summary(rec, seconds):
    """Frames, the longest wait, and the share of the tone heard: from the
    first loud frame (the path filling up) over the time the publisher fed."""
    levels = rec["levels"]
    first = next((i for i, lv in enumerate(levels) if lv > TONE_RMS_DB - 6), len(levels))
    window = levels[first:first + round(seconds * 1000 / FRAME_MS) - 10]
    heard = sum(1 for lv in window if abs(lv - TONE_RMS_DB) < 3)
    return {"frames": len(levels), "max_gap_ms": rec["max_gap_ms"],
            "heard": heard / len(window) if window else 0.0}


async def main(role, url, token, n, seconds):
    room = rtc.Room()
    out = {"error": None}
    try:
        await asyncio.wait_for(room.connect(url, token), BOUND_S)
        await {"publisher": publisher, "listener": listener}[role](
            room, out, int(n), float(seconds))
    except Exception as e:
        out["error"] = repr(e)
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
