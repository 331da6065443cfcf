/* libFuzzer harness for what livekit-server sends on the signal WebSocket:
 * the input is a sequence of messages, each a 2-byte big-endian length and
 * that many bytes, decoded as a SignalResponse (protobuf-c) and given to a
 * fresh room session (room/session.c), as the room would; a Trickle's
 * candidate goes through the extraction (room/trickle.c). Three local
 * updates wait from the start, so that answers, our own record and the
 * clock (one tick per message) finish them; a Leave ends them. After each
 * message the table must hold no empty, repeated or own sid and no
 * identity twice, each record's tracks must be nameable, audio or video
 * and listed once, and the track reports since the join, replayed on the
 * join's tracks, must give exactly the tracks (and mute states) the table
 * holds. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "trickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lkroom_session *S;
static size_t touched;

/* Reads both ends of a string the session handed out: a dangling one is
 * the sanitizer's to report. */
static void touch(const char *s)
{
    size_t n = strlen(s);
    touched += n ? (size_t)(s[0] == s[n - 1]) : 0;
}

static void fz_participant(void *ctx, lkroom_change c, const Livekit__ParticipantInfo *info,
                           bool local)
{
    (void)ctx;
    touch(info->sid);
    touch(info->identity);
    touch(info->metadata);
    touch(info->name);
    for (size_t i = 0; i < info->n_attributes; i++)
        touch(info->attributes[i]->value);
    if (local)
        return;
    /* the table already shows the change */
    bool in_table = lkroom_session_find_sid(S, info->sid) != NULL;
    if (in_table != (c != LKROOM_PARTICIPANT_DISCONNECTED))
        abort();
}

/* An answer may re-enter: a finished update sometimes asks for another. */
static void fz_update_done(void *ctx, uint64_t token, const char *error)
{
    (void)ctx;
    if (error)
        touch(error);
    if (token < 3)
        lkroom_session_expect(S, (uint32_t)token + 10, token + 10, token + 10, "m", NULL, NULL,
                              NULL, 0);
}

/* The remote tracks as reported: the join's, then each report applied. */
typedef struct shadow_track {
    char *participant, *sid;
    bool muted;
} shadow_track;

static shadow_track *shadow;
static size_t n_shadow, cap_shadow;

static ptrdiff_t shadow_find(const char *participant, const char *sid)
{
    for (size_t i = 0; i < n_shadow; i++)
        if (!strcmp(shadow[i].participant, participant) && !strcmp(shadow[i].sid, sid))
            return (ptrdiff_t)i;
    return -1;
}

static void shadow_add(const char *participant, const char *sid, bool muted)
{
    if (n_shadow == cap_shadow) {
        cap_shadow = cap_shadow ? 2 * cap_shadow : 16;
        shadow = realloc(shadow, cap_shadow * sizeof *shadow);
        if (!shadow)
            abort();
    }
    shadow[n_shadow++] = (shadow_track){strdup(participant), strdup(sid), muted};
}

static void shadow_clear(void)
{
    for (size_t i = 0; i < n_shadow; i++) {
        free(shadow[i].participant);
        free(shadow[i].sid);
    }
    n_shadow = 0;
}

static void fz_track(void *ctx, lkroom_track_change c, const Livekit__ParticipantInfo *p,
                     const Livekit__TrackInfo *t)
{
    (void)ctx;
    touch(p->sid);
    touch(p->identity);
    touch(t->sid);
    touch(t->name);
    touch(t->mime_type);
    ptrdiff_t k = shadow_find(p->sid, t->sid);
    /* each report fits what was reported before */
    switch (c) {
    case LKROOM_TRACK_PUBLISHED:
        if (k >= 0)
            abort();
        shadow_add(p->sid, t->sid, t->muted);
        break;
    case LKROOM_TRACK_UNPUBLISHED:
        if (k < 0)
            abort();
        free(shadow[k].participant);
        free(shadow[k].sid);
        shadow[k] = shadow[--n_shadow];
        break;
    case LKROOM_TRACK_MUTED:
    case LKROOM_TRACK_UNMUTED:
        if (k < 0 || shadow[k].muted == (c == LKROOM_TRACK_MUTED) ||
            t->muted != (c == LKROOM_TRACK_MUTED))
            abort();
        shadow[k].muted = t->muted;
        break;
    }
    /* the table already shows it */
    const Livekit__ParticipantInfo *owner = lkroom_session_find_sid(S, p->sid);
    const Livekit__TrackInfo *kept = NULL;
    for (size_t i = 0; owner && i < owner->n_tracks && !kept; i++)
        if (!strcmp(owner->tracks[i]->sid, t->sid))
            kept = owner->tracks[i];
    if ((kept != NULL) != (c != LKROOM_TRACK_UNPUBLISHED))
        abort();
    if (kept && !lkroom_session_find_track(S, t->sid, NULL))
        abort();
}

