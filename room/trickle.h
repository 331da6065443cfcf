/*
 * trickle.h: the ICE candidate inside a trickle message. livekit-server
 * relays each candidate as the JSON of an RTCIceCandidateInit
 * ({"candidate":"candidate:…","sdpMid":"0",…}); an empty candidate marks
 * the end of the candidates. Pure: no state, no I/O.
 */
#ifndef LKROOM_TRICKLE_H
#define LKROOM_TRICKLE_H

#include <stddef.h>

typedef enum lkroom_trickle_result {
    LKROOM_TRICKLE_MALFORMED = -1, /* not an object with a string "candidate" that fits */
    LKROOM_TRICKLE_END = 0,        /* "candidate" is "": no more candidates */
    LKROOM_TRICKLE_FOUND = 1,      /* the candidate line, unescaped, is in out */
} lkroom_trickle_result;

/* Reads the "candidate" member (the first, if repeated) of json into out
 * (cap bytes, NUL included). out is "" unless FOUND. */
lkroom_trickle_result lkroom_trickle_candidate(const char *json, char *out, size_t cap);

#endif
