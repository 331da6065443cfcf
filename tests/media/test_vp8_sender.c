/* The VP8 sender as a receiver sees it: a moving pattern sent through it,
 * reassembled from the packets and decoded with libvpx, comes back within
 * 30 dB PSNR of the source at about the bitrate asked for; every packet
 * fits max_packet and reads as RTP and RFC 7741 as promised (sequence,
 * one timestamp per frame on the capture clock, the marker, picture ids,
 * the first frame a keyframe of the configured size); a keyframe comes
 * when asked; input above max_framerate is thinned to it and input at it
 * is not; NACKs are answered with the bytes sent while they are in the
 * history; a picture of another size is scaled; the mid and rid
 * extensions are in every packet; the sender report counts what was
 * sent; bad input is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libyuv/scale.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

#include "rtp.h"
#include "vp8.h"
#include "vp8_sender.h"

enum {
    PT = 96,
    SSRC = 0x5eed1234,
    FIRST_SEQ = 65500, /* wraps within the run */
    FIRST_PICTURE_ID = 32760, /* wraps too */
    W = 640,
    H = 480,
    MAX_W = 1280,
    MAX_H = 720,
    MAX_FRAME_PKTS = 256,
    MAX_FRAME_BYTES = 256 * 1024,
};
static const uint32_t TS_BASE = 0xffff0000u; /* wraps after 8 frames */
static const uint64_t T0 = 5000000000ull;    /* the capture clock at the first picture */
static const uint64_t FRAME_NS = 1000000000ull / 30;

/* --- the source: a moving pattern ------------------------------------------------ */

static uint8_t src_y[MAX_W * MAX_H], src_u[MAX_W * MAX_H / 4], src_v[MAX_W * MAX_H / 4];

static uint8_t clamp8(double v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
}

/* Frame t of a w x h picture: smooth waves drifting a few pixels a frame
 * and a textured square crossing them, enough motion and detail that the
 * coder has work at every frame. */
static lkvp8_image make_picture(unsigned w, unsigned h, unsigned t)
{
    static double col[MAX_W], row[MAX_H];
    for (unsigned x = 0; x < w; x++)
        col[x] = sin(2 * M_PI * ((double)x - 4.0 * t) / 97.0);
    for (unsigned y = 0; y < h; y++)
        row[y] = cos(2 * M_PI * ((double)y + 2.0 * t) / 61.0);
    unsigned bx = (5 * t) % (w - 64), by = (3 * t) % (h - 64);
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++) {
            double v = 128 + 60 * col[x] * row[y] + 0.05 * (x + y);
            if (x - bx < 64 && y - by < 64)
                v = ((x - bx) / 8 + (y - by) / 8) % 2 ? 220 : 40;
            src_y[y * w + x] = clamp8(v);
        }
    unsigned cw = w / 2, ch = h / 2;
    for (unsigned y = 0; y < ch; y++)
        for (unsigned x = 0; x < cw; x++) {
            src_u[y * cw + x] = clamp8(128 + 40 * row[2 * y]);
            src_v[y * cw + x] = clamp8(128 + 40 * col[2 * x]);
        }
    return (lkvp8_image){w, h, src_y, src_u, src_v, w, cw, cw};
}

/* --- taking a frame's packets ----------------------------------------------------- */

typedef struct pkt {
    uint8_t data[LKVP8_MAX_PACKET];
    int len;
    lkrtp_packet p;
    lkvp8_descriptor d;
    int dlen;
} pkt;

/* The packets of the last push, each parsed, and their VP8 data joined. */
typedef struct frame {
    pkt pkts[MAX_FRAME_PKTS];
    int n;
    uint8_t data[MAX_FRAME_BYTES];
    size_t len;
    bool key;
} frame;

static frame fr;

static lkvp8_sender_config config(unsigned w, unsigned h, uint32_t bitrate)
{
    return (lkvp8_sender_config){
        .ssrc = SSRC,
        .payload_type = PT,
        .width = w,
        .height = h,
        .max_bitrate = bitrate,
        .fixed_start = true,
        .ts_base = TS_BASE,
        .first_seq = FIRST_SEQ,
        .first_picture_id = FIRST_PICTURE_ID,
    };
}

