/*
 * publish.c: PublishTrack and UnpublishTrack for local audio and video
 * tracks.
 *
 * A publication subscribes to its track's source like a local stream
 * does, but its queue drains on the room's worker. Audio: each 10 ms
 * frame is converted to 48 kHz mono, regrouped into exact 10 ms frames,
 * and pushed to the engine's track (room/publish.h), which encodes and
 * sends; the source's 10 ms pacing is the only clock. Video: each captured
 * picture goes to the engine as I420 (converted first if the client gave
 * another planar type); the queue keeps the newest few, so a slow encoder
 * drops pictures rather than falling behind. Muting the track
 * (LocalTrackMute) is noticed at the next frame: the engine tells the
 * server, and sends silence or stops sending pictures.
 *
 * As upstream: the PublishTrackCallback (with the publication) comes when
 * the server has taken the track, then RoomEvent.local_track_published;
 * on unpublish, local_track_unpublished comes before the callback.
 * Dropping a publication's handle does not unpublish it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio_frame.h"
#include "audio_resampler.h"
#include "audio_source.h"
#include "error.h"
#include "flow.h"
#include "handlers.h"
#include "log.h"
#include "room_handle.h"
#include "track.h"
#include "video_source.h"

#define EV(x) LIVEKIT__PROTO__FFI_EVENT__MESSAGE_##x
#define RE(x) LIVEKIT__PROTO__ROOM_EVENT__MESSAGE_##x

enum { RATE = 48000, FRAME = RATE / 100, QUEUE_FRAMES = 10, QUEUE_PICTURES = 3 };

struct lk_publication {
    lk_object base;
    lk_room *room;   /* a reference */
    lk_track *track; /* a reference */
    lk_object *source;
    bool video;
    lk_sub sub;
    lk_queue queue;
    Livekit__Proto__TrackSource source_kind;

    /* the room's worker only */
    lk_publication *next;        /* the room's list, which holds a reference */
    lkroom_local_track *engine;  /* NULL once unpublished or the session ended */
    lk_audio_resampler *resampler;
    lk_video_buffer *i420;       /* video: a picture of another type, converted */
    int16_t pending[FRAME];      /* converted samples short of a whole 10 ms */
    size_t pending_len;
    char sid[64];
    uint64_t handle; /* the client's, kept when a full reconnect republishes */
};

/* A PublishTrack waiting for the server, on the room's worker. */
struct lk_publish_job {
    lkio_task task;
    lk_room *room;   /* a reference */
    lk_track *track; /* a reference */
    uint64_t async_id;
    lkroom_track_options opts;
    char *stream;
    lk_publish_job *next; /* the room's waiting list */
};

/* --- the publication object ------------------------------------------------------- */

static void publication_free(lk_object *o)
{
    lk_publication *p = lk_container_of(o, lk_publication, base);
    lk_queue_destroy(&p->queue);
    lk_audio_resampler_free(p->resampler);
    if (p->i420)
        lk_unref(&p->i420->base);
    lk_unref(&p->track->base);
    lk_unref(&p->room->base);
    free(p);
}

static const lk_kind publication_kind = {"track publication", NULL, publication_free};

/* On the room's worker: one frame of the source in, exact 10 ms out. */
static void on_frame(lk_queue *q, lk_object *item)
{
    lk_publication *p = lk_container_of(q, lk_publication, queue);
    lk_audio_frame *in = lk_container_of(item, lk_audio_frame, base);
    if (!p->engine) {
        lk_unref(item);
        return;
    }
    lkroom_local_track_set_muted(p->engine, lk_track_muted(p->track));
    lk_audio_frame *out = lk_audio_resampler_convert(p->resampler, in->data, in->samples_per_channel,
                                                     in->num_channels, in->sample_rate, 1, RATE);
    lk_unref(item);
    if (!out) {
        lk_log_warn("publication %s: %s", p->sid, lk_error());
        return;
    }
    for (size_t used = 0; used < out->samples_per_channel;) {
        size_t take = FRAME - p->pending_len;
        if (take > out->samples_per_channel - used)
            take = out->samples_per_channel - used;
        memcpy(p->pending + p->pending_len, out->data + used, take * sizeof *p->pending);
        p->pending_len += take;
        used += take;
        if (p->pending_len == FRAME) {
            lkroom_local_track_push_audio(p->engine, p->pending, 1, FRAME);
            p->pending_len = 0;
        }
    }
    lk_unref(&out->base);
}

