/*
 * audio_frame.h: owned PCM buffers (int16, interleaved) handed to the client
 * by handle, and the checks on buffers the client hands us.
 */
#ifndef LK_AUDIO_FRAME_H
#define LK_AUDIO_FRAME_H

#include <stdint.h>

#include "audio_frame.pb-c.h"
#include "handle.h"
#include "server.h"

typedef struct lk_audio_frame {
    lk_object base;
    uint32_t sample_rate;
    uint32_t num_channels;
    uint32_t samples_per_channel;
    int16_t data[]; /* num_channels * samples_per_channel, never moved */
} lk_audio_frame;

extern const lk_kind lk_audio_frame_kind;

/* The largest rate and channel count we accept (upstream has no limit; a
 * bound keeps a typo from asking for gigabytes). */
enum { LK_AUDIO_MAX_RATE = 768000, LK_AUDIO_MAX_CHANNELS = 64 };

/* A frame with room for the samples (contents unset); aborts on OOM. */
lk_audio_frame *lk_audio_frame_new(uint32_t sample_rate, uint32_t num_channels,
                                   uint32_t samples_per_channel);

/* Gives the client a handle on f (taking over the caller's reference) and
 * describes it in `owned`, whose sub-messages are the caller's `handle` and
 * `info`. */
void lk_audio_frame_give(lk_audio_frame *f, Livekit__Proto__OwnedAudioFrameBuffer *owned,
                         Livekit__Proto__FfiOwnedHandle *handle,
                         Livekit__Proto__AudioFrameBufferInfo *info);

/* Checks a client's buffer description: present, a non-null 2-byte-aligned
 * data_ptr, channels and rate in range, no overflow. `what` names the field
 * in messages ("buffer"). Returns the sample count (channels × samples per
 * channel) or -1 after lk_fail(). */
int64_t lk_audio_buffer_check(const Livekit__Proto__AudioFrameBufferInfo *b, const char *what);

#endif
