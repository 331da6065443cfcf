/*
 * twcc.h: a sender's side of transport-wide congestion control
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01), sans-I/O: one
 * transport sequence number for every RTP packet that leaves on the
 * transport, whatever its SSRC (media, resends and padding alike,
 * numbered as they leave, not as they are made), a history of when each
 * left and how large it was, and the receiver's feedback matched against
 * that history: per packet, when it left, whether and when it arrived.
 * That is what a delay- and loss-based estimator reads
 * (docs/research/congestion-control.md has the plan around it).
 *
 * Feedback is what rtc/rtp's lkrtcp_parse_twcc read out of the packet. Its
 * 16-bit numbers are placed against the last number sent (the nearest at
 * or before it); numbers the history no longer holds, or never held, are
 * passed over. Arrival times are the receiver's clock, in microseconds:
 * the 24-bit reference time (64 ms units) is unwrapped from one feedback
 * to the next, so they only grow across feedbacks as the receiver's clock
 * does. A packet reported twice is reported once here: a second "lost"
 * adds nothing, "received" after "lost" is passed on (it came late), and
 * anything after "received" is a duplicate.
 *
 * Memory: one allocation at creation (the history); nothing per packet.
 * Threads: one thread, no locks.
 */
#ifndef LKRTC_TWCC_H
#define LKRTC_TWCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtp.h"

enum {
    /* Packets remembered: 4 s at 1000 packets a second, far more than the
     * server's feedback (every 50-130 ms) needs. A power of two. */
    LKTWCC_HISTORY = 4096,
};

typedef struct lktwcc_result {
    int64_t seq;        /* the transport sequence number, extended past 16 bits */
    uint64_t sent_ns;   /* when it left, on the caller's clock */
    uint32_t size;      /* the bytes the caller said it was */
    bool received;
    int64_t arrival_us; /* if received: on the receiver's clock, unwrapped */
} lktwcc_result;

typedef struct lktwcc_sender lktwcc_sender;

lktwcc_sender *lktwcc_sender_new(void);
void lktwcc_sender_free(lktwcc_sender *s);

/* A packet about to leave (after pacing, before SRTP), size bytes on the
 * wire: the number to stamp on it (lkrtp_add_transport_seq), recorded. */
uint16_t lktwcc_sender_sent(lktwcc_sender *s, uint64_t now_ns, uint32_t size);

/* One feedback (its header and the n statuses parsed from it): the packets
 * it tells something new of, in its order, into out. Each status gives at
 * most one result, so cap >= n takes all; past cap, statuses are left as
 * if not yet reported. Returns how many were written, or -1 for NULL
 * arguments. */
int lktwcc_sender_feedback(lktwcc_sender *s, const lkrtcp_twcc *fb, const lkrtcp_twcc_status *st,
                           size_t n, lktwcc_result *out, size_t cap);

#endif
