/*
 * test_rtp.c: RTP and RTCP packets built by hand from the RFCs' figures
 * are read as the figures say; our writers read back as written; every
 * malformed shape is refused; NACK and TWCC pack and unpack at their
 * edges; the receiver statistics unwrap, reorder, and compute loss and
 * jitter as RFC 3550's appendix does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "rtp.h"

/* --- RTP ---------------------------------------------------------------------------- */

/* RFC 3550 5.1's fixed header with two CSRCs, the one-byte extension of
 * RFC 8285 4.2's figure (IDs 1, 2, 3 with 1, 2 and 4 bytes, two padding
 * bytes between), a 3-byte payload and 3 bytes of padding. */
static const uint8_t rtp_one_byte[] = {
    0xb2, 0xe0, 0x12, 0x34,                         /* V=2 P X CC=2, M, PT 96, seq */
    0xde, 0xad, 0xbe, 0xef,                         /* timestamp */
    0x11, 0x22, 0x33, 0x44,                         /* SSRC */
    0xaa, 0xbb, 0xcc, 0xdd, 0x01, 0x02, 0x03, 0x04, /* CSRCs */
    0xbe, 0xde, 0x00, 0x03,                         /* 0xBEDE, length 3 words */
    0x10, 0xaa, 0x21, 0xbb, 0xcc, 0x00, 0x00, 0x33, 0x01, 0x02, 0x03, 0x04,
    'h',  'i',  '!',                                /* payload */
    0x00, 0x00, 0x03,                               /* padding, its count last */
};

/* RFC 8285 4.3's figure: the two-byte form (IDs 1, 2, 3 with 0, 1 and 4
 * bytes, one padding byte), no padding, payload "xy". */
static const uint8_t rtp_two_byte[] = {
    0x90, 0x6f, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 2,
    0x10, 0x00, 0x00, 0x03,
    0x01, 0x00, 0x02, 0x01, 0xaa, 0x00, 0x03, 0x04, 0x01, 0x02, 0x03, 0x04,
    'x',  'y',
};

