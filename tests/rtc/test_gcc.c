/* The estimate against a simulated bottleneck, the whole feedback path
 * real: packets numbered by rtc/twcc as they leave, a link of some
 * capacity with a 20 ms delay and a drop-tail queue of 400 ms, and every
 * 100 ms the receiver's feedback written by rtc/rtp's writer, parsed,
 * matched and fed to the estimator 20 ms later. The sender sends what the
 * estimate allows, a 30 fps frame at a time, paced at 2.5 times the rate
 * (as libwebrtc's pacer). Time is virtual, in 1 ms steps.
 *
 * Asserted, as a sender would notice: from 300 kbit/s under a 1.5 Mbit/s
 * link the estimate climbs to it and holds it without filling the queue;
 * when the link drops to 500 kbit/s it follows within two seconds and the
 * queue drains; 20 % random loss brings it down, and once it stops the
 * estimate climbs back at 8 % a second; 1 % does not stop the climb; a
 * sender that uses less than it has is not credited with more
 * than 1.5 times that, unless it names a demand; the bounds hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "gcc.h"
#include "rtp.h"
#include "twcc.h"
#include "twcc_wire.h"

enum { MAX_PKTS = 200000, PKT = 1200, FEEDBACK_MS = 100, RETURN_MS = 20, BASE_MS = 20 };
static const uint64_t T0 = 1000000000000ull; /* the sender's clock at the start */

typedef struct flight {
    uint16_t seq;
    bool lost;
    int64_t arrival_us; /* the receiver's clock */
} flight;

typedef struct sim {
    lktwcc_sender *tw;
    lkgcc g;
    flight f[MAX_PKTS];
    size_t n, reported; /* packets sent; reported up to */
    double link_free_us;  /* when the link finishes what it holds */
    uint32_t rng;
    double loss;
    double app_bps; /* the most the application sends; 0: what the estimate allows */
    /* what was seen */
    double max_queue_ms;
} sim;

static double random01(sim *s)
{
    s->rng = s->rng * 1664525u + 1013904223u;
    return (s->rng >> 8) / (double)(1u << 24);
}

static void sim_init(sim *s, uint32_t start, uint32_t max)
{
    memset(s, 0, sizeof *s);
    s->tw = lktwcc_sender_new();
    lkgcc_config cfg = {.start_bps = start, .min_bps = 50000, .max_bps = max};
    assert_true(lkgcc_init(&s->g, &cfg));
    s->rng = 12345;
}

/* One packet leaving at t_us through a link of capacity bps. */
static void send_one(sim *s, double t_us, double capacity_bps)
{
    assert_true(s->n < MAX_PKTS);
    flight *f = &s->f[s->n++];
    f->seq = lktwcc_sender_sent(s->tw, T0 + (uint64_t)(t_us * 1000), PKT);
    double start = t_us > s->link_free_us ? t_us : s->link_free_us;
    double queue_ms = (start - t_us) / 1000;
    if (queue_ms > 400 || random01(s) < s->loss) {
        f->lost = true;
        return;
    }
    if (queue_ms > s->max_queue_ms)
        s->max_queue_ms = queue_ms;
    s->link_free_us = start + PKT * 8 * 1e6 / capacity_bps;
    f->arrival_us = 5000000 + (int64_t)(s->link_free_us + BASE_MS * 1000);
}

/* Feedback for what arrived by t_us, as the receiver writes it. */
static void feedback(sim *s, double t_us)
{
    static lkrtcp_twcc_arrival arr[MAX_PKTS];
    size_t n = 0, upto = s->reported;
    for (size_t i = s->reported; i < s->n; i++) {
        if (s->f[i].lost)
            continue;
        if (s->f[i].arrival_us - 5000000 > (int64_t)t_us)
            break; /* not yet there: reported next time */
        arr[n++] = (lkrtcp_twcc_arrival){s->f[i].seq, s->f[i].arrival_us};
        upto = i + 1;
    }
    if (!n)
        return;
    s->reported = upto;
    /* a feedback of at most 200 received packets (the server's hold
     * 21-101); what is lost between them is reported with them */
    for (size_t at = 0; at < n; at += 200) {
        size_t k = n - at < 200 ? n - at : 200;
        static lktwcc_result res[1024];
        int r = twcc_deliver(s->tw, arr + at, k, 0, res, 1024);
        assert_true(r >= 0);
        lkgcc_on_feedback(&s->g, res, (size_t)r,
                          T0 + (uint64_t)((t_us + RETURN_MS * 1000) * 1000));
    }
}

