/*
 * datachannel.h: WebRTC data channels (RFC 8831) with the Data Channel
 * Establishment Protocol (RFC 8832) over one SCTP association, sans-I/O.
 *
 * The manager owns the association: feed it packets and timeouts with
 * lkdc_handle_packet / lkdc_on_timeout; lkdc_sctp() gives the association
 * for the rest (lksctp_connect, lksctp_next_deadline, lksctp_shutdown...).
 * Channels are named by their SCTP stream id. Ours get even ids when we are
 * the DTLS client, odd ones when we are the server (RFC 8832 6). Channels
 * opened before the association is up send their OPEN when it comes up.
 * Callbacks may call lkdc_send / lkdc_close / lkdc_open, not lkdc_free.
 */
#ifndef LKRTC_DATACHANNEL_H
#define LKRTC_DATACHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sctp.h"

typedef struct lkdc lkdc;

enum lkdc_state {
    LKDC_NONE,       /* no such channel */
    LKDC_CONNECTING, /* our OPEN not yet acknowledged (messages may be sent) */
    LKDC_OPEN,
    LKDC_CLOSING,    /* stream reset under way */
};

/* All zero: ordered and reliable. */
typedef struct lkdc_options {
    bool unordered;
    enum lksctp_reliability reliability; /* with value: retransmits, or lifetime ms */
    uint32_t value;
    uint16_t priority;
    const char *protocol;  /* NULL: "" */
    bool negotiated;       /* out of band: no DCEP, the id is `id` */
    uint16_t id;
} lkdc_options;

typedef struct lkdc_callbacks {
    void *ctx;
    void (*send)(void *ctx, const uint8_t *pkt, size_t len); /* one SCTP packet */
    void (*association)(void *ctx, enum lksctp_state state);
    /* The peer opened a channel (already acknowledged). */
    void (*channel)(void *ctx, uint16_t id, const char *label, const char *protocol,
                    const lkdc_options *opts);
    /* Ours was acknowledged (or, negotiated, the association came up). */
    void (*open)(void *ctx, uint16_t id);
    void (*message)(void *ctx, uint16_t id, bool binary, const uint8_t *data, size_t len);
    /* Closed both ways, or the association ended; the id may be reused. */
    void (*closed)(void *ctx, uint16_t id);
    void (*writable)(void *ctx);
} lkdc_callbacks;

/* cfg: the association's (NULL for defaults). NULL on allocation failure. */
lkdc *lkdc_new(const lksctp_config *cfg, bool dtls_client, const lkdc_callbacks *cb);
/* Frees everything, emitting nothing (fork child too). */
void lkdc_free(lkdc *m);
lksctp *lkdc_sctp(lkdc *m);
/* lksctp_handle_packet / lksctp_on_timeout through the manager, so that
 * what its callbacks send carries the right time. */
int lkdc_handle_packet(lkdc *m, const uint8_t *pkt, size_t len, uint64_t now_ns);
void lkdc_on_timeout(lkdc *m, uint64_t now_ns);

/* The new channel's id, or -ENOSPC (no id left), -EEXIST (negotiated id
 * taken), -EINVAL (label or protocol over 65535 bytes), -ENOMEM. */
int lkdc_open(lkdc *m, const char *label, const lkdc_options *opts, uint64_t now_ns);
/* 0, or lksctp_send's errors (-EAGAIN: buffered too much), -ENOENT,
 * -EPIPE (closing). Empty messages are allowed. */
int lkdc_send(lkdc *m, uint16_t id, bool binary, const uint8_t *data, size_t len,
              uint64_t now_ns);
/* Resets our outgoing stream; `closed` follows once the peer reset its. */
int lkdc_close(lkdc *m, uint16_t id, uint64_t now_ns);

enum lkdc_state lkdc_channel_state(const lkdc *m, uint16_t id);

/* --- statistics (W3C webrtc-stats: RTCDataChannelStats) ----------------------- */
typedef struct lkdc_counters {
    uint64_t messages_sent, bytes_sent, messages_received, bytes_received;
} lkdc_counters;
typedef struct lkdc_channel_info {
    uint16_t id;
    enum lkdc_state state;
    const char *label, *protocol; /* valid until the channel closes */
    lkdc_counters n;
} lkdc_channel_info;
/* The channels there are (closed ones are gone), the first cap of them in out. */
size_t lkdc_channels(const lkdc *m, lkdc_channel_info *out, size_t cap);
/* How many channels reached open, and how many of those have closed since. */
void lkdc_open_counts(const lkdc *m, unsigned *opened, unsigned *closed);
const char *lkdc_label(const lkdc *m, uint16_t id);
size_t lkdc_buffered(const lkdc *m, uint16_t id);

/* DCEP messages, exposed for tests and fuzzing. 0 or -1. */
typedef struct lkdc_open_msg {
    uint8_t channel_type;
    uint16_t priority;
    uint32_t reliability;
    const uint8_t *label, *protocol;
    uint16_t label_len, protocol_len;
} lkdc_open_msg;
int lkdc_parse_open(const uint8_t *p, size_t n, lkdc_open_msg *out);

#endif
