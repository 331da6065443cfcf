/*
 * transport.c: lkpeer on the ring.
 *
 * Datagrams arrive through one recvmsg kept armed per socket. They leave
 * through sendto with MSG_DONTWAIT: a UDP send does not wait for the peer,
 * so it cannot block the worker, and it costs one syscall with no copy or
 * bookkeeping (a full socket buffer drops the datagram, as the network
 * would; every layer above retransmits). One timer follows the peer's next
 * deadline, moved after everything that may change it.
 *
 * Data: we send on the two channels we open, and take messages on those and
 * on the server's own "_reliable"/"_lossy" (it opens them toward us in
 * single-PeerConnection mode). A reliable message SCTP cannot take yet waits
 * in a queue (bounded: QUEUE_LIMIT bytes) and goes out on `writable`, in
 * order; a lossy one that does not fit is dropped, as the network would.
 */
#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trickle.h"

enum { MAX_SOCKETS = 8, DATAGRAM = 1500 };
static const size_t QUEUE_LIMIT = 16u << 20;
/* How long acknowledged data the server has not read yet gets to be read:
 * the server drops what it reads after our Leave, and pion says nothing
 * when its application catches up. */
static const uint64_t READ_GRACE_NS = 100 * 1000000ull;

typedef struct queued {
    struct queued *next;
    bool report;
    uint64_t token;
    size_t len;
    uint8_t data[];
} queued;

typedef struct udp_socket {
    struct lkroom_transport *t;
    int fd;
    unsigned index;
    lkio_op op;
    struct sockaddr_storage from;
    struct iovec iov;
    struct msghdr msg;
    uint8_t buf[DATAGRAM];
} udp_socket;

struct lkroom_transport {
    lkio_worker *w;
    lkroom_transport_callbacks cb;
    lkpeer *peer;
    udp_socket socks[MAX_SOCKETS];
    unsigned n_socks;
    lkio_timer timer;
    int reliable, lossy;       /* our channels' ids, -1 until opened */
    int in_reliable, in_lossy; /* the server's, -1 until it opens them */
    int open_count;
    queued *queue, **queue_tail; /* reliable messages waiting for SCTP */
    size_t queued_bytes;
    bool drain_wanted;  /* `drained` is owed */
    uint64_t acked_at;  /* while draining: when all was acknowledged, else 0 */
    bool destroyed;
};

/* Everything sent on the reliable channel was acknowledged, and the server
 * said it has read it all, or had READ_GRACE_NS to. */
static bool drained(lkroom_transport *t, uint64_t now)
{
    enum lkpeer_state st = lkpeer_state(t->peer);
    if (st != LKPEER_CONNECTED && st != LKPEER_DISCONNECTED)
        return true; /* nothing more will be acknowledged (disconnected is
                      * only a lapse of ICE consent: SCTP still runs) */
    if (t->queue || (t->reliable >= 0 && lkpeer_buffered(t->peer, (uint16_t)t->reliable) > 0)) {
        t->acked_at = 0;
        return false;
    }
    if (lkpeer_unread_by_remote(t->peer) == 0)
        return true;
    if (!t->acked_at)
        t->acked_at = now;
    return now - t->acked_at >= READ_GRACE_NS;
}

/* After anything that may have moved the peer's deadlines or its
 * acknowledgements: the timer follows, and an owed `drained` is paid. */
static void reschedule(lkroom_transport *t)
{
    if (t->destroyed)
        return;
    uint64_t now = lkio_now_ns(), d = lkpeer_next_deadline(t->peer, now);
    if (t->drain_wanted && drained(t, now)) {
        t->drain_wanted = false;
        if (t->cb.drained)
            t->cb.drained(t->cb.ctx);
        if (t->destroyed)
            return;
    }
    if (t->drain_wanted && t->acked_at && t->acked_at + READ_GRACE_NS < d)
        d = t->acked_at + READ_GRACE_NS;
    if (d == UINT64_MAX)
        lkio_timer_stop(t->w, &t->timer);
    else
        lkio_timer_start(t->w, &t->timer, d);
}

static void on_timer(lkio_timer *timer)
{
    lkroom_transport *t = lkio_container_of(timer, lkroom_transport, timer);
    lkpeer_on_timeout(t->peer, lkio_now_ns());
    reschedule(t);
}

/* --- the peer's side ----------------------------------------------------------- */

static void peer_send(void *ctx, unsigned local, const struct sockaddr *to, socklen_t tolen,
                      const uint8_t *data, size_t len)
{
    lkroom_transport *t = ctx;
    if (local < t->n_socks && t->socks[local].fd >= 0)
        (void)sendto(t->socks[local].fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, to, tolen);
}

static void peer_state(void *ctx, enum lkpeer_state s, const char *why)
{
    lkroom_transport *t = ctx;
    if (!t->destroyed && t->cb.state_changed)
        t->cb.state_changed(t->cb.ctx, s, why);
}

