/*
 * io.h: the runtime. A few worker threads, each driving its own event
 * backend: an io_uring where one can be set up, else epoll (chosen once, at
 * lkio_start; see backend.h). Nothing here depends on which one runs.
 *
 * Work is posted to a worker as an intrusive task (no allocation here); a
 * worker runs its tasks in the order they were posted, so everything an
 * object does on its worker happens in order. Timers run against absolute
 * CLOCK_MONOTONIC deadlines and belong to one worker.
 *
 * Fork safety rests on the gate: library code runs between lkio_enter() and
 * lkio_leave(); fork() waits (in a pthread_atfork handler) until no thread is
 * inside, so a child inherits consistent data. The child inherits no worker
 * threads and, by madvise(MADV_DONTFORK), no ring memory; lkio_state() says
 * LKIO_STALE there until lkio_discard_inherited() and a new lkio_start().
 *
 * This layer knows nothing of protobuf or of the FFI.
 */
#ifndef LKIO_IO_H
#define LKIO_IO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct lkio_worker lkio_worker;
typedef struct lkio_task lkio_task;
typedef struct lkio_timer lkio_timer;

typedef struct lkio_op lkio_op;
typedef struct lkio_work lkio_work;

typedef void (*lkio_task_fn)(lkio_task *task);
typedef void (*lkio_timer_fn)(lkio_timer *timer);
typedef void (*lkio_work_fn)(lkio_work *work);
/* res: what the syscall returns (bytes, 0) or -errno. */
typedef void (*lkio_op_fn)(lkio_op *op, int res);

/* Embed in the object that posts it; recover the object with container_of. */
struct lkio_task {
    lkio_task *next_;
    lkio_task_fn fn_;
};

struct lkio_timer {
    uint64_t deadline_ns;
    lkio_timer_fn fn_;
    size_t heap_index_; /* SIZE_MAX while not scheduled */
};

/* One socket operation in flight; embed it in its owner. The fields after
 * pending_ belong to the backend: they keep the request so that a readiness
 * backend (epoll) can try it again when the socket is ready. */
struct lkio_op {
    lkio_op_fn fn_;
    bool pending_;
    unsigned char kind_, state_;
    int fd_;
    int res_;
    void *arg_; /* buffer, msghdr or sockaddr */
    size_t len_;
    lkio_op *next_;
};

/* A call that may block, queued to the blocking thread; embed it in its
 * owner. The fields are the runtime's. */
struct lkio_work {
    lkio_work *next_;
    lkio_work_fn work_, done_;
    lkio_worker *w_;
    lkio_task task_;
};

enum lkio_state {
    LKIO_STOPPED = 0, /* never started, or stopped */
    LKIO_RUNNING = 1, /* started in this process */
    LKIO_STALE = 2,   /* started in a parent process: this is a fork child */
};

/* --- lifecycle: callers serialize these and call them outside the gate --- */

/* Starts n workers (0: LIVEKIT_FFI_WORKERS, else a default for this machine)
 * on one backend: LIVEKIT_FFI_IO=uring or epoll forces it, else io_uring if
 * a ring can be set up here, else epoll. Returns 0, or -errno with a reason
 * in err (a forced io_uring that is denied fails here). */
int lkio_start(unsigned n, char *err, size_t errlen);

/* The backend the last lkio_start chose ("io_uring" or "epoll"; "none"
 * before any), and why, in words, for the log. */
const char *lkio_backend_name(void);
const char *lkio_backend_reason(void);

/* Stops taking entries (lkio_state() turns LKIO_STOPPED while no thread is
 * inside the gate), calls before_join (if any) inside the gate while the
 * workers still run, lets them finish what is queued, and joins them. Not
 * from a worker. */
void lkio_stop(void (*before_join)(void));

/* In a fork child: forgets the parent's runtime (closes the inherited ring,
 * epoll, timerfd and eventfd descriptors, frees the memory) without touching
 * the parent's rings or epoll sets. Afterwards the state is LKIO_STOPPED. */
void lkio_discard_inherited(void);

extern _Atomic int lkio_state_;
static inline enum lkio_state lkio_state(void)
{
    return (enum lkio_state)atomic_load_explicit(&lkio_state_, memory_order_acquire);
}

unsigned lkio_worker_count(void);

/* --- the fork gate -------------------------------------------------------- */

void lkio_enter(void);
void lkio_leave(void);

/* Work for fork() once the gate is closed: prepare runs after the gate
 * closes (in the forking thread), parent and child before it opens again.
 * For structures used outside the gate, such as the handle table's locks.
 * Set once, before any fork that matters. */
