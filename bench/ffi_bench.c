/*
 * ffi_bench.c: the same workloads on any libraries with the liblivekit_ffi
 * ABI, side by side in one process, interleaved round by round so machine
 * noise hits both alike. --io sets LIVEKIT_FFI_IO for the library named
 * after it: two copies of ours, one per I/O backend, compare the backends. Reports medians (and tail percentiles where they
 * matter) as JSON on stdout; bench/report.py turns that into a table and a
 * chart.
 *
 *   ffi_bench [--quick] [--preload stub.so] [--io uring|epoll] name=path ...
 *   ffi_bench --probe path [stub.so]   (internal: one cold load, in a child)
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audio_frame.pb-c.h"
#include "envelope.h"
#include "ffi.pb-c.h"
#include "track.pb-c.h"
#include "video_frame.pb-c.h"

typedef void (*callback_fn)(const uint8_t *, size_t);

/* --- time and statistics --------------------------------------------------- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef struct {
    double *v;
    size_t n, cap;
} samples;

static void add(samples *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(samples *s, double p)
{
    if (!s->n)
        return -1;
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    size_t i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
    return s->v[i];
}

/* --- a loaded library and the events it sends ------------------------------ */

enum { MAX_LIBS = 4, RING = 1 << 14 };

typedef struct lib {
    const char *name, *path;
    const char *io; /* LIVEKIT_FFI_IO while it starts its runtime; NULL: unset */
    void *dl;
    void (*initialize)(callback_fn, bool, const char *, const char *);
    uint64_t (*request)(const uint8_t *, size_t, const uint8_t **, size_t *);
    bool (*drop)(uint64_t);
    void (*dispose)(void);
    bool (*reinit)(void); /* ours only */

    /* events: capture callbacks by async id, stream frame arrival times */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t done_ids[RING];
    double done_at[RING];
    uint64_t done_count;
    uint64_t watch_stream;
    samples frame_at;
} lib;

static lib libs[MAX_LIBS];
static int n_libs;

static void on_event(lib *l, const uint8_t *data, size_t len)
{
    double t = now_ns();
    Livekit__Proto__FfiEvent *ev = livekit__proto__ffi_event__unpack(NULL, len, data);
    if (!ev)
        return;
    pthread_mutex_lock(&l->lock);
    if (ev->message_case == LIVEKIT__PROTO__FFI_EVENT__MESSAGE_CAPTURE_AUDIO_FRAME) {
        l->done_ids[l->done_count % RING] = ev->capture_audio_frame->async_id;
        l->done_at[l->done_count % RING] = t;
        l->done_count++;
        pthread_cond_broadcast(&l->cond);
    } else if (ev->message_case == LIVEKIT__PROTO__FFI_EVENT__MESSAGE_AUDIO_STREAM_EVENT &&
               ev->audio_stream_event->message_case ==
                   LIVEKIT__PROTO__AUDIO_STREAM_EVENT__MESSAGE_FRAME_RECEIVED) {
        if (ev->audio_stream_event->stream_handle == l->watch_stream)
            add(&l->frame_at, t);
        l->drop(ev->audio_stream_event->frame_received->frame->handle->id);
    }
    pthread_mutex_unlock(&l->lock);
    livekit__proto__ffi_event__free_unpacked(ev, NULL);
}

static void cb0(const uint8_t *d, size_t n) { on_event(&libs[0], d, n); }
static void cb1(const uint8_t *d, size_t n) { on_event(&libs[1], d, n); }
static void cb2(const uint8_t *d, size_t n) { on_event(&libs[2], d, n); }
static void cb3(const uint8_t *d, size_t n) { on_event(&libs[3], d, n); }
static const callback_fn callbacks[MAX_LIBS] = {cb0, cb1, cb2, cb3};

/* Waits for the capture callback with this id; its arrival time, or -1. */
static double wait_capture(lib *l, uint64_t id, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&l->lock);
    double at = -1;
    for (uint64_t seen = l->done_count > RING ? l->done_count - RING : 0;;) {
        for (; seen < l->done_count; seen++)
            if (l->done_ids[seen % RING] == id)
                at = l->done_at[seen % RING];
        if (at >= 0 || pthread_cond_timedwait(&l->cond, &l->lock, &dl) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&l->lock);
    return at;
}

static void *must_sym(void *dl, const char *name)
{
    void *p = dlsym(dl, name);
    if (!p) {
        fprintf(stderr, "ffi_bench: %s: %s\n", name, dlerror());
        exit(2);
    }
    return p;
}

/* The backend is read when a runtime starts: at initialize, at reinit and
 * in a cold-start probe. */
