/*
 * server.c: configuration, lifecycle (initialize, dispose, reinit after
 * fork), event delivery, and the per-request arena.
 *
 * Lifecycle states are the runtime's (io.h): running after initialize;
 * stopped before it and after dispose; stale in a fork child until reinit.
 * Handles survive dispose (closed but droppable: clients drop their handles
 * after disposing, and the memory behind a data_ptr stays valid until then);
 * in a fork child they are forgotten, since the parent's objects belong to
 * the parent's runtime.
 */
#include "server.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "error.h"
#include "handle.h"
#include "handlers.h"
#include "io.h"
#include "log.h"

static pthread_mutex_t lifecycle = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(FfiCallbackFn) callback;
static bool capture_logs;
static bool ever_initialized;
static char *sdk_name, *sdk_version_text;

/* --- arena --------------------------------------------------------------- */

typedef struct spill_block {
    struct spill_block *next;
    max_align_t data[];
} spill_block;

void lk_arena_init(lk_arena *a, void *buf, size_t size)
{
    a->cur = buf;
    a->end = (char *)buf + size;
    a->spill = NULL;
}

void *lk_arena_alloc(lk_arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if ((size_t)(a->end - a->cur) < size) {
        size_t block = size > 16384 ? size : 16384;
        spill_block *b = malloc(sizeof *b + block);
        if (!b)
            abort();
        b->next = a->spill;
        a->spill = b;
        a->cur = (char *)b->data;
        a->end = a->cur + block;
    }
    void *p = a->cur;
    a->cur += size;
    return memset(p, 0, size);
}

void lk_arena_free(lk_arena *a)
{
    for (spill_block *b = a->spill, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->spill = NULL;
}

void *lk_call_new(lk_call *c, const ProtobufCMessageDescriptor *desc)
{
    void *m = lk_arena_alloc(c->arena, desc->sizeof_message);
    protobuf_c_message_init(desc, m);
    return m;
}

char *lk_call_take_error(lk_call *c)
{
    const char *e = lk_error();
    size_t n = strlen(e ? e : "") + 1;
    char *copy = lk_arena_alloc(c->arena, n);
    memcpy(copy, e ? e : "", n);
    lk_error_clear();
    return copy;
}

uint64_t lk_async_id(bool has_request_async_id, uint64_t request_async_id)
{
    return has_request_async_id ? request_async_id : lk_next_id();
}

/* --- events -------------------------------------------------------------- */

typedef struct {
    FfiCallbackFn cb;
    const uint8_t *data;
    size_t len;
} delivery;

static void deliver(void *arg)
{
    delivery *d = arg;
    d->cb(d->data, d->len);
}

bool lk_emit_packed(const uint8_t *data, size_t len)
{
    delivery d = {atomic_load(&callback), data, len};
    if (!d.cb)
        return false;
    lkio_call_outside(deliver, &d);
    return true;
}

/* The event's one variant and its encoded size. */
static const ProtobufCMessage *event_variant(const Livekit__Proto__FfiEvent *ev, unsigned *field,
                                            size_t *inner, size_t *len)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
        &livekit__proto__ffi_event__descriptor, (unsigned)ev->message_case);
    const ProtobufCMessage *m = *(ProtobufCMessage *const *)((const char *)ev + f->offset);
    *field = f->id;
    *len = lk_envelope_size(f->id, m, inner);
    return m;
}

bool lk_emit(const Livekit__Proto__FfiEvent *ev)
{
    if (!atomic_load(&callback))
        return false;
    unsigned field;
    size_t inner, len;
    const ProtobufCMessage *m = event_variant(ev, &field, &inner, &len);
    uint8_t stack[1024];
    uint8_t *buf = len <= sizeof stack ? stack : malloc(len);
    if (!buf)
        abort();
    lk_envelope_pack(field, m, inner, buf);
    bool sent = lk_emit_packed(buf, len);
    if (buf != stack)
        free(buf);
    return sent;
}

typedef struct {
    lkio_task task;
    size_t len;
    uint8_t data[];
} packed_event;

static void packed_event_send(lkio_task *t)
{
    packed_event *e = lkio_container_of(t, packed_event, task);
    lk_emit_packed(e->data, e->len);
    free(e);
}

void lk_post_event(lkio_worker *w, const Livekit__Proto__FfiEvent *ev)
{
    unsigned field;
    size_t inner, len;
    const ProtobufCMessage *m = event_variant(ev, &field, &inner, &len);
    packed_event *e = malloc(sizeof *e + len);
    if (!e)
        abort();
    e->len = lk_envelope_pack(field, m, inner, e->data);
    lkio_post(w, &e->task, packed_event_send);
}

/* --- lifecycle ----------------------------------------------------------- */

