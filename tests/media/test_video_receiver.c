/* The video receiver in VP8 mode against real VP8: 40 frames of a moving
 * 320x240 pattern coded by libvpx (real time, one thread; keyframes at
 * frames 0 and 20 only), cut by rtc/vp8's packetizer into RTP packets of at most
 * 300 bytes, so that frames span several packets. In order, every frame
 * comes out with its timestamp and 30 dB above the source; shuffled
 * within windows of 8, the same; a lost packet is NACKed alone, again
 * after the retry time, and once resent its frame decodes without a skip;
 * one still missing after its ten NACKs is waited for until 500 ms (the
 * server may be fetching it), and decodes if it comes by then, nothing
 * asked; a packet never resent shows nothing past the gap until the next
 * keyframe, with PLIs at most every 300 ms; a picture held 700 ms with
 * packets behind it asks for a keyframe; a stream joined mid-way asks
 * for a keyframe and shows nothing before it; padding between frames is
 * neither NACKed nor in the way, and padding lost between frames is not
 * waited for when the picture ids say no frame is missing (a frame lost
 * whole still is); duplicates are reported; a new SSRC
 * starts over; payloads that do not parse are refused and garbage that
 * does is a decoder error, not a crash; the 8x8 keyframe the server sends
 * at close decodes. Time is virtual: 33 ms a frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#include "rtp.h"
#include "vp8.h"
#include "video_receiver.h"

enum {
    W = 320,
    H = 240,
    NFRAMES = 40,
    KEY2 = 20, /* the second keyframe */
    TS_STEP = 3000, /* 30 fps at 90 kHz */
    PT = 96,
    SSRC = 0x1234abcd,
    SEQ0 = 65500, /* wraps during the stream */
    MAX_RTP = 300,
    MAX_PKTS = 4096,
    CODED_CAP = 256 * 1024,
};
static const uint64_t MS_NS = 1000000ull;
static const uint64_t T0 = 1000000000000ull;

typedef struct pkt {
    uint8_t b[MAX_RTP];
    size_t len;
    unsigned frame;
    bool padding;
} pkt;

/* The stream, coded once. */
static uint8_t coded[CODED_CAP];
static size_t frame_off[NFRAMES + 1];
static pkt pkts[MAX_PKTS];
static size_t npkts;
static size_t first_pkt[NFRAMES + 1]; /* the index of each frame's first packet */

/* --- the source ---------------------------------------------------------------------------- */

static uint8_t luma(unsigned i, unsigned x, unsigned y)
{
    double v = 128 + 50 * sin((x + 4.0 * i) / 11.0) * cos((y + 2.0 * i) / 9.0);
    bool square = x - (20 + 5 * i) < 40 && y - (30 + 3 * i) < 40; /* unsigned wrap: inside */
    return (uint8_t)(square ? 230 : v);
}

static void fill(vpx_image_t *img, unsigned i)
{
    for (unsigned y = 0; y < img->d_h; y++)
        for (unsigned x = 0; x < img->d_w; x++)
            img->planes[0][y * img->stride[0] + x] = luma(i, x, y);
    for (unsigned y = 0; y < (img->d_h + 1) / 2; y++)
        for (unsigned x = 0; x < (img->d_w + 1) / 2; x++) {
            img->planes[1][y * img->stride[1] + x] = (uint8_t)(100 + x / 4 + i);
            img->planes[2][y * img->stride[2] + x] = (uint8_t)(150 - y / 4);
        }
}

static double psnr(const lkvp8_image *img, unsigned i)
{
    double se = 0;
    for (unsigned y = 0; y < H; y++)
        for (unsigned x = 0; x < W; x++) {
            double d = (double)img->y[y * img->stride_y + x] - luma(i, x, y);
            se += d * d;
        }
    double mse = se / (W * H);
    return mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : 99;
}

/* --- coding and packets -------------------------------------------------------------------- */

typedef struct encoder {
    vpx_codec_ctx_t ctx;
    vpx_image_t img;
} encoder;

static void enc_open(encoder *e, unsigned w, unsigned h)
{
    vpx_codec_enc_cfg_t cfg;
    assert_int_equal(vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0), VPX_CODEC_OK);
    cfg.g_w = w;
    cfg.g_h = h;
    cfg.g_threads = 1;
    cfg.g_timebase.num = 1;
    cfg.g_timebase.den = 30;
    cfg.g_lag_in_frames = 0;
    cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
    cfg.rc_end_usage = VPX_CBR;
    cfg.rc_target_bitrate = 1000;
    cfg.kf_mode = VPX_KF_DISABLED;
    assert_int_equal(vpx_codec_enc_init(&e->ctx, vpx_codec_vp8_cx(), &cfg, 0), VPX_CODEC_OK);
    assert_non_null(vpx_img_alloc(&e->img, VPX_IMG_FMT_I420, w, h, 16));
}

static void enc_close(encoder *e)
{
    vpx_img_free(&e->img);
    vpx_codec_destroy(&e->ctx);
}

