/* The Opus receiver as a listener hears it. Real packets from
 * media/opus_sender cross a simulated network (a fixed-seed PRNG for
 * delay, jitter, loss, reordering and duplicates; no sleeping: virtual
 * time, pulled every 10 ms) into the receiver, and its output is judged:
 * a 440 Hz tone on a clean path comes out a 440 Hz tone 30 dB above its
 * noise, without a gap, at a 7 ms target; with 10% loss and 30 +- 10 ms
 * of jitter, no silence longer than 100 ms and still 440 Hz, with FEC
 * recovering most losses; with jitter and reordering alone, no
 * concealment once the delay has settled, at a sane target; heavy jitter
 * raises the delay and a clean path brings it down over seconds, both
 * unheard; single losses are recovered from FEC, not concealed; an
 * outage conceals 120 ms, then is silent; DTX silence comes out silent,
 * comfort noise included, and speech resumes within the target delay
 * (within a millisecond of it for a caller that pulls sooner as advised);
 * duplicates, very late packets, wrapping sequence numbers and
 * timestamps, a new SSRC, a jump in time, a caller that stops pulling
 * for a while and garbage all leave the output going; 10, 40 and 60 ms
 * packets play as 20 ms ones do; nothing is allocated per packet.
 * Signals are coded once and reused (coding is most of the run time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <opus/opus.h>

#include "opus_receiver.h"
#include "opus_sender.h"
#include "rtp.h"

enum {
    PT = 111,
    SSRC = 0x1234abcd,
    MAX_SECONDS = 13,
    MAX_PULLS = MAX_SECONDS * 100,
    MAX_PKTS = MAX_SECONDS * 100 * 2, /* 10 ms packets, or 20 ms ones twice over */
    PAYLOAD_CAP = 512,                /* 60 ms at 64 kb/s; the sender's are ~100 bytes */
    MAX_CODED = 5,                    /* signals coded once and kept */
    FRAME_SAMPLES = LKOPUS_BLOCK,
};
static const uint64_t T0 = 1000000000000ull; /* the sender's first block */
static const uint64_t MS_NS = 1000000ull;
static const double AMP = 0.316227766 * 32767; /* a sine peaking at -10 dBFS */

/* --- signals ---------------------------------------------------------------------------------- */

/* The input: a sample of channel c at index n (48 kHz from T0). */
typedef int16_t (*signal_fn)(size_t n, unsigned c);

static double sine(double hz, size_t n)
{
    return AMP * sin(2 * M_PI * hz * (double)n / LKOPUS_RATE);
}

static int16_t tone(size_t n, unsigned c)
{
    return (int16_t)lrint(sine(440, n));
}

static int16_t two_tones(size_t n, unsigned c)
{
    return (int16_t)lrint(sine(c ? 660 : 440, n));
}

/* Tone for 1 s, 2 s of digital silence, tone again. */
static int16_t tone_gap_tone(size_t n, unsigned c)
{
    return n >= LKOPUS_RATE && n < 3 * LKOPUS_RATE ? 0 : tone(n, c);
}

/* Speech-like: the tone in 300 ms syllables with 60 ms dips to -20 dB
 * between them (never silent). A steady tone soon reads as background to
 * SILK's voice detector, and Opus codes FEC only for active frames: this
 * one keeps FEC in about 9 packets of 10, as speech does. */
static int16_t syllables(size_t n, unsigned c)
{
    size_t ph = n % (LKOPUS_RATE * 36 / 100), up = LKOPUS_RATE * 30 / 100, ramp = 240;
    double g = ph < up ? 1.0 : 0.1;
    if (ph < ramp)
        g = 0.1 + 0.9 * (double)ph / ramp;
    else if (ph >= up && ph < up + ramp)
        g = 1.0 - 0.9 * (double)(ph - up) / ramp;
    return (int16_t)lrint(g * sine(440, n));
}

/* The same with a quiet room's noise in the gap (-60 dBov, white): Opus
 * codes it as comfort noise every ~400 ms. */
static int16_t tone_noise_tone(size_t n, unsigned c)
{
    if (n >= LKOPUS_RATE && n < 3 * LKOPUS_RATE) {
        uint32_t x = (uint32_t)n * 2654435761u;
        x ^= x >> 15;
        x *= 2246822519u;
        x ^= x >> 13;
        return (int16_t)((int32_t)(x % 51) - 25); /* RMS ~15: -67 dBov */
    }
    return tone(n, c);
}

/* --- packets and a network -------------------------------------------------------------------- */

typedef struct packet {
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;
    uint8_t data[PAYLOAD_CAP];
    size_t len;
    size_t frame;  /* which 20 ms of the input */
    uint64_t sent; /* when its last sample was captured */
} packet;

static packet pkts[MAX_PKTS];
static size_t n_pkts;

/* Pushes blocks [from, to) of the signal through the sender, keeping the
 * packets in dst (*count of them); a packet leaves when its second block has
 * been captured. */
static void code_blocks(lkopus_sender *s, signal_fn sig, unsigned channels, size_t from,
                        size_t to, packet *dst, size_t *count, size_t cap)
{
    int16_t pcm[LKOPUS_BLOCK * 2];
    uint8_t buf[LKOPUS_MAX_PACKET];
    for (size_t b = from; b < to; b++) {
        for (size_t i = 0; i < LKOPUS_BLOCK; i++)
            for (unsigned c = 0; c < channels; c++)
                pcm[i * channels + c] = sig(b * LKOPUS_BLOCK + i, c);
        int n = lkopus_sender_push(s, pcm, channels, LKOPUS_BLOCK, T0 + b * 10 * MS_NS, buf,
                                   sizeof buf);
        assert_true(n >= 0);
        if (n == 0)
            continue;
        lkrtp_packet p;
        assert_int_equal(lkrtp_parse(&p, buf, (size_t)n), 0);
        assert_true(*count < cap && p.payload_len <= PAYLOAD_CAP);
        packet *k = &dst[(*count)++];
        k->ssrc = p.h.ssrc;
        k->seq = p.h.seq;
        k->ts = p.h.timestamp;
        memcpy(k->data, p.payload, p.payload_len);
        k->len = p.payload_len;
        k->frame = b / 2;
        k->sent = T0 + (b + 1) * 10 * MS_NS;
    }
}

static void send_blocks(lkopus_sender *s, signal_fn sig, unsigned channels, size_t from,
                        size_t to)
{
    code_blocks(s, sig, channels, from, to, pkts, &n_pkts, MAX_PKTS);
}

static lkopus_config sender_config(unsigned channels, bool dtx)
{
    return (lkopus_config){
        .ssrc = SSRC,
        .payload_type = PT,
        .dtx = dtx,
        .fec = true,
        .channels = channels,
        .fixed_start = true,
        .first_seq = 65000, /* wraps after 10.7 s */
        .first_ts = 0xfff00000u, /* wraps after 21.8 s */
    };
}

static lkopus_sender *new_sender(const lkopus_config *cfg)
{
    char err[128] = "";
    lkopus_sender *s = lkopus_sender_new(cfg, err, sizeof err);
    if (!s)
        fail_msg("lkopus_sender_new: %s", err);
    return s;
}

