/* The Opus sender as a receiver sees it: a 440 Hz tone sent through it and
 * decoded with libopus comes out as a 440 Hz tone, 30 dB above the coding
 * noise once aligned for the codec's delay (mono, stereo, and input mixed
 * either way); every packet's RTP header and audio level read as promised;
 * DTX leaves silence out but keeps the clock, and the tone after it comes
 * back whole with a marker; mute sends coded silence; the sender report
 * counts what was sent and extrapolates its timestamp; bad input is
 * refused with a code and changes nothing; nothing is allocated per
 * packet. */
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

#include "opus_sender.h"
#include "rtp.h"

enum {
    PT = 111,
    LEVEL_ID = 1,
    SSRC = 0x1234abcd,
    FIRST_SEQ = 65530, /* wraps within the first second */
    MAX_PKTS = 400,
    MAX_SECONDS = 5,
    MAX_SAMPLES = LKOPUS_RATE * MAX_SECONDS,
};
static const uint32_t FIRST_TS = 0xfffff000u; /* wraps too */
static const uint64_t T0 = 1000000000000ull;  /* the pushes' clock at the first block */
static const double AMP = 0.316227766 * 32767; /* a sine peaking at -10 dBFS */

/* --- driving a sender ------------------------------------------------------------- */

/* The input: a sample of channel c at index n. */
typedef int16_t (*signal_fn)(size_t n, unsigned c);

typedef struct sent {
    uint8_t data[LKOPUS_MAX_PACKET];
    int len;
    size_t frame; /* which 20 ms frame of the input */
    lkrtp_packet p;
} sent;

static sent pkts[MAX_PKTS];
static size_t n_pkts;

