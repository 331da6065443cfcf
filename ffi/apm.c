/*
 * apm.c: NewApm, ApmProcessStream, ApmProcessReverseStream,
 * ApmSetStreamDelay, on speexdsp.
 *
 * Capture path, per 10 ms frame: a 4th-order Butterworth high-pass at 80 Hz
 * (two biquads per channel), speexdsp's MDF echo canceller fed with the
 * reverse signal delayed by the stream delay, then speexdsp's preprocessor
 * per channel for noise suppression, gain control and (mono capture, echo
 * canceller on) residual echo suppression. The reverse signal is mixed to
 * mono and kept in a delay line at the capture rate; reverse frames at
 * another rate are refused. A change of rate or channel count starts the
 * adaptive state afresh.
 */
#include "apm.h"

#include <math.h>
#include <pthread.h>
#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "handle.h"
#include "handlers.h"

enum {
    MAX_CHANNELS = 8,
    ECHO_TAIL_MS = 100,  /* echo paths the filter covers beyond the stream delay */
    MAX_DELAY_MS = 500,  /* the longest stream delay the delay line holds */
};

typedef struct {
    float b0, b1, b2, a1, a2;
} biquad;

struct lk_apm {
    bool aec, agc, hpf, ns;
    uint32_t rate, channels; /* of the capture stream; 0 until the first frame */
    size_t frame;            /* samples per channel in 10 ms */
    int delay_ms;

    biquad hp[2];
    float hp_state[MAX_CHANNELS][2][2];

    SpeexEchoState *echo;
    SpeexPreprocessState *pre[MAX_CHANNELS];

    int16_t *ref; /* mono reverse signal, a ring of ref_cap samples */
    size_t ref_cap;
    uint64_t ref_written;

    int16_t *in, *out, *ref_frame; /* one frame of scratch each */
    int16_t *plane;                 /* one channel of one frame */
};

static int16_t clip16(float v)
{
    return v > 32767.f ? 32767 : v < -32768.f ? -32768 : (int16_t)lrintf(v);
}

/* A Butterworth high-pass section (bilinear transform) with quality q. */
static biquad highpass(double cutoff, double rate, double q)
{
    double w0 = 2 * M_PI * cutoff / rate, cw = cos(w0), alpha = sin(w0) / (2 * q);
    double a0 = 1 + alpha;
    return (biquad){(float)((1 + cw) / 2 / a0), (float)(-(1 + cw) / a0), (float)((1 + cw) / 2 / a0),
                    (float)(-2 * cw / a0), (float)((1 - alpha) / a0)};
}

static float biquad_step(const biquad *b, float s[2], float x)
{
    float y = b->b0 * x + s[0];
    s[0] = b->b1 * x - b->a1 * y + s[1];
    s[1] = b->b2 * x - b->a2 * y;
    return y;
}

static void release_state(lk_apm *a)
{
    if (a->echo)
        speex_echo_state_destroy(a->echo);
    a->echo = NULL;
    for (int c = 0; c < MAX_CHANNELS; c++) {
        if (a->pre[c])
            speex_preprocess_state_destroy(a->pre[c]);
        a->pre[c] = NULL;
    }
    free(a->ref);
    free(a->in);
    free(a->out);
    free(a->ref_frame);
    free(a->plane);
    a->ref = a->in = a->out = a->ref_frame = a->plane = NULL;
}

static void *alloc_or_die(size_t n)
{
    void *p = calloc(1, n);
    if (!p)
        abort();
    return p;
}

/* (Re)builds the adaptive state for a capture format. */
static void configure(lk_apm *a, uint32_t rate, uint32_t channels)
{
    release_state(a);
    a->rate = rate;
    a->channels = channels;
    a->frame = rate / 100;
    memset(a->hp_state, 0, sizeof a->hp_state);
    /* 4th-order Butterworth: sections with Q = 0.541 and 1.307 */
    a->hp[0] = highpass(80, rate, 0.5411961);
    a->hp[1] = highpass(80, rate, 1.3065630);

    size_t n = a->frame * channels;
    a->in = alloc_or_die(n * sizeof(int16_t));
    a->out = alloc_or_die(n * sizeof(int16_t));
    a->ref_frame = alloc_or_die(a->frame * sizeof(int16_t));
    a->plane = alloc_or_die(a->frame * sizeof(int16_t));
    a->ref_cap = (size_t)rate * MAX_DELAY_MS / 1000 + 2 * a->frame;
    a->ref = alloc_or_die(a->ref_cap * sizeof(int16_t));
    a->ref_written = 0;

    int irate = (int)rate;
    if (a->aec) {
        a->echo = speex_echo_state_init_mc((int)a->frame, (int)(rate * ECHO_TAIL_MS / 1000),
                                           (int)channels, 1);
        speex_echo_ctl(a->echo, SPEEX_ECHO_SET_SAMPLING_RATE, &irate);
    }
    bool residual = a->aec && channels == 1;
    if (!a->ns && !a->agc && !residual)
        return;
    for (uint32_t c = 0; c < channels; c++) {
        SpeexPreprocessState *p = speex_preprocess_state_init((int)a->frame, irate);
        int on = 1, off = 0;
        speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_DENOISE, a->ns ? &on : &off);
        speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_AGC, a->agc ? &on : &off);
        speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_DEREVERB, &off);
        if (a->ns) {
            int suppress = -30; /* dB */
            speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &suppress);
        }
        if (a->agc) {
            float level = 8000; /* RMS target, about -12 dBFS */
            int max_gain = 30, increment = 12, decrement = -40;
            speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_AGC_LEVEL, &level);
            speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_AGC_MAX_GAIN, &max_gain);
            speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_AGC_INCREMENT, &increment);
            speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_AGC_DECREMENT, &decrement);
        }
        if (residual)
            speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_ECHO_STATE, a->echo);
        a->pre[c] = p;
    }
}

