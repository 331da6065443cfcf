/* libFuzzer harness for RTP and RTCP: what arrives on the media transport
 * from anyone (after SRTP, which authenticates the sender, not the shape).
 *
 * Byte 0 picks the reader for the rest: 0 RTP, 1 an RTCP compound through
 * every parser, 2 whichever lkrtp_demux says. Invariants, where cheap: a
 * parsed RTP header written again (with its one-byte extensions) parses
 * back equal; an SR or RR written again parses back equal; a NACK packed
 * again asks for the same numbers; TWCC feedback written again from what
 * it decoded reports the same packets at the same relative times, and
 * matched against a sender's history (rtc/twcc) tells of each packet at
 * most once, with the size it was sent with; a packet's abs-send-time
 * (id 2), repeated with steps its payload picks, keeps the receiver's
 * estimate (rtc/rbe) within its bounds, and its REMB parses back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rbe.h"
#include "rtp.h"
#include "twcc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[1 << 19]; /* larger than any packet written from one parsed */

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void touch(const uint8_t *p, size_t n)
{
    if (n) /* first and last byte, for ASan */
        check((p[0] ^ p[n - 1]) != 0x100);
}

static bool same_ext(const lkrtp_ext *a, const lkrtp_ext *b)
{
    return a->id == b->id && a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* The receiver's estimate over a train made from one packet: its
 * abs-send-time and SSRC, departures and arrivals stepped by its payload's
 * bytes (any value: backwards, wrapping, bursts). */
static void estimate(const lkrtp_packet *a)
{
    uint32_t t24;
    if (!lkrtp_ext_abs_send_time(a, 2, &t24))
        return;
    static lkrbe r;
    lkrbe_init(&r);
    uint64_t now = 1000000000ull;
    for (size_t k = 0; k < 256; k++) {
        uint8_t b = a->payload_len ? a->payload[k % a->payload_len] : 0;
        t24 += (uint32_t)(int8_t)b * 977u;
        now += (uint64_t)(b & 0x3f) * 250000u;
        lkrbe_on_packet(&r, a->h.ssrc + (b >> 6), t24, 40 + (size_t)b * 4, now);
        uint32_t e = lkrbe_estimate(&r);
        check(e >= LKRBE_MIN_BPS && e <= LKRBE_MAX_BPS);
        uint8_t buf[64];
        int len = lkrbe_write_remb(&r, 1, now, buf, sizeof buf);
        check(len >= 0);
        if (len > 0) {
            lkrtcp_iter it;
            lkrtcp_packet pk;
            lkrtcp_remb remb;
            lkrtcp_iter_init(&it, buf, (size_t)len);
            check(lkrtcp_next(&it, &pk) == 1 && lkrtcp_parse_remb(&pk, &remb) == 0);
            check(remb.n_ssrc >= 1 && remb.n_ssrc <= LKRBE_MAX_SSRCS);
        }
    }
}

static void rtp(const uint8_t *p, size_t n)
{
    lkrtp_packet a, b;
    if (lkrtp_parse(&a, p, n) < 0)
        return;
    touch(a.payload, a.payload_len);
    touch(a.ext, a.ext_len);
    size_t pos = 0, len;
    lkrtp_ext e, f;
    while (lkrtp_ext_next(&a, &pos, &e))
        touch(e.data, e.len);
    (void)lkrtp_ext_find(&a, 14, &len);
    estimate(&a);

    /* written again: the header, its one-byte elements, the payload */
    bool one = a.has_ext && a.ext_profile == LKRTP_PROFILE_ONE_BYTE;
    lkrtp_builder w;
    lkrtp_begin(&w, out, sizeof out, &a.h);
    pos = 0;
    while (one && lkrtp_ext_next(&a, &pos, &e))
        lkrtp_add_ext(&w, e.id, e.data, e.len);
    int hl = lkrtp_end(&w);
    check(hl > 0);
    if ((size_t)hl + a.payload_len > sizeof out)
        return;
    memcpy(out + hl, a.payload, a.payload_len);
    check(lkrtp_parse(&b, out, (size_t)hl + a.payload_len) == 0);
    check(memcmp(&a.h, &b.h, sizeof a.h) == 0);
    check(b.payload_len == a.payload_len &&
          memcmp(b.payload, a.payload, a.payload_len) == 0);
    if (!one)
        return;
    size_t pa = 0, pb = 0;
    while (lkrtp_ext_next(&a, &pa, &e)) {
        check(lkrtp_ext_next(&b, &pb, &f));
        check(same_ext(&e, &f));
    }
    check(!lkrtp_ext_next(&b, &pb, &f));
}

static bool same_reports(const lkrtcp_report *a, const lkrtcp_report *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (a[i].ssrc != b[i].ssrc || a[i].fraction_lost != b[i].fraction_lost ||
            a[i].cumulative_lost != b[i].cumulative_lost ||
            a[i].highest_seq != b[i].highest_seq || a[i].jitter != b[i].jitter ||
            a[i].lsr != b[i].lsr || a[i].dlsr != b[i].dlsr)
            return false;
    return true;
}

/* The one packet just written, as lkrtcp_next hands it over. */
static void reread(lkrtcp_packet *pk, int len)
{
    check(len > 0);
    lkrtcp_iter it;
    lkrtcp_iter_init(&it, out, (size_t)len);
    check(lkrtcp_next(&it, pk) == 1);
}

static void sr_rr(const lkrtcp_packet *pk)
{
    static lkrtcp_sr sr, sr2;
    static lkrtcp_rr rr, rr2;
    lkrtcp_packet again;
    if (lkrtcp_parse_sr(pk, &sr) == 0) {
        reread(&again, lkrtcp_write_sr(out, sizeof out, &sr));
        check(lkrtcp_parse_sr(&again, &sr2) == 0);
        check(sr2.ssrc == sr.ssrc && sr2.ntp == sr.ntp && sr2.rtp_timestamp == sr.rtp_timestamp &&
              sr2.packets == sr.packets && sr2.octets == sr.octets &&
              sr2.n_reports == sr.n_reports);
        check(same_reports(sr.reports, sr2.reports, sr.n_reports));
    }
    if (lkrtcp_parse_rr(pk, &rr) == 0) {
        reread(&again, lkrtcp_write_rr(out, sizeof out, &rr));
        check(lkrtcp_parse_rr(&again, &rr2) == 0);
        check(rr2.ssrc == rr.ssrc && rr2.n_reports == rr.n_reports);
        check(same_reports(rr.reports, rr2.reports, rr.n_reports));
    }
}

enum { NACK_MAX = 4096 };

static void nack(const lkrtcp_packet *pk)
{
    static uint16_t seqs[NACK_MAX], seqs2[NACK_MAX];
    static uint8_t asked[8192], asked2[8192]; /* bitmaps of 65536 numbers */
    lkrtcp_nack nk, nk2;
    if (lkrtcp_parse_nack(pk, &nk) < 0)
        return;
    size_t n = lkrtcp_nack_expand(&nk, seqs, NACK_MAX);
    if (n > NACK_MAX)
        return;
    /* packed again: the same set of numbers (duplicates may merge) */
    lkrtcp_packet again;
    reread(&again, lkrtcp_write_nack(out, sizeof out, &nk.fb, seqs, n));
    check(lkrtcp_parse_nack(&again, &nk2) == 0);
    size_t n2 = lkrtcp_nack_expand(&nk2, seqs2, NACK_MAX);
    check(n2 <= n);
    memset(asked, 0, sizeof asked);
    memset(asked2, 0, sizeof asked2);
    for (size_t i = 0; i < n; i++)
        asked[seqs[i] >> 3] |= (uint8_t)(1u << (seqs[i] & 7));
    for (size_t i = 0; i < n2; i++)
        asked2[seqs2[i] >> 3] |= (uint8_t)(1u << (seqs2[i] & 7));
    check(memcmp(asked, asked2, sizeof asked) == 0);
}

/* The statuses against a fresh sender that sent 70000 packets (numbers
 * wrapped), each of size its number's low 16 bits. */
static void twcc_match(const lkrtcp_twcc *fb, const lkrtcp_twcc_status *st, size_t n)
{
    static lktwcc_result res[65536];
    static uint8_t seen[70000];
    lktwcc_sender *s = lktwcc_sender_new();
    for (uint32_t i = 0; i < 70000; i++)
        lktwcc_sender_sent(s, i, i & 0xffff);
    int k = lktwcc_sender_feedback(s, fb, st, n, res, 65536);
    check(k >= 0 && (size_t)k <= n);
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < k; i++) {
        check(res[i].seq >= 70000 - LKTWCC_HISTORY && res[i].seq < 70000);
        check(res[i].size == (res[i].seq & 0xffff) && res[i].sent_ns == (uint64_t)res[i].seq);
        /* once each; a second time only as received after lost */
        uint8_t *m = &seen[res[i].seq];
        check(!(*m & 2) && !(*m & 1 && !res[i].received));
        *m |= res[i].received ? 2 : 1;
    }
    lktwcc_sender_free(s);
}

