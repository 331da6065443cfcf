/*
 * audio_source.c: NewAudioSource, CaptureAudioFrame, ClearAudioBuffer.
 *
 * A buffered source (queue_size_ms > 0) keeps a queue of up to twice
 * queue_size_ms of samples. Every 10 ms, on a ring timer scheduled against
 * absolute time, it hands 10 ms of queued audio (silence when less is
 * queued) to its subscribers. A capture is copied into the queue in chunks of
 * queue_size_ms; its callback comes once the queue is back down to
 * queue_size_ms, so a client that awaits each capture runs at real time once
 * the queue is full. One capture waits at a time, as upstream.
 *
 * An unbuffered source (queue_size_ms = 0) takes exact 10 ms frames and hands
 * each to its subscribers at once.
 *
 * Everything but the subscriber list lives on the source's worker; client
 * threads reach it by posting tasks, so captures and clears apply in order.
 */
#include "audio_source.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "handlers.h"
#include "io.h"
#include "log.h"

static const uint64_t TICK_NS = 10000000u;
/* Behind by more than this (a stopped process, a debugger): start a fresh
 * schedule rather than burst out the backlog. */
static const uint64_t RESYNC_NS = 200000000u;

typedef struct capture_job capture_job;
typedef struct lk_audio_source lk_audio_source;

struct lk_audio_source {
    lk_object base;
    lkio_worker *worker;
    uint32_t sample_rate, num_channels;
    size_t chunk10;        /* samples in 10 ms, all channels */
    size_t queue_samples;  /* queue_size_ms worth; 0: unbuffered */

    /* worker only */
    int16_t *ring;
    size_t ring_cap, ring_head, ring_len;
    capture_job *pending; /* the capture waiting for the queue to drain */
    lkio_timer tick;
    uint64_t next_tick_ns;
    bool ticking; /* holds a reference while true */
    lkio_task kick_task;
    _Atomic bool kick_posted;

    lk_fanout subs;
    _Atomic bool closed;
};

struct capture_job {
    lkio_task task;
    lk_audio_source *src; /* a reference */
    uint64_t async_id;
    uint32_t sample_rate, num_channels;
    size_t n, done;
    int16_t samples[];
};

static lk_audio_source *source_of(lk_object *o)
{
    return lk_container_of(o, lk_audio_source, base);
}

/* --- the queue (worker only) --------------------------------------------- */

static void ring_push(lk_audio_source *s, const int16_t *in, size_t n)
{
    size_t tail = (s->ring_head + s->ring_len) % s->ring_cap;
    size_t first = n < s->ring_cap - tail ? n : s->ring_cap - tail;
    memcpy(s->ring + tail, in, first * sizeof *in);
    memcpy(s->ring, in + first, (n - first) * sizeof *in);
    s->ring_len += n;
}

static void ring_pop(lk_audio_source *s, int16_t *out, size_t n)
{
    size_t first = n < s->ring_cap - s->ring_head ? n : s->ring_cap - s->ring_head;
    memcpy(out, s->ring + s->ring_head, first * sizeof *out);
    memcpy(out + first, s->ring, (n - first) * sizeof *out);
    s->ring_head = (s->ring_head + n) % s->ring_cap;
    s->ring_len -= n;
}

/* --- subscribers --------------------------------------------------------- */

static void kick(lk_audio_source *s);

void lk_audio_source_subscribe(lk_object *source, lk_sub *sub)
{
    lk_audio_source *s = source_of(source);
    lk_fanout_add(&s->subs, sub);
    kick(s); /* a listener: start ticking */
}

void lk_audio_source_unsubscribe(lk_object *source, lk_sub *sub)
{
    lk_audio_source *s = source_of(source);
    lk_fanout_remove(&s->subs, sub);
    kick(s); /* maybe nobody listens any more */
}

lkio_worker *lk_audio_source_worker(lk_object *source)
{
    return source_of(source)->worker;
}

void lk_audio_source_end_track(lk_object *source, const void *track)
{
    lk_audio_source *s = source_of(source);
    lk_fanout_end_track(&s->subs, track);
    kick(s);
}

/* --- captures ------------------------------------------------------------ */

