/*
 * wsconn.c: the WebSocket connection, as a pipeline on one worker:
 *
 *   socket bytes -> [TLS] -> WebSocket codec -> messages
 *   messages -> WebSocket codec -> [TLS] -> socket bytes
 *
 * One receive and one send are in flight at most. What is queued for the
 * socket is the codec's (or TLS's) output buffer itself, sent from its
 * head; it is consumed as sends complete. Closing waits for the server's
 * close frame for a bounded time, then shuts the socket down.
 */
#include "wsconn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"
#include "tls.h"
#include "ws.h"

enum { RECV_CHUNK = 16384, MAX_MESSAGE = 16 << 20 };
static const uint64_t CLOSE_WAIT_NS = 2000000000u; /* for the server's close frame */

struct lknet_wsconn {
    lkio_worker *w;
    lknet_wsconn_callbacks cb;
    lknet_url url;
    char *extra_headers;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int fd;
    bool connected, use_tls, tls_ready, ws_started, ended, destroyed, opened;
    lknet_tls tls;
    lknet_ws ws;
    lkio_op recv_op, send_op;
    /* The bytes of the send in flight, apart: appending to the output may
     * move or free its buffer, and the ring reads these until on_sent. */
    lknet_buf sending;
    uint8_t rbuf[RECV_CHUNK];
    lkio_timer close_timer;
    lknet_lookup *lookup; /* while resolving */
};

static void flush(lknet_wsconn *c);
static void start_recv(lknet_wsconn *c);

/* --- ending ------------------------------------------------------------------ */

static void maybe_free(lknet_wsconn *c)
{
    if (!c->destroyed || c->lookup || lkio_op_pending(&c->recv_op) ||
        lkio_op_pending(&c->send_op))
        return;
    lkio_timer_stop(c->w, &c->close_timer);
    if (c->use_tls)
        lknet_tls_free(&c->tls);
    lknet_ws_free(&c->ws);
    lknet_buf_free(&c->sending);
    free(c->extra_headers);
    free(c);
}

static void release_socket(lknet_wsconn *c)
{
    if (c->fd < 0)
        return;
    lkio_cancel(c->w, &c->recv_op);
    lkio_cancel(c->w, &c->send_op);
    lkio_socket_close(c->fd, true);
    c->fd = -1;
}

static void end(lknet_wsconn *c, int http_status, const char *body, uint16_t code,
                const char *error)
{
    if (c->ended)
        return;
    c->ended = true;
    if (c->lookup) {
        lknet_lookup_cancel(c->lookup);
        c->lookup = NULL;
    }
    release_socket(c);
    if (c->cb.ended && !c->destroyed) {
        lknet_wsconn_end e = {c->opened, http_status, body ? body : "", code, error ? error : ""};
        c->cb.ended(c->cb.ctx, &e);
    }
}

static void end_with_error(lknet_wsconn *c, const char *fmt_error)
{
    end(c, 0, NULL, 1006, fmt_error);
}

static void end_from_ws(lknet_wsconn *c)
{
    if (c->ws.state == LKNET_WS_FAILED)
        end(c, c->ws.http_status, c->ws.http_body, 1006, c->ws.error);
}

/* --- the codec side ------------------------------------------------------------ */

static void on_ws_message(void *ctx, const uint8_t *data, size_t len, bool text)
{
    lknet_wsconn *c = ctx;
    if (!c->ended && c->cb.message)
        c->cb.message(c->cb.ctx, data, len, text);
}

static void on_ws_peer_closed(void *ctx, uint16_t code, const char *reason)
{
    lknet_wsconn *c = ctx;
    /* Our echo (or our own close) is queued; the server closes TCP next. */
    flush(c);
    char msg[200];
    snprintf(msg, sizeof msg, "%s%s%s", code == 1000 || code == 1005 ? "" : "closed by the server",
             reason[0] && code != 1000 ? ": " : "", code != 1000 ? reason : "");
    end(c, 0, NULL, code, msg);
}

