/*
 * session.c: the room's state from the server's messages (session.h).
 *
 * An update replaces a participant's whole record; what differs from the
 * previous one (metadata, name, attributes, then its tracks) is reported as
 * such, in that order, once the new record is in the table.
 */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbcopy.h"

/* What was asked, to recognise it in our own record when the server
 * applies it without a RequestResponse. */
typedef struct pending_update {
    uint32_t request_id;
    uint64_t token;
    uint64_t deadline;
    Livekit__ParticipantInfo *want; /* metadata, name, attributes as asked */
    bool check_metadata, check_name, check_attributes;
} pending_update;

struct lkroom_session {
    lkroom_session_observer obs;
    bool joined;
    Livekit__Room *room;
    Livekit__ParticipantInfo *local;
    Livekit__ParticipantInfo **remote;
    size_t n_remote, cap_remote;
    char server_version[32];
    pending_update pending[LKROOM_SESSION_MAX_PENDING];
    size_t n_pending;
};

/* --- records -------------------------------------------------------------------- */

static const Livekit__TrackInfo *track_in(const Livekit__TrackInfo *const *tracks, size_t n,
                                          const char *sid)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(tracks[i]->sid, sid))
            return tracks[i];
    return NULL;
}

/* The kept form of a record's tracks (session.h): each nameable, of a kind
 * a client can be shown, and listed once, so that comparing two records
 * and every reader of the table can take the list as it is. */
static void keep_nameable_tracks(Livekit__ParticipantInfo *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_tracks; i++) {
        Livekit__TrackInfo *t = p->tracks[i];
        bool shown = t->type == LIVEKIT__TRACK_TYPE__AUDIO || t->type == LIVEKIT__TRACK_TYPE__VIDEO;
        if (t->sid[0] && shown && !track_in((const Livekit__TrackInfo *const *)p->tracks, n, t->sid))
            p->tracks[n++] = t;
        else
            livekit__track_info__free_unpacked(t, NULL);
    }
    p->n_tracks = n;
}

static Livekit__ParticipantInfo *copy_info(const Livekit__ParticipantInfo *p)
{
    Livekit__ParticipantInfo *c = lkroom_pb_copy(&p->base);
    if (c)
        keep_nameable_tracks(c);
    return c;
}

static void free_info(Livekit__ParticipantInfo *p)
{
    if (p)
        livekit__participant_info__free_unpacked(p, NULL);
}

static void free_room(Livekit__Room *r)
{
    if (r)
        livekit__room__free_unpacked(r, NULL);
}

static bool same_attributes(const Livekit__ParticipantInfo *a, const Livekit__ParticipantInfo *b)
{
    if (a->n_attributes != b->n_attributes)
        return false;
    for (size_t i = 0; i < a->n_attributes; i++) {
        bool found = false;
        for (size_t j = 0; j < b->n_attributes && !found; j++)
            found = !strcmp(a->attributes[i]->key, b->attributes[j]->key) &&
                    !strcmp(a->attributes[i]->value, b->attributes[j]->value);
        if (!found)
            return false;
    }
    return true;
}

/* p may replace kept: not an older state arriving late (a non-zero
 * version below ours), and the same identity (a sid's never changes; one
 * that did could collide with another participant's). */
static bool supersedes(const Livekit__ParticipantInfo *p, const Livekit__ParticipantInfo *kept)
{
    return !(p->version && p->version < kept->version) && !strcmp(p->identity, kept->identity);
}

static void report(lkroom_session *s, lkroom_change c, const Livekit__ParticipantInfo *p,
                   bool local)
{
    if (s->obs.participant)
        s->obs.participant(s->obs.ctx, c, p, local);
}

static void report_track(lkroom_session *s, lkroom_track_change c,
                         const Livekit__ParticipantInfo *p, const Livekit__TrackInfo *t)
{
    if (s->obs.track)
        s->obs.track(s->obs.ctx, c, p, t);
}

/* A remote participant's tracks from old to now, in upstream's order:
 * now's tracks as listed (new ones published, mute flips), then old's
 * that now lacks. */
