/* The blocking thread, as its users see it: work runs away from every
 * worker, in the order queued, and its done comes back on the worker that
 * queued it; a blocked item never holds its worker up; stop finishes every
 * item and the steps their dones queue; a fork child gets a thread of its
 * own while the parent's item is still blocked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <unistd.h>

#include "io.h"
#include "tool_limits.h"
#include "wait.h"

static int setup(void **state)
{
    char err[128];
    assert_int_equal(lkio_start(2, err, sizeof err), 0);
    return 0;
}

static int teardown(void **state)
{
    lkio_stop(NULL);
    return 0;
}

typedef struct {
    lkio_work work;
    lkio_worker *w;
    int seq;
    /* what work saw */
    bool work_on_a_worker;
    pthread_t work_thread;
    /* what done saw */
    lkio_worker *done_on;
    int *order, *n_done;
    int steps_left;
    sem_t *release; /* work waits for it, if set */
    sem_t *finished;
} item;

static void item_work(lkio_work *wk)
{
    item *it = lkio_container_of(wk, item, work);
    it->work_on_a_worker = lkio_current() != NULL;
    it->work_thread = pthread_self();
    if (it->release)
        sem_wait(it->release);
}

static void item_done(lkio_work *wk)
{
    item *it = lkio_container_of(wk, item, work);
    it->done_on = lkio_current();
    if (--it->steps_left > 0) { /* its next step, queued from its done */
        lkio_queue_work(it->w, &it->work, item_work, item_done);
        return;
    }
    it->order[(*it->n_done)++] = it->seq;
    if (it->finished)
        sem_post(it->finished);
}

static void queue(item *it)
{
    lkio_enter();
    lkio_queue_work(it->w, &it->work, item_work, item_done);
    lkio_leave();
}

static void work_runs_off_the_workers_done_on_its_worker_in_order(void **state)
{
    enum { N = 300 };
    item *its = calloc(N, sizeof *its);
    int order[N], n_done = 0;
    sem_t finished;
    sem_init(&finished, 0, 0);
    for (int i = 0; i < N; i++) {
        /* one worker, so done's order is the order work ran in */
        its[i] = (item){.w = lkio_worker_at(1), .seq = i, .order = order, .n_done = &n_done,
                        .steps_left = 1, .finished = &finished};
        queue(&its[i]);
    }
    for (int i = 0; i < N; i++)
        wait_sem(&finished);
    for (int i = 0; i < N; i++) {
        assert_int_equal(order[i], i);
        assert_false(its[i].work_on_a_worker);
        assert_false(pthread_equal(its[i].work_thread, pthread_self()));
        assert_ptr_equal(its[i].done_on, lkio_worker_at(1));
    }
    sem_destroy(&finished);
    free(its);
}

/* A task posted after the item to the same worker runs while the item's
 * work is still blocked, and is what unblocks it. */
typedef struct {
    lkio_task task;
    sem_t *release;
} releaser;

static void release_run(lkio_task *t)
{
    sem_post(lkio_container_of(t, releaser, task)->release);
}

static void a_blocked_item_never_holds_its_worker(void **state)
{
    sem_t release, finished;
    sem_init(&release, 0, 0);
    sem_init(&finished, 0, 0);
    int order[1], n_done = 0;
    item it = {.w = lkio_worker_at(0), .order = order, .n_done = &n_done, .steps_left = 1,
               .release = &release, .finished = &finished};
    queue(&it);
    releaser r = {.release = &release};
    lkio_post(lkio_worker_at(0), &r.task, release_run);
    wait_sem(&finished);
    assert_int_equal(n_done, 1);
    sem_destroy(&release);
    sem_destroy(&finished);
}

/* Stop right after queueing: every item's three steps still run (the
 * later ones in the caller, once the thread has ended), none lost. */
static void stop_finishes_every_step(void **state)
{
    enum { N = 50 };
    item *its = calloc(N, sizeof *its);
    int order[N], n_done = 0;
    for (int i = 0; i < N; i++) {
        its[i] = (item){.w = lkio_worker_at(0), .seq = i, .order = order,
                        .n_done = &n_done, .steps_left = 3};
        queue(&its[i]);
    }
    lkio_stop(NULL);
    assert_int_equal(n_done, N);
    free(its);
    char err[128];
    assert_int_equal(lkio_start(2, err, sizeof err), 0); /* for teardown */
}

static void fork_child_gets_a_thread_of_its_own(void **state)
{
    skip_if_valgrind_child_restarts();
    sem_t release, finished;
    sem_init(&release, 0, 0);
    sem_init(&finished, 0, 0);
    int order[1], n_done = 0;
    item held = {.w = lkio_worker_at(0), .order = order, .n_done = &n_done, .steps_left = 1,
                 .release = &release, .finished = &finished};
    queue(&held); /* the parent's thread now waits inside its work */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10);
        lkio_discard_inherited();
        char err[128];
        if (lkio_start(1, err, sizeof err) != 0)
            _exit(10);
        sem_t done;
        sem_init(&done, 0, 0);
        int child_order[1], child_done = 0;
        item it = {.w = lkio_worker_at(0), .order = child_order, .n_done = &child_done,
                   .steps_left = 2, .finished = &done};
        queue(&it);
        sem_wait(&done);
        lkio_stop(NULL);
        _exit(child_done == 1 ? 0 : 11);
    }
    expect_child_ok(pid);
    sem_post(&release); /* the parent's item was never lost */
    wait_sem(&finished);
    assert_int_equal(n_done, 1);
    sem_destroy(&release);
    sem_destroy(&finished);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(work_runs_off_the_workers_done_on_its_worker_in_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_blocked_item_never_holds_its_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_finishes_every_step, setup, teardown),
        cmocka_unit_test_setup_teardown(fork_child_gets_a_thread_of_its_own, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
