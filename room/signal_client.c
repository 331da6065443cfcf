/*
 * signal_client.c: SignalRequest/SignalResponse over the WebSocket, and the
 * keepalive: after the JoinResponse we send a Ping every ping_interval
 * seconds; a connection that hears nothing from the server for
 * ping_timeout seconds (any message counts, as upstream counts it, not
 * only a Pong) is declared lost (the server does the same with our pings).
 */
#include "signal_client.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "url.h"
#include "wsconn.h"

/* The signal protocol as upstream's Rust SDK speaks it. The client
 * protocol tells other participants what we understand: 1, RPC over
 * data streams (rpc.h: LKRPC_CLIENT_PROTOCOL); 2 would be the streams'
 * newer form, which we do not speak. */
enum { PROTOCOL_VERSION = 17, CLIENT_PROTOCOL = 1 };

struct lkroom_signal {
    lkio_worker *w;
    lknet_wsconn *ws;
    lkroom_signal_callbacks cb;
    bool ended;
    int32_t resume_ping_interval, resume_ping_timeout; /* a resume's, from the join */
    uint64_t ping_interval_ns, ping_timeout_ns;
    uint64_t last_heard_ns; /* when the server was last heard */
    int64_t rtt_ms;
    lkio_timer ping_timer;
};

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void finish(lkroom_signal *s, bool was_open, int http_status, const char *error)
{
    if (s->ended)
        return;
    s->ended = true;
    lkio_timer_stop(s->w, &s->ping_timer);
    if (s->cb.ended)
        s->cb.ended(s->cb.ctx, was_open, http_status, error);
}

int lkroom_signal_send_packed(lkroom_signal *s, const uint8_t *data, size_t len)
{
    return s->ended ? -1 : lknet_wsconn_send(s->ws, data, len, false);
}

int lkroom_signal_send(lkroom_signal *s, const Livekit__SignalRequest *req)
{
    if (s->ended)
        return -1;
    size_t len = livekit__signal_request__get_packed_size(req);
    uint8_t stackbuf[1024];
    uint8_t *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        abort();
    livekit__signal_request__pack(req, buf);
    int r = lkroom_signal_send_packed(s, buf, len);
    if (buf != stackbuf)
        free(buf);
    return r;
}

static void send_ping(lkroom_signal *s)
{
    Livekit__Ping ping = LIVEKIT__PING__INIT;
    ping.timestamp = unix_ms();
    ping.rtt = s->rtt_ms;
    Livekit__SignalRequest req = LIVEKIT__SIGNAL_REQUEST__INIT;
    req.message_case = LIVEKIT__SIGNAL_REQUEST__MESSAGE_PING_REQ;
    req.ping_req = &ping;
    lkroom_signal_send(s, &req);
}

static void on_ping_timer(lkio_timer *t)
{
    lkroom_signal *s = lkio_container_of(t, lkroom_signal, ping_timer);
    uint64_t now = lkio_now_ns();
    if (now - s->last_heard_ns >= s->ping_timeout_ns) {
        char msg[96];
        snprintf(msg, sizeof msg, "no answer from the server for %u s (ping timeout)",
                 (unsigned)(s->ping_timeout_ns / 1000000000u));
        lknet_wsconn_destroy(s->ws);
        s->ws = NULL;
        finish(s, true, 0, msg);
        return;
    }
    send_ping(s);
    uint64_t next = now + s->ping_interval_ns;
    uint64_t deadline = s->last_heard_ns + s->ping_timeout_ns;
    lkio_timer_start(s->w, &s->ping_timer, next < deadline ? next : deadline);
}

/* From the JoinResponse (or a resume's ReconnectResponse): the server's
 * numbers, in seconds; its defaults when absent. */
static void start_keepalive(lkroom_signal *s, int32_t interval, int32_t timeout)
{
    s->ping_interval_ns = (uint64_t)(interval > 0 ? interval : 5) * 1000000000u;
    s->ping_timeout_ns = (uint64_t)(timeout > 0 ? timeout : 15) * 1000000000u;
    s->last_heard_ns = lkio_now_ns();
    send_ping(s);
    lkio_timer_start(s->w, &s->ping_timer, s->last_heard_ns + s->ping_interval_ns);
}

static void on_ws_message(void *ctx, const uint8_t *data, size_t len, bool text)
{
    lkroom_signal *s = ctx;
    if (text)
        return; /* the server speaks binary protobuf; nothing else is defined */
    /* The server is alive, whatever it says (a message we cannot decode
     * included: it changes nothing else, and the session goes on). */
    s->last_heard_ns = lkio_now_ns();
    Livekit__SignalResponse *msg = livekit__signal_response__unpack(NULL, len, data);
    if (!msg)
        return;
    switch (msg->message_case) {
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_JOIN:
        start_keepalive(s, msg->join->ping_interval, msg->join->ping_timeout);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_RECONNECT:
        start_keepalive(s, s->resume_ping_interval, s->resume_ping_timeout);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_PONG_RESP:
        if (msg->pong_resp->last_ping_timestamp > 0) {
            int64_t rtt = unix_ms() - msg->pong_resp->last_ping_timestamp;
            s->rtt_ms = rtt < 0 ? 0 : rtt;
        }
        break;
    default:
        break;
    }
    if (s->cb.message)
        s->cb.message(s->cb.ctx, msg);
    livekit__signal_response__free_unpacked(msg, NULL);
}

