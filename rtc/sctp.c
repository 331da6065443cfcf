/*
 * sctp.c: an SCTP association for WebRTC data channels, sans-I/O.
 *
 * Send side: lksctp_send splits a message into DATA-sized pieces on a
 * pending FIFO; flush() moves them to the in-flight list (sorted by TSN, as
 * TSNs are assigned in order) as the congestion window and the peer's
 * window allow. SACKs free the acknowledged head, mark gap-acknowledged
 * chunks, and count misses for fast retransmit. An abandoned message
 * (PR-SCTP) stays in the in-flight list until a FORWARD-TSN moves the
 * peer's cumulative ack past it.
 *
 * Receive side: a bitmap of TSNs seen above the cumulative TSN gives gap
 * blocks and duplicates; each chunk goes straight to its stream, into an
 * ordered list (by SSN, then TSN) or an unordered one (by TSN), and whole
 * messages are handed up as soon as they are complete and, if ordered, due.
 *
 * Every entry point runs enter()/leave(): what the input produced (SACK,
 * replies, newly allowed data) is bundled into as few packets as possible at
 * leave(), and callbacks that call back in (send from `message`) only queue.
 */
#include "sctp.h"

#include "crc32c.h"
#include "wire.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

/* chunk types (RFC 9260 3.2, RFC 3758, RFC 6525) */
enum {
    CT_DATA = 0,
    CT_INIT = 1,
    CT_INIT_ACK = 2,
    CT_SACK = 3,
    CT_HEARTBEAT = 4,
    CT_HEARTBEAT_ACK = 5,
    CT_ABORT = 6,
    CT_SHUTDOWN = 7,
    CT_SHUTDOWN_ACK = 8,
    CT_ERROR = 9,
    CT_COOKIE_ECHO = 10,
    CT_COOKIE_ACK = 11,
    CT_SHUTDOWN_COMPLETE = 14,
    CT_RECONFIG = 130,
    CT_FORWARD_TSN = 192,
};

/* parameter types */
enum {
    PT_HEARTBEAT_INFO = 1,
    PT_STATE_COOKIE = 7,
    PT_OUT_RESET = 13,
    PT_IN_RESET = 14,
    PT_RECONFIG_RESPONSE = 16,
    PT_ZERO_CHECKSUM = 0x8001,
    PT_SUPPORTED_EXT = 0x8008,
    PT_FORWARD_TSN_SUPPORTED = 0xC000,
};

enum {
    DATA_E = 1, /* flags of DATA */
    DATA_B = 2,
    DATA_U = 4,
    DATA_I = 8, /* SACK-IMMEDIATELY (RFC 7053) */
    FLAG_T = 1, /* ABORT, SHUTDOWN-COMPLETE: tag is the sender's own */
    HDR = 12,   /* common header */
    DATA_HDR = 16,
    WINDOW = 16384, /* TSNs tracked above the cumulative TSN */
    MAX_GAPS = 64,
    MAX_DUPS = 16,
    MAX_RESET_SIDS = 32,
    MAX_FWD_STREAMS = 64,
    COOKIE_BODY = 40,
    COOKIE_LEN = COOKIE_BODY + 32, /* + HMAC-SHA256 */
    HB_INFO_LEN = 16,
    RESULT_PERFORMED = 1,
    RESULT_DENIED = 2,
    RESULT_BAD_SEQ = 5,
    RESULT_IN_PROGRESS = 6,
    EDMID_DTLS = 1,
};

#define MS ((uint64_t)1000000)
#define DELAYED_SACK_NS (200 * MS)
#define COOKIE_LIFE_NS (60000 * MS)

/* Serial number arithmetic (RFC 1982) for TSNs and SSNs. */
static bool tsn_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static bool tsn_le(uint32_t a, uint32_t b)
{
    return a == b || tsn_lt(a, b);
}

static bool ssn_le(uint16_t a, uint16_t b)
{
    return (int16_t)(uint16_t)(a - b) <= 0;
}

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/* --- structures ----------------------------------------------------------- */

enum oc_state { OC_QUEUED, OC_INFLIGHT, OC_RTX, OC_ACKED, OC_ABANDONED };

/* A DATA chunk we send, with its payload. */
typedef struct out_chunk {
    struct out_chunk *next;
    uint64_t msg_id;
    uint64_t expires_ns; /* 0: no lifetime */
    uint64_t sent_ns;
    int32_t max_rtx; /* < 0: unlimited */
    uint32_t tsn, ppid;
    uint16_t sid, ssn, len;
    uint8_t flags, state, nsent, misses;
    bool fast_done, released;
    uint8_t data[];
} out_chunk;

/* A DATA chunk received and not yet delivered. */
typedef struct rx_chunk {
    struct rx_chunk *next;
    uint32_t tsn, ppid;
    uint16_t ssn, len;
    uint8_t flags;
    uint8_t data[];
} rx_chunk;

enum reset_state { RS_NONE, RS_WANTED, RS_REQUESTED };

typedef struct stream {
    uint16_t sid;
    uint16_t out_ssn, in_ssn;
    uint8_t reset;       /* enum reset_state, our outgoing side */
    size_t buffered;     /* ours, unacknowledged */
    uint32_t pending;    /* our chunks without a TSN yet */
    rx_chunk *ordered;   /* by SSN then TSN */
    rx_chunk *unordered; /* by TSN */
} stream;

typedef struct peer_params {
    uint32_t tag, rwnd, tsn;
    uint16_t os, mis;
    bool fwd_tsn, reconfig, zero_csum;
    const uint8_t *cookie;
    size_t cookie_len;
} peer_params;

struct lksctp {
    lksctp_callbacks cb;
    lksctp_config cfg;
    enum lksctp_state state;
    enum lksctp_close_reason reason;
    int depth;
    uint8_t secret[32];

    uint32_t my_tag, peer_tag;
    uint32_t my_initial_tsn;
    uint16_t n_out, n_in;
    bool peer_fwd_tsn, peer_reconfig, peer_zero_csum;
    uint8_t *cookie; /* the peer's, to echo */
    size_t cookie_len;

    /* send */
    uint32_t next_tsn, cum_acked, adv_ack;
    out_chunk *pend_head, *pend_tail;
    out_chunk *fl_head, *fl_tail;
    size_t buffered;
    uint32_t flight, cwnd, ssthresh, pba, peer_rwnd;
    uint32_t peer_window; /* the peer's whole receive window, from its INIT */
    bool fast_recovery, fast_pending, fwd_needed, want_writable, above_low;
    uint32_t recover_tsn;
    uint64_t msg_seq, last_msg;
    uint16_t last_ssn;

    /* RTO (RFC 9260 6.3.1), nanoseconds */
    uint64_t srtt, rttvar, rto;
    bool have_rtt;
    uint32_t errors;

    /* receive */
    uint32_t peer_cum, peer_high;
    uint8_t *seen; /* WINDOW bits, indexed by TSN % WINDOW */
    uint32_t dups[MAX_DUPS];
    int ndups;
    size_t rx_bytes;
    int data_pkts;
    bool sack_now, got_data, paused;

    stream **streams; /* sorted by sid; the structs never move */
    size_t nstreams, cap_streams;

    /* timers: 0 is off */
    uint64_t t1_at, t3_at, sack_at, t2_at, hb_at, reconf_at;
    uint32_t t1_count, t2_count;
    uint64_t t1_rto;

    /* heartbeat */
    uint64_t hb_nonce;
    bool hb_outstanding;

    /* RE-CONFIG */
    uint32_t my_req_seq, peer_req_next;
    uint8_t last_result;
    bool reconf_inflight;
    uint16_t reset_sids[MAX_RESET_SIDS];
    int nreset;
    uint32_t reset_last_tsn;

    /* output packet under construction */
    uint8_t *out;
    size_t out_len;

    lksctp_stats st;
};

/* --- helpers ------------------------------------------------------------- */

static void default_random(void *buf, size_t n)
{
    if (RAND_bytes(buf, (int)n) != 1)
        abort(); /* no randomness: nothing here can be trusted */
}

static uint32_t random32(lksctp *a)
{
    uint32_t v;
    a->cfg.random(&v, sizeof v);
    return v;
}

static uint32_t frag_size(const lksctp *a)
{
    return a->cfg.mtu - HDR - DATA_HDR;
}

static void set_state(lksctp *a, enum lksctp_state s)
{
    if (a->state == s)
        return;
    a->state = s;
    if (a->cb.state_changed)
        a->cb.state_changed(a->cb.ctx, s);
}

static bool can_send_data_state(const lksctp *a)
{
    return a->state == LKSCTP_ESTABLISHED || a->state == LKSCTP_SHUTDOWN_PENDING ||
           a->state == LKSCTP_SHUTDOWN_RECEIVED;
}

static bool can_receive_data_state(const lksctp *a)
{
    return a->state == LKSCTP_ESTABLISHED || a->state == LKSCTP_SHUTDOWN_PENDING ||
           a->state == LKSCTP_SHUTDOWN_SENT;
}