/* Coding is most of this suite's time (valgrind runs it too), and a
 * payload does not depend on its header: each signal is coded once, as
 * far as the longest test needs, and stamped with each test's numbers. */
typedef struct coded {
    signal_fn sig;
    unsigned channels;
    bool dtx;
    lkopus_sender *s;
    size_t blocks, n;
    packet p[MAX_SECONDS * 50];
} coded;

static coded cache[MAX_CODED];

/* The first seconds of the signal through a sender so configured: pkts. */
static void send_signal(const lkopus_config *cfg, signal_fn sig, size_t seconds)
{
    coded *c = NULL;
    for (size_t i = 0; i < MAX_CODED && !c; i++)
        if (!cache[i].s || (cache[i].sig == sig && cache[i].channels == cfg->channels &&
                            cache[i].dtx == cfg->dtx))
            c = &cache[i];
    assert_non_null(c);
    if (!c->s) {
        c->sig = sig;
        c->channels = cfg->channels;
        c->dtx = cfg->dtx;
        c->s = new_sender(cfg);
    }
    if (c->blocks < seconds * 100) {
        code_blocks(c->s, sig, cfg->channels, c->blocks, seconds * 100, c->p, &c->n,
                    sizeof c->p / sizeof c->p[0]);
        c->blocks = seconds * 100;
    }
    n_pkts = 0;
    for (size_t i = 0; i < c->n && c->p[i].frame < seconds * 50; i++) {
        pkts[n_pkts] = c->p[i];
        pkts[n_pkts].ssrc = cfg->ssrc;
        pkts[n_pkts].seq = (uint16_t)(cfg->first_seq + n_pkts);
        pkts[n_pkts].ts = cfg->first_ts + (uint32_t)c->p[i].frame * LKOPUS_FRAME;
        n_pkts++;
    }
}

static int free_cache(void **state)
{
    for (size_t i = 0; i < MAX_CODED; i++)
        lkopus_sender_free(cache[i].s);
    return 0;
}

/* xorshift64*: the network's dice, the same every run. */
static uint64_t rng_state;

static double uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) / (double)(1ull << 53);
}

typedef struct network {
    int base_ms, jitter_ms; /* each packet delayed base +- jitter, uniformly */
    double loss;            /* dropped at random */
    double reorder;         /* a pair swapped: the first at base + jitter, the second at
                             * base - jitter, so the second arrives first */
    double duplicate;       /* sent again 5 ms after the first copy */
    double very_late;       /* held back 1.5 s */
    uint64_t seed;
} network;

typedef struct delivery {
    uint64_t at;
    size_t order; /* ties: in this order */
    size_t pkt;
} delivery;

static delivery deliveries[MAX_PKTS * 2];
static size_t n_deliveries;
static size_t delivered; /* by the last pull run */

