"""fork() as pre-fork servers use it: the parent initializes the library, the
children keep using it (multiprocessing's fork start method), and a child
that does not reinitialize is refused at once with the fix in the message."""

import multiprocessing
import os
import time

import numpy as np

import lkffi
from lkffi import audio

LIB = lkffi.Library()  # before any fork, as a server would


def work_in_child(n):
    """Sync and async requests in a pool worker; returns what it saw."""
    res = LIB.request(new_audio_resampler=audio.NewAudioResamplerRequest())
    h = res.resampler.handle.id
    pcm = np.zeros(480, np.int16)
    out = LIB.request(remix_and_resample=audio.RemixAndResampleRequest(
        resampler_handle=h, num_channels=1, sample_rate=16000,
        buffer=audio.AudioFrameBufferInfo(data_ptr=pcm.ctypes.data, num_channels=1,
                                          sample_rate=48000, samples_per_channel=480)))
    LIB.drop(out.buffer.handle.id)
    LIB.drop(h)
    src = LIB.request(new_audio_source=audio.NewAudioSourceRequest(
        sample_rate=48000, num_channels=1)).source.handle.id
    cap = LIB.request(capture_audio_frame=audio.CaptureAudioFrameRequest(
        source_handle=src, buffer=audio.AudioFrameBufferInfo(
            data_ptr=pcm.ctypes.data, num_channels=1, sample_rate=48000,
            samples_per_channel=480)))
    cb = LIB.wait_callback("capture_audio_frame", cap.async_id, timeout=5)
    LIB.drop(src)
    return (os.getpid(), out.buffer.info.samples_per_channel, cb.HasField("error"))


def test_a_fork_pool_uses_the_parents_library():
    parent_source = LIB.request(new_audio_source=audio.NewAudioSourceRequest()).source.handle.id
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(work_in_child, range(6), chunksize=1)
    assert {r[1] for r in results} == {160}
    assert not any(r[2] for r in results)
    assert len({r[0] for r in results}) >= 1 and os.getpid() not in {r[0] for r in results}
    # the parent's objects and runtime are untouched
    assert LIB.drop(parent_source)
    assert work_in_child(0)[1] == 160


def child_refusal_report(conn):
    """In a child forked with lkffi's hook disabled: what the library says."""
    t0 = time.monotonic()
    h, _ = LIB.request_raw(lkffi.proto.FfiRequest(
        new_audio_resampler=audio.NewAudioResamplerRequest()).SerializeToString())
    took = time.monotonic() - t0
    conn.send((h, LIB.last_error(), took, LIB.drop(1), LIB.reinit()))
    h, _ = LIB.request_raw(lkffi.proto.FfiRequest(
        new_audio_resampler=audio.NewAudioResamplerRequest()).SerializeToString())
    conn.send(h != lkffi.INVALID_HANDLE)


def test_without_reinit_a_child_is_refused_at_once():
    LIB.fork_support = False  # the hook stands aside for this child
    try:
        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        p = ctx.Process(target=child_refusal_report, args=(child,))
        p.start()
        handle, error, took, dropped, reinit_ok = parent.recv()
        works_after = parent.recv()
        p.join(10)
    finally:
        LIB.fork_support = True
    assert handle == lkffi.INVALID_HANDLE
    assert "fork" in error and "livekit_ffi_reinit" in error
    assert not dropped
    assert reinit_ok and works_after
    assert took < 1.0  # a hang guard: the bench measures the refusal (microseconds)
