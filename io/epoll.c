/*
 * epoll.c: the epoll backend, for where io_uring is denied (the default
 * seccomp profiles of Docker and containerd, kernel.io_uring_disabled).
 *
 * Each worker owns an epoll set watching its eventfd (posts), a timerfd
 * armed at the earliest timer's absolute deadline, and the sockets its
 * operations wait on. Socket operations are emulated as completions: an op
 * waits in its fd's read or write queue, its syscall is tried when the fd
 * is ready, and the result goes to a done list whose callbacks run in
 * deliver, so no callback runs inside the call that started the op.
 *
 * One registration per fd, its mask the union of its non-empty queues. The
 * mask is brought up to date once per round (sync), not on every submit:
 * an op re-armed from its own callback costs no epoll_ctl.
 */
#include "backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum { MAX_EVENTS = 64 };
enum { READ, WRITE };
/* lkio_op.state_ */
enum { OP_NEW, OP_WAITING, OP_DONE };

typedef struct {
    lkio_op *queue[2];   /* [READ] and [WRITE], each in submission order */
    uint32_t registered; /* the fd's mask in the epoll set; 0: not in it */
    bool dirty;          /* on the poller's dirty list */
} watch;

struct lkio_poller {
    int epoll_fd, timer_fd, wake_fd;
    uint64_t armed_deadline; /* 0: the timerfd is not armed */
    watch *watches;          /* by fd */
    int n_watches;
    int *dirty; /* fds whose queues changed since the last sync */
    size_t n_dirty, cap_dirty;
    lkio_op *done, *done_tail; /* completed; callbacks not run yet */
    unsigned in_flight;        /* submitted; callbacks not run yet */
    unsigned waiting;          /* in some queue */
    struct epoll_event events[MAX_EVENTS];
    int n_events; /* collected, not processed yet */
};

static void *grow(void *array, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return array;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    array = realloc(array, n * size);
    if (!array)
        abort(); /* a few bytes per socket: out of memory is fatal */
    *cap = n;
    return array;
}

static int direction(const lkio_op *op)
{
    return op->kind_ == LKIO_OP_RECV || op->kind_ == LKIO_OP_RECVMSG ? READ : WRITE;
}

static void finish(lkio_poller *p, lkio_op *op, int res)
{
    op->res_ = res;
    op->state_ = OP_DONE;
    op->next_ = NULL;
    if (p->done_tail)
        p->done_tail->next_ = op;
    else
        p->done = op;
    p->done_tail = op;
}

static void mark_dirty(lkio_poller *p, int fd)
{
    watch *wt = &p->watches[fd];
    if (wt->dirty)
        return;
    wt->dirty = true;
    p->dirty = grow(p->dirty, &p->cap_dirty, p->n_dirty + 1, sizeof *p->dirty);
    p->dirty[p->n_dirty++] = fd;
}

/* --- trying the syscalls ----------------------------------------------------- */

/* A non-blocking connect is called once; its outcome is read from SO_ERROR
 * once the fd turns writable (ready). */
