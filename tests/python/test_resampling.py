"""Resamplers as the livekit-rtc SDK's AudioResampler and AudioFrame use
them: the sox resampler against a direct libsoxr run, and remix-and-resample
sample counts and content."""

import ctypes
import ctypes.util

import numpy as np
import pytest

import lkffi
from lkffi import audio

RECIPES = [audio.SOXR_QUALITY_QUICK, audio.SOXR_QUALITY_LOW, audio.SOXR_QUALITY_MEDIUM,
           audio.SOXR_QUALITY_HIGH, audio.SOXR_QUALITY_VERYHIGH]


def sine(freq, rate, n, channels=1, amplitude=10000):
    t = np.arange(n) / rate
    mono = (np.sin(2 * np.pi * freq * t) * amplitude).astype(np.int16)
    return np.ascontiguousarray(np.repeat(mono, channels))


def peak_hz(samples, rate):
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return np.argmax(spectrum) * rate / len(samples)


def new_sox(lib, **kw):
    res = lib.request(new_sox_resampler=audio.NewSoxResamplerRequest(**kw))
    assert res.WhichOneof("message") == "resampler", res.error
    return res.resampler.handle.id


def push(lib, h, data):
    res = lib.request(push_sox_resampler=audio.PushSoxResamplerRequest(
        resampler_handle=h, data_ptr=data.ctypes.data, size=data.nbytes))
    assert not res.error, res.error
    return np.ctypeslib.as_array((ctypes.c_int16 * (res.size // 2)).from_address(
        res.output_ptr)).copy() if res.size else np.zeros(0, np.int16)


def flush(lib, h):
    res = lib.request(flush_sox_resampler=audio.FlushSoxResamplerRequest(resampler_handle=h))
    assert not res.error, res.error
    return np.ctypeslib.as_array((ctypes.c_int16 * (res.size // 2)).from_address(
        res.output_ptr)).copy() if res.size else np.zeros(0, np.int16)


class Soxr:
    """libsoxr driven directly, with the settings a NewSoxResamplerRequest names."""

    def __init__(self, in_rate, out_rate, channels, recipe):
        self.so = ctypes.CDLL(ctypes.util.find_library("soxr"))
        self.so.soxr_create.restype = ctypes.c_void_p
        self.so.soxr_create.argtypes = [ctypes.c_double, ctypes.c_double, ctypes.c_uint,
                                        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                        ctypes.c_void_p]
        self.so.soxr_io_spec.restype = IoSpec
        self.so.soxr_quality_spec.restype = QualitySpec
        self.so.soxr_quality_spec.argtypes = [ctypes.c_ulong, ctypes.c_ulong]
        self.so.soxr_runtime_spec.restype = RuntimeSpec
        self.so.soxr_process.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                         ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p,
                                         ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
        self.so.soxr_process.restype = ctypes.c_char_p
        self.so.soxr_delete.argtypes = [ctypes.c_void_p]
        io = self.so.soxr_io_spec(3, 3)  # SOXR_INT16_I both ways
        q = self.so.soxr_quality_spec(recipe, 0)
        rt = self.so.soxr_runtime_spec(1)
        self.channels = channels
        self.ratio = out_rate / in_rate
        self.h = self.so.soxr_create(in_rate, out_rate, channels, None, ctypes.byref(io),
                                     ctypes.byref(q), ctypes.byref(rt))
        assert self.h

    def process(self, data):
        frames = len(data) // self.channels if data is not None else 0
        room = int(frames * self.ratio) + 4096
        out = np.zeros(room * self.channels, np.int16)
        idone, odone = ctypes.c_size_t(), ctypes.c_size_t()
        err = self.so.soxr_process(self.h, data.ctypes.data if data is not None else None,
                                   frames, ctypes.byref(idone) if data is not None else None,
                                   out.ctypes.data, room, ctypes.byref(odone))
        assert err is None
        return out[: odone.value * self.channels]

    def __del__(self):
        self.so.soxr_delete(self.h)


class IoSpec(ctypes.Structure):
    _fields_ = [("itype", ctypes.c_int), ("otype", ctypes.c_int), ("scale", ctypes.c_double),
                ("e", ctypes.c_void_p), ("flags", ctypes.c_ulong)]


class QualitySpec(ctypes.Structure):
    _fields_ = [("precision", ctypes.c_double), ("phase_response", ctypes.c_double),
                ("passband_end", ctypes.c_double), ("stopband_begin", ctypes.c_double),
                ("e", ctypes.c_void_p), ("flags", ctypes.c_ulong)]


class RuntimeSpec(ctypes.Structure):
    _fields_ = [("log2_min_dft_size", ctypes.c_uint), ("log2_large_dft_size", ctypes.c_uint),
                ("coef_size_kbytes", ctypes.c_uint), ("num_threads", ctypes.c_uint),
                ("e", ctypes.c_void_p), ("flags", ctypes.c_ulong)]


@pytest.mark.parametrize("recipe", RECIPES)
def test_sox_output_equals_a_direct_libsoxr_run(lib, recipe):
    h = new_sox(lib, input_rate=48000, output_rate=16000, num_channels=2, quality_recipe=recipe)
    ref = Soxr(48000, 16000, 2, int(recipe))
    signal = sine(440, 48000, 4800, channels=2)
    ours, theirs = [], []
    for i in range(10):
        chunk = np.ascontiguousarray(signal[i * 960:(i + 1) * 960])
        ours.append(push(lib, h, chunk))
        theirs.append(ref.process(chunk))
    ours.append(flush(lib, h))
    theirs.append(ref.process(None))
    ours, theirs = np.concatenate(ours), np.concatenate(theirs)
    # soxr dithers int16 output (with a seed of its own per instance): the
    # same samples within the dither's ±2 LSB, in the same number
    assert len(ours) == len(theirs)
    assert np.max(np.abs(ours.astype(np.int32) - theirs)) <= 2
    # the flush drains the tail: every input sample comes out, at a third the rate
    assert abs(len(ours) // 2 - 1600) <= 1
    assert lib.drop(h)


def test_sox_output_pointer_is_owned_until_the_next_call(lib):
    h = new_sox(lib, input_rate=48000, output_rate=48000, num_channels=1)
    a = sine(1000, 48000, 480)
    res = lib.request(push_sox_resampler=audio.PushSoxResamplerRequest(
        resampler_handle=h, data_ptr=a.ctypes.data, size=a.nbytes))
    a[:] = 0  # the client may reuse its input at once
    if res.size:
        out = np.ctypeslib.as_array((ctypes.c_int16 * (res.size // 2)).from_address(res.output_ptr))
        assert np.any(out != 0)
    assert lib.drop(h)


def test_sox_empty_pushes_change_nothing(lib):
    # an empty push is not the end of the signal (a fuzzer found soxr taking
    # a NULL input as one, and the next push crashing)
    x = sine(440, 48000, 4800, channels=2)
    plain = new_sox(lib, input_rate=48000, output_rate=16000, num_channels=2)
    padded = new_sox(lib, input_rate=48000, output_rate=16000, num_channels=2)
    want = np.concatenate([push(lib, plain, x), flush(lib, plain)])
    for ptr in (0, x.ctypes.data):
        res = lib.request(push_sox_resampler=audio.PushSoxResamplerRequest(
            resampler_handle=padded, data_ptr=ptr, size=0))
        assert not res.HasField("error") and res.size == 0
    got = np.concatenate([push(lib, padded, x), flush(lib, padded)])
    assert len(got) == len(want)  # int16 output is dithered: a level or two apart
    assert np.max(np.abs(got.astype(np.int32) - want)) <= 2
    assert lib.drop(plain) and lib.drop(padded)


def test_sox_split_buffers_hold_one_channel_after_another(lib):
    h = new_sox(lib, input_rate=48000, output_rate=24000, num_channels=2,
                input_data_type=audio.SOXR_DATATYPE_INT16S,
                output_data_type=audio.SOXR_DATATYPE_INT16S)
    left, right = sine(300, 48000, 4800), sine(3000, 48000, 4800)
    out = np.concatenate([push(lib, h, np.concatenate([left, right])), flush(lib, h)])
    half = len(out) // 2
    assert abs(peak_hz(out[:half], 24000) - 300) < 10
    assert abs(peak_hz(out[half:], 24000) - 3000) < 10
    assert lib.drop(h)


@pytest.mark.parametrize("request_fields, message", [
    (dict(input_rate=0, output_rate=16000, num_channels=1), "input_rate"),
    (dict(input_rate=48000, output_rate=-5, num_channels=1), "output_rate"),
    (dict(input_rate=48000, output_rate=16000, num_channels=0), "num_channels"),
    (dict(input_rate=48000, output_rate=16000, num_channels=1000), "num_channels"),
])
def test_sox_bad_parameters_answer_with_an_error(lib, request_fields, message):
    res = lib.request(new_sox_resampler=audio.NewSoxResamplerRequest(**request_fields))
    assert res.WhichOneof("message") == "error"
    assert message in res.error


def test_sox_bad_pushes_answer_with_an_error(lib):
    h = new_sox(lib, input_rate=48000, output_rate=16000, num_channels=2)
    buf = np.zeros(960, np.int16)
    for ptr, size, message in [(buf.ctypes.data + 1, 960, "aligned"),
                               (buf.ctypes.data, 962, "whole number"),
                               (0, 960, "null")]:
        res = lib.request(push_sox_resampler=audio.PushSoxResamplerRequest(
            resampler_handle=h, data_ptr=ptr, size=size))
        assert message in res.error
        assert res.size == 0 and res.output_ptr == 0
    with pytest.raises(lkffi.FfiError, match="not found"):
        lib.request(push_sox_resampler=audio.PushSoxResamplerRequest(resampler_handle=987654))
    assert lib.drop(h)


def remix(lib, h, data, rate, channels, to_rate, to_channels):
    res = lib.request(remix_and_resample=audio.RemixAndResampleRequest(
        resampler_handle=h, num_channels=to_channels, sample_rate=to_rate,
        buffer=audio.AudioFrameBufferInfo(data_ptr=data.ctypes.data, num_channels=channels,
                                          sample_rate=rate,
                                          samples_per_channel=len(data) // channels)))
    info = res.buffer.info
    out = np.ctypeslib.as_array((ctypes.c_int16 * (info.samples_per_channel * info.num_channels))
                                .from_address(info.data_ptr)).copy()
    assert lib.drop(res.buffer.handle.id)
    return info, out


@pytest.mark.parametrize("rate, channels, to_rate, to_channels, per_call", [
    (48000, 1, 16000, 1, 480),
    (16000, 1, 48000, 1, 160),
    (44100, 1, 48000, 1, 441),
    (48000, 2, 48000, 1, 480),
    (48000, 1, 48000, 2, 480),
    (48000, 2, 24000, 1, 480),
])
def test_remix_and_resample_counts_and_pitch(lib, rate, channels, to_rate, to_channels, per_call):
    h = lib.request(new_audio_resampler=audio.NewAudioResamplerRequest()).resampler.handle.id
    signal = sine(440, rate, per_call * 100, channels)
    outs = []
    for i in range(100):
        chunk = np.ascontiguousarray(signal[i * per_call * channels:(i + 1) * per_call * channels])
        info, out = remix(lib, h, chunk, rate, channels, to_rate, to_channels)
        assert (info.sample_rate, info.num_channels) == (to_rate, to_channels)
        assert info.samples_per_channel == per_call * to_rate // rate  # every call, the first too
        outs.append(out)
    out = np.concatenate(outs[5:]).reshape(-1, to_channels)  # past the filter's latency
    assert abs(peak_hz(out[:, 0], to_rate) - 440) < 3
    if to_channels == 2:
        assert np.array_equal(out[:, 0], out[:, 1])  # mono to stereo duplicates
    assert lib.drop(h)


def test_stereo_to_mono_averages_the_channels(lib):
    h = lib.request(new_audio_resampler=audio.NewAudioResamplerRequest()).resampler.handle.id
    frames = np.zeros((480, 2), np.int16)
    frames[:, 0], frames[:, 1] = 1000, 3000
    _, out = remix(lib, h, np.ascontiguousarray(frames.ravel()), 48000, 2, 48000, 1)
    assert np.all(out == 2000)
    assert lib.drop(h)


def test_remix_refuses_bad_buffers(lib):
    h = lib.request(new_audio_resampler=audio.NewAudioResamplerRequest()).resampler.handle.id
    buf = np.zeros(480, np.int16)
    cases = [
        (dict(data_ptr=buf.ctypes.data, num_channels=0, sample_rate=48000, samples_per_channel=480), 1, 48000, "num_channels"),
        (dict(data_ptr=buf.ctypes.data, num_channels=1, sample_rate=0, samples_per_channel=480), 1, 48000, "sample_rate"),
        (dict(data_ptr=0, num_channels=1, sample_rate=48000, samples_per_channel=480), 1, 48000, "data_ptr"),
        (dict(data_ptr=buf.ctypes.data, num_channels=1, sample_rate=48000, samples_per_channel=480), 0, 48000, "num_channels"),
        (dict(data_ptr=buf.ctypes.data, num_channels=64, sample_rate=48000, samples_per_channel=2**30), 1, 48000, "too large"),
    ]
    for b, to_ch, to_rate, message in cases:
        with pytest.raises(lkffi.FfiError, match=message):
            lib.request(remix_and_resample=audio.RemixAndResampleRequest(
                resampler_handle=h, buffer=audio.AudioFrameBufferInfo(**b),
                num_channels=to_ch, sample_rate=to_rate))
    assert lib.drop(h)
