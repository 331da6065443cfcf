/*
 * gcc.h: a send-side bandwidth estimate from transport-wide feedback, in
 * the manner of Google congestion control (draft-ietf-rmcat-gcc-02, and
 * libwebrtc's goog_cc for its constants), sans-I/O: the per-packet
 * results rtc/twcc matches (departure, size, arrival or lost) in, a target
 * bitrate out for the encoders to share.
 *
 * Delay: packets are grouped by departure (a group spans at most 5 ms);
 * between consecutive groups, the arrival spacing less the departure
 * spacing is how much the path's queue grew. Those, accumulated and
 * smoothed, are fitted by least squares over the last 20 groups; the slope
 * (times the number of samples, up to 60, and 4) is compared with a
 * threshold that follows it (12.5 ms to start, within 6..600 ms): above it
 * for 10 ms and two groups, rising, is overuse; below its negative,
 * underuse. Rate: overuse cuts the target to 0.85 of what the receiver
 * acknowledged over the last 500 ms; normal use raises it 8 % a second,
 * but never past 1.5 times the acknowledged rate (or the sender's demand,
 * lkgcc_set_demand), nor at all after a cut while a remote sender still
 * sends more than 1.1 times the cut (hold_after_cut: it decays 2 % a
 * second meanwhile, whatever the queue does); underuse holds it (the
 * queue is draining).
 *
 * Loss: the lost share of at least 20 packets; under 2 % the loss bound
 * rises 8 % a second, over 10 % it falls by half the share (at most every
 * 300 ms); the target is the lower of the two bounds.
 *
 * Not here (yet): the additive increase near a previous limit and
 * probing (libwebrtc's ramp-up helpers); audio, which
 * livekit-server's feedback does not cover.
 *
 * Clock: the caller's, for departures and now; arrivals are the
 * receiver's (only their differences are used).
 * Memory: none allocated; the state is the struct.
 * Threads: one thread, no locks.
 */
#ifndef LKRTC_GCC_H
#define LKRTC_GCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twcc.h"

enum {
    LKGCC_WINDOW = 20,   /* groups in the slope's fit */
    LKGCC_ACKED = 512,   /* received packets remembered for the acknowledged rate */
};

enum lkgcc_usage { LKGCC_NORMAL, LKGCC_OVERUSE, LKGCC_UNDERUSE };

typedef struct lkgcc_config {
    uint32_t start_bps, min_bps, max_bps;
    /* The sender is remote and slow to follow (an SFU reading our REMBs):
     * after a cut, the estimate decays 2 % a second until what arrives
     * shows the sender has come down to 1.1 times the cut. A sender that
     * is the caller follows at once, and a hold would only cost it the
     * acknowledged rate's lag. */
    bool hold_after_cut;
} lkgcc_config;

typedef struct lkgcc {
    lkgcc_config cfg;
    double delay_bps, loss_bps; /* the two bounds; the target is the lower */

    /* arrival groups */
    bool in_group, have_prev;
    uint64_t group_first_sent, group_last_sent;
    int64_t group_last_arrival;
    uint64_t prev_last_sent;
    int64_t prev_last_arrival;

    /* the trend */
    double acc_ms, smoothed_ms;
    int64_t first_arrival_us;
    bool have_first;
    double xs[LKGCC_WINDOW], ys[LKGCC_WINDOW];
    unsigned n_window, head, n_deltas;
    double prev_trend;

    /* the detector */
    double threshold;
    int64_t last_threshold_us;
    bool have_threshold_time;
    double overusing_ms;
    unsigned overuse_count;
    int64_t last_delta_arrival_us;
    enum lkgcc_usage usage;

    /* the acknowledged rate: received packets by arrival */
    int64_t ack_at[LKGCC_ACKED];
    uint32_t ack_size[LKGCC_ACKED];
    unsigned ack_head, ack_n;

    /* rate control */
    double demand_bps;
    uint64_t last_update_ns, last_decrease_ns;
    bool have_update, have_decrease;
    bool holding;    /* hold_after_cut: cut, and the sender not yet below 1.1 times it */
    double hold_bps; /* the cut */
    uint64_t last_loss_update_ns, last_loss_down_ns;
    bool have_loss_update;
    unsigned loss_lost, loss_total; /* since the loss bound last moved */
} lkgcc;

/* Bounds: min_bps <= start_bps <= max_bps, min_bps > 0; false otherwise. */
bool lkgcc_init(lkgcc *g, const lkgcc_config *cfg);

/* One feedback's results (rtc/twcc), received at now_ns. */
void lkgcc_on_feedback(lkgcc *g, const lktwcc_result *res, size_t n, uint64_t now_ns);

/* The target, bits per second, within the configured bounds. */
uint32_t lkgcc_target(const lkgcc *g);
/* What the receiver acknowledged over the last 500 ms of arrivals (0 until known). */
uint32_t lkgcc_acked(const lkgcc *g);
enum lkgcc_usage lkgcc_usage(const lkgcc *g);
/* What the sender would send if the target allowed it (the rate at which
 * its next layer comes on, say): the increase may run up to it even when
 * it is more than 1.5 times what the receiver acknowledges, so that a
 * sender held below a layer's minimum by its own estimate can try the
 * layer again (media as the probe). 0: no such demand. */
void lkgcc_set_demand(lkgcc *g, uint32_t bps);
/* A new ceiling (the layers' sum changed, say); the target is kept within
 * it, and a bound that stood at the old ceiling (the path never held it
 * down) moves to a higher one. Below min_bps: ignored. */
void lkgcc_set_max(lkgcc *g, uint32_t max_bps);

#endif
