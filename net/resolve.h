/*
 * resolve.h: host names to addresses, without ever blocking a worker.
 *
 * Literal IPv4 and IPv6 addresses answer at once, then /etc/hosts (a small
 * local file, read synchronously), then "localhost"; anything else is asked
 * of the nameservers in /etc/resolv.conf over UDP on the worker's ring.
 */
#ifndef LKNET_RESOLVE_H
#define LKNET_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "io.h"

/* Without DNS: 0, 1 when the name needs DNS, or -1 with a reason in err.
 * hosts_path: NULL for /etc/hosts. */
int lknet_resolve_now(const char *host, uint16_t port, struct sockaddr_storage *out,
                      socklen_t *outlen, const char *hosts_path, char *err, size_t errlen);

typedef struct lknet_lookup lknet_lookup;

/* addr is NULL on failure, with error saying why. */
typedef void (*lknet_lookup_fn)(void *ctx, const struct sockaddr *addr, socklen_t len,
                                const char *error);

typedef struct lknet_lookup_config {
    const char *hosts_path;       /* NULL: /etc/hosts */
    const char *resolv_conf_path; /* NULL: /etc/resolv.conf */
    /* instead of resolv.conf's nameservers (tests: a server on a high port) */
    const struct sockaddr *nameserver;
    socklen_t nameserver_len;
    unsigned timeout_ms;          /* per attempt; 0: 1000 */
    unsigned attempts;            /* per nameserver; 0: 2 */
} lknet_lookup_config;

/* Resolves on worker w (call it there). fn runs exactly once, later, on w,
 * unless the lookup is cancelled first. cfg may be NULL. */
lknet_lookup *lknet_lookup_start(lkio_worker *w, const char *host, uint16_t port,
                                 const lknet_lookup_config *cfg, lknet_lookup_fn fn, void *ctx);

/* Before its callback has run: no callback after this; the memory goes
 * when the ring is done with it. */
void lknet_lookup_cancel(lknet_lookup *l);

#endif
