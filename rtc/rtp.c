/*
 * rtp.c: RTP and RTCP packets, parsed in place and written into the
 * caller's buffer.
 *
 * Every length and count is checked against what is left before a byte is
 * read. The RTCP iterator checks what all packets share (version, length,
 * padding, the least a type needs); each typed parser checks its own
 * layout again, so it is safe on any lkrtcp_packet.
 */
#include "rtp.h"

#include <string.h>

#include "wire.h"

const char *lkrtp_strerror(int err)
{
    switch (err) {
    case LKRTP_E_TRUNCATED:
        return "truncated";
    case LKRTP_E_VERSION:
        return "not version 2";
    case LKRTP_E_PADDING:
        return "bad padding";
    case LKRTP_E_MALFORMED:
        return "malformed";
    case LKRTP_E_TYPE:
        return "another packet type";
    case LKRTP_E_NOSPACE:
        return "buffer too small";
    case LKRTP_E_INVALID:
        return "invalid argument";
    case LKRTP_E_RANGE:
        return "delta out of range";
    default:
        return err >= 0 ? "ok" : "unknown error";
    }
}

enum lkrtp_kind lkrtp_demux(const uint8_t *p, size_t n)
{
    if (n < 2 || p[0] < 128 || p[0] > 191)
        return LKRTP_NOT_RTP;
    return p[1] >= 192 && p[1] <= 223 ? LKRTP_RTCP : LKRTP_RTP;
}

/* --- RTP ---------------------------------------------------------------------------- */

static bool is_one_byte(uint16_t profile)
{
    return profile == LKRTP_PROFILE_ONE_BYTE;
}

static bool is_two_byte(uint16_t profile)
{
    return (profile & 0xfff0) == LKRTP_PROFILE_TWO_BYTE;
}

/* One step of the RFC 8285 walk over x[0..n) from *pos: 1 with an element,
 * 0 at the end, -1 if an element runs past the block. Padding bytes (an ID
 * of 0) may sit anywhere; ID 15 of the one-byte form ends the walk. */
static int ext_step(const uint8_t *x, size_t n, bool two_byte, size_t *pos, lkrtp_ext *e)
{
    while (*pos < n) {
        uint8_t b = x[*pos];
        uint8_t id = two_byte ? b : (uint8_t)(b >> 4);
        if (id == 0) {
            (*pos)++;
            continue;
        }
        if (!two_byte && id == 15) {
            *pos = n;
            return 0;
        }
        size_t hdr = two_byte ? 2 : 1;
        if (n - *pos < hdr)
            return -1;
        size_t len = two_byte ? x[*pos + 1] : (size_t)(b & 15) + 1;
        if (len > n - *pos - hdr)
            return -1;
        e->id = id;
        e->len = (uint8_t)len;
        e->data = x + *pos + hdr;
        *pos += hdr + len;
        return 1;
    }
    return 0;
}

static int check_ext(const lkrtp_packet *pkt)
{
    bool one = is_one_byte(pkt->ext_profile), two = is_two_byte(pkt->ext_profile);
    if (!one && !two)
        return 0; /* someone else's profile: opaque bytes */
    size_t pos = 0;
    lkrtp_ext e;
    int rc;
    while ((rc = ext_step(pkt->ext, pkt->ext_len, two, &pos, &e)) > 0)
        ;
    return rc < 0 ? LKRTP_E_MALFORMED : 0;
}

int lkrtp_parse(lkrtp_packet *pkt, const uint8_t *p, size_t n)
{
    memset(pkt, 0, sizeof *pkt);
    if (n < LKRTP_HEADER_SIZE)
        return LKRTP_E_TRUNCATED;
    if (p[0] >> 6 != 2)
        return LKRTP_E_VERSION;
    lkrtp_header *h = &pkt->h;
    h->csrc_count = p[0] & 15;
    h->marker = p[1] >> 7;
    h->payload_type = p[1] & 0x7f;
    h->seq = lkrtc_rd16(p + 2);
    h->timestamp = lkrtc_rd32(p + 4);
    h->ssrc = lkrtc_rd32(p + 8);
    size_t off = LKRTP_HEADER_SIZE + 4 * (size_t)h->csrc_count;
    if (off > n)
        return LKRTP_E_TRUNCATED;
    for (unsigned i = 0; i < h->csrc_count; i++)
        h->csrc[i] = lkrtc_rd32(p + LKRTP_HEADER_SIZE + 4 * i);
    if (p[0] & 0x10) {
        if (n - off < 4)
            return LKRTP_E_TRUNCATED;
        pkt->has_ext = true;
        pkt->ext_profile = lkrtc_rd16(p + off);
        size_t len = 4 * (size_t)lkrtc_rd16(p + off + 2);
        off += 4;
        if (len > n - off)
            return LKRTP_E_TRUNCATED;
        pkt->ext = p + off;
        pkt->ext_len = len;
        off += len;
        int rc = check_ext(pkt);
        if (rc < 0)
            return rc;
    }
    size_t end = n;
    if (p[0] & 0x20) {
        /* The count includes itself and may not reach into the header. */
        uint8_t count = p[n - 1];
        if (count == 0 || count > n - off)
            return LKRTP_E_PADDING;
        pkt->padding = count;
        end -= count;
    }
    pkt->header_len = off;
    pkt->payload = p + off;
    pkt->payload_len = end - off;
    return 0;
}

bool lkrtp_ext_next(const lkrtp_packet *pkt, size_t *pos, lkrtp_ext *e)
{
    bool one = is_one_byte(pkt->ext_profile), two = is_two_byte(pkt->ext_profile);
    if (!pkt->has_ext || (!one && !two))
        return false;
    return ext_step(pkt->ext, pkt->ext_len, two, pos, e) > 0;
}

