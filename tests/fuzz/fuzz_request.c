/*
 * fuzz_request.c: libFuzzer harness for livekit_ffi_request.
 *
 * Bytes that decode as an FfiRequest are made honest about memory before
 * they are sent: the ABI trusts raw caller pointers (upstream's too), so
 * every data_ptr is pointed into a scratch buffer and every size that says
 * how much to read there is clamped to fit. Everything else — handles,
 * enums, dimensions, missing fields, garbage — reaches the library as the
 * fuzzer made it. The request is decoded by the library's own decoder
 * (its envelope reader takes the one variant among unknown fields that
 * protobuf-c's whole-message unpack refuses), so no raw pointer slips
 * through that way; bytes that do not decode are sent as they are.
 *
 * Handles: a pool of live objects of every kind (sources, tracks, streams,
 * resamplers, APMs) is made at start, and every nonzero `*_handle` field is
 * pointed at one of them, so requests reach the handlers behind the lookup.
 * DisposeRequest is left out: it would close the pool (tests cover it).
 * Handles the library hands out (in responses and in events) are dropped at
 * once, so a long run does not grow.
 */
#include <stdlib.h>
#include <string.h>

#include "audio_frame.pb-c.h"
#include "envelope.h"
#include "ffi.pb-c.h"
#include "livekit_ffi.h"
#include "track.pb-c.h"
#include "video_frame.pb-c.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { PLANE = 8 << 20, SCRATCH = 4 * PLANE };
static uint8_t *scratch;

/* Bounds that keep any read the fields describe inside one PLANE. */
static const struct {
    const char *name;
    uint32_t max;
} clamps[] = {
    {"width", 1024},  {"height", 1024},        {"stride", 4096},       {"size", PLANE / 2},
    {"num_channels", 8}, {"samples_per_channel", 48000}, {"sample_rate", 192000},
};

enum { POOL = 16 };
static uint64_t pool[POOL];
static unsigned pool_len;

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

static void make_honest(ProtobufCMessage *m, unsigned *plane)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        void *at = (char *)m + f->offset;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(uint32_t *)((char *)m + f->quantifier_offset) != f->id)
            continue; /* another member of the union is live */
        if (f->type == PROTOBUF_C_TYPE_UINT64 && strcmp(f->name, "data_ptr") == 0 &&
            f->label != PROTOBUF_C_LABEL_REPEATED) {
            *(uint64_t *)at = (uint64_t)(uintptr_t)(scratch + (size_t)(*plane % 4) * PLANE);
            (*plane)++;
        } else if (f->type == PROTOBUF_C_TYPE_UINT64 && ends_with(f->name, "_handle") &&
                   f->label != PROTOBUF_C_LABEL_REPEATED && *(uint64_t *)at && pool_len) {
            *(uint64_t *)at = pool[*(uint64_t *)at % pool_len];
        } else if (f->type == PROTOBUF_C_TYPE_UINT32 && f->label != PROTOBUF_C_LABEL_REPEATED) {
            for (size_t k = 0; k < sizeof clamps / sizeof clamps[0]; k++)
                if (strcmp(f->name, clamps[k].name) == 0 && *(uint32_t *)at > clamps[k].max)
                    *(uint32_t *)at = clamps[k].max;
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                size_t n = *(size_t *)((char *)m + f->quantifier_offset);
                ProtobufCMessage **items = *(ProtobufCMessage ***)at;
                for (size_t j = 0; j < n; j++)
                    make_honest(items[j], plane);
            } else if (*(ProtobufCMessage **)at) {
                make_honest(*(ProtobufCMessage **)at, plane);
            }
        }
    }
}

/* Drops every FfiOwnedHandle found in a message tree. */
static void drop_owned(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == &livekit__proto__ffi_owned_handle__descriptor) {
        livekit_ffi_drop_handle(((const Livekit__Proto__FfiOwnedHandle *)m)->id);
        return;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const void *at = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            for (size_t j = 0; j < n; j++)
                drop_owned((*(ProtobufCMessage *const *const *)at)[j]);
        } else if (*(ProtobufCMessage *const *)at) {
            if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
                continue;
            drop_owned(*(ProtobufCMessage *const *)at);
        }
    }
}

static void on_event(const uint8_t *data, size_t len)
{
    Livekit__Proto__FfiEvent *ev = livekit__proto__ffi_event__unpack(NULL, len, data);
    if (!ev)
        abort(); /* the library sent something that is not an FfiEvent */
    drop_owned(&ev->base);
    livekit__proto__ffi_event__free_unpacked(ev, NULL);
}

/* Sends req and returns the first FfiOwnedHandle of its response (kept). */
static uint64_t make(Livekit__Proto__FfiRequest__MessageCase which, void *msg)
{
    Livekit__Proto__FfiRequest req = LIVEKIT__PROTO__FFI_REQUEST__INIT;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&livekit__proto__ffi_request__descriptor, which);
    req.message_case = which;
    *(void **)((char *)&req + f->offset) = msg;
    uint8_t buf[256];
    size_t len = livekit__proto__ffi_request__pack(&req, buf);
    const uint8_t *res_ptr;
    size_t res_len;
    uint64_t h = livekit_ffi_request(buf, len, &res_ptr, &res_len);
    if (!h)
        abort();
    /* each create response here holds its object's FfiOwnedHandle through
     * the first field of every message down: follow them */
    Livekit__Proto__FfiResponse *res = livekit__proto__ffi_response__unpack(NULL, res_len, res_ptr);
    const ProtobufCFieldDescriptor *rf = protobuf_c_message_descriptor_get_field(
        &livekit__proto__ffi_response__descriptor, (unsigned)res->message_case);
    const ProtobufCMessage *m = *(ProtobufCMessage **)((char *)res + rf->offset);
    while (m->descriptor != &livekit__proto__ffi_owned_handle__descriptor)
        m = *(ProtobufCMessage *const *)((const char *)m + m->descriptor->fields[0].offset);
    uint64_t id = ((const Livekit__Proto__FfiOwnedHandle *)m)->id;
    livekit__proto__ffi_response__free_unpacked(res, NULL);
    livekit_ffi_drop_handle(h);
    return id;
}

