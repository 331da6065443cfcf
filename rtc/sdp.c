/*
 * sdp.c: reading answers, writing offers.
 *
 * What livekit-server (pion) answers to a data-only offer: a session with
 * its DTLS fingerprint (session or section level), maybe a=ice-lite, a
 * BUNDLE group, and one m=application section with its mid, a=setup
 * (active: the server is the DTLS client), ICE credentials, a=sctp-port,
 * a=max-message-size, and candidates in the SDP or trickled afterwards.
 * Lines are "x=value" and end in CRLF or LF; a=lines we do not need are
 * skipped, anything else out of shape is an error.
 *
 * For an audio section (docs/research/audio-in-rooms.md, 1.3-1.4) it
 * answers with its codecs in the order it prefers (RED first when we
 * offered it), Opus's fmtp amended with what our encoder must do
 * (usedtx=1, stereo=1), the header extensions it accepted, the mirrored
 * direction, and for the tracks it sends us a=msid and a=ssrc. A section
 * may list more codecs or extensions than the fixed tables hold: the
 * first ones are kept (they are the preferred ones), the others are
 * checked for shape and dropped, since refusing a whole answer for a
 * codec we would never use helps no one.
 */
#include "sdp.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, unsigned line,
                                                      const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "SDP line %u: %s", line, why);
    return -1;
}

/* Copies [v, v+n) into dst (cap bytes); false if it does not fit. */
static bool copy(char *dst, size_t cap, const char *v, size_t n)
{
    if (n >= cap)
        return false;
    memcpy(dst, v, n);
    dst[n] = '\0';
    return true;
}

static bool has_prefix(const char *v, size_t n, const char *p, size_t *plen)
{
    *plen = strlen(p);
    return n >= *plen && !memcmp(v, p, *plen);
}

/* The length of [v, v+n) up to the first c, or n if there is none. */
static size_t span_to(const char *v, size_t n, char c)
{
    const char *e = memchr(v, c, n);
    return e ? (size_t)(e - v) : n;
}

static bool is_direction(const char *v, size_t n)
{
    return n == 8 && (!memcmp(v, "sendrecv", 8) || !memcmp(v, "sendonly", 8) ||
                      !memcmp(v, "recvonly", 8) || !memcmp(v, "inactive", 8));
}

static bool parse_uint(const char *v, size_t n, uint32_t max, uint32_t *out)
{
    uint64_t x = 0;
    if (n == 0 || n > 10)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (x > max)
        return false;
    *out = (uint32_t)x;
    return true;
}

/* m=<kind> <port> <proto> <fmt...> */
static int parse_m(lksdp *s, const char *v, size_t n, unsigned ln, char *err, size_t errlen)
{
    if (s->n_media == LKSDP_MAX_MEDIA)
        return fail(err, errlen, ln, "more than %d media sections", LKSDP_MAX_MEDIA);
    lksdp_media *m = &s->media[s->n_media];
    memset(m, 0, sizeof *m);
    strcpy(m->direction, "sendrecv");
    const char *sp1 = memchr(v, ' ', n);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(v + n - sp1 - 1)) : NULL;
    if (!sp1 || !sp2)
        return fail(err, errlen, ln, "malformed m= line");
    const char *sp3 = memchr(sp2 + 1, ' ', (size_t)(v + n - sp2 - 1));
    const char *proto_end = sp3 ? sp3 : v + n;
    uint32_t port;
    const char *slash = memchr(sp1 + 1, '/', (size_t)(sp2 - sp1 - 1)); /* port/count */
    if (!copy(m->kind, sizeof m->kind, v, (size_t)(sp1 - v)) ||
        !parse_uint(sp1 + 1, (size_t)((slash ? slash : sp2) - sp1 - 1), 65535, &port) ||
        !copy(m->proto, sizeof m->proto, sp2 + 1, (size_t)(proto_end - sp2 - 1)))
        return fail(err, errlen, ln, "malformed m= line");
    m->port = (uint16_t)port;
    /* RTP profiles list payload types; others (SCTP's webrtc-datachannel)
     * list names we have no use for. */
    if (strstr(m->proto, "RTP/")) {
        const char *f = proto_end, *end = v + n;
        while (f < end) {
            while (f < end && *f == ' ')
                f++;
            size_t k = span_to(f, (size_t)(end - f), ' ');
            uint32_t pt;
            if (k && !parse_uint(f, k, 127, &pt))
                return fail(err, errlen, ln, "bad payload type in m= line");
            if (k && m->n_fmts < LKSDP_MAX_CODECS) {
                /* each kept type gets the codec slot of the same index,
                 * which its a=rtpmap and a=fmtp fill in either order */
                m->codecs[m->n_fmts].pt = (uint8_t)pt;
                m->fmts[m->n_fmts++] = (uint8_t)pt;
            }
            f += k;
        }
    }
    s->n_media++;
    return 0;
}

