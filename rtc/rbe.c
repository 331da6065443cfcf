/*
 * rbe.c: a receiver's bandwidth estimate for REMB (see rbe.h).
 */
#include "rbe.h"

#include <string.h>

#include "rtp.h"

#define MS 1000000ull
static const uint64_t BATCH_NS = 20 * MS; /* the estimate hears of packets this often */
static const uint64_t REMB_EVERY_NS = 200 * MS;
static const uint64_t SSRC_STALE_NS = 2000 * MS;
static const uint64_t SETTLE_NS = 5000 * MS; /* libwebrtc's wait before a first estimate */

/* The estimate starts again at bps. The server is slow to follow a lower
 * REMB, so after a cut the estimate holds until it has. */
static void start_at(lkrbe *r, uint32_t bps)
{
    lkgcc_config cfg = {.start_bps = bps > LKRBE_MIN_BPS ? bps : LKRBE_MIN_BPS,
                        .min_bps = LKRBE_MIN_BPS, .max_bps = LKRBE_MAX_BPS,
                        .hold_after_cut = true};
    lkgcc_init(&r->gcc, &cfg);
}

void lkrbe_init(lkrbe *r)
{
    memset(r, 0, sizeof *r);
    start_at(r, LKRBE_MAX_BPS);
}

/* The estimate is known at the first overuse (the cut made it from what
 * arrives), or after SETTLE_NS of packets without one: then it starts
 * again from what arrives, and climbs from there. */
static void flush(lkrbe *r, uint64_t now_ns)
{
    if (!r->n_batch)
        return;
    lkgcc_on_feedback(&r->gcc, r->batch, r->n_batch, now_ns);
    r->n_batch = 0;
    if (r->known)
        return;
    if (lkgcc_usage(&r->gcc) == LKGCC_OVERUSE) {
        r->known = true;
    } else if (now_ns - r->first_ns >= SETTLE_NS && lkgcc_acked(&r->gcc)) {
        start_at(r, lkgcc_acked(&r->gcc));
        r->known = true;
    }
}

static void heard(lkrbe *r, uint32_t ssrc, uint64_t now_ns)
{
    unsigned oldest = 0;
    for (unsigned i = 0; i < r->n_ssrc; i++) {
        if (r->ssrc[i] == ssrc) {
            r->heard_ns[i] = now_ns;
            return;
        }
        if (r->heard_ns[i] < r->heard_ns[oldest])
            oldest = i;
    }
    unsigned at = r->n_ssrc < LKRBE_MAX_SSRCS ? r->n_ssrc++ : oldest;
    r->ssrc[at] = ssrc;
    r->heard_ns[at] = now_ns;
}

void lkrbe_on_packet(lkrbe *r, uint32_t ssrc, uint32_t t24, size_t size, uint64_t now_ns)
{
    t24 &= 0xffffff;
    if (!r->have_time) {
        r->have_time = true;
        r->first_ns = now_ns;
        r->t_ext = (uint64_t)1 << 40; /* room below for a packet sent before the first */
    } else {
        /* the nearest to the last: a step of +-32 s at most, so packets
         * reordered across the wrap unwrap right */
        int32_t step = (int32_t)((t24 - r->last_t24) << 8) >> 8;
        r->t_ext += (uint64_t)(int64_t)step;
    }
    r->last_t24 = t24;
    heard(r, ssrc, now_ns);
    if (!r->n_batch)
        r->batch_since_ns = now_ns;
    r->batch[r->n_batch++] = (lktwcc_result){
        .sent_ns = r->t_ext * 1953125u / 512u, /* 1e9 / 2^18 */
        .size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size,
        .received = true,
        .arrival_us = (int64_t)(now_ns / 1000u),
    };
    if (r->n_batch == LKRBE_BATCH || now_ns - r->batch_since_ns >= BATCH_NS)
        flush(r, now_ns);
}

uint32_t lkrbe_estimate(const lkrbe *r)
{
    return lkgcc_target(&r->gcc);
}

int lkrbe_write_remb(lkrbe *r, uint32_t sender_ssrc, uint64_t now_ns, uint8_t *buf, size_t cap)
{
    flush(r, now_ns);
    if (!r->known)
        return 0;
    uint32_t bps = lkrbe_estimate(r);
    bool fell = r->sent && (uint64_t)bps * 100 <= (uint64_t)r->sent_bps * 97;
    if (r->sent && !fell && now_ns - r->sent_ns < REMB_EVERY_NS)
        return 0;
    uint32_t ssrcs[LKRBE_MAX_SSRCS];
    uint8_t n = 0;
    for (unsigned i = 0; i < r->n_ssrc; i++)
        if (now_ns - r->heard_ns[i] < SSRC_STALE_NS)
            ssrcs[n++] = r->ssrc[i];
    if (!n)
        return 0;
    int len = lkrtcp_write_remb(buf, cap, sender_ssrc, bps, ssrcs, n);
    if (len > 0) {
        r->sent = true;
        r->sent_bps = bps;
        r->sent_ns = now_ns;
    }
    return len;
}
