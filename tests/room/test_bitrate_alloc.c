/*
 * test_bitrate_alloc.c: layers' rates and the split of an estimate across
 * them are libwebrtc's (docs/research/congestion-control.md 5.1, its
 * [derived] paragraph for upstream's 720p camera), on the layers
 * lkroom_video_layers gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bitrate_alloc.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))
#define SEC 1000000000ull
enum { F, H, Q }; /* the 720p camera's layers, highest first */

/* A track's layers as the allocator takes them: rates from the layers
 * upstream publishes, all active and on. */
static unsigned track(lkroom_video_request rq, lkroom_alloc_layer *out)
{
    lkroom_video_layer vl[LKROOM_MAX_LAYERS];
    lkroom_layer_rates r[LKROOM_MAX_LAYERS];
    unsigned n = lkroom_video_layers(&rq, vl);
    lkroom_track_rates(vl, n, r);
    for (unsigned i = 0; i < n; i++)
        out[i] = (lkroom_alloc_layer){.rates = r[i], .active = true, .was_on = true};
    return n;
}

static unsigned camera_720p(lkroom_alloc_layer *out)
{
    unsigned n = track((lkroom_video_request){.width = 1280, .height = 720, .simulcast = true},
                       out);
    assert_int_equal(n, 3);
    return n;
}

static void assert_rates(lkroom_layer_rates got, uint32_t min, uint32_t target, uint32_t max)
{
    assert_int_equal(got.min_bps, min);
    assert_int_equal(got.target_bps, target);
    assert_int_equal(got.max_bps, max);
}

static void the_table_is_picked_by_pixel_count(void **state)
{
    static const struct {
        unsigned width, height;
        uint32_t min, target, max;
    } rows[] = {
        {3840, 2160, 800000, 4000000, 5000000}, {1920, 1080, 800000, 4000000, 5000000},
        {1280, 720, 600000, 2500000, 2500000},  {720, 1280, 600000, 2500000, 2500000},
        {1279, 720, 350000, 1200000, 1200000},  {960, 720, 350000, 1200000, 1200000},
        {640, 360, 150000, 500000, 700000},     {480, 360, 150000, 350000, 450000},
        {320, 180, 30000, 150000, 200000},      {160, 90, 30000, 150000, 200000},
        {0, 0, 30000, 150000, 200000},
    };
    for (size_t i = 0; i < COUNT(rows); i++)
        assert_rates(lkroom_layer_rates_of(rows[i].width, rows[i].height, 0), rows[i].min,
                     rows[i].target, rows[i].max);
}

static void the_declared_bitrate_is_the_max(void **state)
{
    /* target: the table's or 3/4 of the max, whichever is more, within [min, max] */
    assert_rates(lkroom_layer_rates_of(1280, 720, 3000000), 600000, 2500000, 3000000);
    assert_rates(lkroom_layer_rates_of(1280, 720, 4000000), 600000, 3000000, 4000000);
    assert_rates(lkroom_layer_rates_of(1280, 720, 100000), 100000, 100000, 100000);
    assert_rates(lkroom_layer_rates_of(640, 360, 450000), 150000, 450000, 450000);
    assert_rates(lkroom_layer_rates_of(320, 180, 160000), 30000, 150000, 160000);
}

static void upstreams_720p_camera_has_the_docs_rates(void **state)
{
    lkroom_alloc_layer l[LKROOM_MAX_LAYERS];
    camera_720p(l);
    assert_rates(l[F].rates, 600000, 2500000, 3000000);
    assert_rates(l[H].rates, 150000, 450000, 450000);
    assert_rates(l[Q].rates, 30000, 150000, 160000);
}

static void a_single_layer_is_not_simulcast(void **state)
{
    lkroom_alloc_layer l[LKROOM_MAX_LAYERS];
    assert_int_equal(track((lkroom_video_request){.width = 1280, .height = 720}, l), 1);
    assert_rates(l[0].rates, 30000, 3000000, 3000000);
    /* a screen share of one layer too: 30 kbit/s min, no table */
    assert_int_equal(
        track((lkroom_video_request){.width = 1920, .height = 1080, .screenshare = true}, l), 1);
    assert_rates(l[0].rates, 30000, 3000000, 3000000);

    static const struct {
        uint32_t total, want;
    } rows[] = {{0, 30000}, {10000, 30000}, {30000, 30000}, {1000000, 1000000},
                {3000000, 3000000}, {5000000, 3000000}};
    for (size_t i = 0; i < COUNT(rows); i++) {
        uint32_t out[1];
        assert_int_equal(lkroom_allocate_layers(l, 1, rows[i].total, true, 0, out),
                         rows[i].want);
        assert_int_equal(out[0], rows[i].want);
    }
}

