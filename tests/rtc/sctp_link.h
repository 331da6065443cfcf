/*
 * sctp_link.h: two SCTP associations joined by a simulated link with a
 * seeded PRNG for loss, duplication and reordering, on a simulated clock.
 * Header-only, for test_sctp.c, test_datachannel.c and fuzz_sctp.c.
 */
#ifndef LK_TEST_SCTP_LINK_H
#define LK_TEST_SCTP_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sctp.h"

typedef struct lnk_pkt {
    struct lnk_pkt *next;
    uint64_t at;
    int to;
    size_t len;
    uint8_t data[];
} lnk_pkt;

typedef struct lnk lnk;

typedef struct lnk_side {
    lnk *l;
    int idx;
} lnk_side;

struct lnk {
    uint64_t now;
    uint64_t delay_ns;   /* one way */
    uint64_t rng;
    unsigned loss_pct, dup_pct, reorder_pct; /* per packet */
    bool blackhole[2];   /* drop everything sent by side i */
    lnk_pkt *q;          /* sorted by delivery time */
    lnk_side side[2];
    uint64_t sent[2], dropped[2];
    /* the endpoint each side delivers to: an lksctp, or via hooks */
    void (*deliver)(lnk *l, int to, const uint8_t *p, size_t n);
    uint64_t (*deadline)(lnk *l, int i);
    void (*timeout)(lnk *l, int i);
    void *user;
};

static inline uint32_t lnk_rand(lnk *l)
{
    /* xorshift64*: deterministic for a seed */
    l->rng ^= l->rng >> 12;
    l->rng ^= l->rng << 25;
    l->rng ^= l->rng >> 27;
    return (uint32_t)((l->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static inline void lnk_random_bytes_from(uint64_t *state, void *buf, size_t n)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(*state >> 56);
    }
}

static inline void lnk_enqueue(lnk *l, int to, const uint8_t *p, size_t n, uint64_t at)
{
    lnk_pkt *k = malloc(sizeof *k + n);
    if (!k)
        abort();
    k->at = at;
    k->to = to;
    k->len = n;
    memcpy(k->data, p, n);
    lnk_pkt **pp = &l->q;
    while (*pp && (*pp)->at <= at)
        pp = &(*pp)->next;
    k->next = *pp;
    *pp = k;
}

/* The send callback of side `from` (ctx: &l->side[from]). */
static inline void lnk_send(void *ctx, const uint8_t *p, size_t n)
{
    lnk_side *s = ctx;
    lnk *l = s->l;
    int to = 1 - s->idx;
    l->sent[s->idx]++;
    if (l->blackhole[s->idx] || (l->loss_pct && lnk_rand(l) % 100 < l->loss_pct)) {
        l->dropped[s->idx]++;
        return;
    }
    uint64_t at = l->now + l->delay_ns;
    if (l->reorder_pct && lnk_rand(l) % 100 < l->reorder_pct)
        at += l->delay_ns / 2 + lnk_rand(l) % (l->delay_ns + 1);
    lnk_enqueue(l, to, p, n, at);
    if (l->dup_pct && lnk_rand(l) % 100 < l->dup_pct)
        lnk_enqueue(l, to, p, n, at + 1000);
}

/* One step: the earliest event (a packet or a timer) happens. false if
 * nothing is left to happen before `limit`. */
static inline bool lnk_step(lnk *l, uint64_t limit)
{
    uint64_t t = l->q ? l->q->at : UINT64_MAX;
    for (int i = 0; i < 2; i++) {
        uint64_t d = l->deadline(l, i);
        if (d < t)
            t = d;
    }
    if (t == UINT64_MAX || t > limit)
        return false;
    if (t > l->now)
        l->now = t;
    while (l->q && l->q->at <= l->now) {
        lnk_pkt *k = l->q;
        l->q = k->next;
        l->deliver(l, k->to, k->data, k->len);
        free(k);
    }
    for (int i = 0; i < 2; i++)
        if (l->deadline(l, i) <= l->now)
            l->timeout(l, i);
    return true;
}

/* Runs until cond(l) holds or nothing happens before now + max_ns.
 * Returns cond's last value. */
static inline bool lnk_run(lnk *l, bool (*cond)(lnk *l), uint64_t max_ns)
{
    uint64_t limit = l->now + max_ns;
    for (;;) {
        if (cond && cond(l))
            return true;
        if (!lnk_step(l, limit))
            break;
    }
    if (l->now < limit && !cond)
        l->now = limit;
    return cond ? cond(l) : true;
}

static inline void lnk_clear(lnk *l)
{
    while (l->q) {
        lnk_pkt *k = l->q;
        l->q = k->next;
        free(k);
    }
}

#endif
