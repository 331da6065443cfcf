"""A participant publishing or receiving a microphone track through the
upstream Python SDK (livekit.rtc), on whichever library LIVEKIT_LIB_PATH
names (unset: the wheel's own Rust library).

    audio_peer.py publisher URL TOKEN    publish "mic"; once "listener" says
                                         it is subscribed, TONE_S of 440 Hz,
                                         then muted for MUTE_S, unmuted for
                                         UNMUTED_S, then unpublish and "done"
    audio_peer.py listener URL TOKEN     read the first audio track it is
                                         given until "done"; measure it
    audio_peer.py participant-listener URL TOKEN
                                         the same through an AudioStream
                                         opened on "publisher" and its
                                         microphone when it joins, before
                                         any track is there

A fourth argument, RESUME_AT (seconds), makes the participant lose its
signal connection once, that long after the tone starts (publisher) or
after it subscribes (listener): simulate_scenario(SIGNAL_RECONNECT), its
"reconnecting" and "reconnected" among the events.

Prints READY once connected, then one JSON object at the end: what it saw
(events in order, and for the listener the measurements of the audio)."""
import asyncio
import json
import math
import sys
import time

import numpy as np
from livekit import rtc

BOUND_S = 60
RATE = 48000
FRAME = RATE // 100
TONE_HZ = 440.0
TONE_DBFS = -10.0
TONE_S, MUTE_S, UNMUTED_S = 10.0, 1.5, 1.5
QUEUE_MS = 50
READING_S = 10


def tone(start, n):
    t = (np.arange(start, start + n) / RATE).astype(np.float64)
    amp = 32767 * 10 ** (TONE_DBFS / 20)
    return (amp * np.sin(2 * math.pi * TONE_HZ * t)).astype(np.int16)


def resume_later(room, out, seconds):
    """Loses the signal connection once, `seconds` from now (a resume)."""
    async def run():
        await asyncio.sleep(seconds)
        out["events"].append(["simulate", round(time.monotonic(), 3)])
        await room.simulate_scenario(rtc.SimulateScenarioKind.SIMULATE_SIGNAL_RECONNECT)
    return asyncio.ensure_future(run())


def record_resume(room, events):
    room.on("reconnecting", lambda: events.append(["reconnecting", round(time.monotonic(), 3)]))
    room.on("reconnected", lambda: events.append(["reconnected", round(time.monotonic(), 3)]))


async def publisher(room, out, resume_at=None):
    lp = room.local_participant
    reading = asyncio.Event()      # the listener's word: its stream is open
    subscribed = asyncio.Event()   # the server's: it forwards the track
    room.on("data_received", lambda p: p.topic == "subscribed" and reading.set())
    events = out["events"] = []
    room.on("local_track_published", lambda pub, track: events.append(["published", pub.sid]))
    room.on("local_track_subscribed",
            lambda track: (events.append(["subscribed", track.sid]), subscribed.set()))
    room.on("local_track_unpublished", lambda pub: events.append(["unpublished", pub.sid]))
    record_resume(room, events)

    # A short queue: mute and unmute then apply to what is being captured,
    # not to a second of audio still queued.
    source = rtc.AudioSource(RATE, 1, queue_size_ms=QUEUE_MS)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    pub = await lp.publish_track(track, opts)
    out["publication"] = {"sid": pub.sid, "name": pub.name, "kind": pub.kind,
                          "source": pub.source, "muted": pub.muted}
    print("READY", flush=True)
    await asyncio.wait_for(subscribed.wait(), BOUND_S)
    # The listener opens its stream as the server binds the track, then says
    # so; its word can be lost (livekit-server drops data for a participant
    # whose data channel is not open yet, and behind a lossy link that can
    # take a while: once CI waited the whole bound for it). The server's
    # word then suffices.
    try:
        await asyncio.wait_for(reading.wait(), READING_S)
    except asyncio.TimeoutError:
        out["reading_word_lost"] = True

    # A microphone: frames keep coming, muted or not; each capture waits
    # until the source's queue has room, so this runs at real time.
    sent = 0

    async def capture(seconds):
        nonlocal sent
        for _ in range(round(seconds * 100)):
            pcm = tone(sent, FRAME)
            await source.capture_frame(rtc.AudioFrame(pcm.tobytes(), RATE, 1, FRAME))
            sent += FRAME

    resuming = resume_later(room, out, resume_at) if resume_at is not None else None
    await capture(TONE_S)
    if resuming:
        await asyncio.wait_for(resuming, BOUND_S)
    track.mute()
    await capture(MUTE_S)
    track.unmute()
    await capture(UNMUTED_S)
    await source.wait_for_playout()
    await lp.unpublish_track(pub.sid)
    await lp.publish_data("", reliable=True, topic="done")
    await asyncio.sleep(0.5)  # let "done" leave before the disconnect


