/* Sockets on the ring, as the layers above use them: operations complete on
 * the owning worker with the syscall's result; cancelling completes the op;
 * a busy worker still sees its completions; fork children drop inherited
 * sockets without a byte on the wire, and a graceful close reaches the peer
 * even while a child holds a copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "io.h"
#include "wait.h"

static bool fcntl_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

static int setup(void **state)
{
    char err[128];
    assert_int_equal(lkio_start(2, err, sizeof err), 0);
    return 0;
}

static int teardown(void **state)
{
    lkio_stop(NULL);
    return 0;
}

/* A loopback TCP listener on an ephemeral port (plain blocking socket: the
 * test thread plays the remote peer). */
static int listener(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0);
    socklen_t len = sizeof *addr;
    assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &len), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

/* --- one client connection driven from a worker ---------------------------- */

typedef struct {
    lkio_task task;
    lkio_worker *w;
    lkio_op op;
    int fd;
    struct sockaddr_in peer;
    int result;
    sem_t done;
    /* echo */
    uint8_t *out, *in;
    size_t total, sent, received;
} conn;

static void conn_init(conn *c, const struct sockaddr_in *peer)
{
    memset(c, 0, sizeof *c);
    c->w = lkio_worker_at(0);
    c->peer = *peer;
    c->fd = -1;
    sem_init(&c->done, 0, 0);
}

static void connected(lkio_op *op, int res)
{
    conn *c = lkio_container_of(op, conn, op);
    c->result = res;
    sem_post(&c->done);
}

static void start_connect(lkio_task *t)
{
    conn *c = lkio_container_of(t, conn, task);
    c->fd = lkio_socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    lkio_connect(c->w, &c->op, c->fd, (struct sockaddr *)&c->peer, sizeof c->peer, connected);
}

static int connect_from_worker(conn *c)
{
    lkio_post(c->w, &c->task, start_connect);
    wait_sem(&c->done);
    return c->result;
}

static void close_task(lkio_task *t)
{
    conn *c = lkio_container_of(t, conn, task);
    lkio_socket_close(c->fd, true);
    sem_post(&c->done);
}

static void close_from_worker(conn *c)
{
    lkio_post(c->w, &c->task, close_task);
    wait_sem(&c->done);
}

static void connect_to_a_closed_port_is_refused(void **state)
{
    struct sockaddr_in addr;
    int l = listener(&addr);
    close(l); /* nobody listens there now */
    conn c;
    conn_init(&c, &addr);
    assert_int_equal(connect_from_worker(&c), -ECONNREFUSED);
    close_from_worker(&c);
}

/* The test thread echoes whatever arrives. */
static void *echo_peer(void *arg)
{
    int fd = *(int *)arg;
    uint8_t buf[16384];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t m = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (m <= 0)
                return NULL;
            off += m;
        }
    return NULL;
}

static void echo_step(lkio_op *op, int res);

static void echo_recv_done(lkio_op *op, int res)
{
    conn *c = lkio_container_of(op, conn, op);
    if (res <= 0) {
        c->result = res == 0 ? -EPIPE : res;
        sem_post(&c->done);
        return;
    }
    c->received += (size_t)res;
    echo_step(op, 0);
}

static void echo_send_done(lkio_op *op, int res)
{
    conn *c = lkio_container_of(op, conn, op);
    if (res < 0) {
        c->result = res;
        sem_post(&c->done);
        return;
    }
    c->sent += (size_t)res;
    echo_step(op, 0);
}

/* One op struct: alternate a send of up to 64 KiB and the receives that
 * bring it back. */
static void echo_step(lkio_op *op, int res)
{
    conn *c = lkio_container_of(op, conn, op);
    if (c->received == c->total) {
        c->result = 0;
        sem_post(&c->done);
    } else if (c->received < c->sent) {
        lkio_recv(c->w, &c->op, c->fd, c->in + c->received, c->sent - c->received, echo_recv_done);
    } else {
        size_t chunk = c->total - c->sent < 65536 ? c->total - c->sent : 65536;
        lkio_send(c->w, &c->op, c->fd, c->out + c->sent, chunk, echo_send_done);
    }
}

static void echo_begin(lkio_task *t)
{
    conn *c = lkio_container_of(t, conn, task);
    echo_step(&c->op, 0);
}

static void tcp_echo_of_one_mebibyte(void **state)
{
    struct sockaddr_in addr;
    int l = listener(&addr);
    conn c;
    conn_init(&c, &addr);
    assert_int_equal(connect_from_worker(&c), 0);
    int peer = accept(l, NULL, NULL);
    assert_true(peer >= 0);
    pthread_t th;
    pthread_create(&th, NULL, echo_peer, &peer);

    c.total = 1u << 20;
    c.out = malloc(c.total);
    c.in = calloc(1, c.total);
    for (size_t i = 0; i < c.total; i++)
        c.out[i] = (uint8_t)(i * 7 + (i >> 12));
    lkio_post(c.w, &c.task, echo_begin);
    wait_sem(&c.done);
    assert_int_equal(c.result, 0);
    assert_memory_equal(c.in, c.out, c.total);

    close_from_worker(&c);
    pthread_join(th, NULL);
    close(peer);
    close(l);
    free(c.out);
    free(c.in);
}

