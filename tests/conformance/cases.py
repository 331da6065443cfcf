"""The conformance cases: request sequences run unchanged against each library.

A case is a function of one lkffi.Library returning a dict of labelled,
JSON-ready observations. The label's prefix says how test_conformance.py
compares the two libraries' values:

    msg.*     decoded protobuf messages, exactly, once scrub() has hidden
              what legitimately differs (handle and async ids, pointers,
              error wording: an error's presence is compared, its text not)
    pcm.*     int16 samples: equal counts, correlation >= 0.99
    stream.*  int16 samples from a real-time stream: aligned first (the two
              runtimes start and stop at slightly different ticks), then
              correlation >= 0.99 over at least 80% of the shorter
    pix.*     bytes of pictures: equal lengths, at most 2 levels apart
    note.*    reported, not compared (error texts, counts)

Inputs are deterministic, so both libraries see the same bytes.
"""

import base64
import ctypes
import itertools
import time

import numpy as np
from google.protobuf.json_format import MessageToDict

import lkffi
from lkffi import audio, proto, room, track, video

CASES = {}


def case(name):
    def register(fn):
        assert name not in CASES, name
        CASES[name] = fn
        return fn
    return register


# --- observations ----------------------------------------------------------

HIDDEN = {"id", "async_id", "request_async_id", "data_ptr", "output_ptr", "stream_handle"}


def scrub(v):
    if isinstance(v, dict):
        return {k: ("<hidden>" if k in HIDDEN else "<error>" if k == "error" else scrub(x))
                for k, x in v.items()}
    if isinstance(v, list):
        return [scrub(x) for x in v]
    return v


def unknown_paths(m, path=""):
    """Fields the library sent that our schema does not declare."""
    out = [path or "."] if len(m.UnknownFields()) else []
    for fd, v in m.ListFields():
        if fd.type == fd.TYPE_MESSAGE:
            for x in (v if fd.label == fd.LABEL_REPEATED else [v]):
                out += unknown_paths(x, "%s.%s" % (path, fd.name))
    return out


def msg(m):
    if m is None:
        return {"refused": True}
    d = scrub(MessageToDict(m, preserving_proto_field_name=True))
    unknown = unknown_paths(m)
    if unknown:
        d["__fields_missing_from_our_schema__"] = unknown
    return d


def error_of(m):
    return m.error if m is not None and m.HasField("error") else None


def b64(data):
    return base64.b64encode(bytes(data)).decode()


def call(lib, **variant):
    """The response variant, or None when the library refused the request."""
    try:
        return lib.request(**variant)
    except lkffi.FfiError:
        return None


def callback(lib, kind, res, timeout=5.0):
    """The callback answering an async response, or None if none came."""
    if res is None or not res.HasField("async_id"):
        return None
    try:
        return lib.wait_callback(kind, res.async_id, timeout)
    except TimeoutError:
        return None


# --- signals -----------------------------------------------------------------

def chirp(rate, n, channels=1, amplitude=8000):
    """A 200 Hz → 3 kHz sweep over n frames (a 700 Hz tone on a 2nd channel):
    no two stretches alike, so alignment and correlation mean something."""
    t = np.arange(n) / rate
    span = n / rate
    sweep = np.sin(2 * np.pi * (200 * t + (3000 - 200) * t * t / (2 * span)))
    chans = [sweep, np.sin(2 * np.pi * 700 * t)][:channels]
    chans += [sweep] * (channels - len(chans))
    return (np.stack(chans, axis=1) * amplitude).astype(np.int16).reshape(-1)


