/* libFuzzer harness for the video receiver with VP8 (fuzz_h264_receiver.c
 * builds this file again for H.264): the RTP packets of a remote
 * video track (SRTP only proves who sent them, not that they make sense),
 * their sequence numbers, timestamps and markers, and the times they come
 * at, with every frame that is ready popped after each packet.
 *
 * Byte 0: the RTT set (0..255 ms; 0: the default). Then records, each 6
 * bytes and a payload:
 *   op      bit 0: the marker; bit 1: a new timestamp (+3000); bit 2:
 *           the next of three SSRCs; bit 3: a padding packet (no payload,
 *           the record's bytes skipped); bit 4: feedback after the packet;
 *           bit 5: a pause of 1 s first
 *   seq     int16, little-endian: added to the last sequence number
 *   dt      uint8: ms before the packet
 *   length  uint16: the payload's, capped at 1600 and at what is left
 *   payload
 * then feedback 2 s later. Invariants: put and pop answer within their
 * contracts; every picture is in bounds (its last bytes read, for ASan);
 * feedback never returns more than asked, and when it returns less,
 * nothing is due until later; the counters agree with what was seen. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "video_receiver.h"

#ifndef FUZZ_CODEC
#define FUZZ_CODEC LKVIDEO_VP8
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { RECORD = 6, MAX_LEN = 1600, NACK_CAP = 16 };
static const uint64_t MS_NS = 1000000ull;

static void check(bool ok)
{
    if (!ok)
        abort();
}

static uint16_t u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static volatile uint8_t sink;

static void touch(const uint8_t *plane, unsigned stride, unsigned w, unsigned h)
{
    check(plane != NULL && stride >= w);
    sink ^= plane[0];
    sink ^= plane[(size_t)(h - 1) * stride + w - 1];
}

typedef struct totals {
    uint64_t pictures, nacks, feedbacks, plis;
} totals;

static void pop_all(lkvideo_receiver *r, totals *t)
{
    lkvp8_image img;
    uint32_t ts;
    while (lkvideo_receiver_pop(r, &img, &ts) == 1) {
        check(img.width >= 1 && img.width <= 4096 && img.height >= 1 && img.height <= 4096);
        touch(img.y, img.stride_y, img.width, img.height);
        touch(img.u, img.stride_u, (img.width + 1) / 2, (img.height + 1) / 2);
        touch(img.v, img.stride_v, (img.width + 1) / 2, (img.height + 1) / 2);
        t->pictures++;
    }
}

static void feedback(lkvideo_receiver *r, uint64_t now, totals *t)
{
    uint16_t nack[NACK_CAP];
    bool pli = false;
    size_t n = lkvideo_receiver_feedback(r, now, nack, NACK_CAP, &pli);
    check(n <= NACK_CAP);
    if (n < NACK_CAP)
        check(lkvideo_receiver_next_deadline(r) > now);
    t->nacks += n;
    t->plis += pli;
    t->feedbacks++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    lkvideo_receiver *r = lkvideo_receiver_new(FUZZ_CODEC, NULL, 0);
    check(r != NULL);
    lkvideo_receiver_set_rtt(r, data[0]);
    static const uint32_t ssrcs[] = {0x1234abcd, 0x55667788, 7};
    unsigned src = 0;
    uint16_t seq = 0;
    uint32_t ts = 0;
    uint64_t now = 1000000000000ull;
    totals t = {0};
    size_t pos = 1;
    while (pos + RECORD <= size) {
        const uint8_t *rec = data + pos;
        pos += RECORD;
        uint8_t op = rec[0];
        if (op & 32)
            now += 1000 * MS_NS;
        now += rec[3] * MS_NS;
        if (op & 4)
            src = (src + 1) % 3;
        if (op & 2)
            ts += 3000;
        seq = (uint16_t)(seq + u16(rec + 1));
        size_t len = u16(rec + 4);
        if (len > MAX_LEN)
            len = MAX_LEN;
        if (len > size - pos)
            len = size - pos;
        /* the payload in a buffer of its own size, for ASan's sake */
        uint8_t *payload = malloc(len ? len : 1);
        check(payload != NULL);
        memcpy(payload, data + pos, len);
        pos += len;
        lkrtp_packet p = {.h = {.marker = op & 1, .payload_type = 96, .seq = seq,
                                .timestamp = ts, .ssrc = ssrcs[src]},
                          .payload = payload, .payload_len = (op & 8) ? 0 : len};
        int rc = lkvideo_receiver_put(r, &p, now);
        free(payload);
        check(rc >= LKVIDEO_PUT_BUFFERED && rc <= LKVIDEO_PUT_JUMP);
        pop_all(r, &t);
        if (op & 16)
            feedback(r, now, &t);
    }
    feedback(r, now + 2000 * MS_NS, &t);
    pop_all(r, &t);

    lkvideo_receiver_stats st;
    lkvideo_receiver_get_stats(r, &st);
    check(st.frames_decoded >= st.keyframes_decoded);
    check(st.frames_decoded >= t.pictures);
    check(st.nacks_sent == t.nacks);
    check(st.plis_sent == t.plis && st.plis_sent <= t.feedbacks);
    lkrtcp_report rb;
    lkvideo_receiver_report(r, &rb);
    check(rb.ssrc == st.ssrc);
    lkvideo_receiver_free(r);
    return 0;
}
