/*
 * cabi.c: the six exported functions.
 *
 * Each begins with the process check: one load of the runtime state, which
 * a pthread_atfork child handler turns stale in a forked child. A child
 * that has not called livekit_ffi_reinit() is refused at once and never
 * reaches the parent's rings.
 */
#include "livekit_ffi.h"

#include <stdatomic.h>

#include "dispatch.h"
#include "error.h"
#include "handle.h"
#include "io.h"
#include "log.h"
#include "server.h"

#define LK_EXPORT __attribute__((visibility("default")))

static const char stale_message[] =
    "liblivekit_ffi was initialized in another process and this is a fork() child: "
    "call livekit_ffi_reinit() (or livekit_ffi_initialize()) in the child first";

static const char stopped_message[] =
    "liblivekit_ffi is not initialized (or was disposed, or could not start): "
    "call livekit_ffi_initialize() first";

/* Logged once per cause, so a client retrying in a loop cannot flood the
 * log; livekit_ffi_last_error() still says why on every refusal. */
static _Atomic bool refusal_logged[2]; /* [0]: stopped, [1]: stale */

static FfiHandleId refuse_request(void)
{
    bool stale = lkio_state() == LKIO_STALE;
    lk_fail(stale ? stale_message : stopped_message);
    if (!atomic_exchange(&refusal_logged[stale], true))
        lk_log_error("request refused: %s (logged once; livekit_ffi_last_error() says it "
                     "each time)", lk_error());
    return INVALID_HANDLE;
}

LK_EXPORT void livekit_ffi_initialize(FfiCallbackFn cb, bool capture_logs, const char *sdk,
                                      const char *sdk_version)
{
    lk_error_clear();
    lk_server_initialize(cb, capture_logs, sdk, sdk_version);
}

LK_EXPORT FfiHandleId livekit_ffi_request(const uint8_t *data, size_t len,
                                          const uint8_t **res_ptr, size_t *res_len)
{
    lk_error_clear();
    if (res_ptr)
        *res_ptr = NULL;
    if (res_len)
        *res_len = 0;
    if (lkio_state() != LKIO_RUNNING)
        return refuse_request();
    if (!res_ptr || !res_len || (!data && len)) {
        lk_fail("livekit_ffi_request: %s is NULL", !res_ptr ? "res_ptr" : !res_len ? "res_len" : "data");
        lk_log_error("%s", lk_error());
        return INVALID_HANDLE;
    }

    lkio_enter();
    if (lkio_state() != LKIO_RUNNING) { /* disposed meanwhile */
        lkio_leave();
        return refuse_request();
    }
    void (*then)(void) = NULL;
    FfiHandleId id = lk_dispatch(data, len, res_ptr, res_len, &then);
    if (id == INVALID_HANDLE)
        lk_log_error("request failed: %s", lk_error());
    lkio_leave();
    if (then)
        then();
    return id;
}

LK_EXPORT bool livekit_ffi_drop_handle(FfiHandleId handle_id)
{
    lk_error_clear();
    if (lkio_state() == LKIO_STALE) {
        lk_fail(stale_message);
        return false;
    }
    /* Most handles are response buffers and frames: dropping them is table
     * work and a free, which need no gate. Objects with a close (streams,
     * sources, tracks) stop their activity inside it. */
    bool closable;
    lk_object *o = lk_handle_take_plain(handle_id, &closable);
    if (o) {
        lk_unref(o);
        return true;
    }
    lkio_enter();
    bool dropped = closable && lk_handle_drop(handle_id);
    if (!dropped) {
        lk_fail("handle %llu is unknown: never issued, already dropped, or inherited across fork()",
                (unsigned long long)handle_id);
        lk_log_warn("%s", lk_error());
    }
    lkio_leave();
    return dropped;
}

LK_EXPORT void livekit_ffi_dispose(void)
{
    lk_error_clear();
    if (lkio_state() == LKIO_STALE)
        return; /* the parent's runtime is not ours to stop */
    lk_server_dispose();
}

LK_EXPORT bool livekit_ffi_reinit(void)
{
    lk_error_clear();
    return lk_server_reinit();
}

LK_EXPORT const char *livekit_ffi_last_error(void)
{
    return lk_error();
}
