/*
 * datachannel.c: DCEP over an lksctp association.
 *
 * DCEP messages (PPID 50) travel ordered and reliable on the channel's own
 * stream. Until our OPEN is acknowledged, our messages go ordered too, so
 * none can overtake the OPEN (RFC 8832 6). Closing resets our outgoing
 * stream; the peer answers by resetting its own (RFC 8831 6.7), and the
 * channel is gone when both have happened.
 */
#include "datachannel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

enum {
    DCEP_ACK = 0x02,
    DCEP_OPEN = 0x03,
    /* channel types (RFC 8832 5.1) */
    CT_RELIABLE = 0x00,
    CT_REXMIT = 0x01,
    CT_TIMED = 0x02,
    CT_UNORDERED = 0x80,
};

typedef struct channel {
    uint16_t id;
    enum lkdc_state state;
    lkdc_options opts; /* protocol points at `protocol` below */
    char *label, *protocol;
    bool ours, open_sent, acked;
    bool reset_out_done, reset_in_seen, reset_requested;
    lkdc_counters n;
} channel;

struct lkdc {
    lkdc_callbacks cb;
    lksctp *sctp;
    bool client;
    channel **ch;
    size_t n, cap;
    unsigned opened, closed; /* channels that reached open, and went from it */
    uint64_t now; /* of the call in progress, for sends from callbacks */
};

static channel *find(const lkdc *m, uint16_t id)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->ch[i]->id == id)
            return m->ch[i];
    return NULL;
}

static void channel_free(channel *c)
{
    free(c->label);
    free(c->protocol);
    free(c);
}

static channel *channel_add(lkdc *m, uint16_t id, const char *label, size_t label_len,
                            const char *protocol, size_t protocol_len)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        channel **n = realloc(m->ch, cap * sizeof *n);
        if (!n)
            return NULL;
        m->ch = n;
        m->cap = cap;
    }
    channel *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->label = malloc(label_len + 1);
    c->protocol = malloc(protocol_len + 1);
    if (!c->label || !c->protocol) {
        channel_free(c);
        return NULL;
    }
    memcpy(c->label, label, label_len);
    c->label[label_len] = 0;
    memcpy(c->protocol, protocol, protocol_len);
    c->protocol[protocol_len] = 0;
    c->id = id;
    m->ch[m->n++] = c;
    return c;
}

/* Removes and announces. */
static void channel_gone(lkdc *m, uint16_t id)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->ch[i]->id != id)
            continue;
        channel *c = m->ch[i];
        m->ch[i] = m->ch[--m->n];
        m->closed += c->acked; /* acked is set as it opens (set_open) */
        channel_free(c);
        if (m->cb.closed)
            m->cb.closed(m->cb.ctx, id);
        return;
    }
}

static void set_open(lkdc *m, channel *c)
{
    c->state = LKDC_OPEN;
    m->opened++;
}

static uint8_t channel_type(const lkdc_options *o)
{
    uint8_t t = o->reliability == LKSCTP_MAX_RETRANSMITS ? CT_REXMIT
                : o->reliability == LKSCTP_MAX_LIFETIME ? CT_TIMED
                                                        : CT_RELIABLE;
    return (uint8_t)(t | (o->unordered ? CT_UNORDERED : 0));
}

static int send_dcep(lkdc *m, uint16_t id, const uint8_t *p, size_t n)
{
    return lksctp_send(m->sctp, id, LKSCTP_PPID_DCEP, p, n, NULL, m->now);
}

static void send_open(lkdc *m, channel *c)
{
    size_t ll = strlen(c->label), pl = strlen(c->protocol);
    uint8_t *p = malloc(12 + ll + pl);
    if (!p)
        return;
    p[0] = DCEP_OPEN;
    p[1] = channel_type(&c->opts);
    lkrtc_wr16(p + 2, c->opts.priority);
    lkrtc_wr32(p + 4, c->opts.reliability == LKSCTP_RELIABLE ? 0 : c->opts.value);
    lkrtc_wr16(p + 8, (uint16_t)ll);
    lkrtc_wr16(p + 10, (uint16_t)pl);
    memcpy(p + 12, c->label, ll);
    memcpy(p + 12 + ll, c->protocol, pl);
    if (send_dcep(m, c->id, p, 12 + ll + pl) == 0)
        c->open_sent = true;
    free(p);
}