static void rtp_known_answer(void **state)
{
    lkrtp_packet p;
    assert_int_equal(lkrtp_parse(&p, rtp_one_byte, sizeof rtp_one_byte), 0);
    assert_true(p.h.marker);
    assert_int_equal(p.h.payload_type, 96);
    assert_int_equal(p.h.seq, 0x1234);
    assert_int_equal(p.h.timestamp, 0xdeadbeef);
    assert_int_equal(p.h.ssrc, 0x11223344);
    assert_int_equal(p.h.csrc_count, 2);
    assert_int_equal(p.h.csrc[0], 0xaabbccdd);
    assert_int_equal(p.h.csrc[1], 0x01020304);
    assert_true(p.has_ext);
    assert_int_equal(p.ext_profile, LKRTP_PROFILE_ONE_BYTE);
    assert_int_equal(p.ext_len, 12);
    assert_int_equal(p.header_len, 36);
    assert_int_equal(p.padding, 3);
    /* the payload is where it was: nothing copied */
    assert_ptr_equal(p.payload, rtp_one_byte + 36);
    assert_int_equal(p.payload_len, 3);

    size_t len;
    const uint8_t *d = lkrtp_ext_find(&p, 1, &len);
    assert_non_null(d);
    assert_int_equal(len, 1);
    assert_int_equal(d[0], 0xaa);
    d = lkrtp_ext_find(&p, 2, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(d, "\xbb\xcc", 2);
    d = lkrtp_ext_find(&p, 3, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(d, "\x01\x02\x03\x04", 4);
    assert_null(lkrtp_ext_find(&p, 4, &len));
    assert_int_equal(len, 0);

    /* in order, padding skipped */
    size_t pos = 0;
    lkrtp_ext e;
    uint8_t ids[4];
    int n = 0;
    while (lkrtp_ext_next(&p, &pos, &e) && n < 4)
        ids[n++] = e.id;
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
    assert_int_equal(ids[2], 3);
}

static void rtp_two_byte_extension(void **state)
{
    lkrtp_packet p;
    assert_int_equal(lkrtp_parse(&p, rtp_two_byte, sizeof rtp_two_byte), 0);
    assert_false(p.h.marker);
    assert_int_equal(p.h.payload_type, 111);
    assert_int_equal(p.h.seq, 65535);
    assert_int_equal(p.ext_profile, 0x1000);
    assert_int_equal(p.padding, 0);
    assert_int_equal(p.payload_len, 2);
    assert_memory_equal(p.payload, "xy", 2);
    size_t len = 99;
    assert_non_null(lkrtp_ext_find(&p, 1, &len)); /* present, with no data */
    assert_int_equal(len, 0);
    const uint8_t *d = lkrtp_ext_find(&p, 2, &len);
    assert_int_equal(len, 1);
    assert_int_equal(d[0], 0xaa);
    d = lkrtp_ext_find(&p, 3, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(d, "\x01\x02\x03\x04", 4);

    /* the appbits may be anything: 0x100F is the two-byte form too */
    uint8_t q[sizeof rtp_two_byte];
    memcpy(q, rtp_two_byte, sizeof q);
    q[13] = 0x0f;
    assert_int_equal(lkrtp_parse(&p, q, sizeof q), 0);
    assert_non_null(lkrtp_ext_find(&p, 3, &len));
    /* another profile's extension is opaque: no elements, bytes kept */
    q[12] = 0x12;
    q[13] = 0x34;
    assert_int_equal(lkrtp_parse(&p, q, sizeof q), 0);
    assert_int_equal(p.ext_profile, 0x1234);
    assert_int_equal(p.ext_len, 12);
    assert_null(lkrtp_ext_find(&p, 1, &len));
}

static void rtp_extension_id_15_ends_the_walk(void **state)
{
    /* RFC 8285 4.2: processing stops at ID 15; what follows is ignored, even
     * a length that would run past the block */
    static const uint8_t pkt[] = {
        0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0x00, 0x02,
        0x11, 0xaa, 0xbb, 0xf0, 0x2f, 0xcc, 0xdd, 0x00,
    };
    lkrtp_packet p;
    size_t len;
    assert_int_equal(lkrtp_parse(&p, pkt, sizeof pkt), 0);
    assert_non_null(lkrtp_ext_find(&p, 1, &len));
    assert_int_equal(len, 2);
    assert_null(lkrtp_ext_find(&p, 2, &len));
}

static void rtp_malformed(void **state)
{
    lkrtp_packet p;
    uint8_t q[64];
    /* truncated headers, of every length */
    for (size_t n = 0; n < LKRTP_HEADER_SIZE; n++)
        assert_int_equal(lkrtp_parse(&p, rtp_one_byte, n), LKRTP_E_TRUNCATED);
    /* and any cut of the known packet before its payload */
    for (size_t n = 0; n < 36; n++)
        assert_true(lkrtp_parse(&p, rtp_one_byte, n) < 0);
    /* versions 0, 1, 3 */
    for (unsigned v = 0; v < 4; v++) {
        if (v == 2)
            continue;
        memcpy(q, rtp_two_byte, sizeof rtp_two_byte);
        q[0] = (uint8_t)(v << 6 | (q[0] & 0x3f));
        assert_int_equal(lkrtp_parse(&p, q, sizeof rtp_two_byte), LKRTP_E_VERSION);
    }
    /* CSRC count past the end: 15 CSRCs need 72 bytes */
    memcpy(q, rtp_two_byte, sizeof rtp_two_byte);
    q[0] = 0x8f;
    assert_int_equal(lkrtp_parse(&p, q, sizeof rtp_two_byte), LKRTP_E_TRUNCATED);
    /* X set but no room for the extension's header */
    static const uint8_t x_only[] = {0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde};
    assert_int_equal(lkrtp_parse(&p, x_only, sizeof x_only), LKRTP_E_TRUNCATED);
    /* extension length past the end */
    memcpy(q, rtp_two_byte, sizeof rtp_two_byte);
    q[15] = 0x04; /* 16 bytes claimed, 14 there */
    assert_int_equal(lkrtp_parse(&p, q, sizeof rtp_two_byte), LKRTP_E_TRUNCATED);
    /* an element past the end of its block (one-byte form, 16 bytes in 4) */
    static const uint8_t long_elem[] = {
        0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0x00, 0x01, 0x1f, 1, 2, 3, 'p',
    };
    assert_int_equal(lkrtp_parse(&p, long_elem, sizeof long_elem), LKRTP_E_MALFORMED);
    /* two-byte form: a length byte missing, and a length too long */
    static const uint8_t cut2[] = {
        0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05,
    };
    assert_int_equal(lkrtp_parse(&p, cut2, sizeof cut2), LKRTP_E_MALFORMED);
    static const uint8_t long2[] = {
        0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00, 0x00, 0x01, 0x05, 0x03, 0x00, 0x00,
    };
    assert_int_equal(lkrtp_parse(&p, long2, sizeof long2), LKRTP_E_MALFORMED);
    /* padding count 0 */
    memcpy(q, rtp_one_byte, sizeof rtp_one_byte);
    q[sizeof rtp_one_byte - 1] = 0;
    assert_int_equal(lkrtp_parse(&p, q, sizeof rtp_one_byte), LKRTP_E_PADDING);
    /* padding larger than payload and padding together (6 bytes here) */
    q[sizeof rtp_one_byte - 1] = 7;
    assert_int_equal(lkrtp_parse(&p, q, sizeof rtp_one_byte), LKRTP_E_PADDING);
    /* exactly all of it: an empty payload */
    q[sizeof rtp_one_byte - 1] = 6;
    assert_int_equal(lkrtp_parse(&p, q, sizeof rtp_one_byte), 0);
    assert_int_equal(p.payload_len, 0);
    /* P set on a bare header: the count would be a header byte */
    static const uint8_t bare[] = {0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(lkrtp_parse(&p, bare, sizeof bare), LKRTP_E_PADDING);
}

/* A finished packet's transport number is rewritten in place, nothing
 * else moves; a packet without the element, or one SRTP would not take,
 * is left alone. */
static void transport_seq_is_stamped_in_place(void **state)
{
    lkrtp_header h = {.payload_type = 96, .seq = 7, .ssrc = 9};
    uint8_t buf[64], before[64];
    lkrtp_builder b;
    lkrtp_begin(&b, buf, sizeof buf, &h);
    lkrtp_add_ext(&b, 3, "0", 1);
    lkrtp_add_transport_seq(&b, 5, 0);
    int n = lkrtp_end(&b);
    memcpy(buf + n, "vp8", 3);
    size_t len = (size_t)n + 3;
    memcpy(before, buf, len);
    assert_true(lkrtp_stamp_transport_seq(buf, len, 5, 0xa1b2));
    lkrtp_packet p;
    uint16_t seq;
    assert_int_equal(lkrtp_parse(&p, buf, len), 0);
    assert_true(lkrtp_ext_transport_seq(&p, 5, &seq));
    assert_int_equal(seq, 0xa1b2);
    unsigned changed = 0;
    for (size_t i = 0; i < len; i++)
        changed += buf[i] != before[i];
    assert_int_equal(changed, 2);
    memcpy(before, buf, len);
    assert_false(lkrtp_stamp_transport_seq(buf, len, 4, 1));   /* no such element */
    assert_false(lkrtp_stamp_transport_seq(buf, len, 3, 1));   /* one byte long */
    assert_false(lkrtp_stamp_transport_seq(buf, 11, 5, 1));    /* not RTP */
    assert_memory_equal(buf, before, len);
}

static void rtp_builder_round_trip(void **state)
{
    lkrtp_header h = {.marker = true,
                      .payload_type = 111,
                      .seq = 65535,
                      .timestamp = 0x80000001,
                      .ssrc = 0xcafef00d,
                      .csrc_count = 2,
                      .csrc = {7, 8}};
    uint8_t buf[128];
    lkrtp_builder b;
    lkrtp_begin(&b, buf, sizeof buf, &h);
    lkrtp_add_audio_level(&b, 1, true, 42);
    lkrtp_add_abs_send_time(&b, 2, 1500000000ull); /* 1.5 s */
    lkrtp_add_transport_seq(&b, 3, 0xbeef);
    lkrtp_add_ext(&b, 14, "0123456789abcdef", 16);
    int n = lkrtp_end(&b);
    /* 12 + 8 CSRC + 4 + (2 + 4 + 3 + 17 = 26, padded to 28) */
    assert_int_equal(n, 52);
    memcpy(buf + n, "payload", 7);
    n = lkrtp_pad(buf, (size_t)n + 7, sizeof buf, 4);
    assert_int_equal(n, 63);

    lkrtp_packet p;
    assert_int_equal(lkrtp_parse(&p, buf, (size_t)n), 0);
    assert_true(p.h.marker);
    assert_int_equal(p.h.payload_type, 111);
    assert_int_equal(p.h.seq, 65535);
    assert_int_equal(p.h.timestamp, 0x80000001);
    assert_int_equal(p.h.ssrc, 0xcafef00d);
    assert_int_equal(p.h.csrc_count, 2);
    assert_int_equal(p.h.csrc[1], 8);
    assert_int_equal(p.header_len, 52);
    assert_int_equal(p.padding, 4);
    assert_int_equal(p.payload_len, 7);
    assert_memory_equal(p.payload, "payload", 7);
    bool voice;
    uint8_t level;
    assert_true(lkrtp_ext_audio_level(&p, 1, &voice, &level));
    assert_true(voice);
    assert_int_equal(level, 42);
    uint32_t t;
    assert_true(lkrtp_ext_abs_send_time(&p, 2, &t));
    assert_int_equal(t, 0x060000); /* 1.5 in 6.18 fixed point */
    uint16_t seq;
    assert_true(lkrtp_ext_transport_seq(&p, 3, &seq));
    assert_int_equal(seq, 0xbeef);
    size_t len;
    assert_memory_equal(lkrtp_ext_find(&p, 14, &len), "0123456789abcdef", 16);
    assert_false(lkrtp_ext_transport_seq(&p, 1, &seq)); /* one byte is too short */
    assert_false(lkrtp_ext_audio_level(&p, 5, &voice, &level));

    /* without extensions: the bare header */
    lkrtp_header plain = {.payload_type = 0, .seq = 1};
    lkrtp_begin(&b, buf, sizeof buf, &plain);
    assert_int_equal(lkrtp_end(&b), 12);
    assert_int_equal(buf[0], 0x80);
    assert_int_equal(lkrtp_parse(&p, buf, 12), 0);
    assert_false(p.has_ext);
    assert_int_equal(p.payload_len, 0);

    /* abs-send-time wraps every 64 s */
    assert_int_equal(lkrtp_abs_send_time(64000000000ull), 0);
    assert_int_equal(lkrtp_abs_send_time(64250000000ull), 0x010000);
}

static void rtp_builder_refuses(void **state)
{
    lkrtp_header h = {.seq = 1};
    uint8_t buf[32];
    lkrtp_builder b;
    lkrtp_begin(&b, buf, 11, &h);
    assert_int_equal(lkrtp_end(&b), LKRTP_E_NOSPACE);
    h.csrc_count = 16;
    lkrtp_begin(&b, buf, sizeof buf, &h);
    assert_int_equal(lkrtp_end(&b), LKRTP_E_INVALID);
    h.csrc_count = 0;
    h.payload_type = 128;
    lkrtp_begin(&b, buf, sizeof buf, &h);
    assert_int_equal(lkrtp_end(&b), LKRTP_E_INVALID);
    h.payload_type = 0;
    /* ids 0 and 15 and lengths 0 and 17 do not exist in the one-byte form */
    const uint8_t data[17] = {0};
    const struct {
        uint8_t id;
        size_t len;
    } bad[] = {{0, 1}, {15, 1}, {1, 0}, {1, 17}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lkrtp_begin(&b, buf, sizeof buf, &h);
        lkrtp_add_ext(&b, bad[i].id, data, bad[i].len);
        assert_int_equal(lkrtp_end(&b), LKRTP_E_INVALID);
    }
    /* room for the header, not the extension; then not its padding */
    lkrtp_begin(&b, buf, 14, &h);
    lkrtp_add_transport_seq(&b, 1, 5);
    assert_int_equal(lkrtp_end(&b), LKRTP_E_NOSPACE);
    lkrtp_begin(&b, buf, 19, &h);
    lkrtp_add_transport_seq(&b, 1, 5); /* 12 + 4 + 3, padding needs one more */
    assert_int_equal(lkrtp_end(&b), LKRTP_E_NOSPACE);
    lkrtp_begin(&b, buf, 20, &h);
    lkrtp_add_transport_seq(&b, 1, 5);
    assert_int_equal(lkrtp_end(&b), 20);
    /* padding: count 0, no room, already padded */
    assert_int_equal(lkrtp_pad(buf, 20, sizeof buf, 0), LKRTP_E_INVALID);
    assert_int_equal(lkrtp_pad(buf, 20, 23, 4), LKRTP_E_NOSPACE);
    assert_int_equal(lkrtp_pad(buf, 20, 24, 4), 24);
    assert_int_equal(lkrtp_pad(buf, 24, sizeof buf, 4), LKRTP_E_INVALID);
}

static void demux(void **state)
{
    const struct {
        uint8_t b0, b1;
        enum lkrtp_kind kind;
    } cases[] = {
        {0x80, 111, LKRTP_RTP},     {0x80, 0xef, LKRTP_RTP},    /* PT 111, with M */
        {0x80, 191, LKRTP_RTP},     {0x80, 192, LKRTP_RTCP},    /* the edges of 192..223 */
        {0x81, 200, LKRTP_RTCP},    {0xaf, 205, LKRTP_RTCP},    /* SR; TWCC with padding */
        {0x80, 223, LKRTP_RTCP},    {0x80, 224, LKRTP_RTP},
        {0x00, 0x01, LKRTP_NOT_RTP}, /* STUN */
        {22, 0xfe, LKRTP_NOT_RTP},   /* DTLS handshake */
        {0x40, 0x00, LKRTP_NOT_RTP}, /* TURN channel */
        {0xc0, 200, LKRTP_NOT_RTP},  /* version 3 */
        {0xbf, 0x60, LKRTP_RTP},     /* 191: the last RTP first byte */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t p[2] = {cases[i].b0, cases[i].b1};
        assert_int_equal(lkrtp_demux(p, 2), cases[i].kind);
    }
    uint8_t one = 0x80;
    assert_int_equal(lkrtp_demux(&one, 1), LKRTP_NOT_RTP);
}

/* --- RTCP ----------------------------------------------------------------------------- */

/* RFC 3550 6.4.1's SR (one report block) and 6.5's SDES with a CNAME
 * chunk, as one compound (6.1). */
static const uint8_t sr_sdes[] = {
    0x81, 0xc8, 0x00, 0x0c,                         /* SR, RC 1, 13 words */
    0x11, 0x22, 0x33, 0x44,                         /* sender SSRC */
    0xe1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, /* NTP */
    0x00, 0x01, 0x00, 0x00,                         /* RTP timestamp */
    0x00, 0x00, 0x00, 0x64,                         /* packets 100 */
    0x00, 0x00, 0x3e, 0x80,                         /* octets 16000 */
    0x55, 0x66, 0x77, 0x88,                         /* report: SSRC */
    0x40, 0xff, 0xff, 0xfe,                         /* fraction 64, cumulative -2 */
    0x00, 0x01, 0xff, 0xff,                         /* extended highest 131071 */
    0x00, 0x00, 0x00, 0x10,                         /* jitter */
    0x45, 0x67, 0x89, 0xab,                         /* LSR */
    0x00, 0x01, 0x00, 0x00,                         /* DLSR: 1 s */
    0x81, 0xca, 0x00, 0x03,                         /* SDES, one chunk */
    0x11, 0x22, 0x33, 0x44, 0x01, 0x04, 'u',  's',  'e',  'r',  0x00, 0x00,
};

static void rtcp_sr_known_answer(void **state)
{
    lkrtcp_iter it;
    lkrtcp_packet pk;
    lkrtcp_sr sr;
    lkrtcp_iter_init(&it, sr_sdes, sizeof sr_sdes);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(pk.type, LKRTCP_SR);
    assert_int_equal(pk.raw_len, 52);
    assert_int_equal(lkrtcp_parse_sr(&pk, &sr), 0);
    assert_int_equal(sr.ssrc, 0x11223344);
    assert_true(sr.ntp == 0xe123456789abcdefull);
    assert_int_equal(lkrtcp_ntp_middle(sr.ntp), 0x456789ab);
    assert_int_equal(sr.rtp_timestamp, 65536);
    assert_int_equal(sr.packets, 100);
    assert_int_equal(sr.octets, 16000);
    assert_int_equal(sr.n_reports, 1);
    const lkrtcp_report *r = &sr.reports[0];
    assert_int_equal(r->ssrc, 0x55667788);
    assert_int_equal(r->fraction_lost, 64);
    assert_int_equal(r->cumulative_lost, -2);
    assert_int_equal(r->highest_seq, 131071);
    assert_int_equal(r->jitter, 16);
    assert_int_equal(r->lsr, 0x456789ab);
    assert_int_equal(r->dlsr, 65536);
    /* the SDES is handed over and skipped */
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(pk.type, LKRTCP_SDES);
    assert_int_equal(pk.count, 1);
    assert_int_equal(lkrtcp_parse_sr(&pk, &sr), LKRTP_E_TYPE);
    assert_int_equal(lkrtcp_next(&it, &pk), 0);
    assert_int_equal(lkrtcp_next(&it, &pk), 0);
}

static void rtcp_rr_and_bye(void **state)
{
    /* RFC 3550 6.4.2's RR with no report block, 6.6's BYE with a reason,
     * padded with null octets */
    static const uint8_t rr_bye[] = {
        0x80, 0xc9, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04, 0x81, 0xcb, 0x00, 0x03,
        0x01, 0x02, 0x03, 0x04, 0x05, 'l',  'e',  'a',  'v',  'e',  0x00, 0x00,
    };
    lkrtcp_iter it;
    lkrtcp_packet pk;
    lkrtcp_iter_init(&it, rr_bye, sizeof rr_bye);
    lkrtcp_rr rr;
    lkrtcp_bye bye;
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_rr(&pk, &rr), 0);
    assert_int_equal(rr.ssrc, 0x01020304);
    assert_int_equal(rr.n_reports, 0);
    assert_int_equal(lkrtcp_parse_bye(&pk, &bye), LKRTP_E_TYPE);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_bye(&pk, &bye), 0);
    assert_int_equal(bye.n_ssrc, 1);
    assert_int_equal(bye.ssrc[0], 0x01020304);
    assert_int_equal(bye.reason_len, 5);
    assert_memory_equal(bye.reason, "leave", 5);
    assert_int_equal(lkrtcp_next(&it, &pk), 0);
}

static void rtcp_writers_round_trip(void **state)
{
    uint8_t buf[1500];
    size_t off = 0;
    lkrtcp_sr sr = {.ssrc = 9, .ntp = 0x0102030405060708ull, .rtp_timestamp = 48000,
                    .packets = 3, .octets = 300, .n_reports = 2};
    sr.reports[0] = (lkrtcp_report){.ssrc = 1, .fraction_lost = 255, .cumulative_lost = -5,
                                    .highest_seq = 70000, .jitter = 12, .lsr = 1, .dlsr = 2};
    sr.reports[1] = (lkrtcp_report){.ssrc = 2, .cumulative_lost = 0x1000000}; /* clamped */
    int n = lkrtcp_write_sr(buf, sizeof buf, &sr);
    assert_int_equal(n, 28 + 48);
    off += (size_t)n;
    n = lkrtcp_write_sdes_cname(buf + off, sizeof buf - off, 9, "abcde", 5);
    assert_int_equal(n, 16); /* 8 + 2 + 5, then a null octet: 16 */
    off += (size_t)n;
    lkrtcp_rr rr = {.ssrc = 10, .n_reports = LKRTCP_MAX_REPORTS};
    for (unsigned i = 0; i < LKRTCP_MAX_REPORTS; i++)
        rr.reports[i] = (lkrtcp_report){.ssrc = 100 + i, .cumulative_lost = -(int32_t)i};
    n = lkrtcp_write_rr(buf + off, sizeof buf - off, &rr);
    assert_int_equal(n, 8 + 24 * 31);
    off += (size_t)n;
    uint32_t gone[2] = {9, 10};
    n = lkrtcp_write_bye(buf + off, sizeof buf - off, gone, 2, "bye", 3);
    assert_int_equal(n, 16);
    off += (size_t)n;

    lkrtcp_iter it;
    lkrtcp_packet pk;
    lkrtcp_iter_init(&it, buf, off);
    lkrtcp_sr sr2;
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_sr(&pk, &sr2), 0);
    assert_true(sr2.ntp == sr.ntp);
    assert_int_equal(sr2.rtp_timestamp, 48000);
    assert_int_equal(sr2.n_reports, 2);
    const lkrtcp_report *a = &sr.reports[0], *b = &sr2.reports[0];
    assert_int_equal(b->ssrc, a->ssrc);
    assert_int_equal(b->fraction_lost, a->fraction_lost);
    assert_int_equal(b->cumulative_lost, a->cumulative_lost);
    assert_int_equal(b->highest_seq, a->highest_seq);
    assert_int_equal(b->jitter, a->jitter);
    assert_int_equal(b->lsr, a->lsr);
    assert_int_equal(b->dlsr, a->dlsr);
    assert_int_equal(sr2.reports[1].cumulative_lost, 0x7fffff);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(pk.type, LKRTCP_SDES);
    assert_int_equal(pk.body[4], 1); /* CNAME */
    assert_int_equal(pk.body[5], 5);
    assert_memory_equal(pk.body + 6, "abcde", 5);
    assert_int_equal(pk.body[11], 0);
    lkrtcp_rr rr2;
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_rr(&pk, &rr2), 0);
    assert_int_equal(rr2.n_reports, 31);
    assert_int_equal(rr2.reports[30].ssrc, 130);
    assert_int_equal(rr2.reports[30].cumulative_lost, -30);
    lkrtcp_bye bye;
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_bye(&pk, &bye), 0);
    assert_int_equal(bye.n_ssrc, 2);
    assert_int_equal(bye.ssrc[1], 10);
    assert_memory_equal(bye.reason, "bye", 3);
    assert_int_equal(lkrtcp_next(&it, &pk), 0);

    /* refusals */
    rr.n_reports = 32;
    assert_int_equal(lkrtcp_write_rr(buf, sizeof buf, &rr), LKRTP_E_INVALID);
    sr.n_reports = 0;
    assert_int_equal(lkrtcp_write_sr(buf, 27, &sr), LKRTP_E_NOSPACE);
    assert_int_equal(lkrtcp_write_sr(buf, 28, &sr), 28);
    assert_int_equal(lkrtcp_write_sdes_cname(buf, sizeof buf, 1, "x", 256), LKRTP_E_INVALID);
    assert_int_equal(lkrtcp_write_bye(buf, 8, gone, 2, NULL, 0), LKRTP_E_NOSPACE);
    assert_int_equal(lkrtcp_write_bye(buf, 12, gone, 2, NULL, 0), 12);
}