/* Codes picture i (pattern index pat) into buf: its length. */
static size_t enc_frame(encoder *e, unsigned i, unsigned pat, bool key, uint8_t *buf, size_t cap)
{
    fill(&e->img, pat);
    assert_int_equal(vpx_codec_encode(&e->ctx, &e->img, i, 1, key ? VPX_EFLAG_FORCE_KF : 0,
                                      VPX_DL_REALTIME),
                     VPX_CODEC_OK);
    size_t len = 0;
    vpx_codec_iter_t it = NULL;
    const vpx_codec_cx_pkt_t *p;
    while ((p = vpx_codec_get_cx_data(&e->ctx, &it)))
        if (p->kind == VPX_CODEC_CX_FRAME_PKT) {
            assert_true(len + p->data.frame.sz <= cap);
            memcpy(buf + len, p->data.frame.buf, p->data.frame.sz);
            len += p->data.frame.sz;
        }
    assert_true(len > 0);
    return len;
}

static size_t rtp_header(uint8_t *buf, uint32_t ssrc, uint16_t seq, uint32_t ts, bool marker)
{
    lkrtp_builder b;
    lkrtp_header h = {.marker = marker, .payload_type = PT, .seq = seq, .timestamp = ts,
                      .ssrc = ssrc};
    lkrtp_begin(&b, buf, MAX_RTP, &h);
    int n = lkrtp_end(&b);
    assert_true(n > 0);
    return (size_t)n;
}

/* A coded frame's packets appended to pkts. */
static void packetize(const uint8_t *frame, size_t len, unsigned index, uint16_t *seq)
{
    lkvp8_descriptor d = {.has_picture_id = true, .long_picture_id = true,
                          .picture_id = (uint16_t)index};
    lkvp8_packetizer pz;
    assert_true(lkvp8_packetizer_init(&pz, &d, frame, len, MAX_RTP - LKRTP_HEADER_SIZE) >= 1);
    for (;;) {
        pkt *p = &pkts[npkts];
        uint8_t payload[MAX_RTP];
        bool last = false;
        int n = lkvp8_packetizer_next(&pz, payload, sizeof payload, &last);
        assert_true(n >= 0);
        if (n == 0)
            break;
        size_t hl = rtp_header(p->b, SSRC, (*seq)++, index * TS_STEP, last);
        assert_true(hl + (size_t)n <= MAX_RTP);
        memcpy(p->b + hl, payload, (size_t)n);
        p->len = hl + (size_t)n;
        p->frame = index;
        npkts++;
        assert_true(npkts < MAX_PKTS);
    }
}

static int setup(void **state)
{
    encoder e;
    enc_open(&e, W, H);
    uint16_t seq = SEQ0;
    for (unsigned i = 0; i < NFRAMES; i++) {
        size_t n = enc_frame(&e, i, i, i == 0 || i == KEY2, coded + frame_off[i],
                             CODED_CAP - frame_off[i]);
        frame_off[i + 1] = frame_off[i] + n;
        first_pkt[i] = npkts;
        packetize(coded + frame_off[i], n, i, &seq);
    }
    first_pkt[NFRAMES] = npkts;
    enc_close(&e);
    /* frames span packets: the keyframe many, the others a few */
    assert_true(first_pkt[1] - first_pkt[0] >= 5);
    assert_true(npkts >= 2 * NFRAMES);
    return 0;
}

/* --- the receiving side -------------------------------------------------------------------- */

typedef struct rx {
    lkvideo_receiver *r;
    unsigned shown[NFRAMES * 2];
    size_t nshown;
    uint64_t now;
} rx;

static void rx_open(rx *x)
{
    memset(x, 0, sizeof *x);
    char err[128];
    x->r = lkvideo_receiver_new(LKVIDEO_VP8, err, sizeof err);
    assert_non_null(x->r);
    x->now = T0;
}

static int put_raw(rx *x, const uint8_t *b, size_t len)
{
    lkrtp_packet p;
    assert_int_equal(lkrtp_parse(&p, b, len), 0);
    return lkvideo_receiver_put(x->r, &p, x->now);
}

static int put(rx *x, size_t k)
{
    return put_raw(x, pkts[k].b, pkts[k].len);
}

/* Pops every picture ready; each must be the source's, in order. */
static void drain(rx *x)
{
    lkvp8_image img;
    uint32_t ts;
    while (lkvideo_receiver_pop(x->r, &img, &ts) == 1) {
        assert_true(ts % TS_STEP == 0);
        unsigned i = ts / TS_STEP;
        assert_true(i < NFRAMES);
        if (x->nshown)
            assert_true(i > x->shown[x->nshown - 1]);
        assert_int_equal(img.width, W);
        assert_int_equal(img.height, H);
        assert_true(psnr(&img, i) >= 30);
        x->shown[x->nshown++] = i;
    }
}

/* The frame's packets in order, then pop; a frame time passes. */
static void deliver(rx *x, unsigned from, unsigned to, size_t skip_pkt)
{
    for (unsigned i = from; i < to; i++) {
        for (size_t k = first_pkt[i]; k < first_pkt[i + 1]; k++)
            if (k != skip_pkt)
                assert_int_equal(put(x, k), LKVIDEO_PUT_BUFFERED);
        drain(x);
        x->now += 33 * MS_NS;
    }
}

static void assert_shown_range(const rx *x, unsigned from, unsigned to)
{
    assert_int_equal(x->nshown, to - from);
    for (unsigned i = from; i < to; i++)
        assert_int_equal(x->shown[i - from], i);
}

static size_t feedback(rx *x, uint16_t *nack, size_t cap, bool *pli)
{
    return lkvideo_receiver_feedback(x->r, x->now, nack, cap, pli);
}

