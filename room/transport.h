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
} lkroom_transport_callbacks;

/* NULL with err when no socket or certificate can be had. */
lkroom_transport *lkroom_transport_new(lkio_worker *w, const lkroom_transport_callbacks *cb,
                                       char *err, size_t errlen);

/* The offer (to send in the join request). */
size_t lkroom_transport_offer(lkroom_transport *t, char *out, size_t cap);
/* The server's answer; opens the data channels. */
int lkroom_transport_answer(lkroom_transport *t, const char *sdp, size_t len, char *err,
                            size_t errlen);
/* A trickled candidate: the JSON of an RTCIceCandidateInit. */
int lkroom_transport_trickle(lkroom_transport *t, const char *candidate_init_json);

int lkroom_transport_send(lkroom_transport *t, bool reliable, const uint8_t *data, size_t len);

/* Closes the connection gracefully and frees everything once the ring is
 * done with it; no callback after this. */
void lkroom_transport_destroy(lkroom_transport *t);

#endif
