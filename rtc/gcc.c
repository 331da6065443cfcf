/*
 * gcc.c: the delay and loss bounds on the send rate (see gcc.h).
 *
 * Times inside are doubles in milliseconds where they feed the fit and
 * the threshold (as the constants are given), integers elsewhere.
 */
#include "gcc.h"

#include <math.h>
#include <string.h>

enum {
    GROUP_NS = 5000000,          /* departures within 5 ms make one group */
    ACKED_WINDOW_US = 500000,    /* the acknowledged rate's window */
    ACKED_MIN_SPAN_US = 100000,  /* less than this is not yet a rate */
    DECREASE_GAP_NS = 200000000, /* the delay bound is cut at most this often */
    LOSS_DOWN_GAP_NS = 300000000,
    MAX_SAMPLES = 60, /* the trend's multiplier stops growing here */
    LOSS_MIN_PACKETS = 20,
};

static const double SMOOTHING = 0.9;   /* of the accumulated delay */
static const double TREND_GAIN = 4.0;
static const double THRESHOLD_START = 12.5, THRESHOLD_MIN = 6, THRESHOLD_MAX = 600;
static const double K_UP = 0.0087, K_DOWN = 0.039;
static const double MAX_ADAPT_OFFSET = 15; /* a trend this far past the threshold does not move it */
static const double OVERUSE_MS = 10;
static const double BETA = 0.85;            /* the cut, of the acknowledged rate */
static const double INCREASE_PER_S = 1.08;
static const double ACKED_HEADROOM = 1.5;   /* the increase stops this far above the acknowledged */
static const double HOLD_OVER = 1.1;        /* after a cut, the sender has adapted below this */
static const double HOLD_DECAY_PER_S = 0.98; /* until then: a series that keeps falling */
static const double LOSS_LOW = 0.02, LOSS_HIGH = 0.10;

bool lkgcc_init(lkgcc *g, const lkgcc_config *cfg)
{
    if (!g || !cfg || !cfg->min_bps || cfg->min_bps > cfg->start_bps ||
        cfg->start_bps > cfg->max_bps)
        return false;
    memset(g, 0, sizeof *g);
    g->cfg = *cfg;
    g->delay_bps = g->loss_bps = cfg->start_bps;
    g->threshold = THRESHOLD_START;
    g->usage = LKGCC_NORMAL;
    return true;
}

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* --- the acknowledged rate ------------------------------------------------------------ */

static void ack(lkgcc *g, int64_t arrival_us, uint32_t size)
{
    unsigned i = (g->ack_head + g->ack_n) % LKGCC_ACKED;
    if (g->ack_n == LKGCC_ACKED)
        g->ack_head = (g->ack_head + 1) % LKGCC_ACKED;
    else
        g->ack_n++;
    g->ack_at[i] = arrival_us;
    g->ack_size[i] = size;
}

uint32_t lkgcc_acked(const lkgcc *g)
{
    if (!g->ack_n)
        return 0;
    int64_t latest = INT64_MIN, oldest = INT64_MAX;
    for (unsigned k = 0; k < g->ack_n; k++) {
        int64_t t = g->ack_at[(g->ack_head + k) % LKGCC_ACKED];
        latest = t > latest ? t : latest;
        oldest = t < oldest ? t : oldest;
    }
    int64_t from = latest - ACKED_WINDOW_US;
    int64_t span = oldest > from ? latest - oldest : ACKED_WINDOW_US;
    if (span < ACKED_MIN_SPAN_US)
        return 0;
    uint64_t bytes = 0;
    for (unsigned k = 0; k < g->ack_n; k++) {
        unsigned i = (g->ack_head + k) % LKGCC_ACKED;
        if (g->ack_at[i] > from)
            bytes += g->ack_size[i];
    }
    double bps = (double)bytes * 8e6 / (double)span;
    return bps > UINT32_MAX ? UINT32_MAX : (uint32_t)bps;
}

/* --- the trend and the detector --------------------------------------------------------- */

static double slope(const lkgcc *g)
{
    double mx = 0, my = 0;
    for (unsigned i = 0; i < LKGCC_WINDOW; i++) {
        mx += g->xs[i];
        my += g->ys[i];
    }
    mx /= LKGCC_WINDOW;
    my /= LKGCC_WINDOW;
    double num = 0, den = 0;
    for (unsigned i = 0; i < LKGCC_WINDOW; i++) {
        num += (g->xs[i] - mx) * (g->ys[i] - my);
        den += (g->xs[i] - mx) * (g->xs[i] - mx);
    }
    return den > 0 ? num / den : 0;
}

