/*
 * opus_sender.c: PCM blocks to Opus RTP packets (see opus_sender.h).
 */
#include "opus_sender.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <opus/opus.h>

#include "rtp.h"

enum {
    /* libwebrtc's choice on desktops. For a mono voice 10 changes nothing:
     * libopus 1.3.1 codes it in SILK, whose settings top out at 8, and the
     * packets came out byte for byte the same, at the same cost (about
     * 0.3 ms a frame, bench/opus_bench); 5 costs a third less, with 8% fewer
     * bytes. */
    COMPLEXITY = 9,
    /* The loss FEC is sized for until the receiver reports one, mono.
     * Opus carries FEC in SILK, its speech layer, and switches to SILK to
     * carry it once the expected loss is high enough: free for a voice,
     * which is coded there anyway, but for stereo, likely music, it costs
     * fidelity (a two-tone test loses 10 dB of SNR at 64 kb/s). Stereo
     * starts from no loss and follows what set_packet_loss reports. */
    FEC_LOSS_PERCENT = 10,
    /* A frame louder than -50 dBov is voice (the V bit): quiet speech sits
     * around -40, a quiet room's noise floor below -60. An energy
     * threshold, not a voice detector: loud noise counts as voice. */
    VOICE_LEVEL = 50,
    /* Frames of this size or less carry no audio: Opus's DTX frames. */
    DTX_FRAME_MAX = 2,
};

struct lkopus_sender {
    OpusEncoder *enc;
    lkopus_config cfg;
    int16_t frame[LKOPUS_FRAME * 2]; /* the frame being filled, coded channels */
    bool half;                       /* its first block is in */
    uint64_t frame_ns;               /* the time of its first sample */
    bool muted, block_muted;         /* asked for; how the last block was taken */
    uint16_t seq;
    uint32_t next_ts;
    bool sent_any;
    bool in_dtx;       /* the last frame coded was a DTX frame */
    bool talk_pending; /* frames were left out: the next voiced packet gets the marker */
    /* for the sender report */
    uint32_t packets, octets;
    uint32_t ref_ts; /* the last frame's timestamp, and the time of its first sample */
    uint64_t ref_ns;
};

const char *lkopus_strerror(int err)
{
    switch (err) {
    case LKOPUS_E_INVALID:
        return "invalid argument";
    case LKOPUS_E_NOSPACE:
        return "buffer too small";
    case LKOPUS_E_CODEC:
        return "opus encoder failed";
    default:
        return err >= 0 ? "ok" : "unknown error";
    }
}

static void say(char *err, size_t errlen, const char *what, const char *detail)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

static int check_config(const lkopus_config *cfg, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!cfg)
        why = "no config";
    else if (cfg->channels != 1 && cfg->channels != 2)
        why = "channels must be 1 or 2";
    else if (cfg->payload_type > 127 || (cfg->payload_type >= 64 && cfg->payload_type <= 95))
        why = "payload type must be 0..63 or 96..127";
    else if (cfg->ext_audio_level_id > 14)
        why = "audio level extension id must be 0..14";
    else if (cfg->bitrate && (cfg->bitrate < 6000 || cfg->bitrate > 510000))
        why = "bitrate must be 0 or 6000..510000";
    if (!why)
        return 0;
    say(err, errlen, why, NULL);
    return -1;
}

