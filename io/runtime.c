/*
 * runtime.c: worker threads, their task inboxes and timers, the lifecycle.
 *
 * Each worker owns one poller of the backend lkio_start chose (backend.h:
 * io_uring or epoll) and runs this loop, inside the gate except while it
 * waits in the backend:
 *
 *     run the inbox (tasks posted from any thread, in order)
 *     run the timers that are due
 *     give the backend the earliest timer's deadline
 *     announce sleep, then wait for a completion, a post or the deadline
 *     run the completions' callbacks
 *
 * The inbox is a lock-free stack; the worker takes it whole and reverses it.
 * A poster wakes a sleeping worker by writing the worker's eventfd, which
 * the backend always watches: no polling while idle, and no syscall when
 * the worker is awake anyway.
 *
 * Pollers are made when the runtime starts; a worker's thread only when
 * something is first posted to it (as libuv starts its thread pool), so a
 * client that only makes synchronous requests, or a fork child that only
 * reinitializes, never pays for threads it does not use.
 */
#include "backend.h"
#include "io_internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* After a burst of work a worker keeps looking at its inbox this long
 * before it sleeps: a request that follows its predecessor's callback then
 * skips the ~10 us of an eventfd wake-up. Bounded, so an idle worker costs
 * nothing; 20 us per burst at most. */
static const uint64_t LINGER_NS = 20000;

/* Under valgrind, which runs one thread at a time, spinning only slows
 * everyone down. */
static bool no_linger;

struct lkio_worker {
    const lkio_backend *be;
    lkio_poller *poller; /* NULL once gone; what a fork child must discard */
    int wake_fd;         /* eventfd; -1 once closed */
    _Atomic(lkio_task *) inbox;
    _Atomic int sleeping;
    lkio_task stop_task;
    bool stopping;

    lkio_timer **heap; /* min-heap on deadline_ns */
    size_t heap_len, heap_cap;

    pthread_t thread;
    _Atomic bool launched;
    unsigned index;
};

typedef struct runtime {
    unsigned n;
    _Atomic unsigned next_pick;
    pthread_mutex_t launch_lock;
    bool stopping; /* under launch_lock: no new threads once lkio_stop began */
    lkio_worker workers[];
} runtime;

_Atomic int lkio_state_;
static runtime *rt;
static const char *chosen_name = "none";
static char chosen_reason[256] = "not started";
/* Bumped whenever a runtime is started or an inherited one is discarded; a
 * worker thread from another generation must not touch anything. */
static _Atomic unsigned generation;
static __thread lkio_worker *tls_worker;
static __thread unsigned tls_generation;
static __thread bool tls_draining; /* lkio_stop's last drain: the gate is ours */

uint64_t lkio_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

unsigned lkio_worker_count(void)
{
    return rt ? rt->n : 0;
}

lkio_worker *lkio_worker_at(unsigned i)
{
    return &rt->workers[i % rt->n];
}

lkio_worker *lkio_pick_worker(void)
{
    return lkio_worker_at(atomic_fetch_add_explicit(&rt->next_pick, 1, memory_order_relaxed));
}

lkio_worker *lkio_pick_worker_except(const lkio_worker *busy)
{
    lkio_worker *w = lkio_pick_worker();
    return w == busy && rt->n > 1 ? lkio_pick_worker() : w;
}

lkio_worker *lkio_current(void)
{
    return tls_worker;
}

static void *worker_main(void *arg);

/* Starts w's thread, once. Like running out of memory, running out of
 * threads here is fatal: the task being posted would otherwise never run
 * and its client would wait for ever. */
