/*
 * handlers.h: one handler per FfiRequest variant we serve. dispatch.c maps
 * variants to them; each lives in the file of its service.
 */
#ifndef LK_HANDLERS_H
#define LK_HANDLERS_H

#include "server.h"

/* Field numbers of FfiRequest's variants run below this. */
enum { LK_REQUEST_CASES = 128 };

/* server.c */
int lk_on_dispose(lk_call *c);

/* resampling.c */
int lk_on_new_sox_resampler(lk_call *c);
int lk_on_push_sox_resampler(lk_call *c);
int lk_on_flush_sox_resampler(lk_call *c);
int lk_on_new_audio_resampler(lk_call *c);
int lk_on_remix_and_resample(lk_call *c);

/* audio_source.c */
int lk_on_new_audio_source(lk_call *c);
int lk_on_capture_audio_frame(lk_call *c);
int lk_on_clear_audio_buffer(lk_call *c);

/* audio_stream.c */
int lk_on_new_audio_stream(lk_call *c);
int lk_on_audio_stream_from_participant(lk_call *c);

/* apm.c */
int lk_on_new_apm(lk_call *c);
int lk_on_apm_process_stream(lk_call *c);
int lk_on_apm_process_reverse_stream(lk_call *c);
int lk_on_apm_set_stream_delay(lk_call *c);

/* track.c */
int lk_on_create_audio_track(lk_call *c);
int lk_on_create_video_track(lk_call *c);
int lk_on_local_track_mute(lk_call *c);
int lk_on_enable_remote_track(lk_call *c);
int lk_on_get_stats(lk_call *c);

/* video_frame.c */
int lk_on_video_convert(lk_call *c);

/* video_source.c */
int lk_on_new_video_source(lk_call *c);
int lk_on_capture_video_frame(lk_call *c);

/* video_stream.c */
int lk_on_new_video_stream(lk_call *c);
int lk_on_video_stream_from_participant(lk_call *c);

/* room.c */
int lk_on_connect(lk_call *c);
int lk_on_disconnect(lk_call *c);
int lk_on_simulate_scenario(lk_call *c);
int lk_on_get_session_stats(lk_call *c);
int lk_on_ready_for_room_event(lk_call *c);
int lk_on_set_local_metadata(lk_call *c);
int lk_on_set_local_name(lk_call *c);
int lk_on_set_local_attributes(lk_call *c);

/* remote_track.c */
int lk_on_set_subscribed(lk_call *c);
int lk_on_enable_remote_track_publication(lk_call *c);
int lk_on_update_remote_track_publication_dimension(lk_call *c);
int lk_on_set_remote_track_publication_quality(lk_call *c);

/* data.c */
int lk_on_publish_track(lk_call *c);
int lk_on_unpublish_track(lk_call *c);
int lk_on_publish_data(lk_call *c);
int lk_on_publish_sip_dtmf(lk_call *c);
int lk_on_publish_transcription(lk_call *c);
int lk_on_send_chat_message(lk_call *c);
int lk_on_edit_chat_message(lk_call *c);
int lk_on_perform_rpc(lk_call *c);
int lk_on_register_rpc_method(lk_call *c);
int lk_on_unregister_rpc_method(lk_call *c);
int lk_on_rpc_method_invocation_response(lk_call *c);

/* stream.c */
int lk_on_send_text(lk_call *c);
int lk_on_send_bytes(lk_call *c);
int lk_on_send_file(lk_call *c);
int lk_on_text_stream_open(lk_call *c);
int lk_on_text_stream_write(lk_call *c);
int lk_on_text_stream_close(lk_call *c);
int lk_on_byte_stream_open(lk_call *c);
int lk_on_byte_stream_write(lk_call *c);
int lk_on_byte_stream_close(lk_call *c);
int lk_on_text_read_all(lk_call *c);
int lk_on_byte_read_all(lk_call *c);
int lk_on_byte_write_to_file(lk_call *c);
int lk_on_text_read_incremental(lk_call *c);
int lk_on_byte_read_incremental(lk_call *c);

/* unsupported.c: every variant this core does not serve. */
int lk_on_unsupported(lk_call *c);

#endif
