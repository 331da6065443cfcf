/*
 * resampling.c: NewSoxResampler, PushSoxResampler, FlushSoxResampler,
 * NewAudioResampler, RemixAndResample.
 *
 * The sox resampler is libsoxr with upstream's settings: the quality recipe
 * value is soxr's recipe number (QUICK..VERYHIGH = 0..4) and flags go to soxr
 * as they are. Its output lives in a buffer the resampler owns, valid until
 * the next push, flush or drop on it. Interleaved (…16I) buffers hold frames
 * one after another; split (…16S) buffers hold each channel's samples one
 * after another.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio_frame.h"
#include "audio_resampler.h"
#include "error.h"
#include "handlers.h"
#include "soxr_loader.h"

/* --- sox ------------------------------------------------------------------ */

typedef struct {
    lk_object base;
    pthread_mutex_t lock; /* one call at a time, from any thread */
    const lk_soxr *sx;
    soxr_t soxr;
    double in_rate, out_rate;
    uint32_t channels;
    bool split_in, split_out;
    int16_t *out; /* what the last call returned points here */
    size_t out_cap;
} sox_resampler;

static void sox_free(lk_object *o)
{
    sox_resampler *s = lk_container_of(o, sox_resampler, base);
    s->sx->delete_(s->soxr);
    pthread_mutex_destroy(&s->lock);
    free(s->out);
    free(s);
}

static const lk_kind sox_kind = {"sox resampler", NULL, sox_free};

static int16_t *reserve_out(sox_resampler *s, size_t samples)
{
    if (samples > s->out_cap) {
        int16_t *p = realloc(s->out, samples * sizeof *p);
        if (!p)
            abort();
        s->out = p;
        s->out_cap = samples;
    }
    return s->out;
}

/* Runs soxr on `frames` frames at `in` (NULL: flush) into our buffer, with
 * room for `room` frames; returns the frames produced or -1. */
static long sox_run(sox_resampler *s, const int16_t *in, size_t frames, size_t room)
{
    int16_t *out = reserve_out(s, room * s->channels);
    const void *in_arg = in;
    void *out_arg = out;
    const int16_t *in_planes[LK_AUDIO_MAX_CHANNELS];
    int16_t *out_planes[LK_AUDIO_MAX_CHANNELS];
    if (s->split_in && in) {
        for (uint32_t c = 0; c < s->channels; c++)
            in_planes[c] = in + (size_t)c * frames;
        in_arg = in_planes;
    }
    if (s->split_out) {
        for (uint32_t c = 0; c < s->channels; c++)
            out_planes[c] = out + (size_t)c * room;
        out_arg = out_planes;
    }
    size_t idone = 0, odone = 0;
    soxr_error_t err = s->sx->process(s->soxr, in_arg, frames, in ? &idone : NULL, out_arg, room,
                                    &odone);
    if (err)
        return lk_fail("%s", err);
    if (s->split_out) /* close the gaps between planes: channel after channel */
        for (uint32_t c = 1; c < s->channels; c++)
            memmove(out + (size_t)c * odone, out + (size_t)c * room, odone * sizeof *out);
    return (long)odone;
}

/* The soxr resampler a request describes, or NULL after lk_fail(). */
static soxr_t sox_create(const Livekit__Proto__NewSoxResamplerRequest *req, const lk_soxr **sx)
{
    double in_rate = req->input_rate, out_rate = req->output_rate;
    if (!(in_rate >= 1 && in_rate <= 1e7) || !(out_rate >= 1 && out_rate <= 1e7)) {
        lk_fail("input_rate and output_rate must be 1..1e7 Hz (got %g, %g)", in_rate, out_rate);
        return NULL;
    }
    if (lk_audio_ratio_check(in_rate, out_rate) < 0)
        return NULL;
    if (req->num_channels == 0 || req->num_channels > LK_AUDIO_MAX_CHANNELS) {
        lk_fail("num_channels must be 1..%d (got %u)", LK_AUDIO_MAX_CHANNELS, req->num_channels);
        return NULL;
    }
    if (!(*sx = lk_soxr_api()))
        return NULL;
    /* Unknown enum values read as the first one, as upstream reads them. */
    unsigned recipe = req->quality_recipe <= LIVEKIT__PROTO__SOX_QUALITY_RECIPE__SOXR_QUALITY_VERYHIGH
                          ? (unsigned)req->quality_recipe : 0;
    soxr_error_t err = NULL;
    soxr_io_spec_t io = (*sx)->io_spec(
        req->input_data_type == LIVEKIT__PROTO__SOX_RESAMPLER_DATA_TYPE__SOXR_DATATYPE_INT16S
            ? SOXR_INT16_S : SOXR_INT16_I,
        req->output_data_type == LIVEKIT__PROTO__SOX_RESAMPLER_DATA_TYPE__SOXR_DATATYPE_INT16S
            ? SOXR_INT16_S : SOXR_INT16_I);
    soxr_quality_spec_t q = (*sx)->quality_spec(recipe, req->flags);
    soxr_runtime_spec_t rt = (*sx)->runtime_spec(1);
    soxr_t soxr = (*sx)->create(in_rate, out_rate, req->num_channels, &err, &io, &q, &rt);
    if (!soxr)
        lk_fail("soxr: %s", err ? err : "cannot create the resampler");
    return soxr;
}

