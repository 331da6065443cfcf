/*
 * resolve.c: literals, /etc/hosts, localhost, then DNS on the ring.
 *
 * getaddrinfo() may block for seconds on DNS, which a worker must never do,
 * so it is not used at all. The DNS client asks the nameservers of
 * /etc/resolv.conf in turn, A and AAAA at once, takes the first address
 * either gives (A when both do at once), and retries on a timer.
 */
#include "resolve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns.h"

static int literal(const char *host, uint16_t port, struct sockaddr_storage *out,
                   socklen_t *outlen)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *outlen = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *outlen = sizeof *v6;
        return 0;
    }
    return -1;
}

/* The first address /etc/hosts gives the name, IPv4 preferred (the
 * servers we talk to listen on both or on IPv4). */
static int from_hosts(const char *path, const char *host, uint16_t port,
                      struct sockaddr_storage *out, socklen_t *outlen)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char line[512];
    int found = -1;
    struct sockaddr_storage v6_candidate;
    socklen_t v6_len = 0;
    while (found < 0 && fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *save = NULL, *addr = strtok_r(line, " \t\r\n", &save);
        if (!addr)
            continue;
        for (char *name; (name = strtok_r(NULL, " \t\r\n", &save));) {
            if (strcasecmp(name, host))
                continue;
            struct sockaddr_storage a;
            socklen_t len;
            if (literal(addr, port, &a, &len) < 0)
                break;
            if (a.ss_family == AF_INET) {
                *out = a;
                *outlen = len;
                found = 0;
            } else if (!v6_len) {
                v6_candidate = a;
                v6_len = len;
            }
            break;
        }
    }
    fclose(f);
    if (found < 0 && v6_len) {
        *out = v6_candidate;
        *outlen = v6_len;
        found = 0;
    }
    return found;
}

int lknet_resolve_now(const char *host, uint16_t port, struct sockaddr_storage *out,
                      socklen_t *outlen, const char *hosts_path, char *err, size_t errlen)
{
    if (literal(host, port, out, outlen) == 0)
        return 0;
    if (from_hosts(hosts_path ? hosts_path : "/etc/hosts", host, port, out, outlen) == 0)
        return 0;
    if (!strcasecmp(host, "localhost"))
        return literal("127.0.0.1", port, out, outlen);
    char probe[LKDNS_MAX_MESSAGE];
    if (!lkdns_query((uint8_t *)probe, sizeof probe, 0, host, LKDNS_A)) {
        snprintf(err, errlen, "cannot resolve \"%.200s\": not a valid host name", host);
        return -1;
    }
    return 1;
}

/* --- DNS over the ring --------------------------------------------------------- */

enum { MAX_NAMESERVERS = 3, QUERIES = 2 };

typedef struct query {
    lkio_op op;
    struct lknet_lookup *owner;
    uint16_t id, qtype;
    uint8_t buf[LKDNS_MAX_MESSAGE];
    size_t len;
    struct iovec iov;
    struct msghdr msg;
    enum lkdns_result result; /* of this attempt; LKDNS_MALFORMED while waiting */
} query;

struct lknet_lookup {
    lkio_worker *w;
    lknet_lookup_fn fn;
    void *ctx;
    char host[256];
    uint16_t port;
    bool done, cancelled, task_pending;
    /* an answer known without DNS, delivered from a task */
    lkio_task task;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char error[400];
    /* DNS */
    struct sockaddr_storage ns[MAX_NAMESERVERS];
    socklen_t ns_len[MAX_NAMESERVERS];
    unsigned n_ns, attempt, max_attempts;
    uint64_t timeout_ns;
    int fd;
    query q[QUERIES];
    lkio_op recv_op;
    uint8_t rbuf[LKDNS_MAX_MESSAGE];
    struct sockaddr_storage from;
    struct iovec riov;
    struct msghdr rmsg;
    lkio_timer timer;
};

static bool busy(const lknet_lookup *l)
{
    return l->task_pending || lkio_op_pending(&l->recv_op) || lkio_op_pending(&l->q[0].op) ||
           lkio_op_pending(&l->q[1].op);
}

/* Gives back the socket and the timer; the memory goes once cancelled and
 * nothing the ring or the inbox holds points at it any more. */