def runs_of(loud):
    """[[loud, frames], ...]: the frames as runs of loud and quiet."""
    runs = []
    for v in loud:
        if runs and runs[-1][0] == bool(v):
            runs[-1][1] += 1
        else:
            runs.append([bool(v), 1])
    return runs


def loud_and_quiet(runs_ms):
    """The runs from the first loud one on, short ones (under 100 ms: a
    codec's onset, a rounding, a dropout) merged into their neighbours."""
    runs = []
    for kind, ms in runs_ms:
        if runs and (runs[-1][0] == kind or ms < 100):
            runs[-1][1] += ms
        elif runs or kind == "loud":
            runs.append([kind, ms])
    return runs


def gaps_in(runs_ms):
    """The quiet runs (ms) between the first and the last loud frame, the
    longest left out: what breaks the tone, the mute aside. Returns
    (gaps, the run taken for the mute)."""
    loud = [i for i, (kind, _) in enumerate(runs_ms) if kind == "loud"]
    if not loud:
        return [], 0
    inner = [ms for kind, ms in runs_ms[loud[0]: loud[-1]] if kind == "quiet"]
    if not inner:
        return [], 0
    mute = max(inner)
    inner.remove(mute)
    return inner, mute


def measure(pcm, arrivals=None):
    """The audio a listener got, as runs of loud and quiet 10 ms frames
    (the tone, the mute, the tone again), the gaps in the tone, and the
    tone's frequency, level and SNR per 100 ms window (the 440 Hz sinusoid
    fitted by least squares against what is left) over its first stretch
    (runs under 100 ms merged). arrivals: when each 10 ms frame came
    (monotonic s), for the longest wait between two in that stretch."""
    x = pcm.astype(np.float64) / 32768
    frames = x[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    rms_db = 20 * np.log10(np.sqrt((frames ** 2).mean(axis=1)) + 1e-9)
    runs = runs_of(rms_db > -30)
    res = {"runs_ms": [[("loud" if l else "quiet"), n * 10] for l, n in runs]}
    gaps, mute = gaps_in(res["runs_ms"])
    res["gap_ms_max"], res["gaps_ms"], res["mute_ms"] = max(gaps, default=0), gaps[:50], mute
    merged = loud_and_quiet(res["runs_ms"])
    if not merged:
        return res
    first = next(i for i, (l, _) in enumerate(runs) if l)  # the first loud frame
    n = merged[0][1] // 10
    res["tone_ms"] = merged[0][1]
    if arrivals is not None and n > 1:
        res["stall_ms_max"] = float(np.diff(arrivals[first: first + n]).max() * 1000)
    body = frames[first + 10: first + n - 10]  # less onset and end
    if len(body) < 10:
        return res
    flat = body.reshape(-1)
    spectrum = np.abs(np.fft.rfft(flat * np.hanning(len(flat))))
    res["peak_hz"] = float(np.argmax(spectrum) * RATE / len(flat))
    res["level_dbfs"] = float(np.median(rms_db[first + 10: first + n - 10]) + 3.01)
    t = np.arange(FRAME * 10) / RATE
    basis = np.stack([np.sin(2 * math.pi * TONE_HZ * t), np.cos(2 * math.pi * TONE_HZ * t)], 1)
    snrs = []
    for w in range(len(body) // 10):
        seg = body[w * 10: (w + 1) * 10].reshape(-1)
        coef, *_ = np.linalg.lstsq(basis, seg, rcond=None)
        fit = basis @ coef
        noise = ((seg - fit) ** 2).mean()
        snrs.append(10 * math.log10(max((fit ** 2).mean(), 1e-12) / max(noise, 1e-12)))
    res["snr_db_min"] = float(min(snrs))
    res["snr_db_median"] = float(np.median(snrs))
    res["snr_30db_share"] = float(np.mean(np.array(snrs) >= 30))
    return res


async def listener(room, out, by_participant=False, resume_at=None):
    lp = room.local_participant
    events = out["events"] = []
    record_resume(room, events)
    resuming = []
    done = asyncio.Event()
    got, when, reading = [], [], []
    t0 = time.monotonic()

    def at():
        return round(time.monotonic() - t0, 3)

    async def read(stream):
        async for ev in stream:
            got.append(np.frombuffer(ev.frame.data, dtype=np.int16).copy())
            when.append(time.monotonic())
            if done.is_set():
                break

    def on_subscribed(track, pub, participant):
        events.append(["track_subscribed", participant.identity, pub.sid, pub.name,
                       pub.source, pub.mime_type, at()])
        if track.kind != rtc.TrackKind.KIND_AUDIO or len(reading) > 1:
            return
        if not by_participant:
            stream = rtc.AudioStream(track, sample_rate=RATE, num_channels=1)
            reading.append(asyncio.ensure_future(read(stream)))
        reading.append(asyncio.ensure_future(
            lp.publish_data("", reliable=True, topic="subscribed")))
        if resume_at is not None:
            resuming.append(resume_later(room, out, resume_at))

    def on_joined(participant):
        if by_participant and participant.identity == "publisher" and not reading:
            stream = rtc.AudioStream.from_participant(
                participant=participant, track_source=rtc.TrackSource.SOURCE_MICROPHONE,
                sample_rate=RATE, num_channels=1)
            reading.append(asyncio.ensure_future(read(stream)))

    room.on("participant_connected", on_joined)

    room.on("track_published", lambda pub, p: events.append(
        ["track_published", p.identity, pub.sid, pub.name, pub.source, at()]))
    room.on("track_subscribed", on_subscribed)
    room.on("track_muted", lambda p, pub: events.append(["track_muted", pub.sid, at()]))
    room.on("track_unmuted", lambda p, pub: events.append(["track_unmuted", pub.sid, at()]))
    room.on("track_unsubscribed", lambda t, pub, p: events.append(
        ["track_unsubscribed", pub.sid, at()]))
    room.on("track_unpublished", lambda pub, p: events.append(
        ["track_unpublished", pub.sid, at()]))
    room.on("data_received", lambda p: p.topic == "done" and done.set())
    # "done" can be lost with the publisher's connection when it sits behind
    # a lossy link (its SCTP retransmission may come after the disconnect);
    # its leaving, on the signal, is sure and comes after the unpublish
    room.on("participant_disconnected", lambda p: p.identity == "publisher" and done.set())
    print("READY", flush=True)
    await asyncio.wait_for(done.wait(), BOUND_S)
    for r in resuming:
        await asyncio.wait_for(r, BOUND_S)
    await asyncio.sleep(0.2)
    if not got:
        out["audio"] = {"runs_ms": []}
        return
    # each 10 ms frame's arrival (a frame of n samples counts n / FRAME times)
    arrivals = np.repeat(when, [len(g) // FRAME for g in got])
    out["audio"] = measure(np.concatenate(got), arrivals)


async def main(role, url, token, resume_at=None):
    resume_at = float(resume_at) if resume_at is not None else None
    room = rtc.Room()
    out = {"error": None}
    try:
        await asyncio.wait_for(room.connect(url, token), BOUND_S)
    except Exception as e:  # the test reads the error text
        out["error"] = str(e) or repr(e)
        print(json.dumps(out), flush=True)
        return
    try:
        if role == "participant-listener":
            await listener(room, out, by_participant=True, resume_at=resume_at)
        else:
            await {"publisher": publisher, "listener": listener}[role](room, out, resume_at=resume_at)
    except Exception as e:
        out["error"] = repr(e)
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
