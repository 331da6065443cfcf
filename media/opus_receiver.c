/*
 * opus_receiver.c: Opus RTP packets to 10 ms PCM blocks through an
 * adaptive jitter buffer (see opus_receiver.h).
 *
 * Every time here is in 48 kHz samples ("ticks"): RTP time is already,
 * and the caller's nanoseconds are converted on the way in, exactly, so
 * that arrival times and RTP times subtract without rounding drift.
 *
 * The model. A stream's RTP timestamps are unwrapped onto a 64-bit
 * timeline that starts at 0 at its first packet. A packet's offset is its
 * arrival time less its timeline position: constant on a perfect network,
 * larger the later the packet came. The fastest recent packet's offset is
 * the base; the playout offset is the pull's time less the position of
 * the sample it outputs first (the delay a listener hears). A packet is
 * needed by the pull whose 10 ms hold its first sample, which is lead
 * samples into them; it is in time when its offset is at most that
 * pull's time less its position: the slack, the playout offset less the
 * lead. So the controller keeps the slack near a high percentile of packet
 * offsets, and the lead small: with the lead at 0 (packets starting on a
 * pull's boundary, as silence leaves them) the delay heard is the slack.
 * Cutting or repeating a period changes the slack in steps of a whole
 * pull, or not at all: a cut no longer than the lead makes the delay
 * shorter for free, one longer costs 10 ms of slack. The caller's
 * clock and the sender's drift apart slowly; the base follows (it is the
 * minimum over the last 128 to 256 packets, not forever), and the
 * controller takes up the difference as it does jitter.
 *
 * Playout: decoded samples wait in a small PCM buffer whose end is the
 * timeline position dec_ts. A pull takes 480 samples from it, first
 * producing more where it runs short, one step at a time: the packet at
 * dec_ts decoded; or, when it is missing and we play earlier than the
 * target, 10 ms of concealment without advancing (the packet may be late
 * rather than lost: waiting grows the delay, as NetEq's expand does);
 * otherwise FEC from the next packet (when the gap is exactly the frame
 * its FEC covers), or concealment that advances (it is lost). Before
 * that, a pull whose playout offset is off target by more than a slack
 * cuts one pitch period out of the buffer or plays one twice, where the
 * signal repeats itself or is quiet (NetEq's accelerate and preemptive
 * expand, much simplified). libwebrtc's NetEq was read for behaviour only.
 *
 * Concealment: libopus's PLC keeps the decoder's state going, but on a
 * steady voiced sound (SILK's most of all) it fades by 15 dB or more
 * within its second 10 ms: every lost packet was a dip a listener hears
 * as a dropout. So where the signal before the loss repeats itself (a
 * pitch period, as the delay changes look for), its last period is
 * played again and again instead, at full level for 20 ms, then fading
 * to nothing at the concealment limit; it crossfades in from libopus's
 * concealment and out into the next decoded samples over 2.5 ms each. A
 * signal that does not repeat, or is quiet, gets libopus's concealment.
 * libopus conceals all the same, unheard, so that its state follows the
 * loss (a decoder not told decodes the next packet from a stale state:
 * tried, and worse); SILK then starts that packet at its concealment's
 * level and ramps it up over the frame, which is lifted back (lift()).
 */
#include "opus_receiver.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opus/opus.h>

enum {
    MS = LKOPUS_RATE / 1000, /* ticks per millisecond */
    BLOCK = LKOPUS_BLOCK,
    /* Opus's largest packet: 120 ms. */
    MAX_PACKET_SAMPLES = 120 * MS,
    /* Concealment comes in multiples of 2.5 ms, the shortest Opus frame:
     * libopus refuses any other length. */
    GRAIN = 120,
    /* The PCM buffer: decoding starts below 2 * LAG_MAX (what a delay
     * change needs to look at), one packet can add 120 ms, and a stretch
     * one period more. */
    LAG_MIN = 120, /* 2.5 ms: pitch up to 400 Hz */
    LAG_MAX = 360, /* 7.5 ms: down to 133 Hz; lower voices repeat at a multiple */
    PCM_CAP = 3 * LAG_MAX + MAX_PACKET_SAMPLES,
    NSEG = 32, /* runs of output kinds waiting in the PCM buffer */

    /* The offset histogram: 2 ms bins to just over the largest max delay. */
    BIN = 2 * MS,
    NBINS = 512,
    /* Before any packet, the estimate is as if one had come 30 ms after
     * the fastest: a start at a 30 ms target, safe against moderate jitter
     * until the histogram knows better (about 30 packets; NetEq starts at
     * 80 ms). */
    PRIOR_BIN = 14,
    /* The base: the minimum offset over two windows of this many packets. */
    MIN_WINDOW = 128,
    /* Slack aimed at beyond the QUANTILE: packets later than most, yet
     * not by much, are not lost for it (the tail a histogram of 2 s
     * learns late). */
    GUARD = 5 * MS,
    DEFAULT_MIN_DELAY_MS = 0,
    DEFAULT_MAX_DELAY_MS = 500,
    /* Grow only below target by this much; cut at a cost (a pull's worth
     * of slack) only with that much to spare, so that it never calls for
     * growing again; either at most every ADJUST_EVERY pulls. */
    GROW_SLACK = 5 * MS,
    ADJUST_EVERY = 3,
    /* A free cut is looked for at most every this many pulls: the search
     * costs tens of microseconds, and sound that does not repeat itself
     * would have it run at every pull. */
    FREE_CUT_EVERY = 10,
    /* Playing this far beyond the max delay (a caller that stopped pulling
     * for a while) drops what is too old at once. */
    RESYNC_SLACK = 100 * MS,
    /* A pull sooner is advised when the slack exceeds the target by at
     * least this, at most this much at a time (keeping a pull's interval
     * at 1 ms or more), and at most every SOONER_EVERY pulls (each time
     * the smoothed delay takes the move on trust; an advice not followed
     * is seen in the measure by then). */
    SOONER_MIN = 1 * MS,
    SOONER_MAX = BLOCK - 1 * MS,
    SOONER_EVERY = 50,
    /* Concealing longer than this fades to silence. */
    CONCEAL_LIMIT = 120 * MS,
    /* Concealment by repetition: what it looks at (the samples last
     * played and buffered), how long it stays at full level, and its
     * crossfades in and out. */
    PLAYED = 2 * LAG_MAX,
    EXPAND_FULL = 20 * MS,
    XFADE = GRAIN,
    LIFT_WINDOW = 2 * GRAIN,
    FADE_IN = 120,
    /* A packet whose offset is this far from the base belongs to another
     * timeline: the publisher restarted, or it is an outlier. */
    JUMP = 1000 * MS,
    /* The packet after such a jump confirms it when the two agree this well. */
    JUMP_AGREE = 200 * MS,
    /* This many packets in a row too late to play: the stream moved. */
    LATE_RUN = 10,
};

