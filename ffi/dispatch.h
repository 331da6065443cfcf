/* dispatch.h: one encoded request in, one response handle out. */
#ifndef LK_DISPATCH_H
#define LK_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "livekit_ffi.h"

/* Inside the gate. On success returns the response handle, points
 * *res_ptr and *res_len at its bytes, and may set *then to work the caller runs
 * after leaving the gate. On failure returns INVALID_HANDLE after lk_fail(). */
FfiHandleId lk_dispatch(const uint8_t *data, size_t len, const uint8_t **res_ptr,
                        size_t *res_len, void (**then)(void));

#endif
