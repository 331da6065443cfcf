"""One side of bench/room_bwe.py (and tests/room/test_video_bwe.py), through
the upstream Python SDK on whichever library LIVEKIT_LIB_PATH names.

    room_bwe_peer.py publisher URL TOKEN
        publish a 1280x720 camera at 30 fps with upstream's default
        options (simulcast: three layers) until the watcher says "done" or
        leaves (BOUND_S at most); every second, note what the publisher's
        own WebRTC stats say it sends (per layer, where the library reports
        media: upstream's does, this library's not yet)
    room_bwe_peer.py watcher URL TOKEN SECONDS
        watch that camera; print FIRST at its first picture, then note
        every picture's arrival and size for SECONDS more

The pictures are room_video_peer.py's textured scene panning 4 px right
and 2 px down a frame (PICTURES of them, precomputed in I420), so the
encoder has motion to code at every layer. Each prints READY once
connected (the publisher once publishing), then one JSON object. Times
are CLOCK_MONOTONIC (time.monotonic), one clock for every process of the
machine, network namespaces included."""
import asyncio
import json
import os
import sys
import time

from livekit import rtc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from room_video_peer import PICTURES, pictures  # noqa: E402

W, H, FPS = 1280, 720, 30
BOUND_S = 240
STATS_EVERY_S = 1.0


def publisher_stats(stats):
    """The publisher's video layers and its bandwidth estimate, from
    Room.get_rtc_stats()'s publisher reports."""
    layers, estimate = [], None
    for s in stats.publisher_stats:
        kind = s.WhichOneof("stats")
        if kind == "outbound_rtp" and s.outbound_rtp.stream.kind == "video":
            o = s.outbound_rtp
            layers.append({"rid": o.outbound.rid, "bytes_sent": o.sent.bytes_sent,
                           "packets_sent": o.sent.packets_sent,
                           "width": o.outbound.frame_width, "height": o.outbound.frame_height,
                           "fps": o.outbound.frames_per_second,
                           "target_bitrate": o.outbound.target_bitrate,
                           "active": o.outbound.active,
                           "limited_by": rtc.stats.QualityLimitationReason.Name(
                               o.outbound.quality_limitation_reason).replace("LIMITATION_", "")})
        elif kind == "candidate_pair" and s.candidate_pair.candidate_pair.nominated:
            b = s.candidate_pair.candidate_pair.available_outgoing_bitrate
            if b:
                estimate = b
    return layers, estimate


async def publisher(room, out):
    done = asyncio.Event()
    room.on("data_received", lambda p: p.topic == "done" and done.set())
    room.on("participant_disconnected", lambda p: p.identity == "watcher" and done.set())
    source = rtc.VideoSource(W, H)
    opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, simulcast=True)
    await room.local_participant.publish_track(
        rtc.LocalVideoTrack.create_video_track("camera", source), opts)
    print("READY", flush=True)
    pics = pictures(W, H)
    samples = []  # (monotonic, layers, estimate)

    async def sample():
        while not done.is_set():
            try:
                st = await asyncio.wait_for(room.get_rtc_stats(), 5)
                samples.append([time.monotonic(), *publisher_stats(st)])
            except Exception as e:  # stats are extra: note, go on
                out.setdefault("stats_errors", []).append(repr(e)[:200])
                if len(out["stats_errors"]) > 5:
                    return
            await asyncio.sleep(STATS_EVERY_S)

    sampling = asyncio.ensure_future(sample())
    t0 = time.monotonic()
    n = late = 0
    while not done.is_set() and time.monotonic() - t0 < BOUND_S:
        buf, _ = pics[n % PICTURES]
        source.capture_frame(rtc.VideoFrame(W, H, rtc.VideoBufferType.I420, buf),
                             timestamp_us=int(n * 1e6 / FPS))
        n += 1
        wait = t0 + n / FPS - time.monotonic()
        if wait < -1 / FPS:
            late += 1
        await asyncio.sleep(max(0.0, wait))
    done.set()
    await sampling
    out["sent"], out["late"], out["stats"] = n, late, samples


async def watcher(room, out, seconds):
    arrivals = []  # (monotonic, width, height)
    first = asyncio.Event()
    tasks = []

    async def watch(track):
        async for ev in rtc.VideoStream(track):
            arrivals.append((time.monotonic(), ev.frame.width, ev.frame.height))
            if not first.is_set():
                first.set()
                print(f"FIRST {arrivals[0][0]}", flush=True)

    def on_track(track, *_):
        if track.kind == rtc.TrackKind.KIND_VIDEO and not tasks:
            tasks.append(asyncio.ensure_future(watch(track)))

    room.on("track_subscribed", on_track)
    for p in room.remote_participants.values():
        for pub in p.track_publications.values():
            if pub.track:
                on_track(pub.track)
    print("READY", flush=True)
    await asyncio.wait_for(first.wait(), BOUND_S)
    await asyncio.sleep(seconds)
    await room.local_participant.publish_data("", reliable=True, topic="done")
    for t in tasks:
        t.cancel()
    out["arrivals"] = arrivals


async def main(role, url, token, seconds=None):
    room = rtc.Room()
    out = {"error": None}
    try:
        await asyncio.wait_for(room.connect(url, token), 60)
        if role == "publisher":
            await publisher(room, out)
        else:
            await watcher(room, out, float(seconds))
    except Exception as e:
        out["error"] = repr(e)
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
