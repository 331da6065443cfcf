/*
 * remote_track.c: remote participants' track publications over the FFI:
 * the TrackPublished, TrackUnpublished, TrackMuted and TrackUnmuted room
 * events, and the publications a ConnectCallback lists for each
 * participant already in the room.
 *
 * As upstream's FFI server does (livekit-ffi server/room.rs): each
 * TrackPublished and each ConnectCallback entry carries a new handle on a
 * publication of its own; the other events name the publication by sid.
 * The engine (room/session.h) decides when and in what order, and holds
 * the state: a publication object only remembers its room and sids, so
 * dropping its handle frees nothing the room needs. SetSubscribed on a
 * publication asks the engine to (un)subscribe its track; what follows
 * (TrackSubscribed, TrackUnsubscribed) is subscribe.c's.
 *
 * A video publication's enabled flag, size and quality go to the server
 * as upstream sends them (UpdateTrackSettings): enabling and the size only
 * while the track is subscribed (enabling only when it changes), each with
 * the other; the quality only for a simulcast track, on its own. Upstream
 * keeps them on the publication, which all its handles share; ours are
 * kept per handle (one each, as the SDKs hold them).
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "handlers.h"
#include "log.h"
#include "room_handle.h"

#define RE(x) LIVEKIT__PROTO__ROOM_EVENT__MESSAGE_##x
#define RES(x) LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_##x

typedef struct lk_remote_publication {
    lk_object base;
    lk_room *room; /* a reference: later requests on the publication name it */
    char *participant_sid, *sid;
    bool simulcasted;
    /* on the room's worker: what the server was told */
    bool disabled;
    unsigned width, height;
} lk_remote_publication;

static void remote_publication_free(lk_object *o)
{
    lk_remote_publication *p = lk_container_of(o, lk_remote_publication, base);
    lk_unref(&p->room->base);
    free(p->participant_sid);
    free(p->sid);
    free(p);
}

static const lk_kind remote_publication_kind = {"remote track publication", NULL,
                                                remote_publication_free};

static bool simulcasted(const Livekit__TrackInfo *t);

static FfiHandleId new_publication(lk_room *r, const Livekit__ParticipantInfo *owner,
                                   const Livekit__TrackInfo *t)
{
    lk_remote_publication *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    lk_object_init(&p->base, &remote_publication_kind);
    p->room = lk_container_of(lk_ref(&r->base), lk_room, base);
    p->participant_sid = strdup(owner->sid);
    p->sid = strdup(t->sid);
    if (!p->participant_sid || !p->sid)
        abort();
    p->simulcasted = simulcasted(t);
    return lk_handle_insert(&p->base);
}

/* --- conversion --------------------------------------------------------------------- */

/* A publication as an OwnedTrackPublication, in one block: the message
 * borrows the TrackInfo's strings. */
typedef struct owned_publication {
    Livekit__Proto__OwnedTrackPublication owned; /* first: the block's address */
    Livekit__Proto__FfiOwnedHandle handle;
    Livekit__Proto__TrackPublicationInfo info;
    Livekit__Proto__AudioTrackFeature features[];
} owned_publication;

/* As upstream's is_simulcasted (publication/mod.rs): the track's own flag,
 * or more than one layer, on the track or in any of its codecs. */
static bool simulcasted(const Livekit__TrackInfo *t)
{
    if (t->simulcast || t->n_layers > 1)
        return true;
    for (size_t i = 0; i < t->n_codecs; i++)
        if (t->codecs[i]->n_layers > 1)
            return true;
    return false;
}