static lkvp8_sender *new_sender(const lkvp8_sender_config *cfg)
{
    char err[128] = "";
    lkvp8_sender *s = lkvp8_sender_new(cfg, err, sizeof err);
    if (!s)
        fail_msg("lkvp8_sender_new: %s", err);
    return s;
}

/* Takes n packets (the push's count), each checked on its own and against
 * its frame: within max_packet, our SSRC and PT, one timestamp, the
 * marker and S where they belong, one long picture id. */
static void take_packets(lkvp8_sender *s, int n, size_t max_packet)
{
    assert_true(n > 0 && n <= MAX_FRAME_PKTS);
    fr.n = n;
    fr.len = 0;
    for (int i = 0; i < n; i++) {
        pkt *k = &fr.pkts[i];
        k->len = lkvp8_sender_next_packet(s, k->data, sizeof k->data);
        assert_true(k->len > 0 && (size_t)k->len <= max_packet);
        assert_int_equal(lkrtp_parse(&k->p, k->data, (size_t)k->len), 0);
        assert_int_equal(k->p.h.ssrc, SSRC);
        assert_int_equal(k->p.h.payload_type, PT);
        assert_int_equal(k->p.h.marker, i == n - 1);
        assert_int_equal(k->p.h.timestamp, fr.pkts[0].p.h.timestamp);
        k->dlen = lkvp8_parse_descriptor(&k->d, k->p.payload, k->p.payload_len);
        assert_true(k->dlen > 0);
        assert_true(k->d.has_picture_id && k->d.long_picture_id);
        assert_int_equal(k->d.picture_id, fr.pkts[0].d.picture_id);
        assert_int_equal(k->d.start, i == 0);
        size_t part = k->p.payload_len - (size_t)k->dlen;
        assert_true(fr.len + part <= sizeof fr.data);
        memcpy(fr.data + fr.len, k->p.payload + k->dlen, part);
        fr.len += part;
    }
    uint8_t extra[LKVP8_MAX_PACKET];
    assert_int_equal(lkvp8_sender_next_packet(s, extra, sizeof extra), 0);
    const pkt *first = &fr.pkts[0];
    fr.key = lkvp8_is_keyframe(&first->d, first->p.payload + first->dlen,
                               first->p.payload_len - (size_t)first->dlen);
}

/* Pushes a picture and takes its packets: how many (0: dropped). */
static int push(lkvp8_sender *s, const lkvp8_image *img, uint64_t capture_ns, size_t max_packet)
{
    int n = lkvp8_sender_push(s, img, capture_ns);
    assert_true(n >= 0);
    if (n)
        take_packets(s, n, max_packet);
    return n;
}

/* --- decoding --------------------------------------------------------------------- */

static vpx_codec_ctx_t *new_decoder(void)
{
    static vpx_codec_ctx_t dec;
    vpx_codec_dec_cfg_t dc = {.threads = 1};
    assert_int_equal(vpx_codec_dec_init(&dec, vpx_codec_vp8_dx(), &dc, 0), VPX_CODEC_OK);
    return &dec;
}

/* The joined frame decoded: the picture. */
static vpx_image_t *decode(vpx_codec_ctx_t *dec)
{
    assert_int_equal(vpx_codec_decode(dec, fr.data, (unsigned)fr.len, NULL, 0), VPX_CODEC_OK);
    vpx_codec_iter_t it = NULL;
    vpx_image_t *img = vpx_codec_get_frame(dec, &it);
    assert_non_null(img);
    return img;
}

static double plane_mse(const uint8_t *a, unsigned sa, const uint8_t *b, unsigned sb, unsigned w,
                        unsigned h)
{
    double sum = 0;
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++) {
            double d = (double)a[y * sa + x] - b[y * sb + x];
            sum += d * d;
        }
    return sum / ((double)w * h);
}

/* PSNR over all three planes (weighted by their samples), as libvpx's
 * tools report it. */
