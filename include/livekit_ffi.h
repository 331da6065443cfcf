/*
 * livekit_ffi.h: the C ABI of liblivekit_ffi (this project's C implementation).
 *
 * The first four functions have the signatures of the upstream Rust library's
 * exports, so clients built for it (Python ctypes, Unity, C++, Node) load this
 * one unchanged. Requests, responses and events are protobuf messages of
 * package livekit.proto (see proto/).
 */

#ifndef livekit_ffi
#define livekit_ffi

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef uint64_t FfiHandleId;

#define INVALID_HANDLE 0

/* Receives one encoded FfiEvent. Called from the library's worker threads;
 * the bytes are valid only during the call. Must be thread-safe. */
typedef void (*FfiCallbackFn)(const uint8_t *data, size_t len);

#ifdef __cplusplus
extern "C" {
#endif

/* Starts the library (or, called again, replaces the callback and settings;
 * an event already on its way may still reach the previous callback, which
 * must stay callable). With capture_logs the library's logs arrive as
 * LogBatch events; otherwise they go to stderr, filtered by the
 * LIVEKIT_FFI_LOG environment variable. */
void livekit_ffi_initialize(FfiCallbackFn cb, bool capture_logs, const char *sdk,
                            const char *sdk_version);

/* Handles one encoded FfiRequest. On success returns the handle that owns the
 * encoded FfiResponse at *res_ptr and *res_len (valid until that handle is
 * dropped). On failure returns INVALID_HANDLE, sets *res_ptr = NULL and
 * *res_len = 0, and livekit_ffi_last_error() says why. */
FfiHandleId livekit_ffi_request(const uint8_t *data, size_t len, const uint8_t **res_ptr,
                                size_t *res_len);

/* Releases what a handle owns. Returns false for an unknown handle. */
bool livekit_ffi_drop_handle(FfiHandleId handle_id);

/* Closes every live object, stops the worker threads and forgets the
 * callback. Handles stay droppable; livekit_ffi_initialize starts again. */
void livekit_ffi_dispose(void);

/* Extension: in a child created by fork() after initialize, rebuilds the
 * runtime (new rings and worker threads, an empty handle table, the same
 * callback). A no-op returning true in the initializing process; false,
 * with an error, before any initialize. */
bool livekit_ffi_reinit(void);

/* Extension: text describing why the calling thread's most recent
 * livekit_ffi_* call failed, or NULL if it succeeded. */
const char *livekit_ffi_last_error(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* livekit_ffi */
