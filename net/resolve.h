/*
 * resolve.h: host names to addresses, without ever blocking a worker.
 *
 * Literal IPv4 and IPv6 addresses and "localhost" resolve at once, then
 * /etc/hosts (a small local file, read synchronously). Names that need DNS
 * are not resolved yet: the caller gets an error that says so.
 */
#ifndef LKNET_RESOLVE_H
#define LKNET_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Fills *out with host:port. 0, or -1 with a reason in err. hosts_path:
 * NULL for /etc/hosts (tests pass their own). */
int lknet_resolve_now(const char *host, uint16_t port, struct sockaddr_storage *out,
                      socklen_t *outlen, const char *hosts_path, char *err, size_t errlen);

#endif