static double psnr(const vpx_image_t *d, const uint8_t *y, const uint8_t *u, const uint8_t *v,
                   unsigned w, unsigned h)
{
    assert_int_equal(d->d_w, w);
    assert_int_equal(d->d_h, h);
    unsigned cw = w / 2, ch = h / 2;
    double se = plane_mse(d->planes[0], (unsigned)d->stride[0], y, w, w, h) * w * h +
                plane_mse(d->planes[1], (unsigned)d->stride[1], u, cw, cw, ch) * cw * ch +
                plane_mse(d->planes[2], (unsigned)d->stride[2], v, cw, cw, ch) * cw * ch;
    double mse = se / ((double)w * h + 2.0 * cw * ch);
    return mse == 0 ? 99 : 10 * log10(255.0 * 255.0 / mse);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* --- tests ------------------------------------------------------------------------ */

/* 3 s of 640x480 at 30 fps and 500 kbit/s, every frame decoded. */
static void stream_decodes(void **state)
{
    (void)state;
    const unsigned frames = 90;
    const uint32_t bitrate = 500000;
    lkvp8_sender_config cfg = config(W, H, bitrate);
    lkvp8_sender *s = new_sender(&cfg);
    vpx_codec_ctx_t *dec = new_decoder();
    uint16_t seq = FIRST_SEQ, picture_id = FIRST_PICTURE_ID;
    double psnr_sum = 0, psnr_min = 99, encode_ms = 0;
    for (unsigned t = 0; t < frames; t++) {
        lkvp8_image img = make_picture(W, H, t);
        double t0 = now_ms();
        int n = push(s, &img, T0 + t * FRAME_NS, LKVP8_MAX_PACKET);
        encode_ms += now_ms() - t0;
        assert_true(n > 0); /* nothing dropped at the cap's own rate */
        for (int i = 0; i < n; i++)
            assert_int_equal(fr.pkts[i].p.h.seq, seq++);
        assert_int_equal(fr.pkts[0].p.h.timestamp, TS_BASE + 15000 * 30 + 3000 * t);
        assert_int_equal(fr.pkts[0].d.picture_id, picture_id);
        picture_id = (picture_id + 1) % 32768;
        assert_int_equal(fr.key, t == 0);
        if (t == 0) {
            unsigned kw = 0, kh = 0;
            assert_true(lkvp8_keyframe_size(fr.data, fr.len, &kw, &kh));
            assert_int_equal(kw, W);
            assert_int_equal(kh, H);
        }
        double q = psnr(decode(dec), src_y, src_u, src_v, W, H);
        psnr_sum += q;
        psnr_min = q < psnr_min ? q : psnr_min;
    }
    lkvp8_sender_stats st;
    lkvp8_sender_get_stats(s, &st);
    double kbps = st.bytes_sent * 8.0 / (frames / 30.0) / 1000;
    printf("# 640x480: %.0f kbit/s (cap 500), PSNR mean %.1f dB min %.1f, "
           "%.2f ms a frame, %llu packets\n",
           kbps, psnr_sum / frames, psnr_min, encode_ms / frames,
           (unsigned long long)st.packets_sent);
    assert_true(kbps >= 350 && kbps <= 650);
    assert_true(psnr_sum / frames >= 30);
    assert_int_equal(st.frames_in, frames);
    assert_int_equal(st.frames_encoded, frames);
    assert_int_equal(st.frames_dropped, 0);
    assert_int_equal(st.keyframes, 1);
    vpx_codec_destroy(dec);
    lkvp8_sender_free(s);
}

static void keyframe_on_request(void **state)
{
    (void)state;
    lkvp8_sender_config cfg = config(320, 240, 300000);
    lkvp8_sender *s = new_sender(&cfg);
    for (unsigned t = 0; t < 12; t++) {
        if (t == 6)
            lkvp8_sender_request_keyframe(s);
        lkvp8_image img = make_picture(320, 240, t);
        assert_true(push(s, &img, T0 + t * FRAME_NS, LKVP8_MAX_PACKET) > 0);
        assert_int_equal(fr.key, t == 0 || t == 6);
    }
    lkvp8_sender_stats st;
    lkvp8_sender_get_stats(s, &st);
    assert_int_equal(st.keyframes, 2);
    lkvp8_sender_free(s);
}

/* Pushes `frames` pictures `step_ns` apart, each off by a jitter of up to
 * jitter_ns either way, the first the latest (so the others come early
 * against a schedule from it): how many were coded. */
static unsigned count_coded(lkvp8_sender *s, unsigned frames, uint64_t step_ns, uint64_t jitter_ns)
{
    unsigned coded = 0;
    lkvp8_image img = make_picture(160, 120, 0);
    for (unsigned t = 0; t < frames; t++) {
        uint64_t j = t ? (t * 7919u) % (2 * jitter_ns + 1) : 2 * jitter_ns;
        coded += push(s, &img, T0 + t * step_ns + j, LKVP8_MAX_PACKET) > 0;
    }
    return coded;
}

static void framerate_cap(void **state)
{
    (void)state;
    lkvp8_sender_config cfg = config(160, 120, 100000);
    cfg.max_framerate = 30;
    lkvp8_sender *s = new_sender(&cfg);
    unsigned coded = count_coded(s, 120, 1000000000ull / 60, 0); /* 2 s at 60 fps */
    assert_true(coded >= 58 && coded <= 62);
    lkvp8_sender_stats st;
    lkvp8_sender_get_stats(s, &st);
    assert_int_equal(st.frames_dropped, 120 - coded);
    lkvp8_sender_free(s);
    /* at the cap, with 3 ms of capture jitter either way, all pass */
    s = new_sender(&cfg);
    assert_int_equal(count_coded(s, 60, FRAME_NS, 3000000), 60);
    lkvp8_sender_free(s);
}

/* With 200-byte packets at a high rate the history turns over within a
 * second: a recent packet comes back as sent, an old one no longer. */
/* Pushes a picture and takes its packets without looking at them: the
 * coded frame's bytes (0: dropped). */
static size_t push_bytes(lkvp8_sender *s, unsigned t, uint64_t capture_ns)
{
    lkvp8_image img = make_picture(W, H, t);
    int n = lkvp8_sender_push(s, &img, capture_ns);
    assert_true(n >= 0);
    size_t bytes = 0;
    uint8_t b[LKVP8_MAX_PACKET];
    int len;
    while ((len = lkvp8_sender_next_packet(s, b, sizeof b)) > 0)
        bytes += (size_t)len;
    assert_int_equal(len, 0);
    return bytes;
}

/* A pause (a paused layer, a muted track, a stalled source) must not hand
 * the frame after it the pause's bits: the keyframe asked for after 4 s
 * of nothing stays near one asked for in the flow (6.1 and 9.5 KB at 500
 * kbit/s; when libvpx was given the gap as the frame's duration, 24.8 KB). */
static void a_pause_does_not_inflate_the_next_frame(void **state)
{
    (void)state;
    lkvp8_sender_config cfg = config(W, H, 500000);
    lkvp8_sender *s = new_sender(&cfg);
    size_t in_flow = 0;
    unsigned t = 0;
    for (; t < 60; t++) {
        if (t == 45)
            lkvp8_sender_request_keyframe(s);
        size_t n = push_bytes(s, t, T0 + t * FRAME_NS);
        if (t == 45)
            in_flow = n;
    }
    lkvp8_sender_request_keyframe(s);
    size_t after_pause = push_bytes(s, t, T0 + t * FRAME_NS + 4000000000ull);
    printf("# keyframe in the flow %zu bytes, after a 4 s pause %zu\n", in_flow, after_pause);
    assert_true(in_flow > 0 && after_pause > 0);
    assert_true(after_pause <= 3 * in_flow);
    lkvp8_sender_free(s);
}

static void resend_from_history(void **state)
{
    (void)state;
    static uint8_t first[LKVP8_MAX_PACKET];
    lkvp8_sender_config cfg = config(W, H, 2000000);
    cfg.max_packet = LKVP8_MIN_PACKET;
    lkvp8_sender *s = new_sender(&cfg);
    int first_len = 0;
    lkvp8_sender_stats st = {0};
    uint64_t last_ns = T0;
    for (unsigned t = 0; st.packets_sent <= LKVP8_HISTORY + 10; t++) {
        lkvp8_image img = make_picture(W, H, t);
        last_ns = T0 + t * FRAME_NS;
        assert_true(push(s, &img, last_ns, LKVP8_MIN_PACKET) > 0);
        if (t == 0) {
            first_len = fr.pkts[0].len;
            memcpy(first, fr.pkts[0].data, (size_t)first_len);
            uint8_t again[LKVP8_MAX_PACKET];
            assert_int_equal(lkvp8_sender_resend(s, FIRST_SEQ, T0, again, sizeof again), first_len);
            assert_memory_equal(again, first, (size_t)first_len);
        }
        lkvp8_sender_get_stats(s, &st);
    }
    const pkt *recent = &fr.pkts[fr.n - 1];
    uint8_t out[LKVP8_MAX_PACKET];
    uint16_t seq = recent->p.h.seq;
    assert_int_equal(lkvp8_sender_resend(s, seq, last_ns, out, 10), LKVP8S_E_NOSPACE);
    assert_int_equal(lkvp8_sender_resend(s, seq, last_ns, out, sizeof out), recent->len);
    assert_memory_equal(out, recent->data, (size_t)recent->len);
    /* a NACK repeated while the resend travels is not answered twice */
    uint64_t soon = last_ns + LKVP8_RESEND_GAP_NS / 2, old = last_ns + LKVP8_RESEND_MAX_AGE_NS + 1;
    assert_int_equal(lkvp8_sender_resend(s, seq, soon, out, sizeof out), 0);
    assert_int_equal(lkvp8_sender_resend(s, seq, last_ns + LKVP8_RESEND_GAP_NS, out, sizeof out),
                     recent->len);
    /* still in the history, but its picture is over a second old */
    assert_int_equal(lkvp8_sender_resend(s, seq, old, out, sizeof out), 0);
    assert_int_equal(lkvp8_sender_resend(s, FIRST_SEQ, last_ns, out, sizeof out), 0);
    assert_int_equal(lkvp8_sender_resend(s, (uint16_t)(seq + 1), last_ns, out, sizeof out), 0);
    lkvp8_sender_get_stats(s, &st);
    assert_int_equal(st.packets_resent, 3);
    assert_int_equal(st.nacks_repeated, 1);
    assert_int_equal(st.nacks_missed, 3);
    lkvp8_sender_free(s);
}

/* 1280x720 into a 640x480 sender: coded at 640x480, and decoded it is
 * the source as libyuv scales it. */
static void other_size_scaled(void **state)
{
    (void)state;
    static uint8_t y[W * H], u[W * H / 4], v[W * H / 4];
    lkvp8_sender_config cfg = config(W, H, 1000000);
    lkvp8_sender *s = new_sender(&cfg);
    vpx_codec_ctx_t *dec = new_decoder();
    for (unsigned t = 0; t < 5; t++) {
        lkvp8_image img = make_picture(MAX_W, MAX_H, t);
        assert_true(push(s, &img, T0 + t * FRAME_NS, LKVP8_MAX_PACKET) > 0);
        if (t == 0) {
            unsigned kw = 0, kh = 0;
            assert_true(lkvp8_keyframe_size(fr.data, fr.len, &kw, &kh));
            assert_int_equal(kw, W);
            assert_int_equal(kh, H);
        }
        I420Scale(img.y, MAX_W, img.u, MAX_W / 2, img.v, MAX_W / 2, MAX_W, MAX_H, y, W, u, W / 2,
                  v, W / 2, W, H, kFilterBox);
        double q = psnr(decode(dec), y, u, v, W, H);
        assert_true(q >= 30);
    }
    /* and back to the coded size, straight through */
    lkvp8_image img = make_picture(W, H, 5);
    assert_true(push(s, &img, T0 + 5 * FRAME_NS, LKVP8_MAX_PACKET) > 0);
    assert_true(psnr(decode(dec), src_y, src_u, src_v, W, H) >= 30);
    vpx_codec_destroy(dec);
    lkvp8_sender_free(s);
}

static void mid_and_rid(void **state)
{
    (void)state;
    lkvp8_sender_config cfg = config(320, 240, 300000);
    cfg.ext_mid_id = 4;
    cfg.mid = "1";
    cfg.ext_rid_id = 10;
    cfg.rid = "q";
    cfg.ext_twcc_id = 5;
    cfg.max_packet = 300;
    lkvp8_sender *s = new_sender(&cfg);
    for (unsigned t = 0; t < 3; t++) {
        lkvp8_image img = make_picture(320, 240, t);
        assert_true(push(s, &img, T0 + t * FRAME_NS, 300) > 0);
        for (int i = 0; i < fr.n; i++) {
            size_t len = 0;
            const uint8_t *mid = lkrtp_ext_find(&fr.pkts[i].p, 4, &len);
            assert_non_null(mid);
            assert_int_equal(len, 1);
            assert_memory_equal(mid, "1", 1);
            const uint8_t *rid = lkrtp_ext_find(&fr.pkts[i].p, 10, &len);
            assert_non_null(rid);
            assert_int_equal(len, 1);
            assert_memory_equal(rid, "q", 1);
            uint16_t tseq = 1;
            assert_true(lkrtp_ext_transport_seq(&fr.pkts[i].p, 5, &tseq));
            assert_int_equal(tseq, 0); /* room only: stamped as it leaves */
            assert_true(fr.pkts[i].len > 0 && fr.pkts[i].len <= 300);
        }
    }
    lkvp8_sender_free(s);
}

static void sender_report(void **state)
{
    (void)state;
    lkvp8_sender_config cfg = config(160, 120, 100000);
    lkvp8_sender *s = new_sender(&cfg);
    uint8_t buf[LKVP8_MAX_SR];
    const uint64_t ntp = 0xe0000000ull << 32 | 0x80000000u;
    assert_int_equal(lkvp8_sender_write_sr(s, T0, ntp, buf, sizeof buf, "cname"), 0);
    lkvp8_image img = make_picture(160, 120, 0);
    for (unsigned t = 0; t < 3; t++)
        push(s, &img, T0 + t * FRAME_NS, LKVP8_MAX_PACKET);
    /* 100 ms after the last frame: 9000 ticks on from its timestamp */
    uint64_t now = T0 + 2 * FRAME_NS + 100000000;
    int n = lkvp8_sender_write_sr(s, now, ntp, buf, sizeof buf, "cname");
    assert_true(n > 0);
    lkrtcp_iter it;
    lkrtcp_packet p;
    lkrtcp_iter_init(&it, buf, (size_t)n);
    assert_int_equal(lkrtcp_next(&it, &p), 1);
    lkrtcp_sr sr;
    assert_int_equal(lkrtcp_parse_sr(&p, &sr), 0);
    lkvp8_sender_stats st;
    lkvp8_sender_get_stats(s, &st);
    assert_int_equal(sr.ssrc, SSRC);
    assert_true(sr.ntp == ntp);
    assert_int_equal(sr.rtp_timestamp, fr.pkts[0].p.h.timestamp + 9000);
    assert_int_equal(sr.packets, st.packets_sent);
    assert_int_equal(sr.octets, st.bytes_sent);
    assert_int_equal(lkrtcp_next(&it, &p), 1);
    assert_int_equal(p.type, LKRTCP_SDES);
    assert_int_equal(lkrtcp_next(&it, &p), 0);
    assert_int_equal(lkvp8_sender_write_sr(s, now, ntp, buf, 20, "cname"), LKVP8S_E_NOSPACE);
    lkvp8_sender_free(s);
}

/* A capture time going back does not send time back. */
static void timestamps_only_forward(void **state)
{
    (void)state;
    lkvp8_sender_config cfg = config(160, 120, 100000);
    cfg.max_framerate = 240;
    lkvp8_sender *s = new_sender(&cfg);
    lkvp8_image img = make_picture(160, 120, 0);
    assert_true(push(s, &img, T0, LKVP8_MAX_PACKET) > 0);
    uint32_t ts0 = fr.pkts[0].p.h.timestamp;
    assert_true(push(s, &img, T0 - 50000000, LKVP8_MAX_PACKET) > 0);
    assert_int_equal(fr.pkts[0].p.h.timestamp, ts0 + 1);
    lkvp8_sender_free(s);
}

static void bad_input(void **state)
{
    (void)state;
    char err[128];
    lkvp8_sender_config good = config(160, 120, 0), c;
    assert_null(lkvp8_sender_new(NULL, err, sizeof err));
    c = good, c.payload_type = 95;
    assert_null(lkvp8_sender_new(&c, err, sizeof err));
    c = good, c.width = 161;
    assert_null(lkvp8_sender_new(&c, err, sizeof err));
    c = good, c.max_packet = 100;
    assert_null(lkvp8_sender_new(&c, err, sizeof err));
    c = good, c.max_framerate = NAN;
    assert_null(lkvp8_sender_new(&c, err, sizeof err));
    c = good, c.ext_mid_id = 3, c.mid = NULL;
    assert_null(lkvp8_sender_new(&c, err, sizeof err));
    c = good, c.ext_rid_id = 15, c.rid = "f";
    assert_null(lkvp8_sender_new(&c, err, sizeof err));
    c = good, c.ext_twcc_id = 15;
    assert_null(lkvp8_sender_new(&c, err, sizeof err));
    c = good, c.ext_twcc_id = 3, c.ext_mid_id = 3, c.mid = "0";
    assert_null(lkvp8_sender_new(&c, err, sizeof err));
    c = good, c.first_picture_id = 32768;
    assert_null(lkvp8_sender_new(&c, err, sizeof err));
    assert_true(strlen(err) > 0);

    lkvp8_sender *s = new_sender(&good);
    lkvp8_image img = make_picture(160, 120, 0), bad = img;
    bad.stride_y = 100;
    assert_int_equal(lkvp8_sender_push(s, &bad, T0), LKVP8S_E_INVALID);
    bad = img, bad.u = NULL;
    assert_int_equal(lkvp8_sender_push(s, &bad, T0), LKVP8S_E_INVALID);
    assert_int_equal(lkvp8_sender_push(s, NULL, T0), LKVP8S_E_INVALID);
    uint8_t out[LKVP8_MAX_PACKET];
    assert_int_equal(lkvp8_sender_next_packet(s, out, sizeof out), 0);
    assert_true(lkvp8_sender_push(s, &img, T0) > 0);
    assert_int_equal(lkvp8_sender_next_packet(s, out, 500), LKVP8S_E_NOSPACE);
    lkvp8_sender_free(s);
    lkvp8_sender_free(NULL);
}

/* After the first pictures (the scaling buffer, libvpx's first frame),
 * frames of either size, a keyframe and a bitrate change allocate
 * nothing. */
static void nothing_allocated_per_frame(void **state)
{
    (void)state;
    lkvp8_sender_config cfg = config(320, 240, 300000);
    lkvp8_sender *s = new_sender(&cfg);
    lkvp8_image small = make_picture(320, 240, 0);
    for (unsigned t = 0; t < 2; t++)
        push(s, &small, T0 + t * FRAME_NS, LKVP8_MAX_PACKET);
    /* the two share the source buffers: the small one reads part of it */
    lkvp8_image big = make_picture(640, 480, 0);
    push(s, &big, T0 + 2 * FRAME_NS, LKVP8_MAX_PACKET);
    struct mallinfo2 before = mallinfo2();
    for (unsigned t = 3; t < 20; t++) {
        if (t == 8)
            lkvp8_sender_request_keyframe(s);
        if (t == 12)
            lkvp8_sender_set_bitrate(s, 200000);
        push(s, t % 2 ? &big : &small, T0 + t * FRAME_NS, LKVP8_MAX_PACKET);
    }
    struct mallinfo2 after = mallinfo2();
    assert_int_equal(after.uordblks, before.uordblks);
    assert_int_equal(after.hblkhd, before.hblkhd);
    lkvp8_sender_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stream_decodes),
        cmocka_unit_test(keyframe_on_request),
        cmocka_unit_test(framerate_cap),
        cmocka_unit_test(a_pause_does_not_inflate_the_next_frame),
        cmocka_unit_test(resend_from_history),
        cmocka_unit_test(other_size_scaled),
        cmocka_unit_test(mid_and_rid),
        cmocka_unit_test(sender_report),
        cmocka_unit_test(timestamps_only_forward),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(nothing_allocated_per_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
