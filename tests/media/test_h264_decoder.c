/* The H.264 decoder against real H.264: 30 frames of a moving 640x480
 * pattern coded here by libavcodec's libx264 (constrained baseline, tune
 * zerolatency, one thread, a keyframe first and no other), each access
 * unit as x264 gives it (Annex B, SPS and PPS before the keyframe). Every
 * access unit decodes in its own call to a 640x480 picture 30 dB above
 * the source. A P-frame before any keyframe shows nothing and does not
 * crash, nor does garbage, and the stream decodes whole after either; a
 * keyframe after a damaged P-frame comes out whole (libavcodec's own
 * context would spoil it: the decoder starts a new one).
 * Pictures over 4096 wide (4100x16) or over 4096x2304 in area
 * (2320x4096), and 4:4:4 and 10-bit streams, are refused, and the
 * decoder goes on with the next keyframe.
 *
 * libavcodec is opened here at run time too, not linked: so the first
 * test can check that it is not yet loaded, and that loading it, making
 * a decoder and decoding start no thread (the library's rule: every
 * dependency is driven from its worker threads). Also: a fork child can
 * decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/macros.h>
#include <libavutil/opt.h>

#include "h264_decoder.h"
#include "threads.h"
#include "x264_stream.h"

#define AVCODEC_SONAME "libavcodec.so." AV_STRINGIFY(LIBAVCODEC_VERSION_MAJOR)

enum {
    W = 640,
    H = 480,
    NFRAMES = 30,
    P_FRAME = 5, /* decoded first, without its keyframe */
    MAX_CODED = 512 * 1024,
};

static x264_stream stream; /* the 640x480 one, coded on first use */

static const x264_stream *the_stream(void)
{
    if (!stream.data) {
        x264_stream_encode(&stream, W, H, NFRAMES, AV_PIX_FMT_YUV420P, "baseline", MAX_CODED);
        /* SPS first: start code, NAL type 7, profile_idc 66 with
         * constraint_set1: constrained baseline. */
        const uint8_t *p = stream.data;
        assert_memory_equal(p, "\0\0\0\1", 4);
        assert_int_equal(p[4] & 0x1f, 7);
        assert_int_equal(p[5], 66);
        assert_true(p[6] & 0x40);
        assert_true(stream.key[0]);
        for (unsigned i = 1; i < NFRAMES; i++)
            assert_false(stream.key[i]);
    }
    return &stream;
}

static const uint8_t *au(const x264_stream *s, unsigned i, size_t *len)
{
    *len = s->off[i + 1] - s->off[i];
    return s->data + s->off[i];
}

/* --- helpers ------------------------------------------------------------------------------ */

static lkh264_decoder *decoder(void)
{
    char err[300] = "";
    lkh264_decoder *d = lkh264_decoder_new(err, sizeof err);
    if (!d)
        fail_msg("lkh264_decoder_new: %s", err);
    return d;
}

static double psnr_y(const lkvp8_image *img, unsigned i)
{
    double se = 0;
    for (unsigned y = 0; y < img->height; y++)
        for (unsigned x = 0; x < img->width; x++) {
            double e = (double)img->y[(size_t)y * img->stride_y + x] - x264_stream_luma(i, x, y);
            se += e * e;
        }
    double mse = se / ((double)img->width * img->height);
    return mse == 0 ? 99 : 10 * log10(255.0 * 255.0 / mse);
}

/* Decodes the stream from its keyframe, each picture checked; the lowest PSNR. */
static double decode_all(lkh264_decoder *d)
{
    const x264_stream *s = the_stream();
    double lowest = 99;
    for (unsigned i = 0; i < NFRAMES; i++) {
        size_t len;
        const uint8_t *p = au(s, i, &len);
        lkvp8_image img;
        memset(&img, 0, sizeof img);
        int rc = lkh264_decoder_decode(d, p, len, &img);
        if (rc != 1)
            fail_msg("frame %u: %d (%s)", i, rc, lkh264_decoder_strerror(rc));
        assert_int_equal(img.width, W);
        assert_int_equal(img.height, H);
        assert_true(img.stride_y >= W && img.stride_u >= W / 2 && img.stride_v >= W / 2);
        /* chroma readable to its last byte */
        assert_true(img.u[(H / 2 - 1) * img.stride_u + W / 2 - 1] > 0);
        assert_true(img.v[(H / 2 - 1) * img.stride_v + W / 2 - 1] > 0);
        double p_ = psnr_y(&img, i);
        if (p_ < 30)
            fail_msg("frame %u: PSNR %.1f dB", i, p_);
        if (p_ < lowest)
            lowest = p_;
    }
    return lowest;
}

