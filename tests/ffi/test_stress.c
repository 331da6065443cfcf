/* Stress: several client threads issue mixed requests, drops and async
 * captures while streams deliver events; callbacks call back into the
 * library; streams are dropped while their events are in flight; a client
 * stalls in its callback; dispose lands while all of it runs. Nothing may
 * crash, hang or leak: handles and descriptors come back to where they
 * started. LK_STRESS_SECONDS sets the length of the mixed phase. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audio_frame.pb-c.h"
#include "client.h"
#include "handle.h"
#include "room.pb-c.h"
#include "track.pb-c.h"
#include "video_frame.pb-c.h"

static _Atomic int stop;
static _Atomic long ops, refused, events, stalls;

/* --- requests, built by hand ------------------------------------------------ */

static Livekit__Proto__FfiResponse *send(Livekit__Proto__FfiRequest__MessageCase which,
                                         void *msg, const ProtobufCFieldDescriptor **f)
{
    Livekit__Proto__FfiRequest req = LIVEKIT__PROTO__FFI_REQUEST__INIT;
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field(&livekit__proto__ffi_request__descriptor, which);
    req.message_case = which;
    *(void **)((char *)&req + fd->offset) = msg;
    if (f)
        *f = fd;
    Livekit__Proto__FfiResponse *res = tc_request(&req);
    atomic_fetch_add(&ops, 1);
    if (!res)
        atomic_fetch_add(&refused, 1);
    return res;
}

static uint64_t new_audio_source(void)
{
    Livekit__Proto__NewAudioSourceRequest m = LIVEKIT__PROTO__NEW_AUDIO_SOURCE_REQUEST__INIT;
    m.has_queue_size_ms = true;
    m.queue_size_ms = 50;
    Livekit__Proto__FfiResponse *res = send(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_AUDIO_SOURCE, &m, NULL);
    uint64_t id = res ? res->new_audio_source->source->handle->id : 0;
    if (res)
        tc_response_free(res);
    return id;
}

static uint64_t new_track(uint64_t source, bool video)
{
    Livekit__Proto__FfiResponse *res;
    if (video) {
        Livekit__Proto__CreateVideoTrackRequest m = LIVEKIT__PROTO__CREATE_VIDEO_TRACK_REQUEST__INIT;
        m.has_source_handle = true;
        m.source_handle = source;
        res = send(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_CREATE_VIDEO_TRACK, &m, NULL);
    } else {
        Livekit__Proto__CreateAudioTrackRequest m = LIVEKIT__PROTO__CREATE_AUDIO_TRACK_REQUEST__INIT;
        m.has_source_handle = true;
        m.source_handle = source;
        res = send(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_CREATE_AUDIO_TRACK, &m, NULL);
    }
    uint64_t id = 0;
    if (res) {
        id = video ? res->create_video_track->track->handle->id
                   : res->create_audio_track->track->handle->id;
        tc_response_free(res);
    }
    return id;
}

static uint64_t new_stream(uint64_t track, bool video)
{
    Livekit__Proto__FfiResponse *res;
    if (video) {
        Livekit__Proto__NewVideoStreamRequest m = LIVEKIT__PROTO__NEW_VIDEO_STREAM_REQUEST__INIT;
        m.has_track_handle = m.has_format = true;
        m.track_handle = track;
        m.format = LIVEKIT__PROTO__VIDEO_BUFFER_TYPE__RGBA;
        res = send(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_VIDEO_STREAM, &m, NULL);
    } else {
        Livekit__Proto__NewAudioStreamRequest m = LIVEKIT__PROTO__NEW_AUDIO_STREAM_REQUEST__INIT;
        m.has_track_handle = m.has_sample_rate = true;
        m.track_handle = track;
        m.sample_rate = 16000;
        res = send(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_AUDIO_STREAM, &m, NULL);
    }
    uint64_t id = 0;
    if (res) {
        id = video ? res->new_video_stream->stream->handle->id
                   : res->new_audio_stream->stream->handle->id;
        tc_response_free(res);
    }
    return id;
}

static int16_t pcm[480];
static uint8_t rgba[32 * 16 * 4];

static void capture_audio(uint64_t source)
{
    Livekit__Proto__AudioFrameBufferInfo b = LIVEKIT__PROTO__AUDIO_FRAME_BUFFER_INFO__INIT;
    b.has_data_ptr = b.has_num_channels = b.has_sample_rate = b.has_samples_per_channel = true;
    b.data_ptr = (uint64_t)(uintptr_t)pcm;
    b.num_channels = 1;
    b.sample_rate = 48000;
    b.samples_per_channel = 480;
    Livekit__Proto__CaptureAudioFrameRequest m = LIVEKIT__PROTO__CAPTURE_AUDIO_FRAME_REQUEST__INIT;
    m.has_source_handle = true;
    m.source_handle = source;
    m.buffer = &b;
    Livekit__Proto__FfiResponse *res = send(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_CAPTURE_AUDIO_FRAME, &m, NULL);
    if (res)
        tc_response_free(res);
}