/* --- UDP ------------------------------------------------------------------ */

typedef struct {
    lkio_task task;
    lkio_worker *w;
    lkio_op op;
    int fd;
    struct sockaddr_in from;
    uint8_t buf[1500];
    struct iovec iov;
    struct msghdr msg;
    int result;
    sem_t armed, done;
    /* busy inbox */
    lkio_task spin;
    _Atomic int spins;
    _Atomic bool stop_spinning;
} udp;

static void udp_init(udp *u, struct sockaddr_in *bound)
{
    memset(u, 0, sizeof *u);
    u->w = lkio_worker_at(1);
    sem_init(&u->armed, 0, 0);
    sem_init(&u->done, 0, 0);
    u->fd = lkio_socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(u->fd >= 0);
    memset(bound, 0, sizeof *bound);
    bound->sin_family = AF_INET;
    bound->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(u->fd, (struct sockaddr *)bound, sizeof *bound), 0);
    socklen_t len = sizeof *bound;
    getsockname(u->fd, (struct sockaddr *)bound, &len);
}

static void udp_received(lkio_op *op, int res)
{
    udp *u = lkio_container_of(op, udp, op);
    u->result = res;
    atomic_store(&u->stop_spinning, true);
    sem_post(&u->done);
}

static void udp_arm(lkio_task *t)
{
    udp *u = lkio_container_of(t, udp, task);
    u->iov = (struct iovec){u->buf, sizeof u->buf};
    u->msg = (struct msghdr){.msg_name = &u->from, .msg_namelen = sizeof u->from,
                             .msg_iov = &u->iov, .msg_iovlen = 1};
    lkio_recvmsg(u->w, &u->op, u->fd, &u->msg, udp_received);
    sem_post(&u->armed);
}

static int plain_udp_sender(struct sockaddr_in *from)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(from, 0, sizeof *from);
    from->sin_family = AF_INET;
    from->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, (struct sockaddr *)from, sizeof *from);
    socklen_t len = sizeof *from;
    getsockname(s, (struct sockaddr *)from, &len);
    return s;
}

static void udp_close_task(lkio_task *t)
{
    udp *u = lkio_container_of(t, udp, task);
    lkio_socket_close(u->fd, false);
    sem_post(&u->done);
}

static void udp_close(udp *u)
{
    lkio_post(u->w, &u->task, udp_close_task);
    wait_sem(&u->done);
}

static void udp_recvmsg_reports_data_and_source(void **state)
{
    struct sockaddr_in bound, src;
    udp u;
    udp_init(&u, &bound);
    lkio_post(u.w, &u.task, udp_arm);
    wait_sem(&u.armed);
    int s = plain_udp_sender(&src);
    assert_int_equal(sendto(s, "binding", 7, 0, (struct sockaddr *)&bound, sizeof bound), 7);
    wait_sem(&u.done);
    assert_int_equal(u.result, 7);
    assert_memory_equal(u.buf, "binding", 7);
    assert_int_equal(u.from.sin_port, src.sin_port);
    assert_int_equal(u.from.sin_addr.s_addr, src.sin_addr.s_addr);
    close(s);
    udp_close(&u);
}

typedef struct {
    lkio_task task;
    udp *u;
    struct sockaddr_in to;
    char payload[8];
    struct iovec iov;
    struct msghdr msg;
    lkio_op op;
    int result;
    sem_t done;
} udp_send;

static void udp_sent(lkio_op *op, int res)
{
    udp_send *s = lkio_container_of(op, udp_send, op);
    s->result = res;
    sem_post(&s->done);
}

static void udp_send_task(lkio_task *t)
{
    udp_send *s = lkio_container_of(t, udp_send, task);
    s->iov = (struct iovec){s->payload, 5};
    s->msg = (struct msghdr){.msg_name = &s->to, .msg_namelen = sizeof s->to,
                             .msg_iov = &s->iov, .msg_iovlen = 1};
    lkio_sendmsg(s->u->w, &s->op, s->u->fd, &s->msg, udp_sent);
}

