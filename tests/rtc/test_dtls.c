/* DTLS between two of our endpoints over in-memory datagrams: the handshake
 * in both role pairings, SRTP keys that match crosswise, application data,
 * a fingerprint that does not match, a lost first flight recovered by the
 * timer, close_notify, and garbage that changes nothing; the state, role,
 * version and ciphers the stats report at each step. Runs on the real
 * clock (OpenSSL's timers do); every wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cert.h"
#include "dtls.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct end {
    lkdtls *d;
    struct end *peer;
    uint8_t q[64][1500];
    size_t qlen[64];
    int head, tail;
    int drop_next; /* datagrams to lose on the way to the peer */
    int sent;
    bool connected;
    int closes;
    char error[256];
    uint8_t got[2000];
    size_t got_len;
} end;

static void on_send(void *ctx, const uint8_t *data, size_t len)
{
    end *e = ctx;
    e->sent++;
    if (e->drop_next > 0) {
        e->drop_next--;
        return;
    }
    end *p = e->peer;
    assert_true(len <= 1500);
    memcpy(p->q[p->tail % 64], data, len);
    p->qlen[p->tail++ % 64] = len;
}

static void on_connected(void *ctx)
{
    ((end *)ctx)->connected = true;
}

static void on_data(void *ctx, const uint8_t *data, size_t len)
{
    end *e = ctx;
    memcpy(e->got, data, len);
    e->got_len = len;
}

static void on_closed(void *ctx, const char *error)
{
    end *e = ctx;
    e->closes++;
    snprintf(e->error, sizeof e->error, "%s", error ? error : "");
}

static lkrtc_cert cert_a, cert_b;

static void make(end *a, end *b, bool a_client, const char *fp_for_a, const char *fp_for_b)
{
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    a->peer = b;
    b->peer = a;
    lkdtls_callbacks ca = {a, on_send, on_connected, on_data, on_closed};
    lkdtls_callbacks cb = {b, on_send, on_connected, on_data, on_closed};
    a->d = lkdtls_new(&cert_a, a_client, &ca);
    b->d = lkdtls_new(&cert_b, !a_client, &cb);
    assert_non_null(a->d);
    assert_non_null(b->d);
    lkdtls_set_remote_fingerprint(a->d, fp_for_a ? fp_for_a : cert_b.fingerprint);
    lkdtls_set_remote_fingerprint(b->d, fp_for_b ? fp_for_b : cert_a.fingerprint);
}

/* Whatever is queued for e, in order. false if nothing was. */
static bool deliver_queued(end *e)
{
    bool any = e->head != e->tail;
    while (e->head != e->tail) {
        int i = e->head++ % 64;
        lkdtls_on_datagram(e->d, now_ns(), e->q[i], e->qlen[i]);
    }
    return any;
}