static void choose_io(const lib *l)
{
    if (l->io)
        setenv("LIVEKIT_FFI_IO", l->io, 1);
    else
        unsetenv("LIVEKIT_FFI_IO");
}

static void load(lib *l, int index)
{
    l->dl = dlopen(l->path, RTLD_NOW | RTLD_LOCAL);
    if (!l->dl) {
        fprintf(stderr, "ffi_bench: %s\n", dlerror());
        exit(2);
    }
    l->initialize = must_sym(l->dl, "livekit_ffi_initialize");
    l->request = must_sym(l->dl, "livekit_ffi_request");
    l->drop = must_sym(l->dl, "livekit_ffi_drop_handle");
    l->dispose = must_sym(l->dl, "livekit_ffi_dispose");
    l->reinit = dlsym(l->dl, "livekit_ffi_reinit");
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    choose_io(l);
    l->initialize(callbacks[index], false, "bench", "0");
}

/* --- requests ----------------------------------------------------------------- */

typedef struct {
    uint8_t *data;
    size_t len;
} packed;

static packed pack(const Livekit__Proto__FfiRequest *req)
{
    packed p = {NULL, livekit__proto__ffi_request__get_packed_size(req)};
    p.data = malloc(p.len ? p.len : 1);
    livekit__proto__ffi_request__pack(req, p.data);
    return p;
}

/* Where call() decodes a response: a buffer on the caller's stack. */
typedef struct {
    _Alignas(16) char mem[8192];
    size_t used;
} scratch;

static void *scratch_alloc(void *arg, size_t size)
{
    scratch *s = arg;
    size = (size + 15) & ~(size_t)15;
    if (s->used + size > sizeof s->mem)
        abort(); /* responses here are far smaller */
    void *p = s->mem + s->used;
    s->used += size;
    return p;
}

static void scratch_free(void *arg, void *p)
{
}

/* Sends, decodes into s, drops the response handle. NULL if refused. The
 * harness decodes only the response's one variant, without allocating (as
 * the library decodes requests), so its own cost is small and the same for
 * every library. */
static Livekit__Proto__FfiResponse *call(lib *l, packed p, scratch *s)
{
    const uint8_t *res, *body;
    size_t n, body_len;
    uint32_t unknown;
    const ProtobufCFieldDescriptor *f;
    uint64_t h = l->request(p.data, p.len, &res, &n);
    if (!h)
        return NULL;
    s->used = 0;
    ProtobufCAllocator alloc = {scratch_alloc, scratch_free, s};
    Livekit__Proto__FfiResponse *r = NULL;
    if (lk_envelope_read(&livekit__proto__ffi_response__descriptor, res, n, &f, &body, &body_len,
                         &unknown) == LK_ENVELOPE_ONE) {
        r = scratch_alloc(s, sizeof *r);
        livekit__proto__ffi_response__init(r);
        r->message_case = (Livekit__Proto__FfiResponse__MessageCase)f->id;
        *(ProtobufCMessage **)((char *)r + f->offset) =
            protobuf_c_message_unpack(f->descriptor, &alloc, body_len, body);
    }
    l->drop(h);
    return r;
}

#define REQ(var, field, CASE, type, init)                             \
    type var##_msg = init;                                             \
    Livekit__Proto__FfiRequest var = LIVEKIT__PROTO__FFI_REQUEST__INIT; \
    var.message_case = LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_##CASE;      \
    var.field = &var##_msg

static uint64_t new_audio_source(lib *l, uint32_t rate, uint32_t channels, uint32_t queue_ms)
{
    scratch sc;
    REQ(r, new_audio_source, NEW_AUDIO_SOURCE, Livekit__Proto__NewAudioSourceRequest,
        LIVEKIT__PROTO__NEW_AUDIO_SOURCE_REQUEST__INIT);
    r_msg.has_sample_rate = r_msg.has_num_channels = r_msg.has_queue_size_ms = true;
    r_msg.sample_rate = rate;
    r_msg.num_channels = channels;
    r_msg.queue_size_ms = queue_ms;
    packed p = pack(&r);
    Livekit__Proto__FfiResponse *res = call(l, p, &sc);
    uint64_t id = res->new_audio_source->source->handle->id;
    free(p.data);
    return id;
}

/* --- the JSON report -------------------------------------------------------- */

static bool first_row = true;