lk_apm *lk_apm_new(bool echo_canceller, bool gain_controller, bool high_pass_filter,
                   bool noise_suppression)
{
    lk_apm *a = alloc_or_die(sizeof *a);
    a->aec = echo_canceller;
    a->agc = gain_controller;
    a->hpf = high_pass_filter;
    a->ns = noise_suppression;
    return a;
}

void lk_apm_free(lk_apm *a)
{
    if (!a)
        return;
    release_state(a);
    free(a);
}

static int check_format(const int16_t *data, size_t samples, uint32_t rate, uint32_t channels)
{
    if (!data)
        return lk_fail("data_ptr is null");
    if ((uintptr_t)data % sizeof(int16_t))
        return lk_fail("data_ptr must be aligned for i16");
    if (rate < LK_APM_MIN_RATE || rate > LK_APM_MAX_RATE)
        return lk_fail("sample_rate must be %d..%d Hz (got %u)", LK_APM_MIN_RATE, LK_APM_MAX_RATE,
                       rate);
    if (channels == 0 || channels > MAX_CHANNELS)
        return lk_fail("num_channels must be 1..%d (got %u)", MAX_CHANNELS, channels);
    size_t per10 = (size_t)rate / 100 * channels;
    if (samples == 0 || samples % per10)
        return lk_fail("slice must have a multiple of 10ms worth of samples "
                       "(%zu samples; 10 ms is %zu)", samples, per10);
    return 0;
}

/* The reverse frame that lines up with the capture frame about to run:
 * the latest one, stream delay earlier; silence where there is none. */
static void reference_frame(lk_apm *a)
{
    uint64_t back = (uint64_t)a->delay_ms * a->rate / 1000 + a->frame;
    for (size_t i = 0; i < a->frame; i++) {
        uint64_t at = a->ref_written + i;
        a->ref_frame[i] = at >= back ? a->ref[(at - back) % a->ref_cap] : 0;
    }
}

static void process_frame(lk_apm *a, int16_t *f)
{
    size_t ch = a->channels, n = a->frame;
    if (a->hpf) {
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < ch; c++) {
                float v = f[i * ch + c];
                v = biquad_step(&a->hp[0], a->hp_state[c][0], v);
                v = biquad_step(&a->hp[1], a->hp_state[c][1], v);
                f[i * ch + c] = clip16(v);
            }
    }
    if (a->echo) {
        reference_frame(a);
        memcpy(a->in, f, n * ch * sizeof *f);
        speex_echo_cancellation(a->echo, a->in, a->ref_frame, f);
    }
    if (a->pre[0]) {
        for (size_t c = 0; c < ch; c++) {
            for (size_t i = 0; i < n; i++)
                a->plane[i] = f[i * ch + c];
            speex_preprocess_run(a->pre[c], a->plane);
            for (size_t i = 0; i < n; i++)
                f[i * ch + c] = a->plane[i];
        }
    }
}

int lk_apm_process(lk_apm *a, int16_t *data, size_t samples, uint32_t rate, uint32_t channels)
{
    if (check_format(data, samples, rate, channels) < 0)
        return -1;
    if (rate != a->rate || channels != a->channels)
        configure(a, rate, channels);
    for (size_t at = 0; at < samples; at += a->frame * channels)
        process_frame(a, data + at);
    return 0;
}

int lk_apm_process_reverse(lk_apm *a, int16_t *data, size_t samples, uint32_t rate,
                           uint32_t channels)
{
    if (check_format(data, samples, rate, channels) < 0)
        return -1;
    if (!a->rate)
        configure(a, rate, 1); /* no capture yet: assume mono until one comes */
    if (rate != a->rate)
        return lk_fail("reverse stream at %u Hz but the capture stream is at %u Hz", rate, a->rate);
    for (size_t i = 0; i < samples / channels; i++) {
        int32_t sum = 0;
        for (uint32_t c = 0; c < channels; c++)
            sum += data[i * channels + c];
        a->ref[a->ref_written++ % a->ref_cap] = (int16_t)(sum / (int32_t)channels);
    }
    return 0; /* the reverse signal is only listened to, never changed */
}

int lk_apm_set_stream_delay(lk_apm *a, int delay_ms)
{
    if (delay_ms < 0 || delay_ms > MAX_DELAY_MS)
        return lk_fail("delay_ms must be 0..%d (got %d)", MAX_DELAY_MS, delay_ms);
    a->delay_ms = delay_ms;
    return 0;
}

