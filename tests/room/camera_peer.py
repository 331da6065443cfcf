"""A participant with a camera, or one listening to it, through the upstream
Python SDK on whichever library LIVEKIT_LIB_PATH names.

    camera_peer.py publisher URL TOKEN   publish a camera (blank frames) and
                                         a microphone (440 Hz) until "done"
    camera_peer.py listener URL TOKEN    read the microphone for LISTEN_S

Prints READY once connected (the publisher once publishing), then one JSON
object: the listener's frame count and level."""
import asyncio
import json
import math
import sys

import numpy as np
from livekit import rtc

BOUND_S = 60
LISTEN_S = 6
RATE, FRAME = 48000, 480
W, H = 160, 120


async def publisher(room, out):
    done = asyncio.Event()
    room.on("data_received", lambda p: p.topic == "done" and done.set())
    video = rtc.VideoSource(W, H)
    await room.local_participant.publish_track(
        rtc.LocalVideoTrack.create_video_track("cam", video),
        rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA))
    audio = rtc.AudioSource(RATE, 1, queue_size_ms=50)
    await room.local_participant.publish_track(
        rtc.LocalAudioTrack.create_audio_track("mic", audio),
        rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
    print("READY", flush=True)
    blank = rtc.VideoFrame(W, H, rtc.VideoBufferType.RGBA, bytes(W * H * 4))
    t = np.arange(FRAME) / RATE
    for i in range(BOUND_S * 100):
        if done.is_set():
            break
        if i % 4 == 0:
            video.capture_frame(blank)
        pcm = (8000 * np.sin(2 * math.pi * 440 * (t + i / 100))).astype(np.int16)
        await audio.capture_frame(rtc.AudioFrame(pcm.tobytes(), RATE, 1, FRAME))


async def listener(room, out):
    frames = []

    async def read(track):
        async for ev in rtc.AudioStream(track, sample_rate=RATE, num_channels=1):
            frames.append(np.frombuffer(ev.frame.data, dtype=np.int16).copy())

    room.on("track_subscribed", lambda track, pub, p: track.kind == rtc.TrackKind.KIND_AUDIO
            and asyncio.ensure_future(read(track)))
    # A track may have been subscribed while connect() was still returning,
    # before the handler above was there: read those too.
    for p in room.remote_participants.values():
        for pub in p.track_publications.values():
            if pub.track and pub.kind == rtc.TrackKind.KIND_AUDIO:
                asyncio.ensure_future(read(pub.track))
    print("READY", flush=True)
    await asyncio.sleep(LISTEN_S)
    await room.local_participant.publish_data("", reliable=True, topic="done")
    x = np.concatenate(frames).astype(np.float64) / 32768 if frames else np.zeros(1)
    out["frames"] = len(frames)
    out["level_dbfs"] = float(20 * np.log10(np.sqrt((x * x).mean()) + 1e-9))


async def main(role, url, token):
    room = rtc.Room()
    out = {"error": None}
    try:
        await asyncio.wait_for(room.connect(url, token), BOUND_S)
        await {"publisher": publisher, "listener": listener}[role](room, out)
    except Exception as e:
        out["error"] = repr(e)
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