lkopus_sender *lkopus_sender_new(const lkopus_config *cfg, char *err, size_t errlen)
{
    if (check_config(cfg, err, errlen) < 0)
        return NULL;
    lkopus_sender *s = calloc(1, sizeof *s);
    if (!s)
        abort(); /* the library's policy: out of memory aborts */
    s->cfg = *cfg;
    if (!s->cfg.bitrate)
        s->cfg.bitrate = cfg->channels == 1 ? 32000 : 64000;
    if (cfg->fixed_start) {
        s->seq = cfg->first_seq;
        s->next_ts = cfg->first_ts;
    } else {
        /* RFC 3550 5.1: random starting points, against known-plaintext
         * attacks on the encryption. */
        unsigned char r[6];
        if (RAND_bytes(r, sizeof r) != 1) {
            say(err, errlen, "no random numbers for the RTP sequence and timestamp", NULL);
            free(s);
            return NULL;
        }
        s->seq = (uint16_t)(r[0] << 8 | r[1]);
        s->next_ts = (uint32_t)r[2] << 24 | (uint32_t)r[3] << 16 | (uint32_t)r[4] << 8 | r[5];
    }
    /* Mono is a microphone: VOIP tunes Opus for speech. Stereo is more
     * likely music, which AUDIO keeps more faithfully. */
    int app = cfg->channels == 1 ? OPUS_APPLICATION_VOIP : OPUS_APPLICATION_AUDIO;
    int rc, loss = cfg->fec && cfg->channels == 1 ? FEC_LOSS_PERCENT : 0;
    s->enc = opus_encoder_create(LKOPUS_RATE, (int)cfg->channels, app, &rc);
    if (!s->enc) {
        say(err, errlen, "opus_encoder_create", opus_strerror(rc));
        free(s);
        return NULL;
    }
    if ((rc = opus_encoder_ctl(s->enc, OPUS_SET_BITRATE((opus_int32)s->cfg.bitrate))) ||
        (rc = opus_encoder_ctl(s->enc, OPUS_SET_COMPLEXITY(COMPLEXITY))) ||
        (rc = opus_encoder_ctl(s->enc, OPUS_SET_INBAND_FEC(cfg->fec ? 1 : 0))) ||
        (rc = opus_encoder_ctl(s->enc, OPUS_SET_PACKET_LOSS_PERC(loss))) ||
        (rc = opus_encoder_ctl(s->enc, OPUS_SET_DTX(cfg->dtx ? 1 : 0)))) {
        say(err, errlen, "opus_encoder_ctl", opus_strerror(rc));
        lkopus_sender_free(s);
        return NULL;
    }
    return s;
}

void lkopus_sender_free(lkopus_sender *s)
{
    if (!s)
        return;
    opus_encoder_destroy(s->enc);
    free(s);
}

void lkopus_sender_set_muted(lkopus_sender *s, bool muted)
{
    if (s)
        s->muted = muted;
}

void lkopus_sender_set_packet_loss(lkopus_sender *s, unsigned percent)
{
    if (s)
        opus_encoder_ctl(s->enc, OPUS_SET_PACKET_LOSS_PERC(percent > 100 ? 100 : (int)percent));
}

/* One block into the frame at dst, mixed to the coded channels: stereo to
 * mono averages, mono to stereo duplicates. */
static void mix_in(int16_t *dst, unsigned coded, const int16_t *pcm, unsigned channels)
{
    for (size_t i = 0; i < LKOPUS_BLOCK; i++) {
        if (coded == channels) {
            for (unsigned c = 0; c < coded; c++)
                dst[i * coded + c] = pcm[i * channels + c];
        } else if (coded == 1) {
            dst[i] = (int16_t)(((int32_t)pcm[2 * i] + pcm[2 * i + 1]) / 2);
        } else {
            dst[2 * i] = dst[2 * i + 1] = pcm[i];
        }
    }
}

/* Muting as a linear ramp over the block where it changes, so that the
 * cut makes no click; silence while it lasts. */
static void apply_mute(lkopus_sender *s, int16_t *block, unsigned coded)
{
    bool was = s->block_muted, now = s->muted;
    s->block_muted = now;
    if (!was && !now)
        return;
    if (was && now) {
        memset(block, 0, LKOPUS_BLOCK * coded * sizeof *block);
        return;
    }
    for (size_t i = 0; i < LKOPUS_BLOCK; i++) {
        int32_t g = now ? (int32_t)(LKOPUS_BLOCK - i) : (int32_t)i; /* of LKOPUS_BLOCK */
        for (unsigned c = 0; c < coded; c++)
            block[i * coded + c] = (int16_t)(block[i * coded + c] * g / LKOPUS_BLOCK);
    }
}

/* RFC 6464: the frame's level in -dBov, 0..127, where 0 dBov is the RMS
 * of a full-scale square wave (so a full-scale sine reads 3). */
static uint8_t frame_level(const int16_t *pcm, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)pcm[i] * pcm[i];
    if (sum == 0)
        return 127;
    double dbov = 10 * log10(sum / (double)n / (32768.0 * 32768.0));
    long level = lround(-dbov);
    return (uint8_t)(level < 0 ? 0 : level > 127 ? 127 : level);
}