static stream *stream_find(const lksctp *a, uint16_t sid)
{
    size_t lo = 0, hi = a->nstreams;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->streams[mid]->sid == sid)
            return a->streams[mid];
        if (a->streams[mid]->sid < sid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static stream *stream_get(lksctp *a, uint16_t sid)
{
    stream *s = stream_find(a, sid);
    if (s)
        return s;
    if (a->nstreams == a->cap_streams) {
        size_t cap = a->cap_streams ? a->cap_streams * 2 : 8;
        stream **n = realloc(a->streams, cap * sizeof *n);
        if (!n)
            return NULL;
        a->streams = n;
        a->cap_streams = cap;
    }
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->sid = sid;
    size_t i = a->nstreams;
    while (i > 0 && a->streams[i - 1]->sid > sid) {
        a->streams[i] = a->streams[i - 1];
        i--;
    }
    a->streams[i] = s;
    a->nstreams++;
    return s;
}

/* --- RTO ------------------------------------------------------------------ */

static void rtt_sample(lksctp *a, uint64_t r)
{
    if (!a->have_rtt) {
        a->srtt = r;
        a->rttvar = r / 2;
        a->have_rtt = true;
    } else {
        uint64_t diff = a->srtt > r ? a->srtt - r : r - a->srtt;
        a->rttvar = (3 * a->rttvar + diff) / 4;
        a->srtt = (7 * a->srtt + r) / 8;
    }
    uint64_t var4 = 4 * a->rttvar;
    if (var4 < MS)
        var4 = MS; /* clock granularity G */
    a->rto = a->srtt + var4;
    if (a->rto < a->cfg.rto_min_ms * MS)
        a->rto = a->cfg.rto_min_ms * MS;
    if (a->rto > a->cfg.rto_max_ms * MS)
        a->rto = a->cfg.rto_max_ms * MS;
}

static void rto_backoff(lksctp *a)
{
    a->rto *= 2;
    if (a->rto > a->cfg.rto_max_ms * MS)
        a->rto = a->cfg.rto_max_ms * MS;
}

/* --- output --------------------------------------------------------------- */

static void emit(lksctp *a, uint8_t *pkt, size_t len, uint32_t vtag)
{
    lkrtc_wr16(pkt, a->cfg.local_port);
    lkrtc_wr16(pkt + 2, a->cfg.remote_port);
    lkrtc_wr32(pkt + 4, vtag);
    memset(pkt + 8, 0, 4);
    /* Stored least significant byte first (RFC 9260 appendix A). We always
     * send a checksum: RFC 9653 lets us, and it costs little. */
    uint32_t crc = lkcrc32c(pkt, len);
    pkt[8] = (uint8_t)crc;
    pkt[9] = (uint8_t)(crc >> 8);
    pkt[10] = (uint8_t)(crc >> 16);
    pkt[11] = (uint8_t)(crc >> 24);
    a->st.packets_sent++;
    if (a->cb.send)
        a->cb.send(a->cb.ctx, pkt, len);
}

static void out_flush(lksctp *a)
{
    if (a->out_len > HDR)
        emit(a, a->out, a->out_len, a->peer_tag);
    a->out_len = HDR;
}

/* Room for one chunk of body_len bytes in the packet under construction,
 * sent first if full. Returns the chunk's start with its header written;
 * NULL if it could never fit. */
static uint8_t *put_chunk(lksctp *a, uint8_t type, uint8_t flags, size_t body_len)
{
    size_t need = pad4(4 + body_len);
    if (HDR + need > a->cfg.mtu)
        return NULL;
    if (a->out_len + need > a->cfg.mtu)
        out_flush(a);
    uint8_t *c = a->out + a->out_len;
    memset(c, 0, need);
    c[0] = type;
    c[1] = flags;
    lkrtc_wr16(c + 2, (uint16_t)(4 + body_len));
    a->out_len += need;
    return c;
}

/* A packet of one chunk with its own verification tag (INIT, INIT-ACK,
 * T-bit replies), never bundled. */
static void send_alone(lksctp *a, uint32_t vtag, uint8_t type, uint8_t flags,
                       const uint8_t *body, size_t len)
{
    size_t total = HDR + pad4(4 + len);
    if (total > a->cfg.mtu)
        return;
    out_flush(a);
    uint8_t *p = a->out;
    memset(p, 0, total);
    p[HDR] = type;
    p[HDR + 1] = flags;
    lkrtc_wr16(p + HDR + 2, (uint16_t)(4 + len));
    if (len)
        memcpy(p + HDR + 4, body, len);
    emit(a, p, total, vtag);
}

/* --- closing -------------------------------------------------------------- */

static void close_assoc(lksctp *a, enum lksctp_close_reason why)
{
    if (a->state == LKSCTP_CLOSED)
        return;
    a->t1_at = a->t3_at = a->sack_at = a->t2_at = a->hb_at = a->reconf_at = 0;
    a->sack_now = false;
    a->reason = why;
    set_state(a, LKSCTP_CLOSED);
}

static void send_abort(lksctp *a, uint16_t cause, const char *reason)
{
    if (!a->peer_tag)
        return;
    uint8_t body[4 + 128];
    size_t len = 0;
    if (cause) {
        size_t rl = reason ? strlen(reason) : 0;
        if (rl > 120)
            rl = 120;
        lkrtc_wr16(body, cause);
        lkrtc_wr16(body + 2, (uint16_t)(4 + rl));
        if (rl)
            memcpy(body + 4, reason, rl);
        len = 4 + rl;
    }
    uint8_t *c = put_chunk(a, CT_ABORT, 0, len);
    if (c && len)
        memcpy(c + 4, body, len);
    out_flush(a);
}

/* The peer broke the protocol: tell it and give up. */
static void protocol_violation(lksctp *a, const char *why)
{
    send_abort(a, 13, why);
    close_assoc(a, LKSCTP_BY_PROTOCOL);
}

/* --- INIT, INIT-ACK, cookies ---------------------------------------------- */

/* The parameters we announce, after the fixed part of INIT / INIT-ACK. */
static size_t write_init_params(const lksctp *a, uint8_t *p)
{
    size_t n = 0;
    /* Supported Extensions: RE-CONFIG and FORWARD-TSN (RFC 5061 4.2.7) */
    lkrtc_wr16(p + n, PT_SUPPORTED_EXT);
    lkrtc_wr16(p + n + 2, 6);
    p[n + 4] = CT_RECONFIG;
    p[n + 5] = CT_FORWARD_TSN;
    p[n + 6] = p[n + 7] = 0;
    n += 8;
    lkrtc_wr16(p + n, PT_FORWARD_TSN_SUPPORTED);
    lkrtc_wr16(p + n + 2, 4);
    n += 4;
    if (!a->cfg.no_zero_checksum) {
        lkrtc_wr16(p + n, PT_ZERO_CHECKSUM);
        lkrtc_wr16(p + n + 2, 8);
        lkrtc_wr32(p + n + 4, EDMID_DTLS);
        n += 8;
    }
    return n;
}

static size_t write_init_fixed(const lksctp *a, uint8_t *p)
{
    lkrtc_wr32(p, a->my_tag);
    lkrtc_wr32(p + 4, a->cfg.rwnd);
    lkrtc_wr16(p + 8, 65535); /* outbound streams */
    lkrtc_wr16(p + 10, 65535); /* inbound streams */
    lkrtc_wr32(p + 12, a->my_initial_tsn);
    return 16;
}

/* Parses the body of INIT or INIT-ACK. -1 if malformed. */
static int parse_init(const uint8_t *b, size_t len, peer_params *pp)
{
    memset(pp, 0, sizeof *pp);
    if (len < 16)
        return -1;
    pp->tag = lkrtc_rd32(b);
    pp->rwnd = lkrtc_rd32(b + 4);
    pp->os = lkrtc_rd16(b + 8);
    pp->mis = lkrtc_rd16(b + 10);
    pp->tsn = lkrtc_rd32(b + 12);
    if (pp->tag == 0 || pp->os == 0 || pp->mis == 0)
        return -1;
    size_t off = 16;
    while (off + 4 <= len) {
        uint16_t type = lkrtc_rd16(b + off), plen = lkrtc_rd16(b + off + 2);
        if (plen < 4 || off + plen > len)
            return -1;
        const uint8_t *v = b + off + 4;
        size_t vlen = plen - 4u;
        switch (type) {
        case PT_STATE_COOKIE:
            pp->cookie = v;
            pp->cookie_len = vlen;
            break;
        case PT_SUPPORTED_EXT:
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] == CT_FORWARD_TSN)
                    pp->fwd_tsn = true;
                if (v[i] == CT_RECONFIG)
                    pp->reconfig = true;
            }
            break;
        case PT_FORWARD_TSN_SUPPORTED:
            pp->fwd_tsn = true;
            break;
        case PT_ZERO_CHECKSUM:
            pp->zero_csum = vlen >= 4 && lkrtc_rd32(v) == EDMID_DTLS;
            break;
        default:
            /* Unknown: the top bits say skip (1x) or stop (0x); we never
             * report (nothing we offer depends on it). */
            if (!(type & 0x8000))
                return 0;
            break;
        }
        off += pad4(plen);
    }
    return 0;
}

static void cookie_mac(const lksctp *a, const uint8_t *body, uint8_t out[32])
{
    unsigned outlen = 32;
    HMAC(EVP_sha256(), a->secret, sizeof a->secret, body, COOKIE_BODY, out, &outlen);
}

static void make_cookie(const lksctp *a, const peer_params *pp, uint64_t now, uint8_t *c)
{
    memset(c, 0, COOKIE_LEN);
    lkrtc_wr64(c, now);
    lkrtc_wr32(c + 8, a->my_tag);
    lkrtc_wr32(c + 12, pp->tag);
    lkrtc_wr32(c + 16, pp->tsn);
    lkrtc_wr32(c + 20, pp->rwnd);
    lkrtc_wr16(c + 24, pp->os);
    lkrtc_wr16(c + 26, pp->mis);
    c[28] = (uint8_t)(pp->fwd_tsn | pp->reconfig << 1 | pp->zero_csum << 2);
    lkrtc_wr32(c + 32, a->my_initial_tsn);
    cookie_mac(a, c, c + COOKIE_BODY);
}

/* 0 and the peer's parameters if ours, authentic and fresh. */
static int check_cookie(const lksctp *a, const uint8_t *c, size_t len, uint64_t now,
                        peer_params *pp)
{
    if (len != COOKIE_LEN)
        return -1;
    uint8_t mac[32];
    cookie_mac(a, c, mac);
    if (CRYPTO_memcmp(mac, c + COOKIE_BODY, 32) != 0)
        return -1;
    uint64_t born = lkrtc_rd64(c);
    if (born > now || now - born > COOKIE_LIFE_NS)
        return -1;
    if (lkrtc_rd32(c + 8) != a->my_tag)
        return -1;
    memset(pp, 0, sizeof *pp);
    pp->tag = lkrtc_rd32(c + 12);
    pp->tsn = lkrtc_rd32(c + 16);
    pp->rwnd = lkrtc_rd32(c + 20);
    pp->os = lkrtc_rd16(c + 24);
    pp->mis = lkrtc_rd16(c + 26);
    pp->fwd_tsn = c[28] & 1;
    pp->reconfig = c[28] & 2;
    pp->zero_csum = c[28] & 4;
    return 0;
}