static void launch(lkio_worker *w)
{
    pthread_mutex_lock(&rt->launch_lock);
    if (!atomic_load(&w->launched) && !rt->stopping) { /* stopping: the drain runs it */
        /* Workers get a fully blocked signal mask: signals are the client's. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int e = pthread_create(&w->thread, NULL, worker_main, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (e) {
            fprintf(stderr, "liblivekit_ffi: cannot start a worker thread: %s\n", strerror(e));
            abort();
        }
        atomic_store(&w->launched, true);
    }
    pthread_mutex_unlock(&rt->launch_lock);
}

/* --- inbox ----------------------------------------------------------------- */

void lkio_post(lkio_worker *w, lkio_task *task, lkio_task_fn fn)
{
    if (!atomic_load_explicit(&w->launched, memory_order_acquire))
        launch(w);
    task->fn_ = fn;
    lkio_task *head = atomic_load_explicit(&w->inbox, memory_order_relaxed);
    do {
        task->next_ = head;
    } while (!atomic_compare_exchange_weak(&w->inbox, &head, task));
    /* Pairs with the sleeping store + inbox load in worker_wait(). */
    if (atomic_load(&w->sleeping) && atomic_exchange(&w->sleeping, 0)) {
        uint64_t one = 1;
        ssize_t r = write(w->wake_fd, &one, sizeof one);
        (void)r; /* an eventfd write only fails on counter overflow: still readable */
    }
}

static void run_inbox(lkio_worker *w)
{
    lkio_task *stack = atomic_exchange(&w->inbox, NULL);
    lkio_task *fifo = NULL;
    while (stack) {
        lkio_task *next = stack->next_;
        stack->next_ = fifo;
        fifo = stack;
        stack = next;
    }
    while (fifo) {
        lkio_task *t = fifo;
        fifo = t->next_; /* before fn: it may free or repost t */
        t->fn_(t);
    }
}

/* --- timers ---------------------------------------------------------------- */

static void heap_set(lkio_worker *w, size_t i, lkio_timer *t)
{
    w->heap[i] = t;
    t->heap_index_ = i;
}

static void heap_sift_up(lkio_worker *w, size_t i)
{
    lkio_timer *t = w->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (w->heap[parent]->deadline_ns <= t->deadline_ns)
            break;
        heap_set(w, i, w->heap[parent]);
        i = parent;
    }
    heap_set(w, i, t);
}

static void heap_sift_down(lkio_worker *w, size_t i)
{
    lkio_timer *t = w->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= w->heap_len)
            break;
        if (child + 1 < w->heap_len &&
            w->heap[child + 1]->deadline_ns < w->heap[child]->deadline_ns)
            child++;
        if (t->deadline_ns <= w->heap[child]->deadline_ns)
            break;
        heap_set(w, i, w->heap[child]);
        i = child;
    }
    heap_set(w, i, t);
}

static void heap_remove(lkio_worker *w, lkio_timer *t)
{
    size_t i = t->heap_index_;
    lkio_timer *last = w->heap[--w->heap_len];
    t->heap_index_ = SIZE_MAX;
    if (last == t)
        return;
    heap_set(w, i, last);
    heap_sift_down(w, i);
    heap_sift_up(w, last->heap_index_);
}

void lkio_timer_stop(lkio_worker *w, lkio_timer *t)
{
    if (lkio_timer_active(t))
        heap_remove(w, t);
}

void lkio_timer_start(lkio_worker *w, lkio_timer *t, uint64_t deadline_ns)
{
    lkio_timer_stop(w, t);
    if (w->heap_len == w->heap_cap) {
        size_t cap = w->heap_cap ? 2 * w->heap_cap : 16;
        lkio_timer **heap = realloc(w->heap, cap * sizeof *heap);
        if (!heap)
            abort(); /* a few pointers per live object: out of memory is fatal */
        w->heap = heap;
        w->heap_cap = cap;
    }
    t->deadline_ns = deadline_ns;
    heap_set(w, w->heap_len++, t);
    heap_sift_up(w, t->heap_index_);
}

static void run_timers(lkio_worker *w)
{
    uint64_t now = lkio_now_ns();
    while (w->heap_len && w->heap[0]->deadline_ns <= now) {
        lkio_timer *t = w->heap[0];
        heap_remove(w, t);
        t->fn_(t); /* may start t again */
    }
}

/* --- socket operations ----------------------------------------------------- */

