/*
 * track.c: CreateAudioTrack, CreateVideoTrack, LocalTrackMute,
 * EnableRemoteTrack, GetStats.
 *
 * A local track's TrackInfo is what upstream reports for one: sid
 * "TR_unknown" (the server assigns sids on publish), stream_state active,
 * not remote; remote (subscribed) tracks are made by ffi/subscribe.c.
 * Muting flips the flag, as upstream's set_enabled(false) does; what
 * muting does to the media streams see is decided by the audio and video
 * streams, and to a publication by ffi/publish.c.
 */
#include "track.h"

#include <stdlib.h>
#include <string.h>

#include "audio_source.h"
#include "error.h"
#include "handlers.h"
#include "io.h"
#include "video_source.h"

static const char LOCAL_TRACK_SID[] = "TR_unknown";

static lk_track *track_of(lk_object *o)
{
    return lk_container_of(o, lk_track, base);
}

static void track_close(lk_object *o)
{
    lk_track *t = track_of(o);
    if (t->kind == LIVEKIT__PROTO__TRACK_KIND__KIND_AUDIO)
        lk_audio_source_end_track(t->source, t);
    else
        lk_video_source_end_track(t->source, t);
}

static void track_free(lk_object *o)
{
    lk_track *t = track_of(o);
    lk_unref(t->source);
    free(t->name);
    free(t->sid);
    free(t);
}

const lk_kind lk_track_kind = {"track", track_close, track_free};

lk_track *lk_track_get(FfiHandleId id, Livekit__Proto__TrackKind kind)
{
    lk_object *o = lk_handle_get(id, &lk_track_kind);
    if (!o)
        return NULL;
    lk_track *t = track_of(o);
    if (t->kind != kind) {
        lk_unref(o);
        lk_fail(kind == LIVEKIT__PROTO__TRACK_KIND__KIND_AUDIO ? "not an audio track"
                                                               : "not a video track");
        return NULL;
    }
    return t;
}

static void describe(lk_call *c, lk_track *t, Livekit__Proto__OwnedTrack *owned)
{
    owned->handle = lk_call_new(c, &livekit__proto__ffi_owned_handle__descriptor);
    owned->info = lk_call_new(c, &livekit__proto__track_info__descriptor);
    Livekit__Proto__TrackInfo *info = owned->info;
    info->sid = t->sid ? t->sid : (char *)LOCAL_TRACK_SID;
    info->name = t->name;
    info->kind = t->kind;
    info->stream_state = LIVEKIT__PROTO__STREAM_STATE__STATE_ACTIVE;
    info->muted = lk_track_muted(t);
    info->remote = t->remote;
}

/* Creates a track on the source behind source_handle; fills `owned`. */
static int create_track(lk_call *c, uint64_t source_handle, const char *name,
                        const lk_kind *source_kind, Livekit__Proto__TrackKind kind,
                        Livekit__Proto__OwnedTrack **owned)
{
    lk_object *source = lk_handle_get(source_handle, source_kind);
    if (!source)
        return -1;
    lk_track *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name ? name : "")))
        abort();
    lk_object_init(&t->base, &lk_track_kind);
    t->kind = kind;
    t->source = source; /* the reference from lk_handle_get */
    *owned = lk_call_new(c, &livekit__proto__owned_track__descriptor);
    describe(c, t, *owned);
    (*owned)->handle->id = lk_handle_insert(&t->base);
    return 0;
}

int lk_on_create_audio_track(lk_call *c)
{
    const Livekit__Proto__CreateAudioTrackRequest *req = c->req->create_audio_track;
    Livekit__Proto__CreateAudioTrackResponse *res =
        lk_call_new(c, &livekit__proto__create_audio_track_response__descriptor);
    if (create_track(c, req->source_handle, req->name, &lk_audio_source_kind,
                     LIVEKIT__PROTO__TRACK_KIND__KIND_AUDIO, &res->track) < 0)
        return -1;
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_CREATE_AUDIO_TRACK;
    c->res->create_audio_track = res;
    return 0;
}

int lk_on_create_video_track(lk_call *c)
{
    const Livekit__Proto__CreateVideoTrackRequest *req = c->req->create_video_track;
    Livekit__Proto__CreateVideoTrackResponse *res =
        lk_call_new(c, &livekit__proto__create_video_track_response__descriptor);
    if (create_track(c, req->source_handle, req->name, &lk_video_source_kind,
                     LIVEKIT__PROTO__TRACK_KIND__KIND_VIDEO, &res->track) < 0)
        return -1;
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_CREATE_VIDEO_TRACK;
    c->res->create_video_track = res;
    return 0;
}

int lk_on_local_track_mute(lk_call *c)
{
    const Livekit__Proto__LocalTrackMuteRequest *req = c->req->local_track_mute;
    lk_object *o = lk_handle_get(req->track_handle, &lk_track_kind);
    if (!o)
        return -1;
    bool mute = req->has_mute && req->mute;
    atomic_store(&track_of(o)->muted, mute);
    lk_unref(o);
    Livekit__Proto__LocalTrackMuteResponse *res =
        lk_call_new(c, &livekit__proto__local_track_mute_response__descriptor);
    res->muted = mute;
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_LOCAL_TRACK_MUTE;
    c->res->local_track_mute = res;
    return 0;
}

int lk_on_enable_remote_track(lk_call *c)
{
    lk_object *o = lk_handle_get(c->req->enable_remote_track->track_handle, &lk_track_kind);
    if (!o)
        return -1;
    bool remote = track_of(o)->remote;
    lk_unref(o);
    return lk_fail(remote ? "enabling or disabling a remote track is not supported yet"
                          : "track is not a remote track");
}

/* --- GetStats: an unpublished local track has no transport to report on -- */

typedef struct {
    lkio_task task;
    uint64_t async_id;
} stats_job;

static void stats_run(lkio_task *t)
{
    stats_job *job = lk_container_of(t, stats_job, task);
    Livekit__Proto__GetStatsCallback cb = LIVEKIT__PROTO__GET_STATS_CALLBACK__INIT;
    cb.async_id = job->async_id;
    cb.error = "room failure: no transceiver found for track";
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = LIVEKIT__PROTO__FFI_EVENT__MESSAGE_GET_STATS;
    ev.get_stats = &cb;
    free(job);
    lk_emit(&ev);
}

int lk_on_get_stats(lk_call *c)
{
    const Livekit__Proto__GetStatsRequest *req = c->req->get_stats;
    lk_object *o = lk_handle_get(req->track_handle, &lk_track_kind);
    if (!o)
        return -1;
    lk_unref(o);
    stats_job *job = malloc(sizeof *job);
    if (!job)
        abort();
    job->async_id = lk_async_id(req->has_request_async_id, req->request_async_id);
    Livekit__Proto__GetStatsResponse *res =
        lk_call_new(c, &livekit__proto__get_stats_response__descriptor);
    res->async_id = job->async_id;
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_GET_STATS;
    c->res->get_stats = res;
    lkio_post(lkio_pick_worker(), &job->task, stats_run);
    return 0;
}