/* --- requests ------------------------------------------------------------ */

typedef struct {
    lk_object base;
    pthread_mutex_t lock;
    lk_apm *apm;
} apm_object;

static void apm_object_free(lk_object *o)
{
    apm_object *m = lk_container_of(o, apm_object, base);
    lk_apm_free(m->apm);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const lk_kind apm_kind = {"audio processing module", NULL, apm_object_free};

int lk_on_new_apm(lk_call *c)
{
    const Livekit__Proto__NewApmRequest *req = c->req->new_apm;
    apm_object *m = alloc_or_die(sizeof *m);
    lk_object_init(&m->base, &apm_kind);
    pthread_mutex_init(&m->lock, NULL);
    m->apm = lk_apm_new(req->echo_canceller_enabled, req->gain_controller_enabled,
                        req->high_pass_filter_enabled, req->noise_suppression_enabled);
    Livekit__Proto__NewApmResponse *res = lk_call_new(c, &livekit__proto__new_apm_response__descriptor);
    res->apm = lk_call_new(c, &livekit__proto__owned_apm__descriptor);
    res->apm->handle = lk_call_new(c, &livekit__proto__ffi_owned_handle__descriptor);
    res->apm->handle->id = lk_handle_insert(&m->base);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_NEW_APM;
    c->res->new_apm = res;
    return 0;
}

/* Runs one APM operation under the module's lock. Problems with the audio
 * are the response's `error`, as upstream reports them; an unknown handle
 * fails the request. */
static int with_apm(lk_call *c, uint64_t handle, char **error,
                    int (*op)(lk_apm *, const void *), const void *arg)
{
    lk_object *o = lk_handle_get(handle, &apm_kind);
    if (!o)
        return -1;
    apm_object *m = lk_container_of(o, apm_object, base);
    pthread_mutex_lock(&m->lock);
    int r = op(m->apm, arg);
    pthread_mutex_unlock(&m->lock);
    lk_unref(o);
    if (r < 0)
        *error = lk_call_take_error(c);
    return 0;
}

typedef struct {
    uint64_t data_ptr;
    uint32_t size, sample_rate, num_channels;
} pcm_arg;

static int check_bytes(const pcm_arg *p)
{
    if (p->size % sizeof(int16_t))
        return lk_fail("size (%u bytes) is not a whole number of int16 samples", p->size);
    return 0;
}

static int op_process(lk_apm *a, const void *arg)
{
    const pcm_arg *p = arg;
    if (check_bytes(p) < 0)
        return -1;
    return lk_apm_process(a, (int16_t *)(uintptr_t)p->data_ptr, p->size / sizeof(int16_t),
                          p->sample_rate, p->num_channels);
}

static int op_process_reverse(lk_apm *a, const void *arg)
{
    const pcm_arg *p = arg;
    if (check_bytes(p) < 0)
        return -1;
    return lk_apm_process_reverse(a, (int16_t *)(uintptr_t)p->data_ptr,
                                  p->size / sizeof(int16_t), p->sample_rate, p->num_channels);
}

static int op_set_delay(lk_apm *a, const void *arg)
{
    return lk_apm_set_stream_delay(a, *(const int *)arg);
}

int lk_on_apm_process_stream(lk_call *c)
{
    const Livekit__Proto__ApmProcessStreamRequest *req = c->req->apm_process_stream;
    Livekit__Proto__ApmProcessStreamResponse *res =
        lk_call_new(c, &livekit__proto__apm_process_stream_response__descriptor);
    pcm_arg p = {req->data_ptr, req->size, req->sample_rate, req->num_channels};
    if (with_apm(c, req->apm_handle, &res->error, op_process, &p) < 0)
        return -1;
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_APM_PROCESS_STREAM;
    c->res->apm_process_stream = res;
    return 0;
}

int lk_on_apm_process_reverse_stream(lk_call *c)
{
    const Livekit__Proto__ApmProcessReverseStreamRequest *req = c->req->apm_process_reverse_stream;
    Livekit__Proto__ApmProcessReverseStreamResponse *res =
        lk_call_new(c, &livekit__proto__apm_process_reverse_stream_response__descriptor);
    pcm_arg p = {req->data_ptr, req->size, req->sample_rate, req->num_channels};
    if (with_apm(c, req->apm_handle, &res->error, op_process_reverse, &p) < 0)
        return -1;
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_APM_PROCESS_REVERSE_STREAM;
    c->res->apm_process_reverse_stream = res;
    return 0;
}

int lk_on_apm_set_stream_delay(lk_call *c)
{
    const Livekit__Proto__ApmSetStreamDelayRequest *req = c->req->apm_set_stream_delay;
    Livekit__Proto__ApmSetStreamDelayResponse *res =
        lk_call_new(c, &livekit__proto__apm_set_stream_delay_response__descriptor);
    int delay = req->delay_ms;
    if (with_apm(c, req->apm_handle, &res->error, op_set_delay, &delay) < 0)
        return -1;
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_APM_SET_STREAM_DELAY;
    c->res->apm_set_stream_delay = res;
    return 0;
}
