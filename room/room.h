/*
 * room.h: the LiveKit room engine: one participant's session in one room.
 *
 * It joins (signal connection, then the PeerConnection), keeps the table
 * of remote participants from the server's updates (session.h), and
 * reports what changes through the observer. Everything runs on the worker given at
 * connect: call the functions there, callbacks come there. Participant
 * information is the server's own (Livekit__ParticipantInfo).
 */
#ifndef LKROOM_ROOM_H
#define LKROOM_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "livekit_rtc.pb-c.h"
#include "peer.h"
#include "publish.h" /* lkroom_local_track */
#include "session.h" /* lkroom_change */

typedef struct lkroom lkroom;

typedef struct lkroom_options {
    bool auto_subscribe, adaptive_stream;
    /* Our video layers follow what subscribers want (SubscribedQualityUpdate):
     * off by default, as upstream's. */
    bool dynacast;
    uint64_t connect_timeout_ms; /* 0: 10 s */
} lkroom_options;

typedef struct lkroom_observer {
    void *ctx;
    /* Once: joined with the transport up (error NULL), or not (error says
     * why; the room is then over and only waits to be destroyed). */
    void (*connected)(void *ctx, lkroom *r, const char *error);
    /* A participant, local (local = true) or remote, changed. */
    void (*participant)(void *ctx, lkroom_change change, const Livekit__ParticipantInfo *info,
                        bool local);
    /* Once, after connected: the session is over. */
    void (*disconnected)(void *ctx, Livekit__DisconnectReason reason);
    /* The signal connection was lost (or the server asked us to resume):
     * resuming. Then reconnected, or disconnected if that fails. While
     * reconnecting, data packets are taken and sent once reconnected,
     * participants' changes reported, and what we ask of the server (publishing,
     * updates, subscriptions) waits for the resume.
     * A resume that fails, or a server's Leave asking for it, makes a full
     * reconnect: every remote participant leaves (reported), we join again
     * as a new participant (the others reported as they connect), each of
     * our tracks is published again (track_republished), then
     * reconnected. Requests held for the old session are dropped (their
     * updates fail), and so are data packets the old transport had not
     * handed to SCTP (packet_sent with an error). Up to 10 attempts. */
    void (*reconnecting)(void *ctx);
    void (*reconnected)(void *ctx);
    /* A full reconnect published t again (info: its new TrackInfo, valid
     * during the call), or could not (error: t is gone after the call). */
    void (*track_republished)(void *ctx, lkroom_local_track *t, const char *previous_sid,
                              const Livekit__TrackInfo *info, const char *error);
    /* The server gave us a new token (valid during the call): resuming
     * uses it. */
    void (*token_refreshed)(void *ctx, const char *token);
    /* A local update asked for with lkroom_update_local finished. */
    void (*update_done)(void *ctx, uint64_t token, const char *error);
    /* A data packet from another participant (or the server). */
    void (*packet)(void *ctx, const Livekit__DataPacket *p, bool reliable);
    /* A packet sent with a token went out (error NULL) or could not. */
    void (*packet_sent)(void *ctx, uint64_t token, const char *error);
    /* lkroom_publish(token): the server took the track (info is its
     * TrackInfo, valid during the call) or did not (error; t is gone). */
    void (*track_published)(void *ctx, uint64_t token, lkroom_local_track *t,
                            const Livekit__TrackInfo *info, const char *error);
    /* Someone subscribed to one of our tracks, the first time. */
    void (*local_track_subscribed)(void *ctx, const char *track_sid);
    /* A remote participant's track was published, unpublished, muted or
     * unmuted (session.h says when and in what order; the records live
     * until the call returns). */
    void (*remote_track)(void *ctx, lkroom_track_change change,
                         const Livekit__ParticipantInfo *participant, const Livekit__TrackInfo *track);
    /* A remote track started (subscribed) or stopped arriving. */
    void (*track_subscribed)(void *ctx, const char *participant_sid, const char *track_sid,
                             bool subscribed);
    /* The server cannot send us a remote track (a codec we do not decode). */
    void (*subscription_failed)(void *ctx, const char *track_sid, const char *error);
    /* 10 ms of a subscribed track, 48 kHz mono, every 10 ms while it is. */
    void (*audio)(void *ctx, const char *track_sid, const int16_t *pcm, size_t samples);
    /* A picture of a remote video track (valid during the call), its RTP
     * time (90 kHz). */
    void (*video)(void *ctx, const char *track_sid, const lkvp8_image *img, uint32_t rtp_ts);
    /* The active speakers changed (session.h says which and in what
     * order); us among them when we speak. */
    void (*speakers)(void *ctx, const Livekit__ParticipantInfo *const *active, size_t n);
    /* The server's view of a participant's connection (us or one whose
     * tracks we receive), as it sends it: when one joins or one's quality
     * changes, checked every 5 s. */
    void (*quality)(void *ctx, const Livekit__ParticipantInfo *p, Livekit__ConnectionQuality q);
} lkroom_observer;