static void twcc(const lkrtcp_packet *pk)
{
    static lkrtcp_twcc_status st[65536], st2[65536];
    static lkrtcp_twcc_arrival got[65536];
    lkrtcp_twcc fb, fb2;
    int k = lkrtcp_parse_twcc(pk, &fb, st, 65536);
    if (k < 0)
        return;
    check(k == fb.status_count);
    twcc_match(&fb, st, (size_t)k);
    /* the received ones, moved to start at 0 (the writer wants no negative
     * times; every decoded time is a multiple of 250 us) */
    size_t n = 0;
    int64_t min = INT64_MAX;
    for (int i = 0; i < k; i++)
        if (st[i].symbol != LKRTCP_TWCC_NOT_RECEIVED && st[i].arrival_us < min)
            min = st[i].arrival_us;
    for (int i = 0; i < k; i++)
        if (st[i].symbol != LKRTCP_TWCC_NOT_RECEIVED)
            got[n++] = (lkrtcp_twcc_arrival){st[i].seq, st[i].arrival_us - min};
    if (n == 0)
        return;
    lkrtcp_packet again;
    reread(&again, lkrtcp_write_twcc(out, sizeof out, &fb.fb, fb.fb_count, got, n));
    int k2 = lkrtcp_parse_twcc(&again, &fb2, st2, 65536);
    check(k2 > 0 && fb2.base_seq == got[0].seq);
    size_t j = 0;
    int64_t first = -1;
    for (int i = 0; i < k2; i++) {
        bool received = st2[i].symbol != LKRTCP_TWCC_NOT_RECEIVED;
        check(received == (j < n && got[j].seq == st2[i].seq));
        if (!received)
            continue;
        if (first < 0)
            first = st2[i].arrival_us - got[j].arrival_us;
        check(st2[i].arrival_us - got[j].arrival_us == first);
        j++;
    }
    check(j == n);
}

