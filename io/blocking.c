/*
 * blocking.c: the blocking thread, for the calls no worker may make.
 *
 * A worker never blocks, and the file system has no readiness to wait for
 * (epoll refuses regular files; a write can wait on the disk). Such calls
 * are queued here, as libuv queues its fs requests to its thread pool: one
 * thread, started when first needed, runs them in the order queued, then
 * posts each item's done to the worker that queued it.
 *
 * Lifecycle: lkio_stop calls lkio_blocking_stop while the workers still
 * run; the thread finishes what was queued and ends. What is queued after
 * that (a done that queues its next step) runs in the caller, so nothing is
 * lost at shutdown. In a fork child the thread does not exist: the child
 * forgets the queue (the parent's items, finished by the parent) and starts
 * a thread of its own when it needs one.
 */
#include "io_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER;
/* Under lock: */
static lkio_work *head, **tail = &head;
static bool running;  /* the thread exists (not yet joined) */
static bool stopping; /* no more items for the thread: run them in the caller */
static pthread_t thread;

static void run_done(lkio_task *t)
{
    lkio_work *item = lkio_container_of(t, lkio_work, task_);
    item->done_(item);
}

static void finish(lkio_work *item)
{
    lkio_post(item->w_, &item->task_, run_done);
}

static void *blocking_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "lkffi-blocking");
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!head && !stopping)
            pthread_cond_wait(&queued, &lock);
        lkio_work *item = head;
        if (!item)
            break; /* stopping, and nothing left */
        if (!(head = item->next_))
            tail = &head;
        pthread_mutex_unlock(&lock);
        item->work_(item); /* outside the gate: a fork need not wait for a disk */
        lkio_enter();
        finish(item);
        lkio_leave();
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Under lock. Running out of threads is fatal, as for a worker: the item
 * would otherwise never run and its owner would wait for ever. */
static void start_thread(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals are the client's */
    int e = pthread_create(&thread, NULL, blocking_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        fprintf(stderr, "liblivekit_ffi: cannot start the blocking thread: %s\n", strerror(e));
        abort();
    }
    running = true;
}

void lkio_queue_work(lkio_worker *w, lkio_work *item, lkio_work_fn work, lkio_work_fn done)
{
    item->work_ = work;
    item->done_ = done;
    item->w_ = w;
    item->next_ = NULL;
    pthread_mutex_lock(&lock);
    bool inline_ = stopping;
    if (!inline_) {
        if (!running)
            start_thread();
        *tail = item;
        tail = &item->next_;
        pthread_cond_signal(&queued);
    }
    pthread_mutex_unlock(&lock);
    if (inline_) { /* the runtime is stopping: the last steps of an owner */
        work(item);
        finish(item);
    }
}

void lkio_blocking_stop(void)
{
    pthread_mutex_lock(&lock);
    stopping = true;
    bool join = running;
    running = false;
    pthread_cond_signal(&queued);
    pthread_mutex_unlock(&lock);
    if (join)
        pthread_join(thread, NULL);
}

void lkio_blocking_restart(void)
{
    pthread_mutex_lock(&lock);
    stopping = false;
    pthread_mutex_unlock(&lock);
}

/* fork(): the queue is consistent in the child only if nobody holds the
 * lock across it. */
void lkio_blocking_fork_prepare(void)
{
    pthread_mutex_lock(&lock);
}

void lkio_blocking_fork_parent(void)
{
    pthread_mutex_unlock(&lock);
}

void lkio_blocking_fork_child(void)
{
    pthread_mutex_unlock(&lock);
    pthread_cond_init(&queued, NULL); /* the parent's waiter is not here */
    head = NULL;
    tail = &head;
    running = false;
}
