/*
 * test_sctp.c: two of our SCTP associations through a simulated link with
 * loss, duplication and reordering (seeded, so every run is the same).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "crc32c.h"
#include "rtc/sctp_link.h"
#include "sctp.h"

#define MS ((uint64_t)1000000)
#define SEC (1000 * MS)

typedef struct rxmsg {
    uint16_t sid;
    uint32_t ppid;
    uint32_t len;
    uint32_t index; /* the first 4 bytes, when len >= 4 */
    bool unordered;
    bool intact; /* the pattern of make_msg */
} rxmsg;

typedef struct peer {
    lksctp *a;
    rxmsg *msgs;
    size_t nmsgs, cap;
    int resets_in, resets_out, resets_out_ok;
    uint16_t last_reset_in;
    int writable;
    bool stop_reading_after_first; /* pause from inside the callback */
} peer;

typedef struct world {
    lnk l;
    peer p[2];
    uint64_t seed;
} world;

static void fill_pattern(uint8_t *buf, size_t len, uint32_t index)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(index * 7 + i * 13 + (i >> 8));
    if (len >= 4) {
        buf[0] = (uint8_t)(index >> 24);
        buf[1] = (uint8_t)(index >> 16);
        buf[2] = (uint8_t)(index >> 8);
        buf[3] = (uint8_t)index;
    }
}

static bool check_pattern(const uint8_t *buf, size_t len, uint32_t index)
{
    for (size_t i = 4; i < len; i++)
        if (buf[i] != (uint8_t)(index * 7 + i * 13 + (i >> 8)))
            return false;
    return true;
}

static world *W; /* for the callbacks' ctx mapping */

static peer *peer_of(void *ctx)
{
    lnk_side *s = ctx;
    return &W->p[s->idx];
}

static void cb_message(void *ctx, uint16_t sid, uint32_t ppid, const uint8_t *d, size_t n,
                       bool unordered)
{
    peer *p = peer_of(ctx);
    if (p->nmsgs == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->msgs = realloc(p->msgs, p->cap * sizeof *p->msgs);
    }
    rxmsg *m = &p->msgs[p->nmsgs++];
    m->sid = sid;
    m->ppid = ppid;
    m->len = (uint32_t)n;
    m->unordered = unordered;
    m->index = n >= 4 ? (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3]
                      : 0;
    m->intact = check_pattern(d, n, m->index);
    if (p->stop_reading_after_first)
        lksctp_set_paused(p->a, true, W->l.now);
}

static void cb_reset(void *ctx, uint16_t sid, bool incoming, bool ok)
{
    peer *p = peer_of(ctx);
    if (incoming) {
        p->resets_in++;
        p->last_reset_in = sid;
    } else {
        p->resets_out++;
        p->resets_out_ok += ok;
    }
}

static void cb_writable(void *ctx)
{
    peer_of(ctx)->writable++;
}

static void rnd(void *buf, size_t n)
{
    lnk_random_bytes_from(&W->seed, buf, n);
}

static void link_deliver(lnk *l, int to, const uint8_t *p, size_t n)
{
    world *w = l->user;
    lksctp_handle_packet(w->p[to].a, p, n, l->now);
}

static uint64_t link_deadline(lnk *l, int i)
{
    world *w = l->user;
    return lksctp_next_deadline(w->p[i].a);
}

static void link_timeout(lnk *l, int i)
{
    world *w = l->user;
    lksctp_on_timeout(w->p[i].a, l->now);
}