/* How fast the histogram forgets: per packet; 100 packets, 2 s of 20 ms
 * ones. A jitter burst's mass falls below the quantile's 3% in about 7 s:
 * the target comes down over seconds, not at once. */
static const double FORGET = 0.99;
/* The share of packets the target delay is to cover. */
static const double QUANTILE = 0.97;
/* Comfort noise after DTX stays silent below this mean square: -50 dBov,
 * the sender's voice threshold (RFC 6464's 0 dBov is a full-scale square). */
static const double GATE_MS = 32768.0 * 32768.0 * 1e-5;
/* Below this (-45 dBov) a cut needs no repetition to hide in. */
static const double QUIET_MS = 32768.0 * 32768.0 * 3.16227766e-5;
/* A cut needs the signal to repeat this well at the lag cut out. */
static const double CUT_CORRELATION = 0.9;
/* Concealment repeats the last period where the signal repeats this well. */
static const double EXPAND_CORRELATION = 0.6;

enum state {
    ST_SILENT, /* zeros out; the decoder idle; the playout point follows the target */
    ST_AUDIO,  /* decoding, concealing */
};

typedef struct slot {
    bool used;
    bool lbrr; /* carries FEC for the frame before it */
    bool dtx;  /* Opus's DTX: frames of no bytes */
    uint16_t len;
    int64_t ts;      /* timeline position */
    int32_t samples; /* its duration */
    int32_t frame;   /* samples per Opus frame: what its FEC can recover */
    uint8_t data[LKOPUS_RECV_MAX_PAYLOAD];
} slot;

typedef struct seg {
    int32_t n;
    uint8_t kind; /* enum lkopus_frame_kind */
} seg;

struct lkopus_receiver {
    OpusDecoder *dec;
    unsigned ch;
    int64_t min_delay, max_delay;

    /* the source */
    bool have_source;
    uint32_t ssrc;
    bool have_prev;
    uint32_t prev_ssrc;
    lkrtp_recv_stats rtp;

    /* its timeline */
    uint32_t base32;  /* the RTP timestamp at position 0 */
    int64_t ref_ts;   /* the highest position seen: what the next unwraps against */
    int64_t grid_ts;  /* the last packet stored: packets fall on its grid */
    bool cand;        /* a jump waits for confirmation */
    uint32_t cand_ts32;
    int64_t cand_t;
    unsigned late_run;

    /* the delay estimate */
    bool have_min;
    int64_t win_min[2];
    unsigned win_cur, win_n;
    int64_t min_offset; /* the base */
    int64_t hist_base;  /* bin 0's offset: the base, floored to a bin */
    double hist[NBINS];
    uint32_t hist_n;
    int64_t o_hi;   /* the offset QUANTILE of packets arrive within */
    int64_t target; /* the slack aimed at */

    /* playout */
    enum state st;
    bool gate;        /* silent after DTX: comfort noise stays silent */
    bool fade_in;     /* the next decoded packet starts sound after silence */
    int64_t dec_ts;   /* the timeline position after the PCM buffer's last sample */
    int64_t floor_ts; /* where the last decoding ended: silence never moves before it */
    int64_t delay_f;  /* the playout offset, smoothed */
    int64_t last_play_offset; /* at the last pull, for the stats */
    unsigned since_adjust;
    unsigned since_free_look; /* pulls since a free cut was last looked for */
    unsigned since_sooner;    /* pulls since a pull sooner was last advised */
    int64_t conceal_run;
    /* concealment by repetition: the period played again and again, and
     * where in it the next sample is */
    bool expanding;
    int32_t exp_lag, exp_pos;
    double exp_ms; /* the period's mean square */
    int16_t exp_period[LAG_MAX * 2];
    /* the last samples pulled, oldest first (played_n of them, at most PLAYED) */
    int32_t played_n;
    int16_t played[PLAYED * 2];
    int32_t pcm_len;
    int16_t pcm[PCM_CAP * 2];
    seg segs[NSEG];
    unsigned nseg;

    /* counters */
    uint64_t late, discarded, invalid, frames, concealed_frames, concealed_samples, fec_frames,
        silent_frames, inserted, removed;
    uint32_t restarts;

    slot slots[LKOPUS_RECV_SLOTS];
};

static void say(char *err, size_t errlen, const char *what, const char *detail)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