/* Packet k copied into b (MAX_RTP bytes) with sequence number seq. */
static void renumbered(uint8_t *b, size_t k, uint16_t seq)
{
    memcpy(b, pkts[k].b, pkts[k].len);
    b[2] = (uint8_t)(seq >> 8);
    b[3] = (uint8_t)seq;
}

/* --- cases --------------------------------------------------------------------------------- */

static void in_order(void **state)
{
    rx x;
    rx_open(&x);
    lkrtcp_report rb;
    lkvideo_receiver_report(x.r, &rb);
    assert_int_equal(rb.ssrc, 0);
    deliver(&x, 0, NFRAMES, SIZE_MAX);
    assert_shown_range(&x, 0, NFRAMES);
    uint16_t nack[8];
    bool pli = true;
    assert_int_equal(feedback(&x, nack, 8, &pli), 0);
    assert_false(pli);
    assert_int_equal(lkvideo_receiver_next_deadline(x.r), UINT64_MAX);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.ssrc, SSRC);
    assert_int_equal(st.packets_received, npkts);
    assert_int_equal(st.packets_lost, 0);
    assert_int_equal(st.frames_decoded, NFRAMES);
    assert_int_equal(st.keyframes_decoded, 2);
    assert_int_equal(st.frames_skipped + st.decode_errors + st.nacks_sent + st.plis_sent, 0);
    assert_int_equal(st.width, W);
    assert_int_equal(st.height, H);
    assert_int_equal(st.highest_seq, 65536u + (uint16_t)(SEQ0 + npkts - 1));
    lkvideo_receiver_report(x.r, &rb);
    assert_int_equal(rb.ssrc, SSRC);
    assert_int_equal(rb.highest_seq, st.highest_seq);
    assert_int_equal(rb.cumulative_lost, 0);
    lkvideo_receiver_free(x.r);
}

static void reordered(void **state)
{
    static size_t order[MAX_PKTS];
    for (size_t k = 0; k < npkts; k++)
        order[k] = k;
    uint32_t rng = 12345;
    for (size_t w = 0; w < npkts; w += 8) {
        size_t n = npkts - w < 8 ? npkts - w : 8;
        for (size_t i = n; i > 1; i--) {
            rng = rng * 1103515245u + 12345u;
            size_t j = (rng >> 16) % i;
            size_t t = order[w + i - 1];
            order[w + i - 1] = order[w + j];
            order[w + j] = t;
        }
    }
    rx x;
    rx_open(&x);
    for (size_t k = 0; k < npkts; k++) {
        assert_int_equal(put(&x, order[k]), LKVIDEO_PUT_BUFFERED);
        drain(&x);
        x.now += 5 * MS_NS;
    }
    assert_shown_range(&x, 0, NFRAMES);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.frames_skipped + st.decode_errors + st.plis_sent, 0);
    lkvideo_receiver_free(x.r);
}

static void lost_packet_nacked(void **state)
{
    rx x;
    rx_open(&x);
    size_t lost = first_pkt[5] + 1 < first_pkt[6] ? first_pkt[5] + 1 : first_pkt[5];
    uint16_t seq = (uint16_t)(SEQ0 + lost);
    deliver(&x, 0, 9, lost);
    assert_shown_range(&x, 0, 5);
    assert_true(lkvideo_receiver_next_deadline(x.r) <= x.now);
    uint16_t nack[8];
    bool pli = true;
    assert_int_equal(feedback(&x, nack, 8, &pli), 1);
    assert_int_equal(nack[0], seq);
    assert_false(pli);
    /* not again before the retry time (100 ms when no RTT is known) */
    assert_int_equal(lkvideo_receiver_next_deadline(x.r), x.now + 100 * MS_NS);
    x.now += 50 * MS_NS;
    assert_int_equal(feedback(&x, nack, 8, &pli), 0);
    /* a known RTT paces the retries */
    lkvideo_receiver_set_rtt(x.r, 40);
    x.now += 50 * MS_NS;
    assert_int_equal(feedback(&x, nack, 8, &pli), 1);
    assert_int_equal(nack[0], seq);
    assert_int_equal(lkvideo_receiver_next_deadline(x.r), x.now + 40 * MS_NS);
    /* a round trip of seconds (one slow signal sample) is not waited */
    lkvideo_receiver_set_rtt(x.r, 2000);
    x.now += 40 * MS_NS;
    assert_int_equal(feedback(&x, nack, 8, &pli), 1);
    assert_int_equal(lkvideo_receiver_next_deadline(x.r), x.now + 100 * MS_NS);
    /* (the picture has waited 305 ms since frame 4: not yet stalled) */

    assert_int_equal(put(&x, lost), LKVIDEO_PUT_BUFFERED);
    drain(&x);
    assert_shown_range(&x, 0, 9);
    assert_int_equal(put(&x, lost), LKVIDEO_PUT_LATE);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.frames_skipped, 0);
    assert_int_equal(st.nacks_sent, 3);
    assert_int_equal(st.plis_sent, 0);
    assert_int_equal(lkvideo_receiver_next_deadline(x.r), UINT64_MAX);
    lkvideo_receiver_free(x.r);
}

/* Frames one by one with feedback every 11 ms in between: PLIs counted,
 * never closer than 300 ms apart. */
