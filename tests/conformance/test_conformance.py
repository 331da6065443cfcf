"""Differential conformance: every case of cases.py, ours against upstream.

A case passes when the two libraries answer alike (see cases.py for what
"alike" means per observation), or when upstream does not serve it (refuses,
answers with an error, aborts or hangs) while we do: those are listed as
served by us only. Every other difference must be declared in KNOWN with
its cause, or the case fails. The session writes a report (Markdown) to
$LK_CONFORMANCE_REPORT, by default conformance.md next to our library.
"""

import base64
import fnmatch
import os
import platform
import time

import numpy as np
import pytest

import cases

# (case pattern, label pattern, keys ignored in it, or None: all of it): why.
KNOWN = {
    ("video_stream/*", "msg.frames", ("timestamp_us",)):
        "upstream re-stamps every frame with WebRTC's monotonic clock (its track source "
        "aligns capture timestamps to rtc::TimeMicros); we deliver the captured timestamp_us "
        "unchanged, as the video issue asks",
    ("video_stream/*", "msg.frames", ("metadata",)):
        "upstream drops FrameMetadata between a local source and a local stream; we pass it "
        "through to receivers, as the video issue asks",
    ("apm/all-on/*", "pcm.out", None):
        "echo cancelling, noise suppression and gain control are different algorithms "
        "(upstream: WebRTC AEC3/NS/AGC2; ours: speexdsp MDF and preprocessor); the answers "
        "are compared, the processed samples cannot be",
    ("sox/input-rate-0", "*", None):
        "upstream creates a resampler from input_rate 0 and fails every push and flush; ours "
        "refuses at creation, with the reason in the response's error",
    ("room/audio-stream-from-unknown-participant", "msg.response", None):
        "upstream hands out a stream for any participant handle, even one that does not exist "
        "(it then never delivers); ours refuses at once: the handle names no participant",
}

UPSTREAM = "@livekit/rtc-ffi-bindings-linux-x64-gnu " + os.environ.get(
    "LIVEKIT_FFI_UPSTREAM_VERSION", "0.12.80")
ROWS = []  # (case, verdict, detail) for the report
ALIKE = "alike"
ALIKE_BUT = "alike but for declared differences"
OURS_ONLY = "served by ours only"
UPSTREAM_BROKEN = "upstream aborts or hangs; ours answers with an error"


def known_for(name, label):
    """(keys to ignore, or None to skip the observation; the reasons)."""
    keys, why = set(), []
    for (pattern, lab, ks), reason in KNOWN.items():
        if fnmatch.fnmatch(name, pattern) and fnmatch.fnmatch(label, lab):
            keys = None if ks is None or keys is None else keys | set(ks)
            why.append(reason)
    return keys, why


def without(v, keys):
    if isinstance(v, dict):
        return {k: without(x, keys) for k, x in v.items() if k not in keys}
    if isinstance(v, list):
        return [without(x, keys) for x in v]
    return v


def failed(result):
    """Whether a library's observations show it did not serve the case."""
    if result.get("note.error") or result.get("msg.refused") is True:
        return True
    text = repr([v for k, v in result.items() if k.startswith("msg.")])
    return "<error>" in text or "'refused': True" in text


def samples(b64):
    return np.frombuffer(base64.b64decode(b64), np.int16).astype(np.float64)


def correlation(a, b):
    if not a.any() and not b.any():
        return 1.0
    if not a.any() or not b.any():
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def aligned(a, b, max_lag):
    """a and b cut to their best-matching overlap, and the lag found."""
    n = len(a) + len(b)
    size = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    lags = np.r_[np.arange(0, max_lag + 1), np.arange(-max_lag, 0)]
    lag = int(lags[np.argmax(xc[lags])])
    if lag >= 0:
        a = a[lag:]
    else:
        b = b[-lag:]
    m = min(len(a), len(b))
    return a[:m], b[:m], lag


# Resamplers and filters delay their output by a few samples, each its own
# few: waveforms are compared at the best lag up to this many samples.
FILTER_LAG = 100
# Streams start at a source tick of each runtime: up to 100 ms at 48 kHz.
STREAM_LAG = 4800


