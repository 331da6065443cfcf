/*
 * h264.h: the receiving side of the H.264 RTP payload (RFC 6184,
 * packetization-mode 1, as browsers and libwebrtc send it), sans-I/O:
 * each payload classified and appended to an access unit in Annex B form,
 * and the picture size a sequence parameter set announces.
 *
 * Mode 1 sends single NAL unit packets, STAP-A and FU-A only: STAP-B,
 * MTAP16/24, FU-B and the types 0, 30 and 31 are refused as unsupported.
 * Every NAL unit written starts with the 4-byte start code 00 00 00 01; an
 * FU-A fragment without S is its data alone, to follow the previous one in
 * sequence order (the caller's to keep). A payload is refused whole: a
 * STAP-A with one bad unit, an FU-A with S and E both set (RFC 6184 5.8) or
 * a fragment or unit whose NAL type is not 1..23 write nothing.
 *
 * Nothing here allocates or keeps state between calls.
 */
#ifndef LKRTC_H264_H
#define LKRTC_H264_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lkh264_error {
    LKH264_E_TRUNCATED = -1,   /* shorter than its type needs: a STAP-A or FU-A without data */
    LKH264_E_MALFORMED = -2,   /* contents that contradict themselves (see above) */
    LKH264_E_NOSPACE = -3,     /* the caller's buffer is too small */
    LKH264_E_INVALID = -4,     /* a bad argument */
    LKH264_E_UNSUPPORTED = -5, /* a payload type mode 1 never sends */
    LKH264_E_EMPTY = -6,       /* no bytes: padding, which the caller skips before asking */
};

/* NAL unit types (H.264 table 7-1) and the payload types of RFC 6184 the
 * receiver meets. */
enum {
    LKH264_NAL_SLICE = 1, /* a non-IDR slice */
    LKH264_NAL_IDR = 5,   /* a slice of an IDR picture: a keyframe */
    LKH264_NAL_SEI = 6,
    LKH264_NAL_SPS = 7,
    LKH264_NAL_PPS = 8,
    LKH264_NAL_AUD = 9,
    LKH264_STAP_A = 24,
    LKH264_FU_A = 28,
};

enum { LKH264_START_CODE = 4 }; /* 00 00 00 01, before every NAL unit written */

typedef struct lkh264_info {
    uint8_t type;   /* the payload header's type: 1..23, LKH264_STAP_A or LKH264_FU_A */
    bool begins;    /* begins a NAL unit: a single NAL, a STAP-A, an FU-A with S */
    bool ends;      /* ends one: a single NAL, a STAP-A, an FU-A with E */
    unsigned count; /* NAL units begun: 1, a STAP-A's units, 0 for an FU-A without S */
    /* 1 << type for every NAL unit the payload begins (an FU-A's is the type
     * its FU header carries): a keyframe has 1 << LKH264_NAL_IDR, an access
     * unit bringing a new size 1 << LKH264_NAL_SPS */
    uint32_t nal_types;
} lkh264_info;

/* What a payload is, without copying: the number of bytes
 * lkh264_depacketize would write for it (> 0), or a negative LKH264_E_*.
 * info (may be NULL) is zeroed on error. */
int lkh264_parse(const uint8_t *p, size_t n, lkh264_info *info);
/* The same, and the payload appended in Annex B form at out: the bytes
 * written, or a negative LKH264_E_* with nothing written (NOSPACE when
 * they do not fit cap). */
int lkh264_depacketize(const uint8_t *p, size_t n, uint8_t *out, size_t cap, lkh264_info *info);

/* The picture size an SPS announces (n bytes from its NAL header, type 7,
 * emulation prevention bytes in place), cropping applied (H.264 7.4.2.1.1).
 * False if it is cut before its cropping fields, holds a value out of its
 * range, or has a side over 1055 macroblocks (16880 samples), more than
 * any level allows (A.3.1). Reading stops after the cropping fields: a
 * cut after them still tells the size. */
bool lkh264_sps_size(const uint8_t *nal, size_t n, unsigned *width, unsigned *height);

/* The next NAL unit of an Annex B stream, from *pos (0 to start): true with
 * *nal and *nal_len set (the unit without its start code and the zero bytes
 * before the next one) and *pos past it, false when none is left. The
 * units split where a decoder splits them, at every 00 00 01. */
bool lkh264_next_nal(const uint8_t *au, size_t len, size_t *pos, const uint8_t **nal,
                     size_t *nal_len);
/* The size an access unit announces, to refuse one too large before a
 * decoder allocates for it: the largest width and the largest height over
 * every SPS in it. False when it has none or one of them is refused by
 * lkh264_sps_size. A decoder takes an SPS wherever it comes: ask for every
 * access unit whose packets had 1 << LKH264_NAL_SPS, keyframe or not. */
bool lkh264_au_size(const uint8_t *au, size_t len, unsigned *width, unsigned *height);

#endif