static void check_tracks(const Livekit__ParticipantInfo *p, bool reported)
{
    for (size_t i = 0; i < p->n_tracks; i++) {
        const Livekit__TrackInfo *t = p->tracks[i];
        if (!t->sid[0] ||
            (t->type != LIVEKIT__TRACK_TYPE__AUDIO && t->type != LIVEKIT__TRACK_TYPE__VIDEO))
            abort();
        for (size_t j = i + 1; j < p->n_tracks; j++)
            if (!strcmp(t->sid, p->tracks[j]->sid))
                abort();
        ptrdiff_t k = reported ? shadow_find(p->sid, t->sid) : 0;
        if (k < 0 || (reported && shadow[k].muted != t->muted))
            abort();
    }
}

static void check_table(void)
{
    const Livekit__ParticipantInfo *local = lkroom_session_local(S);
    size_t n = lkroom_session_remote_count(S), tracks = 0;
    if (local)
        check_tracks(local, false);
    for (size_t i = 0; i < n; i++) {
        const Livekit__ParticipantInfo *a = lkroom_session_remote(S, i);
        if (!a->sid[0] || (local && !strcmp(a->sid, local->sid)))
            abort();
        check_tracks(a, true);
        tracks += a->n_tracks;
        for (size_t j = i + 1; j < n; j++) {
            const Livekit__ParticipantInfo *b = lkroom_session_remote(S, j);
            if (!strcmp(a->sid, b->sid) || (a->identity[0] && !strcmp(a->identity, b->identity)))
                abort();
        }
    }
    /* nothing reported that the table does not hold */
    if (tracks != n_shadow)
        abort();
}

/* The join reports nothing: its tracks are where the reports start from. */
static void join(const Livekit__JoinResponse *j)
{
    if (lkroom_session_join(S, j) != LKROOM_JOIN_OK)
        return;
    for (size_t i = 0; i < lkroom_session_remote_count(S); i++) {
        const Livekit__ParticipantInfo *p = lkroom_session_remote(S, i);
        for (size_t k = 0; k < p->n_tracks; k++)
            shadow_add(p->sid, p->tracks[k]->sid, p->tracks[k]->muted);
    }
}

static void trickle(const char *json)
{
    char line[512];
    lkroom_trickle_result r = lkroom_trickle_candidate(json, line, sizeof line);
    size_t n = strlen(line);
    if ((r == LKROOM_TRICKLE_FOUND) != (n > 0) || n >= sizeof line)
        abort();
}

/* Each active speaker is someone in the table, or us. */
static void fz_speakers(void *ctx, const Livekit__ParticipantInfo *const *active, size_t n)
{
    (void)ctx;
    const Livekit__ParticipantInfo *local = lkroom_session_local(S);
    for (size_t i = 0; i < n; i++) {
        if (active[i] != local && lkroom_session_find_sid(S, active[i]->sid) != active[i])
            abort();
        touch(active[i]->identity);
    }
}

static void handle(const Livekit__SignalResponse *m)
{
    switch (m->message_case) {
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_JOIN:
        join(m->join);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_UPDATE:
        lkroom_session_participant_update(S, m->update);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_ROOM_UPDATE:
        lkroom_session_room_update(S, m->room_update);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_REQUEST_RESPONSE:
        lkroom_session_request_response(S, m->request_response);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_SPEAKERS_CHANGED:
        lkroom_session_speakers(S, m->speakers_changed);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_TRICKLE:
        trickle(m->trickle->candidateinit);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_LEAVE:
        lkroom_session_end(S, "the room was disconnected");
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lkroom_session_observer obs = {NULL, fz_participant, fz_update_done, fz_track, fz_speakers};
    S = lkroom_session_new(&obs);
    static const char *const keys[] = {"k"}, *const values[] = {"v"};
    lkroom_session_expect(S, 1, 1, 20, "meta", NULL, NULL, NULL, 0);
    lkroom_session_expect(S, 2, 2, 40, NULL, "name", keys, values, 1);
    lkroom_session_expect(S, 3, 3, 60, NULL, NULL, keys, values, 0);
    uint64_t now = 0;
    while (size >= 2) {
        size_t n = (size_t)data[0] << 8 | data[1];
        data += 2, size -= 2;
        if (n > size)
            n = size;
        Livekit__SignalResponse *m = livekit__signal_response__unpack(NULL, n, data);
        data += n, size -= n;
        if (!m)
            continue;
        handle(m);
        livekit__signal_response__free_unpacked(m, NULL);
        check_table();
        lkroom_session_expire(S, ++now);
    }
    const Livekit__Room *room = lkroom_session_room(S);
    if (room)
        touch(room->sid);
    touch(lkroom_session_server_version(S));
    lkroom_session_free(S);
    shadow_clear();
    return 0;
}