/* ns to ticks, exactly, for any uint64_t (no overflow: at most 2^50). */
static int64_t ticks_of(uint64_t ns)
{
    return (int64_t)(ns / 125000 * 6 + ns % 125000 * 6 / 125000);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return a % b && (a < 0) != (b < 0) ? q - 1 : q;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* --- payloads --------------------------------------------------------------------- */

typedef struct pinfo {
    int32_t samples, frame;
    bool lbrr, dtx;
} pinfo;

/* What the payload holds, or false if libopus would refuse it. The FEC
 * flag is read as RFC 6716 4.2.3 lays out SILK's header bits: one VAD
 * flag per 20 ms SILK frame and then the LBRR flag, each coded with
 * probability 1/2, which the range coder (4.1) puts in the first byte's
 * bits from the top; for stereo, the side channel's flags follow the
 * mid's. CELT-only packets carry no FEC. */
static bool packet_info(const uint8_t *p, size_t len, pinfo *pi)
{
    if (len < 1 || len > LKOPUS_RECV_MAX_PAYLOAD)
        return false;
    int n = opus_packet_get_nb_samples(p, (opus_int32)len, LKOPUS_RATE);
    if (n <= 0 || n > MAX_PACKET_SAMPLES)
        return false;
    const unsigned char *frames[48];
    opus_int16 sizes[48];
    int nf = opus_packet_parse(p, (opus_int32)len, NULL, frames, sizes, NULL);
    if (nf <= 0)
        return false;
    pi->samples = n;
    pi->frame = opus_packet_get_samples_per_frame(p, LKOPUS_RATE);
    pi->dtx = true;
    for (int i = 0; i < nf; i++)
        if (sizes[i] > 0)
            pi->dtx = false;
    pi->lbrr = false;
    unsigned config = p[0] >> 3;
    if (config < 16 && sizes[0] > 0) { /* SILK or hybrid */
        int silk_frames = pi->frame > 20 * MS ? pi->frame / (20 * MS) : 1;
        unsigned b = frames[0][0];
        pi->lbrr = (b >> (7 - silk_frames)) & 1;
        if (p[0] & 4) /* stereo */
            pi->lbrr |= (b >> (6 - 2 * silk_frames)) & 1;
    }
    return true;
}

/* --- the ring of packets ----------------------------------------------------------- */

static slot *earliest(lkopus_receiver *r)
{
    slot *e = NULL;
    for (size_t i = 0; i < LKOPUS_RECV_SLOTS; i++)
        if (r->slots[i].used && (!e || r->slots[i].ts < e->ts))
            e = &r->slots[i];
    return e;
}

static slot *find_ts(lkopus_receiver *r, int64_t ts)
{
    for (size_t i = 0; i < LKOPUS_RECV_SLOTS; i++)
        if (r->slots[i].used && r->slots[i].ts == ts)
            return &r->slots[i];
    return NULL;
}

static void drop_before(lkopus_receiver *r, int64_t ts)
{
    for (size_t i = 0; i < LKOPUS_RECV_SLOTS; i++)
        if (r->slots[i].used && r->slots[i].ts < ts) {
            r->slots[i].used = false;
            r->discarded++;
        }
}

/* A full ring drops its oldest packet, which may be the new one. */
static int store(lkopus_receiver *r, int64_t ts, const pinfo *pi, const uint8_t *p, size_t len)
{
    slot *s = NULL;
    for (size_t i = 0; i < LKOPUS_RECV_SLOTS && !s; i++)
        if (!r->slots[i].used)
            s = &r->slots[i];
    if (!s) {
        s = earliest(r);
        r->discarded++;
        if (ts < s->ts)
            return LKOPUS_PUT_OVERFLOW; /* the new one is the oldest */
    }
    *s = (slot){.used = true, .lbrr = pi->lbrr, .dtx = pi->dtx, .len = (uint16_t)len, .ts = ts,
                .samples = pi->samples, .frame = pi->frame};
    memcpy(s->data, p, len);
    r->grid_ts = ts;
    return LKOPUS_PUT_BUFFERED;
}

/* --- the delay estimate ------------------------------------------------------------ */

/* Keeps the histogram's bins on the base: when the base moves down by k
 * bins every packet seen so far was k bins later than binned, and the
 * other way round. What would leave the range piles up at its end. */
static void rebase_hist(lkopus_receiver *r)
{
    int64_t base = floor_div(r->min_offset, BIN) * BIN;
    int64_t k = (base - r->hist_base) / BIN;
    r->hist_base = base;
    if (k == 0)
        return;
    double old[NBINS];
    memcpy(old, r->hist, sizeof old);
    memset(r->hist, 0, sizeof r->hist);
    for (int64_t i = 0; i < NBINS; i++) {
        int64_t to = i - k;
        r->hist[to < 0 ? 0 : to >= NBINS ? NBINS - 1 : to] += old[i];
    }
}

static void update_target(lkopus_receiver *r)
{
    double total = 0, cum = 0;
    for (int i = 0; i < NBINS; i++)
        total += r->hist[i];
    int i = 0;
    for (; i < NBINS - 1; i++) {
        cum += r->hist[i];
        if (cum >= QUANTILE * total)
            break;
    }
    r->o_hi = r->hist_base + (int64_t)(i + 1) * BIN;
    r->target = min64(max64(r->o_hi + GUARD, r->min_offset + r->min_delay),
                      r->min_offset + r->max_delay);
}

/* Back to knowing nothing: the prior alone. */
static void reset_hist(lkopus_receiver *r)
{
    memset(r->hist, 0, sizeof r->hist);
    r->hist[PRIOR_BIN] = 1;
    r->hist_n = 1;
}

/* One packet's offset into the estimate: late packets too, since they are
 * the ones it must learn from. */
static void observe(lkopus_receiver *r, int64_t off)
{
    if (!r->have_min) {
        r->have_min = true;
        r->win_min[0] = r->win_min[1] = off;
        r->win_cur = r->win_n = 0;
        r->min_offset = off;
        r->hist_base = floor_div(off, BIN) * BIN;
    }
    if (off < r->win_min[r->win_cur])
        r->win_min[r->win_cur] = off;
    if (++r->win_n >= MIN_WINDOW) {
        r->win_cur ^= 1;
        r->win_min[r->win_cur] = INT64_MAX;
        r->win_n = 0;
    }
    int64_t m = min64(r->win_min[0], r->win_min[1]);
    if (m != r->min_offset) {
        r->min_offset = m;
        rebase_hist(r);
    }
    int64_t bin = (off - r->hist_base) / BIN;
    bin = bin < 0 ? 0 : bin >= NBINS ? NBINS - 1 : bin;
    /* At first an average of all so far, then forgetting at FORGET: the
     * first packets count fully instead of against a long memory. */
    double w = r->hist_n < (uint32_t)(1 / (1 - FORGET)) ? 1.0 / (r->hist_n + 1) : 1 - FORGET;
    if (r->hist_n < UINT32_MAX)
        r->hist_n++;
    for (int i = 0; i < NBINS; i++)
        r->hist[i] *= 1 - w;
    r->hist[bin] += w;
    update_target(r);
}

/* --- the PCM buffer ---------------------------------------------------------------- */

static int16_t *pcm_at(lkopus_receiver *r, int32_t i)
{
    return r->pcm + (size_t)i * r->ch;
}

static void add_seg(lkopus_receiver *r, uint8_t kind, int32_t n)
{
    if (n <= 0)
        return;
    if (r->nseg && r->segs[r->nseg - 1].kind == kind) {
        r->segs[r->nseg - 1].n += n;
    } else if (r->nseg == NSEG) { /* cannot happen with PCM_CAP; merged, the stronger kind */
        seg *s = &r->segs[NSEG - 1];
        s->n += n;
        if (kind > s->kind)
            s->kind = kind;
    } else {
        r->segs[r->nseg++] = (seg){.n = n, .kind = kind};
    }
    r->pcm_len += n;
}

/* Takes n samples off the front (the caller moves the samples): the
 * strongest kind among them. */
static uint8_t take_segs(lkopus_receiver *r, int32_t n)
{
    uint8_t kind = LKOPUS_FRAME_SILENCE;
    while (n > 0 && r->nseg) {
        seg *s = &r->segs[0];
        int32_t k = s->n < n ? s->n : n;
        if (s->kind > kind)
            kind = s->kind;
        s->n -= k;
        n -= k;
        if (s->n == 0)
            memmove(r->segs, r->segs + 1, --r->nseg * sizeof *r->segs);
    }
    return kind;
}

static void consume(lkopus_receiver *r, int32_t n)
{
    size_t ch = r->ch;
    if (n >= PLAYED) {
        memcpy(r->played, pcm_at(r, n - PLAYED), PLAYED * ch * sizeof *r->pcm);
    } else {
        memmove(r->played, r->played + (size_t)n * ch, (size_t)(PLAYED - n) * ch * sizeof *r->pcm);
        memcpy(r->played + (size_t)(PLAYED - n) * ch, r->pcm, (size_t)n * ch * sizeof *r->pcm);
    }
    r->played_n = r->played_n + n < PLAYED ? r->played_n + n : PLAYED;
    memmove(r->pcm, pcm_at(r, n), (size_t)(r->pcm_len - n) * r->ch * sizeof *r->pcm);
    r->pcm_len -= n;
}

static void fade(lkopus_receiver *r, int32_t from, int32_t n, bool in)
{
    for (int32_t i = 0; i < n; i++) {
        int32_t g = in ? i : n - i; /* of n */
        int16_t *s = pcm_at(r, from + i);
        for (unsigned c = 0; c < r->ch; c++)
            s[c] = (int16_t)(s[c] * g / n);
    }
}

static void zero(lkopus_receiver *r, int32_t from, int32_t n)
{
    memset(pcm_at(r, from), 0, (size_t)n * r->ch * sizeof *r->pcm);
}

static double mean_square(lkopus_receiver *r, int32_t from, int32_t n)
{
    double sum = 0;
    const int16_t *s = pcm_at(r, from);
    for (size_t i = 0; i < (size_t)n * r->ch; i++)
        sum += (double)s[i] * s[i];
    return n ? sum / ((double)n * r->ch) : 0;
}

/* --- periods: delay changes and concealment ------------------------------------ */

/* The normalized correlation of a[0, n) and b[0, n); 0 if either is silent. */
static double correlation(const float *a, const float *b, int32_t n)
{
    double c = 0, ea = 0, eb = 0;
    for (int32_t i = 0; i < n; i++) {
        c += (double)a[i] * b[i];
        ea += (double)a[i] * a[i];
        eb += (double)b[i] * b[i];
    }
    return ea > 0 && eb > 0 ? c / sqrt(ea * eb) : 0;
}

/* The lag at which x[0, 2 * LAG_MAX) repeats best (a pitch period, or a
 * multiple), with its normalized correlation in *corr and x's mean square
 * in *ms. A coarse search decimated by 4, then refined at the full rate. */
static int32_t best_lag(const float *x, double *corr, double *ms)
{
    float d[2 * LAG_MAX / 4];
    double energy = 0;
    for (int32_t i = 0; i < 2 * LAG_MAX; i++)
        energy += (double)x[i] * x[i];
    *ms = energy / (2 * LAG_MAX);
    for (int32_t j = 0; j < 2 * LAG_MAX / 4; j++)
        d[j] = x[4 * j] + x[4 * j + 1] + x[4 * j + 2] + x[4 * j + 3];
    double best = -2;
    int32_t coarse = LAG_MAX / 4;
    for (int32_t l = LAG_MIN / 4; l <= LAG_MAX / 4; l++) {
        double nc = correlation(d, d + l, LAG_MAX / 4);
        if (nc > best) {
            best = nc;
            coarse = l;
        }
    }
    best = -2;
    int32_t lag = 0;
    for (int32_t l = coarse * 4 - 3; l <= coarse * 4 + 3; l++) {
        if (l < LAG_MIN || l > LAG_MAX)
            continue;
        double nc = correlation(x, x + l, LAG_MAX);
        if (nc > best) {
            best = nc;
            lag = l;
        }
    }
    *corr = best;
    return lag;
}

/* The mono mix of a stereo sample, or the sample. */
static float mono(const lkopus_receiver *r, const int16_t *s)
{
    return r->ch == 2 ? (s[0] + s[1]) * 0.5f : s[0];
}

/* The lag at which the first 2 * LAG_MAX samples repeat best (a pitch
 * period, or a multiple), if well enough to cut one out or play one twice
 * unheard; any lag where it is too quiet to matter; 0 otherwise. */
static int32_t period(lkopus_receiver *r)
{
    float x[2 * LAG_MAX];
    for (int32_t i = 0; i < 2 * LAG_MAX; i++)
        x[i] = mono(r, pcm_at(r, i));
    double corr, ms;
    int32_t lag = best_lag(x, &corr, &ms);
    if (ms < QUIET_MS)
        return lag ? lag : LAG_MAX;
    return corr >= CUT_CORRELATION ? lag : 0;
}

/* Sample i of the PLAYED samples before buffer position at: from those
 * last pulled, then the buffer's (the caller knows there are enough). */
static const int16_t *before(lkopus_receiver *r, int32_t at, int32_t i)
{
    int32_t p = at - PLAYED + i;
    return p >= 0 ? pcm_at(r, p) : r->played + (size_t)(PLAYED + p) * r->ch;
}

/* Concealment about to start at buffer position at: by repetition if
 * what came before repeats itself well and is not quiet. */
static void start_expansion(lkopus_receiver *r, int32_t at)
{
    r->expanding = false;
    if (r->played_n + at < PLAYED)
        return;
    float x[PLAYED];
    for (int32_t i = 0; i < PLAYED; i++)
        x[i] = mono(r, before(r, at, i));
    double corr, ms;
    int32_t lag = best_lag(x, &corr, &ms);
    if (!lag || ms < QUIET_MS || corr < EXPAND_CORRELATION)
        return;
    for (int32_t i = 0; i < lag; i++)
        memcpy(r->exp_period + (size_t)i * r->ch, before(r, at, PLAYED - lag + i),
               r->ch * sizeof *r->pcm);
    r->exp_lag = lag;
    r->exp_pos = 0;
    r->exp_ms = 0;
    for (int32_t i = 0; i < lag * (int32_t)r->ch; i++)
        r->exp_ms += (double)r->exp_period[i] * r->exp_period[i];
    r->exp_ms /= (double)lag * r->ch;
    r->expanding = true;
}

/* The repetition's level, i samples into the concealment: full, then
 * fading to nothing at the limit. */
static int32_t expand_gain(int64_t i) /* of 1024 */
{
    if (i < EXPAND_FULL)
        return 1024;
    if (i >= CONCEAL_LIMIT)
        return 0;
    return (int32_t)((CONCEAL_LIMIT - i) * 1024 / (CONCEAL_LIMIT - EXPAND_FULL));
}

/* The repetition's next sample of channel c (the caller moves on). */
static int32_t expansion(const lkopus_receiver *r, unsigned c, int64_t i)
{
    return r->exp_period[(size_t)r->exp_pos * r->ch + c] * expand_gain(i) / 1024;
}

/* The n samples libopus concealed at at, replaced by the repetition; its
 * first XFADE samples of a run crossfade in from libopus's. */
static void expand(lkopus_receiver *r, int32_t at, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        int64_t k = r->conceal_run + i;
        int16_t *s = pcm_at(r, at + i);
        for (unsigned c = 0; c < r->ch; c++) {
            int32_t e = expansion(r, c, k);
            s[c] = (int16_t)(k < XFADE ? (s[c] * (XFADE - k) + e * k) / XFADE : e);
        }
        r->exp_pos = (r->exp_pos + 1) % r->exp_lag;
    }
}

