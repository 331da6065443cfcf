/*
 * dtls.c: DTLS on OpenSSL 3.0.
 *
 * Input goes through a memory BIO, one datagram at a time. Output needs
 * datagram boundaries, which a memory BIO (a byte stream in 3.0) loses, so
 * the write side is a BIO of our own whose every write is one datagram
 * handed to the send callback. The handshake timer is OpenSSL's, with our
 * schedule (DTLS_set_timer_cb): 100 ms doubling to 3 s, the lifetime of a
 * WebRTC handshake being seconds, not the minute RFC 6347 allows.
 */
#include "dtls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MTU = 1200, PROFILE_AES128_CM_SHA1_80 = 1, PROFILE_AEAD_AES_128_GCM = 7 };

struct lkdtls {
    lkdtls_callbacks cb;
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *in;
    BIO_METHOD *out_method;
    bool client, started, connected, closed, failed;
    char remote_fp[160];
};

/* --- the datagram BIO ------------------------------------------------------- */

static int out_write(BIO *b, const char *data, int len)
{
    lkdtls *d = BIO_get_data(b);
    if (len > 0 && !d->closed)
        d->cb.send(d->cb.ctx, (const uint8_t *)data, (size_t)len);
    return len;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        return MTU;
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING:
        return 0;
    default:
        return 0;
    }
}

static int out_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* --- setup --------------------------------------------------------------------- */

static int accept_any(int ok, X509_STORE_CTX *store)
{
    return 1; /* self-signed by design: the SDP fingerprint is checked instead */
}

static unsigned int timer_schedule(SSL *ssl, unsigned int previous_us)
{
    if (previous_us == 0)
        return 100000;
    return previous_us >= 1500000 ? 3000000 : previous_us * 2;
}