static void capture_finish(capture_job *job, const char *error)
{
    Livekit__Proto__CaptureAudioFrameCallback cb = LIVEKIT__PROTO__CAPTURE_AUDIO_FRAME_CALLBACK__INIT;
    cb.async_id = job->async_id;
    cb.error = (char *)error;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = LIVEKIT__PROTO__FFI_EVENT__MESSAGE_CAPTURE_AUDIO_FRAME;
    ev.capture_audio_frame = &cb;
    lk_audio_source *src = job->src;
    free(job);
    lk_emit(&ev);
    lk_unref(&src->base);
}

/* Moves the pending capture into the queue, a chunk of queue_size_ms at a
 * time, each once the queue is down to queue_size_ms; completes it when the
 * last chunk is in and the queue is down to queue_size_ms again. */
static void feed(lk_audio_source *s)
{
    capture_job *job = s->pending;
    while (job->done < job->n && s->ring_len <= s->queue_samples) {
        size_t n = job->n - job->done;
        if (n > s->queue_samples)
            n = s->queue_samples;
        ring_push(s, job->samples + job->done, n);
        job->done += n;
    }
    if (job->done == job->n && s->ring_len <= s->queue_samples) {
        s->pending = NULL;
        capture_finish(job, NULL);
    }
}

/* --- the 10 ms tick (worker only) ----------------------------------------- */

static void on_tick(lkio_timer *t);

/* Ticks while anyone listens or audio is on its way; a closed source with
 * nobody listening stops at once. */
static void update_ticking(lk_audio_source *s)
{
    bool closed = atomic_load(&s->closed);
    if (closed && s->pending) {
        capture_job *job = s->pending;
        s->pending = NULL;
        capture_finish(job, "audio source closed");
    }
    bool listening = !lk_fanout_empty(&s->subs);
    bool busy = listening || (!closed && (s->ring_len || s->pending));
    if (busy && !s->ticking && s->queue_samples) {
        s->ticking = true;
        lk_ref(&s->base);
        s->next_tick_ns = lkio_now_ns() + TICK_NS;
        lkio_timer_start(s->worker, &s->tick, s->next_tick_ns);
    } else if (!busy && s->ticking) {
        s->ticking = false;
        lkio_timer_stop(s->worker, &s->tick);
        lk_unref(&s->base); /* may free s: nothing after this */
    }
}

static void on_tick(lkio_timer *t)
{
    lk_audio_source *s = lk_container_of(t, lk_audio_source, tick);
    if (!lk_fanout_empty(&s->subs)) {
        lk_audio_frame *f = lk_audio_frame_new(s->sample_rate, s->num_channels,
                                               (uint32_t)(s->chunk10 / s->num_channels));
        if (s->ring_len >= s->chunk10)
            ring_pop(s, f->data, s->chunk10);
        else
            memset(f->data, 0, s->chunk10 * sizeof f->data[0]); /* keep the cadence */
        lk_fanout_publish(&s->subs, &f->base);
        lk_unref(&f->base);
    } else if (s->ring_len >= s->chunk10) {
        s->ring_head = (s->ring_head + s->chunk10) % s->ring_cap; /* played to nobody */
        s->ring_len -= s->chunk10;
    }
    if (s->pending)
        feed(s);

    uint64_t now = lkio_now_ns();
    s->next_tick_ns += TICK_NS;
    if (now > s->next_tick_ns + RESYNC_NS)
        s->next_tick_ns = now + TICK_NS;
    lkio_timer_start(s->worker, &s->tick, s->next_tick_ns);
    update_ticking(s);
}

static void on_kick(lkio_task *t)
{
    lk_audio_source *s = lk_container_of(t, lk_audio_source, kick_task);
    atomic_store(&s->kick_posted, false);
    update_ticking(s);
    lk_unref(&s->base);
}

static void kick(lk_audio_source *s)
{
    if (atomic_exchange(&s->kick_posted, true))
        return;
    lk_ref(&s->base);
    lkio_post(s->worker, &s->kick_task, on_kick);
}

