/*
 * test_h264.c: every RTP payload type of RFC 6184 into Annex B (single
 * NAL units, STAP-A, FU-A start, middle and end), each refused shape with
 * its error, a keyframe access unit as libwebrtc sends it reassembled byte
 * for byte; SPS sizes read from parameter sets written here bit by bit
 * (baseline, main, high with cropping, interlaced, 4:2:2, 4:4:4, scaling
 * lists, every pic_order_cnt_type) and by libopenh264, every range
 * refused, every cut refused exactly up to the last size field, and
 * emulation prevention bytes wherever they fall.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h264.h"

static const uint8_t sc[4] = {0, 0, 0, 1};

/* --- payloads --------------------------------------------------------------------------- */

/* parse and depacketize agree, reading the payload from a heap block of
 * exactly its length (ASan sees a read past it). */
static int both(const uint8_t *p, size_t n, uint8_t *out, size_t cap, lkh264_info *info)
{
    uint8_t *copy = p ? malloc(n ? n : 1) : NULL;
    if (p) {
        assert_non_null(copy);
        memcpy(copy, p, n);
    }
    lkh264_info a;
    int parsed = lkh264_parse(copy, n, &a);
    int r = lkh264_depacketize(copy, n, out, cap, info);
    free(copy);
    if (r != LKH264_E_NOSPACE) {
        assert_int_equal(parsed, r);
        assert_memory_equal(&a, info, sizeof a);
    }
    return r;
}

static void single_nal_units(void **state)
{
    static const uint8_t types[] = {1, 5, 6, 7, 8, 9, 12, 23};
    for (size_t i = 0; i < sizeof types; i++) {
        uint8_t p[] = {(uint8_t)(0x60 | types[i]), 0xaa, 0x00, 0x00, 0x01, 0xbb};
        uint8_t out[16];
        lkh264_info info;
        assert_int_equal(both(p, sizeof p, out, sizeof out, &info), 4 + (int)sizeof p);
        assert_memory_equal(out, sc, 4);
        assert_memory_equal(out + 4, p, sizeof p);
        assert_int_equal(info.type, types[i]);
        assert_true(info.begins);
        assert_true(info.ends);
        assert_int_equal(info.count, 1);
        assert_int_equal(info.nal_types, 1u << types[i]);
    }
    /* the NAL header alone is a NAL unit (an end of sequence, say) */
    static const uint8_t eos[] = {0x0a};
    uint8_t out[8];
    lkh264_info info;
    assert_int_equal(both(eos, 1, out, sizeof out, &info), 5);
    assert_memory_equal(out, "\0\0\0\1\x0a", 5);
    /* F is passed on as it came: a decoder's to judge */
    static const uint8_t f[] = {0xe1, 0x01};
    assert_int_equal(both(f, sizeof f, out, sizeof out, &info), 6);
    assert_int_equal(out[4], 0xe1);
}

static void stap_a(void **state)
{
    /* SPS (4 bytes) and PPS (2 bytes), as libwebrtc sends them before an IDR */
    static const uint8_t p[] = {0x78, 0x00, 0x04, 0x67, 0x42, 0xc0, 0x1f,
                                0x00, 0x02, 0x68, 0xce};
    static const uint8_t want[] = {0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0, 0, 0, 1, 0x68, 0xce};
    uint8_t out[32];
    lkh264_info info;
    assert_int_equal(both(p, sizeof p, out, sizeof out, &info), (int)sizeof want);
    assert_memory_equal(out, want, sizeof want);
    assert_int_equal(info.type, LKH264_STAP_A);
    assert_true(info.begins);
    assert_true(info.ends);
    assert_int_equal(info.count, 2);
    assert_int_equal(info.nal_types, 1u << LKH264_NAL_SPS | 1u << LKH264_NAL_PPS);

    /* one unit of one byte */
    static const uint8_t one[] = {0x18, 0x00, 0x01, 0x09};
    assert_int_equal(both(one, sizeof one, out, sizeof out, &info), 5);
    assert_memory_equal(out, "\0\0\0\1\x09", 5);
    assert_int_equal(info.nal_types, 1u << LKH264_NAL_AUD);
    assert_int_equal(info.count, 1);
}

static void stap_a_refused(void **state)
{
    uint8_t out[32];
    lkh264_info info;
    /* the header alone: no unit */
    static const uint8_t hdr[] = {0x78};
    assert_int_equal(both(hdr, 1, out, sizeof out, &info), LKH264_E_TRUNCATED);
    /* a size of zero, first or after a good unit */
    static const uint8_t zero[] = {0x78, 0x00, 0x00, 0x67};
    assert_int_equal(both(zero, sizeof zero, out, sizeof out, &info), LKH264_E_MALFORMED);
    static const uint8_t zero2[] = {0x78, 0x00, 0x01, 0x09, 0x00, 0x00};
    assert_int_equal(both(zero2, sizeof zero2, out, sizeof out, &info), LKH264_E_MALFORMED);
    /* ... even where the bytes after it would read as good units */
    static uint8_t zero3[5 + 257];
    memcpy(zero3, "\x78\x00\x00\x01\x01", 5);
    memset(zero3 + 5, 0x41, 257);
    assert_int_equal(both(zero3, sizeof zero3, out, sizeof out, &info), LKH264_E_MALFORMED);
    /* a size one past the payload */
    static const uint8_t past[] = {0x78, 0x00, 0x03, 0x67, 0x42};
    assert_int_equal(both(past, sizeof past, out, sizeof out, &info), LKH264_E_MALFORMED);
    static const uint8_t past2[] = {0x78, 0x00, 0x01, 0x09, 0x01, 0x00, 0x68};
    assert_int_equal(both(past2, sizeof past2, out, sizeof out, &info), LKH264_E_MALFORMED);
    /* a lone byte where a size should be */
    static const uint8_t lone[] = {0x78, 0x00, 0x01, 0x09, 0x00};
    assert_int_equal(both(lone, sizeof lone, out, sizeof out, &info), LKH264_E_MALFORMED);
    /* a unit that is no NAL unit: 0, a STAP-A, an FU-A */
    static const uint8_t bad[] = {0x00, 0x18, 0x1c, 0x1f};
    for (size_t i = 0; i < sizeof bad; i++) {
        uint8_t p[] = {0x78, 0x00, 0x02, bad[i], 0x01};
        assert_int_equal(both(p, sizeof p, out, sizeof out, &info), LKH264_E_MALFORMED);
    }
    /* info says nothing after a refusal */
    lkh264_info zeroed = {0};
    assert_memory_equal(&info, &zeroed, sizeof info);
}