const uint8_t *lkrtp_ext_find(const lkrtp_packet *pkt, uint8_t id, size_t *len)
{
    size_t pos = 0;
    lkrtp_ext e;
    while (lkrtp_ext_next(pkt, &pos, &e)) {
        if (e.id == id) {
            *len = e.len;
            return e.data;
        }
    }
    *len = 0;
    return NULL;
}

bool lkrtp_ext_audio_level(const lkrtp_packet *pkt, uint8_t id, bool *voice, uint8_t *level)
{
    size_t len;
    const uint8_t *d = lkrtp_ext_find(pkt, id, &len);
    if (!d || len < 1)
        return false;
    *voice = d[0] >> 7;
    *level = d[0] & 0x7f;
    return true;
}

bool lkrtp_ext_abs_send_time(const lkrtp_packet *pkt, uint8_t id, uint32_t *t24)
{
    size_t len;
    const uint8_t *d = lkrtp_ext_find(pkt, id, &len);
    if (!d || len < 3)
        return false;
    *t24 = (uint32_t)d[0] << 16 | (uint32_t)d[1] << 8 | d[2];
    return true;
}

bool lkrtp_ext_transport_seq(const lkrtp_packet *pkt, uint8_t id, uint16_t *seq)
{
    size_t len;
    const uint8_t *d = lkrtp_ext_find(pkt, id, &len);
    if (!d || len < 2)
        return false;
    *seq = lkrtc_rd16(d);
    return true;
}

uint32_t lkrtp_abs_send_time(uint64_t ns)
{
    /* Seconds and the fraction apart, so that no clock value overflows. */
    uint64_t sec = ns / 1000000000u, frac = ns % 1000000000u;
    return (uint32_t)((sec << 18) | ((frac << 18) / 1000000000u)) & 0xffffff;
}

void lkrtp_begin(lkrtp_builder *b, uint8_t *buf, size_t cap, const lkrtp_header *h)
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->ext_at = 0;
    b->err = 0;
    if (h->csrc_count > LKRTP_MAX_CSRC || h->payload_type > 127) {
        b->err = LKRTP_E_INVALID;
        return;
    }
    size_t len = LKRTP_HEADER_SIZE + 4 * (size_t)h->csrc_count;
    if (cap < len) {
        b->err = LKRTP_E_NOSPACE;
        return;
    }
    buf[0] = (uint8_t)(0x80 | h->csrc_count);
    buf[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->payload_type);
    lkrtc_wr16(buf + 2, h->seq);
    lkrtc_wr32(buf + 4, h->timestamp);
    lkrtc_wr32(buf + 8, h->ssrc);
    for (unsigned i = 0; i < h->csrc_count; i++)
        lkrtc_wr32(buf + LKRTP_HEADER_SIZE + 4 * i, h->csrc[i]);
    b->len = len;
}

/* Room for one element's data, after its one-byte header; the extension's
 * own header comes with the first element. */
static uint8_t *ext_reserve(lkrtp_builder *b, uint8_t id, size_t len)
{
    if (b->err)
        return NULL;
    if (id < 1 || id > 14 || len < 1 || len > 16) {
        b->err = LKRTP_E_INVALID;
        return NULL;
    }
    if (!b->ext_at) {
        if (b->cap - b->len < 4) {
            b->err = LKRTP_E_NOSPACE;
            return NULL;
        }
        b->ext_at = b->len;
        lkrtc_wr16(b->buf + b->len, LKRTP_PROFILE_ONE_BYTE);
        lkrtc_wr16(b->buf + b->len + 2, 0);
        b->buf[0] |= 0x10;
        b->len += 4;
    }
    if (b->cap - b->len < 1 + len) {
        b->err = LKRTP_E_NOSPACE;
        return NULL;
    }
    if ((b->len + 1 + len - b->ext_at - 4 + 3) / 4 > 0xffff) {
        b->err = LKRTP_E_INVALID;
        return NULL;
    }
    b->buf[b->len] = (uint8_t)(id << 4 | (len - 1));
    uint8_t *data = b->buf + b->len + 1;
    b->len += 1 + len;
    return data;
}

void lkrtp_add_ext(lkrtp_builder *b, uint8_t id, const void *data, size_t len)
{
    uint8_t *d = ext_reserve(b, id, len);
    if (d)
        memcpy(d, data, len);
}

void lkrtp_add_audio_level(lkrtp_builder *b, uint8_t id, bool voice, uint8_t level)
{
    uint8_t v = (uint8_t)((voice ? 0x80 : 0) | (level & 0x7f));
    lkrtp_add_ext(b, id, &v, 1);
}

void lkrtp_add_abs_send_time(lkrtp_builder *b, uint8_t id, uint64_t now_ns)
{
    uint32_t t = lkrtp_abs_send_time(now_ns);
    uint8_t v[3] = {(uint8_t)(t >> 16), (uint8_t)(t >> 8), (uint8_t)t};
    lkrtp_add_ext(b, id, v, 3);
}

void lkrtp_add_transport_seq(lkrtp_builder *b, uint8_t id, uint16_t seq)
{
    uint8_t v[2];
    lkrtc_wr16(v, seq);
    lkrtp_add_ext(b, id, v, 2);
}

bool lkrtp_stamp_transport_seq(uint8_t *p, size_t n, uint8_t id, uint16_t seq)
{
    lkrtp_packet pkt;
    size_t len;
    const uint8_t *d;
    if (lkrtp_parse(&pkt, p, n) < 0 || !(d = lkrtp_ext_find(&pkt, id, &len)) || len != 2)
        return false;
    lkrtc_wr16(p + (d - p), seq);
    return true;
}

int lkrtp_end(lkrtp_builder *b)
{
    if (b->err)
        return b->err;
    if (b->ext_at) {
        size_t start = b->ext_at + 4;
        while ((b->len - start) % 4) {
            if (b->len == b->cap)
                return b->err = LKRTP_E_NOSPACE;
            b->buf[b->len++] = 0; /* padding bytes (RFC 8285 4.1) */
        }
        lkrtc_wr16(b->buf + b->ext_at + 2, (uint16_t)((b->len - start) / 4));
    }
    return (int)b->len;
}

