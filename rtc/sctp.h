/*
 * sctp.h: one SCTP association (RFC 9260) over DTLS (RFC 8261), the subset
 * WebRTC data channels use, sans-I/O.
 *
 * Single path, no IP addresses: each DTLS record payload is one SCTP packet,
 * given to lksctp_handle_packet; each packet we produce goes out through the
 * send callback, to be written as one DTLS record. Time comes in as
 * CLOCK_MONOTONIC nanoseconds; call lksctp_on_timeout at or after
 * lksctp_next_deadline. Extensions: PR-SCTP (RFC 3758, FORWARD-TSN), stream
 * reset (RFC 6525, outgoing SSN reset only) and zero checksum (RFC 9653).
 *
 * Callbacks run from inside lksctp_* calls. They may call lksctp_send,
 * lksctp_reset_stream, lksctp_set_paused and the getters, but not
 * lksctp_free.
 */
#ifndef LKRTC_SCTP_H
#define LKRTC_SCTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lksctp lksctp;

enum lksctp_state {
    LKSCTP_NEW,           /* nothing sent; answers an INIT, or lksctp_connect */
    LKSCTP_COOKIE_WAIT,   /* INIT sent */
    LKSCTP_COOKIE_ECHOED, /* COOKIE-ECHO sent */
    LKSCTP_ESTABLISHED,
    LKSCTP_SHUTDOWN_PENDING, /* lksctp_shutdown: draining what is queued */
    LKSCTP_SHUTDOWN_SENT,
    LKSCTP_SHUTDOWN_RECEIVED,
    LKSCTP_SHUTDOWN_ACK_SENT,
    LKSCTP_CLOSED, /* terminal: see lksctp_close_reason */
};

enum lksctp_close_reason {
    LKSCTP_OPEN_OR_NEW,
    LKSCTP_BY_SHUTDOWN,     /* graceful, either side */
    LKSCTP_BY_LOCAL_ABORT,  /* lksctp_abort */
    LKSCTP_BY_PEER_ABORT,   /* ABORT received */
    LKSCTP_BY_TIMEOUT,      /* too many retransmissions or unanswered heartbeats */
    LKSCTP_BY_PROTOCOL,     /* the peer broke the protocol (e.g. message too large) */
};

/* Payload protocol identifiers of WebRTC (RFC 8831 8). */
enum {
    LKSCTP_PPID_DCEP = 50,
    LKSCTP_PPID_STRING = 51,
    LKSCTP_PPID_BINARY_PARTIAL = 52, /* deprecated */
    LKSCTP_PPID_BINARY = 53,
    LKSCTP_PPID_STRING_PARTIAL = 54, /* deprecated */
    LKSCTP_PPID_STRING_EMPTY = 56,
    LKSCTP_PPID_BINARY_EMPTY = 57,
};

typedef struct lksctp_callbacks {
    void *ctx;
    /* One SCTP packet to write as one DTLS record. */
    void (*send)(void *ctx, const uint8_t *pkt, size_t len);
    /* A whole message. data is only valid during the call. */
    void (*message)(void *ctx, uint16_t stream, uint32_t ppid, const uint8_t *data, size_t len,
                    bool unordered);
    void (*state_changed)(void *ctx, enum lksctp_state state);
    /* A stream was reset (RFC 6525). incoming: the peer reset its outgoing
     * stream, nothing more arrives on it (a data channel closing). Otherwise
     * our own reset request was answered (ok: performed). */
    void (*stream_reset)(void *ctx, uint16_t stream, bool incoming, bool ok);
    /* The buffered amount fell to the low-water mark after a send was
     * refused or after it was above the mark (backpressure released). */
    void (*writable)(void *ctx);
} lksctp_callbacks;

typedef struct lksctp_config {
    uint16_t local_port, remote_port; /* a=sctp-port; 0 means 5000 */
    uint32_t mtu;                     /* largest packet we send; 0: 1200 */
    uint32_t rwnd;                    /* our receive buffer, bytes; 0: 1 MiB */
    uint32_t max_message_size;        /* largest message either way; 0: 256 KiB */
    size_t send_buffer;               /* queued + unacknowledged bytes; 0: 1 MiB */
    size_t low_water;                 /* `writable` threshold; 0: send_buffer / 4 */
    uint32_t rto_initial_ms, rto_min_ms, rto_max_ms; /* 0: 1000, 400, 60000 */
    uint32_t heartbeat_ms;            /* idle probe interval; 0: 30000 */
    uint32_t max_retrans;             /* consecutive failures before giving up; 0: 10 */
    uint32_t max_init_retrans;        /* INIT / COOKIE-ECHO attempts; 0: 8 */
    bool no_zero_checksum;            /* do not offer RFC 9653 (peer keeps sending CRCs) */
    /* n cryptographically random bytes; NULL for OpenSSL's. */
    void (*random)(void *buf, size_t n);
} lksctp_config;

