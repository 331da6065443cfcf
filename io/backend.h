/*
 * backend.h: what the runtime asks of an event backend, one poller per
 * worker. Internal to io/.
 *
 * runtime.c owns the threads, the inboxes, the timer heap and the gate; a
 * backend owns how a worker sleeps and how socket operations complete.
 * uring.c and epoll.c each fill one lkio_backend; lkio_start picks one for
 * the whole runtime. Every call but create, destroy and discard is made on
 * the worker's own thread, and every call but wait inside the gate.
 */
#ifndef LKIO_BACKEND_H
#define LKIO_BACKEND_H

#include "io.h"

typedef struct lkio_poller lkio_poller;

/* lkio_op.kind_: the request an op carries. */
enum lkio_op_kind { LKIO_OP_CONNECT, LKIO_OP_SEND, LKIO_OP_RECV, LKIO_OP_SENDMSG, LKIO_OP_RECVMSG };

typedef struct lkio_backend {
    const char *name;
    /* Makes one worker's poller, in the starting thread (so failures are
     * reported at once). wake_fd is the worker's eventfd, readable once
     * something was posted; it stays the runtime's. 0 or -errno + err. */
    int (*create)(lkio_poller **p, int wake_fd, char *err, size_t errlen);
    /* The first call on the worker's thread. */
    void (*attach)(lkio_poller *p);
    /* Wake up no later than this absolute CLOCK_MONOTONIC time. */
    void (*set_deadline)(lkio_poller *p, uint64_t deadline_ns);
    /* Starts what was submitted; true if completions wait for deliver.
     * Never blocks. */
    bool (*flush)(lkio_poller *p);
    /* Blocks until a completion, a wake-up or the deadline; at most
     * timeout_ms (-1: no bound). Outside the gate: touches only p. */
    void (*wait)(lkio_poller *p, int timeout_ms);
    /* Runs the callbacks of the operations that have completed. */
    void (*deliver)(lkio_poller *p);
    /* Operations submitted whose callback has not run yet. */
    unsigned (*in_flight)(const lkio_poller *p);
    /* op carries its request (kind_, fd_, arg_, len_), fn_ and pending_. */
    void (*submit)(lkio_poller *p, lkio_op *op);
    void (*cancel)(lkio_poller *p, lkio_op *op);
    /* fd is about to be closed: stop watching it. */
    void (*forget_fd)(lkio_poller *p, int fd);
    /* Frees p: on its thread, or for a worker never launched. */
    void (*destroy)(lkio_poller *p);
    /* In a fork child: closes p's inherited descriptors and frees p without
     * touching what the parent shares (the ring, the epoll interest list). */
    void (*discard)(lkio_poller *p);
} lkio_backend;

extern const lkio_backend lkio_backend_uring;
extern const lkio_backend lkio_backend_epoll;

/* How a backend ends an op: exactly once, on the loop. */
static inline void lkio_op_complete(lkio_op *op, int res)
{
    op->pending_ = false;
    op->fn_(op, res);
}

#endif