static lkopus_config config(unsigned channels, bool dtx)
{
    return (lkopus_config){
        .ssrc = SSRC,
        .payload_type = PT,
        .ext_audio_level_id = LEVEL_ID,
        .dtx = dtx,
        .fec = true,
        .channels = channels,
        .fixed_start = true,
        .first_seq = FIRST_SEQ,
        .first_ts = FIRST_TS,
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

/* Pushes the blocks [from, to) of the signal, in `channels`, keeping the
 * packets that come out, each parsed. */
static void push_blocks(lkopus_sender *s, signal_fn sig, unsigned channels, size_t from,
                        size_t to)
{
    int16_t pcm[LKOPUS_BLOCK * 2];
    for (size_t b = from; b < to; b++) {
        for (size_t i = 0; i < LKOPUS_BLOCK; i++)
            for (unsigned c = 0; c < channels; c++)
                pcm[i * channels + c] = sig(b * LKOPUS_BLOCK + i, c);
        assert_true(n_pkts < MAX_PKTS);
        sent *k = &pkts[n_pkts];
        int rc = lkopus_sender_push(s, pcm, channels, LKOPUS_BLOCK, T0 + b * 10000000ull,
                                    k->data, sizeof k->data);
        assert_true(rc >= 0);
        if (b % 2 == 0) {
            assert_int_equal(rc, 0); /* the first half of a frame */
            continue;
        }
        if (rc == 0)
            continue;
        k->len = rc;
        k->frame = b / 2;
        assert_int_equal(lkrtp_parse(&k->p, k->data, (size_t)rc), 0);
        n_pkts++;
    }
}

static void reset(void)
{
    n_pkts = 0;
}

/* The packet of this frame, or NULL: DTX left it out. */
static const sent *packet_of(size_t frame)
{
    for (size_t i = 0; i < n_pkts; i++)
        if (pkts[i].frame == frame)
            return &pkts[i];
    return NULL;
}

/* Decodes frames [0, n_frames) as a receiver would: a frame without a
 * packet is concealed (Opus's PLC, or its comfort noise after a DTX
 * frame). out gets n_frames * 960 samples per channel, interleaved. */
static void decode(unsigned channels, size_t n_frames, float *out)
{
    int rc;
    OpusDecoder *dec = opus_decoder_create(LKOPUS_RATE, (int)channels, &rc);
    assert_non_null(dec);
    for (size_t f = 0; f < n_frames; f++) {
        const sent *k = packet_of(f);
        float *dst = out + f * LKOPUS_FRAME * channels;
        if (k)
            rc = opus_decode_float(dec, k->p.payload, (opus_int32)k->p.payload_len, dst,
                                   LKOPUS_FRAME, 0);
        else
            rc = opus_decode_float(dec, NULL, 0, dst, LKOPUS_FRAME, 0);
        assert_int_equal(rc, LKOPUS_FRAME);
    }
    opus_decoder_destroy(dec);
}

/* --- signals and measures ----------------------------------------------------------- */

static double sine(double hz, size_t n)
{
    return AMP * sin(2 * M_PI * hz * (double)n / LKOPUS_RATE);
}

static int16_t tone(size_t n, unsigned c)
{
    return (int16_t)lrint(sine(440, n));
}

/* 440 Hz left, 660 Hz right. */
static int16_t two_tones(size_t n, unsigned c)
{
    return (int16_t)lrint(sine(c ? 660 : 440, n));
}

/* Tone for 1 s, 2 s of digital silence, tone again. */
static int16_t tone_gap_tone(size_t n, unsigned c)
{
    return n >= LKOPUS_RATE && n < 3 * LKOPUS_RATE ? 0 : tone(n, c);
}

/* Channel c of interleaved float samples scaled to int16's range. */
static double at(const float *x, unsigned channels, unsigned c, size_t n)
{
    return x[n * channels + c] * 32768.0;
}

/* Goertzel: the power of one frequency over [from, from + len). */
static double power_at(const float *x, unsigned channels, unsigned c, size_t from, size_t len,
                       double hz)
{
    double w = 2 * cos(2 * M_PI * hz / LKOPUS_RATE), s1 = 0, s2 = 0;
    for (size_t n = from; n < from + len; n++) {
        double s0 = at(x, channels, c, n) + w * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return s1 * s1 + s2 * s2 - w * s1 * s2;
}

/* The strongest frequency from 100 Hz to 2 kHz, in 10 Hz steps. */
static double dominant_hz(const float *x, unsigned channels, unsigned c, size_t from,
                          size_t len)
{
    double best = 0, best_hz = 0;
    for (double hz = 100; hz <= 2000; hz += 10) {
        double p = power_at(x, channels, c, from, len, hz);
        if (p > best) {
            best = p;
            best_hz = hz;
        }
    }
    return best_hz;
}

/* The encoder's lookahead, which the decoded signal lags the input by
 * (libopus's own figure; the same for both applications). */
static int lookahead(void)
{
    int rc, la = -1;
    OpusEncoder *e = opus_encoder_create(LKOPUS_RATE, 1, OPUS_APPLICATION_VOIP, &rc);
    assert_non_null(e);
    assert_int_equal(opus_encoder_ctl(e, OPUS_GET_LOOKAHEAD(&la)), OPUS_OK);
    opus_encoder_destroy(e);
    return la;
}

/* The codec's delay: the lag at which the decoded channel best matches
 * the reference over [from, from + len). A tone matches itself every
 * period (109 samples at 440 Hz), so the search stays within half a
 * period of the lookahead; SILK's delay runs a few samples short of it. */
static size_t delay_of(const float *x, unsigned channels, unsigned c, signal_fn ref,
                       unsigned ref_c, size_t from, size_t len)
{
    size_t la = (size_t)lookahead();
    double best = -INFINITY;
    size_t best_d = 0;
    for (size_t d = la - 50; d <= la + 50; d++) {
        double sum = 0;
        for (size_t n = from; n < from + len; n += 3) /* plenty to find the peak */
            sum += ref(n, ref_c) * at(x, channels, c, n + d);
        if (sum > best) {
            best = sum;
            best_d = d;
        }
    }
    return best_d;
}

/* Signal to noise in dB: the reference against the decoded channel
 * shifted back by the delay, over [from, from + len). */
static double snr_db(const float *x, unsigned channels, unsigned c, signal_fn ref,
                     unsigned ref_c, size_t delay, size_t from, size_t len)
{
    double sig = 0, noise = 0;
    for (size_t n = from; n < from + len; n++) {
        double r = ref(n, ref_c), e = r - at(x, channels, c, n + delay);
        sig += r * r;
        noise += e * e;
    }
    return 10 * log10(sig / noise);
}

static double rms_dbov(const float *x, unsigned channels, unsigned c, size_t from, size_t len)
{
    double sum = 0;
    for (size_t n = from; n < from + len; n++)
        sum += at(x, channels, c, n) * at(x, channels, c, n);
    return sum == 0 ? -INFINITY : 10 * log10(sum / (double)len / (32768.0 * 32768.0));
}

/* The tone, decoded, is a 440 Hz tone 30 dB above the coding noise. The
 * frequency is found on the window's first 250 ms (Goertzel's resolution
 * there is 4 Hz); the delay and the SNR over all of it: SILK's delay
 * wanders by a sample, and one sample off alone leaves a 440 Hz tone only
 * 25 dB above its error. */
static void assert_tone(const float *x, unsigned channels, unsigned c, signal_fn ref,
                        unsigned ref_c, double hz, size_t from, size_t len)
{
    size_t probe = len < LKOPUS_RATE / 4 ? len : LKOPUS_RATE / 4;
    assert_true(dominant_hz(x, channels, c, from, probe) == hz);
    size_t d = delay_of(x, channels, c, ref, ref_c, from, len);
    double snr = snr_db(x, channels, c, ref, ref_c, d, from, len);
    print_message("channel %u: delay %zu samples, SNR %.1f dB\n", c, d, snr);
    assert_in_range(d, (size_t)lookahead() - 10, (size_t)lookahead());
    assert_true(snr >= 30);
}

static void level_of(const sent *k, bool *voice, uint8_t *level)
{
    assert_true(lkrtp_ext_audio_level(&k->p, LEVEL_ID, voice, level));
}

/* --- the tone, mono --------------------------------------------------------------------- */

static float decoded[MAX_SAMPLES * 2];

static void mono_tone(void **state)
{
    lkopus_config cfg = config(1, true);
    lkopus_sender *s = new_sender(&cfg);
    reset();
    push_blocks(s, tone, 1, 0, 300); /* 3 s */
    assert_int_equal(n_pkts, 150);   /* a steady tone: no frame left out */
    for (size_t i = 0; i < n_pkts; i++) {
        const sent *k = &pkts[i];
        assert_int_equal(k->data[0] >> 6, 2);
        assert_int_equal(k->p.h.payload_type, PT);
        assert_int_equal(k->p.h.ssrc, SSRC);
        assert_int_equal(k->p.h.seq, (uint16_t)(FIRST_SEQ + i));
        assert_int_equal(k->p.h.timestamp, (uint32_t)(FIRST_TS + 960 * i));
        assert_int_equal(k->p.h.marker, i == 0);
        assert_int_equal(k->p.h.csrc_count, 0);
        assert_int_equal(k->p.padding, 0);
        bool voice;
        uint8_t level;
        level_of(k, &voice, &level);
        /* a sine peaking at -10 dBFS has an RMS 13 dB below a full-scale
         * square wave's, 0 dBov (the first frame fades in from nothing) */
        if (i > 0)
            assert_in_range(level, 12, 14);
        assert_true(voice);
        /* 32 kb/s is 80 bytes a frame on average */
        assert_in_range(k->p.payload_len, 3, 400);
    }
    decode(1, 150, decoded);
    assert_tone(decoded, 1, 0, tone, 0, 440, LKOPUS_RATE / 2, 2 * LKOPUS_RATE);
    lkopus_sender_free(s);
}

/* Stereo input, mono coded: the channels averaged. */
static void stereo_input_mono_coded(void **state)
{
    lkopus_config cfg = config(1, true);
    lkopus_sender *s = new_sender(&cfg);
    reset();
    push_blocks(s, tone, 2, 0, 300);
    assert_int_equal(n_pkts, 150);
    decode(1, 150, decoded);
    assert_tone(decoded, 1, 0, tone, 0, 440, LKOPUS_RATE / 2, 2 * LKOPUS_RATE);
    lkopus_sender_free(s);
}

/* Stereo in, stereo coded: each channel keeps its own tone. */
static void stereo_tones(void **state)
{
    lkopus_config cfg = config(2, true);
    lkopus_sender *s = new_sender(&cfg);
    reset();
    push_blocks(s, two_tones, 2, 0, 300);
    assert_int_equal(n_pkts, 150);
    for (size_t i = 0; i < n_pkts; i++) {
        assert_int_equal(pkts[i].p.h.seq, (uint16_t)(FIRST_SEQ + i));
        assert_int_equal(pkts[i].p.h.marker, i == 0);
        assert_true(opus_packet_get_nb_channels(pkts[i].p.payload) == 2);
    }
    decode(2, 150, decoded);
    assert_tone(decoded, 2, 0, two_tones, 0, 440, LKOPUS_RATE / 2, 2 * LKOPUS_RATE);
    assert_tone(decoded, 2, 1, two_tones, 1, 660, LKOPUS_RATE / 2, 2 * LKOPUS_RATE);
    lkopus_sender_free(s);
}

/* Mono in, stereo coded: the tone on both sides. */
static void mono_input_stereo_coded(void **state)
{
    lkopus_config cfg = config(2, false);
    lkopus_sender *s = new_sender(&cfg);
    reset();
    push_blocks(s, tone, 1, 0, 300);
    assert_int_equal(n_pkts, 150);
    decode(2, 150, decoded);
    for (unsigned c = 0; c < 2; c++)
        assert_tone(decoded, 2, c, tone, 0, 440, LKOPUS_RATE / 2, 2 * LKOPUS_RATE);
    lkopus_sender_free(s);
}

/* --- DTX ---------------------------------------------------------------------------------- */

static void dtx_leaves_out_silence(void **state)
{
    lkopus_config cfg = config(1, true);
    lkopus_sender *s = new_sender(&cfg);
    reset();
    push_blocks(s, tone_gap_tone, 1, 0, 400); /* 4 s: tone, 2 s of silence, tone */
    print_message("DTX: %zu packets for 200 frames\n", n_pkts);

    /* Silence from frame 50 to 150. After the encoder's hangover (200 ms)
     * and the first DTX frame, only comfort noise every ~400 ms, each
     * followed by a DTX frame again: 2 packets in 20 frames, not 20. */
    size_t in_gap = 0, first_after = 0;
    for (size_t i = 0; i < n_pkts; i++) {
        if (pkts[i].frame >= 70 && pkts[i].frame < 150)
            in_gap++;
        if (pkts[i].frame >= 150 && !first_after)
            first_after = i;
    }
    print_message("DTX: %zu packets in the 1.6 s after the hangover\n", in_gap);
    assert_true(in_gap <= 10);
    assert_true(first_after > 0);
    assert_true(n_pkts < 200 - 60);

    for (size_t i = 0; i < n_pkts; i++) {
        const sent *k = &pkts[i];
        /* the clock runs through what was left out; the sequence does not */
        assert_int_equal(k->p.h.seq, (uint16_t)(FIRST_SEQ + i));
        assert_int_equal(k->p.h.timestamp, (uint32_t)(FIRST_TS + 960 * k->frame));
        if (i > 0 && k->frame != pkts[i - 1].frame + 1)
            assert_int_equal((uint32_t)(k->p.h.timestamp - pkts[i - 1].p.h.timestamp),
                             960 * (k->frame - pkts[i - 1].frame));
        bool voice;
        uint8_t level;
        level_of(k, &voice, &level);
        if (k->frame >= 51 && k->frame < 150) {
            assert_int_equal(level, 127); /* digital silence */
            assert_false(voice);
        }
        /* a talkspurt starts at the first packet and where the tone comes back */
        assert_int_equal(k->p.h.marker, i == 0 || i == first_after);
    }
    assert_int_equal(pkts[first_after].frame, 150);
    bool voice;
    uint8_t level;
    level_of(&pkts[first_after], &voice, &level);
    assert_true(voice);

    /* the second tone is whole: every frame sent, decoded as the first */
    for (size_t f = 150; f < 200; f++)
        assert_non_null(packet_of(f));
    decode(1, 200, decoded);
    assert_tone(decoded, 1, 0, tone_gap_tone, 0, 440, 3 * LKOPUS_RATE + LKOPUS_RATE / 10,
                LKOPUS_RATE * 8 / 10);
    /* and the gap decodes as near silence */
    assert_true(rms_dbov(decoded, 1, 0, LKOPUS_RATE * 3 / 2, LKOPUS_RATE) < -60);
    lkopus_sender_free(s);
}

static int16_t silence(size_t n, unsigned c)
{
    return 0;
}

/* Without DTX every frame goes out, silent or not. */
static void without_dtx_every_frame(void **state)
{
    lkopus_config cfg = config(1, false);
    lkopus_sender *s = new_sender(&cfg);
    reset();
    push_blocks(s, silence, 1, 0, 200);
    assert_int_equal(n_pkts, 100);
    for (size_t i = 0; i < n_pkts; i++) {
        assert_int_equal(pkts[i].frame, i);
        assert_int_equal(pkts[i].p.h.marker, i == 0);
        bool voice;
        uint8_t level;
        level_of(&pkts[i], &voice, &level);
        assert_int_equal(level, 127);
        assert_false(voice);
    }
    lkopus_sender_free(s);
}

/* --- mute --------------------------------------------------------------------------------- */

/* Tone in throughout; muted from 1 s to 2 s. */
static void run_muted(lkopus_sender *s)
{
    reset();
    push_blocks(s, tone, 1, 0, 100);
    lkopus_sender_set_muted(s, true);
    push_blocks(s, tone, 1, 100, 200);
    lkopus_sender_set_muted(s, false);
    push_blocks(s, tone, 1, 200, 300);
}

static void mute_sends_coded_silence(void **state)
{
    for (int dtx = 0; dtx < 2; dtx++) {
        lkopus_config cfg = config(1, dtx);
        lkopus_sender *s = new_sender(&cfg);
        run_muted(s);
        size_t muted = 0, first_after = 0;
        for (size_t i = 0; i < n_pkts; i++) {
            const sent *k = &pkts[i];
            assert_int_equal(k->p.h.seq, (uint16_t)(FIRST_SEQ + i));
            assert_int_equal(k->p.h.timestamp, (uint32_t)(FIRST_TS + 960 * k->frame));
            bool voice;
            uint8_t level;
            level_of(k, &voice, &level);
            /* frame 50 holds the fade out, 100 the fade in */
            if (k->frame > 50 && k->frame < 100) {
                muted++;
                assert_int_equal(level, 127);
                assert_false(voice);
            }
            if (k->frame >= 100 && !first_after)
                first_after = i;
        }
        print_message("muted, dtx %d: %zu packets in 49 frames\n", dtx, muted);
        if (dtx) {
            assert_true(muted <= 15); /* the hangover, one DTX frame, comfort noise */
            assert_true(pkts[first_after].p.h.marker);
        } else {
            assert_int_equal(muted, 49); /* the stream keeps going */
            for (size_t i = 1; i < n_pkts; i++)
                assert_false(pkts[i].p.h.marker);
        }
        assert_int_equal(pkts[first_after].frame, 100);
        decode(1, 150, decoded);
        /* what was muted is silent; the tone before and after is whole */
        assert_true(rms_dbov(decoded, 1, 0, LKOPUS_RATE + LKOPUS_RATE / 20,
                             LKOPUS_RATE * 9 / 10) < -60);
        assert_tone(decoded, 1, 0, tone, 0, 440, LKOPUS_RATE / 4, LKOPUS_RATE / 2);
        assert_tone(decoded, 1, 0, tone, 0, 440, LKOPUS_RATE * 9 / 4, LKOPUS_RATE / 2);
        lkopus_sender_free(s);
    }
}

/* --- the sender report ------------------------------------------------------------------ */

static void sender_report(void **state)
{
    lkopus_config cfg = config(1, true);
    lkopus_sender *s = new_sender(&cfg);
    uint8_t buf[LKOPUS_MAX_SR];
    /* nothing sent yet: nothing to report */
    assert_int_equal(lkopus_sender_write_sr(s, T0, 1, buf, sizeof buf, "cname"), 0);
    reset();
    push_blocks(s, tone, 1, 0, 100); /* 50 frames; the last starts at T0 + 980 ms */
    uint32_t octets = 0;
    for (size_t i = 0; i < n_pkts; i++)
        octets += (uint32_t)pkts[i].p.payload_len;
    uint32_t last_ts = FIRST_TS + 49 * 960;

    const uint64_t ntp = 0xe8a1b2c3d4e5f607ull;
    /* 35 ms after the last frame's first sample: 1680 ticks on */
    int n = lkopus_sender_write_sr(s, T0 + 1015000000ull, ntp, buf, sizeof buf, "lk-cname");
    assert_true(n > 0);
    lkrtcp_iter it;
    lkrtcp_packet p;
    lkrtcp_iter_init(&it, buf, (size_t)n);
    assert_int_equal(lkrtcp_next(&it, &p), 1);
    lkrtcp_sr sr;
    assert_int_equal(lkrtcp_parse_sr(&p, &sr), 0);
    assert_int_equal(sr.ssrc, SSRC);
    assert_true(sr.ntp == ntp);
    assert_int_equal(sr.packets, 50);
    assert_int_equal(sr.octets, octets);
    assert_int_equal(sr.rtp_timestamp, (uint32_t)(last_ts + 1680));
    assert_int_equal(sr.n_reports, 0);
    assert_int_equal(lkrtcp_next(&it, &p), 1);
    assert_int_equal(p.type, LKRTCP_SDES);
    assert_int_equal(p.count, 1);
    assert_int_equal(p.body[4], 1); /* CNAME */
    assert_int_equal(p.body[5], 8);
    assert_memory_equal(p.body + 6, "lk-cname", 8);
    assert_int_equal(lkrtcp_next(&it, &p), 0);

    /* a report a little before that frame's first sample: backwards */
    n = lkopus_sender_write_sr(s, T0 + 979000000ull, ntp, buf, sizeof buf, "c");
    lkrtcp_iter_init(&it, buf, (size_t)n);
    assert_int_equal(lkrtcp_next(&it, &p), 1);
    assert_int_equal(lkrtcp_parse_sr(&p, &sr), 0);
    assert_int_equal(sr.rtp_timestamp, (uint32_t)(last_ts - 48));
    /* an hour on, without rounding drift */
    n = lkopus_sender_write_sr(s, T0 + 980000000ull + 3600000000000ull, ntp, buf, sizeof buf, "c");
    lkrtcp_iter_init(&it, buf, (size_t)n);
    assert_int_equal(lkrtcp_next(&it, &p), 1);
    assert_int_equal(lkrtcp_parse_sr(&p, &sr), 0);
    assert_int_equal(sr.rtp_timestamp, (uint32_t)(last_ts + 3600u * 48000u));

    /* frames DTX leaves out move the reference on too */
    push_blocks(s, silence, 1, 100, 300);
    assert_true(n_pkts < 150);
    n = lkopus_sender_write_sr(s, T0 + 2980000000ull, ntp, buf, sizeof buf, "c");
    lkrtcp_iter_init(&it, buf, (size_t)n);
    assert_int_equal(lkrtcp_next(&it, &p), 1);
    assert_int_equal(lkrtcp_parse_sr(&p, &sr), 0);
    assert_int_equal(sr.rtp_timestamp, (uint32_t)(FIRST_TS + 149 * 960));
    assert_int_equal(sr.packets, n_pkts);

    /* the largest CNAME fits LKOPUS_MAX_SR; a longer one, or a smaller buffer, does not */
    char cname[257];
    memset(cname, 'c', 256);
    cname[256] = 0;
    assert_int_equal(lkopus_sender_write_sr(s, T0, ntp, buf, sizeof buf, cname),
                     LKOPUS_E_INVALID);
    cname[255] = 0;
    assert_int_equal(lkopus_sender_write_sr(s, T0, ntp, buf, sizeof buf, cname),
                     (int)sizeof buf);
    assert_int_equal(lkopus_sender_write_sr(s, T0, ntp, buf, sizeof buf - 1, cname),
                     LKOPUS_E_NOSPACE);
    assert_int_equal(lkopus_sender_write_sr(s, T0, ntp, buf, 27, "c"), LKOPUS_E_NOSPACE);
    assert_int_equal(lkopus_sender_write_sr(s, T0, ntp, buf, sizeof buf, NULL),
                     LKOPUS_E_INVALID);
    assert_int_equal(lkopus_sender_write_sr(s, T0, ntp, NULL, sizeof buf, "c"),
                     LKOPUS_E_INVALID);
    assert_int_equal(lkopus_sender_write_sr(NULL, T0, ntp, buf, sizeof buf, "c"),
                     LKOPUS_E_INVALID);
    lkopus_sender_free(s);
}

/* --- bad input, and what must not happen ---------------------------------------------- */

static void bad_config(void **state)
{
    char err[128];
    assert_null(lkopus_sender_new(NULL, err, sizeof err));
    assert_true(err[0]);
    const struct {
        lkopus_config cfg;
        const char *why;
    } bad[] = {
        {{.channels = 0, .payload_type = PT}, "channels"},
        {{.channels = 3, .payload_type = PT}, "channels"},
        {{.channels = 1, .payload_type = 128}, "payload type"},
        {{.channels = 1, .payload_type = 72}, "payload type"}, /* reads as an SR */
        {{.channels = 1, .payload_type = PT, .ext_audio_level_id = 15}, "extension id"},
        {{.channels = 1, .payload_type = PT, .bitrate = 5999}, "bitrate"},
        {{.channels = 2, .payload_type = PT, .bitrate = 510001}, "bitrate"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_null(lkopus_sender_new(&bad[i].cfg, err, sizeof err));
        assert_non_null(strstr(err, bad[i].why));
    }
    /* no room for the reason is fine */
    assert_null(lkopus_sender_new(&bad[0].cfg, NULL, 0));
    lkopus_sender_free(NULL);
    lkopus_sender_set_muted(NULL, true);
    lkopus_sender_set_packet_loss(NULL, 5);
    assert_string_equal(lkopus_strerror(LKOPUS_E_NOSPACE), "buffer too small");
}

static void bad_push(void **state)
{
    lkopus_config cfg = config(1, false);
    lkopus_sender *s = new_sender(&cfg);
    int16_t pcm[LKOPUS_BLOCK * 3] = {0};
    uint8_t out[LKOPUS_MAX_PACKET];
    const size_t B = LKOPUS_BLOCK;
    assert_int_equal(lkopus_sender_push(NULL, pcm, 1, B, T0, out, sizeof out), LKOPUS_E_INVALID);
    assert_int_equal(lkopus_sender_push(s, NULL, 1, B, T0, out, sizeof out), LKOPUS_E_INVALID);
    assert_int_equal(lkopus_sender_push(s, pcm, 1, B, T0, NULL, sizeof out), LKOPUS_E_INVALID);
    assert_int_equal(lkopus_sender_push(s, pcm, 0, B, T0, out, sizeof out), LKOPUS_E_INVALID);
    assert_int_equal(lkopus_sender_push(s, pcm, 3, B, T0, out, sizeof out), LKOPUS_E_INVALID);
    for (size_t n = 0; n <= 2 * B; n += 1) {
        if (n != B)
            assert_int_equal(lkopus_sender_push(s, pcm, 1, n, T0, out, sizeof out),
                             LKOPUS_E_INVALID);
    }
    assert_int_equal(lkopus_sender_push(s, pcm, 1, B, T0, out, sizeof out - 1),
                     LKOPUS_E_NOSPACE);
    /* none of that counted: the next two blocks make the first packet */
    assert_int_equal(lkopus_sender_push(s, pcm, 1, B, T0, out, sizeof out), 0);
    int n = lkopus_sender_push(s, pcm, 2, B, T0 + 10000000, out, sizeof out);
    assert_true(n > 0);
    lkrtp_packet p;
    assert_int_equal(lkrtp_parse(&p, out, (size_t)n), 0);
    assert_int_equal(p.h.seq, FIRST_SEQ);
    assert_int_equal(p.h.timestamp, FIRST_TS);
    assert_true(p.h.marker);
    lkopus_sender_set_packet_loss(s, 0);
    lkopus_sender_set_packet_loss(s, 1000);
    lkopus_sender_free(s);
}

/* Without the extension id, a bare 12-byte header; and random starts. */
static void no_extension_and_random_start(void **state)
{
    lkopus_config cfg = config(1, false);
    cfg.ext_audio_level_id = 0;
    lkopus_sender *s = new_sender(&cfg);
    reset();
    push_blocks(s, tone, 1, 0, 4);
    assert_int_equal(n_pkts, 2);
    assert_false(pkts[0].p.has_ext);
    assert_int_equal(pkts[0].p.header_len, 12);
    lkopus_sender_free(s);

    uint32_t starts[2][2];
    for (int k = 0; k < 2; k++) {
        cfg = config(1, false);
        cfg.fixed_start = false;
        s = new_sender(&cfg);
        reset();
        push_blocks(s, tone, 1, 0, 2);
        starts[k][0] = pkts[0].p.h.seq;
        starts[k][1] = pkts[0].p.h.timestamp;
        lkopus_sender_free(s);
    }
    /* 48 random bits apiece: equal by chance once in 2^48 */
    assert_true(starts[0][0] != starts[1][0] || starts[0][1] != starts[1][1]);
}

/* A second of pushes allocates nothing once the first packet is out. */
static void nothing_allocated_per_packet(void **state)
{
    lkopus_config cfg = config(1, true);
    lkopus_sender *s = new_sender(&cfg);
    reset();
    push_blocks(s, tone, 1, 0, 2);
    struct mallinfo2 before = mallinfo2();
    reset();
    push_blocks(s, tone_gap_tone, 1, 2, 200);
    struct mallinfo2 after = mallinfo2();
    assert_int_equal(after.uordblks, before.uordblks);
    assert_int_equal(after.hblkhd, before.hblkhd);
    lkopus_sender_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mono_tone),
        cmocka_unit_test(stereo_input_mono_coded),
        cmocka_unit_test(stereo_tones),
        cmocka_unit_test(mono_input_stereo_coded),
        cmocka_unit_test(dtx_leaves_out_silence),
        cmocka_unit_test(without_dtx_every_frame),
        cmocka_unit_test(mute_sends_coded_silence),
        cmocka_unit_test(sender_report),
        cmocka_unit_test(bad_config),
        cmocka_unit_test(bad_push),
        cmocka_unit_test(no_extension_and_random_start),
        cmocka_unit_test(nothing_allocated_per_packet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
