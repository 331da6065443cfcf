/* libFuzzer harness for the WebSocket client codec: what a server (or
 * anything on the path) sends. The first byte picks the phase: the HTTP
 * upgrade response, or frames after a valid upgrade; the second sets where
 * the input is split, so partial reads are exercised too. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ws.h"

static void on_message(void *ctx, const uint8_t *data, size_t len, bool text)
{
    size_t *total = ctx;
    *total += len;
    if (len) /* touch it all: ASan checks the bounds */
        *total += data[0] + data[len - 1];
}

static void on_closed(void *ctx, uint16_t code, const char *reason)
{
    (void)strlen(reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    bool after_upgrade = data[0] & 1;
    size_t split = data[1];
    data += 2;
    size -= 2;
    size_t total = 0;
    lknet_ws ws;
    lknet_ws_init(&ws, &(lknet_ws_callbacks){&total, on_message, on_closed}, 1 << 16);
    lknet_url u;
    char err[64];
    lknet_url_parse(&u, "ws://127.0.0.1:7880/rtc", err, sizeof err);
    lknet_ws_start(&ws, &u, NULL);
    if (after_upgrade) {
        /* Answer our own key properly so the frames phase is reached. */
        char req[1024];
        size_t rlen = lknet_buf_len(&ws.out);
        memcpy(req, lknet_buf_head(&ws.out), rlen < sizeof req ? rlen : sizeof req - 1);
        req[rlen < sizeof req ? rlen : sizeof req - 1] = '\0';
        const char *k = strstr(req, "Sec-WebSocket-Key: ");
        char key[64], accept[32], resp[256];
        sscanf(k + 19, "%63[^\r]", key);
        lknet_ws_accept_for(key, accept);
        int n = snprintf(resp, sizeof resp,
                         "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: %s\r\n\r\n",
                         accept);
        lknet_ws_feed(&ws, (const uint8_t *)resp, (size_t)n);
    }
    if (split > size)
        split = size;
    lknet_ws_feed(&ws, data, split);
    lknet_ws_feed(&ws, data + split, size - split);
    lknet_ws_feed_eof(&ws);
    lknet_ws_free(&ws);
    return 0;
}