static int start_runtime(void)
{
    char err[160];
    int r = lkio_start(0, err, sizeof err);
    if (r < 0) {
        lk_fail("cannot start the runtime: %s", err);
        lk_log_error("cannot start the runtime: %s", err);
        return -1;
    }
    lkio_enter();
    lk_log_start(capture_logs);
    lkio_leave();
    lk_log_info("I/O backend: %s (%s)", lkio_backend_name(), lkio_backend_reason());
    return 0;
}

/* In a fork child: let go of everything that belongs to the parent. */
static void forget_inherited(void)
{
    lkio_enter();
    lk_handles_forget_all();
    lk_log_forget();
    lkio_leave();
    lkio_discard_inherited();
}

static void replace_string(char **slot, const char *value)
{
    free(*slot);
    *slot = strdup(value ? value : "");
}

void lk_server_initialize(FfiCallbackFn cb, bool capture, const char *sdk,
                          const char *sdk_version)
{
    pthread_mutex_lock(&lifecycle);
    if (lkio_state() == LKIO_STALE)
        forget_inherited(); /* initialize in a fork child rebuilds, like reinit */
    atomic_store(&callback, cb);
    capture_logs = capture;
    replace_string(&sdk_name, sdk);
    replace_string(&sdk_version_text, sdk_version);
    ever_initialized = true;
    if (lkio_state() == LKIO_STOPPED) {
        start_runtime();
    } else {
        lkio_enter();
        lk_log_start(capture);
        lkio_leave();
    }
    lk_log_debug("initialized by %s %s", sdk_name, sdk_version_text);
    pthread_mutex_unlock(&lifecycle);
}

bool lk_server_reinit(void)
{
    pthread_mutex_lock(&lifecycle);
    bool ok = false;
    switch (lkio_state()) {
    case LKIO_RUNNING:
        ok = true; /* the process that initialized: nothing to rebuild */
        break;
    case LKIO_STALE:
        forget_inherited();
        ok = start_runtime() == 0;
        break;
    case LKIO_STOPPED:
        lk_fail(ever_initialized
                    ? "livekit_ffi_reinit: the library was disposed; call livekit_ffi_initialize"
                    : "livekit_ffi_reinit: livekit_ffi_initialize has not been called");
        break;
    }
    pthread_mutex_unlock(&lifecycle);
    return ok;
}

/* Inside the gate, after the runtime stopped taking requests and before its
 * workers are joined: they still run the tasks the closing posts. */
static void close_everything(void)
{
    lk_log_stop();
    lk_handles_close_all();
}

void lk_server_dispose(void)
{
    if (lkio_current()) {
        lk_fail("livekit_ffi_dispose cannot run inside an event callback");
        lk_log_error("livekit_ffi_dispose called inside an event callback: ignored");
        return;
    }
    pthread_mutex_lock(&lifecycle);
    if (lkio_state() == LKIO_RUNNING) {
        atomic_store(&callback, NULL); /* no events while everything closes */
        lkio_stop(close_everything);
    }
    pthread_mutex_unlock(&lifecycle);
}

static void after_fork_in_child(void)
{
    pthread_mutex_init(&lifecycle, NULL);
    lk_handles_after_fork();
}

__attribute__((constructor)) static void server_fork_hooks(void)
{
    lkio_set_fork_hooks(lk_handles_lock_all, lk_handles_after_fork, after_fork_in_child);
}

/* --- DisposeRequest ------------------------------------------------------ */

typedef struct {
    lkio_task task;
    uint64_t async_id;
} dispose_job;

static void dispose_job_run(lkio_task *t)
{
    dispose_job *job = lkio_container_of(t, dispose_job, task);
    lk_handles_close_all();
    Livekit__Proto__DisposeCallback cb = LIVEKIT__PROTO__DISPOSE_CALLBACK__INIT;
    cb.async_id = job->async_id;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = LIVEKIT__PROTO__FFI_EVENT__MESSAGE_DISPOSE;
    ev.dispose = &cb;
    free(job);
    lk_emit(&ev);
}

/* Synchronous: the same as livekit_ffi_dispose(), run once the response is
 * built. Asynchronous (upstream leaves it unimplemented): every object is
 * closed on the runtime, then DisposeCallback; the library stays
 * initialized, since that callback needs it. */
int lk_on_dispose(lk_call *c)
{
    const Livekit__Proto__DisposeRequest *req = c->req->dispose;
    Livekit__Proto__DisposeResponse *res =
        lk_call_new(c, &livekit__proto__dispose_response__descriptor);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_DISPOSE;
    c->res->dispose = res;
    if (!req->has_async || !req->async) {
        if (lkio_current())
            return lk_fail("a synchronous dispose cannot run inside an event callback");
        c->then = lk_server_dispose;
        return 0;
    }
    dispose_job *job = malloc(sizeof *job);
    if (!job)
        abort();
    job->async_id = lk_next_id();
    res->has_async_id = true;
    res->async_id = job->async_id;
    lkio_post(lkio_pick_worker(), &job->task, dispose_job_run);
    return 0;
}
