/*
 * uring.c: the io_uring backend.
 *
 * Each worker owns one ring. A read is always armed on the worker's eventfd,
 * so a post wakes a sleeping worker; one IORING_OP_TIMEOUT (absolute) is
 * armed for the earliest timer; socket operations are ring operations whose
 * user_data is the lkio_op.
 */
#include "backend.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

enum { RING_ENTRIES = 64 };

/* user_data of our own ring operations */
enum { TAG_WAKE = 1, TAG_TIMEOUT = 2, TAG_TIMEOUT_UPDATE = 3, TAG_CANCEL = 4 };

struct lkio_poller {
    struct io_uring ring;
    int ring_fd; /* what a fork child must close */
    int wake_fd;
    uint64_t wake_value;
    /* Valgrind (3.19) treats io_uring_enter as a syscall that never blocks
     * and keeps its global lock through it, so a worker waiting there would
     * stop every other thread. Under valgrind the worker blocks in poll() on
     * the ring fd instead; every ring operation stays the same. */
    bool wait_in_poll;
    bool timeout_armed;
    uint64_t armed_deadline;
    struct __kernel_timespec armed_ts;
    unsigned in_flight; /* socket ops submitted and not yet completed */
};

static struct io_uring_sqe *get_sqe(lkio_poller *p)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&p->ring);
    if (!sqe) {
        io_uring_submit(&p->ring);
        sqe = io_uring_get_sqe(&p->ring);
    }
    return sqe;
}

static void arm_wake(lkio_poller *p)
{
    struct io_uring_sqe *sqe = get_sqe(p);
    io_uring_prep_read(sqe, p->wake_fd, &p->wake_value, sizeof p->wake_value, 0);
    io_uring_sqe_set_data64(sqe, TAG_WAKE);
}

/* The ring starts disabled: the worker enables it, which makes the worker
 * its single issuer (the kernel then skips cross-thread care). */
static int uring_create(lkio_poller **out, int wake_fd, char *err, size_t errlen)
{
    lkio_poller *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p->wake_fd = wake_fd;
    p->wait_in_poll = RUNNING_ON_VALGRIND;
    unsigned flags = IORING_SETUP_R_DISABLED;
    if (!p->wait_in_poll) /* deferred task work only shows inside io_uring_enter */
        flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int r = io_uring_queue_init(RING_ENTRIES, &p->ring, flags);
    if (r == -EINVAL) /* an older kernel */
        r = io_uring_queue_init(RING_ENTRIES, &p->ring, IORING_SETUP_R_DISABLED);
    if (r < 0) {
        snprintf(err, errlen, "io_uring_queue_init: %s", strerror(-r));
        free(p);
        return r;
    }
    /* A fork child must not see (let alone reap from) this ring's memory. */
    r = io_uring_ring_dontfork(&p->ring);
    if (r < 0) {
        snprintf(err, errlen, "io_uring_ring_dontfork: %s", strerror(-r));
        io_uring_queue_exit(&p->ring);
        free(p);
        return r;
    }
    p->ring_fd = p->ring.ring_fd;
    *out = p;
    return 0;
}

static void uring_attach(lkio_poller *p)
{
    io_uring_enable_rings(&p->ring); /* from here on, only this thread submits */
    arm_wake(p);
}

/* One pending timeout at most: moved earlier with TIMEOUT_UPDATE; a timeout
 * that turns out early just fires and is ignored. */
