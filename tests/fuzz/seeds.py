"""Writes a seed corpus for fuzz_request: one valid request of every served
variant (and a few room requests), so the fuzzer starts from the shapes that
reach deep into each handler. The harness re-points every data_ptr.

    seeds.py OUT_DIR
"""

import os
import sys

import lkffi  # noqa: F401  (puts the generated classes on the path)
from lkffi import audio, proto, room, track, video

PTR = 4096  # any value: the harness replaces every data_ptr

PCM = audio.AudioFrameBufferInfo(data_ptr=PTR, num_channels=1, sample_rate=48000,
                                 samples_per_channel=480)
RGBA = video.VideoBufferInfo(type=video.RGBA, width=32, height=16, data_ptr=PTR, stride=128)
I420 = video.VideoBufferInfo(type=video.I420, width=32, height=16, data_ptr=PTR)
for stride, size in ((32, 512), (16, 128), (16, 128)):
    I420.components.add(data_ptr=PTR, stride=stride, size=size)

SEEDS = {
    "dispose_async": dict(dispose=proto.DisposeRequest(**{"async": True})),
    "new_sox": dict(new_sox_resampler=audio.NewSoxResamplerRequest(
        input_rate=48000, output_rate=16000, num_channels=2, quality_recipe=2)),
    "push_sox": dict(push_sox_resampler=audio.PushSoxResamplerRequest(
        resampler_handle=2, data_ptr=PTR, size=1920)),
    "flush_sox": dict(flush_sox_resampler=audio.FlushSoxResamplerRequest(resampler_handle=2)),
    "new_resampler": dict(new_audio_resampler=audio.NewAudioResamplerRequest()),
    "remix": dict(remix_and_resample=audio.RemixAndResampleRequest(
        resampler_handle=5, buffer=PCM, num_channels=2, sample_rate=16000)),
    "new_audio_source": dict(new_audio_source=audio.NewAudioSourceRequest(
        sample_rate=48000, num_channels=1, queue_size_ms=50)),
    "capture_audio": dict(capture_audio_frame=audio.CaptureAudioFrameRequest(
        source_handle=7, buffer=PCM, request_async_id=9)),
    "clear_audio": dict(clear_audio_buffer=audio.ClearAudioBufferRequest(source_handle=7)),
    "new_audio_stream": dict(new_audio_stream=audio.NewAudioStreamRequest(
        track_handle=8, sample_rate=16000, num_channels=1, frame_size_ms=20, queue_size_frames=4)),
    "audio_stream_participant": dict(audio_stream_from_participant=audio.AudioStreamFromParticipantRequest(
        participant_handle=3)),
    "new_apm": dict(new_apm=audio.NewApmRequest(echo_canceller_enabled=True, gain_controller_enabled=True,
                                                high_pass_filter_enabled=True, noise_suppression_enabled=True)),
    "apm_process": dict(apm_process_stream=audio.ApmProcessStreamRequest(
        apm_handle=10, data_ptr=PTR, size=960, sample_rate=48000, num_channels=1)),
    "apm_reverse": dict(apm_process_reverse_stream=audio.ApmProcessReverseStreamRequest(
        apm_handle=10, data_ptr=PTR, size=960, sample_rate=48000, num_channels=1)),
    "apm_delay": dict(apm_set_stream_delay=audio.ApmSetStreamDelayRequest(apm_handle=10, delay_ms=40)),
    "create_audio_track": dict(create_audio_track=track.CreateAudioTrackRequest(name="mic", source_handle=7)),
    "create_video_track": dict(create_video_track=track.CreateVideoTrackRequest(name="cam", source_handle=11)),
    "mute": dict(local_track_mute=track.LocalTrackMuteRequest(track_handle=8, mute=True)),
    "stats": dict(get_stats=track.GetStatsRequest(track_handle=8)),
    "convert_rgba": dict(video_convert=video.VideoConvertRequest(buffer=RGBA, dst_type=video.I420)),
    "convert_i420": dict(video_convert=video.VideoConvertRequest(buffer=I420, dst_type=video.NV12, flip_y=True)),
    "new_video_source": dict(new_video_source=video.NewVideoSourceRequest(
        resolution=video.VideoSourceResolution(width=32, height=16))),
    "capture_video": dict(capture_video_frame=video.CaptureVideoFrameRequest(
        source_handle=11, buffer=I420, timestamp_us=5, rotation=video.VIDEO_ROTATION_90,
        metadata=video.FrameMetadata(frame_id=3, user_data=b"x"))),
    "new_video_stream": dict(new_video_stream=video.NewVideoStreamRequest(
        track_handle=12, format=video.BGRA, queue_size_frames=2)),
    "connect": dict(connect=room.ConnectRequest(request_async_id=4)),
    "perform_rpc": dict(perform_rpc=room.PerformRpcRequest(local_participant_handle=3)),
    "set_subscribed": dict(set_subscribed=room.SetSubscribedRequest(publication_handle=3)),
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, variant in SEEDS.items():
        (field, msg), = variant.items()
        req = proto.FfiRequest()
        getattr(req, field).CopyFrom(msg)
        with open(os.path.join(out, name), "wb") as f:
            f.write(req.SerializeToString())


if __name__ == "__main__":
    main()