static void rtcp_malformed(void **state)
{
    lkrtcp_iter it;
    lkrtcp_packet pk;
    /* a header cut short */
    static const uint8_t three[] = {0x80, 0xc9, 0x00};
    lkrtcp_iter_init(&it, three, sizeof three);
    assert_int_equal(lkrtcp_next(&it, &pk), LKRTP_E_TRUNCATED);
    /* the length field past the end: 3 words claimed, 2 there */
    static const uint8_t long_rr[] = {0x80, 0xc9, 0x00, 0x02, 0, 0, 0, 1};
    lkrtcp_iter_init(&it, long_rr, sizeof long_rr);
    assert_int_equal(lkrtcp_next(&it, &pk), LKRTP_E_TRUNCATED);
    /* version 1 */
    static const uint8_t v1[] = {0x40, 0xc9, 0x00, 0x01, 0, 0, 0, 1};
    lkrtcp_iter_init(&it, v1, sizeof v1);
    assert_int_equal(lkrtcp_next(&it, &pk), LKRTP_E_VERSION);
    /* a compound whose second packet has length 0: an RR with no SSRC. The
     * first is still handed over; the error then stays. */
    static const uint8_t zero[] = {0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1, 0x80, 0xc9, 0x00, 0x00};
    lkrtcp_iter_init(&it, zero, sizeof zero);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_next(&it, &pk), LKRTP_E_TRUNCATED);
    assert_int_equal(lkrtcp_next(&it, &pk), LKRTP_E_TRUNCATED);
    /* zero-length SR and feedback too; a BYE with no SSRC may be empty */
    static const uint8_t zero_sr[] = {0x80, 0xc8, 0x00, 0x00};
    static const uint8_t zero_fb[] = {0x81, 0xce, 0x00, 0x00};
    static const uint8_t zero_bye[] = {0x80, 0xcb, 0x00, 0x00};
    lkrtcp_iter_init(&it, zero_sr, 4);
    assert_int_equal(lkrtcp_next(&it, &pk), LKRTP_E_TRUNCATED);
    lkrtcp_iter_init(&it, zero_fb, 4);
    assert_int_equal(lkrtcp_next(&it, &pk), LKRTP_E_TRUNCATED);
    lkrtcp_iter_init(&it, zero_bye, 4);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    lkrtcp_bye bye;
    assert_int_equal(lkrtcp_parse_bye(&pk, &bye), 0);
    assert_int_equal(bye.n_ssrc, 0);
    /* an SR whose count wants more report blocks than there are */
    uint8_t q[sizeof sr_sdes];
    memcpy(q, sr_sdes, sizeof q);
    q[0] = 0x82;
    lkrtcp_iter_init(&it, q, 52);
    assert_int_equal(lkrtcp_next(&it, &pk), LKRTP_E_TRUNCATED);
    /* padding: count 0, and more than the body */
    static const uint8_t pad0[] = {0xa0, 0xc9, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0};
    lkrtcp_iter_init(&it, pad0, sizeof pad0);
    assert_int_equal(lkrtcp_next(&it, &pk), LKRTP_E_PADDING);
    static const uint8_t pad9[] = {0xa0, 0xc9, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 9};
    lkrtcp_iter_init(&it, pad9, sizeof pad9);
    assert_int_equal(lkrtcp_next(&it, &pk), LKRTP_E_PADDING);
    /* padding that leaves too little for the type (RR needs its SSRC) */
    static const uint8_t pad8[] = {0xa0, 0xc9, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 8};
    lkrtcp_iter_init(&it, pad8, sizeof pad8);
    assert_int_equal(lkrtcp_next(&it, &pk), LKRTP_E_TRUNCATED);
    /* a BYE's reason longer than the packet */
    static const uint8_t bye_long[] = {0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 1, 0x09, 'a', 'b', 'c'};
    lkrtcp_iter_init(&it, bye_long, sizeof bye_long);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_bye(&pk, &bye), LKRTP_E_TRUNCATED);
    /* feedback without its FCI: a NACK with no pair, a FIR with no entry */
    static const uint8_t nack0[] = {0x81, 0xcd, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2};
    lkrtcp_nack nack;
    lkrtcp_iter_init(&it, nack0, sizeof nack0);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_nack(&pk, &nack), LKRTP_E_MALFORMED);
    static const uint8_t fir0[] = {0x84, 0xce, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0};
    lkrtcp_fir fir;
    lkrtcp_iter_init(&it, fir0, sizeof fir0);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_fir(&pk, &fir), LKRTP_E_MALFORMED);
    /* PLI parser on a FIR, TWCC on a NACK: another format */
    lkrtcp_fb fb;
    lkrtcp_twcc tw;
    assert_int_equal(lkrtcp_parse_pli(&pk, &fb), LKRTP_E_TYPE);
    lkrtcp_iter_init(&it, nack0, sizeof nack0);
    lkrtcp_next(&it, &pk);
    assert_int_equal(lkrtcp_parse_twcc(&pk, &tw, NULL, 0), LKRTP_E_TYPE);
    /* application feedback that is not REMB; REMB with SSRCs missing */
    static const uint8_t afb[] = {0x8f, 0xce, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 0,
                                  'G',  'O',  'O',  'G', 0, 0, 0, 0};
    lkrtcp_remb remb;
    lkrtcp_iter_init(&it, afb, sizeof afb);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_remb(&pk, &remb), LKRTP_E_TYPE);
    static const uint8_t remb_cut[] = {0x8f, 0xce, 0x00, 0x05, 0, 0, 0, 1, 0, 0, 0, 0,
                                       'R',  'E',  'M',  'B', 2, 0, 0, 1, 0, 0, 0, 7};
    lkrtcp_iter_init(&it, remb_cut, sizeof remb_cut);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_remb(&pk, &remb), LKRTP_E_TRUNCATED);
}

