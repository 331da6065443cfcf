/*
 * vp8_sender.c: I420 pictures to VP8 RTP packets (see vp8_sender.h).
 */
#include "vp8_sender.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libyuv/scale.h>
#include <openssl/rand.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#include "rtp.h"
#include "vp8.h"

enum {
    DEFAULT_BITRATE = 1000000,
    /* libvpx's clock counts a pause as at most this many frames (encode) */
    MAX_GAP_FRAMES = 3,
    MAX_SIDE = 16384,        /* VP8 codes 14 bits of width and height */
    MAX_VALUE = 16,          /* a one-byte extension element's data */
    PICTURE_ID_MOD = 32768,  /* the long (15-bit) picture id */
    /* Real-time speed, fixed: negative stops libvpx adapting it to its own
     * timing of the encoder, which would make output depend on the load of
     * a shared machine. 6 suits a couple of cores at 640x480. */
    CPU_USED = -6,
    /* A keyframe may take at most 9x a frame's share of the bitrate, so
     * one asked for by a PLI does not stall the stream behind it. */
    MAX_INTRA_PCT = 900,
    KF_MAX_DIST = 3000,
};

static const double DEFAULT_FRAMERATE = 30;

/* One sent packet, as sent, for NACKs. len 0: the slot is empty. */
typedef struct slot {
    uint16_t seq;
    uint16_t len;
    uint64_t capture_ns; /* its picture's */
    uint64_t resent_ns;  /* 0: never */
    uint8_t data[LKVP8_MAX_PACKET];
} slot;

struct lkvp8_sender {
    lkvp8_sender_config cfg;
    char mid[MAX_VALUE + 1], rid[MAX_VALUE + 1];
    size_t hdr_len; /* the RTP header with its extensions: the same for every packet */
    vpx_codec_ctx_t enc;
    vpx_codec_enc_cfg_t ecfg;
    vpx_image_t pic;    /* points at the caller's planes or at scaled */
    uint8_t *scaled;    /* cfg size, I420, allocated the first time it is needed */
    bool key_pending;
    /* timing: 90 kHz ticks since capture time 0 */
    bool encoded_any;
    int64_t last_ticks;
    int64_t vpx_pts;      /* libvpx's own clock (see encode) */
    uint64_t last_capture_ns;
    uint64_t next_due_ns; /* the framerate cap's schedule */
    uint64_t interval_ns;
    /* the frame being sent */
    lkvp8_packetizer pz;
    uint32_t frame_ts;
    uint16_t seq, picture_id;
    lkvp8_sender_stats st;
    slot history[LKVP8_HISTORY];
};

const char *lkvp8_sender_strerror(int err)
{
    switch (err) {
    case LKVP8S_E_INVALID:
        return "invalid argument";
    case LKVP8S_E_NOSPACE:
        return "buffer too small";
    case LKVP8S_E_CODEC:
        return "vp8 encoder failed";
    default:
        return err >= 0 ? "ok" : "unknown error";
    }
}

static void say(char *err, size_t errlen, const char *what, const char *detail)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

/* --- configuration ---------------------------------------------------------------- */

static bool good_value(uint8_t id, const char *v)
{
    if (!id)
        return true;
    size_t n = v ? strlen(v) : 0;
    return id <= 14 && n >= 1 && n <= MAX_VALUE;
}

static bool good_side(unsigned v)
{
    return v >= 16 && v <= MAX_SIDE && v % 2 == 0;
}

static const char *config_problem(const lkvp8_sender_config *c)
{
    if (!c)
        return "no config";
    if (c->payload_type < 96 || c->payload_type > 127)
        return "payload type must be 96..127";
    if (!good_side(c->width) || !good_side(c->height))
        return "width and height must be even, 16..16384";
    if (c->max_bitrate && (c->max_bitrate < LKVP8_MIN_BITRATE || c->max_bitrate > LKVP8_MAX_BITRATE))
        return "max_bitrate must be 0 or 30000..100000000";
    /* written so that NaN fails */
    if (!(c->max_framerate == 0 || (c->max_framerate >= 1 && c->max_framerate <= LKVP8_MAX_FRAMERATE)))
        return "max_framerate must be 0 or 1..240";
    if (c->max_packet && (c->max_packet < LKVP8_MIN_PACKET || c->max_packet > LKVP8_MAX_PACKET))
        return "max_packet must be 0 or 200..1200";
    if (!good_value(c->ext_mid_id, c->mid) || !good_value(c->ext_rid_id, c->rid))
        return "extension ids must be 1..14 with a value of 1..16 bytes";
    if (c->ext_twcc_id > 14)
        return "the transport-wide sequence extension id must be 0..14";
    uint8_t ids[3] = {c->ext_mid_id, c->ext_rid_id, c->ext_twcc_id};
    for (int i = 0; i < 3; i++)
        for (int k = i + 1; k < 3; k++)
            if (ids[i] && ids[i] == ids[k])
                return "each header extension needs an id of its own";
    if (c->fixed_start && c->first_picture_id >= PICTURE_ID_MOD)
        return "first_picture_id must be 0..32767";
    return NULL;
}

