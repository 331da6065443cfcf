/*
 * url.c: a deliberately small URL parser: scheme, host, port, path, query.
 * User info and fragments are refused or dropped; anything odd in the host
 * is refused rather than guessed at, since the host is also the name the
 * TLS certificate must carry.
 */
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(char *err, size_t errlen, const char *why, const char *text)
{
    snprintf(err, errlen, "invalid URL \"%.200s\": %s", text, why);
    return -1;
}

static bool host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_';
}

int lknet_url_parse(lknet_url *u, const char *text, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    const char *p = strstr(text, "://");
    if (!p)
        return fail(err, errlen, "no scheme (expected ws://, wss://, http:// or https://)", text);
    size_t slen = (size_t)(p - text);
    if (slen == 2 && !strncasecmp(text, "ws", 2))
        u->tls = false;
    else if (slen == 3 && !strncasecmp(text, "wss", 3))
        u->tls = true;
    else if (slen == 4 && !strncasecmp(text, "http", 4))
        u->tls = false;
    else if (slen == 5 && !strncasecmp(text, "https", 5))
        u->tls = true;
    else
        return fail(err, errlen, "unsupported scheme (expected ws, wss, http or https)", text);
    p += 3;

    /* authority: up to '/', '?' or '#' */
    size_t alen = strcspn(p, "/?#");
    const char *auth = p, *auth_end = p + alen;
    if (memchr(auth, '@', alen))
        return fail(err, errlen, "user information is not supported", text);
    const char *port_at = NULL;
    if (alen && *auth == '[') {
        const char *close = memchr(auth, ']', alen);
        if (!close)
            return fail(err, errlen, "unterminated IPv6 address", text);
        size_t hlen = (size_t)(close - auth - 1);
        if (hlen == 0 || hlen >= sizeof u->host)
            return fail(err, errlen, "bad IPv6 address", text);
        memcpy(u->host, auth + 1, hlen);
        for (size_t i = 0; i < hlen; i++)
            if (!strchr("0123456789abcdefABCDEF:.", u->host[i]))
                return fail(err, errlen, "bad IPv6 address", text);
        if (close + 1 < auth_end) {
            if (close[1] != ':')
                return fail(err, errlen, "junk after the IPv6 address", text);
            port_at = close + 2;
        }
    } else {
        const char *colon = memchr(auth, ':', alen);
        size_t hlen = colon ? (size_t)(colon - auth) : alen;
        if (hlen == 0)
            return fail(err, errlen, "no host", text);
        if (hlen >= sizeof u->host)
            return fail(err, errlen, "host name too long", text);
        for (size_t i = 0; i < hlen; i++)
            if (!host_char_ok(auth[i]))
                return fail(err, errlen, "bad character in host name", text);
        memcpy(u->host, auth, hlen);
        if (colon)
            port_at = colon + 1;
    }
    u->port = u->tls ? 443 : 80;
    if (port_at) {
        unsigned long v = 0;
        const char *q = port_at;
        if (q == auth_end)
            return fail(err, errlen, "empty port", text);
        for (; q < auth_end; q++) {
            if (*q < '0' || *q > '9')
                return fail(err, errlen, "bad port", text);
            v = v * 10 + (unsigned long)(*q - '0');
            if (v > 65535)
                return fail(err, errlen, "port out of range", text);
        }
        if (v == 0)
            return fail(err, errlen, "port out of range", text);
        u->port = (uint16_t)v;
    }

    p = auth_end;
    size_t plen = strcspn(p, "?#");
    if (plen >= sizeof u->path)
        return fail(err, errlen, "path too long", text);
    if (plen == 0) {
        strcpy(u->path, "/");
    } else {
        memcpy(u->path, p, plen);
        while (plen > 1 && u->path[plen - 1] == '/')
            u->path[--plen] = '\0';
    }
    p += strcspn(p, "?#");
    if (*p == '?') {
        p++;
        size_t qlen = strcspn(p, "#");
        if (qlen >= sizeof u->query)
            return fail(err, errlen, "query too long", text);
        memcpy(u->query, p, qlen);
    }
    return 0;
}

int lknet_url_append_path(lknet_url *u, const char *segment)
{
    size_t len = strlen(u->path);
    while (*segment == '/')
        segment++;
    const char *sep = u->path[len - 1] == '/' ? "" : "/";
    int n = snprintf(u->path + len, sizeof u->path - len, "%s%s", sep, segment);
    return n < 0 || (size_t)n >= sizeof u->path - len ? -1 : 0;
}

/* RFC 3986 unreserved characters pass; everything else is %XX. */
static int encode(char *out, size_t cap, size_t *pos, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        if (*pos + (plain ? 1 : 3) >= cap)
            return -1;
        if (plain) {
            out[(*pos)++] = (char)c;
        } else {
            out[(*pos)++] = '%';
            out[(*pos)++] = hex[c >> 4];
            out[(*pos)++] = hex[c & 15];
        }
    }
    out[*pos] = '\0';
    return 0;
}

int lknet_url_add_query(lknet_url *u, const char *key, const char *value)
{
    size_t pos = strlen(u->query);
    size_t saved = pos;
    if (pos) {
        if (pos + 1 >= sizeof u->query)
            return -1;
        u->query[pos++] = '&';
    }
    if (encode(u->query, sizeof u->query, &pos, key) < 0 || pos + 1 >= sizeof u->query)
        goto full;
    u->query[pos++] = '=';
    if (encode(u->query, sizeof u->query, &pos, value) < 0)
        goto full;
    return 0;
full:
    u->query[saved] = '\0';
    return -1;
}

void lknet_url_host_header(const lknet_url *u, char *out, size_t outlen)
{
    bool v6 = strchr(u->host, ':') != NULL;
    bool default_port = u->port == (u->tls ? 443 : 80);
    if (default_port)
        snprintf(out, outlen, v6 ? "[%s]" : "%s", u->host);
    else
        snprintf(out, outlen, v6 ? "[%s]:%u" : "%s:%u", u->host, (unsigned)u->port);
}
