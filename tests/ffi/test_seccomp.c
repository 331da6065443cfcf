/* Where io_uring is denied, as Docker's and containerd's default seccomp
 * profiles deny it: this process installs a filter that fails the three
 * io_uring syscalls with the errno named by argv[1] (EPERM or ENOSYS), then
 * checks that the library chooses epoll and says why, that a forced
 * io_uring fails at start with the reason, that requests, timers and
 * fork + reinit work. scripts/test.sh runs the whole
 * ctest suite under the same filter (tests/without_io_uring.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "deny_io_uring.h"
#include "io.h"
#include "tool_limits.h"
#include "wait.h"

static int denied_errno;

static void forced_uring_fails_at_start_with_the_reason(void **state)
{
    setenv("LIVEKIT_FFI_IO", "uring", 1);
    char err[256];
    assert_int_equal(lkio_start(1, err, sizeof err), -denied_errno);
    assert_non_null(strstr(err, "LIVEKIT_FFI_IO=uring"));
    assert_non_null(strstr(err, strerror(denied_errno)));
    assert_int_equal(lkio_state(), LKIO_STOPPED);

    /* Through the ABI: initialize says why, requests are refused. */
    tc_initialize();
    const char *why = livekit_ffi_last_error();
    assert_non_null(why);
    assert_non_null(strstr(why, strerror(denied_errno)));
    assert_false(tc_send_sync());
    unsetenv("LIVEKIT_FFI_IO");
}

static void automatic_choice_is_epoll_and_says_why(void **state)
{
    unsetenv("LIVEKIT_FFI_IO");
    char err[256];
    assert_int_equal(lkio_start(2, err, sizeof err), 0);
    assert_string_equal(lkio_backend_name(), "epoll");
    assert_non_null(strstr(lkio_backend_reason(), strerror(denied_errno)));
    lkio_stop(NULL);
}

static void requests_and_fork_reinit_work(void **state)
{
    unsetenv("LIVEKIT_FFI_IO");
    tc_initialize();
    assert_null(livekit_ffi_last_error());
    assert_string_equal(lkio_backend_name(), "epoll");
    assert_true(tc_send_sync());
    uint64_t id = tc_send_connect();
    assert_int_not_equal(id, 0);
    Livekit__Proto__FfiEvent *ev = tc_wait_callback(LIVEKIT__PROTO__FFI_EVENT__MESSAGE_CONNECT, id, 5000);
    assert_non_null(ev);
    tc_event_free(ev);

    if (!RUNNING_ON_VALGRIND) { /* valgrind does not trace the child */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(10);
            tc_reset();
            if (!livekit_ffi_reinit() || strcmp(lkio_backend_name(), "epoll") != 0)
                _exit(1);
            if (!tc_send_sync())
                _exit(2);
            uint64_t cid = tc_send_connect();
            Livekit__Proto__FfiEvent *cev =
                cid ? tc_wait_callback(LIVEKIT__PROTO__FFI_EVENT__MESSAGE_CONNECT, cid, 5000) : NULL;
            if (!cev)
                _exit(3);
            tc_event_free(cev);
            livekit_ffi_dispose();
            _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_true(tc_send_sync()); /* the parent never noticed */
    livekit_ffi_dispose();
}

/* The audio source's pacing: a 10 ms timer on an absolute schedule, each
 * tick at or after its deadline, never before. How late is bench/'s to
 * measure (ctest runs suites side by side). */
enum { TICKS = 100 };
static const uint64_t PERIOD_NS = 10000000u;

typedef struct {
    lkio_task task;
    lkio_timer timer;
    uint64_t start;
    int ticks, early;
    sem_t done;
} pacer;

static void pacer_tick(lkio_timer *t)
{
    pacer *p = lkio_container_of(t, pacer, timer);
    uint64_t due = p->start + (uint64_t)(p->ticks + 1) * PERIOD_NS;
    p->early += lkio_now_ns() < due;
    if (++p->ticks == TICKS) {
        sem_post(&p->done);
        return;
    }
    lkio_timer_start(lkio_current(), t, due + PERIOD_NS);
}

static void pacer_begin(lkio_task *t)
{
    pacer *p = lkio_container_of(t, pacer, task);
    p->start = lkio_now_ns();
    lkio_timer_init(&p->timer, pacer_tick);
    lkio_timer_start(lkio_current(), &p->timer, p->start + PERIOD_NS);
}

static void pacing_ticks_on_its_schedule(void **state)
{
    unsetenv("LIVEKIT_FFI_IO");
    char err[256];
    assert_int_equal(lkio_start(2, err, sizeof err), 0);
    pacer p = {0};
    sem_init(&p.done, 0, 0);
    lkio_post(lkio_worker_at(0), &p.task, pacer_begin);
    wait_sem_for(&p.done, 30);
    lkio_stop(NULL);
    sem_destroy(&p.done);
    assert_int_equal(p.ticks, TICKS);
    assert_int_equal(p.early, 0);
}

int main(int argc, char **argv)
{
    /* No arguments (as scripts/test.sh's valgrind pass runs it): EPERM. */
    const char *denial = argc > 1 ? argv[1] : "EPERM";
    if (strcmp(denial, "EPERM") != 0 && strcmp(denial, "ENOSYS") != 0) {
        fprintf(stderr, "usage: %s [EPERM|ENOSYS]\n", argv[0]);
        return 2;
    }
    denied_errno = strcmp(denial, "EPERM") == 0 ? EPERM : ENOSYS;
    deny_io_uring(denied_errno);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forced_uring_fails_at_start_with_the_reason),
        cmocka_unit_test(automatic_choice_is_epoll_and_says_why),
        cmocka_unit_test(requests_and_fork_reinit_work),
        cmocka_unit_test(pacing_ticks_on_its_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