static unsigned deliver_with_feedback(rx *x, unsigned from, unsigned to, size_t skip_pkt)
{
    unsigned plis = 0;
    uint64_t last_pli = 0;
    for (unsigned i = from; i < to; i++) {
        deliver(x, i, i + 1, skip_pkt);
        for (int k = 0; k < 3; k++) {
            uint16_t nack[64];
            bool pli = false;
            feedback(x, nack, 64, &pli);
            if (pli) {
                assert_true(!plis || x->now - last_pli >= 300 * MS_NS);
                last_pli = x->now;
                plis++;
            }
            x->now += 11 * MS_NS;
        }
        drain(x);
    }
    return plis;
}

static void lost_for_good(void **state)
{
    rx x;
    rx_open(&x);
    lkvideo_receiver_set_rtt(x.r, 20);
    size_t lost = first_pkt[5]; /* given up 500 ms on, 1 s before the keyframe */
    unsigned plis = deliver_with_feedback(&x, 0, KEY2, lost);
    assert_shown_range(&x, 0, 5);
    assert_true(plis >= 2); /* asked again while no keyframe came */
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    /* a NACK every 20 ms or so (feedback comes every 11 to 44 ms): the ten
     * are spent long before the give-up */
    assert_int_equal(st.nacks_sent, 10);
    assert_int_equal(st.plis_sent, plis);
    deliver_with_feedback(&x, KEY2, NFRAMES, SIZE_MAX);
    assert_int_equal(x.nshown, 5 + NFRAMES - KEY2);
    assert_int_equal(x.shown[5], KEY2);
    lkvideo_receiver_get_stats(x.r, &st);
    assert_true(st.frames_skipped >= KEY2 - 5);
    assert_int_equal(st.decode_errors, 0);
    /* the keyframe ended the asking */
    uint16_t nack[8];
    bool pli = true;
    x.now += 1000 * MS_NS;
    assert_int_equal(feedback(&x, nack, 8, &pli), 0);
    assert_false(pli);
    lkvideo_receiver_free(x.r);
}

/* With a long round trip a packet is given up before its ten NACKs: once
 * missing 500 ms (the NACK then out had its round trip), and the keyframe
 * is asked for then, not 10 round trips later. */
static void given_up_when_the_server_stops_resending(void **state)
{
    rx x;
    rx_open(&x);
    lkvideo_receiver_set_rtt(x.r, 70);
    size_t lost = first_pkt[5];
    uint64_t t_lost = x.now + 5 * 66 * MS_NS; /* each frame, with its feedback, 66 ms */
    unsigned plis = 0;
    uint64_t first_pli = 0;
    for (unsigned i = 0; i < 20; i++) {
        deliver(&x, i, i + 1, lost);
        for (int k = 0; k < 3; k++) {
            uint16_t nack[64];
            bool pli = false;
            feedback(&x, nack, 64, &pli);
            if (pli && !plis++)
                first_pli = x.now;
            x.now += 11 * MS_NS;
        }
    }
    assert_shown_range(&x, 0, 5);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_true(st.nacks_sent >= 6 && st.nacks_sent <= 9); /* one per 70 to 77 ms */
    assert_true(plis >= 1);
    assert_true(first_pli - t_lost >= 500 * MS_NS);
    assert_true(first_pli - t_lost <= (500 + 70 + 44) * MS_NS);
    lkvideo_receiver_free(x.r);
}

/* Given up is not gone: a sender behind a lossy link may get the packet
 * to the server after this side's NACKs ran out, and the server forwards
 * it then. The keyframe is asked for, yet the late packet completes its
 * frame and the picture goes on from it, nothing skipped. */
static void given_up_then_late(void **state)
{
    rx x;
    rx_open(&x);
    lkvideo_receiver_set_rtt(x.r, 20);
    size_t lost = first_pkt[5];
    unsigned plis = deliver_with_feedback(&x, 0, 14, lost); /* 594 ms on */
    assert_shown_range(&x, 0, 5);
    assert_true(plis >= 1);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.nacks_sent, 10);
    uint16_t nack[8];
    assert_int_equal(feedback(&x, nack, 8, NULL), 0);
    assert_int_equal(put(&x, lost), LKVIDEO_PUT_BUFFERED);
    drain(&x);
    assert_shown_range(&x, 0, 14);
    deliver_with_feedback(&x, 14, NFRAMES, SIZE_MAX);
    assert_shown_range(&x, 0, NFRAMES);
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.frames_skipped, 0);
    assert_int_equal(st.decode_errors, 0);
    lkvideo_receiver_free(x.r);
}

/* The camera behind a lossy link: the server fetches a packet lost on the
 * way to it with NACKs of its own, for up to about 450 ms, while this
 * side, next to the server, has spent its ten NACKs in 200. A packet that
 * comes 462 ms after it went missing completes its frame with no keyframe
 * asked: asking would have cost the keyframe the next real loss needs
 * (the server passes one request per 0.5 to 1 s). */