/* One row: a value per library, a unit, and whether lower is better. */
static void row(const char *key, const char *label, const char *unit, const double *values)
{
    printf("%s\n    {\"key\": \"%s\", \"label\": \"%s\", \"unit\": \"%s\", \"values\": {",
           first_row ? "" : ",", key, label, unit);
    first_row = false;
    for (int i = 0; i < n_libs; i++)
        printf("%s\"%s\": %.6g", i ? ", " : "", libs[i].name, values[i]);
    printf("}}");
    fflush(stdout);
}

/* --- workloads ---------------------------------------------------------------- */

static int rounds = 5, scale = 1;

/* Interleaved rounds of a per-operation timing: fn(l) returns one sample. */
static void timed_row(const char *key, const char *label, double (*fn)(lib *), int per_round)
{
    samples s[MAX_LIBS] = {{0}};
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n_libs; i++)
            for (int k = 0; k < per_round; k++)
                add(&s[i], fn(&libs[i]));
    double v[MAX_LIBS];
    for (int i = 0; i < n_libs; i++) {
        v[i] = pct(&s[i], 50) / 1000.0;
        free(s[i].v);
    }
    row(key, label, "us", v);
}

static double entry_check(lib *l)
{
    if (!l->reinit)
        return -1000; /* no such entry point: reported as -1 */
    enum { N = 10000 };
    double t0 = now_ns();
    for (int i = 0; i < N; i++)
        l->reinit();
    return (now_ns() - t0) / N;
}

static packed resampler_req;

static double sync_round_trip(lib *l)
{
    scratch sc;
    double t0 = now_ns();
    Livekit__Proto__FfiResponse *res = call(l, resampler_req, &sc);
    l->drop(res->new_audio_resampler->resampler->handle->id);
    double t = now_ns() - t0;
    return t;
}

typedef struct {
    lib *l;
    int n;
} thread_arg;

static void *hammer(void *arg)
{
    scratch sc;
    thread_arg *a = arg;
    for (int i = 0; i < a->n; i++) {
        Livekit__Proto__FfiResponse *res = call(a->l, resampler_req, &sc);
        a->l->drop(res->new_audio_resampler->resampler->handle->id);
    }
    return NULL;
}

static void throughput_row(void)
{
    samples s[MAX_LIBS] = {{0}};
    int n = 20000 / scale;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n_libs; i++) {
            pthread_t th[2];
            thread_arg a = {&libs[i], n};
            double t0 = now_ns();
            for (int k = 0; k < 2; k++)
                pthread_create(&th[k], NULL, hammer, &a);
            for (int k = 0; k < 2; k++)
                pthread_join(th[k], NULL);
            add(&s[i], 2.0 * n / ((now_ns() - t0) / 1e9));
        }
    double v[MAX_LIBS];
    for (int i = 0; i < n_libs; i++) {
        v[i] = pct(&s[i], 50) / 1000.0;
        free(s[i].v);
    }
    row("sync_throughput_2t", "sync requests from 2 threads", "kops/s", v);
}

/* Capture with room in the queue: request sent → callback arrived. */
static void async_latency_rows(void)
{
    scratch sc;
    samples s[MAX_LIBS] = {{0}};
    int16_t pcm[480] = {0};
    uint64_t src[MAX_LIBS];
    for (int i = 0; i < n_libs; i++)
        src[i] = new_audio_source(&libs[i], 48000, 1, 1000);
    uint64_t next_id = (uint64_t)1 << 40;
    int per_round = 400 / scale;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n_libs; i++)
            for (int k = 0; k < per_round; k++) {
                lib *l = &libs[i];
                if (k % 50 == 0) { /* keep room: at most 500 ms queued */
                    REQ(c, clear_audio_buffer, CLEAR_AUDIO_BUFFER,
                        Livekit__Proto__ClearAudioBufferRequest,
                        LIVEKIT__PROTO__CLEAR_AUDIO_BUFFER_REQUEST__INIT);
                    c_msg.has_source_handle = true;
                    c_msg.source_handle = src[i];
                    packed p = pack(&c);
                    call(l, p, &sc);
                    free(p.data);
                }
                Livekit__Proto__AudioFrameBufferInfo b = LIVEKIT__PROTO__AUDIO_FRAME_BUFFER_INFO__INIT;
                b.has_data_ptr = b.has_num_channels = b.has_sample_rate = b.has_samples_per_channel = true;
                b.data_ptr = (uint64_t)(uintptr_t)pcm;
                b.num_channels = 1;
                b.sample_rate = 48000;
                b.samples_per_channel = 480;
                REQ(q, capture_audio_frame, CAPTURE_AUDIO_FRAME,
                    Livekit__Proto__CaptureAudioFrameRequest,
                    LIVEKIT__PROTO__CAPTURE_AUDIO_FRAME_REQUEST__INIT);
                q_msg.has_source_handle = q_msg.has_request_async_id = true;
                q_msg.source_handle = src[i];
                q_msg.request_async_id = ++next_id;
                q_msg.buffer = &b;
                packed p = pack(&q);
                double t0 = now_ns();
                Livekit__Proto__FfiResponse *res = call(l, p, &sc);
                double at = wait_capture(l, q_msg.request_async_id, 2000);
                if (res && at > 0)
                    add(&s[i], at - t0);
                free(p.data);
            }
    double p50[MAX_LIBS], p99[MAX_LIBS], p999[MAX_LIBS];
    for (int i = 0; i < n_libs; i++) {
        p50[i] = pct(&s[i], 50) / 1000.0;
        p99[i] = pct(&s[i], 99) / 1000.0;
        p999[i] = pct(&s[i], 99.9) / 1000.0;
        free(s[i].v);
        libs[i].drop(src[i]);
    }
    row("async_p50", "async callback latency p50 (capture)", "us", p50);
    row("async_p99", "async callback latency p99", "us", p99);
    row("async_p999", "async callback latency p99.9", "us", p999);
}

