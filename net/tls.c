/*
 * tls.c: OpenSSL driven through memory BIOs.
 *
 * One SSL_CTX serves every connection of the process: loading the trust
 * store takes milliseconds, so it is built on the first wss:// connection
 * and kept. It is plain memory, so a fork child can go on using its copy.
 * Our write BIO is drained into `out` after every OpenSSL call that may
 * produce records.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *shared_ctx;

static SSL_CTX *client_ctx(char *err, size_t errlen)
{
    pthread_mutex_lock(&ctx_lock);
    if (!shared_ctx) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        if (ctx && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) &&
            SSL_CTX_set_default_verify_paths(ctx)) {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
            shared_ctx = ctx;
        } else {
            snprintf(err, errlen, "cannot set up TLS: %s",
                     ERR_reason_error_string(ERR_peek_last_error()));
            SSL_CTX_free(ctx);
        }
        ERR_clear_error();
    }
    SSL_CTX *ctx = shared_ctx;
    pthread_mutex_unlock(&ctx_lock);
    return ctx;
}

static bool inet_pton_any(const char *host, unsigned char *buf)
{
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void drain(lknet_tls *t)
{
    BIO *wbio = SSL_get_wbio(t->ssl_);
    size_t pending;
    while ((pending = BIO_ctrl_pending(wbio)) > 0) {
        unsigned char *dst = lknet_buf_reserve(&t->out, pending);
        int n = BIO_read(wbio, dst, (int)pending);
        if (n <= 0)
            break;
        lknet_buf_commit(&t->out, (size_t)n);
    }
}

/* Records why OpenSSL gave up, in words a user can act on. */
static void set_failure(lknet_tls *t, int ssl_error)
{
    long verify = SSL_get_verify_result(t->ssl_);
    unsigned long e = ERR_peek_last_error();
    if (verify != X509_V_OK)
        snprintf(t->error, sizeof t->error, "TLS: certificate verify failed: %s",
                 X509_verify_cert_error_string(verify));
    else if (e)
        snprintf(t->error, sizeof t->error, "TLS: %s", ERR_reason_error_string(e));
    else
        snprintf(t->error, sizeof t->error, "TLS: connection failed (SSL error %d)", ssl_error);
    ERR_clear_error();
    t->state = LKNET_TLS_FAILED;
}

static int step_handshake(lknet_tls *t)
{
    int r = SSL_do_handshake(t->ssl_);
    drain(t);
    if (r == 1) {
        t->state = LKNET_TLS_OPEN;
        return 0;
    }
    int e = SSL_get_error(t->ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    set_failure(t, e);
    return -1;
}

int lknet_tls_init(lknet_tls *t, const char *host)
{
    memset(t, 0, sizeof *t);
    SSL_CTX *ctx = client_ctx(t->error, sizeof t->error);
    if (!ctx) {
        t->state = LKNET_TLS_FAILED;
        return -1;
    }
    t->ssl_ = SSL_new(ctx);
    BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
    if (!t->ssl_ || !in || !out)
        abort(); /* out of memory */
    BIO_set_mem_eof_return(in, -1); /* empty means "wait", not end of stream */
    SSL_set_bio(t->ssl_, in, out);
    t->net_in_ = in;
    SSL_set_connect_state(t->ssl_);
    /* SNI for names only; the certificate must match either way. */
    unsigned char probe[16];
    bool literal = inet_pton_any(host, probe);
    if (!literal)
        SSL_set_tlsext_host_name(t->ssl_, host);
    if (literal ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl_), host)
                : !SSL_set1_host(t->ssl_, host)) {
        snprintf(t->error, sizeof t->error, "TLS: cannot verify host \"%.200s\"", host);
        t->state = LKNET_TLS_FAILED;
        return -1;
    }
    return step_handshake(t);
}

void lknet_tls_free(lknet_tls *t)
{
    SSL_free(t->ssl_); /* frees both BIOs; sends nothing */
    lknet_buf_free(&t->out);
    t->ssl_ = NULL;
}

int lknet_tls_feed(lknet_tls *t, const uint8_t *data, size_t len)
{
    if (t->state == LKNET_TLS_FAILED)
        return -1;
    if (len && BIO_write(t->net_in_, data, (int)len) != (int)len)
        abort();
    if (t->state == LKNET_TLS_HANDSHAKE)
        return step_handshake(t);
    return 0;
}

ssize_t lknet_tls_read(lknet_tls *t, uint8_t *buf, size_t cap)
{
    if (t->state != LKNET_TLS_OPEN)
        return t->state == LKNET_TLS_HANDSHAKE ? 0 : -1;
    size_t got = 0;
    int r = SSL_read_ex(t->ssl_, buf, cap, &got);
    drain(t); /* key updates, alerts */
    if (r == 1)
        return (ssize_t)got;
    int e = SSL_get_error(t->ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    if (e == SSL_ERROR_ZERO_RETURN) {
        t->state = LKNET_TLS_CLOSED;
        return -1;
    }
    set_failure(t, e);
    return -1;
}

int lknet_tls_write(lknet_tls *t, const void *data, size_t len)
{
    if (t->state != LKNET_TLS_OPEN)
        return -1;
    size_t done = 0;
    int r = SSL_write_ex(t->ssl_, data, len, &done);
    drain(t);
    if (r != 1 || done != len) {
        set_failure(t, SSL_get_error(t->ssl_, r));
        return -1;
    }
    return 0;
}

void lknet_tls_close(lknet_tls *t)
{
    if (t->state != LKNET_TLS_OPEN)
        return;
    SSL_shutdown(t->ssl_);
    drain(t);
    t->state = LKNET_TLS_CLOSED;
}