static int by_arrival(const void *a, const void *b)
{
    const delivery *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void plan(const network *net)
{
    rng_state = net->seed ? net->seed : 0x9e3779b97f4a7c15ull;
    n_deliveries = 0;
    int64_t swapped = -1; /* the packet a swap delays, whose next is hurried */
    for (size_t i = 0; i < n_pkts; i++) {
        double r = uniform();
        bool lost = uniform() < net->loss;
        double delay_ms = net->base_ms + (2 * r - 1) * net->jitter_ms;
        size_t order = 2 * i;
        if ((int64_t)i == swapped + 1) {
            delay_ms = net->base_ms - net->jitter_ms; /* arrives with or before the one before */
            order = 2 * i - 3;
        } else if (i + 1 < n_pkts && uniform() < net->reorder) {
            delay_ms = net->base_ms + net->jitter_ms;
            swapped = (int64_t)i;
        }
        if (uniform() < net->very_late)
            delay_ms += 1500;
        if (lost)
            continue;
        uint64_t at = pkts[i].sent + (uint64_t)llround(delay_ms * 1e6);
        deliveries[n_deliveries++] = (delivery){.at = at, .order = order, .pkt = i};
        if (uniform() < net->duplicate)
            deliveries[n_deliveries++] =
                (delivery){.at = at + 5 * MS_NS, .order = order, .pkt = i};
    }
    qsort(deliveries, n_deliveries, sizeof *deliveries, by_arrival);
}

/* --- the receiver, pulled every 10 ms --------------------------------------------------------- */

static int16_t out[MAX_PULLS * FRAME_SAMPLES * 2];
static int kinds[MAX_PULLS];
static lkopus_receiver_stats after[MAX_PULLS]; /* the stats after each pull */
static int put_results[MAX_PKTS * 2];
static const uint64_t PHASE = 3300000; /* pulls 3.3 ms after the sender's blocks */
/* A caller that moves its clock as lkopus_receiver_sooner_ns advises:
 * by how much it has, so far. */
static bool follow_sooner;
static uint64_t moved_sooner;

static uint64_t pull_time(size_t k)
{
    return T0 + k * 10 * MS_NS + PHASE - moved_sooner;
}

static lkopus_receiver *new_receiver(unsigned channels)
{
    lkopus_receiver_config cfg = {.channels = channels};
    char err[128] = "";
    lkopus_receiver *r = lkopus_receiver_new(&cfg, err, sizeof err);
    if (!r)
        fail_msg("lkopus_receiver_new: %s", err);
    return r;
}

/* Pulls [from, to), delivering before each what has arrived by then;
 * *next is the next delivery. A pull time of 0 skips that pull (a stalled
 * caller). */
static void run_pulls(lkopus_receiver *r, unsigned channels, size_t from, size_t to,
                      size_t *next)
{
    for (size_t k = from; k < to; k++) {
        uint64_t now = pull_time(k);
        while (*next < n_deliveries && deliveries[*next].at <= now) {
            const packet *p = &pkts[deliveries[*next].pkt];
            put_results[*next] = lkopus_receiver_put(r, p->ssrc, p->seq, p->ts, p->data, p->len,
                                                     deliveries[*next].at);
            assert_true(put_results[*next] >= 0);
            (*next)++;
        }
        delivered = *next;
        kinds[k] = lkopus_receiver_pull(r, now, out + k * FRAME_SAMPLES * channels);
        assert_true(kinds[k] >= 0);
        lkopus_receiver_get_stats(r, &after[k]);
        if (follow_sooner) {
            uint64_t sooner = lkopus_receiver_sooner_ns(r);
            assert_true(sooner < 10 * MS_NS);
            moved_sooner += sooner;
        }
    }
}

static lkopus_receiver_stats run(unsigned channels, const network *net, size_t pulls)
{
    plan(net);
    lkopus_receiver *r = new_receiver(channels);
    size_t next = 0;
    run_pulls(r, channels, 0, pulls, &next);
    lkopus_receiver_stats st;
    lkopus_receiver_get_stats(r, &st);
    lkopus_receiver_free(r);
    return st;
}

/* --- what a listener notices ------------------------------------------------------------------ */

static double at(unsigned channels, unsigned c, size_t n)
{
    return out[n * channels + c];
}

static double frame_dbov(unsigned channels, size_t k)
{
    double sum = 0;
    for (size_t i = 0; i < FRAME_SAMPLES; i++)
        for (unsigned c = 0; c < channels; c++)
            sum += at(channels, c, k * FRAME_SAMPLES + i) * at(channels, c, k * FRAME_SAMPLES + i);
    sum /= FRAME_SAMPLES * channels;
    return sum == 0 ? -INFINITY : 10 * log10(sum / (32768.0 * 32768.0));
}

/* Frames quieter than -50 dBov (the tone is at -13) are silent. */
static bool silent(unsigned channels, size_t k)
{
    return frame_dbov(channels, k) < -50;
}

/* The longest run of silent frames in [from, to). */
static size_t longest_silence(unsigned channels, size_t from, size_t to)
{
    size_t run = 0, longest = 0;
    for (size_t k = from; k < to; k++) {
        run = silent(channels, k) ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    return longest;
}

static size_t first_sound(unsigned channels, size_t from, size_t to)
{
    for (size_t k = from; k < to; k++)
        if (!silent(channels, k))
            return k;
    return to;
}

/* Goertzel over frames [from, to) of channel c. */
static double power_at(unsigned channels, unsigned c, size_t from, size_t to, double hz)
{
    double w = 2 * cos(2 * M_PI * hz / LKOPUS_RATE), s1 = 0, s2 = 0;
    for (size_t n = from * FRAME_SAMPLES; n < to * FRAME_SAMPLES; n++) {
        double s0 = at(channels, c, n) + w * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return s1 * s1 + s2 * s2 - w * s1 * s2;
}

/* The strongest frequency from 100 Hz to 1 kHz in 10 Hz steps. */
static double dominant_hz(unsigned channels, unsigned c, size_t from, size_t to)
{
    double best = 0, best_hz = 0;
    for (double hz = 100; hz <= 1000; hz += 10) {
        double p = power_at(channels, c, from, to, hz);
        if (p > best) {
            best = p;
            best_hz = hz;
        }
    }
    return best_hz;
}

/* Signal to noise of a tone, aligned: the best fit of a sine of that
 * frequency at any phase (any delay) over frames [from, to), against what
 * is left. *amp gets the fitted amplitude. */
static double tone_snr_db(unsigned channels, unsigned c, double hz, size_t from, size_t to,
                          double *amp)
{
    /* sin and cos of w n by rotation: a phasor turned by w each sample */
    double w = 2 * M_PI * hz / LKOPUS_RATE, cw = cos(w), sw = sin(w);
    size_t n0 = from * FRAME_SAMPLES, n1 = to * FRAME_SAMPLES;
    double ss = 0, cc = 0, sc = 0, ys = 0, yc = 0;
    double s = sin(w * (double)n0), k = cos(w * (double)n0);
    for (size_t n = n0; n < n1; n++) {
        double y = at(channels, c, n);
        ss += s * s;
        cc += k * k;
        sc += s * k;
        ys += y * s;
        yc += y * k;
        double s2 = s * cw + k * sw;
        k = k * cw - s * sw;
        s = s2;
    }
    double det = ss * cc - sc * sc;
    double a = (ys * cc - yc * sc) / det, b = (yc * ss - ys * sc) / det;
    double sig = 0, noise = 0;
    s = sin(w * (double)n0);
    k = cos(w * (double)n0);
    for (size_t n = n0; n < n1; n++) {
        double fit = a * s + b * k;
        double e = at(channels, c, n) - fit;
        sig += fit * fit;
        noise += e * e;
        double s2 = s * cw + k * sw;
        k = k * cw - s * sw;
        s = s2;
    }
    if (amp)
        *amp = sqrt(a * a + b * b);
    return 10 * log10(sig / noise);
}

/* The tone, in every 100 ms of [from, to): at hz, min_snr above what is
 * not the tone (each piece aligned on its own: a delay that changed
 * between them, by whole periods, is not heard), at the input's level.
 * Over the whole window, aligned once, as a summary. */
static void assert_tone(unsigned channels, unsigned c, double hz, size_t from, size_t to,
                        double min_snr)
{
    double amp, worst = INFINITY, worst_amp = 1;
    double snr = tone_snr_db(channels, c, hz, from, to, &amp);
    double found = dominant_hz(channels, c, from, from + 25 < to ? from + 25 : to);
    size_t at_worst = from;
    for (size_t k = from; k + 10 <= to; k += 10) {
        double a, s10 = tone_snr_db(channels, c, hz, k, k + 10, &a);
        if (s10 < worst) {
            worst = s10;
            worst_amp = a;
            at_worst = k;
        }
    }
    print_message("  channel %u, frames %zu-%zu: %.0f Hz, SNR %.1f dB (aligned once), %.1f dB "
                  "in its worst 100 ms (frame %zu), amplitude %.2f of the input's\n",
                  c, from, to, found, snr, worst, at_worst, amp / AMP);
    assert_true(found == hz);
    assert_true(worst >= min_snr);
    assert_true(worst_amp > AMP * 0.7 && worst_amp < AMP * 1.4);
}

static void print_stats(const char *what, const lkopus_receiver_stats *st)
{
    print_message("%s: %u received, %d lost, %llu late, %llu discarded, %llu concealed frames, "
                  "%llu FEC frames, %llu silent, +%llu/-%llu samples, %u restarts, target "
                  "%u ms, delay %u ms, jitter %u\n",
                  what, st->packets_received, st->packets_lost,
                  (unsigned long long)st->packets_late, (unsigned long long)st->packets_discarded,
                  (unsigned long long)st->concealed_frames, (unsigned long long)st->fec_frames,
                  (unsigned long long)st->silent_frames,
                  (unsigned long long)st->inserted_samples,
                  (unsigned long long)st->removed_samples, st->restarts, st->target_delay_ms,
                  st->delay_ms, st->jitter);
}

/* --- a clean path ----------------------------------------------------------------------------- */

static void clean_path_tone(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, tone, 6);
    network net = {.base_ms = 20};
    lkopus_receiver_stats st = run(1, &net, 600);
    print_stats("clean", &st);
    /* sound from the first packet's time plus the target, then no gap */
    size_t first = first_sound(1, 0, 600);
    assert_true(first <= 8); /* 20 ms to send, 20 ms on the way, a 35 ms start */
    assert_int_equal(longest_silence(1, first, 600), 0);
    assert_int_equal(st.concealed_frames, 0);
    assert_int_equal(st.packets_lost, 0);
    assert_int_equal(st.packets_received, delivered);
    assert_int_equal(st.packets_discarded, 0);
    /* the start's 35 ms shrinks to what a clean path needs: the packets'
     * spread (one 2 ms bin) and the guard; the delay heard within a pull
     * of it (a cut costs a pull's worth of slack) */
    assert_in_range(st.target_delay_ms, 6, 8);
    assert_in_range(st.delay_ms, 6, 18);
    assert_true(st.removed_samples > 0);
    assert_tone(1, 0, 440, 200, 600, 30);
    /* the shrinking happened early and without a click: the whole of it
     * from the first second on is as clean */
    assert_tone(1, 0, 440, 100, 200, 30);
}

/* Stereo in, stereo out: each channel its own tone. */
static void clean_path_stereo(void **state)
{
    lkopus_config cfg = sender_config(2, true);
    send_signal(&cfg, two_tones, 4);
    network net = {.base_ms = 20};
    lkopus_receiver_stats st = run(2, &net, 400);
    print_stats("stereo", &st);
    assert_int_equal(longest_silence(2, first_sound(2, 0, 400), 400), 0);
    assert_tone(2, 0, 440, 150, 400, 30);
    assert_tone(2, 1, 660, 150, 400, 30);
}

/* A stereo stream to a mono listener: libopus mixes it. */
static void stereo_stream_mono_out(void **state)
{
    lkopus_config cfg = sender_config(2, true);
    send_signal(&cfg, two_tones, 3);
    network net = {.base_ms = 20};
    run(1, &net, 300);
    assert_int_equal(longest_silence(1, first_sound(1, 0, 300), 300), 0);
    double p440 = power_at(1, 0, 100, 300, 440), p660 = power_at(1, 0, 100, 300, 660),
           p550 = power_at(1, 0, 100, 300, 550);
    assert_true(p440 > 100 * p550 && p660 > 100 * p550);
}

/* --- loss and jitter -------------------------------------------------------------------------- */

/* The bar: 10% random loss and 30 +- 10 ms of jitter. */
static void loss_and_jitter(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, syllables, 10);
    network net = {.base_ms = 30, .jitter_ms = 10, .loss = 0.10, .reorder = 0.02, .seed = 7};
    lkopus_receiver_stats st = run(1, &net, 1000);
    print_stats("10% loss, 30 +- 10 ms", &st);
    size_t first = first_sound(1, 0, 1000);
    size_t longest = longest_silence(1, first, 1000);
    print_message("  longest silence %zu ms\n", longest * 10);
    assert_true(longest * 10 <= 100);
    assert_in_range(st.packets_lost, 35, 65); /* about 10% of 500 */
    assert_true(st.fec_frames > 0);
    assert_true(st.concealed_frames > 0);
    /* concealment covers little more than what FEC could not */
    assert_true(st.concealed_frames * 10 <= (uint64_t)st.packets_lost * 20 * 2);
    for (size_t k = 100; k + 100 <= 1000; k += 100)
        assert_true(dominant_hz(1, 0, k, k + 100) == 440);
    assert_in_range(st.target_delay_ms, 20, 60);
}

/* A steady tone through the same network, several draws of it: every
 * loss concealed without a dip. libopus's own concealment of this tone
 * (SILK) falls 15 dB or more within 20 ms, and the packet after it starts
 * as low: a dropout a listener hears at every loss. Here every 10 ms
 * stays within 6 dB of the tone's level, at 440 Hz. (Its phase does not
 * quite: SILK's decoder comes back from a loss a few tens of degrees off
 * and takes some 50 ms to converge, which is not heard.) */
static void loss_keeps_a_tone_up(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, tone, 10);
    for (uint64_t seed = 1; seed <= 4; seed++) {
        network net = {.base_ms = 30, .jitter_ms = 10, .loss = 0.10, .seed = seed};
        lkopus_receiver_stats st = run(1, &net, 1000);
        print_stats("tone, 10% loss, 30 +- 10 ms", &st);
        size_t first = first_sound(1, 0, 1000) + 10; /* past the onset */
        double quietest = INFINITY, loudest = -INFINITY;
        for (size_t k = first; k < 1000; k++) {
            quietest = fmin(quietest, frame_dbov(1, k));
            loudest = fmax(loudest, frame_dbov(1, k));
        }
        print_message("  10 ms levels from %.1f to %.1f dBov (the tone: -13)\n", quietest,
                      loudest);
        assert_true(st.concealed_frames > 20);
        assert_true(quietest > -13 - 6 && loudest < -13 + 6);
        for (size_t k = 100; k + 100 <= 1000; k += 100)
            assert_true(dominant_hz(1, 0, k, k + 100) == 440);
    }
}

