/* SRTP and SRTCP sessions: keyed by a real DTLS handshake between two of
 * our endpoints, packets protected on one side come out byte-exact on the
 * other, both ways; both profiles with keys built by hand; and everything
 * that must fail does, with the right code: altered bits, replays, packets
 * older than the window, truncation, keys the wrong way round, bad
 * arguments. Also: no thread appears, and a fork child can use, free and
 * create sessions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cert.h"
#include "dtls.h"
#include "srtp.h"
#include "threads.h"
#include "wire.h"

/* --- a DTLS handshake over in-memory datagrams -------------------------------- */

enum { QCAP = 32, DGRAM = 1500 };

typedef struct peer {
    lkdtls *d;
    struct peer *other;
    uint8_t in[QCAP][DGRAM]; /* datagrams waiting for this peer */
    size_t in_len[QCAP];
    unsigned head, tail;
    bool up;
} peer;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void deliver_to_other(void *ctx, const uint8_t *data, size_t len)
{
    peer *to = ((peer *)ctx)->other;
    assert_true(len <= DGRAM);
    assert_true(to->tail - to->head < QCAP);
    memcpy(to->in[to->tail % QCAP], data, len);
    to->in_len[to->tail++ % QCAP] = len;
}

static void mark_up(void *ctx)
{
    ((peer *)ctx)->up = true;
}

static void ignore_data(void *ctx, const uint8_t *data, size_t len)
{
}

static void ignore_close(void *ctx, const char *error)
{
}

static lkrtc_cert cert_a, cert_b;

static void open_peer(peer *p, peer *other, const lkrtc_cert *mine, const lkrtc_cert *theirs,
                      bool client)
{
    memset(p, 0, sizeof *p);
    p->other = other;
    lkdtls_callbacks cb = {p, deliver_to_other, mark_up, ignore_data, ignore_close};
    p->d = lkdtls_new(mine, client, &cb);
    assert_non_null(p->d);
    assert_int_equal(lkdtls_set_remote_fingerprint(p->d, theirs->fingerprint), 0);
}