/* 5.1 [derived]: f needs 1.2 Mbit/s; at 500 k, q 150 k and h 350 k; below
 * 300 k only q; never less than q's min. */
static void the_720p_camera_splits_as_the_doc_derives(void **state)
{
    static const struct {
        uint32_t total, f, h, q;
    } rows[] = {
        {6000000, 3000000, 450000, 150000}, /* f capped at its max */
        {3600000, 3000000, 450000, 150000}, /* f the rest, up to its max */
        {2000000, 1400000, 450000, 150000},
        {1200000, 600000, 450000, 150000},  /* f's min, just */
        {1199999, 0, 450000, 150000},       /* f off: h tops up, but is at its max */
        {500000, 0, 350000, 150000},
        {300000, 0, 150000, 150000},
        {299999, 0, 0, 160000},             /* only q, up to its max */
        {150000, 0, 0, 150000},
        {10000, 0, 0, 30000},               /* q's min: never stops for bandwidth */
        {0, 0, 0, 30000},
    };
    lkroom_alloc_layer l[LKROOM_MAX_LAYERS];
    camera_720p(l);
    for (size_t i = 0; i < COUNT(rows); i++) {
        uint32_t out[LKROOM_MAX_LAYERS];
        uint32_t sum = lkroom_allocate_layers(l, 3, rows[i].total, false, 0, out);
        assert_int_equal(out[F], rows[i].f);
        assert_int_equal(out[H], rows[i].h);
        assert_int_equal(out[Q], rows[i].q);
        assert_int_equal(sum, out[F] + out[H] + out[Q]);
        assert_true(sum <= (rows[i].total > 30000 ? rows[i].total : 30000));
    }
}

/* More never turns a layer off nor lowers the sum (a layer's own share
 * may fall: q, topped up to 160 k alone, has 150 k once h is on). */
static void raising_the_total_never_turns_a_layer_off(void **state)
{
    lkroom_alloc_layer l[LKROOM_MAX_LAYERS];
    camera_720p(l);
    for (int was_on = 0; was_on < 2; was_on++)
        for (int screenshare = 0; screenshare < 2; screenshare++) {
            for (unsigned i = 0; i < 3; i++)
                l[i].was_on = was_on;
            uint32_t prev[LKROOM_MAX_LAYERS] = {0}, prev_sum = 0;
            for (uint32_t total = 0; total <= 6000000; total += 5000) {
                uint32_t out[LKROOM_MAX_LAYERS];
                uint32_t sum = lkroom_allocate_layers(l, 3, total, screenshare, 0, out);
                for (unsigned i = 0; i < 3; i++)
                    assert_false(prev[i] && !out[i]);
                assert_true(sum >= prev_sum);
                assert_true(sum <= (total > 30000 ? total : 30000));
                prev_sum = sum;
                for (unsigned i = 0; i < 3; i++)
                    prev[i] = out[i];
            }
        }
}

/* Screen share (2 layers from 1080p: h 800 k/3 M/3 M, q 150 k flat): a
 * layer that was off needs 1.35 times its min; a camera's, 1.0. */
static void a_screen_share_layer_that_was_off_needs_more(void **state)
{
    lkroom_alloc_layer l[LKROOM_MAX_LAYERS];
    unsigned n = track((lkroom_video_request){.width = 1920, .height = 1080,
                                              .screenshare = true, .simulcast = true},
                       l);
    assert_int_equal(n, 2);
    assert_rates(l[0].rates, 800000, 3000000, 3000000);
    assert_rates(l[1].rates, 150000, 150000, 150000);

    static const struct {
        uint32_t total;
        bool was_on, screenshare;
        uint32_t h;
    } rows[] = {
        {950000, true, true, 800000},   {950000, false, false, 800000},
        {950000, false, true, 0},       {1229999, false, true, 0},
        {1230000, false, true, 1080000}, /* 150 k + 1.35 x 800 k */
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        uint32_t out[2];
        l[0].was_on = rows[i].was_on;
        lkroom_allocate_layers(l, 2, rows[i].total, rows[i].screenshare, 0, out);
        assert_int_equal(out[0], rows[i].h);
        assert_int_equal(out[1], 150000);
    }

    /* the factor stops at the layer's target */
    lkroom_alloc_layer t[2] = {
        {.rates = {400000, 500000, 1000000}, .active = true},
        {.rates = {30000, 100000, 100000}, .active = true, .was_on = true},
    };
    uint32_t out[2];
    lkroom_allocate_layers(t, 2, 599999, true, 0, out);
    assert_int_equal(out[0], 0);
    lkroom_allocate_layers(t, 2, 600000, true, 0, out);
    assert_int_equal(out[0], 500000);
}

