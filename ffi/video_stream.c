/*
 * video_stream.c: NewVideoStream (on a local or a remote track) and
 * VideoStreamFromParticipant.
 *
 * Captured frames reach the stream's queue (upstream's default holds one
 * frame: a slow client gets the newest frame, never a growing backlog); its
 * worker converts each to the requested format (else the frame's own type)
 * in a compact owned buffer — strides are always normalized, as upstream
 * always does — and sends VideoStreamEvent{frame_received}. While a local
 * track is muted the stream gets black frames of the same size, as a
 * disabled WebRTC track gives its sinks (a muted remote track's pictures
 * stop at the server). eos follows when the stream's or the track's handle
 * is dropped, or a remote track stops arriving.
 *
 * A stream from a participant reads, as upstream's does, whichever of
 * that participant's subscribed video tracks has the source asked for: it
 * waits for one, moves to the next when it goes, and ends (eos) when the
 * participant leaves or the session ends (ffi/subscribe.c's watch).
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "flow.h"
#include "handlers.h"
#include "log.h"
#include "room_handle.h"
#include "track.h"
#include "video_frame.h"
#include "video_source.h"

enum { DEFAULT_QUEUE_FRAMES = 1, UNBOUNDED_QUEUE_FRAMES = 120 };

typedef struct video_stream {
    lk_object base;
    lk_sub sub;
    lk_queue queue;
    /* From a track: references on it and its video source. From a
     * participant: the track it reads now, on the room's worker (NULL
     * between tracks), and the watch that brings them. */
    lk_object *source;
    lk_track *track;
    lk_room *room; /* from a participant: a reference */
    lk_track_watch watch;
    lkio_task watch_task, unwatch_task;
    bool black_when_muted; /* a local track's stream: reads track on its worker */
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
    if (st->black_when_muted && lk_track_muted(st->track))
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

/* On the room's worker: the stream's handle was dropped. */
static void unwatch_run(lkio_task *t)
{
    video_stream *st = lk_container_of(t, video_stream, unwatch_task);
    if (lk_room_unwatch(st->room, &st->watch))
        lk_unref(&st->base); /* the watch's: it will not end now */
    lk_queue_end(&st->queue);
    lk_unref(&st->base);
}

static void stream_close(lk_object *o)
{
    video_stream *st = stream_of(o);
    if (st->room) {
        lk_ref(o); /* for the task */
        lkio_post(st->room->w, &st->unwatch_task, unwatch_run);
        return;
    }
    lk_video_source_unsubscribe(st->source, &st->sub);
    lk_queue_end(&st->queue); /* eos for a dropped stream too, as upstream */
}

static void stream_free(lk_object *o)
{
    video_stream *st = stream_of(o);
    if (st->track)
        lk_unref(&st->track->base);
    if (st->source)
        lk_unref(st->source);
    if (st->room)
        lk_unref(&st->room->base);
    free(st->watch.identity);
    lk_queue_destroy(&st->queue);
    free(st);
}

static const lk_kind video_stream_kind = {"video stream", stream_close, stream_free};

/* A stream of the request's format and queue size, not yet reading. */
static video_stream *stream_new(bool has_format, int format, bool has_queue, uint32_t queue)
{
    video_stream *st = calloc(1, sizeof *st);
    if (!st)
        abort();
    lk_object_init(&st->base, &video_stream_kind);
    st->has_format = has_format;
    /* an unknown format reads as RGBA, as upstream reads it */
    st->format = (unsigned)format < LK_VTYPE_COUNT ? (enum lk_vtype)format : LK_RGBA;
    size_t cap = !has_queue ? DEFAULT_QUEUE_FRAMES : queue ? queue : UNBOUNDED_QUEUE_FRAMES;
    if (cap > UNBOUNDED_QUEUE_FRAMES)
        cap = UNBOUNDED_QUEUE_FRAMES;
    lk_queue_init(&st->queue, &st->base, lkio_pick_worker(), cap, send_frame, send_eos);
    st->sub.deliver = on_capture;
    st->sub.ended = on_track_ended;
    return st;
}