/* The complete frame: encoded after the header's room in out, then, if it
 * is to be sent, the header written in front of it. */
static int finish_frame(lkopus_sender *s, uint8_t *out)
{
    unsigned coded = s->cfg.channels;
    uint32_t ts = s->next_ts;
    s->next_ts += LKOPUS_FRAME;
    s->ref_ts = ts;
    s->ref_ns = s->frame_ns;

    size_t hdr = LKRTP_HEADER_SIZE + (s->cfg.ext_audio_level_id ? 8 : 0);
    opus_int32 n = opus_encode(s->enc, s->frame, LKOPUS_FRAME, out + hdr, LKOPUS_MAX_PAYLOAD);
    if (n < 0)
        return LKOPUS_E_CODEC;

    uint8_t level = frame_level(s->frame, LKOPUS_FRAME * coded);
    bool voice = level <= VOICE_LEVEL;
    if (s->cfg.dtx && n <= DTX_FRAME_MAX) {
        bool first = !s->in_dtx;
        s->in_dtx = true;
        if (!first) {
            s->talk_pending = true;
            return 0;
        }
    } else {
        s->in_dtx = false;
    }

    lkrtp_header h = {
        .marker = !s->sent_any || (s->talk_pending && voice),
        .payload_type = s->cfg.payload_type,
        .seq = s->seq,
        .timestamp = ts,
        .ssrc = s->cfg.ssrc,
    };
    if (voice)
        s->talk_pending = false;
    lkrtp_builder b;
    lkrtp_begin(&b, out, hdr, &h);
    if (s->cfg.ext_audio_level_id)
        lkrtp_add_audio_level(&b, s->cfg.ext_audio_level_id, voice, level);
    int len = lkrtp_end(&b);
    if (len != (int)hdr)
        return LKOPUS_E_INVALID; /* cannot happen: the config was checked */
    s->seq++;
    s->sent_any = true;
    s->packets++;
    s->octets += (uint32_t)n;
    return (int)hdr + n;
}

int lkopus_sender_push(lkopus_sender *s, const int16_t *pcm, unsigned channels,
                       size_t samples_per_channel, uint64_t now_ns, uint8_t *out, size_t cap)
{
    if (!s || !pcm || !out || (channels != 1 && channels != 2) ||
        samples_per_channel != LKOPUS_BLOCK)
        return LKOPUS_E_INVALID;
    if (cap < LKOPUS_MAX_PACKET)
        return LKOPUS_E_NOSPACE;
    unsigned coded = s->cfg.channels;
    int16_t *block = s->frame + (s->half ? LKOPUS_BLOCK * coded : 0);
    mix_in(block, coded, pcm, channels);
    apply_mute(s, block, coded);
    if (!s->half) {
        s->frame_ns = now_ns;
        s->half = true;
        return 0;
    }
    s->half = false;
    return finish_frame(s, out);
}

int lkopus_sender_write_sr(lkopus_sender *s, uint64_t now_ns, uint64_t ntp_now, uint8_t *buf,
                           size_t cap, const char *cname)
{
    if (!s || !buf || !cname)
        return LKOPUS_E_INVALID;
    size_t cname_len = strlen(cname);
    if (cname_len > 255)
        return LKOPUS_E_INVALID;
    if (!s->packets)
        return 0;
    /* Signed: a report may be asked for a moment before the last frame's
     * first sample (the block's time is its schedule, not when it came). */
    int64_t elapsed = (int64_t)(now_ns - s->ref_ns);
    int64_t ticks = elapsed / 1000000000 * LKOPUS_RATE +
                    elapsed % 1000000000 * LKOPUS_RATE / 1000000000;
    lkrtcp_sr sr = {
        .ssrc = s->cfg.ssrc,
        .ntp = ntp_now,
        .rtp_timestamp = s->ref_ts + (uint32_t)ticks,
        .packets = s->packets,
        .octets = s->octets,
    };
    int a = lkrtcp_write_sr(buf, cap, &sr);
    if (a < 0)
        return LKOPUS_E_NOSPACE;
    int b = lkrtcp_write_sdes_cname(buf + a, cap - (size_t)a, s->cfg.ssrc, cname, cname_len);
    if (b < 0)
        return LKOPUS_E_NOSPACE;
    return a + b;
}
