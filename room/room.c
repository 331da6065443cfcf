/*
 * room.c: the connection to a room.
 *
 * Connecting: the PeerConnection's offer rides in the join request
 * (single-PeerConnection mode); the JoinResponse brings the room and the
 * participants, the server's answer and trickled candidates bring the
 * transport up; "connected" is both, within the connect timeout.
 *
 * What the server tells us about the room and its participants, and the
 * local updates waiting for it, is the session's (session.h): this file
 * keeps the connection's state machine, the transport and the timer, and
 * reports the session's changes once connected.
 *
 * Resuming, as upstream's SDK resumes: when the signal connection is lost
 * (closed, or silent past the ping timeout) or the server's Leave asks us
 * to resume, the same participant connects again with a new WebSocket
 * (reconnect and our sid in the join request, the latest token), tells the
 * server what it has (SyncState) and restarts ICE; DTLS, SCTP and the data
 * channels go on as they were, so reliable data sent meanwhile is
 * delivered by SCTP itself. Reconnected once the restart is answered and
 * its checks have selected a pair: ICE works again, with the server's new
 * credentials (upstream waits a settle second, then for the transport).
 * A resume that fails, a Leave that asks for a full reconnect (a new
 * participant) and a failed transport end the session: full reconnection
 * is not done yet.
 */
#include "room.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "publish.h"
#include "session.h"
#include "signal_client.h"
#include "subscribe.h"
#include "transport.h"
#include "url.h"

static const uint64_t MS = 1000000u;
static const uint64_t UPDATE_TIMEOUT_MS = 10000;
/* How long a leave waits for the server to acknowledge our reliable data
 * (a few retransmissions on a lossy path) before it goes anyway. */
static const uint64_t LEAVE_LINGER_MS = 2000;
/* A resume: the new signal connection and the server's answer to it (5 s
 * each for upstream), then at most 16 s for ICE (upstream: a settle second
 * and 15 s), looked at every RESUME_POLL_MS: a pair selected makes no
 * event when the transport's state stays as it was. */
static const uint64_t RESUME_SIGNAL_MS = 10000, RESUME_ICE_MS = 16000, RESUME_POLL_MS = 20;
/* A full reconnect, as upstream's: at most this many attempts, the first
 * at once, each after a random wait of up to 300 ms * 2^(n-1), 7 s at
 * most; each attempt has the connect timeout to join. */
enum { RESTART_ATTEMPTS = 10 };
static const uint64_t RESTART_BACKOFF_MS = 300, RESTART_BACKOFF_MAX_MS = 7000;
/* The Leave that ends the old session before we join again: the first
 * attempt waits this long at most for the old connection to close. */
static const uint64_t RESTART_LEAVE_MS = 1000;
/* SimulateScenario's cut resume: the server takes requests from a queue,
 * so the signal closes this long after asking, lest our resume (a few
 * milliseconds later) reach it first. */
static const uint64_t RESUME_CUT_DELAY_MS = 300;
/* Requests waiting for a reconnection to end: at most this many, this many
 * bytes; data packets, this many bytes (the transport's own bound). */
enum { HELD_MAX = 256, HELD_MAX_BYTES = 1 << 20, HELD_DATA_MAX_BYTES = 16 << 20 };
/* An offer: the data section and up to LKPEER_MAX_SECTIONS media sections. */
enum { LKROOM_OFFER_CAP = 131072, JOIN_OFFER_CAP = 12288 };

/* A signal request or a data packet held while reconnecting (packed), the
 * packet's kind and token with it. */
typedef struct held_message {
    struct held_message *next;
    bool reliable, has_token;
    uint64_t token;
    size_t len;
    uint8_t data[];
} held_message;

typedef struct held_queue {
    held_message *head, **tail;
    size_t n, bytes;
} held_queue;

struct lkroom {
    lkio_worker *w;
    lkroom_observer obs;
    lkroom_signal *sig;
    lkroom_transport *tr;
    lkroom_session *session;
    lkroom_publisher *publisher;   /* with the transport */
    lkroom_subscriber *subscriber; /* the same */
    enum { CONNECTING, CONNECTED, RECONNECTING, OVER } state;
    /* RECONNECTING, a resume: the old signal is still to be closed (from the
     * timer: it may be inside its own callback); the new one is waiting
     * for the server's ReconnectResponse; the ICE restart is under way.
     * A full reconnect: waiting for its next attempt (the first at once);
     * joining as a new participant; publishing our tracks again. */
    enum {
        RESUME_START,
        RESUME_SIGNAL,
        RESUME_TRANSPORT,
        RESTART_WAIT,
        RESTART_JOIN,
        RESTART_REPUBLISH
    } resume_step;
    uint64_t resume_deadline;
    unsigned pair_changes; /* the ICE restart is done once this grew */
    unsigned restart_attempts;
    bool told_reconnecting;
    Livekit__DisconnectReason resume_reason; /* reported if reconnecting fails */
    uint64_t connect_timeout_ms;
    char *url, *token;                       /* the token the server last gave us */
    char *last_offer, *last_answer;          /* the descriptions, for SyncState */
    int32_t ping_interval, ping_timeout;     /* the JoinResponse's */
    bool auto_subscribe, adaptive_stream;
    held_queue held;      /* signal requests, sent once reconnected, in order */
    held_queue held_data; /* data packets: the same */
    bool ready, leaving;
    bool offer_again; /* sections changed while joining, or while an offer awaited its answer */
    Livekit__DisconnectReason leave_reason;
    char early_error[400]; /* a failure at connect, reported from the timer */
    lkio_timer timer;      /* connect timeout, pending updates, leave linger */
    uint64_t connect_deadline;
    uint64_t leave_deadline; /* while our reliable data drains before the Leave; else 0 */
    uint64_t close_signal_at; /* a simulated cut resume: when our signal closes; else 0 */
    uint32_t next_request_id;
    uint32_t next_sequence; /* of our reliable data packets, from 1 */
    bool dynacast;
};

static void arm_timer(lkroom *r);
static void send_leave(lkroom *r);
static void send_offer(lkroom *r);

/* The requests of our own accord (not the resume's: SyncState, its offer,
 * Leave): while reconnecting, held until it ends, as upstream holds them
 * (but for a full reconnect's republishing, which is the new session's
 * own). 0, or -1 when the connection is down, or too much waits. */
/* A new entry of len bytes at the queue's end, or NULL when it is full. */
static held_message *hold(held_queue *q, size_t len, size_t max_n, size_t max_bytes)
{
    if (q->n == max_n || q->bytes + len > max_bytes)
        return NULL;
    held_message *h = malloc(sizeof *h + len);
    if (!h)
        abort();
    *h = (held_message){.len = len};
    *q->tail = h;
    q->tail = &h->next;
    q->n++;
    q->bytes += len;
    return h;
}

