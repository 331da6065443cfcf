/*
 * ice.h: an ICE agent (RFC 8445) with consent freshness (RFC 7675), sans-I/O.
 *
 * Our side offers host candidates only: the caller owns one UDP socket per
 * local address and tells the agent about each (lkice_add_local). Datagrams
 * arriving on them go through lkice_on_datagram first; what is not STUN for
 * this agent is the caller's (DTLS, SRTP). The agent sends through the
 * callback and is driven by the caller's clock: call lkice_on_timeout at
 * lkice_next_deadline. Nothing here blocks or allocates per packet.
 */
#ifndef LKRTC_ICE_H
#define LKRTC_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct lkice_agent lkice_agent;

enum lkice_state {
    LKICE_NEW,
    LKICE_CHECKING,
    LKICE_CONNECTED,    /* a pair is selected; media may flow */
    LKICE_DISCONNECTED, /* consent not refreshed for a while; may come back */
    LKICE_FAILED,       /* no pair works, or consent expired */
    LKICE_CLOSED,
};

typedef struct lkice_callbacks {
    void *ctx;
    void (*send)(void *ctx, unsigned local, const struct sockaddr *to, socklen_t tolen,
                 const uint8_t *data, size_t len);
    void (*state_changed)(void *ctx, enum lkice_state state);
    /* The pair to send media on (again after a change). */
    void (*selected)(void *ctx, unsigned local, const struct sockaddr *remote, socklen_t len);
} lkice_callbacks;

enum { LKICE_MAX_LOCAL = 8, LKICE_MAX_REMOTE = 32, LKICE_MAX_PAIRS = 64 };

/* random: fills buf with n cryptographically random bytes (tests may pass a
 * deterministic one); NULL for OpenSSL's. */
lkice_agent *lkice_new(const lkice_callbacks *cb, bool controlling,
                       void (*random)(void *buf, size_t n));
void lkice_free(lkice_agent *a);

const char *lkice_local_ufrag(const lkice_agent *a);
const char *lkice_local_pwd(const lkice_agent *a);
const char *lkice_remote_ufrag(const lkice_agent *a); /* "" until set */

/* A host candidate on the caller's socket number `index` (0..7). */
int lkice_add_local(lkice_agent *a, const struct sockaddr *addr, socklen_t len);
/* Its SDP attribute value: "candidate:... typ host". */
void lkice_local_candidate(const lkice_agent *a, unsigned index, char *out, size_t cap);

int lkice_set_remote_credentials(lkice_agent *a, const char *ufrag, const char *pwd);

/* An SDP candidate attribute ("candidate:..." with or without "a="). 0 if
 * added; 1 if deliberately ignored (TCP, mDNS name, another component),
 * with why in reason; -1 if malformed. */
int lkice_add_remote_candidate(lkice_agent *a, const char *attr, char *reason, size_t cap);
void lkice_remote_candidates_done(lkice_agent *a);

/* Starts checking (once credentials and candidates are known; candidates
 * may keep arriving). Again after a restart's new credentials; otherwise
 * once. */
void lkice_start(lkice_agent *a, uint64_t now_ns);

/* True if the datagram was STUN for this agent (consumed). */
bool lkice_on_datagram(lkice_agent *a, uint64_t now_ns, unsigned local,
                       const struct sockaddr *from, socklen_t fromlen, const uint8_t *data,
                       size_t len);

uint64_t lkice_next_deadline(const lkice_agent *a); /* UINT64_MAX: nothing scheduled */
void lkice_on_timeout(lkice_agent *a, uint64_t now_ns);

enum lkice_state lkice_state(const lkice_agent *a);
bool lkice_controlling(const lkice_agent *a);

/* --- statistics (W3C webrtc-stats: RTCIceCandidatePairStats) --------------------- */

enum lkice_candidate_type { LKICE_HOST, LKICE_SRFLX, LKICE_PRFLX, LKICE_RELAY };

typedef struct lkice_candidate {
    struct sockaddr_storage addr;
    uint32_t priority;
    enum lkice_candidate_type type; /* ours are host; a peer's seen first in a check, prflx */
} lkice_candidate;

typedef struct lkice_pair_counters {
    uint64_t requests_sent, responses_received; /* connectivity checks, ours */
    uint64_t requests_received, responses_sent; /* the peer's */
    uint64_t consent_requests_sent;             /* RFC 7675, once selected */
    uint64_t rtt_last_ns, rtt_total_ns, rtt_count; /* request to response, checks and consent */
} lkice_pair_counters;

typedef struct lkice_pair_info {
    unsigned local_index;
    lkice_candidate local, remote;
    bool nominated;
    lkice_pair_counters n;
} lkice_pair_info;

/* A candidate's address as text (ip: INET6_ADDRSTRLEN bytes) and port. */
void lkice_format_addr(const struct sockaddr_storage *s, char *ip, size_t cap, unsigned *port);
/* The selected pair; false while there is none. */
bool lkice_selected_pair(const lkice_agent *a, lkice_pair_info *out);
/* How many times the selected pair changed (the first selection counts). */
unsigned lkice_selected_changes(const lkice_agent *a);

/* An ICE restart: new local credentials (lkice_local_ufrag/pwd); remote
 * candidates and pairs are forgotten, and checks wait. The peer's
 * credentials that come next (new or not) start them over:
 * lkice_set_remote_credentials, candidates, then lkice_start again; the
 * peer's checks that reach us meanwhile are answered and their sources
 * kept. Until a pair is selected, lkice_selected_pair is false, and the
 * caller keeps sending where it did. */
void lkice_restart(lkice_agent *a);

void lkice_close(lkice_agent *a);

#endif
