/* Two of our PeerConnections over in-memory datagrams: offer and answer,
 * then ICE, DTLS and SCTP come up by themselves; the offerer's channels
 * (named as LiveKit names them) open on the answerer, messages cross both
 * ways, the answerer's own channel opens on the offerer; a bad answer is
 * refused with a reason. Real clock (DTLS timers are OpenSSL's); every wait
 * is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct side {
    lkpeer *p;
    struct sockaddr_in addr;
    struct side *other;
    struct {
        uint8_t data[1500];
        size_t len;
    } q[512];
    int head, tail;
    enum lkpeer_state state;
    char why[200];
    char opened[4][32];
    int n_opened;
    int messages;
    char last[64];
    bool last_binary;
} side;

static void on_send(void *ctx, unsigned local, const struct sockaddr *to, socklen_t tolen,
                    const uint8_t *data, size_t len)
{
    side *s = ctx;
    side *o = s->other;
    const struct sockaddr_in *dst = (const struct sockaddr_in *)to;
    if (dst->sin_port != o->addr.sin_port || len > 1500 || o->tail - o->head >= 512)
        return; /* not routed (or the queue is full: the network drops it) */
    memcpy(o->q[o->tail % 512].data, data, len);
    o->q[o->tail++ % 512].len = len;
}

static void on_state(void *ctx, enum lkpeer_state st, const char *why)
{
    side *s = ctx;
    s->state = st;
    snprintf(s->why, sizeof s->why, "%s", why ? why : "");
}

static void on_open(void *ctx, uint16_t id, const char *label)
{
    side *s = ctx;
    if (s->n_opened < 4)
        snprintf(s->opened[s->n_opened++], 32, "%s", label);
}

static void on_message(void *ctx, uint16_t id, bool binary, const uint8_t *data, size_t len)
{
    side *s = ctx;
    s->messages++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)len, (const char *)data);
    s->last_binary = binary;
}

static void make(side *s, side *other, const char *ip, uint16_t port)
{
    memset(s, 0, sizeof *s);
    s->other = other;
    s->addr.sin_family = AF_INET;
    s->addr.sin_port = htons(port);
    inet_pton(AF_INET, ip, &s->addr.sin_addr);
    lkpeer_callbacks cb = {s, on_send, on_state, on_open, on_message, NULL, NULL};
    s->p = lkpeer_new(&cb);
    assert_non_null(s->p);
    assert_int_equal(lkpeer_add_local(s->p, (struct sockaddr *)&s->addr, sizeof s->addr), 0);
}

