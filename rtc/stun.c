/*
 * stun.c: parse and build STUN messages.
 *
 * Attributes are read in one pass with every length checked against what
 * is left; after FINGERPRINT nothing may follow, and after MESSAGE-INTEGRITY
 * only FINGERPRINT counts (RFC 8489 14.5). Integrity is verified on demand,
 * since the key depends on who the message is for.
 */
#include "stun.h"

#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "wire.h"

enum { FINGERPRINT_XOR = 0x5354554e, INTEGRITY_SIZE = 20 };

/* Bitwise: STUN messages are a few hundred bytes, and this needs no table
 * (no state to build or to inherit across fork). */
uint32_t lkstun_crc32(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

bool lkstun_looks_like(const uint8_t *p, size_t n)
{
    return n >= LKSTUN_HEADER_SIZE && (p[0] & 0xc0) == 0 && lkrtc_rd32(p + 4) == LKSTUN_MAGIC &&
           (lkrtc_rd16(p + 2) & 3) == 0 && (size_t)lkrtc_rd16(p + 2) + LKSTUN_HEADER_SIZE == n;
}

static int parse_address(lkstun_msg *m, const uint8_t *v, size_t len, bool xored)
{
    if (len < 4)
        return -1;
    uint16_t port = lkrtc_rd16(v + 2);
    if (xored)
        port ^= (uint16_t)(LKSTUN_MAGIC >> 16);
    memset(&m->mapped, 0, sizeof m->mapped);
    if (v[1] == 1 && len == 8) {
        struct sockaddr_in *a = (struct sockaddr_in *)&m->mapped;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        uint32_t addr = lkrtc_rd32(v + 4) ^ (xored ? LKSTUN_MAGIC : 0);
        a->sin_addr.s_addr = htonl(addr);
    } else if (v[1] == 2 && len == 20) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&m->mapped;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        memcpy(&a->sin6_addr, v + 4, 16);
        if (xored) {
            uint8_t mask[16];
            lkrtc_wr32(mask, LKSTUN_MAGIC);
            memcpy(mask + 4, m->txid, 12);
            for (int i = 0; i < 16; i++)
                a->sin6_addr.s6_addr[i] ^= mask[i];
        }
    } else {
        return -1;
    }
    m->has_mapped = true;
    return 0;
}

int lkstun_parse(lkstun_msg *m, const uint8_t *p, size_t n)
{
    memset(m, 0, sizeof *m);
    if (!lkstun_looks_like(p, n))
        return -1;
    m->type = lkrtc_rd16(p);
    memcpy(m->txid, p + 8, 12);
    bool xor_seen = false;
    size_t off = LKSTUN_HEADER_SIZE;
    while (off < n) {
        if (n - off < 4)
            return -1;
        uint16_t type = lkrtc_rd16(p + off), len = lkrtc_rd16(p + off + 2);
        const uint8_t *v = p + off + 4;
        size_t padded = ((size_t)len + 3) & ~(size_t)3;
        if (padded > n - off - 4)
            return -1;
        if (m->has_fingerprint)
            return -1; /* FINGERPRINT must be last */
        if (m->integrity_at && type != LKSTUN_ATTR_FINGERPRINT) {
            off += 4 + padded; /* ignored after MESSAGE-INTEGRITY */
            continue;
        }
        switch (type) {
        case LKSTUN_ATTR_USERNAME:
            if (len > 513)
                return -1;
            m->username = v;
            m->username_len = len;
            break;
        case LKSTUN_ATTR_MESSAGE_INTEGRITY:
            if (len != INTEGRITY_SIZE)
                return -1;
            m->integrity_at = off;
            break;
        case LKSTUN_ATTR_FINGERPRINT: {
            if (len != 4)
                return -1;
            /* The CRC covers everything before this attribute, with the
             * header's length as it stands (FINGERPRINT is last). */
            if ((lkstun_crc32(p, off) ^ FINGERPRINT_XOR) != lkrtc_rd32(v))
                return -1;
            m->has_fingerprint = true;
            break;
        }
        case LKSTUN_ATTR_ERROR_CODE:
            if (len < 4)
                return -1;
            m->error_code = (uint16_t)((v[2] & 7) * 100 + v[3]);
            break;
        case LKSTUN_ATTR_XOR_MAPPED_ADDRESS:
            if (parse_address(m, v, len, true) < 0)
                return -1;
            xor_seen = true;
            break;
        case LKSTUN_ATTR_MAPPED_ADDRESS:
            if (!xor_seen && parse_address(m, v, len, false) < 0)
                return -1;
            break;
        case LKSTUN_ATTR_PRIORITY:
            if (len != 4)
                return -1;
            m->has_priority = true;
            m->priority = lkrtc_rd32(v);
            break;
        case LKSTUN_ATTR_USE_CANDIDATE:
            m->use_candidate = true;
            break;
        case LKSTUN_ATTR_ICE_CONTROLLED:
        case LKSTUN_ATTR_ICE_CONTROLLING:
            if (len != 8)
                return -1;
            m->tiebreaker = (uint64_t)lkrtc_rd32(v) << 32 | lkrtc_rd32(v + 4);
            if (type == LKSTUN_ATTR_ICE_CONTROLLING)
                m->has_controlling = true;
            else
                m->has_controlled = true;
            break;
        default:
            if (type < 0x8000 && !m->unknown_required)
                m->unknown_required = type;
            break;
        }
        off += 4 + padded;
    }
    return 0;
}