static void peer_channel_open(void *ctx, uint16_t id, const char *label)
{
    lkroom_transport *t = ctx;
    if ((int)id == t->reliable || (int)id == t->lossy) {
        if (++t->open_count == 2 && t->cb.channels_ready)
            t->cb.channels_ready(t->cb.ctx);
    } else if (!strcmp(label, "_reliable")) {
        t->in_reliable = id;
    } else if (!strcmp(label, "_lossy")) {
        t->in_lossy = id;
    }
}

static void peer_message(void *ctx, uint16_t id, bool binary, const uint8_t *data, size_t len)
{
    lkroom_transport *t = ctx;
    bool reliable = (int)id == t->reliable || (int)id == t->in_reliable;
    if (t->cb.message && (reliable || (int)id == t->lossy || (int)id == t->in_lossy))
        t->cb.message(t->cb.ctx, reliable, data, len);
}

static void sent(lkroom_transport *t, const uint64_t *token, const char *error)
{
    if (token && t->cb.sent && !t->destroyed)
        t->cb.sent(t->cb.ctx, *token, error);
}

/* Hands queued messages to SCTP, in order, as far as it takes them. */
static void flush(lkroom_transport *t)
{
    while (t->queue && !t->destroyed) {
        queued *q = t->queue;
        int r = lkpeer_send(t->peer, (uint16_t)t->reliable, true, q->data, q->len, lkio_now_ns());
        if (r == -EAGAIN)
            return;
        t->queue = q->next;
        if (!t->queue)
            t->queue_tail = &t->queue;
        t->queued_bytes -= q->len;
        sent(t, q->report ? &q->token : NULL, r < 0 ? strerror(-r) : NULL);
        free(q);
    }
}

/* Media goes straight up: the room knows the tracks. */
static void peer_rtp(void *ctx, int section, const uint8_t *pkt, size_t len)
{
    lkroom_transport *t = ctx;
    if (t->cb.rtp)
        t->cb.rtp(t->cb.ctx, section, pkt, len);
}

static void peer_rtcp(void *ctx, const uint8_t *pkt, size_t len)
{
    lkroom_transport *t = ctx;
    if (t->cb.rtcp)
        t->cb.rtcp(t->cb.ctx, pkt, len);
}

static void peer_writable(void *ctx)
{
    flush(ctx);
}

/* --- sockets -------------------------------------------------------------------- */

static bool any_pending(const lkroom_transport *t)
{
    for (unsigned i = 0; i < t->n_socks; i++)
        if (lkio_op_pending(&t->socks[i].op))
            return true;
    return false;
}

static void maybe_free(lkroom_transport *t)
{
    if (t->destroyed && !any_pending(t)) {
        lkpeer_free(t->peer);
        free(t);
    }
}

static void arm(udp_socket *s);

static void on_datagram(lkio_op *op, int res)
{
    udp_socket *s = lkio_container_of(op, udp_socket, op);
    lkroom_transport *t = s->t;
    if (t->destroyed) {
        maybe_free(t);
        return;
    }
    if (res > 0) {
        lkpeer_on_datagram(t->peer, lkio_now_ns(), s->index, (struct sockaddr *)&s->from,
                           s->msg.msg_namelen, s->buf, (size_t)res);
        reschedule(t);
    }
    if (res != -ECANCELED && !t->destroyed)
        arm(s);
}

static void arm(udp_socket *s)
{
    s->iov = (struct iovec){s->buf, sizeof s->buf};
    s->msg = (struct msghdr){.msg_name = &s->from, .msg_namelen = sizeof s->from,
                             .msg_iov = &s->iov, .msg_iovlen = 1};
    lkio_recvmsg(s->t->w, &s->op, s->fd, &s->msg, on_datagram);
}

/* One socket per IPv4 address of an interface that is up (loopback too:
 * a server on this machine is reached there). */
static void open_sockets(lkroom_transport *t)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) < 0)
        return;
    for (struct ifaddrs *i = ifs; i && t->n_socks < MAX_SOCKETS; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP))
            continue;
        struct sockaddr_in a = *(struct sockaddr_in *)i->ifa_addr;
        a.sin_port = 0;
        int fd = lkio_socket(AF_INET, SOCK_DGRAM, 0);
        if (fd < 0)
            continue;
        socklen_t len = sizeof a;
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) < 0 ||
            lkpeer_add_local(t->peer, (struct sockaddr *)&a, len) < 0) {
            lkio_socket_close(fd, false);
            continue;
        }
        udp_socket *s = &t->socks[t->n_socks];
        s->t = t;
        s->fd = fd;
        s->index = t->n_socks++;
        arm(s);
    }
    freeifaddrs(ifs);
}

/* --- the API --------------------------------------------------------------------- */