/* A packed-RGBA or I420 buffer description for VideoConvert. */
static uint8_t *video_src;

static double convert_once(lib *l, int w, int h, Livekit__Proto__VideoBufferType from,
                           Livekit__Proto__VideoBufferType to)
{
    scratch sc;
    Livekit__Proto__VideoBufferInfo b = LIVEKIT__PROTO__VIDEO_BUFFER_INFO__INIT;
    Livekit__Proto__VideoBufferInfo__ComponentInfo comp[3], *comps[3];
    b.has_type = b.has_width = b.has_height = b.has_data_ptr = true;
    b.type = from;
    b.width = (uint32_t)w;
    b.height = (uint32_t)h;
    b.data_ptr = (uint64_t)(uintptr_t)video_src;
    if (from == LIVEKIT__PROTO__VIDEO_BUFFER_TYPE__RGBA) {
        b.has_stride = true;
        b.stride = 4u * (uint32_t)w;
    } else {
        uint32_t cw = ((uint32_t)w + 1) / 2, ch = ((uint32_t)h + 1) / 2;
        uint32_t strides[3] = {(uint32_t)w, cw, cw}, sizes[3] = {(uint32_t)(w * h), cw * ch, cw * ch};
        uint8_t *at = video_src;
        for (int k = 0; k < 3; k++) {
            livekit__proto__video_buffer_info__component_info__init(&comp[k]);
            comp[k].has_data_ptr = comp[k].has_stride = comp[k].has_size = true;
            comp[k].data_ptr = (uint64_t)(uintptr_t)at;
            comp[k].stride = strides[k];
            comp[k].size = sizes[k];
            at += sizes[k];
            comps[k] = &comp[k];
        }
        b.n_components = 3;
        b.components = comps;
    }
    REQ(r, video_convert, VIDEO_CONVERT, Livekit__Proto__VideoConvertRequest,
        LIVEKIT__PROTO__VIDEO_CONVERT_REQUEST__INIT);
    r_msg.buffer = &b;
    r_msg.has_dst_type = true;
    r_msg.dst_type = to;
    packed p = pack(&r);
    double t0 = now_ns();
    Livekit__Proto__FfiResponse *res = call(l, p, &sc);
    if (res->video_convert->message_case == LIVEKIT__PROTO__VIDEO_CONVERT_RESPONSE__MESSAGE_BUFFER)
        l->drop(res->video_convert->buffer->handle->id);
    double t = now_ns() - t0;
    free(p.data);
    return t;
}