static int try_connect(lkio_op *op, bool ready)
{
    if (op->state_ == OP_NEW) {
        if (connect(op->fd_, op->arg_, (socklen_t)op->len_) == 0)
            return 0;
        if (errno == EINPROGRESS)
            return -EAGAIN;
        return -errno;
    }
    if (!ready)
        return -EAGAIN;
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(op->fd_, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        return -errno;
    return -e;
}

/* The syscall's result, -errno, or -EAGAIN: try again once ready. */
static int try_op(lkio_op *op, bool ready)
{
    ssize_t r;
    switch (op->kind_) {
    case LKIO_OP_CONNECT:
        return try_connect(op, ready);
    case LKIO_OP_SEND:
        r = send(op->fd_, op->arg_, op->len_, MSG_DONTWAIT | MSG_NOSIGNAL);
        break;
    case LKIO_OP_RECV:
        r = recv(op->fd_, op->arg_, op->len_, MSG_DONTWAIT);
        break;
    case LKIO_OP_SENDMSG:
        r = sendmsg(op->fd_, op->arg_, MSG_DONTWAIT | MSG_NOSIGNAL);
        break;
    default:
        r = recvmsg(op->fd_, op->arg_, MSG_DONTWAIT);
        break;
    }
    if (r >= 0)
        return (int)r; /* at most len_, and io.h's lengths fit an int as io_uring's do */
    return errno == EINTR ? -EAGAIN : -errno;
}

/* Tries one queue's ops in order until one would block. True if any ended. */
static bool run_queue(lkio_poller *p, watch *wt, int dir, bool ready)
{
    bool ended = false;
    lkio_op *op;
    while ((op = wt->queue[dir])) {
        int r = try_op(op, ready);
        if (r == -EAGAIN) {
            op->state_ = OP_WAITING;
            break;
        }
        wt->queue[dir] = op->next_;
        p->waiting--;
        finish(p, op, r);
        ended = true;
    }
    return ended;
}

static void fail_queues(lkio_poller *p, watch *wt, int res)
{
    for (int dir = READ; dir <= WRITE; dir++) {
        while (wt->queue[dir]) {
            lkio_op *op = wt->queue[dir];
            wt->queue[dir] = op->next_;
            p->waiting--;
            finish(p, op, res);
        }
    }
}

/* --- the epoll set --------------------------------------------------------- */

static int set_interest(lkio_poller *p, int fd, uint32_t had, uint32_t want)
{
    struct epoll_event ev = {.events = want, .data.fd = fd};
    int op = !want ? EPOLL_CTL_DEL : had ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(p->epoll_fd, op, fd, &ev) == 0)
        return 0;
    /* The set and our record disagree (the fd was closed behind our back
     * and its number reused): make the set match the record. */
    if (op == EPOLL_CTL_ADD && errno == EEXIST)
        return epoll_ctl(p->epoll_fd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
    if (op == EPOLL_CTL_MOD && errno == ENOENT)
        return epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
    return op == EPOLL_CTL_DEL ? 0 : -errno;
}

/* Writes are tried at once (most go through without an epoll round trip);
 * then the mask follows the queues. */
static void sync_fd(lkio_poller *p, int fd)
{
    watch *wt = &p->watches[fd];
    wt->dirty = false;
    run_queue(p, wt, WRITE, false);
    uint32_t want = (wt->queue[READ] ? EPOLLIN : 0u) | (wt->queue[WRITE] ? EPOLLOUT : 0u);
    if (want == wt->registered)
        return;
    int r = set_interest(p, fd, wt->registered, want);
    if (r == 0) {
        wt->registered = want;
        return;
    }
    fail_queues(p, wt, r); /* not a file epoll can watch: the ops fail */
    if (wt->registered)
        set_interest(p, fd, wt->registered, 0);
    wt->registered = 0;
}

static void sync_all(lkio_poller *p)
{
    for (size_t i = 0; i < p->n_dirty; i++)
        sync_fd(p, p->dirty[i]);
    p->n_dirty = 0;
}

static void collect(lkio_poller *p, int timeout_ms)
{
    int n = epoll_wait(p->epoll_fd, p->events, MAX_EVENTS, timeout_ms);
    p->n_events = n < 0 ? 0 : n; /* EINTR: just go round */
}

static void read_counter(int fd)
{
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r; /* EAGAIN: a timerfd re-armed since it fired */
}

static void on_ready(lkio_poller *p, int fd, uint32_t events)
{
    if (fd < 0 || fd >= p->n_watches)
        return;
    watch *wt = &p->watches[fd];
    bool ended = false;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        ended |= run_queue(p, wt, READ, true);
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        ended |= run_queue(p, wt, WRITE, true);
    if (ended)
        mark_dirty(p, fd);
}

static void process_events(lkio_poller *p)
{
    for (int i = 0; i < p->n_events; i++) {
        int fd = p->events[i].data.fd;
        if (fd == p->wake_fd) {
            read_counter(fd);
        } else if (fd == p->timer_fd) {
            read_counter(fd);
            p->armed_deadline = 0;
        } else {
            on_ready(p, fd, p->events[i].events);
        }
    }
    p->n_events = 0;
}

/* --- the backend interface --------------------------------------------------- */

static void close_all(lkio_poller *p)
{
    if (p->epoll_fd >= 0)
        close(p->epoll_fd);
    if (p->timer_fd >= 0)
        close(p->timer_fd);
    free(p->watches);
    free(p->dirty);
    free(p);
}

static int watch_fd(lkio_poller *p, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static int ep_create(lkio_poller **out, int wake_fd, char *err, size_t errlen)
{
    lkio_poller *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p->wake_fd = wake_fd;
    p->timer_fd = -1;
    const char *what = NULL;
    if ((p->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        what = "epoll_create1";
    else if ((p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
        what = "timerfd_create";
    else if (watch_fd(p, wake_fd) < 0 || watch_fd(p, p->timer_fd) < 0)
        what = "epoll_ctl";
    if (what) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", what, strerror(e));
        close_all(p);
        return -e;
    }
    *out = p;
    return 0;
}

static void ep_attach(lkio_poller *p)
{
}

static void ep_set_deadline(lkio_poller *p, uint64_t want)
{
    if (want == p->armed_deadline)
        return;
    if (want == 0)
        want = 1; /* an it_value of 0 would disarm */
    struct itimerspec its = {.it_value = {.tv_sec = (time_t)(want / 1000000000u),
                                          .tv_nsec = (long)(want % 1000000000u)}};
    timerfd_settime(p->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
    p->armed_deadline = want;
}

/* Looks at the sockets on every round that has ops waiting, so a busy inbox
 * cannot starve them. */
static bool ep_flush(lkio_poller *p)
{
    sync_all(p);
    if (p->waiting && !p->n_events)
        collect(p, 0);
    return p->done || p->n_events;
}

static void ep_wait(lkio_poller *p, int timeout_ms)
{
    if (!p->done && !p->n_events)
        collect(p, timeout_ms);
}

/* The done list is taken whole before any callback runs: what the callbacks
 * complete (a cancel, say) is delivered on the next round. */
static void ep_deliver(lkio_poller *p)
{
    process_events(p);
    lkio_op *op = p->done;
    p->done = p->done_tail = NULL;
    while (op) {
        lkio_op *next = op->next_; /* before fn: it may start op again */
        p->in_flight--;
        lkio_op_complete(op, op->res_);
        op = next;
    }
}

static unsigned ep_in_flight(const lkio_poller *p)
{
    return p->in_flight;
}

static void ep_submit(lkio_poller *p, lkio_op *op)
{
    p->in_flight++;
    op->state_ = OP_NEW;
    int fd = op->fd_;
    if (fd < 0) {
        finish(p, op, -EBADF);
        return;
    }
    if (fd >= p->n_watches) {
        size_t cap = (size_t)p->n_watches;
        p->watches = grow(p->watches, &cap, (size_t)fd + 1, sizeof *p->watches);
        memset(p->watches + p->n_watches, 0, (cap - (size_t)p->n_watches) * sizeof *p->watches);
        p->n_watches = (int)cap;
    }
    lkio_op **q = &p->watches[fd].queue[direction(op)];
    while (*q)
        q = &(*q)->next_;
    op->next_ = NULL;
    *q = op;
    p->waiting++;
    mark_dirty(p, fd);
}

static void ep_cancel(lkio_poller *p, lkio_op *op)
{
    if (op->state_ == OP_DONE || op->fd_ < 0 || op->fd_ >= p->n_watches)
        return; /* it won the race: its result stands */
    for (lkio_op **q = &p->watches[op->fd_].queue[direction(op)]; *q; q = &(*q)->next_) {
        if (*q == op) {
            *q = op->next_;
            p->waiting--;
            finish(p, op, -ECANCELED);
            mark_dirty(p, op->fd_);
            return;
        }
    }
}

/* While the fd is still open: a registration would otherwise outlive the
 * close whenever a fork child holds a copy of the socket. */
static void ep_forget_fd(lkio_poller *p, int fd)
{
    if (fd < 0 || fd >= p->n_watches)
        return;
    watch *wt = &p->watches[fd];
    fail_queues(p, wt, -ECANCELED);
    if (wt->registered)
        set_interest(p, fd, wt->registered, 0);
    wt->registered = 0;
}

/* Closing the epoll fd drops every registration at once; ops still queued
 * are abandoned, as the runtime's drain allows. */
static void ep_destroy(lkio_poller *p)
{
    close_all(p);
}

/* The epoll set is shared with the parent: close our descriptor for it,
 * never epoll_ctl on it. */
static void ep_discard(lkio_poller *p)
{
    close_all(p);
}

const lkio_backend lkio_backend_epoll = {
    .name = "epoll",
    .create = ep_create,
    .attach = ep_attach,
    .set_deadline = ep_set_deadline,
    .flush = ep_flush,
    .wait = ep_wait,
    .deliver = ep_deliver,
    .in_flight = ep_in_flight,
    .submit = ep_submit,
    .cancel = ep_cancel,
    .forget_fd = ep_forget_fd,
    .destroy = ep_destroy,
    .discard = ep_discard,
};