/* --- NACK ------------------------------------------------------------------------------- */

/* RFC 4585 6.2.1: two FCI entries. BLP 0x8001 has its edges set (PID+1
 * and PID+16); the second entry's BLP runs over 65535 to 0. */
static const uint8_t nack_pkt[] = {
    0x81, 0xcd, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
    0x00, 0x64, 0x80, 0x01, /* PID 100, BLP 0x8001 */
    0xff, 0xfa, 0x00, 0x3f, /* PID 65530, BLP 0x003f */
};

static void nack_expand(void **state)
{
    lkrtcp_iter it;
    lkrtcp_packet pk;
    lkrtcp_nack nack;
    lkrtcp_iter_init(&it, nack_pkt, sizeof nack_pkt);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_nack(&pk, &nack), 0);
    assert_int_equal(nack.fb.sender_ssrc, 1);
    assert_int_equal(nack.fb.media_ssrc, 2);
    assert_int_equal(nack.n_pairs, 2);
    uint16_t seqs[16];
    const uint16_t want[] = {100, 101, 116, 65530, 65531, 65532, 65533, 65534, 65535, 0};
    assert_int_equal(lkrtcp_nack_expand(&nack, seqs, 16), 10);
    assert_memory_equal(seqs, want, sizeof want);
    /* bounded: counts all, writes what fits */
    memset(seqs, 0xee, sizeof seqs);
    assert_int_equal(lkrtcp_nack_expand(&nack, seqs, 4), 10);
    assert_memory_equal(seqs, want, 4 * sizeof want[0]);
    assert_int_equal(seqs[4], 0xeeee);
    assert_int_equal(lkrtcp_nack_expand(&nack, NULL, 0), 10);
}

