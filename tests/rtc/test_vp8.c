/*
 * test_vp8.c: the VP8 payload descriptor read as RFC 7741 4.2's figure
 * says, written back the same for every combination of its optional
 * fields, refused when livekit-server would drop it (L without T, no VP8
 * data) or when it is cut short anywhere; keyframe sizes read from a real
 * libvpx keyframe; the packetizer's parts at the edges of the MTU.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#include "vp8.h"

static void assert_same(const lkvp8_descriptor *a, const lkvp8_descriptor *b)
{
    assert_int_equal(a->non_reference, b->non_reference);
    assert_int_equal(a->start, b->start);
    assert_int_equal(a->partition, b->partition);
    assert_int_equal(a->has_picture_id, b->has_picture_id);
    assert_int_equal(a->long_picture_id, b->long_picture_id);
    assert_int_equal(a->picture_id, b->picture_id);
    assert_int_equal(a->has_tl0picidx, b->has_tl0picidx);
    assert_int_equal(a->tl0picidx, b->tl0picidx);
    assert_int_equal(a->has_tid, b->has_tid);
    assert_int_equal(a->tid, b->tid);
    assert_int_equal(a->layer_sync, b->layer_sync);
    assert_int_equal(a->has_keyidx, b->has_keyidx);
    assert_int_equal(a->keyidx, b->keyidx);
}

/* --- reading ---------------------------------------------------------------------------- */

static void parse_known_answer(void **state)
{
    /* X N S PID 3; I L T K; M + 15-bit id 0x1234; TL0PICIDX 0x56;
     * TID 2, Y, KEYIDX 7; then two bytes of VP8 data */
    static const uint8_t p[] = {0xb3, 0xf0, 0x92, 0x34, 0x56, 0xa7, 0xaa, 0xbb};
    lkvp8_descriptor d;
    assert_int_equal(lkvp8_parse_descriptor(&d, p, sizeof p), 6);
    assert_true(d.non_reference);
    assert_true(d.start);
    assert_int_equal(d.partition, 3);
    assert_true(d.has_picture_id);
    assert_true(d.long_picture_id);
    assert_int_equal(d.picture_id, 0x1234);
    assert_true(d.has_tl0picidx);
    assert_int_equal(d.tl0picidx, 0x56);
    assert_true(d.has_tid);
    assert_int_equal(d.tid, 2);
    assert_true(d.layer_sync);
    assert_true(d.has_keyidx);
    assert_int_equal(d.keyidx, 7);

    /* the smallest: byte 0 alone, no X */
    static const uint8_t q[] = {0x10, 0x00};
    assert_int_equal(lkvp8_parse_descriptor(&d, q, sizeof q), 1);
    assert_true(d.start);
    assert_false(d.non_reference);
    assert_false(d.has_picture_id);
    assert_false(d.has_tid);

    /* X with an extension byte that announces nothing: allowed, two bytes
     * read, one written back */
    static const uint8_t empty_x[] = {0x90, 0x05, 0x80};
    assert_int_equal(lkvp8_parse_descriptor(&d, empty_x, sizeof empty_x), 2);
    assert_true(d.start);
    assert_false(d.has_picture_id || d.has_tl0picidx || d.has_tid || d.has_keyidx);
    uint8_t buf[LKVP8_MAX_DESCRIPTOR];
    assert_int_equal(lkvp8_write_descriptor(buf, sizeof buf, &d), 1);
    assert_int_equal(buf[0], 0x10);

    /* the reserved bits mean nothing to a reader */
    static const uint8_t r[] = {0x48, 0x0f, 0x00};
    assert_int_equal(lkvp8_parse_descriptor(&d, r, sizeof r), 1);
    assert_false(d.start);
    assert_int_equal(d.partition, 0);
}

