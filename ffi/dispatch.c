/*
 * dispatch.c: decode an FfiRequest, hand it to the handler of its variant,
 * encode the FfiResponse into a buffer owned by a new handle.
 */
#include "dispatch.h"

#include <stdlib.h>

#include "envelope.h"
#include "error.h"
#include "handle.h"
#include "handlers.h"

#define ON(variant, handler) [LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_##variant] = handler

/* Every variant served here; the rest go to lk_on_unsupported. */
static const lk_handler handlers[LK_REQUEST_CASES] = {
    ON(DISPOSE, lk_on_dispose),
    ON(NEW_SOX_RESAMPLER, lk_on_new_sox_resampler),
    ON(PUSH_SOX_RESAMPLER, lk_on_push_sox_resampler),
    ON(FLUSH_SOX_RESAMPLER, lk_on_flush_sox_resampler),
    ON(NEW_AUDIO_RESAMPLER, lk_on_new_audio_resampler),
    ON(REMIX_AND_RESAMPLE, lk_on_remix_and_resample),
    ON(NEW_AUDIO_SOURCE, lk_on_new_audio_source),
    ON(CAPTURE_AUDIO_FRAME, lk_on_capture_audio_frame),
    ON(CLEAR_AUDIO_BUFFER, lk_on_clear_audio_buffer),
    ON(NEW_AUDIO_STREAM, lk_on_new_audio_stream),
    ON(AUDIO_STREAM_FROM_PARTICIPANT, lk_on_audio_stream_from_participant),
    ON(NEW_APM, lk_on_new_apm),
    ON(APM_PROCESS_STREAM, lk_on_apm_process_stream),
    ON(APM_PROCESS_REVERSE_STREAM, lk_on_apm_process_reverse_stream),
    ON(APM_SET_STREAM_DELAY, lk_on_apm_set_stream_delay),
    ON(CREATE_AUDIO_TRACK, lk_on_create_audio_track),
    ON(CREATE_VIDEO_TRACK, lk_on_create_video_track),
    ON(LOCAL_TRACK_MUTE, lk_on_local_track_mute),
    ON(ENABLE_REMOTE_TRACK, lk_on_enable_remote_track),
    ON(GET_STATS, lk_on_get_stats),
    ON(VIDEO_CONVERT, lk_on_video_convert),
    ON(NEW_VIDEO_SOURCE, lk_on_new_video_source),
    ON(CAPTURE_VIDEO_FRAME, lk_on_capture_video_frame),
    ON(NEW_VIDEO_STREAM, lk_on_new_video_stream),
    ON(VIDEO_STREAM_FROM_PARTICIPANT, lk_on_video_stream_from_participant),
    ON(CONNECT, lk_on_connect),
    ON(DISCONNECT, lk_on_disconnect),
    ON(GET_SESSION_STATS, lk_on_get_session_stats),
    ON(SIMULATE_SCENARIO, lk_on_simulate_scenario),
    ON(READY_FOR_ROOM_EVENT, lk_on_ready_for_room_event),
    ON(SET_LOCAL_METADATA, lk_on_set_local_metadata),
    ON(SET_LOCAL_NAME, lk_on_set_local_name),
    ON(SET_LOCAL_ATTRIBUTES, lk_on_set_local_attributes),
    ON(SET_SUBSCRIBED, lk_on_set_subscribed),
    ON(ENABLE_REMOTE_TRACK_PUBLICATION, lk_on_enable_remote_track_publication),
    ON(UPDATE_REMOTE_TRACK_PUBLICATION_DIMENSION, lk_on_update_remote_track_publication_dimension),
    ON(SET_REMOTE_TRACK_PUBLICATION_QUALITY, lk_on_set_remote_track_publication_quality),
    ON(PUBLISH_TRACK, lk_on_publish_track),
    ON(UNPUBLISH_TRACK, lk_on_unpublish_track),
    ON(PUBLISH_DATA, lk_on_publish_data),
    ON(PUBLISH_SIP_DTMF, lk_on_publish_sip_dtmf),
    ON(PUBLISH_TRANSCRIPTION, lk_on_publish_transcription),
    ON(SEND_CHAT_MESSAGE, lk_on_send_chat_message),
    ON(EDIT_CHAT_MESSAGE, lk_on_edit_chat_message),
    ON(PERFORM_RPC, lk_on_perform_rpc),
    ON(REGISTER_RPC_METHOD, lk_on_register_rpc_method),
    ON(UNREGISTER_RPC_METHOD, lk_on_unregister_rpc_method),
    ON(RPC_METHOD_INVOCATION_RESPONSE, lk_on_rpc_method_invocation_response),
    ON(SEND_TEXT, lk_on_send_text),
    ON(SEND_BYTES, lk_on_send_bytes),
    ON(SEND_FILE, lk_on_send_file),
    ON(TEXT_STREAM_OPEN, lk_on_text_stream_open),
    ON(TEXT_STREAM_WRITE, lk_on_text_stream_write),
    ON(TEXT_STREAM_CLOSE, lk_on_text_stream_close),
    ON(BYTE_STREAM_OPEN, lk_on_byte_stream_open),
    ON(BYTE_STREAM_WRITE, lk_on_byte_stream_write),
    ON(BYTE_STREAM_CLOSE, lk_on_byte_stream_close),
    ON(TEXT_READ_ALL, lk_on_text_read_all),
    ON(BYTE_READ_ALL, lk_on_byte_read_all),
    ON(BYTE_WRITE_TO_FILE, lk_on_byte_write_to_file),
    ON(TEXT_READ_INCREMENTAL, lk_on_text_read_incremental),
    ON(BYTE_READ_INCREMENTAL, lk_on_byte_read_incremental),
};