static void waited_for_while_the_server_fetches(void **state)
{
    rx x;
    rx_open(&x);
    lkvideo_receiver_set_rtt(x.r, 2);
    size_t lost = first_pkt[5];
    unsigned plis = deliver_with_feedback(&x, 0, 12, lost); /* 462 ms on */
    assert_shown_range(&x, 0, 5);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.nacks_sent, 10);
    assert_int_equal(plis, 0);
    /* the deadline is the give-up: no wake-up before it */
    assert_int_equal(lkvideo_receiver_next_deadline(x.r), T0 + 5 * 66 * MS_NS + 500 * MS_NS);
    assert_int_equal(put(&x, lost), LKVIDEO_PUT_BUFFERED);
    drain(&x);
    assert_shown_range(&x, 0, 12);
    plis = deliver_with_feedback(&x, 12, NFRAMES, SIZE_MAX);
    assert_shown_range(&x, 0, NFRAMES);
    assert_int_equal(plis, 0);
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.frames_skipped + st.plis_sent + st.decode_errors, 0);
    lkvideo_receiver_free(x.r);
}

/* A keyframe broken by a packet given up cannot be what ends the asking:
 * the PLIs go on until a whole one comes. */
static void broken_keyframe_asks_again(void **state)
{
    rx x;
    rx_open(&x);
    lkvideo_receiver_set_rtt(x.r, 20);
    size_t lost = first_pkt[KEY2] + 1;
    assert_true(lost + 1 < first_pkt[KEY2 + 1]); /* inside the keyframe */
    unsigned plis = deliver_with_feedback(&x, 0, KEY2 + 15, lost);
    assert_shown_range(&x, 0, KEY2);
    assert_true(plis >= 1);
    lkvideo_receiver_free(x.r);
}

/* Packet k of the stream as number seq. */
static int put_as(rx *x, size_t k, uint16_t seq)
{
    uint8_t b[MAX_RTP];
    renumbered(b, k, seq);
    return put_raw(x, b, pkts[k].len);
}

/* Padding after the first frame arrives before it: stepped over at once,
 * and still received when the earlier packets move the start back, so
 * nothing waits on it or NACKs it. */
/* Whatever holds the picture, packets waiting behind a picture that has
 * not moved for 700 ms ask for a keyframe, and the whole keyframe is
 * skipped to: here the caller takes no NACKs, so the missing first packet
 * of frame 5 is never given up and nothing else would ask. */
static void stalled_picture_asks_for_a_keyframe(void **state)
{
    (void)state;
    rx x;
    rx_open(&x);
    deliver(&x, 0, 5, SIZE_MAX);
    uint64_t moved = x.now - 33 * MS_NS; /* frame 4 decoded as it came */
    bool pli = true;
    assert_int_equal(feedback(&x, NULL, 0, &pli), 0);
    assert_false(pli);
    deliver(&x, 5, 8, first_pkt[5]);
    assert_shown_range(&x, 0, 5);
    x.now = moved + 699 * MS_NS;
    assert_int_equal(feedback(&x, NULL, 0, &pli), 0);
    assert_false(pli);
    x.now = moved + 700 * MS_NS;
    assert_int_equal(feedback(&x, NULL, 0, &pli), 0);
    assert_true(pli);
    deliver(&x, KEY2, NFRAMES, SIZE_MAX);
    assert_int_equal(x.nshown, 5 + NFRAMES - KEY2);
    for (unsigned i = 0; i < NFRAMES - KEY2; i++)
        assert_int_equal(x.shown[5 + i], KEY2 + i);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.plis_sent, 1);
    assert_int_equal(st.nacks_sent, 0);
    lkvideo_receiver_free(x.r);
}

static void padding_before_the_first_frame(void **state)
{
    rx x;
    rx_open(&x);
    uint16_t seq0 = 1000, n0 = (uint16_t)(first_pkt[1] - first_pkt[0]);
    uint8_t b[MAX_RTP];
    size_t hl = rtp_header(b, SSRC, (uint16_t)(seq0 + n0), 0, false);
    int n = lkrtp_pad(b, hl, sizeof b, 200);
    assert_true(n > 0);
    assert_int_equal(put_raw(&x, b, (size_t)n), LKVIDEO_PUT_PADDING);
    uint16_t seq = seq0;
    uint16_t nack[8];
    bool pli = true;
    for (size_t k = first_pkt[0]; k < first_pkt[6]; k++, seq++) {
        if (seq == seq0 + n0) {
            /* the first frame is shown; the padding after it is not asked for */
            drain(&x);
            assert_shown_range(&x, 0, 1);
            assert_int_equal(feedback(&x, nack, 8, &pli), 0);
            assert_false(pli);
            seq++; /* the padding's number */
        }
        assert_int_equal(put_as(&x, k, seq), LKVIDEO_PUT_BUFFERED);
    }
    drain(&x);
    assert_shown_range(&x, 0, 6);
    assert_int_equal(feedback(&x, nack, 8, &pli), 0);
    assert_false(pli);
    lkvideo_receiver_free(x.r);
}

/* One packet 5000 numbers ahead (a server's bug, a stray) is held back:
 * the stream goes on around it, nothing NACKed for the numbers it skipped. */
static void one_packet_far_ahead_is_held_back(void **state)
{
    rx x;
    rx_open(&x);
    deliver(&x, 0, 10, SIZE_MAX);
    uint16_t far = (uint16_t)(SEQ0 + first_pkt[10] + 5000);
    assert_int_equal(put_as(&x, first_pkt[3], far), LKVIDEO_PUT_JUMP);
    deliver(&x, 10, 20, SIZE_MAX);
    assert_shown_range(&x, 0, 20);
    uint16_t nack[8];
    bool pli = true;
    assert_int_equal(feedback(&x, nack, 8, &pli), 0);
    assert_false(pli);
    lkvideo_receiver_free(x.r);
}