static void parse_picture_id_forms(void **state)
{
    lkvp8_descriptor d;
    /* short: 7 bits */
    static const uint8_t s[] = {0x90, 0x80, 0x7f, 0x00};
    assert_int_equal(lkvp8_parse_descriptor(&d, s, sizeof s), 3);
    assert_true(d.has_picture_id);
    assert_false(d.long_picture_id);
    assert_int_equal(d.picture_id, 127);
    /* long: M, then 15 bits, the largest */
    static const uint8_t l[] = {0x90, 0x80, 0xff, 0xff, 0x00};
    assert_int_equal(lkvp8_parse_descriptor(&d, l, sizeof l), 4);
    assert_true(d.long_picture_id);
    assert_int_equal(d.picture_id, 32767);
    /* long with a small value: still the long form, kept as such */
    static const uint8_t ls[] = {0x90, 0x80, 0x80, 0x05, 0x00};
    assert_int_equal(lkvp8_parse_descriptor(&d, ls, sizeof ls), 4);
    assert_true(d.long_picture_id);
    assert_int_equal(d.picture_id, 5);
}

/* livekit-server rewrites picture ids and writes those of 127 or less in
 * the short form whatever the publisher wrote: the same frame, one byte
 * shorter, with the rest of the descriptor where it was. */
static void parse_server_rewritten_short_form(void **state)
{
    static const uint8_t published[] = {0x90, 0xe0, 0x80, 0x2a, 0x11, 0x40, 0x9d};
    static const uint8_t relayed[] = {0x90, 0xe0, 0x2a, 0x11, 0x40, 0x9d};
    lkvp8_descriptor a, b;
    assert_int_equal(lkvp8_parse_descriptor(&a, published, sizeof published), 6);
    assert_int_equal(lkvp8_parse_descriptor(&b, relayed, sizeof relayed), 5);
    assert_true(a.long_picture_id);
    assert_false(b.long_picture_id);
    assert_int_equal(a.picture_id, 42);
    assert_int_equal(b.picture_id, 42);
    assert_int_equal(b.tl0picidx, 0x11);
    assert_int_equal(b.tid, 1);
    assert_false(b.layer_sync);
    assert_int_equal(relayed[5], 0x9d); /* the data starts where parse says */
}

/* Byte 0 of 0x10 (S alone) is what a padding or blank-frame packet starts
 * with: it parses, and so does the same with a picture id in front of an
 * 8x8 keyframe whose own first byte is 0x10 (key, show_frame). */
static void parse_padding_style(void **state)
{
    lkvp8_descriptor d;
    static const uint8_t bare[] = {0x10, 0x10, 0x02, 0x00};
    assert_int_equal(lkvp8_parse_descriptor(&d, bare, sizeof bare), 1);
    assert_true(d.start);
    assert_false(d.has_picture_id);

    static const uint8_t p[] = {0x90, 0x80, 0x80, 0x07,                   /* S, X, I, id 7 long */
                                0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x08, /* tag, start code, */
                                0x00, 0x08, 0x00};                        /* 8 x 8 */
    int n = lkvp8_parse_descriptor(&d, p, sizeof p);
    assert_int_equal(n, 4);
    assert_true(d.start);
    assert_true(d.has_picture_id);
    assert_int_equal(d.picture_id, 7);
    assert_true(lkvp8_is_keyframe(&d, p + n, sizeof p - (size_t)n));
    unsigned w = 0, h = 0;
    assert_true(lkvp8_keyframe_size(p + n, sizeof p - (size_t)n, &w, &h));
    assert_int_equal(w, 8);
    assert_int_equal(h, 8);

    /* the same with the short id */
    static const uint8_t s[] = {0x90, 0x80, 0x07, 0x10};
    assert_int_equal(lkvp8_parse_descriptor(&d, s, sizeof s), 3);
    assert_int_equal(d.picture_id, 7);
}

