"""A tour of liblivekit_ffi through ctypes, as the livekit-rtc SDK drives it."""

import os
import time

import numpy as np

import lkffi
from lkffi import audio, proto, room, track, video


def tone(freq, rate, n, start=0):
    t = (start + np.arange(n)) / rate
    return (np.sin(2 * np.pi * freq * t) * 8000).astype(np.int16)


def peak_hz(samples, rate):
    return np.argmax(np.abs(np.fft.rfft(samples))) * rate / len(samples)


def resampling(lib):
    sox = lib.request(new_sox_resampler=audio.NewSoxResamplerRequest(
        input_rate=48000, output_rate=16000, num_channels=1,
        quality_recipe=audio.SOXR_QUALITY_HIGH)).resampler.handle.id
    x = tone(440, 48000, 4800)
    out = lib.request(push_sox_resampler=audio.PushSoxResamplerRequest(
        resampler_handle=sox, data_ptr=x.ctypes.data, size=x.nbytes))
    print("sox 48 kHz -> 16 kHz: 4800 samples in, %d out so far" % (out.size // 2))
    lib.drop(sox)


def audio_pipeline(lib):
    src = lib.request(new_audio_source=audio.NewAudioSourceRequest(
        sample_rate=48000, num_channels=1, queue_size_ms=50)).source.handle.id
    trk = lib.request(create_audio_track=track.CreateAudioTrackRequest(
        name="mic", source_handle=src)).track
    st = lib.request(new_audio_stream=audio.NewAudioStreamRequest(
        track_handle=trk.handle.id, sample_rate=16000, num_channels=1)).stream.handle.id
    t0 = time.monotonic()
    for i in range(50):  # half a second of a 440 Hz tone, 10 ms at a time
        frame = tone(440, 48000, 480, start=480 * i)
        res = lib.request(capture_audio_frame=audio.CaptureAudioFrameRequest(
            source_handle=src, buffer=audio.AudioFrameBufferInfo(
                data_ptr=frame.ctypes.data, num_channels=1, sample_rate=48000,
                samples_per_channel=480)))
        lib.wait_callback("capture_audio_frame", res.async_id)
    paced = time.monotonic() - t0
    time.sleep(0.1)
    frames = [ev.audio_stream_event.frame_received.frame for ev in lib.drain_events()
              if ev.WhichOneof("message") == "audio_stream_event"
              and ev.audio_stream_event.WhichOneof("message") == "frame_received"]
    got = np.frombuffer(b"".join(lkffi.pcm(f.info) for f in frames), np.int16)
    for f in frames:
        lib.drop(f.handle.id)
    print("audio: track %r (%s); 50 captures paced in %.2f s; stream gave %d frames "
          "of 16 kHz, tone at %.0f Hz" % (trk.info.name, trk.info.sid, paced, len(frames),
                                         peak_hz(got, 16000)))
    for h in (st, trk.handle.id, src):
        lib.drop(h)


def video_pipeline(lib):
    w, h = 64, 32
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    info = video.VideoBufferInfo(type=video.RGBA, width=w, height=h,
                                 data_ptr=rgba.ctypes.data, stride=4 * w)
    conv = lib.request(video_convert=video.VideoConvertRequest(buffer=info, dst_type=video.NV12))
    print("convert RGBA -> NV12: planes %s" % [(c.stride, c.size)
                                               for c in conv.buffer.info.components])
    lib.drop(conv.buffer.handle.id)

    src = lib.request(new_video_source=video.NewVideoSourceRequest(
        resolution=video.VideoSourceResolution(width=w, height=h))).source.handle.id
    trk = lib.request(create_video_track=track.CreateVideoTrackRequest(
        name="cam", source_handle=src)).track.handle.id
    st = lib.request(new_video_stream=video.NewVideoStreamRequest(
        track_handle=trk, format=video.I420)).stream.handle.id
    lib.request(capture_video_frame=video.CaptureVideoFrameRequest(
        source_handle=src, buffer=info, timestamp_us=123456, rotation=video.VIDEO_ROTATION_90))
    ev = lib.wait_event(lambda e: e.WhichOneof("message") == "video_stream_event")
    fr = ev.video_stream_event.frame_received
    print("video: stream frame %dx%d %s, timestamp %d us, %s"
          % (fr.buffer.info.width, fr.buffer.info.height,
             video.VideoBufferType.Name(fr.buffer.info.type), fr.timestamp_us,
             video.VideoRotation.Name(fr.rotation)))
    for handle in (fr.buffer.handle.id, st, trk, src):
        lib.drop(handle)


def processing(lib):
    apm = lib.request(new_apm=audio.NewApmRequest(
        echo_canceller_enabled=True, noise_suppression_enabled=True,
        high_pass_filter_enabled=True, gain_controller_enabled=True)).apm.handle.id
    frame = tone(1000, 48000, 480)
    res = lib.request(apm_process_stream=audio.ApmProcessStreamRequest(
        apm_handle=apm, data_ptr=frame.ctypes.data, size=frame.nbytes, sample_rate=48000,
        num_channels=1))
    print("apm: 10 ms processed in place%s" % (": " + res.error if res.HasField("error") else ""))
    lib.drop(apm)


def main():
    lib = lkffi.Library()
    print("loaded %s (extensions: reinit, last_error)" % lib.path)
    resampling(lib)
    audio_pipeline(lib)
    video_pipeline(lib)
    processing(lib)

    t0 = time.monotonic()
    res = lib.request(connect=room.ConnectRequest(url="wss://example.invalid", token="t"))
    cb = lib.wait_callback("connect", res.async_id)
    print("connect: callback after %.2f ms: %s" % ((time.monotonic() - t0) * 1e3, cb.error))

    pid = os.fork()
    if pid == 0:
        # lkffi calls livekit_ffi_reinit() in the child (os.register_at_fork).
        res = lib.request(dispose=proto.DisposeRequest(**{"async": True}))
        lib.wait_callback("dispose", res.async_id)
        print("fork child %d: async request answered after reinit" % os.getpid())
        os._exit(0)
    os.waitpid(pid, 0)

    lib.dispose()
    print("disposed")


if __name__ == "__main__":
    main()