/* The picture as I420: itself, or converted into the publication's buffer. */
static const lk_vframe *as_i420(lk_publication *p, const lk_vframe *f)
{
    if (f->type == LK_I420)
        return f;
    if (!p->i420 || p->i420->f.width != f->width || p->i420->f.height != f->height) {
        if (p->i420)
            lk_unref(&p->i420->base);
        p->i420 = lk_video_buffer_new(LK_I420, f->width, f->height);
    }
    return lk_vframe_convert(f, &p->i420->f, false) == 0 ? &p->i420->f : NULL;
}

/* On the room's worker: one captured picture to the encoder. */
static void on_picture(lk_queue *q, lk_object *item)
{
    lk_publication *p = lk_container_of(q, lk_publication, queue);
    lk_video_capture *cap = lk_container_of(item, lk_video_capture, base);
    if (p->engine) {
        lkroom_local_track_set_muted(p->engine, lk_track_muted(p->track));
        const lk_vframe *f = as_i420(p, &cap->picture->f);
        if (f) {
            lkvp8_image img = {.width = f->width, .height = f->height,
                               .y = f->p[0].data, .u = f->p[1].data, .v = f->p[2].data,
                               .stride_y = f->p[0].stride, .stride_u = f->p[1].stride,
                               .stride_v = f->p[2].stride};
            lkroom_local_track_push_video(p->engine, &img, lkio_now_ns());
        } else {
            lk_log_warn("publication %s: %s", p->sid, lk_error());
        }
    }
    lk_unref(item);
}

static void on_eos(lk_queue *q)
{
    (void)q; /* the track ended: the publication stays until unpublished */
}

/* On the source's worker, with the fanout's lock held. */
static void on_source_frame(lk_sub *sub, lk_object *frame)
{
    lk_queue_push(&lk_container_of(sub, lk_publication, sub)->queue, frame);
}

static void on_track_ended(lk_sub *sub)
{
    lk_queue_end(&lk_container_of(sub, lk_publication, sub)->queue);
}

/* Stops the audio and forgets the engine's track; the room's reference goes. */
static void publication_stop(lk_publication *p)
{
    p->engine = NULL;
    if (p->video)
        lk_video_source_unsubscribe(p->source, &p->sub);
    else
        lk_audio_source_unsubscribe(p->source, &p->sub);
    lk_queue_end(&p->queue);
    lk_unref(&p->base);
}

/* --- events ------------------------------------------------------------------------ */

static void emit_publish_error(uint64_t async_id, const char *error)
{
    Livekit__Proto__PublishTrackCallback cb = LIVEKIT__PROTO__PUBLISH_TRACK_CALLBACK__INIT;
    cb.async_id = async_id;
    cb.message_case = LIVEKIT__PROTO__PUBLISH_TRACK_CALLBACK__MESSAGE_ERROR;
    cb.error = (char *)error;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = EV(PUBLISH_TRACK);
    ev.publish_track = &cb;
    lk_emit(&ev);
}

/* The client's view of the server's record (pi borrows p's and info's
 * strings). */
static void publication_info(Livekit__Proto__TrackPublicationInfo *pi, const lk_publication *p,
                             const Livekit__TrackInfo *info)
{
    Livekit__Proto__TrackPublicationInfo init = LIVEKIT__PROTO__TRACK_PUBLICATION_INFO__INIT;
    *pi = init;
    pi->sid = (char *)p->sid;
    pi->name = info->name ? info->name : p->track->name;
    pi->kind = p->video ? LIVEKIT__PROTO__TRACK_KIND__KIND_VIDEO
                        : LIVEKIT__PROTO__TRACK_KIND__KIND_AUDIO;
    pi->width = info->width;
    pi->height = info->height;
    pi->simulcasted = info->simulcast;
    pi->source = (Livekit__Proto__TrackSource)info->source;
    pi->mime_type = info->mime_type ? info->mime_type : "";
    pi->muted = info->muted;
    pi->encryption_type = LIVEKIT__PROTO__ENCRYPTION_TYPE__NONE;
    /* The server's feature numbers are the FFI's. */
    pi->n_audio_features = info->n_audio_features;
    pi->audio_features = (Livekit__Proto__AudioTrackFeature *)info->audio_features;
}