static world *world_new(uint64_t seed, const lksctp_config *cfg0, const lksctp_config *cfg1)
{
    world *w = calloc(1, sizeof *w);
    W = w;
    w->seed = seed;
    w->l.rng = seed * 2654435761u + 1;
    w->l.delay_ns = 10 * MS;
    w->l.now = 1 * SEC;
    w->l.user = w;
    w->l.deliver = link_deliver;
    w->l.deadline = link_deadline;
    w->l.timeout = link_timeout;
    for (int i = 0; i < 2; i++) {
        w->l.side[i].l = &w->l;
        w->l.side[i].idx = i;
        lksctp_callbacks cb = {
            .ctx = &w->l.side[i],
            .send = lnk_send,
            .message = cb_message,
            .stream_reset = cb_reset,
            .writable = cb_writable,
        };
        lksctp_config cfg = {0};
        const lksctp_config *given = i == 0 ? cfg0 : cfg1;
        if (given)
            cfg = *given;
        cfg.random = rnd;
        w->p[i].a = lksctp_new(&cfg, &cb);
        assert_non_null(w->p[i].a);
    }
    return w;
}

static void world_free(world *w)
{
    lnk_clear(&w->l);
    for (int i = 0; i < 2; i++) {
        lksctp_free(w->p[i].a);
        free(w->p[i].msgs);
    }
    free(w);
    W = NULL;
}

static bool both_established(lnk *l)
{
    world *w = l->user;
    return lksctp_state(w->p[0].a) == LKSCTP_ESTABLISHED &&
           lksctp_state(w->p[1].a) == LKSCTP_ESTABLISHED;
}

static bool both_closed(lnk *l)
{
    world *w = l->user;
    return lksctp_state(w->p[0].a) == LKSCTP_CLOSED && lksctp_state(w->p[1].a) == LKSCTP_CLOSED;
}

static size_t want_msgs;
static int want_side;
static bool got_enough(lnk *l)
{
    world *w = l->user;
    return w->p[want_side].nmsgs >= want_msgs;
}

static bool queues_empty(lnk *l)
{
    world *w = l->user;
    return lksctp_buffered(w->p[0].a) == 0 && lksctp_buffered(w->p[1].a) == 0;
}

static void connect_pair(world *w, bool first, bool second)
{
    if (first)
        assert_int_equal(lksctp_connect(w->p[0].a, w->l.now), 0);
    if (second)
        assert_int_equal(lksctp_connect(w->p[1].a, w->l.now), 0);
    assert_true(lnk_run(&w->l, both_established, 120 * SEC));
}

/* Sends n messages from side `from`, running the link whenever the send
 * buffer is full; sizes cycle through min..max. */
static void send_many(world *w, int from, uint16_t sid, uint32_t n, size_t min, size_t max,
                      const lksctp_sendopts *o)
{
    uint8_t *buf = malloc(max);
    for (uint32_t i = 0; i < n; i++) {
        size_t len = min + (max > min ? (i * 7919u) % (max - min + 1) : 0);
        fill_pattern(buf, len, i);
        int rc;
        int spins = 0;
        while ((rc = lksctp_send(w->p[from].a, sid, 53, buf, len, o, w->l.now)) == -EAGAIN) {
            assert_true(lnk_step(&w->l, w->l.now + 600 * SEC));
            assert_true(++spins < 1000000);
        }
        assert_int_equal(rc, 0);
    }
    free(buf);
}

/* --- tests ------------------------------------------------------------------- */

static void test_crc32c_vectors(void **state)
{
    (void)state;
    /* RFC 3720 B.4 */
    uint8_t zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    assert_int_equal(lkcrc32c(zeros, 32), 0x8a9136aa);
    assert_int_equal(lkcrc32c(ones, 32), 0x62a8ab43);
    assert_int_equal(lkcrc32c((const uint8_t *)"123456789", 9), 0xe3069283);
    uint32_t c = lkcrc32c_update(0, (const uint8_t *)"1234", 4);
    assert_int_equal(lkcrc32c_update(c, (const uint8_t *)"56789", 5), 0xe3069283);
}

static void test_setup_one_side_connects(void **state)
{
    (void)state;
    for (int who = 0; who < 2; who++) {
        world *w = world_new(11 + who, NULL, NULL);
        connect_pair(w, who == 0, who == 1);
        assert_int_equal(lksctp_out_streams(w->p[0].a), 65535);
        assert_true(lksctp_peer_pr_sctp(w->p[0].a));
        assert_true(lksctp_peer_pr_sctp(w->p[1].a));
        world_free(w);
    }
}