const char *lkio_backend_name(void)
{
    return chosen_name;
}

const char *lkio_backend_reason(void)
{
    return chosen_reason;
}

static void submit(lkio_worker *w, lkio_op *op, enum lkio_op_kind kind, int fd, const void *arg,
                   size_t len, lkio_op_fn fn)
{
    op->fn_ = fn;
    op->pending_ = true;
    op->kind_ = (unsigned char)kind;
    op->fd_ = fd;
    op->arg_ = (void *)arg;
    op->len_ = len;
    w->be->submit(w->poller, op);
}

void lkio_connect(lkio_worker *w, lkio_op *op, int fd, const struct sockaddr *addr,
                  socklen_t addrlen, lkio_op_fn fn)
{
    submit(w, op, LKIO_OP_CONNECT, fd, addr, addrlen, fn);
}

void lkio_send(lkio_worker *w, lkio_op *op, int fd, const void *buf, size_t len, lkio_op_fn fn)
{
    submit(w, op, LKIO_OP_SEND, fd, buf, len, fn);
}

void lkio_recv(lkio_worker *w, lkio_op *op, int fd, void *buf, size_t len, lkio_op_fn fn)
{
    submit(w, op, LKIO_OP_RECV, fd, buf, len, fn);
}

void lkio_sendmsg(lkio_worker *w, lkio_op *op, int fd, const struct msghdr *msg, lkio_op_fn fn)
{
    submit(w, op, LKIO_OP_SENDMSG, fd, msg, 0, fn);
}

void lkio_recvmsg(lkio_worker *w, lkio_op *op, int fd, struct msghdr *msg, lkio_op_fn fn)
{
    submit(w, op, LKIO_OP_RECVMSG, fd, msg, 0, fn);
}

void lkio_cancel(lkio_worker *w, lkio_op *op)
{
    if (op->pending_ && w->poller) /* no poller: lkio_stop's drain, ops abandoned */
        w->be->cancel(w->poller, op);
}

void lkio_runtime_fd_closing(int fd)
{
    lkio_worker *w = tls_worker;
    if (w && w->poller)
        w->be->forget_fd(w->poller, fd);
}

/* --- the loop -------------------------------------------------------------- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* True if something was posted within LINGER_NS (or a timer came due). */
static bool linger(lkio_worker *w)
{
    uint64_t until = lkio_now_ns() + LINGER_NS;
    do {
        for (int i = 0; i < 64; i++) {
            if (atomic_load_explicit(&w->inbox, memory_order_relaxed))
                return true;
            cpu_relax();
        }
    } while (lkio_now_ns() < until &&
             !(w->heap_len && w->heap[0]->deadline_ns <= until - LINGER_NS));
    return false;
}

static void worker_wait(lkio_worker *w)
{
    if (w->be->flush(w->poller))
        return;
    if (!no_linger && linger(w))
        return;
    atomic_store(&w->sleeping, 1);
    if (atomic_load(&w->inbox)) {
        atomic_store(&w->sleeping, 0);
        return;
    }
    lkio_leave();
    w->be->wait(w->poller, -1);
    lkio_enter();
    atomic_store(&w->sleeping, 0);
}

/* Owners cancel their socket ops when they close; before the poller goes,
 * let those cancellations complete so each owner sees its ops end and frees
 * itself. Bounded: an op nobody cancelled is abandoned after a second. */
static void drain_ops(lkio_worker *w)
{
    uint64_t give_up = lkio_now_ns() + 1000000000u;
    while (w->be->in_flight(w->poller) && lkio_now_ns() < give_up) {
        if (!w->be->flush(w->poller))
            w->be->wait(w->poller, 10);
        w->be->deliver(w->poller);
        run_inbox(w); /* what the completions posted */
    }
}

static void on_stop(lkio_task *t)
{
    lkio_container_of(t, lkio_worker, stop_task)->stopping = true;
}

/* Inside the gate, so a fork sees the poller either whole or gone. The
 * eventfd outlives the thread: posters may still be writing to it. */