/* --- the response buffer: what the handle returned to the client owns ---- */

typedef struct {
    lk_object base;
    uint8_t data[];
} response;

static void response_free(lk_object *o)
{
    free(lk_container_of(o, response, base));
}

static const lk_kind response_kind = {"response buffer", NULL, response_free};

static FfiHandleId respond(const Livekit__Proto__FfiResponse *res, const uint8_t **res_ptr,
                           size_t *res_len)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
        &livekit__proto__ffi_response__descriptor, (unsigned)res->message_case);
    const ProtobufCMessage *m = *(ProtobufCMessage *const *)((const char *)res + f->offset);
    size_t inner, len = lk_envelope_size(f->id, m, &inner);
    response *r = malloc(sizeof *r + len);
    if (!r) {
        lk_fail("out of memory for a %zu-byte response", len);
        return INVALID_HANDLE;
    }
    lk_object_init(&r->base, &response_kind);
    lk_envelope_pack(f->id, m, inner, r->data);
    *res_ptr = r->data;
    *res_len = len;
    return lk_handle_insert(&r->base);
}

/* --- decoding ------------------------------------------------------------ */

static void *arena_pb_alloc(void *arena, size_t size)
{
    return lk_arena_alloc(arena, size);
}

static void arena_pb_free(void *arena, void *p)
{
}

static void no_variant(uint32_t unknown_field)
{
    if (unknown_field)
        lk_fail("unknown request variant (FfiRequest field %u): not in this build's protocol",
                unknown_field);
    else
        lk_fail("empty request: FfiRequest carries no message");
}

/* The request, its one variant decoded into the arena. */
static const Livekit__Proto__FfiRequest *decode(const uint8_t *data, size_t len,
                                                ProtobufCAllocator *alloc)
{
    const ProtobufCFieldDescriptor *f;
    const uint8_t *body;
    size_t body_len;
    uint32_t unknown;
    switch (lk_envelope_read(&livekit__proto__ffi_request__descriptor, data, len, &f, &body,
                             &body_len, &unknown)) {
    case LK_ENVELOPE_ONE: {
        ProtobufCMessage *req = lk_envelope_unpack_one(&livekit__proto__ffi_request__descriptor,
                                                       f, body, body_len, alloc);
        if (!req)
            lk_fail("malformed request: its %s message does not decode", f->name);
        return (const Livekit__Proto__FfiRequest *)req;
    }
    case LK_ENVELOPE_GENERIC: { /* a repeated variant: let protobuf-c merge */
        const Livekit__Proto__FfiRequest *req = livekit__proto__ffi_request__unpack(alloc, len, data);
        if (!req)
            lk_fail("malformed request: %zu bytes that do not decode as an FfiRequest", len);
        return req;
    }
    case LK_ENVELOPE_EMPTY:
        no_variant(unknown);
        return NULL;
    default:
        lk_fail("malformed request: %zu bytes that do not decode as an FfiRequest", len);
        return NULL;
    }
}

FfiHandleId lk_dispatch(const uint8_t *data, size_t len, const uint8_t **res_ptr,
                        size_t *res_len, void (**then)(void))
{
    _Alignas(16) char first_block[4096];
    lk_arena arena;
    lk_arena_init(&arena, first_block, sizeof first_block);
    ProtobufCAllocator alloc = {arena_pb_alloc, arena_pb_free, &arena};

    FfiHandleId id = INVALID_HANDLE;
    const Livekit__Proto__FfiRequest *req = decode(data, len, &alloc);
    if (req) {
        unsigned which = (unsigned)req->message_case;
        lk_handler handler = which < LK_REQUEST_CASES && handlers[which] ? handlers[which]
                                                                        : lk_on_unsupported;
        Livekit__Proto__FfiResponse res = LIVEKIT__PROTO__FFI_RESPONSE__INIT;
        lk_call call = {req, &res, &arena, NULL};
        if (handler(&call) == 0) {
            id = respond(&res, res_ptr, res_len);
            if (id != INVALID_HANDLE)
                *then = call.then;
        }
    }
    lk_arena_free(&arena);
    return id;
}