static void test_setup_collision_and_loss(void **state)
{
    (void)state;
    /* both send INIT at once (what pion does whatever the DTLS role) */
    world *w = world_new(21, NULL, NULL);
    connect_pair(w, true, true);
    send_many(w, 0, 1, 5, 10, 100, NULL);
    send_many(w, 1, 2, 5, 10, 100, NULL);
    want_side = 1, want_msgs = 5;
    assert_true(lnk_run(&w->l, got_enough, 10 * SEC));
    want_side = 0;
    assert_true(lnk_run(&w->l, got_enough, 10 * SEC));
    world_free(w);

    /* handshake through 30% loss, each seed a different pattern */
    for (uint64_t seed = 1; seed <= 20; seed++) {
        w = world_new(100 + seed, NULL, NULL);
        w->l.loss_pct = 30;
        w->l.dup_pct = 10;
        w->l.reorder_pct = 20;
        connect_pair(w, true, seed % 2 == 0);
        world_free(w);
    }
}

static void test_ordered_1000_with_loss(void **state)
{
    (void)state;
    world *w = world_new(31, NULL, NULL);
    connect_pair(w, true, false);
    w->l.loss_pct = 10;
    w->l.dup_pct = 3;
    w->l.reorder_pct = 5;
    send_many(w, 0, 1, 1000, 1, 3000, NULL);
    want_side = 1, want_msgs = 1000;
    assert_true(lnk_run(&w->l, got_enough, 600 * SEC));
    assert_true(lnk_run(&w->l, queues_empty, 600 * SEC));
    peer *b = &w->p[1];
    assert_int_equal(b->nmsgs, 1000);
    for (uint32_t i = 0; i < 1000; i++) {
        if (b->msgs[i].len >= 4)
            assert_int_equal(b->msgs[i].index, i);
        assert_true(b->msgs[i].intact);
        assert_false(b->msgs[i].unordered);
        assert_int_equal(b->msgs[i].sid, 1);
        assert_int_equal(b->msgs[i].ppid, 53);
    }
    lksctp_stats st;
    lksctp_get_stats(w->p[0].a, &st);
    assert_true(st.retransmissions > 0);
    assert_true(st.fast_retransmits > 0);
    world_free(w);
}

static void test_unordered(void **state)
{
    (void)state;
    world *w = world_new(41, NULL, NULL);
    connect_pair(w, true, false);
    w->l.loss_pct = 10;
    w->l.reorder_pct = 20;
    lksctp_sendopts o = {.unordered = true};
    send_many(w, 0, 3, 300, 4, 2500, &o);
    want_side = 1, want_msgs = 300;
    assert_true(lnk_run(&w->l, got_enough, 600 * SEC));
    peer *b = &w->p[1];
    bool seen[300] = {0};
    int out_of_order = 0;
    for (size_t i = 0; i < b->nmsgs; i++) {
        assert_true(b->msgs[i].unordered);
        assert_true(b->msgs[i].intact);
        assert_true(b->msgs[i].index < 300);
        assert_false(seen[b->msgs[i].index]);
        seen[b->msgs[i].index] = true;
        if (b->msgs[i].index != i)
            out_of_order++;
    }
    assert_true(out_of_order > 0); /* a lost message did not hold the others */
    world_free(w);
}