static void emit_published(lk_publication *p, uint64_t async_id, const Livekit__TrackInfo *info)
{
    Livekit__Proto__TrackPublicationInfo pi;
    publication_info(&pi, p, info);
    Livekit__Proto__FfiOwnedHandle h = LIVEKIT__PROTO__FFI_OWNED_HANDLE__INIT;
    h.id = p->handle = lk_handle_insert(lk_ref(&p->base));
    Livekit__Proto__OwnedTrackPublication owned = LIVEKIT__PROTO__OWNED_TRACK_PUBLICATION__INIT;
    owned.handle = &h;
    owned.info = &pi;
    Livekit__Proto__PublishTrackCallback cb = LIVEKIT__PROTO__PUBLISH_TRACK_CALLBACK__INIT;
    cb.async_id = async_id;
    cb.message_case = LIVEKIT__PROTO__PUBLISH_TRACK_CALLBACK__MESSAGE_PUBLICATION;
    cb.publication = &owned;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = EV(PUBLISH_TRACK);
    ev.publish_track = &cb;
    if (!lk_emit(&ev))
        lk_handle_drop(h.id);
    Livekit__Proto__LocalTrackPublished e = LIVEKIT__PROTO__LOCAL_TRACK_PUBLISHED__INIT;
    e.track_sid = p->sid;
    lk_room_event(p->room, RE(LOCAL_TRACK_PUBLISHED), &e);
}

/* --- the engine's reports (room.c passes them on) ----------------------------------- */

static void job_free(lk_publish_job *j)
{
    lk_unref(&j->track->base);
    lk_unref(&j->room->base);
    free(j->stream);
    free(j);
}

static lk_publish_job *take_waiting(lk_room *r, uint64_t async_id)
{
    for (lk_publish_job **pp = &r->publishing; *pp; pp = &(*pp)->next)
        if ((*pp)->async_id == async_id) {
            lk_publish_job *j = *pp;
            *pp = j->next;
            return j;
        }
    return NULL;
}

void lk_room_track_published(lk_room *r, uint64_t token, lkroom_local_track *t,
                             const Livekit__TrackInfo *info, const char *error)
{
    lk_publish_job *j = take_waiting(r, token);
    if (!j)
        return;
    if (error) {
        emit_publish_error(j->async_id, error);
        job_free(j);
        return;
    }
    lk_publication *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    lk_object_init(&p->base, &publication_kind);
    lk_ref(&r->base);
    p->room = r;
    lk_ref(&j->track->base);
    p->track = j->track;
    p->source = p->track->source;
    p->engine = t;
    p->video = j->opts.video;
    snprintf(p->sid, sizeof p->sid, "%s", info->sid);
    if (p->video) {
        lk_queue_init(&p->queue, &p->base, r->w, QUEUE_PICTURES, on_picture, on_eos);
    } else {
        p->resampler = lk_audio_resampler_new();
        lk_queue_init(&p->queue, &p->base, r->w, QUEUE_FRAMES, on_frame, on_eos);
    }
    p->sub.track = p->track;
    p->sub.deliver = on_source_frame;
    p->sub.ended = on_track_ended;
    p->next = r->publications; /* the object's first reference */
    r->publications = p;
    emit_published(p, j->async_id, info);
    if (p->video)
        lk_video_source_subscribe(p->source, &p->sub);
    else
        lk_audio_source_subscribe(p->source, &p->sub);
    job_free(j);
}

