/* libFuzzer harness for the data packets other participants send us: the
 * input is a sequence of packets, each a 2-byte big-endian length and that
 * many bytes, decoded as a DataPacket (protobuf-c) and given to RPC
 * (room/rpc.c, methods registered, every invocation answered at once) and
 * to data streams (room/stream.c, which keep state from packet to packet,
 * and offer each stream to RPC first, as the FFI does: RPC version 2 reads
 * its requests and responses from streams and answers with its own); then
 * the sender leaves and the session ends. What either sends back is
 * encoded, as the room would send it. */
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lkrpc *rpc;
static lkstreams *streams;

static void encode(Livekit__DataPacket *p)
{
    size_t n = livekit__data_packet__get_packed_size(p);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        abort();
    livekit__data_packet__pack(p, buf);
    free(buf);
}

static int fz_send(void *ctx, Livekit__DataPacket *p, char *err, size_t errlen)
{
    (void)ctx;
    (void)err;
    (void)errlen;
    encode(p);
    return 0;
}

static int fz_stream_send(void *ctx, Livekit__DataPacket *p, const uint64_t *token, char *err,
                          size_t errlen)
{
    (void)ctx;
    (void)token;
    (void)err;
    (void)errlen;
    encode(p);
    return 0;
}

/* Readers are handed no more bytes than arrived, each of them readable. */
static size_t chunked;

static void fz_opened(void *ctx, const Livekit__DataStream__Header *h, const char *sender)
{
    (void)ctx;
    lkrpc_stream_opened(rpc, h, sender);
}

static void fz_ended(void *ctx, const char *stream_id, const Livekit__DataStream__Trailer *t,
                     const char *error)
{
    (void)ctx;
    (void)t;
    lkrpc_stream_ended(rpc, stream_id, error);
}

static void fz_done(void *ctx, uint64_t job, const char *error)
{
    (void)ctx;
    if (job & LKRPC_JOB_BIT)
        lkrpc_stream_done(rpc, job, error);
}

static int fz_submit(void *ctx, uint64_t job, const lkstream_job *j)
{
    (void)ctx;
    lkstreams_submit(streams, job, j);
    return 0;
}

static int fz_protocol(void *ctx, const char *identity)
{
    (void)ctx;
    (void)identity;
    return LKRPC_CLIENT_PROTOCOL; /* replies to stream requests go as streams */
}

static void fz_chunk(void *ctx, const char *stream_id, const uint8_t *data, size_t len)
{
    (void)ctx;
    if (lkrpc_stream_chunk(rpc, stream_id, data, len))
        return;
    /* at most len, counted by reading both ends: a chunk pointing out of
     * bounds is the sanitizer's to report */
    if (len)
        chunked += len - 1 + (data[0] == data[len - 1]);
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
    lkrpc_transport t = {NULL, fz_send, fz_version, fz_submit, fz_protocol};
    lkrpc_observer obs = {NULL, NULL, fz_invoked};
    rpc = lkrpc_new(NULL, &t, &obs); /* no call made here, so no timer */
    lkrpc_register(rpc, "echo");
    lkrpc_register(rpc, "");
    lkstreams_transport st = {NULL, fz_stream_send};
    lkstreams_observer sobs = {NULL, fz_opened, fz_chunk, fz_ended, fz_done};
    streams = lkstreams_new(&st, &sobs);
    char sender[64] = "";
    size_t input = size;
    chunked = 0;
    while (size >= 2) {
        size_t n = (size_t)data[0] << 8 | data[1];
        data += 2, size -= 2;
        if (n > size)
            n = size;
        Livekit__DataPacket *p = livekit__data_packet__unpack(NULL, n, data);
        data += n, size -= n;
        if (!p)
            continue;
        snprintf(sender, sizeof sender, "%s", p->participant_identity);
        if (!lkstreams_on_packet(streams, p))
            lkrpc_on_packet(rpc, p);
        livekit__data_packet__free_unpacked(p, NULL);
    }
    lkrpc_participant_left(rpc, sender);
    lkstreams_participant_left(streams, sender);
    lkrpc_session_ended(rpc);
    lkstreams_session_ended(streams);
    lkrpc_free(rpc);
    lkstreams_free(streams);
    if (chunked > input)
        abort();
    return 0;
}