#define CONVERT_ROW(fname, w, h, FROM, TO)                                                   \
    static double fname(lib *l)                                                             \
    {                                                                                       \
        return convert_once(l, w, h, LIVEKIT__PROTO__VIDEO_BUFFER_TYPE__##FROM,             \
                            LIVEKIT__PROTO__VIDEO_BUFFER_TYPE__##TO);                        \
    }
CONVERT_ROW(rgba_i420_720, 1280, 720, RGBA, I420)
CONVERT_ROW(rgba_i420_1080, 1920, 1080, RGBA, I420)
CONVERT_ROW(i420_rgba_720, 1280, 720, I420, RGBA)
CONVERT_ROW(i420_rgba_1080, 1920, 1080, I420, RGBA)

static uint64_t sox_handle[MAX_LIBS], remix_handle[MAX_LIBS], apm_handle[MAX_LIBS];
static int16_t pcm_stereo[960], pcm_mono[480];

static int lib_index(lib *l)
{
    return (int)(l - libs);
}

static double sox_push(lib *l)
{
    scratch sc;
    REQ(r, push_sox_resampler, PUSH_SOX_RESAMPLER, Livekit__Proto__PushSoxResamplerRequest,
        LIVEKIT__PROTO__PUSH_SOX_RESAMPLER_REQUEST__INIT);
    r_msg.has_resampler_handle = r_msg.has_data_ptr = r_msg.has_size = true;
    r_msg.resampler_handle = sox_handle[lib_index(l)];
    r_msg.data_ptr = (uint64_t)(uintptr_t)pcm_stereo;
    r_msg.size = sizeof pcm_stereo;
    packed p = pack(&r);
    double t0 = now_ns();
    call(l, p, &sc);
    double t = now_ns() - t0;
    free(p.data);
    return t;
}

static double remix(lib *l)
{
    scratch sc;
    Livekit__Proto__AudioFrameBufferInfo b = LIVEKIT__PROTO__AUDIO_FRAME_BUFFER_INFO__INIT;
    b.has_data_ptr = b.has_num_channels = b.has_sample_rate = b.has_samples_per_channel = true;
    b.data_ptr = (uint64_t)(uintptr_t)pcm_mono;
    b.num_channels = 1;
    b.sample_rate = 48000;
    b.samples_per_channel = 480;
    REQ(r, remix_and_resample, REMIX_AND_RESAMPLE, Livekit__Proto__RemixAndResampleRequest,
        LIVEKIT__PROTO__REMIX_AND_RESAMPLE_REQUEST__INIT);
    r_msg.has_resampler_handle = r_msg.has_num_channels = r_msg.has_sample_rate = true;
    r_msg.resampler_handle = remix_handle[lib_index(l)];
    r_msg.num_channels = 1;
    r_msg.sample_rate = 16000;
    r_msg.buffer = &b;
    packed p = pack(&r);
    double t0 = now_ns();
    Livekit__Proto__FfiResponse *res = call(l, p, &sc);
    l->drop(res->remix_and_resample->buffer->handle->id);
    double t = now_ns() - t0;
    free(p.data);
    return t;
}

static double apm(lib *l)
{
    scratch sc;
    REQ(r, apm_process_stream, APM_PROCESS_STREAM, Livekit__Proto__ApmProcessStreamRequest,
        LIVEKIT__PROTO__APM_PROCESS_STREAM_REQUEST__INIT);
    r_msg.has_apm_handle = r_msg.has_data_ptr = r_msg.has_size = true;
    r_msg.has_sample_rate = r_msg.has_num_channels = true;
    r_msg.apm_handle = apm_handle[lib_index(l)];
    r_msg.data_ptr = (uint64_t)(uintptr_t)pcm_mono;
    r_msg.size = sizeof pcm_mono;
    r_msg.sample_rate = 48000;
    r_msg.num_channels = 1;
    packed p = pack(&r);
    double t0 = now_ns();
    call(l, p, &sc);
    double t = now_ns() - t0;
    free(p.data);
    return t;
}

static void audio_objects(void)
{
    scratch sc;
    for (int i = 0; i < n_libs; i++) {
        lib *l = &libs[i];
        REQ(s, new_sox_resampler, NEW_SOX_RESAMPLER, Livekit__Proto__NewSoxResamplerRequest,
            LIVEKIT__PROTO__NEW_SOX_RESAMPLER_REQUEST__INIT);
        s_msg.has_input_rate = s_msg.has_output_rate = s_msg.has_num_channels = true;
        s_msg.input_rate = 48000;
        s_msg.output_rate = 16000;
        s_msg.num_channels = 2;
        s_msg.has_quality_recipe = true;
        s_msg.quality_recipe = LIVEKIT__PROTO__SOX_QUALITY_RECIPE__SOXR_QUALITY_MEDIUM;
        packed p = pack(&s);
        Livekit__Proto__FfiResponse *res = call(l, p, &sc);
        sox_handle[i] = res->new_sox_resampler->resampler->handle->id;
        free(p.data);

        res = call(l, resampler_req, &sc);
        remix_handle[i] = res->new_audio_resampler->resampler->handle->id;

        REQ(a, new_apm, NEW_APM, Livekit__Proto__NewApmRequest, LIVEKIT__PROTO__NEW_APM_REQUEST__INIT);
        a_msg.has_echo_canceller_enabled = a_msg.has_gain_controller_enabled = true;
        a_msg.has_high_pass_filter_enabled = a_msg.has_noise_suppression_enabled = true;
        a_msg.echo_canceller_enabled = a_msg.gain_controller_enabled = true;
        a_msg.high_pass_filter_enabled = a_msg.noise_suppression_enabled = true;
        p = pack(&a);
        res = call(l, p, &sc);
        apm_handle[i] = res->new_apm->apm->handle->id;
        free(p.data);
    }
    for (int k = 0; k < 480; k++) /* a 440 Hz tone */
        pcm_mono[k] = pcm_stereo[2 * k] = pcm_stereo[2 * k + 1] =
            (int16_t)(8000 * sin(2 * M_PI * 440 * k / 48000));
}

/* Source → track → stream at real time: the interval between frames. */
static void cadence_rows(double seconds)
{
    scratch sc;
    samples *gaps = calloc(MAX_LIBS, sizeof *gaps);
    for (int i = 0; i < n_libs; i++) {
        lib *l = &libs[i];
        uint64_t src = new_audio_source(l, 48000, 1, 100);
        REQ(t, create_audio_track, CREATE_AUDIO_TRACK, Livekit__Proto__CreateAudioTrackRequest,
            LIVEKIT__PROTO__CREATE_AUDIO_TRACK_REQUEST__INIT);
        t_msg.has_source_handle = true;
        t_msg.source_handle = src;
        t_msg.name = "bench";
        packed p = pack(&t);
        Livekit__Proto__FfiResponse *res = call(l, p, &sc);
        uint64_t track = res->create_audio_track->track->handle->id;
        free(p.data);
        REQ(s, new_audio_stream, NEW_AUDIO_STREAM, Livekit__Proto__NewAudioStreamRequest,
            LIVEKIT__PROTO__NEW_AUDIO_STREAM_REQUEST__INIT);
        s_msg.has_track_handle = s_msg.has_sample_rate = s_msg.has_num_channels = true;
        s_msg.track_handle = track;
        s_msg.sample_rate = 48000;
        s_msg.num_channels = 1;
        p = pack(&s);
        res = call(l, p, &sc);
        uint64_t stream = res->new_audio_stream->stream->handle->id;
        free(p.data);
        pthread_mutex_lock(&l->lock);
        l->watch_stream = stream;
        l->frame_at.n = 0;
        pthread_mutex_unlock(&l->lock);
        usleep((useconds_t)(seconds * 1e6));
        pthread_mutex_lock(&l->lock);
        l->watch_stream = 0;
        for (size_t k = 1; k < l->frame_at.n; k++)
            add(&gaps[i], l->frame_at.v[k] - l->frame_at.v[k - 1]);
        pthread_mutex_unlock(&l->lock);
        l->drop(stream);
        l->drop(track);
        l->drop(src);
    }
    double p50[MAX_LIBS], p99[MAX_LIBS];
    for (int i = 0; i < n_libs; i++) {
        p50[i] = pct(&gaps[i], 50) / 1e6;
        p99[i] = pct(&gaps[i], 99) / 1e6;
        free(gaps[i].v);
    }
    free(gaps);
    row("cadence_p50", "audio stream frame interval p50", "ms", p50);
    row("cadence_p99", "audio stream frame interval p99", "ms", p99);
}

/* --- cold start and fork, each in a child process ----------------------------- */

static const char *self_path, *preload_path;

static void read_status(long *rss_kb, long *threads)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %ld", rss_kb);
        sscanf(line, "Threads: %ld", threads);
    }
    if (f)
        fclose(f);
}

