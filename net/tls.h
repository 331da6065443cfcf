/*
 * tls.h: a TLS client on OpenSSL memory BIOs, sans-I/O.
 *
 * Ciphertext from the socket goes in with lknet_tls_feed(); ciphertext for
 * the socket collects in `out`. The server's certificate is verified
 * against the system's trust store, which OpenSSL lets SSL_CERT_FILE and
 * SSL_CERT_DIR replace (how a private CA is supplied), and must name the
 * host we connect to.
 */
#ifndef LKNET_TLS_H
#define LKNET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

typedef struct ssl_st SSL;
typedef struct bio_st BIO;

enum lknet_tls_state { LKNET_TLS_HANDSHAKE, LKNET_TLS_OPEN, LKNET_TLS_CLOSED, LKNET_TLS_FAILED };

typedef struct lknet_tls {
    enum lknet_tls_state state;
    lknet_buf out;
    char error[256];
    SSL *ssl_;
    BIO *net_in_; /* what the server sent, for OpenSSL to read */
} lknet_tls;

/* 0, or -1 with error set (e.g. the trust store cannot be loaded). Queues
 * the ClientHello in out. */
int lknet_tls_init(lknet_tls *t, const char *host);
void lknet_tls_free(lknet_tls *t);

/* Ciphertext from the server; advances the handshake. 0, or -1 (FAILED). */
int lknet_tls_feed(lknet_tls *t, const uint8_t *data, size_t len);

/* Plaintext received: >0 bytes, 0 for nothing yet, -1 when the stream ended
 * (close_notify: state CLOSED) or failed (FAILED). */
ssize_t lknet_tls_read(lknet_tls *t, uint8_t *buf, size_t cap);

/* Plaintext to send (only once OPEN). 0 or -1. */
int lknet_tls_write(lknet_tls *t, const void *data, size_t len);

/* Queues close_notify. */
void lknet_tls_close(lknet_tls *t);

#endif