/* Dynacast: inactive layers get nothing and are stepped over. */
static void inactive_layers_get_nothing_and_block_nothing(void **state)
{
    static const struct {
        bool f, h, q;
        uint32_t total, want_f, want_h, want_q;
    } rows[] = {
        /* q paused: h may go as low as q's min, not its own 150 k */
        {true, true, false, 10000, 0, 30000, 0},
        {true, true, false, 500000, 0, 450000, 0},
        {true, true, false, 1050000, 600000, 450000, 0},
        /* h paused: f comes straight after q */
        {true, false, true, 749999, 0, 0, 160000},
        {true, false, true, 750000, 600000, 0, 150000},
        {true, false, true, 3600000, 3000000, 0, 150000},
        /* f paused: h tops up to its max, the rest unspent */
        {false, true, true, 3600000, 0, 450000, 150000},
        /* only f: its min is q's */
        {true, false, false, 10000, 30000, 0, 0},
        {true, false, false, 5000000, 3000000, 0, 0},
        {false, false, false, 5000000, 0, 0, 0},
    };
    lkroom_alloc_layer l[LKROOM_MAX_LAYERS];
    camera_720p(l);
    for (size_t i = 0; i < COUNT(rows); i++) {
        l[F].active = rows[i].f, l[H].active = rows[i].h, l[Q].active = rows[i].q;
        uint32_t out[LKROOM_MAX_LAYERS];
        uint32_t sum = lkroom_allocate_layers(l, 3, rows[i].total, false, 0, out);
        assert_int_equal(out[F], rows[i].want_f);
        assert_int_equal(out[H], rows[i].want_h);
        assert_int_equal(out[Q], rows[i].want_q);
        assert_true(sum <= (rows[i].total > 30000 ? rows[i].total : 30000));
    }
}

/* Ours: a layer we switched off waits 10 s, and holds the ones above. */
static void a_layer_we_stopped_waits_before_coming_back(void **state)
{
    lkroom_alloc_layer l[LKROOM_MAX_LAYERS];
    camera_720p(l);
    const uint64_t t0 = 1000 * SEC;
    l[F].was_on = l[H].was_on = false;
    l[F].off_since_ns = l[H].off_since_ns = t0;

    uint32_t out[LKROOM_MAX_LAYERS];
    lkroom_allocate_layers(l, 3, 3600000, false, t0 + 5 * SEC, out);
    assert_int_equal(out[F], 0);
    assert_int_equal(out[H], 0);
    assert_int_equal(out[Q], 160000);

    /* h's wait is over; f's, stopped later, is not */
    l[F].off_since_ns = t0 + 2 * SEC;
    lkroom_allocate_layers(l, 3, 3600000, false, t0 + LKROOM_REENABLE_DELAY_NS, out);
    assert_int_equal(out[F], 0);
    assert_int_equal(out[H], 450000);
    assert_int_equal(out[Q], 150000);

    lkroom_allocate_layers(l, 3, 3600000, false, t0 + 12 * SEC, out);
    assert_int_equal(out[F], 3000000);

    /* never stopped by us (0): no wait; the first active layer never waits */
    l[F].off_since_ns = l[H].off_since_ns = 0;
    lkroom_allocate_layers(l, 3, 3600000, false, t0, out);
    assert_int_equal(out[F], 3000000);
    l[Q].active = false;
    l[H].off_since_ns = t0;
    lkroom_allocate_layers(l, 3, 300000, false, t0 + SEC, out);
    assert_int_equal(out[H], 300000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_table_is_picked_by_pixel_count),
        cmocka_unit_test(the_declared_bitrate_is_the_max),
        cmocka_unit_test(upstreams_720p_camera_has_the_docs_rates),
        cmocka_unit_test(a_single_layer_is_not_simulcast),
        cmocka_unit_test(the_720p_camera_splits_as_the_doc_derives),
        cmocka_unit_test(raising_the_total_never_turns_a_layer_off),
        cmocka_unit_test(a_screen_share_layer_that_was_off_needs_more),
        cmocka_unit_test(inactive_layers_get_nothing_and_block_nothing),
        cmocka_unit_test(a_layer_we_stopped_waits_before_coming_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
