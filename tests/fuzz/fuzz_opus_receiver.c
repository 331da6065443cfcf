/* libFuzzer harness for the Opus receiver: the RTP packets of a remote
 * audio track (SRTP only proves who sent them, not that they make sense)
 * and the times they come at, against a caller pulling every 10 ms.
 *
 * Byte 0: bit 0 picks stereo output, bits 1-2 a min delay (0, 60, 200 or
 * 500 ms). Then records, each 11 bytes and a payload:
 *   op       bits 0-1: pulls before the packet (0-3); bit 2: the packet is
 *            from another SSRC (the next of three, round the circle); bit
 *            3: the caller stalls for 1 s before those pulls; bit 4: the
 *            caller's clock steps back 50 ms instead
 *   seq      int16, little-endian: added to the last sequence number
 *   ts       int32: added to the last timestamp
 *   arrival  int16: the arrival time, in 0.1 ms from the pull's time
 *   length   uint16: the payload's, capped at 1600 and at what is left
 *   payload
 * then 100 pulls. Invariants: every call answers within its contract;
 * each pull writes exactly its 480 samples per channel, all zero when it
 * says silence; the counters agree with each other. Seeds in
 * seeds/opus_receiver/: real sender packets (a tone; with loss, jitter,
 * DTX and a new source). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opus_receiver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { GUARD = 64, RECORD = 11, MAX_LEN = 1600 };

static void check(bool ok)
{
    if (!ok)
        abort();
}

static uint16_t u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int16_t out[LKOPUS_BLOCK * 2 + GUARD];

static void pull(lkopus_receiver *r, unsigned channels, uint64_t now)
{
    size_t n = LKOPUS_BLOCK * channels;
    for (size_t i = n; i < n + GUARD; i++)
        out[i] = 0x5a5a;
    int kind = lkopus_receiver_pull(r, now, out);
    check(kind == LKOPUS_FRAME_SILENCE || kind == LKOPUS_FRAME_AUDIO ||
          kind == LKOPUS_FRAME_CONCEALED);
    for (size_t i = n; i < n + GUARD; i++)
        check(out[i] == 0x5a5a);
    if (kind == LKOPUS_FRAME_SILENCE)
        for (size_t i = 0; i < n; i++)
            check(out[i] == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const unsigned min_delays[] = {0, 60, 200, 500};
    lkopus_receiver_config cfg = {.channels = (data[0] & 1) ? 2 : 1,
                                  .min_delay_ms = min_delays[data[0] >> 1 & 3]};
    lkopus_receiver *r = lkopus_receiver_new(&cfg, NULL, 0);
    check(r != NULL);
    static const uint32_t ssrcs[] = {0x1234abcd, 0x55667788, 7};
    unsigned src = 0;
    uint16_t seq = 0;
    uint32_t ts = 0;
    uint64_t now = 1000000000000ull;
    size_t pos = 1, pulls = 0, puts = 0;
    while (pos + RECORD <= size) {
        const uint8_t *rec = data + pos;
        pos += RECORD;
        uint8_t op = rec[0];
        if (op & 8)
            now += 1000000000ull;
        if (op & 16)
            now -= 50000000ull;
        for (unsigned k = 0; k < (op & 3u); k++, pulls++, now += 10000000ull)
            pull(r, cfg.channels, now);
        if (op & 4)
            src = (src + 1) % 3;
        seq = (uint16_t)(seq + u16(rec + 1));
        ts += u32(rec + 3);
        int64_t arrival = (int64_t)now + (int64_t)(int16_t)u16(rec + 7) * 100000;
        size_t len = u16(rec + 9);
        if (len > MAX_LEN)
            len = MAX_LEN;
        if (len > size - pos)
            len = size - pos;
        /* the payload in a buffer of its own size, for ASan's sake */
        uint8_t *payload = malloc(len ? len : 1);
        check(payload != NULL);
        memcpy(payload, data + pos, len);
        pos += len;
        int rc = lkopus_receiver_put(r, ssrcs[src], seq, ts, payload, len,
                                     arrival < 0 ? 0 : (uint64_t)arrival);
        free(payload);
        check(rc >= LKOPUS_PUT_BUFFERED && rc <= LKOPUS_PUT_OVERFLOW);
        puts++;
    }
    for (int k = 0; k < 100; k++, pulls++, now += 10000000ull)
        pull(r, cfg.channels, now);

    lkopus_receiver_stats st;
    lkopus_receiver_get_stats(r, &st);
    check(st.frames == pulls);
    check(st.concealed_frames + st.silent_frames <= st.frames);
    check(st.packets_invalid + st.packets_discarded <= puts); /* each counted once at most */
    check(st.packets_late <= st.packets_discarded);
    check(st.concealed_samples >= st.concealed_frames);
    check(st.target_delay_ms <= 1000);
    lkrtcp_report rb;
    lkopus_receiver_report(r, &rb);
    check(rb.ssrc == st.ssrc);
    lkopus_receiver_free(r);
    return 0;
}