static void parse_refuses(void **state)
{
    lkvp8_descriptor d;
    /* L without T: malformed, with or without I and K */
    static const uint8_t l[] = {0x90, 0x40, 0x01, 0x00};
    assert_int_equal(lkvp8_parse_descriptor(&d, l, sizeof l), LKVP8_E_MALFORMED);
    static const uint8_t lik[] = {0x90, 0xd0, 0x01, 0x02, 0x03, 0x00};
    assert_int_equal(lkvp8_parse_descriptor(&d, lik, sizeof lik), LKVP8_E_MALFORMED);
    /* L with T is fine */
    static const uint8_t lt[] = {0x90, 0x60, 0x01, 0x00, 0x00};
    assert_int_equal(lkvp8_parse_descriptor(&d, lt, sizeof lt), 4);

    /* a whole descriptor with no VP8 data after it */
    static const uint8_t one[] = {0x10};
    assert_int_equal(lkvp8_parse_descriptor(&d, one, sizeof one), LKVP8_E_TRUNCATED);
    static const uint8_t full[] = {0x90, 0xf0, 0x81, 0x00, 0x01, 0x02};
    assert_int_equal(lkvp8_parse_descriptor(&d, full, sizeof full), LKVP8_E_TRUNCATED);
    static const uint8_t x_no_ext[] = {0x90, 0x00};
    assert_int_equal(lkvp8_parse_descriptor(&d, x_no_ext, sizeof x_no_ext), LKVP8_E_TRUNCATED);

    assert_int_equal(lkvp8_parse_descriptor(&d, NULL, 0), LKVP8_E_TRUNCATED);
    assert_int_equal(lkvp8_parse_descriptor(NULL, one, sizeof one), LKVP8_E_INVALID);
}

/* Every proper prefix of a descriptor with its data, each in a heap block
 * of exactly its length (valgrind and ASan see a read past it). */
static void parse_truncated_everywhere(void **state)
{
    static const uint8_t whole[][8] = {
        {0xb3, 0xf0, 0x92, 0x34, 0x56, 0xa7, 0xaa}, /* all fields, long id */
        {0x90, 0xa0, 0x12, 0x40, 0xaa},             /* I short, T */
        {0x90, 0x80, 0x80, 0x01, 0xaa},             /* I long alone */
        {0x90, 0x10, 0x1f, 0xaa},                   /* K alone */
        {0x90, 0x60, 0x07, 0xc0, 0xaa},             /* L, T */
        {0x10, 0xaa},                               /* no X */
    };
    static const size_t lens[] = {7, 5, 5, 4, 5, 2};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        lkvp8_descriptor d;
        assert_int_equal(lkvp8_parse_descriptor(&d, whole[i], lens[i]), (int)lens[i] - 1);
        for (size_t k = 0; k < lens[i]; k++) {
            uint8_t *p = malloc(k ? k : 1);
            assert_non_null(p);
            memcpy(p, whole[i], k);
            assert_int_equal(lkvp8_parse_descriptor(&d, k ? p : NULL, k), LKVP8_E_TRUNCATED);
            free(p);
        }
    }
}

/* --- writing ---------------------------------------------------------------------------- */

/* A descriptor with the optional fields that bits 0..3 of combo select
 * (I, L, T, K), L only with T as a reader wants. */
static lkvp8_descriptor combo_descriptor(unsigned combo, bool long_id, uint16_t picture_id)
{
    lkvp8_descriptor d = {0};
    d.non_reference = combo & 1;
    d.start = (combo & 2) != 0;
    d.partition = (uint8_t)(combo % 8);
    d.has_picture_id = (combo & 1) != 0;
    if (d.has_picture_id) {
        d.long_picture_id = long_id;
        d.picture_id = picture_id;
    }
    d.has_tid = (combo & 4) != 0;
    if (d.has_tid) {
        d.tid = (uint8_t)(combo % 4);
        d.layer_sync = (combo & 2) != 0;
    }
    d.has_tl0picidx = d.has_tid && (combo & 2);
    if (d.has_tl0picidx)
        d.tl0picidx = (uint8_t)(0xf0 + combo);
    d.has_keyidx = (combo & 8) != 0;
    if (d.has_keyidx)
        d.keyidx = (uint8_t)(31 - combo);
    return d;
}

static size_t expected_len(const lkvp8_descriptor *d)
{
    if (!d->has_picture_id && !d->has_tl0picidx && !d->has_tid && !d->has_keyidx)
        return 1;
    size_t n = 2;
    if (d->has_picture_id)
        n += d->long_picture_id || d->picture_id > 127 ? 2 : 1;
    n += d->has_tl0picidx;
    n += d->has_tid || d->has_keyidx;
    return n;
}