/* The queue's first entry, taken out (NULL when empty); the caller frees it. */
static held_message *unhold(held_queue *q)
{
    held_message *h = q->head;
    if (!h)
        return NULL;
    q->head = h->next;
    if (!q->head)
        q->tail = &q->head;
    q->n--;
    q->bytes -= h->len;
    return h;
}

static int signal_send(lkroom *r, const Livekit__SignalRequest *req)
{
    if (r->state != RECONNECTING || r->resume_step == RESTART_REPUBLISH)
        return lkroom_signal_send(r->sig, req);
    held_message *h =
        hold(&r->held, livekit__signal_request__get_packed_size(req), HELD_MAX, HELD_MAX_BYTES);
    if (!h)
        return -1;
    livekit__signal_request__pack(req, h->data);
    return 0;
}

/* Sends the held requests (send false: drops them, they were meant for a
 * session that is over). */
static void release_held(lkroom *r, bool send)
{
    for (held_message *h; (h = unhold(&r->held)); free(h))
        if (send)
            lkroom_signal_send_packed(r->sig, h->data, h->len);
}

static void on_sent(void *ctx, uint64_t token, const char *error);

/* Sends the held data packets, or (error) reports each as not sent. */
static void release_held_data(lkroom *r, const char *error)
{
    for (held_message *h; (h = unhold(&r->held_data)); free(h)) {
        int rc = error ? -1 : lkroom_transport_send(r->tr, h->reliable, h->data, h->len,
                                                     h->has_token ? &h->token : NULL);
        if (rc < 0 && h->has_token)
            on_sent(r, h->token, error ? error : "the room could not send it after reconnecting");
    }
}

/* Joined, and the session's changes are reported: also while resuming. */
static bool live(const lkroom *r)
{
    return r->state == CONNECTED || r->state == RECONNECTING;
}

static void set_string(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
    if (!*field)
        abort();
}

/* --- the session's reports ------------------------------------------------------ */

/* Participants change quietly until connected: the connect callback
 * brings the state as it is then. */
static void on_session_participant(void *ctx, lkroom_change c, const Livekit__ParticipantInfo *p,
                                   bool local)
{
    lkroom *r = ctx;
    if (live(r) && r->obs.participant)
        r->obs.participant(r->obs.ctx, c, p, local);
}

/* Tracks too: the connect callback brings those already published. */
static void on_session_track(void *ctx, lkroom_track_change c, const Livekit__ParticipantInfo *p,
                             const Livekit__TrackInfo *t)
{
    lkroom *r = ctx;
    /* As upstream: a track that goes is unsubscribed before it is
     * unpublished (the server stops sending; the next answer shows it). */
    if (c == LKROOM_TRACK_UNPUBLISHED && t->sid)
        lkroom_subscriber_forget(r->subscriber, t->sid);
    if (live(r) && r->obs.remote_track)
        r->obs.remote_track(r->obs.ctx, c, p, t);
}

static void on_session_speakers(void *ctx, const Livekit__ParticipantInfo *const *active, size_t n)
{
    lkroom *r = ctx;
    if (live(r) && r->obs.speakers)
        r->obs.speakers(r->obs.ctx, active, n);
}

/* As upstream: each entry told, changed or not; sids we do not know
 * (a participant gone meanwhile) passed over. */
static void connection_quality(lkroom *r, const Livekit__ConnectionQualityUpdate *u)
{
    if (!live(r) || !r->obs.quality)
        return;
    const Livekit__ParticipantInfo *local = lkroom_session_local(r->session);
    for (size_t i = 0; i < u->n_updates; i++) {
        const Livekit__ConnectionQualityInfo *q = u->updates[i];
        if (!q->participant_sid)
            continue;
        const Livekit__ParticipantInfo *p = local && local->sid &&
                                                    strcmp(local->sid, q->participant_sid) == 0
                                                ? local
                                                : lkroom_session_find_sid(r->session, q->participant_sid);
        if (p)
            r->obs.quality(r->obs.ctx, p, q->quality);
    }
}

static void on_session_update_done(void *ctx, uint64_t token, const char *error)
{
    lkroom *r = ctx;
    if (r->obs.update_done)
        r->obs.update_done(r->obs.ctx, token, error);
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
    if (!live(r))
        return;
    r->state = OVER;
    r->leave_deadline = 0;
    release_held(r, false);
    release_held_data(r, "the room was disconnected");
    lkroom_session_end(r->session, "the room was disconnected");
    lkio_timer_stop(r->w, &r->timer);
    if (r->obs.disconnected)
        r->obs.disconnected(r->obs.ctx, reason);
}

static void restart_joined(lkroom *r);

static void maybe_connected(lkroom *r)
{
    if (!lkroom_session_joined(r->session) || !r->ready)
        return;
    if (r->state == RECONNECTING && r->resume_step == RESTART_JOIN) {
        restart_joined(r);
        return;
    }
    if (r->state != CONNECTING)
        return;
    r->state = CONNECTED;
    lkio_timer_stop(r->w, &r->timer);
    if (r->obs.connected)
        r->obs.connected(r->obs.ctx, r, NULL);
    /* What the first answer bound, and an offer asked for meanwhile, now
     * that they can be reported and sent. */
    if (r->state == CONNECTED)
        lkroom_subscriber_on_answer(r->subscriber);
    if (r->state == CONNECTED && r->offer_again) {
        r->offer_again = false;
        send_offer(r);
    }
}

/* --- resuming ---------------------------------------------------------------------------- */

static void tell_reconnecting(lkroom *r)
{
    if (r->told_reconnecting)
        return;
    r->told_reconnecting = true;
    if (r->obs.reconnecting)
        r->obs.reconnecting(r->obs.ctx);
}

static void begin_resume(lkroom *r, Livekit__DisconnectReason reason)
{
    if (r->state != CONNECTED)
        return;
    r->state = RECONNECTING;
    r->resume_step = RESUME_START;
    r->resume_reason = reason;
    r->resume_deadline = lkio_now_ns();
    arm_timer(r);
    tell_reconnecting(r);
}

/* Back: what was held goes to the server, and the client hears it. */
static void reconnected(lkroom *r)
{
    r->state = CONNECTED;
    r->told_reconnecting = false;
    release_held(r, true);
    release_held_data(r, NULL);
    arm_timer(r);
    if (r->obs.reconnected)
        r->obs.reconnected(r->obs.ctx);
    if (r->state == CONNECTED && r->offer_again) {
        r->offer_again = false;
        send_offer(r);
    }
}

static void open_resume_signal(lkroom *r, uint64_t now);

/* What we have, for the server to check against what it has of us: it
 * reads the published tracks (one it does not know makes it ask for a
 * full reconnect) and the subscription; the rest is for a server that
 * moves sessions between nodes, sent as upstream sends it. */
