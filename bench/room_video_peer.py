"""One side of bench/room_video.py, through the upstream Python SDK on
whichever library LIVEKIT_LIB_PATH names.

    room_video_peer.py publisher URL TOKEN W H SECONDS SIMULCAST
        publish a W x H camera at 30 fps (SIMULCAST 1: upstream's default
        layers; 0: one layer); measure once the watcher sees pictures
    room_video_peer.py watcher URL TOKEN W H SECONDS
        watch it through a VideoStream
    room_video_peer.py feeder - - W H SECONDS
        no room: a VideoSource fed the same pictures at 30 fps, for what
        building frames and capture_frame cost alone

The pictures are precomputed in I420 (PICTURES of them, a textured scene
panning from one to the next, so the encoder has motion to code), and each frame's
number is stamped into its Y plane as 16 black or white squares before it is
captured: 16 small slice writes, the only per-frame Python work besides the
SDK's. The watcher reads the number back from one pixel per square of the
Y plane (the streams hand over I420, no conversion asked for), so its
Python work is as small and the same on both libraries.

Window: the publisher feeds from READY on; once the watcher reports its
first picture it waits WARM_S, says "start", measures for SECONDS, says
"done". Both time their CPU (the whole process, all threads:
time.process_time) between those two messages. The publisher reports the
monotonic time each number was handed to capture_frame, the watcher the
monotonic time each number came out of its VideoStream (CLOCK_MONOTONIC is
one clock for every process of the machine). Each prints READY, then one
JSON object."""
import asyncio
import json
import sys
import time

import numpy as np
from livekit import rtc

FPS = 30
PICTURES = 30        # one second of motion, then it repeats
BITS, SQUARE = 16, 32
WARM_S = 3.0         # past the first keyframes and the encoders' ramp-up
BOUND_S = 90
BLACK, WHITE = 16, 235
KEEP_BOTH = int(rtc.DegradationPreference.MAINTAIN_FRAMERATE_AND_RESOLUTION)


