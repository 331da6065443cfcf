"""A camera, or one watching it, through the upstream Python SDK on
whichever library LIVEKIT_LIB_PATH names.

    video_peer.py publisher URL TOKEN   publish a 640x480 camera at 30 fps
                                        until told "done", or until the
                                        watcher leaves
    video_peer.py watcher URL TOKEN [SECONDS]
                                        watch the camera for SECONDS (8 if
                                        not given) from its first frame
    video_peer.py participant-watcher URL TOKEN
                                        the same, the stream opened with
                                        VideoStream.from_participant on the
                                        participant "camera" once it joins
    video_peer.py simulcast-publisher URL TOKEN
                                        publish the camera with upstream's
                                        default options (simulcast)
    video_peer.py h264-publisher URL TOKEN
                                        publish the camera in H.264 (one layer)
    video_peer.py codec-watcher URL TOKEN
                                        report which tracks were subscribed
                                        and which failed, for WATCH_S
    video_peer.py dynacast-watcher URL TOKEN
                                        watch the camera at HIGH, then ask
                                        for LOW, printing A0, A1 around a
                                        window at HIGH and B0, B1 around one
                                        well after LOW (the server pauses
                                        unwanted layers after 5 s)
    video_peer.py quality-watcher URL TOKEN
                                        watch it, ask for the LOW layer,
                                        then HIGH again, and time each
                                        switch of picture size

Each picture is smooth moving colour (VP8 codes it well, so its quality
says something) with the frame's number drawn in as 16 black or white
squares along the top; the watcher reads the number back, rebuilds the
picture it came from and compares the two.

With LK_DYNACAST=1 in its environment, a participant joins with
RoomOptions(dynacast=True). Prints READY once connected (the publisher once publishing), then one JSON
object: the publisher's frame count, the watcher's statistics."""
import asyncio
import json
import os
import sys
import time

import numpy as np
from livekit import rtc

BOUND_S = 60
WATCH_S = 8
W, H, FPS = 640, 480, 30
BITS, SQUARE = 16, 32

_XS = np.arange(W, dtype=np.float32)
_YS = np.arange(H, dtype=np.float32)
_DIAG = (np.arange(H)[:, None] + np.arange(W)[None, :])  # x + y, an index


def picture(n):
    """Frame n as RGBA bytes: each channel a wave along x, y or x + y."""
    rgba = np.empty((H, W, 4), np.uint8)
    rgba[..., 0] = (128 + 90 * np.sin(2 * np.pi * (_XS + 12 * n) / 320)).astype(np.uint8)[None, :]
    rgba[..., 1] = (128 + 90 * np.sin(2 * np.pi * (_YS + 9 * n) / 240)).astype(np.uint8)[:, None]
    diag = (128 + 90 * np.sin(2 * np.pi * (np.arange(W + H) + 15 * n) / 400)).astype(np.uint8)
    rgba[..., 2] = diag[_DIAG]
    rgba[..., 3] = 255
    for i in range(BITS):
        rgba[0:SQUARE, i * SQUARE:(i + 1) * SQUARE, 0:3] = 255 if n >> i & 1 else 0
    return rgba


def number(rgba):
    """The frame number drawn into a received picture."""
    n = 0
    for i in range(BITS):
        c = rgba[8:SQUARE - 8, i * SQUARE + 8:(i + 1) * SQUARE - 8, 0:3]
        n |= (int(c.mean() > 128)) << i
    return n


def psnr(a, b):
    """Over the colour below the number squares."""
    d = a[SQUARE:, :, 0:3].astype(np.float64) - b[SQUARE:, :, 0:3]
    mse = (d * d).mean()
    return 99.0 if mse == 0 else float(10 * np.log10(255 * 255 / mse))