/* --- tests -------------------------------------------------------------------------------- */

/* First of all: nothing has loaded libavcodec yet; loading it, making a
 * decoder and decoding the stream start no thread. */
static void loads_and_decodes_without_threads(void **state)
{
    assert_null(dlopen(AVCODEC_SONAME, RTLD_NOW | RTLD_NOLOAD));
    int before = thread_count();
    char err[300] = "";
    assert_true(lkh264_decoder_available(err, sizeof err));
    assert_string_equal(err, "");
    assert_non_null(dlopen(AVCODEC_SONAME, RTLD_NOW | RTLD_NOLOAD)); /* loaded now */
    lkh264_decoder *d = decoder();
    int after_load = thread_count();
    the_stream(); /* x264 with one thread: none left behind either */
    double lowest = decode_all(d);
    int after_decode = thread_count();
    print_message("threads: %d before loading, %d after making a decoder, %d after decoding "
                  "%d frames (lowest PSNR %.2f dB)\n",
                  before, after_load, after_decode, NFRAMES, lowest);
    assert_int_equal(after_load, before);
    assert_int_equal(after_decode, before);
    lkh264_decoder_free(d);
    assert_int_equal(thread_count(), before);
}

static void available_is_kept(void **state)
{
    assert_true(lkh264_decoder_available(NULL, 0));
    assert_true(lkh264_decoder_available(NULL, 0));
}

/* Every access unit gives its picture in the same call, and again with a
 * second decoder alongside (decoders are independent). */
static void decodes_every_frame(void **state)
{
    lkh264_decoder *a = decoder(), *b = decoder();
    double la = decode_all(a), lb = decode_all(b);
    print_message("lowest PSNR of Y: %.2f dB, %.2f dB\n", la, lb);
    assert_true(la >= 30 && lb >= 30);
    assert_true(la == lb); /* the same stream, the same pictures */
    /* The keyframe again starts over. */
    assert_true(decode_all(a) >= 30);
    lkh264_decoder_free(a);
    lkh264_decoder_free(b);
}

/* A P-frame without its keyframe (no SPS, no PPS, no reference) shows
 * nothing; the keyframe then starts the stream. */
static void p_frame_first_shows_nothing(void **state)
{
    const x264_stream *s = the_stream();
    lkh264_decoder *d = decoder();
    size_t len;
    const uint8_t *p = au(s, P_FRAME, &len);
    lkvp8_image img;
    for (int k = 0; k < 3; k++) {
        int rc = lkh264_decoder_decode(d, p, len, &img);
        print_message("P-frame first: %d (%s)\n", rc, rc ? lkh264_decoder_strerror(rc) : "nothing");
        assert_true(rc <= 0);
    }
    assert_true(decode_all(d) >= 30);
    lkh264_decoder_free(d);
}

/* A P-frame whose slice data is cut short (the rest of the picture
 * concealed) is refused, or shows nothing: never a half picture. */
