/*
 * cert.c: certificates for DTLS-SRTP. WebRTC peers do not trust each
 * other's certificates through a CA: each one is self-signed, and the
 * fingerprint in the signalled SDP is what ties it to the session.
 */
#include "cert.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int lkrtc_cert_generate(lkrtc_cert *c)
{
    memset(c, 0, sizeof *c);
    c->key = EVP_EC_gen("P-256");
    c->x509 = X509_new();
    if (!c->key || !c->x509)
        goto fail;
    unsigned char serial[8], cn_bytes[8];
    RAND_bytes(serial, sizeof serial);
    RAND_bytes(cn_bytes, sizeof cn_bytes);
    serial[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    ASN1_INTEGER *sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    BN_free(bn);
    if (!sn || !X509_set_serialNumber(c->x509, sn)) {
        ASN1_INTEGER_free(sn);
        goto fail;
    }
    ASN1_INTEGER_free(sn);
    char cn[32];
    snprintf(cn, sizeof cn, "lkffi-%02x%02x%02x%02x%02x%02x%02x%02x", cn_bytes[0], cn_bytes[1],
             cn_bytes[2], cn_bytes[3], cn_bytes[4], cn_bytes[5], cn_bytes[6], cn_bytes[7]);
    X509_NAME *name = X509_get_subject_name(c->x509);
    if (!X509_set_version(c->x509, 2) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (unsigned char *)cn, -1, -1, 0) ||
        !X509_set_issuer_name(c->x509, name) ||
        !X509_gmtime_adj(X509_getm_notBefore(c->x509), -86400) || /* clock skew */
        !X509_gmtime_adj(X509_getm_notAfter(c->x509), 30L * 86400) ||
        !X509_set_pubkey(c->x509, c->key) || !X509_sign(c->x509, c->key, EVP_sha256()))
        goto fail;
    if (lkrtc_fingerprint(c->x509, "sha-256", c->fingerprint, sizeof c->fingerprint) < 0)
        goto fail;
    return 0;
fail:
    lkrtc_cert_free(c);
    return -1;
}

void lkrtc_cert_free(lkrtc_cert *c)
{
    X509_free(c->x509);
    EVP_PKEY_free(c->key);
    c->x509 = NULL;
    c->key = NULL;
}

static const EVP_MD *hash_named(const char *hash)
{
    if (!strcasecmp(hash, "sha-256"))
        return EVP_sha256();
    if (!strcasecmp(hash, "sha-1"))
        return EVP_sha1();
    if (!strcasecmp(hash, "sha-384"))
        return EVP_sha384();
    if (!strcasecmp(hash, "sha-512"))
        return EVP_sha512();
    return NULL;
}

int lkrtc_fingerprint(X509 *x, const char *hash, char *out, size_t cap)
{
    const EVP_MD *md = hash_named(hash);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!md || !X509_digest(x, md, digest, &n) || cap < strlen(hash) + 1 + 3 * n)
        return -1;
    size_t pos = (size_t)snprintf(out, cap, "%s ", hash);
    for (unsigned i = 0; i < n; i++)
        pos += (size_t)snprintf(out + pos, cap - pos, i ? ":%02X" : "%02X", digest[i]);
    return 0;
}

bool lkrtc_fingerprint_matches(X509 *x, const char *sdp_value)
{
    char hash[16], mine[200];
    const char *sp = strchr(sdp_value, ' ');
    if (!x || !sp || (size_t)(sp - sdp_value) >= sizeof hash)
        return false;
    memcpy(hash, sdp_value, (size_t)(sp - sdp_value));
    hash[sp - sdp_value] = '\0';
    if (lkrtc_fingerprint(x, hash, mine, sizeof mine) < 0)
        return false;
    const char *theirs = sp;
    while (*theirs == ' ')
        theirs++;
    size_t tlen = strlen(theirs);
    while (tlen && (theirs[tlen - 1] == '\r' || theirs[tlen - 1] == '\n' || theirs[tlen - 1] == ' '))
        tlen--;
    const char *want = mine + strlen(hash) + 1;
    return tlen == strlen(want) && !strncasecmp(theirs, want, tlen);
}