static void round_trip_one(const lkvp8_descriptor *d)
{
    uint8_t buf[LKVP8_MAX_DESCRIPTOR + 1];
    int n = lkvp8_write_descriptor(buf, LKVP8_MAX_DESCRIPTOR, d);
    assert_int_equal(n, (int)expected_len(d));
    /* X is set exactly when an optional field is there */
    assert_int_equal((buf[0] & 0x80) != 0, n > 1);
    buf[n] = 0x9d; /* a byte of VP8 data */
    lkvp8_descriptor back;
    assert_int_equal(lkvp8_parse_descriptor(&back, buf, (size_t)n + 1), n);
    lkvp8_descriptor want = *d;
    if (want.picture_id > 127)
        want.long_picture_id = true;
    assert_same(&back, &want);
    /* one byte too small: refused */
    assert_int_equal(lkvp8_write_descriptor(buf, (size_t)n - 1, d), LKVP8_E_NOSPACE);
}

static void write_round_trip_every_combination(void **state)
{
    static const uint16_t ids[] = {0, 1, 127, 128, 0x1234, 32767};
    for (unsigned combo = 0; combo < 16; combo++)
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
            for (int long_id = 0; long_id < 2; long_id++) {
                lkvp8_descriptor d = combo_descriptor(combo, long_id, ids[i]);
                round_trip_one(&d);
                /* and every flag of byte 0 on its own */
                d.non_reference = !d.non_reference;
                d.start = !d.start;
                d.partition = (uint8_t)(7 - d.partition);
                round_trip_one(&d);
            }
}

static void write_known_answer(void **state)
{
    lkvp8_descriptor d = {.start = true, .has_picture_id = true, .picture_id = 0x1234,
                          .has_tl0picidx = true, .tl0picidx = 0x56, .has_tid = true, .tid = 2,
                          .layer_sync = true, .has_keyidx = true, .keyidx = 7, .partition = 3,
                          .non_reference = true};
    uint8_t buf[LKVP8_MAX_DESCRIPTOR];
    assert_int_equal(lkvp8_write_descriptor(buf, sizeof buf, &d), 6);
    assert_memory_equal(buf, "\xb3\xf0\x92\x34\x56\xa7", 6);
    /* the smallest libwebrtc writes: S and a short id */
    d = (lkvp8_descriptor){.start = true, .has_picture_id = true, .picture_id = 5};
    assert_int_equal(lkvp8_write_descriptor(buf, sizeof buf, &d), 3);
    assert_memory_equal(buf, "\x90\x80\x05", 3);
    /* nothing optional: no X, one byte */
    d = (lkvp8_descriptor){.start = true};
    assert_int_equal(lkvp8_write_descriptor(buf, sizeof buf, &d), 1);
    assert_int_equal(buf[0], 0x10);
    /* an id over 127 asked for short: the long form all the same */
    d = (lkvp8_descriptor){.has_picture_id = true, .picture_id = 200};
    assert_int_equal(lkvp8_write_descriptor(buf, sizeof buf, &d), 4);
    assert_memory_equal(buf, "\x80\x80\x80\xc8", 4);
}

static void write_refuses(void **state)
{
    uint8_t buf[LKVP8_MAX_DESCRIPTOR];
    lkvp8_descriptor d = {.partition = 8};
    assert_int_equal(lkvp8_write_descriptor(buf, sizeof buf, &d), LKVP8_E_INVALID);
    d = (lkvp8_descriptor){.has_picture_id = true, .picture_id = 32768};
    assert_int_equal(lkvp8_write_descriptor(buf, sizeof buf, &d), LKVP8_E_INVALID);
    d = (lkvp8_descriptor){.has_tid = true, .tid = 4};
    assert_int_equal(lkvp8_write_descriptor(buf, sizeof buf, &d), LKVP8_E_INVALID);
    d = (lkvp8_descriptor){.has_keyidx = true, .keyidx = 32};
    assert_int_equal(lkvp8_write_descriptor(buf, sizeof buf, &d), LKVP8_E_INVALID);
    /* L without T: a reader would refuse it, so we do not write it */
    d = (lkvp8_descriptor){.has_tl0picidx = true};
    assert_int_equal(lkvp8_write_descriptor(buf, sizeof buf, &d), LKVP8_E_INVALID);
    /* out of range but absent: ignored */
    d = (lkvp8_descriptor){.tid = 9, .keyidx = 99, .picture_id = 40000};
    assert_int_equal(lkvp8_write_descriptor(buf, sizeof buf, &d), 1);
    assert_int_equal(buf[0], 0x00);
    assert_int_equal(lkvp8_write_descriptor(buf, sizeof buf, NULL), LKVP8_E_INVALID);
    assert_int_equal(lkvp8_write_descriptor(buf, 0, &d), LKVP8_E_NOSPACE);
}