/* The codec slot of a payload type among the kept ones, or NULL. */
static lksdp_codec *codec_slot(lksdp_media *m, uint32_t pt)
{
    for (unsigned i = 0; i < m->n_fmts; i++)
        if (m->fmts[i] == pt)
            return &m->codecs[i];
    return NULL;
}

/* At the end of a section: the slots that got an a=rtpmap, in m= line
 * order, become the codecs. A static payload type without one (PCMU's 0)
 * is left out: pion and libwebrtc write an rtpmap for every type. */
static void close_media(lksdp_media *m)
{
    unsigned k = 0;
    for (unsigned i = 0; i < m->n_fmts; i++)
        if (m->codecs[i].name[0]) {
            if (k != i)
                m->codecs[k] = m->codecs[i];
            k++;
        }
    memset(&m->codecs[k], 0, (LKSDP_MAX_CODECS - k) * sizeof m->codecs[0]);
    m->n_codecs = k;
}

/* rtpmap:<pt> <name>/<clock>[/<channels>] */
static bool parse_rtpmap(lksdp_media *m, const char *v, size_t n)
{
    size_t k = span_to(v, n, ' ');
    uint32_t pt, clock, channels = 0;
    if (k == n || !parse_uint(v, k, 127, &pt))
        return false;
    const char *name = v + k + 1;
    size_t rest = n - k - 1, nl = span_to(name, rest, '/');
    if (nl == 0 || nl == rest || memchr(name, ' ', nl))
        return false;
    const char *c = name + nl + 1;
    size_t cn = rest - nl - 1, cl = span_to(c, cn, '/');
    if (!parse_uint(c, cl, UINT32_MAX, &clock) || clock == 0)
        return false;
    if (cl < cn && (!parse_uint(c + cl + 1, cn - cl - 1, 255, &channels) || channels == 0))
        return false;
    lksdp_codec *slot = codec_slot(m, pt);
    if (!slot)
        return true;
    slot->clock = clock;
    slot->channels = (uint8_t)channels;
    return copy(slot->name, sizeof slot->name, name, nl);
}

/* fmtp:<pt> <parameters> */
static bool parse_fmtp(lksdp_media *m, const char *v, size_t n)
{
    size_t k = span_to(v, n, ' ');
    uint32_t pt;
    if (k == n || !parse_uint(v, k, 127, &pt))
        return false;
    lksdp_codec *slot = codec_slot(m, pt);
    return !slot || copy(slot->fmtp, sizeof slot->fmtp, v + k + 1, n - k - 1);
}

/* extmap:<id>[/<direction>] <uri>[ <attributes>] (RFC 8285): ids 1-14
 * fit the one-byte header form, up to 255 the two-byte one. */
static bool parse_extmap(lksdp_media *m, const char *v, size_t n)
{
    size_t k = span_to(v, n, ' '), idl = span_to(v, k, '/');
    uint32_t id;
    if (k == n || !parse_uint(v, idl, 255, &id) || id == 0)
        return false;
    if (idl < k && !is_direction(v + idl + 1, k - idl - 1))
        return false;
    const char *uri = v + k + 1;
    size_t ul = span_to(uri, n - k - 1, ' ');
    if (ul == 0)
        return false;
    if (m->n_extmaps == LKSDP_MAX_EXTMAPS)
        return true;
    lksdp_extmap *e = &m->extmaps[m->n_extmaps];
    if (!copy(e->uri, sizeof e->uri, uri, ul))
        return false;
    e->id = (uint8_t)id;
    m->n_extmaps++;
    return true;
}

/* rtcp-fb:<pt or *> <type>[ <parameter>] (RFC 4585): only transport-cc
 * and goog-remb are kept. The other feedback types are not ours to use,
 * and a line we cannot read is passed over like them. */