static void release(lknet_lookup *l)
{
    if (l->fd >= 0) {
        lkio_cancel(l->w, &l->recv_op);
        lkio_cancel(l->w, &l->q[0].op);
        lkio_cancel(l->w, &l->q[1].op);
        lkio_socket_close(l->fd, false);
        l->fd = -1;
    }
    lkio_timer_stop(l->w, &l->timer);
    if (l->cancelled && !busy(l))
        free(l);
}

static void finish(lknet_lookup *l, const struct sockaddr *addr, socklen_t len, const char *error)
{
    if (l->done)
        return;
    l->done = true;
    if (!l->cancelled)
        l->fn(l->ctx, addr, len, error);
    l->cancelled = true; /* from here on, the lookup only waits to be freed */
    release(l);
}

static void deliver_known(lkio_task *t)
{
    lknet_lookup *l = lkio_container_of(t, lknet_lookup, task);
    l->task_pending = false;
    if (l->cancelled)
        release(l);
    else if (l->addrlen)
        finish(l, (struct sockaddr *)&l->addr, l->addrlen, NULL);
    else
        finish(l, NULL, 0, l->error);
}

static void post_known(lknet_lookup *l)
{
    l->task_pending = true;
    lkio_post(l->w, &l->task, deliver_known);
}

static void read_resolv_conf(lknet_lookup *l, const char *path)
{
    FILE *f = fopen(path, "re");
    char line[256];
    while (f && l->n_ns < MAX_NAMESERVERS && fgets(line, sizeof line, f)) {
        char ip[128];
        if (sscanf(line, " nameserver %127s", ip) != 1)
            continue;
        if (literal(ip, 53, &l->ns[l->n_ns], &l->ns_len[l->n_ns]) == 0)
            l->n_ns++;
    }
    if (f)
        fclose(f);
    if (l->n_ns == 0) /* what the C library assumes too */
        literal("127.0.0.1", 53, &l->ns[l->n_ns], &l->ns_len[l->n_ns]), l->n_ns++;
}

/* A failed send looks like no answer: the timer moves on. */
static void on_query_sent(lkio_op *op, int res)
{
    lknet_lookup *l = lkio_container_of(op, query, op)->owner;
    if (l->cancelled)
        release(l);
}

static void send_attempt(lknet_lookup *l);

static void on_answer(lkio_op *op, int res)
{
    lknet_lookup *l = lkio_container_of(op, lknet_lookup, recv_op);
    if (l->cancelled) {
        release(l);
        return;
    }
    if (res > 0) {
        const struct sockaddr_storage *ns = &l->ns[l->attempt % l->n_ns];
        bool from_ns = l->rmsg.msg_namelen == l->ns_len[l->attempt % l->n_ns] &&
                       !memcmp(&l->from, ns, l->rmsg.msg_namelen);
        for (int i = 0; i < QUERIES && from_ns; i++) {
            query *q = &l->q[i];
            struct sockaddr_storage a;
            socklen_t alen;
            enum lkdns_result r = lkdns_answer(l->rbuf, (size_t)res, q->id, l->host, q->qtype,
                                               l->port, &a, &alen);
            if (r == LKDNS_MALFORMED)
                continue;
            q->result = r;
            if (r == LKDNS_FOUND) {
                finish(l, (struct sockaddr *)&a, alen, NULL);
                return;
            }
        }
        if (l->q[0].result != LKDNS_MALFORMED && l->q[1].result != LKDNS_MALFORMED) {
            bool nx = l->q[0].result == LKDNS_NXDOMAIN || l->q[1].result == LKDNS_NXDOMAIN;
            snprintf(l->error, sizeof l->error,
                     nx ? "cannot resolve \"%s\": no such host (NXDOMAIN)"
                        : "cannot resolve \"%s\": the name has no address",
                     l->host);
            finish(l, NULL, 0, l->error);
            return;
        }
    }
    l->rmsg.msg_namelen = sizeof l->from;
    lkio_recvmsg(l->w, &l->recv_op, l->fd, &l->rmsg, on_answer);
}

