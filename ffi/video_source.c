/*
 * video_source.c: NewVideoSource and CaptureVideoFrame.
 *
 * A capture is copied at once (the client may reuse its buffer when the
 * request returns) into the shape upstream hands to streams: packed frames
 * and I420A become I420 (alpha is not carried, as upstream), other planar
 * types keep theirs. Timestamp, rotation and metadata travel with the frame
 * unchanged. With no stream listening, a capture is only checked.
 */
#include "video_source.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "handlers.h"
#include "video_frame.h"

typedef struct lk_video_source {
    lk_object base;
    uint32_t width, height; /* the resolution it was created with (informative) */
    bool screencast;
    lk_fanout subs;
} lk_video_source;

static lk_video_source *source_of(lk_object *o)
{
    return lk_container_of(o, lk_video_source, base);
}

void lk_video_source_subscribe(lk_object *source, lk_sub *sub)
{
    lk_fanout_add(&source_of(source)->subs, sub);
}

void lk_video_source_unsubscribe(lk_object *source, lk_sub *sub)
{
    lk_fanout_remove(&source_of(source)->subs, sub);
}

void lk_video_source_resolution(lk_object *source, uint32_t *width, uint32_t *height)
{
    *width = source_of(source)->width;
    *height = source_of(source)->height;
}

void lk_video_source_end_track(lk_object *source, const void *track)
{
    lk_fanout_end_track(&source_of(source)->subs, track);
}

static void source_free(lk_object *o)
{
    lk_video_source *s = source_of(o);
    lk_fanout_destroy(&s->subs);
    free(s);
}

/* Tracks keep their source alive: dropping the source's handle ends
 * captures, not what tracks already read. */
const lk_kind lk_video_source_kind = {"video source", NULL, source_free};

static void capture_free(lk_object *o)
{
    lk_video_capture *c = lk_container_of(o, lk_video_capture, base);
    lk_unref(&c->picture->base);
    free(c->user_data);
    free(c);
}

static const lk_kind capture_kind = {"captured video frame", NULL, capture_free};

lk_video_capture *lk_video_capture_new(lk_video_buffer *pic, int64_t timestamp_us)
{
    lk_video_capture *cap = calloc(1, sizeof *cap);
    if (!cap)
        abort();
    lk_object_init(&cap->base, &capture_kind);
    cap->picture = pic;
    cap->timestamp_us = timestamp_us;
    return cap;
}

lk_object *lk_video_source_new_fed(void)
{
    lk_video_source *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    lk_object_init(&s->base, &lk_video_source_kind);
    lk_fanout_init(&s->subs);
    return &s->base;
}

bool lk_video_source_idle(lk_object *source)
{
    return lk_fanout_empty(&source_of(source)->subs);
}

void lk_video_source_deliver(lk_object *source, lk_video_capture *cap)
{
    lk_fanout_publish(&source_of(source)->subs, &cap->base);
}

static void copy_metadata(lk_video_capture *cap, const Livekit__Proto__FrameMetadata *m)
{
    if (!m || !(m->has_user_timestamp || m->has_frame_id || m->has_user_data))
        return; /* an empty FrameMetadata is no metadata, as upstream */
    cap->has_metadata = true;
    cap->has_user_timestamp = m->has_user_timestamp;
    cap->user_timestamp = m->user_timestamp;
    cap->has_frame_id = m->has_frame_id;
    cap->frame_id = m->frame_id;
    cap->has_user_data = m->has_user_data;
    if (m->has_user_data && m->user_data.len) {
        if (!(cap->user_data = malloc(m->user_data.len)))
            abort();
        memcpy(cap->user_data, m->user_data.data, m->user_data.len);
        cap->user_data_len = m->user_data.len;
    }
}

int lk_on_new_video_source(lk_call *c)
{
    const Livekit__Proto__NewVideoSourceRequest *req = c->req->new_video_source;
    if (req->has_type && req->type != LIVEKIT__PROTO__VIDEO_SOURCE_TYPE__VIDEO_SOURCE_NATIVE)
        return lk_fail("unsupported video source type");
    lk_video_source *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    lk_object_init(&s->base, &lk_video_source_kind);
    if (req->resolution) {
        s->width = req->resolution->width;
        s->height = req->resolution->height;
    }
    s->screencast = req->has_is_screencast && req->is_screencast;
    lk_fanout_init(&s->subs);

    Livekit__Proto__NewVideoSourceResponse *res =
        lk_call_new(c, &livekit__proto__new_video_source_response__descriptor);
    res->source = lk_call_new(c, &livekit__proto__owned_video_source__descriptor);
    res->source->handle = lk_call_new(c, &livekit__proto__ffi_owned_handle__descriptor);
    res->source->info = lk_call_new(c, &livekit__proto__video_source_info__descriptor);
    res->source->info->type = LIVEKIT__PROTO__VIDEO_SOURCE_TYPE__VIDEO_SOURCE_NATIVE;
    res->source->handle->id = lk_handle_insert(&s->base);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_NEW_VIDEO_SOURCE;
    c->res->new_video_source = res;
    return 0;
}

int lk_on_capture_video_frame(lk_call *c)
{
    const Livekit__Proto__CaptureVideoFrameRequest *req = c->req->capture_video_frame;
    lk_object *o = lk_handle_get(req->source_handle, &lk_video_source_kind);
    if (!o)
        return -1;
    lk_video_source *s = source_of(o);
    lk_vframe in;
    int rc = lk_vframe_from_info(req->buffer, "buffer", &in);
    if (rc == 0 && !lk_fanout_empty(&s->subs)) {
        enum lk_vtype kept = lk_vtype_packed(in.type) || in.type == LK_I420A ? LK_I420 : in.type;
        lk_video_buffer *pic = lk_video_buffer_new(kept, in.width, in.height);
        rc = lk_vframe_convert(&in, &pic->f, false);
        if (rc == 0) {
            lk_video_capture *cap = lk_video_capture_new(pic, req->timestamp_us);
            cap->rotation = req->rotation <= LIVEKIT__PROTO__VIDEO_ROTATION__VIDEO_ROTATION_270
                                ? (int)req->rotation : 0;
            copy_metadata(cap, req->metadata);
            lk_fanout_publish(&s->subs, &cap->base);
            lk_unref(&cap->base);
        } else {
            lk_unref(&pic->base);
        }
    }
    lk_unref(o);
    if (rc < 0)
        return -1;
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_CAPTURE_VIDEO_FRAME;
    c->res->capture_video_frame =
        lk_call_new(c, &livekit__proto__capture_video_frame_response__descriptor);
    return 0;
}