/* In a fresh process: load, initialize, first request; the time, the RSS
 * after, the RSS the library added, and the thread count. */
static int probe(const char *path, const char *stub)
{
    scratch sc;
    if (stub && !dlopen(stub, RTLD_NOW | RTLD_GLOBAL))
        return 2;
    long rss_before = 0, threads_before = 0;
    read_status(&rss_before, &threads_before);
    double t0 = now_ns();
    libs[0] = (lib){.name = "probe", .path = path};
    n_libs = 1;
    load(&libs[0], 0);
    Livekit__Proto__NewAudioResamplerRequest m = LIVEKIT__PROTO__NEW_AUDIO_RESAMPLER_REQUEST__INIT;
    Livekit__Proto__FfiRequest r = LIVEKIT__PROTO__FFI_REQUEST__INIT;
    r.message_case = LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_AUDIO_RESAMPLER;
    r.new_audio_resampler = &m;
    packed p = pack(&r);
    call(&libs[0], p, &sc);
    double t = now_ns() - t0;
    long rss = 0, threads = 0;
    read_status(&rss, &threads);
    printf("%.0f %ld %ld %ld\n", t, rss, rss - rss_before, threads);
    fflush(stdout);
    _exit(0);
}

static void cold_start_rows(void)
{
    samples t[MAX_LIBS] = {{0}};
    double rss[MAX_LIBS], added[MAX_LIBS], threads[MAX_LIBS], size[MAX_LIBS];
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n_libs; i++) {
            char cmd[4096];
            bool upstream = !libs[i].reinit;
            choose_io(&libs[i]); /* the probe inherits it */
            snprintf(cmd, sizeof cmd, "'%s' --probe '%s' %s%s%s", self_path, libs[i].path,
                     upstream && preload_path ? "'" : "", upstream && preload_path ? preload_path : "",
                     upstream && preload_path ? "'" : "");
            FILE *p = popen(cmd, "r");
            double ns = -1;
            long kb = 0, kb_added = 0, th = 0;
            if (p && fscanf(p, "%lf %ld %ld %ld", &ns, &kb, &kb_added, &th) == 4) {
                add(&t[i], ns);
                rss[i] = (double)kb / 1024.0;
                added[i] = (double)kb_added / 1024.0;
                threads[i] = (double)th;
            }
            if (p)
                pclose(p);
        }
    double v[MAX_LIBS];
    for (int i = 0; i < n_libs; i++) {
        struct stat st;
        v[i] = pct(&t[i], 50) / 1e6;
        size[i] = stat(libs[i].path, &st) == 0 ? (double)st.st_size / 1048576.0 : -1;
        free(t[i].v);
    }
    row("load_init_first", "load + initialize + first request", "ms", v);
    row("rss_after_init", "RSS after initialize (whole process)", "MiB", rss);
    row("rss_added", "RSS the library added (load + initialize + request)", "MiB", added);
    row("threads_after_init", "threads after initialize (whole process)", "count", threads);
    row("library_size", "library file size", "MiB", size);
}

