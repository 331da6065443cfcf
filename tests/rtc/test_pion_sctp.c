/*
 * test_pion_sctp.c: our association against pion/sctp (the SCTP of
 * livekit-server), each over UDP loopback, pion in tests/rtc/pion_sctp/.
 *
 * The Go peer is built on first use with `go build` (modules from the Go
 * module proxy or the local cache). Without `go`, or if the build fails,
 * every test here is reported SKIPPED (cmocka's skip(); the program then
 * exits 0, so ctest shows it passed: read its output to tell).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sctp.h"

#define MS ((uint64_t)1000000)
#define SEC (1000 * MS)

static char peer_bin[4300];
static bool have_peer;

typedef struct rx {
    uint16_t sid;
    uint32_t ppid;
    size_t len;
    uint8_t head[16];
    bool pattern_ok;
} rx;

typedef struct ctx {
    int fd;
    lksctp *a;
    unsigned loss_pct;
    uint64_t rng;
    rx *msgs;
    size_t n, cap;
    int resets_in, resets_out_ok;
    pid_t pid;
    int to_child; /* its stdin */
    FILE *from_child; /* its stdout, kept open so it never writes to a closed pipe */
} ctx;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void pattern(uint8_t *b, size_t n, uint32_t k)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(k + i * 31);
}

static void cb_state(void *c_, enum lksctp_state st)
{
    (void)c_;
    if (getenv("LK_SCTP_DEBUG"))
        fprintf(stderr, "ours: %s\n", lksctp_state_name(st));
}

static void cb_send(void *c_, const uint8_t *p, size_t n)
{
    if (getenv("LK_SCTP_DEBUG"))
        fprintf(stderr, "ours: send %zu bytes, chunk %u\n", n, n > 12 ? p[12] : 0);
    ctx *c = c_;
    c->rng = c->rng * 6364136223846793005ull + 1442695040888963407ull;
    if (c->loss_pct && (c->rng >> 33) % 100 < c->loss_pct)
        return;
    (void)send(c->fd, p, n, 0);
}

static void cb_message(void *c_, uint16_t sid, uint32_t ppid, const uint8_t *d, size_t n,
                       bool unordered)
{
    (void)unordered;
    ctx *c = c_;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->msgs = realloc(c->msgs, c->cap * sizeof *c->msgs);
    }
    rx *m = &c->msgs[c->n++];
    m->sid = sid;
    m->ppid = ppid;
    m->len = n;
    memcpy(m->head, d, n < 16 ? n : 16);
    m->pattern_ok = true;
    if (sid == 101 && n == 100000)
        for (size_t i = 0; i < n; i++)
            if (d[i] != (uint8_t)(i * 7))
                m->pattern_ok = false;
}

static void cb_reset(void *c_, uint16_t sid, bool incoming, bool ok)
{
    (void)sid;
    ctx *c = c_;
    if (incoming)
        c->resets_in++;
    else if (ok)
        c->resets_out_ok++;
}

/* Where the sources are: the build tree's CMakeCache.txt says. */
/* The peer binary goes next to this program. */
static bool peer_path(void)
{
    char exe[4000];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return false;
    *slash = 0;
    snprintf(peer_bin, sizeof peer_bin, "%s/pion_sctp_peer", exe);
    return true;
}

static int build_peer(void **state)
{
    (void)state;
    char cmd[9000];
    if (system("command -v go >/dev/null 2>&1") != 0) {
        fprintf(stderr, "go not found: pion interop tests skipped\n");
        return 0;
    }
    if (!peer_path())
        return 0;
    snprintf(cmd, sizeof cmd, "cd '%s/tests/rtc/pion_sctp' && go build -o '%s' . >&2",
             LK_SOURCE_DIR, peer_bin);
    have_peer = system(cmd) == 0;
    if (!have_peer)
        fprintf(stderr, "go build of the pion peer failed: pion interop tests skipped\n");
    return 0;
}