int lkrtp_pad(uint8_t *pkt, size_t len, size_t cap, uint8_t count)
{
    if (count == 0 || len < LKRTP_HEADER_SIZE || (pkt[0] & 0x20) || len > (size_t)0x7fffffff)
        return LKRTP_E_INVALID;
    if (cap < len || cap - len < count)
        return LKRTP_E_NOSPACE;
    memset(pkt + len, 0, count - 1u);
    pkt[len + count - 1] = count;
    pkt[0] |= 0x20;
    return (int)(len + count);
}

/* --- RTCP: the compound iterator ---------------------------------------------------- */

/* The least body (after the 4-byte header) a packet of this type and
 * count can have: SR and RR their reports, SDES a minimal chunk each, BYE
 * its SSRCs, feedback and APP two words, XR one. */
static size_t min_body(uint8_t type, uint8_t count)
{
    switch (type) {
    case LKRTCP_SR:
        return 24 + 24 * (size_t)count;
    case LKRTCP_RR:
        return 4 + 24 * (size_t)count;
    case LKRTCP_SDES:
        return 8 * (size_t)count;
    case LKRTCP_BYE:
        return 4 * (size_t)count;
    case LKRTCP_APP:
    case LKRTCP_RTPFB:
    case LKRTCP_PSFB:
        return 8;
    case LKRTCP_XR:
        return 4;
    default:
        return 0;
    }
}

void lkrtcp_iter_init(lkrtcp_iter *it, const uint8_t *p, size_t n)
{
    it->p = p;
    it->n = n;
    it->off = 0;
    it->err = 0;
}

static int rtcp_packet_at(const uint8_t *p, size_t left, lkrtcp_packet *pkt)
{
    if (left < 4)
        return LKRTP_E_TRUNCATED;
    if (p[0] >> 6 != 2)
        return LKRTP_E_VERSION;
    size_t size = 4 * ((size_t)lkrtc_rd16(p + 2) + 1);
    if (size > left)
        return LKRTP_E_TRUNCATED;
    pkt->type = p[1];
    pkt->count = p[0] & 31;
    pkt->raw = p;
    pkt->raw_len = size;
    pkt->body = p + 4;
    pkt->body_len = size - 4;
    if (p[0] & 0x20) {
        uint8_t count = p[size - 1];
        if (count == 0 || count > pkt->body_len)
            return LKRTP_E_PADDING;
        pkt->body_len -= count;
    }
    if (pkt->body_len < min_body(pkt->type, pkt->count))
        return LKRTP_E_TRUNCATED;
    return 0;
}

int lkrtcp_next(lkrtcp_iter *it, lkrtcp_packet *pkt)
{
    if (it->err)
        return it->err;
    if (it->off >= it->n)
        return 0;
    int rc = rtcp_packet_at(it->p + it->off, it->n - it->off, pkt);
    if (rc < 0)
        return it->err = rc;
    it->off += pkt->raw_len;
    return 1;
}

/* --- RTCP: typed parsers ------------------------------------------------------------ */

