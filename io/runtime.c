/*
 * runtime.c: worker threads, their rings, task inboxes and timers.
 *
 * Each worker owns one io_uring and runs this loop, inside the gate except
 * while it waits in io_uring_enter:
 *
 *     run the inbox (tasks posted from any thread, in order)
 *     run the timers that are due
 *     arm one IORING_OP_TIMEOUT (absolute) for the earliest timer
 *     announce sleep, then wait for a completion
 *
 * The inbox is a lock-free stack; the worker takes it whole and reverses it.
 * A poster wakes a sleeping worker by writing the worker's eventfd, on which
 * the ring always has a read armed: no polling while idle, and no syscall
 * when the worker is awake anyway.
 *
 * Rings are made when the runtime starts; a worker's thread only when
 * something is first posted to it (as libuv starts its thread pool), so a
 * client that only makes synchronous requests, or a fork child that only
 * reinitializes, never pays for threads it does not use.
 */
#include "io_internal.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
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

enum { RING_ENTRIES = 64 };

/* After a burst of work a worker keeps looking at its inbox this long
 * before it sleeps: a request that follows its predecessor's callback then
 * skips the ~10 us of an eventfd wake-up. Bounded, so an idle worker costs
 * nothing; 20 us per burst at most. */
static const uint64_t LINGER_NS = 20000;

/* Valgrind (3.19) treats io_uring_enter as a syscall that never blocks and
 * keeps its global lock through it, so a worker waiting there would stop
 * every other thread. Under valgrind the worker blocks in poll() on the ring
 * fd instead; every ring operation stays the same. */
static bool wait_in_poll;

/* user_data of our own ring operations */
enum { TAG_WAKE = 1, TAG_TIMEOUT = 2, TAG_TIMEOUT_UPDATE = 3, TAG_CANCEL = 4 };

struct lkio_worker {
    struct io_uring ring;
    int ring_fd; /* -1 once the ring is gone; what a fork child must close */
    int wake_fd; /* eventfd; -1 once closed */
    uint64_t wake_value;
    _Atomic(lkio_task *) inbox;
    _Atomic int sleeping;
    lkio_task stop_task;
    bool stopping;

    lkio_timer **heap; /* min-heap on deadline_ns */
    size_t heap_len, heap_cap;
    bool timeout_armed;
    uint64_t armed_deadline;
    struct __kernel_timespec armed_ts;
    unsigned in_flight; /* socket ops submitted and not yet completed */

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

/* --- the ring -------------------------------------------------------------- */

static struct io_uring_sqe *get_sqe(lkio_worker *w)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (!sqe) {
        io_uring_submit(&w->ring);
        sqe = io_uring_get_sqe(&w->ring);
    }
    return sqe;
}

static void arm_wake(lkio_worker *w)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_read(sqe, w->wake_fd, &w->wake_value, sizeof w->wake_value, 0);
    io_uring_sqe_set_data64(sqe, TAG_WAKE);
}

/* One pending timeout at most: moved earlier with TIMEOUT_UPDATE; a timeout
 * that turns out early just fires and is ignored. */
