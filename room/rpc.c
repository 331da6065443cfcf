/*
 * rpc.c: RPC calls in flight, registered methods and waiting invocations.
 *
 * A call waits first for the acknowledgement (max round trip), then for the
 * response (response timeout, counted from the acknowledgement, as upstream
 * counts it); one timer follows the earliest deadline. A response that
 * overtakes its acknowledgement completes the call all the same. The
 * timeout sent to the callee leaves room for the round trip: the response
 * timeout less the maximum round trip, at least a second.
 */
#include "rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "uuid.h"

static const uint64_t MS = 1000000u;

typedef struct call {
    uint64_t token, deadline;
    uint32_t response_timeout_ms;
    bool acked;
    char id[LKROOM_UUID_SIZE];
    char *destination;
} call;

typedef struct invocation {
    uint64_t id;
    char *request_id, *caller;
} invocation;

struct lkrpc {
    lkio_worker *w;
    lkrpc_transport t;
    lkrpc_observer obs;
    lkio_timer timer;
    call *calls;
    size_t n_calls, cap_calls;
    invocation *invs;
    size_t n_invs, cap_invs;
    char **methods;
    size_t n_methods, cap_methods;
    uint64_t next_invocation;
};

static const char *code_message(uint32_t code)
{
    switch (code) {
    case LKRPC_APPLICATION_ERROR: return "Application error in method handler";
    case LKRPC_CONNECTION_TIMEOUT: return "Connection timeout";
    case LKRPC_RESPONSE_TIMEOUT: return "Response timeout";
    case LKRPC_RECIPIENT_DISCONNECTED: return "Recipient disconnected";
    case LKRPC_RESPONSE_PAYLOAD_TOO_LARGE: return "Response payload too large";
    case LKRPC_SEND_FAILED: return "Failed to send";
    case LKRPC_UNSUPPORTED_METHOD: return "Method not supported at destination";
    case LKRPC_RECIPIENT_NOT_FOUND: return "Recipient not found";
    case LKRPC_REQUEST_PAYLOAD_TOO_LARGE: return "Request payload too large";
    case LKRPC_UNSUPPORTED_SERVER: return "RPC not supported by server";
    case LKRPC_UNSUPPORTED_VERSION: return "Unsupported RPC version";
    default: return "RPC error";
    }
}

static void grow(void **items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return;
    *cap = *cap ? *cap * 2 : 8;
    void *p = realloc(*items, *cap * size);
    if (!p)
        abort();
    *items = p;
}

/* A reliable packet to one participant. */
static int send_to(lkrpc *rpc, const char *destination, Livekit__DataPacket *p, char *err,
                   size_t errlen)
{
    char *dest = (char *)destination;
    p->n_destination_identities = 1;
    p->destination_identities = &dest;
    return rpc->t.send(rpc->t.ctx, p, err, errlen);
}

/* --- calls ------------------------------------------------------------------------ */

static void arm(lkrpc *rpc)
{
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < rpc->n_calls; i++)
        d = rpc->calls[i].deadline < d ? rpc->calls[i].deadline : d;
    if (d == UINT64_MAX)
        lkio_timer_stop(rpc->w, &rpc->timer);
    else
        lkio_timer_start(rpc->w, &rpc->timer, d);
}

/* Takes call i out and reports it (the observer may start new calls). */
static void end_call(lkrpc *rpc, size_t i, const char *payload, const lkrpc_error *error)
{
    call c = rpc->calls[i];
    rpc->calls[i] = rpc->calls[--rpc->n_calls];
    if (rpc->obs.result)
        rpc->obs.result(rpc->obs.ctx, c.token, payload, error);
    free(c.destination);
}

static void end_call_with(lkrpc *rpc, size_t i, uint32_t code, const char *data)
{
    lkrpc_error e = {code, code_message(code), data};
    end_call(rpc, i, NULL, &e);
}