static void adapt_threshold(lkgcc *g, double m, int64_t now_us)
{
    if (!g->have_threshold_time) {
        g->have_threshold_time = true;
        g->last_threshold_us = now_us;
    }
    double a = fabs(m);
    if (a > g->threshold + MAX_ADAPT_OFFSET) { /* a spike: not a reason to move */
        g->last_threshold_us = now_us;
        return;
    }
    double k = a < g->threshold ? K_DOWN : K_UP;
    double dt = (double)(now_us - g->last_threshold_us) / 1000.0;
    dt = clamp(dt, 0, 100);
    g->threshold = clamp(g->threshold + k * (a - g->threshold) * dt, THRESHOLD_MIN, THRESHOLD_MAX);
    g->last_threshold_us = now_us;
}

/* One group's delay variation d (ms), its send spacing, its arrival. */
static void on_delta(lkgcc *g, double d, double send_delta_ms, int64_t arrival_us)
{
    if (!g->have_first) {
        g->have_first = true;
        g->first_arrival_us = arrival_us;
    }
    if (g->n_deltas < UINT32_MAX)
        g->n_deltas++;
    g->acc_ms += d;
    g->smoothed_ms = SMOOTHING * g->smoothed_ms + (1 - SMOOTHING) * g->acc_ms;
    g->xs[g->head] = (double)(arrival_us - g->first_arrival_us) / 1000.0;
    g->ys[g->head] = g->smoothed_ms;
    g->head = (g->head + 1) % LKGCC_WINDOW;
    if (g->n_window < LKGCC_WINDOW)
        g->n_window++;
    double trend = g->n_window == LKGCC_WINDOW ? slope(g) : g->prev_trend;

    if (g->n_deltas < 2) {
        g->prev_trend = trend;
        return;
    }
    double samples = g->n_deltas < MAX_SAMPLES ? g->n_deltas : MAX_SAMPLES;
    double m = samples * trend * TREND_GAIN;
    if (m > g->threshold) {
        g->overusing_ms = g->overuse_count ? g->overusing_ms + send_delta_ms : send_delta_ms / 2;
        g->overuse_count++;
        if (g->overusing_ms > OVERUSE_MS && g->overuse_count > 1 && trend >= g->prev_trend) {
            g->overusing_ms = 0;
            g->overuse_count = 0;
            g->usage = LKGCC_OVERUSE;
        }
    } else if (m < -g->threshold) {
        g->overuse_count = 0;
        g->usage = LKGCC_UNDERUSE;
    } else {
        g->overuse_count = 0;
        g->usage = LKGCC_NORMAL;
    }
    g->prev_trend = trend;
    adapt_threshold(g, m, arrival_us);
}

/* Received packets, in the feedback's order, into departure groups. */
static void group(lkgcc *g, uint64_t sent, int64_t arrival)
{
    if (g->in_group && sent < g->group_first_sent)
        return; /* sent before the group being built: reordered, left out */
    if (g->in_group && sent - g->group_first_sent <= GROUP_NS) {
        if (sent > g->group_last_sent)
            g->group_last_sent = sent;
        if (arrival > g->group_last_arrival)
            g->group_last_arrival = arrival;
        return;
    }
    if (g->in_group) {
        if (g->have_prev) {
            double send_ms = (double)(g->group_last_sent - g->prev_last_sent) / 1e6;
            double arrival_ms = (double)(g->group_last_arrival - g->prev_last_arrival) / 1000.0;
            on_delta(g, arrival_ms - send_ms, send_ms, g->group_last_arrival);
        }
        g->have_prev = true;
        g->prev_last_sent = g->group_last_sent;
        g->prev_last_arrival = g->group_last_arrival;
    }
    g->in_group = true;
    g->group_first_sent = g->group_last_sent = sent;
    g->group_last_arrival = arrival;
}

/* --- rate control --------------------------------------------------------------------- */

/* Seconds from a bound's last update to now, at most one (a long silence
 * is not a licence to jump); 0 before its first. */
static double since_update(bool had, uint64_t then, uint64_t now)
{
    return had ? clamp((double)(now - then) / 1e9, 0, 1) : 0;
}

/* After a cut, while a remote sender still sends more than 1.1 times
 * what the cut allowed, it has not adapted yet: an SFU acts on a REMB
 * once the series of them shows the fall, and a climb, or a flat run
 * (livekit-server counts equal values once), would tell it that its
 * excess fits. So the estimate decays meanwhile, whatever the queue does:
 * each REMB lower than the last, also when the SFU's look at the series
 * began after the cut (as it does at each padding probe). True if so. */
static bool hold_decays(lkgcc *g, uint32_t acked, double dt)
{
    if (!g->holding || acked <= HOLD_OVER * g->hold_bps)
        return false;
    g->delay_bps *= pow(HOLD_DECAY_PER_S, dt);
    return true;
}

