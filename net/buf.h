/*
 * buf.h: a growable byte queue: append at the end, consume from the front.
 * What the sans-I/O codecs here hand to, and take from, the socket.
 */
#ifndef LKNET_BUF_H
#define LKNET_BUF_H

#include <stdlib.h>
#include <string.h>

typedef struct lknet_buf {
    unsigned char *data;
    size_t start, end, cap;
} lknet_buf;

static inline size_t lknet_buf_len(const lknet_buf *b)
{
    return b->end - b->start;
}

static inline unsigned char *lknet_buf_head(const lknet_buf *b)
{
    return b->data ? b->data + b->start : NULL; /* no arithmetic on NULL */
}

/* Room for n more bytes at the end; returns where they go. Aborts on OOM
 * (as everywhere in this library). */
static inline unsigned char *lknet_buf_reserve(lknet_buf *b, size_t n)
{
    if (b->cap - b->end < n) {
        size_t len = lknet_buf_len(b);
        if (b->start && b->cap - len >= n) { /* slide down instead of growing */
            memmove(b->data, b->data + b->start, len);
        } else {
            size_t cap = b->cap ? b->cap : 256;
            while (cap - len < n)
                cap *= 2;
            unsigned char *d = malloc(cap);
            if (!d)
                abort();
            if (len)
                memcpy(d, b->data + b->start, len);
            free(b->data);
            b->data = d;
            b->cap = cap;
        }
        b->start = 0;
        b->end = len;
    }
    return b->data + b->end;
}

static inline void lknet_buf_commit(lknet_buf *b, size_t n)
{
    b->end += n;
}

static inline void lknet_buf_append(lknet_buf *b, const void *p, size_t n)
{
    if (n) {
        memcpy(lknet_buf_reserve(b, n), p, n);
        b->end += n;
    }
}

static inline void lknet_buf_consume(lknet_buf *b, size_t n)
{
    b->start += n;
    if (b->start == b->end)
        b->start = b->end = 0;
}

static inline void lknet_buf_free(lknet_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

#endif
