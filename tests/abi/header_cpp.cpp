// The public header compiles as C++17 with C linkage for every function.
#include "livekit_ffi.h"

#include <type_traits>

static_assert(std::is_same<FfiHandleId, uint64_t>::value, "handles are uint64_t");
static_assert(std::is_same<decltype(&livekit_ffi_request),
                           FfiHandleId (*)(const uint8_t *, size_t, const uint8_t **,
                                           size_t *)>::value,
              "livekit_ffi_request has upstream's signature");
static_assert(std::is_same<decltype(&livekit_ffi_drop_handle), bool (*)(FfiHandleId)>::value,
              "livekit_ffi_drop_handle has upstream's signature");
static_assert(std::is_same<decltype(&livekit_ffi_reinit), bool (*)()>::value,
              "livekit_ffi_reinit takes nothing and says whether it worked");

int main()
{
    // Nothing initialized: the library refuses and says why.
    const uint8_t *res = nullptr;
    size_t len = 0;
    return livekit_ffi_request(nullptr, 0, &res, &len) == INVALID_HANDLE &&
                   livekit_ffi_last_error() != nullptr
               ? 0
               : 1;
}