/* Jitter and reordering without loss: once the delay has settled,
 * nothing needs concealing, at a target that covers the jitter. */
static void jitter_settles(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, tone, 8);
    network net = {.base_ms = 30, .jitter_ms = 10, .reorder = 0.05, .seed = 11};
    lkopus_receiver_stats st = run(1, &net, 800);
    print_stats("30 +- 10 ms, 5% reordered", &st);
    print_message("  concealed frames after 2 s: %llu\n",
                  (unsigned long long)(st.concealed_frames - after[199].concealed_frames));
    assert_int_equal(st.concealed_frames, after[199].concealed_frames);
    assert_int_equal(st.packets_lost, 0);
    assert_int_equal(st.packets_late, 0);
    /* 20 ms of jitter, 2 ms of bin, the 5 ms guard */
    assert_in_range(st.target_delay_ms, 20, 40);
    assert_int_equal(longest_silence(1, first_sound(1, 0, 800), 800), 0);
    assert_tone(1, 0, 440, 200, 800, 25);
}

/* Heavier jitter raises the target; a clean path afterwards lowers it
 * again, slowly, and the delay follows without a gap. */
static void delay_grows_and_shrinks(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, tone, 13);
    network net = {.base_ms = 60, .jitter_ms = 50, .seed = 3};
    plan(&net);
    /* after 5 s the path is clean: 10 ms, every packet */
    for (size_t i = 0; i < n_deliveries; i++) {
        const packet *p = &pkts[deliveries[i].pkt];
        if (p->sent >= T0 + 5000 * MS_NS)
            deliveries[i].at = p->sent + 10 * MS_NS;
    }
    qsort(deliveries, n_deliveries, sizeof *deliveries, by_arrival);
    lkopus_receiver *r = new_receiver(1);
    size_t next = 0;
    run_pulls(r, 1, 0, 1300, &next);
    print_stats("jittery (5 s)", &after[499]);
    print_stats("then clean (8 s)", &after[1299]);
    assert_in_range(after[499].target_delay_ms, 80, 130);
    assert_in_range(after[499].delay_ms, 70, 150);
    /* the target comes down over seconds, not at once */
    assert_true(after[599].target_delay_ms > 50);
    assert_in_range(after[1299].target_delay_ms, 6, 8);
    assert_in_range(after[1299].delay_ms, 6, 20);
    assert_int_equal(after[1299].concealed_frames, after[699].concealed_frames);
    assert_int_equal(longest_silence(1, 600, 1300), 0);
    /* shrinking by whole periods keeps the tone clean */
    assert_tone(1, 0, 440, 600, 1300, 25);
    lkopus_receiver_free(r);
}

/* FEC in preference to concealment: with the next packet there in time,
 * single losses are recovered from it. */
