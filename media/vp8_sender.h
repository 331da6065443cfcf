/*
 * vp8_sender.h: a published video track's sending side (one layer: one
 * SSRC), sans-I/O: I420 pictures in, VP8 RTP packets (RFC 7741) out, a
 * history of what was sent to answer NACKs, keyframes on request, and the
 * material of the RTCP sender report.
 *
 * Coding: libvpx's VP8 encoder in real-time mode, one thread (g_threads 1:
 * the work runs on the caller's thread, libvpx starts none), rate control
 * CBR at the configured bitrate, error resilient, a keyframe when asked
 * (PLI, FIR) and otherwise only every 3000 frames. Pictures of another
 * size than the configured one are scaled to it (libyuv). Pictures coming
 * faster than max_framerate are dropped: they are taken on a schedule of
 * one per 1/max_framerate, a quarter of that early allowed, so input at
 * the cap with capture jitter all passes and faster input is thinned.
 *
 * Packets: one coded frame gives one or more packets, each at most
 * max_packet bytes of RTP (the caller's MTU less SRTP's trailer), cut by
 * rtc/vp8.h's packetizer: a 15-bit picture id in every packet, +1 per
 * frame, from a random start; the marker on a frame's last packet; every
 * packet of a frame with one 90 kHz timestamp, taken from the picture's
 * capture time (ts_base + capture_ns at 90 kHz, to the nearest tick, so
 * layers built with the same ts_base share one clock, as simulcast needs;
 * a capture time that goes back gives the last timestamp + 1). With mid
 * and rid extension ids, each packet carries sdes:mid and
 * sdes:rtp-stream-id (RFC 8843, RFC 8852), which simulcast layers need
 * for the server to bind them.
 *
 * History: the last LKVP8_HISTORY packets sent, exactly as sent, so a
 * NACK is answered on the same SSRC with the same sequence number (the
 * server negotiates no RTX with us; libsrtp's sender allows the repeat).
 * As libwebrtc's history: a packet whose picture is over a second old is
 * not sent again (a layer paused for a while is NACKed for its old losses
 * when it resumes: resending them only delays its keyframe), nor one sent
 * again less than LKVP8_RESEND_GAP_NS ago (a NACK repeated while the
 * resend is on its way; libwebrtc waits one round trip).
 *
 * Memory: the state and the history (about 600 KiB) at creation, libvpx's
 * encoder, and a scaling buffer the first time a picture needs it; nothing
 * per frame or packet.
 *
 * Threads: a sender belongs to one thread; no locks.
 */
#ifndef LKMEDIA_VP8_SENDER_H
#define LKMEDIA_VP8_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LKVP8_RESEND_MAX_AGE_NS 1000000000ull
#define LKVP8_RESEND_GAP_NS 100000000ull

enum {
    LKVP8_RATE = 90000,       /* the RTP clock */
    LKVP8_HISTORY = 512,      /* packets kept for NACKs: about 1 s at 4 Mbit/s */
    LKVP8_MAX_PACKET = 1200,  /* the largest max_packet: what a history slot holds */
    LKVP8_MIN_PACKET = 200,   /* the smallest */
    LKVP8_MAX_SR = 28 + 268,  /* the SR and an SDES with a 255-byte CNAME */
    /* What a config accepts (0 for either: the defaults). */
    LKVP8_MIN_BITRATE = 30000,     /* below this VP8 at any size is mush */
    LKVP8_MAX_BITRATE = 100000000, /* libvpx takes kbit/s in an unsigned int */
    LKVP8_MAX_FRAMERATE = 240,
};

enum lkvp8_sender_error {
    LKVP8S_E_INVALID = -1, /* NULL, a bad picture or config, a bad CNAME */
    LKVP8S_E_NOSPACE = -2, /* cap too small */
    LKVP8S_E_CODEC = -3,   /* libvpx failed (the picture is skipped) */
};

const char *lkvp8_sender_strerror(int err);

/* A picture in I420, read during the call only. */
typedef struct lkvp8_image {
    unsigned width, height;
    const uint8_t *y, *u, *v;
    unsigned stride_y, stride_u, stride_v;
} lkvp8_image;

