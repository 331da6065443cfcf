/*
 * signal_client.h: the signal connection to livekit-server: a WebSocket carrying
 * SignalRequest / SignalResponse protobufs, with the server's keepalive.
 *
 * It joins in single-PeerConnection mode (path /rtc/v1), the join request
 * travelling in the URL as upstream's SDK sends it. Everything runs on the
 * worker given at connect; callbacks run there and must not destroy the
 * signal (do that from a task or timer).
 */
#ifndef LKROOM_SIGNAL_CLIENT_H
#define LKROOM_SIGNAL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "livekit_rtc.pb-c.h"

typedef struct lkroom_signal lkroom_signal;

typedef struct lkroom_join_params {
    const char *url;   /* ws(s):// or http(s):// as the client gave it */
    const char *token;
    bool auto_subscribe, adaptive_stream;
    /* a reconnection of an existing participant (resume): its keepalive
     * is the JoinResponse's (0: the server's defaults), from the server's
     * ReconnectResponse on */
    bool reconnect;
    const char *participant_sid;
    Livekit__ReconnectReason reconnect_reason;
    int32_t ping_interval, ping_timeout;
    const Livekit__SessionDescription *publisher_offer; /* may be NULL */
} lkroom_join_params;

typedef struct lkroom_signal_callbacks {
    void *ctx;
    /* Every message from the server, the JoinResponse (or, resuming, the
     * ReconnectResponse) first. msg is freed when the callback returns. */
    void (*message)(void *ctx, const Livekit__SignalResponse *msg);
    /* The connection is over (once): it never opened (http_status set for a
     * refused upgrade, with the server's words in error), the server closed
     * it, or the keepalive timed out. */
    void (*ended)(void *ctx, bool was_open, int http_status, const char *error);
} lkroom_signal_callbacks;

/* NULL with err on a bad URL; every later failure (a host that does not
 * resolve, a refused connection or token) comes through `ended`. */
lkroom_signal *lkroom_signal_connect(lkio_worker *w, const lkroom_join_params *p,
                                     const lkroom_signal_callbacks *cb, char *err, size_t errlen);

/* 0, or -1 when the connection is not open. */
int lkroom_signal_send(lkroom_signal *s, const Livekit__SignalRequest *req);
/* The same, already packed (a SignalRequest's bytes). */
int lkroom_signal_send_packed(lkroom_signal *s, const uint8_t *data, size_t len);

/* Sends a LeaveRequest, then closes the WebSocket; `ended` follows. */
void lkroom_signal_leave(lkroom_signal *s, Livekit__DisconnectReason reason);
/* Closes the WebSocket after what was sent; `ended` follows. */
void lkroom_signal_close(lkroom_signal *s);

/* Ends it at once, without another callback. */
void lkroom_signal_destroy(lkroom_signal *s);

/* Round-trip time measured by the keepalive, in ms (0 before the first). */
int64_t lkroom_signal_rtt_ms(const lkroom_signal *s);

#endif
