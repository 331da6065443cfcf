/* The receiver's estimate and its REMBs against a simulated downlink: a
 * sender stamping abs-send-time as the server does (its clock starting
 * just before the 64 s wrap), a frame's packets at once every 33 ms (and
 * padding probes, evenly), a link
 * of some capacity with a drop-tail queue of 300 ms and 20 ms delay, and
 * the receiver's REMBs written, parsed back and, in the closed loop, taken
 * by the sender as its rate after 20 ms. Time is virtual, in 1 ms steps.
 *
 * Asserted, as the server (and so a subscriber) would notice: on an ample
 * link no false alarm, across the wrap too, the first REMB after 5 s at
 * what arrives, then one every 200 ms naming both video SSRCs; a sender over a narrow link hears a lower REMB within
 * 2 s, and it holds there while the sender keeps its rate, climbing
 * again once the sender comes under the link; a padding probe over the link
 * ends in REMBs each lower than the last, as the server's probe verdict
 * needs; the closed loop settles under the link without filling its queue;
 * an SSRC not heard for 2 s is no longer named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rbe.h"
#include "rtp.h"

enum { PKT = 1100, PAD = 275, QUEUE_MS = 300, DELAY_MS = 20 };
static const uint64_t T0 = 5000000000000ull;            /* the receiver's clock at the start */
static const uint64_t SENDER0 = 63900000000ull;        /* abs-send-time wraps at 64 s */

enum { IN_FLIGHT = 8192 };

typedef struct flight {
    double arrive_ms;
    uint32_t t24, ssrc;
    unsigned bytes;
} flight;

typedef struct sim {
    lkrbe r;
    double rate_bps;       /* what the sender sends */
    double owed;           /* packets of the rate not sent yet */
    double link_free_ms;   /* when the link has sent what it holds */
    double max_queue_ms;
    unsigned rembs, dropped;
    uint32_t last_remb, lowest_remb;
    uint64_t pending_remb; /* its value, reaching the sender at pending_at */
    double pending_at;
    double follow;         /* >0: the sender takes the REMB as its rate, at most this */
    double probe_bps;      /* padding on top of the rate, while ms < probe_until */
    int probe_until;
    double probe_owed;
    flight f[IN_FLIGHT];   /* in arrival order (a FIFO link) */
    size_t head, tail;
} sim;

/* A REMB as written, parsed back (the packet must be one). */
static lkrtcp_remb parse_remb(const uint8_t *buf, int len)
{
    lkrtcp_iter it;
    lkrtcp_packet pk;
    lkrtcp_remb remb;
    assert_true(len > 0);
    lkrtcp_iter_init(&it, buf, (size_t)len);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_remb(&pk, &remb), 0);
    return remb;
}

/* One packet into the link's queue, or dropped at its tail. */
static void send_packet(sim *s, int ms, unsigned bytes, uint32_t ssrc, double capacity_bps)
{
    double start = ms > s->link_free_ms ? ms : s->link_free_ms;
    if (start - ms > QUEUE_MS) {
        s->dropped++;
        return;
    }
    if (start - ms > s->max_queue_ms)
        s->max_queue_ms = start - ms;
    s->link_free_ms = start + bytes * 8 * 1000.0 / capacity_bps;
    assert_true(s->tail - s->head < IN_FLIGHT);
    s->f[s->tail++ % IN_FLIGHT] = (flight){
        .arrive_ms = s->link_free_ms + DELAY_MS,
        .t24 = lkrtp_abs_send_time(SENDER0 + (uint64_t)ms * 1000000u),
        .ssrc = ssrc, .bytes = bytes};
}

/* One ms: the sender's frame into the link (and padding, probing), what
 * arrives to the receiver, a REMB if one is due, and a REMB reaching the
 * sender. */
static void step(sim *s, int ms, double capacity_bps)
{
    if (ms % 33 == 0) {
        s->owed += s->rate_bps / 30 / 8 / PKT; /* a frame's packets, the fractions carried */
        size_t pkts = (size_t)s->owed;
        s->owed -= (double)pkts;
        for (size_t k = 0; k < pkts; k++)
            send_packet(s, ms, PKT, k % 2 ? 0x1111 : 0x2222, capacity_bps);
    }
    if (ms < s->probe_until) {
        s->probe_owed += s->probe_bps / 1000 / 8 / PAD;
        for (; s->probe_owed >= 1; s->probe_owed -= 1)
            send_packet(s, ms, PAD, 0x1111, capacity_bps);
    }
    for (; s->head < s->tail && s->f[s->head % IN_FLIGHT].arrive_ms < ms + 1; s->head++) {
        const flight *f = &s->f[s->head % IN_FLIGHT];
        lkrbe_on_packet(&s->r, f->ssrc, f->t24, f->bytes, T0 + (uint64_t)(f->arrive_ms * 1e6));
    }
    if (s->pending_at && ms >= s->pending_at) {
        if (s->follow > 0)
            s->rate_bps = (double)s->pending_remb < s->follow ? (double)s->pending_remb
                                                              : s->follow;
        s->pending_at = 0;
    }
    uint8_t buf[64];
    int len = lkrbe_write_remb(&s->r, 7, T0 + (uint64_t)(ms + 1) * 1000000u, buf, sizeof buf);
    assert_true(len >= 0);
    if (len > 0) {
        lkrtcp_remb remb = parse_remb(buf, len);
        s->rembs++;
        s->last_remb = (uint32_t)remb.bitrate;
        if (!s->lowest_remb || s->last_remb < s->lowest_remb)
            s->lowest_remb = s->last_remb;
        s->pending_remb = remb.bitrate;
        s->pending_at = ms + DELAY_MS;
    }
}

