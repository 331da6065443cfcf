/* Two ICE agents over a simulated network (a packet queue with a clock):
 * they connect in either role, settle role conflicts, learn peer-reflexive
 * candidates, declare a silent peer disconnected then failed, ignore forged
 * checks, and reconnect after a restart; the selected pair reports its
 * candidates, its checks and consent requests, and their round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "ice.h"
#include "stun.h"

static uint64_t rng = 88172645463325252ull;
static void test_random(void *buf, size_t n)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        p[i] = (uint8_t)rng;
    }
}

typedef struct packet {
    int to_agent;
    unsigned to_local;
    struct sockaddr_in from;
    uint8_t data[300];
    size_t len;
    uint64_t at; /* delivered then */
} packet;

typedef struct net {
    lkice_agent *agent[2];
    struct sockaddr_in addr[2];
    packet q[256];
    int head, tail;
    bool drop_from[2]; /* a peer that went silent */
    int states[2][8];
    int selected[2];
    uint64_t now, delay; /* one way, for every packet */
    uint64_t late;       /* how late the timer fires after a deadline */
} net;

typedef struct peer_ctx {
    net *n;
    int self;
} peer_ctx;

static peer_ctx ctxs[2];

static void on_send(void *ctx, unsigned local, const struct sockaddr *to, socklen_t tolen,
                    const uint8_t *data, size_t len)
{
    peer_ctx *c = ctx;
    net *n = c->n;
    if (n->drop_from[c->self])
        return;
    const struct sockaddr_in *dst = (const struct sockaddr_in *)to;
    for (int k = 0; k < 2; k++) {
        if (n->addr[k].sin_port == dst->sin_port && n->addr[k].sin_addr.s_addr == dst->sin_addr.s_addr) {
            packet *p = &n->q[n->tail++ % 256];
            p->to_agent = k;
            p->to_local = 0;
            p->from = n->addr[c->self];
            p->at = n->now + n->delay;
            memcpy(p->data, data, len);
            p->len = len;
        }
    }
}

static void on_state(void *ctx, enum lkice_state s)
{
    peer_ctx *c = ctx;
    c->n->states[c->self][s]++;
}

static void on_selected(void *ctx, unsigned local, const struct sockaddr *remote, socklen_t len)
{
    peer_ctx *c = ctx;
    c->n->selected[c->self]++;
}

static void net_init(net *n, bool a_controlling, bool b_controlling)
{
    memset(n, 0, sizeof *n);
    for (int k = 0; k < 2; k++) {
        ctxs[k] = (peer_ctx){n, k};
        lkice_callbacks cb = {&ctxs[k], on_send, on_state, on_selected};
        n->agent[k] = lkice_new(&cb, k == 0 ? a_controlling : b_controlling, test_random);
        n->addr[k].sin_family = AF_INET;
        n->addr[k].sin_port = htons((uint16_t)(4000 + k));
        inet_pton(AF_INET, k == 0 ? "10.0.0.1" : "10.0.0.2", &n->addr[k].sin_addr);
        assert_int_equal(lkice_add_local(n->agent[k], (struct sockaddr *)&n->addr[k], sizeof n->addr[k]), 0);
    }
}

static void exchange(net *n, bool candidates)
{
    for (int k = 0; k < 2; k++) {
        lkice_agent *self = n->agent[k], *other = n->agent[1 - k];
        assert_int_equal(lkice_set_remote_credentials(self, lkice_local_ufrag(other),
                                                      lkice_local_pwd(other)), 0);
        if (candidates) {
            char line[128], why[128];
            lkice_local_candidate(other, 0, line, sizeof line);
            assert_int_equal(lkice_add_remote_candidate(self, line, why, sizeof why), 0);
            lkice_remote_candidates_done(self);
        }
    }
}