static void send_init(lksctp *a)
{
    uint8_t body[64];
    size_t n = write_init_fixed(a, body);
    n += write_init_params(a, body + n);
    send_alone(a, 0, CT_INIT, 0, body, n);
}

static void send_cookie_echo(lksctp *a)
{
    uint8_t *c = put_chunk(a, CT_COOKIE_ECHO, 0, a->cookie_len);
    if (c)
        memcpy(c + 4, a->cookie, a->cookie_len);
}

/* Takes the peer's parameters: the association's receive side starts. */
static void adopt_peer(lksctp *a, const peer_params *pp)
{
    a->peer_tag = pp->tag;
    a->peer_cum = pp->tsn - 1;
    a->peer_high = a->peer_cum;
    memset(a->seen, 0, WINDOW / 8);
    a->peer_rwnd = a->peer_window = pp->rwnd;
    a->ssthresh = pp->rwnd;
    a->n_out = pp->mis;
    a->n_in = pp->os;
    a->peer_fwd_tsn = pp->fwd_tsn;
    a->peer_reconfig = pp->reconfig;
    a->peer_zero_csum = pp->zero_csum;
    a->peer_req_next = pp->tsn;
}

static void establish(lksctp *a, uint64_t now)
{
    a->t1_at = 0;
    a->hb_at = now + a->cfg.heartbeat_ms * MS;
    set_state(a, LKSCTP_ESTABLISHED);
}

static void on_init(lksctp *a, const uint8_t *b, size_t len, uint64_t now)
{
    peer_params pp;
    if (parse_init(b, len, &pp) < 0) {
        a->st.bad_packets++;
        return;
    }
    if (a->state == LKSCTP_SHUTDOWN_ACK_SENT) {
        uint8_t *c = put_chunk(a, CT_SHUTDOWN_ACK, 0, 0);
        (void)c;
        return;
    }
    if (a->state != LKSCTP_NEW && a->state != LKSCTP_COOKIE_WAIT &&
        a->state != LKSCTP_COOKIE_ECHOED && a->state != LKSCTP_ESTABLISHED)
        return;
    /* Answer with the same tag and TSN as our own INIT (RFC 9260 5.2.1), so
     * an INIT collision ends in one association whichever cookie wins. */
    uint8_t body[160];
    size_t n = write_init_fixed(a, body);
    n += write_init_params(a, body + n);
    lkrtc_wr16(body + n, PT_STATE_COOKIE);
    lkrtc_wr16(body + n + 2, 4 + COOKIE_LEN);
    make_cookie(a, &pp, now, body + n + 4);
    n += 4 + COOKIE_LEN;
    send_alone(a, pp.tag, CT_INIT_ACK, 0, body, n);
}

static void on_init_ack(lksctp *a, const uint8_t *b, size_t len, uint64_t now)
{
    if (a->state != LKSCTP_COOKIE_WAIT)
        return; /* late or duplicated (RFC 9260 5.2.3) */
    peer_params pp;
    if (parse_init(b, len, &pp) < 0 || !pp.cookie || pp.cookie_len == 0 ||
        pp.cookie_len > a->cfg.mtu - HDR - 4) {
        a->st.bad_packets++;
        return;
    }
    uint8_t *copy = malloc(pp.cookie_len);
    if (!copy)
        return;
    memcpy(copy, pp.cookie, pp.cookie_len);
    free(a->cookie);
    a->cookie = copy;
    a->cookie_len = pp.cookie_len;
    adopt_peer(a, &pp);
    send_cookie_echo(a);
    a->t1_count = 0;
    a->t1_rto = a->cfg.rto_initial_ms * MS;
    a->t1_at = now + a->t1_rto;
    set_state(a, LKSCTP_COOKIE_ECHOED);
}

static void on_cookie_echo(lksctp *a, const uint8_t *b, size_t len, uint64_t now)
{
    peer_params pp;
    if (check_cookie(a, b, len, now, &pp) < 0) {
        a->st.bad_packets++;
        return;
    }
    switch (a->state) {
    case LKSCTP_NEW:
    case LKSCTP_COOKIE_WAIT:
    case LKSCTP_COOKIE_ECHOED:
        adopt_peer(a, &pp);
        (void)put_chunk(a, CT_COOKIE_ACK, 0, 0);
        establish(a, now);
        break;
    case LKSCTP_ESTABLISHED:
        /* our COOKIE-ACK was lost; a different peer tag would be a restart,
         * which WebRTC peers never do: ignored */
        if (pp.tag == a->peer_tag)
            (void)put_chunk(a, CT_COOKIE_ACK, 0, 0);
        break;
    default:
        break;
    }
}

static void on_cookie_ack(lksctp *a, uint64_t now)
{
    if (a->state != LKSCTP_COOKIE_ECHOED)
        return;
    free(a->cookie);
    a->cookie = NULL;
    a->cookie_len = 0;
    establish(a, now);
}

/* --- sending data --------------------------------------------------------- */

/* The chunk's bytes no longer count as buffered. */
static void release(lksctp *a, out_chunk *c)
{
    if (c->released)
        return;
    c->released = true;
    a->buffered -= c->len;
    stream *s = stream_find(a, c->sid);
    if (s)
        s->buffered -= c->len;
}

static bool should_abandon(const out_chunk *c, uint64_t now)
{
    if (c->max_rtx >= 0 && c->nsent > c->max_rtx)
        return true;
    return c->expires_ns && now >= c->expires_ns;
}

/* Gives up on a whole message (RFC 3758 3.5): its unsent pieces go, the
 * sent ones wait for the FORWARD-TSN that skips them. */
static void abandon_msg(lksctp *a, uint64_t msg_id)
{
    for (out_chunk *c = a->fl_head; c; c = c->next) {
        if (c->msg_id != msg_id || c->state == OC_ABANDONED)
            continue;
        if (c->state == OC_INFLIGHT)
            a->flight -= c->len;
        if (c->state != OC_ACKED)
            c->state = OC_ABANDONED;
        release(a, c);
    }
    out_chunk **pp = &a->pend_head, *prev = NULL;
    while (*pp) {
        out_chunk *c = *pp;
        if (c->msg_id == msg_id) {
            *pp = c->next;
            release(a, c);
            stream *s = stream_find(a, c->sid);
            if (s)
                s->pending--;
            free(c);
            continue;
        }
        prev = c;
        pp = &c->next;
    }
    a->pend_tail = prev;
    a->st.abandoned_messages++;
    a->fwd_needed = true;
}

static void put_data_chunk(lksctp *a, out_chunk *c, uint64_t now)
{
    uint8_t *p = put_chunk(a, CT_DATA, c->flags, 12 + c->len);
    if (!p)
        return;
    lkrtc_wr32(p + 4, c->tsn);
    lkrtc_wr16(p + 8, c->sid);
    lkrtc_wr16(p + 10, c->ssn);
    lkrtc_wr32(p + 12, c->ppid);
    memcpy(p + 16, c->data, c->len);
    c->sent_ns = now;
    c->nsent++;
    c->state = OC_INFLIGHT;
    a->flight += c->len;
    a->peer_rwnd = a->peer_rwnd > c->len ? a->peer_rwnd - c->len : 0;
}

static void send_retransmissions(lksctp *a, uint64_t now)
{
    /* the first packet of a fast retransmit ignores cwnd (7.2.4) */
    uint32_t extra = a->fast_pending ? a->cfg.mtu : 0;
    a->fast_pending = false;
    for (out_chunk *c = a->fl_head; c; c = c->next) {
        if (c->state != OC_RTX)
            continue;
        if (a->peer_fwd_tsn && should_abandon(c, now)) {
            abandon_msg(a, c->msg_id);
            continue;
        }
        if (a->flight >= a->cwnd) {
            if (extra < c->len)
                break;
            extra -= c->len;
        }
        put_data_chunk(a, c, now);
        a->st.retransmissions++;
    }
}

/* Drops a message at the head of the pending queue whose lifetime ran out
 * before any of it was sent. */
static bool drop_expired_head(lksctp *a, uint64_t now)
{
    out_chunk *c = a->pend_head;
    if (!c->expires_ns || now < c->expires_ns || !a->peer_fwd_tsn)
        return false;
    abandon_msg(a, c->msg_id);
    return true;
}

static void send_new_data(lksctp *a, uint64_t now)
{
    while (a->pend_head) {
        if (drop_expired_head(a, now))
            continue;
        out_chunk *c = a->pend_head;
        if (a->flight >= a->cwnd)
            break;
        /* with nothing in flight one chunk goes out as a window probe */
        if (c->len > a->peer_rwnd && a->flight > 0)
            break;
        a->pend_head = c->next;
        if (!a->pend_head)
            a->pend_tail = NULL;
        c->next = NULL;
        stream *s = stream_find(a, c->sid);
        if (s)
            s->pending--;
        c->tsn = a->next_tsn++;
        if (c->flags & DATA_U)
            c->ssn = 0;
        else if ((c->flags & DATA_B) || c->msg_id != a->last_msg)
            c->ssn = s ? s->out_ssn++ : 0;
        else
            c->ssn = a->last_ssn;
        a->last_msg = c->msg_id;
        a->last_ssn = c->ssn;
        if (a->fl_tail)
            a->fl_tail->next = c;
        else
            a->fl_head = c;
        a->fl_tail = c;
        /* The last of a burst asks for its SACK at once (RFC 7053): the
         * peer would otherwise hold it for its delayed-ack timer (pion:
         * 200 ms), and our buffered amount, and a leave waiting for it to
         * drain, with it. Retransmissions keep the bit. */
        if (!a->pend_head)
            c->flags |= DATA_I;
        put_data_chunk(a, c, now);
    }
}