lkdtls *lkdtls_new(const lkrtc_cert *cert, bool client, const lkdtls_callbacks *cb)
{
    lkdtls *d = calloc(1, sizeof *d);
    if (!d)
        abort();
    d->cb = *cb;
    d->client = client;
    d->ctx = SSL_CTX_new(DTLS_method());
    if (!d->ctx)
        abort();
    SSL_CTX_set_min_proto_version(d->ctx, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(d->ctx, DTLS1_2_VERSION);
    /* Both profiles pion offers; GCM preferred. (0 means success here.) */
    if (SSL_CTX_set_tlsext_use_srtp(d->ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") ||
        !SSL_CTX_use_certificate(d->ctx, cert->x509) ||
        !SSL_CTX_use_PrivateKey(d->ctx, cert->key)) {
        lkdtls_free(d);
        return NULL;
    }
    SSL_CTX_set_verify(d->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
    SSL_CTX_set_options(d->ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
    d->ssl = SSL_new(d->ctx);
    d->in = BIO_new(BIO_s_mem());
    d->out_method = BIO_meth_new(BIO_TYPE_SOURCE_SINK | BIO_get_new_index(), "lkdtls-datagram");
    if (!d->ssl || !d->in || !d->out_method)
        abort();
    BIO_meth_set_write(d->out_method, out_write);
    BIO_meth_set_ctrl(d->out_method, out_ctrl);
    BIO_meth_set_create(d->out_method, out_create);
    BIO *out = BIO_new(d->out_method);
    if (!out)
        abort();
    BIO_set_data(out, d);
    BIO_set_mem_eof_return(d->in, -1);
    SSL_set_bio(d->ssl, d->in, out);
    SSL_set_mtu(d->ssl, MTU);
    DTLS_set_link_mtu(d->ssl, MTU);
    DTLS_set_timer_cb(d->ssl, timer_schedule);
    if (client)
        SSL_set_connect_state(d->ssl);
    else
        SSL_set_accept_state(d->ssl);
    return d;
}

int lkdtls_set_remote_fingerprint(lkdtls *d, const char *value)
{
    if (strlen(value) >= sizeof d->remote_fp)
        return -1;
    snprintf(d->remote_fp, sizeof d->remote_fp, "%s", value);
    return 0;
}

bool lkdtls_connected(const lkdtls *d)
{
    return d->connected;
}

/* --- the handshake and data ----------------------------------------------------- */

static void finish(lkdtls *d, const char *error)
{
    if (d->closed)
        return;
    d->closed = true;
    d->failed = error != NULL;
    if (d->cb.closed)
        d->cb.closed(d->cb.ctx, error);
}

static void fail_with_openssl(lkdtls *d, const char *what)
{
    char msg[256];
    unsigned long e = ERR_get_error();
    snprintf(msg, sizeof msg, "DTLS %s failed: %s", what,
             e ? ERR_reason_error_string(e) : "the peer closed the connection");
    ERR_clear_error();
    finish(d, msg);
}

static void on_handshake_done(lkdtls *d)
{
    X509 *peer = SSL_get1_peer_certificate(d->ssl);
    bool ok = peer && d->remote_fp[0] && lkrtc_fingerprint_matches(peer, d->remote_fp);
    X509_free(peer);
    if (!ok) {
        finish(d, d->remote_fp[0]
                      ? "DTLS: the peer's certificate does not match the fingerprint in its SDP"
                      : "DTLS: no fingerprint from the peer's SDP to check its certificate against");
        return;
    }
    d->connected = true;
    if (d->cb.connected)
        d->cb.connected(d->cb.ctx);
}

/* Drives OpenSSL with whatever input it has. */
static void pump(lkdtls *d)
{
    if (d->closed)
        return;
    if (!d->connected) {
        int r = SSL_do_handshake(d->ssl);
        if (r == 1) {
            on_handshake_done(d);
        } else {
            int e = SSL_get_error(d->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                fail_with_openssl(d, "handshake");
            return;
        }
    }
    uint8_t buf[16384];
    while (!d->closed) {
        size_t got = 0;
        int r = SSL_read_ex(d->ssl, buf, sizeof buf, &got);
        if (r == 1) {
            if (d->cb.data)
                d->cb.data(d->cb.ctx, buf, got);
            continue;
        }
        int e = SSL_get_error(d->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN)
            finish(d, NULL);
        else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            fail_with_openssl(d, "read");
        break;
    }
    ERR_clear_error();
}

void lkdtls_start(lkdtls *d, uint64_t now_ns)
{
    if (d->started)
        return;
    d->started = true;
    pump(d); /* the client's ClientHello; a server just waits */
}

void lkdtls_on_datagram(lkdtls *d, uint64_t now_ns, const uint8_t *data, size_t len)
{
    if (d->closed || !len || len > 65535)
        return;
    d->started = true;
    BIO_write(d->in, data, (int)len);
    pump(d);
    /* A record OpenSSL could not use must not stay for the next datagram. */
    (void)BIO_reset(d->in);
}

uint64_t lkdtls_next_deadline(lkdtls *d, uint64_t now_ns)
{
    struct timeval tv;
    if (d->closed || d->connected || !d->started || !DTLSv1_get_timeout(d->ssl, &tv))
        return UINT64_MAX;
    return now_ns + (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
}

void lkdtls_on_timeout(lkdtls *d, uint64_t now_ns)
{
    if (d->closed || d->connected || !d->started)
        return;
    if (DTLSv1_handle_timeout(d->ssl) < 0)
        fail_with_openssl(d, "handshake (no answer from the peer)");
    ERR_clear_error();
}

int lkdtls_send(lkdtls *d, const void *data, size_t len)
{
    if (!d->connected || d->closed)
        return -1;
    size_t done = 0;
    if (SSL_write_ex(d->ssl, data, len, &done) != 1 || done != len) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}

int lkdtls_srtp_keys(lkdtls *d, lkdtls_srtp *out)
{
    if (!d->connected)
        return -1;
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
    if (!p)
        return -1;
    memset(out, 0, sizeof *out);
    out->profile = (unsigned)p->id;
    out->salt_len = p->id == PROFILE_AEAD_AES_128_GCM ? 12 : 14;
    /* client key, server key, client salt, server salt */
    uint8_t m[2 * (16 + 14)];
    size_t n = 2 * (16 + out->salt_len);
    if (SSL_export_keying_material(d->ssl, m, n, "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0) != 1)
        return -1;
    const uint8_t *ck = m, *sk = m + 16, *cs = m + 32, *ss = m + 32 + out->salt_len;
    memcpy(out->local_key, d->client ? ck : sk, 16);
    memcpy(out->remote_key, d->client ? sk : ck, 16);
    memcpy(out->local_salt, d->client ? cs : ss, out->salt_len);
    memcpy(out->remote_salt, d->client ? ss : cs, out->salt_len);
    return 0;
}

void lkdtls_get_info(const lkdtls *d, lkdtls_info *out)
{
    memset(out, 0, sizeof *out);
    out->state = d->failed      ? LKDTLS_FAILED
                 : d->closed    ? LKDTLS_CLOSED
                 : d->connected ? LKDTLS_CONNECTED
                 : d->started   ? LKDTLS_CONNECTING
                                : LKDTLS_NEW;
    out->client = d->client;
    out->cipher = out->srtp_cipher = "";
    if (!d->connected)
        return;
    snprintf(out->version, sizeof out->version, "%04X", (unsigned)SSL_version(d->ssl) & 0xffff);
    const SSL_CIPHER *c = SSL_get_current_cipher(d->ssl);
    const char *name = c ? SSL_CIPHER_standard_name(c) : NULL;
    out->cipher = name ? name : "";
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
    if (p)
        out->srtp_cipher = p->id == PROFILE_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM"
                           : p->id == PROFILE_AES128_CM_SHA1_80 ? "AES_CM_128_HMAC_SHA1_80"
                                                             : p->name;
}

void lkdtls_close(lkdtls *d)
{
    if (d->connected && !d->closed)
        SSL_shutdown(d->ssl);
    ERR_clear_error();
    d->closed = true;
}

void lkdtls_free(lkdtls *d)
{
    if (!d)
        return;
    d->closed = true; /* SSL_free may flush: nothing leaves from here */
    SSL_free(d->ssl);
    SSL_CTX_free(d->ctx);
    BIO_meth_free(d->out_method);
    free(d);
}