static void start(ctx *c, const char *mode, unsigned loss_pion, const lksctp_config *cfg)
{
    memset(c, 0, sizeof *c);
    c->rng = 12345;
    c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    getsockname(c->fd, (struct sockaddr *)&sa, &sl);
    char port[16], loss[16];
    snprintf(port, sizeof port, "%u", ntohs(sa.sin_port));
    snprintf(loss, sizeof loss, "%u", loss_pion);
    int in[2], out[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execl(peer_bin, peer_bin, mode, port, loss, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->to_child = in[1];
    FILE *f = fdopen(out[0], "r");
    unsigned peer_port = 0;
    assert_int_equal(fscanf(f, "PORT %u", &peer_port), 1);
    c->from_child = f; /* "UP" is not needed: the association says */
    sa.sin_port = htons((uint16_t)peer_port);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    lksctp_callbacks cb = {.ctx = c, .send = cb_send, .message = cb_message,
                           .stream_reset = cb_reset, .state_changed = cb_state};
    c->a = lksctp_new(cfg, &cb);
    assert_non_null(c->a);
}

static void stop(ctx *c)
{
    close(c->to_child);
    fclose(c->from_child);
    int st;
    for (int i = 0; i < 100 && waitpid(c->pid, &st, WNOHANG) == 0; i++)
        usleep(20000);
    kill(c->pid, SIGKILL);
    waitpid(c->pid, &st, 0);
    lksctp_free(c->a);
    close(c->fd);
    free(c->msgs);
}

/* Drives the association from the socket until cond or the time limit. */
static bool run(ctx *c, bool (*cond)(ctx *c), uint64_t limit_ns)
{
    uint64_t end = now_ns() + limit_ns;
    uint8_t buf[65536];
    while (!(cond && cond(c))) {
        uint64_t now = now_ns();
        if (now >= end)
            break;
        uint64_t dl = lksctp_next_deadline(c->a);
        uint64_t wait = dl > now ? dl - now : 0;
        if (wait > 50 * MS)
            wait = 50 * MS;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, (int)((wait + MS - 1) / MS)) > 0) {
            ssize_t n;
            while ((n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
                c->rng = c->rng * 6364136223846793005ull + 1442695040888963407ull;
                if (c->loss_pct && (c->rng >> 33) % 100 < c->loss_pct)
                    continue;
                int rc = lksctp_handle_packet(c->a, buf, (size_t)n, now_ns());
                if (getenv("LK_SCTP_DEBUG"))
                    fprintf(stderr, "ours: got %zd bytes, chunk %u: %d\n", n, buf[12], rc);
            }
        }
        if (lksctp_next_deadline(c->a) <= now_ns())
            lksctp_on_timeout(c->a, now_ns());
    }
    return cond ? cond(c) : true;
}

static bool established(ctx *c)
{
    return lksctp_state(c->a) == LKSCTP_ESTABLISHED;
}

static size_t want;
static bool enough(ctx *c)
{
    return c->n >= want;
}

static bool closed(ctx *c)
{
    return lksctp_state(c->a) == LKSCTP_CLOSED;
}

static bool resets_done(ctx *c)
{
    return c->resets_in >= 1 && c->resets_out_ok >= 1;
}

/* N messages of various sizes on stream 0 come back in order; pion's own
 * messages on stream 101 arrive; reset; shutdown. */
static void exchange(ctx *c, uint32_t N)
{
    static uint8_t buf[60000];
    for (uint32_t k = 0; k < N; k++) {
        size_t len = 1 + (k * 7919u) % sizeof buf;
        pattern(buf, len, k);
        int rc;
        while ((rc = lksctp_send(c->a, 0, 53, buf, len, NULL, now_ns())) == -EAGAIN)
            run(c, NULL, 20 * MS);
        assert_int_equal(rc, 0);
    }
    want = N + 21;
    assert_true(run(c, enough, 60 * SEC));
    uint32_t k = 0;
    int strings = 0, big = 0;
    for (size_t i = 0; i < c->n; i++) {
        rx *m = &c->msgs[i];
        if (m->sid == 101) {
            if (m->ppid == 51)
                assert_int_equal(memcmp(m->head, "pion-", 5), 0), strings++;
            else
                assert_true(m->pattern_ok && m->len == 100000), big++;
            continue;
        }
        assert_int_equal(m->sid, 0);
        assert_int_equal(m->ppid, 53);
        size_t len = 1 + (k * 7919u) % sizeof buf;
        assert_int_equal(m->len, len);
        pattern(buf, len, k);
        assert_memory_equal(m->head, buf, len < 16 ? len : 16);
        k++;
    }
    assert_int_equal(k, N);
    assert_int_equal(strings, 20);
    assert_int_equal(big, 1);

    /* partial reliability: lossy unordered messages never hold up the rest */
    lksctp_sendopts lossy = {.unordered = true, .reliability = LKSCTP_MAX_RETRANSMITS};
    for (uint32_t i = 0; i < 50; i++) {
        pattern(buf, 800, i);
        assert_int_equal(lksctp_send(c->a, 2, 53, buf, 800, &lossy, now_ns()), 0);
    }
    size_t before = c->n;
    assert_int_equal(lksctp_send(c->a, 4, 51, (const uint8_t *)"after", 5, NULL, now_ns()), 0);
    bool got = false;
    for (int i = 0; i < 400 && !got; i++) {
        run(c, NULL, 50 * MS);
        for (size_t j = before; j < c->n; j++)
            got |= c->msgs[j].sid == 4;
    }
    assert_true(got);

    /* closing a stream: pion answers and resets its own side */
    assert_int_equal(lksctp_reset_stream(c->a, 0, now_ns()), 0);
    assert_true(run(c, resets_done, 30 * SEC));

    lksctp_shutdown(c->a, now_ns());
    assert_true(run(c, closed, 30 * SEC));
    assert_int_equal(lksctp_close_reason(c->a), LKSCTP_BY_SHUTDOWN);
}

static void test_pion_client_collision(void **state)
{
    (void)state;
    if (!have_peer)
        skip();
    ctx c;
    start(&c, "client", 0, NULL);
    lksctp_connect(c.a, now_ns()); /* both send INIT, as in WebRTC */
    assert_true(run(&c, established, 20 * SEC));
    exchange(&c, 120);
    stop(&c);
}

static void test_pion_client_we_answer(void **state)
{
    (void)state;
    if (!have_peer)
        skip();
    ctx c;
    start(&c, "client", 0, NULL);
    assert_true(run(&c, established, 20 * SEC));
    exchange(&c, 120);
    stop(&c);
}

static void test_pion_server_with_loss(void **state)
{
    (void)state;
    if (!have_peer)
        skip();
    ctx c;
    lksctp_config cfg = {.rto_initial_ms = 300, .rto_min_ms = 100};
    start(&c, "server", 5, &cfg);
    c.loss_pct = 5;
    lksctp_connect(c.a, now_ns());
    assert_true(run(&c, established, 30 * SEC));
    exchange(&c, 30); /* pion retransmits on a 1 s minimum RTO: keep it short */
    lksctp_stats st;
    lksctp_get_stats(c.a, &st);
    assert_true(st.retransmissions > 0);
    stop(&c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pion_client_collision),
        cmocka_unit_test(test_pion_client_we_answer),
        cmocka_unit_test(test_pion_server_with_loss),
    };
    return cmocka_run_group_tests(tests, build_peer, NULL);
}