/* Validates a capture against its source; NULL if it may go ahead. */
static const char *capture_problem(lk_audio_source *s, const capture_job *job, char *msg,
                                   size_t size)
{
    if (atomic_load(&s->closed))
        return "audio source closed";
    if (job->sample_rate != s->sample_rate || job->num_channels != s->num_channels)
        return "sample_rate and num_channels don't match";
    size_t frames = job->n / s->num_channels;
    if (!s->queue_samples && frames != s->chunk10 / s->num_channels) {
        snprintf(msg, size, "direct capture requires 10ms frames: got %zu frames, expected %zu",
                 frames, s->chunk10 / s->num_channels);
        return msg;
    }
    if (s->pending)
        return "failed to capture frame: another capture is still waiting for room in the "
               "queue (await each capture's callback)";
    return NULL;
}

static void capture_run(lkio_task *t)
{
    capture_job *job = lk_container_of(t, capture_job, task);
    lk_audio_source *s = job->src;
    char msg[128];
    const char *problem = capture_problem(s, job, msg, sizeof msg);
    if (problem) {
        capture_finish(job, problem);
        return;
    }
    lk_ref(&s->base); /* finishing the job drops its reference */
    if (!s->queue_samples) {
        lk_audio_frame *f = lk_audio_frame_new(s->sample_rate, s->num_channels,
                                               (uint32_t)(job->n / s->num_channels));
        memcpy(f->data, job->samples, job->n * sizeof job->samples[0]);
        lk_fanout_publish(&s->subs, &f->base);
        lk_unref(&f->base);
        capture_finish(job, NULL);
    } else {
        s->pending = job;
        feed(s);
        update_ticking(s);
    }
    lk_unref(&s->base);
}

typedef struct {
    lkio_task task;
    lk_audio_source *src;
} clear_job;

static void clear_run(lkio_task *t)
{
    clear_job *job = lk_container_of(t, clear_job, task);
    job->src->ring_len = 0;
    job->src->ring_head = 0;
    if (job->src->pending)
        feed(job->src); /* the waiting capture now has room */
    lk_unref(&job->src->base);
    free(job);
}

/* --- the object ---------------------------------------------------------- */

static void source_close(lk_object *o)
{
    lk_audio_source *s = source_of(o);
    atomic_store(&s->closed, true);
    kick(s);
}

static void source_free(lk_object *o)
{
    lk_audio_source *s = source_of(o);
    lk_fanout_destroy(&s->subs);
    free(s->ring);
    free(s);
}

/* Tracks keep their source alive: dropping the source's handle stops
 * captures, not the audio already flowing to a track's streams. */
const lk_kind lk_audio_source_kind = {"audio source", source_close, source_free};

/* --- sources fed from inside (remote tracks) ------------------------------ */

lk_object *lk_audio_source_new_fed(lkio_worker *w, uint32_t sample_rate, uint32_t num_channels)
{
    lk_audio_source *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    lk_object_init(&s->base, &lk_audio_source_kind);
    s->worker = w;
    s->sample_rate = sample_rate;
    s->num_channels = num_channels;
    s->chunk10 = (size_t)(sample_rate / 100) * num_channels;
    lkio_timer_init(&s->tick, on_tick); /* never started: no captures */
    lk_fanout_init(&s->subs);
    return &s->base;
}

bool lk_audio_source_idle(lk_object *source)
{
    return lk_fanout_empty(&source_of(source)->subs);
}

void lk_audio_source_deliver(lk_object *source, lk_audio_frame *f)
{
    lk_fanout_publish(&source_of(source)->subs, &f->base);
}

/* --- requests ------------------------------------------------------------ */

