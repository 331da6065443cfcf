/*
 * cert.h: the self-signed certificate a PeerConnection presents in DTLS,
 * and the SDP fingerprints (RFC 8122) that bind certificates to the
 * signalled session.
 */
#ifndef LKRTC_CERT_H
#define LKRTC_CERT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

typedef struct lkrtc_cert {
    EVP_PKEY *key;
    X509 *x509;
    char fingerprint[112]; /* "sha-256 AB:CD:..." as a=fingerprint carries it */
} lkrtc_cert;

/* An ECDSA P-256 key and a certificate valid for 30 days. 0 or -1. */
int lkrtc_cert_generate(lkrtc_cert *c);
void lkrtc_cert_free(lkrtc_cert *c);

/* The certificate's fingerprint with the named hash ("sha-256", "sha-1",
 * "sha-384", "sha-512"), formatted for SDP. 0 or -1. */
int lkrtc_fingerprint(X509 *x, const char *hash, char *out, size_t cap);

/* True if `sdp_value` ("sha-256 AB:..", any case) names this certificate. */
bool lkrtc_fingerprint_matches(X509 *x, const char *sdp_value);

#endif