static void put_forward_tsn(lksctp *a)
{
    a->fwd_needed = false;
    if (!tsn_lt(a->cum_acked, a->adv_ack))
        return;
    uint16_t sids[MAX_FWD_STREAMS], ssns[MAX_FWD_STREAMS];
    int n = 0;
    for (out_chunk *c = a->fl_head; c && tsn_le(c->tsn, a->adv_ack); c = c->next) {
        if (c->flags & DATA_U)
            continue;
        int i = 0;
        while (i < n && sids[i] != c->sid)
            i++;
        if (i == n) {
            if (n == MAX_FWD_STREAMS)
                continue;
            sids[n] = c->sid;
            ssns[n++] = c->ssn;
        } else if (ssn_le(ssns[i], c->ssn)) {
            ssns[i] = c->ssn;
        }
    }
    uint8_t *p = put_chunk(a, CT_FORWARD_TSN, 0, 4 + 4 * (size_t)n);
    if (!p)
        return;
    lkrtc_wr32(p + 4, a->adv_ack);
    for (int i = 0; i < n; i++) {
        lkrtc_wr16(p + 8 + 4 * i, sids[i]);
        lkrtc_wr16(p + 10 + 4 * i, ssns[i]);
    }
    a->st.forward_tsns_sent++;
}

/* --- receiving: SACK generation ----------------------------------------- */

static bool seen_get(const lksctp *a, uint32_t tsn)
{
    uint32_t i = tsn % WINDOW;
    return a->seen[i / 8] & (1u << (i % 8));
}

