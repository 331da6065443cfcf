/* The video receiver in H.264 mode against real H.264: 30 frames of a
 * moving 320x240 pattern coded by libx264 (constrained baseline, one
 * keyframe, the first), cut into RTP packets of at most 400 bytes as
 * libwebrtc cuts them (SPS and PPS together in a STAP-A, a NAL unit that
 * fits in a packet of its own, a larger one in FU-As), so that frames
 * span several packets. In order, every frame comes out with its
 * timestamp and 30 dB above the source; shuffled within windows of 8, the
 * same; a lost packet is NACKed and, once resent, its frame decodes
 * without a skip; a stream joined mid-way asks for a keyframe and shows
 * nothing; payloads packetization mode 1 never sends are refused. Time is
 * virtual: 33 ms a frame. Skipped (77) where libavcodec cannot be opened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "h264.h"
#include "h264_decoder.h"
#include "rtp.h"
#include "video_receiver.h"
#include "x264_stream.h"

enum {
    W = 320,
    H = 240,
    NFRAMES = 30,
    TS_STEP = 3000,
    PT = 97,
    SSRC = 0x5eed1264,
    SEQ0 = 65520, /* wraps during the stream */
    MAX_RTP = 400,
    MAX_PKTS = 2048,
    MAX_CODED = 512 * 1024,
};
static const uint64_t MS_NS = 1000000ull;
static const uint64_t T0 = 1000000000000ull;

typedef struct pkt {
    uint8_t b[MAX_RTP];
    size_t len;
    unsigned frame;
} pkt;

static x264_stream coded;
static pkt pkts[MAX_PKTS];
static size_t npkts;
static size_t first_pkt[NFRAMES + 1];

static pkt *next_pkt(unsigned frame, uint16_t *seq)
{
    assert_true(npkts < MAX_PKTS);
    pkt *p = &pkts[npkts++];
    lkrtp_header h = {.payload_type = PT, .seq = (*seq)++,
                      .timestamp = 90000 + frame * TS_STEP, .ssrc = SSRC};
    lkrtp_builder b;
    lkrtp_begin(&b, p->b, sizeof p->b, &h);
    assert_int_equal(lkrtp_end(&b), LKRTP_HEADER_SIZE);
    p->len = LKRTP_HEADER_SIZE;
    p->frame = frame;
    return p;
}

static void append(pkt *p, const void *data, size_t n)
{
    assert_true(p->len + n <= sizeof p->b);
    memcpy(p->b + p->len, data, n);
    p->len += n;
}

/* One access unit into packets: SPS and PPS aggregated, the rest one NAL
 * unit per packet or in fragments; the marker on the last. */
static void packetize(const uint8_t *au, size_t len, unsigned frame, uint16_t *seq)
{
    const size_t room = MAX_RTP - LKRTP_HEADER_SIZE;
    size_t pos = 0, nal_len;
    const uint8_t *nal;
    pkt *stap = NULL;
    while (lkh264_next_nal(au, len, &pos, &nal, &nal_len)) {
        unsigned type = nal[0] & 0x1f;
        if (type == LKH264_NAL_SPS || type == LKH264_NAL_PPS) {
            if (!stap) {
                stap = next_pkt(frame, seq);
                append(stap, &(uint8_t){(uint8_t)((nal[0] & 0x60) | LKH264_STAP_A)}, 1);
            }
            append(stap, (uint8_t[]){(uint8_t)(nal_len >> 8), (uint8_t)nal_len}, 2);
            append(stap, nal, nal_len);
        } else if (nal_len <= room) {
            append(next_pkt(frame, seq), nal, nal_len);
        } else {
            uint8_t fu_ind = (uint8_t)((nal[0] & 0xe0) | LKH264_FU_A);
            for (size_t at = 1; at < nal_len;) {
                size_t n = nal_len - at < room - 2 ? nal_len - at : room - 2;
                uint8_t fu_hdr = (uint8_t)((at == 1) << 7 | (at + n == nal_len) << 6 | type);
                pkt *p = next_pkt(frame, seq);
                append(p, (uint8_t[]){fu_ind, fu_hdr}, 2);
                append(p, nal + at, n);
                at += n;
            }
        }
    }
    pkts[npkts - 1].b[1] |= 0x80; /* the marker */
}

static int setup(void **state)
{
    (void)state;
    char err[200];
    if (!lkh264_decoder_available(err, sizeof err)) {
        print_message("skipped: %s\n", err);
        exit(77);
    }
    x264_stream_encode(&coded, W, H, NFRAMES, AV_PIX_FMT_YUV420P, "baseline", MAX_CODED);
    uint16_t seq = SEQ0;
    for (unsigned i = 0; i < NFRAMES; i++) {
        first_pkt[i] = npkts;
        packetize(coded.data + coded.off[i], coded.off[i + 1] - coded.off[i], i, &seq);
    }
    first_pkt[NFRAMES] = npkts;
    assert_true(npkts > 2 * NFRAMES); /* frames span packets */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    x264_stream_free(&coded);
    return 0;
}

typedef struct rx {
    lkvideo_receiver *r;
    uint64_t now;
    unsigned shown[NFRAMES];
    unsigned n_shown;
    double worst_psnr;
} rx;

static void rx_open(rx *x)
{
    memset(x, 0, sizeof *x);
    char err[200];
    x->r = lkvideo_receiver_new(LKVIDEO_H264, err, sizeof err);
    assert_non_null(x->r);
    x->now = T0;
    x->worst_psnr = INFINITY;
}

static double psnr(const lkvp8_image *img, unsigned i)
{
    double se = 0;
    for (unsigned y = 0; y < H; y++)
        for (unsigned xx = 0; xx < W; xx++) {
            double d = (double)img->y[(size_t)y * img->stride_y + xx] - x264_stream_luma(i, xx, y);
            se += d * d;
        }
    double mse = se / (W * H);
    return mse == 0 ? 99 : 10 * log10(255.0 * 255.0 / mse);
}