static void fec_before_concealment(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, syllables, 4);
    network net = {.base_ms = 20};
    plan(&net);
    /* three frames lost, 30 apart from frame 100 on, each where the next
     * packet carries FEC for it (SILK's LBRR flag, after one VAD flag) */
    size_t lost[3], n_lost = 0;
    for (size_t i = 100; n_lost < 3; i++)
        if (pkts[i + 1].data[1] & 0x40 && (!n_lost || i >= lost[n_lost - 1] + 30))
            lost[n_lost++] = i;
    size_t w = 0;
    for (size_t i = 0; i < n_deliveries; i++)
        if (deliveries[i].pkt != lost[0] && deliveries[i].pkt != lost[1] &&
            deliveries[i].pkt != lost[2])
            deliveries[w++] = deliveries[i];
    n_deliveries = w;
    lkopus_receiver_config rc = {.channels = 1, .min_delay_ms = 40};
    lkopus_receiver *r = lkopus_receiver_new(&rc, NULL, 0);
    assert_non_null(r);
    size_t next = 0;
    run_pulls(r, 1, 0, 400, &next);
    print_stats("three single losses, 40 ms floor", &after[399]);
    assert_int_equal(after[399].fec_frames, 3);
    assert_int_equal(after[399].concealed_frames, 0);
    assert_int_equal(after[399].packets_lost, 3);
    assert_int_equal(longest_silence(1, first_sound(1, 0, 400), 400), 0);
    for (size_t k = 100; k + 50 <= 400; k += 50)
        assert_true(dominant_hz(1, 0, k, k + 50) == 440);
    lkopus_receiver_free(r);
}

/* A 400 ms outage: concealment for 120 ms, fading out, then silence
 * (not 400 ms of made-up sound), and the tone back within the target of
 * the first packet after it. */
static void outage_fades_to_silence(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, tone, 4);
    network net = {.base_ms = 20, .seed = 59};
    plan(&net);
    size_t w = 0;
    for (size_t i = 0; i < n_deliveries; i++)
        if (deliveries[i].pkt < 100 || deliveries[i].pkt >= 120)
            deliveries[w++] = deliveries[i];
    n_deliveries = w;
    lkopus_receiver *r = new_receiver(1);
    size_t next = 0;
    run_pulls(r, 1, 0, 400, &next);
    print_stats("400 ms outage", &after[399]);
    assert_int_equal(after[399].packets_lost, 20);
    assert_int_equal(after[399].concealed_samples, 120 * 48);
    size_t gap = longest_silence(1, first_sound(1, 0, 400), 400);
    print_message("  silence %zu ms\n", gap * 10);
    assert_in_range(gap * 10, 250, 300);
    /* the first packet after it arrives at T0 + 2.42 s + 20 ms */
    size_t quiet = 200;
    while (!silent(1, quiet))
        quiet++;
    size_t back = first_sound(1, quiet, 400);
    double waited = ((double)pull_time(back) - (double)(T0 + 2440 * MS_NS)) / 1e6;
    print_message("  back %.1f ms after its first packet\n", waited);
    assert_true(waited <= after[back].target_delay_ms + 10);
    assert_tone(1, 0, 440, back + 10, 400, 25);
    lkopus_receiver_free(r);
}

/* --- DTX -------------------------------------------------------------------------------------- */

static void dtx_case(signal_fn sig, const char *what)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, sig, 5);
    network net = {.base_ms = 20, .jitter_ms = 2, .seed = 5};
    lkopus_receiver_stats st = run(1, &net, 500);
    print_stats(what, &st);
    assert_int_equal(st.concealed_frames, 0);
    /* silent from the end of the tone and its hangover to the next tone:
     * no noise bursts */
    double loudest = -INFINITY;
    for (size_t k = 120; k < 300; k++)
        if (frame_dbov(1, k) > loudest)
            loudest = frame_dbov(1, k);
    print_message("  loudest frame in the gap: %.1f dBov\n", loudest);
    assert_true(loudest < -60);
    /* the receiver knew it was silence, not loss */
    size_t zeros = 0;
    for (size_t k = 170; k < 300; k++) /* after Opus's hangover, longer with noise */
        zeros += kinds[k] == LKOPUS_FRAME_SILENCE;
    assert_int_equal(zeros, 130);
    /* the tone resumes within the target of its first packet's arrival */
    size_t back = first_sound(1, 300, 500);
    uint64_t arrival = 0;
    for (size_t i = 0; i < n_deliveries; i++)
        if (pkts[deliveries[i].pkt].sent > T0 + 3000 * MS_NS) {
            arrival = deliveries[i].at;
            break;
        }
    double waited = ((double)pull_time(back) - (double)arrival) / 1e6;
    print_message("  speech back %.1f ms after its first packet, target %u ms\n", waited,
                  after[back].target_delay_ms);
    assert_true(waited <= after[back].target_delay_ms + 10);
    assert_int_equal(longest_silence(1, back, 500), 0);
    assert_tone(1, 0, 440, back + 10, 500, 25); /* past Opus's own onset */
}

/* The same DTX gap and clean path, pulled at a phase that wastes most of
 * a pull (the packets come just too late for the pull before): a caller
 * that follows the advice to pull sooner hears the tone at the target
 * delay, and speech back within a millisecond of it, as clean. */
static size_t speech_back_at_phase(bool follow, double *wasted_ms, double *waited_ms)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, tone_gap_tone, 5);
    network net = {.base_ms = 20, .jitter_ms = 1, .seed = 9};
    follow_sooner = follow;
    moved_sooner = 0;
    lkopus_receiver_stats st = run(1, &net, 500);
    follow_sooner = false;
    print_stats(follow ? "phase followed" : "phase left", &st);
    assert_int_equal(st.concealed_frames, 0);
    assert_int_equal(longest_silence(1, 350, 500), 0);
    assert_tone(1, 0, 440, 350, 500, 25);
    size_t back = first_sound(1, 300, 500);
    uint64_t arrival = 0;
    for (size_t i = 0; i < n_deliveries && !arrival; i++)
        if (pkts[deliveries[i].pkt].sent > T0 + 3000 * MS_NS)
            arrival = deliveries[i].at;
    *waited_ms = ((double)pull_time(back) - (double)arrival) / 1e6;
    *wasted_ms = (double)after[499].delay_ms - after[499].target_delay_ms;
    print_message("  moved %.1f ms sooner; at the end %.0f ms over the target; speech back "
                  "%.1f ms after its first packet, target %u ms\n",
                  (double)moved_sooner / 1e6, *wasted_ms, *waited_ms,
                  after[back].target_delay_ms);
    moved_sooner = 0;
    return back;
}

static void free_phase_plays_at_the_target(void **state)
{
    double wasted, waited, wasted_free, waited_free;
    speech_back_at_phase(false, &wasted, &waited);
    assert_true(wasted >= 5); /* the phase chosen: a pull's most wasted */
    size_t back = speech_back_at_phase(true, &wasted_free, &waited_free);
    assert_true(wasted_free <= 1);
    assert_true(waited_free <= after[back].target_delay_ms + 1);
    assert_true(waited_free + 4 <= waited);
}

static void dtx_silence_then_speech(void **state)
{
    dtx_case(tone_gap_tone, "DTX, digital silence");
}

