/*
 * apm.h: audio processing on 10 ms int16 interleaved frames, in place:
 * a high-pass filter, an echo canceller, noise suppression and automatic
 * gain control, each switched on at creation (upstream's four booleans).
 *
 * Capture frames go through process(), the far-end (playout) frames the
 * echo is made of through process_reverse(). set_stream_delay() says how
 * much later than its reverse frame an echo shows up in the capture.
 */
#ifndef LK_APM_H
#define LK_APM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lk_apm lk_apm;

lk_apm *lk_apm_new(bool echo_canceller, bool gain_controller, bool high_pass_filter,
                   bool noise_suppression); /* aborts on OOM */
void lk_apm_free(lk_apm *apm);

/* The rates upstream's APM accepts; speexdsp runs at any of them. */
enum { LK_APM_MIN_RATE = 8000, LK_APM_MAX_RATE = 384000 };

/* data holds `samples` samples in all: a whole number of 10 ms frames at
 * sample_rate (LK_APM_MIN_RATE..LK_APM_MAX_RATE) with num_channels channels.
 * Return 0, or -1 after lk_fail(). */
int lk_apm_process(lk_apm *apm, int16_t *data, size_t samples, uint32_t sample_rate,
                   uint32_t num_channels);
int lk_apm_process_reverse(lk_apm *apm, int16_t *data, size_t samples, uint32_t sample_rate,
                           uint32_t num_channels);
int lk_apm_set_stream_delay(lk_apm *apm, int delay_ms);

#endif
