/*
 * ice.c: the ICE agent.
 *
 * The peer is livekit-server (pion/ice). In single-PeerConnection mode we
 * offer, so we are controlling; the server runs ICE-lite unless a client asks
 * otherwise, so it only answers our checks and takes the pair we nominate.
 * The agent works as a full agent either way (it answers checks, learns
 * peer-reflexive candidates, resolves role conflicts), since nothing in the
 * protocol promises the peer is lite.
 *
 * Checks go out one per Ta (50 ms), retransmits first, then triggered
 * checks, then the best waiting pair. Nomination is regular: the first pair
 * that succeeds is checked again with USE-CANDIDATE, and selected when that
 * succeeds. Once connected, a consent check every 4-6 s keeps the path and
 * the peer's consent alive; no answer for 10 s is "disconnected", for 30 s
 * "failed" (RFC 7675).
 */
#include "ice.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stun.h"

static const uint64_t MS = 1000000u;
enum { TA_MS = 50, RTO_FIRST_MS = 250, RTO_MAX_MS = 1600, MAX_TRIES = 7 };
enum { CONSENT_DISCONNECT_MS = 10000, CONSENT_FAIL_MS = 30000, GIVE_UP_MS = 15000 };

typedef struct cand {
    struct sockaddr_storage addr;
    socklen_t len;
    uint32_t priority;
    enum lkice_candidate_type type;
} cand;

enum pair_state { P_WAITING, P_IN_PROGRESS, P_SUCCEEDED, P_FAILED };

typedef struct pair {
    uint8_t local, remote;
    enum pair_state state;
    bool triggered;  /* check it next, ahead of the others */
    bool nominating; /* our check in flight carries USE-CANDIDATE */
    bool nominated;
    int tries;
    uint64_t next_send;
    uint8_t txid[12];
    lkice_pair_counters n; /* for lkice_selected_pair */
    uint64_t sent_ns;      /* of the last check: its response gives a round trip */
} pair;

struct lkice_agent {
    lkice_callbacks cb;
    void (*random)(void *buf, size_t n);
    bool controlling;
    uint64_t tiebreaker;
    char lufrag[9], lpwd[25], rufrag[257], rpwd[257];
    cand local[LKICE_MAX_LOCAL];
    unsigned n_local;
    cand remote[LKICE_MAX_REMOTE];
    unsigned n_remote;
    pair pairs[LKICE_MAX_PAIRS];
    unsigned n_pairs;
    enum lkice_state state;
    bool started, remote_done;
    bool restarting; /* our credentials changed: the peer's next ones start the checks */
    uint64_t start_ns, next_check_ns;
    int selected; /* pair index, or -1 */
    uint64_t last_consent_ns, next_consent_ns;
    bool consent_pending;
    uint8_t consent_txid[12];
    uint64_t consent_sent_ns;
    unsigned selected_changes;
};

static void openssl_random(void *buf, size_t n)
{
    RAND_bytes(buf, (int)n);
}