static void read_report(const uint8_t *p, lkrtcp_report *r)
{
    r->ssrc = lkrtc_rd32(p);
    r->fraction_lost = p[4];
    uint32_t lost = (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    r->cumulative_lost = (int32_t)(lost ^ 0x800000) - 0x800000; /* sign-extend 24 bits */
    r->highest_seq = lkrtc_rd32(p + 8);
    r->jitter = lkrtc_rd32(p + 12);
    r->lsr = lkrtc_rd32(p + 16);
    r->dlsr = lkrtc_rd32(p + 20);
}

static int read_reports(const lkrtcp_packet *pkt, size_t at, uint8_t *n, lkrtcp_report *r)
{
    if (pkt->count > LKRTCP_MAX_REPORTS)
        return LKRTP_E_MALFORMED;
    if (pkt->body_len < at || (pkt->body_len - at) / 24 < pkt->count)
        return LKRTP_E_TRUNCATED;
    *n = pkt->count;
    for (unsigned i = 0; i < pkt->count; i++)
        read_report(pkt->body + at + 24 * i, &r[i]);
    return 0; /* anything after the reports is a profile extension: ignored */
}

int lkrtcp_parse_sr(const lkrtcp_packet *pkt, lkrtcp_sr *sr)
{
    memset(sr, 0, sizeof *sr);
    if (pkt->type != LKRTCP_SR)
        return LKRTP_E_TYPE;
    if (pkt->body_len < 24)
        return LKRTP_E_TRUNCATED;
    const uint8_t *b = pkt->body;
    sr->ssrc = lkrtc_rd32(b);
    sr->ntp = lkrtc_rd64(b + 4);
    sr->rtp_timestamp = lkrtc_rd32(b + 12);
    sr->packets = lkrtc_rd32(b + 16);
    sr->octets = lkrtc_rd32(b + 20);
    return read_reports(pkt, 24, &sr->n_reports, sr->reports);
}

int lkrtcp_parse_rr(const lkrtcp_packet *pkt, lkrtcp_rr *rr)
{
    memset(rr, 0, sizeof *rr);
    if (pkt->type != LKRTCP_RR)
        return LKRTP_E_TYPE;
    if (pkt->body_len < 4)
        return LKRTP_E_TRUNCATED;
    rr->ssrc = lkrtc_rd32(pkt->body);
    return read_reports(pkt, 4, &rr->n_reports, rr->reports);
}

int lkrtcp_parse_bye(const lkrtcp_packet *pkt, lkrtcp_bye *bye)
{
    memset(bye, 0, sizeof *bye);
    if (pkt->type != LKRTCP_BYE)
        return LKRTP_E_TYPE;
    if (pkt->count > LKRTCP_MAX_REPORTS)
        return LKRTP_E_MALFORMED;
    size_t off = 4 * (size_t)pkt->count;
    if (pkt->body_len < off)
        return LKRTP_E_TRUNCATED;
    bye->n_ssrc = pkt->count;
    for (unsigned i = 0; i < pkt->count; i++)
        bye->ssrc[i] = lkrtc_rd32(pkt->body + 4 * i);
    if (pkt->body_len > off && pkt->body[off] > 0) {
        size_t len = pkt->body[off];
        if (len > pkt->body_len - off - 1)
            return LKRTP_E_TRUNCATED;
        bye->reason = pkt->body + off + 1;
        bye->reason_len = len;
    }
    return 0;
}

static int read_fb(const lkrtcp_packet *pkt, uint8_t type, uint8_t fmt, lkrtcp_fb *fb)
{
    if (pkt->type != type || pkt->count != fmt)
        return LKRTP_E_TYPE;
    if (pkt->body_len < 8)
        return LKRTP_E_TRUNCATED;
    fb->sender_ssrc = lkrtc_rd32(pkt->body);
    fb->media_ssrc = lkrtc_rd32(pkt->body + 4);
    return 0;
}

int lkrtcp_parse_nack(const lkrtcp_packet *pkt, lkrtcp_nack *nack)
{
    memset(nack, 0, sizeof *nack);
    int rc = read_fb(pkt, LKRTCP_RTPFB, LKRTCP_FMT_NACK, &nack->fb);
    if (rc < 0)
        return rc;
    nack->fci = pkt->body + 8;
    nack->n_pairs = (pkt->body_len - 8) / 4;
    return nack->n_pairs ? 0 : LKRTP_E_MALFORMED; /* at least one (RFC 4585 6.2.1) */
}

size_t lkrtcp_nack_expand(const lkrtcp_nack *nack, uint16_t *seqs, size_t cap)
{
    size_t total = 0;
    for (size_t i = 0; i < nack->n_pairs; i++) {
        uint16_t pid = lkrtc_rd16(nack->fci + 4 * i), blp = lkrtc_rd16(nack->fci + 4 * i + 2);
        if (total < cap)
            seqs[total] = pid;
        total++;
        /* bit i of the BLP: pid + i + 1 is lost too (wrapping at 65535) */
        for (unsigned bit = 0; bit < 16; bit++) {
            if (!(blp >> bit & 1))
                continue;
            if (total < cap)
                seqs[total] = (uint16_t)(pid + bit + 1);
            total++;
        }
    }
    return total;
}

int lkrtcp_parse_pli(const lkrtcp_packet *pkt, lkrtcp_fb *pli)
{
    memset(pli, 0, sizeof *pli);
    return read_fb(pkt, LKRTCP_PSFB, LKRTCP_FMT_PLI, pli);
}

int lkrtcp_parse_fir(const lkrtcp_packet *pkt, lkrtcp_fir *fir)
{
    memset(fir, 0, sizeof *fir);
    int rc = read_fb(pkt, LKRTCP_PSFB, LKRTCP_FMT_FIR, &fir->fb);
    if (rc < 0)
        return rc;
    fir->fci = pkt->body + 8;
    fir->n = (pkt->body_len - 8) / 8;
    return fir->n ? 0 : LKRTP_E_MALFORMED; /* one or more entries (RFC 5104 4.3.1.1) */
}

lkrtcp_fir_entry lkrtcp_fir_get(const lkrtcp_fir *fir, size_t i)
{
    lkrtcp_fir_entry e = {0, 0};
    if (i < fir->n) {
        e.ssrc = lkrtc_rd32(fir->fci + 8 * i);
        e.seq = fir->fci[8 * i + 4];
    }
    return e;
}

int lkrtcp_parse_remb(const lkrtcp_packet *pkt, lkrtcp_remb *remb)
{
    memset(remb, 0, sizeof *remb);
    int rc = read_fb(pkt, LKRTCP_PSFB, LKRTCP_FMT_AFB, &remb->fb);
    if (rc < 0)
        return rc;
    const uint8_t *b = pkt->body;
    if (pkt->body_len < 12 || memcmp(b + 8, "REMB", 4) != 0)
        return LKRTP_E_TYPE; /* another application's feedback */
    if (pkt->body_len < 16)
        return LKRTP_E_TRUNCATED;
    remb->n_ssrc = b[12];
    unsigned exp = b[13] >> 2;
    uint64_t mantissa = (uint64_t)(b[13] & 3) << 16 | lkrtc_rd16(b + 14);
    remb->bitrate = mantissa > (UINT64_MAX >> exp) ? UINT64_MAX : mantissa << exp;
    if ((pkt->body_len - 16) / 4 < remb->n_ssrc)
        return LKRTP_E_TRUNCATED;
    remb->ssrcs = b + 16;
    return 0;
}

uint32_t lkrtcp_remb_ssrc(const lkrtcp_remb *remb, size_t i)
{
    return i < remb->n_ssrc ? lkrtc_rd32(remb->ssrcs + 4 * i) : 0;
}

/* --- transport-wide CC feedback: chunks ------------------------------------------- */

/* A packet status chunk is a run (T=0: 2-bit symbol, 13-bit length) or a
 * status vector (T=1, then S=0: fourteen 1-bit symbols, S=1: seven 2-bit). */
static unsigned chunk_size(uint16_t c)
{
    if (!(c & 0x8000))
        return c & 0x1fff;
    return c & 0x4000 ? 7 : 14;
}

static unsigned chunk_symbol(uint16_t c, unsigned i)
{
    if (!(c & 0x8000))
        return c >> 13 & 3;
    if (c & 0x4000)
        return c >> (12 - 2 * i) & 3;
    return c >> (13 - i) & 1;
}

enum { TWCC_RESERVED = 3, TWCC_FIXED = 16 /* body bytes before the chunks */ };

/* Walks the chunks once: where they end, and how many delta bytes follow
 * (a symbol's value is its delta's size). */
static int twcc_measure(const uint8_t *b, size_t len, uint16_t count, size_t *chunks_end,
                        size_t *delta_bytes)
{
    size_t off = TWCC_FIXED, deltas = 0;
    uint32_t seen = 0;
    while (seen < count) {
        if (len - off < 2)
            return LKRTP_E_TRUNCATED;
        uint16_t c = lkrtc_rd16(b + off);
        off += 2;
        unsigned n = chunk_size(c);
        if (n > count - seen)
            n = count - seen; /* the last chunk may be longer than what is left */
        if (!(c & 0x8000)) {
            if (chunk_symbol(c, 0) == TWCC_RESERVED && n)
                return LKRTP_E_MALFORMED;
            deltas += (size_t)chunk_symbol(c, 0) * n;
        } else {
            for (unsigned i = 0; i < n; i++) {
                unsigned s = chunk_symbol(c, i);
                if (s == TWCC_RESERVED)
                    return LKRTP_E_MALFORMED;
                deltas += s;
            }
        }
        seen += n;
    }
    *chunks_end = off;
    *delta_bytes = deltas;
    return 0;
}

int lkrtcp_parse_twcc(const lkrtcp_packet *pkt, lkrtcp_twcc *fb, lkrtcp_twcc_status *out,
                      size_t cap)
{
    memset(fb, 0, sizeof *fb);
    int rc = read_fb(pkt, LKRTCP_RTPFB, LKRTCP_FMT_TWCC, &fb->fb);
    if (rc < 0)
        return rc;
    const uint8_t *b = pkt->body;
    size_t len = pkt->body_len;
    if (len < TWCC_FIXED)
        return LKRTP_E_TRUNCATED;
    fb->base_seq = lkrtc_rd16(b + 8);
    fb->status_count = lkrtc_rd16(b + 10);
    uint32_t ref = (uint32_t)b[12] << 16 | (uint32_t)b[13] << 8 | b[14];
    fb->ref_time = (int32_t)(ref ^ 0x800000) - 0x800000;
    fb->fb_count = b[15];
    size_t chunks_end, delta_bytes;
    rc = twcc_measure(b, len, fb->status_count, &chunks_end, &delta_bytes);
    if (rc < 0)
        return rc;
    if (delta_bytes > len - chunks_end)
        return LKRTP_E_TRUNCATED;
    /* Second walk, now that the deltas are known to be there. */
    size_t want = cap < fb->status_count ? cap : fb->status_count;
    size_t off = TWCC_FIXED, d = chunks_end, k = 0;
    int64_t arrival = (int64_t)fb->ref_time * 64000;
    while (k < want) {
        uint16_t c = lkrtc_rd16(b + off);
        off += 2;
        unsigned n = chunk_size(c);
        for (unsigned i = 0; i < n && k < want; i++, k++) {
            unsigned s = chunk_symbol(c, i);
            if (s == LKRTCP_TWCC_SMALL_DELTA)
                arrival += 250 * (int64_t)b[d++];
            else if (s == LKRTCP_TWCC_LARGE_DELTA) {
                arrival += 250 * (int64_t)(int16_t)lkrtc_rd16(b + d);
                d += 2;
            }
            out[k].seq = (uint16_t)(fb->base_seq + k);
            out[k].symbol = (uint8_t)s;
            out[k].arrival_us = s ? arrival : 0;
        }
    }
    return (int)want;
}

/* --- RTCP: writers ------------------------------------------------------------------ */

/* The common header; len is the whole packet's, a multiple of 4. */
static void write_header(uint8_t *p, bool padding, uint8_t count, uint8_t type, size_t len)
{
    p[0] = (uint8_t)(0x80 | (padding ? 0x20 : 0) | (count & 31));
    p[1] = type;
    lkrtc_wr16(p + 2, (uint16_t)(len / 4 - 1));
}

/* A packet of len bytes fits the buffer and the 16-bit length field. */
static int check_room(size_t cap, size_t len)
{
    if (len / 4 - 1 > 0xffff)
        return LKRTP_E_INVALID;
    return cap < len ? LKRTP_E_NOSPACE : 0;
}

static void write_report(uint8_t *p, const lkrtcp_report *r)
{
    int32_t lost = r->cumulative_lost;
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000;
    uint32_t l24 = (uint32_t)lost & 0xffffff;
    lkrtc_wr32(p, r->ssrc);
    lkrtc_wr32(p + 4, (uint32_t)r->fraction_lost << 24 | l24);
    lkrtc_wr32(p + 8, r->highest_seq);
    lkrtc_wr32(p + 12, r->jitter);
    lkrtc_wr32(p + 16, r->lsr);
    lkrtc_wr32(p + 20, r->dlsr);
}

int lkrtcp_write_sr(uint8_t *buf, size_t cap, const lkrtcp_sr *sr)
{
    if (sr->n_reports > LKRTCP_MAX_REPORTS)
        return LKRTP_E_INVALID;
    size_t len = 28 + 24 * (size_t)sr->n_reports;
    int rc = check_room(cap, len);
    if (rc < 0)
        return rc;
    write_header(buf, false, sr->n_reports, LKRTCP_SR, len);
    lkrtc_wr32(buf + 4, sr->ssrc);
    lkrtc_wr64(buf + 8, sr->ntp);
    lkrtc_wr32(buf + 16, sr->rtp_timestamp);
    lkrtc_wr32(buf + 20, sr->packets);
    lkrtc_wr32(buf + 24, sr->octets);
    for (unsigned i = 0; i < sr->n_reports; i++)
        write_report(buf + 28 + 24 * i, &sr->reports[i]);
    return (int)len;
}

int lkrtcp_write_rr(uint8_t *buf, size_t cap, const lkrtcp_rr *rr)
{
    if (rr->n_reports > LKRTCP_MAX_REPORTS)
        return LKRTP_E_INVALID;
    size_t len = 8 + 24 * (size_t)rr->n_reports;
    int rc = check_room(cap, len);
    if (rc < 0)
        return rc;
    write_header(buf, false, rr->n_reports, LKRTCP_RR, len);
    lkrtc_wr32(buf + 4, rr->ssrc);
    for (unsigned i = 0; i < rr->n_reports; i++)
        write_report(buf + 8 + 24 * i, &rr->reports[i]);
    return (int)len;
}

int lkrtcp_write_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname,
                            size_t len)
{
    if (len > 255)
        return LKRTP_E_INVALID;
    /* header, SSRC, CNAME item, then at least one null octet ending the
     * chunk, up to a 32-bit boundary (RFC 3550 6.5) */
    size_t items = 2 + len, total = (8 + items + 1 + 3) / 4 * 4;
    int rc = check_room(cap, total);
    if (rc < 0)
        return rc;
    write_header(buf, false, 1, LKRTCP_SDES, total);
    lkrtc_wr32(buf + 4, ssrc);
    buf[8] = 1; /* CNAME */
    buf[9] = (uint8_t)len;
    memcpy(buf + 10, cname, len);
    memset(buf + 8 + items, 0, total - 8 - items);
    return (int)total;
}