static void send_sync_state(lkroom *r)
{
    const Livekit__ParticipantInfo *local = lkroom_session_local(r->session);
    size_t n = local ? local->n_tracks : 0;
    Livekit__TrackPublishedResponse *tracks = calloc(n ? n : 1, sizeof *tracks);
    Livekit__TrackPublishedResponse **track_ptrs = calloc(n ? n : 1, sizeof *track_ptrs);
    if (!tracks || !track_ptrs)
        abort();
    for (size_t i = 0; i < n; i++) {
        livekit__track_published_response__init(&tracks[i]);
        const char *cid = lkroom_publisher_cid(r->publisher, local->tracks[i]->sid);
        tracks[i].cid = (char *)(cid ? cid : "");
        tracks[i].track = local->tracks[i];
        track_ptrs[i] = &tracks[i];
    }
    static const char *const labels[4] = {"_reliable", "_lossy", "_reliable", "_lossy"};
    int ids[4];
    lkroom_transport_channel_ids(r->tr, ids);
    Livekit__DataChannelInfo channels[4], *channel_ptrs[4];
    size_t n_channels = 0;
    for (int i = 0; i < 4; i++) {
        if (ids[i] < 0)
            continue;
        livekit__data_channel_info__init(&channels[n_channels]);
        channels[n_channels].label = (char *)labels[i];
        channels[n_channels].id = (uint32_t)ids[i];
        channels[n_channels].target = i < 2 ? LIVEKIT__SIGNAL_TARGET__PUBLISHER
                                            : LIVEKIT__SIGNAL_TARGET__SUBSCRIBER;
        channel_ptrs[n_channels] = &channels[n_channels];
        n_channels++;
    }
    Livekit__SessionDescription offer = LIVEKIT__SESSION_DESCRIPTION__INIT;
    Livekit__SessionDescription answer = LIVEKIT__SESSION_DESCRIPTION__INIT;
    offer.type = (char *)"offer";
    offer.sdp = r->last_offer;
    answer.type = (char *)"answer";
    answer.sdp = r->last_answer;
    Livekit__UpdateSubscription sub = LIVEKIT__UPDATE_SUBSCRIPTION__INIT;
    sub.subscribe = !r->auto_subscribe;
    Livekit__SyncState ss = LIVEKIT__SYNC_STATE__INIT;
    ss.offer = r->last_offer ? &offer : NULL;
    ss.answer = r->last_answer ? &answer : NULL;
    ss.subscription = &sub;
    ss.n_publish_tracks = n;
    ss.publish_tracks = track_ptrs;
    ss.n_data_channels = n_channels;
    ss.data_channels = channel_ptrs;
    Livekit__SignalRequest req = LIVEKIT__SIGNAL_REQUEST__INIT;
    req.message_case = LIVEKIT__SIGNAL_REQUEST__MESSAGE_SYNC_STATE;
    req.sync_state = &ss;
    lkroom_signal_send(r->sig, &req);
    free(tracks);
    free(track_ptrs);
}

/* The server took us back: it has our state, and the ICE restart goes. */
static void on_reconnect_response(lkroom *r)
{
    uint64_t now = lkio_now_ns();
    r->resume_step = RESUME_TRANSPORT;
    r->resume_deadline = now + RESUME_ICE_MS * MS;
    lkpeer_stats st;
    lkpeer_get_stats(lkroom_transport_peer(r->tr), &st);
    r->pair_changes = st.pair_changes;
    send_sync_state(r);
    lkroom_transport_restart_ice(r->tr);
    r->offer_again = false; /* the restart's offer has every section */
    send_offer(r);
    arm_timer(r);
}

/* Resumed once the restart's offer is answered, its checks selected a
 * pair and the transport is up. */
static void maybe_resumed(lkroom *r)
{
    if (r->state != RECONNECTING || r->resume_step != RESUME_TRANSPORT)
        return;
    lkpeer *peer = lkroom_transport_peer(r->tr);
    lkpeer_stats st;
    lkpeer_get_stats(peer, &st);
    if (lkpeer_offer_pending(peer) || st.state != LKPEER_CONNECTED ||
        st.pair_changes == r->pair_changes)
        return;
    reconnected(r);
}

/* --- full reconnect ------------------------------------------------------------------ */

/* The session is gone (a Leave asking for it, or a resume that failed):
 * we join again as a new participant, from the timer. A signal connection
 * still up says Leave first, as upstream's does, so that the others see
 * us leave before the new participant joins under our identity. What was
 * held was meant for the participant we were. */
static void begin_restart(lkroom *r, Livekit__DisconnectReason reason)
{
    uint64_t wait_ms = 0;
    if (r->state == CONNECTED) {
        r->state = RECONNECTING;
        r->resume_reason = reason;
        lkroom_signal_leave(r->sig, LIVEKIT__DISCONNECT_REASON__CLIENT_INITIATED);
        wait_ms = RESTART_LEAVE_MS; /* or until it closes (on_signal_ended) */
    } else if (r->state != RECONNECTING || r->resume_step >= RESTART_WAIT) {
        return;
    }
    release_held(r, false);
    r->resume_step = RESTART_WAIT;
    r->restart_attempts = 0;
    r->resume_deadline = lkio_now_ns() + wait_ms * MS;
    arm_timer(r);
}

/* An attempt failed: the next one after a random wait, or the end. */
static void restart_failed(lkroom *r)
{
    if (r->restart_attempts >= RESTART_ATTEMPTS) {
        end_session(r, r->resume_reason);
        return;
    }
    uint64_t cap = RESTART_BACKOFF_MS << (r->restart_attempts - 1);
    if (cap > RESTART_BACKOFF_MAX_MS)
        cap = RESTART_BACKOFF_MAX_MS;
    uint32_t x = 0;
    RAND_bytes((uint8_t *)&x, sizeof x);
    r->resume_step = RESTART_WAIT;
    r->resume_deadline = lkio_now_ns() + (x % (cap + 1)) * MS;
    arm_timer(r);
}

static int open_session(lkroom *r, char *err, size_t errlen);

/* One attempt: the first removes every remote participant (as upstream,
 * before it reports reconnecting); each makes a new transport and joins
 * with the latest token, our tracks moved over to be published again. */
static void restart_attempt(lkroom *r, uint64_t now)
{
    if (r->restart_attempts++ == 0) {
        lkroom_session_restart(r->session, "the session was reset by a full reconnect");
        tell_reconnecting(r);
        if (r->state != RECONNECTING) /* the client left meanwhile */
            return;
    }
    release_held(r, false);
    char err[300];
    if (open_session(r, err, sizeof err) < 0) {
        restart_failed(r);
        return;
    }
    r->resume_step = RESTART_JOIN;
    r->resume_deadline = now + r->connect_timeout_ms * MS;
}

