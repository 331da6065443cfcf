"""Bad inputs, one by one, each with the answer docs/bad-inputs.md promises:
a refused request with a reason (livekit_ffi_last_error), or the response's
`error`. Nothing crashes, hangs or leaks."""

import ctypes

import numpy as np
import pytest

import lkffi
from lkffi import audio, proto, room, track, video


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def envelope(field_number, body):
    """An FfiRequest holding `body` (bytes) in variant `field_number`."""
    return varint(field_number << 3 | 2) + varint(len(body)) + body


def refused(lib, fragment, **variant):
    with pytest.raises(lkffi.FfiError) as e:
        lib.request(**variant)
    assert fragment in str(e.value), str(e.value)


PCM = np.zeros(4800, np.int16)
RGBA = np.zeros(64 * 64 * 4, np.uint8)


def pcm_info(**kw):
    fields = dict(data_ptr=PCM.ctypes.data, num_channels=1, sample_rate=48000,
                  samples_per_channel=480)
    fields.update(kw)
    return audio.AudioFrameBufferInfo(**fields)


def rgba_info(**kw):
    fields = dict(type=video.RGBA, width=8, height=8, data_ptr=RGBA.ctypes.data, stride=32)
    fields.update(kw)
    return video.VideoBufferInfo(**fields)


def test_null_result_pointers(lib):
    data = proto.FfiRequest(new_audio_resampler=audio.NewAudioResamplerRequest()).SerializeToString()
    buf = (ctypes.c_ubyte * len(data)).from_buffer_copy(data)
    res_ptr = ctypes.POINTER(ctypes.c_ubyte)()
    assert lib.lib.livekit_ffi_request(buf, len(data), ctypes.byref(res_ptr), None) == 0
    assert "res_len is NULL" in lib.last_error()


def test_empty_request(lib):
    assert lib.request_raw(b"")[0] == 0
    assert "empty request" in lib.last_error()


def test_every_variant_with_every_field_missing(lib):
    """Each FfiRequest variant, its message empty: a clear refusal or a full
    response (our Python classes check every required field of it)."""
    for field in proto.FfiRequest.DESCRIPTOR.fields:
        if field.name == "dispose":
            continue  # an empty DisposeRequest is a valid one: it disposes
        h, body = lib.request_raw(envelope(field.number, b""))
        if h == 0:
            assert lib.last_error(), field.name
        else:
            proto.FfiResponse.FromString(body)  # complete, or this raises
            assert lib.drop(h)
    lib.drain_events()


def test_unknown_enum_values_read_as_the_first(lib):
    # VideoConvertRequest.dst_type (field 3) = 99: RGBA, as upstream reads it
    body = video.VideoConvertRequest(buffer=rgba_info()).SerializeToString() + b"\x18\x63"
    h, res = lib.request_raw(envelope(23, body))
    out = proto.FfiResponse.FromString(res).video_convert
    assert out.buffer.info.type == video.RGBA
    assert lib.drop(out.buffer.handle.id) and lib.drop(h)
    # NewSoxResamplerRequest.quality_recipe (field 6) = 77: the quick recipe
    body = audio.NewSoxResamplerRequest(input_rate=48000, output_rate=16000,
                                        num_channels=1).SerializeToString() + b"\x30\x4d"
    h, res = lib.request_raw(envelope(33, body))
    sox = proto.FfiResponse.FromString(res).new_sox_resampler
    assert sox.WhichOneof("message") == "resampler"
    assert lib.drop(sox.resampler.handle.id) and lib.drop(h)


def test_sample_counts_that_overflow(lib):
    h = lib.request(new_audio_resampler=audio.NewAudioResamplerRequest()).resampler.handle.id
    refused(lib, "too large", remix_and_resample=audio.RemixAndResampleRequest(
        resampler_handle=h, num_channels=1, sample_rate=16000,
        buffer=pcm_info(num_channels=64, samples_per_channel=0xFFFFFFFF)))
    assert lib.drop(h)


@pytest.mark.parametrize("rate", [0, 10 ** 9])
def test_sample_rates_zero_or_absurd(lib, rate):
    refused(lib, "sample_rate", new_audio_source=audio.NewAudioSourceRequest(sample_rate=rate))
    res = lib.request(new_sox_resampler=audio.NewSoxResamplerRequest(
        input_rate=rate, output_rate=16000, num_channels=1))
    assert "input_rate" in res.error
    h = lib.request(new_audio_resampler=audio.NewAudioResamplerRequest()).resampler.handle.id
    refused(lib, "sample_rate", remix_and_resample=audio.RemixAndResampleRequest(
        resampler_handle=h, num_channels=1, sample_rate=16000, buffer=pcm_info(sample_rate=rate)))
    assert lib.drop(h)


def test_picture_sizes_that_overflow(lib):
    res = lib.request(video_convert=video.VideoConvertRequest(
        buffer=rgba_info(width=1 << 31, height=1 << 31), dst_type=video.I420))
    assert "not a picture size" in res.error


def test_a_stride_smaller_than_a_row(lib):
    res = lib.request(video_convert=video.VideoConvertRequest(
        buffer=rgba_info(stride=31), dst_type=video.I420))
    assert "stride 31 is smaller than a row (32 bytes)" in res.error


def test_misaligned_data_pointers(lib):
    apm = lib.request(new_apm=audio.NewApmRequest()).apm.handle.id
    res = lib.request(apm_process_stream=audio.ApmProcessStreamRequest(
        apm_handle=apm, data_ptr=PCM.ctypes.data + 1, size=960, sample_rate=48000, num_channels=1))
    assert res.error == "data_ptr must be aligned for i16"
    src = lib.request(new_audio_source=audio.NewAudioSourceRequest()).source.handle.id
    refused(lib, "aligned", capture_audio_frame=audio.CaptureAudioFrameRequest(
        source_handle=src, buffer=pcm_info(data_ptr=PCM.ctypes.data + 1)))
    assert lib.drop(apm) and lib.drop(src)


def test_a_handle_of_the_wrong_kind(lib):
    vsrc = lib.request(new_video_source=video.NewVideoSourceRequest()).source.handle.id
    refused(lib, "wrong kind: 'video source' where 'audio source' is needed",
            capture_audio_frame=audio.CaptureAudioFrameRequest(source_handle=vsrc, buffer=pcm_info()))
    refused(lib, "wrong kind", create_audio_track=track.CreateAudioTrackRequest(source_handle=vsrc))
    assert lib.drop(vsrc)


def test_set_subscribed_needs_a_remote_publication(lib):
    refused(lib, "needs subscribe", set_subscribed=room.SetSubscribedRequest(publication_handle=3))
    refused(lib, "handle is invalid (0)", set_subscribed=room.SetSubscribedRequest(subscribe=True))
    refused(lib, "987654 not found", set_subscribed=room.SetSubscribedRequest(
        subscribe=True, publication_handle=987654))
    src = lib.request(new_audio_source=audio.NewAudioSourceRequest()).source.handle.id
    refused(lib, "wrong kind: 'audio source' where 'remote track publication' is needed",
            set_subscribed=room.SetSubscribedRequest(subscribe=False, publication_handle=src))
    assert lib.drop(src)


def test_a_dropped_handle_reused_and_dropped_twice(lib):
    src = lib.request(new_audio_source=audio.NewAudioSourceRequest()).source.handle.id
    assert lib.drop(src)
    refused(lib, "%d not found" % src, clear_audio_buffer=audio.ClearAudioBufferRequest(source_handle=src))
    assert not lib.drop(src)
    assert "unknown" in lib.last_error()