/* The first packet decoded after libopus's concealment: SILK's starts
 * at that concealment's level (so low on a steady voiced sound) and
 * ramps up over the frame. Lifted back, window by window, to the level
 * before the loss and no higher, until it gets there by itself; gains
 * between window centres interpolated. A sound that really got quieter
 * just after a loss is lifted for that packet only. */
static void lift(lkopus_receiver *r, int32_t at, int32_t n)
{
    double gain[MAX_PACKET_SAMPLES / LIFT_WINDOW];
    int32_t nw = n / LIFT_WINDOW, w = 0;
    if (nw < 1 || nw > MAX_PACKET_SAMPLES / LIFT_WINDOW)
        return;
    for (; w < nw; w++) {
        double ms = mean_square(r, at + w * LIFT_WINDOW, LIFT_WINDOW);
        if (ms >= r->exp_ms * 0.8)
            break;
        gain[w] = ms > r->exp_ms * 0.01 ? sqrt(r->exp_ms / ms) : 10;
    }
    if (w == 0)
        return;
    for (int32_t k = w; k < nw; k++)
        gain[k] = 1;
    for (int32_t i = 0; i < n; i++) {
        /* between the centres of the windows around it */
        double x = (i + 0.5) / LIFT_WINDOW - 0.5;
        int32_t j = x < 0 ? 0 : (int32_t)x;
        if (j > w)
            break; /* at 1 from here on */
        int32_t j1 = j + 1 < nw ? j + 1 : nw - 1;
        double t = x < 0 ? 0 : x - j;
        double g = gain[j] + (gain[j1] - gain[j]) * t;
        int16_t *s = pcm_at(r, at + i);
        for (unsigned c = 0; c < r->ch; c++) {
            double v = s[c] * g;
            s[c] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
        }
    }
}