/* The config with its defaults filled in and its strings copied into s. */
static void take_config(lkvp8_sender *s, const lkvp8_sender_config *c)
{
    s->cfg = *c;
    if (!s->cfg.max_bitrate)
        s->cfg.max_bitrate = DEFAULT_BITRATE;
    if (s->cfg.max_framerate == 0)
        s->cfg.max_framerate = DEFAULT_FRAMERATE;
    if (!s->cfg.max_packet)
        s->cfg.max_packet = LKVP8_MAX_PACKET;
    if (c->ext_mid_id)
        snprintf(s->mid, sizeof s->mid, "%s", c->mid);
    if (c->ext_rid_id)
        snprintf(s->rid, sizeof s->rid, "%s", c->rid);
    s->cfg.mid = s->cfg.ext_mid_id ? s->mid : NULL;
    s->cfg.rid = s->cfg.ext_rid_id ? s->rid : NULL;
    s->interval_ns = (uint64_t)(1e9 / s->cfg.max_framerate);
}

/* RFC 3550 5.1: random starting points, against known-plaintext attacks
 * on the encryption; the picture id too, as libwebrtc does. */
static bool take_start(lkvp8_sender *s)
{
    if (s->cfg.fixed_start) {
        s->seq = s->cfg.first_seq;
        s->picture_id = s->cfg.first_picture_id;
        return true;
    }
    unsigned char r[8];
    if (RAND_bytes(r, sizeof r) != 1)
        return false;
    s->seq = (uint16_t)(r[0] << 8 | r[1]);
    s->cfg.ts_base = (uint32_t)r[2] << 24 | (uint32_t)r[3] << 16 | (uint32_t)r[4] << 8 | r[5];
    s->picture_id = (uint16_t)((r[6] << 8 | r[7]) % PICTURE_ID_MOD);
    return true;
}

/* Starts an RTP header with this sender's extensions: the caller ends it. */
static void begin_header(const lkvp8_sender *s, lkrtp_builder *b, uint8_t *buf, size_t cap,
                         const lkrtp_header *h)
{
    lkrtp_begin(b, buf, cap, h);
    if (s->cfg.ext_mid_id)
        lkrtp_add_ext(b, s->cfg.ext_mid_id, s->mid, strlen(s->mid));
    if (s->cfg.ext_rid_id)
        lkrtp_add_ext(b, s->cfg.ext_rid_id, s->rid, strlen(s->rid));
    if (s->cfg.ext_twcc_id)
        lkrtp_add_transport_seq(b, s->cfg.ext_twcc_id, 0); /* stamped as it leaves */
}

/* Every packet's header has the same length: measured once on a dummy. */
static int measure_header(const lkvp8_sender *s)
{
    uint8_t buf[LKVP8_MAX_PACKET];
    lkrtp_header h = {.payload_type = s->cfg.payload_type, .ssrc = s->cfg.ssrc};
    lkrtp_builder b;
    begin_header(s, &b, buf, sizeof buf, &h);
    return lkrtp_end(&b);
}

/* --- the encoder ------------------------------------------------------------------ */

static unsigned kbps(uint32_t bits_per_second)
{
    return (bits_per_second + 500) / 1000;
}