async def publisher(room, out, simulcast=False, codec=None):
    done = asyncio.Event()
    room.on("data_received", lambda p: p.topic == "done" and done.set())
    # "done" is sent just before the watcher disconnects: over a lossy link
    # it can be lost with the watcher's connection, and its leaving is sure
    room.on("participant_disconnected", lambda p: p.identity == "watcher" and done.set())
    source = rtc.VideoSource(W, H)
    if simulcast:
        # upstream's defaults: two layers for 640x480 (640x480, 480x360)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)
    else:
        # All 30 frames a second on either library (their presets would
        # cap 640x480 at 25), at a bitrate that keeps the picture clean,
        # in one layer whose size libwebrtc keeps however busy the machine
        # (it would otherwise scale down under load, and the SFU start on
        # a lower layer).
        options = rtc.TrackPublishOptions(
            source=rtc.TrackSource.SOURCE_CAMERA, simulcast=False,
            video_encoding=rtc.VideoEncoding(max_bitrate=1_500_000, max_framerate=FPS),
            degradation_preference=rtc.DegradationPreference.MAINTAIN_FRAMERATE_AND_RESOLUTION)
        if codec is not None:
            options.video_codec = codec
    await room.local_participant.publish_track(
        rtc.LocalVideoTrack.create_video_track("camera", source), options)
    print("READY", flush=True)
    t0 = time.monotonic()
    n = 0
    while not done.is_set() and time.monotonic() - t0 < BOUND_S:
        frame = rtc.VideoFrame(W, H, rtc.VideoBufferType.RGBA, picture(n).tobytes())
        source.capture_frame(frame, timestamp_us=int(n * 1e6 / FPS))
        n += 1
        await asyncio.sleep(max(0.0, t0 + n / FPS - time.monotonic()))
    out["sent"] = n


async def simulcast_publisher(room, out):
    await publisher(room, out, simulcast=True)


async def h264_publisher(room, out):
    await publisher(room, out, codec=rtc.VideoCodec.H264)


async def codec_watcher(room, out):
    events = []
    room.on("track_subscribed",
            lambda track, pub, p: events.append(["subscribed", pub.sid, pub.mime_type]))
    room.on("track_subscription_failed",
            lambda p, sid, error: events.append(["failed", sid, p.identity, error]))
    print("READY", flush=True)
    await asyncio.sleep(WATCH_S)
    out["events"] = events
    await room.local_participant.publish_data("", reliable=True, topic="done")


async def quality_watcher(room, out):
    """The sizes seen, with when each started, around two quality requests."""
    sizes = []  # (width, height, since)
    got = asyncio.Event()
    publication = []

    async def watch(track):
        async for ev in rtc.VideoStream(track, format=rtc.VideoBufferType.I420):
            size = (ev.frame.width, ev.frame.height)
            if not sizes or sizes[-1][:2] != size:
                sizes.append((*size, time.monotonic()))
            got.set()

    def on_track(track, pub):
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            publication.append(pub)
            asyncio.ensure_future(watch(track))

    room.on("track_subscribed", lambda track, pub, p: on_track(track, pub))
    for p in room.remote_participants.values():
        for pub in p.track_publications.values():
            if pub.track:
                on_track(pub.track, pub)
    print("READY", flush=True)
    await asyncio.wait_for(got.wait(), BOUND_S)
    pub = publication[0]
    out["publication"] = {"simulcasted": pub.simulcasted, "width": pub.width,
                          "height": pub.height, "mime_type": pub.mime_type}
    await asyncio.sleep(2)

    async def switch(quality, name):
        asked = time.monotonic()
        pub.set_video_quality(quality)
        before = len(sizes)
        for _ in range(100):  # 10 s at most
            if len(sizes) > before:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)  # and it stays
        out[name] = {"size": list(sizes[-1][:2]),
                     "after_s": sizes[-1][2] - asked if len(sizes) > before else None}

    await switch(rtc.VideoQuality.VIDEO_QUALITY_LOW, "low")
    await switch(rtc.VideoQuality.VIDEO_QUALITY_HIGH, "high")
    out["sizes"] = [list(s[:2]) for s in sizes]
    await room.local_participant.publish_data("", reliable=True, topic="done")


async def dynacast_watcher(room, out):
    got = asyncio.Event()
    publication = []
    sizes = set()

    async def watch(track):
        async for ev in rtc.VideoStream(track, format=rtc.VideoBufferType.I420):
            sizes.add((ev.frame.width, ev.frame.height))
            got.set()

    def on_track(track, pub):
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            publication.append(pub)
            asyncio.ensure_future(watch(track))

    room.on("track_subscribed", lambda track, pub, p: on_track(track, pub))
    print("READY", flush=True)
    await asyncio.wait_for(got.wait(), BOUND_S)
    for mark, pause in (("A0", 1), ("A1", 4)):
        await asyncio.sleep(pause)
        print(mark, flush=True)
    publication[0].set_video_quality(rtc.VideoQuality.VIDEO_QUALITY_LOW)
    for mark, pause in (("B0", 7), ("B1", 4)):
        await asyncio.sleep(pause)
        print(mark, flush=True)
    out["sizes"] = sorted(sizes)
    await room.local_participant.publish_data("", reliable=True, topic="done")


