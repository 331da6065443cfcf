/*
 * subscribe.c: remote audio and video tracks over the FFI.
 *
 * When the engine starts receiving a track (room/subscribe.h), the client
 * gets TrackSubscribed with a track handle of its own; the track's source
 * is fed by the room, on the room's worker: an audio track's with the
 * engine's 10 ms of 48 kHz mono, so NewAudioStream on it works as on a
 * local track (rate, channels and frame size conversions included); a
 * video track's with each decoded picture as I420, so NewVideoStream
 * converts it as it converts a local capture. When the track stops
 * arriving, TrackUnsubscribed, and its streams end (EOS), as upstream's
 * do. A frame is made only while some stream reads the track.
 */
#include <libyuv.h>
#include <stdlib.h>
#include <string.h>

#include "audio_frame.h"
#include "audio_source.h"
#include "error.h"
#include "handle.h"
#include "room_handle.h"
#include "track.h"
#include "video_source.h"

#define RE(x) LIVEKIT__PROTO__ROOM_EVENT__MESSAGE_##x

enum { RATE = 48000 };

struct lk_remote_track {
    lk_remote_track *next; /* the room's list */
    lk_track *track;       /* the list's reference */
    char *participant_identity;
    int source; /* the publication's TrackSource (the server's numbers are the FFI's) */
};

static bool watches(const lk_track_watch *w, const lk_remote_track *x)
{
    return w->kind == (int)x->track->kind && w->source == x->source &&
           !strcmp(w->identity, x->participant_identity);
}

/* Every watch of that participant, kind and source without a track takes it. */
static void attach_watches(lk_room *r, lk_remote_track *x)
{
    for (lk_track_watch *w = r->watches; w; w = w->next)
        if (!w->attached && watches(w, x)) {
            w->attached = x->track;
            w->attach(w, x->track);
        }
}

static void detach_watches(lk_room *r, lk_track *t)
{
    for (lk_track_watch *w = r->watches; w; w = w->next)
        if (w->attached == t) {
            w->attached = NULL;
            w->detach(w);
        }
}

/* The track's publication and its owner are the session's, from the
 * server's ParticipantUpdates; a track the server sends before telling us
 * of it gets an empty name and identity. */
static void subscribed(lk_room *r, const char *track_sid)
{
    const Livekit__ParticipantInfo *owner = NULL;
    const Livekit__TrackInfo *ti = r->engine ? lkroom_remote_track(r->engine, track_sid, &owner)
                                             : NULL;
    const char *identity = ti && owner && owner->identity ? owner->identity : "";
    lk_track *t = calloc(1, sizeof *t);
    lk_remote_track *x = calloc(1, sizeof *x);
    if (!t || !x || !(t->sid = strdup(track_sid)) ||
        !(t->name = strdup(ti && ti->name ? ti->name : "")) ||
        !(x->participant_identity = strdup(identity)))
        abort();
    lk_object_init(&t->base, &lk_track_kind);
    bool video = ti && ti->type == LIVEKIT__TRACK_TYPE__VIDEO;
    t->kind = video ? LIVEKIT__PROTO__TRACK_KIND__KIND_VIDEO : LIVEKIT__PROTO__TRACK_KIND__KIND_AUDIO;
    t->remote = true;
    t->muted = ti && ti->muted;
    t->source = video ? lk_video_source_new_fed() : lk_audio_source_new_fed(r->w, RATE, 1);
    x->track = t;
    x->source = ti ? (int)ti->source : 0;
    x->next = r->remote_tracks;
    r->remote_tracks = x;

    Livekit__Proto__FfiOwnedHandle h = LIVEKIT__PROTO__FFI_OWNED_HANDLE__INIT;
    h.id = lk_handle_insert(lk_ref(&t->base));
    Livekit__Proto__TrackInfo info = LIVEKIT__PROTO__TRACK_INFO__INIT;
    info.sid = t->sid;
    info.name = t->name;
    info.kind = t->kind;
    info.stream_state = LIVEKIT__PROTO__STREAM_STATE__STATE_ACTIVE;
    info.muted = t->muted;
    info.remote = true;
    Livekit__Proto__OwnedTrack owned = LIVEKIT__PROTO__OWNED_TRACK__INIT;
    owned.handle = &h;
    owned.info = &info;
    Livekit__Proto__TrackSubscribed e = LIVEKIT__PROTO__TRACK_SUBSCRIBED__INIT;
    e.participant_identity = x->participant_identity;
    e.track = &owned;
    lk_room_event(r, RE(TRACK_SUBSCRIBED), &e);
    attach_watches(r, x);
}

/* The track's streams end; the client's handle stays valid until dropped. */
static void remote_track_end(lk_remote_track *x)
{
    if (x->track->kind == LIVEKIT__PROTO__TRACK_KIND__KIND_VIDEO)
        lk_video_source_end_track(x->track->source, x->track);
    else
        lk_audio_source_end_track(x->track->source, x->track);
    lk_unref(&x->track->base);
    free(x->participant_identity);
    free(x);
}