static void parse_rtcp_fb(lksdp_media *m, const char *v, size_t n)
{
    static const char tcc[] = "transport-cc", remb[] = "goog-remb";
    size_t k = span_to(v, n, ' ');
    uint32_t pt = 0;
    bool all = k == 1 && v[0] == '*';
    if (k == n || (!all && !parse_uint(v, k, 127, &pt)))
        return;
    const char *type = v + k + 1;
    size_t tn = n - k - 1;
    uint8_t *bits = tn == sizeof tcc - 1 && !memcmp(type, tcc, tn)    ? m->transport_cc
                    : tn == sizeof remb - 1 && !memcmp(type, remb, tn) ? m->goog_remb
                                                                       : NULL;
    if (!bits)
        return;
    if (all)
        memset(bits, 0xff, sizeof m->transport_cc);
    else
        bits[pt / 8] |= (uint8_t)(1u << (pt % 8));
}

/* ssrc:<ssrc> <attribute>[:<value>] (RFC 5576). A first SSRC of 0 reads
 * as none and gives way to the next. */
static bool parse_ssrc(lksdp_media *m, const char *v, size_t n)
{
    size_t k = span_to(v, n, ' ');
    uint32_t ssrc;
    if (k == n || k + 1 == n || v[k + 1] == ' ' || !parse_uint(v, k, UINT32_MAX, &ssrc))
        return false;
    if (!m->ssrc)
        m->ssrc = ssrc;
    return true;
}

/* One a= line, at session level (m == NULL) or in section m. */
static int parse_a(lksdp *s, lksdp_media *m, const char *v, size_t n, unsigned ln, char *err,
                   size_t errlen)
{
    size_t p;
    char *ufrag = m ? m->ice_ufrag : s->ice_ufrag, *pwd = m ? m->ice_pwd : s->ice_pwd;
    char *fp = m ? m->fingerprint : s->fingerprint, *setup = m ? m->setup : s->setup;
    bool ok = true;
    if (has_prefix(v, n, "ice-ufrag:", &p)) {
        ok = copy(ufrag, sizeof s->ice_ufrag, v + p, n - p) && n > p;
    } else if (has_prefix(v, n, "ice-pwd:", &p)) {
        ok = copy(pwd, sizeof s->ice_pwd, v + p, n - p) && n > p;
    } else if (has_prefix(v, n, "fingerprint:", &p)) {
        ok = copy(fp, sizeof s->fingerprint, v + p, n - p) && memchr(v + p, ' ', n - p);
    } else if (has_prefix(v, n, "setup:", &p)) {
        ok = copy(setup, sizeof s->setup, v + p, n - p);
    } else if (n == 8 && !memcmp(v, "ice-lite", 8)) {
        s->ice_lite = true;
    } else if (has_prefix(v, n, "group:BUNDLE", &p)) {
        const char *mids = v + p;
        size_t mlen = n - p;
        while (mlen && *mids == ' ')
            mids++, mlen--;
        ok = copy(s->bundle, sizeof s->bundle, mids, mlen);
    } else if (!m) {
        /* other session attributes: not ours to use */
    } else if (has_prefix(v, n, "mid:", &p)) {
        ok = copy(m->mid, sizeof m->mid, v + p, n - p) && n > p;
    } else if (has_prefix(v, n, "candidate:", &p)) {
        if (s->n_candidates == LKSDP_MAX_CANDIDATES)
            return 0; /* enough to connect with: the rest are dropped */
        lksdp_candidate *c = &s->candidates[s->n_candidates];
        ok = copy(c->line, sizeof c->line, v, n);
        if (ok) {
            c->media = s->n_media - 1;
            s->n_candidates++;
        }
    } else if (n == 17 && !memcmp(v, "end-of-candidates", 17)) {
        m->end_of_candidates = true;
    } else if (has_prefix(v, n, "sctp-port:", &p)) {
        uint32_t x = 0;
        ok = parse_uint(v + p, n - p, 65535, &x) && x;
        m->sctp_port = (uint16_t)x;
    } else if (has_prefix(v, n, "max-message-size:", &p)) {
        ok = parse_uint(v + p, n - p, UINT32_MAX, &m->max_message_size);
    } else if (is_direction(v, n)) {
        memcpy(m->direction, v, 8);
        m->direction[8] = '\0';
    } else if (has_prefix(v, n, "rtpmap:", &p)) {
        ok = parse_rtpmap(m, v + p, n - p);
    } else if (has_prefix(v, n, "fmtp:", &p)) {
        ok = parse_fmtp(m, v + p, n - p);
    } else if (has_prefix(v, n, "extmap:", &p)) {
        ok = parse_extmap(m, v + p, n - p);
    } else if (has_prefix(v, n, "rtcp-fb:", &p)) {
        parse_rtcp_fb(m, v + p, n - p);
    } else if (has_prefix(v, n, "ssrc:", &p)) {
        ok = parse_ssrc(m, v + p, n - p);
    } else if (has_prefix(v, n, "msid:", &p)) {
        /* the first: the server names one stream per track */
        ok = n > p && (m->msid[0] || copy(m->msid, sizeof m->msid, v + p, n - p));
    }
    if (!ok)
        return fail(err, errlen, ln, "malformed or oversized a=%.*s", (int)(n > 40 ? 40 : n), v);
    return 0;
}