/* In a fork child, before any reinit: how a sync request and an async capture
 * fare (refused at once, or left hanging), then reinit and an async round
 * trip. Times in us; -1 where something did not happen within 1 s. */
static void fork_rows(void)
{
    scratch sc;
    double refuse[MAX_LIBS], hang[MAX_LIBS], reinit_us[MAX_LIBS], after[MAX_LIBS];
    for (int i = 0; i < n_libs; i++) {
        lib *l = &libs[i];
        uint64_t src = new_audio_source(l, 48000, 1, 1000);
        int fds[2];
        if (pipe(fds))
            exit(2);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            alarm(20);
            int16_t pcm[480] = {0};
            Livekit__Proto__AudioFrameBufferInfo b = LIVEKIT__PROTO__AUDIO_FRAME_BUFFER_INFO__INIT;
            b.has_data_ptr = b.has_num_channels = b.has_sample_rate = b.has_samples_per_channel = true;
            b.data_ptr = (uint64_t)(uintptr_t)pcm;
            b.num_channels = 1;
            b.sample_rate = 48000;
            b.samples_per_channel = 480;
            REQ(q, capture_audio_frame, CAPTURE_AUDIO_FRAME, Livekit__Proto__CaptureAudioFrameRequest,
                LIVEKIT__PROTO__CAPTURE_AUDIO_FRAME_REQUEST__INIT);
            q_msg.has_source_handle = q_msg.has_request_async_id = true;
            q_msg.source_handle = src;
            q_msg.request_async_id = 777;
            q_msg.buffer = &b;
            packed p = pack(&q);
            double out[4] = {-1, -1, -1, -1};
            double t0 = now_ns();
            Livekit__Proto__FfiResponse *res = call(l, p, &sc);
            double t1 = now_ns();
            if (!res) {
                out[0] = (t1 - t0) / 1e3; /* refused */
            } else {
                double at = wait_capture(l, 777, 1000);
                out[1] = at < 0 ? -1 : (at - t0) / 1e3; /* -1: no callback (hung) */
            }
            if (l->reinit) {
                choose_io(l);
                t0 = now_ns();
                bool ok = l->reinit();
                out[2] = (now_ns() - t0) / 1e3;
                uint64_t src2 = ok ? new_audio_source(l, 48000, 1, 1000) : 0;
                q_msg.source_handle = src2;
                q_msg.request_async_id = 778;
                packed p2 = pack(&q);
                t0 = now_ns();
                res = call(l, p2, &sc);
                double at = res ? wait_capture(l, 778, 1000) : -1;
                out[3] = at < 0 ? -1 : (at - t0) / 1e3;
            }
            if (write(fds[1], out, sizeof out) != sizeof out)
                _exit(1);
            _exit(0);
        }
        close(fds[1]);
        double got[4] = {-1, -1, -1, -1};
        if (read(fds[0], got, sizeof got) != sizeof got)
            got[0] = got[1] = -1;
        close(fds[0]);
        kill(pid, SIGKILL); /* a child stuck on upstream's runtime does not exit */
        waitpid(pid, NULL, 0);
        refuse[i] = got[0];
        hang[i] = got[1];
        reinit_us[i] = got[2];
        after[i] = got[3];
        l->drop(src);
    }
    row("fork_refuse", "fork child, no reinit: request refused after", "us", refuse);
    row("fork_async_without_reinit", "fork child, no reinit: async callback after (-1: never)", "us", hang);
    row("fork_reinit", "fork child: livekit_ffi_reinit()", "us", reinit_us);
    row("fork_async_after_reinit", "fork child after reinit: async round trip", "us", after);
}