static owned_publication *owned_publication_new(lk_room *r, const Livekit__ParticipantInfo *owner,
                                                const Livekit__TrackInfo *t)
{
    owned_publication *o = calloc(1, sizeof *o + t->n_audio_features * sizeof *o->features);
    if (!o)
        abort();
    livekit__proto__ffi_owned_handle__init(&o->handle);
    o->handle.id = new_publication(r, owner, t);
    Livekit__Proto__TrackPublicationInfo *pi = &o->info;
    livekit__proto__track_publication_info__init(pi);
    pi->sid = t->sid;
    pi->name = t->name;
    /* The server numbers kinds from AUDIO = 0, the FFI from UNKNOWN = 0;
     * the session keeps audio and video tracks only. */
    pi->kind = t->type == LIVEKIT__TRACK_TYPE__VIDEO ? LIVEKIT__PROTO__TRACK_KIND__KIND_VIDEO
                                                      : LIVEKIT__PROTO__TRACK_KIND__KIND_AUDIO;
    /* Sources, encryption types and audio features are numbered alike on
     * both sides; a value the FFI lacks reads as its default, as prost
     * reads it upstream (a feature it lacks is left out). */
    pi->source = (unsigned)t->source <= LIVEKIT__TRACK_SOURCE__SCREEN_SHARE_AUDIO
                     ? (Livekit__Proto__TrackSource)t->source
                     : LIVEKIT__PROTO__TRACK_SOURCE__SOURCE_UNKNOWN;
    pi->encryption_type = (unsigned)t->encryption <= LIVEKIT__ENCRYPTION__TYPE__CUSTOM
                              ? (Livekit__Proto__EncryptionType)t->encryption
                              : LIVEKIT__PROTO__ENCRYPTION_TYPE__NONE;
    for (size_t i = 0; i < t->n_audio_features; i++) {
        unsigned f = (unsigned)t->audio_features[i];
        if (f <= LIVEKIT__AUDIO_TRACK_FEATURE__TF_PRECONNECT_BUFFER)
            o->features[pi->n_audio_features++] = (Livekit__Proto__AudioTrackFeature)f;
    }
    pi->audio_features = o->features;
    pi->simulcasted = simulcasted(t);
    pi->width = t->width;
    pi->height = t->height;
    pi->mime_type = t->mime_type;
    pi->muted = t->muted;
    pi->remote = true;
    livekit__proto__owned_track_publication__init(&o->owned);
    o->owned.handle = &o->handle;
    o->owned.info = pi;
    return o;
}

/* --- the engine's reports ------------------------------------------------------------- */

void lk_room_remote_track(lk_room *r, lkroom_track_change c, const Livekit__ParticipantInfo *p,
                          const Livekit__TrackInfo *t)
{
    switch (c) {
    case LKROOM_TRACK_PUBLISHED: {
        owned_publication *o = owned_publication_new(r, p, t);
        Livekit__Proto__TrackPublished e = LIVEKIT__PROTO__TRACK_PUBLISHED__INIT;
        e.participant_identity = p->identity;
        e.publication = &o->owned;
        lk_room_event(r, RE(TRACK_PUBLISHED), &e);
        free(o);
        break;
    }
    case LKROOM_TRACK_UNPUBLISHED: {
        Livekit__Proto__TrackUnpublished e = LIVEKIT__PROTO__TRACK_UNPUBLISHED__INIT;
        e.participant_identity = p->identity;
        e.publication_sid = t->sid;
        lk_room_event(r, RE(TRACK_UNPUBLISHED), &e);
        break;
    }
    case LKROOM_TRACK_MUTED: {
        Livekit__Proto__TrackMuted e = LIVEKIT__PROTO__TRACK_MUTED__INIT;
        e.participant_identity = p->identity;
        e.track_sid = t->sid;
        lk_room_event(r, RE(TRACK_MUTED), &e);
        break;
    }
    case LKROOM_TRACK_UNMUTED: {
        Livekit__Proto__TrackUnmuted e = LIVEKIT__PROTO__TRACK_UNMUTED__INIT;
        e.participant_identity = p->identity;
        e.track_sid = t->sid;
        lk_room_event(r, RE(TRACK_UNMUTED), &e);
        break;
    }
    }
}

