/*
 * rpc.c: RPC calls in flight, registered methods and waiting invocations.
 *
 * A call waits first for the acknowledgement (max round trip), then for the
 * response (response timeout, counted from the acknowledgement, as upstream
 * counts it); one timer follows the earliest deadline. A response that
 * overtakes its acknowledgement completes the call all the same. The
 * timeout sent to the callee leaves room for the round trip: the response
 * timeout less the maximum round trip, at least a second.
 *
 * Version 2 (upstream's names, topics and attributes): a request is a text
 * stream on "lk.rpc_request" whose attributes carry the request id, the
 * method, the timeout and the version; a successful response, one on
 * "lk.rpc_response" naming the request id. Our streams keep their text
 * until the streams module is done with it; streams coming in gather
 * theirs until they end.
 */
#include "rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "uuid.h"

static const uint64_t MS = 1000000u;

static const char REQUEST_TOPIC[] = "lk.rpc_request", RESPONSE_TOPIC[] = "lk.rpc_response";
static const char ATTR_REQUEST_ID[] = "lk.rpc_request_id", ATTR_METHOD[] = "lk.rpc_request_method",
                  ATTR_TIMEOUT[] = "lk.rpc_request_response_timeout_ms",
                  ATTR_VERSION[] = "lk.rpc_request_version";
/* A version 2 request without a timeout attribute: upstream's default. */
enum { DEFAULT_TIMEOUT_MS = 15000 };

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
    bool v2; /* a successful reply goes as a stream */
} invocation;

/* A stream of ours on its way (its text the streams module reads until
 * done): a request (its call failed if it cannot be sent) or a response
 * (then an error packet goes instead). */
typedef struct out_stream {
    uint64_t job;
    char *text;
    bool request;
    char *request_id, *peer;
} out_stream;

/* An RPC stream coming in, its text gathered until it ends. */
typedef struct in_stream {
    char *stream_id, *sender, *request_id, *method;
    bool request;
    bool dropped; /* answered already (a wrong version): read to its end only */
    uint32_t timeout_ms;
    char *text;
    size_t len, cap;
    bool too_large;
} in_stream;

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
    out_stream *outs;
    size_t n_outs, cap_outs;
    in_stream *ins;
    size_t n_ins, cap_ins;
    uint64_t next_job;
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

