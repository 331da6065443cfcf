/* io_internal.h: what the files of io/ share and nobody else sees. */
#ifndef LKIO_IO_INTERNAL_H
#define LKIO_IO_INTERNAL_H

#include "io.h"

/* Waits until no thread is inside the gate and keeps new ones out. */
void lkio_gate_close(void);
void lkio_gate_open(void);

/* Called in a fork child (single-threaded) to mark an inherited runtime. */
void lkio_runtime_forked(void);

/* fd is about to be closed: the calling worker's backend stops watching it. */
void lkio_runtime_fd_closing(int fd);

/* In a fork child: closes every socket lkio_socket() made in the parent. */
void lkio_sockets_discard_inherited(void);

/* The blocking thread (blocking.c): lkio_stop ends it while the workers
 * still run, lkio_start allows it again; the fork handlers keep its queue
 * consistent and let the child forget the parent's. */
void lkio_blocking_stop(void);
void lkio_blocking_restart(void);
void lkio_blocking_fork_prepare(void);
void lkio_blocking_fork_parent(void);
void lkio_blocking_fork_child(void);

#endif
