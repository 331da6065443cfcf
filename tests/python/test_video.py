"""Video buffers, VideoConvert, video sources, local video tracks and video
streams, as livekit-rtc's VideoFrame, VideoSource and VideoStream use them."""

import itertools
import time

import numpy as np
import pytest

import lkffi
from lkffi import track, video

T = video  # the VideoBufferType values live in video_frame_pb2
PACKED = {T.RGBA: "RGBA", T.ABGR: "ABGR", T.ARGB: "ARGB", T.BGRA: "BGRA", T.RGB24: "RGB"}
ALL = [T.RGBA, T.ABGR, T.ARGB, T.BGRA, T.RGB24, T.I420, T.I420A, T.I422, T.I444, T.I010, T.NV12]
SIZES = [(33, 17), (64, 32)]


layout = lkffi.video_layout


def rgba_image(w, h):
    """Smooth colour ramps (what 4:2:0 can carry) with opaque alpha."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 4), np.uint8)
    img[..., 0] = 40 + 160 * x // max(w - 1, 1)
    img[..., 1] = 200 - 150 * y // max(h - 1, 1)
    img[..., 2] = 90 + 60 * ((x + y) % 2 == 0)
    img[..., 2] = 120
    img[..., 3] = 255
    return np.ascontiguousarray(img)


def info_of(arr, t, w, h):
    stride = 3 * w if t == T.RGB24 else 4 * w
    return video.VideoBufferInfo(type=t, width=w, height=h, data_ptr=arr.ctypes.data, stride=stride)


def convert(lib, info, dst, flip=False):
    res = lib.request(video_convert=video.VideoConvertRequest(buffer=info, dst_type=dst, flip_y=flip))
    return res


def owned_bytes(buf):
    """Copies an owned buffer's planes out (numpy), by its own description."""
    return [np.frombuffer(p, np.uint8).copy() for p in lkffi.video_planes(buf.info)]


def as_info(buf, planes):
    """A request-side VideoBufferInfo for planes held in numpy arrays (the
    caller keeps `planes` alive while the info is in use)."""
    info = buf.info
    out = video.VideoBufferInfo(type=info.type, width=info.width, height=info.height,
                                data_ptr=planes[0].ctypes.data)
    if info.components:
        for c, p in zip(info.components, planes):
            out.components.add(data_ptr=p.ctypes.data, stride=c.stride, size=c.size)
    else:
        out.stride = info.stride
    return out


@pytest.mark.parametrize("w, h", SIZES)
@pytest.mark.parametrize("src, dst", list(itertools.product(ALL, ALL)))
def test_every_pair_converts_with_the_documented_layout(lib, src, dst, w, h):
    rgba = rgba_image(w, h)
    first = convert(lib, info_of(rgba, T.RGBA, w, h), src)
    assert first.WhichOneof("message") == "buffer", first.error
    src_planes = owned_bytes(first.buffer)
    res = convert(lib, as_info(first.buffer, src_planes), dst)
    assert res.WhichOneof("message") == "buffer", res.error
    info = res.buffer.info
    assert (info.type, info.width, info.height) == (dst, w, h)
    want = layout(dst, w, h)
    if len(want) == 1:
        assert info.stride == want[0][0] and not info.components
    else:
        assert [(c.stride, c.size) for c in info.components] == want
        assert info.data_ptr == info.components[0].data_ptr
        for a, b in zip(info.components, info.components[1:]):
            assert b.data_ptr == a.data_ptr + a.size  # planes one after another
    # and back to RGBA: the picture survives, within what the formats carry
    # (a 5-level-per-pixel ramp through up to two chroma resamplings and
    # three RGB/YUV roundings: a few levels on average, 16 at worst)
    dst_planes = owned_bytes(res.buffer)
    back = convert(lib, as_info(res.buffer, dst_planes), T.RGBA)
    out = owned_bytes(back.buffer)[0].reshape(h, w, 4).astype(int)
    err = np.abs(out[..., :3] - rgba[..., :3].astype(int))
    assert err.max() <= (0 if {src, dst} <= set(PACKED) else 16), (src, dst, err.max())
    assert np.mean(err) <= (0 if {src, dst} <= set(PACKED) else 4)
    for r in (first, res, back):
        assert lib.drop(r.buffer.handle.id)


@pytest.mark.parametrize("t, order", [(T.RGBA, "RGBA"), (T.ABGR, "ABGR"), (T.ARGB, "ARGB"),
                                      (T.BGRA, "BGRA"), (T.RGB24, "RGB")])
def test_packed_types_are_named_in_memory_byte_order(lib, t, order):
    px = np.array([[[10, 20, 30, 40]]], np.uint8)  # R, G, B, A
    res = convert(lib, info_of(px, T.RGBA, 1, 1), t)
    got = list(owned_bytes(res.buffer)[0][:len(order)])
    assert got == [{"R": 10, "G": 20, "B": 30, "A": 40}[c] for c in order]
    assert lib.drop(res.buffer.handle.id)


