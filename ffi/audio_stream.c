/*
 * audio_stream.c: NewAudioStream (on a local track) and
 * AudioStreamFromParticipant (refused: it needs a room).
 *
 * The source hands each 10 ms frame to the stream on the source's worker;
 * the stream queues it (a bounded queue: when full, the oldest frame is
 * dropped, as upstream does) and its own worker converts it to the stream's
 * rate and channel count, regroups it into frame_size_ms frames if asked,
 * and sends AudioStreamEvent{frame_received}. A slow client therefore
 * delays only its own stream, never the source's cadence, and costs at most
 * queue_size_frames frames of memory. The stream ends with
 * AudioStreamEvent{eos} when its handle or its track's handle is dropped.
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
    lk_object *source;       /* a reference: the track's audio source */
    lk_track *track;         /* a reference */
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

static void stream_close(lk_object *o)
{
    audio_stream *st = stream_of(o);
    lk_audio_source_unsubscribe(st->source, &st->sub);
    lk_queue_end(&st->queue); /* upstream sends eos for a dropped stream too */
}

static void stream_free(lk_object *o)
{
    audio_stream *st = stream_of(o);
    lk_audio_resampler_free(st->resampler);
    lk_unref(&st->track->base);
    lk_unref(st->source);
    lk_queue_destroy(&st->queue);
    free(st->pending);
    free(st);
}

static const lk_kind audio_stream_kind = {"audio stream", stream_close, stream_free};

/* --- requests ------------------------------------------------------------ */

int lk_on_new_audio_stream(lk_call *c)
{
    const Livekit__Proto__NewAudioStreamRequest *req = c->req->new_audio_stream;
    lk_track *track = lk_track_get(req->track_handle, LIVEKIT__PROTO__TRACK_KIND__KIND_AUDIO);
    if (!track)
        return -1;
    const char *problem = NULL;
    uint32_t rate = req->has_sample_rate ? req->sample_rate : 48000;
    uint32_t channels = req->has_num_channels ? req->num_channels : 1;
    if (req->audio_filter_module_id)
        problem = "this track has no room information"; /* filters need a room */
    else if (req->has_type && req->type != LIVEKIT__PROTO__AUDIO_STREAM_TYPE__AUDIO_STREAM_NATIVE)
        problem = "unsupported audio stream type";
    else if (rate < 100 || rate > LK_AUDIO_MAX_RATE)
        problem = "sample_rate out of range (100..768000 Hz)";
    else if (channels == 0 || channels > LK_AUDIO_MAX_CHANNELS)
        problem = "num_channels out of range (1..64)";
    else if (req->has_frame_size_ms && (req->frame_size_ms == 0 || req->frame_size_ms > 10000))
        problem = "frame_size_ms must be 1..10000 when set";
    if (problem) {
        lk_unref(&track->base);
        return lk_fail("%s", problem);
    }

    audio_stream *st = calloc(1, sizeof *st);
    if (!st)
        abort();
    lk_object_init(&st->base, &audio_stream_kind);
    st->track = track;
    st->source = lk_ref(track->source);
    st->sample_rate = rate;
    st->num_channels = channels;
    if (req->has_frame_size_ms) {
        st->frame_samples = (size_t)rate * req->frame_size_ms / 1000 * channels;
        if (!(st->pending = malloc(st->frame_samples * sizeof *st->pending)))
            abort();
    }
    size_t cap = !req->has_queue_size_frames ? DEFAULT_QUEUE_FRAMES
                 : req->queue_size_frames ? req->queue_size_frames
                                          : UNBOUNDED_QUEUE_FRAMES;
    if (cap > UNBOUNDED_QUEUE_FRAMES)
        cap = UNBOUNDED_QUEUE_FRAMES;
    lk_queue_init(&st->queue, &st->base, lkio_pick_worker_except(lk_audio_source_worker(st->source)),
                  cap, convert_frame, send_eos);
    st->resampler = lk_audio_resampler_new();
    st->sub.track = track;
    st->sub.deliver = on_source_frame;
    st->sub.ended = on_track_ended;

    Livekit__Proto__NewAudioStreamResponse *res =
        lk_call_new(c, &livekit__proto__new_audio_stream_response__descriptor);
    res->stream = lk_call_new(c, &livekit__proto__owned_audio_stream__descriptor);
    res->stream->handle = lk_call_new(c, &livekit__proto__ffi_owned_handle__descriptor);
    res->stream->info = lk_call_new(c, &livekit__proto__audio_stream_info__descriptor);
    res->stream->info->type = LIVEKIT__PROTO__AUDIO_STREAM_TYPE__AUDIO_STREAM_NATIVE;
    res->stream->handle->id = lk_handle_insert(&st->base);
    /* Subscribed once it has its id: events name the stream by it. */
    lk_audio_source_subscribe(st->source, &st->sub);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_NEW_AUDIO_STREAM;
    c->res->new_audio_stream = res;
    return 0;
}

int lk_on_audio_stream_from_participant(lk_call *c)
{
    return lk_fail("audio_stream_from_participant needs a room participant: rooms are not "
                   "supported by this build of liblivekit_ffi");
}