static void arm_timeout(lkio_worker *w)
{
    if (!w->heap_len)
        return;
    uint64_t want = w->heap[0]->deadline_ns;
    if (w->timeout_armed && w->armed_deadline <= want)
        return;
    w->armed_ts.tv_sec = (long long)(want / 1000000000u);
    w->armed_ts.tv_nsec = (long long)(want % 1000000000u);
    struct io_uring_sqe *sqe = get_sqe(w);
    if (w->timeout_armed) {
        io_uring_prep_timeout_update(sqe, &w->armed_ts, TAG_TIMEOUT, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(sqe, TAG_TIMEOUT_UPDATE);
    } else {
        io_uring_prep_timeout(sqe, &w->armed_ts, 0, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(sqe, TAG_TIMEOUT);
    }
    w->timeout_armed = true;
    w->armed_deadline = want;
}

/* Completions are taken off the ring in batches before any op's callback
 * runs, so a callback may start new operations freely. */
static void reap(lkio_worker *w)
{
    enum { BATCH = 32 };
    struct io_uring_cqe *cqes[BATCH];
    struct {
        uint64_t tag;
        int res;
    } done[BATCH];
    bool rearm_wake = false;
    unsigned n;
    while ((n = io_uring_peek_batch_cqe(&w->ring, cqes, BATCH)) > 0) {
        for (unsigned i = 0; i < n; i++) {
            done[i].tag = cqes[i]->user_data;
            done[i].res = cqes[i]->res;
        }
        io_uring_cq_advance(&w->ring, n);
        for (unsigned i = 0; i < n; i++) {
            switch (done[i].tag) {
            case TAG_WAKE:
                rearm_wake = true;
                break;
            case TAG_TIMEOUT:
                w->timeout_armed = false;
                break;
            case TAG_TIMEOUT_UPDATE: /* a failed update means the timeout fired */
            case TAG_CANCEL:
                break;
            default: {
                lkio_op *op = (lkio_op *)(uintptr_t)done[i].tag;
                w->in_flight--;
                op->pending_ = false;
                op->fn_(op, done[i].res);
            }
            }
        }
        if (n < BATCH)
            break;
    }
    if (rearm_wake)
        arm_wake(w);
}

/* --- socket operations ----------------------------------------------------- */

/* After the prep: prep helpers may reset the whole sqe. */
static void submit_op(lkio_worker *w, struct io_uring_sqe *sqe, lkio_op *op, lkio_op_fn fn)
{
    op->fn_ = fn;
    op->pending_ = true;
    w->in_flight++;
    io_uring_sqe_set_data(sqe, op);
}

void lkio_connect(lkio_worker *w, lkio_op *op, int fd, const struct sockaddr *addr,
                  socklen_t addrlen, lkio_op_fn fn)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_connect(sqe, fd, addr, addrlen);
    submit_op(w, sqe, op, fn);
}

void lkio_send(lkio_worker *w, lkio_op *op, int fd, const void *buf, size_t len, lkio_op_fn fn)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
    submit_op(w, sqe, op, fn);
}

void lkio_recv(lkio_worker *w, lkio_op *op, int fd, void *buf, size_t len, lkio_op_fn fn)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_recv(sqe, fd, buf, len, 0);
    submit_op(w, sqe, op, fn);
}

void lkio_sendmsg(lkio_worker *w, lkio_op *op, int fd, const struct msghdr *msg, lkio_op_fn fn)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL);
    submit_op(w, sqe, op, fn);
}

void lkio_recvmsg(lkio_worker *w, lkio_op *op, int fd, struct msghdr *msg, lkio_op_fn fn)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_recvmsg(sqe, fd, msg, 0);
    submit_op(w, sqe, op, fn);
}

void lkio_cancel(lkio_worker *w, lkio_op *op)
{
    if (!op->pending_)
        return;
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_cancel(sqe, op, 0);
    io_uring_sqe_set_data64(sqe, TAG_CANCEL);
}

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
    /* Socket work goes out at once, and with deferred task work the kernel
     * posts completions only when asked: ask on every round that has any in
     * flight, so a busy inbox cannot starve them. */
    if (io_uring_sq_ready(&w->ring) || w->in_flight) {
        io_uring_submit_and_get_events(&w->ring);
        if (io_uring_cq_ready(&w->ring))
            return;
    }
    if (!wait_in_poll && linger(w))
        return; /* under valgrind, spinning only slows everyone down */
    atomic_store(&w->sleeping, 1);
    if (atomic_load(&w->inbox)) {
        atomic_store(&w->sleeping, 0);
        if (io_uring_sq_ready(&w->ring))
            io_uring_submit(&w->ring);
        return;
    }
    lkio_leave();
    if (wait_in_poll) {
        io_uring_submit(&w->ring);
        struct pollfd p = {.fd = w->ring_fd, .events = POLLIN};
        if (!io_uring_cq_ready(&w->ring))
            poll(&p, 1, -1);
    } else {
        io_uring_submit_and_wait(&w->ring, 1); /* -EINTR: just go round */
    }
    lkio_enter();
    atomic_store(&w->sleeping, 0);
}

/* Owners cancel their socket ops when they close; before the ring goes,
 * let those cancellations complete so each owner sees its ops end and frees
 * itself. Bounded: an op nobody cancelled is abandoned after a second. */
static void drain_ops(lkio_worker *w)
{
    uint64_t give_up = lkio_now_ns() + 1000000000u;
    while (w->in_flight && lkio_now_ns() < give_up) {
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 10000000};
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
        reap(w);
        run_inbox(w); /* what the completions posted */
    }
}

