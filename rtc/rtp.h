/*
 * rtp.h: RTP and RTCP wire formats (RFC 3550), sans-I/O, for the media of
 * a room: header extensions (RFC 8285), feedback (RFC 4585, RFC 5104,
 * transport-wide congestion control and REMB), demultiplexing (RFC 7983)
 * and the receiver statistics of a report block (RFC 3550 A.1, A.3, A.8).
 *
 * Nothing here allocates or keeps global state. Parsing never copies: a
 * parsed packet points into the bytes it came from, which must outlive it.
 * Writers fill a caller's buffer and return the length written, or a
 * negative LKRTP_E_*; parsers return 0 (or a count) or a negative LKRTP_E_*.
 * Payloads are never copied: an RTP writer writes the header only, and the
 * payload goes after it.
 */
#ifndef LKRTC_RTP_H
#define LKRTC_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lkrtp_error {
    LKRTP_E_TRUNCATED = -1, /* shorter than a header, or a length or count points past the end */
    LKRTP_E_VERSION = -2,   /* version is not 2 */
    LKRTP_E_PADDING = -3,   /* padding count 0, or more than there is */
    LKRTP_E_MALFORMED = -4, /* fields that contradict each other or the format */
    LKRTP_E_TYPE = -5,      /* not the packet type (or feedback format) this parser reads */
    LKRTP_E_NOSPACE = -6,   /* writer: the buffer is too small */
    LKRTP_E_INVALID = -7,   /* writer: an argument out of range */
    LKRTP_E_RANGE = -8,     /* TWCC writer: a receive delta does not fit 16 bits */
};

const char *lkrtp_strerror(int err);

/* --- demultiplexing (RFC 7983, RFC 5761 4) --------------------------------------- */

enum lkrtp_kind {
    LKRTP_NOT_RTP, /* STUN, DTLS, TURN channel data, or garbage */
    LKRTP_RTP,
    LKRTP_RTCP,
};

/* By the first two bytes only: version 2 is RTP or RTCP, and a second byte
 * of 192..223 (RTCP packet types 192..223; RTP payload types 64..95 with the
 * marker set, which RFC 5761 reserves) is RTCP. */
enum lkrtp_kind lkrtp_demux(const uint8_t *p, size_t n);

/* --- RTP ---------------------------------------------------------------------------- */

enum {
    LKRTP_HEADER_SIZE = 12,
    LKRTP_MAX_CSRC = 15,
    LKRTP_PROFILE_ONE_BYTE = 0xBEDE, /* RFC 8285 4.2 */
    LKRTP_PROFILE_TWO_BYTE = 0x1000, /* RFC 8285 4.3: 0x100X, X is "appbits" */
};

typedef struct lkrtp_header {
    bool marker;
    uint8_t payload_type; /* 0..127 */
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    uint8_t csrc_count; /* 0..15 */
    uint32_t csrc[LKRTP_MAX_CSRC];
} lkrtp_header;

typedef struct lkrtp_packet {
    lkrtp_header h;
    bool has_ext;         /* the X bit */
    uint16_t ext_profile; /* "defined by profile": 0xBEDE, 0x100X, or another */
    const uint8_t *ext;   /* the extension's data, after its 4-byte header */
    size_t ext_len;       /* a multiple of 4 */
    const uint8_t *payload;
    size_t payload_len;
    uint8_t padding;   /* padding bytes removed from the end (0: the P bit is clear) */
    size_t header_len; /* where the payload starts */
} lkrtp_packet;

/* 0, or LKRTP_E_TRUNCATED, _VERSION, _PADDING, _MALFORMED (an RFC 8285
 * element runs past the extension). */
int lkrtp_parse(lkrtp_packet *pkt, const uint8_t *p, size_t n);

/* One RFC 8285 extension element. */
typedef struct lkrtp_ext {
    uint8_t id;  /* 1..14 (one-byte form) or 1..255 (two-byte form) */
    uint8_t len; /* bytes of data: 1..16, or 0..255 in the two-byte form */
    const uint8_t *data;
} lkrtp_ext;

/* The elements in order: start with *pos = 0; true while one is returned.
 * Padding is skipped; an ID of 15 ends the one-byte form (RFC 8285 4.2).
 * Nothing for other profiles (their bytes are pkt->ext). */
bool lkrtp_ext_next(const lkrtp_packet *pkt, size_t *pos, lkrtp_ext *e);

/* The first element with this id: its data and length, or NULL. */
const uint8_t *lkrtp_ext_find(const lkrtp_packet *pkt, uint8_t id, size_t *len);

/* Common extensions' values, read from an element's data. False if absent
 * or too short. */