static void fu_a(void **state)
{
    uint8_t out[16];
    lkh264_info info;
    /* start: NRI 3 from the indicator, IDR from the FU header */
    static const uint8_t s[] = {0x7c, 0x85, 0x11, 0x22};
    assert_int_equal(both(s, sizeof s, out, sizeof out, &info), 7);
    assert_memory_equal(out, "\0\0\0\1\x65\x11\x22", 7);
    assert_int_equal(info.type, LKH264_FU_A);
    assert_true(info.begins);
    assert_false(info.ends);
    assert_int_equal(info.count, 1);
    assert_int_equal(info.nal_types, 1u << LKH264_NAL_IDR);
    /* middle: the data alone, no NAL begun */
    static const uint8_t m[] = {0x7c, 0x05, 0x33};
    assert_int_equal(both(m, sizeof m, out, sizeof out, &info), 1);
    assert_int_equal(out[0], 0x33);
    assert_false(info.begins);
    assert_false(info.ends);
    assert_int_equal(info.count, 0);
    assert_int_equal(info.nal_types, 0);
    /* end */
    static const uint8_t e[] = {0x7c, 0x45, 0x44, 0x55};
    assert_int_equal(both(e, sizeof e, out, sizeof out, &info), 2);
    assert_memory_equal(out, "\x44\x55", 2);
    assert_false(info.begins);
    assert_true(info.ends);
    /* F and NRI come from the indicator, whatever the FU header's R says */
    static const uint8_t f[] = {0xbc, 0xa1, 0x66};
    assert_int_equal(both(f, sizeof f, out, sizeof out, &info), 6);
    assert_memory_equal(out, "\0\0\0\1\xa1\x66", 6);
    assert_int_equal(info.nal_types, 1u << LKH264_NAL_SLICE);
    static const uint8_t nri0[] = {0x1c, 0x81, 0x66};
    assert_int_equal(both(nri0, sizeof nri0, out, sizeof out, &info), 6);
    assert_int_equal(out[4], 0x01);
}

static void fu_a_refused(void **state)
{
    uint8_t out[16];
    lkh264_info info;
    /* S and E both: RFC 6184 5.8 */
    static const uint8_t se[] = {0x7c, 0xc5, 0x11};
    assert_int_equal(both(se, sizeof se, out, sizeof out, &info), LKH264_E_MALFORMED);
    /* the indicator alone, then the FU header without data, S or not */
    static const uint8_t ind[] = {0x7c};
    assert_int_equal(both(ind, 1, out, sizeof out, &info), LKH264_E_TRUNCATED);
    static const uint8_t nodata[] = {0x7c, 0x85};
    assert_int_equal(both(nodata, 2, out, sizeof out, &info), LKH264_E_TRUNCATED);
    static const uint8_t nodata_e[] = {0x7c, 0x45};
    assert_int_equal(both(nodata_e, 2, out, sizeof out, &info), LKH264_E_TRUNCATED);
    /* a fragment of no NAL unit type */
    static const uint8_t bad[] = {0x00, 0x18, 0x1c, 0x1d, 0x1f};
    for (size_t i = 0; i < sizeof bad; i++) {
        uint8_t p[] = {0x7c, (uint8_t)(0x80 | bad[i]), 0x01};
        assert_int_equal(both(p, sizeof p, out, sizeof out, &info), LKH264_E_MALFORMED);
        p[1] = bad[i];
        assert_int_equal(both(p, sizeof p, out, sizeof out, &info), LKH264_E_MALFORMED);
    }
}

static void unsupported_and_empty(void **state)
{
    uint8_t out[16];
    lkh264_info info;
    /* STAP-B, MTAP16, MTAP24, FU-B, and the types RTP leaves undefined */
    static const uint8_t types[] = {25, 26, 27, 29, 0, 30, 31};
    for (size_t i = 0; i < sizeof types; i++) {
        uint8_t p[] = {(uint8_t)(0x60 | types[i]), 0x80, 0x00, 0x02, 0x65, 0x00};
        assert_int_equal(both(p, sizeof p, out, sizeof out, &info), LKH264_E_UNSUPPORTED);
        assert_int_equal(both(p, 1, out, sizeof out, &info), LKH264_E_UNSUPPORTED);
    }
    assert_int_equal(both(NULL, 0, out, sizeof out, &info), LKH264_E_EMPTY);
    assert_int_equal(both(out, 0, out, sizeof out, &info), LKH264_E_EMPTY);
    assert_int_equal(lkh264_parse(NULL, 3, &info), LKH264_E_INVALID);
    assert_int_equal(lkh264_depacketize(NULL, 3, out, sizeof out, &info), LKH264_E_INVALID);
    /* info is optional */
    static const uint8_t p[] = {0x65, 0x88};
    assert_int_equal(lkh264_parse(p, sizeof p, NULL), 6);
    assert_int_equal(lkh264_depacketize(p, sizeof p, out, sizeof out, NULL), 6);
}

