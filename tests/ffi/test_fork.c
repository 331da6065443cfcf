/* fork() semantics of the public ABI, as a pre-fork server would see them:
 * without reinit a child is refused at once with a message naming the fix;
 * after reinit it works (sync and async) with an empty handle table; the
 * parent never notices. Every child is guarded by alarm(): a hang fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "handle.h"
#include "tool_limits.h"
#include "wait.h"

enum { CHILD_GUARD_S = 10 };

/* Exits the child with `code` unless cond holds. */
#define CHILD_CHECK(cond, code) \
    do {                        \
        if (!(cond))            \
            _exit(code);        \
    } while (0)

static void parent_still_works(void)
{
    assert_true(tc_send_sync());
    uint64_t id = tc_send_connect();
    assert_int_not_equal(id, 0);
    Livekit__Proto__FfiEvent *ev = tc_wait_callback(LIVEKIT__PROTO__FFI_EVENT__MESSAGE_CONNECT, id, 5000);
    assert_non_null(ev);
    tc_event_free(ev);
}

/* Runs before the first initialize (cmocka keeps the order). */
static void reinit_before_initialize_fails_with_reason(void **state)
{
    assert_false(livekit_ffi_reinit());
    assert_non_null(livekit_ffi_last_error());
    assert_non_null(strstr(livekit_ffi_last_error(), "livekit_ffi_initialize"));
    tc_initialize();
    assert_true(livekit_ffi_reinit()); /* the initializing process: a no-op */
    assert_null(livekit_ffi_last_error());
}

static void child_without_reinit_is_refused_at_once(void **state)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(CHILD_GUARD_S);
        uint64_t t0 = tc_now_ns();
        const uint8_t *res_ptr = (const uint8_t *)1;
        size_t res_len = 1;
        uint8_t connect[] = {0x1a, 0x00}; /* FfiRequest{connect{}} */
        FfiHandleId h = livekit_ffi_request(connect, sizeof connect, &res_ptr, &res_len);
        uint64_t took = tc_now_ns() - t0;
        CHILD_CHECK(h == INVALID_HANDLE, 1);
        CHILD_CHECK(res_ptr == NULL && res_len == 0, 2);
        const char *err = livekit_ffi_last_error();
        CHILD_CHECK(err && strstr(err, "fork") && strstr(err, "livekit_ffi_reinit"), 3);
        CHILD_CHECK(!livekit_ffi_drop_handle(1), 4);
        livekit_ffi_dispose(); /* returns at once, touches nothing */
        fprintf(stderr, "child refused in %llu ns\n", (unsigned long long)took);
        _exit(0);
    }
    expect_child_ok(pid);
    parent_still_works();
}

static void child_with_reinit_works_sync_and_async(void **state)
{
    skip_if_valgrind_child_restarts();
    /* A handle created before the fork. */
    uint8_t sync_req[] = {0x8a, 0x03, 0x00}; /* FfiRequest{load_audio_filter_plugin{}} */
    const uint8_t *p;
    size_t n;
    FfiHandleId before = livekit_ffi_request(sync_req, sizeof sync_req, &p, &n);
    assert_int_not_equal(before, INVALID_HANDLE);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(CHILD_GUARD_S);
        tc_reset();
        CHILD_CHECK(livekit_ffi_reinit(), 1);
        CHILD_CHECK(livekit_ffi_reinit(), 2); /* twice: the second is a no-op */
        CHILD_CHECK(tc_send_sync(), 3);
        uint64_t id = tc_send_connect();
        CHILD_CHECK(id != 0, 4);
        Livekit__Proto__FfiEvent *ev =
            tc_wait_callback(LIVEKIT__PROTO__FFI_EVENT__MESSAGE_CONNECT, id, 5000);
        CHILD_CHECK(ev != NULL, 5);
        tc_event_free(ev);
        /* Inherited handles are unknown in the child. */
        CHILD_CHECK(!livekit_ffi_drop_handle(before), 6);
        livekit_ffi_dispose();
        _exit(0);
    }
    expect_child_ok(pid);
    assert_true(livekit_ffi_drop_handle(before)); /* still the parent's */
    parent_still_works();
}

static void initialize_in_child_rebuilds_too(void **state)
{
    skip_if_valgrind_child_restarts();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(CHILD_GUARD_S);
        tc_reset();
        tc_initialize();
        uint64_t id = tc_send_connect();
        CHILD_CHECK(id != 0, 1);
        Livekit__Proto__FfiEvent *ev =
            tc_wait_callback(LIVEKIT__PROTO__FFI_EVENT__MESSAGE_CONNECT, id, 5000);
        CHILD_CHECK(ev != NULL, 2);
        tc_event_free(ev);
        _exit(0);
    }
    expect_child_ok(pid);
}