static void test_fragmentation_200k(void **state)
{
    (void)state;
    world *w = world_new(51, NULL, NULL);
    connect_pair(w, true, false);
    w->l.loss_pct = 5;
    w->l.reorder_pct = 5;
    send_many(w, 0, 0, 4, 200 * 1024, 200 * 1024, NULL);
    lksctp_sendopts o = {.unordered = true};
    send_many(w, 0, 2, 2, 150 * 1024, 200 * 1024, &o);
    want_side = 1, want_msgs = 6;
    assert_true(lnk_run(&w->l, got_enough, 600 * SEC));
    for (int i = 0; i < 6; i++)
        assert_true(w->p[1].msgs[i].intact);
    assert_int_equal(w->p[1].msgs[0].len, 200 * 1024);
    /* too large for the default 256 KiB */
    static uint8_t big[256 * 1024 + 1];
    assert_int_equal(lksctp_send(w->p[0].a, 0, 53, big, sizeof big, NULL, w->l.now), -EMSGSIZE);
    assert_int_equal(lksctp_send(w->p[0].a, 0, 53, big, 0, NULL, w->l.now), -EINVAL);
    world_free(w);
}

static void test_partial_reliability(void **state)
{
    (void)state;
    world *w = world_new(61, NULL, NULL);
    connect_pair(w, true, false);
    w->l.loss_pct = 20;
    /* lossy like LiveKit's "_lossy": max retransmits 0; unordered and ordered */
    lksctp_sendopts lossy = {.reliability = LKSCTP_MAX_RETRANSMITS, .value = 0};
    for (int ordered = 0; ordered < 2; ordered++) {
        lossy.unordered = !ordered;
        size_t before = w->p[1].nmsgs;
        send_many(w, 0, (uint16_t)(5 + ordered), 400, 100, 3000, &lossy);
        assert_true(lnk_run(&w->l, queues_empty, 600 * SEC));
        size_t got = w->p[1].nmsgs - before;
        assert_true(got > 100);
        assert_true(got < 400); /* some were given up */
        for (size_t i = before + 1; i < w->p[1].nmsgs; i++) {
            assert_true(w->p[1].msgs[i].intact);
            if (ordered) /* in order, with holes */
                assert_true(w->p[1].msgs[i].index > w->p[1].msgs[i - 1].index);
        }
    }
    lksctp_stats st;
    lksctp_get_stats(w->p[0].a, &st);
    assert_true(st.abandoned_messages > 0);
    assert_true(st.forward_tsns_sent > 0);
    assert_true(st.retransmissions == 0 || st.abandoned_messages > 0);

    /* later messages on the same streams do not stall, loss or not */
    w->l.loss_pct = 0;
    size_t before = w->p[1].nmsgs;
    lossy.unordered = false;
    send_many(w, 0, 6, 50, 100, 100, &lossy);
    send_many(w, 0, 7, 50, 100, 100, NULL);
    want_side = 1, want_msgs = before + 100;
    assert_true(lnk_run(&w->l, got_enough, 60 * SEC));

    /* lifetime: a message that cannot get through in time is dropped */
    w->l.blackhole[0] = true;
    lksctp_sendopts timed = {.reliability = LKSCTP_MAX_LIFETIME, .value = 500};
    send_many(w, 0, 8, 3, 100, 100, &timed);
    lnk_run(&w->l, NULL, 2 * SEC);
    w->l.blackhole[0] = false;
    before = w->p[1].nmsgs;
    send_many(w, 0, 8, 1, 100, 100, NULL);
    want_msgs = before + 1;
    assert_true(lnk_run(&w->l, got_enough, 60 * SEC));
    assert_true(lnk_run(&w->l, queues_empty, 60 * SEC));
    assert_int_equal(w->p[1].nmsgs, before + 1);
    world_free(w);
}

