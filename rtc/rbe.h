/*
 * rbe.h: a receiver's bandwidth estimate for REMB (goog-remb), from the
 * abs-send-time each video packet carries, sans-I/O. livekit-server, left
 * at its defaults, runs no estimate of its own towards a subscriber: it
 * stamps abs-send-time on what it forwards and picks the layers it sends
 * from the REMBs it gets (docs/research/congestion-control.md, section 2).
 *
 * The estimate is rtc/gcc's, fed on the receiving side: a packet's
 * departure is its abs-send-time (24 bits of 1/262144 s, unwrapped across
 * its 64 s wrap), its arrival our clock, every packet received (padding
 * included: the server's probes are padding, and they must count). The
 * acknowledged rate is then the incoming rate. As libwebrtc's, the
 * estimate is known from the first overuse (0.85 of what arrives) or
 * after 5 s of packets (what arrives then), and climbs from there at most
 * to 1.5 times what arrives; nothing is sent before. After a cut it holds
 * until what arrives has come down to 1.1 times it: livekit-server acts
 * on a REMB only once the series of them falls (Kendall's tau over the
 * last 8-12, equal values not counted), and a REMB climbing with what a
 * full link lets through, 1.5 times it, never showed it the fall (nor
 * failed its padding probes). A path that drops
 * at a full queue without a growing delay is left to the server's other
 * signal, the share of our NACKs.
 *
 * REMB: at once when the estimate falls 3 % or more below the last sent,
 * else every 200 ms (libwebrtc's pace), listing every SSRC heard in the
 * last 2 s (the server keeps a REMB only if it names one of its tracks
 * to us).
 *
 * Memory: none allocated. Threads: one thread, no locks.
 */
#ifndef LKRTC_RBE_H
#define LKRTC_RBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gcc.h"
#include "twcc.h"

enum {
    LKRBE_MAX_SSRCS = 8,  /* listed in a REMB: the newest heard */
    LKRBE_BATCH = 64,     /* packets handed to the estimate at once, at most */
};
#define LKRBE_MAX_BPS 30000000u
#define LKRBE_MIN_BPS 50000u

typedef struct lkrbe {
    lkgcc gcc;
    bool known;        /* an estimate to send */
    uint64_t first_ns; /* the first packet's arrival */
    /* abs-send-time, unwrapped */
    bool have_time;
    uint32_t last_t24;
    uint64_t t_ext;
    /* packets waiting for the estimate */
    lktwcc_result batch[LKRBE_BATCH];
    unsigned n_batch;
    uint64_t batch_since_ns;
    /* SSRCs heard, and when last */
    uint32_t ssrc[LKRBE_MAX_SSRCS];
    uint64_t heard_ns[LKRBE_MAX_SSRCS];
    unsigned n_ssrc;
    /* the last REMB */
    bool sent;
    uint32_t sent_bps;
    uint64_t sent_ns;
} lkrbe;

void lkrbe_init(lkrbe *r);

/* A video packet of size bytes (RTP, padding included) from ssrc, arrived
 * at now_ns, its abs-send-time t24. */
void lkrbe_on_packet(lkrbe *r, uint32_t ssrc, uint32_t t24, size_t size, uint64_t now_ns);

/* The estimate, bits per second (LKRBE_MAX_BPS until known). */
uint32_t lkrbe_estimate(const lkrbe *r);

/* A REMB from sender_ssrc if one is due at now_ns: its length in buf, 0
 * if none is due (the estimate not known yet, or no SSRC heard lately),
 * or a negative
 * LKRTP_E_* if buf is too small. */
int lkrbe_write_remb(lkrbe *r, uint32_t sender_ssrc, uint64_t now_ns, uint8_t *buf, size_t cap);

#endif