bool lkrtp_ext_audio_level(const lkrtp_packet *pkt, uint8_t id, bool *voice, uint8_t *level);
bool lkrtp_ext_abs_send_time(const lkrtp_packet *pkt, uint8_t id, uint32_t *t24);
bool lkrtp_ext_transport_seq(const lkrtp_packet *pkt, uint8_t id, uint16_t *seq);

/* Writing a header: begin, then any one-byte extension elements, then end.
 * The payload goes after the header's length; lkrtp_pad adds padding. */
typedef struct lkrtp_builder {
    uint8_t *buf;
    size_t cap, len;
    size_t ext_at; /* offset of the extension's 4-byte header; 0: none yet */
    int err;
} lkrtp_builder;

void lkrtp_begin(lkrtp_builder *b, uint8_t *buf, size_t cap, const lkrtp_header *h);
/* An element in the one-byte form: id 1..14, len 1..16. */
void lkrtp_add_ext(lkrtp_builder *b, uint8_t id, const void *data, size_t len);
/* RFC 6464: voice activity and the level in -dBov (0..127). */
void lkrtp_add_audio_level(lkrtp_builder *b, uint8_t id, bool voice, uint8_t level);
/* abs-send-time: 24 bits, seconds in 6.18 fixed point, from a clock in ns. */
void lkrtp_add_abs_send_time(lkrtp_builder *b, uint8_t id, uint64_t now_ns);
/* transport-wide-cc-extensions-01: the transport-wide sequence number. */
void lkrtp_add_transport_seq(lkrtp_builder *b, uint8_t id, uint16_t seq);
/* The number rewritten in a finished packet (n bytes at p) that carries
 * the element: packets get theirs as they leave, resends a new one.
 * False (p untouched) if the packet has no such element. */
bool lkrtp_stamp_transport_seq(uint8_t *p, size_t n, uint8_t id, uint16_t seq);
/* The header's length (the extension padded to 32 bits), or the first
 * error: LKRTP_E_NOSPACE, LKRTP_E_INVALID. */
int lkrtp_end(lkrtp_builder *b);

/* Pads a whole packet of len bytes with count bytes (1..255) and sets the P
 * bit: the new length, or LKRTP_E_NOSPACE / LKRTP_E_INVALID. */
int lkrtp_pad(uint8_t *pkt, size_t len, size_t cap, uint8_t count);

/* abs-send-time's 24-bit value for a clock in ns (wraps every 64 s). */
uint32_t lkrtp_abs_send_time(uint64_t ns);

/* --- RTCP: compound packets ------------------------------------------------------- */

enum {
    LKRTCP_SR = 200,
    LKRTCP_RR = 201,
    LKRTCP_SDES = 202,
    LKRTCP_BYE = 203,
    LKRTCP_APP = 204,
    LKRTCP_RTPFB = 205, /* RFC 4585 transport layer feedback */
    LKRTCP_PSFB = 206,  /* RFC 4585 payload-specific feedback */
    LKRTCP_XR = 207,
    /* feedback message types (the count field of RTPFB and PSFB) */
    LKRTCP_FMT_NACK = 1,  /* RTPFB, RFC 4585 6.2.1 */
    LKRTCP_FMT_TWCC = 15, /* RTPFB, transport-wide-cc-extensions-01 */
    LKRTCP_FMT_PLI = 1,   /* PSFB, RFC 4585 6.3.1 */
    LKRTCP_FMT_FIR = 4,   /* PSFB, RFC 5104 4.3.1 */
    LKRTCP_FMT_AFB = 15,  /* PSFB application layer feedback, e.g. REMB */
    LKRTCP_MAX_REPORTS = 31,
};

/* One packet of a compound. */
typedef struct lkrtcp_packet {
    uint8_t type;  /* LKRTCP_SR... */
    uint8_t count; /* RC, SC, or FMT */
    const uint8_t *body; /* after the 4-byte header, padding removed */
    size_t body_len;
    const uint8_t *raw; /* the packet as on the wire, header and padding */
    size_t raw_len;
} lkrtcp_packet;

typedef struct lkrtcp_iter {
    const uint8_t *p;
    size_t n, off;
    int err;
} lkrtcp_iter;

void lkrtcp_iter_init(lkrtcp_iter *it, const uint8_t *p, size_t n);
/* 1 with the next packet, 0 after the last, or a negative LKRTP_E_* (and
 * the same again on every later call): a header or a length past the end,
 * version, padding, or a packet too short for its type and count (a
 * zero-length SR, RR or feedback). Packets before an error were good. */
int lkrtcp_next(lkrtcp_iter *it, lkrtcp_packet *pkt);