int lkrtcp_write_bye(uint8_t *buf, size_t cap, const uint32_t *ssrcs, size_t n,
                     const char *reason, size_t reason_len)
{
    if (n > LKRTCP_MAX_REPORTS || reason_len > 255)
        return LKRTP_E_INVALID;
    size_t at = 4 + 4 * n, total = at + (reason_len ? (1 + reason_len + 3) / 4 * 4 : 0);
    int rc = check_room(cap, total);
    if (rc < 0)
        return rc;
    write_header(buf, false, (uint8_t)n, LKRTCP_BYE, total);
    for (size_t i = 0; i < n; i++)
        lkrtc_wr32(buf + 4 + 4 * i, ssrcs[i]);
    if (reason_len) {
        buf[at] = (uint8_t)reason_len;
        memcpy(buf + at + 1, reason, reason_len);
        memset(buf + at + 1 + reason_len, 0, total - at - 1 - reason_len);
    }
    return (int)total;
}

static void write_fb(uint8_t *p, uint8_t fmt, uint8_t type, size_t len, bool padding,
                     uint32_t sender, uint32_t media)
{
    write_header(p, padding, fmt, type, len);
    lkrtc_wr32(p + 4, sender);
    lkrtc_wr32(p + 8, media);
}

int lkrtcp_write_nack(uint8_t *buf, size_t cap, const lkrtcp_fb *fb, const uint16_t *seqs,
                      size_t n)
{
    if (n == 0)
        return LKRTP_E_INVALID;
    size_t len = 12, i = 0;
    while (i < n) {
        uint16_t pid = seqs[i++], blp = 0;
        /* The following numbers within 16 of the PID join its BLP. */
        for (; i < n; i++) {
            uint16_t d = (uint16_t)(seqs[i] - pid);
            if (d > 16)
                break;
            if (d)
                blp |= (uint16_t)(1u << (d - 1));
        }
        int rc = check_room(cap, len + 4);
        if (rc < 0)
            return rc;
        lkrtc_wr16(buf + len, pid);
        lkrtc_wr16(buf + len + 2, blp);
        len += 4;
    }
    write_fb(buf, LKRTCP_FMT_NACK, LKRTCP_RTPFB, len, false, fb->sender_ssrc, fb->media_ssrc);
    return (int)len;
}

