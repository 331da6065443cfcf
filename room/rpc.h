/*
 * rpc.h: remote procedure calls between participants of a room, upstream's
 * protocol: a request, the callee's acknowledgement, then its response,
 * each a reliable data packet addressed to the other participant (version
 * 1); or (version 2, when the callee's client protocol says it reads data
 * streams, LKRPC_CLIENT_PROTOCOL) the request and a successful response
 * as text streams on their own topics, with no size limit, the
 * acknowledgement and errors still packets.
 *
 * A call ends exactly once through `result`: with the callee's payload or
 * error, or with one of the built-in errors below (no acknowledgement
 * within the maximum round trip; no response within the response timeout
 * after it; the callee or we left the room). Incoming requests for a
 * registered method come out through `invoked` and are answered with
 * lkrpc_reply; the others are answered "unsupported method" at once.
 *
 * On the room's worker, like the room (room.h).
 */
#ifndef LKROOM_RPC_H
#define LKROOM_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "livekit_rtc.pb-c.h"
#include "stream.h"

/* Upstream's built-in error codes. */
enum lkrpc_code {
    LKRPC_APPLICATION_ERROR = 1500,
    LKRPC_CONNECTION_TIMEOUT = 1501,
    LKRPC_RESPONSE_TIMEOUT = 1502,
    LKRPC_RECIPIENT_DISCONNECTED = 1503,
    LKRPC_RESPONSE_PAYLOAD_TOO_LARGE = 1504,
    LKRPC_SEND_FAILED = 1505,
    LKRPC_UNSUPPORTED_METHOD = 1400,
    LKRPC_RECIPIENT_NOT_FOUND = 1401,
    LKRPC_REQUEST_PAYLOAD_TOO_LARGE = 1402,
    LKRPC_UNSUPPORTED_SERVER = 1403,
    LKRPC_UNSUPPORTED_VERSION = 1404,
};

/* The most a version 1 request or response payload may hold, in bytes; a
 * version 2 one, read from a stream (upstream sets none; a bound keeps a
 * sender from filling our memory). */
enum { LKRPC_MAX_PAYLOAD = 15360, LKRPC_MAX_STREAM_PAYLOAD = 16 << 20 };
/* The client protocol from which a participant takes version 2 (ours). */
enum { LKRPC_CLIENT_PROTOCOL = 1 };
/* Stream jobs this module submits have this bit set (stream.h's done). */
#define LKRPC_JOB_BIT (UINT64_C(1) << 62)

typedef struct lkrpc_error {
    uint32_t code;
    const char *message;
    const char *data; /* NULL: none */
} lkrpc_error;

typedef struct lkrpc_observer {
    void *ctx;
    /* A call of lkrpc_perform ended: payload (error NULL) or error. */
    void (*result)(void *ctx, uint64_t token, const char *payload, const lkrpc_error *error);
    /* A registered method was called; answer with lkrpc_reply(id, ...). */
    void (*invoked)(void *ctx, uint64_t id, const char *method, const char *request_id,
                    const char *caller, const char *payload, uint32_t response_timeout_ms);
} lkrpc_observer;

/* What RPC needs of the room (room.c's lkroom_send_packet and
 * lkroom_server_version, the streams, the participants' client protocol;
 * a test or a fuzzer gives its own). */
typedef struct lkrpc_transport {
    void *ctx;
    /* A reliable packet to one participant: 0, or -1 with err. */
    int (*send)(void *ctx, Livekit__DataPacket *p, char *err, size_t errlen);
    const char *(*server_version)(void *ctx);
    /* lkstreams_submit: lkrpc_stream_done(job) follows; -1 when there are
     * no streams (the room is not connected). */
    int (*submit)(void *ctx, uint64_t job, const lkstream_job *j);
    /* What the participant advertised (0 when not known). */
    int (*client_protocol)(void *ctx, const char *identity);
} lkrpc_transport;

typedef struct lkrpc lkrpc;

/* w: the worker whose timers time calls out (only lkrpc_perform needs it). */
lkrpc *lkrpc_new(lkio_worker *w, const lkrpc_transport *t, const lkrpc_observer *obs);
/* Emits nothing; calls in flight are forgotten. */
void lkrpc_free(lkrpc *rpc);

/* Timeouts of 0 take upstream's defaults (15 s response, 7 s round trip). */
void lkrpc_perform(lkrpc *rpc, uint64_t token, const char *destination, const char *method,
                   const char *payload, uint32_t response_timeout_ms, uint32_t max_round_trip_ms);

void lkrpc_register(lkrpc *rpc, const char *method);
void lkrpc_unregister(lkrpc *rpc, const char *method);

/* Answers invocation id with payload, or error when not NULL. -1 when no
 * such invocation is waiting. */
int lkrpc_reply(lkrpc *rpc, uint64_t id, const char *payload, const lkrpc_error *error);

/* The room's data packets: true when it was an RPC packet (taken). */
bool lkrpc_on_packet(lkrpc *rpc, const Livekit__DataPacket *p);
/* Incoming streams (stream.h's observer), offered first to RPC: true when
 * the stream is RPC's (its topic), which then reports nothing of it. */
bool lkrpc_stream_opened(lkrpc *rpc, const Livekit__DataStream__Header *h, const char *sender);
bool lkrpc_stream_chunk(lkrpc *rpc, const char *stream_id, const uint8_t *data, size_t len);
bool lkrpc_stream_ended(lkrpc *rpc, const char *stream_id, const char *error);
/* A job this module submitted (LKRPC_JOB_BIT) was sent, or failed. */
void lkrpc_stream_done(lkrpc *rpc, uint64_t job, const char *error);

/* Calls to this participant end with "recipient disconnected". */
void lkrpc_participant_left(lkrpc *rpc, const char *identity);
/* Our session ended: every call in flight ends so, and invocations go. */
void lkrpc_session_ended(lkrpc *rpc);

#endif