static void diff_tracks(lkroom_session *s, const Livekit__ParticipantInfo *old,
                        const Livekit__ParticipantInfo *now)
{
    const Livekit__TrackInfo *const *was = (const Livekit__TrackInfo *const *)old->tracks;
    const Livekit__TrackInfo *const *is = (const Livekit__TrackInfo *const *)now->tracks;
    for (size_t i = 0; i < now->n_tracks; i++) {
        const Livekit__TrackInfo *o = track_in(was, old->n_tracks, is[i]->sid);
        if (!o)
            report_track(s, LKROOM_TRACK_PUBLISHED, now, is[i]);
        else if (o->muted != is[i]->muted)
            report_track(s, is[i]->muted ? LKROOM_TRACK_MUTED : LKROOM_TRACK_UNMUTED, now, is[i]);
    }
    for (size_t i = 0; i < old->n_tracks; i++)
        if (!track_in(is, now->n_tracks, was[i]->sid))
            report_track(s, LKROOM_TRACK_UNPUBLISHED, now, was[i]);
}

/* Reports what changed from old to now. */
static void diff(lkroom_session *s, const Livekit__ParticipantInfo *old,
                 const Livekit__ParticipantInfo *now, bool local)
{
    if (strcmp(old->metadata, now->metadata))
        report(s, LKROOM_METADATA_CHANGED, now, local);
    if (strcmp(old->name, now->name))
        report(s, LKROOM_NAME_CHANGED, now, local);
    if (!same_attributes(old, now))
        report(s, LKROOM_ATTRIBUTES_CHANGED, now, local);
    if (!local)
        diff_tracks(s, old, now);
}

/* --- the remote table ------------------------------------------------------------ */

static ptrdiff_t find_remote(const lkroom_session *s, const char *sid)
{
    for (size_t i = 0; i < s->n_remote; i++)
        if (!strcmp(s->remote[i]->sid, sid))
            return (ptrdiff_t)i;
    return -1;
}

static ptrdiff_t find_remote_identity(const lkroom_session *s, const char *identity)
{
    for (size_t i = 0; i < s->n_remote; i++)
        if (!strcmp(s->remote[i]->identity, identity))
            return (ptrdiff_t)i;
    return -1;
}

static void add_remote(lkroom_session *s, Livekit__ParticipantInfo *p)
{
    if (s->n_remote == s->cap_remote) {
        size_t cap = s->cap_remote ? 2 * s->cap_remote : 8;
        Livekit__ParticipantInfo **grown = realloc(s->remote, cap * sizeof *grown);
        if (!grown)
            abort();
        s->remote = grown;
        s->cap_remote = cap;
    }
    s->remote[s->n_remote++] = p;
}

/* Entry k left: out of the table (order is not kept), its tracks
 * unpublished, then reported as last describes it. */
static void remove_remote(lkroom_session *s, size_t k, const Livekit__ParticipantInfo *last,
                          bool quiet)
{
    Livekit__ParticipantInfo *gone = s->remote[k];
    s->remote[k] = s->remote[--s->n_remote];
    if (!quiet) {
        for (size_t i = 0; i < gone->n_tracks; i++)
            report_track(s, LKROOM_TRACK_UNPUBLISHED, gone, gone->tracks[i]);
        report(s, LKROOM_PARTICIPANT_DISCONNECTED, last, false);
    }
    free_info(gone);
}

/* An identity that joins again under a new sid replaces its old self. */
static void drop_same_identity(lkroom_session *s, const Livekit__ParticipantInfo *p, bool quiet)
{
    ptrdiff_t k = p->identity[0] ? find_remote_identity(s, p->identity) : -1;
    if (k < 0)
        return;
    Livekit__ParticipantInfo *old = s->remote[k];
    old->state = LIVEKIT__PARTICIPANT_INFO__STATE__DISCONNECTED;
    old->disconnect_reason = LIVEKIT__DISCONNECT_REASON__DUPLICATE_IDENTITY;
    remove_remote(s, (size_t)k, old, quiet);
}