static void fill_pool(void)
{
    Livekit__Proto__NewAudioSourceRequest as = LIVEKIT__PROTO__NEW_AUDIO_SOURCE_REQUEST__INIT;
    uint64_t asrc = pool[pool_len++] = make(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_AUDIO_SOURCE, &as);
    Livekit__Proto__CreateAudioTrackRequest at = LIVEKIT__PROTO__CREATE_AUDIO_TRACK_REQUEST__INIT;
    at.has_source_handle = true;
    at.source_handle = asrc;
    uint64_t atrack = pool[pool_len++] = make(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_CREATE_AUDIO_TRACK, &at);
    Livekit__Proto__NewAudioStreamRequest ast = LIVEKIT__PROTO__NEW_AUDIO_STREAM_REQUEST__INIT;
    ast.has_track_handle = true;
    ast.track_handle = atrack;
    pool[pool_len++] = make(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_AUDIO_STREAM, &ast);
    Livekit__Proto__NewVideoSourceRequest vs = LIVEKIT__PROTO__NEW_VIDEO_SOURCE_REQUEST__INIT;
    uint64_t vsrc = pool[pool_len++] = make(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_VIDEO_SOURCE, &vs);
    Livekit__Proto__CreateVideoTrackRequest vt = LIVEKIT__PROTO__CREATE_VIDEO_TRACK_REQUEST__INIT;
    vt.has_source_handle = true;
    vt.source_handle = vsrc;
    uint64_t vtrack = pool[pool_len++] = make(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_CREATE_VIDEO_TRACK, &vt);
    Livekit__Proto__NewVideoStreamRequest vst = LIVEKIT__PROTO__NEW_VIDEO_STREAM_REQUEST__INIT;
    vst.has_track_handle = true;
    vst.track_handle = vtrack;
    pool[pool_len++] = make(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_VIDEO_STREAM, &vst);
    Livekit__Proto__NewSoxResamplerRequest sx = LIVEKIT__PROTO__NEW_SOX_RESAMPLER_REQUEST__INIT;
    sx.has_input_rate = sx.has_output_rate = sx.has_num_channels = true;
    sx.input_rate = 48000;
    sx.output_rate = 16000;
    sx.num_channels = 2;
    pool[pool_len++] = make(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_SOX_RESAMPLER, &sx);
    Livekit__Proto__NewAudioResamplerRequest rs = LIVEKIT__PROTO__NEW_AUDIO_RESAMPLER_REQUEST__INIT;
    pool[pool_len++] = make(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_AUDIO_RESAMPLER, &rs);
    Livekit__Proto__NewApmRequest ap = LIVEKIT__PROTO__NEW_APM_REQUEST__INIT;
    ap.has_echo_canceller_enabled = ap.has_noise_suppression_enabled = true;
    ap.echo_canceller_enabled = ap.noise_suppression_enabled = true;
    pool[pool_len++] = make(LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_NEW_APM, &ap);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("LIVEKIT_FFI_LOG", "off", 1);
    scratch = calloc(1, SCRATCH);
    livekit_ffi_initialize(on_event, false, "fuzz", "0");
    fill_pool();
    return 0;
}

/* The request as the library decodes it (ffi/dispatch.c): the envelope's
 * one variant alone, or protobuf-c's unpack when a variant repeats. NULL
 * when the library would refuse it. */
static Livekit__Proto__FfiRequest *decode(const uint8_t *data, size_t size)
{
    const ProtobufCFieldDescriptor *f;
    const uint8_t *body;
    size_t body_len;
    uint32_t unknown;
    switch (lk_envelope_read(&livekit__proto__ffi_request__descriptor, data, size, &f, &body,
                             &body_len, &unknown)) {
    case LK_ENVELOPE_ONE:
        return (Livekit__Proto__FfiRequest *)lk_envelope_unpack_one(
            &livekit__proto__ffi_request__descriptor, f, body, body_len, NULL);
    case LK_ENVELOPE_GENERIC:
        return livekit__proto__ffi_request__unpack(NULL, size, data);
    default:
        return NULL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *honest = NULL;
    Livekit__Proto__FfiRequest *req = decode(data, size);
    if (req && req->message_case == LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_DISPOSE) {
        livekit__proto__ffi_request__free_unpacked(req, NULL);
        return 0; /* it would close the pool */
    }
    if (req) {
        unsigned plane = 0;
        make_honest(&req->base, &plane);
        size = livekit__proto__ffi_request__get_packed_size(req);
        honest = malloc(size ? size : 1);
        livekit__proto__ffi_request__pack(req, honest);
        livekit__proto__ffi_request__free_unpacked(req, NULL);
        data = honest;
    }
    const uint8_t *res_ptr;
    size_t res_len;
    FfiHandleId h = livekit_ffi_request(data, size, &res_ptr, &res_len);
    if (h != INVALID_HANDLE) {
        Livekit__Proto__FfiResponse *res = livekit__proto__ffi_response__unpack(NULL, res_len, res_ptr);
        if (!res)
            abort(); /* a response that does not decode */
        drop_owned(&res->base);
        livekit__proto__ffi_response__free_unpacked(res, NULL);
        if (!livekit_ffi_drop_handle(h))
            abort();
    } else if (!livekit_ffi_last_error()) {
        abort(); /* refused without saying why */
    }
    free(honest);
    return 0;
}
