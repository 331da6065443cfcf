/*
 * dtls.h: one DTLS 1.2 endpoint for WebRTC (RFC 8827, 5764), sans-I/O.
 *
 * Datagrams from the peer go in with lkdtls_on_datagram; each datagram for
 * the peer comes out through the send callback. The peer's certificate is
 * self-signed: what makes it trusted is that its fingerprint matches the
 * one in the peer's SDP. Handshake retransmission runs on the caller's
 * clock (lkdtls_next_deadline / lkdtls_on_timeout).
 */
#ifndef LKRTC_DTLS_H
#define LKRTC_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"

typedef struct lkdtls lkdtls;

typedef struct lkdtls_callbacks {
    void *ctx;
    void (*send)(void *ctx, const uint8_t *data, size_t len);
    void (*connected)(void *ctx);
    void (*data)(void *ctx, const uint8_t *data, size_t len);
    /* Once: the peer's close_notify (error NULL) or a failure (why). */
    void (*closed)(void *ctx, const char *error);
} lkdtls_callbacks;

/* SRTP keying material exported after the handshake (RFC 5764 4.2). */
typedef struct lkdtls_srtp {
    unsigned profile; /* 1 = AES128_CM_HMAC_SHA1_80, 7 = AEAD_AES_128_GCM */
    uint8_t local_key[16], remote_key[16];
    uint8_t local_salt[14], remote_salt[14];
    size_t salt_len;
} lkdtls_srtp;

/* client: we send the ClientHello (SDP a=setup:active). remote_fingerprint:
 * the peer's a=fingerprint value; may be set later, before the handshake
 * completes. The certificate must outlive the endpoint. */
lkdtls *lkdtls_new(const lkrtc_cert *cert, bool client, const lkdtls_callbacks *cb);
int lkdtls_set_remote_fingerprint(lkdtls *d, const char *value);
void lkdtls_start(lkdtls *d, uint64_t now_ns);

void lkdtls_on_datagram(lkdtls *d, uint64_t now_ns, const uint8_t *data, size_t len);
uint64_t lkdtls_next_deadline(lkdtls *d, uint64_t now_ns); /* UINT64_MAX: none */
void lkdtls_on_timeout(lkdtls *d, uint64_t now_ns);

/* Application data (an SCTP packet). 0, or -1 unless connected. */
int lkdtls_send(lkdtls *d, const void *data, size_t len);
int lkdtls_srtp_keys(lkdtls *d, lkdtls_srtp *out);
bool lkdtls_connected(const lkdtls *d);

/* What the stats report (W3C webrtc-stats: RTCTransportStats). The enum's
 * order is the W3C RTCDtlsTransportState's. */
enum lkdtls_state { LKDTLS_NEW, LKDTLS_CONNECTING, LKDTLS_CONNECTED, LKDTLS_CLOSED, LKDTLS_FAILED };
typedef struct lkdtls_info {
    enum lkdtls_state state;
    bool client;
    /* once connected, "" before: the version as 4 hex digits ("FEFD" for
     * DTLS 1.2, as libwebrtc reports it), the cipher suite's IANA name, and
     * the SRTP profile's RFC 5764 name */
    char version[8];
    const char *cipher, *srtp_cipher;
} lkdtls_info;
void lkdtls_get_info(const lkdtls *d, lkdtls_info *out);

/* Sends close_notify. */
void lkdtls_close(lkdtls *d);
/* Frees without sending anything (also what a fork child does). */
void lkdtls_free(lkdtls *d);

#endif