static void seen_set(lksctp *a, uint32_t tsn, bool v)
{
    uint32_t i = tsn % WINDOW;
    if (v)
        a->seen[i / 8] |= (uint8_t)(1u << (i % 8));
    else
        a->seen[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

static uint32_t our_rwnd(const lksctp *a)
{
    return a->rx_bytes >= a->cfg.rwnd ? 0 : (uint32_t)(a->cfg.rwnd - a->rx_bytes);
}

static void put_sack(lksctp *a)
{
    uint16_t gaps[MAX_GAPS][2];
    int ngaps = 0;
    uint32_t span = a->peer_high - a->peer_cum;
    uint32_t off = 1;
    while (off <= span && ngaps < MAX_GAPS) {
        while (off <= span && !seen_get(a, a->peer_cum + off))
            off++;
        if (off > span)
            break;
        uint32_t start = off;
        while (off <= span && seen_get(a, a->peer_cum + off))
            off++;
        gaps[ngaps][0] = (uint16_t)start;
        gaps[ngaps][1] = (uint16_t)(off - 1);
        ngaps++;
    }
    uint8_t *p = put_chunk(a, CT_SACK, 0, 12 + 4 * (size_t)ngaps + 4 * (size_t)a->ndups);
    if (p) {
        lkrtc_wr32(p + 4, a->peer_cum);
        lkrtc_wr32(p + 8, our_rwnd(a));
        lkrtc_wr16(p + 12, (uint16_t)ngaps);
        lkrtc_wr16(p + 14, (uint16_t)a->ndups);
        uint8_t *q = p + 16;
        for (int i = 0; i < ngaps; i++, q += 4) {
            lkrtc_wr16(q, gaps[i][0]);
            lkrtc_wr16(q + 2, gaps[i][1]);
        }
        for (int i = 0; i < a->ndups; i++, q += 4)
            lkrtc_wr32(q, a->dups[i]);
    }
    a->ndups = 0;
    a->sack_now = false;
    a->sack_at = 0;
    a->data_pkts = 0;
}

/* --- RE-CONFIG, our requests ---------------------------------------------- */

static void put_reset_request(lksctp *a)
{
    uint8_t *p = put_chunk(a, CT_RECONFIG, 0, 16 + 2 * (size_t)a->nreset);
    if (!p)
        return;
    lkrtc_wr16(p + 4, PT_OUT_RESET);
    lkrtc_wr16(p + 6, (uint16_t)(16 + 2 * a->nreset));
    lkrtc_wr32(p + 8, a->my_req_seq);
    lkrtc_wr32(p + 12, a->peer_req_next - 1);
    lkrtc_wr32(p + 16, a->reset_last_tsn);
    for (int i = 0; i < a->nreset; i++)
        lkrtc_wr16(p + 20 + 2 * i, a->reset_sids[i]);
}

/* One request at a time (RFC 6525 5.1.1), for the streams whose queued
 * data all have TSNs: the receiver then waits for exactly those. */
static void maybe_request_reset(lksctp *a, uint64_t now)
{
    if (a->reconf_inflight || !a->peer_reconfig || a->state != LKSCTP_ESTABLISHED)
        return;
    a->nreset = 0;
    for (size_t i = 0; i < a->nstreams && a->nreset < MAX_RESET_SIDS; i++) {
        stream *s = a->streams[i];
        if (s->reset == RS_WANTED && s->pending == 0)
            a->reset_sids[a->nreset++] = s->sid;
    }
    if (a->nreset == 0)
        return;
    for (int i = 0; i < a->nreset; i++)
        stream_find(a, a->reset_sids[i])->reset = RS_REQUESTED;
    a->reset_last_tsn = a->next_tsn - 1;
    a->reconf_inflight = true;
    a->reconf_at = now + a->rto;
    put_reset_request(a);
}

/* --- shutdown progress ------------------------------------------------------ */

static void shutdown_progress(lksctp *a, uint64_t now)
{
    if (a->pend_head || a->fl_head)
        return;
    if (a->state == LKSCTP_SHUTDOWN_PENDING) {
        uint8_t *p = put_chunk(a, CT_SHUTDOWN, 0, 4);
        if (p)
            lkrtc_wr32(p + 4, a->peer_cum);
        a->t2_count = 0;
        a->t2_at = now + a->rto;
        a->t3_at = 0;
        set_state(a, LKSCTP_SHUTDOWN_SENT);
    } else if (a->state == LKSCTP_SHUTDOWN_RECEIVED) {
        (void)put_chunk(a, CT_SHUTDOWN_ACK, 0, 0);
        a->t2_count = 0;
        a->t2_at = now + a->rto;
        a->t3_at = 0;
        set_state(a, LKSCTP_SHUTDOWN_ACK_SENT);
    }
}

/* --- flush: everything due goes out ---------------------------------------- */

static bool has_rtx(const lksctp *a)
{
    for (const out_chunk *c = a->fl_head; c; c = c->next)
        if (c->state == OC_RTX)
            return true;
    return false;
}

static void flush(lksctp *a, uint64_t now)
{
    bool sending = can_send_data_state(a) || a->state == LKSCTP_SHUTDOWN_SENT;
    if (sending && a->sack_at &&
        ((a->pend_head && a->flight < a->cwnd) || has_rtx(a)))
        a->sack_now = true; /* piggyback instead of waiting */
    if (a->sack_now && a->state != LKSCTP_CLOSED)
        put_sack(a);
    if (sending) {
        if (a->fwd_needed)
            put_forward_tsn(a);
        maybe_request_reset(a, now);
        send_retransmissions(a, now);
        if (can_send_data_state(a))
            send_new_data(a, now);
        if (a->fl_head && !a->t3_at)
            a->t3_at = now + a->rto;
        shutdown_progress(a, now);
    }
    out_flush(a);
}

static void enter(lksctp *a)
{
    a->depth++;
}

static void leave(lksctp *a, uint64_t now)
{
    if (--a->depth > 0)
        return;
    a->depth = 1;
    flush(a, now);
    if (a->buffered <= a->cfg.low_water && (a->want_writable || a->above_low)) {
        a->want_writable = a->above_low = false;
        if (a->state != LKSCTP_CLOSED && a->cb.writable) {
            a->cb.writable(a->cb.ctx);
            flush(a, now); /* what the callback queued */
        }
    }
    a->depth = 0;
}

/* --- SACK processing -------------------------------------------------------- */

static void advance_ack_point(lksctp *a)
{
    if (tsn_lt(a->adv_ack, a->cum_acked))
        a->adv_ack = a->cum_acked;
    for (out_chunk *c = a->fl_head; c; c = c->next) {
        if (tsn_le(c->tsn, a->adv_ack))
            continue;
        if (c->tsn != a->adv_ack + 1 || c->state != OC_ABANDONED)
            break;
        a->adv_ack = c->tsn;
    }
}

/* Frees what the cumulative ack covers. Returns bytes newly acknowledged. */
static uint32_t ack_cumulative(lksctp *a, uint32_t cum, uint64_t now)
{
    uint32_t acked = 0;
    uint64_t sample = 0;
    while (a->fl_head && tsn_le(a->fl_head->tsn, cum)) {
        out_chunk *c = a->fl_head;
        a->fl_head = c->next;
        if (c->state == OC_INFLIGHT) {
            a->flight -= c->len;
            if (c->nsent == 1)
                sample = now - c->sent_ns; /* Karn: never a retransmitted one */
        }
        if (c->state == OC_INFLIGHT || c->state == OC_RTX)
            acked += c->len;
        release(a, c);
        free(c);
    }
    if (!a->fl_head)
        a->fl_tail = NULL;
    if (sample)
        rtt_sample(a, sample);
    a->cum_acked = cum;
    return acked;
}

static void on_sack(lksctp *a, const uint8_t *b, size_t len, uint64_t now)
{
    if (len < 12) {
        a->st.bad_packets++;
        return;
    }
    uint32_t cum = lkrtc_rd32(b), arwnd = lkrtc_rd32(b + 4);
    size_t ngaps = lkrtc_rd16(b + 8), ndups = lkrtc_rd16(b + 10);
    if (12 + 4 * (ngaps + ndups) > len) {
        a->st.bad_packets++;
        return;
    }
    if (!can_send_data_state(a) && a->state != LKSCTP_SHUTDOWN_SENT)
        return;
    if (tsn_lt(cum, a->cum_acked))
        return; /* older than one already processed */
    if (!tsn_lt(cum, a->next_tsn)) {
        protocol_violation(a, "SACK for a TSN never sent");
        return;
    }
    uint32_t flight_before = a->flight;
    bool advanced = cum != a->cum_acked;
    uint32_t newly = ack_cumulative(a, cum, now);

    /* gap blocks: mark chunks acknowledged, remember the highest */
    uint32_t htna = cum;
    bool any_gap_ack = false;
    out_chunk *c = a->fl_head;
    uint32_t last_end = 0;
    for (size_t i = 0; i < ngaps; i++) {
        uint16_t s = lkrtc_rd16(b + 12 + 4 * i), e = lkrtc_rd16(b + 14 + 4 * i);
        if (s == 0 || e < s || (i > 0 && s <= last_end))
            break; /* malformed or unsorted: use what came before */
        last_end = e;
        uint32_t lo = cum + s, hi = cum + e;
        while (c && tsn_lt(c->tsn, lo))
            c = c->next;
        for (; c && tsn_le(c->tsn, hi); c = c->next) {
            if (c->state == OC_INFLIGHT || c->state == OC_RTX) {
                if (c->state == OC_INFLIGHT)
                    a->flight -= c->len;
                c->state = OC_ACKED;
                newly += c->len;
                htna = c->tsn;
                any_gap_ack = true;
            }
        }
    }

    /* fast retransmit (7.2.4): misses counted below the highest newly acked */
    bool fast = false;
    if (any_gap_ack) {
        for (c = a->fl_head; c && tsn_lt(c->tsn, htna); c = c->next) {
            if (c->state != OC_INFLIGHT || c->fast_done)
                continue;
            if (++c->misses < 3)
                continue;
            c->misses = 0;
            c->fast_done = true;
            a->flight -= c->len;
            c->state = OC_RTX;
            fast = true;
            a->st.fast_retransmits++;
        }
    }
    if (a->fast_recovery && !tsn_lt(cum, a->recover_tsn))
        a->fast_recovery = false;
    if (fast && !a->fast_recovery) {
        uint32_t floor = 4 * a->cfg.mtu;
        a->ssthresh = a->cwnd / 2 > floor ? a->cwnd / 2 : floor;
        a->cwnd = a->ssthresh;
        a->pba = 0;
        a->fast_recovery = true;
        a->recover_tsn = a->next_tsn - 1;
        a->fast_pending = true;
    }

    /* congestion window (7.2.1, 7.2.2) */
    if (advanced && !a->fast_recovery) {
        if (a->cwnd <= a->ssthresh) {
            if (flight_before >= a->cwnd)
                a->cwnd += newly < a->cfg.mtu ? newly : a->cfg.mtu;
        } else {
            a->pba += newly;
            if (a->pba >= a->cwnd && flight_before >= a->cwnd) {
                a->pba -= a->cwnd;
                a->cwnd += a->cfg.mtu;
            }
        }
    }
    if (a->flight == 0)
        a->pba = 0;

    a->peer_rwnd = arwnd > a->flight ? arwnd - a->flight : 0;
    /* alive; a window too small for our next chunk is not a failure (a
     * dropped window probe is answered by a SACK like this one) */
    if (advanced || (a->fl_head && arwnd < a->fl_head->len) || arwnd == 0)
        a->errors = 0;
    if (advanced)
        a->t3_at = a->fl_head ? now + a->rto : 0;
    if (!a->fl_head)
        a->t3_at = 0;
    if (a->peer_fwd_tsn) {
        advance_ack_point(a);
        if (tsn_lt(a->cum_acked, a->adv_ack))
            a->fwd_needed = true;
    }
    if (a->buffered > a->cfg.low_water)
        a->above_low = true;
}

/* --- receiving DATA ---------------------------------------------------------- */

static void deliver(lksctp *a, uint16_t sid, rx_chunk *first, uint32_t count, size_t total,
                    bool unordered)
{
    if (count == 1) {
        if (a->cb.message)
            a->cb.message(a->cb.ctx, sid, first->ppid, first->data, first->len, unordered);
        return;
    }
    uint8_t *buf = malloc(total);
    if (!buf)
        return; /* lost: nothing better to do without memory */
    size_t off = 0;
    rx_chunk *c = first;
    for (uint32_t i = 0; i < count; i++, c = c->next) {
        memcpy(buf + off, c->data, c->len);
        off += c->len;
    }
    if (a->cb.message)
        a->cb.message(a->cb.ctx, sid, first->ppid, buf, total, unordered);
    free(buf);
}

/* Frees count chunks from *head. */
static void drop_chunks(lksctp *a, rx_chunk **head, uint32_t count)
{
    for (uint32_t i = 0; i < count && *head; i++) {
        rx_chunk *c = *head;
        *head = c->next;
        a->rx_bytes -= c->len;
        free(c);
    }
}

/* The length of a complete message starting at c: consecutive TSNs from a
 * B to an E (and, ordered, one SSN). 0 if incomplete. */
static uint32_t complete_run(lksctp *a, const rx_chunk *c, bool ordered, size_t *total,
                             bool *too_big)
{
    if (!(c->flags & DATA_B))
        return 0;
    uint32_t n = 0, tsn = c->tsn;
    uint16_t ssn = c->ssn;
    size_t bytes = 0;
    for (; c; c = c->next, tsn++) {
        if (c->tsn != tsn || (ordered && c->ssn != ssn) || (n > 0 && (c->flags & DATA_B)))
            return 0;
        bytes += c->len;
        n++;
        if (bytes > a->cfg.max_message_size) {
            *too_big = true;
            return 0;
        }
        if (c->flags & DATA_E) {
            *total = bytes;
            return n;
        }
    }
    return 0;
}

/* Hands up every message of the stream that is complete and due. */
static void deliver_stream(lksctp *a, stream *s)
{
    bool too_big = false;
    while (!a->paused && a->state != LKSCTP_CLOSED && s->ordered && s->ordered->ssn == s->in_ssn) {
        size_t total = 0;
        uint32_t n = complete_run(a, s->ordered, true, &total, &too_big);
        if (!n)
            break;
        s->in_ssn++;
        /* unlink first: the callback may re-enter */
        rx_chunk *first = s->ordered;
        rx_chunk *last = first;
        for (uint32_t i = 1; i < n; i++)
            last = last->next;
        s->ordered = last->next;
        last->next = NULL;
        deliver(a, s->sid, first, n, total, false);
        drop_chunks(a, &first, n);
    }
    rx_chunk **pp = &s->unordered;
    while (!a->paused && a->state != LKSCTP_CLOSED && *pp) {
        size_t total = 0;
        uint32_t n = complete_run(a, *pp, false, &total, &too_big);
        if (!n) {
            pp = &(*pp)->next;
            continue;
        }
        rx_chunk *first = *pp, *last = first;
        for (uint32_t i = 1; i < n; i++)
            last = last->next;
        *pp = last->next;
        last->next = NULL;
        deliver(a, s->sid, first, n, total, true);
        drop_chunks(a, &first, n);
        pp = &s->unordered; /* the callback may have changed the list */
    }
    if (too_big)
        protocol_violation(a, "message larger than max-message-size");
}

static void insert_sorted(rx_chunk **head, rx_chunk *n, bool by_ssn, uint16_t base_ssn)
{
    rx_chunk **pp = head;
    while (*pp) {
        rx_chunk *c = *pp;
        bool before;
        if (by_ssn && c->ssn != n->ssn)
            before = (uint16_t)(n->ssn - base_ssn) < (uint16_t)(c->ssn - base_ssn);
        else
            before = tsn_lt(n->tsn, c->tsn);
        if (before)
            break;
        pp = &c->next;
    }
    n->next = *pp;
    *pp = n;
}

static void advance_cum(lksctp *a)
{
    while (a->peer_cum != a->peer_high && seen_get(a, a->peer_cum + 1)) {
        a->peer_cum++;
        seen_set(a, a->peer_cum, false);
    }
}

static void record_dup(lksctp *a, uint32_t tsn)
{
    if (a->ndups < MAX_DUPS)
        a->dups[a->ndups++] = tsn;
    a->sack_now = true;
}

static void on_data(lksctp *a, uint8_t flags, const uint8_t *b, size_t len)
{
    if (len < 12) {
        a->st.bad_packets++;
        return;
    }
    if (!can_receive_data_state(a))
        return;
    a->got_data = true;
    if (flags & DATA_I)
        a->sack_now = true; /* the sender asks not to wait (RFC 7053) */
    uint32_t tsn = lkrtc_rd32(b), ppid = lkrtc_rd32(b + 8);
    uint16_t sid = lkrtc_rd16(b + 4), ssn = lkrtc_rd16(b + 6);
    size_t plen = len - 12;
    bool unordered = flags & DATA_U;
    if (tsn_le(tsn, a->peer_cum) || (tsn_lt(tsn, a->peer_high + 1) && seen_get(a, tsn))) {
        record_dup(a, tsn);
        return;
    }
    if (tsn - a->peer_cum >= WINDOW)
        return; /* too far ahead to track: the peer will send it again */
    if (plen == 0 || plen > UINT16_MAX) {
        protocol_violation(a, "DATA without user data");
        return;
    }
    /* no room: take only what fills holes (RFC 9260 6.2) */
    if (a->rx_bytes + plen > a->cfg.rwnd && tsn_lt(a->peer_high, tsn))
        return;
    seen_set(a, tsn, true);
    if (tsn_lt(a->peer_high, tsn))
        a->peer_high = tsn;
    advance_cum(a);
    if (sid >= a->n_in)
        return; /* acknowledged, but no such stream: dropped */
    stream *s = stream_get(a, sid);
    if (!s)
        return;
    if (!unordered && !ssn_le(s->in_ssn, ssn))
        return; /* skipped by a FORWARD-TSN already */
    /* the common case: a whole message, due now, delivered in place */
    if (!a->paused && (flags & (DATA_B | DATA_E)) == (DATA_B | DATA_E) &&
        (unordered || (ssn == s->in_ssn && !s->ordered))) {
        if (!unordered)
            s->in_ssn++;
        if (a->cb.message)
            a->cb.message(a->cb.ctx, sid, ppid, b + 12, plen, unordered);
        if (!unordered && s->ordered)
            deliver_stream(a, s);
        return;
    }
    rx_chunk *c = malloc(sizeof *c + plen);
    if (!c)
        return;
    c->tsn = tsn;
    c->ppid = ppid;
    c->ssn = ssn;
    c->len = (uint16_t)plen;
    c->flags = flags;
    memcpy(c->data, b + 12, plen);
    a->rx_bytes += plen;
    if (unordered)
        insert_sorted(&s->unordered, c, false, 0);
    else
        insert_sorted(&s->ordered, c, true, s->in_ssn);
    deliver_stream(a, s);
}

static void on_forward_tsn(lksctp *a, const uint8_t *b, size_t len)
{
    if (len < 4 || (len - 4) % 4) {
        a->st.bad_packets++;
        return;
    }
    if (!can_receive_data_state(a))
        return;
    a->sack_now = true;
    uint32_t cum = lkrtc_rd32(b);
    if (tsn_le(cum, a->peer_cum))
        return;
    if (cum - a->peer_cum >= WINDOW) {
        memset(a->seen, 0, WINDOW / 8);
    } else {
        for (uint32_t t = a->peer_cum + 1; t != cum + 1; t++)
            seen_set(a, t, false);
    }
    a->peer_cum = cum;
    if (tsn_lt(a->peer_high, cum))
        a->peer_high = cum;
    advance_cum(a);
    /* unordered pieces at or below the new cumulative TSN will never
     * complete; ordered streams skip the SSNs listed */
    for (size_t i = 0; i < a->nstreams; i++) {
        stream *s = a->streams[i];
        rx_chunk **pp = &s->unordered;
        while (*pp) {
            if (tsn_le((*pp)->tsn, cum))
                drop_chunks(a, pp, 1);
            else
                pp = &(*pp)->next;
        }
    }
    for (size_t off = 4; off + 4 <= len; off += 4) {
        stream *s = stream_find(a, lkrtc_rd16(b + off));
        uint16_t ssn = lkrtc_rd16(b + off + 2);
        if (!s)
            continue;
        while (s->ordered && ssn_le(s->ordered->ssn, ssn))
            drop_chunks(a, &s->ordered, 1);
        if (ssn_le(s->in_ssn, ssn))
            s->in_ssn = (uint16_t)(ssn + 1);
    }
    for (size_t i = 0; i < a->nstreams && a->state != LKSCTP_CLOSED; i++)
        deliver_stream(a, a->streams[i]);
}

/* --- RE-CONFIG, the peer's requests and answers ------------------------------ */

static void put_reconfig_response(lksctp *a, uint32_t seq, uint32_t result)
{
    uint8_t *p = put_chunk(a, CT_RECONFIG, 0, 12);
    if (!p)
        return;
    lkrtc_wr16(p + 4, PT_RECONFIG_RESPONSE);
    lkrtc_wr16(p + 6, 12);
    lkrtc_wr32(p + 8, seq);
    lkrtc_wr32(p + 12, result);
}

static bool stream_has_queued(const stream *s)
{
    return s->ordered || s->unordered;
}

static void on_out_reset_request(lksctp *a, const uint8_t *v, size_t vlen)
{
    if (vlen < 12)
        return;
    uint32_t seq = lkrtc_rd32(v), last_tsn = lkrtc_rd32(v + 8);
    size_t nsids = (vlen - 12) / 2;
    if (seq == a->peer_req_next - 1) {
        put_reconfig_response(a, seq, a->last_result); /* a retransmission */
        return;
    }
    if (seq != a->peer_req_next) {
        put_reconfig_response(a, seq, RESULT_BAD_SEQ);
        return;
    }
    /* Performed once everything sent before it is here and handed up. */
    bool ready = tsn_le(last_tsn, a->peer_cum);
    for (size_t i = 0; ready && i < nsids; i++) {
        stream *s = stream_find(a, lkrtc_rd16(v + 12 + 2 * i));
        if (s && stream_has_queued(s))
            ready = false;
    }
    if (!ready) {
        put_reconfig_response(a, seq, RESULT_IN_PROGRESS);
        return;
    }
    a->peer_req_next++;
    a->last_result = RESULT_PERFORMED;
    put_reconfig_response(a, seq, RESULT_PERFORMED);
    for (size_t i = 0; i < nsids; i++) {
        uint16_t sid = lkrtc_rd16(v + 12 + 2 * i);
        stream *s = stream_find(a, sid);
        if (s)
            s->in_ssn = 0;
        if (a->cb.stream_reset)
            a->cb.stream_reset(a->cb.ctx, sid, true, true);
    }
    if (nsids == 0) /* all streams */
        for (size_t i = 0; i < a->nstreams; i++)
            a->streams[i]->in_ssn = 0;
}

static void on_reconfig_response(lksctp *a, const uint8_t *v, size_t vlen, uint64_t now)
{
    if (vlen < 8 || !a->reconf_inflight || lkrtc_rd32(v) != a->my_req_seq)
        return;
    uint32_t result = lkrtc_rd32(v + 4);
    if (result == RESULT_IN_PROGRESS) {
        a->reconf_at = now + a->rto;
        return;
    }
    a->reconf_inflight = false;
    a->reconf_at = 0;
    a->my_req_seq++;
    bool ok = result == RESULT_PERFORMED;
    for (int i = 0; i < a->nreset; i++) {
        stream *s = stream_find(a, a->reset_sids[i]);
        if (s) {
            s->reset = RS_NONE;
            if (ok)
                s->out_ssn = 0;
        }
    }
    int n = a->nreset;
    uint16_t sids[MAX_RESET_SIDS];
    memcpy(sids, a->reset_sids, sizeof sids);
    a->nreset = 0;
    for (int i = 0; i < n; i++)
        if (a->cb.stream_reset)
            a->cb.stream_reset(a->cb.ctx, sids[i], false, ok);
}

static void on_reconfig(lksctp *a, const uint8_t *b, size_t len, uint64_t now)
{
    if (a->state != LKSCTP_ESTABLISHED && a->state != LKSCTP_SHUTDOWN_PENDING)
        return;
    size_t off = 0;
    for (int n = 0; off + 4 <= len && n < 2; n++) {
        uint16_t type = lkrtc_rd16(b + off), plen = lkrtc_rd16(b + off + 2);
        if (plen < 4 || off + plen > len) {
            a->st.bad_packets++;
            return;
        }
        const uint8_t *v = b + off + 4;
        size_t vlen = plen - 4u;
        if (type == PT_OUT_RESET)
            on_out_reset_request(a, v, vlen);
        else if (type == PT_RECONFIG_RESPONSE)
            on_reconfig_response(a, v, vlen, now);
        else if (type >= PT_IN_RESET && type <= 18 && vlen >= 4)
            put_reconfig_response(a, lkrtc_rd32(v), RESULT_DENIED); /* not offered */
        off += pad4(plen);
    }
}

/* --- heartbeat ---------------------------------------------------------------- */

static void send_heartbeat(lksctp *a, uint64_t now)
{
    uint8_t *p = put_chunk(a, CT_HEARTBEAT, 0, 4 + HB_INFO_LEN);
    if (!p)
        return;
    a->hb_nonce = (uint64_t)random32(a) << 32 | random32(a);
    lkrtc_wr16(p + 4, PT_HEARTBEAT_INFO);
    lkrtc_wr16(p + 6, 4 + HB_INFO_LEN);
    lkrtc_wr64(p + 8, a->hb_nonce);
    lkrtc_wr64(p + 16, now);
    a->hb_outstanding = true;
    a->st.heartbeats_sent++;
}

static void on_heartbeat(lksctp *a, const uint8_t *b, size_t len)
{
    if (len < 4 || lkrtc_rd16(b) != PT_HEARTBEAT_INFO || lkrtc_rd16(b + 2) < 4 || lkrtc_rd16(b + 2) > len) {
        a->st.bad_packets++;
        return;
    }
    uint8_t *p = put_chunk(a, CT_HEARTBEAT_ACK, 0, lkrtc_rd16(b + 2));
    if (p)
        memcpy(p + 4, b, lkrtc_rd16(b + 2));
}

static void on_heartbeat_ack(lksctp *a, const uint8_t *b, size_t len, uint64_t now)
{
    if (len < 4 + HB_INFO_LEN || lkrtc_rd16(b) != PT_HEARTBEAT_INFO || !a->hb_outstanding ||
        lkrtc_rd64(b + 4) != a->hb_nonce)
        return;
    uint64_t sent = lkrtc_rd64(b + 12);
    if (sent <= now)
        rtt_sample(a, now - sent);
    a->hb_outstanding = false;
    a->errors = 0;
    a->st.heartbeat_acks++;
}

/* --- shutdown and abort from the peer ----------------------------------------- */

static void on_shutdown(lksctp *a, const uint8_t *b, size_t len, uint64_t now)
{
    if (len < 4) {
        a->st.bad_packets++;
        return;
    }
    uint32_t cum = lkrtc_rd32(b);
    if (!can_send_data_state(a) && a->state != LKSCTP_SHUTDOWN_SENT)
        return;
    if (!tsn_lt(cum, a->cum_acked) && tsn_lt(cum, a->next_tsn) && cum != a->cum_acked) {
        ack_cumulative(a, cum, now);
        a->t3_at = a->fl_head ? now + a->rto : 0;
    }
    if (a->state == LKSCTP_SHUTDOWN_SENT) {
        /* both sides closing at once */
        (void)put_chunk(a, CT_SHUTDOWN_ACK, 0, 0);
        a->t2_at = now + a->rto;
        set_state(a, LKSCTP_SHUTDOWN_ACK_SENT);
        return;
    }
    if (a->state != LKSCTP_SHUTDOWN_RECEIVED)
        set_state(a, LKSCTP_SHUTDOWN_RECEIVED);
}

static void on_shutdown_ack(lksctp *a)
{
    if (a->state == LKSCTP_SHUTDOWN_SENT || a->state == LKSCTP_SHUTDOWN_ACK_SENT) {
        (void)put_chunk(a, CT_SHUTDOWN_COMPLETE, 0, 0);
        out_flush(a);
        close_assoc(a, LKSCTP_BY_SHUTDOWN);
    } else if (a->state == LKSCTP_COOKIE_WAIT || a->state == LKSCTP_COOKIE_ECHOED) {
        send_alone(a, a->my_tag, CT_SHUTDOWN_COMPLETE, FLAG_T, NULL, 0); /* 8.4 case 5 */
    }
}

/* --- packet input --------------------------------------------------------------- */

static bool checksum_ok(const lksctp *a, const uint8_t *p, size_t n)
{
    uint32_t got = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 |
                   (uint32_t)p[11] << 24;
    /* RFC 9653: a zero checksum is fine once offered, except on INIT and
     * COOKIE-ECHO, which may come before the peer knows. */
    if (got == 0 && !a->cfg.no_zero_checksum && p[HDR] != CT_INIT && p[HDR] != CT_COOKIE_ECHO)
        return true;
    static const uint8_t zero[4];
    uint32_t crc = lkcrc32c_update(0, p, 8);
    crc = lkcrc32c_update(crc, zero, 4);
    crc = lkcrc32c_update(crc, p + HDR, n - HDR);
    return crc == got;
}

/* Is the verification tag right for a packet starting with this chunk? */
static bool tag_ok(const lksctp *a, uint32_t vtag, uint8_t type, uint8_t flags)
{
    if (type == CT_INIT)
        return vtag == 0;
    if ((type == CT_ABORT || type == CT_SHUTDOWN_COMPLETE) && (flags & FLAG_T))
        return a->peer_tag != 0 && vtag == a->peer_tag;
    return vtag == a->my_tag;
}

/* One chunk. false: stop processing the packet. */
static bool handle_chunk(lksctp *a, uint8_t type, uint8_t flags, const uint8_t *b, size_t len,
                         uint64_t now)
{
    switch (type) {
    case CT_DATA:
        on_data(a, flags, b, len);
        break;
    case CT_INIT:
        on_init(a, b, len, now);
        return false;
    case CT_INIT_ACK:
        on_init_ack(a, b, len, now);
        return false;
    case CT_SACK:
        on_sack(a, b, len, now);
        break;
    case CT_HEARTBEAT:
        on_heartbeat(a, b, len);
        break;
    case CT_HEARTBEAT_ACK:
        on_heartbeat_ack(a, b, len, now);
        break;
    case CT_ABORT:
        if (a->state != LKSCTP_NEW)
            close_assoc(a, LKSCTP_BY_PEER_ABORT);
        return false;
    case CT_SHUTDOWN:
        on_shutdown(a, b, len, now);
        break;
    case CT_SHUTDOWN_ACK:
        on_shutdown_ack(a);
        return false;
    case CT_ERROR:
        break; /* nothing we send can draw an error we could act on */
    case CT_COOKIE_ECHO:
        on_cookie_echo(a, b, len, now);
        break;
    case CT_COOKIE_ACK:
        on_cookie_ack(a, now);
        break;
    case CT_SHUTDOWN_COMPLETE:
        if (a->state == LKSCTP_SHUTDOWN_ACK_SENT)
            close_assoc(a, LKSCTP_BY_SHUTDOWN);
        return false;
    case CT_RECONFIG:
        on_reconfig(a, b, len, now);
        break;
    case CT_FORWARD_TSN:
        on_forward_tsn(a, b, len);
        break;
    default:
        /* unknown: the top two bits say skip (1x) or stop (0x) */
        if (!(type & 0x80))
            return false;
        break;
    }
    return a->state != LKSCTP_CLOSED;
}

int lksctp_handle_packet(lksctp *a, const uint8_t *p, size_t n, uint64_t now)
{
    if (a->state == LKSCTP_CLOSED)
        return -ENOTCONN;
    if (n < HDR + 4 || !checksum_ok(a, p, n) || lkrtc_rd16(p) != a->cfg.remote_port ||
        lkrtc_rd16(p + 2) != a->cfg.local_port) {
        a->st.bad_packets++;
        return -EBADMSG;
    }
    uint32_t vtag = lkrtc_rd32(p + 4);
    if (!tag_ok(a, vtag, p[HDR], p[HDR + 1])) {
        a->st.bad_packets++;
        return -EPROTO;
    }
    /* INIT must travel alone (RFC 9260 6.10) */
    if (p[HDR] == CT_INIT && pad4(lkrtc_rd16(p + HDR + 2)) < n - HDR) {
        a->st.bad_packets++;
        return -EPROTO;
    }
    a->st.packets_received++;
    enter(a);
    a->got_data = false;
    int rc = 0;
    size_t off = HDR;
    while (off + 4 <= n) {
        uint8_t type = p[off], flags = p[off + 1];
        size_t clen = lkrtc_rd16(p + off + 2);
        if (clen < 4 || clen > n - off) {
            a->st.bad_packets++;
            rc = -EBADMSG;
            break;
        }
        if (!handle_chunk(a, type, flags, p + off + 4, clen - 4, now))
            break;
        off += pad4(clen);
    }
    if (a->got_data && a->state != LKSCTP_CLOSED) {
        a->data_pkts++;
        if (a->peer_cum != a->peer_high || a->ndups || a->data_pkts >= 2 ||
            a->state == LKSCTP_SHUTDOWN_SENT)
            a->sack_now = true;
        else if (!a->sack_at)
            a->sack_at = now + DELAYED_SACK_NS;
    }
    leave(a, now);
    return rc;
}

/* --- timers ------------------------------------------------------------------------ */

static void t1_expired(lksctp *a, uint64_t now)
{
    if (++a->t1_count > a->cfg.max_init_retrans) {
        close_assoc(a, LKSCTP_BY_TIMEOUT);
        return;
    }
    a->t1_rto *= 2;
    if (a->t1_rto > a->cfg.rto_max_ms * MS)
        a->t1_rto = a->cfg.rto_max_ms * MS;
    a->t1_at = now + a->t1_rto;
    if (a->state == LKSCTP_COOKIE_WAIT)
        send_init(a);
    else if (a->state == LKSCTP_COOKIE_ECHOED)
        send_cookie_echo(a);
    else
        a->t1_at = 0;
}

static bool count_error(lksctp *a)
{
    if (++a->errors > a->cfg.max_retrans) {
        send_abort(a, 0, NULL);
        close_assoc(a, LKSCTP_BY_TIMEOUT);
        return false;
    }
    return true;
}

static void t3_expired(lksctp *a, uint64_t now)
{
    a->t3_at = 0;
    a->st.t3_expiries++;
    if (!count_error(a))
        return;
    rto_backoff(a);
    uint32_t floor = 4 * a->cfg.mtu;
    a->ssthresh = a->cwnd / 2 > floor ? a->cwnd / 2 : floor;
    a->cwnd = a->cfg.mtu;
    a->pba = 0;
    a->fast_recovery = false;
    for (out_chunk *c = a->fl_head; c; c = c->next) {
        if (c->state != OC_INFLIGHT)
            continue;
        a->flight -= c->len;
        c->state = OC_RTX;
        c->misses = 0;
        c->fast_done = false;
    }
    if (a->peer_fwd_tsn) {
        for (out_chunk *c = a->fl_head; c; c = c->next)
            if (c->state == OC_RTX && should_abandon(c, now))
                abandon_msg(a, c->msg_id);
        advance_ack_point(a);
        if (tsn_lt(a->cum_acked, a->adv_ack))
            a->fwd_needed = true;
    }
}

static void t2_expired(lksctp *a, uint64_t now)
{
    if (++a->t2_count > a->cfg.max_retrans) {
        send_abort(a, 0, NULL);
        close_assoc(a, LKSCTP_BY_TIMEOUT);
        return;
    }
    rto_backoff(a);
    a->t2_at = now + a->rto;
    if (a->state == LKSCTP_SHUTDOWN_SENT) {
        uint8_t *p = put_chunk(a, CT_SHUTDOWN, 0, 4);
        if (p)
            lkrtc_wr32(p + 4, a->peer_cum);
    } else if (a->state == LKSCTP_SHUTDOWN_ACK_SENT) {
        (void)put_chunk(a, CT_SHUTDOWN_ACK, 0, 0);
    } else {
        a->t2_at = 0;
    }
}

static void hb_expired(lksctp *a, uint64_t now)
{
    a->hb_at = now + a->cfg.heartbeat_ms * MS + a->rto;
    if (a->state != LKSCTP_ESTABLISHED)
        return;
    if (a->hb_outstanding && !count_error(a))
        return;
    if (a->fl_head) {
        a->hb_outstanding = false; /* T3 watches the peer meanwhile */
        return;
    }
    send_heartbeat(a, now);
}

static void reconf_expired(lksctp *a, uint64_t now)
{
    a->reconf_at = 0;
    if (!a->reconf_inflight || a->state != LKSCTP_ESTABLISHED)
        return;
    if (!count_error(a))
        return;
    a->reconf_at = now + a->rto;
    put_reset_request(a);
}

void lksctp_on_timeout(lksctp *a, uint64_t now)
{
    enter(a);
    if (a->t1_at && now >= a->t1_at)
        t1_expired(a, now);
    if (a->t3_at && now >= a->t3_at)
        t3_expired(a, now);
    if (a->sack_at && now >= a->sack_at) {
        a->sack_at = 0;
        a->sack_now = true;
    }
    if (a->t2_at && now >= a->t2_at)
        t2_expired(a, now);
    if (a->hb_at && now >= a->hb_at)
        hb_expired(a, now);
    if (a->reconf_at && now >= a->reconf_at)
        reconf_expired(a, now);
    leave(a, now);
}

uint64_t lksctp_next_deadline(const lksctp *a)
{
    uint64_t t[] = {a->t1_at, a->t3_at, a->sack_at, a->t2_at, a->hb_at, a->reconf_at};
    uint64_t best = UINT64_MAX;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i] && t[i] < best)
            best = t[i];
    return best;
}