lkroom_transport *lkroom_transport_new(lkio_worker *w, const lkroom_transport_callbacks *cb,
                                       char *err, size_t errlen)
{
    lkroom_transport *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->w = w;
    t->cb = *cb;
    t->reliable = t->lossy = t->in_reliable = t->in_lossy = -1;
    t->queue_tail = &t->queue;
    lkio_timer_init(&t->timer, on_timer);
    lkpeer_callbacks pcb = {t,           peer_send,     peer_state, peer_channel_open,
                            peer_message, NULL,         peer_writable, peer_rtp,
                            peer_rtcp};
    t->peer = lkpeer_new(&pcb);
    if (!t->peer) {
        snprintf(err, errlen, "cannot create a DTLS certificate");
        free(t);
        return NULL;
    }
    open_sockets(t);
    if (t->n_socks == 0) {
        snprintf(err, errlen, "no network interface with an IPv4 address to use");
        t->destroyed = true;
        maybe_free(t);
        return NULL;
    }
    return t;
}

size_t lkroom_transport_offer(lkroom_transport *t, char *out, size_t cap)
{
    return lkpeer_create_offer(t->peer, out, cap);
}

int lkroom_transport_answer(lkroom_transport *t, const char *sdp, size_t len, char *err,
                            size_t errlen)
{
    uint64_t now = lkio_now_ns();
    if (lkpeer_set_answer(t->peer, sdp, len, now, err, errlen) < 0)
        return -1;
    if (t->reliable >= 0) { /* a renegotiation: the channels are open */
        reschedule(t);
        return 0;
    }
    /* As upstream opens them: reliable and ordered; lossy, unordered, sent once. */
    lkdc_options lossy = {.unordered = true, .reliability = LKSCTP_MAX_RETRANSMITS, .value = 0};
    t->reliable = lkpeer_open_channel(t->peer, "_reliable", NULL, now);
    t->lossy = lkpeer_open_channel(t->peer, "_lossy", &lossy, now);
    reschedule(t);
    return 0;
}

lkpeer *lkroom_transport_peer(lkroom_transport *t)
{
    return t->peer;
}

void lkroom_transport_restart_ice(lkroom_transport *t)
{
    lkpeer_restart_ice(t->peer);
}

void lkroom_transport_channel_ids(const lkroom_transport *t, int ids[4])
{
    ids[0] = t->reliable;
    ids[1] = t->lossy;
    ids[2] = t->in_reliable;
    ids[3] = t->in_lossy;
}

int lkroom_transport_trickle(lkroom_transport *t, const char *json)
{
    char line[512];
    lkroom_trickle_result found = lkroom_trickle_candidate(json, line, sizeof line);
    if (found != LKROOM_TRICKLE_FOUND)
        return found == LKROOM_TRICKLE_END ? 1 : -1;
    int r = lkpeer_add_remote_candidate(t->peer, line);
    reschedule(t);
    return r;
}

int lkroom_transport_send(lkroom_transport *t, bool reliable, const uint8_t *data, size_t len,
                          const uint64_t *token)
{
    int id = reliable ? t->reliable : t->lossy;
    if (id < 0)
        return -ENOTCONN;
    int r = -EAGAIN;
    if (!reliable || !t->queue)
        r = lkpeer_send(t->peer, (uint16_t)id, true, data, len, lkio_now_ns());
    if (r == -EAGAIN && reliable) {
        if (t->queued_bytes + len > QUEUE_LIMIT)
            return -ENOBUFS;
        queued *q = malloc(sizeof *q + len);
        if (!q)
            return -ENOMEM;
        *q = (queued){NULL, token != NULL, token ? *token : 0, len};
        memcpy(q->data, data, len);
        *t->queue_tail = q;
        t->queue_tail = &q->next;
        t->queued_bytes += len;
        return 0; /* `sent` when it goes */
    }
    reschedule(t);
    if (r == -EAGAIN)
        r = 0; /* lossy: dropped, as on a congested link */
    if (r < 0)
        return r;
    sent(t, token, NULL);
    return 0;
}

bool lkroom_transport_drain(lkroom_transport *t)
{
    t->acked_at = 0;
    t->drain_wanted = !drained(t, lkio_now_ns());
    reschedule(t); /* the grace may need the timer */
    return !t->drain_wanted;
}

void lkroom_transport_fail_queued(lkroom_transport *t, const char *error)
{
    while (t->queue) {
        queued *q = t->queue;
        t->queue = q->next;
        t->queued_bytes -= q->len;
        sent(t, q->report ? &q->token : NULL, error);
        free(q);
    }
    t->queue_tail = &t->queue;
}

void lkroom_transport_destroy(lkroom_transport *t)
{
    t->destroyed = true;                  /* no callback from here on */
    while (t->queue) {
        queued *q = t->queue;
        t->queue = q->next;
        free(q);
    }
    lkpeer_close(t->peer, lkio_now_ns()); /* SCTP abort and close_notify go out now */
    lkio_timer_stop(t->w, &t->timer);
    for (unsigned i = 0; i < t->n_socks; i++) {
        lkio_cancel(t->w, &t->socks[i].op);
        lkio_socket_close(t->socks[i].fd, false);
        t->socks[i].fd = -1;
    }
    maybe_free(t);
}