def frame_info(samples, rate, channels):
    return audio.AudioFrameBufferInfo(data_ptr=samples.ctypes.data, num_channels=channels,
                                      sample_rate=rate,
                                      samples_per_channel=len(samples) // channels)


# --- sox resampler -------------------------------------------------------------

def sox_case(recipe, channels, rate_in, rate_out, flags=0, split=False):
    kind = audio.SOXR_DATATYPE_INT16S if split else audio.SOXR_DATATYPE_INT16I

    def run(lib):
        r = call(lib, new_sox_resampler=audio.NewSoxResamplerRequest(
            input_rate=rate_in, output_rate=rate_out, num_channels=channels,
            quality_recipe=recipe, flags=flags, input_data_type=kind, output_data_type=kind))
        out = {"msg.new": msg(r)}
        if r is None or r.WhichOneof("message") != "resampler":
            return out
        h = r.resampler.handle.id
        # parameters the library should have refused still get pushed
        chunk, channels_ = max(int(rate_in) // 100, 1), max(channels, 1)
        sig = chirp(max(rate_in, 1), chunk * 50, channels_)
        pushes, data = [], []
        for i in range(50):
            part = sig[i * chunk * channels_:(i + 1) * chunk * channels_]
            if split:
                part = part.reshape(-1, channels_).T.reshape(-1)
            part = np.ascontiguousarray(part)
            p = lib.request(push_sox_resampler=audio.PushSoxResamplerRequest(
                resampler_handle=h, data_ptr=part.ctypes.data, size=part.nbytes))
            pushes.append(msg(p))
            data.append(ctypes.string_at(p.output_ptr, p.size) if p.size else b"")
        f = lib.request(flush_sox_resampler=audio.FlushSoxResamplerRequest(resampler_handle=h))
        out["msg.flush"] = msg(f)
        data.append(ctypes.string_at(f.output_ptr, f.size) if f.size else b"")
        out["msg.pushes"] = pushes
        out["pcm.out"] = b64(b"".join(data))
        lib.drop(h)
        return out
    return run


for recipe, channels, (rin, rout) in itertools.product(
        range(5), (1, 2), ((48000, 16000), (44100, 48000))):
    case("sox/recipe%d/%dch/%d-%d" % (recipe, channels, rin, rout))(
        sox_case(recipe, channels, rin, rout))
for bit in range(6):
    case("sox/flag%d" % bit)(sox_case(audio.SOXR_QUALITY_HIGH, 1, 48000, 44100, flags=1 << bit))
case("sox/split-2ch")(sox_case(audio.SOXR_QUALITY_MEDIUM, 2, 48000, 16000, split=True))
case("sox/input-rate-0")(sox_case(audio.SOXR_QUALITY_MEDIUM, 1, 0, 16000))
case("sox/0-channels")(sox_case(audio.SOXR_QUALITY_MEDIUM, 0, 48000, 16000))


# --- remix and resample ------------------------------------------------------

def remix_case(ch_in, ch_out, rate_in, rate_out):
    def run(lib):
        r = lib.request(new_audio_resampler=audio.NewAudioResamplerRequest())
        out = {"msg.new": msg(r)}
        h = r.resampler.handle.id
        chunk = rate_in // 100
        sig = chirp(rate_in, chunk * 50, ch_in)
        frames, data = [], []
        for i in range(50):
            part = np.ascontiguousarray(sig[i * chunk * ch_in:(i + 1) * chunk * ch_in])
            res = call(lib, remix_and_resample=audio.RemixAndResampleRequest(
                resampler_handle=h, buffer=frame_info(part, rate_in, ch_in),
                num_channels=ch_out, sample_rate=rate_out))
            frames.append(msg(res))
            if res is not None and res.HasField("buffer"):
                data.append(lkffi.pcm(res.buffer.info))
                lib.drop(res.buffer.handle.id)
        out["msg.frames"] = frames
        out["pcm.out"] = b64(b"".join(data))
        lib.drop(h)
        return out
    return run


for (ci, co), (ri, ro) in itertools.product(
        ((1, 1), (1, 2), (2, 1), (2, 2)),
        ((48000, 48000), (48000, 16000), (16000, 48000), (44100, 48000))):
    case("remix/%dch-%dch/%d-%d" % (ci, co, ri, ro))(remix_case(ci, co, ri, ro))


# --- audio sources and local audio tracks --------------------------------------

def new_source(lib, rate=48000, channels=1, queue_ms=100):
    return call(lib, new_audio_source=audio.NewAudioSourceRequest(
        type=audio.AUDIO_SOURCE_NATIVE, sample_rate=rate, num_channels=channels,
        queue_size_ms=queue_ms))


for rate, channels, queue_ms in ((48000, 1, 50), (16000, 2, 0), (44100, 1, 1000)):
    case("audio_source/new/%d/%dch/%dms" % (rate, channels, queue_ms))(
        lambda lib, a=(rate, channels, queue_ms): {"msg.source": msg(new_source(lib, *a))})


def capture(lib, source, samples, rate=48000, channels=1):
    res = call(lib, capture_audio_frame=audio.CaptureAudioFrameRequest(
        source_handle=source, buffer=frame_info(samples, rate, channels)))
    cb = callback(lib, "capture_audio_frame", res)
    return {"response": msg(res), "callback": msg(cb), "error": error_of(cb)}


def capture_case(samples_per_channel=480, rate=48000, channels=1, queue_ms=100):
    def run(lib):
        src = new_source(lib, queue_ms=queue_ms).source.handle.id
        got = capture(lib, src, chirp(rate, samples_per_channel, channels), rate, channels)
        cleared = lib.request(clear_audio_buffer=audio.ClearAudioBufferRequest(source_handle=src))
        lib.drop(src)
        return {"msg.capture": got["response"], "msg.callback": got["callback"],
                "msg.clear": msg(cleared), "note.error": got["error"]}
    return run


case("audio_source/capture/10ms")(capture_case())
case("audio_source/capture/unbuffered-10ms")(capture_case(queue_ms=0))
case("audio_source/capture/unbuffered-20ms")(capture_case(960, queue_ms=0))
case("audio_source/capture/wrong-rate")(capture_case(160, rate=16000))
case("audio_source/capture/wrong-channels")(capture_case(480, channels=2))
case("audio_source/capture/empty-frame")(capture_case(0))


@case("audio_track/create-and-mute")
def audio_track(lib):
    src = new_source(lib).source.handle.id
    t = call(lib, create_audio_track=track.CreateAudioTrackRequest(name="mic", source_handle=src))
    h = t.track.handle.id
    out = {"msg.track": msg(t)}
    for i, mute in enumerate((True, True, False)):
        out["msg.mute%d" % i] = msg(call(lib, local_track_mute=track.LocalTrackMuteRequest(
            track_handle=h, mute=mute)))
    lib.drop(h)
    lib.drop(src)
    return out


# --- audio streams on a local track -------------------------------------------

def drain_stream(lib, stream, kind, until, timeout=3.0):
    """Events of one stream until until(events) holds or the timeout passes."""
    evs, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline and not until(evs):
        try:
            ev = lib.wait_event(lambda e: e.WhichOneof("message") == kind
                                and getattr(e, kind).stream_handle == stream, 0.1)
            evs.append(getattr(ev, kind))
        except TimeoutError:
            pass
    return evs


def audio_stream_case(rate, channels, frame_size_ms=0, src_rate=48000):
    def run(lib):
        src = new_source(lib, rate=src_rate, queue_ms=50).source.handle.id
        t = lib.request(create_audio_track=track.CreateAudioTrackRequest(
            name="mic", source_handle=src)).track.handle.id
        fields = dict(track_handle=t, type=audio.AUDIO_STREAM_NATIVE, sample_rate=rate,
                      num_channels=channels)
        if frame_size_ms:
            fields["frame_size_ms"] = frame_size_ms
        st = lib.request(new_audio_stream=audio.NewAudioStreamRequest(**fields))
        out = {"msg.stream": msg(st)}
        h = st.stream.handle.id
        chunk = src_rate // 100
        sig = chirp(src_rate, chunk * 100)
        for i in range(100):
            err = capture(lib, src, np.ascontiguousarray(sig[i * chunk:(i + 1) * chunk]),
                          src_rate)["error"]
            assert err is None, err
        time.sleep(0.2)
        lib.drop(h)
        evs = drain_stream(lib, h, "audio_stream_event",
                           lambda e: bool(e) and e[-1].WhichOneof("message") == "eos")
        frames = [e.frame_received.frame for e in evs if e.WhichOneof("message") == "frame_received"]
        out["msg.shapes"] = sorted({"%d/%d/%d" % (f.info.samples_per_channel, f.info.sample_rate,
                                                  f.info.num_channels) for f in frames})
        out["msg.last_event"] = msg(evs[-1]) if evs else None
        out["stream.out"] = b64(b"".join(lkffi.pcm(f.info) for f in frames))
        out["note.frames"] = len(frames)
        for f in frames:
            lib.drop(f.handle.id)
        lib.drop(t)
        lib.drop(src)
        return out
    return run


case("audio_stream/48000-1ch")(audio_stream_case(48000, 1))
case("audio_stream/16000-1ch")(audio_stream_case(16000, 1))
case("audio_stream/48000-2ch")(audio_stream_case(48000, 2))
case("audio_stream/24000-1ch-20ms")(audio_stream_case(24000, 1, frame_size_ms=20))
case("audio_stream/from-16000-to-48000")(audio_stream_case(48000, 1, src_rate=16000))


# --- video conversion ---------------------------------------------------------

T = video
VIDEO_TYPES = [T.RGBA, T.ABGR, T.ARGB, T.BGRA, T.RGB24, T.I420, T.I420A, T.I422, T.I444,
               T.I010, T.NV12]
TYPE_NAME = {t: video.VideoBufferType.Name(t) for t in VIDEO_TYPES}


def picture(t, w, h):
    """Smooth ramps laid out as an owned buffer of type t: what real video
    looks like to a converter, identical bytes for both libraries."""
    planes = []
    for i, (stride, size) in enumerate(lkffi.video_layout(t, w, h)):
        rows = size // stride
        y, x = np.mgrid[0:rows, 0:stride]
        ramp = (40 + (x * 150) // max(stride - 1, 1) + (y * 40) // max(rows - 1, 1) + 17 * i) % 256
        if t == T.I010:  # 10-bit little-endian samples in 16 bits
            ramp = (np.mgrid[0:rows, 0:stride // 2][1] * 600 // max(stride // 2 - 1, 1)
                    + 64 * (i + 1)).astype("<u2").view(np.uint8)
        planes.append(np.ascontiguousarray(ramp.astype(np.uint8)).reshape(-1))
    data = np.concatenate(planes)
    info = video.VideoBufferInfo(type=t, width=w, height=h, data_ptr=data.ctypes.data)
    if t in (T.RGBA, T.ABGR, T.ARGB, T.BGRA, T.RGB24):
        info.stride = lkffi.video_layout(t, w, h)[0][0]
    else:
        offset = 0
        for stride, size in lkffi.video_layout(t, w, h):
            info.components.add(data_ptr=data.ctypes.data + offset, stride=stride, size=size)
            offset += size
    return data, info


def convert_case(src, dst, w, h, flip=False):
    def run(lib):
        data, info = picture(src, w, h)
        res = call(lib, video_convert=video.VideoConvertRequest(buffer=info, dst_type=dst,
                                                               flip_y=flip))
        out = {"msg.convert": msg(res), "note.error": error_of(res)}
        if res is not None and res.WhichOneof("message") == "buffer":
            out["pix.out"] = b64(b"".join(lkffi.video_planes(res.buffer.info)))
            lib.drop(res.buffer.handle.id)
        del data
        return out
    return run


for (w, h), src, dst in itertools.product(((64, 32), (33, 17)), VIDEO_TYPES, VIDEO_TYPES):
    case("convert/%s-%s/%dx%d" % (TYPE_NAME[src], TYPE_NAME[dst], w, h))(convert_case(src, dst, w, h))
for dst in VIDEO_TYPES:
    case("convert/RGBA-%s/64x32/flip_y" % TYPE_NAME[dst])(convert_case(T.RGBA, dst, 64, 32, True))


# --- video sources, tracks, streams ---------------------------------------------

def new_video_source(lib, w=64, h=32, screencast=False):
    return call(lib, new_video_source=video.NewVideoSourceRequest(
        type=video.VIDEO_SOURCE_NATIVE, resolution=video.VideoSourceResolution(width=w, height=h),
        is_screencast=screencast))


case("video_source/new")(lambda lib: {"msg.source": msg(new_video_source(lib))})
case("video_source/new-screencast")(
    lambda lib: {"msg.source": msg(new_video_source(lib, screencast=True))})


@case("video_track/create-and-mute")
def video_track(lib):
    src = new_video_source(lib).source.handle.id
    t = call(lib, create_video_track=track.CreateVideoTrackRequest(name="cam", source_handle=src))
    out = {"msg.track": msg(t)}
    for i, mute in enumerate((True, False)):
        out["msg.mute%d" % i] = msg(call(lib, local_track_mute=track.LocalTrackMuteRequest(
            track_handle=t.track.handle.id, mute=mute)))
    lib.drop(t.track.handle.id)
    lib.drop(src)
    return out


def keepalive(ev):
    """Upstream's source sends a black frame every 100 ms until its first
    capture (a keepalive, from a task of its own; in the pinned version only
    mostly black: its buffer is not all initialized); one may reach the
    stream just before the first captured frame. No frame a case captures is
    mostly zeros."""
    if ev.WhichOneof("message") != "frame_received":
        return False
    first = lkffi.video_planes(ev.frame_received.buffer.info)[0]
    packed = not ev.frame_received.buffer.info.components  # RGBA...: alpha is not zero
    return first.count(0) >= len(first) * (0.7 if packed else 0.9)


def video_stream_case(fmt=None, normalize_stride=None):
    def run(lib):
        w, h = 64, 32
        src = new_video_source(lib, w, h).source.handle.id
        t = lib.request(create_video_track=track.CreateVideoTrackRequest(
            name="cam", source_handle=src)).track.handle.id
        fields = dict(track_handle=t, type=video.VIDEO_STREAM_NATIVE)
        if fmt is not None:
            fields["format"] = fmt
        if normalize_stride is not None:
            fields["normalize_stride"] = normalize_stride
        st = lib.request(new_video_stream=video.NewVideoStreamRequest(**fields))
        out = {"msg.stream": msg(st)}
        sh = st.stream.handle.id
        rotations = (video.VIDEO_ROTATION_0, video.VIDEO_ROTATION_90, video.VIDEO_ROTATION_180)
        for i, rot in enumerate(rotations):
            data, info = picture(T.I420 if i == 1 else T.RGBA, w, h)
            data[:] = (data.astype(np.int32) + 60 * i).astype(np.uint8)  # each frame its own
            meta = video.FrameMetadata(user_timestamp=1000 + i, frame_id=7 + i, user_data=b"f%d" % i)
            lib.request(capture_video_frame=video.CaptureVideoFrameRequest(
                source_handle=src, buffer=info, timestamp_us=1_000_000 * (i + 1), rotation=rot,
                metadata=meta))
            time.sleep(0.05)
        evs = drain_stream(lib, sh, "video_stream_event",
                           lambda e: len([x for x in e if not keepalive(x)]) >= 3)
        for e in filter(keepalive, evs):
            lib.drop(e.frame_received.buffer.handle.id)
        frames = [e.frame_received for e in evs
                  if e.WhichOneof("message") == "frame_received" and not keepalive(e)]
        out["msg.frames"] = [msg(f) for f in frames]
        out["pix.frames"] = b64(b"".join(b"".join(lkffi.video_planes(f.buffer.info))
                                         for f in frames))
        for f in frames:
            lib.drop(f.buffer.handle.id)
        lib.drop(sh)
        eos = drain_stream(lib, sh, "video_stream_event", lambda e: bool(e), 1.0)
        out["msg.eos"] = msg(eos[-1]) if eos else None
        lib.drop(t)
        lib.drop(src)
        return out
    return run


case("video_stream/native")(video_stream_case())
case("video_stream/rgba")(video_stream_case(T.RGBA))
case("video_stream/bgra-normalized")(video_stream_case(T.BGRA, True))
case("video_stream/i420")(video_stream_case(T.I420))


# --- audio processing -------------------------------------------------------------

def apm_case(rate=48000, channels=1, echo=False, gain=False, hpf=False, ns=False,
             size_bytes=None, reverse=False):
    def run(lib):
        a = lib.request(new_apm=audio.NewApmRequest(
            echo_canceller_enabled=echo, gain_controller_enabled=gain,
            high_pass_filter_enabled=hpf, noise_suppression_enabled=ns))
        out = {"msg.apm": msg(a)}
        h = a.apm.handle.id
        frame = rate // 100 * channels
        sig = chirp(rate, rate // 100 * 100, channels)
        results, data = [], []
        for i in range(100):
            part = np.ascontiguousarray(sig[i * frame:(i + 1) * frame])
            req = dict(apm_handle=h, data_ptr=part.ctypes.data,
                       size=part.nbytes if size_bytes is None else size_bytes,
                       sample_rate=rate, num_channels=channels)
            if reverse:
                r = lib.request(apm_process_reverse_stream=audio.ApmProcessReverseStreamRequest(**req))
            else:
                r = lib.request(apm_process_stream=audio.ApmProcessStreamRequest(**req))
            results.append(msg(r))
            data.append(part.tobytes())
        out["msg.results"] = results
        if not reverse and size_bytes is None:
            out["pcm.out"] = b64(b"".join(data))
        out["msg.delay"] = msg(lib.request(apm_set_stream_delay=audio.ApmSetStreamDelayRequest(
            apm_handle=h, delay_ms=40)))
        lib.drop(h)
        return out
    return run


case("apm/passthrough/48000-1ch")(apm_case())
case("apm/passthrough/16000-2ch")(apm_case(16000, 2))
case("apm/high-pass/48000")(apm_case(hpf=True))
case("apm/all-on/32000")(apm_case(32000, echo=True, gain=True, hpf=True, ns=True))
case("apm/reverse/48000")(apm_case(echo=True, reverse=True))
case("apm/wrong-length")(apm_case(size_bytes=100))
case("apm/rate-22050")(apm_case(22050))


# --- bad input ----------------------------------------------------------------------

def bad(name, **variant):
    case("bad/" + name)(lambda lib: {"msg.response": msg(call(lib, **variant))})


bad("push-sox-unknown-handle", push_sox_resampler=audio.PushSoxResamplerRequest(
    resampler_handle=987654, data_ptr=0, size=0))
bad("remix-unknown-handle", remix_and_resample=audio.RemixAndResampleRequest(
    resampler_handle=987654, buffer=audio.AudioFrameBufferInfo(), num_channels=1,
    sample_rate=48000))
bad("capture-unknown-source", capture_audio_frame=audio.CaptureAudioFrameRequest(
    source_handle=987654, buffer=audio.AudioFrameBufferInfo()))
bad("audio-track-unknown-source", create_audio_track=track.CreateAudioTrackRequest(
    name="x", source_handle=987654))
bad("audio-stream-unknown-track", new_audio_stream=audio.NewAudioStreamRequest(
    track_handle=987654, type=audio.AUDIO_STREAM_NATIVE, sample_rate=48000, num_channels=1))
bad("video-track-unknown-source", create_video_track=track.CreateVideoTrackRequest(
    name="x", source_handle=987654))
bad("mute-unknown-track", local_track_mute=track.LocalTrackMuteRequest(track_handle=987654,
                                                                       mute=True))
bad("apm-unknown-handle", apm_process_stream=audio.ApmProcessStreamRequest(
    apm_handle=987654, data_ptr=0, size=0, sample_rate=48000, num_channels=1))
bad("convert-zero-width", video_convert=video.VideoConvertRequest(
    buffer=video.VideoBufferInfo(type=T.RGBA, width=0, height=4, data_ptr=0, stride=0),
    dst_type=T.I420))


@case("bad/wrong-kind-handle")
def wrong_kind(lib):
    src = new_source(lib).source.handle.id
    out = {"msg.video_track_on_audio_source": msg(call(
        lib, create_video_track=track.CreateVideoTrackRequest(name="x", source_handle=src)))}
    lib.drop(src)
    return out


@case("bad/empty-request")
def empty_request(lib):
    h, body = lib.request_raw(b"")
    if h:
        lib.drop(h)
    return {"msg.refused": h == lkffi.INVALID_HANDLE}


# --- room requests: not served by this core, and must not hang ---------------------

@case("room/connect-refused")
def connect(lib):
    res = call(lib, connect=room.ConnectRequest(url="ws://127.0.0.1:1", token="t"))
    cb = callback(lib, "connect", res, timeout=10)
    return {"msg.response": msg(res), "msg.callback": msg(cb)}


@case("room/disconnect-unknown-room")
def disconnect(lib):
    res = call(lib, disconnect=room.DisconnectRequest(room_handle=987654))
    cb = callback(lib, "disconnect", res)
    return {"msg.response": msg(res), "msg.callback": msg(cb)}


for name, field, kind in (
        ("publish-data", "publish_data", "publish_data"),
        ("set-local-metadata", "set_local_metadata", "set_local_metadata"),
        ("get-session-stats", "get_session_stats", "get_session_stats")):
    def room_request(lib, field=field, kind=kind):
        req = proto.FfiRequest()
        getattr(req, field).SetInParent()
        h, body = lib.request_raw(req.SerializeToString())
        if h == lkffi.INVALID_HANDLE:
            return {"msg.response": {"refused": True}}
        res = proto.FfiResponse()
        res.ParseFromString(body)
        lib.drop(h)
        r = getattr(res, res.WhichOneof("message"))
        return {"msg.response": msg(r), "msg.callback": msg(callback(lib, kind, r))}
    case("room/%s-without-room" % name)(room_request)


@case("room/audio-stream-from-unknown-participant")
def stream_from_participant(lib):
    return {"msg.response": msg(call(
        lib, audio_stream_from_participant=audio.AudioStreamFromParticipantRequest(
            participant_handle=987654, type=audio.AUDIO_STREAM_NATIVE,
            track_source=track.SOURCE_MICROPHONE)))}