/* --- keyframes -------------------------------------------------------------------------- */

/* A keyframe and then a delta frame of a w x h gray picture, encoded by
 * libvpx: the header a real publisher sends. Returns false if the encoder
 * is unavailable. */
static bool encode_two(unsigned w, unsigned h, uint8_t *key, size_t *key_len, uint8_t *delta,
                       size_t *delta_len)
{
    vpx_codec_enc_cfg_t cfg;
    vpx_codec_ctx_t ctx;
    if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK)
        return false;
    cfg.g_w = w;
    cfg.g_h = h;
    cfg.g_lag_in_frames = 0;
    if (vpx_codec_enc_init(&ctx, vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK)
        return false;
    vpx_image_t img;
    vpx_img_alloc(&img, VPX_IMG_FMT_I420, w, h, 1);
    /* with alignment 1 the planes are packed: Y, then two of half size rounded up */
    memset(img.img_data, 0x80, (size_t)w * h + 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2));
    uint8_t *outs[2] = {key, delta};
    size_t *lens[2] = {key_len, delta_len};
    for (int f = 0; f < 2; f++) {
        *lens[f] = 0;
        assert_int_equal(vpx_codec_encode(&ctx, &img, f, 1, 0, VPX_DL_REALTIME), VPX_CODEC_OK);
        const vpx_codec_cx_pkt_t *pkt;
        vpx_codec_iter_t it = NULL;
        while ((pkt = vpx_codec_get_cx_data(&ctx, &it)))
            if (pkt->kind == VPX_CODEC_CX_FRAME_PKT && *lens[f] == 0 &&
                pkt->data.frame.sz <= 4096) {
                memcpy(outs[f], pkt->data.frame.buf, pkt->data.frame.sz);
                *lens[f] = pkt->data.frame.sz;
            }
    }
    vpx_img_free(&img);
    vpx_codec_destroy(&ctx);
    return *key_len > 0 && *delta_len > 0;
}

static void keyframe_from_libvpx(void **state)
{
    static uint8_t key[4096], delta[4096];
    size_t key_len, delta_len;
    /* even: libvpx reads its own uninitialised padding for odd sizes (valgrind) */
    assert_true(encode_two(338, 190, key, &key_len, delta, &delta_len));
    unsigned w = 0, h = 0;
    assert_true(lkvp8_keyframe_size(key, key_len, &w, &h));
    assert_int_equal(w, 338);
    assert_int_equal(h, 190);
    lkvp8_descriptor d = {.start = true};
    assert_true(lkvp8_is_keyframe(&d, key, key_len));
    assert_false(lkvp8_is_keyframe(&d, delta, delta_len));
    assert_false(lkvp8_keyframe_size(delta, delta_len, &w, &h));
    /* not the first packet of partition 0: not the frame's start */
    d.start = false;
    assert_false(lkvp8_is_keyframe(&d, key, key_len));
    d = (lkvp8_descriptor){.start = true, .partition = 1};
    assert_false(lkvp8_is_keyframe(&d, key, key_len));
    /* every prefix shorter than the 10 bytes the size needs */
    for (size_t k = 0; k < 10; k++) {
        uint8_t *p = malloc(k ? k : 1);
        assert_non_null(p);
        memcpy(p, key, k);
        assert_false(lkvp8_keyframe_size(k ? p : NULL, k, &w, &h));
        free(p);
    }
}