/* Runs the clock until both agents are quiet or `until`. */
static uint64_t run(net *n, uint64_t now, uint64_t until)
{
    for (int steps = 0; steps < 100000 && now < until; steps++) {
        n->now = now;
        while (n->head != n->tail && n->q[n->head % 256].at <= now) {
            packet *p = &n->q[n->head++ % 256];
            lkice_on_datagram(n->agent[p->to_agent], now, p->to_local,
                              (struct sockaddr *)&p->from, sizeof p->from, p->data, p->len);
        }
        uint64_t d = n->head != n->tail ? n->q[n->head % 256].at : UINT64_MAX;
        for (int k = 0; k < 2; k++) {
            uint64_t dk = lkice_next_deadline(n->agent[k]);
            d = dk < d ? dk : d;
        }
        if (d == UINT64_MAX)
            break;
        now = d > now ? d + n->late : now + 1;
        if (now > until)
            now = until;
        n->now = now;
        for (int k = 0; k < 2; k++) {
            lkice_on_timeout(n->agent[k], now);
            /* what was due is done: a deadline left behind would have its
             * worker's timer fire again at once, for as long as it stays */
            assert_true(lkice_next_deadline(n->agent[k]) > now);
        }
    }
    return now;
}

static void net_free(net *n)
{
    lkice_free(n->agent[0]);
    lkice_free(n->agent[1]);
}

static const uint64_t S = 1000000000ull;
/* Real monotonic clocks are far from zero: so is this one (a clock at 0
 * once hid a consent timestamp that was never set). */
static const uint64_t T0 = 86400ull * 1000000000ull;

static void controlling_and_controlled_connect(void **state)
{
    net n;
    net_init(&n, true, false);
    exchange(&n, true);
    lkice_start(n.agent[0], T0);
    lkice_start(n.agent[1], T0);
    run(&n, T0, T0 + 2 * S);
    assert_int_equal(lkice_state(n.agent[0]), LKICE_CONNECTED);
    assert_int_equal(lkice_state(n.agent[1]), LKICE_CONNECTED);
    assert_int_equal(n.selected[0], 1);
    assert_int_equal(n.selected[1], 1);
    /* consent keeps it up for a minute */
    run(&n, T0 + 2 * S, T0 + 60 * S);
    assert_int_equal(lkice_state(n.agent[0]), LKICE_CONNECTED);
    assert_int_equal(lkice_state(n.agent[1]), LKICE_CONNECTED);
    assert_int_equal(n.states[0][LKICE_DISCONNECTED], 0);
    net_free(&n);
}

static bool same_in(const struct sockaddr_storage *s, const struct sockaddr_in *a)
{
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)s;
    return v4->sin_family == AF_INET && v4->sin_port == a->sin_port &&
           v4->sin_addr.s_addr == a->sin_addr.s_addr;
}

/* 20 ms each way: every check and consent request answered in 40 ms. */
static void selected_pair_reports_its_traffic(void **state)
{
    net n;
    net_init(&n, true, false);
    n.delay = 20000000;
    lkice_pair_info info;
    assert_false(lkice_selected_pair(n.agent[0], &info));
    assert_int_equal(lkice_selected_changes(n.agent[0]), 0);
    exchange(&n, true);
    lkice_start(n.agent[0], T0);
    lkice_start(n.agent[1], T0);
    run(&n, T0, T0 + 61 * S);
    assert_int_equal(lkice_state(n.agent[0]), LKICE_CONNECTED);
    for (int k = 0; k < 2; k++) {
        assert_true(lkice_selected_pair(n.agent[k], &info));
        assert_int_equal(lkice_selected_changes(n.agent[k]), 1);
        assert_int_equal(info.local_index, 0);
        assert_true(same_in(&info.local.addr, &n.addr[k]));
        assert_true(same_in(&info.remote.addr, &n.addr[1 - k]));
        assert_int_equal(info.local.type, LKICE_HOST);
        assert_int_equal(info.remote.type, LKICE_HOST); /* from the candidate line */
        assert_int_equal(info.remote.priority, (126u << 24) | (65535u << 8) | 255u);
        assert_true(info.nominated);
        assert_true(info.n.requests_sent >= 1 && info.n.requests_received >= 1);
        assert_int_equal(info.n.responses_sent, info.n.requests_received);
        /* consent every 4 to 6 s for about a minute */
        assert_true(info.n.consent_requests_sent >= 9 && info.n.consent_requests_sent <= 15);
        assert_int_equal(info.n.responses_received,
                         info.n.requests_sent + info.n.consent_requests_sent);
        assert_int_equal(info.n.rtt_count, info.n.responses_received);
        assert_int_equal(info.n.rtt_last_ns, 40000000);
        assert_int_equal(info.n.rtt_total_ns, info.n.rtt_count * 40000000);
    }
    net_free(&n);
}