static void sim_init(sim *s, double rate_bps)
{
    memset(s, 0, sizeof *s);
    lkrbe_init(&s->r);
    s->rate_bps = rate_bps;
}

static void ample_link_no_alarm_across_the_wrap(void **state)
{
    (void)state;
    static sim s;
    sim_init(&s, 2000000);
    for (int ms = 0; ms < 10000; ms++)
        step(&s, ms, 10000000);
    print_message("  2 Mbit/s on a 10 Mbit/s link: REMB %u kbit/s at the least, %u kbit/s at "
                  "the end, %u REMBs in 10 s\n",
                  s.lowest_remb / 1000, lkrbe_estimate(&s.r) / 1000, s.rembs);
    /* known after 5 s, at what arrives, then never below it */
    assert_in_range(s.rembs, 22, 28);
    assert_true(s.lowest_remb >= 1900000);
    /* both SSRCs named */
    uint8_t buf[64];
    s.r.sent_ns = 0; /* due now */
    int len = lkrbe_write_remb(&s.r, 7, T0 + 10001000000ull, buf, sizeof buf);
    lkrtcp_remb remb = parse_remb(buf, len);
    assert_int_equal(remb.n_ssrc, 2);
}

static void narrow_link_brings_a_lower_remb(void **state)
{
    (void)state;
    static sim s;
    sim_init(&s, 2000000);
    int ms = 0;
    for (; ms < 6000; ms++)
        step(&s, ms, 10000000);
    unsigned before = s.rembs;
    for (; ms < 8000 && (s.rembs == before || s.last_remb >= 1000000); ms++)
        step(&s, ms, 1000000);
    print_message("  2 Mbit/s into 1 Mbit/s: REMB %u kbit/s after %d ms\n", s.last_remb / 1000,
                  ms - 6000);
    assert_true(s.last_remb < 1000000);
    assert_true(ms < 8000);
}

/* 2 Mbit/s for 6 s on an ample link (the estimate known), then 2 s of it
 * into 600 kbit/s (the cut). Returns the time reached, in ms. */
static int settle_then_narrow(sim *s)
{
    sim_init(s, 2000000);
    int ms = 0;
    for (; ms < 6000; ms++)
        step(s, ms, 10000000);
    for (; ms < 8000; ms++)
        step(s, ms, 600000);
    return ms;
}

/* The server does not act on the first lower REMB: it commits a capacity
 * once its series of REMBs falls (Kendall's tau over the last 8-12,
 * equal values not counted against it). So after the cut the REMB keeps
 * falling, slowly, while the sender keeps sending 2 Mbit/s into a 600
 * kbit/s link, rather than climbing with what arrives; once the sender
 * comes down to 500 kbit/s (under the link), it climbs again. */
static void after_a_cut_the_remb_holds_until_the_sender_comes_down(void **state)
{
    (void)state;
    static sim s;
    int ms = settle_then_narrow(&s);
    uint32_t held = s.last_remb, prev = held;
    bool falling = true;
    for (unsigned seen = s.rembs; ms < 16000; ms++) {
        step(&s, ms, 600000);
        if (s.rembs != seen)
            falling = falling && s.last_remb < prev;
        prev = s.last_remb;
        seen = s.rembs;
    }
    uint32_t low = s.last_remb;
    s.rate_bps = 500000;
    for (; ms < 21000; ms++)
        step(&s, ms, 600000);
    print_message("  2 Mbit/s into 600 kbit/s: REMB %u kbit/s after 2 s, %s to %u in the 8 s "
                  "after; %u kbit/s 5 s after the sender came down to 500\n",
                  held / 1000, falling ? "each lower" : "NOT each lower", low / 1000,
                  s.last_remb / 1000);
    assert_true(held < 600000);
    assert_true(falling);
    assert_true(low > held * 8 / 10); /* slowly */
    assert_true(s.last_remb > held);
}

/* livekit-server probes a subscriber every 3 s with padding on top of
 * what it sends, 200 ms first and each next one 1.5 times longer while
 * the probes do not show congestion. It judges a probe by the REMBs from
 * its start to a hangover after it (5 round trips, at least 250 ms):
 * their last three, a leading run of equal values counted once, are
 * congestion when Kendall's tau is below 0. Here the server has come
 * down to 450 kbit/s under a 600 kbit/s link, and each probe pushes 1.26
 * Mbit/s: the REMBs of each probe's window must end falling, each lower
 * than the last. Before the hold decayed in every state, a cut was
 * followed by equal values (433 433 433: one sample, no verdict), every
 * probe passed for a success, and the next was longer. */
