/*
 * crc32c.h: CRC-32C (Castagnoli), the checksum of SCTP packets (RFC 9260
 * appendix B).
 */
#ifndef LKRTC_CRC32C_H
#define LKRTC_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of n bytes (initial value all ones, final complement). */
uint32_t lkcrc32c(const uint8_t *p, size_t n);

/* Continue a running CRC: start from 0, feed pieces in order. Feeding the
 * whole input at once gives lkcrc32c(). */
uint32_t lkcrc32c_update(uint32_t crc, const uint8_t *p, size_t n);

#endif
