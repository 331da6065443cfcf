/*
 * test_rpc.c: RPC between two lkrpc instances on one worker, their packets
 * encoded, decoded and delivered from a task as the room would: replies,
 * the built-in errors and both timeouts (no server needed). Version 2's
 * streams go the same way, their header encoded and decoded, their text
 * in 1000-byte chunks, then reported done to the sender.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pbcopy.h"
#include "rpc.h"
#include "wait.h"

typedef struct side {
    lkrpc *rpc;
    const char *identity;
    struct side *peer;
    bool deaf;         /* receives nothing */
    bool cut;          /* streams to it end with an error */
    int protocol;      /* the client protocol it advertises */
    size_t streams_in; /* RPC streams it took */
    bool answer;       /* invocations answered at once with reply */
    const char *reply; /* NULL: echo the payload */
    const char *version;
    uint64_t last_invocation;
    /* the last result */
    char payload[32];
    size_t payload_len;
    uint32_t code;
    char message[64];
    sem_t done;
} side;

typedef struct delivery {
    lkio_task task;
    side *to;
    size_t len;
    uint8_t data[];
} delivery;

static lkio_worker *W;
static side A, B;
static unsigned in_flight; /* deliveries posted, not yet run (worker only) */

static void deliver(lkio_task *t)
{
    delivery *d = lkio_container_of(t, delivery, task);
    Livekit__DataPacket *p = livekit__data_packet__unpack(NULL, d->len, d->data);
    assert_non_null(p);
    lkrpc_on_packet(d->to->rpc, p);
    livekit__data_packet__free_unpacked(p, NULL);
    free(d);
    in_flight--;
}

static int send_packet(void *ctx, Livekit__DataPacket *p, char *err, size_t errlen)
{
    side *s = ctx;
    (void)err;
    (void)errlen;
    if (s->peer->deaf)
        return 0;
    p->participant_identity = (char *)s->identity; /* as the room sets it */
    size_t n = livekit__data_packet__get_packed_size(p);
    delivery *d = malloc(sizeof *d + n);
    assert_non_null(d);
    d->to = s->peer;
    d->len = n;
    livekit__data_packet__pack(p, d->data);
    in_flight++;
    lkio_post(W, &d->task, deliver); /* later, as a network would */
    return 0;
}

static const char *server_version(void *ctx)
{
    return ((side *)ctx)->version;
}

typedef struct stream_delivery {
    lkio_task task;
    side *from;
    uint64_t job;
    Livekit__DataStream__Header *h;
    size_t len;
    uint8_t text[];
} stream_delivery;

static void deliver_stream(lkio_task *t)
{
    stream_delivery *d = lkio_container_of(t, stream_delivery, task);
    side *to = d->from->peer;
    if (!to->deaf) {
        assert_true(lkrpc_stream_opened(to->rpc, d->h, d->from->identity));
        for (size_t off = 0; off < d->len; off += 1000)
            assert_true(lkrpc_stream_chunk(to->rpc, d->h->stream_id, d->text + off,
                                           d->len - off < 1000 ? d->len - off : 1000));
        to->streams_in++; /* before the end, which may let the test's thread go */
        assert_true(lkrpc_stream_ended(to->rpc, d->h->stream_id, to->cut ? "cut" : NULL));
    }
    lkrpc_stream_done(d->from->rpc, d->job, NULL);
    protobuf_c_message_free_unpacked(&d->h->base, NULL);
    free(d);
    in_flight--;
}

static int submit(void *ctx, uint64_t job, const lkstream_job *j)
{
    side *s = ctx;
    assert_true(job & LKRPC_JOB_BIT);
    assert_int_equal(j->n_destinations, 1);
    assert_string_equal(j->destinations[0], s->peer->identity);
    assert_non_null(j->trailer);
    stream_delivery *d = malloc(sizeof *d + j->len);
    assert_non_null(d);
    d->h = lkroom_pb_copy(&j->header->base); /* encoded and decoded */
    assert_non_null(d->h);
    d->from = s;
    d->job = job;
    d->len = j->len;
    memcpy(d->text, j->data, j->len);
    in_flight++;
    lkio_post(W, &d->task, deliver_stream);
    return 0;
}

static int client_protocol(void *ctx, const char *identity)
{
    side *s = ctx;
    assert_string_equal(identity, s->peer->identity);
    return s->peer->protocol;
}

static void on_result(void *ctx, uint64_t token, const char *payload, const lkrpc_error *error)
{
    side *s = ctx;
    (void)token;
    s->payload[0] = 0;
    s->payload_len = payload ? strlen(payload) : 0;
    snprintf(s->payload, sizeof s->payload, "%s", payload ? payload : "");
    s->code = error ? error->code : 0;
    snprintf(s->message, sizeof s->message, "%s", error ? error->message : "");
    sem_post(&s->done);
}

