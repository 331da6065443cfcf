/*
 * video_stream.c: NewVideoStream (on a local track) and
 * VideoStreamFromParticipant (refused: it needs a room).
 *
 * Captured frames reach the stream's queue (upstream's default holds one
 * frame: a slow client gets the newest frame, never a growing backlog); its
 * worker converts each to the requested format (else the frame's own type)
 * in a compact owned buffer — strides are always normalized, as upstream
 * always does — and sends VideoStreamEvent{frame_received}. While the track
 * is muted the stream gets black frames of the same size, as a disabled
 * WebRTC track gives its sinks. eos follows when the stream's or the track's
 * handle is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "flow.h"
#include "handlers.h"
#include "log.h"
#include "track.h"
#include "video_frame.h"
#include "video_source.h"

enum { DEFAULT_QUEUE_FRAMES = 1, UNBOUNDED_QUEUE_FRAMES = 120 };

typedef struct video_stream {
    lk_object base;
    lk_sub sub;
    lk_queue queue;
    lk_object *source;       /* a reference: the track's video source */
    lk_track *track;         /* a reference */
    bool has_format;
    enum lk_vtype format;
} video_stream;

static video_stream *stream_of(lk_object *o)
{
    return lk_container_of(o, video_stream, base);
}

static bool send_event(video_stream *st, Livekit__Proto__VideoStreamEvent *se)
{
    se->stream_handle = st->base.id;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = LIVEKIT__PROTO__FFI_EVENT__MESSAGE_VIDEO_STREAM_EVENT;
    ev.video_stream_event = se;
    return lk_emit(&ev);
}

static void send_eos(lk_queue *q)
{
    Livekit__Proto__VideoStreamEOS eos = LIVEKIT__PROTO__VIDEO_STREAM_EOS__INIT;
    Livekit__Proto__VideoStreamEvent se = LIVEKIT__PROTO__VIDEO_STREAM_EVENT__INIT;
    se.message_case = LIVEKIT__PROTO__VIDEO_STREAM_EVENT__MESSAGE_EOS;
    se.eos = &eos;
    send_event(lk_container_of(q, video_stream, queue), &se);
}

/* On the stream's worker: one captured frame out to the client. */
static void send_frame(lk_queue *q, lk_object *item)
{
    video_stream *st = lk_container_of(q, video_stream, queue);
    lk_video_capture *cap = lk_container_of(item, lk_video_capture, base);
    const lk_vframe *pic = &cap->picture->f;
    enum lk_vtype type = st->has_format ? st->format : pic->type;
    lk_video_buffer *out = lk_video_buffer_new(type, pic->width, pic->height);
    int rc = 0;
    if (lk_track_muted(st->track))
        lk_vframe_fill_black(&out->f);
    else
        rc = lk_vframe_convert(pic, &out->f, false);
    if (rc < 0) {
        lk_log_warn("video stream %llu: %s", (unsigned long long)st->base.id, lk_error());
        lk_unref(&out->base);
        lk_unref(item);
        return;
    }

    lk_owned_video_msg m;
    lk_video_buffer_give(out, &m);
    Livekit__Proto__VideoFrameReceived received = LIVEKIT__PROTO__VIDEO_FRAME_RECEIVED__INIT;
    received.buffer = &m.owned;
    received.timestamp_us = cap->timestamp_us;
    received.rotation = (Livekit__Proto__VideoRotation)cap->rotation;
    Livekit__Proto__FrameMetadata meta = LIVEKIT__PROTO__FRAME_METADATA__INIT;
    if (cap->has_metadata) {
        meta.has_user_timestamp = cap->has_user_timestamp;
        meta.user_timestamp = cap->user_timestamp;
        meta.has_frame_id = cap->has_frame_id;
        meta.frame_id = cap->frame_id;
        meta.has_user_data = cap->has_user_data;
        meta.user_data.data = cap->user_data;
        meta.user_data.len = cap->user_data_len;
        received.metadata = &meta;
    }
    Livekit__Proto__VideoStreamEvent se = LIVEKIT__PROTO__VIDEO_STREAM_EVENT__INIT;
    se.message_case = LIVEKIT__PROTO__VIDEO_STREAM_EVENT__MESSAGE_FRAME_RECEIVED;
    se.frame_received = &received;
    if (!send_event(st, &se))
        lk_handle_drop(m.handle.id); /* nobody to hand it to */
    lk_unref(item);
}