lkroom *lkroom_connect(lkio_worker *w, const char *url, const char *token,
                       const lkroom_options *opts, const lkroom_observer *obs);

/* After connected: */
const Livekit__Room *lkroom_info(const lkroom *r);
const Livekit__ParticipantInfo *lkroom_local(const lkroom *r);
size_t lkroom_remote_count(const lkroom *r);
const Livekit__ParticipantInfo *lkroom_remote(const lkroom *r, size_t i);
/* A remote participant by identity, or NULL. */
const Livekit__ParticipantInfo *lkroom_remote_by_identity(const lkroom *r, const char *identity);
/* A remote participant's track by sid, and (owner not NULL) its record. */
const Livekit__TrackInfo *lkroom_remote_track(const lkroom *r, const char *track_sid,
                                              const Livekit__ParticipantInfo **owner);

/* Sets metadata, name or attributes (NULL leaves one as it is; attributes
 * as n key/value pairs). update_done(token) follows. */
void lkroom_update_local(lkroom *r, uint64_t token, const char *metadata, const char *name,
                         const char *const *keys, const char *const *values, size_t n);

/* The livekit-server version from the JoinResponse ("" if it gave none). */
const char *lkroom_server_version(const lkroom *r);
/* The PeerConnection (for its stats); NULL before the join made it. */
const lkpeer *lkroom_peer(const lkroom *r);

/* Sends a data packet as upstream does: with our identity and sid, and on
 * the reliable channel a sequence number (p itself is left as it was).
 * 0, then with a token (not NULL) packet_sent(*token) later or within; or
 * -1 with err (not connected, too large, queue full) and no packet_sent. */
int lkroom_send_packet(lkroom *r, Livekit__DataPacket *p, bool reliable, const uint64_t *token,
                       char *err, size_t errlen);

/* Publishes an audio or video track (publish.h); track_published(token)
 * follows, or NULL with err. Push its media, mute or unpublish it with the
 * lkroom_local_track_* calls, on this worker, until the room is destroyed. */
lkroom_local_track *lkroom_publish(lkroom *r, uint64_t token, const lkroom_track_options *o,
                                   char *err, size_t errlen);

/* Asks the server to send us a remote track, or to stop (upstream's
 * RemoteTrackPublication::set_subscribed: an UpdateSubscription naming
 * the track and its participant). Stopping is at once: the track is
 * unsubscribed within this call (track_subscribed false, if it was
 * arriving), its audio ends, and it is not taken again while answers
 * still carry it, until subscribing asks for it again; subscribing
 * reports it when the server sends it (an answer binding it). -1 with
 * err when the room is not connected or the signal connection is down. */
int lkroom_set_subscribed(lkroom *r, const char *participant_sid, const char *track_sid,
                          bool subscribe, char *err, size_t errlen);

/* What we want of a remote video track (UpdateTrackSettings): nothing
 * (disabled), the layer that fits a size (width > 0), or a quality. */
typedef struct lkroom_track_settings {
    bool disabled;
    Livekit__VideoQuality quality;
    unsigned width, height;
} lkroom_track_settings;

/* Tells the server; -1 with err when the room is not connected or the
 * signal connection is down. */
int lkroom_update_track_settings(lkroom *r, const char *track_sid,
                                 const lkroom_track_settings *ts, char *err, size_t errlen);

/* Failures acted out for tests, as upstream's SimulateScenario does. */
typedef enum lkroom_scenario {
    LKROOM_SIMULATE_SIGNAL_LOSS,    /* the signal connection lost: a resume */
    LKROOM_SIMULATE_FULL_RECONNECT, /* as if the server asked for one */
    LKROOM_SIMULATE_RESUME_CUT,     /* the server cuts the next resume's signal
                                     * (asked, then ours closed): a full reconnect */
    LKROOM_SIMULATE_NODE_FAILURE,   /* the server drops us without clean-up */
    LKROOM_SIMULATE_SERVER_LEAVE,   /* the server sends us a Leave */
    LKROOM_SIMULATE_MIGRATION,
    LKROOM_SIMULATE_SPEAKER,        /* the server reports us speaking for 3 s */
} lkroom_scenario;
/* -1 unless connected (or the signal connection is down). */
int lkroom_simulate(lkroom *r, lkroom_scenario s);

/* Leaves the room; disconnected(reason) follows (at once while resuming:
 * there may be no connection to say it on). */
void lkroom_leave(lkroom *r, Livekit__DisconnectReason reason);

/* No callback after this; frees once the ring is done. */
void lkroom_destroy(lkroom *r);

#endif
