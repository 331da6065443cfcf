/*
 * utf8.h: strict UTF-8 validation (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), for text that arrives from the
 * network and must reach a client as a string.
 */
#ifndef LKNET_UTF8_H
#define LKNET_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool lknet_utf8_valid(const void *s, size_t n);

#endif