static void rtcp(const uint8_t *p, size_t n)
{
    lkrtcp_iter it;
    lkrtcp_packet pk;
    lkrtcp_iter_init(&it, p, n);
    while (lkrtcp_next(&it, &pk) == 1) {
        touch(pk.body, pk.body_len);
        sr_rr(&pk);
        static lkrtcp_bye bye;
        if (lkrtcp_parse_bye(&pk, &bye) == 0)
            touch(bye.reason, bye.reason_len);
        nack(&pk);
        lkrtcp_fb pli;
        (void)lkrtcp_parse_pli(&pk, &pli);
        lkrtcp_fir fir;
        if (lkrtcp_parse_fir(&pk, &fir) == 0)
            for (size_t i = 0; i < fir.n; i++)
                (void)lkrtcp_fir_get(&fir, i);
        lkrtcp_remb remb;
        if (lkrtcp_parse_remb(&pk, &remb) == 0)
            for (size_t i = 0; i < remb.n_ssrc; i++)
                (void)lkrtcp_remb_ssrc(&remb, i);
        twcc(&pk);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0:
        rtp(p, n);
        break;
    case 1:
        rtcp(p, n);
        break;
    default:
        if (lkrtp_demux(p, n) == LKRTP_RTCP)
            rtcp(p, n);
        else if (lkrtp_demux(p, n) == LKRTP_RTP)
            rtp(p, n);
        break;
    }
    return 0;
}