static void on_ws_open(void *ctx)
{
}

static void on_ws_ended(void *ctx, const lknet_wsconn_end *e)
{
    lkroom_signal *s = ctx;
    finish(s, e->was_open, e->http_status,
           e->http_status ? (e->http_body[0] ? e->http_body : e->error) : e->error);
}

/* The JoinRequest of a single-PeerConnection join, as the join_request
 * query parameter: WrappedJoinRequest, uncompressed, in URL-safe base64. */
static char *join_request_param(const lkroom_join_params *p)
{
    struct utsname un;
    if (uname(&un) < 0)
        memset(&un, 0, sizeof un);
    Livekit__ClientInfo ci = LIVEKIT__CLIENT_INFO__INIT;
    ci.sdk = LIVEKIT__CLIENT_INFO__SDK__PYTHON;
    ci.version = (char *)"1.2.1";
    ci.protocol = PROTOCOL_VERSION;
    ci.os = un.sysname;
    ci.os_version = un.release;
    ci.client_protocol = CLIENT_PROTOCOL;
    ci.other_sdks = (char *)"liblivekit_ffi-c";
    Livekit__ConnectionSettings cs = LIVEKIT__CONNECTION_SETTINGS__INIT;
    cs.auto_subscribe = p->auto_subscribe;
    cs.adaptive_stream = p->adaptive_stream;
    Livekit__JoinRequest jr = LIVEKIT__JOIN_REQUEST__INIT;
    jr.client_info = &ci;
    jr.connection_settings = &cs;
    jr.publisher_offer = (Livekit__SessionDescription *)p->publisher_offer;
    jr.reconnect = p->reconnect;
    if (p->reconnect) {
        jr.participant_sid = (char *)(p->participant_sid ? p->participant_sid : "");
        jr.reconnect_reason = p->reconnect_reason;
    }
    size_t inner_len = livekit__join_request__get_packed_size(&jr);
    uint8_t *inner = malloc(inner_len ? inner_len : 1);
    if (!inner)
        abort();
    livekit__join_request__pack(&jr, inner);
    Livekit__WrappedJoinRequest wrapped = LIVEKIT__WRAPPED_JOIN_REQUEST__INIT;
    wrapped.compression = LIVEKIT__WRAPPED_JOIN_REQUEST__COMPRESSION__NONE;
    wrapped.join_request.data = inner;
    wrapped.join_request.len = inner_len;
    size_t len = livekit__wrapped_join_request__get_packed_size(&wrapped);
    uint8_t *bytes = malloc(len ? len : 1);
    char *b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (!bytes || !b64)
        abort();
    livekit__wrapped_join_request__pack(&wrapped, bytes);
    EVP_EncodeBlock((unsigned char *)b64, bytes, (int)len);
    for (char *c = b64; *c; c++) /* URL-safe alphabet */
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    free(inner);
    free(bytes);
    return b64;
}

lkroom_signal *lkroom_signal_connect(lkio_worker *w, const lkroom_join_params *p,
                                     const lkroom_signal_callbacks *cb, char *err, size_t errlen)
{
    lknet_url url;
    if (lknet_url_parse(&url, p->url, err, errlen) < 0)
        return NULL;
    char *param = join_request_param(p);
    int bad = lknet_url_append_path(&url, "rtc") || lknet_url_append_path(&url, "v1") ||
              lknet_url_add_query(&url, "join_request", param);
    free(param);
    if (bad) {
        snprintf(err, errlen, "the join URL would be too long");
        return NULL;
    }
    size_t hlen = strlen(p->token) + 64;
    char *headers = malloc(hlen);
    if (!headers)
        abort();
    snprintf(headers, hlen, "Authorization: Bearer %s\r\n", p->token);

    lkroom_signal *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->w = w;
    s->cb = *cb;
    s->resume_ping_interval = p->ping_interval;
    s->resume_ping_timeout = p->ping_timeout;
    lkio_timer_init(&s->ping_timer, on_ping_timer);
    lknet_wsconn_callbacks wcb = {s, on_ws_open, on_ws_message, on_ws_ended};
    s->ws = lknet_wsconn_open(w, &url, headers, &wcb);
    free(headers);
    return s;
}

void lkroom_signal_leave(lkroom_signal *s, Livekit__DisconnectReason reason)
{
    if (s->ended)
        return;
    Livekit__LeaveRequest leave = LIVEKIT__LEAVE_REQUEST__INIT;
    leave.reason = reason;
    leave.action = LIVEKIT__LEAVE_REQUEST__ACTION__DISCONNECT;
    Livekit__SignalRequest req = LIVEKIT__SIGNAL_REQUEST__INIT;
    req.message_case = LIVEKIT__SIGNAL_REQUEST__MESSAGE_LEAVE;
    req.leave = &leave;
    lkroom_signal_send(s, &req);
    lknet_wsconn_close(s->ws, 1000, NULL);
}

void lkroom_signal_close(lkroom_signal *s)
{
    if (!s->ended)
        lknet_wsconn_close(s->ws, 1000, NULL);
}

void lkroom_signal_destroy(lkroom_signal *s)
{
    lkio_timer_stop(s->w, &s->ping_timer);
    if (s->ws)
        lknet_wsconn_destroy(s->ws);
    free(s);
}

int64_t lkroom_signal_rtt_ms(const lkroom_signal *s)
{
    return s->rtt_ms;
}