/* Too small by one byte: refused with the buffer untouched; exactly
 * enough: written. */
static void no_space(void **state)
{
    static const uint8_t single[] = {0x65, 0x88, 0x84};
    static const uint8_t stap[] = {0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x01, 0x68};
    static const uint8_t fu_s[] = {0x7c, 0x85, 0x01, 0x02};
    static const uint8_t fu_m[] = {0x7c, 0x05, 0x01, 0x02};
    const uint8_t *ps[] = {single, stap, fu_s, fu_m};
    const size_t ns[] = {sizeof single, sizeof stap, sizeof fu_s, sizeof fu_m};
    for (size_t i = 0; i < 4; i++) {
        int len = lkh264_parse(ps[i], ns[i], NULL);
        assert_true(len > 0);
        uint8_t out[32];
        memset(out, 0xee, sizeof out);
        lkh264_info info;
        assert_int_equal(lkh264_depacketize(ps[i], ns[i], out, (size_t)len - 1, &info),
                         LKH264_E_NOSPACE);
        for (size_t k = 0; k < sizeof out; k++)
            assert_int_equal(out[k], 0xee);
        assert_int_equal(info.nal_types, 0);
        assert_int_equal(lkh264_depacketize(ps[i], ns[i], NULL, 100, &info), LKH264_E_NOSPACE);
        /* exactly the room it needs, in a heap block ASan watches */
        uint8_t *exact = malloc((size_t)len);
        assert_non_null(exact);
        assert_int_equal(lkh264_depacketize(ps[i], ns[i], exact, (size_t)len, &info), len);
        free(exact);
    }
}

/* --- SPS, written bit by bit ------------------------------------------------------------ */

typedef struct bitwriter {
    uint8_t b[2048];
    size_t bits;
} bitwriter;

static void put(bitwriter *w, uint64_t v, unsigned k)
{
    while (k--) {
        assert_true(w->bits / 8 < sizeof w->b);
        if (v >> k & 1)
            w->b[w->bits / 8] |= (uint8_t)(0x80 >> w->bits % 8);
        w->bits++;
    }
}

/* ue(v): as many zeros as v + 1 has bits after its first, then v + 1 */
static void put_ue(bitwriter *w, uint64_t v)
{
    uint64_t x = v + 1;
    unsigned len = 0;
    while (x >> (len + 1))
        len++;
    put(w, 0, len);
    put(w, x, len + 1);
}

static void put_se(bitwriter *w, int64_t v)
{
    put_ue(w, v > 0 ? (uint64_t)(2 * v - 1) : (uint64_t)(-2 * v));
}

typedef struct sps_desc {
    uint8_t profile, constraints, level;
    uint32_t id;
    /* high profiles only */
    uint32_t chroma_format_idc;
    bool separate_planes;
    uint32_t bit_depth_luma, bit_depth_chroma;
    bool scaling; /* every list present, some ending early with a next scale of 0 */
    int delta_scale; /* the first list's first delta */
    uint32_t log2_max_frame_num;
    uint32_t poc_type, log2_max_poc_lsb;
    int64_t non_ref_offset; /* type 1 */
    uint32_t cycle;         /* type 1: offsets for ref frames */
    uint32_t max_ref_frames;
    uint64_t width_mbs_minus1, height_units_minus1;
    bool interlaced;
    bool crop;
    uint64_t crop_l, crop_r, crop_t, crop_b;
    bool vui;
} sps_desc;

static bool is_high(uint8_t profile)
{
    static const uint8_t high[] = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135};
    return memchr(high, profile, sizeof high) != NULL;
}

static void put_scaling_lists(bitwriter *w, const sps_desc *d)
{
    unsigned lists = d->chroma_format_idc == 3 ? 12 : 8;
    for (unsigned i = 0; i < lists; i++) {
        put(w, 1, 1);
        unsigned size = i < 6 ? 16 : 64;
        if (i % 3 == 1) {
            /* 8 then -8: a next scale of 0, the rest read as the last */
            put_se(w, 0);
            put_se(w, -8);
            continue;
        }
        for (unsigned j = 0; j < size; j++)
            put_se(w, i == 0 && j == 0 ? d->delta_scale : (int)(j % 5) - 2);
    }
}

/* The RBSP of d; *size_bits: where the last field that bears on the size
 * ends. */