int lkrtcp_write_pli(uint8_t *buf, size_t cap, const lkrtcp_fb *fb)
{
    if (cap < 12)
        return LKRTP_E_NOSPACE;
    write_fb(buf, LKRTCP_FMT_PLI, LKRTCP_PSFB, 12, false, fb->sender_ssrc, fb->media_ssrc);
    return 12;
}

int lkrtcp_write_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc,
                     const lkrtcp_fir_entry *entries, size_t n)
{
    if (n == 0 || n > 0x7fff)
        return LKRTP_E_INVALID;
    size_t len = 12 + 8 * n;
    int rc = check_room(cap, len);
    if (rc < 0)
        return rc;
    write_fb(buf, LKRTCP_FMT_FIR, LKRTCP_PSFB, len, false, sender_ssrc, 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = buf + 12 + 8 * i;
        lkrtc_wr32(e, entries[i].ssrc);
        lkrtc_wr32(e + 4, (uint32_t)entries[i].seq << 24);
    }
    return (int)len;
}

int lkrtcp_write_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
                      const uint32_t *ssrcs, uint8_t n)
{
    size_t len = 20 + 4 * (size_t)n;
    int rc = check_room(cap, len);
    if (rc < 0)
        return rc;
    /* the smallest exponent that leaves an 18-bit mantissa (rounding down) */
    unsigned exp = 0;
    while (bitrate >> exp > 0x3ffff)
        exp++;
    uint32_t mantissa = (uint32_t)(bitrate >> exp);
    write_fb(buf, LKRTCP_FMT_AFB, LKRTCP_PSFB, len, false, sender_ssrc, 0);
    memcpy(buf + 12, "REMB", 4);
    buf[16] = n;
    buf[17] = (uint8_t)(exp << 2 | mantissa >> 16);
    lkrtc_wr16(buf + 18, (uint16_t)mantissa);
    for (unsigned i = 0; i < n; i++)
        lkrtc_wr32(buf + 20 + 4 * i, ssrcs[i]);
    return (int)len;
}

/* --- transport-wide CC feedback: writing ------------------------------------------ */

/* Walks the statuses from the base sequence number: which are received
 * (the next arrival's number) and each received one's delta in 250 us
 * ticks from the one before (the first's from the reference time). */
typedef struct twcc_cursor {
    const lkrtcp_twcc_arrival *pkts;
    size_t n, j;       /* the next arrival */
    uint16_t base;     /* status k is base + k */
    uint32_t k, count; /* the next status; how many there are */
    int64_t prev;      /* ticks of the last received, or of the reference time */
} twcc_cursor;