static void role_conflict_is_settled(void **state)
{
    for (int both_controlling = 0; both_controlling < 2; both_controlling++) {
        net n;
        net_init(&n, both_controlling, both_controlling);
        exchange(&n, true);
        lkice_start(n.agent[0], T0);
        lkice_start(n.agent[1], T0);
        run(&n, T0, T0 + 3 * S);
        assert_int_equal(lkice_state(n.agent[0]), LKICE_CONNECTED);
        assert_int_equal(lkice_state(n.agent[1]), LKICE_CONNECTED);
        assert_true(lkice_controlling(n.agent[0]) != lkice_controlling(n.agent[1]));
        net_free(&n);
    }
}

static void peer_reflexive_candidate_is_learned(void **state)
{
    /* B is never told A's candidate: it learns it from A's checks. */
    net n;
    net_init(&n, true, false);
    exchange(&n, false);
    char line[128], why[128];
    lkice_local_candidate(n.agent[1], 0, line, sizeof line);
    assert_int_equal(lkice_add_remote_candidate(n.agent[0], line, why, sizeof why), 0);
    lkice_start(n.agent[0], T0);
    lkice_start(n.agent[1], T0);
    run(&n, T0, T0 + 3 * S);
    assert_int_equal(lkice_state(n.agent[0]), LKICE_CONNECTED);
    assert_int_equal(lkice_state(n.agent[1]), LKICE_CONNECTED);
    lkice_pair_info info;
    assert_true(lkice_selected_pair(n.agent[1], &info));
    assert_int_equal(info.remote.type, LKICE_PRFLX);
    assert_true(same_in(&info.remote.addr, &n.addr[0]));
    net_free(&n);
}

static void checks_before_the_answer_are_remembered(void **state)
{
    /* B hears A's checks before it knows A's credentials, and is never told
     * A's candidate: the source of those early checks is all it has. */
    net n;
    net_init(&n, true, false);
    lkice_agent *a = n.agent[0], *b = n.agent[1];
    char line[128], why[128];
    assert_int_equal(lkice_set_remote_credentials(a, lkice_local_ufrag(b), lkice_local_pwd(b)), 0);
    lkice_local_candidate(b, 0, line, sizeof line);
    assert_int_equal(lkice_add_remote_candidate(a, line, why, sizeof why), 0);
    lkice_start(a, T0);
    lkice_start(b, T0);
    uint64_t now = run(&n, T0, T0 + S / 2);
    assert_int_equal(lkice_state(b), LKICE_CHECKING);
    assert_int_equal(lkice_set_remote_credentials(b, lkice_local_ufrag(a), lkice_local_pwd(a)), 0);
    run(&n, now, now + 5 * S);
    assert_int_equal(lkice_state(a), LKICE_CONNECTED);
    assert_int_equal(lkice_state(b), LKICE_CONNECTED);
    net_free(&n);
}

static void silent_peer_disconnects_then_fails(void **state)
{
    net n;
    net_init(&n, true, false);
    exchange(&n, true);
    lkice_start(n.agent[0], T0);
    lkice_start(n.agent[1], T0);
    uint64_t now = run(&n, T0, T0 + 2 * S);
    assert_int_equal(lkice_state(n.agent[0]), LKICE_CONNECTED);
    n.drop_from[1] = true;
    now = run(&n, now, now + 20 * S);
    assert_int_equal(lkice_state(n.agent[0]), LKICE_DISCONNECTED);
    run(&n, now, now + 20 * S);
    assert_int_equal(lkice_state(n.agent[0]), LKICE_FAILED);
    net_free(&n);
}

static void unreachable_peer_fails(void **state)
{
    net n;
    net_init(&n, true, false);
    exchange(&n, true);
    n.drop_from[1] = true;
    lkice_start(n.agent[0], T0);
    lkice_start(n.agent[1], T0);
    run(&n, T0, T0 + 30 * S);
    assert_int_equal(lkice_state(n.agent[0]), LKICE_FAILED);
    assert_int_equal(n.selected[0], 0);
    net_free(&n);
}