/* n decoded samples at at, after a repetition: lifted, then their first
 * XFADE samples crossfade from the repetition, as it would have gone on. */
static void end_expansion(lkopus_receiver *r, int32_t at, int32_t n)
{
    if (!r->expanding)
        return;
    r->expanding = false;
    lift(r, at, n);
    for (int32_t i = 0; i < n && i < XFADE; i++) {
        int16_t *s = pcm_at(r, at + i);
        for (unsigned c = 0; c < r->ch; c++)
            s[c] = (int16_t)((expansion(r, c, r->conceal_run + i) * (XFADE - i) + s[c] * i) /
                             XFADE);
        r->exp_pos = (r->exp_pos + 1) % r->exp_lag;
    }
}

/* --- decoding ------------------------------------------------------------------- */

static void go_silent(lkopus_receiver *r, bool gate, bool reset)
{
    r->st = ST_SILENT;
    r->expanding = false;
    r->gate = gate;
    r->fade_in = true;
    r->conceal_run = 0;
    r->floor_ts = r->dec_ts;
    if (reset)
        opus_decoder_ctl(r->dec, OPUS_RESET_STATE);
}

/* n samples of Opus's concealment (a multiple of GRAIN) onto the buffer;
 * advancing: they stand for the timeline's missing samples, not waiting
 * for them. */
static void conceal(lkopus_receiver *r, int32_t n, bool advance)
{
    int32_t at = r->pcm_len;
    if (r->conceal_run == 0)
        start_expansion(r, at);
    if (opus_decode(r->dec, NULL, 0, pcm_at(r, at), n, 0) != n)
        zero(r, at, n); /* cannot happen: n is a multiple of 2.5 ms */
    if (r->expanding)
        expand(r, at, n);
    add_seg(r, LKOPUS_FRAME_CONCEALED, n);
    r->concealed_samples += (uint64_t)n;
    r->conceal_run += n;
    if (advance)
        r->dec_ts += n;
    else
        r->inserted += (uint64_t)n;
    if (r->conceal_run >= CONCEAL_LIMIT) { /* n is at most BLOCK */
        fade(r, at, n, false);
        go_silent(r, false, true);
    }
}

/* The packet at the playout point, decoded after the buffer's end (the
 * caller adds it, with its kind) and removed: how many samples, or 0 if
 * libopus refused it after all (it is dropped and counted). */
static int32_t decode_slot(lkopus_receiver *r, slot *e)
{
    int n = opus_decode(r->dec, e->data, e->len, pcm_at(r, r->pcm_len), PCM_CAP - r->pcm_len, 0);
    e->used = false;
    if (n <= 0) {
        r->invalid++;
        return 0;
    }
    r->dec_ts = e->ts + n;
    r->floor_ts = r->dec_ts;
    return n;
}

/* A packet decoded while playing: sound, or, a DTX frame, the end of a
 * talkspurt, where what it decoded to fades out and gated silence follows. */
static void add_decoded(lkopus_receiver *r, int32_t n, bool dtx)
{
    int32_t at = r->pcm_len;
    end_expansion(r, at, n);
    r->conceal_run = 0;
    if (dtx) {
        int32_t f = n < BLOCK ? n : BLOCK;
        fade(r, at, f, false);
        zero(r, at + f, n - f);
    }
    add_seg(r, LKOPUS_FRAME_AUDIO, n);
    if (dtx)
        go_silent(r, true, false);
}

/* Leaving silence in the middle of an audio stream: fade out what waits
 * (made long enough to fade, by concealment, if it is not). */