void lkio_set_fork_hooks(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/* Calls fn(arg) outside the gate (for calls into client code, which may
 * block, fork or call back into the library). On a worker thread that wakes
 * up in a fork child whose runtime it no longer belongs to, never returns:
 * the thread exits. */
void lkio_call_outside(void (*fn)(void *arg), void *arg);

/* --- workers and tasks ---------------------------------------------------- */

/* Workers are handed out round robin; an object keeps its worker for life. */
lkio_worker *lkio_pick_worker(void);
/* The same, avoiding `busy` unless it is the only worker: a stream's
 * delivery (which calls into the client) away from its source's clock. */
lkio_worker *lkio_pick_worker_except(const lkio_worker *busy);
lkio_worker *lkio_worker_at(unsigned i);

/* The worker running the calling thread, or NULL. */
lkio_worker *lkio_current(void);

/* Any thread. The task must not be posted again until fn has started. */
void lkio_post(lkio_worker *w, lkio_task *task, lkio_task_fn fn);

/* Runs fn(arg, i) for every i in [0, n), on the calling thread and on up
 * to n - 1 other workers at once, and returns when all have returned: a
 * task's independent pieces (the layers of one picture) in parallel. The
 * pieces must not touch each other's state, nor post to or wait for the
 * workers. Any thread; on a worker, the others are helped only if idle
 * soon (the caller takes what they have not). With one worker, or one
 * piece, all run in the caller. */
void lkio_parallel(unsigned n, void (*fn)(void *arg, unsigned i), void *arg);

/* --- the blocking thread ----------------------------------------------------
 *
 * For the calls no worker may make: the file system's (open, write, close).
 * Runs work(item) on one thread of its own, started when first needed, in
 * the order items were queued, outside the gate (work touches only what
 * item's owner gave it), then done(item) on worker w like a posted task.
 * Any thread, inside the gate. An item is queued again only from its done.
 * Once lkio_stop has begun, work runs in the caller (the owner's last
 * steps); done still comes later, on w. */
void lkio_queue_work(lkio_worker *w, lkio_work *item, lkio_work_fn work, lkio_work_fn done);

/* --- timers: only on the timer's own worker thread ------------------------ */

uint64_t lkio_now_ns(void);

static inline void lkio_timer_init(lkio_timer *t, lkio_timer_fn fn)
{
    t->deadline_ns = 0;
    t->fn_ = fn;
    t->heap_index_ = SIZE_MAX;
}

/* (Re)schedules t at an absolute CLOCK_MONOTONIC time. */
void lkio_timer_start(lkio_worker *w, lkio_timer *t, uint64_t deadline_ns);
void lkio_timer_stop(lkio_worker *w, lkio_timer *t);

static inline bool lkio_timer_active(const lkio_timer *t)
{
    return t->heap_index_ != SIZE_MAX;
}

/* --- sockets ---------------------------------------------------------------
 *
 * Operations are submitted by, and complete on, the worker w that owns the
 * socket, from w's own thread; fn runs there with the result. Buffers,
 * addresses and msghdrs must stay valid until fn runs. An op struct carries
 * one operation at a time. The worker never blocks on a socket: io_uring
 * waits for readiness inside the ring; the epoll backend tries the syscall
 * when the socket is ready. Either way fn runs exactly once, later, on the
 * loop (never inside the call that started the op).
 *
 * Lifecycle: an owner that goes away cancels what it has in flight and frees
 * itself only after every op it started has completed (a cancelled op
 * completes with -ECANCELED, or with its result if it won the race). */

void lkio_connect(lkio_worker *w, lkio_op *op, int fd, const struct sockaddr *addr,
                  socklen_t addrlen, lkio_op_fn fn);
void lkio_send(lkio_worker *w, lkio_op *op, int fd, const void *buf, size_t len, lkio_op_fn fn);
void lkio_recv(lkio_worker *w, lkio_op *op, int fd, void *buf, size_t len, lkio_op_fn fn);
void lkio_sendmsg(lkio_worker *w, lkio_op *op, int fd, const struct msghdr *msg, lkio_op_fn fn);
void lkio_recvmsg(lkio_worker *w, lkio_op *op, int fd, struct msghdr *msg, lkio_op_fn fn);
void lkio_cancel(lkio_worker *w, lkio_op *op);

static inline bool lkio_op_pending(const lkio_op *op)
{
    return op->pending_;
}

/* Sockets the runtime knows about, so a fork child can drop the parent's
 * without a byte on the wire: lkio_discard_inherited() closes every one of
 * them (a close in the child sends nothing while the parent holds the
 * socket). Inside the gate. The socket is non-blocking. Returns the fd or
 * -errno. */
int lkio_socket(int domain, int type, int protocol);

/* graceful: shutdown(SHUT_RDWR) first, so a TCP FIN goes out even while a
 * fork child still holds a copy of the descriptor; else just close. */
void lkio_socket_close(int fd, bool graceful);

#define lkio_container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
