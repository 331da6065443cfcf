/*
 * vp8.h: the VP8 RTP payload (RFC 7741), sans-I/O: the payload
 * descriptor read and written, a coded frame cut into packets as
 * libwebrtc cuts it, and the few facts a receiver reads from a keyframe's
 * first bytes.
 *
 * Reading is as strict as livekit-server's (which drops what it cannot
 * parse): L (TL0PICIDX present) without T is malformed, and at least one
 * byte of VP8 data must follow the descriptor. The picture id comes in
 * either form (7 or 15 bits): the server rewrites ids of 127 or less in
 * the short form whatever the publisher wrote.
 *
 * Nothing here allocates or keeps state between calls.
 */
#ifndef LKRTC_VP8_H
#define LKRTC_VP8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    LKVP8_MAX_DESCRIPTOR = 6, /* X, I/L/T/K, two picture id bytes, TL0PICIDX, TID/Y/KEYIDX */
};

enum lkvp8_error {
    LKVP8_E_TRUNCATED = -1, /* shorter than its own bits say, or no VP8 data after it */
    LKVP8_E_MALFORMED = -2, /* L without T */
    LKVP8_E_NOSPACE = -3,   /* the caller's buffer is too small */
    LKVP8_E_INVALID = -4,   /* a bad argument */
};

typedef struct lkvp8_descriptor {
    bool non_reference; /* N: no other frame refers to this one */
    bool start;         /* S: the first packet of a partition */
    uint8_t partition;  /* PID, 0..7 (libwebrtc writes 0) */
    bool has_picture_id;
    bool long_picture_id; /* the 15-bit form (M) */
    uint16_t picture_id;  /* 0..127 or 0..32767 */
    bool has_tl0picidx;
    uint8_t tl0picidx;
    bool has_tid; /* T: tid and layer_sync are set */
    uint8_t tid;  /* 0..3 */
    bool layer_sync; /* Y */
    bool has_keyidx;
    uint8_t keyidx; /* 0..31 */
} lkvp8_descriptor;

/* The descriptor at the start of an RTP payload: its length (the VP8
 * data follows), or a negative LKVP8_E_*. */
int lkvp8_parse_descriptor(lkvp8_descriptor *d, const uint8_t *p, size_t n);
/* Its length, or LKVP8_E_NOSPACE / LKVP8_E_INVALID (a field out of range,
 * or L without T, which a reader refuses). X is written only when a field
 * needs it; the picture id goes long when asked or over 127. */
int lkvp8_write_descriptor(uint8_t *buf, size_t cap, const lkvp8_descriptor *d);

/* The first packet of a frame (S set, partition 0) whose VP8 data starts
 * a keyframe (bit 0 of its first byte clear). */
bool lkvp8_is_keyframe(const lkvp8_descriptor *d, const uint8_t *data, size_t n);
/* A keyframe's size, from its VP8 data (after the descriptor): false if
 * it is not a keyframe or too short to say (RFC 6386 9.1). */
bool lkvp8_keyframe_size(const uint8_t *data, size_t n, unsigned *width, unsigned *height);

/* Cutting a coded frame into packets as libwebrtc does: every packet's
 * payload is the descriptor and at most max_payload bytes in all, the
 * frame split into near-equal parts (the sizes differ by at most one
 * byte, the larger first) without regard to partitions; S is set on the
 * first packet only and PID is always 0. The RTP marker goes on the last
 * packet: the caller's. */
typedef struct lkvp8_packetizer {
    lkvp8_descriptor d; /* written before each part; start is set per packet */
    const uint8_t *frame;
    size_t len, sent;
    unsigned count, index;
    int desc_len;
} lkvp8_packetizer;

/* The number of packets (>= 1), or LKVP8_E_INVALID (an empty frame, a
 * descriptor write refuses or that does not fit max_payload with a byte of
 * data, NULL). The frame is read by each next call, not copied. */
int lkvp8_packetizer_init(lkvp8_packetizer *pz, const lkvp8_descriptor *d, const uint8_t *frame,
                          size_t len, size_t max_payload);
/* The next packet's payload (descriptor and data) into out: its length, 0
 * when all are written, or LKVP8_E_NOSPACE. *last tells whether it is the
 * frame's last packet (the RTP marker). */
int lkvp8_packetizer_next(lkvp8_packetizer *pz, uint8_t *out, size_t cap, bool *last);

#endif
