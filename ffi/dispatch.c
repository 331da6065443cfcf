/*
 * dispatch.c: decode an FfiRequest, hand it to the handler of its variant,
 * encode the FfiResponse into a buffer owned by a new handle.
 */
#include "dispatch.h"

#include <stdlib.h>

#include "error.h"
#include "handle.h"
#include "handlers.h"

static const lk_handler handlers[LK_REQUEST_CASES] = {
    [LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_DISPOSE] = lk_on_dispose,
};

/* --- the response buffer: what the handle returned to the client owns ---- */

typedef struct {
    lk_object base;
    uint8_t data[];
} response;

static void response_free(lk_object *o)
{
    free(lk_container_of(o, response, base));
}

static const lk_kind response_kind = {"response buffer", NULL, response_free};

static FfiHandleId respond(const Livekit__Proto__FfiResponse *res, const uint8_t **res_ptr,
                           size_t *res_len)
{
    size_t len = livekit__proto__ffi_response__get_packed_size(res);
    response *r = malloc(sizeof *r + len);
    if (!r) {
        lk_fail("out of memory for a %zu-byte response", len);
        return INVALID_HANDLE;
    }
    lk_object_init(&r->base, &response_kind);
    livekit__proto__ffi_response__pack(res, r->data);
    *res_ptr = r->data;
    *res_len = len;
    return lk_handle_insert(&r->base);
}

/* --- decoding ------------------------------------------------------------ */

static void *arena_pb_alloc(void *arena, size_t size)
{
    return lk_arena_alloc(arena, size);
}

static void arena_pb_free(void *arena, void *p)
{
}

static int no_variant(const Livekit__Proto__FfiRequest *req)
{
    if (req->base.n_unknown_fields)
        return lk_fail("unknown request variant (FfiRequest field %u): not in this build's protocol",
                       req->base.unknown_fields[0].tag);
    return lk_fail("empty request: FfiRequest carries no message");
}

FfiHandleId lk_dispatch(const uint8_t *data, size_t len, const uint8_t **res_ptr,
                        size_t *res_len, void (**then)(void))
{
    _Alignas(16) char first_block[4096];
    lk_arena arena;
    lk_arena_init(&arena, first_block, sizeof first_block);
    ProtobufCAllocator alloc = {arena_pb_alloc, arena_pb_free, &arena};

    FfiHandleId id = INVALID_HANDLE;
    const Livekit__Proto__FfiRequest *req = livekit__proto__ffi_request__unpack(&alloc, len, data);
    if (!req) {
        lk_fail("malformed request: %zu bytes that do not decode as an FfiRequest", len);
    } else if (req->message_case == LIVEKIT__PROTO__FFI_REQUEST__MESSAGE__NOT_SET) {
        no_variant(req);
    } else {
        unsigned which = (unsigned)req->message_case;
        lk_handler handler = which < LK_REQUEST_CASES && handlers[which] ? handlers[which]
                                                                        : lk_on_unsupported;
        Livekit__Proto__FfiResponse res = LIVEKIT__PROTO__FFI_RESPONSE__INIT;
        lk_call call = {req, &res, &arena, NULL};
        if (handler(&call) == 0) {
            id = respond(&res, res_ptr, res_len);
            if (id != INVALID_HANDLE)
                *then = call.then;
        }
    }
    lk_arena_free(&arena);
    return id;
}