static void a_probe_over_the_link_ends_in_a_falling_series(void **state)
{
    (void)state;
    static sim s;
    int ms = settle_then_narrow(&s);
    s.rate_bps = 450000; /* the server has come down */
    for (; ms < 16000; ms++)
        step(&s, ms, 600000);
    static const int lengths[] = {200, 300, 450, 675};
    for (size_t p = 0; p < sizeof lengths / sizeof lengths[0]; p++) {
        s.probe_bps = 1260000 - s.rate_bps;
        s.probe_until = ms + lengths[p];
        uint32_t series[32];
        unsigned n = 0, seen = s.rembs;
        char line[256];
        int at = snprintf(line, sizeof line, "  a %d ms probe, REMBs (kbit/s):", lengths[p]);
        for (int end = ms + lengths[p] + 555; ms < end; ms++) {
            step(&s, ms, 600000);
            if (s.rembs != seen && n < 32) {
                series[n++] = s.last_remb;
                if (at < 200)
                    at += snprintf(line + at, sizeof line - (size_t)at, " %u", s.last_remb / 1000);
            }
            seen = s.rembs;
        }
        print_message("%s\n", line);
        assert_true(n >= 3);
        assert_true(series[n - 1] < series[n - 2] && series[n - 2] < series[n - 3]);
        for (int k = 0; k < 3000 - lengths[p] - 555; k++, ms++)
            step(&s, ms, 600000);
    }
}

static void closed_loop_settles_under_the_link(void **state)
{
    (void)state;
    static sim s;
    sim_init(&s, 600000);
    s.follow = 2500000;
    double sum = 0;
    int count = 0;
    for (int ms = 0; ms < 30000; ms++) {
        step(&s, ms, 1000000);
        if (ms == 10000)
            s.max_queue_ms = 0;
        if (ms >= 20000) {
            sum += s.rate_bps;
            count++;
        }
    }
    double mean = sum / count;
    print_message("  following REMB over 1 Mbit/s: %.0f kbit/s over the last 10 s, queue at most "
                  "%.0f ms after 10 s\n", mean / 1000, s.max_queue_ms);
    assert_in_range((long)mean, 500000, 1050000);
    assert_true(s.max_queue_ms < QUEUE_MS);
}

static void a_silent_ssrc_is_no_longer_named(void **state)
{
    (void)state;
    lkrbe r;
    lkrbe_init(&r);
    uint8_t buf[128];
    assert_int_equal(lkrbe_write_remb(&r, 7, T0, buf, sizeof buf), 0); /* nothing heard */
    /* 5 s of one SSRC: the estimate becomes known */
    uint64_t t = T0;
    for (uint32_t k = 0; k < 500; k++, t += 10000000u)
        lkrbe_on_packet(&r, 99, lkrtp_abs_send_time(t - T0), PKT, t);
    for (uint32_t k = 0; k < 12; k++, t += 1000000u) /* more than fit: the newest 8 stay */
        lkrbe_on_packet(&r, 100 + k, lkrtp_abs_send_time(t - T0), PKT, t);
    int len = lkrbe_write_remb(&r, 7, t, buf, sizeof buf);
    assert_true(len > 0);
    lkrtcp_remb remb = parse_remb(buf, len);
    assert_int_equal(remb.n_ssrc, LKRBE_MAX_SSRCS);
    for (size_t i = 0; i < remb.n_ssrc; i++)
        assert_true(lkrtcp_remb_ssrc(&remb, i) >= 104);
    /* 2 s later only the one still heard */
    lkrbe_on_packet(&r, 111, lkrtp_abs_send_time(t + 2100000000u - T0), PKT, t + 2100000000u);
    assert_true(lkrbe_write_remb(&r, 7, t + 2200000000u, buf, 8) < 0); /* too small */
    len = lkrbe_write_remb(&r, 7, t + 2200000000u, buf, sizeof buf);
    remb = parse_remb(buf, len);
    assert_int_equal(remb.n_ssrc, 1);
    assert_int_equal(lkrtcp_remb_ssrc(&remb, 0), 111);
    /* and not again within 200 ms unless it fell */
    assert_int_equal(lkrbe_write_remb(&r, 7, t + 2300000000u, buf, sizeof buf), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ample_link_no_alarm_across_the_wrap),
        cmocka_unit_test(narrow_link_brings_a_lower_remb),
        cmocka_unit_test(after_a_cut_the_remb_holds_until_the_sender_comes_down),
        cmocka_unit_test(a_probe_over_the_link_ends_in_a_falling_series),
        cmocka_unit_test(closed_loop_settles_under_the_link),
        cmocka_unit_test(a_silent_ssrc_is_no_longer_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
