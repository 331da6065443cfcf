/*
 * gate.c: the fork gate.
 *
 * Library code runs inside the gate. Closing it waits until no thread is
 * inside and keeps new ones out; fork() closes it in its prepare handler, so
 * the child's copy of every library structure is consistent and no library
 * lock is held. Entering is one atomic add and one load when the gate is open.
 */
#include "io_internal.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Atomic int gate_inside;  /* threads between enter and leave */
static _Atomic int gate_closed;  /* 1 while a closer waits or holds it */
static pthread_mutex_t gate_closer = PTHREAD_MUTEX_INITIALIZER;

static void futex_wait(_Atomic int *addr, int expected)
{
    syscall(SYS_futex, (int *)addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(_Atomic int *addr)
{
    syscall(SYS_futex, (int *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void lkio_enter(void)
{
    for (;;) {
        atomic_fetch_add(&gate_inside, 1);
        if (!atomic_load(&gate_closed))
            return;
        lkio_leave();
        while (atomic_load(&gate_closed))
            futex_wait(&gate_closed, 1);
    }
}

void lkio_leave(void)
{
    if (atomic_fetch_sub(&gate_inside, 1) == 1 && atomic_load(&gate_closed))
        futex_wake(&gate_inside);
}

void lkio_gate_close(void)
{
    pthread_mutex_lock(&gate_closer);
    atomic_store(&gate_closed, 1);
    int n;
    while ((n = atomic_load(&gate_inside)) != 0)
        futex_wait(&gate_inside, n);
}

void lkio_gate_open(void)
{
    atomic_store(&gate_closed, 0);
    futex_wake(&gate_closed);
    pthread_mutex_unlock(&gate_closer);
}

static void (*hook_prepare)(void), (*hook_parent)(void), (*hook_child)(void);

void lkio_set_fork_hooks(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    hook_prepare = prepare;
    hook_parent = parent;
    hook_child = child;
}

static void atfork_prepare(void)
{
    lkio_gate_close();
    if (hook_prepare)
        hook_prepare();
    lkio_blocking_fork_prepare();
}

static void atfork_parent(void)
{
    lkio_blocking_fork_parent();
    if (hook_parent)
        hook_parent();
    lkio_gate_open();
}

static void atfork_child(void)
{
    /* Only the forking thread exists here, and it was outside the gate. */
    lkio_blocking_fork_child();
    if (hook_child)
        hook_child();
    atomic_store(&gate_inside, 0);
    atomic_store(&gate_closed, 0);
    pthread_mutex_init(&gate_closer, NULL);
    lkio_runtime_forked();
}

/* At load time, so a fork before the first initialize is covered too. */
__attribute__((constructor)) static void gate_register_atfork(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}