static void uring_set_deadline(lkio_poller *p, uint64_t want)
{
    if (p->timeout_armed && p->armed_deadline <= want)
        return;
    p->armed_ts.tv_sec = (long long)(want / 1000000000u);
    p->armed_ts.tv_nsec = (long long)(want % 1000000000u);
    struct io_uring_sqe *sqe = get_sqe(p);
    if (p->timeout_armed) {
        io_uring_prep_timeout_update(sqe, &p->armed_ts, TAG_TIMEOUT, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(sqe, TAG_TIMEOUT_UPDATE);
    } else {
        io_uring_prep_timeout(sqe, &p->armed_ts, 0, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(sqe, TAG_TIMEOUT);
    }
    p->timeout_armed = true;
    p->armed_deadline = want;
}

/* Socket work goes out at once, and with deferred task work the kernel
 * posts completions only when asked: ask on every round that has any in
 * flight, so a busy inbox cannot starve them. */
static bool uring_flush(lkio_poller *p)
{
    if (!io_uring_sq_ready(&p->ring) && !p->in_flight)
        return false;
    io_uring_submit_and_get_events(&p->ring);
    return io_uring_cq_ready(&p->ring) > 0;
}

static void uring_wait(lkio_poller *p, int timeout_ms)
{
    if (timeout_ms >= 0) {
        struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                       .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&p->ring, &cqe, 1, &ts, NULL);
    } else if (p->wait_in_poll) {
        io_uring_submit(&p->ring);
        struct pollfd pfd = {.fd = p->ring_fd, .events = POLLIN};
        if (!io_uring_cq_ready(&p->ring))
            poll(&pfd, 1, -1);
    } else {
        io_uring_submit_and_wait(&p->ring, 1); /* -EINTR: just go round */
    }
}

/* Completions are taken off the ring in batches before any op's callback
 * runs, so a callback may start new operations freely. */
static void uring_deliver(lkio_poller *p)
{
    enum { BATCH = 32 };
    struct io_uring_cqe *cqes[BATCH];
    struct {
        uint64_t tag;
        int res;
    } done[BATCH];
    bool rearm_wake = false;
    unsigned n;
    while ((n = io_uring_peek_batch_cqe(&p->ring, cqes, BATCH)) > 0) {
        for (unsigned i = 0; i < n; i++) {
            done[i].tag = cqes[i]->user_data;
            done[i].res = cqes[i]->res;
        }
        io_uring_cq_advance(&p->ring, n);
        for (unsigned i = 0; i < n; i++) {
            switch (done[i].tag) {
            case TAG_WAKE:
                rearm_wake = true;
                break;
            case TAG_TIMEOUT:
                p->timeout_armed = false;
                break;
            case TAG_TIMEOUT_UPDATE: /* a failed update means the timeout fired */
            case TAG_CANCEL:
                break;
            default:
                p->in_flight--;
                lkio_op_complete((lkio_op *)(uintptr_t)done[i].tag, done[i].res);
            }
        }
        if (n < BATCH)
            break;
    }
    if (rearm_wake)
        arm_wake(p);
}

static unsigned uring_in_flight(const lkio_poller *p)
{
    return p->in_flight;
}

static void uring_submit(lkio_poller *p, lkio_op *op)
{
    struct io_uring_sqe *sqe = get_sqe(p);
    switch (op->kind_) {
    case LKIO_OP_CONNECT:
        io_uring_prep_connect(sqe, op->fd_, op->arg_, (socklen_t)op->len_);
        break;
    case LKIO_OP_SEND:
        io_uring_prep_send(sqe, op->fd_, op->arg_, op->len_, MSG_NOSIGNAL);
        break;
    case LKIO_OP_RECV:
        io_uring_prep_recv(sqe, op->fd_, op->arg_, op->len_, 0);
        break;
    case LKIO_OP_SENDMSG:
        io_uring_prep_sendmsg(sqe, op->fd_, op->arg_, MSG_NOSIGNAL);
        break;
    case LKIO_OP_RECVMSG:
        io_uring_prep_recvmsg(sqe, op->fd_, op->arg_, 0);
        break;
    }
    /* After the prep: prep helpers may reset the whole sqe. */
    io_uring_sqe_set_data(sqe, op);
    p->in_flight++;
}

static void uring_cancel(lkio_poller *p, lkio_op *op)
{
    struct io_uring_sqe *sqe = get_sqe(p);
    io_uring_prep_cancel(sqe, op, 0);
    io_uring_sqe_set_data64(sqe, TAG_CANCEL);
}

/* The ring holds its own reference to the file of each op in flight. */
static void uring_forget_fd(lkio_poller *p, int fd)
{
}

static void uring_destroy(lkio_poller *p)
{
    io_uring_queue_exit(&p->ring);
    free(p);
}

/* The ring memory is not mapped here (MADV_DONTFORK); the descriptor is
 * ours to close and must never be used. */
static void uring_discard(lkio_poller *p)
{
    close(p->ring_fd);
    free(p);
}

const lkio_backend lkio_backend_uring = {
    .name = "io_uring",
    .create = uring_create,
    .attach = uring_attach,
    .set_deadline = uring_set_deadline,
    .flush = uring_flush,
    .wait = uring_wait,
    .deliver = uring_deliver,
    .in_flight = uring_in_flight,
    .submit = uring_submit,
    .cancel = uring_cancel,
    .forget_fd = uring_forget_fd,
    .destroy = uring_destroy,
    .discard = uring_discard,
};