void lk_room_track_republished(lk_room *r, lkroom_local_track *t, const char *previous_sid,
                               const Livekit__TrackInfo *info, const char *error)
{
    lk_publication **pp = &r->publications;
    while (*pp && (*pp)->engine != t)
        pp = &(*pp)->next;
    lk_publication *p = *pp;
    if (!p)
        return; /* published while reconnecting: its PublishTrack answers */
    if (error) { /* as if unpublished: the client hears it, the source is let go */
        *pp = p->next;
        lk_log_warn("could not publish track %s again: %s", previous_sid, error);
        Livekit__Proto__LocalTrackUnpublished e = LIVEKIT__PROTO__LOCAL_TRACK_UNPUBLISHED__INIT;
        e.publication_sid = (char *)previous_sid;
        lk_room_event(r, RE(LOCAL_TRACK_UNPUBLISHED), &e);
        publication_stop(p);
        return;
    }
    snprintf(p->sid, sizeof p->sid, "%s", info->sid);
    Livekit__Proto__LocalTrackRepublished e = LIVEKIT__PROTO__LOCAL_TRACK_REPUBLISHED__INIT;
    Livekit__Proto__TrackPublicationInfo pi;
    publication_info(&pi, p, info);
    e.publication_handle = p->handle;
    e.previous_sid = (char *)previous_sid;
    e.info = &pi;
    lk_room_event(r, RE(LOCAL_TRACK_REPUBLISHED), &e);
}

void lk_room_publications_end(lk_room *r, const char *why)
{
    while (r->publishing) {
        lk_publish_job *j = r->publishing;
        r->publishing = j->next;
        emit_publish_error(j->async_id, why);
        job_free(j);
    }
    while (r->publications) {
        lk_publication *p = r->publications;
        r->publications = p->next;
        publication_stop(p);
    }
}

/* --- requests ------------------------------------------------------------------------- */

static void publish_run(lkio_task *task)
{
    lk_publish_job *j = lk_container_of(task, lk_publish_job, task);
    lk_room *r = j->room;
    char err[300];
    if (!r->engine || r->over) {
        emit_publish_error(j->async_id, "cannot publish: the room is not connected");
        job_free(j);
        return;
    }
    j->next = r->publishing; /* before the call: the report may come within */
    r->publishing = j;
    if (!lkroom_publish(r->engine, j->async_id, &j->opts, err, sizeof err) &&
        take_waiting(r, j->async_id)) {
        emit_publish_error(j->async_id, err);
        job_free(j);
    }
}

/* The source's declared size (upstream's AddTrackRequest carries it, and
 * picks the encoding by it), and the client's encoding if any. */
static void video_options(lkroom_track_options *o, lk_track *track,
                          const Livekit__Proto__TrackPublishOptions *opt)
{
    uint32_t w, h;
    lk_video_source_resolution(track->source, &w, &h);
    o->video = true;
    o->width = w;
    o->height = h;
    o->simulcast = !opt || !opt->has_simulcast || opt->simulcast;
    const Livekit__Proto__VideoEncoding *e = opt ? opt->video_encoding : NULL;
    if (e) {
        o->max_bitrate = e->max_bitrate > 50000000 ? 50000000 : (uint32_t)e->max_bitrate;
        o->max_framerate = e->max_framerate;
    }
}