static void poller_teardown(lkio_worker *w)
{
    w->be->destroy(w->poller);
    w->poller = NULL;
}

static void *worker_main(void *arg)
{
    lkio_worker *w = arg;
    char name[16];
    snprintf(name, sizeof name, "lkffi-io-%u", w->index);
    pthread_setname_np(pthread_self(), name);
    tls_worker = w;
    tls_generation = atomic_load(&generation);

    lkio_enter();
    w->be->attach(w->poller);
    while (!w->stopping) {
        run_inbox(w);
        run_timers(w);
        if (w->stopping)
            break;
        if (w->heap_len)
            w->be->set_deadline(w->poller, w->heap[0]->deadline_ns);
        worker_wait(w);
        w->be->deliver(w->poller);
    }
    drain_ops(w);
    poller_teardown(w);
    lkio_leave();
    return NULL;
}

/* --- lifecycle ------------------------------------------------------------- */

static unsigned default_workers(void)
{
    const char *env = getenv("LIVEKIT_FFI_WORKERS");
    if (env && *env) {
        char *end;
        unsigned long n = strtoul(env, &end, 10);
        if (*end == '\0' && n >= 1 && n <= 64)
            return (unsigned)n;
    }
    /* The CPUs we may run on: one syscall, where sysconf reads /sys. */
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    return cpus < 1 ? 1 : cpus > 4 ? 4 : (unsigned)cpus;
}

static void free_runtime(runtime *r)
{
    pthread_mutex_destroy(&r->launch_lock);
    for (unsigned i = 0; i < r->n; i++) {
        if (r->workers[i].wake_fd >= 0)
            close(r->workers[i].wake_fd);
        free(r->workers[i].heap);
    }
    free(r);
}

/* Every worker gets a poller of b, or none does. */
static int make_pollers(runtime *r, const lkio_backend *b, char *err, size_t errlen)
{
    for (unsigned i = 0; i < r->n; i++) {
        lkio_worker *w = &r->workers[i];
        int e = b->create(&w->poller, w->wake_fd, err, errlen);
        if (e < 0) {
            while (i-- > 0) {
                b->destroy(r->workers[i].poller);
                r->workers[i].poller = NULL;
            }
            return e;
        }
        w->be = b;
    }
    return 0;
}

/* LIVEKIT_FFI_IO=uring|epoll forces a backend; otherwise io_uring where a
 * ring can be set up (seccomp profiles and kernel.io_uring_disabled deny
 * it), else epoll. */
static int choose_backend(runtime *r, char *err, size_t errlen)
{
    const char *env = getenv("LIVEKIT_FFI_IO");
    bool forced = env && *env;
    if (forced && strcmp(env, "uring") != 0 && strcmp(env, "epoll") != 0) {
        snprintf(err, errlen, "LIVEKIT_FFI_IO=%s: expected uring or epoll", env);
        return -EINVAL;
    }
    const lkio_backend *b = &lkio_backend_epoll;
    int e;
    if (!forced || strcmp(env, "uring") == 0) {
        char why[160];
        e = make_pollers(r, &lkio_backend_uring, why, sizeof why);
        if (e == 0) {
            b = &lkio_backend_uring;
            snprintf(chosen_reason, sizeof chosen_reason, "%s",
                     forced ? "forced by LIVEKIT_FFI_IO=uring" : "io_uring is available");
        } else if (forced) {
            snprintf(err, errlen, "LIVEKIT_FFI_IO=uring, but io_uring cannot be used here: %s",
                     why);
            return e;
        } else {
            snprintf(chosen_reason, sizeof chosen_reason,
                     "io_uring cannot be used here (%s); falling back to epoll", why);
        }
    } else {
        snprintf(chosen_reason, sizeof chosen_reason, "forced by LIVEKIT_FFI_IO=epoll");
    }
    if (b == &lkio_backend_epoll && (e = make_pollers(r, b, err, errlen)) < 0)
        return e;
    chosen_name = b->name;
    return 0;
}