static void udp_sendmsg_reaches_the_destination(void **state)
{
    struct sockaddr_in bound, dst;
    udp u;
    udp_init(&u, &bound);
    int r = plain_udp_sender(&dst);
    udp_send s = {.u = &u, .to = dst};
    memcpy(s.payload, "hello", 5);
    sem_init(&s.done, 0, 0);
    lkio_post(u.w, &s.task, udp_send_task);
    wait_sem(&s.done);
    assert_int_equal(s.result, 5);
    char buf[16];
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    assert_int_equal(recvfrom(r, buf, sizeof buf, 0, (struct sockaddr *)&from, &len), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(from.sin_port, bound.sin_port);
    close(r);
    udp_close(&u);
}

static void cancel_task(lkio_task *t)
{
    udp *u = lkio_container_of(t, udp, task);
    lkio_cancel(u->w, &u->op);
}

static void cancelled_recv_completes_with_ecanceled(void **state)
{
    struct sockaddr_in bound;
    udp u;
    udp_init(&u, &bound);
    lkio_post(u.w, &u.task, udp_arm);
    wait_sem(&u.armed);
    lkio_post(u.w, &u.task, cancel_task);
    wait_sem(&u.done);
    assert_int_equal(u.result, -ECANCELED);
    udp_close(&u);
}

/* A task that keeps reposting itself: the worker's inbox is never empty. */
static void spin_task(lkio_task *t)
{
    udp *u = lkio_container_of(t, udp, spin);
    atomic_fetch_add(&u->spins, 1);
    if (!atomic_load(&u->stop_spinning) && atomic_load(&u->spins) < 50000000)
        lkio_post(u->w, &u->spin, spin_task);
}

static void busy_inbox_still_gets_completions(void **state)
{
    struct sockaddr_in bound, src;
    udp u;
    udp_init(&u, &bound);
    lkio_post(u.w, &u.task, udp_arm);
    wait_sem(&u.armed);
    lkio_post(u.w, &u.spin, spin_task);
    while (atomic_load(&u.spins) < 1000) /* the worker is busy now */
        sched_yield();
    int s = plain_udp_sender(&src);
    assert_int_equal(sendto(s, "x", 1, 0, (struct sockaddr *)&bound, sizeof bound), 1);
    wait_sem(&u.done); /* the bound on spins keeps a starved worker from spinning for ever */
    assert_int_equal(u.result, 1);
    assert_true(atomic_load(&u.spins) < 50000000);
    close(s);
    udp_close(&u);
}

/* --- fork ----------------------------------------------------------------- */

/* True if the peer sees end of stream within a bound (or false once the
 * bound passes with nothing to read). */
static bool peer_sees_eof(int peer, int bound_ms)
{
    struct pollfd p = {.fd = peer, .events = POLLIN};
    if (poll(&p, 1, bound_ms) <= 0)
        return false;
    char c;
    return recv(peer, &c, 1, MSG_DONTWAIT) == 0;
}

static void graceful_close_reaches_peer_while_a_child_holds_the_fd(void **state)
{
    struct sockaddr_in addr;
    int l = listener(&addr);
    conn c;
    conn_init(&c, &addr);
    assert_int_equal(connect_from_worker(&c), 0);
    int peer = accept(l, NULL, NULL);
    int hold[2];
    assert_int_equal(pipe(hold), 0);
    pid_t child = fork();
    if (child == 0) { /* holds every descriptor until the parent says so */
        char b;
        alarm(20);
        close(hold[1]);
        ssize_t r = read(hold[0], &b, 1);
        _exit(r < 0);
    }
    close_from_worker(&c);
    assert_true(peer_sees_eof(peer, 5000));
    close(hold[1]);
    waitpid(child, NULL, 0);
    close(hold[0]);
    close(peer);
    close(l);
}

static void fork_child_discard_sends_nothing(void **state)
{
    struct sockaddr_in addr;
    int l = listener(&addr);
    conn c;
    conn_init(&c, &addr);
    assert_int_equal(connect_from_worker(&c), 0);
    int peer = accept(l, NULL, NULL);
    pid_t child = fork();
    if (child == 0) {
        alarm(20);
        if (lkio_state() != LKIO_STALE)
            _exit(1);
        lkio_discard_inherited(); /* closes the inherited sockets */
        _exit(fcntl_is_open(c.fd) ? 2 : 0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's connection is untouched: nothing arrives, no EOF. */
    assert_false(peer_sees_eof(peer, 300));
    close_from_worker(&c);
    assert_true(peer_sees_eof(peer, 5000));
    close(peer);
    close(l);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(connect_to_a_closed_port_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_echo_of_one_mebibyte, setup, teardown),
        cmocka_unit_test_setup_teardown(udp_recvmsg_reports_data_and_source, setup, teardown),
        cmocka_unit_test_setup_teardown(udp_sendmsg_reaches_the_destination, setup, teardown),
        cmocka_unit_test_setup_teardown(cancelled_recv_completes_with_ecanceled, setup, teardown),
        cmocka_unit_test_setup_teardown(busy_inbox_still_gets_completions, setup, teardown),
        cmocka_unit_test_setup_teardown(graceful_close_reaches_peer_while_a_child_holds_the_fd,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(fork_child_discard_sends_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