/* Delivers and ticks until `done` or 5 s. */
static void run(end *a, end *b, bool (*done)(end *, end *))
{
    uint64_t start = now_ns();
    lkdtls_start(a->d, start);
    lkdtls_start(b->d, start);
    while (!done(a, b) && now_ns() - start < 5000000000u) {
        end *ends[2] = {a, b};
        bool moved = deliver_queued(a);
        moved |= deliver_queued(b);
        for (int k = 0; k < 2; k++)
            if (lkdtls_next_deadline(ends[k]->d, now_ns()) <= now_ns())
                lkdtls_on_timeout(ends[k]->d, now_ns());
        if (!moved) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
}

static bool both_connected(end *a, end *b)
{
    return a->connected && b->connected;
}

static bool someone_closed(end *a, end *b)
{
    return a->closes || b->closes;
}

static void teardown_ends(end *a, end *b)
{
    lkdtls_free(a->d);
    lkdtls_free(b->d);
}

static void handshake_keys_and_data_in_both_pairings(void **state)
{
    for (int a_client = 0; a_client < 2; a_client++) {
        end a, b;
        make(&a, &b, a_client, NULL, NULL);
        lkdtls_info info;
        lkdtls_get_info(a.d, &info);
        assert_int_equal(info.state, LKDTLS_NEW); /* run starts them */
        assert_string_equal(info.version, "");
        assert_string_equal(info.cipher, "");
        run(&a, &b, both_connected);
        assert_true(a.connected && b.connected);
        lkdtls_get_info(a.d, &info);
        assert_int_equal(info.state, LKDTLS_CONNECTED);
        assert_int_equal(info.client, a_client);
        assert_string_equal(info.version, "FEFD");
        /* our certificates are ECDSA; OpenSSL picks the suite */
        assert_int_equal(strncmp(info.cipher, "TLS_ECDHE_ECDSA_WITH_", 21), 0);
        assert_string_equal(info.srtp_cipher, "AEAD_AES_128_GCM");
        lkdtls_srtp ka, kb;
        assert_int_equal(lkdtls_srtp_keys(a.d, &ka), 0);
        assert_int_equal(lkdtls_srtp_keys(b.d, &kb), 0);
        assert_int_equal(ka.profile, 7); /* AEAD_AES_128_GCM preferred */
        assert_int_equal(ka.profile, kb.profile);
        assert_memory_equal(ka.local_key, kb.remote_key, 16);
        assert_memory_equal(ka.remote_key, kb.local_key, 16);
        assert_memory_equal(ka.local_salt, kb.remote_salt, ka.salt_len);
        assert_memory_not_equal(ka.local_key, ka.remote_key, 16);

        uint8_t big[1200];
        for (size_t i = 0; i < sizeof big; i++)
            big[i] = (uint8_t)(i * 7);
        assert_int_equal(lkdtls_send(a.d, big, sizeof big), 0);
        assert_int_equal(lkdtls_send(b.d, "pong", 4), 0);
        /* all that is queued: on a slow run (valgrind) a retransmitted
         * handshake flight may be ahead of the data */
        deliver_queued(&b);
        deliver_queued(&a);
        assert_int_equal(b.got_len, sizeof big);
        assert_memory_equal(b.got, big, sizeof big);
        assert_int_equal(a.got_len, 4);
        teardown_ends(&a, &b);
    }
}

static void fingerprint_mismatch_fails_with_a_reason(void **state)
{
    end a, b;
    /* a expects b to present cert_a's fingerprint: it does not */
    make(&a, &b, true, cert_a.fingerprint, NULL);
    run(&a, &b, someone_closed);
    assert_false(a.connected);
    assert_int_equal(a.closes, 1);
    assert_non_null(strstr(a.error, "fingerprint"));
    lkdtls_info info;
    lkdtls_get_info(a.d, &info);
    assert_int_equal(info.state, LKDTLS_FAILED);
    teardown_ends(&a, &b);
}

static void lost_first_flight_is_retransmitted(void **state)
{
    end a, b;
    make(&a, &b, true, NULL, NULL);
    a.drop_next = 1; /* the ClientHello */
    run(&a, &b, both_connected);
    assert_true(a.connected && b.connected);
    assert_true(a.sent >= 3);
    teardown_ends(&a, &b);
}

static void close_notify_reaches_the_peer(void **state)
{
    end a, b;
    make(&a, &b, true, NULL, NULL);
    run(&a, &b, both_connected);
    lkdtls_close(a.d);
    assert_int_equal(lkdtls_send(a.d, "x", 1), -1);
    while (b.head != b.tail) {
        int i = b.head++ % 64;
        lkdtls_on_datagram(b.d, now_ns(), b.q[i], b.qlen[i]);
    }
    assert_int_equal(b.closes, 1);
    assert_string_equal(b.error, "");
    lkdtls_info info;
    lkdtls_get_info(b.d, &info);
    assert_int_equal(info.state, LKDTLS_CLOSED);
    teardown_ends(&a, &b);
}

static void garbage_changes_nothing(void **state)
{
    end a, b;
    make(&a, &b, true, NULL, NULL);
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 31 + 7);
    junk[0] = 22; /* looks like a handshake record */
    lkdtls_on_datagram(b.d, now_ns(), junk, sizeof junk);
    lkdtls_on_datagram(b.d, now_ns(), junk, 1);
    lkdtls_on_datagram(b.d, now_ns(), junk, 13);
    assert_false(b.connected);
    teardown_ends(&a, &b);
}

static void fingerprint_formatting(void **state)
{
    assert_int_equal(strncmp(cert_a.fingerprint, "sha-256 ", 8), 0);
    assert_int_equal(strlen(cert_a.fingerprint), 8 + 32 * 3 - 1);
    char lower[128];
    snprintf(lower, sizeof lower, "%s", cert_a.fingerprint);
    for (char *c = lower; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'F' ? *c + 32 : *c);
    assert_true(lkrtc_fingerprint_matches(cert_a.x509, lower));
    assert_false(lkrtc_fingerprint_matches(cert_b.x509, lower));
    assert_false(lkrtc_fingerprint_matches(cert_a.x509, "md5 00:11"));
    assert_false(lkrtc_fingerprint_matches(cert_a.x509, "garbage"));
}

static int setup(void **state)
{
    assert_int_equal(lkrtc_cert_generate(&cert_a), 0);
    assert_int_equal(lkrtc_cert_generate(&cert_b), 0);
    return 0;
}

static int teardown(void **state)
{
    lkrtc_cert_free(&cert_a);
    lkrtc_cert_free(&cert_b);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_keys_and_data_in_both_pairings),
        cmocka_unit_test(fingerprint_mismatch_fails_with_a_reason),
        cmocka_unit_test(lost_first_flight_is_retransmitted),
        cmocka_unit_test(close_notify_reaches_the_peer),
        cmocka_unit_test(garbage_changes_nothing),
        cmocka_unit_test(fingerprint_formatting),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
