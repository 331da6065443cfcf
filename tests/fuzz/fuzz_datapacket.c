/* libFuzzer harness for the data packets other participants send us:
 * arbitrary bytes decoded as a DataPacket (protobuf-c), then through RPC
 * (room/rpc.c) with methods registered, every invocation answered at once,
 * and every packet RPC sends encoded, as the room would send it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lkrpc *rpc;

static int fz_send(void *ctx, Livekit__DataPacket *p, char *err, size_t errlen)
{
    (void)ctx;
    (void)err;
    (void)errlen;
    size_t n = livekit__data_packet__get_packed_size(p);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        abort();
    livekit__data_packet__pack(p, buf);
    free(buf);
    return 0;
}

static const char *fz_version(void *ctx)
{
    (void)ctx;
    return "1.13.5";
}

/* Answers each call: with its payload, or with an error when it says so. */
static void fz_invoked(void *ctx, uint64_t id, const char *method, const char *request_id,
                       const char *caller, const char *payload, uint32_t timeout_ms)
{
    (void)ctx;
    (void)method;
    (void)request_id;
    (void)caller;
    (void)timeout_ms;
    lkrpc_error e = {1500, payload, payload};
    lkrpc_reply(rpc, id, payload, payload[0] == 'e' ? &e : NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Livekit__DataPacket *p = livekit__data_packet__unpack(NULL, size, data);
    if (!p)
        return 0;
    lkrpc_transport t = {NULL, fz_send, fz_version};
    lkrpc_observer obs = {NULL, NULL, fz_invoked};
    rpc = lkrpc_new(NULL, &t, &obs); /* no call made here, so no timer */
    lkrpc_register(rpc, "echo");
    lkrpc_register(rpc, "");
    lkrpc_on_packet(rpc, p);
    lkrpc_participant_left(rpc, p->participant_identity);
    lkrpc_session_ended(rpc);
    lkrpc_free(rpc);
    livekit__data_packet__free_unpacked(p, NULL);
    return 0;
}
