/* The runtime, as its users see it: tasks run on their worker, in order;
 * timers fire at (never before) their deadline; stop loses nothing; a fork
 * child sees a stale runtime it can discard and replace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "tool_limits.h"
#include "wait.h"

static int setup(void **state)
{
    char err[128];
    assert_int_equal(lkio_start(2, err, sizeof err), 0);
    assert_int_equal(lkio_state(), LKIO_RUNNING);
    return 0;
}

static int teardown(void **state)
{
    lkio_stop(NULL);
    assert_int_equal(lkio_state(), LKIO_STOPPED);
    return 0;
}

/* --- tasks ---------------------------------------------------------------- */

typedef struct {
    lkio_task task;
    lkio_worker *expected;
    lkio_worker *ran_on;
    int seq;
    int *log;
    int *log_len;
    sem_t *done;
} probe;

static void probe_run(lkio_task *t)
{
    probe *p = lkio_container_of(t, probe, task);
    p->ran_on = lkio_current();
    p->log[(*p->log_len)++] = p->seq;
    if (p->done)
        sem_post(p->done);
}

static void tasks_run_on_their_worker_in_post_order(void **state)
{
    enum { N = 5000 };
    for (unsigned wi = 0; wi < lkio_worker_count(); wi++) {
        lkio_worker *w = lkio_worker_at(wi);
        probe *p = calloc(N, sizeof *p);
        int *log = calloc(N, sizeof *log);
        int len = 0;
        sem_t done;
        sem_init(&done, 0, 0);
        for (int i = 0; i < N; i++) {
            p[i] = (probe){.expected = w, .seq = i, .log = log, .log_len = &len};
            if (i == N - 1)
                p[i].done = &done;
            lkio_post(w, &p[i].task, probe_run);
        }
        wait_sem(&done);
        assert_int_equal(len, N);
        for (int i = 0; i < N; i++) {
            assert_int_equal(log[i], i);
            assert_ptr_equal(p[i].ran_on, w);
        }
        sem_destroy(&done);
        free(p);
        free(log);
    }
}

typedef struct {
    lkio_worker *w;
    int from;
    probe *p;
    int *log;
    int *len;
} poster_arg;

static void *poster(void *arg)
{
    poster_arg *a = arg;
    for (int i = 0; i < 1000; i++)
        lkio_post(a->w, &a->p[a->from + i].task, probe_run);
    return NULL;
}

/* Posting from several threads at once: each thread's tasks stay in order. */
static void concurrent_posters_keep_their_own_order(void **state)
{
    enum { T = 4, N = 1000 };
    lkio_worker *w = lkio_worker_at(0);
    probe *p = calloc(T * N, sizeof *p);
    int *log = calloc(T * N, sizeof *log);
    int len = 0;
    for (int i = 0; i < T * N; i++)
        p[i] = (probe){.seq = i, .log = log, .log_len = &len};
    pthread_t th[T];
    poster_arg args[T];
    for (int t = 0; t < T; t++) {
        args[t] = (poster_arg){.w = w, .from = t * N, .p = p};
        pthread_create(&th[t], NULL, poster, &args[t]);
    }
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    /* A last task to wait on: everything posted before it has run. */
    sem_t done;
    sem_init(&done, 0, 0);
    int marker_log[1], marker_len = 0;
    probe last = {.seq = -1, .log = marker_log, .log_len = &marker_len, .done = &done};
    lkio_post(w, &last.task, probe_run);
    wait_sem(&done);
    assert_int_equal(len, T * N);
    int next[T] = {0};
    for (int i = 0; i < T * N; i++) {
        int t = log[i] / N;
        assert_int_equal(log[i] % N, next[t]);
        next[t]++;
    }
    sem_destroy(&done);
    free(p);
    free(log);
}

/* --- timers --------------------------------------------------------------- */

typedef struct {
    lkio_task start;
    lkio_timer timer;
    uint64_t deadline;
    uint64_t fired_at;
    int order;
    int *counter;
    sem_t *done;
} alarm_probe;

static void alarm_fired(lkio_timer *t)
{
    alarm_probe *a = lkio_container_of(t, alarm_probe, timer);
    a->fired_at = lkio_now_ns();
    a->order = (*a->counter)++;
    sem_post(a->done);
}

static void alarm_start(lkio_task *t)
{
    alarm_probe *a = lkio_container_of(t, alarm_probe, start);
    lkio_timer_init(&a->timer, alarm_fired);
    lkio_timer_start(lkio_current(), &a->timer, a->deadline);
}

/* Timers armed out of order fire in deadline order, never early. Later
 * deadlines are armed first so the ring's timeout must move earlier. */