/* On the capturing thread, with the fanout's lock held. */
static void on_capture(lk_sub *sub, lk_object *cap)
{
    lk_queue_push(&lk_container_of(sub, video_stream, sub)->queue, cap);
}

static void on_track_ended(lk_sub *sub)
{
    lk_queue_end(&lk_container_of(sub, video_stream, sub)->queue);
}

static void stream_close(lk_object *o)
{
    video_stream *st = stream_of(o);
    lk_video_source_unsubscribe(st->source, &st->sub);
    lk_queue_end(&st->queue); /* eos for a dropped stream too, as upstream */
}

static void stream_free(lk_object *o)
{
    video_stream *st = stream_of(o);
    lk_unref(&st->track->base);
    lk_unref(st->source);
    lk_queue_destroy(&st->queue);
    free(st);
}

static const lk_kind video_stream_kind = {"video stream", stream_close, stream_free};

int lk_on_new_video_stream(lk_call *c)
{
    const Livekit__Proto__NewVideoStreamRequest *req = c->req->new_video_stream;
    lk_track *track = lk_track_get(req->track_handle, LIVEKIT__PROTO__TRACK_KIND__KIND_VIDEO);
    if (!track)
        return -1;
    if (req->has_type && req->type != LIVEKIT__PROTO__VIDEO_STREAM_TYPE__VIDEO_STREAM_NATIVE) {
        lk_unref(&track->base);
        return lk_fail("unsupported video stream type");
    }
    video_stream *st = calloc(1, sizeof *st);
    if (!st)
        abort();
    lk_object_init(&st->base, &video_stream_kind);
    st->track = track;
    st->source = lk_ref(track->source);
    st->has_format = req->has_format;
    /* an unknown format reads as RGBA, as upstream reads it */
    st->format = (unsigned)req->format < LK_VTYPE_COUNT ? (enum lk_vtype)req->format : LK_RGBA;
    size_t cap = !req->has_queue_size_frames ? DEFAULT_QUEUE_FRAMES
                 : req->queue_size_frames ? req->queue_size_frames
                                          : UNBOUNDED_QUEUE_FRAMES;
    if (cap > UNBOUNDED_QUEUE_FRAMES)
        cap = UNBOUNDED_QUEUE_FRAMES;
    lk_queue_init(&st->queue, &st->base, lkio_pick_worker(), cap, send_frame, send_eos);
    st->sub.track = track;
    st->sub.deliver = on_capture;
    st->sub.ended = on_track_ended;

    Livekit__Proto__NewVideoStreamResponse *res =
        lk_call_new(c, &livekit__proto__new_video_stream_response__descriptor);
    res->stream = lk_call_new(c, &livekit__proto__owned_video_stream__descriptor);
    res->stream->handle = lk_call_new(c, &livekit__proto__ffi_owned_handle__descriptor);
    res->stream->info = lk_call_new(c, &livekit__proto__video_stream_info__descriptor);
    res->stream->info->type = LIVEKIT__PROTO__VIDEO_STREAM_TYPE__VIDEO_STREAM_NATIVE;
    res->stream->handle->id = lk_handle_insert(&st->base);
    lk_video_source_subscribe(st->source, &st->sub);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_NEW_VIDEO_STREAM;
    c->res->new_video_stream = res;
    return 0;
}

int lk_on_video_stream_from_participant(lk_call *c)
{
    return lk_fail("video_stream_from_participant needs a room participant: rooms are not "
                   "supported by this build of liblivekit_ffi");
}