static void on_stop(lkio_task *t)
{
    lkio_container_of(t, lkio_worker, stop_task)->stopping = true;
}

/* In the starting thread, so failures are reported at once. The ring starts
 * disabled: the worker enables it, which makes the worker its single
 * issuer (the kernel then skips cross-thread care). */
static int ring_setup(lkio_worker *w)
{
    unsigned flags = IORING_SETUP_R_DISABLED;
    if (!wait_in_poll) /* deferred task work only shows inside io_uring_enter */
        flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int r = io_uring_queue_init(RING_ENTRIES, &w->ring, flags);
    if (r == -EINVAL) /* an older kernel */
        r = io_uring_queue_init(RING_ENTRIES, &w->ring, IORING_SETUP_R_DISABLED);
    if (r < 0)
        return r;
    /* A fork child must not see (let alone reap from) this ring's memory. */
    r = io_uring_ring_dontfork(&w->ring);
    if (r < 0) {
        io_uring_queue_exit(&w->ring);
        return r;
    }
    w->ring_fd = w->ring.ring_fd;
    return 0;
}

/* Inside the gate, so a fork sees the ring either whole or gone. The
 * eventfd outlives the thread: posters may still be writing to it. */
static void ring_teardown(lkio_worker *w)
{
    io_uring_queue_exit(&w->ring);
    w->ring_fd = -1;
}

static void *worker_main(void *arg)
{
    lkio_worker *w = arg;
    char name[16];
    snprintf(name, sizeof name, "lkffi-io-%u", w->index);
    pthread_setname_np(pthread_self(), name);
    tls_worker = w;
    tls_generation = atomic_load(&generation);
    io_uring_enable_rings(&w->ring); /* from here on, only this thread submits */

    lkio_enter();
    arm_wake(w);
    while (!w->stopping) {
        run_inbox(w);
        run_timers(w);
        if (w->stopping)
            break;
        arm_timeout(w);
        worker_wait(w);
        reap(w);
    }
    drain_ops(w);
    ring_teardown(w);
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

int lkio_start(unsigned n, char *err, size_t errlen)
{
    if (rt) {
        snprintf(err, errlen, "runtime already started");
        return -EBUSY;
    }
    if (n == 0)
        n = default_workers();
    wait_in_poll = RUNNING_ON_VALGRIND;
    runtime *r = calloc(1, sizeof *r + n * sizeof r->workers[0]);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&r->launch_lock, NULL);
    atomic_fetch_add(&generation, 1);

    int result = 0;
    unsigned made = 0;
    for (; made < n; made++) {
        lkio_worker *w = &r->workers[made];
        w->index = made;
        w->ring_fd = -1;
        w->wake_fd = eventfd(0, EFD_CLOEXEC);
        if (w->wake_fd < 0) {
            result = -errno;
            snprintf(err, errlen, "eventfd: %s", strerror(errno));
            break;
        }
        int e = ring_setup(w);
        if (e < 0) {
            close(w->wake_fd);
            result = e;
            snprintf(err, errlen, "io_uring_queue_init: %s", strerror(-e));
            break;
        }
    }
    r->n = made;
    if (result < 0) { /* all or nothing */
        for (unsigned i = 0; i < made; i++)
            io_uring_queue_exit(&r->workers[i].ring);
        free_runtime(r);
        return result;
    }
    rt = r;
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

    pthread_mutex_lock(&r->launch_lock);
    r->stopping = true;
    pthread_mutex_unlock(&r->launch_lock);
    for (unsigned i = 0; i < r->n; i++) {
        lkio_worker *w = &r->workers[i];
        if (atomic_load(&w->launched)) {
            lkio_post(w, &w->stop_task, on_stop);
            pthread_join(w->thread, NULL);
        } else { /* never used: its ring is still ours to close */
            lkio_enter(); /* so a fork sees the ring either whole or gone */
            io_uring_queue_exit(&w->ring);
            w->ring_fd = -1;
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
    /* The ring memory is not mapped here (MADV_DONTFORK); the descriptors
     * are ours to close and must never be used. */
    for (unsigned i = 0; i < r->n; i++)
        if (r->workers[i].ring_fd >= 0)
            close(r->workers[i].ring_fd);
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
