/*
 * audio_resampler.h: remix and resample int16 interleaved audio, a frame at
 * a time, the way upstream's RemixAndResample does: each call returns
 * exactly in_samples × out_rate / in_rate samples per channel (a 10 ms frame
 * in, a 10 ms frame out), continuous across calls.
 *
 * Channels: N → 1 averages, 1 → M duplicates; otherwise output channel j is
 * input channel j (j < N) or the average of the input channels congruent to
 * j modulo M (downmix), or input channel j mod N (upmix). Downmixing happens
 * before resampling and upmixing after, so the resampler runs on the fewer
 * channels.
 *
 * Resampling is speexdsp's streaming resampler: low latency (about 1 ms,
 * like upstream's), output as soon as input arrives. A small FIFO absorbs
 * the ±1 sample a fractional ratio gives per call, so every call returns its
 * exact share. Changing rates or channel counts between calls starts afresh.
 */
#ifndef LK_AUDIO_RESAMPLER_H
#define LK_AUDIO_RESAMPLER_H

#include <stdint.h>

#include "audio_frame.h"

typedef struct lk_audio_resampler lk_audio_resampler;

/* Resampling by more than this factor is refused: set-up time and filter
 * length grow with the ratio (a fuzzer found 10^90 hanging libsoxr). */
enum { LK_AUDIO_MAX_RATIO = 256 };

/* 0 if in_rate → out_rate is within LK_AUDIO_MAX_RATIO, else -1 after lk_fail(). */
int lk_audio_ratio_check(double in_rate, double out_rate);

lk_audio_resampler *lk_audio_resampler_new(void); /* aborts on OOM */
void lk_audio_resampler_free(lk_audio_resampler *r);

/* Converts samples_per_channel × in_channels interleaved samples at in_rate
 * to out_channels at out_rate. Returns a new frame (one reference), or NULL
 * after lk_fail(). Callers have checked the counts are in range. */
lk_audio_frame *lk_audio_resampler_convert(lk_audio_resampler *r, const int16_t *data,
                                           uint32_t samples_per_channel, uint32_t in_channels,
                                           uint32_t in_rate, uint32_t out_channels,
                                           uint32_t out_rate);

#endif