int lksdp_parse(lksdp *s, const char *text, size_t len, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    const char *p = text, *end = text + len;
    unsigned ln = 0;
    bool seen_v = false;
    while (p < end) {
        ln++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        size_t n = (size_t)((eol ? eol : end) - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n == 0) { /* a blank line (the trailing CRLF) */
            p = next;
            continue;
        }
        if (n < 2 || p[1] != '=' || p[0] < 'a' || p[0] > 'z')
            return fail(err, errlen, ln, "not a type=value line");
        if (memchr(p, '\0', n))
            return fail(err, errlen, ln, "NUL byte");
        const char *v = p + 2;
        size_t vn = n - 2;
        if (!seen_v) {
            if (p[0] != 'v' || vn != 1 || v[0] != '0')
                return fail(err, errlen, ln, "SDP must start with v=0");
            seen_v = true;
        } else if (p[0] == 'm') {
            if (s->n_media)
                close_media(&s->media[s->n_media - 1]);
            if (parse_m(s, v, vn, ln, err, errlen) < 0)
                return -1;
        } else if (p[0] == 'a') {
            lksdp_media *m = s->n_media ? &s->media[s->n_media - 1] : NULL;
            if (parse_a(s, m, v, vn, ln, err, errlen) < 0)
                return -1;
        }
        p = next;
    }
    if (!seen_v)
        return fail(err, errlen, ln, "empty SDP");
    if (s->n_media)
        close_media(&s->media[s->n_media - 1]);
    return 0;
}

#define FALLBACK(field)                                                                     \
    const char *lksdp_##field(const lksdp *s, unsigned media)                              \
    {                                                                                       \
        if (media < s->n_media && s->media[media].field[0])                                 \
            return s->media[media].field;                                                   \
        return s->field;                                                                    \
    }
FALLBACK(ice_ufrag)
FALLBACK(ice_pwd)
FALLBACK(fingerprint)
FALLBACK(setup)

int lksdp_find(const lksdp *s, const char *kind)
{
    for (unsigned i = 0; i < s->n_media; i++)
        if (!strcmp(s->media[i].kind, kind))
            return (int)i;
    return -1;
}

const lksdp_codec *lksdp_codec_find(const lksdp_media *m, const char *name)
{
    for (unsigned i = 0; i < m->n_codecs; i++)
        if (!strcasecmp(m->codecs[i].name, name))
            return &m->codecs[i];
    return NULL;
}

bool lksdp_has_goog_remb(const lksdp_media *m, uint8_t pt)
{
    return pt < 128 && (m->goog_remb[pt / 8] >> (pt % 8) & 1);
}

bool lksdp_has_transport_cc(const lksdp_media *m, uint8_t pt)
{
    return pt < 128 && (m->transport_cc[pt / 8] >> (pt % 8) & 1);
}

uint8_t lksdp_extmap_id(const lksdp_media *m, const char *uri)
{
    for (unsigned i = 0; i < m->n_extmaps; i++)
        if (!strcmp(m->extmaps[i].uri, uri))
            return m->extmaps[i].id;
    return 0;
}

/* [*v, *v+*n) without spaces either side. */
static void trim(const char **v, size_t *n)
{
    while (*n && **v == ' ')
        (*v)++, (*n)--;
    while (*n && (*v)[*n - 1] == ' ')
        (*n)--;
}