/* The association came up: announce what was opened before. */
static void start_channels(lkdc *m)
{
    uint16_t ids[64];
    size_t k = 0;
    for (size_t i = 0; i < m->n && k < 64; i++)
        if (m->ch[i]->ours && !m->ch[i]->open_sent && m->ch[i]->state == LKDC_CONNECTING)
            ids[k++] = m->ch[i]->id;
    for (size_t i = 0; i < k; i++) {
        channel *c = find(m, ids[i]);
        if (!c)
            continue;
        if (c->opts.negotiated) {
            c->open_sent = c->acked = true;
            set_open(m, c);
            if (m->cb.open)
                m->cb.open(m->cb.ctx, c->id);
        } else {
            send_open(m, c);
        }
    }
}

int lkdc_parse_open(const uint8_t *p, size_t n, lkdc_open_msg *o)
{
    if (n < 12 || p[0] != DCEP_OPEN)
        return -1;
    o->channel_type = p[1];
    o->priority = lkrtc_rd16(p + 2);
    o->reliability = lkrtc_rd32(p + 4);
    o->label_len = lkrtc_rd16(p + 8);
    o->protocol_len = lkrtc_rd16(p + 10);
    if (12 + (size_t)o->label_len + o->protocol_len > n)
        return -1;
    uint8_t base = o->channel_type & 0x7f;
    if (base != CT_RELIABLE && base != CT_REXMIT && base != CT_TIMED)
        return -1;
    o->label = p + 12;
    o->protocol = p + 12 + o->label_len;
    return 0;
}

static void on_remote_open(lkdc *m, uint16_t id, const uint8_t *p, size_t n)
{
    lkdc_open_msg o;
    if (lkdc_parse_open(p, n, &o) < 0)
        return;
    if (find(m, id))
        return; /* a duplicate, or a clash with one of ours: keep ours */
    channel *c = channel_add(m, id, (const char *)o.label, o.label_len,
                             (const char *)o.protocol, o.protocol_len);
    if (!c)
        return;
    uint8_t base = o.channel_type & 0x7f;
    c->opts.unordered = o.channel_type & CT_UNORDERED;
    c->opts.reliability = base == CT_REXMIT  ? LKSCTP_MAX_RETRANSMITS
                          : base == CT_TIMED ? LKSCTP_MAX_LIFETIME
                                             : LKSCTP_RELIABLE;
    c->opts.value = base == CT_RELIABLE ? 0 : o.reliability;
    c->opts.priority = o.priority;
    c->opts.protocol = c->protocol;
    c->opts.id = id;
    c->open_sent = c->acked = true;
    set_open(m, c);
    uint8_t ack = DCEP_ACK;
    send_dcep(m, id, &ack, 1);
    if (m->cb.channel)
        m->cb.channel(m->cb.ctx, id, c->label, c->protocol, &c->opts);
}

static void on_dcep(lkdc *m, uint16_t id, const uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    if (p[0] == DCEP_OPEN) {
        on_remote_open(m, id, p, n);
    } else if (p[0] == DCEP_ACK) {
        channel *c = find(m, id);
        if (c && c->ours && c->state == LKDC_CONNECTING) {
            c->acked = true;
            set_open(m, c);
            if (m->cb.open)
                m->cb.open(m->cb.ctx, id);
        }
    }
}