typedef struct lkvp8_sender_config {
    uint32_t ssrc;
    uint8_t payload_type;    /* 96..127 */
    unsigned width, height;  /* the coded size, even, 16..16384 */
    uint32_t max_bitrate;    /* bits/s, 30000..100000000; 0: 1 Mbit/s */
    double max_framerate;    /* 1..240; 0: 30 */
    size_t max_packet;       /* RTP bytes per packet, LKVP8_MIN_PACKET..LKVP8_MAX_PACKET; 0: the most */
    uint8_t ext_mid_id;      /* 1..14: sdes:mid in every packet; 0: none */
    const char *mid;         /* 1..16 bytes, copied */
    uint8_t ext_rid_id;      /* 1..14: sdes:rtp-stream-id in every packet; 0: none */
    const char *rid;         /* 1..16 bytes, copied */
    /* 1..14: room in every packet for the transport-wide sequence number
     * (written 0: the sender stamps it as the packet leaves,
     * lkrtp_stamp_transport_seq); 0: none */
    uint8_t ext_twcc_id;
    /* The RTP timestamp of capture time 0: random unless fixed_start
     * (tests, and simulcast layers sharing one clock). */
    bool fixed_start;
    uint32_t ts_base;
    uint16_t first_seq;
    uint16_t first_picture_id; /* 0..32767 */
} lkvp8_sender_config;

typedef struct lkvp8_sender_stats {
    uint64_t frames_in;       /* pictures pushed */
    uint64_t frames_dropped;  /* over max_framerate, or dropped by libvpx's rate control */
    uint64_t frames_encoded;
    uint64_t keyframes;
    uint64_t packets_sent;
    uint64_t bytes_sent;      /* RTP payload bytes */
    uint64_t packets_resent;  /* answered NACKs */
    uint64_t nacks_missed;    /* asked for packets no longer (or never) in the history */
    uint64_t nacks_repeated;  /* asked again within LKVP8_RESEND_GAP_NS of a resend */
} lkvp8_sender_stats;

typedef struct lkvp8_sender lkvp8_sender;

/* NULL on a bad config or a libvpx failure, with the reason in err. */
lkvp8_sender *lkvp8_sender_new(const lkvp8_sender_config *cfg, char *err, size_t errlen);
void lkvp8_sender_free(lkvp8_sender *s);

/* Encodes a picture captured at capture_ns (monotonic). Returns how many
 * packets it gave (0: dropped), or a negative LKVP8S_E_*. The packets are
 * then taken with lkvp8_sender_next_packet, all before the next push. */
int lkvp8_sender_push(lkvp8_sender *s, const lkvp8_image *img, uint64_t capture_ns);
/* The next packet of the last push into out (cap at least max_packet):
 * its length, 0 when there is none left, or LKVP8S_E_NOSPACE. It is also
 * stored in the history. */
int lkvp8_sender_next_packet(lkvp8_sender *s, uint8_t *out, size_t cap);

/* The next picture pushed is coded as a keyframe. */
void lkvp8_sender_request_keyframe(lkvp8_sender *s);
/* Takes effect from the next picture; below 30 kbit/s counts as 30. */
void lkvp8_sender_set_bitrate(lkvp8_sender *s, uint32_t bits_per_second);

/* A NACKed packet from the history into out: its length; 0 if it is no
 * longer there, too old, or was resent too recently (see History); or
 * LKVP8S_E_NOSPACE. now_ns: the clock of the capture times pushed. */
int lkvp8_sender_resend(lkvp8_sender *s, uint16_t seq, uint64_t now_ns, uint8_t *out, size_t cap);

/* An RTCP compound: SR and SDES with this CNAME, at now_ns on the push
 * clock and ntp_now (NTP 32.32) on the wall clock; the SR's RTP time is
 * now_ns on the packets' clock. The length, 0 before the first packet, or
 * a negative LKVP8S_E_*. */
int lkvp8_sender_write_sr(lkvp8_sender *s, uint64_t now_ns, uint64_t ntp_now, uint8_t *buf,
                          size_t cap, const char *cname);

void lkvp8_sender_get_stats(const lkvp8_sender *s, lkvp8_sender_stats *st);

#endif