static void dtx_comfort_noise_stays_silent(void **state)
{
    dtx_case(tone_noise_tone, "DTX, comfort noise");
}

/* --- odd packets ------------------------------------------------------------------------------ */

static void duplicates(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, tone, 4);
    network net = {.base_ms = 20, .jitter_ms = 5, .duplicate = 0.3, .seed = 13};
    lkopus_receiver_stats st = run(1, &net, 400);
    print_stats("30% duplicated", &st);
    size_t dups = 0, copies = 0;
    for (size_t i = 0; i < delivered; i++) {
        if (put_results[i] == LKOPUS_PUT_DUPLICATE || put_results[i] == LKOPUS_PUT_LATE)
            dups++;
        for (size_t j = 0; j < i; j++)
            copies += deliveries[j].pkt == deliveries[i].pkt;
    }
    assert_int_equal(dups, copies);
    assert_int_equal(st.packets_discarded, dups);
    assert_int_equal(st.concealed_frames, 0);
    assert_true(st.packets_lost < 0); /* RFC 3550: duplicates count as received */
    assert_int_equal(longest_silence(1, first_sound(1, 0, 400), 400), 0);
    assert_tone(1, 0, 440, 150, 400, 30);
}

static void very_late_packets(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, tone, 8);
    network net = {.base_ms = 20, .jitter_ms = 5, .very_late = 0.05, .seed = 17};
    lkopus_receiver_stats st = run(1, &net, 800);
    print_stats("5% 1.5 s late", &st);
    size_t late = 0;
    for (size_t i = 0; i < delivered; i++)
        late += put_results[i] == LKOPUS_PUT_LATE;
    assert_true(late > 10);
    assert_int_equal(st.packets_late, late);
    assert_int_equal(st.restarts, 0);
    assert_true(longest_silence(1, first_sound(1, 0, 800), 800) * 10 <= 100);
    for (size_t k = 100; k + 100 <= 800; k += 100)
        assert_true(dominant_hz(1, 0, k, k + 100) == 440);
}

/* Both counters wrap within the run (the sender's config starts them
 * close): nothing is lost, late or concealed, and the highest sequence
 * number counts the cycle. */
static void wrapping_counters(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    cfg.first_seq = 65400;     /* wraps after 2.7 s */
    cfg.first_ts = 0xfffd0000; /* after 4.1 s */
    send_signal(&cfg, tone, 7);
    network net = {.base_ms = 30, .jitter_ms = 10, .reorder = 0.05, .seed = 19};
    lkopus_receiver_stats st = run(1, &net, 700);
    print_stats("wrapping", &st);
    uint16_t last = 0;
    for (size_t i = 0; i < delivered; i++)
        if ((int16_t)(pkts[deliveries[i].pkt].seq - last) > 0)
            last = pkts[deliveries[i].pkt].seq;
    assert_true(last < 1000);
    assert_int_equal(st.highest_seq, 65536u + last);
    assert_int_equal(st.packets_lost, 0);
    assert_int_equal(st.packets_late, 0);
    assert_int_equal(st.restarts, 0);
    assert_int_equal(longest_silence(1, first_sound(1, 0, 700), 700), 0);
    assert_tone(1, 0, 440, 350, 700, 25); /* across the timestamp's wrap */
}

/* A second source takes over (the publisher restarted): the output
 * fades, picks the new source up within about the target delay, and
 * ignores stray packets from the old one. */
static void new_ssrc(void **state)
{
    n_pkts = 0;
    lkopus_config a = sender_config(1, true);
    lkopus_sender *s = new_sender(&a);
    send_blocks(s, tone, 1, 0, 200);
    lkopus_sender_free(s);
    lkopus_config b = sender_config(1, true);
    b.ssrc = 0x55667788;
    b.first_seq = 1234;
    b.first_ts = 0x40000000;
    s = new_sender(&b);
    send_blocks(s, tone, 1, 200, 400);
    lkopus_sender_free(s);
    network net = {.base_ms = 20, .jitter_ms = 5, .seed = 23};
    plan(&net);
    lkopus_receiver *r = new_receiver(1);
    size_t next = 0;
    run_pulls(r, 1, 0, 400, &next);
    lkopus_receiver_stats st;
    lkopus_receiver_get_stats(r, &st);
    print_stats("new SSRC at 2 s", &st);
    assert_int_equal(st.ssrc, 0x55667788);
    assert_int_equal(st.restarts, 1);
    size_t from_b = 0;
    for (size_t i = 0; i < delivered; i++)
        from_b += pkts[deliveries[i].pkt].ssrc == 0x55667788;
    assert_int_equal(st.packets_received, from_b);
    size_t gap = longest_silence(1, first_sound(1, 0, 400), 400);
    print_message("  silence at the switch: %zu ms\n", gap * 10);
    assert_true(gap * 10 <= 60);
    assert_tone(1, 0, 440, 260, 400, 25);
    /* a straggler from the old source changes nothing */
    assert_int_equal(lkopus_receiver_put(r, SSRC, 65100, 0xfff00000u, pkts[5].data,
                                         pkts[5].len, pull_time(400)),
                     LKOPUS_PUT_STALE_SOURCE);
    lkopus_receiver_free(r);
}

/* The same SSRC jumping in time (an encoder restarted behind an SFU that
 * keeps the SSRC): confirmed by its second packet, played from there. */
static void timestamp_jump(void **state)
{
    n_pkts = 0;
    lkopus_config a = sender_config(1, true);
    lkopus_sender *s = new_sender(&a);
    send_blocks(s, tone, 1, 0, 200);
    lkopus_sender_free(s);
    lkopus_config b = sender_config(1, true);
    b.first_seq = (uint16_t)(65000 + 100); /* the sequence goes on */
    b.first_ts = 0x12345678;
    s = new_sender(&b);
    send_blocks(s, tone, 1, 200, 400);
    lkopus_sender_free(s);
    network net = {.base_ms = 20, .jitter_ms = 5, .seed = 29};
    plan(&net);
    lkopus_receiver *r = new_receiver(1);
    size_t next = 0;
    run_pulls(r, 1, 0, 400, &next);
    lkopus_receiver_stats st;
    lkopus_receiver_get_stats(r, &st);
    print_stats("timestamp jump at 2 s", &st);
    assert_int_equal(st.restarts, 1);
    assert_int_equal(st.packets_lost, 0);
    size_t gap = longest_silence(1, first_sound(1, 0, 400), 400);
    print_message("  silence at the jump: %zu ms\n", gap * 10);
    assert_true(gap * 10 <= 80);
    assert_tone(1, 0, 440, 260, 400, 25);
    lkopus_receiver_free(r);
}

/* A caller that stops pulling for 2 s, then goes on: what is too old is
 * dropped at once and the delay is back near the target. */
