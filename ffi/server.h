/*
 * server.h: what every request handler and service shares: the call being
 * served, the arena its messages live in, async ids, and event delivery.
 */
#ifndef LK_SERVER_H
#define LK_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ffi.pb-c.h"
#include "io.h"
#include "livekit_ffi.h"

/* A bump allocator for one request: its decoded message and the response
 * being built. Starts in a buffer on the caller's stack; freed at once. */
typedef struct lk_arena {
    char *cur, *end;
    void *spill; /* list of heap blocks used once the first one is full */
} lk_arena;

void lk_arena_init(lk_arena *a, void *buf, size_t size);
void *lk_arena_alloc(lk_arena *a, size_t size); /* zeroed; aborts on OOM */
void lk_arena_free(lk_arena *a);

typedef struct lk_call {
    const Livekit__Proto__FfiRequest *req;
    Livekit__Proto__FfiResponse *res;
    lk_arena *arena;
    /* Runs after the response is built, outside the gate (for work that
     * must wait for other threads, such as a synchronous dispose). */
    void (*then)(void);
} lk_call;

/* Fills c->res and returns 0, or returns -1 after lk_fail(). */
typedef int (*lk_handler)(lk_call *c);

/* A new, initialized message of the given type in the call's arena. */
void *lk_call_new(lk_call *c, const ProtobufCMessageDescriptor *desc);

/* For problems upstream reports in a response's `error` (the request itself
 * succeeds): the pending error, moved into the call's arena. */
char *lk_call_take_error(lk_call *c);

/* The async id for a request: the client's request_async_id when it set
 * one (as upstream does), else a fresh id. */
uint64_t lk_async_id(bool has_request_async_id, uint64_t request_async_id);

/* Sends an event to the client's callback. Worker threads only, and never
 * while holding a lock: the callback may call back into the library.
 * Returns false when there is no callback to send to. */
bool lk_emit(const Livekit__Proto__FfiEvent *ev);

/* The same, for an event already encoded. */
bool lk_emit_packed(const uint8_t *data, size_t len);

/* Any thread: encodes the event now, sends it from worker w. */
void lk_post_event(lkio_worker *w, const Livekit__Proto__FfiEvent *ev);

/* Lifecycle (cabi.c calls these; each takes the lifecycle lock). */
void lk_server_initialize(FfiCallbackFn cb, bool capture_logs, const char *sdk,
                          const char *sdk_version);
bool lk_server_reinit(void);
void lk_server_dispose(void);

#endif
