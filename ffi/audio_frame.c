/* audio_frame.c: owned PCM buffers. */
#include "audio_frame.h"

#include <stdlib.h>

#include "error.h"

static void audio_frame_free(lk_object *o)
{
    free(lk_container_of(o, lk_audio_frame, base));
}

const lk_kind lk_audio_frame_kind = {"audio frame", NULL, audio_frame_free};

lk_audio_frame *lk_audio_frame_new(uint32_t sample_rate, uint32_t num_channels,
                                   uint32_t samples_per_channel)
{
    size_t n = (size_t)num_channels * samples_per_channel;
    lk_audio_frame *f = malloc(sizeof *f + n * sizeof f->data[0]);
    if (!f)
        abort();
    lk_object_init(&f->base, &lk_audio_frame_kind);
    f->sample_rate = sample_rate;
    f->num_channels = num_channels;
    f->samples_per_channel = samples_per_channel;
    return f;
}

void lk_audio_frame_give(lk_audio_frame *f, Livekit__Proto__OwnedAudioFrameBuffer *owned,
                         Livekit__Proto__FfiOwnedHandle *handle,
                         Livekit__Proto__AudioFrameBufferInfo *info)
{
    livekit__proto__owned_audio_frame_buffer__init(owned);
    livekit__proto__ffi_owned_handle__init(handle);
    livekit__proto__audio_frame_buffer_info__init(info);
    /* upstream fills all four fields; they are optional in our schema only
     * because requests carry this message too */
    info->has_data_ptr = info->has_num_channels = true;
    info->has_sample_rate = info->has_samples_per_channel = true;
    info->data_ptr = (uint64_t)(uintptr_t)f->data;
    info->num_channels = f->num_channels;
    info->sample_rate = f->sample_rate;
    info->samples_per_channel = f->samples_per_channel;
    handle->id = lk_handle_insert(&f->base);
    owned->handle = handle;
    owned->info = info;
}

int64_t lk_audio_buffer_check(const Livekit__Proto__AudioFrameBufferInfo *b, const char *what)
{
    if (!b)
        return lk_fail("%s is missing", what);
    if (!b->has_data_ptr || !b->data_ptr)
        return lk_fail("%s.data_ptr is missing or null", what);
    if (b->data_ptr % 2)
        return lk_fail("%s.data_ptr must be aligned for int16 samples", what);
    if (!b->has_num_channels || b->num_channels == 0 || b->num_channels > LK_AUDIO_MAX_CHANNELS)
        return lk_fail("%s.num_channels must be 1..%d (got %u)", what, LK_AUDIO_MAX_CHANNELS,
                       b->num_channels);
    if (!b->has_sample_rate || b->sample_rate == 0 || b->sample_rate > LK_AUDIO_MAX_RATE)
        return lk_fail("%s.sample_rate must be 1..%d Hz (got %u)", what, LK_AUDIO_MAX_RATE,
                       b->sample_rate);
    if (!b->has_samples_per_channel)
        return lk_fail("%s.samples_per_channel is missing", what);
    /* 64 channels × 2^32 samples cannot overflow 64 bits; cap at 2^31
     * samples in all (4 GiB) so sizes stay in int and size_t everywhere. */
    uint64_t n = (uint64_t)b->num_channels * b->samples_per_channel;
    if (n > INT32_MAX)
        return lk_fail("%s is too large: %u channels × %u samples", what, b->num_channels,
                       b->samples_per_channel);
    return (int64_t)n;
}