static void stalled_caller(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, tone, 8);
    network net = {.base_ms = 20, .jitter_ms = 5, .seed = 31};
    plan(&net);
    lkopus_receiver *r = new_receiver(1);
    size_t next = 0;
    run_pulls(r, 1, 0, 200, &next);
    /* skip pulls 200..400: deliveries still arrive */
    while (next < n_deliveries && deliveries[next].at <= pull_time(400)) {
        const packet *p = &pkts[deliveries[next].pkt];
        lkopus_receiver_put(r, p->ssrc, p->seq, p->ts, p->data, p->len, deliveries[next].at);
        next++;
    }
    run_pulls(r, 1, 400, 800, &next);
    print_stats("stalled 2 s", &after[799]);
    assert_in_range(after[420].delay_ms, 15, 60);
    assert_int_equal(longest_silence(1, 410, 800), 0);
    assert_tone(1, 0, 440, 450, 800, 25);
    lkopus_receiver_free(r);
}

/* 10, 40 and 60 ms packets, and a mix, coded with libopus directly. */
static void packet_durations(void **state)
{
    static const int sizes[][4] = {{480}, {1920}, {2880}, {960, 480, 2880, 1920}};
    for (size_t v = 0; v < 4; v++) {
        int rc;
        OpusEncoder *enc = opus_encoder_create(LKOPUS_RATE, 1, OPUS_APPLICATION_VOIP, &rc);
        assert_non_null(enc);
        assert_int_equal(opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1)), OPUS_OK);
        assert_int_equal(opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(10)), OPUS_OK);
        assert_int_equal(opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(3)), OPUS_OK);
        n_pkts = 0;
        size_t n = 0, i = 0;
        static int16_t pcm[2880];
        while (n + 2880 <= 4 * LKOPUS_RATE) {
            int len = sizes[v][i % 4] ? sizes[v][i % 4] : sizes[v][0];
            i++;
            for (int k = 0; k < len; k++)
                pcm[k] = tone(n + (size_t)k, 0);
            packet *p = &pkts[n_pkts++];
            int bytes = opus_encode(enc, pcm, len, p->data, sizeof p->data);
            assert_true(bytes > 0);
            p->len = (size_t)bytes;
            p->ssrc = SSRC;
            p->seq = (uint16_t)n_pkts;
            p->ts = (uint32_t)(0xffff0000u + n);
            n += (size_t)len;
            p->sent = T0 + (uint64_t)n * 1000000000ull / LKOPUS_RATE;
        }
        opus_encoder_destroy(enc);
        network net = {.base_ms = 20, .jitter_ms = 5, .seed = 37};
        lkopus_receiver_stats st = run(1, &net, 400);
        print_stats(v == 0 ? "10 ms packets" : v == 1 ? "40 ms" : v == 2 ? "60 ms" : "mixed", &st);
        assert_int_equal(st.packets_lost, 0);
        /* (the input ends at 4 s: the last pulls conceal). Mixed, a 60 ms
         * packet arrives 50 ms later than a 10 ms one relative to its
         * first sample: the sizes are jitter, a quarter of the packets sit
         * at the top of the spread, and the 97th percentile falls among
         * them. A few frames may be concealed while the target learns. */
        assert_in_range(after[379].concealed_frames - after[99].concealed_frames, 0,
                        v == 3 ? 3 : 0);
        assert_int_equal(longest_silence(1, first_sound(1, 0, 380), 380), 0);
        assert_tone(1, 0, 440, v == 3 ? 200 : 150, 380, 25);
    }
}

/* Payloads libopus refuses are counted and change nothing; random bytes
 * with random headers do not crash it. */
static void garbage(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, tone, 4);
    network net = {.base_ms = 20, .seed = 41};
    plan(&net);
    lkopus_receiver *r = new_receiver(1);
    static const uint8_t empty_code3[] = {0x03, 0x00};         /* no frames */
    static const uint8_t short_code2[] = {0x02, 0xfb, 0x01};   /* a length past the end */
    static const uint8_t long_frame[] = {0x03, 0x82, 0xff};    /* a 2-byte size, 1 byte there */
    static uint8_t too_long[LKOPUS_RECV_MAX_PAYLOAD + 1];
    size_t next = 0;
    for (size_t k = 0; k < 400; k++) {
        uint64_t now = pull_time(k);
        while (next < n_deliveries && deliveries[next].at <= now) {
            const packet *p = &pkts[deliveries[next].pkt];
            if (deliveries[next].pkt % 10 == 3) { /* garbage instead, at its time */
                const uint8_t *g[] = {empty_code3, short_code2, long_frame, too_long, NULL};
                size_t gl[] = {sizeof empty_code3, sizeof short_code2, sizeof long_frame,
                               sizeof too_long, 0};
                size_t which = deliveries[next].pkt / 10 % 5;
                assert_int_equal(lkopus_receiver_put(r, p->ssrc, p->seq, p->ts, g[which],
                                                     gl[which], deliveries[next].at),
                                 LKOPUS_PUT_INVALID);
            } else {
                assert_int_equal(lkopus_receiver_put(r, p->ssrc, p->seq, p->ts, p->data, p->len,
                                                     deliveries[next].at),
                                 LKOPUS_PUT_BUFFERED);
            }
            next++;
        }
        kinds[k] = lkopus_receiver_pull(r, now, out + k * FRAME_SAMPLES);
    }
    lkopus_receiver_stats st;
    lkopus_receiver_get_stats(r, &st);
    print_stats("every tenth packet garbage", &st);
    assert_int_equal(st.packets_invalid, 20);
    assert_true(longest_silence(1, first_sound(1, 0, 400), 400) == 0);
    /* random bytes, random headers, random times */
    rng_state = 43;
    uint8_t buf[200];
    int16_t pcm[FRAME_SAMPLES];
    for (size_t k = 0; k < 20000; k++) {
        size_t len = (size_t)(uniform() * sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)(uniform() * 256);
        uint32_t ts = (uint32_t)(uniform() * 4294967296.0);
        int rc = lkopus_receiver_put(r, uniform() < 0.9 ? SSRC : (uint32_t)k,
                                     (uint16_t)(uniform() * 65536), ts, buf, len,
                                     pull_time(400 + k / 4) + (uint64_t)(uniform() * 1e9));
        assert_true(rc >= 0);
        if (k % 4 == 0)
            assert_true(lkopus_receiver_pull(r, pull_time(400 + k / 4), pcm) >= 0);
    }
    lkopus_receiver_free(r);
}

/* --- the API's edges -------------------------------------------------------------------------- */

static void before_the_first_packet(void **state)
{
    lkopus_receiver *r = new_receiver(2);
    int16_t pcm[FRAME_SAMPLES * 2];
    for (int k = 0; k < 10; k++) {
        memset(pcm, 0x55, sizeof pcm);
        assert_int_equal(lkopus_receiver_pull(r, T0 + (uint64_t)k * 10 * MS_NS, pcm),
                         LKOPUS_FRAME_SILENCE);
        for (size_t i = 0; i < FRAME_SAMPLES * 2; i++)
            assert_int_equal(pcm[i], 0);
    }
    lkopus_receiver_stats st;
    lkopus_receiver_get_stats(r, &st);
    assert_int_equal(st.frames, 10);
    assert_int_equal(st.silent_frames, 10);
    assert_int_equal(st.ssrc, 0);
    assert_int_equal(st.target_delay_ms, 35); /* the prior: 30 ms and the guard */
    lkrtcp_report rb;
    lkopus_receiver_report(r, &rb);
    assert_int_equal(rb.ssrc, 0);
    lkopus_receiver_free(r);
}

