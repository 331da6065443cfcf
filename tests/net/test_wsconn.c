/* The WebSocket client on a worker against a loopback server played by
 * the test thread (plain blocking sockets): the upgrade, then a burst of
 * messages sent back to back from one callback, small and large, arrives
 * whole and in order while earlier sends are still on the ring (appending
 * must not move the bytes a send in flight is reading). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "url.h"
#include "wait.h"
#include "wsconn.h"

/* Sizes crossing the frame length encodings (7, 16, 64 bits) and the
 * output buffer's growth; each message is filled with its own pattern. */
static const size_t SIZES[] = {1, 2000, 70000, 5, 300000, 125, 126, 65535, 65536, 40, 200000};
enum { N = sizeof SIZES / sizeof SIZES[0] };

static uint8_t pattern(size_t msg, size_t i)
{
    return (uint8_t)(msg * 31 + i * 7 + (i >> 9));
}

typedef struct client {
    lkio_task task;
    lkio_worker *w;
    lknet_url url;
    lknet_wsconn *ws;
    sem_t opened, ended;
    int sent;
} client;

static void on_open(void *ctx)
{
    client *c = ctx;
    for (size_t m = 0; m < N; m++) {
        uint8_t *msg = malloc(SIZES[m]);
        assert_non_null(msg);
        for (size_t i = 0; i < SIZES[m]; i++)
            msg[i] = pattern(m, i);
        c->sent += lknet_wsconn_send(c->ws, msg, SIZES[m], false) == 0;
        free(msg);
    }
    sem_post(&c->opened);
}

static void on_message(void *ctx, const uint8_t *data, size_t len, bool text)
{
}

static void on_ended(void *ctx, const lknet_wsconn_end *e)
{
    client *c = ctx;
    sem_post(&c->ended);
}

static void open_task(lkio_task *t)
{
    client *c = lkio_container_of(t, client, task);
    lknet_wsconn_callbacks cb = {c, on_open, on_message, on_ended};
    c->ws = lknet_wsconn_open(c->w, &c->url, "", &cb);
}

static void destroy_task(lkio_task *t)
{
    client *c = lkio_container_of(t, client, task);
    lknet_wsconn_destroy(c->ws);
    sem_post(&c->ended);
}

static int setup(void **state)
{
    char err[128];
    assert_int_equal(lkio_start(1, err, sizeof err), 0);
    return 0;
}

static int teardown(void **state)
{
    lkio_stop(NULL);
    return 0;
}

/* Exactly n bytes, within 10 s. */
static void read_exactly(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = {fd, POLLIN, 0};
        assert_int_equal(poll(&p, 1, 10000), 1);
        ssize_t r = recv(fd, (uint8_t *)buf + got, n - got, 0);
        assert_true(r > 0);
        got += (size_t)r;
    }
}

/* The upgrade request up to its blank line; the key's accept value. */
static void answer_upgrade(int fd)
{
    char req[4096];
    size_t len = 0;
    while (len < 4 || memcmp(req + len - 4, "\r\n\r\n", 4)) {
        assert_true(len < sizeof req - 1);
        read_exactly(fd, req + len, 1);
        len++;
    }
    req[len] = '\0';
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    assert_non_null(k);
    k += strlen("Sec-WebSocket-Key: ");
    char key[128];
    size_t klen = strcspn(k, "\r\n");
    assert_true(klen < 64);
    snprintf(key, sizeof key, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (int)klen, k);
    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)key, strlen(key), sha);
    char accept[64];
    EVP_EncodeBlock((unsigned char *)accept, sha, sizeof sha);
    char res[256];
    int n = snprintf(res, sizeof res,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    assert_int_equal(send(fd, res, (size_t)n, 0), n);
}

/* One client frame: final, binary, masked; its payload unmasked. */
static uint8_t *read_frame(int fd, size_t *len)
{
    uint8_t h[2];
    read_exactly(fd, h, 2);
    assert_int_equal(h[0], 0x82); /* FIN, binary, no RSV bits */
    assert_true(h[1] & 0x80);     /* a client masks */
    uint64_t n = h[1] & 0x7f;
    if (n == 126) {
        uint8_t e[2];
        read_exactly(fd, e, 2);
        n = (uint64_t)e[0] << 8 | e[1];
    } else if (n == 127) {
        uint8_t e[8];
        read_exactly(fd, e, 8);
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | e[i];
    }
    assert_true(n <= 1000000);
    uint8_t mask[4];
    read_exactly(fd, mask, 4);
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    read_exactly(fd, p, n);
    for (uint64_t i = 0; i < n; i++)
        p[i] ^= mask[i & 3];
    *len = n;
    return p;
}

static void burst_arrives_whole_and_in_order(void **state)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(l, (struct sockaddr *)&addr, sizeof addr), 0);
    socklen_t alen = sizeof addr;
    assert_int_equal(getsockname(l, (struct sockaddr *)&addr, &alen), 0);
    assert_int_equal(listen(l, 1), 0);

    client c = {.w = lkio_worker_at(0)};
    sem_init(&c.opened, 0, 0);
    sem_init(&c.ended, 0, 0);
    char text[64], err[128];
    snprintf(text, sizeof text, "ws://127.0.0.1:%u/rtc", (unsigned)ntohs(addr.sin_port));
    assert_int_equal(lknet_url_parse(&c.url, text, err, sizeof err), 0);
    lkio_post(c.w, &c.task, open_task);

    struct pollfd p = {l, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 10000), 1);
    int fd = accept(l, NULL, NULL);
    assert_true(fd >= 0);
    answer_upgrade(fd);
    wait_sem(&c.opened);
    assert_int_equal(c.sent, N);
    for (size_t m = 0; m < N; m++) {
        size_t len;
        uint8_t *got = read_frame(fd, &len);
        assert_int_equal(len, SIZES[m]);
        for (size_t i = 0; i < len; i++)
            if (got[i] != pattern(m, i))
                fail_msg("message %zu byte %zu: %u, not %u", m, i, got[i], pattern(m, i));
        free(got);
    }
    lkio_post(c.w, &c.task, destroy_task);
    wait_sem(&c.ended);
    close(fd);
    close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(burst_arrives_whole_and_in_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