/* Status k's symbol, and moves on. *delta gets its delta; LKRTP_E_RANGE if
 * that does not fit 16 bits. */
static int cursor_next(twcc_cursor *c, int32_t *delta)
{
    const lkrtcp_twcc_arrival *a = c->j < c->n ? &c->pkts[c->j] : NULL;
    bool received = a && (uint16_t)(a->seq - c->base) == c->k;
    c->k++;
    if (!received)
        return LKRTCP_TWCC_NOT_RECEIVED;
    int64_t t = a->arrival_us / 250, d = t - c->prev;
    c->prev = t;
    c->j++;
    *delta = (int32_t)(d < INT32_MIN ? INT32_MIN : d > INT32_MAX ? INT32_MAX : d);
    if (d >= 0 && d <= 255)
        return LKRTCP_TWCC_SMALL_DELTA;
    if (d >= INT16_MIN && d <= INT16_MAX)
        return LKRTCP_TWCC_LARGE_DELTA;
    return LKRTP_E_RANGE;
}

/* The next chunk for the statuses at c (without moving c): greedily a run
 * when 14 or more repeat (or the rest is one run), else a 1-bit vector if
 * the next 14 need no large delta, else a run of 7 or more, else a 2-bit
 * vector. *covers gets how many statuses it stands for. */
static int next_chunk(const twcc_cursor *c, uint16_t *chunk, uint32_t *covers)
{
    uint32_t left = c->count - c->k;
    uint8_t sym[14];
    unsigned ahead = left < 14 ? left : 14;
    twcc_cursor t = *c;
    int32_t d = 0;
    for (unsigned i = 0; i < ahead; i++) {
        int s = cursor_next(&t, &d);
        if (s < 0)
            return s;
        sym[i] = (uint8_t)s;
    }
    uint32_t run = 1;
    while (run < ahead && sym[run] == sym[0])
        run++;
    if (run == ahead) { /* continue the run past the lookahead */
        uint32_t limit = left < 0x1fff ? left : 0x1fff;
        while (run < limit) {
            twcc_cursor u = t;
            int s = cursor_next(&u, &d);
            if (s < 0)
                return s;
            if (s != sym[0])
                break;
            t = u;
            run++;
        }
    }
    bool small = true;
    for (unsigned i = 0; i < ahead; i++)
        small = small && sym[i] <= LKRTCP_TWCC_SMALL_DELTA;
    if (run >= 14 || run == left) {
        *chunk = (uint16_t)(sym[0] << 13 | run);
        *covers = run;
    } else if (small) {
        *chunk = 0x8000;
        for (unsigned i = 0; i < ahead; i++)
            *chunk |= (uint16_t)(sym[i] << (13 - i));
        *covers = ahead;
    } else if (run >= 7) {
        *chunk = (uint16_t)(sym[0] << 13 | run);
        *covers = run;
    } else {
        unsigned n = ahead < 7 ? ahead : 7;
        *chunk = 0xc000;
        for (unsigned i = 0; i < n; i++)
            *chunk |= (uint16_t)(sym[i] << (12 - 2 * i));
        *covers = n;
    }
    return 0;
}

/* Encodes every status: the number of chunks and delta bytes, and, when
 * out is set, the chunks there and the deltas after them. */
static int twcc_encode(twcc_cursor c, uint8_t *out, size_t *n_chunks, size_t *delta_bytes)
{
    size_t chunks = 0, deltas = 0;
    twcc_cursor first = c;
    /* Chunk count first: the deltas follow the last chunk. */
    while (c.k < c.count) {
        uint16_t chunk;
        uint32_t covers;
        int rc = next_chunk(&c, &chunk, &covers);
        if (rc < 0)
            return rc;
        for (uint32_t i = 0; i < covers; i++) {
            int32_t d = 0;
            deltas += (size_t)cursor_next(&c, &d); /* in range: next_chunk saw it */
        }
        chunks++;
    }
    *n_chunks = chunks;
    *delta_bytes = deltas;
    if (!out)
        return 0;
    c = first;
    uint8_t *dp = out + 2 * chunks;
    for (size_t i = 0; i < chunks; i++) {
        uint16_t chunk;
        uint32_t covers;
        next_chunk(&c, &chunk, &covers);
        lkrtc_wr16(out + 2 * i, chunk);
        for (uint32_t k = 0; k < covers; k++) {
            int32_t d = 0;
            int s = cursor_next(&c, &d);
            if (s == LKRTCP_TWCC_SMALL_DELTA)
                *dp++ = (uint8_t)d;
            else if (s == LKRTCP_TWCC_LARGE_DELTA) {
                lkrtc_wr16(dp, (uint16_t)(int16_t)d);
                dp += 2;
            }
        }
    }
    return 0;
}

int lkrtcp_write_twcc(uint8_t *buf, size_t cap, const lkrtcp_fb *fb, uint8_t fb_count,
                      const lkrtcp_twcc_arrival *pkts, size_t n)
{
    if (n == 0)
        return LKRTP_E_INVALID;
    uint32_t span = 0;
    for (size_t i = 0; i < n; i++) {
        if (pkts[i].arrival_us < 0)
            return LKRTP_E_INVALID;
        if (i == 0)
            continue;
        /* Wrapping: any step forward counts, and the span bounds them all
         * (a step "back" is a step of nearly 65536 forward). */
        uint16_t step = (uint16_t)(pkts[i].seq - pkts[i - 1].seq);
        if (step == 0 || (span += step) > 0xfffe)
            return LKRTP_E_INVALID; /* a repeat, or past 65535 statuses */
    }
    int64_t ref = pkts[0].arrival_us / 64000;
    twcc_cursor c = {
        .pkts = pkts, .n = n, .base = pkts[0].seq, .count = span + 1, .prev = ref * 256};
    size_t chunks, deltas;
    int rc = twcc_encode(c, NULL, &chunks, &deltas);
    if (rc < 0)
        return rc;
    size_t body = 4 + 8 + 8 + 2 * chunks + deltas, pad = (4 - body % 4) % 4, len = body + pad;
    rc = check_room(cap, len);
    if (rc < 0)
        return rc;
    write_fb(buf, LKRTCP_FMT_TWCC, LKRTCP_RTPFB, len, pad > 0, fb->sender_ssrc,
             fb->media_ssrc);
    lkrtc_wr16(buf + 12, c.base);
    lkrtc_wr16(buf + 14, (uint16_t)c.count);
    uint32_t ref24 = (uint32_t)ref & 0xffffff;
    buf[16] = (uint8_t)(ref24 >> 16);
    buf[17] = (uint8_t)(ref24 >> 8);
    buf[18] = (uint8_t)ref24;
    buf[19] = fb_count;
    twcc_encode(c, buf + 20, &chunks, &deltas);
    if (pad) { /* RTCP padding: zeros, the last byte its count */
        memset(buf + body, 0, pad - 1);
        buf[len - 1] = (uint8_t)pad;
    }
    return (int)len;
}