/* Writes a NACK and returns its FCI as (PID, BLP) pairs. */
static size_t nack_pairs(const uint16_t *seqs, size_t n, uint16_t pairs[][2], size_t max)
{
    uint8_t buf[512];
    lkrtcp_fb fb = {1, 2};
    int len = lkrtcp_write_nack(buf, sizeof buf, &fb, seqs, n);
    assert_true(len > 0);
    lkrtcp_iter it;
    lkrtcp_packet pk;
    lkrtcp_nack nack;
    lkrtcp_iter_init(&it, buf, (size_t)len);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_nack(&pk, &nack), 0);
    assert_true(nack.n_pairs <= max);
    for (size_t i = 0; i < nack.n_pairs; i++) {
        pairs[i][0] = (uint16_t)(nack.fci[4 * i] << 8 | nack.fci[4 * i + 1]);
        pairs[i][1] = (uint16_t)(nack.fci[4 * i + 2] << 8 | nack.fci[4 * i + 3]);
    }
    return nack.n_pairs;
}

static void nack_pack(void **state)
{
    uint16_t pairs[64][2];
    /* across the wrap: one pair */
    const uint16_t wrap[] = {65534, 65535, 0, 1};
    assert_int_equal(nack_pairs(wrap, 4, pairs, 64), 1);
    assert_int_equal(pairs[0][0], 65534);
    assert_int_equal(pairs[0][1], 0x0007);
    /* PID + 16 is the BLP's last bit; PID + 17 starts a new pair */
    const uint16_t edge16[] = {10, 11, 26};
    assert_int_equal(nack_pairs(edge16, 3, pairs, 64), 1);
    assert_int_equal(pairs[0][1], 0x8001);
    const uint16_t edge17[] = {10, 27};
    assert_int_equal(nack_pairs(edge17, 2, pairs, 64), 2);
    assert_int_equal(pairs[0][1], 0);
    assert_int_equal(pairs[1][0], 27);
    /* a duplicate adds nothing */
    const uint16_t dup[] = {5, 5, 6};
    assert_int_equal(nack_pairs(dup, 3, pairs, 64), 1);
    assert_int_equal(pairs[0][1], 0x0001);
    /* out of order is still right, only looser */
    const uint16_t shuffled[] = {20, 10, 12};
    assert_int_equal(nack_pairs(shuffled, 3, pairs, 64), 2);
    assert_int_equal(pairs[0][0], 20);
    assert_int_equal(pairs[1][0], 10);
    assert_int_equal(pairs[1][1], 0x0002);

    /* round trip: every third number from 65500, over the wrap to 200 */
    uint16_t seqs[100], got[200];
    size_t n = 0;
    for (uint32_t s = 65500; s < 65536 + 200; s += 3)
        seqs[n++] = (uint16_t)s;
    uint8_t buf[512];
    lkrtcp_fb fb = {1, 2};
    int len = lkrtcp_write_nack(buf, sizeof buf, &fb, seqs, n);
    assert_true(len > 0);
    lkrtcp_iter it;
    lkrtcp_packet pk;
    lkrtcp_nack nack;
    lkrtcp_iter_init(&it, buf, (size_t)len);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_nack(&pk, &nack), 0);
    assert_int_equal(nack.n_pairs, (n + 5) / 6); /* six per pair: PID and 5 in its BLP */
    assert_int_equal(lkrtcp_nack_expand(&nack, got, 200), n);
    assert_memory_equal(got, seqs, n * sizeof seqs[0]);

    assert_int_equal(lkrtcp_write_nack(buf, sizeof buf, &fb, seqs, 0), LKRTP_E_INVALID);
    assert_int_equal(lkrtcp_write_nack(buf, 15, &fb, seqs, 1), LKRTP_E_NOSPACE);
    assert_int_equal(lkrtcp_write_nack(buf, 16, &fb, seqs, 1), 16);
}

/* --- PLI, FIR, REMB ----------------------------------------------------------------- */