/* A remote participant's record (quiet: no report, as at join). */
static void apply_remote(lkroom_session *s, const Livekit__ParticipantInfo *p, bool quiet)
{
    ptrdiff_t k = find_remote(s, p->sid);
    if (p->state == LIVEKIT__PARTICIPANT_INFO__STATE__DISCONNECTED) {
        if (k >= 0)
            remove_remote(s, (size_t)k, p, quiet);
        return;
    }
    if (k >= 0 && !supersedes(p, s->remote[k]))
        return;
    Livekit__ParticipantInfo *now = copy_info(p);
    if (!now)
        return; /* unreadable once copied: as if never sent */
    if (k < 0) {
        drop_same_identity(s, now, quiet);
        add_remote(s, now);
        if (quiet)
            return;
        report(s, LKROOM_PARTICIPANT_CONNECTED, now, false);
        for (size_t i = 0; i < now->n_tracks; i++)
            report_track(s, LKROOM_TRACK_PUBLISHED, now, now->tracks[i]);
        return;
    }
    Livekit__ParticipantInfo *old = s->remote[k];
    s->remote[k] = now;
    if (!quiet)
        diff(s, old, now, false);
    free_info(old);
}

/* --- local updates ------------------------------------------------------------------ */

/* Removes pending update i and reports it (the observer may re-enter). */
static void complete(lkroom_session *s, size_t i, const char *error)
{
    pending_update u = s->pending[i];
    s->pending[i] = s->pending[--s->n_pending];
    free_info(u.want);
    if (s->obs.update_done)
        s->obs.update_done(s->obs.ctx, u.token, error);
}

static bool applied(const pending_update *u, const Livekit__ParticipantInfo *local)
{
    return (!u->check_metadata || !strcmp(u->want->metadata, local->metadata)) &&
           (!u->check_name || !strcmp(u->want->name, local->name)) &&
           (!u->check_attributes || same_attributes(u->want, local));
}

/* Completes the updates our record now shows applied. */
static void finish_applied(lkroom_session *s)
{
    for (size_t i = 0; i < s->n_pending;) {
        if (applied(&s->pending[i], s->local))
            complete(s, i, NULL);
        else
            i++;
    }
}

static void apply_local(lkroom_session *s, const Livekit__ParticipantInfo *p)
{
    Livekit__ParticipantInfo *now = supersedes(p, s->local) ? copy_info(p) : NULL;
    if (!now)
        return;
    Livekit__ParticipantInfo *old = s->local;
    s->local = now;
    diff(s, old, now, true);
    free_info(old);
    finish_applied(s);
}

/* --- the API ------------------------------------------------------------------------- */

lkroom_session *lkroom_session_new(const lkroom_session_observer *obs)
{
    lkroom_session *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    if (obs)
        s->obs = *obs;
    return s;
}

void lkroom_session_free(lkroom_session *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_pending; i++)
        free_info(s->pending[i].want);
    for (size_t i = 0; i < s->n_remote; i++)
        free_info(s->remote[i]);
    free(s->remote);
    free_info(s->local);
    free_room(s->room);
    free(s);
}

lkroom_join_result lkroom_session_join(lkroom_session *s, const Livekit__JoinResponse *j)
{
    if (s->joined)
        return LKROOM_JOIN_REPEATED;
    if (!j->room || !j->participant || !j->participant->sid[0])
        return LKROOM_JOIN_INCOMPLETE;
    Livekit__Room *room = lkroom_pb_copy(&j->room->base);
    Livekit__ParticipantInfo *local = copy_info(j->participant);
    if (!room || !local) {
        free_room(room);
        free_info(local);
        return LKROOM_JOIN_INCOMPLETE;
    }
    bool rejoin = s->room != NULL; /* after lkroom_session_restart */
    free_room(s->room);
    free_info(s->local);
    s->room = room;
    s->local = local;
    if (j->server_info)
        snprintf(s->server_version, sizeof s->server_version, "%s", j->server_info->version);
    /* Through the update path, so that a repeated or odd entry is taken as
     * an update would take it. */
    for (size_t i = 0; i < j->n_other_participants; i++) {
        const Livekit__ParticipantInfo *p = j->other_participants[i];
        if (p->sid[0] && strcmp(p->sid, s->local->sid))
            apply_remote(s, p, !rejoin);
    }
    s->joined = true;
    return LKROOM_JOIN_OK;
}

