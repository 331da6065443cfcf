/* The TLS client against an in-memory OpenSSL server whose certificates
 * this test makes: a CA the client trusts (through SSL_CERT_FILE, as a user
 * would supply a private CA) and one it does not. A good certificate for
 * the right name carries data both ways; a wrong name or an unknown CA
 * fails with words a user can act on; close_notify ends the stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls.h"

typedef struct issued {
    EVP_PKEY *key;
    X509 *cert;
} issued;

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       const char *san, bool ca)
{
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)rand() + 1);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(x));
    X509_set_pubkey(x, key);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                                            ca ? "critical,CA:TRUE" : "CA:FALSE");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    if (san) {
        e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
    return x;
}

static issued trusted_ca, other_ca, good_server, rogue_server;
static char ca_path[64];

static int setup(void **state)
{
    trusted_ca.key = EVP_EC_gen("P-256");
    trusted_ca.cert = make_cert(trusted_ca.key, "test CA", NULL, NULL, NULL, true);
    other_ca.key = EVP_EC_gen("P-256");
    other_ca.cert = make_cert(other_ca.key, "other CA", NULL, NULL, NULL, true);
    good_server.key = EVP_EC_gen("P-256");
    good_server.cert = make_cert(good_server.key, "server", trusted_ca.cert, trusted_ca.key,
                                 "IP:127.0.0.1,DNS:localhost", false);
    rogue_server.key = EVP_EC_gen("P-256");
    rogue_server.cert = make_cert(rogue_server.key, "server", other_ca.cert, other_ca.key,
                                  "IP:127.0.0.1,DNS:localhost", false);
    snprintf(ca_path, sizeof ca_path, "/tmp/lkffi-test-ca-%d.pem", (int)getpid());
    FILE *f = fopen(ca_path, "w");
    assert_non_null(f);
    PEM_write_X509(f, trusted_ca.cert);
    fclose(f);
    /* Before the first connection: the client builds its trust store once. */
    setenv("SSL_CERT_FILE", ca_path, 1);
    unsetenv("SSL_CERT_DIR");
    return 0;
}

static int teardown(void **state)
{
    issued *all[] = {&trusted_ca, &other_ca, &good_server, &rogue_server};
    for (size_t i = 0; i < 4; i++) {
        X509_free(all[i]->cert);
        EVP_PKEY_free(all[i]->key);
    }
    unlink(ca_path);
    return 0;
}

typedef struct server {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *in, *out;
} server;

static void server_init(server *s, const issued *id)
{
    s->ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(s->ctx, id->cert);
    SSL_CTX_use_PrivateKey(s->ctx, id->key);
    s->ssl = SSL_new(s->ctx);
    s->in = BIO_new(BIO_s_mem());
    s->out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(s->in, -1);
    SSL_set_bio(s->ssl, s->in, s->out);
    SSL_set_accept_state(s->ssl);
}

static void server_free(server *s)
{
    SSL_free(s->ssl);
    SSL_CTX_free(s->ctx);
}

/* Moves bytes both ways until neither side has anything to say. */
static void shuttle(lknet_tls *c, server *s)
{
    for (int round = 0; round < 50; round++) {
        bool moved = false;
        size_t n = lknet_buf_len(&c->out);
        if (n) {
            BIO_write(s->in, lknet_buf_head(&c->out), (int)n);
            lknet_buf_consume(&c->out, n);
            moved = true;
        }
        if (!SSL_is_init_finished(s->ssl))
            SSL_do_handshake(s->ssl);
        ERR_clear_error();
        char buf[4096];
        int pending;
        while ((pending = (int)BIO_ctrl_pending(s->out)) > 0) {
            int r = BIO_read(s->out, buf, pending < (int)sizeof buf ? pending : (int)sizeof buf);
            lknet_tls_feed(c, (uint8_t *)buf, (size_t)r);
            moved = true;
        }
        if (!moved)
            break;
    }
}

static void handshake_and_data_both_ways(void **state)
{
    const char *hosts[] = {"127.0.0.1", "localhost"};
    for (int h = 0; h < 2; h++) {
        server s;
        server_init(&s, &good_server);
        lknet_tls c;
        assert_int_equal(lknet_tls_init(&c, hosts[h]), 0);
        shuttle(&c, &s);
        assert_int_equal(c.state, LKNET_TLS_OPEN);

        static uint8_t big[100000], back[100000];
        for (size_t i = 0; i < sizeof big; i++)
            big[i] = (uint8_t)(i * 3);
        assert_int_equal(lknet_tls_write(&c, big, sizeof big), 0);
        shuttle(&c, &s);
        size_t got = 0;
        while (got < sizeof big) {
            size_t n = 0;
            if (SSL_read_ex(s.ssl, back + got, sizeof back - got, &n) != 1)
                break;
            got += n;
        }
        assert_int_equal(got, sizeof big);
        assert_memory_equal(back, big, sizeof big);

        SSL_write(s.ssl, "hello client", 12);
        shuttle(&c, &s);
        uint8_t buf[64];
        assert_int_equal(lknet_tls_read(&c, buf, sizeof buf), 12);
        assert_memory_equal(buf, "hello client", 12);
        assert_int_equal(lknet_tls_read(&c, buf, sizeof buf), 0); /* nothing more yet */

        SSL_shutdown(s.ssl); /* close_notify */
        shuttle(&c, &s);
        assert_int_equal(lknet_tls_read(&c, buf, sizeof buf), -1);
        assert_int_equal(c.state, LKNET_TLS_CLOSED);
        lknet_tls_free(&c);
        server_free(&s);
    }
}

static void wrong_host_name_fails_with_a_reason(void **state)
{
    server s;
    server_init(&s, &good_server);
    lknet_tls c;
    assert_int_equal(lknet_tls_init(&c, "livekit.example.com"), 0);
    shuttle(&c, &s);
    assert_int_equal(c.state, LKNET_TLS_FAILED);
    print_message("wrong host: %s\n", c.error);
    assert_non_null(strstr(c.error, "certificate verify failed"));
    assert_non_null(strstr(c.error, "hostname mismatch"));
    lknet_tls_free(&c);
    server_free(&s);
}

static void unknown_ca_fails_with_a_reason(void **state)
{
    server s;
    server_init(&s, &rogue_server);
    lknet_tls c;
    assert_int_equal(lknet_tls_init(&c, "127.0.0.1"), 0);
    shuttle(&c, &s);
    assert_int_equal(c.state, LKNET_TLS_FAILED);
    print_message("unknown CA: %s\n", c.error);
    assert_non_null(strstr(c.error, "certificate verify failed"));
    uint8_t buf[8];
    assert_int_equal(lknet_tls_write(&c, "x", 1), -1);
    assert_int_equal(lknet_tls_read(&c, buf, sizeof buf), -1);
    lknet_tls_free(&c);
    server_free(&s);
}

static void garbage_from_the_server_fails_cleanly(void **state)
{
    lknet_tls c;
    assert_int_equal(lknet_tls_init(&c, "127.0.0.1"), 0);
    const char *junk = "HTTP/1.1 400 Bad Request\r\n\r\n";
    assert_int_equal(lknet_tls_feed(&c, (const uint8_t *)junk, strlen(junk)), -1);
    assert_int_equal(c.state, LKNET_TLS_FAILED);
    assert_true(strlen(c.error) > 0);
    lknet_tls_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_and_data_both_ways),
        cmocka_unit_test(wrong_host_name_fails_with_a_reason),
        cmocka_unit_test(unknown_ca_fails_with_a_reason),
        cmocka_unit_test(garbage_from_the_server_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