static void on_invoked(void *ctx, uint64_t id, const char *method, const char *request_id,
                       const char *caller, const char *payload, uint32_t timeout_ms)
{
    side *s = ctx;
    (void)method;
    (void)request_id;
    (void)timeout_ms;
    assert_string_equal(caller, s->peer->identity);
    s->last_invocation = id;
    if (s->answer)
        assert_int_equal(lkrpc_reply(s->rpc, id, s->reply ? s->reply : payload, NULL), 0);
}

/* On the test's thread: nothing runs on the worker between the cases. */
static void make(side *s, const char *identity, side *peer)
{
    s->identity = identity;
    s->peer = peer;
    s->deaf = false;
    s->cut = false;
    s->protocol = 0;
    s->streams_in = 0;
    s->answer = true;
    s->reply = NULL;
    s->version = "1.13.5";
    s->last_invocation = 0;
    lkrpc_transport t = {s, send_packet, server_version, submit, client_protocol};
    lkrpc_observer obs = {s, on_result, on_invoked};
    s->rpc = lkrpc_new(W, &t, &obs);
}

/* --- running on the worker ------------------------------------------------------ */

typedef struct call_job {
    lkio_task task;
    const char *method, *payload, *destination;
    uint32_t response_ms, rtt_ms;
} call_job;

static call_job job;

static void call_run(lkio_task *t)
{
    call_job *j = lkio_container_of(t, call_job, task);
    lkrpc_perform(A.rpc, 1, j->destination ? j->destination : "b", j->method, j->payload,
                  j->response_ms, j->rtt_ms);
}

/* A calls B; returns once A has its result. */
static void call(const char *method, const char *payload, uint32_t response_ms, uint32_t rtt_ms)
{
    job = (call_job){.method = method, .payload = payload, .response_ms = response_ms,
                     .rtt_ms = rtt_ms};
    lkio_post(W, &job.task, call_run);
    wait_sem(&A.done);
}

/* After the packets still on their way: a case ends when A has its result,
 * and B's last acknowledgement may still be travelling to A. */
static void teardown_run(lkio_task *t)
{
    if (in_flight) {
        lkio_post(W, t, teardown_run); /* behind them */
        return;
    }
    lkrpc_free(A.rpc);
    lkrpc_free(B.rpc);
    sem_post(&B.done);
}

static lkio_task side_task;

static int setup(void **state)
{
    (void)state;
    make(&A, "a", &B);
    make(&B, "b", &A);
    lkrpc_register(B.rpc, "echo");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lkio_post(W, &side_task, teardown_run);
    wait_sem(&B.done);
    return 0;
}

/* --- the cases ----------------------------------------------------------------------- */

static void round_trip_returns_the_handlers_reply(void **state)
{
    (void)state;
    call("echo", "hello", 0, 0);
    assert_int_equal(A.code, 0);
    assert_string_equal(A.payload, "hello");
}

static void unknown_method_is_unsupported(void **state)
{
    (void)state;
    call("nope", "", 0, 0);
    assert_int_equal(A.code, LKRPC_UNSUPPORTED_METHOD);
    assert_string_equal(A.message, "Method not supported at destination");
}

static void no_ack_within_the_round_trip_is_a_connection_timeout(void **state)
{
    (void)state;
    B.deaf = true;
    call("echo", "x", 5000, 100);
    assert_int_equal(A.code, LKRPC_CONNECTION_TIMEOUT);
}

static void no_response_after_the_ack_is_a_response_timeout(void **state)
{
    (void)state;
    B.answer = false;
    call("echo", "x", 300, 100);
    assert_int_equal(A.code, LKRPC_RESPONSE_TIMEOUT);
    assert_true(B.last_invocation != 0);
}

static void left_callee_ends_the_call_at_once(lkio_task *t)
{
    (void)t;
    lkrpc_participant_left(A.rpc, "b");
}

static void callee_leaving_ends_the_call(void **state)
{
    (void)state;
    B.answer = false;
    job = (call_job){.method = "echo", .payload = "x", .response_ms = 60000, .rtt_ms = 60000};
    lkio_post(W, &job.task, call_run);
    static lkio_task left;
    lkio_post(W, &left, left_callee_ends_the_call_at_once); /* after the call went out */
    wait_sem(&A.done);
    assert_int_equal(A.code, LKRPC_RECIPIENT_DISCONNECTED);
}

static void oversized_request_fails_before_sending(void **state)
{
    (void)state;
    static char big[LKRPC_MAX_PAYLOAD + 2];
    memset(big, 'y', LKRPC_MAX_PAYLOAD + 1);
    call("echo", big, 0, 0);
    assert_int_equal(A.code, LKRPC_REQUEST_PAYLOAD_TOO_LARGE);
    assert_int_equal(B.last_invocation, 0);
}

