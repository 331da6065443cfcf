/*
 * pacer.h: packets leave at a rate, not in bursts (libwebrtc's pacer),
 * sans-I/O.
 *
 * An encoder hands over a picture's packets at once: a keyframe is tens of
 * packets. Sent back to back they arrive at a narrow link's queue faster
 * than it drains and the tail is dropped, exactly when a subscriber
 * waits for that keyframe; the resends the losses cause then arrive the
 * same way. A pacer holds them and lets them leave at a rate the caller
 * sets (libwebrtc: 2.5 times the estimate), a burst's worth (BURST_MS of
 * the rate, at least one packet) at once.
 *
 * Packets are copied into a ring of slots and leave in the order they
 * came. The slot a packet leaves from is writable and as large as asked at
 * creation, so that the caller finishes it there (a header stamped, SRTP
 * appended) and sends it without another copy. A full ring never drops:
 * its oldest packet is due at once. Rate 0: nothing is held back.
 *
 * Memory: one allocation at creation (slots x slot bytes); nothing per
 * packet.
 * Threads: one thread, no locks.
 */
#ifndef LKRTC_PACER_H
#define LKRTC_PACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    /* What may leave at once, in time at the pacing rate: a little more
     * than libwebrtc's 5 ms process interval lets through, so that an
     * ordinary picture at an ample rate is not held at all. */
    LKPACER_BURST_MS = 20,
};

typedef struct lkpacer lkpacer;

/* slots packets of at most slot_bytes (the room a packet may need to grow
 * in included). NULL if out of memory or either is 0. */
lkpacer *lkpacer_new(size_t slots, size_t slot_bytes);
void lkpacer_free(lkpacer *p);

/* Bits per second; 0 lets everything leave at once. */
void lkpacer_set_rate(lkpacer *p, uint32_t bps);

/* A packet of len bytes (at most slot_bytes), with a caller's tag, held.
 * false if the ring is full (its oldest packet is then due: send it, as
 * below, and push again) or len is too large. */
bool lkpacer_push(lkpacer *p, const uint8_t *pkt, size_t len, uint8_t tag);

/* The oldest packet held, if it may leave at now: its slot (slot_bytes
 * long, the packet in its first *len bytes) and tag; NULL if none is due.
 * lkpacer_pop then counts it as sent and frees the slot. */
uint8_t *lkpacer_front(lkpacer *p, uint64_t now_ns, size_t *len, uint8_t *tag);
void lkpacer_pop(lkpacer *p, uint64_t now_ns);

/* When the oldest packet held may leave; UINT64_MAX when none is held. */
uint64_t lkpacer_next_ns(const lkpacer *p);
size_t lkpacer_queued(const lkpacer *p);

#endif
