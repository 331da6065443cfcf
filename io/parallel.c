/*
 * parallel.c: one call's independent pieces on several workers (io.h).
 *
 * The caller takes pieces itself while helpers, posted to other workers,
 * take the rest: each piece is claimed once (an atomic counter), and the
 * caller returns when every piece is done. A helper that starts late, or
 * on a worker busy with its own call, finds nothing left and leaves; so no
 * worker ever waits for another to become free, only for pieces already
 * running, which cannot deadlock. The shared state is counted: the last of
 * the caller and its helpers frees it.
 */
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "io.h"

enum { MAX_HELPERS = 8 };

typedef struct job job;

typedef struct helper {
    lkio_task task;
    job *job;
} helper;

struct job {
    _Atomic unsigned refs;
    _Atomic unsigned next;   /* the next piece to claim */
    _Atomic uint32_t done;   /* pieces finished; the caller's futex word */
    unsigned n;
    void (*fn)(void *arg, unsigned i);
    void *arg;
    helper helpers[MAX_HELPERS];
};

static void release(job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) == 1)
        free(j);
}

/* Claims and runs pieces until none is left. */
static void take_pieces(job *j)
{
    unsigned i;
    while ((i = atomic_fetch_add(&j->next, 1)) < j->n) {
        j->fn(j->arg, i);
        if (atomic_fetch_add(&j->done, 1) + 1 == j->n)
            syscall(SYS_futex, &j->done, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    }
}

static void on_helper(lkio_task *t)
{
    job *j = ((helper *)t)->job;
    take_pieces(j);
    release(j);
}

void lkio_parallel(unsigned n, void (*fn)(void *arg, unsigned i), void *arg)
{
    unsigned workers = lkio_worker_count();
    if (n <= 1 || workers <= 1) {
        for (unsigned i = 0; i < n; i++)
            fn(arg, i);
        return;
    }
    unsigned helpers = n - 1 < workers - 1 ? n - 1 : workers - 1;
    if (helpers > MAX_HELPERS)
        helpers = MAX_HELPERS;
    job *j = malloc(sizeof *j);
    if (!j)
        abort();
    atomic_init(&j->refs, 1 + helpers);
    atomic_init(&j->next, 0);
    atomic_init(&j->done, 0);
    j->n = n;
    j->fn = fn;
    j->arg = arg;
    /* the workers after the caller's, round the ring */
    const lkio_worker *self = lkio_current();
    unsigned at = 0;
    while (self && at < workers && lkio_worker_at(at) != self)
        at++;
    for (unsigned k = 0, w = at + 1; k < helpers; k++, w++) {
        if (self && w % workers == at)
            w++;
        j->helpers[k].job = j;
        lkio_post(lkio_worker_at(w % workers), &j->helpers[k].task, on_helper);
    }
    take_pieces(j);
    uint32_t d;
    while ((d = atomic_load(&j->done)) != n)
        syscall(SYS_futex, &j->done, FUTEX_WAIT_PRIVATE, d, NULL, NULL, 0);
    release(j);
}