/* Reconnected once every track is published again (or failed to be). */
static void maybe_restarted(lkroom *r)
{
    if (r->state == RECONNECTING && r->resume_step == RESTART_REPUBLISH &&
        !lkroom_publisher_republishing(r->publisher))
        reconnected(r);
}

/* Joined again with the transport up: our tracks go out again. With none
 * to publish, reconnected at once: this step has no deadline of its own,
 * and nothing else may come to look again (CI once waited 45 s here, the
 * room joined, no track, no timer armed). */
static void restart_joined(lkroom *r)
{
    r->resume_step = RESTART_REPUBLISH;
    r->resume_deadline = UINT64_MAX; /* each track has its own bound */
    lkroom_publisher_republish(r->publisher, lkio_now_ns());
    maybe_restarted(r);
    arm_timer(r);
}

/* A failure while joining: the first join's end, or a failed attempt. */
static void join_failed(lkroom *r, const char *error)
{
    if (r->state == CONNECTING)
        end_connecting(r, error);
    else if (r->state == RECONNECTING && r->resume_step >= RESTART_JOIN)
        restart_failed(r);
}

/* When the timer is due while reconnecting: the step's bound, and while
 * ICE restarts, the next look at it. */
static uint64_t resume_due_at(const lkroom *r, uint64_t now)
{
    uint64_t poll = now + RESUME_POLL_MS * MS;
    return r->resume_step == RESUME_TRANSPORT && poll < r->resume_deadline ? poll
                                                                            : r->resume_deadline;
}

/* From the timer, whenever it runs while reconnecting. */
static void resume_timer(lkroom *r, uint64_t now)
{
    switch (r->resume_step) {
    case RESUME_START:
        open_resume_signal(r, now);
        break;
    case RESUME_SIGNAL:
    case RESUME_TRANSPORT:
        if (now >= r->resume_deadline) /* no answer, or no ICE, in time */
            begin_restart(r, r->resume_reason);
        else
            maybe_resumed(r);
        break;
    case RESTART_WAIT:
        if (now >= r->resume_deadline)
            restart_attempt(r, now);
        break;
    case RESTART_JOIN:
    case RESTART_REPUBLISH:
        if (now >= r->resume_deadline)
            restart_failed(r);
        break;
    }
}

/* --- signal ------------------------------------------------------------------------------ */

/* Upstream has no handler for this (it offers every codec it decodes);
 * ours offers VP8 and H.264, so a VP9 or AV1 camera without a VP8 or
 * H.264 backup lands here, and the client hears why rather than nothing. */
static void subscription_failed(lkroom *r, const Livekit__SubscriptionResponse *m)
{
    if (r->state != CONNECTED || !m->track_sid || !*m->track_sid || !r->obs.subscription_failed)
        return;
    const Livekit__ParticipantInfo *owner = NULL;
    const Livekit__TrackInfo *t = lkroom_remote_track(r, m->track_sid, &owner);
    char why[160];
    switch (m->err) {
    case LIVEKIT__SUBSCRIPTION_ERROR__SE_CODEC_UNSUPPORTED:
        snprintf(why, sizeof why, "unsupported codec %s: this build decodes VP8, H.264 and Opus",
                 t && t->mime_type && *t->mime_type ? t->mime_type : "(unknown)");
        break;
    case LIVEKIT__SUBSCRIPTION_ERROR__SE_TRACK_NOTFOUND:
        snprintf(why, sizeof why, "the server no longer has the track");
        break;
    default:
        snprintf(why, sizeof why, "the server could not subscribe us (error %d)", (int)m->err);
        break;
    }
    r->obs.subscription_failed(r->obs.ctx, m->track_sid, why);
}