void lkroom_session_restart(lkroom_session *s, const char *error)
{
    lkroom_session_end(s, error);
    while (s->n_remote) {
        Livekit__ParticipantInfo *p = s->remote[s->n_remote - 1];
        p->state = LIVEKIT__PARTICIPANT_INFO__STATE__DISCONNECTED;
        remove_remote(s, s->n_remote - 1, p, false);
    }
    s->joined = false;
}

void lkroom_session_participant_update(lkroom_session *s, const Livekit__ParticipantUpdate *u)
{
    if (!s->joined)
        return;
    for (size_t i = 0; i < u->n_participants; i++) {
        const Livekit__ParticipantInfo *p = u->participants[i];
        if (!p->sid[0])
            continue;
        if (!strcmp(p->sid, s->local->sid))
            apply_local(s, p);
        else
            apply_remote(s, p, false);
    }
}

void lkroom_session_room_update(lkroom_session *s, const Livekit__RoomUpdate *u)
{
    Livekit__Room *now = s->joined && u->room ? lkroom_pb_copy(&u->room->base) : NULL;
    if (!now)
        return;
    free_room(s->room);
    s->room = now;
}

/* --- speakers ------------------------------------------------------------------------ */

typedef struct speaker {
    const Livekit__ParticipantInfo *p;
    size_t slot;  /* in the level table: a remote entry's index, or n_remote for us */
    size_t order; /* in the message */
    float level;  /* the participant's last level in the message */
} speaker;

/* Ascending by level, then as listed: a total order (NaN, which the
 * server never sends, counts as below every level), so the sort is
 * stable and well defined. */
static int by_level(const void *a, const void *b)
{
    const speaker *x = a, *y = b;
    bool xn = x->level != x->level, yn = y->level != y->level;
    if (xn != yn)
        return xn ? -1 : 1;
    if (!xn && x->level != y->level)
        return x->level < y->level ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

void lkroom_session_speakers(lkroom_session *s, const Livekit__SpeakersChanged *m)
{
    if (!s->joined)
        return;
    size_t n = m->n_speakers;
    speaker *active = malloc((n ? n : 1) * sizeof *active);
    float *last = malloc((s->n_remote + 1) * sizeof *last);
    const Livekit__ParticipantInfo **out = malloc((n ? n : 1) * sizeof *out);
    if (!active || !last || !out)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const Livekit__SpeakerInfo *si = m->speakers[i];
        const Livekit__ParticipantInfo *p = NULL;
        size_t slot;
        ptrdiff_t r;
        if (!strcmp(si->sid, s->local->sid)) {
            p = s->local;
            slot = s->n_remote;
        } else if ((r = find_remote(s, si->sid)) >= 0) {
            p = s->remote[r];
            slot = (size_t)r;
        } else {
            continue; /* not someone we know */
        }
        last[slot] = si->level;
        if (si->active)
            active[k++] = (speaker){p, slot, i, 0};
    }
    for (size_t i = 0; i < k; i++)
        active[i].level = last[active[i].slot];
    qsort(active, k, sizeof *active, by_level);
    for (size_t i = 0; i < k; i++)
        out[i] = active[i].p;
    free(active);
    free(last);
    if (s->obs.speakers)
        s->obs.speakers(s->obs.ctx, out, k);
    free(out);
}

void lkroom_session_request_response(lkroom_session *s, const Livekit__RequestResponse *rr)
{
    const char *error = NULL;
    if (rr->reason != LIVEKIT__REQUEST_RESPONSE__REASON__OK)
        error = rr->message[0] ? rr->message : "refused by the server";
    for (size_t i = 0; i < s->n_pending;) {
        if (s->pending[i].request_id == rr->request_id)
            complete(s, i, error);
        else
            i++;
    }
}

bool lkroom_session_joined(const lkroom_session *s)
{
    return s->joined;
}