/* --- the ConnectCallback ---------------------------------------------------------------- */

void lk_room_connect_publications(lk_room *r, const Livekit__ParticipantInfo *p,
                                  Livekit__Proto__ConnectCallback__ParticipantWithTracks *out)
{
    size_t n = p->n_tracks;
    out->publications = calloc(n ? n : 1, sizeof *out->publications);
    if (!out->publications)
        abort();
    for (size_t i = 0; i < n; i++)
        out->publications[i] = &owned_publication_new(r, p, p->tracks[i])->owned;
    out->n_publications = n;
}

void lk_room_connect_publications_done(Livekit__Proto__ConnectCallback__ParticipantWithTracks *out)
{
    for (size_t i = 0; i < out->n_publications; i++)
        free(lk_container_of(out->publications[i], owned_publication, owned));
    free(out->publications);
    out->publications = NULL;
    out->n_publications = 0;
}

/* --- SetSubscribed ----------------------------------------------------------------------- */

typedef struct subscribe_job {
    lkio_task task;
    lk_remote_publication *pub; /* a reference */
    bool subscribe;
} subscribe_job;

static void subscribe_run(lkio_task *t)
{
    subscribe_job *j = lk_container_of(t, subscribe_job, task);
    lk_room *r = j->pub->room;
    char err[160];
    /* Upstream answers before it sends, and a send that fails is only
     * logged: so here (a room that is over has nothing to subscribe). */
    if (r->engine && !r->over &&
        lkroom_set_subscribed(r->engine, j->pub->participant_sid, j->pub->sid, j->subscribe, err,
                              sizeof err) < 0)
        lk_log_warn("SetSubscribed(%s) on track %s: %s", j->subscribe ? "true" : "false",
                    j->pub->sid, err);
    lk_unref(&j->pub->base);
    free(j);
}

int lk_on_set_subscribed(lk_call *c)
{
    const Livekit__Proto__SetSubscribedRequest *req = c->req->set_subscribed;
    if (!req->has_subscribe)
        return lk_fail("SetSubscribedRequest needs subscribe");
    lk_object *o = lk_handle_get(req->publication_handle, &remote_publication_kind);
    if (!o)
        return -1;
    subscribe_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->pub = lk_container_of(o, lk_remote_publication, base);
    j->subscribe = req->subscribe;
    c->res->message_case = RES(SET_SUBSCRIBED);
    c->res->set_subscribed = lk_call_new(c, &livekit__proto__set_subscribed_response__descriptor);
    lkio_post(j->pub->room->w, &j->task, subscribe_run);
    return 0;
}

/* --- a video publication's settings ------------------------------------------------------ */

typedef struct settings_job {
    lkio_task task;
    lk_remote_publication *pub; /* a reference */
    enum { ENABLE, DIMENSION, QUALITY } what;
    bool enabled;
    unsigned width, height;
    Livekit__VideoQuality quality;
} settings_job;

static void settings_run(lkio_task *t)
{
    settings_job *j = lk_container_of(t, settings_job, task);
    lk_remote_publication *p = j->pub;
    lk_room *r = p->room;
    bool subscribed = r->engine && !r->over && lk_room_track_is_subscribed(r, p->sid);
    lkroom_track_settings ts = {.disabled = p->disabled, .width = p->width, .height = p->height};
    bool send = false;
    if (j->what == ENABLE && subscribed && p->disabled == j->enabled) {
        ts.disabled = p->disabled = !j->enabled;
        send = true;
    } else if (j->what == DIMENSION && subscribed) {
        ts.width = p->width = j->width;
        ts.height = p->height = j->height;
        send = true;
    } else if (j->what == QUALITY && r->engine && !r->over) {
        ts = (lkroom_track_settings){.quality = j->quality};
        send = true;
    }
    char err[160];
    if (send && lkroom_update_track_settings(r->engine, p->sid, &ts, err, sizeof err) < 0)
        lk_log_warn("track settings of %s: %s", p->sid, err);
    lk_unref(&p->base);
    free(j);
}

