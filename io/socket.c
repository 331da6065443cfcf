/*
 * socket.c: the registry of sockets the runtime opened.
 *
 * A fork child inherits every descriptor. The parent's room sessions must
 * not notice: the child closes its copies (which sends nothing while the
 * parent still holds them) and never touches the sockets otherwise. The
 * registry is what lets it find them all. It is a plain array under a lock
 * taken inside the gate only, so fork() never copies it locked.
 */
#include "io_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int *fds;
static size_t n_fds, cap_fds;

int lkio_socket(int domain, int type, int protocol)
{
    int fd = socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
    if (fd < 0)
        return -errno;
    pthread_mutex_lock(&lock);
    if (n_fds == cap_fds) {
        size_t cap = cap_fds ? 2 * cap_fds : 16;
        int *grown = realloc(fds, cap * sizeof *grown);
        if (!grown)
            abort(); /* one int per socket: out of memory is fatal */
        fds = grown;
        cap_fds = cap;
    }
    fds[n_fds++] = fd;
    pthread_mutex_unlock(&lock);
    return fd;
}

void lkio_socket_close(int fd, bool graceful)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_fds; i++) {
        if (fds[i] == fd) {
            fds[i] = fds[--n_fds];
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    lkio_runtime_fd_closing(fd);
    if (graceful)
        shutdown(fd, SHUT_RDWR);
    close(fd);
}

void lkio_sockets_discard_inherited(void)
{
    for (size_t i = 0; i < n_fds; i++)
        close(fds[i]);
    free(fds);
    fds = NULL;
    n_fds = cap_fds = 0;
    pthread_mutex_init(&lock, NULL);
}