static vpx_codec_err_t encoder_config(lkvp8_sender *s)
{
    vpx_codec_enc_cfg_t *e = &s->ecfg;
    vpx_codec_err_t rc = vpx_codec_enc_config_default(vpx_codec_vp8_cx(), e, 0);
    if (rc != VPX_CODEC_OK)
        return rc;
    e->g_w = s->cfg.width;
    e->g_h = s->cfg.height;
    e->g_timebase.num = 1; /* pts in RTP ticks */
    e->g_timebase.den = LKVP8_RATE;
    e->g_threads = 1;
    e->g_lag_in_frames = 0; /* every picture out at once: real time */
    e->g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
    e->rc_end_usage = VPX_CBR;
    e->rc_target_bitrate = kbps(s->cfg.max_bitrate);
    e->rc_resize_allowed = 0; /* the coded size is the configured one */
    e->rc_dropframe_thresh = 0; /* frames are dropped by the framerate cap, not by libvpx */
    e->rc_min_quantizer = 2;
    e->rc_max_quantizer = 56;
    e->rc_undershoot_pct = 100;
    e->rc_overshoot_pct = 15;
    e->rc_buf_sz = 1000;
    e->rc_buf_initial_sz = 500;
    e->rc_buf_optimal_sz = 600;
    e->kf_mode = VPX_KF_AUTO;
    e->kf_min_dist = 0;
    e->kf_max_dist = KF_MAX_DIST;
    return VPX_CODEC_OK;
}

static vpx_codec_err_t encoder_controls(lkvp8_sender *s)
{
    vpx_codec_err_t rc;
    if ((rc = vpx_codec_control(&s->enc, VP8E_SET_CPUUSED, CPU_USED)) ||
        (rc = vpx_codec_control(&s->enc, VP8E_SET_NOISE_SENSITIVITY, 0)) ||
        (rc = vpx_codec_control(&s->enc, VP8E_SET_STATIC_THRESHOLD, 1)) ||
        (rc = vpx_codec_control(&s->enc, VP8E_SET_TOKEN_PARTITIONS, VP8_ONE_TOKENPARTITION)) ||
        (rc = vpx_codec_control(&s->enc, VP8E_SET_MAX_INTRA_BITRATE_PCT, MAX_INTRA_PCT)))
        return rc;
    return VPX_CODEC_OK;
}

static bool open_encoder(lkvp8_sender *s, char *err, size_t errlen)
{
    vpx_codec_err_t rc = encoder_config(s);
    if (rc != VPX_CODEC_OK) {
        say(err, errlen, "vpx_codec_enc_config_default", vpx_codec_err_to_string(rc));
        return false;
    }
    rc = vpx_codec_enc_init(&s->enc, vpx_codec_vp8_cx(), &s->ecfg, 0);
    if (rc != VPX_CODEC_OK) {
        say(err, errlen, "vpx_codec_enc_init", vpx_codec_err_to_string(rc));
        return false;
    }
    rc = encoder_controls(s);
    if (rc != VPX_CODEC_OK) {
        say(err, errlen, "vpx_codec_control", vpx_codec_error_detail(&s->enc));
        vpx_codec_destroy(&s->enc);
        return false;
    }
    return true;
}

lkvp8_sender *lkvp8_sender_new(const lkvp8_sender_config *cfg, char *err, size_t errlen)
{
    const char *why = config_problem(cfg);
    if (why) {
        say(err, errlen, why, NULL);
        return NULL;
    }
    lkvp8_sender *s = calloc(1, sizeof *s);
    if (!s)
        abort(); /* the library's policy: out of memory aborts */
    take_config(s, cfg);
    if (!take_start(s)) {
        say(err, errlen, "no random numbers for the RTP sequence and timestamp", NULL);
        free(s);
        return NULL;
    }
    int hl = measure_header(s);
    if (hl < 0) { /* cannot happen: the config was checked */
        say(err, errlen, "RTP header", lkrtp_strerror(hl));
        free(s);
        return NULL;
    }
    s->hdr_len = (size_t)hl;
    if (!open_encoder(s, err, errlen)) {
        free(s);
        return NULL;
    }
    s->key_pending = true;
    return s;
}

void lkvp8_sender_free(lkvp8_sender *s)
{
    if (!s)
        return;
    vpx_codec_destroy(&s->enc);
    free(s->scaled);
    free(s);
}

void lkvp8_sender_request_keyframe(lkvp8_sender *s)
{
    if (s)
        s->key_pending = true;
}

void lkvp8_sender_set_bitrate(lkvp8_sender *s, uint32_t bits_per_second)
{
    if (!s)
        return;
    if (bits_per_second < LKVP8_MIN_BITRATE)
        bits_per_second = LKVP8_MIN_BITRATE;
    if (bits_per_second > LKVP8_MAX_BITRATE)
        bits_per_second = LKVP8_MAX_BITRATE;
    s->ecfg.rc_target_bitrate = kbps(bits_per_second);
    /* libvpx applies it to the next frame; on failure the old rate stays */
    vpx_codec_enc_config_set(&s->enc, &s->ecfg);
}