/* The publication behind the handle and a job for it, or NULL after lk_fail(). */
static settings_job *settings_job_new(bool has_handle, uint64_t handle)
{
    if (!has_handle) {
        lk_fail("the request needs track_publication_handle");
        return NULL;
    }
    lk_object *o = lk_handle_get(handle, &remote_publication_kind);
    if (!o)
        return NULL;
    settings_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->pub = lk_container_of(o, lk_remote_publication, base);
    return j;
}

int lk_on_enable_remote_track_publication(lk_call *c)
{
    const Livekit__Proto__EnableRemoteTrackPublicationRequest *req =
        c->req->enable_remote_track_publication;
    if (!req->has_enabled)
        return lk_fail("EnableRemoteTrackPublicationRequest needs enabled");
    settings_job *j = settings_job_new(req->has_track_publication_handle,
                                       req->track_publication_handle);
    if (!j)
        return -1;
    j->what = ENABLE;
    j->enabled = req->enabled;
    c->res->message_case = RES(ENABLE_REMOTE_TRACK_PUBLICATION);
    c->res->enable_remote_track_publication =
        lk_call_new(c, &livekit__proto__enable_remote_track_publication_response__descriptor);
    lkio_post(j->pub->room->w, &j->task, settings_run);
    return 0;
}

int lk_on_update_remote_track_publication_dimension(lk_call *c)
{
    const Livekit__Proto__UpdateRemoteTrackPublicationDimensionRequest *req =
        c->req->update_remote_track_publication_dimension;
    if (!req->has_width || !req->has_height)
        return lk_fail("UpdateRemoteTrackPublicationDimensionRequest needs width and height");
    settings_job *j = settings_job_new(req->has_track_publication_handle,
                                       req->track_publication_handle);
    if (!j)
        return -1;
    j->what = DIMENSION;
    j->width = req->width;
    j->height = req->height;
    c->res->message_case = RES(UPDATE_REMOTE_TRACK_PUBLICATION_DIMENSION);
    c->res->update_remote_track_publication_dimension = lk_call_new(
        c, &livekit__proto__update_remote_track_publication_dimension_response__descriptor);
    lkio_post(j->pub->room->w, &j->task, settings_run);
    return 0;
}

/* As upstream: a track that is not simulcast has one quality, and asking
 * for another does nothing (upstream logs it; the Python SDK raises first). */
int lk_on_set_remote_track_publication_quality(lk_call *c)
{
    const Livekit__Proto__SetRemoteTrackPublicationQualityRequest *req =
        c->req->set_remote_track_publication_quality;
    if (!req->has_quality || (unsigned)req->quality > LIVEKIT__PROTO__VIDEO_QUALITY__VIDEO_QUALITY_HIGH)
        return lk_fail("SetRemoteTrackPublicationQualityRequest needs a quality (LOW, MEDIUM, HIGH)");
    settings_job *j = settings_job_new(req->has_track_publication_handle,
                                       req->track_publication_handle);
    if (!j)
        return -1;
    c->res->message_case = RES(SET_REMOTE_TRACK_PUBLICATION_QUALITY);
    c->res->set_remote_track_publication_quality = lk_call_new(
        c, &livekit__proto__set_remote_track_publication_quality_response__descriptor);
    if (!j->pub->simulcasted) {
        lk_log_warn("track %s is not simulcast: its quality cannot be chosen", j->pub->sid);
        lk_unref(&j->pub->base);
        free(j);
        return 0;
    }
    j->what = QUALITY;
    /* the FFI's numbers are the server's */
    j->quality = (Livekit__VideoQuality)req->quality;
    lkio_post(j->pub->room->w, &j->task, settings_run);
    return 0;
}
