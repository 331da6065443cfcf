/*
 * audio_stream.c: NewAudioStream (on a local or a remote track) and
 * AudioStreamFromParticipant.
 *
 * The source hands each 10 ms frame to the stream on the source's worker;
 * the stream queues it (a bounded queue: when full, the oldest frame is
 * dropped, as upstream does) and its own worker converts it to the stream's
 * rate and channel count, regroups it into frame_size_ms frames if asked,
 * and sends AudioStreamEvent{frame_received}. A slow client therefore
 * delays only its own stream, never the source's cadence, and costs at most
 * queue_size_frames frames of memory. The stream ends with
 * AudioStreamEvent{eos} when its handle or its track's handle is dropped,
 * or a remote track stops arriving.
 *
 * A stream from a participant reads, as upstream's does, whichever of
 * that participant's subscribed tracks has the source asked for: it waits
 * for one, moves to the next when it goes, and ends (eos) when the
 * participant leaves or the session ends (ffi/subscribe.c's watch).
 */
#include <stdlib.h>
#include <string.h>

#include "audio_frame.h"
#include "audio_resampler.h"
#include "audio_source.h"
#include "error.h"
#include "flow.h"
#include "handlers.h"
#include "io.h"
#include "log.h"
#include "room_handle.h"
#include "track.h"

enum {
    DEFAULT_QUEUE_FRAMES = 10,
    /* upstream's 0 means unbounded; ours is bounded anyway: 10 s of audio */
    UNBOUNDED_QUEUE_FRAMES = 1000,
};

typedef struct audio_stream {
    lk_object base;
    lk_sub sub;
    lk_queue queue;
    /* From a track: references on it and its audio source. From a
     * participant: the track it reads now, on the room's worker (NULL
     * between tracks), and the watch that brings them. */
    lk_object *source;
    lk_track *track;
    lk_room *room; /* from a participant: a reference */
    lk_track_watch watch;
    lkio_task watch_task, unwatch_task;
    uint32_t sample_rate, num_channels;
    size_t frame_samples; /* frame_size_ms worth, all channels; 0: as they come */

    /* the stream's worker only */
    lk_audio_resampler *resampler;
    int16_t *pending; /* converted samples not yet a whole frame_samples frame */
    size_t pending_len;
} audio_stream;

static audio_stream *stream_of(lk_object *o)
{
    return lk_container_of(o, audio_stream, base);
}

/* --- events (stream worker) ---------------------------------------------- */

static void send_frame(audio_stream *st, lk_audio_frame *f)
{
    Livekit__Proto__OwnedAudioFrameBuffer owned;
    Livekit__Proto__FfiOwnedHandle handle;
    Livekit__Proto__AudioFrameBufferInfo info;
    lk_audio_frame_give(f, &owned, &handle, &info);
    Livekit__Proto__AudioFrameReceived received = LIVEKIT__PROTO__AUDIO_FRAME_RECEIVED__INIT;
    received.frame = &owned;
    Livekit__Proto__AudioStreamEvent se = LIVEKIT__PROTO__AUDIO_STREAM_EVENT__INIT;
    se.stream_handle = st->base.id;
    se.message_case = LIVEKIT__PROTO__AUDIO_STREAM_EVENT__MESSAGE_FRAME_RECEIVED;
    se.frame_received = &received;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = LIVEKIT__PROTO__FFI_EVENT__MESSAGE_AUDIO_STREAM_EVENT;
    ev.audio_stream_event = &se;
    if (!lk_emit(&ev))
        lk_handle_drop(handle.id); /* nobody to hand it to */
}

static void send_eos(lk_queue *q)
{
    audio_stream *st = lk_container_of(q, audio_stream, queue);
    Livekit__Proto__AudioStreamEOS eos = LIVEKIT__PROTO__AUDIO_STREAM_EOS__INIT;
    Livekit__Proto__AudioStreamEvent se = LIVEKIT__PROTO__AUDIO_STREAM_EVENT__INIT;
    se.stream_handle = st->base.id;
    se.message_case = LIVEKIT__PROTO__AUDIO_STREAM_EVENT__MESSAGE_EOS;
    se.eos = &eos;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = LIVEKIT__PROTO__FFI_EVENT__MESSAGE_AUDIO_STREAM_EVENT;
    ev.audio_stream_event = &se;
    lk_emit(&ev);
}

/* Converted samples in; whole frames out (frame_samples each, or as they
 * come when no frame size was asked for). */
static void emit_samples(audio_stream *st, lk_audio_frame *converted)
{
    size_t n = (size_t)converted->num_channels * converted->samples_per_channel;
    if (!st->frame_samples) {
        send_frame(st, converted);
        return;
    }
    size_t used = 0;
    while (used < n) {
        size_t take = st->frame_samples - st->pending_len;
        if (take > n - used)
            take = n - used;
        memcpy(st->pending + st->pending_len, converted->data + used, take * sizeof(int16_t));
        st->pending_len += take;
        used += take;
        if (st->pending_len == st->frame_samples) {
            lk_audio_frame *f = lk_audio_frame_new(st->sample_rate, st->num_channels,
                                                   (uint32_t)(st->frame_samples / st->num_channels));
            memcpy(f->data, st->pending, st->frame_samples * sizeof(int16_t));
            st->pending_len = 0;
            send_frame(st, f);
        }
    }
    lk_unref(&converted->base);
}