int lk_on_new_sox_resampler(lk_call *c)
{
    const Livekit__Proto__NewSoxResamplerRequest *req = c->req->new_sox_resampler;
    Livekit__Proto__NewSoxResamplerResponse *res =
        lk_call_new(c, &livekit__proto__new_sox_resampler_response__descriptor);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_NEW_SOX_RESAMPLER;
    c->res->new_sox_resampler = res;

    const lk_soxr *sx = NULL;
    soxr_t soxr = sox_create(req, &sx);
    if (!soxr) { /* upstream answers with the response's error */
        res->message_case = LIVEKIT__PROTO__NEW_SOX_RESAMPLER_RESPONSE__MESSAGE_ERROR;
        res->error = lk_call_take_error(c);
        return 0;
    }
    sox_resampler *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    lk_object_init(&s->base, &sox_kind);
    pthread_mutex_init(&s->lock, NULL);
    s->sx = sx;
    s->soxr = soxr;
    s->in_rate = req->input_rate;
    s->out_rate = req->output_rate;
    s->channels = req->num_channels;
    s->split_in = req->input_data_type == LIVEKIT__PROTO__SOX_RESAMPLER_DATA_TYPE__SOXR_DATATYPE_INT16S;
    s->split_out = req->output_data_type == LIVEKIT__PROTO__SOX_RESAMPLER_DATA_TYPE__SOXR_DATATYPE_INT16S;
    reserve_out(s, (size_t)(s->out_rate / 100 + 1) * s->channels); /* a valid pointer from the start */

    res->message_case = LIVEKIT__PROTO__NEW_SOX_RESAMPLER_RESPONSE__MESSAGE_RESAMPLER;
    res->resampler = lk_call_new(c, &livekit__proto__owned_sox_resampler__descriptor);
    res->resampler->handle = lk_call_new(c, &livekit__proto__ffi_owned_handle__descriptor);
    res->resampler->info = lk_call_new(c, &livekit__proto__sox_resampler_info__descriptor);
    res->resampler->handle->id = lk_handle_insert(&s->base);
    return 0;
}

/* Fills a push or flush response (same shape): output, or the error. */
static void sox_answer(lk_call *c, const sox_resampler *s, long frames, uint64_t *output_ptr,
                       uint32_t *size, char **error)
{
    if (frames < 0) {
        *error = lk_call_take_error(c);
        frames = 0;
    }
    size_t bytes = (size_t)frames * s->channels * sizeof(int16_t);
    *output_ptr = bytes ? (uint64_t)(uintptr_t)s->out : 0;
    *size = (uint32_t)bytes;
}

int lk_on_push_sox_resampler(lk_call *c)
{
    const Livekit__Proto__PushSoxResamplerRequest *req = c->req->push_sox_resampler;
    lk_object *o = lk_handle_get(req->resampler_handle, &sox_kind);
    if (!o)
        return -1;
    sox_resampler *s = lk_container_of(o, sox_resampler, base);
    Livekit__Proto__PushSoxResamplerResponse *res =
        lk_call_new(c, &livekit__proto__push_sox_resampler_response__descriptor);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_PUSH_SOX_RESAMPLER;
    c->res->push_sox_resampler = res;

    size_t frame_bytes = (size_t)s->channels * sizeof(int16_t);
    long frames;
    if (req->size && !req->data_ptr)
        frames = lk_fail("data_ptr is null but size is %u", req->size);
    else if (req->data_ptr % sizeof(int16_t))
        frames = lk_fail("data_ptr must be aligned for i16");
    else if (req->size % frame_bytes)
        frames = lk_fail("size (%u bytes) is not a whole number of %u-channel int16 frames",
                         req->size, s->channels);
    else {
        size_t in_frames = req->size / frame_bytes;
        pthread_mutex_lock(&s->lock);
        size_t room = (size_t)ceil(in_frames * s->out_rate / s->in_rate + s->sx->delay(s->soxr)) + 1;
        /* soxr reads a NULL input as the end of the signal: an empty push
         * must not be one, or the next push writes through freed state. */
        static const int16_t nothing[1];
        const int16_t *in = req->data_ptr ? (const int16_t *)(uintptr_t)req->data_ptr : nothing;
        frames = sox_run(s, in, in_frames, room);
        pthread_mutex_unlock(&s->lock);
    }
    sox_answer(c, s, frames, &res->output_ptr, &res->size, &res->error);
    lk_unref(o);
    return 0;
}

