/*
 * room_handle.h: the room and participant objects behind FFI handles,
 * shared by room.c (connection, participants, local updates) and data.c
 * (data packets and RPC).
 *
 * A room lives on one worker with its engine; everything below runs there
 * unless it says otherwise.
 */
#ifndef LK_ROOM_HANDLE_H
#define LK_ROOM_HANDLE_H

#include <pthread.h>

#include "handle.h"
#include "io.h"
#include "ffi.pb-c.h"
#include "room.h"
#include "rpc.h"
#include "stream.h"
#include "track.h"

typedef struct lk_room_queued_event lk_room_queued_event;
typedef struct lk_stream_reader lk_stream_reader;
typedef struct lk_publication lk_publication;
typedef struct lk_publish_job lk_publish_job;
typedef struct lk_remote_track lk_remote_track;
typedef struct lk_track_watch lk_track_watch;

typedef struct lk_room {
    lk_object base;
    lkio_worker *w;
    lkroom *engine;
    lkrpc *rpc;           /* from connected until the engine goes */
    lkstreams *streams;   /* the same */
    lk_stream_reader **readers; /* incoming streams with a reader (stream.c) */
    size_t n_readers, cap_readers;
    char *url, *token;
    lkroom_options opts;
    uint64_t connect_async_id, disconnect_async_id;
    bool connected, over, ready, disconnect_asked, retiring;
    FfiHandleId handle;
    FfiHandleId local_handle; /* the local participant's, named in RPC events */
    lk_room_queued_event *queue, **queue_tail;
    struct {
        uint64_t async_id;
        int kind; /* the FfiEvent case of its callback */
    } sets[32];
    size_t n_sets;
    /* RPC invocations waiting for the client's answer (data.c). */
    pthread_mutex_t invocations_lock;
    uint64_t *invocations;
    size_t n_invocations, cap_invocations;
    /* publish.c: our publications, and PublishTracks waiting for the server */
    lk_publication *publications;
    lk_publish_job *publishing;
    lk_remote_track *remote_tracks; /* subscribe.c: the tracks we receive */
    lk_track_watch *watches;        /* subscribe.c: streams from a participant */
    lkio_task start_task, close_task, destroy_task;
} lk_room;

/* Any thread: the room behind a local participant's handle, with a new
 * reference; NULL after lk_fail() when it is not one. */
/* The room a handle names, with a reference the caller drops; NULL (the
 * error set) if it names none. */
lk_room *lk_room_get(uint64_t room_handle);
lk_room *lk_room_of_local(uint64_t participant_handle);

/* A RoomEvent whose oneof case is `which` and variant `msg`, held until the
 * client is ready for room events. */
void lk_room_event(lk_room *r, Livekit__Proto__RoomEvent__MessageCase which, void *msg);

/* data.c: its part of the room, from creation to free (any thread). */
void lk_room_data_init(lk_room *r);
void lk_room_data_free(lk_room *r);
/* data.c: the engine's data packets and reports; RPC from connected on. */
void lk_room_data_packet(lk_room *r, const Livekit__DataPacket *p, bool reliable);
void lk_room_data_sent(lk_room *r, uint64_t token, const char *error);
void lk_room_rpc_start(lk_room *r);
/* stream.c: streams from connected until the session or the engine ends
 * (stop: open streams end, jobs answer; it may run twice). */
void lk_room_streams_start(lk_room *r);
void lk_room_streams_stop(lk_room *r);
void lk_room_stream_done(lk_room *r, uint64_t job, const char *error);
/* publish.c: the engine's answer to a PublishTrack (token: its async id);
 * and the end of every publication when the session or the engine ends
 * (waiting PublishTracks fail with why). */
void lk_room_track_published(lk_room *r, uint64_t token, lkroom_local_track *t,
                             const Livekit__TrackInfo *info, const char *error);
/* A full reconnect published t again under a new sid (the publication
 * keeps its handle: LocalTrackRepublished), or could not (the publication
 * ends: LocalTrackUnpublished). */
void lk_room_track_republished(lk_room *r, lkroom_local_track *t, const char *previous_sid,
                               const Livekit__TrackInfo *info, const char *error);
void lk_room_publications_end(lk_room *r, const char *why);
/* remote_track.c: the engine's reports on remote tracks, as room events;
 * and in a ConnectCallback entry, participant p's publications, each with
 * a new handle (the messages borrow p's strings; _done frees them, not the
 * handles). */
void lk_room_remote_track(lk_room *r, lkroom_track_change c, const Livekit__ParticipantInfo *p,
                          const Livekit__TrackInfo *t);
void lk_room_connect_publications(lk_room *r, const Livekit__ParticipantInfo *p,
                                  Livekit__Proto__ConnectCallback__ParticipantWithTracks *out);
void lk_room_connect_publications_done(Livekit__Proto__ConnectCallback__ParticipantWithTracks *out);
/* subscribe.c: the engine's subscribed tracks, their audio and pictures;
 * the end of them all when the session or the engine ends. */
void lk_room_track_subscribed(lk_room *r, const char *track_sid, bool on);
bool lk_room_track_is_subscribed(lk_room *r, const char *track_sid);
void lk_room_track_subscription_failed(lk_room *r, const char *track_sid, const char *error);
void lk_room_track_audio(lk_room *r, const char *track_sid, const int16_t *pcm, size_t samples);
void lk_room_track_video(lk_room *r, const char *track_sid, const lkvp8_image *img,
                         uint32_t rtp_ts);
void lk_room_remote_tracks_end(lk_room *r);

/* Any thread: the room behind a participant's handle (local or remote),
 * with a new reference, and its identity (the caller frees it); NULL
 * after lk_fail(). */
lk_room *lk_room_of_participant(uint64_t handle, char **identity);

/* subscribe.c: a watch on a participant's subscribed track of one kind
 * and source (Audio/VideoStreamFromParticipant), on the room's worker. attach comes for
 * each such track subscribed (at once if one is), detach when it goes,
 * ended once, when the participant or the session does (after a detach);
 * then the watch is forgotten. */
struct lk_track_watch {
    lk_track_watch *next;
    char *identity;
    int kind;   /* Livekit__Proto__TrackKind */
    int source; /* Livekit__Proto__TrackSource */
    lk_track *attached;
    void (*attach)(lk_track_watch *w, lk_track *t);
    void (*detach)(lk_track_watch *w);
    void (*ended)(lk_track_watch *w);
};
void lk_room_watch(lk_room *r, lk_track_watch *w);
/* Detaches (no ended); false, and nothing, if the watch already ended. */
bool lk_room_unwatch(lk_room *r, lk_track_watch *w);
void lk_room_participant_streams_end(lk_room *r, const char *identity);

#endif