def compare(label, ours, up, ignore):
    """(what differs or None, a note for the report or None)."""
    kind = label.split(".")[0]
    if kind == "note":
        return None, None
    if kind == "msg":
        o, u = without(ours, ignore), without(up, ignore)
        return (None if o == u else "ours %r\n  upstream %r" % (o, u)), None
    if kind == "pix":
        o, u = (np.frombuffer(base64.b64decode(x), np.uint8).astype(int) for x in (ours, up))
        if len(o) != len(u):
            return "%d bytes, upstream %d" % (len(o), len(u)), None
        worst = int(np.abs(o - u).max()) if len(o) else 0
        return (None if worst <= 2 else "bytes up to %d levels apart" % worst), None
    o, u = samples(ours), samples(up)
    shorter = min(len(o), len(u))
    if kind == "pcm" and len(o) != len(u):
        return "%d samples, upstream %d" % (len(o), len(u)), None
    if not shorter:
        return (None if len(o) == len(u) else "no samples from one side"), None
    o, u, lag = aligned(o, u, FILTER_LAG if kind == "pcm" else STREAM_LAG)
    if len(o) < 0.8 * shorter:
        return "waveforms overlap in %d of %d samples" % (len(o), shorter), None
    r = correlation(o, u)
    note = "%s: correlation %.4f at lag %d" % (label, r, lag)
    return (None if r >= 0.99 else note), note


def outcome_text(o):
    if "result" in o:
        return "served" if not failed(o["result"]) else "refused or answered with an error"
    if "crashed" in o:
        return "aborted the process (exit status %s)" % o["crashed"]
    if "hung" in o:
        return "hung"
    return "raised " + o["exception"]


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_case(outcomes, name):
    ours, up = outcomes["ours"][name], outcomes["upstream"][name]
    assert "result" in ours, "ours: %s\n%s" % (outcome_text(ours), ours.get("trace", ""))
    ours_failed = failed(ours["result"])
    if "result" not in up:
        ROWS.append((name, UPSTREAM_BROKEN if ours_failed else OURS_ONLY,
                     "upstream " + outcome_text(up)))
        return
    if failed(up["result"]) and not ours_failed:
        ROWS.append((name, OURS_ONLY, "upstream " + outcome_text(up)))
        return
    differences, reasons, notes = [], [], []
    for label in sorted(set(ours["result"]) | set(up["result"])):
        ignore, why = known_for(name, label)
        reasons += why
        if ignore is None:
            continue
        if label not in ours["result"] or label not in up["result"]:
            differences.append("%s: only %s has it" % (
                label, "ours" if label in ours["result"] else "upstream"))
            continue
        d, note = compare(label, ours["result"][label], up["result"][label], ignore)
        if d:
            differences.append("%s: %s" % (label, d))
        if note:
            notes.append(note)
    assert not differences, "\n".join(differences)
    ROWS.append((name, ALIKE if not reasons else ALIKE_BUT,
                 "; ".join(sorted(set(reasons)) + notes)))


def write_report(path):
    by_verdict = {}
    for name, verdict, detail in ROWS:
        by_verdict.setdefault(verdict, []).append((name, detail))
    with open(path, "w") as f:
        f.write("# Conformance: this library against upstream livekit-ffi\n\n")
        f.write("Run %s on %s (%d CPUs); upstream: %s.\n" % (
            time.strftime("%Y-%m-%d"), platform.platform(), os.cpu_count(), UPSTREAM))
        f.write("Regenerate: `ctest --test-dir build -R conformance`, then copy "
                "build/conformance.md here. Cases: tests/conformance/cases.py; "
                "declared differences: KNOWN in tests/conformance/test_conformance.py.\n\n")
        f.write("| verdict | cases |\n|---|---|\n")
        for verdict in (ALIKE, ALIKE_BUT, OURS_ONLY, UPSTREAM_BROKEN):
            f.write("| %s | %d |\n" % (verdict, len(by_verdict.get(verdict, []))))
        f.write("\n")
        for verdict in (ALIKE, ALIKE_BUT, OURS_ONLY, UPSTREAM_BROKEN):
            rows = by_verdict.get(verdict, [])
            f.write("## %s (%d cases)\n\n" % (verdict, len(rows)))
            for name, detail in rows:
                f.write("- `%s`%s\n" % (name, (": " + detail) if detail else ""))
            f.write("\n")


@pytest.fixture(scope="session", autouse=True)
def report():
    yield
    if ROWS:
        lib = os.environ.get("LKFFI_LIB", os.path.join(cases.lkffi._ROOT, "build",
                                                       "liblivekit_ffi.so"))
        write_report(os.environ.get(
            "LK_CONFORMANCE_REPORT", os.path.join(os.path.dirname(lib), "conformance.md")))