static void on_signal(void *ctx, const Livekit__SignalResponse *m)
{
    lkroom *r = ctx;
    char err[300];
    if (r->state == RECONNECTING &&
        (r->resume_step == RESUME_START || r->resume_step == RESTART_WAIT))
        return; /* the lost connection's last words, or a failed attempt's */
    if (r->state == RECONNECTING && r->resume_step == RESUME_SIGNAL &&
        m->message_case != LIVEKIT__SIGNAL_RESPONSE__MESSAGE_RECONNECT &&
        m->message_case != LIVEKIT__SIGNAL_RESPONSE__MESSAGE_LEAVE)
        return; /* as upstream: the resume's answer comes first */
    switch (m->message_case) {
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_RECONNECT:
        if (r->state == RECONNECTING && r->resume_step == RESUME_SIGNAL)
            on_reconnect_response(r);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_REFRESH_TOKEN:
        if (m->refresh_token && *m->refresh_token) {
            set_string(&r->token, m->refresh_token);
            if (live(r) && r->obs.token_refreshed)
                r->obs.token_refreshed(r->obs.ctx, r->token);
        }
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_JOIN:
        r->ping_interval = m->join->ping_interval;
        r->ping_timeout = m->join->ping_timeout;
        switch (lkroom_session_join(r->session, m->join)) {
        case LKROOM_JOIN_OK:
            maybe_connected(r);
            break;
        case LKROOM_JOIN_INCOMPLETE:
            join_failed(r, "the server's JoinResponse lacks the room or the participant");
            break;
        case LKROOM_JOIN_REPEATED:
            break; /* the first one made the session */
        }
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_ANSWER:
        if (lkroom_transport_answer(r->tr, m->answer->sdp, strlen(m->answer->sdp), err,
                                    sizeof err) < 0) {
            char msg[400];
            snprintf(msg, sizeof msg, "the server's SDP answer is unusable: %s", err);
            join_failed(r, msg);
            break;
        }
        set_string(&r->last_answer, m->answer->sdp);
        lkroom_publisher_on_answer(r->publisher);
        if (live(r)) /* else when connected */
            lkroom_subscriber_on_answer(r->subscriber);
        if (r->offer_again &&
            (r->state != RECONNECTING || r->resume_step == RESTART_REPUBLISH)) {
            r->offer_again = false;
            send_offer(r);
        }
        maybe_resumed(r);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_TRACK_PUBLISHED:
        lkroom_publisher_on_published(r->publisher, m->track_published);
        maybe_restarted(r);
        arm_timer(r);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_MEDIA_SECTIONS_REQUIREMENT:
        lkroom_subscriber_on_requirement(r->subscriber, m->media_sections_requirement);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_TRACK_SUBSCRIBED:
        if (live(r) && r->obs.local_track_subscribed &&
            m->track_subscribed->track_sid)
            r->obs.local_track_subscribed(r->obs.ctx, m->track_subscribed->track_sid);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_PONG_RESP:
        /* the signal's round trip stands for the media's (same server) */
        if (r->subscriber && lkroom_signal_rtt_ms(r->sig) > 0)
            lkroom_subscriber_set_rtt(r->subscriber, (uint32_t)lkroom_signal_rtt_ms(r->sig));
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_SUBSCRIBED_QUALITY_UPDATE:
        if (r->dynacast) /* else every layer goes, as upstream's do */
            lkroom_publisher_on_qualities(r->publisher, m->subscribed_quality_update);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_SUBSCRIPTION_RESPONSE:
        subscription_failed(r, m->subscription_response);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_TRICKLE:
        lkroom_transport_trickle(r->tr, m->trickle->candidateinit);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_UPDATE:
        lkroom_session_participant_update(r->session, m->update);
        arm_timer(r); /* it may have finished local updates */
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_SPEAKERS_CHANGED:
        lkroom_session_speakers(r->session, m->speakers_changed);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_CONNECTION_QUALITY:
        connection_quality(r, m->connection_quality);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_ROOM_UPDATE:
        lkroom_session_room_update(r->session, m->room_update);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_REQUEST_RESPONSE:
        lkroom_session_request_response(r->session, m->request_response);
        lkroom_publisher_on_refused(r->publisher, m->request_response);
        maybe_restarted(r);
        arm_timer(r);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_LEAVE:
        if (r->state == CONNECTING) {
            snprintf(err, sizeof err, "the server ended the session while joining (reason %d)",
                     (int)m->leave->reason);
            end_connecting(r, err);
        } else if (r->leaving || m->leave->action == LIVEKIT__LEAVE_REQUEST__ACTION__DISCONNECT) {
            end_session(r, r->leaving ? r->leave_reason : m->leave->reason);
        } else if (r->state == CONNECTED &&
                   m->leave->action == LIVEKIT__LEAVE_REQUEST__ACTION__RESUME) {
            begin_resume(r, m->leave->reason);
        } else if (r->state == RECONNECTING && r->resume_step >= RESTART_JOIN) {
            restart_failed(r); /* this attempt refused */
        } else {
            begin_restart(r, m->leave->reason); /* asked for, or a resume refused */
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
    } else if (r->leaving) {
        end_session(r, r->leave_reason);
    } else if (r->state == CONNECTED) {
        begin_resume(r, LIVEKIT__DISCONNECT_REASON__SIGNAL_CLOSE);
    } else if (r->state != RECONNECTING) {
        return;
    } else if (r->resume_step == RESTART_WAIT && r->restart_attempts == 0) {
        r->resume_deadline = lkio_now_ns(); /* our Leave went: join again now */
        arm_timer(r);
    } else if (r->resume_step == RESUME_SIGNAL || r->resume_step == RESUME_TRANSPORT) {
        begin_restart(r, r->resume_reason); /* the resume's connection failed */
    } else if (r->resume_step >= RESTART_JOIN) {
        if (http_status == 401 || http_status == 403) /* the token is no longer good */
            end_session(r, LIVEKIT__DISCONNECT_REASON__JOIN_FAILURE);
        else
            restart_failed(r);
    }
}

/* --- transport --------------------------------------------------------------------------- */

static void on_transport_state(void *ctx, enum lkpeer_state s, const char *why)
{
    lkroom *r = ctx;
    if (s == LKPEER_CONNECTED)
        maybe_resumed(r);
    if (s != LKPEER_FAILED && s != LKPEER_CLOSED)
        return;
    if (r->state == CONNECTING) {
        char msg[400];
        snprintf(msg, sizeof msg, "could not connect the media transport: %s",
                 why ? why : "closed");
        end_connecting(r, msg);
    } else if (r->leaving) { /* the server closing us after our Leave */
        end_session(r, r->leave_reason);
    } else if (r->state == CONNECTED) {
        /* the PeerConnection is gone, DTLS with it: joined again, as
         * upstream ends up doing after trying an ICE restart on it */
        begin_restart(r, LIVEKIT__DISCONNECT_REASON__MEDIA_FAILURE);
    } else if (r->state != RECONNECTING) {
        return;
    } else if (r->resume_step >= RESTART_JOIN) {
        restart_failed(r);
    } else if (r->resume_step != RESTART_WAIT) {
        begin_restart(r, r->resume_reason); /* the resume could not keep it */
    }
}

static void on_message(void *ctx, bool reliable, const uint8_t *data, size_t len)
{
    lkroom *r = ctx;
    if (!live(r))
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

static void on_drained(void *ctx)
{
    lkroom *r = ctx;
    if (r->leave_deadline)
        send_leave(r);
}

static void on_channels_ready(void *ctx)
{
    lkroom *r = ctx;
    r->ready = true;
    maybe_connected(r);
}

/* --- the timer, local updates ------------------------------------------------------------ */

static void arm_timer(lkroom *r)
{
    uint64_t d = lkroom_session_next_deadline(r->session);
    uint64_t p = r->publisher ? lkroom_publisher_next_deadline(r->publisher) : UINT64_MAX;
    d = p < d ? p : d;
    if (r->state == CONNECTING && r->connect_deadline < d)
        d = r->connect_deadline;
    if (r->state == RECONNECTING) {
        uint64_t e = resume_due_at(r, lkio_now_ns());
        d = e < d ? e : d;
    }
    if (r->leave_deadline && r->leave_deadline < d)
        d = r->leave_deadline;
    if (r->close_signal_at && r->close_signal_at < d)
        d = r->close_signal_at;
    if (d == UINT64_MAX)
        lkio_timer_stop(r->w, &r->timer);
    else
        lkio_timer_start(r->w, &r->timer, d);
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
    if (r->state == RECONNECTING) {
        resume_timer(r, now);
        if (r->state == OVER) /* the resume failed: nothing more to time */
            return;
    }
    if (r->leave_deadline && now >= r->leave_deadline)
        send_leave(r);
    if (r->close_signal_at && now >= r->close_signal_at) {
        r->close_signal_at = 0;
        if (r->state == CONNECTED) /* on_signal_ended makes the resume */
            lkroom_signal_close(r->sig);
    }
    lkroom_session_expire(r->session, now);
    if (r->publisher)
        lkroom_publisher_expire(r->publisher, now);
    maybe_restarted(r);
    arm_timer(r);
}

/* --- publishing --------------------------------------------------------------------------- */

/* Renegotiation: we offer, the server answers; one offer at a time. */
static void send_offer(lkroom *r)
{
    if (r->state == OVER)
        return;
    bool resuming_signal = r->state == RECONNECTING && r->resume_step != RESUME_TRANSPORT &&
                           r->resume_step != RESTART_REPUBLISH;
    if (r->state == CONNECTING || resuming_signal ||
        lkpeer_offer_pending(lkroom_transport_peer(r->tr))) {
        r->offer_again = true; /* once connected or resumed, or after the answer */
        return;
    }
    char *sdp = malloc(LKROOM_OFFER_CAP);
    if (!sdp)
        abort();
    size_t n = lkroom_transport_offer(r->tr, sdp, LKROOM_OFFER_CAP);
    Livekit__SessionDescription sd = LIVEKIT__SESSION_DESCRIPTION__INIT;
    sd.type = (char *)"offer";
    sd.sdp = sdp;
    Livekit__SignalRequest req = LIVEKIT__SIGNAL_REQUEST__INIT;
    req.message_case = LIVEKIT__SIGNAL_REQUEST__MESSAGE_OFFER;
    req.offer = &sd;
    if (n) {
        lkroom_signal_send(r->sig, &req);
        set_string(&r->last_offer, sdp);
    }
    free(sdp);
}

static int publisher_signal(void *ctx, const Livekit__SignalRequest *req)
{
    return signal_send(ctx, req);
}

static void publisher_negotiate(void *ctx)
{
    send_offer(ctx);
}

static void publisher_published(void *ctx, uint64_t token, lkroom_local_track *t,
                                const Livekit__TrackInfo *info, const char *error)
{
    lkroom *r = ctx;
    if (r->obs.track_published)
        r->obs.track_published(r->obs.ctx, token, t, info, error);
}

static void publisher_republished(void *ctx, lkroom_local_track *t, const char *previous_sid,
                                  const Livekit__TrackInfo *info, const char *error)
{
    lkroom *r = ctx;
    if (r->obs.track_republished)
        r->obs.track_republished(r->obs.ctx, t, previous_sid, info, error);
}

/* A video track in a codec we do not decode: the server binds it to a
 * section all the same, then says it cannot serve it (SubscriptionResponse),
 * and that is what the client hears, not a track that never plays. */
static bool undecodable(const lkroom *r, const char *track_sid)
{
    const Livekit__ParticipantInfo *owner = NULL;
    const Livekit__TrackInfo *t = lkroom_remote_track(r, track_sid, &owner);
    return t && t->type == LIVEKIT__TRACK_TYPE__VIDEO && t->mime_type && *t->mime_type &&
           strcasecmp(t->mime_type, "video/vp8") != 0 && strcasecmp(t->mime_type, "video/h264") != 0;
}

static void subscriber_subscribed(void *ctx, const char *participant_sid, const char *track_sid)
{
    lkroom *r = ctx;
    if (undecodable(r, track_sid))
        return;
    if (r->obs.track_subscribed)
        r->obs.track_subscribed(r->obs.ctx, participant_sid, track_sid, true);
}

static void subscriber_unsubscribed(void *ctx, const char *participant_sid, const char *track_sid)
{
    lkroom *r = ctx;
    if (r->obs.track_subscribed)
        r->obs.track_subscribed(r->obs.ctx, participant_sid, track_sid, false);
}

static void subscriber_audio(void *ctx, const char *track_sid, const int16_t *pcm, size_t samples)
{
    lkroom *r = ctx;
    if (r->obs.audio)
        r->obs.audio(r->obs.ctx, track_sid, pcm, samples);
}

static void subscriber_video(void *ctx, const char *track_sid, const lkvp8_image *img,
                             uint32_t rtp_ts)
{
    lkroom *r = ctx;
    if (r->obs.video)
        r->obs.video(r->obs.ctx, track_sid, img, rtp_ts);
}

static void subscriber_failed(void *ctx, const char *track_sid, const char *why)
{
    lkroom *r = ctx;
    if (r->obs.subscription_failed)
        r->obs.subscription_failed(r->obs.ctx, track_sid, why);
}

static void on_rtp(void *ctx, int section, const uint8_t *pkt, size_t len)
{
    lkroom *r = ctx;
    lkroom_subscriber_on_rtp(r->subscriber, section, pkt, len);
}

static void on_rtcp(void *ctx, const uint8_t *pkt, size_t len)
{
    lkroom *r = ctx;
    lkroom_publisher_on_rtcp(r->publisher, pkt, len);
    lkroom_subscriber_on_rtcp(r->subscriber, pkt, len);
}

lkroom_local_track *lkroom_publish(lkroom *r, uint64_t token, const lkroom_track_options *o,
                                   char *err, size_t errlen)
{
    if (!live(r) || r->leaving) {
        snprintf(err, errlen, "cannot publish: the room is not connected");
        return NULL;
    }
    lkroom_local_track *t =
        lkroom_publisher_add(r->publisher, token, o, lkio_now_ns(), err, errlen);
    arm_timer(r);
    return t;
}

int lkroom_set_subscribed(lkroom *r, const char *participant_sid, const char *track_sid,
                          bool subscribe, char *err, size_t errlen)
{
    if (!live(r) || r->leaving) {
        snprintf(err, errlen, "the room is not connected");
        return -1;
    }
    /* As upstream: an unsubscribed track ends before the server hears of
     * it, and audio already in flight is dropped. */
    if (subscribe)
        lkroom_subscriber_want(r->subscriber, track_sid);
    else
        lkroom_subscriber_unwant(r->subscriber, track_sid);
    char *sids[1] = {(char *)track_sid};
    Livekit__ParticipantTracks pt = LIVEKIT__PARTICIPANT_TRACKS__INIT;
    pt.participant_sid = (char *)participant_sid;
    pt.n_track_sids = 1;
    pt.track_sids = sids;
    Livekit__ParticipantTracks *pts[1] = {&pt};
    Livekit__UpdateSubscription u = LIVEKIT__UPDATE_SUBSCRIPTION__INIT;
    u.n_track_sids = 1;
    u.track_sids = sids;
    u.subscribe = subscribe;
    u.n_participant_tracks = 1;
    u.participant_tracks = pts;
    Livekit__SignalRequest req = LIVEKIT__SIGNAL_REQUEST__INIT;
    req.message_case = LIVEKIT__SIGNAL_REQUEST__MESSAGE_SUBSCRIPTION;
    req.subscription = &u;
    if (signal_send(r, &req) < 0) {
        snprintf(err, errlen, "the signal connection is down");
        return -1;
    }
    return 0;
}

int lkroom_update_track_settings(lkroom *r, const char *track_sid,
                                 const lkroom_track_settings *ts, char *err, size_t errlen)
{
    if (!live(r) || r->leaving) {
        snprintf(err, errlen, "the room is not connected");
        return -1;
    }
    char *sids[1] = {(char *)track_sid};
    Livekit__UpdateTrackSettings u = LIVEKIT__UPDATE_TRACK_SETTINGS__INIT;
    u.n_track_sids = 1;
    u.track_sids = sids;
    u.disabled = ts->disabled;
    u.quality = ts->quality;
    u.width = ts->width;
    u.height = ts->height;
    Livekit__SignalRequest req = LIVEKIT__SIGNAL_REQUEST__INIT;
    req.message_case = LIVEKIT__SIGNAL_REQUEST__MESSAGE_TRACK_SETTING;
    req.track_setting = &u;
    if (signal_send(r, &req) < 0) {
        snprintf(err, errlen, "the signal connection is down");
        return -1;
    }
    return 0;
}

void lkroom_update_local(lkroom *r, uint64_t token, const char *metadata, const char *name,
                         const char *const *keys, const char *const *values, size_t n)
{
    const char *refused = NULL;
    if (!live(r))
        refused = "the room is not connected";
    else if (lkroom_session_pending(r->session) == LKROOM_SESSION_MAX_PENDING)
        refused = "too many updates waiting for the server";
    if (refused) {
        if (r->obs.update_done)
            r->obs.update_done(r->obs.ctx, token, refused);
        return;
    }
    const Livekit__ParticipantInfo *local = lkroom_session_local(r->session);
    Livekit__UpdateParticipantMetadata u = LIVEKIT__UPDATE_PARTICIPANT_METADATA__INIT;
    /* Unchanged fields are sent as they are now: the server takes the whole
     * record. */
    u.metadata = (char *)(metadata ? metadata : local->metadata);
    u.name = (char *)(name ? name : local->name);
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
    int sent = signal_send(r, &req);
    free(entries);
    free(ptrs);
    if (sent < 0) {
        if (r->obs.update_done)
            r->obs.update_done(r->obs.ctx, token, "the signal connection is down");
        return;
    }
    /* room for it was checked above */
    (void)lkroom_session_expect(r->session, u.request_id, token,
                                lkio_now_ns() + UPDATE_TIMEOUT_MS * MS, metadata, name, keys,
                                values, n);
    arm_timer(r);
}

/* --- the API ----------------------------------------------------------------------------------- */

/* A new transport with its receivers for the join (the old one, if any,
 * closed once the new one exists: sends still queued on it fail), our
 * tracks moved to it, and a signal connection joining with its offer and
 * the latest token: at connect, and at each full reconnect attempt. */
static int open_session(lkroom *r, char *err, size_t errlen)
{
    char why[300];
    lkroom_transport_callbacks tcb = {r,          on_transport_state, on_channels_ready,
                                      on_message, on_sent,            on_drained,
                                      on_rtp,     on_rtcp};
    lkroom_transport *tr = lkroom_transport_new(r->w, &tcb, why, sizeof why);
    if (!tr) {
        snprintf(err, errlen, "could not join: %s", why);
        return -1;
    }
    if (r->sig)
        lkroom_signal_destroy(r->sig);
    r->sig = NULL;
    lkroom_subscriber_free(r->subscriber);
    if (r->tr) {
        lkroom_transport_fail_queued(r->tr, "the connection was lost");
        lkroom_transport_destroy(r->tr);
    }
    r->tr = tr;
    r->ready = false;
    lkroom_subscriber_env senv = {r, publisher_negotiate, subscriber_subscribed,
                                  subscriber_unsubscribed, subscriber_audio, subscriber_video,
                                  subscriber_failed};
    r->subscriber = lkroom_subscriber_new(r->w, tr, &senv);
    lkroom_subscriber_prepare_join(r->subscriber);
    lkroom_publisher_env env = {r, publisher_signal, publisher_negotiate, publisher_published,
                                publisher_republished};
    if (r->publisher)
        lkroom_publisher_move(r->publisher, tr);
    else
        r->publisher = lkroom_publisher_new(r->w, tr, &env);
    char offer[JOIN_OFFER_CAP]; /* the data section and idle receivers */
    if (!lkroom_transport_offer(tr, offer, sizeof offer)) {
        snprintf(err, errlen, "could not join: no SDP offer");
        return -1;
    }
    set_string(&r->last_offer, offer);
    free(r->last_answer);
    r->last_answer = NULL;
    Livekit__SessionDescription sd = LIVEKIT__SESSION_DESCRIPTION__INIT;
    sd.type = (char *)"offer";
    sd.sdp = offer;
    lkroom_join_params p = {.url = r->url,
                            .token = r->token,
                            .auto_subscribe = r->auto_subscribe,
                            .adaptive_stream = r->adaptive_stream,
                            .publisher_offer = &sd};
    lkroom_signal_callbacks scb = {r, on_signal, on_signal_ended};
    if (!(r->sig = lkroom_signal_connect(r->w, &p, &scb, why, sizeof why))) {
        snprintf(err, errlen, "could not join: %s", why);
        return -1;
    }
    return 0;
}

lkroom *lkroom_connect(lkio_worker *w, const char *url, const char *token,
                       const lkroom_options *opts, const lkroom_observer *obs)
{
    lkroom *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->w = w;
    r->obs = *obs;
    r->held.tail = &r->held.head;
    r->held_data.tail = &r->held_data.head;
    lkroom_session_observer sobs = {r, on_session_participant, on_session_update_done,
                                    on_session_track, on_session_speakers};
    r->session = lkroom_session_new(&sobs);
    lkio_timer_init(&r->timer, on_timer);
    r->connect_timeout_ms = opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000;
    r->dynacast = opts && opts->dynacast;
    r->auto_subscribe = opts ? opts->auto_subscribe : true;
    r->adaptive_stream = opts ? opts->adaptive_stream : false;
    set_string(&r->url, url);
    set_string(&r->token, token);
    r->connect_deadline = lkio_now_ns() + r->connect_timeout_ms * MS;
    char err[300];
    lknet_url check;
    if (!*token)
        snprintf(r->early_error, sizeof r->early_error, "could not join: no access token");
    else if (lknet_url_parse(&check, url, err, sizeof err) < 0)
        /* refused before any socket or certificate is made */
        snprintf(r->early_error, sizeof r->early_error, "could not join: %s", err);
    else
        open_session(r, r->early_error, sizeof r->early_error);
    if (r->early_error[0]) /* from the timer: never inside this call */
        r->connect_deadline = lkio_now_ns();
    arm_timer(r);
    return r;
}

const Livekit__Room *lkroom_info(const lkroom *r)
{
    return lkroom_session_room(r->session);
}

const Livekit__ParticipantInfo *lkroom_local(const lkroom *r)
{
    return lkroom_session_local(r->session);
}

size_t lkroom_remote_count(const lkroom *r)
{
    return lkroom_session_remote_count(r->session);
}

const Livekit__ParticipantInfo *lkroom_remote(const lkroom *r, size_t i)
{
    return lkroom_session_remote(r->session, i);
}

const Livekit__ParticipantInfo *lkroom_remote_by_identity(const lkroom *r, const char *identity)
{
    return lkroom_session_find_identity(r->session, identity);
}

const Livekit__TrackInfo *lkroom_remote_track(const lkroom *r, const char *track_sid,
                                              const Livekit__ParticipantInfo **owner)
{
    return lkroom_session_find_track(r->session, track_sid, owner);
}

const char *lkroom_server_version(const lkroom *r)
{
    return lkroom_session_server_version(r->session);
}

const lkpeer *lkroom_peer(const lkroom *r)
{
    return r->tr ? lkroom_transport_peer(r->tr) : NULL;
}

int lkroom_send_packet(lkroom *r, Livekit__DataPacket *p, bool reliable, const uint64_t *token,
                       char *err, size_t errlen)
{
    if (!live(r)) {
        snprintf(err, errlen, "the room is not connected");
        return -1;
    }
    /* ours for the encoding only: the caller's packet comes back as it was */
    const Livekit__ParticipantInfo *local = lkroom_session_local(r->session);
    Livekit__DataPacket q = *p;
    q.participant_identity = local->identity;
    q.participant_sid = local->sid;
    q.kind = reliable ? LIVEKIT__DATA_PACKET__KIND__RELIABLE : LIVEKIT__DATA_PACKET__KIND__LOSSY;
    q.sequence = reliable ? r->next_sequence + 1 : 0;
    size_t len = livekit__data_packet__get_packed_size(&q);
    uint8_t small[1024], *buf = len <= sizeof small ? small : malloc(len);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    livekit__data_packet__pack(&q, buf);
    int rc;
    held_message *h;
    if (r->state == RECONNECTING || r->held_data.head) {
        /* As upstream: it goes once reconnected, on whatever transport
         * then is (a full reconnect makes a new one; the server writes the
         * sender's new sid over the old one packed here); and behind what
         * is held, which a packet sent from a packet_sent of the release
         * would overtake. */
        rc = -ENOBUFS;
        if ((h = hold(&r->held_data, len, SIZE_MAX, HELD_DATA_MAX_BYTES))) {
            memcpy(h->data, buf, len);
            h->reliable = reliable;
            h->has_token = token != NULL;
            h->token = token ? *token : 0;
            rc = 0;
        }
    } else {
        rc = lkroom_transport_send(r->tr, reliable, buf, len, token);
    }
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
    if (r->state == RECONNECTING) { /* no signal to say it on: just go */
        end_session(r, reason);
        return;
    }
    if (r->state != CONNECTED || r->leaving)
        return;
    /* Data published before leaving arrives: the Leave waits (bounded)
     * until the server has acknowledged it, as the server closes our
     * transport when it reads the Leave. The client's own reason is what
     * is reported, as upstream does. */
    r->leaving = true;
    r->leave_reason = reason;
    r->leave_deadline = lkio_now_ns() + LEAVE_LINGER_MS * MS;
    if (!r->tr || lkroom_transport_drain(r->tr))
        send_leave(r);
    arm_timer(r);
}

/* The session ends when the server has our Leave and closes (or the close
 * handshake times out): destroying sooner could lose the Leave. */
static void send_leave(lkroom *r)
{
    r->leave_deadline = 0;
    lkroom_signal_leave(r->sig, r->leave_reason);
}

/* The resume's signal connection: the same participant, the latest token. */
static void open_resume_signal(lkroom *r, uint64_t now)
{
    if (r->sig)
        lkroom_signal_destroy(r->sig);
    const Livekit__ParticipantInfo *local = lkroom_session_local(r->session);
    lkroom_join_params p = {.url = r->url,
                            .token = r->token,
                            .auto_subscribe = r->auto_subscribe,
                            .adaptive_stream = r->adaptive_stream,
                            .reconnect = true,
                            .participant_sid = local->sid,
                            .ping_interval = r->ping_interval,
                            .ping_timeout = r->ping_timeout};
    lkroom_signal_callbacks scb = {r, on_signal, on_signal_ended};
    char err[300];
    r->sig = lkroom_signal_connect(r->w, &p, &scb, err, sizeof err);
    r->resume_step = RESUME_SIGNAL;
    r->resume_deadline = now + RESUME_SIGNAL_MS * MS;
    if (!r->sig) /* the URL joined once: only memory could fail it */
        end_session(r, r->resume_reason);
}

int lkroom_simulate(lkroom *r, lkroom_scenario s)
{
    if (r->state != CONNECTED || r->leaving)
        return -1;
    Livekit__SimulateScenario sim = LIVEKIT__SIMULATE_SCENARIO__INIT;
    switch (s) {
    case LKROOM_SIMULATE_SIGNAL_LOSS:
        begin_resume(r, LIVEKIT__DISCONNECT_REASON__SIGNAL_CLOSE);
        return 0;
    case LKROOM_SIMULATE_FULL_RECONNECT: /* upstream: a Leave{RECONNECT} of its own */
        begin_restart(r, LIVEKIT__DISCONNECT_REASON__CLIENT_INITIATED);
        return 0;
    case LKROOM_SIMULATE_RESUME_CUT:
        sim.scenario_case = LIVEKIT__SIMULATE_SCENARIO__SCENARIO_DISCONNECT_SIGNAL_ON_RESUME;
        sim.disconnect_signal_on_resume = true;
        break;
    case LKROOM_SIMULATE_NODE_FAILURE:
        sim.scenario_case = LIVEKIT__SIMULATE_SCENARIO__SCENARIO_NODE_FAILURE;
        sim.node_failure = true;
        break;
    case LKROOM_SIMULATE_SERVER_LEAVE:
        sim.scenario_case = LIVEKIT__SIMULATE_SCENARIO__SCENARIO_SERVER_LEAVE;
        sim.server_leave = true;
        break;
    case LKROOM_SIMULATE_MIGRATION:
        sim.scenario_case = LIVEKIT__SIMULATE_SCENARIO__SCENARIO_MIGRATION;
        sim.migration = true;
        break;
    case LKROOM_SIMULATE_SPEAKER:
        sim.scenario_case = LIVEKIT__SIMULATE_SCENARIO__SCENARIO_SPEAKER_UPDATE;
        sim.speaker_update = 3;
        break;
    }
    Livekit__SignalRequest req = LIVEKIT__SIGNAL_REQUEST__INIT;
    req.message_case = LIVEKIT__SIGNAL_REQUEST__MESSAGE_SIMULATE;
    req.simulate = &sim;
    if (lkroom_signal_send(r->sig, &req) < 0)
        return -1;
    if (s == LKROOM_SIMULATE_RESUME_CUT) {
        r->close_signal_at = lkio_now_ns() + RESUME_CUT_DELAY_MS * MS;
        arm_timer(r);
    }
    return 0;
}

void lkroom_destroy(lkroom *r)
{
    lkio_timer_stop(r->w, &r->timer);
    if (r->sig)
        lkroom_signal_destroy(r->sig);
    lkroom_publisher_free(r->publisher);
    lkroom_subscriber_free(r->subscriber);
    if (r->tr)
        lkroom_transport_destroy(r->tr);
    lkroom_session_free(r->session);
    free(r->url);
    free(r->token);
    free(r->last_offer);
    free(r->last_answer);
    release_held(r, false);
    for (held_message *h; (h = unhold(&r->held_data)); free(h))
        ; /* no callback from here on */
    free(r);
}