static void fail_at_once(lkrpc *rpc, uint64_t token, uint32_t code, const char *data)
{
    lkrpc_error e = {code, code_message(code), data};
    if (rpc->obs.result)
        rpc->obs.result(rpc->obs.ctx, token, NULL, &e);
}

static ssize_t find_call(const lkrpc *rpc, const char *id)
{
    for (size_t i = 0; i < rpc->n_calls; i++)
        if (!strcmp(rpc->calls[i].id, id))
            return (ssize_t)i;
    return -1;
}

static void on_timer(lkio_timer *t)
{
    lkrpc *rpc = lkio_container_of(t, lkrpc, timer);
    uint64_t now = lkio_now_ns();
    for (size_t i = 0; i < rpc->n_calls;) {
        if (rpc->calls[i].deadline > now)
            i++;
        else
            end_call_with(rpc, i,
                          rpc->calls[i].acked ? LKRPC_RESPONSE_TIMEOUT : LKRPC_CONNECTION_TIMEOUT,
                          NULL);
    }
    arm(rpc);
}

/* Upstream asks for a server that routes RPC packets: 1.8.0 or newer. */
static bool server_too_old(const char *version)
{
    unsigned major, minor;
    if (sscanf(version, "%u.%u", &major, &minor) != 2)
        return false; /* unknown: let the call try */
    return major < 1 || (major == 1 && minor < 8);
}

void lkrpc_perform(lkrpc *rpc, uint64_t token, const char *destination, const char *method,
                   const char *payload, uint32_t response_timeout_ms, uint32_t max_round_trip_ms)
{
    if (!response_timeout_ms)
        response_timeout_ms = 15000;
    if (!max_round_trip_ms)
        max_round_trip_ms = 7000;
    if (server_too_old(rpc->t.server_version(rpc->t.ctx))) {
        fail_at_once(rpc, token, LKRPC_UNSUPPORTED_SERVER, NULL);
        return;
    }
    if (strlen(payload) > LKRPC_MAX_PAYLOAD) {
        fail_at_once(rpc, token, LKRPC_REQUEST_PAYLOAD_TOO_LARGE, NULL);
        return;
    }
    call c = {.token = token, .response_timeout_ms = response_timeout_ms};
    lkroom_uuid(c.id);
    uint32_t callee_timeout = response_timeout_ms > max_round_trip_ms + 1000
                                  ? response_timeout_ms - max_round_trip_ms
                                  : 1000;
    Livekit__RpcRequest req = LIVEKIT__RPC_REQUEST__INIT;
    req.id = c.id;
    req.method = (char *)method;
    req.payload = (char *)payload;
    req.response_timeout_ms = callee_timeout;
    req.version = 1;
    Livekit__DataPacket p = LIVEKIT__DATA_PACKET__INIT;
    p.value_case = LIVEKIT__DATA_PACKET__VALUE_RPC_REQUEST;
    p.rpc_request = &req;
    char err[200];
    if (send_to(rpc, destination, &p, err, sizeof err) < 0) {
        fail_at_once(rpc, token, LKRPC_SEND_FAILED, err);
        return;
    }
    c.deadline = lkio_now_ns() + max_round_trip_ms * MS;
    c.destination = strdup(destination);
    if (!c.destination)
        abort();
    grow((void **)&rpc->calls, &rpc->cap_calls, rpc->n_calls, sizeof c);
    rpc->calls[rpc->n_calls++] = c;
    arm(rpc);
}

static void on_ack(lkrpc *rpc, const Livekit__RpcAck *a)
{
    ssize_t i = find_call(rpc, a->request_id);
    if (i < 0 || rpc->calls[i].acked)
        return;
    rpc->calls[i].acked = true;
    rpc->calls[i].deadline = lkio_now_ns() + rpc->calls[i].response_timeout_ms * MS;
    arm(rpc);
}

