/*
 * transport.h: the room's PeerConnection on a worker: UDP sockets on the
 * ring for each local IPv4 interface address, the sans-I/O lkpeer, its
 * timer, and LiveKit's two data channels ("_reliable", "_lossy").
 *
 * All calls on the worker given at creation; callbacks run there.
 */
#ifndef LKROOM_TRANSPORT_H
#define LKROOM_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "peer.h"

typedef struct lkroom_transport lkroom_transport;

typedef struct lkroom_transport_callbacks {
    void *ctx;
    void (*state_changed)(void *ctx, enum lkpeer_state state, const char *why);
    /* both LiveKit channels are open: data can flow */
    void (*channels_ready)(void *ctx);
    void (*message)(void *ctx, bool reliable, const uint8_t *data, size_t len);
    /* A message sent with a token went to SCTP (error NULL) or could not
     * (error says why). */
    void (*sent)(void *ctx, uint64_t token, const char *error);
    /* What lkroom_transport_drain waited for happened. */
    void (*drained)(void *ctx);
    /* Decrypted media from the server (lkpeer_callbacks' rtp and rtcp). */
    void (*rtp)(void *ctx, int section, const uint8_t *pkt, size_t len);
    void (*rtcp)(void *ctx, const uint8_t *pkt, size_t len);
} lkroom_transport_callbacks;

/* NULL with err when no socket or certificate can be had. */
lkroom_transport *lkroom_transport_new(lkio_worker *w, const lkroom_transport_callbacks *cb,
                                       char *err, size_t errlen);

/* The offer (to send in the join request). */
size_t lkroom_transport_offer(lkroom_transport *t, char *out, size_t cap);
/* The server's answer; the first opens the data channels. */
int lkroom_transport_answer(lkroom_transport *t, const char *sdp, size_t len, char *err,
                            size_t errlen);
/* The PeerConnection, for its media (publish.c): sans-I/O, on this worker. */
lkpeer *lkroom_transport_peer(lkroom_transport *t);
/* A trickled candidate: the JSON of an RTCIceCandidateInit (trickle.h).
 * 1 at the end of candidates, -1 if malformed, else the peer's answer. */
int lkroom_transport_trickle(lkroom_transport *t, const char *candidate_init_json);

/* An ICE restart: the next offer carries new credentials (lkpeer_restart_ice). */
void lkroom_transport_restart_ice(lkroom_transport *t);
/* The SCTP stream ids of our reliable and lossy channels, then the
 * server's; -1 for one not open. */
void lkroom_transport_channel_ids(const lkroom_transport *t, int ids[4]);

/* One message on our reliable or lossy channel. 0: sent, or (reliable)
 * queued behind what SCTP cannot take yet; with a token (not NULL),
 * `sent(*token)` follows either way, maybe inside this call. Otherwise -ENOTCONN (channels not open),
 * -EMSGSIZE (over the peer's max-message-size), -ENOBUFS (queue full),
 * -ENOMEM; no `sent` then. A lossy message SCTP cannot take is dropped. */
int lkroom_transport_send(lkroom_transport *t, bool reliable, const uint8_t *data, size_t len,
                          const uint64_t *token);

/* true when the server has acknowledged everything sent on the reliable
 * channel and read it (or never will: the connection is not up; or it has
 * had a short grace to read). Otherwise false, and `drained` follows once
 * that is so. Leaving sooner would lose it: closing aborts SCTP, and the
 * server drops what it reads after a Leave. */
bool lkroom_transport_drain(lkroom_transport *t);
/* Messages still queued for SCTP are reported sent with error, and
 * dropped (before a destroy that is not the room's end). */
void lkroom_transport_fail_queued(lkroom_transport *t, const char *error);
/* Closes the connection gracefully and frees everything once the ring is
 * done with it; no callback after this. */
void lkroom_transport_destroy(lkroom_transport *t);

#endif