static void sctp_message(void *ctx, uint16_t id, uint32_t ppid, const uint8_t *d, size_t n,
                         bool unordered)
{
    (void)unordered;
    lkdc *m = ctx;
    if (ppid == LKSCTP_PPID_DCEP) {
        on_dcep(m, id, d, n);
        return;
    }
    channel *c = find(m, id);
    if (!c || c->reset_in_seen)
        return;
    /* the peer sends as soon as it has our OPEN: data is the ACK too */
    if (c->state == LKDC_CONNECTING && c->ours) {
        c->acked = true;
        set_open(m, c);
        if (m->cb.open)
            m->cb.open(m->cb.ctx, id);
        c = find(m, id);
        if (!c)
            return;
    }
    bool binary;
    switch (ppid) {
    case LKSCTP_PPID_STRING:
    case LKSCTP_PPID_STRING_PARTIAL:
        binary = false;
        break;
    case LKSCTP_PPID_BINARY:
    case LKSCTP_PPID_BINARY_PARTIAL:
        binary = true;
        break;
    case LKSCTP_PPID_STRING_EMPTY:
        binary = false;
        n = 0;
        break;
    case LKSCTP_PPID_BINARY_EMPTY:
        binary = true;
        n = 0;
        break;
    default:
        return; /* not a data channel payload */
    }
    c->n.messages_received++;
    c->n.bytes_received += n;
    if (m->cb.message)
        m->cb.message(m->cb.ctx, id, binary, d, n);
}

static void maybe_gone(lkdc *m, channel *c)
{
    if (c->reset_out_done && c->reset_in_seen)
        channel_gone(m, c->id);
}

static void sctp_stream_reset(void *ctx, uint16_t id, bool incoming, bool ok)
{
    (void)ok;
    lkdc *m = ctx;
    channel *c = find(m, id);
    if (!c)
        return;
    if (incoming) {
        c->reset_in_seen = true;
        c->state = LKDC_CLOSING;
        if (!c->reset_requested) { /* the peer closed: close our side too */
            c->reset_requested = true;
            if (lksctp_reset_stream(m->sctp, id, m->now) < 0)
                c->reset_out_done = true;
        }
    } else {
        c->reset_out_done = true;
    }
    maybe_gone(m, c);
}

static void close_all(lkdc *m)
{
    while (m->n > 0)
        channel_gone(m, m->ch[m->n - 1]->id);
}

static void sctp_state(void *ctx, enum lksctp_state s)
{
    lkdc *m = ctx;
    if (s == LKSCTP_ESTABLISHED)
        start_channels(m);
    if (s == LKSCTP_CLOSED)
        close_all(m);
    if (m->cb.association)
        m->cb.association(m->cb.ctx, s);
}

static void sctp_send(void *ctx, const uint8_t *p, size_t n)
{
    lkdc *m = ctx;
    if (m->cb.send)
        m->cb.send(m->cb.ctx, p, n);
}

static void sctp_writable(void *ctx)
{
    lkdc *m = ctx;
    if (m->cb.writable)
        m->cb.writable(m->cb.ctx);
}

lkdc *lkdc_new(const lksctp_config *cfg, bool dtls_client, const lkdc_callbacks *cb)
{
    lkdc *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (cb)
        m->cb = *cb;
    m->client = dtls_client;
    lksctp_callbacks scb = {
        .ctx = m,
        .send = sctp_send,
        .message = sctp_message,
        .state_changed = sctp_state,
        .stream_reset = sctp_stream_reset,
        .writable = sctp_writable,
    };
    m->sctp = lksctp_new(cfg, &scb);
    if (!m->sctp) {
        free(m);
        return NULL;
    }
    return m;
}

void lkdc_free(lkdc *m)
{
    if (!m)
        return;
    lksctp_free(m->sctp);
    for (size_t i = 0; i < m->n; i++)
        channel_free(m->ch[i]);
    free(m->ch);
    free(m);
}

lksctp *lkdc_sctp(lkdc *m)
{
    return m->sctp;
}

int lkdc_handle_packet(lkdc *m, const uint8_t *pkt, size_t len, uint64_t now)
{
    m->now = now;
    return lksctp_handle_packet(m->sctp, pkt, len, now);
}

void lkdc_on_timeout(lkdc *m, uint64_t now)
{
    m->now = now;
    lksctp_on_timeout(m->sctp, now);
}

static int free_id(const lkdc *m)
{
    uint32_t limit = lksctp_state(m->sctp) == LKSCTP_NEW ? 65535 : lksctp_out_streams(m->sctp);
    for (uint32_t id = m->client ? 0 : 1; id < limit && id < 65535; id += 2)
        if (!find(m, (uint16_t)id))
            return (int)id;
    return -ENOSPC;
}