static void on_response(lkrpc *rpc, const Livekit__RpcResponse *r)
{
    ssize_t i = find_call(rpc, r->request_id);
    if (i < 0)
        return;
    if (r->value_case == LIVEKIT__RPC_RESPONSE__VALUE_ERROR) {
        lkrpc_error e = {r->error->code, r->error->message, r->error->data};
        end_call(rpc, (size_t)i, NULL, &e);
    } else if (r->value_case == LIVEKIT__RPC_RESPONSE__VALUE_PAYLOAD) {
        end_call(rpc, (size_t)i, r->payload, NULL);
    } else { /* compressed or empty: a newer protocol than we speak */
        end_call_with(rpc, (size_t)i, LKRPC_UNSUPPORTED_VERSION, NULL);
    }
    arm(rpc);
}

/* --- invocations -------------------------------------------------------------------- */

static void respond(lkrpc *rpc, const char *caller, const char *request_id, const char *payload,
                    const lkrpc_error *error)
{
    Livekit__RpcResponse res = LIVEKIT__RPC_RESPONSE__INIT;
    Livekit__RpcError e = LIVEKIT__RPC_ERROR__INIT;
    res.request_id = (char *)request_id;
    if (error) {
        e.code = error->code;
        e.message = (char *)(error->message ? error->message : "");
        e.data = (char *)(error->data ? error->data : "");
        res.value_case = LIVEKIT__RPC_RESPONSE__VALUE_ERROR;
        res.error = &e;
    } else {
        res.value_case = LIVEKIT__RPC_RESPONSE__VALUE_PAYLOAD;
        res.payload = (char *)payload;
    }
    Livekit__DataPacket p = LIVEKIT__DATA_PACKET__INIT;
    p.value_case = LIVEKIT__DATA_PACKET__VALUE_RPC_RESPONSE;
    p.rpc_response = &res;
    char err[200];
    send_to(rpc, caller, &p, err, sizeof err); /* the caller times out if it is lost */
}

static void respond_with(lkrpc *rpc, const char *caller, const char *request_id, uint32_t code)
{
    lkrpc_error e = {code, code_message(code), NULL};
    respond(rpc, caller, request_id, NULL, &e);
}

static bool registered(const lkrpc *rpc, const char *method)
{
    for (size_t i = 0; i < rpc->n_methods; i++)
        if (!strcmp(rpc->methods[i], method))
            return true;
    return false;
}

static void on_request(lkrpc *rpc, const char *caller, const Livekit__RpcRequest *q)
{
    if (!*caller)
        return; /* nobody to answer */
    Livekit__RpcAck ack = LIVEKIT__RPC_ACK__INIT;
    ack.request_id = q->id;
    Livekit__DataPacket p = LIVEKIT__DATA_PACKET__INIT;
    p.value_case = LIVEKIT__DATA_PACKET__VALUE_RPC_ACK;
    p.rpc_ack = &ack;
    char err[200];
    send_to(rpc, caller, &p, err, sizeof err);
    if (q->version != 1) {
        respond_with(rpc, caller, q->id, LKRPC_UNSUPPORTED_VERSION);
        return;
    }
    if (!registered(rpc, q->method)) {
        respond_with(rpc, caller, q->id, LKRPC_UNSUPPORTED_METHOD);
        return;
    }
    invocation v = {++rpc->next_invocation, strdup(q->id), strdup(caller)};
    if (!v.request_id || !v.caller)
        abort();
    grow((void **)&rpc->invs, &rpc->cap_invs, rpc->n_invs, sizeof v);
    rpc->invs[rpc->n_invs++] = v;
    if (rpc->obs.invoked)
        rpc->obs.invoked(rpc->obs.ctx, v.id, q->method, q->id, caller, q->payload,
                         q->response_timeout_ms);
}