static void fade_out_pending(lkopus_receiver *r)
{
    if (r->st != ST_AUDIO)
        return;
    if (r->pcm_len < BLOCK) {
        int32_t n = (BLOCK - r->pcm_len + GRAIN - 1) / GRAIN * GRAIN;
        int32_t at = r->pcm_len;
        if (opus_decode(r->dec, NULL, 0, pcm_at(r, at), n, 0) != n)
            zero(r, at, n);
        add_seg(r, LKOPUS_FRAME_CONCEALED, n);
        r->concealed_samples += (uint64_t)n;
    }
    fade(r, 0, BLOCK, false);
    /* the rest of the buffer is dropped, its kinds with it */
    r->pcm_len = BLOCK;
    int32_t keep = BLOCK;
    unsigned i = 0;
    for (; i < r->nseg && keep > 0; i++) {
        if (r->segs[i].n > keep)
            r->segs[i].n = keep;
        keep -= r->segs[i].n;
    }
    r->nseg = i;
}

/* --- sources and timelines ------------------------------------------------------- */

/* A new timeline starting at this RTP timestamp: what is buffered belongs
 * to the old one and goes; the sound fades out; the histogram keeps its
 * shape (the network did not change), its base comes from the new
 * packets. */
static void restart_timeline(lkopus_receiver *r, uint32_t base32)
{
    fade_out_pending(r);
    for (size_t i = 0; i < LKOPUS_RECV_SLOTS; i++)
        if (r->slots[i].used) {
            r->slots[i].used = false;
            r->discarded++;
        }
    r->base32 = base32;
    r->ref_ts = 0;
    r->grid_ts = 0;
    r->cand = false;
    r->late_run = 0;
    r->have_min = false;
    r->dec_ts = 0;
    go_silent(r, false, true);
    r->floor_ts = INT64_MIN / 4;
}

static void start_source(lkopus_receiver *r, uint32_t ssrc, uint32_t ts)
{
    if (r->have_source) {
        r->have_prev = true;
        r->prev_ssrc = r->ssrc;
        r->restarts++;
    }
    r->have_source = true;
    r->ssrc = ssrc;
    lkrtp_recv_init(&r->rtp, ssrc);
    restart_timeline(r, ts);
}

static int64_t unwrap(const lkopus_receiver *r, uint32_t ts)
{
    uint32_t rel = ts - r->base32;
    return r->ref_ts + (int32_t)(rel - (uint32_t)r->ref_ts);
}

/* --- put --------------------------------------------------------------------------- */

int lkopus_receiver_put(lkopus_receiver *r, uint32_t ssrc, uint16_t seq, uint32_t timestamp,
                        const uint8_t *payload, size_t len, uint64_t arrival_ns)
{
    if (!r || (!payload && len))
        return LKOPUS_E_INVALID;
    pinfo pi;
    if (!packet_info(payload, len, &pi)) {
        r->invalid++;
        return LKOPUS_PUT_INVALID;
    }
    int64_t t = ticks_of(arrival_ns);

    if (!r->have_source) {
        start_source(r, ssrc, timestamp);
    } else if (ssrc != r->ssrc) {
        if (r->have_prev && ssrc == r->prev_ssrc) {
            r->discarded++;
            return LKOPUS_PUT_STALE_SOURCE;
        }
        start_source(r, ssrc, timestamp);
    }
    enum lkrtp_recv_result seq_says = lkrtp_recv_update(&r->rtp, seq, timestamp, (uint32_t)t, NULL);

    int64_t ts = unwrap(r, timestamp);
    int64_t off = t - ts;
    if (r->have_min && (off - r->min_offset > JUMP || r->min_offset - off > JUMP)) {
        /* Its sequence number says whether it is an old packet come very
         * late (a little behind the highest) or a new timeline starting. */
        if (seq_says == LKRTP_RECV_LATE) {
            r->late++;
            r->discarded++;
            return LKOPUS_PUT_LATE;
        }
        int64_t agree = (t - r->cand_t) - (int32_t)(timestamp - r->cand_ts32);
        if (!r->cand || agree > JUMP_AGREE || agree < -JUMP_AGREE) {
            /* the first of a jump, or an outlier: held back, remembered */
            r->cand = true;
            r->cand_ts32 = timestamp;
            r->cand_t = t;
            r->discarded++;
            bool late = off > r->min_offset && ts < (r->st == ST_AUDIO ? r->dec_ts : r->floor_ts);
            if (late)
                r->late++;
            return late ? LKOPUS_PUT_LATE : LKOPUS_PUT_HELD_BACK;
        }
        /* confirmed: the stream goes on from the first of the two (which
         * was not kept) */
        r->restarts++;
        restart_timeline(r, r->cand_ts32);
        ts = unwrap(r, timestamp);
        off = t - ts;
    }
    r->cand = false;
    if (ts > r->ref_ts)
        r->ref_ts = ts;

    if (find_ts(r, ts)) {
        r->discarded++;
        return LKOPUS_PUT_DUPLICATE;
    }
    observe(r, off);
    if (ts < (r->st == ST_AUDIO ? r->dec_ts : r->floor_ts)) {
        if (++r->late_run < LATE_RUN) {
            r->late++;
            r->discarded++;
            return LKOPUS_PUT_LATE;
        }
        /* Too late, again and again: the stream's delay or its clock
         * moved beyond what the estimate can follow. Start over here,
         * with an estimate that has not learned from the transition. */
        r->restarts++;
        restart_timeline(r, timestamp);
        reset_hist(r);
        ts = 0;
        off = t;
        observe(r, off);
    }
    r->late_run = 0;
    return store(r, ts, &pi, payload, len);
}

int lkopus_receiver_put_rtp(lkopus_receiver *r, const lkrtp_packet *pkt, uint64_t arrival_ns)
{
    if (!r || !pkt)
        return LKOPUS_E_INVALID;
    return lkopus_receiver_put(r, pkt->h.ssrc, pkt->h.seq, pkt->h.timestamp, pkt->payload,
                               pkt->payload_len, arrival_ns);
}

/* --- pull -------------------------------------------------------------------------- */

/* In silence, the playout point is wherever the target puts it: on the
 * grid of the packets (so that they start on a pull's boundary: no lead),
 * never past the next packet waiting, never back before the last one
 * decoded. */