int lk_on_flush_sox_resampler(lk_call *c)
{
    lk_object *o = lk_handle_get(c->req->flush_sox_resampler->resampler_handle, &sox_kind);
    if (!o)
        return -1;
    sox_resampler *s = lk_container_of(o, sox_resampler, base);
    Livekit__Proto__FlushSoxResamplerResponse *res =
        lk_call_new(c, &livekit__proto__flush_sox_resampler_response__descriptor);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_FLUSH_SOX_RESAMPLER;
    c->res->flush_sox_resampler = res;

    pthread_mutex_lock(&s->lock);
    /* Everything still inside soxr: its delay, with room to spare. */
    size_t room = (size_t)ceil(s->sx->delay(s->soxr)) + (size_t)(s->out_rate / 100) + 16;
    long frames = sox_run(s, NULL, 0, room);
    if (frames >= 0) {
        soxr_error_t err = s->sx->clear(s->soxr); /* ready for a new signal */
        if (err)
            frames = lk_fail("%s", err);
    }
    pthread_mutex_unlock(&s->lock);
    sox_answer(c, s, frames, &res->output_ptr, &res->size, &res->error);
    lk_unref(o);
    return 0;
}

/* --- remix and resample ----------------------------------------------------- */

typedef struct {
    lk_object base;
    pthread_mutex_t lock;
    lk_audio_resampler *r; /* made on first use: many are created and never used */
} remixer;

static void remixer_free(lk_object *o)
{
    remixer *m = lk_container_of(o, remixer, base);
    lk_audio_resampler_free(m->r);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const lk_kind remixer_kind = {"audio resampler", NULL, remixer_free};

int lk_on_new_audio_resampler(lk_call *c)
{
    remixer *m = calloc(1, sizeof *m);
    if (!m)
        abort();
    lk_object_init(&m->base, &remixer_kind);
    pthread_mutex_init(&m->lock, NULL);
    Livekit__Proto__NewAudioResamplerResponse *res =
        lk_call_new(c, &livekit__proto__new_audio_resampler_response__descriptor);
    res->resampler = lk_call_new(c, &livekit__proto__owned_audio_resampler__descriptor);
    res->resampler->handle = lk_call_new(c, &livekit__proto__ffi_owned_handle__descriptor);
    res->resampler->info = lk_call_new(c, &livekit__proto__audio_resampler_info__descriptor);
    res->resampler->handle->id = lk_handle_insert(&m->base);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_NEW_AUDIO_RESAMPLER;
    c->res->new_audio_resampler = res;
    return 0;
}

int lk_on_remix_and_resample(lk_call *c)
{
    const Livekit__Proto__RemixAndResampleRequest *req = c->req->remix_and_resample;
    lk_object *o = lk_handle_get(req->resampler_handle, &remixer_kind);
    if (!o)
        return -1;
    int rc = -1;
    if (lk_audio_buffer_check(req->buffer, "buffer") < 0)
        goto out;
    if (!req->has_num_channels || req->num_channels == 0 ||
        req->num_channels > LK_AUDIO_MAX_CHANNELS) {
        lk_fail("num_channels must be 1..%d (got %u)", LK_AUDIO_MAX_CHANNELS, req->num_channels);
        goto out;
    }
    if (!req->has_sample_rate || req->sample_rate == 0 || req->sample_rate > LK_AUDIO_MAX_RATE) {
        lk_fail("sample_rate must be 1..%d Hz (got %u)", LK_AUDIO_MAX_RATE, req->sample_rate);
        goto out;
    }
    remixer *m = lk_container_of(o, remixer, base);
    const Livekit__Proto__AudioFrameBufferInfo *b = req->buffer;
    pthread_mutex_lock(&m->lock);
    if (!m->r)
        m->r = lk_audio_resampler_new();
    lk_audio_frame *f = lk_audio_resampler_convert(
        m->r, (const int16_t *)(uintptr_t)b->data_ptr, b->samples_per_channel, b->num_channels,
        b->sample_rate, req->num_channels, req->sample_rate);
    pthread_mutex_unlock(&m->lock);
    if (!f)
        goto out;
    Livekit__Proto__RemixAndResampleResponse *res =
        lk_call_new(c, &livekit__proto__remix_and_resample_response__descriptor);
    res->buffer = lk_call_new(c, &livekit__proto__owned_audio_frame_buffer__descriptor);
    lk_audio_frame_give(f, res->buffer, lk_call_new(c, &livekit__proto__ffi_owned_handle__descriptor),
                        lk_call_new(c, &livekit__proto__audio_frame_buffer_info__descriptor));
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_REMIX_AND_RESAMPLE;
    c->res->remix_and_resample = res;
    rc = 0;
out:
    lk_unref(o);
    return rc;
}