/* Runs from ms `from` to `to` under capacity; the mean target over the
 * last `tail` ms. */
static double run(sim *s, int from, int to, double capacity_bps, int tail)
{
    double sum = 0;
    int count = 0;
    double next_frame = from, pace_until = from;
    size_t frame_left = 0;
    for (int ms = from; ms < to; ms++) {
        double rate = lkgcc_target(&s->g);
        if (s->app_bps && rate > s->app_bps)
            rate = s->app_bps;
        if (ms >= next_frame) {
            frame_left += (size_t)(rate / 30 / 8 / PKT) + 1;
            next_frame += 1000.0 / 30;
        }
        /* paced at 2.5 x the rate: packets within this ms */
        double gap_ms = PKT * 8 * 1000.0 / (2.5 * rate);
        while (frame_left && pace_until < ms + 1) {
            double t = pace_until > ms ? pace_until : ms;
            send_one(s, t * 1000, capacity_bps);
            frame_left--;
            pace_until = t + gap_ms;
        }
        if (ms % FEEDBACK_MS == 0)
            feedback(s, ms * 1000.0);
        if (ms >= to - tail) {
            sum += lkgcc_target(&s->g);
            count++;
        }
    }
    return count ? sum / count : 0;
}

static void sim_free(sim *s)
{
    lktwcc_sender_free(s->tw);
}

static void climbs_to_the_link_and_holds_it(void **state)
{
    (void)state;
    static sim s;
    sim_init(&s, 300000, 5000000);
    double mean = run(&s, 0, 40000, 1500000, 10000);
    print_message("  1.5 Mbit/s link: mean target %.0f kbit/s over the last 10 s, queue at most "
                  "%.0f ms, acked %u kbit/s\n",
                  mean / 1000, s.max_queue_ms, lkgcc_acked(&s.g) / 1000);
    assert_in_range((long)mean, 1000000, 1650000);
    assert_true(s.max_queue_ms < 400); /* never dropped for a full queue */
    sim_free(&s);
}

static void follows_the_link_down(void **state)
{
    (void)state;
    static sim s;
    sim_init(&s, 300000, 5000000);
    run(&s, 0, 40000, 2000000, 1);
    double before = lkgcc_target(&s.g);
    s.max_queue_ms = 0;
    run(&s, 40000, 42000, 500000, 1);
    double after = lkgcc_target(&s.g);
    double late = run(&s, 42000, 60000, 500000, 5000);
    print_message("  2 -> 0.5 Mbit/s: %.0f -> %.0f kbit/s within 2 s, %.0f later; queue at most "
                  "%.0f ms\n",
                  before / 1000, after / 1000, late / 1000, s.max_queue_ms);
    assert_true(before > 1400000);
    assert_true(after < 600000);
    assert_in_range((long)late, 300000, 560000);
    sim_free(&s);
}

/* From 1 Mbit/s, 10 s of 20 % random loss on an ample link: the target. */
static uint32_t under_heavy_loss(sim *s)
{
    sim_init(s, 1000000, 5000000);
    s->loss = 0.20;
    run(s, 0, 10000, 50000000, 1);
    return lkgcc_target(&s->g);
}

static void heavy_loss_brings_it_down(void **state)
{
    (void)state;
    static sim s;
    uint32_t t = under_heavy_loss(&s);
    print_message("  20 %% loss: 1000 -> %u kbit/s in 10 s\n", t / 1000);
    assert_true(t < 300000);
    sim_free(&s);
}

/* Once the loss stops, the loss bound climbs back at libwebrtc's 8 % a
 * second: faster, a sender behind a narrow link runs its queue full
 * again between two cuts. */