static void keyframe_header_by_hand(void **state)
{
    /* RFC 6386 9.1: tag (key, version 0, shown, first partition 0x1234 bytes),
     * start code, 640 with horizontal scale 2, 480 with vertical scale 1 */
    static const uint8_t f[] = {0x90, 0x46, 0x02, 0x9d, 0x01, 0x2a, 0x80, 0x82, 0xe0, 0x41};
    unsigned w = 0, h = 0;
    assert_true(lkvp8_keyframe_size(f, sizeof f, &w, &h));
    assert_int_equal(w, 640); /* the scaling bits are not the size */
    assert_int_equal(h, 480);
    uint8_t g[sizeof f];
    memcpy(g, f, sizeof g);
    g[4] = 0x02; /* a broken start code */
    assert_false(lkvp8_keyframe_size(g, sizeof g, &w, &h));
    memcpy(g, f, sizeof g);
    g[0] |= 1; /* an interframe */
    assert_false(lkvp8_keyframe_size(g, sizeof g, &w, &h));
    lkvp8_descriptor d = {.start = true};
    assert_false(lkvp8_is_keyframe(&d, g, sizeof g));
    assert_false(lkvp8_is_keyframe(&d, g, 0));
}

/* --- packetizer ------------------------------------------------------------------------- */

/* Cuts frame[0..len) with d at max_payload and checks every packet:
 * within max_payload, S on the first only, PID 0, the descriptor otherwise
 * d's, the last flag on the last only, the parts' sizes within one byte,
 * larger first, and the parts together the frame. Returns the count. */
static int cut_and_check(const lkvp8_descriptor *d, const uint8_t *frame, size_t len,
                         size_t max_payload)
{
    static uint8_t joined[1 << 16], pkt[1 << 16];
    lkvp8_packetizer pz;
    int count = lkvp8_packetizer_init(&pz, d, frame, len, max_payload);
    assert_true(count >= 1);
    size_t at = 0, first_part = 0, prev_part = 0;
    for (int i = 0; i < count; i++) {
        bool last = !(i == count - 1);
        int n = lkvp8_packetizer_next(&pz, pkt, sizeof pkt, &last);
        assert_true(n > 0);
        assert_true((size_t)n <= max_payload);
        assert_int_equal(last, i == count - 1);
        lkvp8_descriptor got;
        int dl = lkvp8_parse_descriptor(&got, pkt, (size_t)n);
        assert_true(dl > 0);
        assert_int_equal(got.start, i == 0);
        assert_int_equal(got.partition, 0);
        lkvp8_descriptor want = *d;
        want.start = i == 0;
        want.partition = 0;
        if (want.picture_id > 127)
            want.long_picture_id = true;
        assert_same(&got, &want);
        size_t part = (size_t)n - (size_t)dl;
        if (i == 0)
            first_part = part;
        assert_true(first_part - part <= 1);
        assert_true(i == 0 || part <= prev_part);
        prev_part = part;
        memcpy(joined + at, pkt + dl, part);
        at += part;
    }
    bool last = true;
    assert_int_equal(lkvp8_packetizer_next(&pz, pkt, sizeof pkt, &last), 0);
    assert_false(last);
    assert_int_equal(at, len);
    assert_memory_equal(joined, frame, len);
    return count;
}