def pictures(w, h):
    """PICTURES I420 frames as bytearrays, and a writable numpy view of each
    one's Y plane (where the number is stamped). A textured scene panning
    4 px right and 2 px down a frame (like a camera turning): every picture
    is the last one moved, which VP8 codes well at 1.7 Mbps and 30 fps, and
    the texture repeats every PICTURES frames, so the loop has no seam."""
    out = []
    for k in range(PICTURES):
        x = np.arange(w, dtype=np.float32)[None, :] + 4 * k
        y = np.arange(h, dtype=np.float32)[:, None] + 2 * k
        luma = (128 + 45 * np.sin(2 * np.pi * x / 120) + 35 * np.sin(2 * np.pi * y / 60)
                + 20 * np.sin(2 * np.pi * (x / 40 + y / 30)))
        cx = np.arange(w // 2, dtype=np.float32)[None, :] + 2 * k
        cy = np.arange(h // 2, dtype=np.float32)[:, None] + k
        u = 128 + 50 * np.sin(2 * np.pi * cx / 60) + 0 * cy
        v = 128 + 50 * np.sin(2 * np.pi * (cx / 20 + cy / 30))
        buf = bytearray(b"".join(np.clip(p, 0, 255).astype(np.uint8).tobytes()
                                 for p in (luma, u, v)))
        planes = np.frombuffer(buf, np.uint8)
        chroma = w // 2 * (h // 2)
        for p in (planes[w * h:w * h + chroma], planes[w * h + chroma:]):
            p.reshape(h // 2, w // 2)[0:SQUARE // 2, 0:BITS * SQUARE // 2] = 128  # grey squares
        out.append((buf, planes[:w * h].reshape(h, w)))
    return out


def stamp(luma, n):
    for i in range(BITS):
        luma[0:SQUARE, i * SQUARE:(i + 1) * SQUARE] = WHITE if n >> i & 1 else BLACK


_PROBE = np.arange(BITS) * SQUARE + SQUARE // 2


def number(luma):
    """The number stamped into a received Y plane: one pixel a square."""
    bits = luma[SQUARE // 2, _PROBE] > 128
    return int((bits.astype(np.int64) << np.arange(BITS)).sum())


async def feed(source, w, h, captures, stop):
    """Frames at 30 fps until stop is set (or BOUND_S); returns how many
    missed their slot by more than a frame."""
    pics = pictures(w, h)
    t0 = time.monotonic()
    n = late = 0
    while not stop.is_set() and time.monotonic() - t0 < BOUND_S:
        buf, luma = pics[n % PICTURES]
        stamp(luma, n)
        frame = rtc.VideoFrame(w, h, rtc.VideoBufferType.I420, buf)
        if captures is not None:
            captures.append(time.monotonic())
        source.capture_frame(frame, timestamp_us=int(n * 1e6 / FPS))
        n += 1
        wait = t0 + n / FPS - time.monotonic()
        if wait < -1 / FPS:
            late += 1
        await asyncio.sleep(max(0.0, wait))
    return n, late


async def publisher(room, out, w, h, seconds, simulcast):
    lp = room.local_participant
    watching = asyncio.Event()
    room.on("data_received", lambda p: p.topic == "watching" and watching.set())
    source = rtc.VideoSource(w, h)
    opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, simulcast=simulcast,
                                   degradation_preference=KEEP_BOTH)
    if not simulcast:
        # One layer at upstream's preset for 720p (1.7 Mbps) on both
        # libraries; with simulcast, upstream's default layers.
        opts.video_encoding.max_bitrate = 1_700_000
        opts.video_encoding.max_framerate = FPS
    await lp.publish_track(rtc.LocalVideoTrack.create_video_track("camera", source), opts)
    print("READY", flush=True)
    captures = []
    stop = asyncio.Event()
    feeding = asyncio.ensure_future(feed(source, w, h, captures, stop))
    try:
        await asyncio.wait_for(watching.wait(), BOUND_S)
        await asyncio.sleep(WARM_S)
        await lp.publish_data("", reliable=True, topic="start")
        cpu0, t0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        out["cpu_s"], out["wall_s"] = time.process_time() - cpu0, time.monotonic() - t0
        await lp.publish_data("", reliable=True, topic="done")
    finally:
        stop.set()
        out["sent"], out["late"] = await feeding
    out["captures"] = captures
    await asyncio.sleep(0.5)


async def watcher(room, out, w, h, seconds):
    lp = room.local_participant
    started, done = asyncio.Event(), asyncio.Event()
    marks = {}

    def on_data(p):
        if p.topic in ("start", "done"):
            marks[p.topic] = (time.process_time(), time.monotonic())
            (started if p.topic == "start" else done).set()

    room.on("data_received", on_data)
    arrivals = []  # (number, monotonic time), full-size pictures only
    sizes = {}
    first = asyncio.Event()

    async def watch(track):
        stream = rtc.VideoStream(track)
        async for ev in stream:
            t = time.monotonic()
            f = ev.frame
            key = f"{f.width}x{f.height}"
            sizes[key] = sizes.get(key, 0) + 1
            if (f.width, f.height) == (w, h) and f.type == rtc.VideoBufferType.I420:
                luma = np.frombuffer(f.data, np.uint8, count=w * h).reshape(h, w)
                arrivals.append((number(luma), t))
            if not first.is_set():
                first.set()
                await lp.publish_data("", reliable=True, topic="watching")
            if done.is_set():
                break

    tasks = []

    def on_track(track, *_):
        if track.kind == rtc.TrackKind.KIND_VIDEO and not tasks:
            tasks.append(asyncio.ensure_future(watch(track)))

    room.on("track_subscribed", on_track)
    print("READY", flush=True)
    await asyncio.wait_for(done.wait(), BOUND_S + seconds)
    (c0, t0), (c1, t1) = marks["start"], marks["done"]
    out["cpu_s"], out["wall_s"] = c1 - c0, t1 - t0
    out["window"] = [t0, t1]
    out["arrivals"] = arrivals
    out["sizes"] = sizes
    for t in tasks:
        t.cancel()


async def feeder(out, w, h, seconds):
    source = rtc.VideoSource(w, h)
    stop = asyncio.Event()
    feeding = asyncio.ensure_future(feed(source, w, h, None, stop))
    await asyncio.sleep(WARM_S)
    cpu0, t0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    out["cpu_s"], out["wall_s"] = time.process_time() - cpu0, time.monotonic() - t0
    stop.set()
    out["sent"], out["late"] = await feeding
    await source.aclose()


async def main(role, url, token, w, h, seconds, simulcast="0"):
    out = {"error": None}
    w, h, seconds = int(w), int(h), float(seconds)
    if role == "feeder":
        print("READY", flush=True)
        try:
            await feeder(out, w, h, seconds)
        except Exception as e:
            out["error"] = repr(e)
        print(json.dumps(out), flush=True)
        return
    room = rtc.Room()
    try:
        await asyncio.wait_for(room.connect(url, token), BOUND_S)
        if role == "publisher":
            await publisher(room, out, w, h, seconds, simulcast == "1")
        else:
            await watcher(room, out, w, h, seconds)
    except Exception as e:
        out["error"] = repr(e)
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:8]))