/* --- pictures --------------------------------------------------------------------- */

static bool good_image(const lkvp8_image *img)
{
    if (!img || !img->y || !img->u || !img->v)
        return false;
    if (!img->width || !img->height || img->width > MAX_SIDE || img->height > MAX_SIDE)
        return false;
    unsigned cw = (img->width + 1) / 2;
    return img->stride_y >= img->width && img->stride_u >= cw && img->stride_v >= cw;
}

/* The vpx_image over three planes of the coded size (what vpx_img_wrap
 * would set, for planes that are not one block). */
static void point_picture(lkvp8_sender *s, const uint8_t *y, const uint8_t *u, const uint8_t *v,
                          unsigned sy, unsigned su, unsigned sv)
{
    vpx_image_t *p = &s->pic;
    memset(p, 0, sizeof *p);
    p->fmt = VPX_IMG_FMT_I420;
    p->w = p->d_w = s->cfg.width;
    p->h = p->d_h = s->cfg.height;
    p->bit_depth = 8;
    p->bps = 12;
    p->x_chroma_shift = p->y_chroma_shift = 1;
    /* libvpx reads through non-const pointers but does not write the source */
    p->planes[VPX_PLANE_Y] = (uint8_t *)y;
    p->planes[VPX_PLANE_U] = (uint8_t *)u;
    p->planes[VPX_PLANE_V] = (uint8_t *)v;
    p->stride[VPX_PLANE_Y] = (int)sy;
    p->stride[VPX_PLANE_U] = (int)su;
    p->stride[VPX_PLANE_V] = (int)sv;
}

/* A picture of another size, scaled into the buffer kept for it. */
static int scale_picture(lkvp8_sender *s, const lkvp8_image *img)
{
    unsigned w = s->cfg.width, h = s->cfg.height, cw = w / 2, ch = h / 2;
    if (!s->scaled) {
        s->scaled = malloc((size_t)w * h + 2 * (size_t)cw * ch);
        if (!s->scaled)
            abort();
    }
    uint8_t *y = s->scaled, *u = y + (size_t)w * h, *v = u + (size_t)cw * ch;
    if (I420Scale(img->y, (int)img->stride_y, img->u, (int)img->stride_u, img->v,
                  (int)img->stride_v, (int)img->width, (int)img->height, y, (int)w, u, (int)cw,
                  v, (int)cw, (int)w, (int)h, kFilterBox) != 0)
        return LKVP8S_E_INVALID;
    point_picture(s, y, u, v, w, cw, cw);
    return 0;
}

static int take_picture(lkvp8_sender *s, const lkvp8_image *img)
{
    if (img->width == s->cfg.width && img->height == s->cfg.height) {
        point_picture(s, img->y, img->u, img->v, img->stride_y, img->stride_u, img->stride_v);
        return 0;
    }
    return scale_picture(s, img);
}

/* 90 kHz ticks of a time in ns, rounded to the nearest (a 30 fps clock in
 * whole ns, 33333333 ns apart, then steps 3000 ticks, not 2999), without
 * overflowing for any uint64_t. */
static int64_t ticks_of(uint64_t ns)
{
    uint64_t sub = (ns % 1000000000 * LKVP8_RATE + 500000000) / 1000000000;
    return (int64_t)(ns / 1000000000 * LKVP8_RATE + sub);
}

/* The capture clock went back (it should not: it is monotonic). Such a
 * picture is not judged by a schedule from the future: it restarts it. */
static bool went_back(const lkvp8_sender *s, uint64_t capture_ns)
{
    return s->encoded_any && capture_ns < s->last_capture_ns;
}

/* The framerate cap: pictures are taken on a schedule of one per
 * interval, a quarter interval early allowed, so that input at the cap
 * with capture jitter is not thinned while faster input is. The schedule
 * carries a late picture's lateness over by at most one interval. */
static bool over_framerate(const lkvp8_sender *s, uint64_t capture_ns)
{
    if (!s->encoded_any || went_back(s, capture_ns))
        return false;
    uint64_t tolerance = s->interval_ns / 4;
    return capture_ns + tolerance < s->next_due_ns;
}

