/*
 * ws.c: RFC 6455, client side.
 *
 * Input is buffered until a whole frame (or the whole handshake response)
 * is there; message fragments are gathered in one growing buffer, so the
 * steady state allocates nothing. Every violation by the server ends the
 * connection with the close code the RFC gives it (1002 protocol, 1007
 * bad UTF-8, 1009 too big), never with a crash or a hang.
 */
#include "ws.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };
enum { MAX_HEADER_BYTES = 16384 };

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void lknet_ws_init(lknet_ws *ws, const lknet_ws_callbacks *cb, size_t max_message)
{
    memset(ws, 0, sizeof *ws);
    ws->cb = *cb;
    ws->max_message = max_message;
    ws->state = LKNET_WS_HANDSHAKE;
}

void lknet_ws_free(lknet_ws *ws)
{
    lknet_buf_free(&ws->out);
    lknet_buf_free(&ws->in_);
    lknet_buf_free(&ws->msg_);
}

void lknet_ws_accept_for(const char *key, char out[32])
{
    char joined[128];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    int n = snprintf(joined, sizeof joined, "%s%s", key, GUID);
    EVP_Digest(joined, (size_t)n, digest, &dlen, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)out, digest, (int)dlen); /* 20 bytes -> 28 chars + NUL */
}

void lknet_ws_start(lknet_ws *ws, const lknet_url *u, const char *extra_headers)
{
    unsigned char nonce[16];
    char key[32], host[300];
    RAND_bytes(nonce, sizeof nonce);
    EVP_EncodeBlock((unsigned char *)key, nonce, sizeof nonce);
    lknet_ws_accept_for(key, ws->accept_);
    lknet_url_host_header(u, host, sizeof host);
    size_t cap = strlen(u->path) + strlen(u->query) + strlen(host) +
                 (extra_headers ? strlen(extra_headers) : 0) + 256;
    char *req = malloc(cap);
    if (!req)
        abort();
    int n = snprintf(req, cap,
                     "GET %s%s%s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s"
                     "\r\n",
                     u->path, u->query[0] ? "?" : "", u->query, host, key,
                     extra_headers ? extra_headers : "");
    if (n > 0 && (size_t)n < cap)
        lknet_buf_append(&ws->out, req, (size_t)n);
    free(req);
}

/* --- failure and output ---------------------------------------------------- */

static void queue_frame(lknet_ws *ws, int opcode, const void *data, size_t len)
{
    unsigned char hdr[14];
    size_t h = 0;
    hdr[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        hdr[h++] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    unsigned char mask[4];
    RAND_bytes(mask, sizeof mask);
    memcpy(hdr + h, mask, 4);
    h += 4;
    unsigned char *dst = lknet_buf_reserve(&ws->out, h + len);
    memcpy(dst, hdr, h);
    const unsigned char *src = data;
    for (size_t i = 0; i < len; i++)
        dst[h + i] = src[i] ^ mask[i & 3];
    lknet_buf_commit(&ws->out, h + len);
}

static void queue_close(lknet_ws *ws, uint16_t code, const char *reason)
{
    unsigned char payload[125];
    size_t rlen = reason ? strlen(reason) : 0;
    if (rlen > sizeof payload - 2)
        rlen = sizeof payload - 2;
    payload[0] = (unsigned char)(code >> 8);
    payload[1] = (unsigned char)code;
    if (rlen)
        memcpy(payload + 2, reason, rlen);
    queue_frame(ws, OP_CLOSE, payload, 2 + rlen);
}

__attribute__((format(printf, 3, 4))) static int fail(lknet_ws *ws, uint16_t close_code,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ws->error, sizeof ws->error, fmt, ap);
    va_end(ap);
    if (close_code && ws->state == LKNET_WS_OPEN)
        queue_close(ws, close_code, NULL);
    ws->state = LKNET_WS_FAILED;
    return -1;
}

int lknet_ws_send(lknet_ws *ws, const void *data, size_t len, bool text)
{
    if (ws->state != LKNET_WS_OPEN)
        return -1;
    queue_frame(ws, text ? OP_TEXT : OP_BINARY, data, len);
    return 0;
}

int lknet_ws_ping(lknet_ws *ws, const void *data, size_t len)
{
    if (ws->state != LKNET_WS_OPEN || len > 125)
        return -1;
    queue_frame(ws, OP_PING, data, len);
    return 0;
}

void lknet_ws_close(lknet_ws *ws, uint16_t code, const char *reason)
{
    if (ws->state != LKNET_WS_OPEN)
        return;
    queue_close(ws, code, reason);
    ws->state = LKNET_WS_CLOSING;
}

/* --- the handshake response ------------------------------------------------ */

