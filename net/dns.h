/*
 * dns.h: DNS messages (RFC 1035) for address lookups, sans-I/O: an A or
 * AAAA query, and the address in the answer.
 */
#ifndef LKNET_DNS_H
#define LKNET_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { LKDNS_A = 1, LKDNS_AAAA = 28, LKDNS_MAX_MESSAGE = 1232 };

enum lkdns_result {
    LKDNS_FOUND = 0,
    LKDNS_NO_ADDRESS = 1, /* the name exists but has no record of that type */
    LKDNS_NXDOMAIN = 2,   /* no such name */
    LKDNS_SERVER_ERROR = 3,
    LKDNS_MALFORMED = -1, /* not an answer to our query: ignore it */
};

/* A recursive query for name; its length, or 0 if the name is invalid. */
size_t lkdns_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype);

/* Reads an answer to query (id, name, qtype). On LKDNS_FOUND, *out holds
 * the first address of that type, with `port`. */
enum lkdns_result lkdns_answer(const uint8_t *msg, size_t len, uint16_t id, const char *name,
                               uint16_t qtype, uint16_t port, struct sockaddr_storage *out,
                               socklen_t *outlen);

#endif