/* Two packets resent together long after they were lost (the server
 * answering NACKs hundreds of packets on) are late, not a sender that
 * restarted its numbering: the stream's state stays as it was. */
static void late_resends_in_a_row(void **state)
{
    rx x;
    rx_open(&x);
    size_t lost = first_pkt[1];
    for (size_t k = 0; k < npkts; k++)
        if (k != lost && k != lost + 1)
            assert_int_equal(put(&x, k), LKVIDEO_PUT_BUFFERED);
    drain(&x);
    assert_true(npkts - lost > 200); /* far beyond RFC 3550's 100 */
    assert_int_equal(x.shown[0], 0);
    assert_int_equal(x.shown[1], KEY2); /* skipped to the keyframe */
    lkvideo_receiver_stats before, after;
    lkvideo_receiver_get_stats(x.r, &before);
    assert_int_equal(put(&x, lost), LKVIDEO_PUT_LATE);
    assert_int_equal(put(&x, lost + 1), LKVIDEO_PUT_LATE);
    /* the last packet is still behind what was shown (after a restart it
     * would be new) */
    assert_int_equal(put(&x, npkts - 1), LKVIDEO_PUT_LATE);
    drain(&x);
    assert_int_equal(x.nshown, 1 + NFRAMES - KEY2);
    lkvideo_receiver_get_stats(x.r, &after);
    assert_int_equal(after.frames_skipped, before.frames_skipped);
    assert_int_equal(after.highest_seq, before.highest_seq);
    lkvideo_receiver_free(x.r);
}

static void joined_mid_stream(void **state)
{
    rx x;
    rx_open(&x);
    size_t k0 = first_pkt[3] + 1; /* in the middle of a frame */
    for (size_t k = k0; k < first_pkt[5]; k++)
        assert_int_equal(put(&x, k), LKVIDEO_PUT_BUFFERED);
    drain(&x);
    assert_int_equal(x.nshown, 0);
    uint16_t nack[8];
    bool pli = false;
    assert_int_equal(feedback(&x, nack, 8, &pli), 0);
    assert_true(pli);
    unsigned plis = deliver_with_feedback(&x, 5, KEY2, SIZE_MAX);
    assert_int_equal(x.nshown, 0);
    assert_true(plis >= 1);
    deliver(&x, KEY2, NFRAMES, SIZE_MAX);
    assert_shown_range(&x, KEY2, NFRAMES);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_true(st.frames_skipped >= KEY2 - 4);
    assert_int_equal(st.keyframes_decoded, 1);
    lkvideo_receiver_free(x.r);
}

/* The stream again with 3 padding packets after every frame, on the
 * media's sequence numbers. */
static void padding_between_frames(void **state)
{
    rx x;
    rx_open(&x);
    uint16_t seq = 1000;
    for (unsigned i = 0; i < NFRAMES; i++) {
        for (size_t k = first_pkt[i]; k < first_pkt[i + 1]; k++) {
            assert_int_equal(put_as(&x, k, seq++), LKVIDEO_PUT_BUFFERED);
        }
        for (int p = 0; p < 3; p++) {
            uint8_t b[MAX_RTP];
            size_t hl = rtp_header(b, SSRC, seq++, i * TS_STEP, false);
            int n = lkrtp_pad(b, hl, sizeof b, 200);
            assert_true(n > 0);
            assert_int_equal(put_raw(&x, b, (size_t)n), LKVIDEO_PUT_PADDING);
        }
        drain(&x);
        uint16_t nack[8];
        bool pli = true;
        assert_int_equal(feedback(&x, nack, 8, &pli), 0);
        assert_false(pli);
        x.now += 33 * MS_NS;
    }
    assert_shown_range(&x, 0, NFRAMES);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.padding_packets, 3 * NFRAMES);
    assert_int_equal(st.nacks_sent + st.frames_skipped, 0);
    lkvideo_receiver_free(x.r);
}

/* Two padding packets after every frame; the first after frames HOLE and
 * HOLE2 lost (no one resends padding), and every packet of frame WHOLE
 * held back. The frames after a lost padding packet show at once, with no
 * NACK for it and nothing skipped: the picture ids say the gap holds no
 * frame. Past the frame lost whole the picture id jumps: nothing shows
 * until it is resent, and then all of it. */