/* On the stream's worker: one 10 ms frame of the source in. */
static void convert_frame(lk_queue *q, lk_object *item)
{
    audio_stream *st = lk_container_of(q, audio_stream, queue);
    lk_audio_frame *in = lk_container_of(item, lk_audio_frame, base);
    lk_audio_frame *out = lk_audio_resampler_convert(st->resampler, in->data,
                                                     in->samples_per_channel, in->num_channels,
                                                     in->sample_rate, st->num_channels,
                                                     st->sample_rate);
    lk_unref(item);
    if (out)
        emit_samples(st, out);
    else
        lk_log_warn("audio stream %llu: %s", (unsigned long long)st->base.id, lk_error());
}

/* On the source's worker, with the fanout's lock held. */
static void on_source_frame(lk_sub *sub, lk_object *frame)
{
    lk_queue_push(&lk_container_of(sub, audio_stream, sub)->queue, frame);
}

static void on_track_ended(lk_sub *sub)
{
    lk_queue_end(&lk_container_of(sub, audio_stream, sub)->queue);
}

/* --- the object ---------------------------------------------------------- */

/* On the room's worker: the stream's handle was dropped. */
static void unwatch_run(lkio_task *t)
{
    audio_stream *st = lk_container_of(t, audio_stream, unwatch_task);
    if (lk_room_unwatch(st->room, &st->watch))
        lk_unref(&st->base); /* the watch's: it will not end now */
    lk_queue_end(&st->queue);
    lk_unref(&st->base);
}

static void stream_close(lk_object *o)
{
    audio_stream *st = stream_of(o);
    if (st->room) {
        lk_ref(o); /* for the task */
        lkio_post(st->room->w, &st->unwatch_task, unwatch_run);
        return;
    }
    lk_audio_source_unsubscribe(st->source, &st->sub);
    lk_queue_end(&st->queue); /* upstream sends eos for a dropped stream too */
}

static void stream_free(lk_object *o)
{
    audio_stream *st = stream_of(o);
    lk_audio_resampler_free(st->resampler);
    if (st->track)
        lk_unref(&st->track->base);
    if (st->source)
        lk_unref(st->source);
    if (st->room)
        lk_unref(&st->room->base);
    free(st->watch.identity);
    lk_queue_destroy(&st->queue);
    free(st->pending);
    free(st);
}

static const lk_kind audio_stream_kind = {"audio stream", stream_close, stream_free};

/* --- requests ------------------------------------------------------------ */

typedef struct stream_params {
    uint32_t rate, channels;
    bool has_frame_size;
    uint32_t frame_size_ms;
    size_t queue_frames;
} stream_params;

/* What both requests share; NULL when it is fine. */
static const char *check_params(bool filter, bool has_type, int type, bool has_rate,
                                uint32_t rate, bool has_channels, uint32_t channels,
                                bool has_frame, uint32_t frame_ms, bool has_queue,
                                uint32_t queue, stream_params *out)
{
    out->rate = has_rate ? rate : 48000;
    out->channels = has_channels ? channels : 1;
    out->has_frame_size = has_frame;
    out->frame_size_ms = frame_ms;
    size_t cap = !has_queue ? DEFAULT_QUEUE_FRAMES : queue ? queue : UNBOUNDED_QUEUE_FRAMES;
    out->queue_frames = cap > UNBOUNDED_QUEUE_FRAMES ? UNBOUNDED_QUEUE_FRAMES : cap;
    if (filter)
        return "audio filters are not supported by this build";
    if (has_type && type != LIVEKIT__PROTO__AUDIO_STREAM_TYPE__AUDIO_STREAM_NATIVE)
        return "unsupported audio stream type";
    if (out->rate < 100 || out->rate > LK_AUDIO_MAX_RATE)
        return "sample_rate out of range (100..768000 Hz)";
    if (out->channels == 0 || out->channels > LK_AUDIO_MAX_CHANNELS)
        return "num_channels out of range (1..64)";
    if (has_frame && (frame_ms == 0 || frame_ms > 10000))
        return "frame_size_ms must be 1..10000 when set";
    return NULL;
}

/* A stream with its queue on a worker other than `avoid`, not yet reading. */
static audio_stream *stream_new(const stream_params *p, lkio_worker *avoid)
{
    audio_stream *st = calloc(1, sizeof *st);
    if (!st)
        abort();
    lk_object_init(&st->base, &audio_stream_kind);
    st->sample_rate = p->rate;
    st->num_channels = p->channels;
    if (p->has_frame_size) {
        st->frame_samples = (size_t)p->rate * p->frame_size_ms / 1000 * p->channels;
        if (!(st->pending = malloc(st->frame_samples * sizeof *st->pending)))
            abort();
    }
    lk_queue_init(&st->queue, &st->base, lkio_pick_worker_except(avoid), p->queue_frames,
                  convert_frame, send_eos);
    st->resampler = lk_audio_resampler_new();
    st->sub.deliver = on_source_frame;
    st->sub.ended = on_track_ended;
    return st;
}