static void timers_fire_in_deadline_order_never_early(void **state)
{
    enum { N = 5 };
    lkio_worker *w = lkio_worker_at(1);
    alarm_probe a[N];
    int counter = 0;
    sem_t done;
    sem_init(&done, 0, 0);
    uint64_t now = lkio_now_ns();
    for (int i = 0; i < N; i++) {
        a[i] = (alarm_probe){.deadline = now + (uint64_t)(N - i) * 5000000u,
                             .counter = &counter, .done = &done};
        lkio_post(w, &a[i].start, alarm_start);
    }
    for (int i = 0; i < N; i++)
        wait_sem(&done);
    for (int i = 0; i < N; i++) {
        assert_true(a[i].fired_at >= a[i].deadline);
        assert_int_equal(a[i].order, N - 1 - i);
    }
    sem_destroy(&done);
}

typedef struct {
    lkio_task task;
    lkio_timer keep, cancel;
    int cancelled_fired;
    sem_t *done;
} cancel_probe;

static void cancel_should_not_fire(lkio_timer *t)
{
    lkio_container_of(t, cancel_probe, cancel)->cancelled_fired = 1;
}

static void cancel_keep_fired(lkio_timer *t)
{
    sem_post(lkio_container_of(t, cancel_probe, keep)->done);
}

static void cancel_setup(lkio_task *t)
{
    cancel_probe *c = lkio_container_of(t, cancel_probe, task);
    uint64_t now = lkio_now_ns();
    lkio_timer_init(&c->cancel, cancel_should_not_fire);
    lkio_timer_init(&c->keep, cancel_keep_fired);
    lkio_timer_start(lkio_current(), &c->cancel, now + 5000000);
    lkio_timer_start(lkio_current(), &c->keep, now + 20000000);
    lkio_timer_stop(lkio_current(), &c->cancel);
    assert_false(lkio_timer_active(&c->cancel));
}

static void stopped_timer_never_fires(void **state)
{
    sem_t done;
    sem_init(&done, 0, 0);
    cancel_probe c = {.done = &done};
    lkio_post(lkio_worker_at(0), &c.task, cancel_setup);
    wait_sem(&done);
    assert_int_equal(c.cancelled_fired, 0);
    sem_destroy(&done);
}

typedef struct {
    lkio_task task;
    lkio_timer timer;
    uint64_t start;
    int ticks;
    uint64_t at[50];
    sem_t *done;
} ticker;

static void ticker_tick(lkio_timer *t)
{
    ticker *k = lkio_container_of(t, ticker, timer);
    k->at[k->ticks++] = lkio_now_ns();
    if (k->ticks == 50) {
        sem_post(k->done);
        return;
    }
    /* Absolute schedule: tick n is due at start + n * 2 ms, whatever the delay. */
    lkio_timer_start(lkio_current(), t, k->start + (uint64_t)(k->ticks + 1) * 2000000u);
}

static void ticker_begin(lkio_task *t)
{
    ticker *k = lkio_container_of(t, ticker, task);
    k->start = lkio_now_ns();
    lkio_timer_init(&k->timer, ticker_tick);
    lkio_timer_start(lkio_current(), &k->timer, k->start + 2000000u);
}

static void periodic_timer_ticks_on_its_absolute_schedule(void **state)
{
    sem_t done;
    sem_init(&done, 0, 0);
    ticker k = {.done = &done};
    lkio_post(lkio_worker_at(0), &k.task, ticker_begin);
    wait_sem(&done);
    for (int i = 0; i < 50; i++)
        assert_true(k.at[i] >= k.start + (uint64_t)(i + 1) * 2000000u);
    sem_destroy(&done);
}

/* --- stop ----------------------------------------------------------------- */

typedef struct {
    lkio_task task;
    _Atomic int *ran;
} count_task;

static void count_run(lkio_task *t)
{
    atomic_fetch_add(lkio_container_of(t, count_task, task)->ran, 1);
}

static void stop_runs_everything_already_posted(void **state)
{
    enum { N = 10000 };
    count_task *c = calloc(N, sizeof *c);
    _Atomic int ran = 0;
    for (int i = 0; i < N; i++) {
        c[i].ran = &ran;
        lkio_post(lkio_worker_at((unsigned)i), &c[i].task, count_run);
    }
    lkio_stop(NULL);
    assert_int_equal(atomic_load(&ran), N);
    free(c);
    char err[128];
    assert_int_equal(lkio_start(2, err, sizeof err), 0); /* for teardown */
}

static void workers_env_sets_the_pool_size(void **state)
{
    lkio_stop(NULL);
    setenv("LIVEKIT_FFI_WORKERS", "3", 1);
    char err[128];
    assert_int_equal(lkio_start(0, err, sizeof err), 0);
    assert_int_equal(lkio_worker_count(), 3);
    unsetenv("LIVEKIT_FFI_WORKERS");
}