int main(int argc, char **argv)
{
    self_path = argv[0];
    if (argc >= 3 && strcmp(argv[1], "--probe") == 0)
        return probe(argv[2], argc > 3 ? argv[3] : NULL);
    char *real = realpath(argv[0], NULL);
    if (real)
        self_path = real;
    bool quick = false;
    const char *io = NULL;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--quick") == 0) {
            quick = true;
        } else if (strcmp(argv[a], "--preload") == 0 && a + 1 < argc) {
            preload_path = argv[++a];
            if (!dlopen(preload_path, RTLD_NOW | RTLD_GLOBAL)) {
                fprintf(stderr, "ffi_bench: %s\n", dlerror());
                return 2;
            }
        } else if (strcmp(argv[a], "--io") == 0 && a + 1 < argc) {
            io = argv[++a];
        } else if (strchr(argv[a], '=') && n_libs < MAX_LIBS) {
            char *eq = strchr(argv[a], '=');
            *eq = '\0';
            libs[n_libs].name = argv[a];
            libs[n_libs].path = eq + 1;
            libs[n_libs].io = io;
            io = NULL;
            n_libs++;
        } else {
            fprintf(stderr, "usage: %s [--quick] [--preload stub.so] [--io uring|epoll] name=path...\n",
                    argv[0]);
            return 2;
        }
    }
    if (!n_libs)
        return 2;
    if (quick) {
        rounds = 3;
        scale = 5;
    }
    setenv("LIVEKIT_FFI_LOG", "off", 0);
    for (int i = 0; i < n_libs; i++)
        load(&libs[i], i);
    Livekit__Proto__NewAudioResamplerRequest m = LIVEKIT__PROTO__NEW_AUDIO_RESAMPLER_REQUEST__INIT;
    Livekit__Proto__FfiRequest r = LIVEKIT__PROTO__FFI_REQUEST__INIT;
    r.message_case = LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_AUDIO_RESAMPLER;
    r.new_audio_resampler = &m;
    resampler_req = pack(&r);
    video_src = calloc(1, 1920 * 1080 * 4);
    for (size_t k = 0; k < 1920 * 1080 * 4; k++)
        video_src[k] = (uint8_t)(k * 7 + k / 4096);
    audio_objects();

    printf("{\"quick\": %s, \"libraries\": [", quick ? "true" : "false");
    for (int i = 0; i < n_libs; i++)
        printf("%s\"%s\"", i ? ", " : "", libs[i].name);
    printf("], \"rows\": [");
    timed_row("entry_check", "entry check (livekit_ffi_reinit no-op)", entry_check, 1);
    timed_row("sync_rt", "sync round trip (NewAudioResampler + drops)", sync_round_trip, 2000 / scale);
    throughput_row();
    async_latency_rows();
    timed_row("convert_rgba_i420_720p", "VideoConvert 720p RGBA to I420", rgba_i420_720, 40 / scale);
    timed_row("convert_rgba_i420_1080p", "VideoConvert 1080p RGBA to I420", rgba_i420_1080, 40 / scale);
    timed_row("convert_i420_rgba_720p", "VideoConvert 720p I420 to RGBA", i420_rgba_720, 40 / scale);
    timed_row("convert_i420_rgba_1080p", "VideoConvert 1080p I420 to RGBA", i420_rgba_1080, 40 / scale);
    timed_row("sox_push", "sox push 10 ms 48k to 16k stereo", sox_push, 1000 / scale);
    timed_row("remix", "RemixAndResample 10 ms 48k to 16k mono", remix, 1000 / scale);
    timed_row("apm", "APM process 10 ms 48k mono, all features", apm, 1000 / scale);
    cadence_rows(quick ? 2.0 : 10.0);
    cold_start_rows();
    fork_rows();
    printf("\n]}\n");
    return 0;
}