/* Starts the upgrade once the byte stream (TCP, or TLS over it) is ready. */
static void start_ws(lknet_wsconn *c)
{
    if (c->ws_started)
        return;
    c->ws_started = true;
    lknet_ws_start(&c->ws, &c->url, c->extra_headers);
}

/* Moves codec output into the TLS layer, when there is one. */
static void pump_out(lknet_wsconn *c)
{
    if (!c->use_tls || !c->tls_ready)
        return;
    size_t n = lknet_buf_len(&c->ws.out);
    if (n) {
        lknet_tls_write(&c->tls, lknet_buf_head(&c->ws.out), n);
        lknet_buf_consume(&c->ws.out, n);
    }
}

static lknet_buf *wire_out(lknet_wsconn *c)
{
    return c->use_tls ? &c->tls.out : &c->ws.out;
}

static void on_sent(lkio_op *op, int res)
{
    lknet_wsconn *c = lkio_container_of(op, lknet_wsconn, send_op);
    if (c->destroyed || c->ended) {
        maybe_free(c);
        return;
    }
    if (res < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "sending to the server failed: %s", strerror(-res));
        end_with_error(c, msg);
        return;
    }
    lknet_buf_consume(&c->sending, (size_t)res);
    flush(c);
}

static void flush(lknet_wsconn *c)
{
    pump_out(c);
    if (c->fd < 0 || !c->connected || lkio_op_pending(&c->send_op))
        return;
    if (!lknet_buf_len(&c->sending)) { /* all sent: take what waits, whole */
        lknet_buf *b = wire_out(c), empty = c->sending;
        c->sending = *b;
        *b = empty;
    }
    if (lknet_buf_len(&c->sending))
        lkio_send(c->w, &c->send_op, c->fd, lknet_buf_head(&c->sending),
                  lknet_buf_len(&c->sending), on_sent);
}

/* Plaintext from the server (after TLS, if any) into the codec. */
static void feed_ws(lknet_wsconn *c, const uint8_t *data, size_t len)
{
    bool was_open = c->ws.state == LKNET_WS_OPEN;
    lknet_ws_feed(&c->ws, data, len);
    if (!was_open && c->ws.state == LKNET_WS_OPEN) {
        c->opened = true;
        if (c->cb.open)
            c->cb.open(c->cb.ctx);
    }
}

static void on_received(lkio_op *op, int res)
{
    lknet_wsconn *c = lkio_container_of(op, lknet_wsconn, recv_op);
    if (c->destroyed || c->ended) {
        maybe_free(c);
        return;
    }
    if (res <= 0) {
        if (res == 0) {
            lknet_ws_feed_eof(&c->ws);
            if (c->ws.state == LKNET_WS_FAILED)
                end_from_ws(c);
            else
                end(c, 0, NULL, 1006, c->opened ? "the server closed the connection"
                                                : "the server closed the connection early");
        } else {
            char msg[128];
            snprintf(msg, sizeof msg, "receiving from the server failed: %s", strerror(-res));
            end_with_error(c, msg);
        }
        return;
    }
    if (c->use_tls) {
        if (lknet_tls_feed(&c->tls, c->rbuf, (size_t)res) < 0) {
            end_with_error(c, c->tls.error);
            return;
        }
        if (!c->tls_ready && c->tls.state == LKNET_TLS_OPEN) {
            c->tls_ready = true;
            start_ws(c);
        }
        uint8_t plain[RECV_CHUNK];
        ssize_t n;
        while (!c->ended && (n = lknet_tls_read(&c->tls, plain, sizeof plain)) > 0)
            feed_ws(c, plain, (size_t)n);
        if (!c->ended && c->tls.state == LKNET_TLS_FAILED) {
            end_with_error(c, c->tls.error);
            return;
        }
    } else {
        feed_ws(c, c->rbuf, (size_t)res);
    }
    if (c->ended)
        return;
    if (c->ws.state == LKNET_WS_FAILED) {
        flush(c); /* the close frame, if the codec queued one */
        end_from_ws(c);
        return;
    }
    flush(c);
    start_recv(c);
}