static void fork_then_exec_is_unaffected(void **state)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(CHILD_GUARD_S);
        execl("/bin/true", "true", (char *)NULL);
        _exit(1);
    }
    expect_child_ok(pid);
    parent_still_works();
}

/* --- forks while other threads are mid-request, mid-drop, mid-callback --- */

static _Atomic int churn_stop;
static _Atomic long churn_done;

static void *churn(void *arg)
{
    while (!atomic_load(&churn_stop)) {
        uint64_t id = tc_send_connect(); /* request, drop, and a callback */
        if (id) {
            Livekit__Proto__FfiEvent *ev =
                tc_wait_callback(LIVEKIT__PROTO__FFI_EVENT__MESSAGE_CONNECT, id, 5000);
            if (ev)
                tc_event_free(ev);
        }
        tc_send_sync();
        atomic_fetch_add(&churn_done, 1);
    }
    return NULL;
}

static void storm_of_forks_under_parent_load(void **state)
{
    skip_if_fork_under_load_unsafe();
    enum { FORKS = 500 };
    int fds = tc_count_fds();
    uint64_t handles = lk_handles_live();
    pthread_t th[2];
    atomic_store(&churn_stop, 0);
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, churn, NULL);
    for (int i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(CHILD_GUARD_S);
            tc_reset();
            if (i % 2) { /* half refuse first, then recover */
                CHILD_CHECK(!tc_send_sync(), 1);
            }
            CHILD_CHECK(livekit_ffi_reinit(), 2);
            CHILD_CHECK(tc_send_sync(), 3);
            uint64_t id = tc_send_connect();
            CHILD_CHECK(id != 0, 4);
            Livekit__Proto__FfiEvent *ev =
                tc_wait_callback(LIVEKIT__PROTO__FFI_EVENT__MESSAGE_CONNECT, id, 5000);
            CHILD_CHECK(ev != NULL, 5);
            _exit(0);
        }
        expect_child_ok(pid);
    }
    atomic_store(&churn_stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_true(atomic_load(&churn_done) > 0);
    parent_still_works();
    /* 500 children came and went: the parent holds what it held */
    assert_int_equal(tc_count_fds(), fds);
    assert_int_equal(lk_handles_live(), handles);
}

/* --- fork from inside an event callback --------------------------------- */

static _Atomic pid_t callback_child;

static void forking_callback(const uint8_t *data, size_t len)
{
    if (atomic_load(&callback_child) != 0) {
        tc_callback(data, len);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        alarm(CHILD_GUARD_S);
        tc_reset();
        livekit_ffi_initialize(tc_callback, false, "tests", "0"); /* rebuilds */
        uint64_t id = tc_send_connect();
        Livekit__Proto__FfiEvent *ev =
            id ? tc_wait_callback(LIVEKIT__PROTO__FFI_EVENT__MESSAGE_CONNECT, id, 5000) : NULL;
        _exit(ev ? 0 : 1);
    }
    atomic_store(&callback_child, pid);
    tc_callback(data, len); /* only now may the test thread go on */
}

static void fork_inside_a_callback(void **state)
{
    skip_if_valgrind_child_restarts();
    atomic_store(&callback_child, 0);
    livekit_ffi_initialize(forking_callback, false, "tests", "0");
    uint64_t id = tc_send_connect();
    assert_int_not_equal(id, 0);
    Livekit__Proto__FfiEvent *ev = tc_wait_callback(LIVEKIT__PROTO__FFI_EVENT__MESSAGE_CONNECT, id, 5000);
    assert_non_null(ev);
    tc_event_free(ev);
    tc_initialize(); /* back to the plain callback */
    assert_true(atomic_load(&callback_child) > 0);
    expect_child_ok(atomic_load(&callback_child));
    parent_still_works();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reinit_before_initialize_fails_with_reason),
        cmocka_unit_test(child_without_reinit_is_refused_at_once),
        cmocka_unit_test(child_with_reinit_works_sync_and_async),
        cmocka_unit_test(initialize_in_child_rebuilds_too),
        cmocka_unit_test(fork_then_exec_is_unaffected),
        cmocka_unit_test(storm_of_forks_under_parent_load),
        cmocka_unit_test(fork_inside_a_callback),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    livekit_ffi_dispose();
    return failed;
}