int lk_on_publish_track(lk_call *c)
{
    const Livekit__Proto__PublishTrackRequest *req = c->req->publish_track;
    if (!req->has_local_participant_handle || !req->has_track_handle)
        return lk_fail("PublishTrackRequest needs local_participant_handle and track_handle");
    lk_object *o = lk_handle_get(req->track_handle, &lk_track_kind);
    if (!o)
        return -1;
    lk_track *track = lk_container_of(o, lk_track, base);
    const Livekit__Proto__TrackPublishOptions *opt = req->options;
    bool video = track->kind == LIVEKIT__PROTO__TRACK_KIND__KIND_VIDEO;
    if (track->remote) {
        lk_unref(o);
        return lk_fail("a remote track cannot be published");
    }
    if (video && opt && opt->has_video_codec &&
        opt->video_codec != LIVEKIT__PROTO__VIDEO_CODEC__VP8) {
        lk_unref(o);
        return lk_fail("this build publishes video as VP8 only");
    }
    lk_room *r = lk_room_of_local(req->local_participant_handle);
    if (!r) {
        lk_unref(o);
        return -1;
    }
    lk_publish_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->room = r;
    j->track = track;
    j->async_id = lk_async_id(req->has_request_async_id, req->request_async_id);
    /* upstream's defaults: DTX on, source unknown, 48 kbps */
    j->opts.name = track->name;
    j->opts.dtx = !opt || !opt->has_dtx || opt->dtx;
    j->opts.source = opt && opt->has_source ? (Livekit__TrackSource)opt->source
                                            : LIVEKIT__TRACK_SOURCE__UNKNOWN;
    j->opts.muted = lk_track_muted(track);
    if (video)
        video_options(&j->opts, track, opt);
    else if (opt && opt->audio_encoding && opt->audio_encoding->max_bitrate)
        j->opts.max_bitrate = opt->audio_encoding->max_bitrate > 510000
                                  ? 510000
                                  : (uint32_t)opt->audio_encoding->max_bitrate;
    if (opt && opt->stream)
        j->opts.stream = j->stream = strdup(opt->stream);
    Livekit__Proto__PublishTrackResponse *res =
        lk_call_new(c, &livekit__proto__publish_track_response__descriptor);
    res->async_id = j->async_id;
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_PUBLISH_TRACK;
    c->res->publish_track = res;
    lkio_post(r->w, &j->task, publish_run);
    return 0;
}

typedef struct unlk_publish_job {
    lkio_task task;
    lk_room *room; /* a reference */
    uint64_t async_id;
    char *sid;
} unlk_publish_job;

static void unpublish_run(lkio_task *task)
{
    unlk_publish_job *j = lk_container_of(task, unlk_publish_job, task);
    lk_room *r = j->room;
    const char *error = "no track with this sid is published";
    for (lk_publication **pp = &r->publications; *pp; pp = &(*pp)->next) {
        lk_publication *p = *pp;
        if (strcmp(p->sid, j->sid) != 0)
            continue;
        *pp = p->next;
        if (p->engine && r->engine)
            lkroom_local_track_unpublish(p->engine);
        Livekit__Proto__LocalTrackUnpublished e = LIVEKIT__PROTO__LOCAL_TRACK_UNPUBLISHED__INIT;
        e.publication_sid = p->sid;
        lk_room_event(r, RE(LOCAL_TRACK_UNPUBLISHED), &e);
        publication_stop(p);
        error = NULL;
        break;
    }
    Livekit__Proto__UnpublishTrackCallback cb = LIVEKIT__PROTO__UNPUBLISH_TRACK_CALLBACK__INIT;
    cb.async_id = j->async_id;
    cb.error = (char *)error;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = EV(UNPUBLISH_TRACK);
    ev.unpublish_track = &cb;
    lk_emit(&ev);
    lk_unref(&r->base);
    free(j->sid);
    free(j);
}

int lk_on_unpublish_track(lk_call *c)
{
    const Livekit__Proto__UnpublishTrackRequest *req = c->req->unpublish_track;
    if (!req->has_local_participant_handle || !req->track_sid)
        return lk_fail("UnpublishTrackRequest needs local_participant_handle and track_sid");
    lk_room *r = lk_room_of_local(req->local_participant_handle);
    if (!r)
        return -1;
    unlk_publish_job *j = calloc(1, sizeof *j);
    if (!j || !(j->sid = strdup(req->track_sid)))
        abort();
    j->room = r;
    j->async_id = lk_async_id(req->has_request_async_id, req->request_async_id);
    Livekit__Proto__UnpublishTrackResponse *res =
        lk_call_new(c, &livekit__proto__unpublish_track_response__descriptor);
    res->async_id = j->async_id;
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_UNPUBLISH_TRACK;
    c->res->unpublish_track = res;
    lkio_post(r->w, &j->task, unpublish_run);
    return 0;
}