/* Pumps datagrams and timers until both are connected, for at most 5 s. */
static void handshake(peer *a, peer *b)
{
    uint64_t start = mono_ns();
    lkdtls_start(a->d, start);
    lkdtls_start(b->d, start);
    while (!(a->up && b->up) && mono_ns() - start < 5000000000u) {
        peer *both[2] = {a, b};
        bool busy = false;
        for (int k = 0; k < 2; k++) {
            peer *p = both[k];
            while (p->head != p->tail) {
                unsigned i = p->head++ % QCAP;
                lkdtls_on_datagram(p->d, mono_ns(), p->in[i], p->in_len[i]);
                busy = true;
            }
            if (lkdtls_next_deadline(p->d, mono_ns()) <= mono_ns())
                lkdtls_on_timeout(p->d, mono_ns());
        }
        if (!busy)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    assert_true(a->up && b->up);
}

/* Keys of both ends of one real handshake; `a_client` picks the roles. */
static void keys_from_dtls(bool a_client, lkdtls_srtp *ka, lkdtls_srtp *kb)
{
    peer *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    open_peer(a, b, &cert_a, &cert_b, a_client);
    open_peer(b, a, &cert_b, &cert_a, !a_client);
    handshake(a, b);
    assert_int_equal(lkdtls_srtp_keys(a->d, ka), 0);
    assert_int_equal(lkdtls_srtp_keys(b->d, kb), 0);
    lkdtls_free(a->d);
    lkdtls_free(b->d);
    free(a);
    free(b);
}

/* --- keys by hand ----------------------------------------------------------------- */

/* The two ends of an association with the given profile: b's remote is a's local. */
static void fixed_keys(unsigned profile, lkdtls_srtp *ka, lkdtls_srtp *kb)
{
    memset(ka, 0, sizeof *ka);
    ka->profile = profile;
    ka->salt_len = profile == 1 ? 14 : 12;
    for (int i = 0; i < 16; i++) {
        ka->local_key[i] = (uint8_t)(0x10 + i);
        ka->remote_key[i] = (uint8_t)(0xa0 + 3 * i);
    }
    for (int i = 0; i < 14; i++) {
        ka->local_salt[i] = (uint8_t)(0x55 ^ i);
        ka->remote_salt[i] = (uint8_t)(0xc3 + i);
    }
    *kb = *ka;
    memcpy(kb->local_key, ka->remote_key, 16);
    memcpy(kb->remote_key, ka->local_key, 16);
    memcpy(kb->local_salt, ka->remote_salt, 14);
    memcpy(kb->remote_salt, ka->local_salt, 14);
}

static lksrtp *session(const lkdtls_srtp *k)
{
    char err[128] = "";
    lksrtp *s = lksrtp_new(k, err, sizeof err);
    if (!s)
        fail_msg("lksrtp_new: %s", err);
    return s;
}

/* --- packets ----------------------------------------------------------------------- */

enum { BUF = 1500 };

/* An RTP packet as WebRTC sends one: a CSRC every third packet, a one-byte
 * header extension every other, a payload whose size and bytes vary. */
static size_t make_rtp(uint8_t *p, uint32_t ssrc, uint16_t seq, unsigned n)
{
    unsigned cc = n % 3 == 0 ? 1 : 0;
    bool ext = n % 2 == 0;
    p[0] = (uint8_t)(0x80 | (ext ? 0x10 : 0) | cc);
    p[1] = (uint8_t)(96 | (n % 5 == 0 ? 0x80 : 0));
    lkrtc_wr16(p + 2, seq);
    lkrtc_wr32(p + 4, 90000u * n);
    lkrtc_wr32(p + 8, ssrc);
    size_t at = 12;
    if (cc) {
        lkrtc_wr32(p + at, 0xc0ffee00 + n);
        at += 4;
    }
    if (ext) {
        lkrtc_wr16(p + at, 0xbede);
        lkrtc_wr16(p + at + 2, 1);
        p[at + 4] = 0x10; /* id 1, one byte: a mid-like value */
        p[at + 5] = (uint8_t)n;
        p[at + 6] = p[at + 7] = 0;
        at += 8;
    }
    size_t payload = 16 + (n * 37) % 1100;
    for (size_t i = 0; i < payload; i++)
        p[at + i] = (uint8_t)(i * 13 + n);
    return at + payload;
}

/* A compound RTCP packet: a receiver report with one block, then a NACK. */
static size_t make_rtcp(uint8_t *p, uint32_t ssrc, unsigned n)
{
    p[0] = 0x81;
    p[1] = 201;
    lkrtc_wr16(p + 2, 7);
    lkrtc_wr32(p + 4, ssrc);
    lkrtc_wr32(p + 8, 0x1234 + n); /* the reported source */
    for (int i = 12; i < 32; i++)
        p[i] = (uint8_t)(n + i);
    p[32] = 0x81;
    p[33] = 205;
    lkrtc_wr16(p + 34, 3);
    lkrtc_wr32(p + 36, ssrc);
    lkrtc_wr32(p + 40, 0x1234 + n);
    lkrtc_wr16(p + 44, (uint16_t)n);
    lkrtc_wr16(p + 46, 0);
    return 48;
}

/* Protects in one session, unprotects in the other, expects the original. */
static void rtp_through(lksrtp *from, lksrtp *to, uint32_t ssrc, uint16_t seq, unsigned n)
{
    uint8_t plain[BUF], wire[BUF];
    size_t len = make_rtp(plain, ssrc, seq, n);
    memcpy(wire, plain, len);
    int sent = lksrtp_protect_rtp(from, wire, len, sizeof wire);
    assert_true(sent > (int)len);
    assert_memory_not_equal(wire + len - 16, plain + len - 16, 16); /* the payload is encrypted */
    int got = lksrtp_unprotect_rtp(to, wire, (size_t)sent);
    assert_int_equal(got, (int)len);
    assert_memory_equal(wire, plain, len);
}

static void rtcp_through(lksrtp *from, lksrtp *to, uint32_t ssrc, unsigned n)
{
    uint8_t plain[BUF], wire[BUF];
    size_t len = make_rtcp(plain, ssrc, n);
    memcpy(wire, plain, len);
    int sent = lksrtp_protect_rtcp(from, wire, len, sizeof wire);
    assert_true(sent > (int)len + 4);
    int got = lksrtp_unprotect_rtcp(to, wire, (size_t)sent);
    assert_int_equal(got, (int)len);
    assert_memory_equal(wire, plain, len);
}

/* Many packets each way, on two SSRCs per side, RTCP between. */
static void traffic_both_ways(lksrtp *a, lksrtp *b)
{
    for (unsigned n = 0; n < 400; n++) {
        uint16_t seq = (uint16_t)(65300 + n); /* wraps: the rollover counter moves */
        rtp_through(a, b, 0x11111111 + n % 2, seq, n);
        rtp_through(b, a, 0x22222222 + n % 2, (uint16_t)(seq + 7), n + 1);
        if (n % 10 == 0) {
            rtcp_through(a, b, 0x11111111, n);
            rtcp_through(b, a, 0x22222222, n);
        }
    }
}

/* --- tests ------------------------------------------------------------------------- */

static void dtls_keys_carry_traffic_both_ways(void **state)
{
    for (int a_client = 0; a_client < 2; a_client++) {
        lkdtls_srtp ka, kb;
        keys_from_dtls(a_client, &ka, &kb);
        lksrtp *a = session(&ka), *b = session(&kb);
        traffic_both_ways(a, b);
        lksrtp_free(a);
        lksrtp_free(b);
    }
}

static void both_profiles_with_fixed_keys(void **state)
{
    const unsigned profiles[] = {1, 7};
    const int rtp_trailer[] = {10, 16}, rtcp_trailer[] = {14, 20};
    for (int i = 0; i < 2; i++) {
        lkdtls_srtp ka, kb;
        fixed_keys(profiles[i], &ka, &kb);
        lksrtp *a = session(&ka), *b = session(&kb);
        traffic_both_ways(a, b);

        uint8_t p[BUF];
        size_t len = make_rtp(p, 5, 1, 1);
        assert_int_equal(lksrtp_protect_rtp(a, p, len, sizeof p), (int)len + rtp_trailer[i]);
        len = make_rtcp(p, 5, 1);
        assert_int_equal(lksrtp_protect_rtcp(a, p, len, sizeof p), (int)len + rtcp_trailer[i]);
        assert_true(rtcp_trailer[i] <= LKSRTP_MAX_TRAILER);
        lksrtp_free(a);
        lksrtp_free(b);
    }
}

/* Whether an RTP header, as the bytes now say, overruns the packet and its tag. */
static bool header_overruns(const uint8_t *p, size_t len, size_t tag)
{
    size_t h = 12 + 4 * (size_t)(p[0] & 0x0f);
    if (p[0] & 0x10)
        h = h + 4 > len ? len + 1 : h + 4 + 4 * (size_t)lkrtc_rd16(p + h + 2);
    return h + tag > len;
}

/* After a failure the caller's length still describes the buffer: the
 * header is as received, and so is the rest, except that with GCM the
 * crypto backend may have wiped the unauthenticated plaintext to zeros
 * (never anything else). */
static bool left_as_received(const uint8_t *p, const uint8_t *orig, size_t len, size_t header,
                             unsigned profile)
{
    if (memcmp(p, orig, header))
        return false;
    for (size_t i = header; i < len; i++)
        if (p[i] != orig[i] && (profile == 1 || p[i] != 0))
            return false;
    return true;
}

static void every_flipped_bit_fails(void **state)
{
    const unsigned profiles[] = {1, 7};
    for (int i = 0; i < 2; i++) {
        lkdtls_srtp ka, kb;
        fixed_keys(profiles[i], &ka, &kb);
        lksrtp *a = session(&ka), *b = session(&kb);
        size_t tag = profiles[i] == 1 ? 10 : 16;

        uint8_t rtp[BUF], rtcp[BUF], sent[BUF], bad[BUF];
        int rtp_len = lksrtp_protect_rtp(a, rtp, make_rtp(rtp, 9, 300, 2), sizeof rtp);
        int rtcp_len = lksrtp_protect_rtcp(a, rtcp, make_rtcp(rtcp, 9, 2), sizeof rtcp);
        assert_true(rtp_len > 0 && rtcp_len > 0);

        for (int bit = 0; bit < rtp_len * 8; bit++) {
            memcpy(sent, rtp, (size_t)rtp_len);
            sent[bit / 8] ^= (uint8_t)(1 << bit % 8);
            memcpy(bad, sent, (size_t)rtp_len);
            int rc = lksrtp_unprotect_rtp(b, bad, (size_t)rtp_len);
            /* A header now claiming more bytes than there are is refused
             * before authentication; anything else fails it. */
            int want = header_overruns(sent, (size_t)rtp_len, tag) ? LKSRTP_EMALFORMED : LKSRTP_EAUTH;
            if (rc != want)
                fail_msg("profile %u, RTP bit %d: %d (%s)", profiles[i], bit, rc,
                         lksrtp_strerror(rc));
            if (!left_as_received(bad, sent, (size_t)rtp_len, 12, profiles[i]))
                fail_msg("profile %u, RTP bit %d: buffer changed", profiles[i], bit);
        }
        for (int bit = 0; bit < rtcp_len * 8; bit++) {
            memcpy(sent, rtcp, (size_t)rtcp_len);
            sent[bit / 8] ^= (uint8_t)(1 << bit % 8);
            memcpy(bad, sent, (size_t)rtcp_len);
            int rc = lksrtp_unprotect_rtcp(b, bad, (size_t)rtcp_len);
            if (rc != LKSRTP_EAUTH)
                fail_msg("profile %u, RTCP bit %d: %d (%s)", profiles[i], bit, rc,
                         lksrtp_strerror(rc));
            if (!left_as_received(bad, sent, (size_t)rtcp_len, 8, profiles[i]))
                fail_msg("profile %u, RTCP bit %d: buffer changed", profiles[i], bit);
        }
        /* The failures left no trace: the originals still pass. */
        assert_true(lksrtp_unprotect_rtp(b, rtp, (size_t)rtp_len) > 0);
        assert_true(lksrtp_unprotect_rtcp(b, rtcp, (size_t)rtcp_len) > 0);
        lksrtp_free(a);
        lksrtp_free(b);
    }
}

static void replays_are_refused(void **state)
{
    lkdtls_srtp ka, kb;
    fixed_keys(7, &ka, &kb);
    lksrtp *a = session(&ka), *b = session(&kb);
    uint8_t p[BUF], copy[BUF];

    int n = lksrtp_protect_rtp(a, p, make_rtp(p, 1, 10, 4), sizeof p);
    memcpy(copy, p, (size_t)n);
    assert_true(lksrtp_unprotect_rtp(b, p, (size_t)n) > 0);
    assert_int_equal(lksrtp_unprotect_rtp(b, copy, (size_t)n), LKSRTP_EREPLAY);

    n = lksrtp_protect_rtcp(a, p, make_rtcp(p, 1, 4), sizeof p);
    memcpy(copy, p, (size_t)n);
    assert_true(lksrtp_unprotect_rtcp(b, p, (size_t)n) > 0);
    assert_int_equal(lksrtp_unprotect_rtcp(b, copy, (size_t)n), LKSRTP_EREPLAY);
    lksrtp_free(a);
    lksrtp_free(b);
}

/* Sending the same sequence number twice (a NACKed retransmission) is
 * allowed within the window and gives the same bytes; the receiver takes
 * the first only. */
static void retransmission_protects_again(void **state)
{
    lkdtls_srtp ka, kb;
    fixed_keys(1, &ka, &kb);
    lksrtp *a = session(&ka), *b = session(&kb);
    uint8_t first[BUF], again[BUF];
    for (uint16_t seq = 1; seq <= 5; seq++)
        rtp_through(a, b, 3, seq, seq);
    size_t len = make_rtp(first, 3, 3, 3);
    memcpy(again, first, len);
    int n1 = lksrtp_protect_rtp(a, first, len, sizeof first);
    int n2 = lksrtp_protect_rtp(a, again, len, sizeof again);
    assert_true(n1 > 0);
    assert_int_equal(n1, n2);
    assert_memory_equal(first, again, (size_t)n1);
    assert_int_equal(lksrtp_unprotect_rtp(b, first, (size_t)n1), LKSRTP_EREPLAY);

    /* Once the window has moved past it, a sequence number cannot be sent
     * again: the sender's libsrtp keeps the same window. */
    for (uint16_t seq = 6; seq <= 6 + LKSRTP_REPLAY_WINDOW; seq++) {
        len = make_rtp(first, 3, seq, seq);
        assert_true(lksrtp_protect_rtp(a, first, len, sizeof first) > 0);
    }
    len = make_rtp(first, 3, 3, 3);
    assert_int_equal(lksrtp_protect_rtp(a, first, len, sizeof first), LKSRTP_EOLD);
    lksrtp_free(a);
    lksrtp_free(b);
}

/* Video reorders: a packet late by less than the window still counts; one
 * from before the window is refused. */
static void window_takes_late_packets_and_refuses_ancient_ones(void **state)
{
    lkdtls_srtp ka, kb;
    fixed_keys(7, &ka, &kb);
    lksrtp *a = session(&ka), *b = session(&kb);
    static uint8_t held[2][BUF];
    int held_len[2] = {0, 0};
    const uint16_t ancient = 10, late = 300;
    const unsigned last = late + LKSRTP_REPLAY_WINDOW - 2;
    for (unsigned seq = 1; seq <= last; seq++) {
        uint8_t p[BUF];
        int n = lksrtp_protect_rtp(a, p, make_rtp(p, 4, (uint16_t)seq, seq), sizeof p);
        assert_true(n > 0);
        int k = seq == ancient ? 0 : seq == late ? 1 : -1;
        if (k >= 0) {
            memcpy(held[k], p, (size_t)n);
            held_len[k] = n;
            continue;
        }
        assert_true(lksrtp_unprotect_rtp(b, p, (size_t)n) > 0);
    }
    assert_true(lksrtp_unprotect_rtp(b, held[1], (size_t)held_len[1]) > 0);
    assert_int_equal(lksrtp_unprotect_rtp(b, held[0], (size_t)held_len[0]), LKSRTP_EOLD);
    lksrtp_free(a);
    lksrtp_free(b);
}

static void truncated_input_is_malformed(void **state)
{
    const unsigned profiles[] = {1, 7};
    for (int i = 0; i < 2; i++) {
        lkdtls_srtp ka, kb;
        fixed_keys(profiles[i], &ka, &kb);
        lksrtp *a = session(&ka), *b = session(&kb);
        size_t tag = profiles[i] == 1 ? 10 : 16;
        uint8_t p[BUF], cut[BUF];

        /* no extension, no CSRC: the header is 12 bytes */
        int n = lksrtp_protect_rtp(a, p, make_rtp(p, 6, 1, 1), sizeof p);
        for (size_t len = 0; len < 12 + tag; len++) {
            memcpy(cut, p, len);
            assert_int_equal(lksrtp_unprotect_rtp(b, cut, len), LKSRTP_EMALFORMED);
        }
        /* a whole header and a tag's worth, but the tag is not this one */
        memcpy(cut, p, (size_t)n);
        assert_int_equal(lksrtp_unprotect_rtp(b, cut, (size_t)n - 1), LKSRTP_EAUTH);
        /* an extension running past the end */
        memcpy(cut, p, (size_t)n);
        cut[0] |= 0x10;
        lkrtc_wr16(cut + 14, 0xffff);
        assert_int_equal(lksrtp_unprotect_rtp(b, cut, (size_t)n), LKSRTP_EMALFORMED);

        n = lksrtp_protect_rtcp(a, p, make_rtcp(p, 6, 1), sizeof p);
        for (size_t len = 0; len < 8 + 4 + tag; len++) {
            memcpy(cut, p, len);
            assert_int_equal(lksrtp_unprotect_rtcp(b, cut, len), LKSRTP_EMALFORMED);
        }
        /* nothing to protect either */
        assert_int_equal(lksrtp_protect_rtp(a, p, 11, sizeof p), LKSRTP_EMALFORMED);
        assert_int_equal(lksrtp_protect_rtcp(a, p, 7, sizeof p), LKSRTP_EMALFORMED);
        lksrtp_free(a);
        lksrtp_free(b);
    }
}

static void keys_the_wrong_way_round_fail(void **state)
{
    lkdtls_srtp ka, kb;
    keys_from_dtls(true, &ka, &kb);
    /* Both sides built from the client's keys: each receives with the
     * key the other does not send with. */
    lksrtp *a = session(&ka), *b = session(&ka);
    uint8_t p[BUF];
    int n = lksrtp_protect_rtp(a, p, make_rtp(p, 8, 1, 1), sizeof p);
    assert_int_equal(lksrtp_unprotect_rtp(b, p, (size_t)n), LKSRTP_EAUTH);
    n = lksrtp_protect_rtcp(a, p, make_rtcp(p, 8, 1), sizeof p);
    assert_int_equal(lksrtp_unprotect_rtcp(b, p, (size_t)n), LKSRTP_EAUTH);
    /* A session's own output does not come back in through it either. */
    n = lksrtp_protect_rtp(a, p, make_rtp(p, 8, 2, 2), sizeof p);
    assert_int_equal(lksrtp_unprotect_rtp(a, p, (size_t)n), LKSRTP_EAUTH);
    lksrtp_free(a);
    lksrtp_free(b);
}

static void bad_arguments_are_refused_with_words(void **state)
{
    lkdtls_srtp ka, kb;
    char err[128];
    fixed_keys(1, &ka, &kb);
    ka.profile = 2; /* AES128_CM_HMAC_SHA1_32: not offered */
    assert_null(lksrtp_new(&ka, err, sizeof err));
    assert_non_null(strstr(err, "profile 2"));
    fixed_keys(7, &ka, &kb);
    ka.salt_len = 14;
    assert_null(lksrtp_new(&ka, err, sizeof err));
    assert_non_null(strstr(err, "salt"));
    assert_null(lksrtp_new(NULL, NULL, 0));

    fixed_keys(7, &ka, &kb);
    lksrtp *a = session(&ka);
    uint8_t p[BUF];
    size_t len = make_rtp(p, 1, 1, 1);
    assert_int_equal(lksrtp_protect_rtp(a, p, len, len + LKSRTP_MAX_TRAILER - 1), LKSRTP_EINVAL);
    assert_int_equal(lksrtp_protect_rtcp(a, p, 48, 48), LKSRTP_EINVAL);
    assert_int_equal(lksrtp_unprotect_rtp(a, p, LKSRTP_MAX_PACKET + 1), LKSRTP_EINVAL);
    lksrtp_free(a);
    lksrtp_free(NULL);

    const int codes[] = {LKSRTP_EINVAL, LKSRTP_EMALFORMED, LKSRTP_EAUTH,
                         LKSRTP_EREPLAY, LKSRTP_EOLD,      LKSRTP_EFAIL};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(lksrtp_strerror(codes[i]), lksrtp_strerror(codes[j]));
    assert_non_null(strstr(lksrtp_strerror(LKSRTP_EAUTH), "authentication"));
    assert_non_null(strstr(lksrtp_strerror(LKSRTP_EREPLAY), "replay"));
    assert_non_null(strstr(lksrtp_strerror(LKSRTP_EINVAL), "bad parameter"));
    assert_non_null(strstr(lksrtp_strerror(-99), "unknown"));
}

/* Workers are the library's only threads: libsrtp and its crypto backend
 * must not add one. */
static void sessions_start_no_thread(void **state)
{
    int before = thread_count();
    lkdtls_srtp ka, kb;
    fixed_keys(1, &ka, &kb);
    lksrtp *a = session(&ka), *b = session(&kb);
    rtp_through(a, b, 1, 1, 1);
    rtcp_through(b, a, 2, 1);
    assert_int_equal(thread_count(), before);
    lksrtp_free(a);
    lksrtp_free(b);
}

/* In a fork child: the inherited sessions still work, can be freed, and
 * new ones can be made. */
static int child_after_fork(lksrtp *a, lksrtp *b)
{
    uint8_t p[BUF];
    size_t len = make_rtp(p, 1, 100, 7);
    int n = lksrtp_protect_rtp(a, p, len, sizeof p);
    if (n <= 0 || lksrtp_unprotect_rtp(b, p, (size_t)n) != (int)len)
        return 1;
    lksrtp_free(a);
    lksrtp_free(b);
    lkdtls_srtp ka, kb;
    fixed_keys(7, &ka, &kb);
    a = lksrtp_new(&ka, NULL, 0);
    b = lksrtp_new(&kb, NULL, 0);
    if (!a || !b)
        return 2;
    n = lksrtp_protect_rtp(a, p, len, sizeof p);
    int rc = n > 0 && lksrtp_unprotect_rtp(b, p, (size_t)n) == (int)len ? 0 : 3;
    lksrtp_free(a);
    lksrtp_free(b);
    return rc;
}

static void fork_child_uses_frees_and_creates(void **state)
{
    lkdtls_srtp ka, kb;
    fixed_keys(1, &ka, &kb);
    lksrtp *a = session(&ka), *b = session(&kb);
    rtp_through(a, b, 1, 1, 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_after_fork(a, b));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    rtp_through(a, b, 1, 2, 2); /* the parent's are untouched */
    lksrtp_free(a);
    lksrtp_free(b);
}

static int setup(void **state)
{
    assert_int_equal(lkrtc_cert_generate(&cert_a), 0);
    assert_int_equal(lkrtc_cert_generate(&cert_b), 0);
    return 0;
}

static int teardown(void **state)
{
    lkrtc_cert_free(&cert_a);
    lkrtc_cert_free(&cert_b);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dtls_keys_carry_traffic_both_ways),
        cmocka_unit_test(both_profiles_with_fixed_keys),
        cmocka_unit_test(every_flipped_bit_fails),
        cmocka_unit_test(replays_are_refused),
        cmocka_unit_test(retransmission_protects_again),
        cmocka_unit_test(window_takes_late_packets_and_refuses_ancient_ones),
        cmocka_unit_test(truncated_input_is_malformed),
        cmocka_unit_test(keys_the_wrong_way_round_fail),
        cmocka_unit_test(bad_arguments_are_refused_with_words),
        cmocka_unit_test(sessions_start_no_thread),
        cmocka_unit_test(fork_child_uses_frees_and_creates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