static void update_delay_bound(lkgcc *g, uint32_t acked, uint64_t now)
{
    double dt = since_update(g->have_update, g->last_update_ns, now);
    switch (g->usage) {
    case LKGCC_OVERUSE:
        /* cut, then hold while the queue still grows: cut again only once
         * the last cut had time to show */
        if (!g->have_decrease || now - g->last_decrease_ns >= DECREASE_GAP_NS) {
            double cut = acked ? BETA * acked : BETA * g->delay_bps;
            if (cut < g->delay_bps)
                g->delay_bps = cut;
            g->have_decrease = true;
            g->last_decrease_ns = now;
            g->holding = g->cfg.hold_after_cut;
            g->hold_bps = g->delay_bps;
        } else {
            (void)hold_decays(g, acked, dt);
        }
        break;
    case LKGCC_NORMAL: {
        if (hold_decays(g, acked, dt))
            break;
        g->holding = false;
        double up = g->delay_bps * pow(INCREASE_PER_S, dt);
        if (acked) {
            double cap = ACKED_HEADROOM * acked + 10000;
            if (cap < g->demand_bps)
                cap = g->demand_bps;
            if (up > cap)
                up = cap > g->delay_bps ? cap : g->delay_bps; /* never cut by the cap */
        }
        g->delay_bps = up;
        break;
    }
    case LKGCC_UNDERUSE:
        (void)hold_decays(g, acked, dt); /* else the queue drains: hold */
        break;
    }
    g->last_update_ns = now;
    g->have_update = true;
}

/* Loss is judged over at least LOSS_MIN_PACKETS (libwebrtc's 20): one
 * packet lost of the few in a feedback is not yet a share. */
static void update_loss_bound(lkgcc *g, unsigned lost, unsigned total, uint64_t now)
{
    g->loss_lost += lost;
    g->loss_total += total;
    if (g->loss_total < LOSS_MIN_PACKETS)
        return;
    double ratio = (double)g->loss_lost / g->loss_total;
    g->loss_lost = g->loss_total = 0;
    /* the climb back after a cut: libwebrtc's 8 % a second, as the delay
     * bound's (faster, it runs the path's queue full between cuts) */
    double dt = since_update(g->have_loss_update, g->last_loss_update_ns, now);
    g->last_loss_update_ns = now;
    g->have_loss_update = true;
    if (ratio < LOSS_LOW) {
        g->loss_bps *= pow(INCREASE_PER_S, dt);
    } else if (ratio > LOSS_HIGH && now - g->last_loss_down_ns >= LOSS_DOWN_GAP_NS) {
        g->loss_bps *= 1 - 0.5 * ratio;
        g->last_loss_down_ns = now;
    }
}

void lkgcc_on_feedback(lkgcc *g, const lktwcc_result *res, size_t n, uint64_t now_ns)
{
    if (!g || (!res && n))
        return;
    unsigned lost = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        total++;
        if (!res[i].received) {
            lost++;
            continue;
        }
        ack(g, res[i].arrival_us, res[i].size);
        group(g, res[i].sent_ns, res[i].arrival_us);
    }
    update_delay_bound(g, lkgcc_acked(g), now_ns);
    update_loss_bound(g, lost, total, now_ns);
    double lo = g->cfg.min_bps, hi = g->cfg.max_bps;
    g->delay_bps = clamp(g->delay_bps, lo, hi);
    /* the loss bound never runs ahead of the delay bound: a cut for loss
     * starts from what is being sent */
    g->loss_bps = clamp(g->loss_bps < g->delay_bps ? g->loss_bps : g->delay_bps, lo, hi);
}

uint32_t lkgcc_target(const lkgcc *g)
{
    double t = g->delay_bps < g->loss_bps ? g->delay_bps : g->loss_bps;
    return (uint32_t)t;
}

enum lkgcc_usage lkgcc_usage(const lkgcc *g)
{
    return g->usage;
}

void lkgcc_set_demand(lkgcc *g, uint32_t bps)
{
    if (g)
        g->demand_bps = bps;
}

void lkgcc_set_max(lkgcc *g, uint32_t max_bps)
{
    if (!g || max_bps < g->cfg.min_bps)
        return;
    /* a bound at the old ceiling was never held down by the path: it
     * follows a higher one (a track added starts where the others are) */
    double old = g->cfg.max_bps;
    if (g->delay_bps >= old)
        g->delay_bps = max_bps;
    if (g->loss_bps >= old)
        g->loss_bps = max_bps;
    g->cfg.max_bps = max_bps;
    g->delay_bps = clamp(g->delay_bps, g->cfg.min_bps, max_bps);
    g->loss_bps = clamp(g->loss_bps, g->cfg.min_bps, max_bps);
}
