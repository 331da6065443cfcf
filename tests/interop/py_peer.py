"""One participant of the interop matrix on the upstream Python SDK
(livekit.rtc), on whichever library LIVEKIT_LIB_PATH names (unset: the
wheel's own Rust library). The browser's participant (page/peer.js) does
the same steps; docs/interop.md says what they are.

    py_peer.py URL TOKEN PEER_IDENTITY

Prints one JSON object: what this participant saw of its peer (join, data,
text and byte streams, audio, video), the answer to its own RPC call, and
the first error if any."""
import asyncio
import json
import math
import sys
import time

import numpy as np
from livekit import rtc

import spec

RATE = 48000
FRAME = 480  # 10 ms
W, H, FPS = 320, 240, 15


def picture(n):
    """A frame a person can tell is moving: stripes scrolling across a
    gradient, and a white block that steps with the frame number."""
    x = np.arange(W)[None, :]
    y = np.arange(H)[:, None]
    rgba = np.empty((H, W, 4), np.uint8)
    rgba[..., 0] = ((x + 4 * n) % 64 < 32) * 200 + 30
    rgba[..., 1] = (y * 255 // H).astype(np.uint8)
    rgba[..., 2] = 160
    rgba[..., 3] = 255
    c = (n * 4) % (W - 40)
    rgba[100:140, c:c + 40, 0:3] = 255
    return rgba.tobytes()


async def feed_audio(source, stop):
    amp = 32767 * 10 ** (spec.TONE_DBFS / 20)
    n = 0
    while not stop.is_set():
        t = (n * FRAME + np.arange(FRAME)) / RATE
        pcm = (amp * np.sin(2 * math.pi * spec.TONE_HZ * t)).astype(np.int16).tobytes()
        await source.capture_frame(rtc.AudioFrame(pcm, RATE, 1, FRAME))
        n += 1


async def feed_video(source, stop):
    n = 0
    t0 = time.monotonic()
    while not stop.is_set():
        source.capture_frame(rtc.VideoFrame(W, H, rtc.VideoBufferType.RGBA, picture(n)))
        n += 1
        await asyncio.sleep(max(0.0, t0 + n / FPS - time.monotonic()))


async def hear(track, got, seen):
    """The peer's audio: heard once a second of it holds the tone (its
    strongest frequency within spec.TONE_TOLERANCE_HZ, loud enough)."""
    stream = rtc.AudioStream(track, sample_rate=RATE, num_channels=1)
    buf = []
    async for ev in stream:
        buf.append(np.frombuffer(ev.frame.data, np.int16).astype(np.float64))
        x = np.concatenate(buf)
        if len(x) < RATE:
            continue
        x = x[-RATE:]
        buf = [x]
        level = 20 * math.log10(math.sqrt((x * x).mean()) / 32768 + 1e-9)
        peak = np.argmax(np.abs(np.fft.rfft(x * np.hanning(len(x))))) * RATE / len(x)
        seen["audio"] = {"level_dbfs": round(level, 1), "peak_hz": round(float(peak), 1)}
        if level > spec.MIN_LEVEL_DBFS and abs(peak - spec.TONE_HZ) <= spec.TONE_TOLERANCE_HZ:
            seen["audio"]["ok"] = True
            got("audio")
            break
    await stream.aclose()


async def watch(track, got, seen):
    stream = rtc.VideoStream(track)
    frames = 0
    async for ev in stream:
        frames += 1
        seen["video"] = {"frames": frames, "width": ev.frame.width, "height": ev.frame.height}
        if frames >= spec.MIN_VIDEO_FRAMES:
            seen["video"]["ok"] = True
            got("video")
            break
    await stream.aclose()


async def run(room, peer, out):
    lp = room.local_participant
    me = lp.identity
    seen = out["seen"]
    waiting = set(spec.RECEIVED)
    all_got = asyncio.Event()
    tasks = []

    def got(what):
        waiting.discard(what)
        if not waiting:
            all_got.set()

    def on_connected(p):
        if p.identity == peer:
            seen["join"] = {"ok": True}
            got("join")

    def on_data(p):
        if p.participant and p.participant.identity == peer and p.topic == spec.DATA_TOPIC:
            ok = p.data == spec.data_payload(peer).encode()
            seen["data"] = {"ok": ok, "bytes": len(p.data)}
            got("data")

    async def read_stream(reader, identity, kind):
        parts = [c async for c in reader]
        data = "".join(parts).encode() if kind == "text" else b"".join(parts)
        want = spec.text_payload(identity).encode() if kind == "text" else spec.bytes_payload()
        seen[kind] = {"ok": data == want and dict(reader.info.attributes) == spec.STREAM_ATTRS,
                      "bytes": len(data), "chunks": len(parts),
                      "attributes": dict(reader.info.attributes)}
        got(kind)

    def on_stream(kind):
        return lambda reader, identity: tasks.append(
            asyncio.ensure_future(read_stream(reader, identity, kind)))

    def on_track(track, pub, p):
        if p.identity != peer:
            return
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            tasks.append(asyncio.ensure_future(hear(track, got, seen)))
        elif track.kind == rtc.TrackKind.KIND_VIDEO:
            tasks.append(asyncio.ensure_future(watch(track, got, seen)))

    room.on("participant_connected", on_connected)
    room.on("data_received", on_data)
    room.on("track_subscribed", on_track)
    room.register_text_stream_handler(spec.TEXT_TOPIC, on_stream("text"))
    room.register_byte_stream_handler(spec.BYTES_TOPIC, on_stream("bytes"))
    lp.register_rpc_method(spec.RPC_METHOD, lambda inv: spec.rpc_answer(inv.payload))
    for p in room.remote_participants.values():
        on_connected(p)
        for pub in p.track_publications.values():
            if pub.track:
                on_track(pub.track, pub, p)

    stop = asyncio.Event()
    audio = rtc.AudioSource(RATE, 1)
    video = rtc.VideoSource(W, H)
    await lp.publish_track(rtc.LocalAudioTrack.create_audio_track("tone", audio),
                           rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
    await lp.publish_track(rtc.LocalVideoTrack.create_video_track("pattern", video),
                           rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA))
    feeders = [asyncio.ensure_future(feed_audio(audio, stop)),
               asyncio.ensure_future(feed_video(video, stop))]

    # Send only once the peer says it listens: it set its ready attribute
    # after registering its handlers.
    await lp.set_attributes({spec.STATE: spec.READY})
    await until(lambda: state_of(room, peer) in (spec.READY, spec.DONE), spec.BOUND_S)
    await lp.publish_data(spec.data_payload(me), reliable=True, topic=spec.DATA_TOPIC)
    try:
        answer = await lp.perform_rpc(destination_identity=peer, method=spec.RPC_METHOD,
                                      payload=spec.rpc_payload(me))
        out["rpc"] = {"ok": answer == spec.rpc_answer(spec.rpc_payload(me)), "answer": answer}
    except Exception as e:
        out["rpc"] = {"ok": False, "error": str(e)}
    await lp.send_text(spec.text_payload(me), topic=spec.TEXT_TOPIC, attributes=spec.STREAM_ATTRS)
    writer = await lp.stream_bytes("interop.bin", topic=spec.BYTES_TOPIC,
                                   attributes=spec.STREAM_ATTRS)
    await writer.write(spec.bytes_payload())
    await writer.aclose()

    try:
        await asyncio.wait_for(all_got.wait(), spec.RECEIVE_S)
    except asyncio.TimeoutError:
        out["missing"] = sorted(waiting)
    # Leave once the peer has all it waits for too (or gives up).
    await lp.set_attributes({spec.STATE: spec.DONE})
    await until(lambda: state_of(room, peer) in (spec.DONE, None), spec.RECEIVE_S)
    stop.set()
    for t in feeders + tasks:
        t.cancel()


def state_of(room, identity):
    p = next((p for p in room.remote_participants.values() if p.identity == identity), None)
    return p.attributes.get(spec.STATE) if p else None


async def until(cond, bound_s):
    deadline = time.monotonic() + bound_s
    while not cond() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def main(url, token, peer):
    room = rtc.Room()
    out = {"error": None, "seen": {}}
    try:
        await asyncio.wait_for(room.connect(url, token), spec.BOUND_S)
        await asyncio.wait_for(run(room, peer, out), 3 * spec.BOUND_S)
    except Exception as e:  # the table says what failed
        out["error"] = f"{type(e).__name__}: {e}"
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