static void respond(lk_call *c, video_stream *st, Livekit__Proto__OwnedVideoStream **out)
{
    *out = lk_call_new(c, &livekit__proto__owned_video_stream__descriptor);
    (*out)->handle = lk_call_new(c, &livekit__proto__ffi_owned_handle__descriptor);
    (*out)->info = lk_call_new(c, &livekit__proto__video_stream_info__descriptor);
    (*out)->info->type = LIVEKIT__PROTO__VIDEO_STREAM_TYPE__VIDEO_STREAM_NATIVE;
    (*out)->handle->id = lk_handle_insert(&st->base);
}

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
    video_stream *st =
        stream_new(req->has_format, req->format, req->has_queue_size_frames, req->queue_size_frames);
    st->track = track;
    st->source = lk_ref(track->source);
    st->black_when_muted = !track->remote;
    st->sub.track = track;
    Livekit__Proto__NewVideoStreamResponse *res =
        lk_call_new(c, &livekit__proto__new_video_stream_response__descriptor);
    respond(c, st, &res->stream);
    lk_video_source_subscribe(st->source, &st->sub);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_NEW_VIDEO_STREAM;
    c->res->new_video_stream = res;
    return 0;
}

/* --- from a participant: the watch's reports, on the room's worker -------- */

static void watch_attach(lk_track_watch *w, lk_track *t)
{
    video_stream *st = lk_container_of(w, video_stream, watch);
    lk_ref(&t->base);
    st->track = t;
    st->source = lk_ref(t->source);
    st->sub.track = t;
    lk_video_source_subscribe(st->source, &st->sub);
}

static void watch_detach(lk_track_watch *w)
{
    video_stream *st = lk_container_of(w, video_stream, watch);
    lk_video_source_unsubscribe(st->source, &st->sub);
    lk_unref(st->source);
    lk_unref(&st->track->base);
    st->source = NULL;
    st->track = NULL;
}

static void watch_ended(lk_track_watch *w)
{
    video_stream *st = lk_container_of(w, video_stream, watch);
    lk_queue_end(&st->queue);
    lk_unref(&st->base); /* the watch's */
}

static void watch_run(lkio_task *t)
{
    video_stream *st = lk_container_of(t, video_stream, watch_task);
    if (st->room->over)
        watch_ended(&st->watch); /* the session is gone: nothing will come */
    else
        lk_room_watch(st->room, &st->watch);
}

int lk_on_video_stream_from_participant(lk_call *c)
{
    const Livekit__Proto__VideoStreamFromParticipantRequest *req =
        c->req->video_stream_from_participant;
    if (req->has_type && req->type != LIVEKIT__PROTO__VIDEO_STREAM_TYPE__VIDEO_STREAM_NATIVE)
        return lk_fail("unsupported video stream type");
    char *identity;
    lk_room *r = lk_room_of_participant(req->participant_handle, &identity);
    if (!r)
        return -1;
    video_stream *st =
        stream_new(req->has_format, req->format, req->has_queue_size_frames, req->queue_size_frames);
    st->room = r;
    st->watch.identity = identity;
    st->watch.kind = LIVEKIT__PROTO__TRACK_KIND__KIND_VIDEO;
    st->watch.source = req->has_track_source ? (int)req->track_source : 0;
    st->watch.attach = watch_attach;
    st->watch.detach = watch_detach;
    st->watch.ended = watch_ended;
    Livekit__Proto__VideoStreamFromParticipantResponse *res =
        lk_call_new(c, &livekit__proto__video_stream_from_participant_response__descriptor);
    respond(c, st, &res->stream);
    lk_ref(&st->base); /* the watch's, until it ends or is dropped */
    lkio_post(r->w, &st->watch_task, watch_run);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_VIDEO_STREAM_FROM_PARTICIPANT;
    c->res->video_stream_from_participant = res;
    return 0;
}
