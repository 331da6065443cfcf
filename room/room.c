/*
 * room.c: the session in a room.
 *
 * Connecting: the PeerConnection's offer rides in the join request
 * (single-PeerConnection mode); the JoinResponse brings the room and the
 * participants, the server's answer and trickled candidates bring the
 * transport up; "connected" is both, within the connect timeout.
 *
 * Participants are kept as the server describes them, each a ParticipantInfo
 * decoded from its own copy. An update replaces the whole record; what
 * differs from the previous one (metadata, name, attributes) is reported
 * as such, in that order. The server's Leave, the signal connection ending
 * or the transport failing end the session (resuming is not done yet).
 */
#include "room.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signal_client.h"
#include "transport.h"
#include "url.h"

enum { MAX_PENDING = 32 };
static const uint64_t MS = 1000000u;
static const uint64_t UPDATE_TIMEOUT_MS = 10000;

/* What was asked, to recognise it in our own record when the server
 * applies it without a RequestResponse. */
typedef struct pending_update {
    uint32_t request_id;
    uint64_t token;
    uint64_t deadline;
    Livekit__ParticipantInfo *want; /* metadata, name, attributes as asked */
    bool check_metadata, check_name, check_attributes;
} pending_update;

struct lkroom {
    lkio_worker *w;
    lkroom_observer obs;
    lkroom_signal *sig;
    lkroom_transport *tr;
    enum { CONNECTING, CONNECTED, OVER } state;
    bool joined, ready, leaving;
    Livekit__DisconnectReason leave_reason;
    char early_error[400]; /* a failure at connect, reported from the timer */
    Livekit__Room *room;
    Livekit__ParticipantInfo *local;
    Livekit__ParticipantInfo **remote;
    size_t n_remote, cap_remote;
    lkio_timer timer; /* connect timeout, then pending updates */
    uint64_t connect_deadline;
    pending_update pending[MAX_PENDING];
    size_t n_pending;
    uint32_t next_request_id;
    uint32_t next_sequence; /* of our reliable data packets, from 1 */
    char server_version[32];
};

/* --- records -------------------------------------------------------------------- */

/* A deep copy of a protobuf-c message, through its wire form: one
 * allocation tree of protobuf-c's own, freed with free_unpacked. */
static void *copy_message(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        abort();
    protobuf_c_message_pack(m, buf);
    ProtobufCMessage *c = protobuf_c_message_unpack(m->descriptor, NULL, n, buf);
    free(buf);
    if (!c)
        abort(); /* we packed it ourselves */
    return c;
}

static Livekit__ParticipantInfo *copy_info(const Livekit__ParticipantInfo *p)
{
    return copy_message(&p->base);
}

static void free_info(Livekit__ParticipantInfo *p)
{
    if (p)
        livekit__participant_info__free_unpacked(p, NULL);
}