/* --- fork ----------------------------------------------------------------- */

static void fork_child_sees_stale_runtime_and_can_replace_it(void **state)
{
    skip_if_valgrind_child_restarts();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10);
        if (lkio_state() != LKIO_STALE)
            _exit(10);
        lkio_discard_inherited();
        if (lkio_state() != LKIO_STOPPED)
            _exit(11);
        char err[128];
        if (lkio_start(2, err, sizeof err) != 0)
            _exit(12);
        sem_t done;
        sem_init(&done, 0, 0);
        int log[1], len = 0;
        probe p = {.log = log, .log_len = &len, .done = &done};
        lkio_post(lkio_worker_at(0), &p.task, probe_run);
        sem_wait(&done);
        lkio_stop(NULL);
        _exit(len == 1 ? 0 : 13);
    }
    expect_child_ok(pid);
    /* The parent's runtime is untouched. */
    assert_int_equal(lkio_state(), LKIO_RUNNING);
    sem_t done;
    sem_init(&done, 0, 0);
    int log[1], len = 0;
    probe p = {.log = log, .log_len = &len, .done = &done};
    lkio_post(lkio_worker_at(1), &p.task, probe_run);
    wait_sem(&done);
    sem_destroy(&done);
}

/* Fork while other threads keep posting: the gate makes fork wait for
 * quiescence, so neither side hangs. */
typedef struct {
    _Atomic int stop;
    _Atomic long posted;
} churn_state;

static void churn_task_run(lkio_task *t)
{
    free(t);
}

static void *churn(void *arg)
{
    churn_state *s = arg;
    while (!atomic_load(&s->stop)) {
        lkio_enter();
        lkio_task *t = malloc(sizeof *t);
        lkio_post(lkio_pick_worker(), t, churn_task_run);
        lkio_leave();
        atomic_fetch_add(&s->posted, 1);
    }
    return NULL;
}

static void forks_under_load_never_hang(void **state)
{
    skip_if_fork_under_load_unsafe();
    churn_state s = {0};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, churn, &s);
    for (int i = 0; i < 100; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(10);
            lkio_discard_inherited();
            char err[128];
            if (lkio_start(1, err, sizeof err) != 0)
                _exit(1);
            lkio_stop(NULL);
            _exit(0);
        }
        expect_child_ok(pid);
    }
    atomic_store(&s.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_true(atomic_load(&s.posted) > 0);
}

/* A worker that returns from client code inside a fork child ends itself
 * instead of touching the parent's ring: the child exits cleanly. */
typedef struct {
    lkio_task task;
    pid_t child;
    sem_t *done;
} fork_in_callback;

static void fork_from_client_code(void *arg)
{
    fork_in_callback *f = arg;
    f->child = fork();
    if (f->child == 0)
        alarm(10); /* the child returns into the worker loop */
}

static void fork_in_callback_run(lkio_task *t)
{
    fork_in_callback *f = lkio_container_of(t, fork_in_callback, task);
    lkio_call_outside(fork_from_client_code, f);
    sem_post(f->done);
}

static void worker_thread_returning_into_fork_child_exits(void **state)
{
    skip_if_fork_child_thread_exit_unsafe();
    sem_t done;
    sem_init(&done, 0, 0);
    fork_in_callback f = {.done = &done};
    lkio_post(lkio_worker_at(0), &f.task, fork_in_callback_run);
    wait_sem(&done);
    assert_true(f.child > 0);
    expect_child_ok(f.child);
    sem_destroy(&done);
}

/* The fork-in-callback child ends when its last thread exits, so
 * LeakSanitizer would scan it without a main thread's stack: skip it there. */
static pid_t test_pid;
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return getpid() != test_pid;
}

int main(void)
{
    test_pid = getpid();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tasks_run_on_their_worker_in_post_order, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_posters_keep_their_own_order, setup, teardown),
        cmocka_unit_test_setup_teardown(timers_fire_in_deadline_order_never_early, setup, teardown),
        cmocka_unit_test_setup_teardown(stopped_timer_never_fires, setup, teardown),
        cmocka_unit_test_setup_teardown(periodic_timer_ticks_on_its_absolute_schedule, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stop_runs_everything_already_posted, setup, teardown),
        cmocka_unit_test_setup_teardown(workers_env_sets_the_pool_size, setup, teardown),
        cmocka_unit_test_setup_teardown(fork_child_sees_stale_runtime_and_can_replace_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(forks_under_load_never_hang, setup, teardown),
        cmocka_unit_test_setup_teardown(worker_thread_returning_into_fork_child_exits, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