static void capture_video(uint64_t source)
{
    Livekit__Proto__VideoBufferInfo b = LIVEKIT__PROTO__VIDEO_BUFFER_INFO__INIT;
    b.has_type = b.has_width = b.has_height = b.has_data_ptr = true;
    b.type = LIVEKIT__PROTO__VIDEO_BUFFER_TYPE__RGBA;
    b.width = 32;
    b.height = 16;
    b.data_ptr = (uint64_t)(uintptr_t)rgba;
    Livekit__Proto__CaptureVideoFrameRequest m = LIVEKIT__PROTO__CAPTURE_VIDEO_FRAME_REQUEST__INIT;
    m.has_source_handle = true;
    m.source_handle = source;
    m.buffer = &b;
    Livekit__Proto__FfiResponse *res = send(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_CAPTURE_VIDEO_FRAME, &m, NULL);
    if (res)
        tc_response_free(res);
}

/* A resampler made, used and dropped; a conversion; an unsupported call. */
static void churn_sync(void)
{
    Livekit__Proto__NewAudioResamplerRequest nr = LIVEKIT__PROTO__NEW_AUDIO_RESAMPLER_REQUEST__INIT;
    Livekit__Proto__FfiResponse *res = send(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_AUDIO_RESAMPLER, &nr, NULL);
    if (res) {
        uint64_t h = res->new_audio_resampler->resampler->handle->id;
        tc_response_free(res);
        Livekit__Proto__AudioFrameBufferInfo b = LIVEKIT__PROTO__AUDIO_FRAME_BUFFER_INFO__INIT;
        b.has_data_ptr = b.has_num_channels = b.has_sample_rate = b.has_samples_per_channel = true;
        b.data_ptr = (uint64_t)(uintptr_t)pcm;
        b.num_channels = 1;
        b.sample_rate = 48000;
        b.samples_per_channel = 480;
        Livekit__Proto__RemixAndResampleRequest rr = LIVEKIT__PROTO__REMIX_AND_RESAMPLE_REQUEST__INIT;
        rr.has_resampler_handle = rr.has_num_channels = rr.has_sample_rate = true;
        rr.resampler_handle = h;
        rr.num_channels = 2;
        rr.sample_rate = 16000;
        rr.buffer = &b;
        res = send(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_REMIX_AND_RESAMPLE, &rr, NULL);
        if (res) {
            livekit_ffi_drop_handle(res->remix_and_resample->buffer->handle->id);
            tc_response_free(res);
        }
        livekit_ffi_drop_handle(h);
    }
    Livekit__Proto__VideoBufferInfo vb = LIVEKIT__PROTO__VIDEO_BUFFER_INFO__INIT;
    vb.has_type = vb.has_width = vb.has_height = vb.has_data_ptr = true;
    vb.type = LIVEKIT__PROTO__VIDEO_BUFFER_TYPE__RGBA;
    vb.width = 32;
    vb.height = 16;
    vb.data_ptr = (uint64_t)(uintptr_t)rgba;
    Livekit__Proto__VideoConvertRequest vc = LIVEKIT__PROTO__VIDEO_CONVERT_REQUEST__INIT;
    vc.buffer = &vb;
    vc.has_dst_type = true;
    vc.dst_type = LIVEKIT__PROTO__VIDEO_BUFFER_TYPE__NV12;
    res = send(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_VIDEO_CONVERT, &vc, NULL);
    if (res) {
        livekit_ffi_drop_handle(res->video_convert->buffer->handle->id);
        tc_response_free(res);
    }
    Livekit__Proto__ConnectRequest cr = LIVEKIT__PROTO__CONNECT_REQUEST__INIT;
    res = send(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_CONNECT, &cr, NULL);
    if (res)
        tc_response_free(res);
}

/* --- the client's callback: drops what it is given, and calls back in ------- */

static _Atomic int stall_ms;

static void drop_owned(const ProtobufCMessage *m)
{
    if (m->descriptor == &livekit__proto__ffi_owned_handle__descriptor) {
        livekit_ffi_drop_handle(((const Livekit__Proto__FfiOwnedHandle *)m)->id);
        return;
    }
    for (unsigned i = 0; i < m->descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
            continue;
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)((const char *)m + f->offset);
        if (sub)
            drop_owned(sub);
    }
}

static void reentrant_callback(const uint8_t *data, size_t len)
{
    Livekit__Proto__FfiEvent *ev = livekit__proto__ffi_event__unpack(NULL, len, data);
    if (!ev)
        abort();
    atomic_fetch_add(&events, 1);
    drop_owned(&ev->base); /* re-entrant drops */
    if (ev->message_case == LIVEKIT__PROTO__FFI_EVENT__MESSAGE_CAPTURE_AUDIO_FRAME &&
        (atomic_load(&events) & 15) == 0)
        churn_sync(); /* a re-entrant request */
    int stall = atomic_load(&stall_ms);
    if (stall && ev->message_case == LIVEKIT__PROTO__FFI_EVENT__MESSAGE_VIDEO_STREAM_EVENT) {
        atomic_fetch_add(&stalls, 1);
        usleep((useconds_t)stall * 1000); /* a client sitting on its events */
    }
    livekit__proto__ffi_event__free_unpacked(ev, NULL);
}

