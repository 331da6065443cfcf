/*
 * session.h: what the server tells us about a room, kept as state: the room
 * info, our own participant record, the remote participant table, the
 * server's version, and the local updates waiting for the server.
 *
 * Sans-I/O: the room (room.c) feeds it the decoded signal messages and the
 * clock, and it reports what changed through the observer, within the call.
 * Nothing here sends, waits or allocates a timer, so it is tested and
 * fuzzed alone. Participant information is the server's own
 * (Livekit__ParticipantInfo), each record decoded from its own copy.
 *
 * How odd sequences are taken (never a leak, a duplicate or a crash):
 * - Nothing before the JoinResponse counts: without it we do not know our
 *   own sid, so participant and room updates are dropped.
 * - A JoinResponse without a room or a participant with a sid is refused;
 *   a second one is ignored (one signal connection joins once; resuming
 *   would start a new session).
 * - A record with an empty sid is ignored: nothing could name it later.
 * - A record older than the one kept (a non-zero version below ours) is
 *   ignored, for us and for the others; version 0 means unversioned and is
 *   taken. So is one that gives a known sid another identity (a sid's
 *   identity never changes; taking it could make two entries one identity).
 * - A DISCONNECTED record for a participant we do not know is ignored (it
 *   was never reported connected).
 * - A new sid with the (non-empty) identity of a participant we know is
 *   that identity joining again: the old record leaves first (reason
 *   DUPLICATE_IDENTITY), so the table never holds one identity twice.
 * - In the JoinResponse, an other participant with our sid is skipped, and
 *   a repeated one is taken as an update of the first, without reports.
 * - A record that protobuf-c cannot read back once copied (a field
 *   numbered 0 on the wire) is ignored as if never sent; in a JoinResponse
 *   the room or our record so makes it incomplete.
 *
 * Tracks (a remote participant's TrackInfo list, ParticipantInfo.tracks)
 * are reported as upstream's RemoteParticipant::update_info and
 * Room::handle_participant_disconnect report them (remote_participant.rs,
 * room/mod.rs), by comparing the kept record with the one that replaces it:
 * - A kept record holds only tracks that could be named and shown: a track
 *   with an empty sid, or of a type other than audio or video (upstream's
 *   conversion fails on one), is left out, and a sid repeated within one
 *   record counts once, as first listed.
 * - An update reports its participant's own changes first (metadata, name,
 *   attributes), then for each track of the new record in its order: a sid
 *   not kept is published, a kept one whose mute flipped is muted or
 *   unmuted; then each kept sid the new record lacks is unpublished. Any
 *   other change to a kept track (its mime type, its size) replaces it
 *   quietly.
 * - A newcomer is reported connected, then each of its tracks published.
 * - A participant leaving (its DISCONNECTED record, or an identity joining
 *   again) has each of its kept tracks unpublished, then is reported
 *   disconnected; the departing record's own track list is not looked at
 *   (upstream diffs it first, which can only change tracks it then
 *   unpublishes anyway).
 * - What is ignored above (a stale or renamed record, an empty sid, a
 *   record before the join) changes no track either; the join itself
 *   reports none (the tracks already there are the starting state).
 * - Our own record's tracks are kept but never reported: our publications
 *   are the publisher's (publish.h), and their mute is the client's.
 */
#ifndef LKROOM_SESSION_H
#define LKROOM_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "livekit_rtc.pb-c.h"

typedef enum lkroom_change {
    LKROOM_PARTICIPANT_CONNECTED,
    LKROOM_PARTICIPANT_DISCONNECTED, /* info->disconnect_reason says why */
    LKROOM_METADATA_CHANGED,
    LKROOM_NAME_CHANGED,
    LKROOM_ATTRIBUTES_CHANGED,
} lkroom_change;

typedef enum lkroom_track_change {
    LKROOM_TRACK_PUBLISHED,
    LKROOM_TRACK_UNPUBLISHED,
    LKROOM_TRACK_MUTED,
    LKROOM_TRACK_UNMUTED,
} lkroom_track_change;

