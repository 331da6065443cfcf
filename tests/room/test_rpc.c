/*
 * test_rpc.c: RPC between two lkrpc instances on one worker, their packets
 * encoded, decoded and delivered from a task as the room would: replies,
 * the built-in errors and both timeouts (no server needed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc.h"
#include "wait.h"

typedef struct side {
    lkrpc *rpc;
    const char *identity;
    struct side *peer;
    bool deaf;         /* receives nothing */
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
    s->answer = true;
    s->reply = NULL;
    s->version = "1.13.5";
    s->last_invocation = 0;
    lkrpc_transport t = {s, send_packet, server_version};
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
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    lkio_stop(NULL);
    return r;
}