static void write_rbsp(bitwriter *w, const sps_desc *d, size_t *size_bits)
{
    memset(w, 0, sizeof *w);
    put(w, d->profile, 8);
    put(w, d->constraints, 8);
    put(w, d->level, 8);
    put_ue(w, d->id);
    if (is_high(d->profile)) {
        put_ue(w, d->chroma_format_idc);
        if (d->chroma_format_idc == 3)
            put(w, d->separate_planes, 1);
        put_ue(w, d->bit_depth_luma);
        put_ue(w, d->bit_depth_chroma);
        put(w, 0, 1);
        put(w, d->scaling, 1);
        if (d->scaling)
            put_scaling_lists(w, d);
    }
    put_ue(w, d->log2_max_frame_num);
    put_ue(w, d->poc_type);
    if (d->poc_type == 0) {
        put_ue(w, d->log2_max_poc_lsb);
    } else if (d->poc_type == 1) {
        put(w, 0, 1);
        put_se(w, d->non_ref_offset);
        put_se(w, -2);
        put_ue(w, d->cycle);
        for (uint32_t i = 0; i < d->cycle; i++)
            put_se(w, (int64_t)(i % 7) - 3);
    }
    put_ue(w, d->max_ref_frames);
    put(w, 0, 1);
    put_ue(w, d->width_mbs_minus1);
    put_ue(w, d->height_units_minus1);
    put(w, !d->interlaced, 1);
    if (d->interlaced)
        put(w, 1, 1);
    put(w, 1, 1);
    put(w, d->crop, 1);
    if (d->crop) {
        put_ue(w, d->crop_l);
        put_ue(w, d->crop_r);
        put_ue(w, d->crop_t);
        put_ue(w, d->crop_b);
    }
    *size_bits = w->bits;
    put(w, d->vui, 1);
    if (d->vui) {
        /* what libwebrtc leaves: no aspect, overscan or signal type;
         * 90 kHz timing; no HRD; bitstream restrictions */
        put(w, 0, 4);
        put(w, 1, 1);
        put(w, 1, 32);
        put(w, 60, 32);
        put(w, 0, 1);
        put(w, 0, 3);
        put(w, 1, 1);
        put(w, 1, 1);
        for (int i = 0; i < 6; i++)
            put_ue(w, i == 5 ? 1 : 16);
    }
    put(w, 1, 1); /* rbsp_stop_one_bit, then zeros to the byte */
    w->bits = (w->bits + 7) / 8 * 8;
}

typedef struct sps_nal {
    uint8_t b[2200];
    size_t len;
    size_t needed; /* the shortest prefix holding every size field */
    unsigned eps;  /* emulation prevention bytes inserted before that */
} sps_nal;

/* The NAL unit: header, then the RBSP with a 03 after every two zero bytes
 * followed by a byte of 3 or less (7.4.1). */
static void build_sps(sps_nal *s, const sps_desc *d)
{
    bitwriter w;
    size_t size_bits;
    write_rbsp(&w, d, &size_bits);
    size_t rbsp_len = w.bits / 8, last_needed = (size_bits + 7) / 8 - 1;
    memset(s, 0, sizeof *s);
    s->b[s->len++] = 0x67;
    unsigned zeros = 0;
    for (size_t i = 0; i < rbsp_len; i++) {
        if (zeros >= 2 && w.b[i] <= 3) {
            assert_true(s->len < sizeof s->b);
            s->b[s->len++] = 3;
            zeros = 0;
            if (i <= last_needed)
                s->eps++;
        }
        assert_true(s->len < sizeof s->b);
        s->b[s->len++] = w.b[i];
        zeros = w.b[i] == 0 ? zeros + 1 : 0;
        if (i == last_needed)
            s->needed = s->len;
    }
}

static void assert_sps(const sps_desc *d, unsigned want_w, unsigned want_h)
{
    sps_nal s;
    build_sps(&s, d);
    unsigned w = 0, h = 0;
    assert_true(lkh264_sps_size(s.b, s.len, &w, &h));
    assert_int_equal(w, want_w);
    assert_int_equal(h, want_h);
}

static void assert_sps_refused(const sps_desc *d)
{
    sps_nal s;
    build_sps(&s, d);
    unsigned w = 0, h = 0;
    assert_false(lkh264_sps_size(s.b, s.len, &w, &h));
}

static const sps_desc vga_baseline = {
    .profile = 66, .constraints = 0xc0, .level = 30, .poc_type = 2, .max_ref_frames = 1,
    .width_mbs_minus1 = 39, .height_units_minus1 = 29};
static const sps_desc hd_main = {
    .profile = 77, .constraints = 0x40, .level = 31, .log2_max_frame_num = 4, .poc_type = 0,
    .log2_max_poc_lsb = 5, .max_ref_frames = 3, .width_mbs_minus1 = 79,
    .height_units_minus1 = 44, .vui = true};
/* 1088 coded lines, the last 8 cropped (4 units of 2 in 4:2:0) */
static const sps_desc fhd_high = {
    .profile = 100, .level = 40, .chroma_format_idc = 1, .poc_type = 0, .max_ref_frames = 4,
    .width_mbs_minus1 = 119, .height_units_minus1 = 67, .crop = true, .crop_b = 4,
    .vui = true};