/* Connected over one pair while checks on others go unanswered: their
 * retransmissions fall due while the pacer holds the next check back (a
 * timer firing late sets the pacer off their beat), the case that once
 * left the agent's deadline in the past, its timer firing again at once
 * for up to 50 ms (run() asserts it never is). */
static void unanswered_pairs_beside_a_working_one_keep_their_pace(void **state)
{
    net n;
    net_init(&n, true, false);
    n.delay = 7 * S / 1000;
    n.late = 3 * S / 1000;
    exchange(&n, true);
    static const char *more[] = {
        "candidate:7 1 udp 2130706431 10.0.0.7 4007 typ host",
        "candidate:8 1 udp 2130706431 10.0.0.8 4008 typ host",
        "candidate:9 1 udp 2130706431 10.0.0.9 4009 typ host",
    };
    lkice_start(n.agent[0], T0);
    lkice_start(n.agent[1], T0);
    uint64_t now = T0;
    char why[128];
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) { /* trickled in */
        now = run(&n, now, now + 1003 * S / 1000);
        assert_int_equal(lkice_add_remote_candidate(n.agent[0], more[i], why, sizeof why), 0);
    }
    run(&n, now, T0 + 30 * S);
    assert_int_equal(lkice_state(n.agent[0]), LKICE_CONNECTED);
    assert_int_equal(lkice_state(n.agent[1]), LKICE_CONNECTED);
    net_free(&n);
}

static void forged_check_gets_no_answer(void **state)
{
    net n;
    net_init(&n, true, false);
    exchange(&n, true);
    lkice_start(n.agent[1], T0);
    uint8_t txid[12] = {0}, buf[200];
    char user[64];
    snprintf(user, sizeof user, "%s:someone", lkice_local_ufrag(n.agent[1]));
    lkstun_builder b;
    lkstun_begin(&b, buf, sizeof buf, LKSTUN_BINDING_REQUEST, txid);
    lkstun_add(&b, LKSTUN_ATTR_USERNAME, user, strlen(user));
    lkstun_add_integrity(&b, "not-the-password", 16);
    lkstun_add_fingerprint(&b);
    size_t len = lkstun_end(&b);
    assert_true(lkice_on_datagram(n.agent[1], T0, 0, (struct sockaddr *)&n.addr[0],
                                  sizeof n.addr[0], buf, len));
    assert_int_equal(n.tail, 0); /* nothing sent back */
    /* not STUN at all: left to the caller */
    assert_false(lkice_on_datagram(n.agent[1], T0, 0, (struct sockaddr *)&n.addr[0],
                                   sizeof n.addr[0], (const uint8_t *)"\x16\xfe\xfd", 3));
    net_free(&n);
}

static void remote_candidates_parsed_or_ignored_with_reason(void **state)
{
    net n;
    net_init(&n, true, false);
    char why[160];
    lkice_agent *a = n.agent[0];
    assert_int_equal(lkice_add_remote_candidate(a, "a=candidate:1 1 UDP 2130706431 127.0.0.1 7882 typ host generation 0", why, sizeof why), 0);
    assert_int_equal(lkice_add_remote_candidate(a, "candidate:2 1 udp 1694498815 ::1 7882 typ srflx raddr ::1 rport 1", why, sizeof why), 0);
    assert_int_equal(lkice_add_remote_candidate(a, "candidate:3 1 tcp 1518280447 127.0.0.1 7881 typ host tcptype passive", why, sizeof why), 1);
    assert_non_null(strstr(why, "UDP"));
    assert_int_equal(lkice_add_remote_candidate(a, "candidate:4 1 udp 2130706431 f00.local 5000 typ host", why, sizeof why), 1);
    assert_non_null(strstr(why, "not an IP"));
    assert_int_equal(lkice_add_remote_candidate(a, "candidate:5 2 udp 2130706431 127.0.0.1 5000 typ host", why, sizeof why), 1);
    assert_int_equal(lkice_add_remote_candidate(a, "candidate:6 1 udp 1 127.0.0.1 99999 typ host", why, sizeof why), -1);
    assert_int_equal(lkice_add_remote_candidate(a, "candidate:7 1 udp", why, sizeof why), -1);
    assert_int_equal(lkice_add_remote_candidate(a, "m=audio 9", why, sizeof why), -1);
    /* bounded: the 33rd distinct candidate is refused */
    int refused = 0;
    for (int i = 0; i < 40; i++) {
        char line[128];
        snprintf(line, sizeof line, "candidate:%d 1 udp 1 10.1.0.%d 5000 typ host", i, i);
        refused += lkice_add_remote_candidate(a, line, why, sizeof why) == 1;
    }
    assert_true(refused > 0);
    net_free(&n);
}