/* A report block (RFC 3550 6.4.1). */
typedef struct lkrtcp_report {
    uint32_t ssrc;
    uint8_t fraction_lost;   /* lost / expected since the last report, 8.8 fixed point */
    int32_t cumulative_lost; /* 24 bits, signed (duplicates can make it negative) */
    uint32_t highest_seq;    /* extended highest sequence number received */
    uint32_t jitter;         /* interarrival jitter, timestamp units */
    uint32_t lsr;            /* middle 32 bits of the last SR's NTP time; 0: none */
    uint32_t dlsr;           /* delay since that SR, 1/65536 s */
} lkrtcp_report;

typedef struct lkrtcp_sr {
    uint32_t ssrc;
    uint64_t ntp;           /* NTP timestamp, 32.32 */
    uint32_t rtp_timestamp; /* the same instant in the media clock */
    uint32_t packets, octets;
    uint8_t n_reports;
    lkrtcp_report reports[LKRTCP_MAX_REPORTS];
} lkrtcp_sr;

typedef struct lkrtcp_rr {
    uint32_t ssrc;
    uint8_t n_reports;
    lkrtcp_report reports[LKRTCP_MAX_REPORTS];
} lkrtcp_rr;

typedef struct lkrtcp_bye {
    uint8_t n_ssrc;
    uint32_t ssrc[LKRTCP_MAX_REPORTS];
    const uint8_t *reason; /* NULL if none; not NUL-terminated */
    size_t reason_len;
} lkrtcp_bye;

/* Sender and media source of every RFC 4585 feedback message. */
typedef struct lkrtcp_fb {
    uint32_t sender_ssrc, media_ssrc;
} lkrtcp_fb;

typedef struct lkrtcp_nack {
    lkrtcp_fb fb;
    const uint8_t *fci; /* n_pairs (PID, BLP) pairs, 4 bytes each */
    size_t n_pairs;
} lkrtcp_nack;

typedef struct lkrtcp_fir_entry {
    uint32_t ssrc;
    uint8_t seq;
} lkrtcp_fir_entry;

typedef struct lkrtcp_fir {
    lkrtcp_fb fb;    /* media_ssrc is 0 (RFC 5104 4.3.1.2): entries name the sources */
    const uint8_t *fci; /* n entries, 8 bytes each */
    size_t n;
} lkrtcp_fir;

typedef struct lkrtcp_remb {
    lkrtcp_fb fb;
    uint64_t bitrate; /* bits per second (saturated at UINT64_MAX) */
    uint8_t n_ssrc;
    const uint8_t *ssrcs; /* n_ssrc, 4 bytes each */
} lkrtcp_remb;

/* Transport-wide CC feedback: the header, then one status per sequence
 * number from base_seq, base_seq + status_count - 1 (wrapping). */
typedef struct lkrtcp_twcc {
    lkrtcp_fb fb;
    uint16_t base_seq, status_count;
    int32_t ref_time; /* 24 bits signed, multiples of 64 ms */
    uint8_t fb_count;
} lkrtcp_twcc;

enum lkrtcp_twcc_symbol {
    LKRTCP_TWCC_NOT_RECEIVED = 0,
    LKRTCP_TWCC_SMALL_DELTA = 1, /* received, delta 0..63.75 ms */
    LKRTCP_TWCC_LARGE_DELTA = 2, /* received, delta 16 bits signed */
};

typedef struct lkrtcp_twcc_status {
    uint16_t seq;
    uint8_t symbol;     /* enum lkrtcp_twcc_symbol */
    int64_t arrival_us; /* if received: ref_time * 64 ms plus the deltas so far */
} lkrtcp_twcc_status;

/* Each parser takes a packet from lkrtcp_next and refuses, with
 * LKRTP_E_TYPE, one of another type or format. */
int lkrtcp_parse_sr(const lkrtcp_packet *pkt, lkrtcp_sr *sr);
int lkrtcp_parse_rr(const lkrtcp_packet *pkt, lkrtcp_rr *rr);
int lkrtcp_parse_bye(const lkrtcp_packet *pkt, lkrtcp_bye *bye);
int lkrtcp_parse_nack(const lkrtcp_packet *pkt, lkrtcp_nack *nack);
int lkrtcp_parse_pli(const lkrtcp_packet *pkt, lkrtcp_fb *pli);
int lkrtcp_parse_fir(const lkrtcp_packet *pkt, lkrtcp_fir *fir);
int lkrtcp_parse_remb(const lkrtcp_packet *pkt, lkrtcp_remb *remb);
/* The whole feedback is checked; the first cap statuses go to out. Returns
 * how many were written (min(cap, status_count)). */
int lkrtcp_parse_twcc(const lkrtcp_packet *pkt, lkrtcp_twcc *fb, lkrtcp_twcc_status *out,
                      size_t cap);

/* The sequence numbers a NACK asks for, in packet order: all of them are
 * counted, the first cap written (as snprintf does). */