typedef struct lkroom_session_observer {
    void *ctx;
    /* A participant, local (local = true) or remote, changed. info lives
     * until the call returns; the table already shows the change. */
    void (*participant)(void *ctx, lkroom_change change, const Livekit__ParticipantInfo *info,
                        bool local);
    /* A local update (lkroom_session_expect) finished: error NULL when the
     * server applied it. */
    void (*update_done)(void *ctx, uint64_t token, const char *error);
    /* A remote participant's track changed (the rules above). participant
     * is its record (when it leaves, the last one kept), track the
     * TrackInfo (when unpublished, as last kept); both live until the call
     * returns, and the table already shows the change. */
    void (*track)(void *ctx, lkroom_track_change change, const Livekit__ParticipantInfo *participant,
                  const Livekit__TrackInfo *track);
    /* The server's SpeakersChanged, as upstream's Room reports it
     * (handle_speakers_changed in room/mod.rs): the participants (us
     * included) that the message marks active, ordered by their level in
     * it from the quietest to the loudest (ties as listed; a participant
     * listed twice takes its last level, and is counted at each active
     * entry). Speakers we do not know are left out. Every message is
     * reported, an empty list included (the server sends changes only: a
     * speaker who stops comes as inactive). The records live until the
     * call returns. */
    void (*speakers)(void *ctx, const Livekit__ParticipantInfo *const *active, size_t n);
} lkroom_session_observer;

typedef struct lkroom_session lkroom_session;

/* How many local updates may wait for the server at once. */
enum { LKROOM_SESSION_MAX_PENDING = 32 };

lkroom_session *lkroom_session_new(const lkroom_session_observer *obs);
/* Frees everything; pending updates are forgotten without a report. */
void lkroom_session_free(lkroom_session *s);

typedef enum lkroom_join_result {
    LKROOM_JOIN_OK,
    LKROOM_JOIN_INCOMPLETE, /* no room, or no participant with a sid: not joined */
    LKROOM_JOIN_REPEATED,   /* already joined: ignored */
} lkroom_join_result;

/* The JoinResponse: the room, us, the others (no report: they are the
 * starting state; after lkroom_session_restart, each is reported as it
 * connects, its tracks published). */
lkroom_join_result lkroom_session_join(lkroom_session *s, const Livekit__JoinResponse *j);
/* A full reconnect: pending updates finish with error, every remote
 * participant leaves (its tracks unpublished first), and the next
 * JoinResponse, a new participant's, is taken as a join. */
void lkroom_session_restart(lkroom_session *s, const char *error);
void lkroom_session_participant_update(lkroom_session *s, const Livekit__ParticipantUpdate *u);
void lkroom_session_room_update(lkroom_session *s, const Livekit__RoomUpdate *u);
/* The server's SpeakersChanged (nothing before the join). */
void lkroom_session_speakers(lkroom_session *s, const Livekit__SpeakersChanged *m);
/* The server's answer to request rr->request_id: finishes that update. */
void lkroom_session_request_response(lkroom_session *s, const Livekit__RequestResponse *rr);

bool lkroom_session_joined(const lkroom_session *s);
/* NULL before the join. */
const Livekit__Room *lkroom_session_room(const lkroom_session *s);
const Livekit__ParticipantInfo *lkroom_session_local(const lkroom_session *s);
size_t lkroom_session_remote_count(const lkroom_session *s);
const Livekit__ParticipantInfo *lkroom_session_remote(const lkroom_session *s, size_t i);
/* The table entry with this sid or identity, NULL if none. */
const Livekit__ParticipantInfo *lkroom_session_find_sid(const lkroom_session *s, const char *sid);
const Livekit__ParticipantInfo *lkroom_session_find_identity(const lkroom_session *s,
                                                             const char *identity);
/* The remote track with this sid, NULL if none; *owner (when owner is not
 * NULL) is the record listing it (the first in the table if several do). */
const Livekit__TrackInfo *lkroom_session_find_track(const lkroom_session *s, const char *track_sid,
                                                    const Livekit__ParticipantInfo **owner);
/* From the JoinResponse's server info ("" if none). */
const char *lkroom_session_server_version(const lkroom_session *s);

/* --- local updates: sent by the room, finished here --------------------------- */

/* Update request_id (token for the report) was sent asking for the
 * metadata, name and attributes that are not NULL (attributes as n
 * key/value pairs). It finishes when the server answers it, when our own
 * record shows it applied (the server may apply it without an answer), or
 * at deadline. -1 when LKROOM_SESSION_MAX_PENDING wait already. */
int lkroom_session_expect(lkroom_session *s, uint32_t request_id, uint64_t token,
                          uint64_t deadline, const char *metadata, const char *name,
                          const char *const *keys, const char *const *values, size_t n);
size_t lkroom_session_pending(const lkroom_session *s);
/* The earliest deadline of a pending update, UINT64_MAX if none. */
uint64_t lkroom_session_next_deadline(const lkroom_session *s);
/* Updates whose deadline is not after now finish with a timeout. */
void lkroom_session_expire(lkroom_session *s, uint64_t now);
/* Every pending update finishes with error (the session is over). */
void lkroom_session_end(lkroom_session *s, const char *error);

#endif