static void advance_schedule(lkvp8_sender *s, uint64_t capture_ns)
{
    bool restart = !s->encoded_any || went_back(s, capture_ns) ||
                   capture_ns > s->next_due_ns + s->interval_ns;
    s->next_due_ns = (restart ? capture_ns : s->next_due_ns) + s->interval_ns;
}

/* The picture's ticks: its capture time, but never at or before the last
 * frame's, so timestamps and libvpx's pts only go forward. */
static int64_t frame_ticks(const lkvp8_sender *s, uint64_t capture_ns)
{
    int64_t t = ticks_of(capture_ns);
    if (s->encoded_any && t <= s->last_ticks)
        t = s->last_ticks + 1;
    return t;
}

/* The coded frame of the last encode, or NULL if libvpx dropped it. */
static const vpx_codec_cx_pkt_t *coded_frame(lkvp8_sender *s)
{
    vpx_codec_iter_t it = NULL;
    const vpx_codec_cx_pkt_t *pkt, *frame = NULL;
    /* all are taken, so none is left for the next encode; with no lag
     * there is one frame at most */
    while ((pkt = vpx_codec_get_cx_data(&s->enc, &it)))
        if (pkt->kind == VPX_CODEC_CX_FRAME_PKT && !frame)
            frame = pkt;
    return frame;
}

/* Sets up the packets of a coded frame: their count. */
static int start_packets(lkvp8_sender *s, const vpx_codec_cx_pkt_t *f)
{
    lkvp8_descriptor d = {
        .start = true,
        .has_picture_id = true,
        .long_picture_id = true,
        .picture_id = s->picture_id,
    };
    s->picture_id = (uint16_t)((s->picture_id + 1) % PICTURE_ID_MOD);
    int n = lkvp8_packetizer_init(&s->pz, &d, f->data.frame.buf, f->data.frame.sz,
                                  s->cfg.max_packet - s->hdr_len);
    return n < 0 ? LKVP8S_E_CODEC : n;
}

/* libvpx's rate control takes the frame rate from its pts (the step from
 * one frame's pts + duration to the next's), and gives each frame that
 * rate's share of the bitrate. So it gets a clock of its own, as libwebrtc
 * gives it: a steady duration, and the capture gaps as they are, but a
 * pause (a muted or paused layer, a stalled source) counted as at most
 * MAX_GAP_FRAMES frames, or the frame after it, a keyframe as a rule,
 * would be given the whole pause's bits and leave in hundreds of
 * packets. */
static int encode(lkvp8_sender *s, int64_t ticks)
{
    int64_t frame = (int64_t)(LKVP8_RATE / s->cfg.max_framerate);
    if (s->encoded_any) {
        int64_t gap = ticks - s->last_ticks; /* at least 1 */
        s->vpx_pts += gap < MAX_GAP_FRAMES * frame ? gap : MAX_GAP_FRAMES * frame;
    }
    vpx_enc_frame_flags_t flags = s->key_pending ? VPX_EFLAG_FORCE_KF : 0;
    if (vpx_codec_encode(&s->enc, &s->pic, s->vpx_pts, (unsigned long)frame, flags,
                         VPX_DL_REALTIME) != VPX_CODEC_OK)
        return LKVP8S_E_CODEC;
    const vpx_codec_cx_pkt_t *f = coded_frame(s);
    if (!f || !f->data.frame.sz) {
        s->st.frames_dropped++;
        return 0;
    }
    if (f->data.frame.flags & VPX_FRAME_IS_KEY) {
        s->key_pending = false;
        s->st.keyframes++;
    }
    s->st.frames_encoded++;
    return start_packets(s, f);
}

int lkvp8_sender_push(lkvp8_sender *s, const lkvp8_image *img, uint64_t capture_ns)
{
    if (!s || !good_image(img))
        return LKVP8S_E_INVALID;
    memset(&s->pz, 0, sizeof s->pz); /* the last push's packets not taken are gone */
    s->st.frames_in++;
    if (over_framerate(s, capture_ns)) {
        s->st.frames_dropped++;
        return 0;
    }
    int rc = take_picture(s, img);
    if (rc < 0)
        return rc;
    int64_t ticks = frame_ticks(s, capture_ns);
    rc = encode(s, ticks);
    if (rc < 0)
        return rc;
    /* the schedule and the clock move on even for a frame libvpx dropped:
     * its time was spent */
    advance_schedule(s, capture_ns);
    s->last_ticks = ticks;
    s->last_capture_ns = capture_ns;
    s->encoded_any = true;
    s->frame_ts = s->cfg.ts_base + (uint32_t)ticks;
    return rc;
}