static void sps_sizes(void **state)
{
    assert_sps(&vga_baseline, 640, 480);
    assert_sps(&hd_main, 1280, 720);
    assert_sps(&fhd_high, 1920, 1080);

    /* pic_order_cnt_type 1, the longest cycle */
    sps_desc d = hd_main;
    d.poc_type = 1;
    d.non_ref_offset = -5;
    d.cycle = 255;
    assert_sps(&d, 1280, 720);
    d.cycle = 0;
    assert_sps(&d, 1280, 720);

    /* interlaced 1080: 34 map units of two macroblock rows, crop units of
     * 4 lines (2 in 4:2:0, doubled for fields) */
    d = fhd_high;
    d.interlaced = true;
    d.height_units_minus1 = 33;
    d.crop_b = 2;
    assert_sps(&d, 1920, 1080);

    /* crop on every side: 2 samples a unit across, 2 lines down */
    d = fhd_high;
    d.crop_l = 1;
    d.crop_r = 2;
    d.crop_t = 1;
    d.crop_b = 3;
    assert_sps(&d, 1914, 1080);

    /* 4:2:2 (High 4:2:2): 2 samples across, 1 line down */
    d = fhd_high;
    d.profile = 122;
    d.chroma_format_idc = 2;
    d.bit_depth_luma = d.bit_depth_chroma = 2;
    d.crop_l = 3;
    d.crop_b = 8;
    assert_sps(&d, 1914, 1080);

    /* 4:4:4 with all 12 scaling lists: units of 1 */
    d = fhd_high;
    d.profile = 244;
    d.chroma_format_idc = 3;
    d.scaling = true;
    d.crop_b = 8;
    d.crop_r = 5;
    assert_sps(&d, 1915, 1080);
    /* ... coded as separate planes: no chroma array, units of 1 */
    d.separate_planes = true;
    assert_sps(&d, 1915, 1080);
    /* ... and interlaced: units of 2 lines */
    d.interlaced = true;
    d.height_units_minus1 = 33;
    d.crop_b = 4;
    assert_sps(&d, 1915, 1080);

    /* 4:2:0 high with 8 scaling lists, the first delta at both ends of its range */
    d = fhd_high;
    d.scaling = true;
    d.delta_scale = -128;
    assert_sps(&d, 1920, 1080);
    d.delta_scale = 127;
    assert_sps(&d, 1920, 1080);

    /* monochrome (High, chroma_format_idc 0): units of 1, 2 lines interlaced */
    d = fhd_high;
    d.chroma_format_idc = 0;
    d.crop_b = 8;
    assert_sps(&d, 1920, 1080);
    d.interlaced = true;
    d.height_units_minus1 = 33;
    d.crop_b = 4;
    assert_sps(&d, 1920, 1080);

    /* every other profile of the list reads the high fields */
    static const uint8_t high[] = {110, 44, 83, 86, 118, 128, 138, 139, 134, 135};
    for (size_t i = 0; i < sizeof high; i++) {
        d = fhd_high;
        d.profile = high[i];
        d.bit_depth_luma = 6;
        d.bit_depth_chroma = 6;
        assert_sps(&d, 1920, 1080);
    }

    /* the smallest picture, and the largest side any level allows */
    d = vga_baseline;
    d.width_mbs_minus1 = 0;
    d.height_units_minus1 = 0;
    assert_sps(&d, 16, 16);
    d.crop = true;
    d.crop_r = 7;
    d.crop_b = 7;
    assert_sps(&d, 2, 2);
    d = vga_baseline;
    d.width_mbs_minus1 = 1054;
    d.height_units_minus1 = 1054;
    assert_sps(&d, 16880, 16880);
    d.interlaced = true;
    d.height_units_minus1 = 526;
    assert_sps(&d, 16880, 16864);

    /* every range at its top */
    d = fhd_high;
    d.id = 31;
    d.log2_max_frame_num = 12;
    d.log2_max_poc_lsb = 12;
    d.max_ref_frames = 16;
    assert_sps(&d, 1920, 1080);

    /* a NULL width or height is not asked for */
    sps_nal s;
    build_sps(&s, &fhd_high);
    unsigned w = 0;
    assert_true(lkh264_sps_size(s.b, s.len, &w, NULL));
    assert_int_equal(w, 1920);
    assert_true(lkh264_sps_size(s.b, s.len, NULL, NULL));
}

/* What a real encoder writes: the SPS of libopenh264 2.3.1's first IDR
 * (constrained baseline, pic_order_cnt_type 0, VUI) at each size, 1080,
 * 358 and 180 lines cropped from whole macroblocks. */
static void sps_from_openh264(void **state)
{
    static const struct {
        const char *hex;
        unsigned w, h;
    } known[] = {
        {"6742c01f8c8d402802dd00f08846a0", 1280, 720},
        {"6742c01e8c8d40501ed00f08846a", 640, 480},
        {"6742c0288c8d403c0113f2c03c2211a8", 1920, 1080},
        {"6742c01e8c8d405017f53403c2211a80", 638, 358},
        {"6742c0148c8d40a0cbcf00f08846a0", 320, 180},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        uint8_t nal[32];
        size_t n = strlen(known[i].hex) / 2;
        for (size_t k = 0; k < n; k++) {
            unsigned v;
            assert_int_equal(sscanf(known[i].hex + 2 * k, "%2x", &v), 1);
            nal[k] = (uint8_t)v;
        }
        unsigned w = 0, h = 0;
        assert_true(lkh264_sps_size(nal, n, &w, &h));
        assert_int_equal(w, known[i].w);
        assert_int_equal(h, known[i].h);
    }
}