bool lksdp_fmtp_has(const lksdp_codec *c, const char *key, const char *value)
{
    const char *f = c->fmtp;
    size_t left = strlen(f), kl = strlen(key), vl = strlen(value);
    while (left) {
        size_t pl = span_to(f, left, ';'), eq = span_to(f, pl, '=');
        const char *k = f, *v = f + eq + 1;
        size_t kn = eq, vn = eq < pl ? pl - eq - 1 : 0;
        trim(&k, &kn);
        trim(&v, &vn);
        if (eq < pl && kn == kl && !strncasecmp(k, key, kl) && vn == vl && !memcmp(v, value, vl))
            return true;
        f += pl < left ? pl + 1 : pl;
        left -= pl < left ? pl + 1 : pl;
    }
    return false;
}

/* A value written between spaces: present, one token, one line. */
static bool token(const char *v)
{
    return v && *v && !strpbrk(v, " \t\r\n");
}

static bool rids_writable(const lksdp_rtp_section *r)
{
    if (!r->n_rids)
        return true;
    if (strcmp(r->kind, "video") != 0 || r->n_rids < 2 || r->n_rids > LKSDP_MAX_RIDS || !r->rids)
        return false;
    for (unsigned i = 0; i < r->n_rids; i++)
        if (!token(r->rids[i]) || strpbrk(r->rids[i], ";,~"))
            return false;
    return true;
}

static bool writable(const lksdp_rtp_section *r)
{
    return r->kind && (!strcmp(r->kind, "audio") || !strcmp(r->kind, "video")) &&
           token(r->mid) && r->direction && is_direction(r->direction, strlen(r->direction)) &&
           (!r->track_id || token(r->track_id)) && (!r->ssrc || token(r->cname)) &&
           rids_writable(r);
}

bool lksdp_msid_split(const char *msid, char *stream, size_t stream_cap, char *track,
                      size_t track_cap)
{
    if (stream_cap)
        *stream = '\0';
    if (track_cap)
        *track = '\0';
    const char *sp = strchr(msid, ' ');
    if (!sp || sp == msid || !sp[1] || strchr(sp + 1, ' ') || (size_t)(sp - msid) >= stream_cap ||
        strlen(sp + 1) >= track_cap)
        return false;
    memcpy(stream, msid, (size_t)(sp - msid));
    stream[sp - msid] = '\0';
    strcpy(track, sp + 1);
    return true;
}

/* What recvonly video sections offer in H.264 (sdp.h), in order. */
static const char *const h264_profiles[LKSDP_H264_PROFILES] = {"42e01f", "42001f", "4d001f",
                                                               "640032"};