static void test_stream_reset(void **state)
{
    (void)state;
    world *w = world_new(71, NULL, NULL);
    connect_pair(w, true, false);
    w->l.loss_pct = 10;
    send_many(w, 0, 3, 50, 10, 2000, NULL);
    assert_int_equal(lksctp_reset_stream(w->p[0].a, 3, w->l.now), 0);
    /* no sending while the reset is under way */
    uint8_t x = 1;
    assert_int_equal(lksctp_send(w->p[0].a, 3, 53, &x, 1, NULL, w->l.now), -EBUSY);
    assert_true(lnk_run(&w->l, queues_empty, 600 * SEC));
    lnk_run(&w->l, NULL, 10 * SEC);
    assert_int_equal(w->p[0].resets_out, 1);
    assert_int_equal(w->p[0].resets_out_ok, 1);
    assert_int_equal(w->p[1].resets_in, 1);
    assert_int_equal(w->p[1].last_reset_in, 3);
    assert_int_equal(w->p[1].nmsgs, 50); /* everything sent before came first */
    /* the stream starts again at SSN 0 and still works */
    send_many(w, 0, 3, 5, 10, 20, NULL);
    want_side = 1, want_msgs = 55;
    assert_true(lnk_run(&w->l, got_enough, 60 * SEC));
    for (int i = 0; i < 5; i++)
        assert_int_equal(w->p[1].msgs[50 + i].index, (uint32_t)i);
    assert_int_equal(lksctp_reset_stream(w->p[0].a, 65535, w->l.now), -EINVAL);
    world_free(w);
}

static void test_heartbeat(void **state)
{
    (void)state;
    lksctp_config c = {.heartbeat_ms = 5000};
    world *w = world_new(81, &c, &c);
    connect_pair(w, true, false);
    lnk_run(&w->l, NULL, 60 * SEC);
    lksctp_stats st;
    lksctp_get_stats(w->p[0].a, &st);
    assert_true(st.heartbeats_sent >= 5);
    assert_int_equal(st.heartbeat_acks, st.heartbeats_sent);
    assert_true(st.srtt_us >= 19000 && st.srtt_us <= 21000); /* the 20 ms round trip */
    assert_int_equal(lksctp_state(w->p[0].a), LKSCTP_ESTABLISHED);
    /* the peer goes silent: the association gives up */
    w->l.blackhole[1] = true;
    lnk_run(&w->l, NULL, 1200 * SEC);
    assert_int_equal(lksctp_state(w->p[0].a), LKSCTP_CLOSED);
    assert_int_equal(lksctp_close_reason(w->p[0].a), LKSCTP_BY_TIMEOUT);
    world_free(w);
}

static void test_shutdown(void **state)
{
    (void)state;
    world *w = world_new(91, NULL, NULL);
    connect_pair(w, true, false);
    w->l.loss_pct = 10;
    send_many(w, 0, 1, 100, 10, 5000, NULL);
    lksctp_shutdown(w->p[0].a, w->l.now);
    uint8_t x = 0;
    assert_int_equal(lksctp_send(w->p[0].a, 1, 53, &x, 1, NULL, w->l.now), -ENOTCONN);
    assert_true(lnk_run(&w->l, both_closed, 600 * SEC));
    assert_int_equal(w->p[1].nmsgs, 100);
    assert_int_equal(lksctp_close_reason(w->p[0].a), LKSCTP_BY_SHUTDOWN);
    assert_int_equal(lksctp_close_reason(w->p[1].a), LKSCTP_BY_SHUTDOWN);
    assert_int_equal(lksctp_next_deadline(w->p[0].a), UINT64_MAX);
    world_free(w);
}

static void test_abort(void **state)
{
    (void)state;
    world *w = world_new(101, NULL, NULL);
    connect_pair(w, false, true);
    send_many(w, 0, 1, 10, 10, 50, NULL);
    lksctp_abort(w->p[0].a, "bye", w->l.now);
    assert_int_equal(lksctp_state(w->p[0].a), LKSCTP_CLOSED);
    assert_true(lnk_run(&w->l, both_closed, 10 * SEC));
    assert_int_equal(lksctp_close_reason(w->p[1].a), LKSCTP_BY_PEER_ABORT);
    assert_int_equal(lksctp_close_reason(w->p[0].a), LKSCTP_BY_LOCAL_ABORT);
    world_free(w);
}