static void pli_fir_remb(void **state)
{
    uint8_t buf[256];
    lkrtcp_iter it;
    lkrtcp_packet pk;
    lkrtcp_fb fb = {0x0a, 0x0b}, got;
    assert_int_equal(lkrtcp_write_pli(buf, 11, &fb), LKRTP_E_NOSPACE);
    int n = lkrtcp_write_pli(buf, sizeof buf, &fb);
    assert_int_equal(n, 12);
    assert_int_equal(buf[0], 0x81);
    assert_int_equal(buf[1], 206);
    lkrtcp_iter_init(&it, buf, (size_t)n);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_pli(&pk, &got), 0);
    assert_int_equal(got.sender_ssrc, 0x0a);
    assert_int_equal(got.media_ssrc, 0x0b);

    lkrtcp_fir_entry entries[2] = {{0x1234, 7}, {0x5678, 255}};
    n = lkrtcp_write_fir(buf, sizeof buf, 0x0a, entries, 2);
    assert_int_equal(n, 28);
    lkrtcp_iter_init(&it, buf, (size_t)n);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    lkrtcp_fir fir;
    assert_int_equal(lkrtcp_parse_fir(&pk, &fir), 0);
    assert_int_equal(fir.fb.sender_ssrc, 0x0a);
    assert_int_equal(fir.fb.media_ssrc, 0);
    assert_int_equal(fir.n, 2);
    assert_int_equal(lkrtcp_fir_get(&fir, 1).ssrc, 0x5678);
    assert_int_equal(lkrtcp_fir_get(&fir, 1).seq, 255);
    assert_int_equal(lkrtcp_fir_get(&fir, 2).ssrc, 0); /* out of range */
    assert_int_equal(lkrtcp_write_fir(buf, sizeof buf, 1, entries, 0), LKRTP_E_INVALID);

    /* draft-alvestrand-rmcat-remb 2.2: 1 Mbit/s as mantissa 250000, exponent
     * 2, for one SSRC */
    static const uint8_t remb_pkt[] = {
        0x8f, 0xce, 0x00, 0x05, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
        'R',  'E',  'M',  'B',  0x01, 0x0b, 0xd0, 0x90, 0x00, 0x00, 0x12, 0x34,
    };
    lkrtcp_remb remb;
    lkrtcp_iter_init(&it, remb_pkt, sizeof remb_pkt);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_remb(&pk, &remb), 0);
    assert_true(remb.bitrate == 1000000);
    assert_int_equal(remb.n_ssrc, 1);
    assert_int_equal(lkrtcp_remb_ssrc(&remb, 0), 0x1234);
    assert_int_equal(lkrtcp_remb_ssrc(&remb, 1), 0);
    uint32_t ssrcs[1] = {0x1234};
    n = lkrtcp_write_remb(buf, sizeof buf, 0x0a, 1000000, ssrcs, 1);
    assert_int_equal(n, (int)sizeof remb_pkt);
    assert_memory_equal(buf, remb_pkt, sizeof remb_pkt);
    /* a large rate rounds down to 18 significant bits */
    n = lkrtcp_write_remb(buf, sizeof buf, 1, 12345678901ull, NULL, 0);
    lkrtcp_iter_init(&it, buf, (size_t)n);
    lkrtcp_next(&it, &pk);
    assert_int_equal(lkrtcp_parse_remb(&pk, &remb), 0);
    assert_true(remb.bitrate <= 12345678901ull && remb.bitrate > 12345678901ull - (1ull << 16));
    /* the largest exponent and mantissa saturate */
    buf[17] = 0xff;
    buf[18] = buf[19] = 0xff;
    lkrtcp_iter_init(&it, buf, (size_t)n);
    lkrtcp_next(&it, &pk);
    assert_int_equal(lkrtcp_parse_remb(&pk, &remb), 0);
    assert_true(remb.bitrate == UINT64_MAX);
}

/* --- transport-wide CC -------------------------------------------------------------- */

/* transport-wide-cc-extensions-01 3.1: base 65533, 21 statuses, reference
 * time 16 (1.024 s), feedback count 7; a run-length chunk (3 small), a
 * 1-bit status vector (14: received, lost, received x2, lost x9,
 * received), a 2-bit status vector (large, lost, small, large, then
 * padding); eight 1-byte and two 2-byte deltas, one of them negative; two
 * bytes of RTCP padding. */
static const uint8_t twcc_pkt[] = {
    0xaf, 0xcd, 0x00, 0x09,             /* P, FMT 15, RTPFB, 10 words */
    0x00, 0x00, 0x00, 0x01,             /* sender SSRC */
    0x00, 0x00, 0x00, 0x02,             /* media SSRC */
    0xff, 0xfd, 0x00, 0x15,             /* base 65533, count 21 */
    0x00, 0x00, 0x10, 0x07,             /* reference time 16, fb count 7 */
    0x20, 0x03, 0xac, 0x01, 0xe1, 0x80, /* the three chunks */
    4, 0, 255, 1, 8, 4, 40,             /* small deltas, 250 us each */
    0x04, 0x00,                         /* large: +1024 (256 ms) */
    2,                                  /* small */
    0xff, 0x00,                         /* large: -256 (-64 ms) */
    0x00, 0x02,                         /* RTCP padding */
};

static void twcc_decode(void **state)
{
    lkrtcp_iter it;
    lkrtcp_packet pk;
    lkrtcp_twcc fb;
    lkrtcp_twcc_status st[32];
    lkrtcp_iter_init(&it, twcc_pkt, sizeof twcc_pkt);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_twcc(&pk, &fb, st, 32), 21);
    assert_int_equal(fb.fb.sender_ssrc, 1);
    assert_int_equal(fb.fb.media_ssrc, 2);
    assert_int_equal(fb.base_seq, 65533);
    assert_int_equal(fb.status_count, 21);
    assert_int_equal(fb.ref_time, 16);
    assert_int_equal(fb.fb_count, 7);
    /* (seq, symbol, arrival in us) by hand */
    const struct {
        uint16_t seq;
        uint8_t sym;
        int64_t at;
    } want[] = {
        {65533, 1, 1025000}, {65534, 1, 1025000}, {65535, 1, 1088750}, {0, 1, 1089000},
        {1, 0, 0},           {2, 1, 1091000},     {3, 1, 1092000},     {4, 0, 0},
        {5, 0, 0},           {6, 0, 0},           {7, 0, 0},           {8, 0, 0},
        {9, 0, 0},           {10, 0, 0},          {11, 0, 0},          {12, 0, 0},
        {13, 1, 1102000},    {14, 2, 1358000},    {15, 0, 0},          {16, 1, 1358500},
        {17, 2, 1294500},
    };
    for (size_t i = 0; i < 21; i++) {
        assert_int_equal(st[i].seq, want[i].seq);
        assert_int_equal(st[i].symbol, want[i].sym);
        assert_true(st[i].arrival_us == want[i].at);
    }
    /* a smaller array gets the first statuses; the rest is still checked */
    memset(st, 0, sizeof st);
    assert_int_equal(lkrtcp_parse_twcc(&pk, &fb, st, 5), 5);
    assert_int_equal(st[3].seq, 0);
    assert_true(st[3].arrival_us == 1089000);
    assert_int_equal(st[5].seq, 0);

    /* a negative reference time: 0xffffff is -64 ms */
    uint8_t q[sizeof twcc_pkt];
    memcpy(q, twcc_pkt, sizeof q);
    q[16] = q[17] = q[18] = 0xff;
    lkrtcp_iter_init(&it, q, sizeof q);
    lkrtcp_next(&it, &pk);
    assert_int_equal(lkrtcp_parse_twcc(&pk, &fb, st, 32), 21);
    assert_int_equal(fb.ref_time, -1);
    assert_true(st[0].arrival_us == -64000 + 1000);

    /* the reserved symbol (3) in a 2-bit vector */
    memcpy(q, twcc_pkt, sizeof q);
    q[24] = 0xf1;
    lkrtcp_iter_init(&it, q, sizeof q);
    lkrtcp_next(&it, &pk);
    assert_int_equal(lkrtcp_parse_twcc(&pk, &fb, st, 32), LKRTP_E_MALFORMED);
    /* deltas cut: the same packet two bytes shorter, without its padding */
    memcpy(q, twcc_pkt, sizeof q);
    q[0] = 0x8f;
    q[3] = 0x08;
    lkrtcp_iter_init(&it, q, 36);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    assert_int_equal(lkrtcp_parse_twcc(&pk, &fb, st, 32), LKRTP_E_TRUNCATED);
    /* chunks cut: more statuses than the chunks can hold before the end */
    memcpy(q, twcc_pkt, sizeof q);
    q[14] = 0xff;
    q[15] = 0xff;
    lkrtcp_iter_init(&it, q, sizeof q);
    lkrtcp_next(&it, &pk);
    assert_true(lkrtcp_parse_twcc(&pk, &fb, st, 32) < 0);
    /* no room for the fixed fields */
    static const uint8_t short_fb[] = {0x8f, 0xcd, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 1};
    lkrtcp_iter_init(&it, short_fb, sizeof short_fb);
    lkrtcp_next(&it, &pk);
    assert_int_equal(lkrtcp_parse_twcc(&pk, &fb, st, 32), LKRTP_E_TRUNCATED);
}