static void after_a_loss_cut_it_climbs_back_gently(void **state)
{
    (void)state;
    static sim s;
    uint32_t cut = under_heavy_loss(&s);
    s.loss = 0;
    run(&s, 10000, 15000, 50000000, 1);
    uint32_t back = lkgcc_target(&s.g);
    print_message("  20 %% loss, then none: %u -> %u kbit/s in 5 s\n", cut / 1000, back / 1000);
    assert_true(back > cut * 1.3);  /* 1.08^5 = 1.47 */
    assert_true(back < cut * 1.6);
    sim_free(&s);
}

static void light_loss_does_not_stop_the_climb(void **state)
{
    (void)state;
    static sim s;
    sim_init(&s, 500000, 3000000);
    s.loss = 0.01;
    run(&s, 0, 30000, 50000000, 1);
    uint32_t t = lkgcc_target(&s.g);
    print_message("  1 %% loss, ample link: 500 -> %u kbit/s in 30 s\n", t / 1000);
    assert_true(t > 2000000);
    sim_free(&s);
}

/* A sender held at 300 kbit/s by its own layers (the next needs 1.2
 * Mbit/s in all) on an ample link: without a demand the estimate stays
 * near 1.5 times what it sends; with one it climbs to the demand. */
static void demand_lifts_the_application_limit(void **state)
{
    (void)state;
    static sim s;
    for (int with = 0; with < 2; with++) {
        sim_init(&s, 300000, 5000000);
        s.app_bps = 300000;
        if (with)
            lkgcc_set_demand(&s.g, 1200000);
        run(&s, 0, 30000, 5000000, 1);
        uint32_t t = lkgcc_target(&s.g), acked = lkgcc_acked(&s.g);
        print_message("  held at 300 kbit/s (acked %u with its frames' last packets), demand %s: "
                      "estimate %u kbit/s after 30 s\n",
                      acked / 1000, with ? "1200" : "none", t / 1000);
        assert_true(acked < 700000);
        if (with)
            assert_in_range(t, 1200000, 1300000);
        else
            assert_true(t <= 1.5 * acked + 10000 + 50000);
        sim_free(&s);
    }
}

static void bounds(void **state)
{
    (void)state;
    lkgcc g;
    lkgcc_config bad[] = {{100, 0, 200, false}, {100, 200, 300, false}, {300, 100, 200, false}};
    for (size_t i = 0; i < 3; i++)
        assert_false(lkgcc_init(&g, &bad[i]));
    lkgcc_config ok = {.start_bps = 1000000, .min_bps = 100000, .max_bps = 2000000};
    assert_true(lkgcc_init(&g, &ok));
    assert_int_equal(lkgcc_target(&g), 1000000);
    lkgcc_set_max(&g, 500000);
    assert_int_equal(lkgcc_target(&g), 500000);
    lkgcc_set_max(&g, 50000); /* below the floor: refused */
    assert_int_equal(lkgcc_target(&g), 500000);
    lkgcc_set_max(&g, 800000); /* it stood at the ceiling: it follows */
    assert_int_equal(lkgcc_target(&g), 800000);
    assert_true(lkgcc_init(&g, &ok));
    lkgcc_set_max(&g, 3000000); /* below the ceiling: it stays */
    assert_int_equal(lkgcc_target(&g), 1000000);
    lkgcc_on_feedback(&g, NULL, 0, T0); /* nothing: no harm */
    assert_int_equal(lkgcc_acked(&g), 0);
    assert_int_equal(lkgcc_usage(&g), LKGCC_NORMAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(climbs_to_the_link_and_holds_it),
        cmocka_unit_test(follows_the_link_down),
        cmocka_unit_test(heavy_loss_brings_it_down),
        cmocka_unit_test(after_a_loss_cut_it_climbs_back_gently),
        cmocka_unit_test(light_loss_does_not_stop_the_climb),
        cmocka_unit_test(demand_lifts_the_application_limit),
        cmocka_unit_test(bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