/* --- receiver statistics ------------------------------------------------------------ */

/* RFC 3550 A.1 without the probation: our sources are announced by
 * signaling and authenticated by SRTP, so the first packet starts the
 * statistics. A.1's MAX_MISORDER is 100; with NACKs answered on the
 * media's own SSRC, a resend comes as late as the receiver's NACK window
 * (1024 packets for our video) and the packets that pass during its round
 * trip, and two of them in a row are not a sender that restarted: late
 * runs to 1500 (libwebrtc, NACKing video, allows 450). */
enum { MAX_DROPOUT = 3000, MAX_MISORDER = 1500, SEQ_MOD = 1 << 16 };

void lkrtp_recv_init(lkrtp_recv_stats *s, uint32_t ssrc)
{
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
}

static void recv_restart(lkrtp_recv_stats *s, uint16_t seq)
{
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = SEQ_MOD + 1; /* matches no 16-bit number */
    s->cycles = 0;
    s->received = 0;
    s->received_prior = 0;
    s->expected_prior = 0;
}

/* A.8, in integer form: jitter holds 16 times the estimate. */
static void recv_jitter(lkrtp_recv_stats *s, uint32_t rtp_ts, uint32_t arrival, bool first)
{
    uint32_t transit = arrival - rtp_ts;
    int32_t diff = (int32_t)(transit - s->transit);
    s->transit = transit;
    if (first)
        return;
    uint64_t d = diff < 0 ? (uint64_t)(-(int64_t)diff) : (uint64_t)diff;
    int64_t j = (int64_t)s->jitter + (int64_t)d - (int64_t)((s->jitter + 8u) >> 4);
    s->jitter = j < 0 ? 0 : j > UINT32_MAX ? UINT32_MAX : (uint32_t)j;
}

enum lkrtp_recv_result lkrtp_recv_update(lkrtp_recv_stats *s, uint16_t seq, uint32_t rtp_ts,
                                         uint32_t arrival, int64_t *ext_seq)
{
    int64_t ext;
    enum lkrtp_recv_result res;
    bool first = !s->started;
    uint16_t udelta = (uint16_t)(seq - s->max_seq);
    if (first) {
        recv_restart(s, seq);
        s->started = true;
        res = LKRTP_RECV_IN_ORDER;
    } else if (udelta == 0) {
        res = LKRTP_RECV_LATE; /* a duplicate of the highest */
    } else if (udelta < MAX_DROPOUT) {
        if (seq < s->max_seq)
            s->cycles += SEQ_MOD; /* wrapped */
        s->max_seq = seq;
        res = LKRTP_RECV_IN_ORDER;
    } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
        if (seq != s->bad_seq) {
            s->bad_seq = (seq + 1u) & (SEQ_MOD - 1);
            return LKRTP_RECV_JUMP;
        }
        /* Two in a row after the jump: the sender restarted. */
        recv_restart(s, seq);
        res = LKRTP_RECV_RESTART;
    } else {
        res = LKRTP_RECV_LATE;
    }
    ext = (int64_t)s->cycles + seq;
    if (res == LKRTP_RECV_LATE && seq > s->max_seq)
        ext -= SEQ_MOD; /* from before the last wrap */
    if (ext_seq)
        *ext_seq = ext;
    s->received++;
    recv_jitter(s, rtp_ts, arrival, first);
    return res;
}

uint32_t lkrtp_recv_highest(const lkrtp_recv_stats *s)
{
    return s->started ? s->cycles + s->max_seq : 0;
}

/* A.3 */
static int64_t expected_since_start(const lkrtp_recv_stats *s)
{
    return (int64_t)lkrtp_recv_highest(s) - s->base_seq + 1;
}

int64_t lkrtp_recv_lost(const lkrtp_recv_stats *s)
{
    return s->started ? expected_since_start(s) - s->received : 0;
}

void lkrtp_recv_report(lkrtp_recv_stats *s, lkrtcp_report *r)
{
    memset(r, 0, sizeof *r);
    r->ssrc = s->ssrc;
    if (!s->started)
        return;
    uint32_t ext_max = lkrtp_recv_highest(s);
    int64_t expected = expected_since_start(s);
    int64_t lost = lkrtp_recv_lost(s);
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000; /* 24 bits, signed */
    r->cumulative_lost = (int32_t)lost;
    int64_t expected_interval = expected - s->expected_prior;
    int64_t received_interval = (int64_t)s->received - s->received_prior;
    int64_t lost_interval = expected_interval - received_interval;
    s->expected_prior = (uint32_t)expected;
    s->received_prior = s->received;
    if (expected_interval > 0 && lost_interval > 0) {
        int64_t f = (lost_interval << 8) / expected_interval;
        r->fraction_lost = (uint8_t)(f > 255 ? 255 : f); /* all lost would be 256 */
    }
    r->highest_seq = ext_max;
    r->jitter = s->jitter >> 4;
}