static char *copy(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void out_free(out_stream *o)
{
    free(o->text);
    free(o->request_id);
    free(o->peer);
}

/* Out of the list (by value), or false when the job is not ours (any more). */
static bool take_out(lkrpc *rpc, uint64_t job, out_stream *o)
{
    for (size_t i = 0; i < rpc->n_outs; i++) {
        if (rpc->outs[i].job == job) {
            *o = rpc->outs[i];
            rpc->outs[i] = rpc->outs[--rpc->n_outs];
            return true;
        }
    }
    return false;
}

/* text (taken) to one participant, as a text stream on topic with n
 * attributes; 0, or -1 when the room has no streams (nothing is sent). */
static int send_stream(lkrpc *rpc, const char *destination, const char *topic,
                       const char *const *keys, const char *const *values, size_t n, char *text,
                       bool request, const char *request_id)
{
    char id[LKROOM_UUID_SIZE];
    lkroom_uuid(id);
    Livekit__DataStream__Header__AttributesEntry e[4], *ep[4];
    for (size_t i = 0; i < n && i < 4; i++) {
        livekit__data_stream__header__attributes_entry__init(&e[i]);
        e[i].key = (char *)keys[i];
        e[i].value = (char *)values[i];
        ep[i] = &e[i];
    }
    Livekit__DataStream__TextHeader th = LIVEKIT__DATA_STREAM__TEXT_HEADER__INIT;
    th.operation_type = LIVEKIT__DATA_STREAM__OPERATION_TYPE__CREATE;
    Livekit__DataStream__Header h = LIVEKIT__DATA_STREAM__HEADER__INIT;
    size_t len = strlen(text);
    h.stream_id = id;
    h.timestamp = now_ms();
    h.topic = (char *)topic;
    h.mime_type = (char *)"text/plain";
    h.total_length = len;
    h.n_attributes = n;
    h.attributes = ep;
    h.content_header_case = LIVEKIT__DATA_STREAM__HEADER__CONTENT_HEADER_TEXT_HEADER;
    h.text_header = &th;
    Livekit__DataStream__Trailer tr = LIVEKIT__DATA_STREAM__TRAILER__INIT;
    tr.stream_id = id;
    char *dest = (char *)destination;
    lkstream_job j = {.stream_id = id, .header = &h, .data = (const uint8_t *)text, .len = len,
                      .text = true, .trailer = &tr, .destinations = &dest, .n_destinations = 1};
    out_stream o = {LKRPC_JOB_BIT | ++rpc->next_job, text, request, copy(request_id),
                    copy(destination)};
    grow((void **)&rpc->outs, &rpc->cap_outs, rpc->n_outs, sizeof o);
    rpc->outs[rpc->n_outs++] = o; /* listed first: done may come within submit */
    if (rpc->t.submit && rpc->t.submit(rpc->t.ctx, o.job, &j) == 0)
        return 0;
    if (take_out(rpc, o.job, &o))
        out_free(&o);
    return -1;
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
    bool v2 = rpc->t.client_protocol &&
              rpc->t.client_protocol(rpc->t.ctx, destination) >= LKRPC_CLIENT_PROTOCOL;
    if (!v2 && strlen(payload) > LKRPC_MAX_PAYLOAD) {
        fail_at_once(rpc, token, LKRPC_REQUEST_PAYLOAD_TOO_LARGE, NULL);
        return;
    }
    call c = {.token = token, .response_timeout_ms = response_timeout_ms};
    lkroom_uuid(c.id);
    uint32_t callee_timeout = response_timeout_ms > max_round_trip_ms + 1000
                                  ? response_timeout_ms - max_round_trip_ms
                                  : 1000;
    /* Listed before it is sent: a stream can fail within submit. */
    c.deadline = lkio_now_ns() + max_round_trip_ms * MS;
    c.destination = copy(destination);
    grow((void **)&rpc->calls, &rpc->cap_calls, rpc->n_calls, sizeof c);
    rpc->calls[rpc->n_calls++] = c;
    char err[200];
    int sent;
    if (v2) {
        char timeout[16];
        snprintf(timeout, sizeof timeout, "%u", callee_timeout);
        const char *keys[4] = {ATTR_REQUEST_ID, ATTR_METHOD, ATTR_TIMEOUT, ATTR_VERSION};
        const char *values[4] = {c.id, method, timeout, "2"};
        snprintf(err, sizeof err, "the room is not connected");
        sent = send_stream(rpc, destination, REQUEST_TOPIC, keys, values, 4, copy(payload), true,
                           c.id);
    } else {
        Livekit__RpcRequest req = LIVEKIT__RPC_REQUEST__INIT;
        req.id = c.id;
        req.method = (char *)method;
        req.payload = (char *)payload;
        req.response_timeout_ms = callee_timeout;
        req.version = 1;
        Livekit__DataPacket p = LIVEKIT__DATA_PACKET__INIT;
        p.value_case = LIVEKIT__DATA_PACKET__VALUE_RPC_REQUEST;
        p.rpc_request = &req;
        sent = send_to(rpc, destination, &p, err, sizeof err);
    }
    ssize_t i = find_call(rpc, c.id);
    if (sent < 0 && i >= 0)
        end_call_with(rpc, (size_t)i, LKRPC_SEND_FAILED, err);
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

static void send_ack(lkrpc *rpc, const char *caller, const char *request_id)
{
    Livekit__RpcAck ack = LIVEKIT__RPC_ACK__INIT;
    ack.request_id = (char *)request_id;
    Livekit__DataPacket p = LIVEKIT__DATA_PACKET__INIT;
    p.value_case = LIVEKIT__DATA_PACKET__VALUE_RPC_ACK;
    p.rpc_ack = &ack;
    char err[200];
    send_to(rpc, caller, &p, err, sizeof err);
}

/* A request read whole: to its method's handler, or refused. */
static void invoke(lkrpc *rpc, const char *caller, const char *request_id, const char *method,
                   const char *payload, uint32_t timeout_ms, bool v2)
{
    if (!registered(rpc, method)) {
        respond_with(rpc, caller, request_id, LKRPC_UNSUPPORTED_METHOD);
        return;
    }
    invocation v = {++rpc->next_invocation, copy(request_id), copy(caller), v2};
    grow((void **)&rpc->invs, &rpc->cap_invs, rpc->n_invs, sizeof v);
    rpc->invs[rpc->n_invs++] = v;
    if (rpc->obs.invoked)
        rpc->obs.invoked(rpc->obs.ctx, v.id, method, request_id, caller, payload, timeout_ms);
}

static void on_request(lkrpc *rpc, const char *caller, const Livekit__RpcRequest *q)
{
    if (!*caller)
        return; /* nobody to answer */
    send_ack(rpc, caller, q->id);
    if (q->version != 1)
        respond_with(rpc, caller, q->id, LKRPC_UNSUPPORTED_VERSION);
    else
        invoke(rpc, caller, q->id, q->method, q->payload, q->response_timeout_ms, false);
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
    const char *keys[1] = {ATTR_REQUEST_ID}, *values[1] = {v.request_id};
    if (!error && v.v2) { /* as upstream: a success as a stream, errors as packets */
        if (send_stream(rpc, v.caller, RESPONSE_TOPIC, keys, values, 1, copy(payload), false,
                        v.request_id) < 0) {
            lkrpc_error e = {LKRPC_SEND_FAILED, code_message(LKRPC_SEND_FAILED),
                             "the room is not connected"};
            respond(rpc, v.caller, v.request_id, NULL, &e);
        }
    } else if (!error && strlen(payload) > LKRPC_MAX_PAYLOAD) {
        respond_with(rpc, v.caller, v.request_id, LKRPC_RESPONSE_PAYLOAD_TOO_LARGE);
    } else {
        respond(rpc, v.caller, v.request_id, payload, error);
    }
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

/* --- version 2: streams coming in -------------------------------------------------- */

static const char *attribute(const Livekit__DataStream__Header *h, const char *key)
{
    for (size_t i = 0; i < h->n_attributes; i++)
        if (h->attributes[i]->key && !strcmp(h->attributes[i]->key, key))
            return h->attributes[i]->value;
    return NULL;
}

/* A number attribute as upstream reads it (a u32/u64 parse): def if it is
 * absent or not a number. */
static uint32_t number(const char *s, uint32_t def)
{
    if (!s || !*s || strlen(s) > 9)
        return def;
    uint32_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return def;
        v = v * 10 + (uint32_t)(*s - '0');
    }
    return v;
}

static void in_free(in_stream *in)
{
    free(in->stream_id);
    free(in->sender);
    free(in->request_id);
    free(in->method);
    free(in->text);
}

static ssize_t find_in(const lkrpc *rpc, const char *stream_id)
{
    for (size_t i = 0; i < rpc->n_ins; i++)
        if (!strcmp(rpc->ins[i].stream_id, stream_id))
            return (ssize_t)i;
    return -1;
}

bool lkrpc_stream_opened(lkrpc *rpc, const Livekit__DataStream__Header *h, const char *sender)
{
    bool request = h->topic && !strcmp(h->topic, REQUEST_TOPIC);
    if (!request && !(h->topic && !strcmp(h->topic, RESPONSE_TOPIC)))
        return false;
    const char *id = attribute(h, ATTR_REQUEST_ID), *method = attribute(h, ATTR_METHOD);
    in_stream in = {.stream_id = copy(h->stream_id), .sender = copy(sender),
                    .request_id = copy(id), .method = copy(method), .request = request,
                    .timeout_ms = number(attribute(h, ATTR_TIMEOUT), DEFAULT_TIMEOUT_MS)};
    /* a byte stream on RPC's topics, or a request nobody can be answered
     * for: kept from the client, read to its end, nothing more */
    in.dropped = h->content_header_case != LIVEKIT__DATA_STREAM__HEADER__CONTENT_HEADER_TEXT_HEADER ||
                 (request && !*sender);
    if (request && !in.dropped) {
        send_ack(rpc, sender, in.request_id); /* at once, as upstream */
        if (number(attribute(h, ATTR_VERSION), 0) != 2) {
            respond_with(rpc, sender, in.request_id, LKRPC_UNSUPPORTED_VERSION);
            in.dropped = true;
        }
    }
    grow((void **)&rpc->ins, &rpc->cap_ins, rpc->n_ins, sizeof in);
    rpc->ins[rpc->n_ins++] = in;
    return true;
}

bool lkrpc_stream_chunk(lkrpc *rpc, const char *stream_id, const uint8_t *data, size_t len)
{
    ssize_t i = find_in(rpc, stream_id);
    if (i < 0)
        return false;
    in_stream *in = &rpc->ins[i];
    if (in->dropped || in->too_large || !len) /* an empty chunk's data may be NULL */
        return true;
    if (len > LKRPC_MAX_STREAM_PAYLOAD - in->len) {
        in->too_large = true; /* what came is let go; the end says so */
        free(in->text);
        in->text = NULL;
        in->len = in->cap = 0;
        return true;
    }
    if (in->len + len + 1 > in->cap) {
        size_t cap = in->cap ? in->cap : 1024;
        while (cap < in->len + len + 1)
            cap *= 2;
        char *grown = realloc(in->text, cap);
        if (!grown)
            abort();
        in->text = grown;
        in->cap = cap;
    }
    memcpy(in->text + in->len, data, len);
    in->len += len;
    return true;
}

/* A request stream ended: answered with its handler's reply, or an error. */
static void request_ended(lkrpc *rpc, const in_stream *in, const char *payload,
                          const char *error)
{
    char why[256];
    if (error) {
        snprintf(why, sizeof why, "Failed to read request stream: %s", error);
        lkrpc_error e = {LKRPC_APPLICATION_ERROR, code_message(LKRPC_APPLICATION_ERROR), why};
        respond(rpc, in->sender, in->request_id, NULL, &e);
    } else if (in->too_large) {
        snprintf(why, sizeof why, "over %u bytes", (unsigned)LKRPC_MAX_STREAM_PAYLOAD);
        lkrpc_error e = {LKRPC_REQUEST_PAYLOAD_TOO_LARGE,
                         code_message(LKRPC_REQUEST_PAYLOAD_TOO_LARGE), why};
        respond(rpc, in->sender, in->request_id, NULL, &e);
    } else {
        invoke(rpc, in->sender, in->request_id, in->method, payload, in->timeout_ms, true);
    }
}

/* A response stream ended: its call ends with the payload, or an error. */
static void response_ended(lkrpc *rpc, const in_stream *in, const char *payload,
                           const char *error)
{
    ssize_t i = find_call(rpc, in->request_id);
    if (i < 0)
        return;
    char why[256];
    if (error) {
        snprintf(why, sizeof why, "Failed to read response stream: %s", error);
        end_call_with(rpc, (size_t)i, LKRPC_APPLICATION_ERROR, why);
    } else if (in->too_large) {
        end_call_with(rpc, (size_t)i, LKRPC_RESPONSE_PAYLOAD_TOO_LARGE, NULL);
    } else {
        end_call(rpc, (size_t)i, payload, NULL);
    }
    arm(rpc);
}

bool lkrpc_stream_ended(lkrpc *rpc, const char *stream_id, const char *error)
{
    ssize_t i = find_in(rpc, stream_id);
    if (i < 0)
        return false;
    in_stream in = rpc->ins[i];
    rpc->ins[i] = rpc->ins[--rpc->n_ins];
    if (in.text)
        in.text[in.len] = '\0';
    const char *payload = in.text ? in.text : "";
    if (in.dropped)
        ; /* answered, or nobody to answer */
    else if (in.request)
        request_ended(rpc, &in, payload, error);
    else
        response_ended(rpc, &in, payload, error);
    in_free(&in);
    return true;
}

void lkrpc_stream_done(lkrpc *rpc, uint64_t job, const char *error)
{
    out_stream o;
    if (!take_out(rpc, job, &o))
        return;
    if (error && o.request) {
        ssize_t i = find_call(rpc, o.request_id);
        if (i >= 0)
            end_call_with(rpc, (size_t)i, LKRPC_SEND_FAILED, error);
        arm(rpc);
    } else if (error) { /* as upstream: the failure as an error packet */
        lkrpc_error e = {LKRPC_SEND_FAILED, code_message(LKRPC_SEND_FAILED), error};
        respond(rpc, o.peer, o.request_id, NULL, &e);
    }
    out_free(&o);
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
    for (size_t i = 0; i < rpc->n_ins; i++)
        in_free(&rpc->ins[i]);
    rpc->n_ins = 0;
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
    for (size_t i = 0; i < rpc->n_outs; i++)
        out_free(&rpc->outs[i]);
    for (size_t i = 0; i < rpc->n_methods; i++)
        free(rpc->methods[i]);
    free(rpc->calls);
    free(rpc->invs);
    free(rpc->ins);
    free(rpc->outs);
    free(rpc->methods);
    free(rpc);
}