static void hmac_sha1(const void *key, size_t keylen, const uint8_t *data, size_t n,
                      uint8_t out[INTEGRITY_SIZE])
{
    unsigned int len = INTEGRITY_SIZE;
    HMAC(EVP_sha1(), key, (int)keylen, data, n, out, &len);
}

bool lkstun_integrity_ok(const lkstun_msg *m, const uint8_t *p, size_t n, const void *key,
                         size_t keylen)
{
    if (!m->integrity_at || m->integrity_at + 4 + INTEGRITY_SIZE > n)
        return false;
    /* The HMAC covers the message up to the attribute, with a length field
     * that ends right after it (a FINGERPRINT after it is not counted). */
    uint8_t copy[2048];
    size_t covered = m->integrity_at;
    if (covered > sizeof copy)
        return false;
    memcpy(copy, p, covered);
    lkrtc_wr16(copy + 2, (uint16_t)(covered + 4 + INTEGRITY_SIZE - LKSTUN_HEADER_SIZE));
    uint8_t mac[INTEGRITY_SIZE];
    hmac_sha1(key, keylen, copy, covered, mac);
    return CRYPTO_memcmp(mac, p + m->integrity_at + 4, INTEGRITY_SIZE) == 0;
}

/* --- building ----------------------------------------------------------------- */

void lkstun_begin(lkstun_builder *b, uint8_t *buf, size_t cap, uint16_t type,
                  const uint8_t txid[12])
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->overflow = cap < LKSTUN_HEADER_SIZE;
    if (b->overflow)
        return;
    lkrtc_wr16(buf, type);
    lkrtc_wr16(buf + 2, 0);
    lkrtc_wr32(buf + 4, LKSTUN_MAGIC);
    memcpy(buf + 8, txid, 12);
    b->len = LKSTUN_HEADER_SIZE;
}

static uint8_t *reserve(lkstun_builder *b, uint16_t attr, size_t len)
{
    size_t padded = (len + 3) & ~(size_t)3;
    if (b->overflow || len > 0xffff || b->cap - b->len < 4 + padded) {
        b->overflow = true;
        return NULL;
    }
    uint8_t *a = b->buf + b->len;
    lkrtc_wr16(a, attr);
    lkrtc_wr16(a + 2, (uint16_t)len);
    memset(a + 4 + len, 0, padded - len);
    b->len += 4 + padded;
    lkrtc_wr16(b->buf + 2, (uint16_t)(b->len - LKSTUN_HEADER_SIZE));
    return a + 4;
}

void lkstun_add(lkstun_builder *b, uint16_t attr, const void *value, size_t len)
{
    uint8_t *v = reserve(b, attr, len);
    if (v && len)
        memcpy(v, value, len);
}

void lkstun_add_u32(lkstun_builder *b, uint16_t attr, uint32_t x)
{
    uint8_t *v = reserve(b, attr, 4);
    if (v)
        lkrtc_wr32(v, x);
}

void lkstun_add_u64(lkstun_builder *b, uint16_t attr, uint64_t x)
{
    uint8_t *v = reserve(b, attr, 8);
    if (v) {
        lkrtc_wr32(v, (uint32_t)(x >> 32));
        lkrtc_wr32(v + 4, (uint32_t)x);
    }
}

void lkstun_add_xor_address(lkstun_builder *b, const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        uint8_t *v = reserve(b, LKSTUN_ATTR_XOR_MAPPED_ADDRESS, 8);
        if (!v)
            return;
        v[0] = 0;
        v[1] = 1;
        lkrtc_wr16(v + 2, (uint16_t)(ntohs(a->sin_port) ^ (LKSTUN_MAGIC >> 16)));
        lkrtc_wr32(v + 4, ntohl(a->sin_addr.s_addr) ^ LKSTUN_MAGIC);
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        uint8_t *v = reserve(b, LKSTUN_ATTR_XOR_MAPPED_ADDRESS, 20);
        if (!v)
            return;
        v[0] = 0;
        v[1] = 2;
        lkrtc_wr16(v + 2, (uint16_t)(ntohs(a->sin6_port) ^ (LKSTUN_MAGIC >> 16)));
        uint8_t mask[16];
        lkrtc_wr32(mask, LKSTUN_MAGIC);
        memcpy(mask + 4, b->buf + 8, 12);
        for (int i = 0; i < 16; i++)
            v[4 + i] = a->sin6_addr.s6_addr[i] ^ mask[i];
    }
}

void lkstun_add_error(lkstun_builder *b, uint16_t code, const char *reason)
{
    size_t rlen = strlen(reason);
    uint8_t *v = reserve(b, LKSTUN_ATTR_ERROR_CODE, 4 + rlen);
    if (!v)
        return;
    v[0] = v[1] = 0;
    v[2] = (uint8_t)(code / 100);
    v[3] = (uint8_t)(code % 100);
    memcpy(v + 4, reason, rlen);
}

void lkstun_add_integrity(lkstun_builder *b, const void *key, size_t keylen)
{
    size_t covered = b->len;
    uint8_t *v = reserve(b, LKSTUN_ATTR_MESSAGE_INTEGRITY, INTEGRITY_SIZE);
    if (v) /* the length field already ends after this attribute */
        hmac_sha1(key, keylen, b->buf, covered, v);
}

void lkstun_add_fingerprint(lkstun_builder *b)
{
    size_t covered = b->len;
    uint8_t *v = reserve(b, LKSTUN_ATTR_FINGERPRINT, 4);
    if (v)
        lkrtc_wr32(v, lkstun_crc32(b->buf, covered) ^ FINGERPRINT_XOR);
}

size_t lkstun_end(lkstun_builder *b)
{
    return b->overflow ? 0 : b->len;
}