static void oversized_response_is_refused(void **state)
{
    (void)state;
    static char big[LKRPC_MAX_PAYLOAD + 2];
    memset(big, 'z', LKRPC_MAX_PAYLOAD + 1);
    B.reply = big;
    call("echo", "x", 0, 0);
    assert_int_equal(A.code, LKRPC_RESPONSE_PAYLOAD_TOO_LARGE);
}

static void old_server_is_unsupported(void **state)
{
    (void)state;
    A.version = "1.7.2";
    call("echo", "x", 0, 0);
    assert_int_equal(A.code, LKRPC_UNSUPPORTED_SERVER);
}

/* --- version 2 ------------------------------------------------------------------- */

static char big_request[100001], big_reply[70001];

static void streams_carry_what_packets_cannot(void **state)
{
    (void)state;
    A.protocol = B.protocol = LKRPC_CLIENT_PROTOCOL;
    memset(big_request, 'q', sizeof big_request - 1);
    call("echo", big_request, 0, 0); /* echoed: the reply is as large */
    assert_int_equal(A.code, 0);
    assert_int_equal(A.payload_len, sizeof big_request - 1);
    assert_int_equal(B.streams_in, 1);
    assert_int_equal(A.streams_in, 1);
    memset(big_reply, 'r', sizeof big_reply - 1);
    B.reply = big_reply;
    call("echo", "small", 0, 0);
    assert_int_equal(A.code, 0);
    assert_int_equal(A.payload_len, sizeof big_reply - 1);
    assert_int_equal(B.streams_in, 2);
}

static void stream_errors_come_as_packets(void **state)
{
    (void)state;
    A.protocol = B.protocol = LKRPC_CLIENT_PROTOCOL;
    call("nope", "x", 0, 0);
    assert_int_equal(A.code, LKRPC_UNSUPPORTED_METHOD);
    assert_int_equal(B.streams_in, 1);
    assert_int_equal(A.streams_in, 0); /* no stream back: a packet */
}

static void a_cut_request_is_an_application_error(void **state)
{
    (void)state;
    A.protocol = B.protocol = LKRPC_CLIENT_PROTOCOL;
    B.cut = true;
    call("echo", "x", 0, 0);
    assert_int_equal(A.code, LKRPC_APPLICATION_ERROR);
    assert_int_equal(B.last_invocation, 0);
}

static void a_cut_response_is_an_application_error(void **state)
{
    (void)state;
    A.protocol = B.protocol = LKRPC_CLIENT_PROTOCOL;
    A.cut = true;
    call("echo", "x", 0, 0);
    assert_int_equal(A.code, LKRPC_APPLICATION_ERROR);
    assert_true(B.last_invocation != 0);
}

static void a_peer_without_streams_gets_packets(void **state)
{
    (void)state;
    A.protocol = LKRPC_CLIENT_PROTOCOL; /* B advertises 0 */
    call("echo", "hello", 0, 0);
    assert_int_equal(A.code, 0);
    assert_string_equal(A.payload, "hello");
    assert_int_equal(B.streams_in + A.streams_in, 0);
}

static void reply_run(lkio_task *t)
{
    (void)t;
    assert_int_equal(lkrpc_reply(B.rpc, 12345, "x", NULL), -1);
    sem_post(&B.done);
}

static void reply_to_nothing_is_refused(void **state)
{
    (void)state;
    static lkio_task t;
    lkio_post(W, &t, reply_run);
    wait_sem(&B.done);
}

int main(void)
{
    char err[200];
    if (lkio_start(1, err, sizeof err) != 0) {
        fprintf(stderr, "runtime: %s\n", err);
        return 1;
    }
    W = lkio_worker_at(0);
    sem_init(&A.done, 0, 0);
    sem_init(&B.done, 0, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip_returns_the_handlers_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_method_is_unsupported, setup, teardown),
        cmocka_unit_test_setup_teardown(no_ack_within_the_round_trip_is_a_connection_timeout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(no_response_after_the_ack_is_a_response_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(callee_leaving_ends_the_call, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_request_fails_before_sending, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_response_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(old_server_is_unsupported, setup, teardown),
        cmocka_unit_test_setup_teardown(reply_to_nothing_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(streams_carry_what_packets_cannot, setup, teardown),
        cmocka_unit_test_setup_teardown(stream_errors_come_as_packets, setup, teardown),
        cmocka_unit_test_setup_teardown(a_cut_request_is_an_application_error, setup, teardown),
        cmocka_unit_test_setup_teardown(a_cut_response_is_an_application_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_peer_without_streams_gets_packets, setup, teardown),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    lkio_stop(NULL);
    return r;
}