/* Per-message options; all zero is reliable and ordered. Partial
 * reliability needs a peer that announced FORWARD-TSN (otherwise reliable). */
enum lksctp_reliability {
    LKSCTP_RELIABLE,
    LKSCTP_MAX_RETRANSMITS, /* value: retransmissions allowed (0: sent once) */
    LKSCTP_MAX_LIFETIME,    /* value: ms after lksctp_send, then abandoned */
};

typedef struct lksctp_sendopts {
    bool unordered;
    enum lksctp_reliability reliability;
    uint32_t value;
} lksctp_sendopts;

typedef struct lksctp_stats {
    uint32_t cwnd, ssthresh, peer_rwnd, flight;
    uint64_t rto_ms, srtt_us;
    uint64_t packets_sent, packets_received, retransmissions, fast_retransmits, t3_expiries;
    uint64_t abandoned_messages, forward_tsns_sent, heartbeats_sent, heartbeat_acks;
    uint64_t bad_packets; /* dropped: checksum, tag, malformed chunk */
} lksctp_stats;

/* NULL on allocation failure. cfg may be NULL for all defaults. */
lksctp *lksctp_new(const lksctp_config *cfg, const lksctp_callbacks *cb);
/* Frees without emitting anything (also the fork child's way out). */
void lksctp_free(lksctp *a);

/* Sends INIT (the side that would otherwise wait may call it too: an INIT
 * collision converges to one association). 0, or -EALREADY. */
int lksctp_connect(lksctp *a, uint64_t now_ns);

/* One received SCTP packet. 0, or a negative errno when dropped as
 * malformed or not ours (-EBADMSG, -EPROTO). Never fails the association
 * by itself except for ABORT or a protocol violation. */
int lksctp_handle_packet(lksctp *a, const uint8_t *pkt, size_t len, uint64_t now_ns);

/* Queues one message (len may not be 0: the data channel layer maps empty
 * messages to a one-byte payload with the "empty" PPIDs). 0, or
 * -EAGAIN (send buffer full: wait for `writable`), -EMSGSIZE, -ENOTCONN,
 * -EINVAL (stream id out of range), -EBUSY (stream being reset). */
int lksctp_send(lksctp *a, uint16_t stream, uint32_t ppid, const uint8_t *data, size_t len,
                const lksctp_sendopts *opts, uint64_t now_ns);

/* Bytes queued or in flight, not yet acknowledged: all streams, or one. */
size_t lksctp_buffered(const lksctp *a);
size_t lksctp_stream_buffered(const lksctp *a, uint16_t stream);
/* With nothing in flight: what the peer's last SACK said it still held
 * for its application (its whole window minus the one offered). A peer
 * that leaves a SACK's window as it was when its application reads (pion
 * does) keeps this above 0 until its next SACK. */
size_t lksctp_peer_unread(const lksctp *a);

/* Resets our outgoing stream (closes a data channel's sending side). What
 * was queued before is still delivered. The answer comes as
 * stream_reset(incoming = false). 0, -ENOTCONN, -EINVAL, or -EOPNOTSUPP when
 * the peer did not announce RE-CONFIG. */
int lksctp_reset_stream(lksctp *a, uint16_t stream, uint64_t now_ns);

/* While paused, complete messages are kept (they use the receive window,
 * so the peer slows down and eventually stops); resuming delivers them. */
void lksctp_set_paused(lksctp *a, bool paused, uint64_t now_ns);

/* Graceful close once everything queued is acknowledged. */
void lksctp_shutdown(lksctp *a, uint64_t now_ns);
/* Sends ABORT (with reason as a user-initiated abort cause) and closes. */
void lksctp_abort(lksctp *a, const char *reason, uint64_t now_ns);

/* UINT64_MAX when no timer runs. */
uint64_t lksctp_next_deadline(const lksctp *a);
void lksctp_on_timeout(lksctp *a, uint64_t now_ns);

enum lksctp_state lksctp_state(const lksctp *a);
enum lksctp_close_reason lksctp_close_reason(const lksctp *a);
uint16_t lksctp_out_streams(const lksctp *a);
uint16_t lksctp_in_streams(const lksctp *a);
bool lksctp_peer_pr_sctp(const lksctp *a);
void lksctp_get_stats(const lksctp *a, lksctp_stats *st);
const char *lksctp_state_name(enum lksctp_state s);

#endif