static void start_recv(lknet_wsconn *c)
{
    if (c->fd >= 0 && !lkio_op_pending(&c->recv_op))
        lkio_recv(c->w, &c->recv_op, c->fd, c->rbuf, sizeof c->rbuf, on_received);
}

static void on_connected(lkio_op *op, int res)
{
    lknet_wsconn *c = lkio_container_of(op, lknet_wsconn, send_op);
    if (c->destroyed || c->ended) {
        maybe_free(c);
        return;
    }
    if (res < 0) {
        char msg[400];
        snprintf(msg, sizeof msg, "cannot connect to %s:%u: %s", c->url.host,
                 (unsigned)c->url.port, strerror(-res));
        end_with_error(c, msg);
        return;
    }
    c->connected = true;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->use_tls) {
        if (lknet_tls_init(&c->tls, c->url.host) < 0) {
            end_with_error(c, c->tls.error);
            return;
        }
    } else {
        start_ws(c);
    }
    flush(c);
    start_recv(c);
}

static void on_resolved(void *ctx, const struct sockaddr *addr, socklen_t len, const char *error)
{
    lknet_wsconn *c = ctx;
    c->lookup = NULL;
    if (!addr) {
        end_with_error(c, error);
        return;
    }
    memcpy(&c->addr, addr, len);
    c->addrlen = len;
    c->fd = lkio_socket(addr->sa_family, SOCK_STREAM, 0);
    if (c->fd < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "cannot create a socket: %s", strerror(-c->fd));
        end_with_error(c, msg);
        return;
    }
    lkio_connect(c->w, &c->send_op, c->fd, (struct sockaddr *)&c->addr, c->addrlen, on_connected);
}

static void on_close_timeout(lkio_timer *t)
{
    lknet_wsconn *c = lkio_container_of(t, lknet_wsconn, close_timer);
    end(c, 0, NULL, 1006, "the server did not answer our close frame");
}

/* --- the API ---------------------------------------------------------------------- */

lknet_wsconn *lknet_wsconn_open(lkio_worker *w, const lknet_url *url, const char *extra_headers,
                                const lknet_wsconn_callbacks *cb)
{
    lknet_wsconn *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->w = w;
    c->cb = *cb;
    c->url = *url;
    c->use_tls = url->tls;
    c->fd = -1;
    c->extra_headers = extra_headers ? strdup(extra_headers) : NULL;
    lknet_ws_callbacks wcb = {c, on_ws_message, on_ws_peer_closed};
    lknet_ws_init(&c->ws, &wcb, MAX_MESSAGE);
    lkio_timer_init(&c->close_timer, on_close_timeout);
    c->lookup = lknet_lookup_start(w, url->host, url->port, NULL, on_resolved, c);
    return c;
}

int lknet_wsconn_send(lknet_wsconn *c, const void *data, size_t len, bool text)
{
    if (c->ended || lknet_ws_send(&c->ws, data, len, text) < 0)
        return -1;
    flush(c);
    return 0;
}

void lknet_wsconn_close(lknet_wsconn *c, uint16_t code, const char *reason)
{
    if (c->ended)
        return;
    if (c->ws.state != LKNET_WS_OPEN) {
        end(c, 0, NULL, 1006, "closed before the connection opened");
        return;
    }
    lknet_ws_close(&c->ws, code, reason);
    flush(c);
    lkio_timer_start(c->w, &c->close_timer, lkio_now_ns() + CLOSE_WAIT_NS);
}

void lknet_wsconn_destroy(lknet_wsconn *c)
{
    c->destroyed = true;
    c->ended = true;
    if (c->lookup) {
        lknet_lookup_cancel(c->lookup);
        c->lookup = NULL;
    }
    lkio_timer_stop(c->w, &c->close_timer);
    release_socket(c);
    maybe_free(c);
}