/* --- API ------------------------------------------------------------------------------ */

lksctp *lksctp_new(const lksctp_config *cfg, const lksctp_callbacks *cb)
{
    lksctp *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (cfg)
        a->cfg = *cfg;
    if (cb)
        a->cb = *cb;
    lksctp_config *c = &a->cfg;
    if (!c->local_port)
        c->local_port = 5000;
    if (!c->remote_port)
        c->remote_port = 5000;
    if (c->mtu < 256 || c->mtu > 65535)
        c->mtu = 1200;
    if (!c->rwnd)
        c->rwnd = 1024 * 1024;
    if (c->rwnd < 1500)
        c->rwnd = 1500;
    if (!c->max_message_size)
        c->max_message_size = 256 * 1024;
    if (!c->send_buffer)
        c->send_buffer = 1024 * 1024;
    if (!c->low_water)
        c->low_water = c->send_buffer / 4;
    if (!c->rto_initial_ms)
        c->rto_initial_ms = 1000;
    if (!c->rto_min_ms)
        c->rto_min_ms = 400;
    if (!c->rto_max_ms)
        c->rto_max_ms = 60000;
    if (!c->heartbeat_ms)
        c->heartbeat_ms = 30000;
    if (!c->max_retrans)
        c->max_retrans = 10;
    if (!c->max_init_retrans)
        c->max_init_retrans = 8;
    if (!c->random)
        c->random = default_random;
    a->out = malloc(c->mtu);
    a->seen = calloc(1, WINDOW / 8);
    if (!a->out || !a->seen) {
        lksctp_free(a);
        return NULL;
    }
    a->out_len = HDR;
    c->random(a->secret, sizeof a->secret);
    do
        a->my_tag = random32(a);
    while (a->my_tag == 0);
    a->my_initial_tsn = random32(a);
    a->next_tsn = a->my_initial_tsn;
    a->cum_acked = a->adv_ack = a->next_tsn - 1;
    a->my_req_seq = a->my_initial_tsn;
    a->last_result = RESULT_PERFORMED;
    a->rto = (uint64_t)c->rto_initial_ms * MS;
    /* RFC 9260 7.2.1: min(4 MTU, max(2 MTU, 4404)) */
    uint32_t w = 2 * c->mtu > 4404 ? 2 * c->mtu : 4404;
    a->cwnd = w < 4 * c->mtu ? w : 4 * c->mtu;
    a->ssthresh = c->rwnd;
    a->peer_rwnd = c->rwnd;
    a->msg_seq = 0;
    a->last_msg = UINT64_MAX;
    return a;
}

