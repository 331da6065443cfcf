"""One participant of the room demo (python/room_demo.py): plain use of the
upstream Python SDK (livekit.rtc), on whichever library LIVEKIT_LIB_PATH
names (unset: the Rust library bundled in the PyPI wheel).

    room_demo_peer.py URL TOKEN OTHER_IDENTITY TONE_HZ

Joins (prints READY), waits for OTHER_IDENTITY, times a few data packets and RPC calls to
it (it echoes ours as we echo its), publishes a microphone playing a
TONE_HZ sine, listens to the other's microphone for LISTEN_S and measures
it, then leaves. Prints one JSON object: what it saw, with the figures."""
import asyncio
import json
import math
import sys
import time

import numpy as np
from livekit import rtc

BOUND_S = 30        # the whole session; the demo kills us a little later
PINGS, CALLS = 5, 3
RATE, FRAME = 48000, 480  # 10 ms frames
TONE_DBFS = -10.0
LISTEN_S = 3.0


def loaded_library():
    """The liblivekit_ffi this process really mapped (so the demo shows it,
    rather than trusting the environment)."""
    with open("/proc/self/maps") as f:
        for line in f:
            if "livekit_ffi" in line:
                return line.split(None, 5)[-1].strip()
    return "?"


def ms(t0):
    return round((time.perf_counter() - t0) * 1000, 2)


def analyse(pcm):
    """Dominant frequency, level and SNR of the tone in pcm, and its gaps
    (10 ms frames that came out quiet)."""
    x = pcm.astype(np.float64) / 32768
    frames = x[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    rms_db = 20 * np.log10(np.sqrt((frames ** 2).mean(axis=1)) + 1e-9)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    hz = float(np.argmax(spectrum) * RATE / len(x))
    # SNR per 100 ms: a sinusoid at that frequency fitted by least squares,
    # against whatever is left over (noise, codec error, glitches).
    t = np.arange(FRAME * 10) / RATE
    basis = np.stack([np.sin(2 * math.pi * hz * t), np.cos(2 * math.pi * hz * t)], 1)
    snrs = []
    for w in range(len(frames) // 10):
        seg = frames[w * 10:(w + 1) * 10].reshape(-1)
        fit = basis @ np.linalg.lstsq(basis, seg, rcond=None)[0]
        snrs.append(10 * math.log10(max((fit ** 2).mean(), 1e-12)
                                    / max(((seg - fit) ** 2).mean(), 1e-12)))
    return {"peak_hz": round(hz, 1),
            "level_dbfs": round(float(np.median(rms_db)) + 3.01, 1),  # sine peak = rms + 3 dB
            "snr_db_median": round(float(np.median(snrs)), 1),
            "snr_db_min": round(float(min(snrs)), 1),
            "gaps_10ms": int((rms_db < -30).sum()),
            "seconds": round(len(x) / RATE, 2)}


async def session(room, url, token, other, tone_hz, out):
    inbox = asyncio.Queue()           # the pongs' payloads
    heard_other = asyncio.Event()     # any packet from it: it is set up
    other_done = asyncio.Event()      # it has heard enough of our tone
    listened = asyncio.Event()        # we have heard enough of its tone
    got = []                          # its audio, 10 ms at a time

    def on_data(p):
        if not p.participant or p.participant.identity != other:
            return
        heard_other.set()
        if p.topic == "ping":         # echo at once, to the sender only
            asyncio.ensure_future(room.local_participant.publish_data(
                p.data, topic="pong", destination_identities=[other]))
        elif p.topic == "done":
            other_done.set()
        elif p.topic == "pong":
            inbox.put_nowait(p.data)

    async def read(track):
        stream = rtc.AudioStream(track, sample_rate=RATE, num_channels=1)
        async for ev in stream:
            pcm = np.frombuffer(ev.frame.data, dtype=np.int16)
            # the window starts at the first audible frame (its onset)
            if got or np.abs(pcm).max() > 1000:
                got.append(pcm.copy())
            if len(got) * FRAME >= (LISTEN_S + 0.1) * RATE:
                break
        await stream.aclose()
        listened.set()

    def on_subscribed(track, pub, participant):
        if track.kind == rtc.TrackKind.KIND_AUDIO and participant.identity == other:
            asyncio.ensure_future(read(track))

    # Handlers go on before connecting, so nothing the other sends is missed.
    room.on("data_received", on_data)
    room.on("track_subscribed", on_subscribed)

    t_join = time.perf_counter()
    await room.connect(url, token)
    out["join_ms"] = ms(t_join)
    out["joined_at"] = time.monotonic()  # one clock for both processes
    print("READY", flush=True)
    lp = room.local_participant

    @lp.register_rpc_method("echo")
    async def echo(data):
        return data.payload

    # The other may join before or after us: wait until it is in the room,
    # then say hello until it says anything (then its handlers are on).
    while other not in room.remote_participants:
        await asyncio.sleep(0.02)
    out["saw_other_at"] = time.monotonic()
    while not heard_other.is_set():
        await lp.publish_data(b"hello", topic="hello", destination_identities=[other])
        try:
            await asyncio.wait_for(heard_other.wait(), 0.25)
        except asyncio.TimeoutError:
            pass

    out["data_rtt_ms"] = []
    for i in range(PINGS):
        t0 = time.perf_counter()
        await lp.publish_data(b"%d" % i, topic="ping", destination_identities=[other])
        assert await asyncio.wait_for(inbox.get(), 5) == b"%d" % i
        out["data_rtt_ms"].append(ms(t0))
    out["rpc_rtt_ms"] = []
    for i in range(CALLS):
        t0 = time.perf_counter()
        answer = await lp.perform_rpc(destination_identity=other, method="echo",
                                      payload=f"call {i}")
        assert answer == f"call {i}", answer
        out["rpc_rtt_ms"].append(ms(t0))

    # A microphone: 10 ms frames of the tone, paced by the source's short
    # queue, until both sides have heard enough.
    source = rtc.AudioSource(RATE, 1, queue_size_ms=50)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    t0 = time.perf_counter()
    await lp.publish_track(track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
    out["publish_ms"] = ms(t0)
    amp = 32767 * 10 ** (TONE_DBFS / 20)
    sent = 0
    while not (listened.is_set() and other_done.is_set()):
        n = np.arange(sent, sent + FRAME)
        pcm = (amp * np.sin(2 * math.pi * tone_hz * n / RATE)).astype(np.int16)
        await source.capture_frame(rtc.AudioFrame(pcm.tobytes(), RATE, 1, FRAME))
        sent += FRAME
        if listened.is_set() and "heard" not in out:
            out["heard"] = analyse(np.concatenate(got)[int(0.1 * RATE):])  # less the onset
            await lp.publish_data(b"", topic="done", destination_identities=[other])
    out["sent_s"] = round(sent / RATE, 2)


async def main(url, token, other, tone_hz):
    out = {"error": None}
    room = rtc.Room()
    try:
        await asyncio.wait_for(session(room, url, token, other, float(tone_hz), out), BOUND_S)
    except Exception as e:  # the demo prints it
        out["error"] = repr(e)
    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(room.disconnect(), 10)
        out["leave_ms"] = ms(t0)
    except Exception as e:
        out["error"] = out["error"] or f"leaving: {e!r}"
    out["library"] = loaded_library()  # mapped by now: the SDK loads it on first use
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