static void sps_refused(void **state)
{
    sps_desc d = fhd_high;
    d.id = 32;
    assert_sps_refused(&d);
    d = fhd_high;
    d.chroma_format_idc = 4;
    assert_sps_refused(&d);
    d = fhd_high;
    d.bit_depth_luma = 7;
    assert_sps_refused(&d);
    d = fhd_high;
    d.bit_depth_chroma = 7;
    assert_sps_refused(&d);
    d = fhd_high;
    d.scaling = true;
    d.delta_scale = 128;
    assert_sps_refused(&d);
    d.delta_scale = -129;
    assert_sps_refused(&d);
    d = fhd_high;
    d.log2_max_frame_num = 13;
    assert_sps_refused(&d);
    d = fhd_high;
    d.poc_type = 3;
    assert_sps_refused(&d);
    d = fhd_high;
    d.log2_max_poc_lsb = 13;
    assert_sps_refused(&d);
    d = hd_main;
    d.poc_type = 1;
    d.cycle = 256;
    assert_sps_refused(&d);
    d = fhd_high;
    d.max_ref_frames = 17;
    assert_sps_refused(&d);

    /* a side over 1055 macroblocks, and the largest ue values */
    d = vga_baseline;
    d.width_mbs_minus1 = 1055;
    assert_sps_refused(&d);
    d = vga_baseline;
    d.height_units_minus1 = 1055;
    assert_sps_refused(&d);
    d.interlaced = true;
    d.height_units_minus1 = 527; /* 1056 rows */
    assert_sps_refused(&d);
    d = vga_baseline;
    d.width_mbs_minus1 = 0xfffffffe;
    assert_sps_refused(&d);

    /* cropping all of a side, or far past it (no overflow on the way) */
    d = fhd_high;
    d.crop_l = 480;
    d.crop_r = 480;
    assert_sps_refused(&d);
    d.crop_r = 479;
    assert_sps(&d, 2, 1080);
    d = fhd_high;
    d.crop_t = 544;
    d.crop_b = 0;
    assert_sps_refused(&d);
    d = fhd_high;
    d.crop_l = d.crop_r = d.crop_t = d.crop_b = 0xfffffffe;
    assert_sps_refused(&d);

    /* not an SPS, or nothing */
    sps_nal s;
    build_sps(&s, &fhd_high);
    unsigned w, h;
    s.b[0] = 0x68;
    assert_false(lkh264_sps_size(s.b, s.len, &w, &h));
    assert_false(lkh264_sps_size(NULL, 10, &w, &h));
    assert_false(lkh264_sps_size(s.b, 0, &w, &h));

    /* an ue of 32 leading zeros (more than any field holds) */
    static const uint8_t long_ue[] = {0x67, 0x42, 0x00, 0x1e, 0x00, 0x00, 0x03,
                                      0x00, 0x00, 0x03, 0x00, 0xff, 0xff};
    assert_false(lkh264_sps_size(long_ue, sizeof long_ue, &w, &h));
}

/* Every prefix of a parameter set, each in a heap block of exactly its
 * length: refused while a size field is cut, the same size from the first
 * prefix that holds them all. */
static void sps_cut_everywhere(void **state)
{
    sps_desc scaled = fhd_high;
    scaled.profile = 244;
    scaled.chroma_format_idc = 3;
    scaled.scaling = true;
    sps_desc poc1 = hd_main;
    poc1.poc_type = 1;
    poc1.cycle = 40;
    poc1.non_ref_offset = 1 << 30;
    const sps_desc *ds[] = {&vga_baseline, &hd_main, &fhd_high, &scaled, &poc1};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        sps_nal s;
        build_sps(&s, ds[i]);
        unsigned want_w, want_h;
        assert_true(lkh264_sps_size(s.b, s.len, &want_w, &want_h));
        for (size_t k = 0; k <= s.len; k++) {
            uint8_t *p = malloc(k ? k : 1);
            assert_non_null(p);
            memcpy(p, s.b, k);
            unsigned w = 0, h = 0;
            bool ok = lkh264_sps_size(k ? p : NULL, k, &w, &h);
            assert_int_equal(ok, k >= s.needed);
            if (ok) {
                assert_int_equal(w, want_w);
                assert_int_equal(h, want_h);
            }
            free(p);
        }
    }
}

/* An SPS whose RBSP has two zero bytes and then byte b, 0..3, where
 * emulation prevention puts a 03 before the size fields: found by trying
 * the long ue a large offset_for_non_ref_pic makes at every alignment. */
static bool sps_with_escape(uint8_t b, sps_desc *found)
{
    for (uint32_t frame_num = 0; frame_num < 8; frame_num++)
        for (unsigned shift = 20; shift < 30; shift++)
            for (int64_t low = 0; low < 64; low++) {
                sps_desc d = hd_main;
                d.poc_type = 1;
                d.cycle = 2;
                d.log2_max_frame_num = frame_num;
                d.non_ref_offset = ((int64_t)1 << shift) + low;
                bitwriter w;
                size_t size_bits;
                write_rbsp(&w, &d, &size_bits);
                for (size_t i = 2; i < size_bits / 8; i++)
                    if (w.b[i - 2] == 0 && w.b[i - 1] == 0 && w.b[i] == b) {
                        *found = d;
                        return true;
                    }
            }
    return false;
}

