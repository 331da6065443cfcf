/* The pacer on a virtual clock, as a sender notices it: a packet on an
 * idle pacer leaves at once; a keyframe's burst leaves a burst's worth at
 * once and the rest at the rate, in order; a full ring never loses a
 * packet; a rate of 0 holds nothing; a new rate applies from then on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "pacer.h"

enum { SLOT = 1300, PKT = 1200 };
static const uint64_t MS = 1000000;
static const uint64_t T0 = 5000000000ull;

/* Everything due at now leaves: how many, their first bytes checked to
 * run on from *next (each packet carries its number). */
static unsigned drain(lkpacer *p, uint64_t now, unsigned *next)
{
    unsigned n = 0;
    size_t len;
    uint8_t tag, *slot;
    while ((slot = lkpacer_front(p, now, &len, &tag))) {
        assert_int_equal(len, PKT);
        assert_int_equal(slot[0], (uint8_t)*next);
        assert_int_equal(tag, 7);
        (*next)++;
        lkpacer_pop(p, now);
        n++;
    }
    return n;
}

static void push(lkpacer *p, unsigned i)
{
    uint8_t pkt[PKT];
    memset(pkt, (uint8_t)i, sizeof pkt);
    assert_true(lkpacer_push(p, pkt, sizeof pkt, 7));
}

static void an_idle_pacer_holds_nothing(void **state)
{
    (void)state;
    lkpacer *p = lkpacer_new(64, SLOT);
    assert_non_null(p);
    lkpacer_set_rate(p, 1000000);
    unsigned next = 0;
    assert_int_equal(lkpacer_next_ns(p), UINT64_MAX);
    push(p, 0);
    assert_true(lkpacer_next_ns(p) <= T0);
    assert_int_equal(drain(p, T0, &next), 1);
    assert_int_equal(lkpacer_queued(p), 0);
    lkpacer_free(p);
}

/* 40 packets (48 kB, a 640x360 keyframe) at 1.5 Mbit/s: the burst (20 ms,
 * 3750 bytes: four packets) at once, the rest spread over 48000 - 3750
 * bytes at the rate, about 236 ms. */
static void a_burst_leaves_at_the_rate(void **state)
{
    (void)state;
    lkpacer *p = lkpacer_new(64, SLOT);
    lkpacer_set_rate(p, 1500000);
    unsigned next = 0, sent = 0;
    for (unsigned i = 0; i < 40; i++)
        push(p, i);
    sent += drain(p, T0, &next);
    assert_int_equal(sent, 4);
    uint64_t now = T0, last = T0;
    for (unsigned steps = 0; steps < 1000 && lkpacer_queued(p); steps++) {
        uint64_t due = lkpacer_next_ns(p);
        assert_true(due > now); /* nothing left behind: what was due went */
        now = due;
        unsigned k = drain(p, now, &next);
        assert_true(k >= 1);
        sent += k;
        last = now;
    }
    assert_int_equal(sent, 40);
    double ms = (double)(last - T0) / (double)MS;
    print_message("  40 packets at 1.5 Mbit/s: the last left after %.1f ms\n", ms);
    assert_true(ms > 200 && ms < 245);
    lkpacer_free(p);
}

/* Packets pushed while others wait leave after them, one per packet's
 * worth of time; one pushed once the debt is paid leaves at once. */
static void order_is_kept_and_debt_is_paid(void **state)
{
    (void)state;
    lkpacer *p = lkpacer_new(64, SLOT);
    lkpacer_set_rate(p, 240000); /* 30 bytes a ms: a packet per 40 ms, burst 600 bytes */
    unsigned next = 0, pushed = 0;
    for (; pushed < 3; pushed++)
        push(p, pushed);
    assert_int_equal(drain(p, T0, &next), 1);
    push(p, pushed++);
    assert_int_equal(drain(p, T0 + 10 * MS, &next), 0);
    assert_int_equal(drain(p, T0 + 21 * MS, &next), 1);
    assert_int_equal(drain(p, T0 + 40 * MS, &next), 0);
    assert_int_equal(drain(p, T0 + 200 * MS, &next), 1); /* idle time is no credit */
    assert_int_equal(drain(p, T0 + 221 * MS, &next), 1);
    assert_int_equal(next, 4);
    push(p, pushed++);
    assert_int_equal(drain(p, T0 + 400 * MS, &next), 1);
    lkpacer_free(p);
}

/* A ring of 8 at a crawl: the ninth push finds it full, the oldest is due
 * at once, and nothing is lost or reordered. */
static void a_full_ring_loses_nothing(void **state)
{
    (void)state;
    lkpacer *p = lkpacer_new(8, SLOT);
    lkpacer_set_rate(p, 8000); /* 1 kB/s */
    unsigned next = 0, sent = 0;
    uint8_t pkt[PKT];
    for (unsigned i = 0; i < 20; i++) {
        memset(pkt, (uint8_t)i, sizeof pkt);
        for (unsigned tries = 0; !lkpacer_push(p, pkt, sizeof pkt, 7); tries++) {
            assert_true(tries < 2);
            assert_int_equal(lkpacer_queued(p), 8);
            assert_true(lkpacer_next_ns(p) <= T0);
            sent += drain(p, T0, &next);
        }
    }
    assert_int_equal(sent + lkpacer_queued(p), 20);
    assert_int_equal(lkpacer_queued(p), 8);
    uint8_t big[SLOT + 1] = {0};
    assert_false(lkpacer_push(p, big, sizeof big, 7)); /* larger than a slot */
    lkpacer_free(p);
}

/* Rate 0: nothing held; a rate set later paces from then on. */
static void rate_zero_holds_nothing(void **state)
{
    (void)state;
    lkpacer *p = lkpacer_new(64, SLOT);
    unsigned next = 0;
    for (unsigned i = 0; i < 30; i++)
        push(p, i);
    assert_int_equal(drain(p, T0, &next), 30);
    lkpacer_set_rate(p, 480000);
    for (unsigned i = 30; i < 33; i++)
        push(p, i);
    assert_int_equal(drain(p, T0 + MS, &next), 1);
    lkpacer_set_rate(p, 0);
    assert_int_equal(drain(p, T0 + MS, &next), 2);
    assert_null(lkpacer_new(0, SLOT));
    assert_null(lkpacer_new(8, 0));
    lkpacer_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_idle_pacer_holds_nothing),
        cmocka_unit_test(a_burst_leaves_at_the_rate),
        cmocka_unit_test(order_is_kept_and_debt_is_paid),
        cmocka_unit_test(a_full_ring_loses_nothing),
        cmocka_unit_test(rate_zero_holds_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
