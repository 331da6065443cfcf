"""Audio sources, local tracks and audio streams, as livekit-rtc's AudioSource,
LocalAudioTrack and AudioStream drive them. Timing appears only as lower
bounds (a capture is never acknowledged early) and hang guards."""

import ctypes
import threading
import time

import numpy as np
import pytest

import lkffi
from lkffi import audio, track


def sine(freq, rate, n, amplitude=10000):
    return (np.sin(2 * np.pi * freq * np.arange(n) / rate) * amplitude).astype(np.int16)


def new_source(lib, rate=48000, channels=1, queue_ms=50):
    return lib.request(new_audio_source=audio.NewAudioSourceRequest(
        sample_rate=rate, num_channels=channels, queue_size_ms=queue_ms)).source.handle.id


def new_track(lib, source, name="mic"):
    return lib.request(create_audio_track=track.CreateAudioTrackRequest(
        name=name, source_handle=source)).track


def new_stream(lib, track_handle, **kw):
    return lib.request(new_audio_stream=audio.NewAudioStreamRequest(
        track_handle=track_handle, **kw)).stream.handle.id


def capture(lib, source, samples, rate=48000, channels=1):
    """Sends one capture and waits for its callback; returns the error text."""
    samples = np.ascontiguousarray(samples)
    res = lib.request(capture_audio_frame=audio.CaptureAudioFrameRequest(
        source_handle=source, buffer=audio.AudioFrameBufferInfo(
            data_ptr=samples.ctypes.data, num_channels=channels, sample_rate=rate,
            samples_per_channel=len(samples) // channels)))
    cb = lib.wait_callback("capture_audio_frame", res.async_id)
    return cb.error if cb.HasField("error") else None


def stream_events(lib, stream):
    frames, eos = [], False
    for ev in lib.drain_events():
        if ev.WhichOneof("message") != "audio_stream_event":
            continue
        se = ev.audio_stream_event
        if se.stream_handle != stream:
            continue
        if se.WhichOneof("message") == "eos":
            eos = True
        else:
            frames.append(se.frame_received.frame)
    return frames, eos


def samples_of(lib, frames):
    out = []
    for f in frames:
        n = f.info.samples_per_channel * f.info.num_channels
        out.append(np.ctypeslib.as_array((ctypes.c_int16 * n).from_address(f.info.data_ptr)).copy())
        assert lib.drop(f.handle.id)
    return np.concatenate(out) if out else np.zeros(0, np.int16)


def test_source_answers_with_its_info(lib):
    res = lib.request(new_audio_source=audio.NewAudioSourceRequest(sample_rate=48000, num_channels=2))
    assert res.source.info.type == audio.AUDIO_SOURCE_NATIVE
    assert lib.drop(res.source.handle.id)


@pytest.mark.parametrize("fields, message", [
    (dict(queue_size_ms=15), "multiple of 10"),
    (dict(sample_rate=0), "sample_rate"),
    (dict(num_channels=0), "num_channels"),
    (dict(type=audio.AUDIO_SOURCE_PLATFORM), "platform"),
])
def test_bad_sources_are_refused(lib, fields, message):
    with pytest.raises(lkffi.FfiError, match=message):
        lib.request(new_audio_source=audio.NewAudioSourceRequest(**fields))


def test_local_track_info_is_upstreams(lib):
    src = new_source(lib)
    t = new_track(lib, src, name="microphone")
    assert (t.info.sid, t.info.name, t.info.kind) == ("TR_unknown", "microphone", track.KIND_AUDIO)
    assert (t.info.stream_state, t.info.muted, t.info.remote) == (track.STATE_ACTIVE, False, False)
    assert lib.request(local_track_mute=track.LocalTrackMuteRequest(
        track_handle=t.handle.id, mute=True)).muted
    assert not lib.request(local_track_mute=track.LocalTrackMuteRequest(
        track_handle=t.handle.id, mute=False)).muted
    with pytest.raises(lkffi.FfiError, match="not a remote track"):
        lib.request(enable_remote_track=track.EnableRemoteTrackRequest(track_handle=t.handle.id))
    assert lib.drop(t.handle.id) and lib.drop(src)


def test_captures_pace_at_real_time_once_the_queue_is_full(lib):
    src = new_source(lib, queue_ms=50)
    frame = sine(440, 48000, 480)
    start = time.monotonic()
    for _ in range(60):
        assert capture(lib, src, frame) is None
    elapsed = time.monotonic() - start
    # 600 ms of audio through a 50 ms queue: at least 550 ms must pass
    assert elapsed >= 0.55 * 0.95
    assert lib.drop(src)


def test_a_capture_copies_the_callers_samples(lib):
    src = new_source(lib, queue_ms=100)
    st = new_stream(lib, new_track(lib, src).handle.id, sample_rate=48000, num_channels=1)
    frame = np.full(480, 1234, np.int16)
    res = lib.request(capture_audio_frame=audio.CaptureAudioFrameRequest(
        source_handle=src, buffer=audio.AudioFrameBufferInfo(
            data_ptr=frame.ctypes.data, num_channels=1, sample_rate=48000, samples_per_channel=480)))
    frame[:] = 0  # reused before the callback: what was sent must still arrive
    lib.wait_callback("capture_audio_frame", res.async_id)
    time.sleep(0.2)
    got = samples_of(lib, stream_events(lib, st)[0])
    assert np.count_nonzero(got == 1234) == 480
    assert lib.drop(st) and lib.drop(src)


def test_mismatched_frames_are_refused_in_the_callback(lib):
    src = new_source(lib, rate=48000, channels=1)
    assert "don't match" in capture(lib, src, sine(440, 16000, 160), rate=16000)
    assert "don't match" in capture(lib, src, np.zeros(960, np.int16), channels=2)
    unbuffered = new_source(lib, queue_ms=0)
    assert "10ms" in capture(lib, unbuffered, np.zeros(960, np.int16))
    assert capture(lib, unbuffered, np.zeros(480, np.int16)) is None
    assert lib.drop(src) and lib.drop(unbuffered)


def test_a_bad_capture_buffer_is_refused_at_once(lib):
    src = new_source(lib)
    with pytest.raises(lkffi.FfiError, match="data_ptr"):
        lib.request(capture_audio_frame=audio.CaptureAudioFrameRequest(
            source_handle=src, buffer=audio.AudioFrameBufferInfo(
                data_ptr=0, num_channels=1, sample_rate=48000, samples_per_channel=480)))
    with pytest.raises(lkffi.FfiError, match="buffer is missing"):
        lib.request(capture_audio_frame=audio.CaptureAudioFrameRequest(source_handle=src))
    assert lib.drop(src)


def test_sine_through_source_track_stream_keeps_its_pitch(lib):
    src = new_source(lib, queue_ms=50)
    t = new_track(lib, src)
    st = new_stream(lib, t.handle.id, sample_rate=16000, num_channels=1)
    tone = sine(440, 48000, 48000)
    for i in range(100):
        assert capture(lib, src, tone[i * 480:(i + 1) * 480]) is None
    time.sleep(0.1)
    frames, _ = stream_events(lib, st)
    assert {(f.info.sample_rate, f.info.num_channels, f.info.samples_per_channel)
            for f in frames} == {(16000, 1, 160)}
    got = samples_of(lib, frames)
    assert len(got) >= 16000  # a second of audio, plus the silence around it
    spectrum = np.abs(np.fft.rfft(got.astype(float) * np.hanning(len(got))))
    assert abs(np.argmax(spectrum) * 16000 / len(got) - 440) < 3
    assert lib.drop(st) and lib.drop(t.handle.id) and lib.drop(src)


def test_frame_size_ms_regroups_the_stream(lib):
    src = new_source(lib)
    t = new_track(lib, src)
    st = new_stream(lib, t.handle.id, sample_rate=24000, num_channels=2, frame_size_ms=20)
    for _ in range(10):
        capture(lib, src, sine(440, 48000, 480))
    time.sleep(0.15)
    frames, _ = stream_events(lib, st)
    assert frames and {(f.info.samples_per_channel, f.info.num_channels) for f in frames} == {(480, 2)}
    samples_of(lib, frames)
    with pytest.raises(lkffi.FfiError, match="frame_size_ms"):
        new_stream(lib, t.handle.id, frame_size_ms=0)
    assert lib.drop(st) and lib.drop(t.handle.id) and lib.drop(src)


def test_clear_drops_queued_audio(lib):
    src = new_source(lib, queue_ms=1000)
    st = new_stream(lib, new_track(lib, src).handle.id, sample_rate=48000, num_channels=1)
    loud = np.full(48000, 8000, np.int16)  # a second of it
    assert capture(lib, src, loud) is None
    lib.request(clear_audio_buffer=audio.ClearAudioBufferRequest(source_handle=src))
    time.sleep(0.3)
    got = samples_of(lib, stream_events(lib, st)[0])
    # at most what played before the clear reached the worker, then silence
    assert np.count_nonzero(got == 8000) < 48000 // 2
    assert np.all(got[-4800:] == 0)
    assert lib.drop(st) and lib.drop(src)


def test_streams_end_with_eos(lib):
    src = new_source(lib)
    t = new_track(lib, src)
    a = new_stream(lib, t.handle.id)
    b = new_stream(lib, t.handle.id)
    assert lib.drop(a)  # dropping a stream ends it (upstream sends eos for it too)
    lib.wait_event(lambda ev: ev.WhichOneof("message") == "audio_stream_event"
                   and ev.audio_stream_event.stream_handle == a
                   and ev.audio_stream_event.WhichOneof("message") == "eos")
    assert lib.drop(t.handle.id)  # dropping the track ends the streams on it
    lib.wait_event(lambda ev: ev.WhichOneof("message") == "audio_stream_event"
                   and ev.audio_stream_event.stream_handle == b
                   and ev.audio_stream_event.WhichOneof("message") == "eos")
    assert lib.drop(b) and lib.drop(src)


def test_stream_from_an_unknown_participant_is_refused(lib):
    with pytest.raises(lkffi.FfiError, match="handle"):
        lib.request(audio_stream_from_participant=audio.AudioStreamFromParticipantRequest(
            participant_handle=1))


def test_a_slow_client_neither_slows_the_source_nor_grows_the_queue():
    lib = lkffi.Library()
    gate = threading.Event()
    original = lib._on_event

    def slow(data, length):  # a client that sits on its stream's events
        ev = lkffi.proto.FfiEvent()
        ev.ParseFromString(ctypes.string_at(data, length))
        if ev.WhichOneof("message") == "audio_stream_event":
            gate.wait(0.05)
        original(data, length)

    lib.set_callback(slow)
    src = new_source(lib, queue_ms=50)
    st = new_stream(lib, new_track(lib, src).handle.id, queue_size_frames=3)
    start = time.monotonic()
    for _ in range(100):
        capture(lib, src, np.zeros(480, np.int16))
    paced = time.monotonic() - start
    gate.set()
    time.sleep(0.3)
    frames, _ = stream_events(lib, st)
    samples_of(lib, frames)
    # a second of audio; delivering it all at 50 ms a frame would take 5 s:
    # the source kept its pace and the stream dropped what it could not hold
    assert paced >= 0.95 * 0.95
    assert len(frames) < 60
    assert lib.drop(st) and lib.drop(src)
