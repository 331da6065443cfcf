/*
 * test_video_layers.c: the layers we publish a video source in are the
 * ones upstream's SDK computes (rust-sdks' presets; docs/research/
 * video-in-rooms.md 1.3 has the table).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "video_layers.h"

typedef struct want {
    const char *rid;
    Livekit__VideoQuality quality;
    unsigned width, height;
    uint32_t bitrate;
    double fps;
} want;

#define LOW LIVEKIT__VIDEO_QUALITY__LOW
#define MEDIUM LIVEKIT__VIDEO_QUALITY__MEDIUM
#define HIGH LIVEKIT__VIDEO_QUALITY__HIGH

static void check(lkroom_video_request rq, const want *w, unsigned n)
{
    lkroom_video_layer out[LKROOM_MAX_LAYERS];
    assert_int_equal(lkroom_video_layers(&rq, out), n);
    for (unsigned i = 0; i < n; i++) {
        assert_string_equal(out[i].rid, w[i].rid);
        assert_int_equal(out[i].quality, w[i].quality);
        assert_int_equal(out[i].width, w[i].width);
        assert_int_equal(out[i].height, w[i].height);
        assert_int_equal(out[i].bitrate, w[i].bitrate);
        assert_true(out[i].fps == w[i].fps);
    }
}

static void a_vga_camera_has_two_layers_and_no_high(void **state)
{
    const want w[] = {{"h", MEDIUM, 640, 480, 450000, 25}, {"q", LOW, 480, 360, 225000, 20}};
    check((lkroom_video_request){.width = 640, .height = 480, .simulcast = true}, w, 2);
}

static void a_720p_camera_has_three(void **state)
{
    const want w[] = {{"f", HIGH, 1280, 720, 3000000, 30},
                      {"h", MEDIUM, 640, 360, 450000, 20},
                      {"q", LOW, 320, 180, 160000, 15}};
    check((lkroom_video_request){.width = 1280, .height = 720, .simulcast = true}, w, 3);
}

static void portrait_sources_scale_by_their_shorter_side(void **state)
{
    const want w[] = {{"f", HIGH, 720, 1280, 3000000, 30},
                      {"h", MEDIUM, 360, 640, 450000, 20},
                      {"q", LOW, 180, 320, 160000, 15}};
    check((lkroom_video_request){.width = 720, .height = 1280, .simulcast = true}, w, 3);
}

static void small_sources_and_simulcast_off_have_one_low_layer(void **state)
{
    const want small[] = {{"q", LOW, 320, 240, 225000, 20}};
    check((lkroom_video_request){.width = 320, .height = 240, .simulcast = true}, small, 1);
    const want off[] = {{"q", LOW, 1280, 720, 3000000, 30}};
    check((lkroom_video_request){.width = 1280, .height = 720}, off, 1);
}

static void the_clients_encoding_sets_the_top_layer(void **state)
{
    const want w[] = {{"f", HIGH, 1280, 720, 2000000, 24},
                      {"h", MEDIUM, 640, 360, 450000, 20},
                      {"q", LOW, 320, 180, 160000, 15}};
    check((lkroom_video_request){.width = 1280, .height = 720, .simulcast = true,
                                 .max_bitrate = 2000000, .max_framerate = 24},
          w, 3);
}

/* An encoding the encoder would refuse is brought within its limits, so
 * the track still sends: the bitrate to 30 kbit/s at least, a frame rate
 * outside 1..240 (0, NaN) left at the preset's. */
static void an_encoding_out_of_range_is_brought_within(void **state)
{
    const want w[] = {{"q", LOW, 1280, 720, 30000, 30}};
    const double rates[] = {0, 0.5, 300, NAN};
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++)
        check((lkroom_video_request){.width = 1280, .height = 720, .max_bitrate = 20000,
                                     .max_framerate = rates[i]},
              w, 1);
    const want top[] = {{"q", LOW, 1280, 720, 100000000, 240}};
    check((lkroom_video_request){.width = 1280, .height = 720, .max_bitrate = 4000000000u,
                                 .max_framerate = 240},
          top, 1);
}

static void a_screen_share_adds_one_slow_layer(void **state)
{
    const want w[] = {{"h", MEDIUM, 1920, 1080, 3000000, 30},
                      {"q", LOW, 960, 540, 150000, 3}};
    check((lkroom_video_request){.width = 1920, .height = 1080, .screenshare = true,
                                 .simulcast = true},
          w, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_vga_camera_has_two_layers_and_no_high),
        cmocka_unit_test(a_720p_camera_has_three),
        cmocka_unit_test(portrait_sources_scale_by_their_shorter_side),
        cmocka_unit_test(small_sources_and_simulcast_off_have_one_low_layer),
        cmocka_unit_test(the_clients_encoding_sets_the_top_layer),
        cmocka_unit_test(an_encoding_out_of_range_is_brought_within),
        cmocka_unit_test(a_screen_share_adds_one_slow_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