int lkdc_open(lkdc *m, const char *label, const lkdc_options *opts, uint64_t now)
{
    static const lkdc_options defaults;
    if (!opts)
        opts = &defaults;
    if (!label)
        label = "";
    const char *proto = opts->protocol ? opts->protocol : "";
    size_t ll = strlen(label), pl = strlen(proto);
    if (ll > 65535 || pl > 65535)
        return -EINVAL;
    enum lksctp_state st = lksctp_state(m->sctp);
    if (st != LKSCTP_NEW && st != LKSCTP_COOKIE_WAIT && st != LKSCTP_COOKIE_ECHOED &&
        st != LKSCTP_ESTABLISHED)
        return -ENOTCONN;
    int id;
    if (opts->negotiated) {
        if (find(m, opts->id))
            return -EEXIST;
        id = opts->id;
    } else {
        id = free_id(m);
        if (id < 0)
            return id;
    }
    channel *c = channel_add(m, (uint16_t)id, label, ll, proto, pl);
    if (!c)
        return -ENOMEM;
    c->opts = *opts;
    c->opts.protocol = c->protocol;
    c->opts.id = (uint16_t)id;
    c->ours = true;
    c->state = LKDC_CONNECTING;
    m->now = now;
    if (st == LKSCTP_ESTABLISHED)
        start_channels(m);
    return id;
}

int lkdc_send(lkdc *m, uint16_t id, bool binary, const uint8_t *data, size_t len, uint64_t now)
{
    channel *c = find(m, id);
    if (!c)
        return -ENOENT;
    if (c->state == LKDC_CLOSING)
        return -EPIPE;
    if (!c->open_sent)
        return -ENOTCONN;
    static const uint8_t empty = 0;
    uint32_t ppid = binary ? (len ? LKSCTP_PPID_BINARY : LKSCTP_PPID_BINARY_EMPTY)
                           : (len ? LKSCTP_PPID_STRING : LKSCTP_PPID_STRING_EMPTY);
    if (!len)
        data = &empty, len = 1; /* SCTP has no empty messages */
    lksctp_sendopts o = {
        .unordered = c->opts.unordered && c->acked,
        .reliability = c->opts.reliability,
        .value = c->opts.value,
    };
    m->now = now;
    int r = lksctp_send(m->sctp, id, ppid, data, len, &o, now);
    if (r == 0) {
        c->n.messages_sent++;
        c->n.bytes_sent += ppid == LKSCTP_PPID_STRING_EMPTY || ppid == LKSCTP_PPID_BINARY_EMPTY ? 0 : len;
    }
    return r;
}

int lkdc_close(lkdc *m, uint16_t id, uint64_t now)
{
    channel *c = find(m, id);
    if (!c)
        return -ENOENT;
    if (c->reset_requested)
        return 0;
    m->now = now;
    c->state = LKDC_CLOSING;
    c->reset_requested = true;
    if (lksctp_reset_stream(m->sctp, id, now) < 0) {
        /* no association (or no RE-CONFIG): nothing to tell the peer */
        channel_gone(m, id);
    }
    return 0;
}

enum lkdc_state lkdc_channel_state(const lkdc *m, uint16_t id)
{
    const channel *c = find(m, id);
    return c ? c->state : LKDC_NONE;
}

const char *lkdc_label(const lkdc *m, uint16_t id)
{
    const channel *c = find(m, id);
    return c ? c->label : NULL;
}

size_t lkdc_buffered(const lkdc *m, uint16_t id)
{
    return lksctp_stream_buffered(m->sctp, id);
}

size_t lkdc_channels(const lkdc *m, lkdc_channel_info *out, size_t cap)
{
    for (size_t i = 0; i < m->n && i < cap; i++) {
        const channel *c = m->ch[i];
        out[i] = (lkdc_channel_info){.id = c->id, .state = c->state, .label = c->label,
                                     .protocol = c->protocol, .n = c->n};
    }
    return m->n;
}

void lkdc_open_counts(const lkdc *m, unsigned *opened, unsigned *closed)
{
    *opened = m->opened;
    *closed = m->closed;
}
