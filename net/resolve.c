/*
 * resolve.c: literals, localhost and /etc/hosts.
 *
 * getaddrinfo() may block for seconds on DNS, which a worker must never do,
 * so it is not used at all. A DNS client on the ring is the next step; until
 * then a name that needs DNS fails at once with a reason.
 */
#include "resolve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int literal(const char *host, uint16_t port, struct sockaddr_storage *out,
                   socklen_t *outlen)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *outlen = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *outlen = sizeof *v6;
        return 0;
    }
    return -1;
}

/* The first address /etc/hosts gives the name, IPv4 preferred (the
 * servers we talk to listen on both or on IPv4). */
static int from_hosts(const char *path, const char *host, uint16_t port,
                      struct sockaddr_storage *out, socklen_t *outlen)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char line[512];
    int found = -1;
    struct sockaddr_storage v6_candidate;
    socklen_t v6_len = 0;
    while (found < 0 && fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *save = NULL, *addr = strtok_r(line, " \t\r\n", &save);
        if (!addr)
            continue;
        for (char *name; (name = strtok_r(NULL, " \t\r\n", &save));) {
            if (strcasecmp(name, host))
                continue;
            struct sockaddr_storage a;
            socklen_t len;
            if (literal(addr, port, &a, &len) < 0)
                break;
            if (a.ss_family == AF_INET) {
                *out = a;
                *outlen = len;
                found = 0;
            } else if (!v6_len) {
                v6_candidate = a;
                v6_len = len;
            }
            break;
        }
    }
    fclose(f);
    if (found < 0 && v6_len) {
        *out = v6_candidate;
        *outlen = v6_len;
        found = 0;
    }
    return found;
}

int lknet_resolve_now(const char *host, uint16_t port, struct sockaddr_storage *out,
                      socklen_t *outlen, const char *hosts_path, char *err, size_t errlen)
{
    if (literal(host, port, out, outlen) == 0)
        return 0;
    if (from_hosts(hosts_path ? hosts_path : "/etc/hosts", host, port, out, outlen) == 0)
        return 0;
    if (!strcasecmp(host, "localhost"))
        return literal("127.0.0.1", port, out, outlen);
    snprintf(err, errlen,
             "cannot resolve \"%.200s\": not an address, not in /etc/hosts, and this build "
             "does not query DNS yet",
             host);
    return -1;
}