static void free_out_list(out_chunk *c)
{
    while (c) {
        out_chunk *n = c->next;
        free(c);
        c = n;
    }
}

static void free_rx_list(rx_chunk *c)
{
    while (c) {
        rx_chunk *n = c->next;
        free(c);
        c = n;
    }
}

void lksctp_free(lksctp *a)
{
    if (!a)
        return;
    free_out_list(a->pend_head);
    free_out_list(a->fl_head);
    for (size_t i = 0; i < a->nstreams; i++) {
        free_rx_list(a->streams[i]->ordered);
        free_rx_list(a->streams[i]->unordered);
        free(a->streams[i]);
    }
    free(a->streams);
    free(a->cookie);
    free(a->out);
    free(a->seen);
    OPENSSL_cleanse(a->secret, sizeof a->secret);
    free(a);
}

int lksctp_connect(lksctp *a, uint64_t now)
{
    if (a->state != LKSCTP_NEW)
        return -EALREADY;
    enter(a);
    set_state(a, LKSCTP_COOKIE_WAIT);
    send_init(a);
    a->t1_count = 0;
    a->t1_rto = a->cfg.rto_initial_ms * MS;
    a->t1_at = now + a->t1_rto;
    leave(a, now);
    return 0;
}

int lksctp_send(lksctp *a, uint16_t sid, uint32_t ppid, const uint8_t *data, size_t len,
                const lksctp_sendopts *opts, uint64_t now)
{
    if (a->state != LKSCTP_ESTABLISHED)
        return -ENOTCONN;
    if (len == 0 || !data || sid >= a->n_out)
        return -EINVAL;
    if (len > a->cfg.max_message_size)
        return -EMSGSIZE;
    stream *s = stream_get(a, sid);
    if (!s)
        return -ENOMEM;
    if (s->reset != RS_NONE)
        return -EBUSY;
    if (a->buffered > 0 && a->buffered + len > a->cfg.send_buffer) {
        a->want_writable = true;
        return -EAGAIN;
    }
    bool unordered = opts && opts->unordered;
    int32_t max_rtx = -1;
    uint64_t expires = 0;
    if (opts && opts->reliability == LKSCTP_MAX_RETRANSMITS)
        max_rtx = opts->value > INT32_MAX ? INT32_MAX : (int32_t)opts->value;
    else if (opts && opts->reliability == LKSCTP_MAX_LIFETIME)
        expires = now + (uint64_t)opts->value * MS + 1;
    uint32_t fs = frag_size(a);
    uint64_t id = ++a->msg_seq;
    out_chunk *head = NULL, *tail = NULL;
    uint32_t count = 0;
    for (size_t off = 0; off < len; off += fs) {
        size_t n = len - off < fs ? len - off : fs;
        out_chunk *c = calloc(1, sizeof *c + n);
        if (!c) {
            free_out_list(head);
            return -ENOMEM;
        }
        memcpy(c->data, data + off, n);
        c->len = (uint16_t)n;
        c->sid = sid;
        c->ppid = ppid;
        c->msg_id = id;
        c->max_rtx = max_rtx;
        c->expires_ns = expires;
        c->flags = (uint8_t)((unordered ? DATA_U : 0) | (off == 0 ? DATA_B : 0) |
                             (off + n == len ? DATA_E : 0));
        if (tail)
            tail->next = c;
        else
            head = c;
        tail = c;
        count++;
    }
    if (a->pend_tail)
        a->pend_tail->next = head;
    else
        a->pend_head = head;
    a->pend_tail = tail;
    s->pending += count;
    s->buffered += len;
    a->buffered += len;
    if (a->buffered > a->cfg.low_water)
        a->above_low = true;
    enter(a);
    leave(a, now);
    return 0;
}

