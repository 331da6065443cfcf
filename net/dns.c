/*
 * dns.c: just enough of RFC 1035 to look up an address.
 *
 * The answer is trusted only if it echoes our id and our question; names in
 * records are skipped, never followed (a compression pointer can only point
 * backwards, and every read is checked against the end), so a hostile
 * message can neither loop nor read out of bounds.
 */
#include "dns.h"

#include <netinet/in.h>
#include <string.h>
#include <strings.h>

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

size_t lkdns_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype)
{
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > 253 || cap < 12 + nlen + 2 + 4)
        return 0;
    memset(buf, 0, 12);
    buf[0] = (uint8_t)(id >> 8);
    buf[1] = (uint8_t)id;
    buf[2] = 0x01; /* recursion desired */
    buf[5] = 1;    /* one question */
    size_t pos = 12;
    const char *label = name;
    while (*label) {
        const char *dot = strchr(label, '.');
        size_t llen = dot ? (size_t)(dot - label) : strlen(label);
        if (llen == 0 || llen > 63)
            return 0; /* an empty or oversized label */
        buf[pos++] = (uint8_t)llen;
        memcpy(buf + pos, label, llen);
        pos += llen;
        label += llen + (dot ? 1 : 0);
        if (dot && !*label)
            break; /* a trailing dot: the root */
    }
    buf[pos++] = 0;
    buf[pos++] = (uint8_t)(qtype >> 8);
    buf[pos++] = (uint8_t)qtype;
    buf[pos++] = 0;
    buf[pos++] = 1; /* class IN */
    return pos;
}

/* Skips a (possibly compressed) name; returns the offset after it or 0. */
static size_t skip_name(const uint8_t *m, size_t len, size_t pos)
{
    for (int labels = 0; labels < 128; labels++) {
        if (pos >= len)
            return 0;
        uint8_t l = m[pos];
        if (l == 0)
            return pos + 1;
        if ((l & 0xc0) == 0xc0)
            return pos + 2 <= len ? pos + 2 : 0;
        if (l & 0xc0)
            return 0;
        pos += 1 + l;
    }
    return 0;
}

/* Does the uncompressed question name at pos equal `name`? Offset after. */
static size_t match_question(const uint8_t *m, size_t len, size_t pos, const char *name)
{
    const char *n = name;
    for (int labels = 0; labels < 128; labels++) {
        if (pos >= len)
            return 0;
        uint8_t l = m[pos++];
        if (l == 0)
            return (*n == '\0' || (n[0] == '.' && !n[1])) ? pos : 0;
        if (l & 0xc0 || pos + l > len)
            return 0;
        if (n != name) {
            if (*n != '.')
                return 0;
            n++;
        }
        if (strncasecmp((const char *)m + pos, n, l) || strlen(n) < l)
            return 0;
        n += l;
        pos += l;
    }
    return 0;
}

enum lkdns_result lkdns_answer(const uint8_t *m, size_t len, uint16_t id, const char *name,
                               uint16_t qtype, uint16_t port, struct sockaddr_storage *out,
                               socklen_t *outlen)
{
    if (len < 12 || rd16(m) != id || !(m[2] & 0x80) || rd16(m + 4) != 1)
        return LKDNS_MALFORMED;
    size_t pos = match_question(m, len, 12, name);
    if (!pos || pos + 4 > len || rd16(m + pos) != qtype)
        return LKDNS_MALFORMED;
    pos += 4;
    int rcode = m[3] & 0x0f;
    if (rcode == 3)
        return LKDNS_NXDOMAIN;
    if (rcode != 0)
        return LKDNS_SERVER_ERROR;
    unsigned answers = rd16(m + 6);
    for (unsigned i = 0; i < answers; i++) {
        pos = skip_name(m, len, pos);
        if (!pos || pos + 10 > len)
            return LKDNS_MALFORMED;
        uint16_t type = rd16(m + pos), klass = rd16(m + pos + 2), rdlen = rd16(m + pos + 8);
        pos += 10;
        if (rdlen > len - pos)
            return LKDNS_MALFORMED;
        if (klass == 1 && type == qtype && type == LKDNS_A && rdlen == 4) {
            struct sockaddr_in *a = (struct sockaddr_in *)out;
            memset(out, 0, sizeof *out);
            a->sin_family = AF_INET;
            a->sin_port = htons(port);
            memcpy(&a->sin_addr, m + pos, 4);
            *outlen = sizeof *a;
            return LKDNS_FOUND;
        }
        if (klass == 1 && type == qtype && type == LKDNS_AAAA && rdlen == 16) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
            memset(out, 0, sizeof *out);
            a->sin6_family = AF_INET6;
            a->sin6_port = htons(port);
            memcpy(&a->sin6_addr, m + pos, 16);
            *outlen = sizeof *a;
            return LKDNS_FOUND;
        }
        pos += rdlen; /* CNAMEs and the like: the address record follows */
    }
    return LKDNS_NO_ADDRESS;
}