/* Writes feedback for arrivals, reads it back, and checks that every
 * status is as written: received with its arrival (to 250 us), or lost. */
static void twcc_round_trip_of(const lkrtcp_twcc_arrival *a, size_t n)
{
    static uint8_t buf[4096];
    static lkrtcp_twcc_status st[65536];
    lkrtcp_fb fb = {0x11, 0x22};
    int len = lkrtcp_write_twcc(buf, sizeof buf, &fb, 42, a, n);
    assert_true(len > 0);
    assert_int_equal(len % 4, 0);
    lkrtcp_iter it;
    lkrtcp_packet pk;
    lkrtcp_twcc tw;
    lkrtcp_iter_init(&it, buf, (size_t)len);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    lkrtcp_packet after;
    assert_int_equal(lkrtcp_next(&it, &after), 0); /* one packet, padding included */
    int count = lkrtcp_parse_twcc(&pk, &tw, st, 65536);
    uint16_t span = (uint16_t)(a[n - 1].seq - a[0].seq + 1);
    assert_int_equal(count, span);
    assert_int_equal(tw.base_seq, a[0].seq);
    assert_int_equal(tw.fb_count, 42);
    assert_int_equal(tw.fb.media_ssrc, 0x22);
    size_t j = 0;
    for (int k = 0; k < count; k++) {
        assert_int_equal(st[k].seq, (uint16_t)(a[0].seq + k));
        if (j < n && a[j].seq == st[k].seq) {
            assert_int_not_equal(st[k].symbol, LKRTCP_TWCC_NOT_RECEIVED);
            assert_true(st[k].arrival_us == a[j].arrival_us / 250 * 250);
            j++;
        } else {
            assert_int_equal(st[k].symbol, LKRTCP_TWCC_NOT_RECEIVED);
        }
    }
    assert_int_equal(j, n);
}

static void twcc_write_round_trip(void **state)
{
    static lkrtcp_twcc_arrival a[600];
    size_t n = 0;
    uint16_t seq = 65500; /* wraps */
    int64_t t = 5000123;
    /* 40 in a row, 1 ms apart (runs of small deltas) */
    for (int i = 0; i < 40; i++)
        a[n++] = (lkrtcp_twcc_arrival){seq++, t += 1000};
    /* 20 lost (a run of not received), then one 300 ms later (large) */
    seq += 20;
    a[n++] = (lkrtcp_twcc_arrival){seq++, t += 300000};
    /* alternating lost and received: 1-bit vectors */
    for (int i = 0; i < 30; i++) {
        seq++;
        a[n++] = (lkrtcp_twcc_arrival){seq++, t += 250};
    }
    /* reordering: arrivals that go back in time (negative, large), mixed
     * with losses (2-bit vectors) */
    for (int i = 0; i < 20; i++) {
        if (i % 3 == 0)
            seq++;
        t += i % 2 ? -2000 : 5000;
        a[n++] = (lkrtcp_twcc_arrival){seq++, t};
    }
    /* 9000 lost: more than one run chunk holds (8191); then a steady run */
    seq += 9000;
    for (int i = 0; i < 400; i++)
        a[n++] = (lkrtcp_twcc_arrival){seq++, t += 20 + (i % 7) * 250};
    twcc_round_trip_of(a, n);
    /* one packet alone; two at the same instant */
    twcc_round_trip_of(a, 1);
    lkrtcp_twcc_arrival same[2] = {{1, 64000}, {2, 64000}};
    twcc_round_trip_of(same, 2);
    /* 40000 lost between two (more than half the sequence space): still
     * ascending, as the span says (found by fuzz_rtp) */
    lkrtcp_twcc_arrival wide[3] = {{16589, 0}, {16590, 60000}, {62427, 63500}};
    twcc_round_trip_of(wide, 3);
}

static void twcc_write_refuses(void **state)
{
    uint8_t buf[256];
    lkrtcp_fb fb = {1, 2};
    lkrtcp_twcc_arrival a[3] = {{10, 1000}, {11, 2000}, {12, 3000}};
    assert_int_equal(lkrtcp_write_twcc(buf, sizeof buf, &fb, 0, a, 0), LKRTP_E_INVALID);
    /* 20 header + 1 chunk + 3 deltas = 25, padded: 28 */
    assert_int_equal(lkrtcp_write_twcc(buf, 27, &fb, 0, a, 3), LKRTP_E_NOSPACE);
    assert_int_equal(lkrtcp_write_twcc(buf, 28, &fb, 0, a, 3), 28);
    assert_int_equal(buf[0], 0xaf); /* padded with the P bit */
    assert_int_equal(buf[27], 3);
    a[1].seq = 10; /* a repeat */
    assert_int_equal(lkrtcp_write_twcc(buf, sizeof buf, &fb, 0, a, 3), LKRTP_E_INVALID);
    a[1].seq = 9; /* backwards */
    assert_int_equal(lkrtcp_write_twcc(buf, sizeof buf, &fb, 0, a, 3), LKRTP_E_INVALID);
    a[1].seq = 11;
    a[1].arrival_us = -1;
    assert_int_equal(lkrtcp_write_twcc(buf, sizeof buf, &fb, 0, a, 3), LKRTP_E_INVALID);
    /* 8.2 s after the one before: no 16-bit delta holds it */
    a[1].arrival_us = 1000 + 8192000;
    assert_int_equal(lkrtcp_write_twcc(buf, sizeof buf, &fb, 0, a, 2), LKRTP_E_RANGE);
    a[1].arrival_us = 1000 + 8191000;
    assert_true(lkrtcp_write_twcc(buf, sizeof buf, &fb, 0, a, 2) > 0);
    /* more than 65535 statuses */
    lkrtcp_twcc_arrival far[4] = {{0, 0}, {30000, 0}, {60000, 0}, {65535, 0}};
    assert_int_equal(lkrtcp_write_twcc(buf, sizeof buf, &fb, 0, far, 4), LKRTP_E_INVALID);
    far[3].seq = 65534; /* exactly 65535 */
    assert_true(lkrtcp_write_twcc(buf, sizeof buf, &fb, 0, far, 4) > 0);
}

/* --- receiver statistics ------------------------------------------------------------ */

static void recv_unwrap_and_reorder(void **state)
{
    lkrtp_recv_stats s;
    lkrtp_recv_init(&s, 77);
    int64_t ext;
    /* 65534, 65535, then 1 before 0: 0 is late but after the wrap */
    assert_int_equal(lkrtp_recv_update(&s, 65534, 0, 0, &ext), LKRTP_RECV_IN_ORDER);
    assert_true(ext == 65534);
    assert_int_equal(lkrtp_recv_update(&s, 65535, 0, 0, &ext), LKRTP_RECV_IN_ORDER);
    assert_true(ext == 65535);
    assert_int_equal(lkrtp_recv_update(&s, 1, 0, 0, &ext), LKRTP_RECV_IN_ORDER);
    assert_true(ext == 65537);
    assert_int_equal(lkrtp_recv_update(&s, 0, 0, 0, &ext), LKRTP_RECV_LATE);
    assert_true(ext == 65536);
    lkrtcp_report r;
    lkrtp_recv_report(&s, &r);
    assert_int_equal(r.ssrc, 77);
    assert_int_equal(r.highest_seq, 65537);
    assert_int_equal(r.cumulative_lost, 0);
    assert_int_equal(r.fraction_lost, 0);
    /* a late one from before the wrap, after it */
    assert_int_equal(lkrtp_recv_update(&s, 65533, 0, 0, &ext), LKRTP_RECV_LATE);
    assert_true(ext == 65533);
    /* a duplicate of the highest */
    assert_int_equal(lkrtp_recv_update(&s, 1, 0, 0, &ext), LKRTP_RECV_LATE);
    assert_true(ext == 65537);
    lkrtp_recv_report(&s, &r);
    assert_int_equal(r.cumulative_lost, -2); /* RFC 3550 6.4.1: duplicates count */

    /* a late packet from before the first, across the wrap: negative */
    lkrtp_recv_init(&s, 1);
    lkrtp_recv_update(&s, 0, 0, 0, &ext);
    assert_int_equal(lkrtp_recv_update(&s, 65535, 0, 0, &ext), LKRTP_RECV_LATE);
    assert_true(ext == -1);

    /* many wraps */
    lkrtp_recv_init(&s, 1);
    for (uint32_t i = 0; i < 3 * 65536 + 10; i += 1000)
        lkrtp_recv_update(&s, (uint16_t)i, 0, 0, &ext);
    assert_true(ext == 196000); /* the last, in the third wrap */
    lkrtp_recv_report(&s, &r);
    assert_int_equal(r.highest_seq, 196000);
}