static void sps_emulation_prevention(void **state)
{
    for (uint8_t b = 0; b <= 3; b++) {
        sps_desc d;
        assert_true(sps_with_escape(b, &d));
        sps_nal s;
        build_sps(&s, &d);
        assert_true(s.eps >= 1);
        /* the 03 is there in the unit, followed by b */
        bool seen = false;
        for (size_t i = 3; i + 1 < s.needed; i++)
            seen |= s.b[i - 2] == 0 && s.b[i - 1] == 0 && s.b[i] == 3 && s.b[i + 1] == b;
        assert_true(seen);
        assert_sps(&d, 1280, 720);
        /* a reader that kept the 03 would read every later field 8 bits off */
    }

    /* By hand: baseline, then ue 0 (id), ue 0 (frame num), ue 2 (poc
     * type), ue 0 (refs), gaps 0, ue 0 (width), ue 0 (height),
     * frame_mbs_only 1, direct 1, crop 0: 1 1 011 1 0 1 | 1 1 1 0, a 16 x 16
     * picture. Constraint flags and level 0: two zero bytes, so the 03 after
     * them goes */
    static const uint8_t hand[] = {0x67, 0x42, 0x00, 0x00, 0x03, 0xdd, 0xe0};
    unsigned w = 0, h = 0;
    assert_true(lkh264_sps_size(hand, sizeof hand, &w, &h));
    assert_int_equal(w, 16);
    assert_int_equal(h, 16);
    /* the same without its 03 reads the same */
    static const uint8_t bare[] = {0x67, 0x42, 0x00, 0x00, 0xdd, 0xe0};
    w = h = 0;
    assert_true(lkh264_sps_size(bare, sizeof bare, &w, &h));
    assert_int_equal(w, 16);
    assert_int_equal(h, 16);
    /* the byte after a dropped 03 is kept, even a 03 (profile 0, flags 0,
     * level 3) */
    static const uint8_t twice[] = {0x67, 0x00, 0x00, 0x03, 0x03, 0xdd, 0xe0};
    w = h = 0;
    assert_true(lkh264_sps_size(twice, sizeof twice, &w, &h));
    assert_int_equal(w, 16);
    assert_int_equal(h, 16);
    /* a 03 after one zero byte is data (level 3) */
    static const uint8_t one_zero[] = {0x67, 0x42, 0x00, 0x03, 0xdd, 0xe0};
    w = h = 0;
    assert_true(lkh264_sps_size(one_zero, sizeof one_zero, &w, &h));
    assert_int_equal(w, 16);
    assert_int_equal(h, 16);
    /* a 03 cut off at the end, with nothing after it: refused */
    assert_false(lkh264_sps_size(hand, 5, &w, &h));
}

/* --- access units ----------------------------------------------------------------------- */

/* What libwebrtc sends for a keyframe: SPS and PPS in a STAP-A, the IDR
 * slice in FU-As of at most 1000 bytes; then the next frame, one slice
 * in a single NAL unit packet. Appended in order, each access unit is the
 * Annex B stream of its NAL units, byte for byte. */
static void access_unit(void **state)
{
    sps_nal sps;
    build_sps(&sps, &fhd_high);
    static const uint8_t pps[] = {0x68, 0xee, 0x3c, 0x80};
    static uint8_t idr[3100];
    idr[0] = 0x65;
    for (size_t i = 1; i < sizeof idr; i++)
        idr[i] = (uint8_t)(i * 7 + 13) % 255 + 1; /* no zero: no start code inside */
    static const uint8_t slice[] = {0x41, 0x9a, 0x02, 0x04, 0x00, 0x10};

    static uint8_t want[4096], au[4096], pkt[1100];
    size_t want_len = 0;
    memcpy(want + want_len, sc, 4);
    memcpy(want + want_len + 4, sps.b, sps.len);
    want_len += 4 + sps.len;
    memcpy(want + want_len, sc, 4);
    memcpy(want + want_len + 4, pps, sizeof pps);
    want_len += 4 + sizeof pps;
    memcpy(want + want_len, sc, 4);
    memcpy(want + want_len + 4, idr, sizeof idr);
    want_len += 4 + sizeof idr;

    size_t at = 0;
    uint32_t types = 0;
    lkh264_info info;
    /* the STAP-A */
    size_t n = 0;
    pkt[n++] = 0x78;
    pkt[n++] = (uint8_t)(sps.len >> 8);
    pkt[n++] = (uint8_t)sps.len;
    memcpy(pkt + n, sps.b, sps.len);
    n += sps.len;
    pkt[n++] = 0;
    pkt[n++] = sizeof pps;
    memcpy(pkt + n, pps, sizeof pps);
    n += sizeof pps;
    int r = lkh264_depacketize(pkt, n, au + at, sizeof au - at, &info);
    assert_true(r > 0);
    at += (size_t)r;
    types |= info.nal_types;
    /* the FU-As: the IDR's header gives the indicator's F and NRI and the
     * FU header's type, and is not sent itself */
    unsigned frags = 0;
    for (size_t off = 1; off < sizeof idr; frags++) {
        size_t part = sizeof idr - off < 1000 ? sizeof idr - off : 1000;
        pkt[0] = (uint8_t)((idr[0] & 0xe0) | LKH264_FU_A);
        pkt[1] = (uint8_t)((off == 1 ? 0x80 : 0) | (off + part == sizeof idr ? 0x40 : 0) |
                           (idr[0] & 0x1f));
        memcpy(pkt + 2, idr + off, part);
        r = lkh264_depacketize(pkt, 2 + part, au + at, sizeof au - at, &info);
        assert_int_equal(r, (int)(part + (off == 1 ? 5 : 0)));
        assert_int_equal(info.begins, off == 1);
        assert_int_equal(info.ends, off + part == sizeof idr);
        at += (size_t)r;
        types |= info.nal_types;
        off += part;
    }
    assert_int_equal(frags, 4);
    assert_int_equal(at, want_len);
    assert_memory_equal(au, want, want_len);
    assert_int_equal(types, 1u << LKH264_NAL_SPS | 1u << LKH264_NAL_PPS | 1u << LKH264_NAL_IDR);

    /* the receiver's check before decoding */
    unsigned w = 0, h = 0;
    assert_true(lkh264_au_size(au, at, &w, &h));
    assert_int_equal(w, 1920);
    assert_int_equal(h, 1080);
    /* and the units split back as they were */
    size_t pos = 0, len;
    const uint8_t *nal;
    assert_true(lkh264_next_nal(au, at, &pos, &nal, &len));
    assert_ptr_equal(nal, au + 4);
    assert_int_equal(len, sps.len);
    assert_true(lkh264_next_nal(au, at, &pos, &nal, &len));
    assert_int_equal(len, sizeof pps);
    assert_memory_equal(nal, pps, sizeof pps);
    assert_true(lkh264_next_nal(au, at, &pos, &nal, &len));
    assert_int_equal(len, sizeof idr);
    assert_memory_equal(nal, idr, sizeof idr);
    assert_false(lkh264_next_nal(au, at, &pos, &nal, &len));

    /* the next frame */
    r = lkh264_depacketize(slice, sizeof slice, au, sizeof au, &info);
    assert_int_equal(r, 4 + (int)sizeof slice);
    assert_memory_equal(au, sc, 4);
    assert_memory_equal(au + 4, slice, sizeof slice);
    assert_int_equal(info.nal_types, 1u << LKH264_NAL_SLICE);
    assert_false(lkh264_au_size(au, (size_t)r, &w, &h));
}

