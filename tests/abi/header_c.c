/* The public header compiles as strict C11 and every declaration has the
 * type clients are built against (upstream's cbindgen signatures). */
#include "livekit_ffi.h"

static void on_event(const uint8_t *data, size_t len)
{
    (void)data;
    (void)len;
}

int main(void)
{
    void (*init)(FfiCallbackFn, bool, const char *, const char *) = livekit_ffi_initialize;
    FfiHandleId (*request)(const uint8_t *, size_t, const uint8_t **, size_t *) =
        livekit_ffi_request;
    bool (*drop)(FfiHandleId) = livekit_ffi_drop_handle;
    void (*dispose)(void) = livekit_ffi_dispose;
    bool (*reinit)(void) = livekit_ffi_reinit;
    const char *(*last_error)(void) = livekit_ffi_last_error;
    FfiCallbackFn cb = on_event;
    _Static_assert(sizeof(FfiHandleId) == 8, "handles are 64-bit");
    _Static_assert(INVALID_HANDLE == 0, "0 is the invalid handle");
    return !(init && request && drop && dispose && reinit && last_error && cb);
}