size_t lkrtcp_nack_expand(const lkrtcp_nack *nack, uint16_t *seqs, size_t cap);
lkrtcp_fir_entry lkrtcp_fir_get(const lkrtcp_fir *fir, size_t i);
uint32_t lkrtcp_remb_ssrc(const lkrtcp_remb *remb, size_t i);

/* --- RTCP: writers ---------------------------------------------------------------- */
/* Each writes one packet at buf; a compound is several written end to end.
 * The length, or LKRTP_E_NOSPACE / LKRTP_E_INVALID. */

int lkrtcp_write_sr(uint8_t *buf, size_t cap, const lkrtcp_sr *sr);
int lkrtcp_write_rr(uint8_t *buf, size_t cap, const lkrtcp_rr *rr);
/* One chunk with a CNAME (RFC 3550 6.5.1), as every compound must carry. */
int lkrtcp_write_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname,
                            size_t len);
int lkrtcp_write_bye(uint8_t *buf, size_t cap, const uint32_t *ssrcs, size_t n,
                     const char *reason, size_t reason_len);
/* Packs the sequence numbers into (PID, BLP) pairs: in ascending order
 * (wrapping at 65535) they pack tightest; any order is still correct. */
int lkrtcp_write_nack(uint8_t *buf, size_t cap, const lkrtcp_fb *fb, const uint16_t *seqs,
                      size_t n);
int lkrtcp_write_pli(uint8_t *buf, size_t cap, const lkrtcp_fb *fb);
int lkrtcp_write_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc,
                     const lkrtcp_fir_entry *entries, size_t n);
int lkrtcp_write_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
                      const uint32_t *ssrcs, uint8_t n);

typedef struct lkrtcp_twcc_arrival {
    uint16_t seq;
    int64_t arrival_us; /* >= 0, any clock in microseconds */
} lkrtcp_twcc_arrival;

/* Feedback for packets received, in strictly ascending transport sequence
 * (wrapping; the gaps are reported lost), spanning at most 65535 numbers.
 * Arrival times are rounded down to 250 us; the reference time is the
 * first's, in 64 ms. LKRTP_E_RANGE if one packet's arrival is more than
 * 8.19 s from the previous one's: send those before it as one feedback. */
int lkrtcp_write_twcc(uint8_t *buf, size_t cap, const lkrtcp_fb *fb, uint8_t fb_count,
                      const lkrtcp_twcc_arrival *pkts, size_t n);

/* The "middle 32 bits" of an NTP timestamp, as LSR carries it. */
static inline uint32_t lkrtcp_ntp_middle(uint64_t ntp)
{
    return (uint32_t)(ntp >> 16);
}

/* --- receiver statistics (RFC 3550 A.1, A.3, A.8) ---------------------------------- */

/* One source's reception, updated per packet, read as a report block. */
typedef struct lkrtp_recv_stats {
    uint32_t ssrc;
    bool started;
    uint16_t max_seq;
    uint32_t cycles;   /* sequence number wraps, times 65536 */
    uint32_t base_seq; /* the first packet's */
    uint32_t bad_seq;  /* after a large jump: the number that would confirm a restart */
    uint32_t received, expected_prior, received_prior;
    uint32_t transit; /* of the last packet: arrival - timestamp */
    uint32_t jitter;  /* times 16 (A.8's integer form) */
} lkrtp_recv_stats;

enum lkrtp_recv_result {
    LKRTP_RECV_IN_ORDER, /* new highest sequence number (maybe after a gap) */
    LKRTP_RECV_LATE,     /* reordered or duplicate: counted, the highest unchanged */
    LKRTP_RECV_JUMP,     /* far from the highest: ignored, unless the next follows it */
    LKRTP_RECV_RESTART,  /* the second of such a jump: the statistics start over here */
};

void lkrtp_recv_init(lkrtp_recv_stats *s, uint32_t ssrc);
/* One packet: its sequence number, RTP timestamp and arrival time in the
 * same media clock. *ext_seq (may be NULL) gets its extended sequence
 * number, except for LKRTP_RECV_JUMP; a late packet from before the first
 * one across a wrap gets a negative one. */
enum lkrtp_recv_result lkrtp_recv_update(lkrtp_recv_stats *s, uint16_t seq, uint32_t rtp_ts,
                                         uint32_t arrival, int64_t *ext_seq);
/* A report block for what came since the last one (lsr and dlsr 0: the
 * caller knows the sender reports). Starts the next interval. */
void lkrtp_recv_report(lkrtp_recv_stats *s, lkrtcp_report *r);
/* Since the first packet (A.3): the extended highest sequence number, and
 * the packets expected less those received (negative with duplicates; not
 * clamped to a report block's 24 bits). Both 0 before it. */
uint32_t lkrtp_recv_highest(const lkrtp_recv_stats *s);
int64_t lkrtp_recv_lost(const lkrtp_recv_stats *s);

#endif