static void test_cwnd_growth(void **state)
{
    (void)state;
    world *w = world_new(111, NULL, NULL);
    connect_pair(w, true, false);
    lksctp_stats st;
    lksctp_get_stats(w->p[0].a, &st);
    uint32_t initial = st.cwnd;
    assert_int_equal(initial, 4404); /* min(4 MTU, max(2 MTU, 4404)) at MTU 1200 */
    send_many(w, 0, 1, 400, 1000, 1000, NULL);
    lnk_run(&w->l, queues_empty, 60 * SEC);
    lksctp_get_stats(w->p[0].a, &st);
    assert_true(st.cwnd > 20 * initial);
    uint64_t t0 = w->l.now;
    send_many(w, 0, 1, 2000, 1000, 1000, NULL);
    lnk_run(&w->l, queues_empty, 60 * SEC);
    /* 2 MB at a 20 ms round trip with an open window: well under 2 s */
    assert_true(w->l.now - t0 < 2 * SEC);
    world_free(w);
}

static void test_receiver_stops_reading(void **state)
{
    (void)state;
    lksctp_config snd = {.send_buffer = 256 * 1024};
    lksctp_config rcv = {.rwnd = 128 * 1024};
    world *w = world_new(121, &snd, &rcv);
    connect_pair(w, true, false);
    w->p[1].stop_reading_after_first = true;
    uint8_t buf[1000];
    int refused = 0;
    uint32_t sent = 0;
    for (int round = 0; round < 2000 && refused < 50; round++) {
        fill_pattern(buf, sizeof buf, sent);
        int rc = lksctp_send(w->p[0].a, 1, 53, buf, sizeof buf, NULL, w->l.now);
        if (rc == -EAGAIN) {
            refused++;
            lnk_run(&w->l, NULL, 1 * SEC);
        } else {
            assert_int_equal(rc, 0);
            sent++;
        }
        assert_true(lksctp_buffered(w->p[0].a) <= 256 * 1024);
    }
    assert_true(refused >= 50);
    /* minutes of a closed window do not end the association */
    lnk_run(&w->l, NULL, 300 * SEC);
    assert_int_equal(lksctp_state(w->p[0].a), LKSCTP_ESTABLISHED);
    assert_int_equal(w->p[1].nmsgs, 1);
    /* reading again: everything arrives, in order */
    w->p[1].stop_reading_after_first = false;
    lksctp_set_paused(w->p[1].a, false, w->l.now);
    want_side = 1, want_msgs = sent;
    assert_true(lnk_run(&w->l, got_enough, 600 * SEC));
    for (uint32_t i = 0; i < sent; i++)
        assert_int_equal(w->p[1].msgs[i].index, i);
    assert_true(w->p[0].writable > 0);
    world_free(w);
}

/* Acknowledged is not read: the sender learns from the window what the
 * receiver still holds for its application, until a SACK says it read it. */
static void test_peer_unread(void **state)
{
    (void)state;
    world *w = world_new(141, NULL, NULL);
    connect_pair(w, true, false);
    assert_int_equal(lksctp_peer_unread(w->p[0].a), 0);
    w->p[1].stop_reading_after_first = true;
    uint8_t buf[1000];
    for (uint32_t i = 0; i < 5; i++) {
        fill_pattern(buf, sizeof buf, i);
        assert_int_equal(lksctp_send(w->p[0].a, 1, 53, buf, sizeof buf, NULL, w->l.now), 0);
    }
    lnk_run(&w->l, NULL, 5 * SEC);
    assert_int_equal(lksctp_buffered(w->p[0].a), 0);
    assert_int_equal(w->p[1].nmsgs, 1);
    assert_int_equal(lksctp_peer_unread(w->p[0].a), 4 * sizeof buf);
    w->p[1].stop_reading_after_first = false;
    lksctp_set_paused(w->p[1].a, false, w->l.now);
    lnk_run(&w->l, NULL, 5 * SEC);
    assert_int_equal(w->p[1].nmsgs, 5);
    assert_int_equal(lksctp_peer_unread(w->p[0].a), 0);
    world_free(w);
}