int lkrpc_reply(lkrpc *rpc, uint64_t id, const char *payload, const lkrpc_error *error)
{
    size_t i = 0;
    while (i < rpc->n_invs && rpc->invs[i].id != id)
        i++;
    if (i == rpc->n_invs)
        return -1;
    invocation v = rpc->invs[i];
    rpc->invs[i] = rpc->invs[--rpc->n_invs];
    if (!payload)
        payload = "";
    if (!error && strlen(payload) > LKRPC_MAX_PAYLOAD)
        respond_with(rpc, v.caller, v.request_id, LKRPC_RESPONSE_PAYLOAD_TOO_LARGE);
    else
        respond(rpc, v.caller, v.request_id, payload, error);
    free(v.request_id);
    free(v.caller);
    return 0;
}

void lkrpc_register(lkrpc *rpc, const char *method)
{
    if (registered(rpc, method))
        return;
    char *m = strdup(method);
    if (!m)
        abort();
    grow((void **)&rpc->methods, &rpc->cap_methods, rpc->n_methods, sizeof m);
    rpc->methods[rpc->n_methods++] = m;
}

void lkrpc_unregister(lkrpc *rpc, const char *method)
{
    for (size_t i = 0; i < rpc->n_methods; i++) {
        if (!strcmp(rpc->methods[i], method)) {
            free(rpc->methods[i]);
            rpc->methods[i] = rpc->methods[--rpc->n_methods];
            return;
        }
    }
}

/* --- the room's side ---------------------------------------------------------------- */

bool lkrpc_on_packet(lkrpc *rpc, const Livekit__DataPacket *p)
{
    switch (p->value_case) {
    case LIVEKIT__DATA_PACKET__VALUE_RPC_REQUEST:
        on_request(rpc, p->participant_identity, p->rpc_request);
        return true;
    case LIVEKIT__DATA_PACKET__VALUE_RPC_ACK:
        on_ack(rpc, p->rpc_ack);
        return true;
    case LIVEKIT__DATA_PACKET__VALUE_RPC_RESPONSE:
        on_response(rpc, p->rpc_response);
        return true;
    default:
        return false;
    }
}

void lkrpc_participant_left(lkrpc *rpc, const char *identity)
{
    for (size_t i = 0; i < rpc->n_calls;) {
        if (strcmp(rpc->calls[i].destination, identity))
            i++;
        else
            end_call_with(rpc, i, LKRPC_RECIPIENT_DISCONNECTED, NULL);
    }
    arm(rpc);
}

static void drop_invocations(lkrpc *rpc)
{
    for (size_t i = 0; i < rpc->n_invs; i++) {
        free(rpc->invs[i].request_id);
        free(rpc->invs[i].caller);
    }
    rpc->n_invs = 0;
}

void lkrpc_session_ended(lkrpc *rpc)
{
    while (rpc->n_calls)
        end_call_with(rpc, rpc->n_calls - 1, LKRPC_RECIPIENT_DISCONNECTED, NULL);
    lkio_timer_stop(rpc->w, &rpc->timer);
    drop_invocations(rpc);
}

lkrpc *lkrpc_new(lkio_worker *w, const lkrpc_transport *t, const lkrpc_observer *obs)
{
    lkrpc *rpc = calloc(1, sizeof *rpc);
    if (!rpc)
        abort();
    rpc->w = w;
    rpc->t = *t;
    rpc->obs = *obs;
    lkio_timer_init(&rpc->timer, on_timer);
    return rpc;
}

void lkrpc_free(lkrpc *rpc)
{
    if (!rpc)
        return;
    lkio_timer_stop(rpc->w, &rpc->timer);
    for (size_t i = 0; i < rpc->n_calls; i++)
        free(rpc->calls[i].destination);
    drop_invocations(rpc);
    for (size_t i = 0; i < rpc->n_methods; i++)
        free(rpc->methods[i]);
    free(rpc->calls);
    free(rpc->invs);
    free(rpc->methods);
    free(rpc);
}