static void damaged_frames(void **state)
{
    const x264_stream *s = the_stream();
    lkh264_decoder *d = decoder();
    lkvp8_image img;
    size_t len;
    const uint8_t *p = au(s, 0, &len);
    assert_int_equal(lkh264_decoder_decode(d, p, len, &img), 1);
    p = au(s, 1, &len);
    assert_true(len > 40);
    int rc = lkh264_decoder_decode(d, p, len / 2, &img);
    print_message("a P-frame cut in half: %d (%s)\n", rc,
                  rc == 1 ? "shown" : lkh264_decoder_strerror(rc));
    assert_true(rc == LKH264D_E_DECODE || rc == 0);
    assert_true(decode_all(d) >= 30);
    lkh264_decoder_free(d);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* P-frames with a few bytes of slice data flipped, each after the keyframe
 * and followed by it: the keyframe and the frame after it come out whole.
 * (libavcodec alone keeps state that such a frame can spoil for every
 * keyframe after it: the decoder starts a new context at a keyframe after
 * an error.) */
static void keyframe_after_damage_starts_over(void **state)
{
    const x264_stream *s = the_stream();
    static uint8_t buf[MAX_CODED];
    unsigned errors = 0;
    for (unsigned k = 0; k < 120; k++) {
        size_t len;
        const uint8_t *p = au(s, 1 + k % (NFRAMES - 1), &len);
        memcpy(buf, p, len);
        for (unsigned f = 0; f < 1 + next_random() % 4; f++)
            buf[8 + next_random() % (len - 8)] ^= (uint8_t)(1 + next_random() % 255);
        lkh264_decoder *d = decoder();
        lkvp8_image img;
        size_t klen;
        const uint8_t *key = au(s, 0, &klen);
        assert_int_equal(lkh264_decoder_decode(d, key, klen, &img), 1);
        errors += lkh264_decoder_decode(d, buf, len, &img) < 0;
        assert_int_equal(lkh264_decoder_decode(d, key, klen, &img), 1);
        double q0 = psnr_y(&img, 0);
        p = au(s, 1, &len);
        assert_int_equal(lkh264_decoder_decode(d, p, len, &img), 1);
        double q1 = psnr_y(&img, 1);
        if (q0 < 30 || q1 < 30)
            fail_msg("damage %u: the keyframe after it %.1f dB, the next frame %.1f dB", k, q0, q1);
        lkh264_decoder_free(d);
    }
    print_message("damaged P-frames: %u of 120 refused\n", errors);
}

/* Random bytes, bare or cut into NAL units of every type, and the real
 * stream's units with bytes flipped: refused or shown, never a crash; a
 * picture shown is within the caps. The keyframe then starts over. */
static void garbage_never_crashes(void **state)
{
    const x264_stream *s = the_stream();
    lkh264_decoder *d = decoder();
    static uint8_t buf[8192];
    unsigned shown = 0, refused = 0, nothing = 0;
    for (unsigned k = 0; k < 600; k++) {
        size_t len = 1 + next_random() % sizeof buf;
        if (k % 3 == 2) {
            /* a real access unit, some bytes flipped */
            size_t alen;
            const uint8_t *p = au(s, next_random() % NFRAMES, &alen);
            len = alen < sizeof buf ? alen : sizeof buf;
            memcpy(buf, p, len);
            for (unsigned f = 0; f < 1 + next_random() % 8; f++)
                buf[next_random() % len] ^= (uint8_t)(1 + next_random() % 255);
        } else {
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)next_random();
            if (k % 3 == 1) /* start codes, NAL headers of all types */
                for (size_t at = 0; at + 5 < len; at += 4 + next_random() % 300) {
                    memcpy(buf + at, "\0\0\0\1", 4);
                    buf[at + 4] = (uint8_t)(0x60 | (next_random() % 32));
                }
        }
        lkvp8_image img;
        int rc = lkh264_decoder_decode(d, buf, len, &img);
        assert_true(rc >= LKH264D_E_SIZE && rc <= 1);
        assert_int_not_equal(rc, LKH264D_E_INVALID);
        if (rc == 1) {
            assert_true(img.width <= LKH264_MAX_DIMENSION && img.height <= LKH264_MAX_DIMENSION);
            assert_true((uint64_t)img.width * img.height <= LKH264_MAX_AREA);
            shown++;
        } else if (rc < 0) {
            refused++;
        } else {
            nothing++;
        }
    }
    print_message("garbage: %u shown, %u refused, %u nothing\n", shown, refused, nothing);
    assert_true(decode_all(d) >= 30);
    lkh264_decoder_free(d);
}

/* A stream of w x h in fmt is refused with want, then the 640x480 keyframe
 * starts over. */
static void refused(unsigned w, unsigned h, enum AVPixelFormat fmt, const char *profile,
                    int want)
{
    x264_stream big;
    x264_stream_encode(&big, w, h, 2, fmt, profile, 4 << 20);
    lkh264_decoder *d = decoder();
    lkvp8_image img;
    size_t len;
    for (unsigned i = 0; i < 2; i++) {
        const uint8_t *p = au(&big, i, &len);
        int rc = lkh264_decoder_decode(d, p, len, &img);
        print_message("%ux%u %s: %d (%s)\n", w, h, profile, rc,
                      rc == 1 ? "shown" : lkh264_decoder_strerror(rc));
        if (i == 0)
            assert_int_equal(rc, want);
        else
            assert_true(rc < 0 || rc == 0);
    }
    assert_true(decode_all(d) >= 30);
    lkh264_decoder_free(d);
    x264_stream_free(&big);
}

static void too_wide_refused(void **state)
{
    refused(4100, 16, AV_PIX_FMT_YUV420P, "baseline", LKH264D_E_SIZE);
}