/* --- the client threads -------------------------------------------------------- */

static void *audio_client(void *arg)
{
    uint64_t src = new_audio_source();
    uint64_t track = new_track(src, false);
    while (!atomic_load(&stop)) {
        uint64_t st = new_stream(track, false);
        for (int i = 0; i < 10 && !atomic_load(&stop); i++)
            capture_audio(src); /* not awaited: some are refused, that is fine */
        usleep(2000);
        livekit_ffi_drop_handle(st); /* while its frames are in flight */
    }
    livekit_ffi_drop_handle(track);
    livekit_ffi_drop_handle(src);
    return NULL;
}

static void *video_client(void *arg)
{
    Livekit__Proto__NewVideoSourceRequest m = LIVEKIT__PROTO__NEW_VIDEO_SOURCE_REQUEST__INIT;
    Livekit__Proto__FfiResponse *res = send(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_VIDEO_SOURCE, &m, NULL);
    uint64_t src = res ? res->new_video_source->source->handle->id : 0;
    if (res)
        tc_response_free(res);
    uint64_t track = new_track(src, true);
    while (!atomic_load(&stop)) {
        uint64_t st = new_stream(track, true);
        for (int i = 0; i < 5 && !atomic_load(&stop); i++)
            capture_video(src);
        livekit_ffi_drop_handle(st);
    }
    livekit_ffi_drop_handle(track);
    livekit_ffi_drop_handle(src);
    return NULL;
}

static void *sync_client(void *arg)
{
    while (!atomic_load(&stop))
        churn_sync();
    return NULL;
}

typedef void *(*client_fn)(void *);
static const client_fn clients[] = {audio_client, audio_client, video_client, sync_client};
enum { CLIENTS = sizeof clients / sizeof clients[0] };

static void run_clients(pthread_t *th)
{
    atomic_store(&stop, 0);
    for (int i = 0; i < CLIENTS; i++)
        pthread_create(&th[i], NULL, clients[i], NULL);
}

static void join_clients(pthread_t *th)
{
    atomic_store(&stop, 1);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(th[i], NULL);
}

static int seconds(void)
{
    const char *env = getenv("LK_STRESS_SECONDS");
    return env ? atoi(env) : 10;
}

static void settle(void)
{
    /* Events still on their way hold handles; they drain within moments. */
    for (int i = 0; i < 200 && lk_handles_live(); i++)
        usleep(10000);
}

static void mixed_load_leaves_nothing_behind(void **state)
{
    livekit_ffi_initialize(reentrant_callback, false, "stress", "0");
    settle();
    uint64_t handles = lk_handles_live();
    int fds = tc_count_fds();
    pthread_t th[CLIENTS];
    run_clients(th);
    sleep((unsigned)seconds());
    join_clients(th);
    settle();
    assert_int_equal(lk_handles_live(), handles);
    assert_int_equal(tc_count_fds(), fds);
    assert_true(atomic_load(&ops) > 1000);
    assert_true(atomic_load(&events) > 100);
    assert_true(atomic_load(&refused) < atomic_load(&ops) / 2);
}

static void a_stalled_callback_does_not_grow_memory(void **state)
{
    /* The client sits 20 ms on every video event while frames come far
     * faster: the stream keeps one frame, and drops the rest. */
    atomic_store(&stall_ms, 20);
    atomic_store(&stalls, 0);
    pthread_t th[CLIENTS];
    run_clients(th);
    uint64_t peak = 0;
    for (int i = 0; i < 20; i++) {
        usleep(100000);
        uint64_t live = lk_handles_live();
        peak = live > peak ? live : peak;
    }
    join_clients(th);
    atomic_store(&stall_ms, 0);
    settle();
    assert_true(atomic_load(&stalls) > 0);
    assert_true(peak < 200); /* objects of four clients and a few frames, not a backlog */
    assert_int_equal(lk_handles_live(), 0);
}

static void dispose_while_everything_runs(void **state)
{
    pthread_t th[CLIENTS];
    run_clients(th);
    usleep(300000);
    livekit_ffi_dispose(); /* requests from now on are refused, none crash */
    usleep(100000);
    join_clients(th);
    settle(); /* the clients dropped their handles after dispose too */
    assert_int_equal(lk_handles_live(), 0);
    livekit_ffi_initialize(reentrant_callback, false, "stress", "0");
    assert_true(tc_send_sync()); /* and the library starts again */
    livekit_ffi_dispose();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mixed_load_leaves_nothing_behind),
        cmocka_unit_test(a_stalled_callback_does_not_grow_memory),
        cmocka_unit_test(dispose_while_everything_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
