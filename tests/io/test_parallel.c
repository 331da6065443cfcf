/* lkio_parallel: every piece runs once and the call returns after the
 * last; pieces do run at once on two workers; two workers each splitting
 * their own task across the other at the same moment both finish (the
 * caller takes what a busy helper cannot); with one piece, or none, the
 * caller runs them alone. Waits are bounded (a hang fails the test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "io.h"
#include "wait.h"

enum { PIECES = 64 };

static int setup(void **state)
{
    (void)state;
    char err[128];
    assert_int_equal(lkio_start(2, err, sizeof err), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lkio_stop(NULL);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct count {
    _Atomic int runs[PIECES];
    _Atomic int active, most_at_once;
} count;

/* Busy for a little while, noting how many pieces ran at once. */
static void counted(void *arg, unsigned i)
{
    count *c = arg;
    int a = atomic_fetch_add(&c->active, 1) + 1;
    int m = atomic_load(&c->most_at_once);
    while (a > m && !atomic_compare_exchange_weak(&c->most_at_once, &m, a)) {
    }
    for (double until = now_s() + 0.0005; now_s() < until;) {
    }
    atomic_fetch_add(&c->runs[i], 1);
    atomic_fetch_sub(&c->active, 1);
}

static void every_piece_runs_once(void **state)
{
    (void)state;
    static count c;
    memset(&c, 0, sizeof c);
    lkio_parallel(PIECES, counted, &c);
    for (int i = 0; i < PIECES; i++)
        assert_int_equal(atomic_load(&c.runs[i]), 1);
    assert_int_equal(atomic_load(&c.active), 0); /* all returned before the call did */
}

/* Piece 0 waits (bounded) for piece 1 to start: only a second thread can
 * start it meanwhile. */
typedef struct meet {
    _Atomic int started1, met;
} meet;

static void meeting(void *arg, unsigned i)
{
    meet *m = arg;
    if (i == 1) {
        atomic_store(&m->started1, 1);
        return;
    }
    for (double until = now_s() + 10; now_s() < until;)
        if (atomic_load(&m->started1)) {
            atomic_store(&m->met, 1);
            return;
        }
}

static void pieces_run_at_once(void **state)
{
    (void)state;
    meet m = {0};
    lkio_parallel(2, meeting, &m);
    assert_true(atomic_load(&m.met));
}

/* Each worker splits a task of its own across the other at the same time. */
typedef struct crossed {
    lkio_task task;
    count c;
    sem_t *done;
} crossed;

static void split_on_worker(lkio_task *t)
{
    crossed *x = lkio_container_of(t, crossed, task);
    lkio_parallel(PIECES, counted, &x->c);
    sem_post(x->done);
}

static void workers_splitting_at_once_both_finish(void **state)
{
    (void)state;
    static crossed x[2];
    sem_t done;
    sem_init(&done, 0, 0);
    for (int round = 0; round < 20; round++) {
        memset(x, 0, sizeof x);
        for (int w = 0; w < 2; w++) {
            x[w].done = &done;
            lkio_post(lkio_worker_at((unsigned)w), &x[w].task, split_on_worker);
        }
        wait_sem(&done);
        wait_sem(&done);
        for (int w = 0; w < 2; w++)
            for (int i = 0; i < PIECES; i++)
                assert_int_equal(atomic_load(&x[w].c.runs[i]), 1);
    }
    sem_destroy(&done);
}

static pthread_t caller;
static _Atomic int elsewhere;

static void where(void *arg, unsigned i)
{
    (void)arg;
    (void)i;
    if (!pthread_equal(pthread_self(), caller))
        atomic_store(&elsewhere, 1);
}

static void one_piece_or_none_stays_in_the_caller(void **state)
{
    (void)state;
    caller = pthread_self();
    lkio_parallel(1, where, NULL);
    lkio_parallel(0, where, NULL);
    assert_false(atomic_load(&elsewhere));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_piece_runs_once, setup, teardown),
        cmocka_unit_test_setup_teardown(pieces_run_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(workers_splitting_at_once_both_finish, setup, teardown),
        cmocka_unit_test_setup_teardown(one_piece_or_none_stays_in_the_caller, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