static void too_tall_refused(void **state)
{
    refused(16, 4112, AV_PIX_FMT_YUV420P, "baseline", LKH264D_E_SIZE);
}

/* Within 4096 both ways, over 4096x2304 in all. */
static void too_large_refused(void **state)
{
    refused(2320, 4096, AV_PIX_FMT_YUV420P, "baseline", LKH264D_E_SIZE);
}

/* The largest allowed: 4096x2304 decodes. */
static void largest_decodes(void **state)
{
    x264_stream big;
    x264_stream_encode(&big, 4096, 2304, 1, AV_PIX_FMT_YUV420P, "baseline", 8 << 20);
    lkh264_decoder *d = decoder();
    lkvp8_image img;
    size_t len;
    const uint8_t *p = au(&big, 0, &len);
    assert_int_equal(lkh264_decoder_decode(d, p, len, &img), 1);
    assert_int_equal(img.width, 4096);
    assert_int_equal(img.height, 2304);
    lkh264_decoder_free(d);
    x264_stream_free(&big);
}

static void high_444_refused(void **state)
{
    refused(W, H, AV_PIX_FMT_YUV444P, "high444", LKH264D_E_FORMAT);
}

static void high_10_refused(void **state)
{
    refused(W, H, AV_PIX_FMT_YUV420P10LE, "high10", LKH264D_E_FORMAT);
}

static void bad_arguments(void **state)
{
    lkh264_decoder *d = decoder();
    lkvp8_image img;
    uint8_t b[4] = {0, 0, 0, 1};
    assert_int_equal(lkh264_decoder_decode(NULL, b, 4, &img), LKH264D_E_INVALID);
    assert_int_equal(lkh264_decoder_decode(d, b, 4, NULL), LKH264D_E_INVALID);
    assert_int_equal(lkh264_decoder_decode(d, NULL, 4, &img), LKH264D_E_INVALID);
    assert_int_equal(lkh264_decoder_decode(d, b, (size_t)LKH264_MAX_AU + 1, &img),
                     LKH264D_E_INVALID);
    assert_int_equal(lkh264_decoder_decode(d, NULL, 0, &img), 0);
    assert_true(lkh264_decoder_decode(d, b, 4, &img) <= 0); /* a start code, no unit */
    lkh264_decoder_free(d);
    lkh264_decoder_free(NULL);
    const int codes[] = {LKH264D_E_INVALID, LKH264D_E_DECODE, LKH264D_E_FORMAT, LKH264D_E_SIZE};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(lkh264_decoder_strerror(codes[i]),
                                    lkh264_decoder_strerror(codes[j]));
    assert_non_null(strstr(lkh264_decoder_strerror(-99), "unknown"));
}

/* A fork child frees an inherited decoder (half way through the stream)
 * and decodes with a new one. */
static void fork_child_decodes(void **state)
{
    lkh264_decoder *d = decoder();
    const x264_stream *s = the_stream();
    lkvp8_image img;
    size_t len;
    const uint8_t *p = au(s, 0, &len);
    assert_int_equal(lkh264_decoder_decode(d, p, len, &img), 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        p = au(s, 1, &len);
        int ok = lkh264_decoder_decode(d, p, len, &img) == 1;
        lkh264_decoder_free(d);
        lkh264_decoder *c = lkh264_decoder_new(NULL, 0);
        p = au(s, 0, &len);
        ok = ok && c && lkh264_decoder_decode(c, p, len, &img) == 1 && psnr_y(&img, 0) >= 30;
        lkh264_decoder_free(c);
        _exit(ok ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    lkh264_decoder_free(d);
}

static int teardown(void **state)
{
    x264_stream_free(&stream);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_and_decodes_without_threads), /* first: before any load */
        cmocka_unit_test(available_is_kept),
        cmocka_unit_test(decodes_every_frame),
        cmocka_unit_test(p_frame_first_shows_nothing),
        cmocka_unit_test(damaged_frames),
        cmocka_unit_test(keyframe_after_damage_starts_over),
        cmocka_unit_test(garbage_never_crashes),
        cmocka_unit_test(too_wide_refused),
        cmocka_unit_test(too_tall_refused),
        cmocka_unit_test(too_large_refused),
        cmocka_unit_test(largest_decodes),
        cmocka_unit_test(high_444_refused),
        cmocka_unit_test(high_10_refused),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(fork_child_decodes),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