static void random_token(lkice_agent *a, char *out, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t r[32];
    a->random(r, n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[r[i] & 63];
    out[n] = '\0';
}

static void set_state(lkice_agent *a, enum lkice_state s)
{
    if (a->state == s)
        return;
    a->state = s;
    if (a->cb.state_changed)
        a->cb.state_changed(a->cb.ctx, s);
}

lkice_agent *lkice_new(const lkice_callbacks *cb, bool controlling,
                       void (*random)(void *buf, size_t n))
{
    lkice_agent *a = calloc(1, sizeof *a);
    if (!a)
        abort();
    a->cb = *cb;
    a->random = random ? random : openssl_random;
    a->controlling = controlling;
    a->random(&a->tiebreaker, sizeof a->tiebreaker);
    random_token(a, a->lufrag, 8);
    random_token(a, a->lpwd, 24);
    a->selected = -1;
    return a;
}

void lkice_free(lkice_agent *a)
{
    free(a);
}

const char *lkice_local_ufrag(const lkice_agent *a)
{
    return a->lufrag;
}

const char *lkice_remote_ufrag(const lkice_agent *a)
{
    return a->rufrag;
}

const char *lkice_local_pwd(const lkice_agent *a)
{
    return a->lpwd;
}

enum lkice_state lkice_state(const lkice_agent *a)
{
    return a->state;
}

bool lkice_controlling(const lkice_agent *a)
{
    return a->controlling;
}

/* --- candidates and pairs ---------------------------------------------------- */

static bool same_addr(const struct sockaddr_storage *x, const struct sockaddr *y)
{
    if (x->ss_family != y->sa_family)
        return false;
    if (y->sa_family == AF_INET) {
        const struct sockaddr_in *p = (const struct sockaddr_in *)x, *q = (const void *)y;
        return p->sin_port == q->sin_port && p->sin_addr.s_addr == q->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *p = (const struct sockaddr_in6 *)x, *q = (const void *)y;
    return p->sin6_port == q->sin6_port && !memcmp(&p->sin6_addr, &q->sin6_addr, 16);
}

static uint64_t pair_priority(const lkice_agent *a, const pair *p)
{
    uint64_t l = a->local[p->local].priority, r = a->remote[p->remote].priority;
    uint64_t g = a->controlling ? l : r, d = a->controlling ? r : l;
    return ((g < d ? g : d) << 32) + 2 * (g > d ? g : d) + (g > d ? 1 : 0);
}

static int find_pair(const lkice_agent *a, unsigned local, unsigned remote)
{
    for (unsigned i = 0; i < a->n_pairs; i++)
        if (a->pairs[i].local == local && a->pairs[i].remote == remote)
            return (int)i;
    return -1;
}

static int add_pair(lkice_agent *a, unsigned local, unsigned remote)
{
    int i = find_pair(a, local, remote);
    if (i >= 0)
        return i;
    if (a->n_pairs == LKICE_MAX_PAIRS ||
        a->local[local].addr.ss_family != a->remote[remote].addr.ss_family)
        return -1;
    pair *p = &a->pairs[a->n_pairs];
    memset(p, 0, sizeof *p);
    p->local = (uint8_t)local;
    p->remote = (uint8_t)remote;
    return (int)a->n_pairs++;
}

static void pair_with_all_locals(lkice_agent *a, unsigned remote)
{
    for (unsigned l = 0; l < a->n_local; l++)
        add_pair(a, l, remote);
}

int lkice_add_local(lkice_agent *a, const struct sockaddr *addr, socklen_t len)
{
    if (a->n_local == LKICE_MAX_LOCAL || len > sizeof(struct sockaddr_storage))
        return -1;
    cand *c = &a->local[a->n_local];
    memset(c, 0, sizeof *c);
    memcpy(&c->addr, addr, len);
    c->len = len;
    /* host type preference 126; earlier sockets preferred; component 1 */
    c->priority = (126u << 24) | ((65535u - a->n_local) << 8) | 255u;
    unsigned index = a->n_local++;
    for (unsigned r = 0; r < a->n_remote; r++)
        add_pair(a, index, r);
    return (int)index;
}

void lkice_format_addr(const struct sockaddr_storage *s, char *ip, size_t cap, unsigned *port)
{
    if (s->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)s;
        inet_ntop(AF_INET, &v4->sin_addr, ip, (socklen_t)cap);
        *port = ntohs(v4->sin_port);
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)s;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, (socklen_t)cap);
        *port = ntohs(v6->sin6_port);
    }
}

void lkice_local_candidate(const lkice_agent *a, unsigned index, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "";
    unsigned port = 0;
    if (index < a->n_local)
        lkice_format_addr(&a->local[index].addr, ip, sizeof ip, &port);
    snprintf(out, cap, "candidate:%u 1 udp %u %s %u typ host generation 0", index + 1,
             index < a->n_local ? a->local[index].priority : 0, ip, port);
}