async def watcher(room, out, by_participant=False, watch_s=WATCH_S):
    got = asyncio.Event()
    seen = []  # (number, psnr, width, height, timestamp_us, arrival)
    subscribed_at = []

    async def watch(track=None, participant=None):
        subscribed_at.append(time.monotonic())
        if participant:
            stream = rtc.VideoStream.from_participant(
                participant=participant, track_source=rtc.TrackSource.SOURCE_CAMERA,
                format=rtc.VideoBufferType.RGBA)
        else:
            stream = rtc.VideoStream(track, format=rtc.VideoBufferType.RGBA)
        async for ev in stream:
            f = ev.frame
            rgba = np.frombuffer(f.data, np.uint8).reshape(f.height, f.width, 4)
            q = 0.0
            n = -1
            if (f.width, f.height) == (W, H):
                n = number(rgba)
                if len(seen) % 5 == 0:  # the comparison costs: a sample of frames
                    q = psnr(rgba, picture(n))
            seen.append((n, q, f.width, f.height, ev.timestamp_us, time.monotonic()))
            got.set()

    def on_track(track):
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            asyncio.ensure_future(watch(track))

    if by_participant:
        def on_participant(p):
            if p.identity == "camera":
                asyncio.ensure_future(watch(participant=p))
        room.on("participant_connected", on_participant)
        for p in room.remote_participants.values():
            on_participant(p)
    else:
        room.on("track_subscribed", lambda track, pub, p: on_track(track))
        for p in room.remote_participants.values():
            for pub in p.track_publications.values():
                if pub.track:
                    on_track(pub.track)
    print("READY", flush=True)
    await asyncio.wait_for(got.wait(), BOUND_S)
    t_first = time.monotonic()
    await asyncio.sleep(watch_s)
    await room.local_participant.publish_data("", reliable=True, topic="done")
    window = [s for s in seen if s[5] - t_first >= 1.0]  # past the first second
    numbers = [s[0] for s in window]
    out["frames"] = len(seen)
    out["first_frame_s"] = t_first - subscribed_at[0] if subscribed_at else None
    out["sizes"] = sorted({(s[2], s[3]) for s in seen})
    out["in_order"] = all(b > a for a, b in zip(numbers, numbers[1:]))
    out["ts_in_order"] = all(b[4] > a[4] for a, b in zip(window, window[1:]))
    out["share"] = len(set(numbers)) / (max(numbers) - min(numbers) + 1) if numbers else 0.0
    q = sorted(s[1] for s in window if s[1] > 0)
    out["psnr_min"] = q[0] if q else 0.0
    out["psnr_median"] = q[len(q) // 2] if q else 0.0
    gaps = [b[5] - a[5] for a, b in zip(window, window[1:])]
    out["longest_gap_s"] = max(gaps) if gaps else None
    out["longest_gaps_s"] = [round(g, 3) for g in sorted(gaps)[-5:]]
    # what each of those gaps was: frames lost to the picture (a freeze) or
    # frames late together (a stall on the way, all shown at once after)
    longest = sorted(range(len(gaps)), key=gaps.__getitem__)[-5:]
    out["longest_gaps_skipped"] = [window[i + 1][0] - window[i][0] - 1 for i in longest]
    out["window_frames"] = len(window)


async def main(role, url, token, watch_s=None):
    watch_s = float(watch_s) if watch_s else WATCH_S
    room = rtc.Room()
    out = {"error": None}
    options = rtc.RoomOptions(dynacast=os.environ.get("LK_DYNACAST") == "1")
    try:
        await asyncio.wait_for(room.connect(url, token, options), BOUND_S)
        if role in ("watcher", "participant-watcher"):
            await watcher(room, out, by_participant=role == "participant-watcher",
                          watch_s=watch_s)
        else:
            await {"publisher": publisher,
                   "simulcast-publisher": simulcast_publisher,
                   "h264-publisher": h264_publisher, "codec-watcher": codec_watcher,
                   "dynacast-watcher": dynacast_watcher,
                   "quality-watcher": quality_watcher}[role](room, out)
    except Exception as e:
        out["error"] = repr(e)
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