/* A lone message is acknowledged within a round trip, not after the
 * receiver's delayed-ack timer: the sender marks the last chunk of a burst
 * SACK-IMMEDIATELY (RFC 7053), and the receiver honours the bit. */
static void test_last_chunk_asks_for_an_immediate_sack(void **state)
{
    (void)state;
    world *w = world_new(151, NULL, NULL);
    connect_pair(w, true, false);
    lnk_run(&w->l, queues_empty, 5 * SEC);
    uint64_t t0 = w->l.now;
    uint8_t buf[100];
    fill_pattern(buf, sizeof buf, 0);
    assert_int_equal(lksctp_send(w->p[0].a, 1, 53, buf, sizeof buf, NULL, w->l.now), 0);
    assert_true(lnk_run(&w->l, queues_empty, 5 * SEC));
    /* one way is 10 ms: the SACK is back after 20, where a delayed one takes 200 more */
    assert_true(w->l.now - t0 <= 25 * MS);
    world_free(w);
}

static void test_bad_packets(void **state)
{
    (void)state;
    world *w = world_new(131, NULL, NULL);
    connect_pair(w, true, false);
    lksctp *b = w->p[1].a;
    uint8_t p[64] = {0};
    assert_int_equal(lksctp_handle_packet(b, p, 5, w->l.now), -EBADMSG);
    /* a DATA chunk with the right ports and tag but a wrong checksum */
    p[0] = 0x13, p[1] = 0x88, p[2] = 0x13, p[3] = 0x88;
    p[8] = 1; /* wrong, and not zero */
    p[12] = 0;
    p[15] = 20;
    assert_int_equal(lksctp_handle_packet(b, p, 32, w->l.now), -EBADMSG);
    /* correct checksum, wrong tag */
    p[8] = 0;
    uint32_t crc = lkcrc32c(p, 32);
    p[8] = (uint8_t)crc, p[9] = (uint8_t)(crc >> 8), p[10] = (uint8_t)(crc >> 16),
    p[11] = (uint8_t)(crc >> 24);
    assert_int_equal(lksctp_handle_packet(b, p, 32, w->l.now), -EPROTO);
    assert_int_equal(lksctp_state(b), LKSCTP_ESTABLISHED);
    /* still working */
    send_many(w, 0, 1, 3, 10, 10, NULL);
    want_side = 1, want_msgs = 3;
    assert_true(lnk_run(&w->l, got_enough, 10 * SEC));
    world_free(w);
}

static void test_forget(void **state)
{
    (void)state;
    /* freeing with data queued and in flight emits nothing */
    world *w = world_new(141, NULL, NULL);
    connect_pair(w, true, false);
    w->l.blackhole[0] = true;
    send_many(w, 0, 1, 50, 1000, 1000, NULL);
    uint64_t sent = w->l.sent[0];
    lksctp_free(w->p[0].a);
    assert_int_equal(w->l.sent[0], sent);
    w->p[0].a = lksctp_new(NULL, NULL);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_setup_one_side_connects),
        cmocka_unit_test(test_setup_collision_and_loss),
        cmocka_unit_test(test_ordered_1000_with_loss),
        cmocka_unit_test(test_unordered),
        cmocka_unit_test(test_fragmentation_200k),
        cmocka_unit_test(test_partial_reliability),
        cmocka_unit_test(test_stream_reset),
        cmocka_unit_test(test_heartbeat),
        cmocka_unit_test(test_shutdown),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_cwnd_growth),
        cmocka_unit_test(test_receiver_stops_reading),
        cmocka_unit_test(test_peer_unread),
        cmocka_unit_test(test_last_chunk_asks_for_an_immediate_sack),
        cmocka_unit_test(test_bad_packets),
        cmocka_unit_test(test_forget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
