/* audio_resampler.c: see audio_resampler.h. */
#include "audio_resampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <speex/speex_resampler.h>

#include "error.h"

/* Extra silence put ahead of the first output, per channel, so the ±1
 * sample jitter of the resampler's output never underflows the FIFO. */
enum { SLACK_FRAMES = 8 };

/* speexdsp's VOIP quality (48 taps): 24 input samples of delay, as little
 * as upstream's resampler shows (0.4-1 ms), and its output correlates with
 * upstream's at 0.9996 or better (tests/conformance). Higher qualities cost
 * more and drift further from upstream's delay. */
enum { QUALITY = SPEEX_RESAMPLER_QUALITY_VOIP };

struct lk_audio_resampler {
    SpeexResamplerState *speex; /* NULL when rates are equal or nothing ran yet */
    uint32_t in_rate, out_rate, channels;
    bool configured;
    bool primed;
    int16_t *fifo; /* resampled, interleaved, not yet returned */
    size_t fifo_len, fifo_cap;
    int16_t *mix; /* downmixed input */
    size_t mix_cap;
};

/* Room for `want` elements; never NULL, even for none. */
static void *grow(void *p, size_t *cap, size_t want, size_t elem)
{
    if (p && want <= *cap)
        return p;
    size_t cap2 = *cap ? *cap : 256;
    while (cap2 < want)
        cap2 *= 2;
    p = realloc(p, cap2 * elem);
    if (!p)
        abort();
    *cap = cap2;
    return p;
}

int lk_audio_ratio_check(double in_rate, double out_rate)
{
    if (in_rate * LK_AUDIO_MAX_RATIO < out_rate || out_rate * LK_AUDIO_MAX_RATIO < in_rate)
        return lk_fail("cannot resample %g Hz to %g Hz: more than a factor of %d", in_rate,
                       out_rate, LK_AUDIO_MAX_RATIO);
    return 0;
}

lk_audio_resampler *lk_audio_resampler_new(void)
{
    lk_audio_resampler *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    return r;
}

void lk_audio_resampler_free(lk_audio_resampler *r)
{
    if (!r)
        return;
    if (r->speex)
        speex_resampler_destroy(r->speex);
    free(r->fifo);
    free(r->mix);
    free(r);
}

static int configure(lk_audio_resampler *r, uint32_t in_rate, uint32_t out_rate, uint32_t ch)
{
    if (r->configured && r->in_rate == in_rate && r->out_rate == out_rate && r->channels == ch)
        return 0;
    if (r->speex)
        speex_resampler_destroy(r->speex);
    r->speex = NULL;
    r->fifo_len = 0;
    r->primed = false;
    r->configured = false;
    if (in_rate != out_rate) {
        if (lk_audio_ratio_check(in_rate, out_rate) < 0)
            return -1;
        int err = 0;
        r->speex = speex_resampler_init(ch, in_rate, out_rate, QUALITY, &err);
        if (!r->speex)
            return lk_fail("cannot resample %u Hz to %u Hz: %s", in_rate, out_rate,
                           speex_resampler_strerror(err));
    }
    r->in_rate = in_rate;
    r->out_rate = out_rate;
    r->channels = ch;
    r->configured = true;
    return 0;
}

/* in: n frames of in_ch channels; out: n frames of out_ch (< in_ch). */
static void downmix(const int16_t *in, uint32_t in_ch, int16_t *out, uint32_t out_ch, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const int16_t *f = in + i * in_ch;
        for (uint32_t j = 0; j < out_ch; j++) {
            int32_t sum = 0, count = 0;
            for (uint32_t k = j; k < in_ch; k += out_ch, count++)
                sum += f[k];
            out[i * out_ch + j] = (int16_t)(sum / count);
        }
    }
}

/* in: n frames of in_ch channels; out: n frames of out_ch (> in_ch). */
static void upmix(const int16_t *in, uint32_t in_ch, int16_t *out, uint32_t out_ch, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < out_ch; j++)
            out[i * out_ch + j] = in[i * in_ch + j % in_ch];
}

/* Resamples n frames (r->channels each) and appends them to the FIFO. */
static int resample_into_fifo(lk_audio_resampler *r, const int16_t *in, size_t n)
{
    size_t ch = r->channels;
    if (!r->speex) {
        r->fifo = grow(r->fifo, &r->fifo_cap, r->fifo_len + n * ch, sizeof *r->fifo);
        memcpy(r->fifo + r->fifo_len, in, n * ch * sizeof *in);
        r->fifo_len += n * ch;
        return 0;
    }
    while (n) {
        size_t room = (size_t)ceil((double)n * r->out_rate / r->in_rate) + 2;
        r->fifo = grow(r->fifo, &r->fifo_cap, r->fifo_len + room * ch, sizeof *r->fifo);
        spx_uint32_t used = (spx_uint32_t)n, made = (spx_uint32_t)room;
        int err = speex_resampler_process_interleaved_int(r->speex, in, &used,
                                                          r->fifo + r->fifo_len, &made);
        if (err != RESAMPLER_ERR_SUCCESS)
            return lk_fail("resampling failed: %s", speex_resampler_strerror(err));
        if (!used && !made)
            return lk_fail("resampling %u Hz to %u Hz made no progress", r->in_rate, r->out_rate);
        r->fifo_len += made * ch;
        in += used * ch;
        n -= used;
    }
    return 0;
}

lk_audio_frame *lk_audio_resampler_convert(lk_audio_resampler *r, const int16_t *data,
                                           uint32_t samples_per_channel, uint32_t in_channels,
                                           uint32_t in_rate, uint32_t out_channels,
                                           uint32_t out_rate)
{
    uint32_t work_ch = in_channels < out_channels ? in_channels : out_channels;
    if (configure(r, in_rate, out_rate, work_ch) < 0)
        return NULL;
    size_t n = samples_per_channel;
    const int16_t *in = data;
    if (in_channels > out_channels) {
        r->mix = grow(r->mix, &r->mix_cap, n * work_ch, sizeof *r->mix);
        downmix(data, in_channels, r->mix, work_ch, n);
        in = r->mix;
    }
    if (resample_into_fifo(r, in, n) < 0)
        return NULL;

    size_t want = (size_t)((uint64_t)n * out_rate / in_rate); /* frames */
    size_t have = r->fifo_len / work_ch;
    if (have < want && !r->primed) {
        /* The filter's latency: pay it once, as silence ahead of the signal. */
        size_t lead = (want - have + SLACK_FRAMES) * work_ch;
        r->fifo = grow(r->fifo, &r->fifo_cap, r->fifo_len + lead, sizeof *r->fifo);
        memmove(r->fifo + lead, r->fifo, r->fifo_len * sizeof *r->fifo);
        memset(r->fifo, 0, lead * sizeof *r->fifo);
        r->fifo_len += lead;
        have = r->fifo_len / work_ch;
    }
    r->primed = true;
    size_t give = have < want ? have : want; /* short only if the jitter beat the slack */

    lk_audio_frame *f = lk_audio_frame_new(out_rate, out_channels, (uint32_t)want);
    if (out_channels == work_ch)
        memcpy(f->data, r->fifo, give * work_ch * sizeof *f->data);
    else
        upmix(r->fifo, work_ch, f->data, out_channels, give);
    if (give < want)
        memset(f->data + give * out_channels, 0, (want - give) * out_channels * sizeof *f->data);
    r->fifo_len -= give * work_ch;
    memmove(r->fifo, r->fifo + give * work_ch, r->fifo_len * sizeof *r->fifo);
    return f;
}