/* An ICE restart (RFC 8445 9): what was learned under the old credentials
 * goes. The caller keeps sending media where it did until a pair is
 * selected again. */
static void forget_remote(lkice_agent *a)
{
    a->n_remote = 0;
    a->n_pairs = 0;
    a->selected = -1;
    a->remote_done = false;
    a->consent_pending = false;
    a->started = false;
}

int lkice_set_remote_credentials(lkice_agent *a, const char *ufrag, const char *pwd)
{
    if (strlen(ufrag) >= sizeof a->rufrag || strlen(pwd) >= sizeof a->rpwd || !*ufrag || !*pwd)
        return -1;
    bool changed = a->rufrag[0] && strcmp(a->rufrag, ufrag);
    snprintf(a->rufrag, sizeof a->rufrag, "%s", ufrag);
    snprintf(a->rpwd, sizeof a->rpwd, "%s", pwd);
    if (changed && !a->restarting)
        forget_remote(a); /* the peer restarted on its own */
    if (changed || a->restarting) {
        /* Checks start over with these credentials, lkice_start starting
         * them and their give-up clock; what the peer's checks taught us
         * since our restart stays (they carried our new credentials, and
         * their source may be the only address that reaches the peer). */
        for (unsigned i = 0; i < a->n_pairs; i++) {
            a->pairs[i].state = P_WAITING;
            a->pairs[i].triggered = true;
        }
        a->started = false;
        a->restarting = false;
    }
    return 0;
}

static int add_remote(lkice_agent *a, const struct sockaddr *addr, socklen_t len,
                      uint32_t priority, enum lkice_candidate_type type)
{
    for (unsigned i = 0; i < a->n_remote; i++)
        if (same_addr(&a->remote[i].addr, addr))
            return (int)i;
    if (a->n_remote == LKICE_MAX_REMOTE)
        return -1;
    cand *c = &a->remote[a->n_remote];
    memset(c, 0, sizeof *c);
    memcpy(&c->addr, addr, len);
    c->len = len;
    c->priority = priority;
    c->type = type;
    pair_with_all_locals(a, a->n_remote);
    return (int)a->n_remote++;
}

static enum lkice_candidate_type type_of(const char *typ)
{
    return !strcmp(typ, "srflx") ? LKICE_SRFLX
           : !strcmp(typ, "prflx") ? LKICE_PRFLX
           : !strcmp(typ, "relay") ? LKICE_RELAY
                                   : LKICE_HOST;
}