static void annex_b_split(void **state)
{
    /* garbage before the first start code, 3- and 4-byte start codes, an
     * empty unit, trailing zeros before a start code and at the end */
    static const uint8_t s[] = {0xff, 0x00, 0x00, 0x00, 0x01, 0x09, 0xf0, 0x00, 0x00, 0x01,
                                0x00, 0x00, 0x01, 0x06, 0x05, 0x00, 0x00, 0x00, 0x00, 0x01,
                                0x41, 0x00, 0x00};
    size_t pos = 0, len;
    const uint8_t *nal;
    assert_true(lkh264_next_nal(s, sizeof s, &pos, &nal, &len));
    assert_ptr_equal(nal, s + 5);
    assert_int_equal(len, 2);
    assert_true(lkh264_next_nal(s, sizeof s, &pos, &nal, &len));
    assert_ptr_equal(nal, s + 13);
    assert_int_equal(len, 2);
    assert_true(lkh264_next_nal(s, sizeof s, &pos, &nal, &len));
    assert_ptr_equal(nal, s + 20);
    assert_int_equal(len, 1);
    assert_false(lkh264_next_nal(s, sizeof s, &pos, &nal, &len));
    assert_false(lkh264_next_nal(s, sizeof s, &pos, &nal, &len));

    /* no start code, too short for one, nothing */
    static const uint8_t none[] = {0x00, 0x00, 0x02, 0x67, 0x00, 0x01};
    pos = 0;
    assert_false(lkh264_next_nal(none, sizeof none, &pos, &nal, &len));
    pos = 0;
    assert_false(lkh264_next_nal(none, 2, &pos, &nal, &len));
    pos = 0;
    assert_false(lkh264_next_nal(NULL, 0, &pos, &nal, &len));
    /* a start code that ends the stream */
    static const uint8_t tail[] = {0x00, 0x00, 0x01};
    pos = 0;
    assert_false(lkh264_next_nal(tail, sizeof tail, &pos, &nal, &len));
}

static void access_unit_sizes(void **state)
{
    /* two SPSs: the largest of each side, whatever their order */
    sps_desc tall = vga_baseline;
    tall.width_mbs_minus1 = 9;
    tall.height_units_minus1 = 99;
    sps_nal a, b;
    build_sps(&a, &hd_main);
    build_sps(&b, &tall);
    static uint8_t au[8192];
    size_t n = 0;
    memcpy(au + n, sc, 4);
    memcpy(au + n + 4, a.b, a.len);
    n += 4 + a.len;
    memcpy(au + n, sc + 1, 3); /* a 3-byte start code */
    memcpy(au + n + 3, b.b, b.len);
    n += 3 + b.len;
    unsigned w = 0, h = 0;
    assert_true(lkh264_au_size(au, n, &w, &h));
    assert_int_equal(w, 1280);
    assert_int_equal(h, 1600);

    /* a malformed SPS among good ones refuses the whole */
    sps_desc bad = vga_baseline;
    bad.width_mbs_minus1 = 5000;
    build_sps(&b, &bad);
    memcpy(au + n, sc, 4);
    memcpy(au + n + 4, b.b, b.len);
    assert_false(lkh264_au_size(au, n + 4 + b.len, &w, &h));
    /* a cut one too */
    build_sps(&b, &hd_main);
    memcpy(au + n, sc, 4);
    memcpy(au + n + 4, b.b, b.needed - 1);
    assert_false(lkh264_au_size(au, n + 4 + b.needed - 1, &w, &h));
    /* no SPS at all */
    static const uint8_t p[] = {0, 0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x68, 0xce};
    assert_false(lkh264_au_size(p, sizeof p, &w, &h));
    assert_false(lkh264_au_size(NULL, 0, &w, &h));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(single_nal_units),
        cmocka_unit_test(stap_a),
        cmocka_unit_test(stap_a_refused),
        cmocka_unit_test(fu_a),
        cmocka_unit_test(fu_a_refused),
        cmocka_unit_test(unsupported_and_empty),
        cmocka_unit_test(no_space),
        cmocka_unit_test(sps_sizes),
        cmocka_unit_test(sps_from_openh264),
        cmocka_unit_test(sps_refused),
        cmocka_unit_test(sps_cut_everywhere),
        cmocka_unit_test(sps_emulation_prevention),
        cmocka_unit_test(access_unit),
        cmocka_unit_test(annex_b_split),
        cmocka_unit_test(access_unit_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