static void gap_between_frames(void **state)
{
    enum { HOLE = 7, HOLE2 = 12, WHOLE = 30, HELD_MAX = 64 };
    static uint8_t held[HELD_MAX][MAX_RTP];
    size_t held_len[HELD_MAX];
    size_t nheld = 0;
    rx x;
    rx_open(&x);
    uint16_t seq = 2000;
    for (unsigned i = 0; i < NFRAMES; i++) {
        for (size_t k = first_pkt[i]; k < first_pkt[i + 1]; k++) {
            uint8_t b[MAX_RTP];
            renumbered(b, k, seq++);
            if (i == WHOLE) {
                assert_true(nheld < HELD_MAX);
                memcpy(held[nheld], b, pkts[k].len);
                held_len[nheld++] = pkts[k].len;
                continue;
            }
            assert_int_equal(put_raw(&x, b, pkts[k].len), LKVIDEO_PUT_BUFFERED);
        }
        for (int p = 0; p < 2; p++) {
            uint8_t b[MAX_RTP];
            size_t hl = rtp_header(b, SSRC, seq++, i * TS_STEP, false);
            if (p == 0 && (i == HOLE || i == HOLE2))
                continue; /* lost */
            int n = lkrtp_pad(b, hl, sizeof b, 200);
            assert_true(n > 0);
            assert_int_equal(put_raw(&x, b, (size_t)n), LKVIDEO_PUT_PADDING);
        }
        drain(&x);
        assert_int_equal(x.nshown, i < WHOLE ? i + 1 : WHOLE);
        x.now += 33 * MS_NS;
    }
    /* only the frame lost whole is asked for */
    uint16_t nack[HELD_MAX];
    bool pli = true;
    assert_int_equal(feedback(&x, nack, HELD_MAX, &pli), nheld);
    assert_false(pli);
    for (size_t k = 0; k < nheld; k++)
        assert_int_equal(put_raw(&x, held[k], held_len[k]), LKVIDEO_PUT_BUFFERED);
    drain(&x);
    assert_shown_range(&x, 0, NFRAMES);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.frames_skipped + st.plis_sent + st.decode_errors, 0);
    assert_int_equal(st.nacks_sent, nheld);
    lkvideo_receiver_free(x.r);
}

/* livekit-server's padding probes (v1.13: pion writes the 255-byte
 * padding it is given as payload, its last byte 255, and then 255 bytes
 * of padding after it) are, to a VP8 reader, a packet of 254 zeros and
 * 0xff behind a descriptor that starts no frame and names no picture.
 * Two after every frame, the first after frame LOST_AFTER lost: every
 * frame shows, nothing is skipped or asked for, and only the lost one is
 * NACKed (once: the next frame then shows). They first stopped the
 * picture until a keyframe came: a packet that began no frame stood where
 * the next frame had to begin. */
static void probe_padding_as_livekit_sends_it(void **state)
{
    enum { LOST_AFTER = 5 };
    rx x;
    rx_open(&x);
    uint16_t seq = 3000;
    for (unsigned i = 0; i < NFRAMES; i++) {
        for (size_t k = first_pkt[i]; k < first_pkt[i + 1]; k++) {
            assert_int_equal(put_as(&x, k, seq++), LKVIDEO_PUT_BUFFERED);
        }
        for (int p = 0; p < 2; p++) {
            static uint8_t b[MAX_RTP + 2 * 255];
            size_t hl = rtp_header(b, SSRC, seq++, i * TS_STEP, false);
            memset(b + hl, 0, 255);
            b[hl + 254] = 255;
            int n = lkrtp_pad(b, hl + 255, sizeof b, 255);
            assert_true(n > 0);
            if (i == LOST_AFTER && p == 0)
                continue;
            assert_int_equal(put_raw(&x, b, (size_t)n), LKVIDEO_PUT_BUFFERED);
        }
        drain(&x);
        assert_int_equal(x.nshown, i + 1);
        uint16_t nack[8];
        bool pli = true;
        assert_int_equal(feedback(&x, nack, 8, &pli), i == LOST_AFTER);
        assert_false(pli);
        x.now += 33 * MS_NS;
    }
    assert_shown_range(&x, 0, NFRAMES);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.frames_skipped + st.plis_sent, 0);
    assert_int_equal(st.nacks_sent, 1);
    lkvideo_receiver_free(x.r);
}

static void duplicates(void **state)
{
    rx x;
    rx_open(&x);
    for (unsigned i = 0; i < NFRAMES; i++) {
        for (size_t k = first_pkt[i]; k < first_pkt[i + 1]; k++) {
            assert_int_equal(put(&x, k), LKVIDEO_PUT_BUFFERED);
            assert_int_equal(put(&x, k), LKVIDEO_PUT_DUPLICATE);
        }
        drain(&x);
        /* after its frame was shown, a copy is late */
        assert_int_equal(put(&x, first_pkt[i]), LKVIDEO_PUT_LATE);
    }
    assert_shown_range(&x, 0, NFRAMES);
    lkvideo_receiver_free(x.r);
}

static void new_ssrc(void **state)
{
    rx x;
    rx_open(&x);
    deliver(&x, 0, 10, SIZE_MAX);
    /* a publisher that restarted: another SSRC, other sequence numbers */
    uint16_t seq = 7;
    for (unsigned i = KEY2; i < NFRAMES; i++) {
        for (size_t k = first_pkt[i]; k < first_pkt[i + 1]; k++) {
            uint8_t b[MAX_RTP];
            renumbered(b, k, seq++);
            b[8] = 0x55; /* the SSRC's first byte */
            assert_int_equal(put_raw(&x, b, pkts[k].len), LKVIDEO_PUT_BUFFERED);
        }
        drain(&x);
    }
    assert_int_equal(x.nshown, 10 + NFRAMES - KEY2);
    assert_int_equal(x.shown[10], KEY2);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.ssrc, (SSRC & 0x00ffffffu) | 0x55000000u);
    assert_int_equal(st.packets_received, first_pkt[NFRAMES] - first_pkt[KEY2]);
    assert_int_equal(st.frames_decoded, NFRAMES - KEY2 + 10);
    lkvideo_receiver_free(x.r);
}

