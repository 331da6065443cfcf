/*
 * twcc.c: transport sequence numbers out, feedback matched back (see
 * twcc.h).
 *
 * Numbers are kept extended to 64 bits: the slot of number q is
 * q % LKTWCC_HISTORY, and it holds q while q is among the last
 * LKTWCC_HISTORY sent. The reference time is kept extended likewise, in
 * 64 ms units.
 */
#include "twcc.h"

#include <stdlib.h>

_Static_assert((LKTWCC_HISTORY & (LKTWCC_HISTORY - 1)) == 0, "history: a power of two");

enum report_state {
    UNREPORTED = 0,
    REPORTED_LOST, /* a later "received" still counts: it came late */
    REPORTED_RECEIVED,
};

typedef struct entry {
    int64_t seq;
    uint64_t sent_ns;
    uint32_t size;
    uint8_t state;
} entry;

struct lktwcc_sender {
    int64_t next; /* the number the next packet gets */
    bool have_ref;
    int64_t ref;      /* the last reference time, extended (64 ms units) */
    entry hist[LKTWCC_HISTORY];
};

enum { REF_BITS = 24 };
static const int64_t REF_UNIT_US = 64000;

lktwcc_sender *lktwcc_sender_new(void)
{
    lktwcc_sender *s = calloc(1, sizeof *s);
    if (!s)
        abort(); /* the library's policy: out of memory aborts */
    for (size_t i = 0; i < LKTWCC_HISTORY; i++)
        s->hist[i].seq = -1;
    return s;
}

void lktwcc_sender_free(lktwcc_sender *s)
{
    free(s);
}

static entry *slot_of(lktwcc_sender *s, int64_t seq)
{
    return &s->hist[(uint64_t)seq & (LKTWCC_HISTORY - 1)];
}

uint16_t lktwcc_sender_sent(lktwcc_sender *s, uint64_t now_ns, uint32_t size)
{
    int64_t q = s->next++;
    *slot_of(s, q) = (entry){.seq = q, .sent_ns = now_ns, .size = size, .state = UNREPORTED};
    return (uint16_t)q;
}

/* The extension of a 16-bit number nearest the last one sent, at or
 * before it (a receiver cannot report what was not sent); -1 if none. */
static int64_t extend(const lktwcc_sender *s, uint16_t seq)
{
    if (s->next == 0)
        return -1;
    int64_t last = s->next - 1;
    int64_t q = last - (uint16_t)((uint16_t)last - seq);
    return q >= 0 ? q : -1;
}

/* The feedback's reference time, extended against the last one: the
 * nearest in either direction (feedback may come out of order). */
static int64_t extend_ref(lktwcc_sender *s, int32_t ref_time)
{
    int64_t raw = ref_time & ((1 << REF_BITS) - 1);
    if (!s->have_ref) {
        s->have_ref = true;
        s->ref = raw;
        return raw;
    }
    int64_t d = (raw - s->ref) & ((1 << REF_BITS) - 1);
    if (d >= 1 << (REF_BITS - 1))
        d -= 1 << REF_BITS;
    s->ref += d;
    return s->ref;
}

int lktwcc_sender_feedback(lktwcc_sender *s, const lkrtcp_twcc *fb, const lkrtcp_twcc_status *st,
                           size_t n, lktwcc_result *out, size_t cap)
{
    if (!s || !fb || (!st && n) || (!out && cap))
        return -1;
    /* lkrtcp_parse_twcc measured arrivals from the signed 24-bit reference */
    int64_t shift_us = (extend_ref(s, fb->ref_time) - fb->ref_time) * REF_UNIT_US;
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++) {
        int64_t q = extend(s, st[i].seq);
        if (q < 0)
            continue;
        entry *e = slot_of(s, q);
        if (e->seq != q) /* older than the history */
            continue;
        bool received = st[i].symbol != LKRTCP_TWCC_NOT_RECEIVED;
        if (e->state == REPORTED_RECEIVED || (!received && e->state == REPORTED_LOST))
            continue; /* nothing new */
        e->state = received ? REPORTED_RECEIVED : REPORTED_LOST;
        out[k++] = (lktwcc_result){.seq = q, .sent_ns = e->sent_ns, .size = e->size,
                                   .received = received,
                                   .arrival_us = received ? st[i].arrival_us + shift_us : 0};
    }
    return (int)k;
}