size_t lksctp_buffered(const lksctp *a)
{
    return a->buffered;
}

size_t lksctp_peer_unread(const lksctp *a)
{
    if (a->flight || a->peer_rwnd >= a->peer_window)
        return 0;
    return a->peer_window - a->peer_rwnd;
}

size_t lksctp_stream_buffered(const lksctp *a, uint16_t sid)
{
    const stream *s = stream_find(a, sid);
    return s ? s->buffered : 0;
}

int lksctp_reset_stream(lksctp *a, uint16_t sid, uint64_t now)
{
    if (a->state != LKSCTP_ESTABLISHED)
        return -ENOTCONN;
    if (sid >= a->n_out)
        return -EINVAL;
    if (!a->peer_reconfig)
        return -EOPNOTSUPP;
    stream *s = stream_get(a, sid);
    if (!s)
        return -ENOMEM;
    if (s->reset == RS_NONE)
        s->reset = RS_WANTED;
    enter(a);
    leave(a, now);
    return 0;
}

void lksctp_set_paused(lksctp *a, bool paused, uint64_t now)
{
    if (a->paused == paused)
        return;
    a->paused = paused;
    if (paused)
        return;
    enter(a);
    for (size_t i = 0; i < a->nstreams && !a->paused && a->state != LKSCTP_CLOSED; i++)
        deliver_stream(a, a->streams[i]);
    if (can_receive_data_state(a))
        a->sack_now = true; /* the window opened: say so */
    leave(a, now);
}

void lksctp_shutdown(lksctp *a, uint64_t now)
{
    enter(a);
    switch (a->state) {
    case LKSCTP_NEW:
        close_assoc(a, LKSCTP_BY_SHUTDOWN);
        break;
    case LKSCTP_COOKIE_WAIT:
    case LKSCTP_COOKIE_ECHOED:
        send_abort(a, 0, NULL);
        close_assoc(a, LKSCTP_BY_SHUTDOWN);
        break;
    case LKSCTP_ESTABLISHED:
        set_state(a, LKSCTP_SHUTDOWN_PENDING);
        break;
    default:
        break;
    }
    leave(a, now);
}

void lksctp_abort(lksctp *a, const char *reason, uint64_t now)
{
    if (a->state == LKSCTP_CLOSED)
        return;
    enter(a);
    send_abort(a, 12, reason ? reason : "");
    close_assoc(a, LKSCTP_BY_LOCAL_ABORT);
    leave(a, now);
}

enum lksctp_state lksctp_state(const lksctp *a)
{
    return a->state;
}

enum lksctp_close_reason lksctp_close_reason(const lksctp *a)
{
    return a->reason;
}

uint16_t lksctp_out_streams(const lksctp *a)
{
    return a->n_out;
}

uint16_t lksctp_in_streams(const lksctp *a)
{
    return a->n_in;
}

bool lksctp_peer_pr_sctp(const lksctp *a)
{
    return a->peer_fwd_tsn;
}

void lksctp_get_stats(const lksctp *a, lksctp_stats *st)
{
    *st = a->st;
    st->cwnd = a->cwnd;
    st->ssthresh = a->ssthresh;
    st->peer_rwnd = a->peer_rwnd;
    st->flight = a->flight;
    st->rto_ms = a->rto / MS;
    st->srtt_us = a->srtt / 1000;
}

const char *lksctp_state_name(enum lksctp_state s)
{
    static const char *const names[] = {
        "new", "cookie-wait", "cookie-echoed", "established", "shutdown-pending",
        "shutdown-sent", "shutdown-received", "shutdown-ack-sent", "closed",
    };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}