static void restart_reconnects(void **state)
{
    net n;
    net_init(&n, true, false);
    exchange(&n, true);
    lkice_start(n.agent[0], T0);
    lkice_start(n.agent[1], T0);
    uint64_t now = run(&n, T0, T0 + 2 * S);
    assert_int_equal(n.selected[0], 1);
    lkice_restart(n.agent[0]);
    lkice_restart(n.agent[1]);
    exchange(&n, true);
    /* new credentials: checks start over, from lkice_start */
    assert_false(lkice_selected_pair(n.agent[0], &(lkice_pair_info){0}));
    lkice_start(n.agent[0], now);
    lkice_start(n.agent[1], now);
    assert_int_equal(lkice_state(n.agent[0]), LKICE_CHECKING);
    run(&n, now, now + 3 * S);
    assert_int_equal(lkice_state(n.agent[0]), LKICE_CONNECTED);
    assert_int_equal(lkice_state(n.agent[1]), LKICE_CONNECTED);
    assert_int_equal(n.selected[0], 2);
    net_free(&n);
}

/* A resume as livekit-server answers it: the peer gets our new credentials
 * first and checks at once; its checks reach us before its answer does,
 * and their source is all we learn (its candidates may not reach it). What
 * they taught us survives the answer's credentials. */
static void restart_keeps_what_early_checks_taught(void **state)
{
    net n;
    net_init(&n, true, false);
    lkice_agent *a = n.agent[0], *b = n.agent[1];
    exchange(&n, true);
    lkice_start(a, T0);
    lkice_start(b, T0);
    uint64_t now = run(&n, T0, T0 + 2 * S);
    assert_int_equal(n.selected[0], 1);
    lkice_restart(a);
    lkice_restart(b);
    char line[128], why[128];
    assert_int_equal(lkice_set_remote_credentials(b, lkice_local_ufrag(a), lkice_local_pwd(a)), 0);
    lkice_local_candidate(a, 0, line, sizeof line);
    assert_int_equal(lkice_add_remote_candidate(b, line, why, sizeof why), 0);
    lkice_start(b, now);
    now = run(&n, now, now + S / 2);
    assert_int_equal(lkice_set_remote_credentials(a, lkice_local_ufrag(b), lkice_local_pwd(b)), 0);
    lkice_start(a, now);
    run(&n, now, now + 5 * S);
    assert_int_equal(lkice_state(a), LKICE_CONNECTED);
    assert_int_equal(lkice_state(b), LKICE_CONNECTED);
    assert_int_equal(n.selected[0], 2);
    net_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(controlling_and_controlled_connect),
        cmocka_unit_test(selected_pair_reports_its_traffic),
        cmocka_unit_test(role_conflict_is_settled),
        cmocka_unit_test(peer_reflexive_candidate_is_learned),
        cmocka_unit_test(checks_before_the_answer_are_remembered),
        cmocka_unit_test(silent_peer_disconnects_then_fails),
        cmocka_unit_test(unreachable_peer_fails),
        cmocka_unit_test(unanswered_pairs_beside_a_working_one_keep_their_pace),
        cmocka_unit_test(forged_check_gets_no_answer),
        cmocka_unit_test(remote_candidates_parsed_or_ignored_with_reason),
        cmocka_unit_test(restart_reconnects),
        cmocka_unit_test(restart_keeps_what_early_checks_taught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