static void report_block(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, tone, 2);
    network net = {.base_ms = 20, .loss = 0.1, .seed = 47};
    plan(&net);
    lkopus_receiver *r = new_receiver(1);
    size_t next = 0;
    run_pulls(r, 1, 0, 200, &next);
    lkrtcp_report rb;
    lkopus_receiver_report(r, &rb);
    assert_int_equal(rb.ssrc, SSRC);
    assert_int_equal(rb.cumulative_lost, after[199].packets_lost);
    assert_true(rb.fraction_lost > 0);
    assert_int_equal(rb.highest_seq, after[199].highest_seq);
    /* the next interval starts: nothing new, nothing lost in it */
    lkopus_receiver_report(r, &rb);
    assert_int_equal(rb.fraction_lost, 0);
    lkopus_receiver_free(r);
}

static void bad_arguments(void **state)
{
    char err[128];
    assert_null(lkopus_receiver_new(NULL, err, sizeof err));
    assert_true(err[0]);
    const struct {
        lkopus_receiver_config cfg;
        const char *why;
    } bad[] = {
        {{.channels = 0}, "channels"},
        {{.channels = 3}, "channels"},
        {{.channels = 1, .max_delay_ms = 10}, "max delay"},
        {{.channels = 1, .max_delay_ms = 1001}, "max delay"},
        {{.channels = 1, .min_delay_ms = 600}, "min delay"},
        {{.channels = 1, .min_delay_ms = 300, .max_delay_ms = 200}, "min delay"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_null(lkopus_receiver_new(&bad[i].cfg, err, sizeof err));
        assert_non_null(strstr(err, bad[i].why));
    }
    assert_null(lkopus_receiver_new(&bad[0].cfg, NULL, 0));
    lkopus_receiver *r = new_receiver(1);
    int16_t pcm[FRAME_SAMPLES];
    uint8_t one = 0x08;
    assert_int_equal(lkopus_receiver_put(NULL, 1, 1, 1, &one, 1, T0), LKOPUS_E_INVALID);
    assert_int_equal(lkopus_receiver_put(r, 1, 1, 1, NULL, 1, T0), LKOPUS_E_INVALID);
    assert_int_equal(lkopus_receiver_put(r, 1, 1, 1, NULL, 0, T0), LKOPUS_PUT_INVALID);
    assert_int_equal(lkopus_receiver_put_rtp(r, NULL, T0), LKOPUS_E_INVALID);
    assert_int_equal(lkopus_receiver_put_rtp(NULL, NULL, T0), LKOPUS_E_INVALID);
    assert_int_equal(lkopus_receiver_pull(NULL, T0, pcm), LKOPUS_E_INVALID);
    assert_int_equal(lkopus_receiver_pull(r, T0, NULL), LKOPUS_E_INVALID);
    lkopus_receiver_stats st;
    lkopus_receiver_get_stats(NULL, &st);
    assert_int_equal(st.frames, 0);
    lkopus_receiver_get_stats(r, NULL);
    lkopus_receiver_report(NULL, NULL);
    lkopus_receiver_free(NULL);
    /* a parsed packet goes in as its fields */
    uint8_t buf[64] = {0x80, PT, 0x00, 0x07, 0, 0, 0x03, 0xc0, 0x12, 0x34, 0xab, 0xcd, 0x08};
    lkrtp_packet p;
    assert_int_equal(lkrtp_parse(&p, buf, 13), 0);
    assert_int_equal(lkopus_receiver_put_rtp(r, &p, T0), LKOPUS_PUT_BUFFERED);
    assert_int_equal(lkopus_receiver_put_rtp(r, &p, T0), LKOPUS_PUT_DUPLICATE);
    lkopus_receiver_get_stats(r, &st);
    assert_int_equal(st.ssrc, SSRC);
    assert_int_equal(st.packets_received, 2);
    lkopus_receiver_free(r);
}

/* A ring full of packets nobody pulls drops the oldest. */
static void overflow_drops_oldest(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, tone, 2);
    lkopus_receiver *r = new_receiver(1);
    for (size_t i = 0; i < 100; i++) {
        const packet *p = &pkts[99 - i];
        int rc = lkopus_receiver_put(r, p->ssrc, p->seq, p->ts, p->data, p->len,
                                     p->sent + 20 * MS_NS);
        /* newest first: once full, each older one is the oldest */
        assert_int_equal(rc, i < LKOPUS_RECV_SLOTS ? LKOPUS_PUT_BUFFERED : LKOPUS_PUT_OVERFLOW);
    }
    lkopus_receiver_stats st;
    lkopus_receiver_get_stats(r, &st);
    assert_int_equal(st.packets_discarded, 100 - LKOPUS_RECV_SLOTS);
    lkopus_receiver_free(r);
}

/* Seconds of puts and pulls allocate nothing once going. */
static void nothing_allocated_per_packet(void **state)
{
    lkopus_config cfg = sender_config(1, true);
    send_signal(&cfg, tone_gap_tone, 5);
    network net = {.base_ms = 30, .jitter_ms = 10, .loss = 0.1, .seed = 53};
    plan(&net);
    lkopus_receiver *r = new_receiver(1);
    size_t next = 0;
    run_pulls(r, 1, 0, 10, &next);
    struct mallinfo2 before = mallinfo2();
    run_pulls(r, 1, 10, 500, &next);
    struct mallinfo2 later = mallinfo2();
    assert_int_equal(later.uordblks, before.uordblks);
    assert_int_equal(later.hblkhd, before.hblkhd);
    lkopus_receiver_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clean_path_tone),
        cmocka_unit_test(clean_path_stereo),
        cmocka_unit_test(stereo_stream_mono_out),
        cmocka_unit_test(loss_and_jitter),
        cmocka_unit_test(loss_keeps_a_tone_up),
        cmocka_unit_test(jitter_settles),
        cmocka_unit_test(delay_grows_and_shrinks),
        cmocka_unit_test(fec_before_concealment),
        cmocka_unit_test(outage_fades_to_silence),
        cmocka_unit_test(dtx_silence_then_speech),
        cmocka_unit_test(dtx_comfort_noise_stays_silent),
        cmocka_unit_test(free_phase_plays_at_the_target),
        cmocka_unit_test(duplicates),
        cmocka_unit_test(very_late_packets),
        cmocka_unit_test(wrapping_counters),
        cmocka_unit_test(new_ssrc),
        cmocka_unit_test(timestamp_jump),
        cmocka_unit_test(stalled_caller),
        cmocka_unit_test(packet_durations),
        cmocka_unit_test(garbage),
        cmocka_unit_test(before_the_first_packet),
        cmocka_unit_test(report_block),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(overflow_drops_oldest),
        cmocka_unit_test(nothing_allocated_per_packet),
    };
    return cmocka_run_group_tests(tests, NULL, free_cache);
}
