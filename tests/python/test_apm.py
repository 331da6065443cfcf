"""The audio processing module on synthetic signals, as livekit-rtc's
AudioProcessingModule drives it (10 ms int16 frames, processed in place)."""

import numpy as np
import pytest

import lkffi
from lkffi import audio

RATE = 48000
FRAME = RATE // 100


def new_apm(lib, echo=False, gain=False, hpf=False, ns=False):
    return lib.request(new_apm=audio.NewApmRequest(
        echo_canceller_enabled=echo, gain_controller_enabled=gain,
        high_pass_filter_enabled=hpf, noise_suppression_enabled=ns)).apm.handle.id


def process(lib, h, frame, reverse=False, rate=RATE, channels=1):
    req = dict(apm_handle=h, data_ptr=frame.ctypes.data, size=frame.nbytes, sample_rate=rate,
               num_channels=channels)
    if reverse:
        res = lib.request(apm_process_reverse_stream=audio.ApmProcessReverseStreamRequest(**req))
    else:
        res = lib.request(apm_process_stream=audio.ApmProcessStreamRequest(**req))
    return res.error if res.HasField("error") else None


def run(lib, h, signal):
    out = signal.copy()
    for i in range(len(out) // FRAME):
        assert process(lib, h, out[i * FRAME:(i + 1) * FRAME]) is None
    return out


def db(x):
    return 10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-9)


def speechlike(n, seed):
    """Noise shaped into syllables: bursts with a speech-like spectrum."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(n)
    shaped = np.convolve(noise, np.hanning(24), mode="same")
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * np.arange(n) / RATE)
    return (shaped / np.max(np.abs(shaped)) * envelope * 12000).astype(np.int16)


def test_echo_is_cancelled(lib, capsys):
    h = new_apm(lib, echo=True)
    seconds = 8
    render = speechlike(RATE * seconds, seed=1)
    # the room: 40 ms later, through a short filter, 6 dB down, plus a little noise
    delay = RATE * 40 // 1000
    path = np.array([0.5, 0.3, -0.1, 0.05])
    echo = np.convolve(np.concatenate([np.zeros(delay), render[:-delay]]), path)[:len(render)]
    noise = np.random.default_rng(2).standard_normal(len(render)) * 30
    capture = np.clip(echo + noise, -32768, 32767).astype(np.int16)
    out = np.zeros_like(capture)
    for i in range(len(render) // FRAME):
        sl = slice(i * FRAME, (i + 1) * FRAME)
        assert process(lib, h, np.ascontiguousarray(render[sl]), reverse=True) is None
        frame = capture[sl].copy()  # processed in place
        assert process(lib, h, frame) is None
        out[sl] = frame
    tail = slice(RATE * (seconds - 3), None)  # after convergence
    erle = db(capture[tail]) - db(out[tail])
    with capsys.disabled():
        print("\n  echo return loss enhancement after convergence: %.1f dB" % erle)
    assert erle >= 15
    assert lib.drop(h)


def test_noise_suppression_lowers_white_noise(lib, capsys):
    h = new_apm(lib, ns=True)
    noise = (np.random.default_rng(3).standard_normal(RATE * 3) * 1500).astype(np.int16)
    out = run(lib, h, noise)
    tail = slice(RATE, None)
    drop = db(noise[tail]) - db(out[tail])
    with capsys.disabled():
        print("\n  white noise lowered by %.1f dB" % drop)
    assert drop >= 6
    assert lib.drop(h)


def test_gain_control_raises_a_quiet_signal(lib, capsys):
    h = new_apm(lib, gain=True)
    quiet = (speechlike(RATE * 4, seed=4) * 0.02).astype(np.int16)  # about -40 dBFS
    out = run(lib, h, quiet)
    tail = slice(RATE * 2, None)
    gain = db(out[tail]) - db(quiet[tail])
    with capsys.disabled():
        print("\n  quiet signal raised by %.1f dB" % gain)
    assert gain >= 6
    assert lib.drop(h)


def test_high_pass_filter_removes_30_hz_and_keeps_1_khz(lib, capsys):
    h = new_apm(lib, hpf=True)
    t = np.arange(RATE * 2) / RATE
    hum = (np.sin(2 * np.pi * 30 * t) * 10000).astype(np.int16)
    tone = (np.sin(2 * np.pi * 1000 * t) * 10000).astype(np.int16)
    tail = slice(RATE // 2, None)
    hum_loss = db(hum[tail]) - db(run(lib, h, hum)[tail])
    tone_loss = db(tone[tail]) - db(run(lib, h, tone)[tail])
    with capsys.disabled():
        print("\n  30 Hz attenuated by %.1f dB, 1 kHz by %.2f dB" % (hum_loss, tone_loss))
    assert hum_loss >= 20
    assert abs(tone_loss) < 1
    assert lib.drop(h)


def test_all_rates_and_stereo_are_served(lib):
    h = new_apm(lib, echo=True, gain=True, hpf=True, ns=True)
    for rate in (8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000):
        for channels in (1, 2):
            frame = np.zeros(rate // 100 * channels, np.int16)
            assert process(lib, h, frame, rate=rate, channels=channels) is None
            assert process(lib, h, frame, reverse=True, rate=rate, channels=channels) is None
    assert lib.drop(h)


def test_bad_frames_answer_with_an_error(lib):
    h = new_apm(lib, echo=True, ns=True)
    buf = np.zeros(FRAME * 2, np.int16)
    res = lib.request(apm_process_stream=audio.ApmProcessStreamRequest(
        apm_handle=h, data_ptr=buf.ctypes.data + 1, size=FRAME * 2, sample_rate=RATE, num_channels=1))
    assert res.error == "data_ptr must be aligned for i16"
    assert "10ms" in process(lib, h, buf[:FRAME - 1])
    assert "sample_rate" in process(lib, h, buf[:79], rate=7999)
    assert "sample_rate" in process(lib, h, buf[:10], rate=1000)
    assert "num_channels" in process(lib, h, buf[:FRAME], channels=0)
    res = lib.request(apm_set_stream_delay=audio.ApmSetStreamDelayRequest(apm_handle=h, delay_ms=-3))
    assert "delay_ms" in res.error
    res = lib.request(apm_set_stream_delay=audio.ApmSetStreamDelayRequest(apm_handle=h, delay_ms=40))
    assert not res.HasField("error")
    with pytest.raises(lkffi.FfiError, match="not found"):
        process(lib, 987654, buf[:FRAME])
    assert lib.drop(h)