@pytest.mark.parametrize("dst", ALL)
def test_flip_y_turns_the_picture_upside_down(lib, dst):
    w, h = 8, 6
    img = np.zeros((h, w, 4), np.uint8)
    img[0, :, :3] = 255  # white top row
    img[..., 3] = 255
    res = convert(lib, info_of(img, T.RGBA, w, h), dst, flip=True)
    planes = owned_bytes(res.buffer)
    back = convert(lib, as_info(res.buffer, planes), T.RGBA)
    out = owned_bytes(back.buffer)[0].reshape(h, w, 4)
    assert out[h - 1, :, :3].min() > 200 and out[0, :, :3].max() < 60
    assert lib.drop(res.buffer.handle.id) and lib.drop(back.buffer.handle.id)


def test_input_strides_and_components_are_honoured(lib):
    w, h, pad = 10, 4, 7
    rows = np.zeros((h, 4 * w + pad), np.uint8)
    rows[:, :4 * w] = 77
    info = video.VideoBufferInfo(type=T.RGBA, width=w, height=h, data_ptr=rows.ctypes.data,
                                 stride=4 * w + pad)
    res = convert(lib, info, T.BGRA)
    assert np.all(owned_bytes(res.buffer)[0] == 77)
    assert lib.drop(res.buffer.handle.id)


def bad(lib, info, message):
    res = convert(lib, info, T.I420)
    assert res.WhichOneof("message") == "error"
    assert message in res.error, res.error


def test_bad_buffers_are_refused_with_a_reason(lib):
    img = np.zeros(64 * 64 * 4, np.uint8)
    p = img.ctypes.data
    bad(lib, video.VideoBufferInfo(type=T.RGBA, width=0, height=8, data_ptr=p), "picture size")
    bad(lib, video.VideoBufferInfo(type=T.RGBA, width=1 << 20, height=1 << 20, data_ptr=p), "picture size")
    bad(lib, video.VideoBufferInfo(type=T.RGBA, width=8, height=8, data_ptr=p, stride=16), "stride 16 is smaller")
    bad(lib, video.VideoBufferInfo(type=T.RGBA, width=8, height=8, data_ptr=0), "null")
    i420 = video.VideoBufferInfo(type=T.I420, width=8, height=8, data_ptr=p)
    i420.components.add(data_ptr=p, stride=8, size=64)
    bad(lib, i420, "needs 3 components")
    i420.components.add(data_ptr=p, stride=4, size=16)
    i420.components.add(data_ptr=p, stride=4, size=3)
    bad(lib, i420, "size 3 is smaller")
    src = lib.request(new_video_source=video.NewVideoSourceRequest()).source.handle.id
    with pytest.raises(lkffi.FfiError, match="buffer is missing"):
        lib.request(capture_video_frame=video.CaptureVideoFrameRequest(source_handle=src))
    assert lib.drop(src)


def test_planar_buffer_without_components_reads_a_compact_layout(lib):
    w, h = 6, 4
    planes = np.concatenate([np.full(w * h, 81, np.uint8), np.full(9 * 2, 90, np.uint8)])
    info = video.VideoBufferInfo(type=T.I420, width=w, height=h, data_ptr=planes.ctypes.data)
    res = convert(lib, info, T.I444)
    y, u, v = owned_bytes(res.buffer)
    assert np.all(y == 81) and np.all(u == 90) and np.all(v == 90)
    assert lib.drop(res.buffer.handle.id)


# --- source → track → stream ----------------------------------------------

def setup_stream(lib, **stream_fields):
    src = lib.request(new_video_source=video.NewVideoSourceRequest(
        resolution=video.VideoSourceResolution(width=32, height=16))).source
    assert src.info.type == video.VIDEO_SOURCE_NATIVE
    t = lib.request(create_video_track=track.CreateVideoTrackRequest(
        name="cam", source_handle=src.handle.id)).track
    assert (t.info.kind, t.info.sid, t.info.name) == (track.KIND_VIDEO, "TR_unknown", "cam")
    st = lib.request(new_video_stream=video.NewVideoStreamRequest(
        track_handle=t.handle.id, **stream_fields)).stream.handle.id
    return src.handle.id, t.handle.id, st


def solid(value, w=32, h=16):
    img = np.zeros((h, w, 4), np.uint8)
    img[..., :3] = value
    img[..., 3] = 255
    return img


def capture(lib, src, img, ts, rotation=video.VIDEO_ROTATION_0, metadata=None):
    h, w = img.shape[:2]
    lib.request(capture_video_frame=video.CaptureVideoFrameRequest(
        source_handle=src, buffer=info_of(img, T.RGBA, w, h), timestamp_us=ts, rotation=rotation,
        metadata=metadata))