static void drain(rx *x)
{
    lkvp8_image img;
    uint32_t ts;
    while (lkvideo_receiver_pop(x->r, &img, &ts) == 1) {
        assert_int_equal(img.width, W);
        assert_int_equal(img.height, H);
        unsigned i = (ts - 90000) / TS_STEP;
        assert_true(i < NFRAMES);
        if (x->n_shown)
            assert_true(i > x->shown[x->n_shown - 1]); /* in order */
        double p = psnr(&img, i);
        if (p < x->worst_psnr)
            x->worst_psnr = p;
        x->shown[x->n_shown++] = i;
    }
}

static int put(rx *x, size_t k)
{
    lkrtp_packet p;
    assert_int_equal(lkrtp_parse(&p, pkts[k].b, pkts[k].len), 0);
    x->now = T0 + pkts[k].frame * 33 * MS_NS;
    return lkvideo_receiver_put(x->r, &p, x->now);
}

static void in_order(void **state)
{
    (void)state;
    rx x;
    rx_open(&x);
    for (size_t k = 0; k < npkts; k++) {
        assert_int_equal(put(&x, k), LKVIDEO_PUT_BUFFERED);
        drain(&x);
    }
    assert_int_equal(x.n_shown, NFRAMES);
    assert_true(x.worst_psnr >= 30);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.frames_decoded, NFRAMES);
    assert_int_equal(st.keyframes_decoded, 1);
    assert_int_equal(st.frames_skipped, 0);
    assert_int_equal(st.decode_errors, 0);
    print_message("  %u frames, worst PSNR %.1f dB\n", x.n_shown, x.worst_psnr);
    lkvideo_receiver_free(x.r);
}

static void reordered(void **state)
{
    (void)state;
    rx x;
    rx_open(&x);
    size_t order[MAX_PKTS];
    for (size_t k = 0; k < npkts; k++)
        order[k] = k;
    uint32_t rng = 12345;
    for (size_t w = 0; w < npkts; w += 8) {
        size_t n = npkts - w < 8 ? npkts - w : 8;
        for (size_t i = n - 1; i > 0; i--) {
            rng = rng * 1103515245u + 12345u;
            size_t j = (rng >> 16) % (i + 1);
            size_t t = order[w + i];
            order[w + i] = order[w + j];
            order[w + j] = t;
        }
    }
    for (size_t k = 0; k < npkts; k++) {
        put(&x, order[k]);
        drain(&x);
    }
    assert_int_equal(x.n_shown, NFRAMES);
    assert_true(x.worst_psnr >= 30);
    lkvideo_receiver_free(x.r);
}

/* A packet in the middle of frame 10 lost: NACKed by its number; once
 * resent, frame 10 and those after it decode, nothing skipped. */
static void lost_packet_nacked(void **state)
{
    (void)state;
    rx x;
    rx_open(&x);
    size_t lost = first_pkt[10] + (first_pkt[11] - first_pkt[10]) / 2;
    for (size_t k = 0; k < first_pkt[12]; k++)
        if (k != lost) {
            put(&x, k);
            drain(&x);
        }
    assert_int_equal(x.n_shown, 10);
    uint16_t nack[16];
    bool pli;
    size_t n = lkvideo_receiver_feedback(x.r, x.now, nack, 16, &pli);
    assert_int_equal(n, 1);
    assert_int_equal(nack[0], (uint16_t)(SEQ0 + lost));
    assert_false(pli);
    put(&x, lost);
    drain(&x);
    for (size_t k = first_pkt[12]; k < npkts; k++) {
        put(&x, k);
        drain(&x);
    }
    assert_int_equal(x.n_shown, NFRAMES);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.frames_skipped, 0);
    lkvideo_receiver_free(x.r);
}

/* Subscribed after the keyframe: nothing to show, a keyframe asked for. */
static void joined_mid_stream(void **state)
{
    (void)state;
    rx x;
    rx_open(&x);
    for (size_t k = first_pkt[5]; k < first_pkt[8]; k++) {
        put(&x, k);
        drain(&x);
    }
    assert_int_equal(x.n_shown, 0);
    bool pli;
    lkvideo_receiver_feedback(x.r, x.now, NULL, 0, &pli);
    assert_true(pli);
    lkvideo_receiver_free(x.r);
}

static void refused_payloads(void **state)
{
    (void)state;
    rx x;
    rx_open(&x);
    static const uint8_t bad[][4] = {
        {25, 0, 1, 0x65}, /* STAP-B */
        {26, 0, 0, 0},    /* MTAP16 */
        {29, 0x85, 0, 0}, /* FU-B */
        {28, 0xc5, 0, 0}, /* FU-A with S and E both set */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t b[LKRTP_HEADER_SIZE + 4];
        lkrtp_header h = {.payload_type = PT, .seq = (uint16_t)i, .timestamp = 1, .ssrc = SSRC};
        lkrtp_builder bl;
        lkrtp_begin(&bl, b, sizeof b, &h);
        lkrtp_end(&bl);
        memcpy(b + LKRTP_HEADER_SIZE, bad[i], 4);
        lkrtp_packet p;
        assert_int_equal(lkrtp_parse(&p, b, sizeof b), 0);
        assert_int_equal(lkvideo_receiver_put(x.r, &p, T0), LKVIDEO_PUT_INVALID);
    }
    lkvideo_receiver_free(x.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order),
        cmocka_unit_test(reordered),
        cmocka_unit_test(lost_packet_nacked),
        cmocka_unit_test(joined_mid_stream),
        cmocka_unit_test(refused_payloads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