static void packetizer_edges(void **state)
{
    static uint8_t frame[20000];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (uint8_t)(i * 7 + (i >> 8));
    lkvp8_descriptor d = {.has_picture_id = true, .picture_id = 300, .partition = 5};
    /* descriptor 4 bytes: 96 bytes of room in a 100-byte payload */
    assert_int_equal(cut_and_check(&d, frame, 96, 100), 1);  /* exactly fits */
    assert_int_equal(cut_and_check(&d, frame, 97, 100), 2);  /* one over: 49 + 48 */
    assert_int_equal(cut_and_check(&d, frame, 192, 100), 2); /* two full */
    assert_int_equal(cut_and_check(&d, frame, 193, 100), 3);
    assert_int_equal(cut_and_check(&d, frame, 1, 5), 1);     /* one byte of room */
    assert_int_equal(cut_and_check(&d, frame, 7, 5), 7);
    assert_int_equal(cut_and_check(&d, frame, 20000, 1200), 17);
    assert_int_equal(cut_and_check(&d, frame, 20000, 64), 334);
    /* a descriptor of one byte, and the largest */
    lkvp8_descriptor plain = {0};
    assert_int_equal(cut_and_check(&plain, frame, 1199, 1200), 1);
    assert_int_equal(cut_and_check(&plain, frame, 1200, 1200), 2);
    lkvp8_descriptor full = {.non_reference = true, .has_picture_id = true, .picture_id = 9,
                             .long_picture_id = true, .has_tl0picidx = true, .tl0picidx = 3,
                             .has_tid = true, .tid = 1, .has_keyidx = true, .keyidx = 4};
    assert_int_equal(cut_and_check(&full, frame, 1000, 7), 1000);
    for (size_t len = 1; len < 300; len++)
        cut_and_check(&full, frame, len, 6 + len % 40 + 1);

    /* the exact sizes: 97 in two parts is 49 then 48 */
    lkvp8_packetizer pz;
    uint8_t out[200];
    bool last;
    assert_int_equal(lkvp8_packetizer_init(&pz, &d, frame, 97, 100), 2);
    assert_int_equal(lkvp8_packetizer_next(&pz, out, sizeof out, &last), 4 + 49);
    assert_int_equal(out[0], 0x90); /* S, X: PID 5 not kept */
    assert_int_equal(lkvp8_packetizer_next(&pz, out, sizeof out, &last), 4 + 48);
    assert_int_equal(out[0], 0x80);
    assert_true(last);
}

static void packetizer_refuses(void **state)
{
    static const uint8_t frame[10] = {0};
    lkvp8_packetizer pz;
    lkvp8_descriptor d = {.has_picture_id = true, .picture_id = 1}; /* 3 bytes */
    assert_int_equal(lkvp8_packetizer_init(&pz, &d, frame, 0, 100), LKVP8_E_INVALID);
    assert_int_equal(lkvp8_packetizer_init(&pz, &d, NULL, 10, 100), LKVP8_E_INVALID);
    assert_int_equal(lkvp8_packetizer_init(&pz, NULL, frame, 10, 100), LKVP8_E_INVALID);
    assert_int_equal(lkvp8_packetizer_init(NULL, &d, frame, 10, 100), LKVP8_E_INVALID);
    assert_int_equal(lkvp8_packetizer_init(&pz, &d, frame, 10, 3), LKVP8_E_INVALID);
    lkvp8_descriptor bad = {.has_tid = true, .tid = 7};
    assert_int_equal(lkvp8_packetizer_init(&pz, &bad, frame, 10, 100), LKVP8_E_INVALID);
    /* a failed init leaves nothing to send */
    uint8_t out[16];
    bool last = true;
    assert_int_equal(lkvp8_packetizer_next(&pz, out, sizeof out, &last), 0);
    assert_false(last);

    /* a buffer too small for the next packet: refused, and nothing lost */
    assert_int_equal(lkvp8_packetizer_init(&pz, &d, frame, 10, 8), 2);
    assert_int_equal(lkvp8_packetizer_next(&pz, out, 7, &last), LKVP8_E_NOSPACE);
    assert_int_equal(lkvp8_packetizer_next(&pz, out, 8, &last), 8);
    assert_false(last);
    assert_int_equal(lkvp8_packetizer_next(&pz, out, 8, NULL), 8);
    assert_int_equal(lkvp8_packetizer_next(&pz, out, 8, &last), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_known_answer),
        cmocka_unit_test(parse_picture_id_forms),
        cmocka_unit_test(parse_server_rewritten_short_form),
        cmocka_unit_test(parse_padding_style),
        cmocka_unit_test(parse_refuses),
        cmocka_unit_test(parse_truncated_everywhere),
        cmocka_unit_test(write_round_trip_every_combination),
        cmocka_unit_test(write_known_answer),
        cmocka_unit_test(write_refuses),
        cmocka_unit_test(keyframe_from_libvpx),
        cmocka_unit_test(keyframe_header_by_hand),
        cmocka_unit_test(packetizer_edges),
        cmocka_unit_test(packetizer_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