static void unsubscribed(lk_room *r, const char *track_sid)
{
    for (lk_remote_track **pp = &r->remote_tracks; *pp; pp = &(*pp)->next) {
        lk_remote_track *x = *pp;
        if (strcmp(x->track->sid, track_sid) != 0)
            continue;
        *pp = x->next;
        detach_watches(r, x->track); /* before its streams end: a watch outlives it */
        Livekit__Proto__TrackUnsubscribed e = LIVEKIT__PROTO__TRACK_UNSUBSCRIBED__INIT;
        e.participant_identity = x->participant_identity;
        e.track_sid = x->track->sid;
        lk_room_event(r, RE(TRACK_UNSUBSCRIBED), &e);
        remote_track_end(x);
        return;
    }
}

void lk_room_track_subscription_failed(lk_room *r, const char *track_sid, const char *error)
{
    const Livekit__ParticipantInfo *owner = NULL;
    if (r->engine)
        lkroom_remote_track(r->engine, track_sid, &owner);
    Livekit__Proto__TrackSubscriptionFailed e = LIVEKIT__PROTO__TRACK_SUBSCRIPTION_FAILED__INIT;
    e.participant_identity = owner && owner->identity ? owner->identity : "";
    e.track_sid = (char *)track_sid;
    e.error = (char *)error;
    lk_room_event(r, RE(TRACK_SUBSCRIPTION_FAILED), &e);
}

bool lk_room_track_is_subscribed(lk_room *r, const char *track_sid)
{
    for (lk_remote_track *x = r->remote_tracks; x; x = x->next)
        if (!strcmp(x->track->sid, track_sid))
            return true;
    return false;
}

void lk_room_track_subscribed(lk_room *r, const char *track_sid, bool on)
{
    if (on)
        subscribed(r, track_sid);
    else
        unsubscribed(r, track_sid);
}

static lk_remote_track *find(lk_room *r, const char *track_sid, Livekit__Proto__TrackKind kind)
{
    for (lk_remote_track *x = r->remote_tracks; x; x = x->next)
        if (x->track->kind == kind && !strcmp(x->track->sid, track_sid))
            return x;
    return NULL;
}

/* The picture is copied: the decoder keeps its own for the next frame. Its
 * time is its RTP time in microseconds (upstream stamps received frames
 * with its own clock: neither is the publisher's capture time). */
void lk_room_track_video(lk_room *r, const char *track_sid, const lkvp8_image *img,
                         uint32_t rtp_ts)
{
    lk_remote_track *x = find(r, track_sid, LIVEKIT__PROTO__TRACK_KIND__KIND_VIDEO);
    if (!x || lk_video_source_idle(x->track->source))
        return;
    lk_video_buffer *pic = lk_video_buffer_new(LK_I420, img->width, img->height);
    const lk_plane *p = pic->f.p;
    I420Copy(img->y, (int)img->stride_y, img->u, (int)img->stride_u, img->v, (int)img->stride_v,
             p[0].data, (int)p[0].stride, p[1].data, (int)p[1].stride, p[2].data,
             (int)p[2].stride, (int)img->width, (int)img->height);
    lk_video_capture *cap = lk_video_capture_new(pic, (int64_t)rtp_ts * 100 / 9);
    lk_video_source_deliver(x->track->source, cap);
    lk_unref(&cap->base);
}

void lk_room_track_audio(lk_room *r, const char *track_sid, const int16_t *pcm, size_t samples)
{
    lk_remote_track *x = find(r, track_sid, LIVEKIT__PROTO__TRACK_KIND__KIND_AUDIO);
    if (!x || lk_audio_source_idle(x->track->source))
        return; /* nobody reads it: no frame */
    lk_audio_frame *f = lk_audio_frame_new(RATE, 1, (uint32_t)samples);
    memcpy(f->data, pcm, samples * sizeof *pcm);
    lk_audio_source_deliver(x->track->source, f);
    lk_unref(&f->base);
}

void lk_room_watch(lk_room *r, lk_track_watch *w)
{
    w->attached = NULL;
    w->next = r->watches;
    r->watches = w;
    for (lk_remote_track *x = r->remote_tracks; x && !w->attached; x = x->next)
        if (watches(w, x)) {
            w->attached = x->track;
            w->attach(w, x->track);
        }
}

bool lk_room_unwatch(lk_room *r, lk_track_watch *w)
{
    for (lk_track_watch **pp = &r->watches; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            if (w->attached) {
                w->attached = NULL;
                w->detach(w);
            }
            return true;
        }
    return false;
}

/* Watches of one participant (NULL: all) end. */
static void end_watches(lk_room *r, const char *identity)
{
    for (lk_track_watch **pp = &r->watches; *pp;) {
        lk_track_watch *w = *pp;
        if (identity && strcmp(w->identity, identity) != 0) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        if (w->attached) {
            w->attached = NULL;
            w->detach(w);
        }
        w->ended(w);
    }
}

void lk_room_participant_streams_end(lk_room *r, const char *identity)
{
    end_watches(r, identity);
}

void lk_room_remote_tracks_end(lk_room *r)
{
    end_watches(r, NULL);
    while (r->remote_tracks) {
        lk_remote_track *x = r->remote_tracks;
        r->remote_tracks = x->next;
        remote_track_end(x);
    }
}
