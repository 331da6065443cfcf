/*
 * pacer.c: a ring of held packets and a debt that drains at the rate
 * (see pacer.h). A packet may leave while the debt is under a burst's
 * worth; leaving adds its size to the debt.
 */
#include "pacer.h"

#include <stdlib.h>
#include <string.h>

struct lkpacer {
    uint8_t *slots;
    size_t *lens;
    uint8_t *tags;
    size_t n_slots, slot_bytes;
    size_t head, n; /* the oldest held, and how many */
    uint32_t bps;
    double debt;      /* bytes sent and not yet paid for at the rate */
    uint64_t debt_at; /* when debt was last brought up to date */
};

lkpacer *lkpacer_new(size_t slots, size_t slot_bytes)
{
    if (!slots || !slot_bytes || slots > SIZE_MAX / slot_bytes)
        return NULL;
    lkpacer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->slots = malloc(slots * slot_bytes);
    p->lens = malloc(slots * sizeof *p->lens);
    p->tags = malloc(slots);
    if (!p->slots || !p->lens || !p->tags) {
        lkpacer_free(p);
        return NULL;
    }
    p->n_slots = slots;
    p->slot_bytes = slot_bytes;
    return p;
}

void lkpacer_free(lkpacer *p)
{
    if (!p)
        return;
    free(p->slots);
    free(p->lens);
    free(p->tags);
    free(p);
}

/* The debt at now: what the rate paid off since it was last counted. */
static void pay(lkpacer *p, uint64_t now)
{
    if (now > p->debt_at && p->debt > 0) {
        p->debt -= (double)p->bps / 8e9 * (double)(now - p->debt_at);
        if (p->debt < 0 || !p->bps)
            p->debt = 0;
    }
    if (now > p->debt_at)
        p->debt_at = now;
}

static double burst(const lkpacer *p)
{
    return (double)p->bps / 8000.0 * LKPACER_BURST_MS;
}

void lkpacer_set_rate(lkpacer *p, uint32_t bps)
{
    if (!p)
        return;
    /* the debt left is paid at the new rate from when it was last counted */
    p->bps = bps;
    if (!bps)
        p->debt = 0;
}

bool lkpacer_push(lkpacer *p, const uint8_t *pkt, size_t len, uint8_t tag)
{
    if (!p || !pkt || len > p->slot_bytes || p->n == p->n_slots)
        return false;
    size_t i = (p->head + p->n) % p->n_slots;
    memcpy(p->slots + i * p->slot_bytes, pkt, len);
    p->lens[i] = len;
    p->tags[i] = tag;
    p->n++;
    return true;
}

uint64_t lkpacer_next_ns(const lkpacer *p)
{
    if (!p || !p->n)
        return UINT64_MAX;
    double over = p->debt - burst(p);
    if (over < 0 || !p->bps || p->n == p->n_slots)
        return p->debt_at;
    return p->debt_at + (uint64_t)(over * 8e9 / p->bps) + 1;
}

uint8_t *lkpacer_front(lkpacer *p, uint64_t now_ns, size_t *len, uint8_t *tag)
{
    if (!p || !p->n)
        return NULL;
    pay(p, now_ns);
    if (p->n < p->n_slots && p->bps && p->debt >= burst(p))
        return NULL;
    *len = p->lens[p->head];
    *tag = p->tags[p->head];
    return p->slots + p->head * p->slot_bytes;
}

void lkpacer_pop(lkpacer *p, uint64_t now_ns)
{
    if (!p || !p->n)
        return;
    pay(p, now_ns);
    if (p->bps)
        p->debt += (double)p->lens[p->head];
    p->head = (p->head + 1) % p->n_slots;
    p->n--;
}

size_t lkpacer_queued(const lkpacer *p)
{
    return p ? p->n : 0;
}