int lkice_add_remote_candidate(lkice_agent *a, const char *attr, char *reason, size_t cap)
{
    char buf[512];
    if (!strncmp(attr, "a=", 2))
        attr += 2;
    if (strncmp(attr, "candidate:", 10) || strlen(attr) >= sizeof buf) {
        snprintf(reason, cap, "not a candidate attribute");
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", attr + 10);
    char *save = NULL, *tok[8];
    int n = 0;
    for (char *t = strtok_r(buf, " \r\n", &save); t && n < 8; t = strtok_r(NULL, " \r\n", &save))
        tok[n++] = t;
    /* foundation component transport priority address port "typ" type */
    if (n < 8 || strcmp(tok[6], "typ")) {
        snprintf(reason, cap, "malformed candidate");
        return -1;
    }
    char *end;
    unsigned long component = strtoul(tok[1], &end, 10);
    if (*end) {
        snprintf(reason, cap, "malformed component");
        return -1;
    }
    unsigned long priority = strtoul(tok[3], &end, 10);
    if (*end || priority > 0xffffffffu) {
        snprintf(reason, cap, "malformed priority");
        return -1;
    }
    unsigned long port = strtoul(tok[5], &end, 10);
    if (*end || port == 0 || port > 65535) {
        snprintf(reason, cap, "malformed port");
        return -1;
    }
    if (component != 1) {
        snprintf(reason, cap, "component %lu ignored: RTCP is multiplexed", component);
        return 1;
    }
    if (strcasecmp(tok[2], "udp")) {
        snprintf(reason, cap, "%s candidate ignored: only UDP is supported", tok[2]);
        return 1;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, tok[4], &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, tok[4], &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        len = sizeof *v6;
    } else {
        snprintf(reason, cap, "candidate address \"%.100s\" ignored: not an IP address", tok[4]);
        return 1;
    }
    if (add_remote(a, (struct sockaddr *)&ss, len, (uint32_t)priority, type_of(tok[7])) < 0) {
        snprintf(reason, cap, "too many remote candidates (%d)", LKICE_MAX_REMOTE);
        return 1;
    }
    return 0;
}

void lkice_remote_candidates_done(lkice_agent *a)
{
    a->remote_done = true;
}

void lkice_start(lkice_agent *a, uint64_t now_ns)
{
    if (a->started)
        return;
    a->started = true;
    a->start_ns = now_ns;
    a->next_check_ns = now_ns;
    set_state(a, LKICE_CHECKING);
}

/* --- sending ------------------------------------------------------------------- */

static void send_request(lkice_agent *a, const pair *p, const uint8_t txid[12], bool use_candidate)
{
    uint8_t buf[256];
    char user[sizeof a->rufrag + sizeof a->lufrag + 1];
    int ulen = snprintf(user, sizeof user, "%s:%s", a->rufrag, a->lufrag);
    lkstun_builder b;
    lkstun_begin(&b, buf, sizeof buf, LKSTUN_BINDING_REQUEST, txid);
    lkstun_add(&b, LKSTUN_ATTR_USERNAME, user, (size_t)ulen);
    /* the priority a peer-reflexive candidate of ours would have */
    lkstun_add_u32(&b, LKSTUN_ATTR_PRIORITY,
                   (110u << 24) | (a->local[p->local].priority & 0x00ffffffu));
    lkstun_add_u64(&b, a->controlling ? LKSTUN_ATTR_ICE_CONTROLLING : LKSTUN_ATTR_ICE_CONTROLLED,
                   a->tiebreaker);
    if (use_candidate)
        lkstun_add(&b, LKSTUN_ATTR_USE_CANDIDATE, NULL, 0);
    lkstun_add_integrity(&b, a->rpwd, strlen(a->rpwd));
    lkstun_add_fingerprint(&b);
    size_t n = lkstun_end(&b);
    if (n)
        a->cb.send(a->cb.ctx, p->local, (const struct sockaddr *)&a->remote[p->remote].addr,
                   a->remote[p->remote].len, buf, n);
}

static void check(lkice_agent *a, pair *p, uint64_t now)
{
    if (p->state != P_IN_PROGRESS) {
        p->state = P_IN_PROGRESS;
        p->tries = 0;
        a->random(p->txid, sizeof p->txid);
    }
    p->triggered = false;
    p->tries++;
    uint64_t rto = (uint64_t)RTO_FIRST_MS << (p->tries - 1);
    p->next_send = now + (rto > RTO_MAX_MS ? RTO_MAX_MS : rto) * MS;
    p->sent_ns = now;
    p->n.requests_sent++;
    send_request(a, p, p->txid, p->nominating);
}

/* Selection starts (or restarts) the consent clock: the pair just proved
 * itself. */
static void select_pair(lkice_agent *a, int index, uint64_t now)
{
    if (a->selected >= 0 && a->selected != index) {
        uint64_t cur = pair_priority(a, &a->pairs[a->selected]);
        if (pair_priority(a, &a->pairs[index]) <= cur && a->pairs[a->selected].nominated)
            return; /* keep the better (or first) nominated pair */
    }
    bool changed = a->selected != index;
    a->selected = index;
    a->selected_changes += changed;
    a->last_consent_ns = now;
    if (changed)
        a->next_consent_ns = now + 5000 * MS;
    pair *p = &a->pairs[index];
    if (changed && a->cb.selected)
        a->cb.selected(a->cb.ctx, p->local, (const struct sockaddr *)&a->remote[p->remote].addr,
                       a->remote[p->remote].len);
    set_state(a, LKICE_CONNECTED);
}

/* --- receiving ------------------------------------------------------------------ */

static void respond(lkice_agent *a, unsigned local, const struct sockaddr *to, socklen_t tolen,
                    const uint8_t txid[12], uint16_t error)
{
    uint8_t buf[160];
    lkstun_builder b;
    lkstun_begin(&b, buf, sizeof buf, error ? LKSTUN_BINDING_ERROR : LKSTUN_BINDING_SUCCESS, txid);
    if (error)
        lkstun_add_error(&b, error, "Role Conflict");
    else
        lkstun_add_xor_address(&b, to);
    lkstun_add_integrity(&b, a->lpwd, strlen(a->lpwd));
    lkstun_add_fingerprint(&b);
    size_t n = lkstun_end(&b);
    if (n)
        a->cb.send(a->cb.ctx, local, to, tolen, buf, n);
}

static void on_request(lkice_agent *a, uint64_t now, unsigned local, const struct sockaddr *from,
                       socklen_t fromlen, const lkstun_msg *m, const uint8_t *data, size_t len)
{
    size_t ul = strlen(a->lufrag);
    if (!m->username || m->username_len <= ul || memcmp(m->username, a->lufrag, ul) ||
        m->username[ul] != ':' || !lkstun_integrity_ok(m, data, len, a->lpwd, strlen(a->lpwd)))
        return; /* not for us, or forged: no answer at all */
    /* Role conflict (RFC 8445 7.3.1.1): the larger tie-breaker controls. */
    if (a->controlling && m->has_controlling) {
        if (a->tiebreaker >= m->tiebreaker) {
            respond(a, local, from, fromlen, m->txid, 487);
            return;
        }
        a->controlling = false;
    } else if (!a->controlling && m->has_controlled) {
        if (a->tiebreaker >= m->tiebreaker) {
            a->controlling = true;
        } else {
            respond(a, local, from, fromlen, m->txid, 487);
            return;
        }
    }
    respond(a, local, from, fromlen, m->txid, 0);
    /* Learned even before the answer brings the peer's credentials (RFC 8445
     * 7.3.1.3): the peer's first checks often arrive first, and their source
     * may be the only address that reaches it. Checks of our own wait for the
     * credentials (lkice_on_timeout). */
    int r = add_remote(a, from, fromlen, m->has_priority ? m->priority : 0, LKICE_PRFLX);
    int i = r < 0 ? -1 : add_pair(a, local, (unsigned)r);
    if (i < 0)
        return;
    pair *p = &a->pairs[i];
    p->n.requests_received++;
    p->n.responses_sent++;
    if (m->use_candidate && !a->controlling) {
        p->nominated = true;
        if (p->state == P_SUCCEEDED)
            select_pair(a, i, now);
    }
    if (p->state == P_WAITING || p->state == P_FAILED) {
        p->state = P_WAITING;
        p->triggered = true;
        if (a->next_check_ns > now)
            a->next_check_ns = now;
    }
}

static void round_trip(pair *p, uint64_t ns)
{
    p->n.rtt_last_ns = ns;
    p->n.rtt_total_ns += ns;
    p->n.rtt_count++;
}

static void on_response(lkice_agent *a, uint64_t now, unsigned local, const struct sockaddr *from,
                        const lkstun_msg *m, const uint8_t *data, size_t len)
{
    if (!lkstun_integrity_ok(m, data, len, a->rpwd, strlen(a->rpwd)))
        return;
    if (a->consent_pending && !memcmp(m->txid, a->consent_txid, 12)) {
        a->consent_pending = false;
        if (m->type == LKSTUN_BINDING_SUCCESS) {
            if (a->selected >= 0) {
                a->pairs[a->selected].n.responses_received++;
                round_trip(&a->pairs[a->selected], now - a->consent_sent_ns);
            }
            a->last_consent_ns = now;
            if (a->state == LKICE_DISCONNECTED)
                set_state(a, LKICE_CONNECTED);
        }
        return;
    }
    for (unsigned i = 0; i < a->n_pairs; i++) {
        pair *p = &a->pairs[i];
        if (p->state != P_IN_PROGRESS || memcmp(p->txid, m->txid, 12))
            continue;
        if (m->type == LKSTUN_BINDING_ERROR) {
            if (m->error_code == 487) { /* the peer says we are in the wrong role */
                a->controlling = !a->controlling;
                p->state = P_WAITING;
                p->triggered = true;
            } else {
                p->state = P_FAILED;
            }
            return;
        }
        /* Only a symmetric answer validates the pair. */
        if (p->local != local || !same_addr(&a->remote[p->remote].addr, from)) {
            p->state = P_FAILED;
            return;
        }
        p->state = P_SUCCEEDED;
        p->n.responses_received++;
        round_trip(p, now - p->sent_ns);
        if (a->controlling) {
            if (p->nominating) {
                p->nominated = true;
                select_pair(a, (int)i, now);
            } else if (a->selected < 0) {
                bool someone_nominating = false;
                for (unsigned k = 0; k < a->n_pairs; k++)
                    someone_nominating |= a->pairs[k].nominating;
                if (!someone_nominating) {
                    p->nominating = true;
                    p->state = P_WAITING;
                    p->triggered = true;
                    if (a->next_check_ns > now)
                        a->next_check_ns = now;
                }
            }
        } else if (p->nominated) {
            select_pair(a, (int)i, now);
        }
        return;
    }
}

bool lkice_on_datagram(lkice_agent *a, uint64_t now_ns, unsigned local,
                       const struct sockaddr *from, socklen_t fromlen, const uint8_t *data,
                       size_t len)
{
    lkstun_msg m;
    if (!lkstun_looks_like(data, len))
        return false;
    if (local >= a->n_local || a->state == LKICE_CLOSED || lkstun_parse(&m, data, len) < 0 ||
        !m.has_fingerprint)
        return true; /* STUN-shaped but unusable: drop it, it is not media */
    if (m.type == LKSTUN_BINDING_REQUEST)
        on_request(a, now_ns, local, from, fromlen, &m, data, len);
    else if (m.type == LKSTUN_BINDING_SUCCESS || m.type == LKSTUN_BINDING_ERROR)
        on_response(a, now_ns, local, from, &m, data, len);
    return true;
}

/* --- the clock ------------------------------------------------------------------ */

static pair *next_to_check(lkice_agent *a, uint64_t now)
{
    pair *best = NULL;
    for (unsigned i = 0; i < a->n_pairs; i++) { /* retransmissions first */
        pair *p = &a->pairs[i];
        if (p->state == P_IN_PROGRESS && p->next_send <= now)
            return p;
    }
    for (unsigned i = 0; i < a->n_pairs; i++) { /* then triggered checks */
        if (a->pairs[i].state == P_WAITING && a->pairs[i].triggered)
            return &a->pairs[i];
    }
    for (unsigned i = 0; i < a->n_pairs; i++) {
        pair *p = &a->pairs[i];
        if (p->state == P_WAITING && (!best || pair_priority(a, p) > pair_priority(a, best)))
            best = p;
    }
    return best;
}

static bool checks_remain(const lkice_agent *a)
{
    for (unsigned i = 0; i < a->n_pairs; i++)
        if (a->pairs[i].state == P_WAITING || a->pairs[i].state == P_IN_PROGRESS)
            return true;
    return false;
}

void lkice_on_timeout(lkice_agent *a, uint64_t now)
{
    if (!a->started || a->state == LKICE_CLOSED || a->state == LKICE_FAILED || !a->rpwd[0])
        return;
    /* retransmissions that ran out */
    for (unsigned i = 0; i < a->n_pairs; i++) {
        pair *p = &a->pairs[i];
        if (p->state == P_IN_PROGRESS && p->next_send <= now && p->tries >= MAX_TRIES)
            p->state = P_FAILED;
    }
    if (now >= a->next_check_ns) {
        pair *p = next_to_check(a, now);
        if (p) {
            check(a, p, now);
            a->next_check_ns = now + TA_MS * MS;
        }
    }
    if (a->selected < 0) {
        if (!checks_remain(a) && (a->remote_done || now - a->start_ns >= GIVE_UP_MS * MS) &&
            now - a->start_ns >= TA_MS * MS)
            set_state(a, LKICE_FAILED);
        return;
    }
    /* consent freshness on the selected pair */
    if (now - a->last_consent_ns >= CONSENT_FAIL_MS * MS) {
        set_state(a, LKICE_FAILED);
        return;
    }
    if (now - a->last_consent_ns >= CONSENT_DISCONNECT_MS * MS)
        set_state(a, LKICE_DISCONNECTED);
    if (now >= a->next_consent_ns) {
        a->random(a->consent_txid, sizeof a->consent_txid);
        a->consent_pending = true;
        a->consent_sent_ns = now;
        a->pairs[a->selected].n.consent_requests_sent++;
        send_request(a, &a->pairs[a->selected], a->consent_txid, false);
        uint8_t jitter;
        a->random(&jitter, 1);
        a->next_consent_ns = now + (4000 + (uint64_t)jitter * 2000 / 255) * MS;
    }
}

/* When lkice_on_timeout next has something to do, and no sooner: a deadline
 * it would leave in the past fires its timer again at once. */
uint64_t lkice_next_deadline(const lkice_agent *a)
{
    if (!a->started || a->state == LKICE_CLOSED || a->state == LKICE_FAILED || !a->rpwd[0])
        return UINT64_MAX;
    uint64_t d = UINT64_MAX;
    for (unsigned i = 0; i < a->n_pairs; i++) {
        const pair *p = &a->pairs[i];
        uint64_t due = UINT64_MAX;
        if (p->state == P_IN_PROGRESS) /* a retransmission waits for the pacer, a last try not */
            due = p->tries >= MAX_TRIES || p->next_send > a->next_check_ns ? p->next_send
                                                                          : a->next_check_ns;
        else if (p->state == P_WAITING)
            due = a->next_check_ns;
        d = due < d ? due : d;
    }
    if (a->selected >= 0) {
        uint64_t c = a->next_consent_ns;
        uint64_t drop = a->last_consent_ns + CONSENT_DISCONNECT_MS * MS;
        if (a->state == LKICE_DISCONNECTED)
            drop = a->last_consent_ns + CONSENT_FAIL_MS * MS;
        d = c < d ? c : d;
        d = drop < d ? drop : d;
    } else if (!checks_remain(a)) { /* while checks remain, their ends decide */
        uint64_t give_up = a->start_ns + (a->remote_done ? TA_MS : GIVE_UP_MS) * MS;
        d = give_up < d ? give_up : d;
    }
    return d;
}

void lkice_restart(lkice_agent *a)
{
    random_token(a, a->lufrag, 8);
    random_token(a, a->lpwd, 24);
    /* Nothing is checked until the peer's credentials come (the checks
     * would carry the old ones); its own checks, under our new
     * credentials, are answered and remembered meanwhile. */
    forget_remote(a);
    a->restarting = true;
}

void lkice_close(lkice_agent *a)
{
    set_state(a, LKICE_CLOSED);
}

bool lkice_selected_pair(const lkice_agent *a, lkice_pair_info *out)
{
    if (a->selected < 0)
        return false;
    const pair *p = &a->pairs[a->selected];
    const cand *l = &a->local[p->local], *r = &a->remote[p->remote];
    memset(out, 0, sizeof *out);
    out->local_index = p->local;
    out->local = (lkice_candidate){.addr = l->addr, .priority = l->priority, .type = l->type};
    out->remote = (lkice_candidate){.addr = r->addr, .priority = r->priority, .type = r->type};
    out->nominated = p->nominated;
    out->n = p->n;
    return true;
}

unsigned lkice_selected_changes(const lkice_agent *a)
{
    return a->selected_changes;
}