static void invalid_payloads(void **state)
{
    rx x;
    rx_open(&x);
    lkvp8_image img;
    assert_true(lkvideo_receiver_put(NULL, NULL, 0) < 0);
    assert_int_equal(lkvideo_receiver_pop(x.r, &img, NULL), 0);
    static const uint8_t bad[][4] = {
        {0x80, 0x00, 0x00, 0x00}, /* X, then an empty extension byte, nothing after */
        {0x90, 0x80, 0x80, 0x00}, /* I, a 15-bit id cut short */
        {0x90, 0x40, 0x05, 0x01}, /* L without T */
    };
    static const size_t bad_len[] = {2, 3, 4};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t b[MAX_RTP];
        size_t hl = rtp_header(b, SSRC, (uint16_t)i, 0, true);
        memcpy(b + hl, bad[i], bad_len[i]);
        assert_int_equal(put_raw(&x, b, hl + bad_len[i]), LKVIDEO_PUT_INVALID);
    }
    /* larger than a datagram */
    static uint8_t big[2000];
    size_t hl = rtp_header(big, SSRC, 9, 0, true);
    big[hl] = 0x10;
    lkrtp_packet p;
    assert_int_equal(lkrtp_parse(&p, big, sizeof big), 0);
    assert_int_equal(lkvideo_receiver_put(x.r, &p, x.now), LKVIDEO_PUT_INVALID);
    /* garbage that parses: a keyframe of noise, and truncated real ones */
    uint32_t rng = 99;
    for (uint16_t s = 100; s < 140; s++) {
        uint8_t b[MAX_RTP];
        size_t h2 = rtp_header(b, SSRC, s, s * TS_STEP, true);
        b[h2] = 0x10; /* S, partition 0 */
        size_t n = 1 + s % 50;
        for (size_t i = 1; i <= n; i++) {
            rng = rng * 1103515245u + 12345u;
            b[h2 + i] = (uint8_t)(rng >> 16);
        }
        if (s % 2 == 0)
            memcpy(b + h2 + 1, coded, n); /* the keyframe's start, cut short */
        b[h2 + 1] &= 0xfe;                /* a keyframe */
        assert_int_equal(put_raw(&x, b, h2 + 1 + n), LKVIDEO_PUT_BUFFERED);
        while (lkvideo_receiver_pop(x.r, &img, NULL) == 1)
            ;
    }
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_true(st.decode_errors > 0);
    uint16_t nack[8];
    bool pli = false;
    feedback(&x, nack, 8, &pli);
    assert_true(pli);
    /* the real stream still decodes after all that */
    x.nshown = 0;
    uint16_t seq = 200;
    for (unsigned i = 0; i < 5; i++) {
        for (size_t k = first_pkt[i]; k < first_pkt[i + 1]; k++) {
            assert_int_equal(put_as(&x, k, seq++), LKVIDEO_PUT_BUFFERED);
        }
        drain(&x);
    }
    assert_shown_range(&x, 0, 5);
    lkvideo_receiver_free(x.r);
}

/* livekit-server ends a subscription with a tiny keyframe. */
static void tiny_keyframe(void **state)
{
    rx x;
    rx_open(&x);
    deliver(&x, 0, 5, SIZE_MAX);
    encoder e;
    enc_open(&e, 8, 8);
    uint8_t frame[4096];
    size_t n = enc_frame(&e, 0, 0, true, frame, sizeof frame);
    enc_close(&e);
    unsigned w, h;
    assert_true(lkvp8_keyframe_size(frame, n, &w, &h));
    assert_int_equal(w, 8);
    assert_int_equal(h, 8);
    size_t before = npkts;
    uint16_t seq = (uint16_t)(SEQ0 + first_pkt[5]);
    packetize(frame, n, 5, &seq);
    for (size_t k = before; k < npkts; k++)
        assert_int_equal(put(&x, k), LKVIDEO_PUT_BUFFERED);
    npkts = before; /* the shared stream as it was */
    lkvp8_image img;
    uint32_t ts;
    assert_int_equal(lkvideo_receiver_pop(x.r, &img, &ts), 1);
    assert_int_equal(ts, 5 * TS_STEP);
    assert_int_equal(img.width, 8);
    assert_int_equal(img.height, 8);
    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(x.r, &st);
    assert_int_equal(st.width, 8);
    assert_int_equal(st.keyframes_decoded, 2);
    lkvideo_receiver_free(x.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order),
        cmocka_unit_test(reordered),
        cmocka_unit_test(lost_packet_nacked),
        cmocka_unit_test(lost_for_good),
        cmocka_unit_test(given_up_then_late),
        cmocka_unit_test(given_up_when_the_server_stops_resending),
        cmocka_unit_test(waited_for_while_the_server_fetches),
        cmocka_unit_test(broken_keyframe_asks_again),
        cmocka_unit_test(stalled_picture_asks_for_a_keyframe),
        cmocka_unit_test(padding_before_the_first_frame),
        cmocka_unit_test(one_packet_far_ahead_is_held_back),
        cmocka_unit_test(late_resends_in_a_row),
        cmocka_unit_test(joined_mid_stream),
        cmocka_unit_test(padding_between_frames),
        cmocka_unit_test(gap_between_frames),
        cmocka_unit_test(probe_padding_as_livekit_sends_it),
        cmocka_unit_test(duplicates),
        cmocka_unit_test(new_ssrc),
        cmocka_unit_test(invalid_payloads),
        cmocka_unit_test(tiny_keyframe),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