static void recv_jump_and_restart(void **state)
{
    lkrtp_recv_stats s;
    lkrtp_recv_init(&s, 1);
    int64_t ext = 0;
    for (uint16_t i = 100; i < 110; i++)
        lkrtp_recv_update(&s, i, 0, 0, &ext);
    /* a jump alone is ignored */
    ext = 12345;
    assert_int_equal(lkrtp_recv_update(&s, 20000, 0, 0, &ext), LKRTP_RECV_JUMP);
    assert_true(ext == 12345);
    assert_int_equal(lkrtp_recv_update(&s, 110, 0, 0, &ext), LKRTP_RECV_IN_ORDER);
    assert_int_equal(lkrtp_recv_update(&s, 30000, 0, 0, &ext), LKRTP_RECV_JUMP);
    /* followed by its successor, it restarts the statistics */
    assert_int_equal(lkrtp_recv_update(&s, 30001, 0, 0, &ext), LKRTP_RECV_RESTART);
    assert_true(ext == 30001);
    assert_int_equal(lkrtp_recv_update(&s, 30002, 0, 0, &ext), LKRTP_RECV_IN_ORDER);
    lkrtcp_report r;
    lkrtp_recv_report(&s, &r);
    assert_int_equal(r.highest_seq, 30002);
    assert_int_equal(r.cumulative_lost, 0);
    /* a gap below the dropout limit is loss, not a jump */
    assert_int_equal(lkrtp_recv_update(&s, 32000, 0, 0, &ext), LKRTP_RECV_IN_ORDER);
    lkrtp_recv_report(&s, &r);
    assert_int_equal(r.cumulative_lost, 32000 - 30001 + 1 - 3);
}

static void recv_fraction_lost(void **state)
{
    lkrtp_recv_stats s;
    lkrtp_recv_init(&s, 1);
    lkrtcp_report r;
    lkrtp_recv_report(&s, &r); /* nothing yet */
    assert_int_equal(r.highest_seq, 0);
    assert_int_equal(r.fraction_lost, 0);
    /* 1..100 without 5, 15, ... 95: 10 of 100 lost */
    for (uint16_t i = 1; i <= 100; i++)
        if (i % 10 != 5)
            lkrtp_recv_update(&s, i, 0, 0, NULL);
    lkrtp_recv_report(&s, &r);
    assert_int_equal(r.fraction_lost, 25); /* 10 * 256 / 100 */
    assert_int_equal(r.cumulative_lost, 10);
    assert_int_equal(r.highest_seq, 100);
    /* the next interval: 101..200, one in four lost */
    for (uint16_t i = 101; i <= 200; i++)
        if (i % 4 != 1)
            lkrtp_recv_update(&s, i, 0, 0, NULL);
    lkrtp_recv_report(&s, &r);
    assert_int_equal(r.fraction_lost, 64); /* 25 * 256 / 100 */
    assert_int_equal(r.cumulative_lost, 35);
    /* an interval with nothing new */
    lkrtp_recv_report(&s, &r);
    assert_int_equal(r.fraction_lost, 0);
    assert_int_equal(r.cumulative_lost, 35);
    /* a late packet filling a hole: more received than expected this time */
    assert_int_equal(lkrtp_recv_update(&s, 197, 0, 0, NULL), LKRTP_RECV_LATE);
    lkrtp_recv_update(&s, 201, 0, 0, NULL);
    lkrtp_recv_report(&s, &r);
    assert_int_equal(r.fraction_lost, 0);
    assert_int_equal(r.cumulative_lost, 34);
    /* a resend hundreds of packets late is late (A.1's MAX_MISORDER is 100,
     * ours 1500), and two in a row do not restart the statistics */
    assert_int_equal(lkrtp_recv_update(&s, 5, 0, 0, NULL), LKRTP_RECV_LATE);
    assert_int_equal(lkrtp_recv_update(&s, 6, 0, 0, NULL), LKRTP_RECV_LATE);
    assert_int_equal(lkrtp_recv_highest(&s), 201);
    /* more than 1500 behind is not late but a jump */
    assert_int_equal(lkrtp_recv_update(&s, (uint16_t)(201 - 1501), 0, 0, NULL), LKRTP_RECV_JUMP);
}

static void recv_jitter(void **state)
{
    /* RFC 3550 A.8 by hand: 20 ms packets at 8 kHz (160 ticks), arrivals
     * alternately 10 ticks late, so every |D| is 10. In A.8's integer form
     * J' += |D| - (J' + 8) / 16: 10, 19, 28, 36, and the report is J' / 16. */
    static const uint32_t ts[] = {0, 160, 320, 480, 640};
    static const uint32_t at[] = {1000, 1170, 1320, 1490, 1640};
    const uint32_t want16[] = {0, 10, 19, 28, 36};
    lkrtp_recv_stats s;
    lkrtp_recv_init(&s, 1);
    for (unsigned i = 0; i < 5; i++) {
        lkrtp_recv_update(&s, (uint16_t)i, ts[i], at[i], NULL);
        assert_int_equal(s.jitter, want16[i]);
    }
    lkrtcp_report r;
    lkrtp_recv_report(&s, &r);
    assert_int_equal(r.jitter, 2);
    /* held up, it settles where (J' + 8) / 16 = 10: J' = 152, reported 9 */
    for (unsigned i = 5; i < 300; i++)
        lkrtp_recv_update(&s, (uint16_t)i, 160 * i, 1000 + 160 * i + (i % 2 ? 10 : 0), NULL);
    lkrtp_recv_report(&s, &r);
    assert_int_equal(r.jitter, 9);
    /* constant delay, over the 32-bit wrap of both clocks: no jitter */
    lkrtp_recv_init(&s, 1);
    for (unsigned i = 0; i < 100; i++)
        lkrtp_recv_update(&s, (uint16_t)i, 0xffffff00u + 960 * i, 0xfffff000u + 960 * i, NULL);
    lkrtp_recv_report(&s, &r);
    assert_int_equal(r.jitter, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rtp_known_answer),
        cmocka_unit_test(rtp_two_byte_extension),
        cmocka_unit_test(rtp_extension_id_15_ends_the_walk),
        cmocka_unit_test(rtp_malformed),
        cmocka_unit_test(rtp_builder_round_trip),
        cmocka_unit_test(transport_seq_is_stamped_in_place),
        cmocka_unit_test(rtp_builder_refuses),
        cmocka_unit_test(demux),
        cmocka_unit_test(rtcp_sr_known_answer),
        cmocka_unit_test(rtcp_rr_and_bye),
        cmocka_unit_test(rtcp_writers_round_trip),
        cmocka_unit_test(rtcp_malformed),
        cmocka_unit_test(nack_expand),
        cmocka_unit_test(nack_pack),
        cmocka_unit_test(pli_fir_remb),
        cmocka_unit_test(twcc_decode),
        cmocka_unit_test(twcc_write_round_trip),
        cmocka_unit_test(twcc_write_refuses),
        cmocka_unit_test(recv_unwrap_and_reorder),
        cmocka_unit_test(recv_jump_and_restart),
        cmocka_unit_test(recv_fraction_lost),
        cmocka_unit_test(recv_jitter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