int lkio_start(unsigned n, char *err, size_t errlen)
{
    if (rt) {
        snprintf(err, errlen, "runtime already started");
        return -EBUSY;
    }
    if (n == 0)
        n = default_workers();
    no_linger = RUNNING_ON_VALGRIND;
    runtime *r = calloc(1, sizeof *r + n * sizeof r->workers[0]);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&r->launch_lock, NULL);
    atomic_fetch_add(&generation, 1);

    int result = 0;
    for (; r->n < n; r->n++) {
        lkio_worker *w = &r->workers[r->n];
        w->index = r->n;
        w->wake_fd = eventfd(0, EFD_CLOEXEC);
        if (w->wake_fd < 0) {
            result = -errno;
            snprintf(err, errlen, "eventfd: %s", strerror(errno));
            break;
        }
    }
    if (result == 0)
        result = choose_backend(r, err, errlen);
    if (result < 0) { /* all or nothing */
        free_runtime(r);
        return result;
    }
    rt = r;
    lkio_blocking_restart();
    atomic_store(&lkio_state_, LKIO_RUNNING);
    return 0;
}

void lkio_stop(void (*before_join)(void))
{
    runtime *r = rt;
    if (!r)
        return;
    lkio_gate_close(); /* nobody is mid-call when the state flips */
    atomic_store(&lkio_state_, LKIO_STOPPED);
    lkio_gate_open();
    if (before_join) {
        lkio_enter();
        before_join();
        lkio_leave();
    }
    lkio_blocking_stop(); /* its last items' dones still find their workers */

    pthread_mutex_lock(&r->launch_lock);
    r->stopping = true;
    pthread_mutex_unlock(&r->launch_lock);
    for (unsigned i = 0; i < r->n; i++) {
        lkio_worker *w = &r->workers[i];
        if (atomic_load(&w->launched)) {
            lkio_post(w, &w->stop_task, on_stop);
            pthread_join(w->thread, NULL);
        } else { /* never used: its poller is still ours to close */
            lkio_enter(); /* so a fork sees the poller either whole or gone */
            poller_teardown(w);
            lkio_leave();
        }
    }

    /* Whatever was posted while the workers wound down still runs, here, as
     * if on its worker, so no task (and what it owns) is lost; with the gate
     * closed, so nobody still inside can post after the drain. */
    lkio_gate_close();
    tls_draining = true;
    for (bool ran = true; ran;) {
        ran = false;
        for (unsigned i = 0; i < r->n; i++) {
            if (!atomic_load(&r->workers[i].inbox))
                continue;
            tls_worker = &r->workers[i];
            run_inbox(tls_worker);
            ran = true;
        }
    }
    tls_draining = false;
    tls_worker = NULL;
    rt = NULL;
    free_runtime(r);
    lkio_gate_open();
}

void lkio_runtime_forked(void)
{
    if (rt)
        atomic_store(&lkio_state_, LKIO_STALE);
}

void lkio_discard_inherited(void)
{
    runtime *r = rt;
    if (!r || lkio_state() != LKIO_STALE)
        return;
    /* The descriptors are ours to close and must never be used: the
     * parent's rings and epoll sets live on behind them. */
    for (unsigned i = 0; i < r->n; i++)
        if (r->workers[i].poller)
            r->workers[i].be->discard(r->workers[i].poller);
    lkio_sockets_discard_inherited();
    rt = NULL;
    free_runtime(r);
    atomic_fetch_add(&generation, 1);
    atomic_store(&lkio_state_, LKIO_STOPPED);
}

void lkio_call_outside(void (*fn)(void *arg), void *arg)
{
    if (tls_draining) { /* the gate is closed, and closed by us */
        fn(arg);
        return;
    }
    lkio_leave();
    fn(arg);
    if (tls_worker &&
        (lkio_state() == LKIO_STALE || tls_generation != atomic_load(&generation)))
        pthread_exit(NULL); /* forked inside fn: this thread's runtime is not here */
    lkio_enter();
}