def frames_of(lib, st, n, timeout=5.0):
    out = []
    for _ in range(n):
        ev = lib.wait_event(lambda ev: ev.WhichOneof("message") == "video_stream_event"
                            and ev.video_stream_event.stream_handle == st
                            and ev.video_stream_event.WhichOneof("message") == "frame_received",
                            timeout)
        out.append(ev.video_stream_event.frame_received)
    return out


def test_frames_arrive_in_order_with_timestamps_rotation_and_metadata(lib):
    src, t, st = setup_stream(lib, format=T.RGBA, queue_size_frames=10)
    meta = video.FrameMetadata(user_timestamp=99, frame_id=7, user_data=b"hello")
    for i in range(5):
        capture(lib, src, solid(40 * i), ts=1000 + i, rotation=i % 4,
                metadata=meta if i == 2 else None)
        time.sleep(0.01)
    for i, fr in enumerate(frames_of(lib, st, 5)):
        assert (fr.timestamp_us, fr.rotation) == (1000 + i, i % 4)
        assert fr.HasField("metadata") == (i == 2)
        if i == 2:
            assert (fr.metadata.user_timestamp, fr.metadata.frame_id, fr.metadata.user_data) == (99, 7, b"hello")
        info = fr.buffer.info
        assert (info.type, info.width, info.height, info.stride) == (T.RGBA, 32, 16, 128)
        px = owned_bytes(fr.buffer)[0].reshape(16, 32, 4)
        assert np.abs(px[..., :3].astype(int) - 40 * i).max() <= 3
        assert lib.drop(fr.buffer.handle.id)
    assert lib.drop(st) and lib.drop(t) and lib.drop(src)


def test_frames_keep_their_planar_type_unless_a_format_is_asked(lib):
    src, t, st = setup_stream(lib)
    capture(lib, src, solid(128), ts=1)
    fr = frames_of(lib, st, 1)[0]
    assert fr.buffer.info.type == T.I420  # packed captures come out as I420, as upstream
    assert [(c.stride, c.size) for c in fr.buffer.info.components] == layout(T.I420, 32, 16)
    assert lib.drop(fr.buffer.handle.id) and lib.drop(st) and lib.drop(t) and lib.drop(src)


def test_a_muted_track_streams_black(lib):
    src, t, st = setup_stream(lib, format=T.RGBA)
    lib.request(local_track_mute=track.LocalTrackMuteRequest(track_handle=t, mute=True))
    capture(lib, src, solid(200), ts=5)
    fr = frames_of(lib, st, 1)[0]
    px = owned_bytes(fr.buffer)[0].reshape(16, 32, 4)
    assert px[..., :3].max() == 0 and px[..., 3].min() == 255
    assert fr.timestamp_us == 5
    assert lib.drop(fr.buffer.handle.id) and lib.drop(st) and lib.drop(t) and lib.drop(src)


def test_a_slow_client_gets_the_newest_frame_not_a_backlog(lib):
    import threading
    gate = threading.Event()
    original = lib._on_event

    def stalled(data, length):
        gate.wait(2)
        original(data, length)

    src, t, st = setup_stream(lib, format=T.RGBA)  # default queue: one frame
    lib.set_callback(stalled)
    for i in range(50):
        capture(lib, src, solid(i), ts=i)
    gate.set()
    time.sleep(0.3)
    lib.set_callback(original)
    got = [ev.video_stream_event.frame_received for ev in lib.drain_events()
           if ev.WhichOneof("message") == "video_stream_event"
           and ev.video_stream_event.stream_handle == st]
    # one frame was with the client when it stalled; of the 49 after it, the
    # queue kept only the newest
    assert len(got) <= 3
    assert got[-1].timestamp_us == 49
    for fr in got:
        assert lib.drop(fr.buffer.handle.id)
    assert lib.drop(st) and lib.drop(t) and lib.drop(src)


def test_video_streams_end_with_eos(lib):
    src, t, st = setup_stream(lib)
    assert lib.drop(t)
    lib.wait_event(lambda ev: ev.WhichOneof("message") == "video_stream_event"
                   and ev.video_stream_event.stream_handle == st
                   and ev.video_stream_event.WhichOneof("message") == "eos")
    assert lib.drop(st) and lib.drop(src)


def test_stream_from_an_unknown_participant_is_refused(lib):
    with pytest.raises(lkffi.FfiError, match="handle"):
        lib.request(video_stream_from_participant=video.VideoStreamFromParticipantRequest(
            participant_handle=1))


def test_a_stream_needs_a_video_track(lib):
    src = lib.request(new_video_source=video.NewVideoSourceRequest()).source.handle.id
    with pytest.raises(lkffi.FfiError, match="wrong kind"):
        lib.request(new_video_stream=video.NewVideoStreamRequest(track_handle=src))
    assert lib.drop(src)