/* --- packets ---------------------------------------------------------------------- */

static void remember(lkvp8_sender *s, uint16_t seq, const uint8_t *pkt, size_t len)
{
    slot *sl = &s->history[seq % LKVP8_HISTORY];
    sl->seq = seq;
    sl->len = (uint16_t)len;
    sl->capture_ns = s->last_capture_ns;
    sl->resent_ns = 0;
    memcpy(sl->data, pkt, len);
}

int lkvp8_sender_next_packet(lkvp8_sender *s, uint8_t *out, size_t cap)
{
    if (!s || !out)
        return LKVP8S_E_INVALID;
    if (s->pz.index >= s->pz.count)
        return 0;
    if (cap < s->cfg.max_packet)
        return LKVP8S_E_NOSPACE;
    /* the payload first, after the header's room: the marker depends on it */
    bool last;
    int n = lkvp8_packetizer_next(&s->pz, out + s->hdr_len, s->cfg.max_packet - s->hdr_len, &last);
    if (n <= 0)
        return LKVP8S_E_CODEC; /* cannot happen: init sized the parts for this room */
    lkrtp_header h = {
        .marker = last,
        .payload_type = s->cfg.payload_type,
        .seq = s->seq,
        .timestamp = s->frame_ts,
        .ssrc = s->cfg.ssrc,
    };
    lkrtp_builder b;
    begin_header(s, &b, out, s->hdr_len, &h);
    if (lkrtp_end(&b) != (int)s->hdr_len)
        return LKVP8S_E_INVALID; /* cannot happen: measured at creation */
    size_t len = s->hdr_len + (size_t)n;
    remember(s, s->seq, out, len);
    s->seq++;
    s->st.packets_sent++;
    s->st.bytes_sent += (size_t)n;
    return (int)len;
}

int lkvp8_sender_resend(lkvp8_sender *s, uint16_t seq, uint64_t now_ns, uint8_t *out, size_t cap)
{
    if (!s || !out)
        return LKVP8S_E_INVALID;
    slot *sl = &s->history[seq % LKVP8_HISTORY];
    bool too_old = now_ns > sl->capture_ns && now_ns - sl->capture_ns > LKVP8_RESEND_MAX_AGE_NS;
    if (!sl->len || sl->seq != seq || too_old) {
        s->st.nacks_missed++;
        return 0;
    }
    if (sl->resent_ns && now_ns - sl->resent_ns < LKVP8_RESEND_GAP_NS) {
        s->st.nacks_repeated++;
        return 0;
    }
    if (cap < sl->len)
        return LKVP8S_E_NOSPACE;
    sl->resent_ns = now_ns ? now_ns : 1;
    memcpy(out, sl->data, sl->len);
    s->st.packets_resent++;
    return sl->len;
}

/* --- reports ---------------------------------------------------------------------- */

int lkvp8_sender_write_sr(lkvp8_sender *s, uint64_t now_ns, uint64_t ntp_now, uint8_t *buf,
                          size_t cap, const char *cname)
{
    if (!s || !buf || !cname)
        return LKVP8S_E_INVALID;
    size_t cname_len = strlen(cname);
    if (cname_len > 255)
        return LKVP8S_E_INVALID;
    if (!s->st.packets_sent)
        return 0;
    /* the packets' clock: capture time 0 is ts_base */
    lkrtcp_sr sr = {
        .ssrc = s->cfg.ssrc,
        .ntp = ntp_now,
        .rtp_timestamp = s->cfg.ts_base + (uint32_t)ticks_of(now_ns),
        .packets = (uint32_t)s->st.packets_sent, /* RFC 3550 6.4.1: the counts wrap */
        .octets = (uint32_t)s->st.bytes_sent,
    };
    int a = lkrtcp_write_sr(buf, cap, &sr);
    if (a < 0)
        return LKVP8S_E_NOSPACE;
    int b = lkrtcp_write_sdes_cname(buf + a, cap - (size_t)a, s->cfg.ssrc, cname, cname_len);
    if (b < 0)
        return LKVP8S_E_NOSPACE;
    return a + b;
}

void lkvp8_sender_get_stats(const lkvp8_sender *s, lkvp8_sender_stats *st)
{
    if (s && st)
        *st = s->st;
}