int lk_on_new_audio_source(lk_call *c)
{
    const Livekit__Proto__NewAudioSourceRequest *req = c->req->new_audio_source;
    if (req->has_type && req->type == LIVEKIT__PROTO__AUDIO_SOURCE_TYPE__AUDIO_SOURCE_PLATFORM)
        return lk_fail("platform audio sources (devices) are not supported by this build");
    uint32_t rate = req->has_sample_rate ? req->sample_rate : 48000;
    uint32_t channels = req->has_num_channels ? req->num_channels : 1;
    uint32_t queue_ms = req->has_queue_size_ms ? req->queue_size_ms : 1000;
    if (rate < 100 || rate > LK_AUDIO_MAX_RATE)
        return lk_fail("sample_rate must be 100..%d Hz (got %u)", LK_AUDIO_MAX_RATE, rate);
    if (channels == 0 || channels > LK_AUDIO_MAX_CHANNELS)
        return lk_fail("num_channels must be 1..%d (got %u)", LK_AUDIO_MAX_CHANNELS, channels);
    if (queue_ms % 10)
        return lk_fail("queue_size_ms must be a multiple of 10 (got %u)", queue_ms);
    if (queue_ms > 60000)
        return lk_fail("queue_size_ms must be at most 60000 (got %u)", queue_ms);

    lk_audio_source *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    lk_object_init(&s->base, &lk_audio_source_kind);
    s->worker = lkio_pick_worker();
    s->sample_rate = rate;
    s->num_channels = channels;
    s->chunk10 = (size_t)(rate / 100) * channels; /* upstream rounds 10 ms down too */
    s->queue_samples = (size_t)(queue_ms / 10) * s->chunk10;
    s->ring_cap = 2 * s->queue_samples;
    if (s->ring_cap && !(s->ring = malloc(s->ring_cap * sizeof *s->ring)))
        abort();
    lkio_timer_init(&s->tick, on_tick);
    lk_fanout_init(&s->subs);

    Livekit__Proto__NewAudioSourceResponse *res =
        lk_call_new(c, &livekit__proto__new_audio_source_response__descriptor);
    res->source = lk_call_new(c, &livekit__proto__owned_audio_source__descriptor);
    res->source->handle = lk_call_new(c, &livekit__proto__ffi_owned_handle__descriptor);
    res->source->info = lk_call_new(c, &livekit__proto__audio_source_info__descriptor);
    res->source->info->type = LIVEKIT__PROTO__AUDIO_SOURCE_TYPE__AUDIO_SOURCE_NATIVE;
    res->source->handle->id = lk_handle_insert(&s->base);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_NEW_AUDIO_SOURCE;
    c->res->new_audio_source = res;
    return 0;
}

int lk_on_capture_audio_frame(lk_call *c)
{
    const Livekit__Proto__CaptureAudioFrameRequest *req = c->req->capture_audio_frame;
    lk_object *o = lk_handle_get(req->source_handle, &lk_audio_source_kind);
    if (!o)
        return -1;
    int64_t n = lk_audio_buffer_check(req->buffer, "buffer");
    if (n < 0) {
        lk_unref(o);
        return -1;
    }
    capture_job *job = malloc(sizeof *job + (size_t)n * sizeof job->samples[0]);
    if (!job)
        abort();
    job->src = source_of(o); /* the reference from lk_handle_get */
    job->async_id = lk_async_id(req->has_request_async_id, req->request_async_id);
    job->sample_rate = req->buffer->sample_rate;
    job->num_channels = req->buffer->num_channels;
    job->n = (size_t)n;
    job->done = 0;
    /* Copied now: the caller may reuse its buffer once the callback comes. */
    memcpy(job->samples, (const void *)(uintptr_t)req->buffer->data_ptr,
           (size_t)n * sizeof job->samples[0]);

    Livekit__Proto__CaptureAudioFrameResponse *res =
        lk_call_new(c, &livekit__proto__capture_audio_frame_response__descriptor);
    res->async_id = job->async_id;
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_CAPTURE_AUDIO_FRAME;
    c->res->capture_audio_frame = res;
    lkio_post(job->src->worker, &job->task, capture_run);
    return 0;
}

int lk_on_clear_audio_buffer(lk_call *c)
{
    const Livekit__Proto__ClearAudioBufferRequest *req = c->req->clear_audio_buffer;
    lk_object *o = lk_handle_get(req->source_handle, &lk_audio_source_kind);
    if (!o)
        return -1;
    clear_job *job = malloc(sizeof *job);
    if (!job)
        abort();
    job->src = source_of(o);
    lkio_post(job->src->worker, &job->task, clear_run);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_CLEAR_AUDIO_BUFFER;
    c->res->clear_audio_buffer =
        lk_call_new(c, &livekit__proto__clear_audio_buffer_response__descriptor);
    return 0;
}