static void anchor(lkopus_receiver *r, int64_t now)
{
    slot *e = earliest(r);
    int64_t want = now - r->target;
    int64_t grid = e ? e->ts : r->grid_ts;
    want = grid + floor_div(want - grid, BLOCK) * BLOCK; /* on the grid, at or before */
    if (e && want > e->ts)
        want = e->ts;
    if (want < r->floor_ts)
        want = r->floor_ts;
    r->dec_ts = want;
    r->delay_f = now - (r->dec_ts - r->pcm_len);
}

/* Cuts lag samples out of the buffer's front: its first lag samples
 * crossfade into the lag after them, so the output runs on from the last
 * sample pulled and joins the signal a period later in phase. */
static void cut(lkopus_receiver *r, int32_t lag)
{
    for (int32_t i = 0; i < lag; i++) {
        int16_t *a = pcm_at(r, i);
        const int16_t *b = pcm_at(r, i + lag);
        for (unsigned c = 0; c < r->ch; c++)
            a[c] = (int16_t)((a[c] * (lag - i) + b[c] * i) / lag);
    }
    memmove(pcm_at(r, lag), pcm_at(r, 2 * lag),
            (size_t)(r->pcm_len - 2 * lag) * r->ch * sizeof *r->pcm);
    (void)take_segs(r, lag);
    r->pcm_len -= lag;
    r->removed += (uint64_t)lag;
    r->delay_f -= lag;
    r->since_adjust = 0;
}

/* The opposite: the buffer's first lag samples played twice, the second
 * time crossfading back into where they continue, so the output runs on
 * from the last sample pulled and rejoins the signal a period on. */
static void stretch(lkopus_receiver *r, int32_t lag)
{
    memmove(pcm_at(r, 2 * lag), pcm_at(r, lag),
            (size_t)(r->pcm_len - lag) * r->ch * sizeof *r->pcm);
    for (int32_t i = 0; i < lag; i++) {
        int16_t *a = pcm_at(r, lag + i);
        const int16_t *b = pcm_at(r, i), *c = pcm_at(r, 2 * lag + i);
        for (unsigned k = 0; k < r->ch; k++)
            a[k] = (int16_t)((c[k] * (lag - i) + b[k] * i) / lag);
    }
    r->segs[0].n += lag; /* of the first run's kind */
    r->pcm_len += lag;
    r->inserted += (uint64_t)lag;
    r->delay_f += lag;
    r->since_adjust = 0;
}

/* The samples this pull plays before the next packet's first (packets
 * last whole pulls: their boundaries stay where cuts and repeats put them). */
static int64_t lead(const lkopus_receiver *r)
{
    return r->pcm_len % BLOCK;
}

/* Slack below the target by more than GROW_SLACK: play a period twice.
 * A cut: for free while it fits in the lead; else only with a pull's
 * worth of slack to spare. */
static void maybe_adjust(lkopus_receiver *r)
{
    int64_t ahead = lead(r);
    int64_t slack = r->delay_f - ahead;
    bool grow = slack < r->target - GROW_SLACK;
    bool costly_cut = slack >= r->target + BLOCK;
    bool free_cut = ahead >= LAG_MIN && ++r->since_free_look >= FREE_CUT_EVERY;
    bool shrink = !grow && (costly_cut || free_cut);
    if (r->since_adjust < ADJUST_EVERY || (!shrink && !grow))
        return;
    if (free_cut)
        r->since_free_look = 0;
    /* Enough to look at: decode ahead, but only packets that are there. */
    while (r->st == ST_AUDIO && r->pcm_len < 2 * LAG_MAX) {
        slot *e = earliest(r);
        if (!e || e->ts != r->dec_ts)
            return;
        bool dtx = e->dtx;
        int32_t n = decode_slot(r, e);
        if (!n)
            return;
        add_decoded(r, n, dtx);
    }
    if (r->st != ST_AUDIO)
        return;
    int32_t lag = period(r);
    if (lag && grow)
        stretch(r, lag);
    else if (lag && (lag <= ahead || costly_cut))
        cut(r, lag);
}

/* One step toward filling the buffer, in silence. */
static void produce_silent(lkopus_receiver *r, int32_t need)
{
    slot *e = earliest(r);
    int64_t z = e ? e->ts - r->dec_ts : need;
    if (z > 0) {
        int32_t n = z < need ? (int32_t)z : need;
        zero(r, r->pcm_len, n);
        add_seg(r, LKOPUS_FRAME_SILENCE, n);
        r->dec_ts += n;
        return;
    }
    int32_t at = r->pcm_len;
    bool dtx = e->dtx;
    int32_t n = decode_slot(r, e);
    if (!n)
        return;
    if (dtx || (r->gate && mean_square(r, at, n) < GATE_MS)) {
        /* DTX, or comfort noise in it: decoded for the decoder's sake
         * (it follows the noise), heard as silence */
        zero(r, at, n);
        add_seg(r, LKOPUS_FRAME_SILENCE, n);
        if (dtx)
            r->gate = true;
        return;
    }
    r->st = ST_AUDIO;
    r->conceal_run = 0;
    if (r->fade_in)
        fade(r, at, n < FADE_IN ? n : FADE_IN, true);
    r->fade_in = false;
    add_seg(r, LKOPUS_FRAME_AUDIO, n);
}

/* One step toward filling the buffer, playing. */
static void produce_audio(lkopus_receiver *r, int64_t now)
{
    slot *e = earliest(r);
    if (e && e->ts - r->dec_ts < GRAIN) {
        /* the packet at the playout point (a little ahead of it, on a
         * grid the concealment cannot meet, counts as at it) */
        r->dec_ts = e->ts;
        bool dtx = e->dtx;
        int32_t n = decode_slot(r, e);
        if (n)
            add_decoded(r, n, dtx);
        return;
    }
    /* Missing. Playing earlier than the target, it may well be late, not
     * lost: wait for it, concealing without moving on, which is how the
     * delay grows. At or beyond the target it is lost (or later than
     * the target allows for, which is as good as lost). */
    if (now - r->dec_ts < r->target) {
        conceal(r, BLOCK, false);
        r->delay_f += BLOCK;
        return;
    }
    int64_t n = BLOCK;
    if (e) {
        int64_t gap = e->ts - r->dec_ts;
        if (e->lbrr && gap == e->frame) {
            int32_t at = r->pcm_len;
            int k = opus_decode(r->dec, e->data, e->len, pcm_at(r, at), e->frame, 1);
            if (k == e->frame) {
                end_expansion(r, at, k);
                add_seg(r, LKOPUS_FRAME_AUDIO, k);
                r->dec_ts += k;
                r->fec_frames++;
                r->conceal_run = 0;
                return;
            }
            /* refused: concealed below instead */
        }
        n = e->lbrr && gap > e->frame ? gap - e->frame : gap;
        n = min64(n, BLOCK) / GRAIN * GRAIN;
        if (n < GRAIN)
            n = GRAIN;
    }
    conceal(r, (int32_t)n, true);
}

