/* The WebSocket codec against a server written here from the RFC: the
 * upgrade is checked, messages come out whole however they are framed and
 * split, pings are answered, the close handshake completes, and every
 * violation ends the connection with the code RFC 6455 gives it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

typedef struct {
    int messages;
    uint8_t last[300000];
    size_t last_len;
    bool last_text;
    int peer_closes;
    uint16_t close_code;
    char close_reason[128];
} sink;

static void on_message(void *ctx, const uint8_t *data, size_t len, bool text)
{
    sink *s = ctx;
    s->messages++;
    assert_true(len <= sizeof s->last);
    memcpy(s->last, data, len);
    s->last_len = len;
    s->last_text = text;
}

static void on_peer_closed(void *ctx, uint16_t code, const char *reason)
{
    sink *s = ctx;
    s->peer_closes++;
    s->close_code = code;
    snprintf(s->close_reason, sizeof s->close_reason, "%s", reason);
}

/* A server frame: never masked. */
static size_t server_frame(uint8_t *out, int fin, int opcode, const void *payload, size_t len)
{
    size_t h = 0;
    out[h++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        out[h++] = (uint8_t)len;
    } else if (len <= 0xffff) {
        out[h++] = 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = 127;
        for (int i = 7; i >= 0; i--)
            out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    memcpy(out + h, payload, len);
    return h + len;
}

/* Decodes one client frame from ws->out (must be masked), consuming it. */
static int client_frame(lknet_ws *ws, uint8_t *payload, size_t *len)
{
    uint8_t *p = lknet_buf_head(&ws->out);
    size_t have = lknet_buf_len(&ws->out);
    assert_true(have >= 6);
    assert_true(p[1] & 0x80); /* masked */
    int opcode = p[0] & 0x0f;
    size_t n = p[1] & 0x7f, h = 2;
    if (n == 126) {
        n = (size_t)p[2] << 8 | p[3];
        h = 4;
    } else if (n == 127) {
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | p[2 + i];
        h = 10;
    }
    uint8_t *mask = p + h;
    for (size_t i = 0; i < n; i++)
        payload[i] = p[h + 4 + i] ^ mask[i & 3];
    *len = n;
    lknet_buf_consume(&ws->out, h + 4 + n);
    return opcode;
}

/* Plays the server's side of the upgrade for the request in ws->out. */
static void accept_upgrade(lknet_ws *ws, const char *extra)
{
    char req[4096];
    size_t n = lknet_buf_len(&ws->out);
    assert_true(n < sizeof req);
    memcpy(req, lknet_buf_head(&ws->out), n);
    req[n] = '\0';
    lknet_buf_consume(&ws->out, n);
    char *k = strstr(req, "Sec-WebSocket-Key: ");
    assert_non_null(k);
    char key[64];
    sscanf(k + 19, "%63[^\r]", key);
    char accept[32];
    lknet_ws_accept_for(key, accept);
    char resp[512];
    int len = snprintf(resp, sizeof resp,
                       "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n"
                       "Connection: upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n%s",
                       accept, extra ? extra : "");
    assert_int_equal(lknet_ws_feed(ws, (uint8_t *)resp, (size_t)len), 0);
    assert_int_equal(ws->state, LKNET_WS_OPEN);
}

static lknet_ws *open_ws_max(sink *s, size_t max_message)
{
    lknet_ws *ws = malloc(sizeof *ws);
    lknet_ws_callbacks cb = {s, on_message, on_peer_closed};
    lknet_ws_init(ws, &cb, max_message);
    lknet_url u;
    char err[128];
    assert_int_equal(lknet_url_parse(&u, "ws://127.0.0.1:7880/rtc?a=b", err, sizeof err), 0);
    lknet_ws_start(ws, &u, "Authorization: Bearer t\r\n");
    const char *req = (const char *)lknet_buf_head(&ws->out);
    assert_memory_equal(req, "GET /rtc?a=b HTTP/1.1\r\n", 23);
    assert_non_null(strstr(req, "Host: 127.0.0.1:7880\r\n"));
    assert_non_null(strstr(req, "Authorization: Bearer t\r\n"));
    return ws;
}

static lknet_ws *open_ws(sink *s)
{
    return open_ws_max(s, 256 * 1024);
}

static void close_ws(lknet_ws *ws)
{
    lknet_ws_free(ws);
    free(ws);
}

static void rfc_sample_accept_value(void **state)
{
    char accept[32];
    lknet_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", accept);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void upgrade_then_messages_in_any_split(void **state)
{
    sink s = {0};
    lknet_ws *ws = open_ws(&s);
    /* the first frame rides in the same segment as the 101 */
    accept_upgrade(ws, "\x82\x03\x01\x02\x03");
    assert_int_equal(s.messages, 1);
    assert_int_equal(s.last_len, 3);
    assert_false(s.last_text);

    /* a 70000-byte message fed one byte at a time, then in one go */
    static uint8_t big[70000], wire[70100];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)i;
    size_t wlen = server_frame(wire, 1, 2, big, sizeof big);
    for (size_t i = 0; i < wlen; i++)
        assert_int_equal(lknet_ws_feed(ws, wire + i, 1), 0);
    assert_int_equal(s.messages, 2);
    assert_int_equal(s.last_len, sizeof big);
    assert_memory_equal(s.last, big, sizeof big);
    close_ws(ws);
}

static void fragments_with_a_ping_between(void **state)
{
    sink s = {0};
    lknet_ws *ws = open_ws(&s);
    accept_upgrade(ws, NULL);
    uint8_t wire[256];
    size_t n = 0;
    n += server_frame(wire + n, 0, 1, "hel", 3);
    n += server_frame(wire + n, 1, 9, "p!", 2); /* ping in the middle */
    n += server_frame(wire + n, 0, 0, "lo ", 3);
    n += server_frame(wire + n, 1, 0, "w\xc3\xb6rld", 6);
    assert_int_equal(lknet_ws_feed(ws, wire, n), 0);
    assert_int_equal(s.messages, 1);
    assert_true(s.last_text);
    assert_int_equal(s.last_len, 12);
    assert_memory_equal(s.last, "hello w\xc3\xb6rld", 12);
    uint8_t payload[16];
    size_t plen;
    assert_int_equal(client_frame(ws, payload, &plen), 10); /* pong */
    assert_int_equal(plen, 2);
    assert_memory_equal(payload, "p!", 2);
    close_ws(ws);
}

static void client_frames_are_masked_and_decode(void **state)
{
    sink s = {0};
    lknet_ws *ws = open_ws(&s);
    accept_upgrade(ws, NULL);
    static uint8_t msg[70000], back[70000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 13);
    assert_int_equal(lknet_ws_send(ws, msg, sizeof msg, false), 0);
    size_t len;
    assert_int_equal(client_frame(ws, back, &len), 2);
    assert_int_equal(len, sizeof msg);
    assert_memory_equal(back, msg, sizeof msg);
    close_ws(ws);
}

static void close_handshake_both_ways(void **state)
{
    sink s = {0};
    lknet_ws *ws = open_ws(&s);
    accept_upgrade(ws, NULL);
    /* the server closes: we echo and are done */
    uint8_t wire[64];
    size_t n = server_frame(wire, 1, 8, "\x03\xe8" "bye", 5);
    assert_int_equal(lknet_ws_feed(ws, wire, n), 0);
    assert_int_equal(ws->state, LKNET_WS_CLOSED);
    assert_int_equal(s.peer_closes, 1);
    assert_int_equal(s.close_code, 1000);
    assert_string_equal(s.close_reason, "bye");
    uint8_t payload[16];
    size_t plen;
    assert_int_equal(client_frame(ws, payload, &plen), 8);
    assert_int_equal(payload[0] << 8 | payload[1], 1000);
    close_ws(ws);

    /* we close: CLOSING until the server's close arrives */
    memset(&s, 0, sizeof s);
    ws = open_ws(&s);
    accept_upgrade(ws, NULL);
    lknet_ws_close(ws, 1000, "leaving");
    assert_int_equal(ws->state, LKNET_WS_CLOSING);
    assert_int_equal(client_frame(ws, payload, &plen), 8);
    assert_int_equal(lknet_ws_send(ws, "x", 1, false), -1);
    n = server_frame(wire, 1, 8, "\x03\xe8", 2);
    assert_int_equal(lknet_ws_feed(ws, wire, n), 0);
    assert_int_equal(ws->state, LKNET_WS_CLOSED);
    assert_int_equal(lknet_buf_len(&ws->out), 0); /* no second close frame */
    close_ws(ws);
}

/* Feeds a violation after the upgrade; expects FAILED and our close code. */
static void expect_violation(const uint8_t *wire, size_t n, uint16_t code)
{
    sink s = {0};
    lknet_ws *ws = open_ws_max(&s, 1000);
    accept_upgrade(ws, NULL);
    assert_int_equal(lknet_ws_feed(ws, wire, n), -1);
    assert_int_equal(ws->state, LKNET_WS_FAILED);
    assert_true(strlen(ws->error) > 0);
    uint8_t payload[128];
    size_t plen;
    assert_int_equal(client_frame(ws, payload, &plen), 8);
    assert_int_equal(payload[0] << 8 | payload[1], code);
    assert_int_equal(s.messages, 0);
    close_ws(ws);
}

static void violations_end_with_the_rfc_close_codes(void **state)
{
    uint8_t wire[2048];
    /* masked frame from the server */
    expect_violation((const uint8_t *)"\x82\x81\x00\x00\x00\x00\x00", 7, 1002);
    /* reserved bits */
    expect_violation((const uint8_t *)"\xc2\x00", 2, 1002);
    /* unknown opcode */
    expect_violation((const uint8_t *)"\x83\x00", 2, 1002);
    /* continuation without a start */
    expect_violation((const uint8_t *)"\x80\x00", 2, 1002);
    /* fragmented ping */
    expect_violation((const uint8_t *)"\x09\x00", 2, 1002);
    /* too big for max_message (1000 here): refused on the header alone */
    uint8_t hdr[4] = {0x82, 126, 0x03, 0xe9}; /* 1001 bytes announced */
    expect_violation(hdr, 4, 1009);
    /* text that is not UTF-8 */
    size_t n = server_frame(wire, 1, 1, "\xc3\x28", 2);
    expect_violation(wire, n, 1007);
    /* close code that may not be sent */
    n = server_frame(wire, 1, 8, "\x03\xed", 2); /* 1005 */
    expect_violation(wire, n, 1002);
    /* 64-bit length with the top bit set */
    expect_violation((const uint8_t *)"\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01", 10, 1002);
}

static void refused_upgrade_reports_status_and_body(void **state)
{
    sink s = {0};
    lknet_ws *ws = open_ws(&s);
    lknet_buf_consume(&ws->out, lknet_buf_len(&ws->out));
    const char *resp = "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\n"
                       "Content-Length: 21\r\n\r\ninvalid token: expired\n";
    /* body arrives in two pieces */
    assert_int_equal(lknet_ws_feed(ws, (const uint8_t *)resp, strlen(resp) - 10), 0);
    assert_int_equal(lknet_ws_feed(ws, (const uint8_t *)resp + strlen(resp) - 10, 10), -1);
    assert_int_equal(ws->http_status, 401);
    assert_string_equal(ws->http_body, "invalid token: expire");
    assert_non_null(strstr(ws->error, "HTTP 401"));
    close_ws(ws);

    /* without Content-Length: the body ends with the connection */
    memset(&s, 0, sizeof s);
    ws = open_ws(&s);
    resp = "HTTP/1.1 404 Not Found\r\n\r\nno such room";
    assert_int_equal(lknet_ws_feed(ws, (const uint8_t *)resp, strlen(resp)), 0);
    lknet_ws_feed_eof(ws);
    assert_int_equal(ws->state, LKNET_WS_FAILED);
    assert_string_equal(ws->http_body, "no such room");
    close_ws(ws);
}

static void bad_upgrades_fail(void **state)
{
    static const char *bad[] = {
        ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n"),
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n",
        "SSH-2.0-OpenSSH\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sink s = {0};
        lknet_ws *ws = open_ws(&s);
        assert_int_equal(lknet_ws_feed(ws, (const uint8_t *)bad[i], strlen(bad[i])), -1);
        assert_int_equal(ws->state, LKNET_WS_FAILED);
        close_ws(ws);
    }
    /* headers that never end are bounded */
    sink s = {0};
    lknet_ws *ws = open_ws(&s);
    static char junk[20000];
    memset(junk, 'a', sizeof junk);
    assert_int_equal(lknet_ws_feed(ws, (const uint8_t *)junk, sizeof junk), -1);
    close_ws(ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc_sample_accept_value),
        cmocka_unit_test(upgrade_then_messages_in_any_split),
        cmocka_unit_test(fragments_with_a_ping_between),
        cmocka_unit_test(client_frames_are_masked_and_decode),
        cmocka_unit_test(close_handshake_both_ways),
        cmocka_unit_test(violations_end_with_the_rfc_close_codes),
        cmocka_unit_test(refused_upgrade_reports_status_and_body),
        cmocka_unit_test(bad_upgrades_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