static void send_attempt(lknet_lookup *l)
{
    unsigned n = l->attempt % l->n_ns;
    for (int i = 0; i < QUERIES; i++) {
        query *q = &l->q[i];
        if (lkio_op_pending(&q->op))
            continue; /* the previous send has not even completed: skip */
        q->owner = l;
        RAND_bytes((unsigned char *)&q->id, sizeof q->id);
        q->qtype = i == 0 ? LKDNS_A : LKDNS_AAAA;
        q->result = LKDNS_MALFORMED;
        q->len = lkdns_query(q->buf, sizeof q->buf, q->id, l->host, q->qtype);
        q->iov = (struct iovec){q->buf, q->len};
        q->msg = (struct msghdr){.msg_name = &l->ns[n], .msg_namelen = l->ns_len[n],
                                 .msg_iov = &q->iov, .msg_iovlen = 1};
        lkio_sendmsg(l->w, &q->op, l->fd, &q->msg, on_query_sent);
    }
    lkio_timer_start(l->w, &l->timer, lkio_now_ns() + l->timeout_ns);
}

static void on_timeout(lkio_timer *t)
{
    lknet_lookup *l = lkio_container_of(t, lknet_lookup, timer);
    if (++l->attempt >= l->max_attempts) {
        snprintf(l->error, sizeof l->error,
                 "cannot resolve \"%s\": no answer from the nameservers in time", l->host);
        finish(l, NULL, 0, l->error);
        return;
    }
    send_attempt(l);
}

lknet_lookup *lknet_lookup_start(lkio_worker *w, const char *host, uint16_t port,
                                 const lknet_lookup_config *cfg, lknet_lookup_fn fn, void *ctx)
{
    lknet_lookup *l = calloc(1, sizeof *l);
    if (!l)
        abort();
    l->w = w;
    l->fn = fn;
    l->ctx = ctx;
    l->port = port;
    l->fd = -1;
    lkio_timer_init(&l->timer, on_timeout);
    snprintf(l->host, sizeof l->host, "%s", host);
    int r = lknet_resolve_now(host, port, &l->addr, &l->addrlen, cfg ? cfg->hosts_path : NULL,
                              l->error, sizeof l->error);
    if (r <= 0) { /* known now (or never): still answered from a task, as promised */
        if (r < 0)
            l->addrlen = 0;
        post_known(l);
        return l;
    }
    l->addrlen = 0;
    if (cfg && cfg->nameserver && cfg->nameserver_len <= sizeof l->ns[0]) {
        memcpy(&l->ns[0], cfg->nameserver, cfg->nameserver_len);
        l->ns_len[0] = cfg->nameserver_len;
        l->n_ns = 1;
    } else {
        read_resolv_conf(l, cfg && cfg->resolv_conf_path ? cfg->resolv_conf_path
                                                         : "/etc/resolv.conf");
    }
    l->timeout_ns = (uint64_t)(cfg && cfg->timeout_ms ? cfg->timeout_ms : 1000) * 1000000u;
    /* One socket for every nameserver of the first one's family (in
     * practice all IPv4 or all IPv6); the others are skipped. */
    int family = l->ns[0].ss_family;
    unsigned kept = 0;
    for (unsigned i = 0; i < l->n_ns; i++)
        if (l->ns[i].ss_family == family) {
            l->ns[kept] = l->ns[i];
            l->ns_len[kept++] = l->ns_len[i];
        }
    l->n_ns = kept;
    l->max_attempts = (cfg && cfg->attempts ? cfg->attempts : 2) * l->n_ns;
    l->fd = lkio_socket(family, SOCK_DGRAM, 0);
    if (l->fd < 0) {
        snprintf(l->error, sizeof l->error, "cannot resolve \"%s\": no socket: %s", host,
                 strerror(-l->fd));
        post_known(l);
        return l;
    }
    l->riov = (struct iovec){l->rbuf, sizeof l->rbuf};
    l->rmsg = (struct msghdr){.msg_name = &l->from, .msg_namelen = sizeof l->from,
                              .msg_iov = &l->riov, .msg_iovlen = 1};
    lkio_recvmsg(w, &l->recv_op, l->fd, &l->rmsg, on_answer);
    send_attempt(l);
    return l;
}

void lknet_lookup_cancel(lknet_lookup *l)
{
    l->cancelled = true;
    l->done = true;
    release(l);
}
