/*
 * ws.h: the client side of RFC 6455, sans-I/O.
 *
 * Bytes from the server go in with lknet_ws_feed(); bytes for the server
 * accumulate in `out` (drain it into the socket, then lknet_buf_consume).
 * The handshake request is queued by lknet_ws_start(). Messages arrive
 * whole through the callback, reassembled from fragments; pings are
 * answered and the close handshake is completed without the caller.
 */
#ifndef LKNET_WS_H
#define LKNET_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "url.h"

enum lknet_ws_state {
    LKNET_WS_HANDSHAKE, /* request sent, waiting for 101 */
    LKNET_WS_OPEN,
    LKNET_WS_CLOSING, /* our close frame is out; waiting for the peer's */
    LKNET_WS_CLOSED,  /* close handshake done: the caller closes the TCP connection */
    LKNET_WS_FAILED,  /* see error / http_status / http_body */
};

typedef struct lknet_ws_callbacks {
    void *ctx;
    void (*message)(void *ctx, const uint8_t *data, size_t len, bool text);
    /* The peer's close frame (code 1005 when it carried none). */
    void (*peer_closed)(void *ctx, uint16_t code, const char *reason);
} lknet_ws_callbacks;

typedef struct lknet_ws {
    enum lknet_ws_state state;
    lknet_buf out;
    lknet_ws_callbacks cb;
    size_t max_message;
    /* failure: a sentence for the user; for a refused upgrade, the HTTP
     * status and the body the server sent with it (livekit-server explains
     * a refused token there) */
    char error[512];
    int http_status;
    char http_body[1024];
    /* private */
    lknet_buf in_;
    lknet_buf msg_;
    bool in_message_, message_text_;
    char accept_[32];
    size_t body_needed_;
} lknet_ws;

void lknet_ws_init(lknet_ws *ws, const lknet_ws_callbacks *cb, size_t max_message);
void lknet_ws_free(lknet_ws *ws);

/* Queues the upgrade request for u (Host, path and query from u). */
void lknet_ws_start(lknet_ws *ws, const lknet_url *u, const char *extra_headers);

/* Feeds bytes from the server. Returns 0, or -1 once the connection failed
 * (state FAILED; a close frame may have been queued in `out`). */
int lknet_ws_feed(lknet_ws *ws, const uint8_t *data, size_t len);

/* The server closed the TCP connection. */
void lknet_ws_feed_eof(lknet_ws *ws);

/* Queues one message as a single frame. -1 unless OPEN. */
int lknet_ws_send(lknet_ws *ws, const void *data, size_t len, bool text);
int lknet_ws_ping(lknet_ws *ws, const void *data, size_t len);

/* Starts the close handshake (state CLOSING). */
void lknet_ws_close(lknet_ws *ws, uint16_t code, const char *reason);

/* Exposed for tests: the Sec-WebSocket-Accept value for a key. */
void lknet_ws_accept_for(const char *key, char out[32]);

#endif