size_t lksdp_write_offer(char *out, size_t cap, const lksdp_offer *o)
{
    for (unsigned i = 0; i < o->n_rtp; i++)
        if (!writable(&o->rtp[i]))
            return 0;
    size_t pos = 0;
#define PUT(...)                                                                 \
    do {                                                                         \
        int k_ = snprintf(out + pos, pos < cap ? cap - pos : 0, __VA_ARGS__);    \
        if (k_ < 0 || pos + (size_t)k_ >= cap)                                   \
            return 0;                                                            \
        pos += (size_t)k_;                                                       \
    } while (0)
    PUT("v=0\r\no=- %" PRIu64 " %u IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", o->session_id,
        o->version);
    const char *mid = o->mid ? o->mid : "0";
    PUT("a=group:BUNDLE %s", mid);
    for (unsigned i = 0; i < o->n_rtp; i++)
        PUT(" %s", o->rtp[i].mid);
    PUT("\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n");
    PUT("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n");
    for (unsigned i = 0; i < o->n_candidates; i++)
        PUT("a=%s\r\n", o->candidates[i]);
    PUT("a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=ice-options:trickle\r\n", o->ice_ufrag, o->ice_pwd);
    PUT("a=fingerprint:%s\r\na=setup:%s\r\na=mid:%s\r\n", o->fingerprint,
        o->setup ? o->setup : "actpass", mid);
    PUT("a=sctp-port:5000\r\na=max-message-size:%u\r\n",
        o->max_message_size ? o->max_message_size : 262144u);
    /* The RTP sections ride the data section's transport (BUNDLE): no
     * candidates of their own, but the same ICE and DTLS attributes, which
     * the server checks are identical in every section. */
    for (unsigned i = 0; i < o->n_rtp; i++) {
        const lksdp_rtp_section *r = &o->rtp[i];
        bool video = !strcmp(r->kind, "video");
        bool receives = video && !strcmp(r->direction, "recvonly"); /* VP8 and H.264 */
        bool sends = video && !receives;
        PUT("m=%s 9 UDP/TLS/RTP/SAVPF %d", r->kind, video ? LKSDP_VP8_PT : LKSDP_OPUS_PT);
        for (int k = 0; receives && k < LKSDP_H264_PROFILES; k++)
            PUT(" %d", LKSDP_H264_PT + k);
        PUT("\r\nc=IN IP4 0.0.0.0\r\n");
        PUT("a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=ice-options:trickle\r\n", o->ice_ufrag,
            o->ice_pwd);
        PUT("a=fingerprint:%s\r\na=setup:%s\r\na=mid:%s\r\n", o->fingerprint,
            o->setup ? o->setup : "actpass", r->mid);
        if (!video)
            PUT("a=extmap:%d %s\r\n", LKSDP_EXT_AUDIO_LEVEL_ID, LKSDP_URI_AUDIO_LEVEL);
        if (r->n_rids)
            PUT("a=extmap:%d %s\r\na=extmap:%d %s\r\n", LKSDP_EXT_MID_ID, LKSDP_URI_SDES_MID,
                LKSDP_EXT_RID_ID, LKSDP_URI_RTP_STREAM_ID);
        if (sends)
            PUT("a=extmap:%d %s\r\n", LKSDP_EXT_TWCC_ID, LKSDP_URI_TWCC);
        if (receives)
            PUT("a=extmap:%d %s\r\n", LKSDP_EXT_ABS_SEND_TIME_ID, LKSDP_URI_ABS_SEND_TIME);
        PUT("a=%s\r\n", r->direction);
        /* The server finds the AddTrackRequest by the msid's track id;
         * pion takes the msid current when it meets each a=ssrc, so it
         * comes first, and again on the ssrc itself as libwebrtc writes. */
        if (r->track_id)
            PUT("a=msid:- %s\r\n", r->track_id);
        PUT("a=rtcp-mux\r\na=rtcp-rsize\r\n");
        for (int k = -1; video && k < (receives ? LKSDP_H264_PROFILES : 0); k++) {
            int pt = k < 0 ? LKSDP_VP8_PT : LKSDP_H264_PT + k;
            PUT("a=rtpmap:%d %s/%d\r\n", pt, k < 0 ? "VP8" : "H264", LKSDP_VP8_CLOCK);
            if (k >= 0)
                PUT("a=fmtp:%d level-asymmetry-allowed=1;packetization-mode=1;"
                    "profile-level-id=%s\r\n", pt, h264_profiles[k]);
            PUT("a=rtcp-fb:%d ccm fir\r\na=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\n", pt,
                pt, pt);
            PUT("a=rtcp-fb:%d transport-cc\r\na=rtcp-fb:%d goog-remb\r\n", pt, pt);
        }
        if (!video)
            PUT("a=rtpmap:%d opus/%d/2\r\na=fmtp:%d %s\r\n", LKSDP_OPUS_PT, LKSDP_OPUS_CLOCK,
                LKSDP_OPUS_PT, LKSDP_OPUS_FMTP);
        /* Layers as libwebrtc writes them (RFC 8851, 8853), highest first. */
        for (unsigned k = 0; k < r->n_rids; k++)
            PUT("a=rid:%s send\r\n", r->rids[k]);
        for (unsigned k = 0; k < r->n_rids; k++)
            PUT("%s%s", k ? ";" : "a=simulcast:send ", r->rids[k]);
        if (r->n_rids)
            PUT("\r\n");
        /* Declared, so the server creates the track from the offer rather
         * than waiting for RTP it could not tie to a section. */
        if (r->ssrc) {
            PUT("a=ssrc:%" PRIu32 " cname:%s\r\n", r->ssrc, r->cname);
            if (r->track_id)
                PUT("a=ssrc:%" PRIu32 " msid:- %s\r\n", r->ssrc, r->track_id);
        }
    }
#undef PUT
    return pos;
}