const Livekit__Room *lkroom_session_room(const lkroom_session *s)
{
    return s->room;
}

const Livekit__ParticipantInfo *lkroom_session_local(const lkroom_session *s)
{
    return s->local;
}

size_t lkroom_session_remote_count(const lkroom_session *s)
{
    return s->n_remote;
}

const Livekit__ParticipantInfo *lkroom_session_remote(const lkroom_session *s, size_t i)
{
    return i < s->n_remote ? s->remote[i] : NULL;
}

const Livekit__ParticipantInfo *lkroom_session_find_sid(const lkroom_session *s, const char *sid)
{
    ptrdiff_t k = find_remote(s, sid);
    return k < 0 ? NULL : s->remote[k];
}

const Livekit__ParticipantInfo *lkroom_session_find_identity(const lkroom_session *s,
                                                             const char *identity)
{
    ptrdiff_t k = find_remote_identity(s, identity);
    return k < 0 ? NULL : s->remote[k];
}

const Livekit__TrackInfo *lkroom_session_find_track(const lkroom_session *s, const char *track_sid,
                                                    const Livekit__ParticipantInfo **owner)
{
    for (size_t i = 0; i < s->n_remote; i++) {
        const Livekit__ParticipantInfo *p = s->remote[i];
        const Livekit__TrackInfo *t =
            track_in((const Livekit__TrackInfo *const *)p->tracks, p->n_tracks, track_sid);
        if (t) {
            if (owner)
                *owner = p;
            return t;
        }
    }
    return NULL;
}

const char *lkroom_session_server_version(const lkroom_session *s)
{
    return s->server_version;
}

/* The request as a participant record, to compare with ours. */
static Livekit__ParticipantInfo *wanted(const char *metadata, const char *name,
                                        const char *const *keys, const char *const *values,
                                        size_t n)
{
    Livekit__ParticipantInfo want = LIVEKIT__PARTICIPANT_INFO__INIT;
    want.metadata = (char *)(metadata ? metadata : "");
    want.name = (char *)(name ? name : "");
    size_t count = keys ? n : 0;
    Livekit__ParticipantInfo__AttributesEntry *e = calloc(count ? count : 1, sizeof *e);
    Livekit__ParticipantInfo__AttributesEntry **ep = calloc(count ? count : 1, sizeof *ep);
    if (!e || !ep)
        abort();
    for (size_t i = 0; i < count; i++) {
        livekit__participant_info__attributes_entry__init(&e[i]);
        e[i].key = (char *)keys[i];
        e[i].value = (char *)values[i];
        ep[i] = &e[i];
    }
    want.n_attributes = count;
    want.attributes = ep;
    Livekit__ParticipantInfo *copy = copy_info(&want);
    if (!copy)
        abort(); /* made here of C strings: it always reads back */
    free(e);
    free(ep);
    return copy;
}

int lkroom_session_expect(lkroom_session *s, uint32_t request_id, uint64_t token,
                          uint64_t deadline, const char *metadata, const char *name,
                          const char *const *keys, const char *const *values, size_t n)
{
    if (s->n_pending == LKROOM_SESSION_MAX_PENDING)
        return -1;
    s->pending[s->n_pending++] = (pending_update){
        request_id, token, deadline, wanted(metadata, name, keys, values, n),
        metadata != NULL, name != NULL, keys != NULL};
    return 0;
}

size_t lkroom_session_pending(const lkroom_session *s)
{
    return s->n_pending;
}

uint64_t lkroom_session_next_deadline(const lkroom_session *s)
{
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < s->n_pending; i++)
        d = s->pending[i].deadline < d ? s->pending[i].deadline : d;
    return d;
}

void lkroom_session_expire(lkroom_session *s, uint64_t now)
{
    for (size_t i = 0; i < s->n_pending;) {
        if (s->pending[i].deadline > now)
            i++;
        else
            complete(s, i, "the server did not confirm the update in time");
    }
}

void lkroom_session_end(lkroom_session *s, const char *error)
{
    while (s->n_pending)
        complete(s, 0, error);
}