static void respond(lk_call *c, audio_stream *st, Livekit__Proto__OwnedAudioStream **out)
{
    *out = lk_call_new(c, &livekit__proto__owned_audio_stream__descriptor);
    (*out)->handle = lk_call_new(c, &livekit__proto__ffi_owned_handle__descriptor);
    (*out)->info = lk_call_new(c, &livekit__proto__audio_stream_info__descriptor);
    (*out)->info->type = LIVEKIT__PROTO__AUDIO_STREAM_TYPE__AUDIO_STREAM_NATIVE;
    (*out)->handle->id = lk_handle_insert(&st->base);
}

int lk_on_new_audio_stream(lk_call *c)
{
    const Livekit__Proto__NewAudioStreamRequest *req = c->req->new_audio_stream;
    lk_track *track = lk_track_get(req->track_handle, LIVEKIT__PROTO__TRACK_KIND__KIND_AUDIO);
    if (!track)
        return -1;
    stream_params p;
    const char *problem = check_params(
        req->audio_filter_module_id != NULL, req->has_type, req->type, req->has_sample_rate,
        req->sample_rate, req->has_num_channels, req->num_channels, req->has_frame_size_ms,
        req->frame_size_ms, req->has_queue_size_frames, req->queue_size_frames, &p);
    if (problem) {
        lk_unref(&track->base);
        return lk_fail("%s", problem);
    }
    audio_stream *st = stream_new(&p, lk_audio_source_worker(track->source));
    st->track = track;
    st->source = lk_ref(track->source);
    st->sub.track = track;
    Livekit__Proto__NewAudioStreamResponse *res =
        lk_call_new(c, &livekit__proto__new_audio_stream_response__descriptor);
    respond(c, st, &res->stream);
    /* Subscribed once it has its id: events name the stream by it. */
    lk_audio_source_subscribe(st->source, &st->sub);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_NEW_AUDIO_STREAM;
    c->res->new_audio_stream = res;
    return 0;
}

/* --- from a participant: the watch's reports, on the room's worker -------- */

static void watch_attach(lk_track_watch *w, lk_track *t)
{
    audio_stream *st = lk_container_of(w, audio_stream, watch);
    lk_ref(&t->base);
    st->track = t;
    st->source = lk_ref(t->source);
    st->sub.track = t;
    lk_audio_source_subscribe(st->source, &st->sub);
}

static void watch_detach(lk_track_watch *w)
{
    audio_stream *st = lk_container_of(w, audio_stream, watch);
    lk_audio_source_unsubscribe(st->source, &st->sub);
    lk_unref(st->source);
    lk_unref(&st->track->base);
    st->source = NULL;
    st->track = NULL;
}

static void watch_ended(lk_track_watch *w)
{
    audio_stream *st = lk_container_of(w, audio_stream, watch);
    lk_queue_end(&st->queue);
    lk_unref(&st->base); /* the watch's */
}

static void watch_run(lkio_task *t)
{
    audio_stream *st = lk_container_of(t, audio_stream, watch_task);
    if (st->room->over)
        watch_ended(&st->watch); /* the session is gone: nothing will come */
    else
        lk_room_watch(st->room, &st->watch);
}

int lk_on_audio_stream_from_participant(lk_call *c)
{
    const Livekit__Proto__AudioStreamFromParticipantRequest *req =
        c->req->audio_stream_from_participant;
    stream_params p;
    const char *problem = check_params(
        req->audio_filter_module_id != NULL, req->has_type, req->type, req->has_sample_rate,
        req->sample_rate, req->has_num_channels, req->num_channels, req->has_frame_size_ms,
        req->frame_size_ms, req->has_queue_size_frames, req->queue_size_frames, &p);
    if (problem)
        return lk_fail("%s", problem);
    char *identity;
    lk_room *r = lk_room_of_participant(req->participant_handle, &identity);
    if (!r)
        return -1;
    audio_stream *st = stream_new(&p, r->w);
    st->room = r;
    st->watch.identity = identity;
    st->watch.kind = LIVEKIT__PROTO__TRACK_KIND__KIND_AUDIO;
    st->watch.source = req->has_track_source ? (int)req->track_source : 0;
    st->watch.attach = watch_attach;
    st->watch.detach = watch_detach;
    st->watch.ended = watch_ended;
    Livekit__Proto__AudioStreamFromParticipantResponse *res =
        lk_call_new(c, &livekit__proto__audio_stream_from_participant_response__descriptor);
    respond(c, st, &res->stream);
    lk_ref(&st->base); /* the watch's, until it ends or is dropped */
    lkio_post(r->w, &st->watch_task, watch_run);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_AUDIO_STREAM_FROM_PARTICIPANT;
    c->res->audio_stream_from_participant = res;
    return 0;
}