static void pump(side *a, side *b, bool (*done)(side *, side *))
{
    uint64_t start = now_ns();
    while (!done(a, b) && now_ns() - start < 10000000000u) {
        side *all[2] = {a, b};
        bool moved = false;
        for (int k = 0; k < 2; k++)
            while (all[k]->head != all[k]->tail) {
                int i = all[k]->head++ % 512;
                lkpeer_on_datagram(all[k]->p, now_ns(), 0,
                                   (struct sockaddr *)&all[k]->other->addr,
                                   sizeof all[k]->other->addr, all[k]->q[i].data,
                                   all[k]->q[i].len);
                moved = true;
            }
        for (int k = 0; k < 2; k++)
            if (lkpeer_next_deadline(all[k]->p, now_ns()) <= now_ns())
                lkpeer_on_timeout(all[k]->p, now_ns());
        if (!moved) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

static bool connected(side *a, side *b)
{
    return a->state == LKPEER_CONNECTED && b->state == LKPEER_CONNECTED;
}

static bool channels_open(side *a, side *b)
{
    return a->n_opened >= 2 && b->n_opened >= 2;
}

static bool messages_in(side *a, side *b)
{
    return a->messages >= 1 && b->messages >= 1;
}

static bool third_open(side *a, side *b)
{
    return a->n_opened >= 3;
}

static void negotiate(side *a, side *b)
{
    char offer[4096], answer[4096], err[200];
    size_t n = lkpeer_create_offer(a->p, offer, sizeof offer);
    assert_true(n > 0);
    assert_non_null(strstr(offer, "a=setup:actpass"));
    assert_int_equal(lkpeer_set_offer(b->p, offer, n, now_ns(), err, sizeof err), 0);
    n = lkpeer_create_answer(b->p, answer, sizeof answer);
    assert_true(n > 0);
    assert_non_null(strstr(answer, "a=setup:active"));
    assert_int_equal(lkpeer_set_answer(a->p, answer, n, now_ns(), err, sizeof err), 0);
}

static void offer_answer_connect_and_carry_data(void **state)
{
    side a, b;
    make(&a, &b, "10.0.0.1", 5001);
    make(&b, &a, "10.0.0.2", 5002);
    negotiate(&a, &b);
    lkdc_options lossy = {.reliability = LKSCTP_MAX_RETRANSMITS, .value = 0};
    int reliable_id = lkpeer_open_channel(a.p, "_reliable", NULL, now_ns());
    int lossy_id = lkpeer_open_channel(a.p, "_lossy", &lossy, now_ns());
    assert_true(reliable_id >= 0 && lossy_id >= 0);
    /* the offerer is the DTLS server: its channel ids are odd */
    assert_int_equal(reliable_id % 2, 1);

    pump(&a, &b, connected);
    if (!connected(&a, &b))
        fail_msg("not connected: offerer %d (%s), answerer %d (%s)", a.state, a.why, b.state, b.why);
    assert_int_equal(a.state, LKPEER_CONNECTED);
    assert_int_equal(b.state, LKPEER_CONNECTED);
    pump(&a, &b, channels_open);
    assert_int_equal(b.n_opened, 2);
    assert_string_equal(b.opened[0], "_reliable");
    assert_string_equal(b.opened[1], "_lossy");

    assert_int_equal(lkpeer_send(a.p, (uint16_t)reliable_id, true, (const uint8_t *)"to b", 4, now_ns()), 0);
    assert_int_equal(lkpeer_send(b.p, (uint16_t)reliable_id, false, (const uint8_t *)"to a", 4, now_ns()), 0);
    pump(&a, &b, messages_in);
    assert_string_equal(b.last, "to b");
    assert_true(b.last_binary);
    assert_string_equal(a.last, "to a");
    assert_false(a.last_binary);

    int from_b = lkpeer_open_channel(b.p, "chat", NULL, now_ns());
    assert_int_equal(from_b % 2, 0);
    pump(&a, &b, third_open);
    assert_string_equal(a.opened[2], "chat");

    lkpeer_close(a.p, now_ns());
    assert_int_equal(a.state, LKPEER_CLOSED);
    lkpeer_free(a.p);
    lkpeer_free(b.p);
}

static void unusable_answers_are_refused(void **state)
{
    side a, b;
    make(&a, &b, "10.0.0.1", 5001);
    make(&b, &a, "10.0.0.2", 5002);
    char offer[4096], err[200];
    lkpeer_create_offer(a.p, offer, sizeof offer);
    const char *no_data = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
    assert_int_equal(lkpeer_set_answer(a.p, no_data, strlen(no_data), now_ns(), err, sizeof err), -1);
    assert_non_null(strstr(err, "no data section"));
    const char *no_creds = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=setup:active\r\n";
    assert_int_equal(lkpeer_set_answer(a.p, no_creds, strlen(no_creds), now_ns(), err, sizeof err), -1);
    assert_non_null(strstr(err, "credentials"));
    const char *actpass = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                          "a=setup:actpass\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdabcdabcdabcdabcdabcd\r\n"
                          "a=fingerprint:sha-256 AA\r\n";
    assert_int_equal(lkpeer_set_answer(a.p, actpass, strlen(actpass), now_ns(), err, sizeof err), -1);
    assert_non_null(strstr(err, "setup"));
    const char *garbage = "hello";
    assert_int_equal(lkpeer_set_answer(a.p, garbage, 5, now_ns(), err, sizeof err), -1);
    lkpeer_free(a.p);
    lkpeer_free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(offer_answer_connect_and_carry_data),
        cmocka_unit_test(unusable_answers_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