/* The value of header `name` in the block [h, end), trimmed; NULL if absent. */
static const char *header_value(const char *h, const char *end, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    for (const char *line = h; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            eol = end;
        if ((size_t)(eol - line) > nlen && !strncasecmp(line, name, nlen) && line[nlen] == ':') {
            const char *v = line + nlen + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        line = eol + 1;
    }
    return NULL;
}

static bool token_in(const char *v, size_t vlen, const char *token)
{
    size_t tlen = strlen(token);
    for (size_t i = 0; i + tlen <= vlen; i++)
        if (!strncasecmp(v + i, token, tlen))
            return true;
    return false;
}

static void collect_body(lknet_ws *ws, bool at_eof)
{
    size_t have = lknet_buf_len(&ws->in_);
    if (!at_eof && have < ws->body_needed_)
        return;
    size_t take = have < ws->body_needed_ || at_eof ? have : ws->body_needed_;
    if (take > sizeof ws->http_body - 1)
        take = sizeof ws->http_body - 1;
    memcpy(ws->http_body, lknet_buf_head(&ws->in_), take);
    ws->http_body[take] = '\0';
    while (take && (ws->http_body[take - 1] == '\n' || ws->http_body[take - 1] == '\r'))
        ws->http_body[--take] = '\0';
    fail(ws, 0, "the server refused the WebSocket upgrade: HTTP %d%s%s", ws->http_status,
         ws->http_body[0] ? ": " : "", ws->http_body);
}

/* Returns 1 when the handshake is complete (OPEN), 0 to wait, -1 failed. */
static int parse_handshake(lknet_ws *ws)
{
    if (ws->http_status) { /* refused: gathering the body */
        collect_body(ws, false);
        return ws->state == LKNET_WS_FAILED ? -1 : 0;
    }
    const char *h = (const char *)lknet_buf_head(&ws->in_);
    size_t have = lknet_buf_len(&ws->in_);
    const char *end = NULL;
    for (size_t i = 3; i < have; i++)
        if (h[i] == '\n' && h[i - 1] == '\r' && h[i - 2] == '\n' && h[i - 3] == '\r') {
            end = h + i + 1;
            break;
        }
    if (!end) {
        if (have > MAX_HEADER_BYTES)
            return fail(ws, 0, "the server's HTTP response headers exceed %d bytes",
                        MAX_HEADER_BYTES);
        return 0;
    }
    /* "HTTP/1.x NNN": the buffer is not NUL-terminated, so no sscanf */
    int status = 0;
    if (have >= 12 && !strncmp(h, "HTTP/1.", 7) && h[8] == ' ')
        for (int i = 9; i < 12 && h[i] >= '0' && h[i] <= '9'; i++)
            status = status * 10 + (h[i] - '0');
    if (status < 100 || status > 599)
        return fail(ws, 0, "the server did not answer with HTTP");
    size_t hdr_len = (size_t)(end - h);
    if (status != 101) {
        ws->http_status = status;
        size_t vlen;
        const char *v = header_value(h, end, "Content-Length", &vlen);
        size_t need = 0;
        if (v) {
            for (size_t i = 0; i < vlen && v[i] >= '0' && v[i] <= '9' && need < (1u << 20); i++)
                need = need * 10 + (size_t)(v[i] - '0');
        } else {
            need = SIZE_MAX; /* until the server closes */
        }
        ws->body_needed_ = need;
        lknet_buf_consume(&ws->in_, hdr_len);
        collect_body(ws, false);
        return ws->state == LKNET_WS_FAILED ? -1 : 0;
    }
    size_t vlen;
    const char *v = header_value(h, end, "Upgrade", &vlen);
    if (!v || !token_in(v, vlen, "websocket"))
        return fail(ws, 0, "the server's 101 response lacks Upgrade: websocket");
    v = header_value(h, end, "Connection", &vlen);
    if (!v || !token_in(v, vlen, "upgrade"))
        return fail(ws, 0, "the server's 101 response lacks Connection: Upgrade");
    v = header_value(h, end, "Sec-WebSocket-Accept", &vlen);
    if (!v || vlen != strlen(ws->accept_) || memcmp(v, ws->accept_, vlen))
        return fail(ws, 0, "the server's Sec-WebSocket-Accept does not match our key");
    lknet_buf_consume(&ws->in_, hdr_len);
    ws->state = LKNET_WS_OPEN;
    return 1;
}

/* --- frames ------------------------------------------------------------------ */

static int on_close_frame(lknet_ws *ws, const unsigned char *p, size_t len)
{
    uint16_t code = 1005;
    char reason[126] = "";
    if (len == 1)
        return fail(ws, 1002, "the server sent a malformed close frame");
    if (len >= 2) {
        code = (uint16_t)(p[0] << 8 | p[1]);
        bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                     (code >= 3000 && code <= 4999);
        if (!valid)
            return fail(ws, 1002, "the server sent close code %u, which is not allowed", code);
        if (!lknet_utf8_valid(p + 2, len - 2))
            return fail(ws, 1007, "the server's close reason is not UTF-8");
        memcpy(reason, p + 2, len - 2);
        reason[len - 2] = '\0';
    }
    if (ws->state == LKNET_WS_OPEN)
        queue_close(ws, code == 1005 ? 1000 : code, NULL); /* echo, as the RFC asks */
    ws->state = LKNET_WS_CLOSED;
    if (ws->cb.peer_closed)
        ws->cb.peer_closed(ws->cb.ctx, code, reason);
    return 0;
}

/* One frame from the front of in_: 1 consumed, 0 need more, -1 failed. */
static int parse_frame(lknet_ws *ws)
{
    const unsigned char *p = lknet_buf_head(&ws->in_);
    size_t have = lknet_buf_len(&ws->in_);
    if (have < 2)
        return 0;
    bool fin = p[0] & 0x80;
    int opcode = p[0] & 0x0f;
    if (p[0] & 0x70)
        return fail(ws, 1002, "the server set reserved frame bits (no extension was agreed)");
    if (p[1] & 0x80)
        return fail(ws, 1002, "the server masked a frame");
    uint64_t len = p[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
        if (have < 4)
            return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        h = 4;
    } else if (len == 127) {
        if (have < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        if (len >> 63)
            return fail(ws, 1002, "the server sent a frame length with the top bit set");
        h = 10;
    }
    bool control = opcode & 0x8;
    if (control && (!fin || len > 125))
        return fail(ws, 1002, "the server sent a fragmented or oversized control frame");
    if (!control) {
        if (opcode != OP_CONT && opcode != OP_TEXT && opcode != OP_BINARY)
            return fail(ws, 1002, "the server sent unknown opcode %d", opcode);
        if ((opcode == OP_CONT) != ws->in_message_)
            return fail(ws, 1002, "the server's message fragments are out of sequence");
        if (len > ws->max_message || lknet_buf_len(&ws->msg_) + len > ws->max_message)
            return fail(ws, 1009, "the server sent a message larger than %zu bytes",
                        ws->max_message);
    } else if (opcode != OP_CLOSE && opcode != OP_PING && opcode != OP_PONG) {
        return fail(ws, 1002, "the server sent unknown opcode %d", opcode);
    }
    if (have - h < len)
        return 0;
    const unsigned char *payload = p + h;
    size_t n = (size_t)len;

    switch (opcode) {
    case OP_CLOSE: {
        int r = on_close_frame(ws, payload, n);
        lknet_buf_consume(&ws->in_, h + n);
        return r < 0 ? -1 : 1;
    }
    case OP_PING:
        if (ws->state == LKNET_WS_OPEN)
            queue_frame(ws, OP_PONG, payload, n);
        break;
    case OP_PONG:
        break;
    default:
        if (opcode != OP_CONT)
            ws->message_text_ = opcode == OP_TEXT;
        if (fin && !ws->in_message_) { /* unfragmented: deliver in place */
            if (ws->message_text_ && !lknet_utf8_valid(payload, n))
                return fail(ws, 1007, "the server sent a text message that is not UTF-8");
            if (ws->cb.message && ws->state == LKNET_WS_OPEN)
                ws->cb.message(ws->cb.ctx, payload, n, ws->message_text_);
            break;
        }
        lknet_buf_append(&ws->msg_, payload, n);
        ws->in_message_ = !fin;
        if (fin) {
            const unsigned char *m = lknet_buf_head(&ws->msg_);
            size_t mlen = lknet_buf_len(&ws->msg_);
            if (ws->message_text_ && !lknet_utf8_valid(m, mlen))
                return fail(ws, 1007, "the server sent a text message that is not UTF-8");
            if (ws->cb.message && ws->state == LKNET_WS_OPEN)
                ws->cb.message(ws->cb.ctx, m, mlen, ws->message_text_);
            lknet_buf_consume(&ws->msg_, mlen);
        }
    }
    lknet_buf_consume(&ws->in_, h + n);
    return 1;
}

int lknet_ws_feed(lknet_ws *ws, const uint8_t *data, size_t len)
{
    if (ws->state == LKNET_WS_FAILED)
        return -1;
    if (ws->state == LKNET_WS_CLOSED)
        return 0; /* nothing more is expected; ignore stragglers */
    lknet_buf_append(&ws->in_, data, len);
    if (ws->state == LKNET_WS_HANDSHAKE) {
        int r = parse_handshake(ws);
        if (r <= 0)
            return r;
    }
    int r;
    while ((ws->state == LKNET_WS_OPEN || ws->state == LKNET_WS_CLOSING) &&
           (r = parse_frame(ws)) > 0) {
    }
    return ws->state == LKNET_WS_FAILED ? -1 : 0;
}

void lknet_ws_feed_eof(lknet_ws *ws)
{
    switch (ws->state) {
    case LKNET_WS_HANDSHAKE:
        if (ws->http_status)
            collect_body(ws, true);
        else
            fail(ws, 0, "the server closed the connection during the WebSocket handshake");
        break;
    case LKNET_WS_OPEN:
    case LKNET_WS_CLOSING:
        fail(ws, 0, "the server closed the connection without a close frame");
        break;
    default:
        break;
    }
}
