/*
 * stun.h: STUN messages (RFC 8489), the subset ICE uses (RFC 8445):
 * Binding requests, responses and indications with short-term credentials.
 *
 * Parsing never copies: the message records where its attributes are in the
 * packet, which must outlive it. Building writes into a caller's buffer.
 */
#ifndef LKRTC_STUN_H
#define LKRTC_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
    LKSTUN_HEADER_SIZE = 20,
    LKSTUN_MAGIC = 0x2112A442,
    /* message types (method Binding with each class) */
    LKSTUN_BINDING_REQUEST = 0x0001,
    LKSTUN_BINDING_INDICATION = 0x0011,
    LKSTUN_BINDING_SUCCESS = 0x0101,
    LKSTUN_BINDING_ERROR = 0x0111,
    /* attributes */
    LKSTUN_ATTR_MAPPED_ADDRESS = 0x0001,
    LKSTUN_ATTR_USERNAME = 0x0006,
    LKSTUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
    LKSTUN_ATTR_ERROR_CODE = 0x0009,
    LKSTUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
    LKSTUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
    LKSTUN_ATTR_PRIORITY = 0x0024,
    LKSTUN_ATTR_USE_CANDIDATE = 0x0025,
    LKSTUN_ATTR_SOFTWARE = 0x8022,
    LKSTUN_ATTR_FINGERPRINT = 0x8028,
    LKSTUN_ATTR_ICE_CONTROLLED = 0x8029,
    LKSTUN_ATTR_ICE_CONTROLLING = 0x802A,
};

typedef struct lkstun_msg {
    uint16_t type;
    uint8_t txid[12];
    const uint8_t *username;
    size_t username_len;
    bool has_priority, use_candidate, has_controlling, has_controlled, has_mapped;
    uint32_t priority;
    uint64_t tiebreaker;
    struct sockaddr_storage mapped; /* XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS) */
    uint16_t error_code;            /* 0 if none, else e.g. 487 */
    size_t integrity_at;            /* offset of MESSAGE-INTEGRITY; 0 if absent */
    bool has_fingerprint;           /* present and correct */
    uint16_t unknown_required;      /* the first comprehension-required attribute we do not know */
} lkstun_msg;

/* A first look, for demultiplexing: could these bytes be STUN? */
bool lkstun_looks_like(const uint8_t *p, size_t n);

/* 0, or -1 if malformed (bad lengths, a wrong FINGERPRINT, attributes after
 * FINGERPRINT, a truncated attribute...). */
int lkstun_parse(lkstun_msg *m, const uint8_t *p, size_t n);

/* True if the message has a MESSAGE-INTEGRITY that the key validates. */
bool lkstun_integrity_ok(const lkstun_msg *m, const uint8_t *p, size_t n, const void *key,
                         size_t keylen);

/* --- building ----------------------------------------------------------------- */

typedef struct lkstun_builder {
    uint8_t *buf;
    size_t cap, len;
    bool overflow;
} lkstun_builder;

void lkstun_begin(lkstun_builder *b, uint8_t *buf, size_t cap, uint16_t type,
                  const uint8_t txid[12]);
void lkstun_add(lkstun_builder *b, uint16_t attr, const void *value, size_t len);
void lkstun_add_u32(lkstun_builder *b, uint16_t attr, uint32_t v);
void lkstun_add_u64(lkstun_builder *b, uint16_t attr, uint64_t v);
void lkstun_add_xor_address(lkstun_builder *b, const struct sockaddr *addr);
void lkstun_add_error(lkstun_builder *b, uint16_t code, const char *reason);
/* Last two, in this order when both: */
void lkstun_add_integrity(lkstun_builder *b, const void *key, size_t keylen);
void lkstun_add_fingerprint(lkstun_builder *b);
/* The message's length, or 0 if it did not fit. */
size_t lkstun_end(lkstun_builder *b);

/* CRC-32 (ISO 3309), as FINGERPRINT uses. */
uint32_t lkstun_crc32(const uint8_t *p, size_t n);

#endif
