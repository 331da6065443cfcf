/*
 * wsconn.h: a WebSocket client connection on a worker's ring: resolve,
 * TCP connect, TLS for wss://, the upgrade, then messages both ways.
 *
 * Everything happens on the worker given at open, and every call must be
 * made there. Callbacks run there too; they may send or close, but must not
 * destroy the connection (destroy it from a task or a timer instead).
 */
#ifndef LKNET_WSCONN_H
#define LKNET_WSCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "url.h"

typedef struct lknet_wsconn lknet_wsconn;

/* How a connection ended. */
typedef struct lknet_wsconn_end {
    bool was_open;    /* false: it never opened (error says why) */
    int http_status;  /* a refused upgrade: the status, else 0 */
    const char *http_body; /* ... and what the server said with it ("" if nothing) */
    uint16_t close_code;   /* the peer's close code, 1006 when the connection just dropped */
    const char *error;     /* a sentence for the user; "" after a clean close */
} lknet_wsconn_end;

typedef struct lknet_wsconn_callbacks {
    void *ctx;
    void (*open)(void *ctx);
    void (*message)(void *ctx, const uint8_t *data, size_t len, bool text);
    void (*ended)(void *ctx, const lknet_wsconn_end *end); /* once, last */
} lknet_wsconn_callbacks;

/* Starts resolving and connecting; every failure, a name that does not
 * resolve included, comes later through `ended`. */
lknet_wsconn *lknet_wsconn_open(lkio_worker *w, const lknet_url *url, const char *extra_headers,
                                const lknet_wsconn_callbacks *cb);

/* Queues a message; -1 unless open. */
int lknet_wsconn_send(lknet_wsconn *c, const void *data, size_t len, bool text);

/* The close handshake; `ended` follows when the server answers or after a
 * bound. */
void lknet_wsconn_close(lknet_wsconn *c, uint16_t code, const char *reason);

/* Ends it now, without another callback: the socket is shut down and
 * closed (the peer sees the TCP connection end) and the memory goes once
 * the ring is done with it. */
void lknet_wsconn_destroy(lknet_wsconn *c);

#endif