static Livekit__Room *copy_room(const Livekit__Room *r)
{
    return copy_message(&r->base);
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

static void report(lkroom *r, lkroom_change c, const Livekit__ParticipantInfo *p, bool local)
{
    if (r->state == CONNECTED && r->obs.participant)
        r->obs.participant(r->obs.ctx, c, p, local);
}

/* Reports what changed from old to new, then keeps new. */
static void diff(lkroom *r, const Livekit__ParticipantInfo *old, const Livekit__ParticipantInfo *now,
                 bool local)
{
    if (strcmp(old->metadata, now->metadata))
        report(r, LKROOM_METADATA_CHANGED, now, local);
    if (strcmp(old->name, now->name))
        report(r, LKROOM_NAME_CHANGED, now, local);
    if (!same_attributes(old, now))
        report(r, LKROOM_ATTRIBUTES_CHANGED, now, local);
}

static ssize_t find_remote(const lkroom *r, const char *sid)
{
    for (size_t i = 0; i < r->n_remote; i++)
        if (!strcmp(r->remote[i]->sid, sid))
            return (ssize_t)i;
    return -1;
}

static void add_remote(lkroom *r, Livekit__ParticipantInfo *p)
{
    if (r->n_remote == r->cap_remote) {
        size_t cap = r->cap_remote ? 2 * r->cap_remote : 8;
        Livekit__ParticipantInfo **grown = realloc(r->remote, cap * sizeof *grown);
        if (!grown)
            abort();
        r->remote = grown;
        r->cap_remote = cap;
    }
    r->remote[r->n_remote++] = p;
}

static void finish_updates(lkroom *r, bool all, uint32_t request_id, const char *error);
static void finish_applied(lkroom *r);

static void on_participant_update(lkroom *r, const Livekit__ParticipantUpdate *u)
{
    for (size_t i = 0; i < u->n_participants; i++) {
        const Livekit__ParticipantInfo *p = u->participants[i];
        if (r->local && !strcmp(p->sid, r->local->sid)) {
            if (p->version && p->version < r->local->version)
                continue; /* an older state arriving late */
            Livekit__ParticipantInfo *old = r->local;
            r->local = copy_info(p);
            diff(r, old, r->local, true);
            free_info(old);
            finish_applied(r);
            continue;
        }
        ssize_t k = find_remote(r, p->sid);
        if (p->state == LIVEKIT__PARTICIPANT_INFO__STATE__DISCONNECTED) {
            if (k >= 0) {
                Livekit__ParticipantInfo *gone = r->remote[k];
                r->remote[k] = r->remote[--r->n_remote];
                Livekit__ParticipantInfo *last = copy_info(p);
                report(r, LKROOM_PARTICIPANT_DISCONNECTED, last, false);
                free_info(last);
                free_info(gone);
            }
        } else if (k < 0) {
            add_remote(r, copy_info(p));
            report(r, LKROOM_PARTICIPANT_CONNECTED, r->remote[r->n_remote - 1], false);
        } else {
            if (p->version && p->version < r->remote[k]->version)
                continue;
            Livekit__ParticipantInfo *old = r->remote[k];
            r->remote[k] = copy_info(p);
            diff(r, old, r->remote[k], false);
            free_info(old);
        }
    }
}

/* --- the session's end ---------------------------------------------------------------- */

static void end_connecting(lkroom *r, const char *error)
{
    if (r->state != CONNECTING)
        return;
    r->state = OVER;
    lkio_timer_stop(r->w, &r->timer);
    if (r->obs.connected)
        r->obs.connected(r->obs.ctx, r, error);
}

static void end_session(lkroom *r, Livekit__DisconnectReason reason)
{
    if (r->state != CONNECTED)
        return;
    r->state = OVER;
    finish_updates(r, true, 0, "the room was disconnected");
    lkio_timer_stop(r->w, &r->timer);
    if (r->obs.disconnected)
        r->obs.disconnected(r->obs.ctx, reason);
}

static void maybe_connected(lkroom *r)
{
    if (r->state != CONNECTING || !r->joined || !r->ready)
        return;
    r->state = CONNECTED;
    lkio_timer_stop(r->w, &r->timer);
    if (r->obs.connected)
        r->obs.connected(r->obs.ctx, r, NULL);
}

/* --- signal ------------------------------------------------------------------------------ */

static void on_signal(void *ctx, const Livekit__SignalResponse *m)
{
    lkroom *r = ctx;
    char err[300];
    switch (m->message_case) {
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_JOIN:
        if (!m->join->room || !m->join->participant) {
            end_connecting(r, "the server's JoinResponse lacks the room or the participant");
            return;
        }
        r->room = copy_room(m->join->room);
        r->local = copy_info(m->join->participant);
        if (m->join->server_info)
            snprintf(r->server_version, sizeof r->server_version, "%s",
                     m->join->server_info->version);
        for (size_t i = 0; i < m->join->n_other_participants; i++)
            add_remote(r, copy_info(m->join->other_participants[i]));
        r->joined = true;
        maybe_connected(r);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_ANSWER:
        if (lkroom_transport_answer(r->tr, m->answer->sdp, strlen(m->answer->sdp), err,
                                    sizeof err) < 0) {
            char msg[400];
            snprintf(msg, sizeof msg, "the server's SDP answer is unusable: %s", err);
            end_connecting(r, msg);
        }
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_TRICKLE:
        lkroom_transport_trickle(r->tr, m->trickle->candidateinit);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_UPDATE:
        if (r->state == CONNECTED)
            on_participant_update(r, m->update);
        else if (r->joined) /* between join and transport: fold into the table quietly */
            on_participant_update(r, m->update);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_ROOM_UPDATE:
        if (m->room_update->room) {
            Livekit__Room *old = r->room;
            r->room = copy_room(m->room_update->room);
            if (old)
                livekit__room__free_unpacked(old, NULL);
        }
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_REQUEST_RESPONSE: {
        const Livekit__RequestResponse *rr = m->request_response;
        finish_updates(r, false, rr->request_id,
                       rr->reason == LIVEKIT__REQUEST_RESPONSE__REASON__OK
                           ? NULL
                           : (rr->message[0] ? rr->message : "refused by the server"));
        break;
    }
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_LEAVE:
        if (r->state == CONNECTING) {
            snprintf(err, sizeof err, "the server ended the session while joining (reason %d)",
                     (int)m->leave->reason);
            end_connecting(r, err);
        } else {
            end_session(r, r->leaving ? r->leave_reason : m->leave->reason);
        }
        break;
    default:
        break;
    }
}

static void on_signal_ended(void *ctx, bool was_open, int http_status, const char *error)
{
    lkroom *r = ctx;
    if (r->state == CONNECTING) {
        char msg[600];
        if (http_status)
            snprintf(msg, sizeof msg, "could not join: the server answered HTTP %d: %s",
                     http_status, error);
        else
            snprintf(msg, sizeof msg, "could not join: %s", error);
        end_connecting(r, msg);
    } else {
        end_session(r, r->leaving ? r->leave_reason : LIVEKIT__DISCONNECT_REASON__SIGNAL_CLOSE);
    }
}

/* --- transport --------------------------------------------------------------------------- */

static void on_transport_state(void *ctx, enum lkpeer_state s, const char *why)
{
    lkroom *r = ctx;
    if (s != LKPEER_FAILED && s != LKPEER_CLOSED)
        return;
    if (r->state == CONNECTING) {
        char msg[400];
        snprintf(msg, sizeof msg, "could not connect the media transport: %s",
                 why ? why : "closed");
        end_connecting(r, msg);
    } else {
        end_session(r, LIVEKIT__DISCONNECT_REASON__MEDIA_FAILURE);
    }
}

static void on_message(void *ctx, bool reliable, const uint8_t *data, size_t len)
{
    lkroom *r = ctx;
    if (r->state != CONNECTED)
        return;
    Livekit__DataPacket *p = livekit__data_packet__unpack(NULL, len, data);
    if (!p)
        return; /* not a data packet: nothing to tell anyone */
    if (r->obs.packet)
        r->obs.packet(r->obs.ctx, p, reliable);
    livekit__data_packet__free_unpacked(p, NULL);
}

static void on_sent(void *ctx, uint64_t token, const char *error)
{
    lkroom *r = ctx;
    if (r->obs.packet_sent)
        r->obs.packet_sent(r->obs.ctx, token, error);
}

static void on_channels_ready(void *ctx)
{
    lkroom *r = ctx;
    r->ready = true;
    maybe_connected(r);
}

/* --- local updates ------------------------------------------------------------------------- */

static void arm_timer(lkroom *r)
{
    uint64_t d = r->state == CONNECTING ? r->connect_deadline : UINT64_MAX;
    for (size_t i = 0; i < r->n_pending; i++)
        d = r->pending[i].deadline < d ? r->pending[i].deadline : d;
    if (d == UINT64_MAX)
        lkio_timer_stop(r->w, &r->timer);
    else
        lkio_timer_start(r->w, &r->timer, d);
}

/* Removes pending update i and reports it (the observer may re-enter). */
static void complete(lkroom *r, size_t i, const char *error)
{
    pending_update u = r->pending[i];
    r->pending[i] = r->pending[--r->n_pending];
    free_info(u.want);
    if (r->obs.update_done)
        r->obs.update_done(r->obs.ctx, u.token, error);
}

/* Completes one update (request_id) or all. */
static void finish_updates(lkroom *r, bool all, uint32_t request_id, const char *error)
{
    for (size_t i = 0; i < r->n_pending;) {
        if (all || r->pending[i].request_id == request_id)
            complete(r, i, error);
        else
            i++;
    }
    arm_timer(r);
}

/* Completes the updates our record now shows applied. */
static void finish_applied(lkroom *r)
{
    for (size_t i = 0; i < r->n_pending;) {
        const pending_update *u = &r->pending[i];
        bool done = (!u->check_metadata || !strcmp(u->want->metadata, r->local->metadata)) &&
                    (!u->check_name || !strcmp(u->want->name, r->local->name)) &&
                    (!u->check_attributes || same_attributes(u->want, r->local));
        if (done)
            complete(r, i, NULL);
        else
            i++;
    }
    arm_timer(r);
}

static void on_timer(lkio_timer *t)
{
    lkroom *r = lkio_container_of(t, lkroom, timer);
    uint64_t now = lkio_now_ns();
    if (r->state == CONNECTING && now >= r->connect_deadline) {
        end_connecting(r, r->early_error[0] ? r->early_error
                                            : "could not join within the connect timeout");
        return;
    }
    for (size_t i = 0; i < r->n_pending;) {
        if (r->pending[i].deadline > now)
            i++;
        else
            complete(r, i, "the server did not confirm the update in time");
    }
    arm_timer(r);
}

void lkroom_update_local(lkroom *r, uint64_t token, const char *metadata, const char *name,
                         const char *const *keys, const char *const *values, size_t n)
{
    if (r->state != CONNECTED || r->n_pending == MAX_PENDING) {
        if (r->obs.update_done)
            r->obs.update_done(r->obs.ctx, token,
                               r->state != CONNECTED ? "the room is not connected"
                                                     : "too many updates waiting for the server");
        return;
    }
    Livekit__UpdateParticipantMetadata u = LIVEKIT__UPDATE_PARTICIPANT_METADATA__INIT;
    /* Unchanged fields are sent as they are now: the server takes the whole
     * record. */
    u.metadata = (char *)(metadata ? metadata : r->local->metadata);
    u.name = (char *)(name ? name : r->local->name);
    Livekit__UpdateParticipantMetadata__AttributesEntry *entries = NULL, **ptrs = NULL;
    if (keys) {
        entries = calloc(n ? n : 1, sizeof *entries);
        ptrs = calloc(n ? n : 1, sizeof *ptrs);
        if (!entries || !ptrs)
            abort();
        for (size_t i = 0; i < n; i++) {
            livekit__update_participant_metadata__attributes_entry__init(&entries[i]);
            entries[i].key = (char *)keys[i];
            entries[i].value = (char *)values[i];
            ptrs[i] = &entries[i];
        }
        u.n_attributes = n;
        u.attributes = ptrs;
    }
    u.request_id = ++r->next_request_id;
    Livekit__SignalRequest req = LIVEKIT__SIGNAL_REQUEST__INIT;
    req.message_case = LIVEKIT__SIGNAL_REQUEST__MESSAGE_UPDATE_METADATA;
    req.update_metadata = &u;
    int sent = lkroom_signal_send(r->sig, &req);
    /* The request as a participant record, for finish_applied. */
    Livekit__ParticipantInfo want = LIVEKIT__PARTICIPANT_INFO__INIT;
    want.metadata = u.metadata;
    want.name = u.name;
    Livekit__ParticipantInfo__AttributesEntry *we = calloc(n ? n : 1, sizeof *we);
    Livekit__ParticipantInfo__AttributesEntry **wp = calloc(n ? n : 1, sizeof *wp);
    if (!we || !wp)
        abort();
    for (size_t i = 0; keys && i < n; i++) {
        livekit__participant_info__attributes_entry__init(&we[i]);
        we[i].key = (char *)keys[i];
        we[i].value = (char *)values[i];
        wp[i] = &we[i];
    }
    want.n_attributes = keys ? n : 0;
    want.attributes = wp;
    free(entries);
    free(ptrs);
    if (sent < 0) {
        free(we);
        free(wp);
        if (r->obs.update_done)
            r->obs.update_done(r->obs.ctx, token, "the signal connection is down");
        return;
    }
    r->pending[r->n_pending++] = (pending_update){
        u.request_id, token, lkio_now_ns() + UPDATE_TIMEOUT_MS * MS, copy_info(&want),
        metadata != NULL, name != NULL, keys != NULL};
    free(we);
    free(wp);
    arm_timer(r);
}

/* --- the API ----------------------------------------------------------------------------------- */

lkroom *lkroom_connect(lkio_worker *w, const char *url, const char *token,
                       const lkroom_options *opts, const lkroom_observer *obs)
{
    lkroom *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->w = w;
    r->obs = *obs;
    lkio_timer_init(&r->timer, on_timer);
    uint64_t timeout_ms = opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000;
    r->connect_deadline = lkio_now_ns() + timeout_ms * MS;
    char err[300];
    lknet_url check;
    size_t n = 0;
    char offer[8192];
    if (!*token) {
        snprintf(r->early_error, sizeof r->early_error, "could not join: no access token");
    } else if (lknet_url_parse(&check, url, err, sizeof err) < 0) {
        /* refused before any socket or certificate is made */
        snprintf(r->early_error, sizeof r->early_error, "could not join: %s", err);
    } else {
        lkroom_transport_callbacks tcb = {r, on_transport_state, on_channels_ready, on_message,
                                          on_sent};
        r->tr = lkroom_transport_new(w, &tcb, err, sizeof err);
        n = r->tr ? lkroom_transport_offer(r->tr, offer, sizeof offer) : 0;
        if (!r->tr)
            snprintf(r->early_error, sizeof r->early_error, "could not join: %s", err);
        else if (!n)
            snprintf(r->early_error, sizeof r->early_error, "could not join: no SDP offer");
    }
    Livekit__SessionDescription sd = LIVEKIT__SESSION_DESCRIPTION__INIT;
    sd.type = (char *)"offer";
    sd.sdp = offer;
    lkroom_join_params p = {.url = url, .token = token,
                            .auto_subscribe = opts ? opts->auto_subscribe : true,
                            .adaptive_stream = opts ? opts->adaptive_stream : false,
                            .publisher_offer = &sd};
    lkroom_signal_callbacks scb = {r, on_signal, on_signal_ended};
    if (n && !(r->sig = lkroom_signal_connect(w, &p, &scb, err, sizeof err)))
        snprintf(r->early_error, sizeof r->early_error, "could not join: %s", err);
    if (r->early_error[0]) /* from the timer: never inside this call */
        r->connect_deadline = lkio_now_ns();
    arm_timer(r);
    return r;
}

const Livekit__Room *lkroom_info(const lkroom *r)
{
    return r->room;
}

const Livekit__ParticipantInfo *lkroom_local(const lkroom *r)
{
    return r->local;
}

size_t lkroom_remote_count(const lkroom *r)
{
    return r->n_remote;
}

const Livekit__ParticipantInfo *lkroom_remote(const lkroom *r, size_t i)
{
    return i < r->n_remote ? r->remote[i] : NULL;
}

const char *lkroom_server_version(const lkroom *r)
{
    return r->server_version;
}

int lkroom_send_packet(lkroom *r, Livekit__DataPacket *p, bool reliable, const uint64_t *token,
                       char *err, size_t errlen)
{
    if (r->state != CONNECTED) {
        snprintf(err, errlen, "the room is not connected");
        return -1;
    }
    /* ours for the encoding only: the caller's packet comes back as it was */
    Livekit__DataPacket q = *p;
    q.participant_identity = r->local->identity;
    q.participant_sid = r->local->sid;
    q.kind = reliable ? LIVEKIT__DATA_PACKET__KIND__RELIABLE : LIVEKIT__DATA_PACKET__KIND__LOSSY;
    q.sequence = reliable ? r->next_sequence + 1 : 0;
    size_t len = livekit__data_packet__get_packed_size(&q);
    uint8_t small[1024], *buf = len <= sizeof small ? small : malloc(len);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    livekit__data_packet__pack(&q, buf);
    int rc = lkroom_transport_send(r->tr, reliable, buf, len, token);
    if (buf != small)
        free(buf);
    if (rc >= 0 && reliable)
        r->next_sequence++;
    if (rc == -EMSGSIZE)
        snprintf(err, errlen,
                 "data packet size (%zu bytes) exceeds the negotiated maximum message size", len);
    else if (rc == -ENOBUFS)
        snprintf(err, errlen, "too much data is waiting to be sent");
    else if (rc < 0)
        snprintf(err, errlen, "cannot send: %s", strerror(-rc));
    return rc < 0 ? -1 : 0;
}

void lkroom_leave(lkroom *r, Livekit__DisconnectReason reason)
{
    if (r->state == CONNECTING) {
        end_connecting(r, "the connection was cancelled");
        return;
    }
    if (r->state != CONNECTED)
        return;
    /* The session ends when the server has our Leave and closes (or the
     * close handshake times out): destroying sooner could lose the Leave.
     * The client's own reason is what is reported, as upstream does. */
    r->leaving = true;
    r->leave_reason = reason;
    lkroom_signal_leave(r->sig, reason);
}

void lkroom_destroy(lkroom *r)
{
    lkio_timer_stop(r->w, &r->timer);
    for (size_t i = 0; i < r->n_pending; i++)
        free_info(r->pending[i].want);
    if (r->sig)
        lkroom_signal_destroy(r->sig);
    if (r->tr)
        lkroom_transport_destroy(r->tr);
    for (size_t i = 0; i < r->n_remote; i++)
        free_info(r->remote[i]);
    free(r->remote);
    free_info(r->local);
    if (r->room)
        livekit__room__free_unpacked(r->room, NULL);
    free(r);
}
