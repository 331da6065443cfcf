/* libFuzzer harness for SRTP and SRTCP: the input, as a datagram from
 * anyone on the media path, into unprotect RTP and RTCP of fresh sessions
 * with fixed keys, in both profiles; and the input, as a payload and as a
 * whole packet, must come back byte-exact through protect and unprotect.
 * Buffers are sized exactly, so a write past the trailer or a read past the
 * packet is caught (in our code, and in libsrtp's calls into libc). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srtp.h"
#include "wire.h"

enum { MAX_PAYLOAD = 1400, SSRC = 0x5eed5eed };

/* The seeds in seeds/srtp/ were protected with these keys (sender's side). */
static void fixed_keys(unsigned profile, bool sender, lkdtls_srtp *k)
{
    memset(k, 0, sizeof *k);
    k->profile = profile;
    k->salt_len = profile == 1 ? 14 : 12;
    for (int i = 0; i < 16; i++) {
        k->local_key[i] = (uint8_t)(sender ? 0x40 + i : 0x90 + i);
        k->remote_key[i] = (uint8_t)(sender ? 0x90 + i : 0x40 + i);
    }
    for (int i = 0; i < 14; i++) {
        k->local_salt[i] = (uint8_t)(sender ? 0x20 + i : 0x70 + i);
        k->remote_salt[i] = (uint8_t)(sender ? 0x70 + i : 0x20 + i);
    }
}

static lksrtp *open_session(unsigned profile, bool sender)
{
    lkdtls_srtp k;
    fixed_keys(profile, sender, &k);
    lksrtp *s = lksrtp_new(&k, NULL, 0);
    if (!s)
        abort();
    return s;
}

/* Unprotect may only shrink the packet, or fail with a code it names. */
static void unprotect_copy(lksrtp *rx, const uint8_t *data, size_t size, bool rtcp)
{
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        abort();
    memcpy(p, data, size);
    int rc = rtcp ? lksrtp_unprotect_rtcp(rx, p, size) : lksrtp_unprotect_rtp(rx, p, size);
    if (rc > (int)size || (rc < 0 && rc < LKSRTP_EFAIL))
        abort();
    free(p);
}

/* Out through tx and back in through rx: the packet must come back as it
 * was. header_ok: whether the bytes hold a whole RTP header (else protect
 * must refuse them as malformed). */
static void round_trip(lksrtp *tx, lksrtp *rx, const uint8_t *pkt, size_t len, bool rtcp,
                       bool header_ok)
{
    uint8_t *p = malloc(len + LKSRTP_MAX_TRAILER);
    if (!p)
        abort();
    memcpy(p, pkt, len);
    int n = rtcp ? lksrtp_protect_rtcp(tx, p, len, len + LKSRTP_MAX_TRAILER)
                 : lksrtp_protect_rtp(tx, p, len, len + LKSRTP_MAX_TRAILER);
    if (!header_ok) {
        if (n != LKSRTP_EMALFORMED)
            abort();
        free(p);
        return;
    }
    if (n <= (int)len || n > (int)(len + LKSRTP_MAX_TRAILER))
        abort();
    int back = rtcp ? lksrtp_unprotect_rtcp(rx, p, (size_t)n) : lksrtp_unprotect_rtp(rx, p, (size_t)n);
    if (back != (int)len || memcmp(p, pkt, len) != 0)
        abort();
    free(p);
}

/* Whether p holds a whole RTP header, CSRCs and extension included. */
static bool rtp_header_fits(const uint8_t *p, size_t len)
{
    if (len < 12)
        return false;
    size_t h = 12 + 4 * (size_t)(p[0] & 0x0f);
    if (p[0] & 0x10)
        h = h + 4 > len ? len + 1 : h + 4 + 4 * (size_t)lkrtc_rd16(p + h + 2);
    return h <= len;
}

/* The input as the payload of a header of ours, and as a whole packet
 * whose sequence number and SSRC are ours (so nothing is ever a replay):
 * header shapes of every kind through libsrtp. */
static void round_trips(lksrtp *tx, lksrtp *rx, const uint8_t *data, size_t size, uint16_t seq)
{
    size_t body = size < MAX_PAYLOAD ? size : MAX_PAYLOAD;
    uint8_t pkt[12 + MAX_PAYLOAD];

    pkt[0] = 0x80;
    pkt[1] = 111;
    lkrtc_wr16(pkt + 2, seq);
    lkrtc_wr32(pkt + 4, 960u * seq);
    lkrtc_wr32(pkt + 8, SSRC);
    memcpy(pkt + 12, data, body);
    round_trip(tx, rx, pkt, 12 + body, false, true);

    pkt[1] = 204; /* APP */
    lkrtc_wr16(pkt + 2, (uint16_t)((8 + body + 3) / 4 - 1));
    lkrtc_wr32(pkt + 4, SSRC);
    memcpy(pkt + 8, data, body);
    round_trip(tx, rx, pkt, 8 + body, true, true);

    memcpy(pkt, data, body);
    if (body >= 12) {
        lkrtc_wr16(pkt + 2, seq);
        lkrtc_wr32(pkt + 8, SSRC + 1);
    }
    round_trip(tx, rx, pkt, body, false, rtp_header_fits(pkt, body));
    if (body >= 8) {
        lkrtc_wr32(pkt + 4, SSRC + 2);
        round_trip(tx, rx, pkt, body, true, true);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Long-lived pairs for the round trip: each input gets the next
     * sequence number, so no packet is ever a replay. */
    static lksrtp *tx[2], *rx[2];
    static uint16_t seq;
    const unsigned profiles[2] = {1, 7};
    if (!tx[0])
        for (int i = 0; i < 2; i++) {
            tx[i] = open_session(profiles[i], true);
            rx[i] = open_session(profiles[i], false);
        }
    seq++;
    for (int i = 0; i < 2; i++) {
        /* Fresh receivers: a seed that authenticates does so every run. */
        lksrtp *fresh = open_session(profiles[i], false);
        unprotect_copy(fresh, data, size, false);
        unprotect_copy(fresh, data, size, true);
        lksrtp_free(fresh);
        round_trips(tx[i], rx[i], data, size, seq);
    }
    return 0;
}
