/*
 * url.h: the URLs a client hands us for a LiveKit server: ws://, wss://,
 * http:// and https:// (the last two mean the same server over WebSocket).
 */
#ifndef LKNET_URL_H
#define LKNET_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lknet_url {
    bool tls;       /* wss:// or https:// */
    char host[256]; /* without brackets for IPv6 literals */
    uint16_t port;  /* the scheme's default when absent */
    char path[1024];  /* always starts with '/'; without a trailing '/' unless it is "/" */
    char query[12288]; /* without the '?'; may be empty (a join request travels here) */
} lknet_url;

/* 0, or -1 with a reason in err. */
int lknet_url_parse(lknet_url *u, const char *text, char *err, size_t errlen);

/* Appends a path segment ("rtc") to u->path, keeping one '/' between. */
int lknet_url_append_path(lknet_url *u, const char *segment);

/* Appends key=value to u->query, percent-encoding both. 0 or -1 if full. */
int lknet_url_add_query(lknet_url *u, const char *key, const char *value);

/* "host:port" for a Host header (IPv6 in brackets; port omitted when it is
 * the scheme's default). */
void lknet_url_host_header(const lknet_url *u, char *out, size_t outlen);

#endif