int lkopus_receiver_pull(lkopus_receiver *r, uint64_t now_ns, int16_t *out)
{
    if (!r || !out)
        return LKOPUS_E_INVALID;
    r->frames++;
    if (!r->have_source || !r->have_min) {
        memset(out, 0, (size_t)BLOCK * r->ch * sizeof *out);
        r->silent_frames++;
        return LKOPUS_FRAME_SILENCE;
    }
    int64_t now = ticks_of(now_ns);
    if (r->st == ST_AUDIO) {
        int64_t p = now - (r->dec_ts - r->pcm_len);
        r->delay_f += (p - r->delay_f) / 8;
        if (p - r->min_offset > r->max_delay + RESYNC_SLACK) {
            /* far behind: what is too old to play goes, at once */
            fade_out_pending(r);
            go_silent(r, false, true);
            drop_before(r, now - r->target);
            r->floor_ts = INT64_MIN / 4;
        }
    }
    if (r->st == ST_SILENT)
        anchor(r, now);
    else
        maybe_adjust(r);
    r->since_adjust++;
    r->since_sooner++;
    while (r->pcm_len < BLOCK) {
        /* stale packets (overlapped by a longer one decoded before them) */
        drop_before(r, r->dec_ts);
        if (r->st == ST_SILENT)
            produce_silent(r, BLOCK - r->pcm_len);
        else
            produce_audio(r, now);
    }
    r->last_play_offset = now - (r->dec_ts - r->pcm_len);
    memcpy(out, r->pcm, (size_t)BLOCK * r->ch * sizeof *out);
    uint8_t kind = take_segs(r, BLOCK);
    consume(r, BLOCK);
    if (kind == LKOPUS_FRAME_SILENCE)
        r->silent_frames++;
    else if (kind == LKOPUS_FRAME_CONCEALED)
        r->concealed_frames++;
    return kind;
}

uint64_t lkopus_receiver_sooner_ns(lkopus_receiver *r)
{
    if (!r || r->st != ST_AUDIO || r->since_sooner < SOONER_EVERY)
        return 0;
    int64_t spare = r->delay_f - lead(r) - r->target;
    if (spare < SOONER_MIN)
        return 0;
    if (spare > SOONER_MAX)
        spare = SOONER_MAX;
    r->delay_f -= spare;
    r->since_sooner = 0;
    return (uint64_t)spare * 125000 / 6;
}

/* --- the rest ---------------------------------------------------------------------- */

lkopus_receiver *lkopus_receiver_new(const lkopus_receiver_config *cfg, char *err,
                                     size_t errlen)
{
    const char *why = NULL;
    if (!cfg)
        why = "no config";
    else if (cfg->channels != 1 && cfg->channels != 2)
        why = "channels must be 1 or 2";
    else if (cfg->max_delay_ms && (cfg->max_delay_ms < 20 ||
                                   cfg->max_delay_ms > LKOPUS_RECV_MAX_DELAY_MS))
        why = "max delay must be 0 or 20..1000 ms";
    else if (cfg->min_delay_ms >
             (cfg->max_delay_ms ? cfg->max_delay_ms : DEFAULT_MAX_DELAY_MS))
        why = "min delay must not exceed the max delay";
    if (why) {
        say(err, errlen, why, NULL);
        return NULL;
    }
    lkopus_receiver *r = calloc(1, sizeof *r);
    if (!r)
        abort(); /* the library's policy: out of memory aborts */
    int rc;
    r->dec = opus_decoder_create(LKOPUS_RATE, (int)cfg->channels, &rc);
    if (!r->dec) {
        say(err, errlen, "opus_decoder_create", opus_strerror(rc));
        free(r);
        return NULL;
    }
    r->ch = cfg->channels;
    r->min_delay = (int64_t)(cfg->min_delay_ms ? cfg->min_delay_ms : DEFAULT_MIN_DELAY_MS) * MS;
    r->max_delay = (int64_t)(cfg->max_delay_ms ? cfg->max_delay_ms : DEFAULT_MAX_DELAY_MS) * MS;
    if (r->min_delay > r->max_delay)
        r->min_delay = r->max_delay;
    reset_hist(r);
    r->st = ST_SILENT;
    r->fade_in = true;
    r->since_adjust = ADJUST_EVERY;
    r->since_sooner = SOONER_EVERY;
    return r;
}

void lkopus_receiver_free(lkopus_receiver *r)
{
    if (!r)
        return;
    opus_decoder_destroy(r->dec);
    free(r);
}

void lkopus_receiver_get_stats(const lkopus_receiver *r, lkopus_receiver_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!r)
        return;
    if (r->have_source && r->rtp.started) {
        st->ssrc = r->ssrc;
        st->packets_received = r->rtp.received;
        st->packets_lost = (int32_t)lkrtp_recv_lost(&r->rtp);
        st->highest_seq = lkrtp_recv_highest(&r->rtp);
        st->jitter = r->rtp.jitter >> 4;
    }
    st->packets_late = r->late;
    st->packets_discarded = r->discarded;
    st->packets_invalid = r->invalid;
    st->frames = r->frames;
    st->concealed_frames = r->concealed_frames;
    st->concealed_samples = r->concealed_samples;
    st->fec_frames = r->fec_frames;
    st->silent_frames = r->silent_frames;
    st->inserted_samples = r->inserted;
    st->removed_samples = r->removed;
    st->restarts = r->restarts;
    if (r->have_min) {
        st->target_delay_ms = (uint32_t)((r->target - r->min_offset) / MS);
        int64_t d = r->last_play_offset - r->min_offset;
        st->delay_ms = d > 0 ? (uint32_t)min64(d / MS, UINT32_MAX) : 0;
    } else {
        st->target_delay_ms = (uint32_t)(((PRIOR_BIN + 1) * BIN + GUARD) / MS);
    }
}

void lkopus_receiver_report(lkopus_receiver *r, lkrtcp_report *rb)
{
    if (!rb)
        return;
    memset(rb, 0, sizeof *rb);
    if (r && r->have_source)
        lkrtp_recv_report(&r->rtp, rb);
}
