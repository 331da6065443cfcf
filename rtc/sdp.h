/*
 * sdp.h: the SDP (RFC 8866) a PeerConnection exchanges with livekit-server:
 * the offers we write and the answers we read (JSEP, RFC 8829).
 *
 * The parser keeps what a WebRTC transport needs (ICE credentials and
 * candidates, the DTLS fingerprint and role, each section's kind, mid,
 * direction, SCTP port and message size) in one fixed-size structure, and
 * refuses anything malformed with the line it stopped at.
 */
#ifndef LKRTC_SDP_H
#define LKRTC_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { LKSDP_MAX_MEDIA = 16, LKSDP_MAX_CANDIDATES = 32 };

typedef struct lksdp_media {
    char kind[16]; /* "audio", "video", "application" */
    uint16_t port; /* 0: rejected */
    char proto[40];
    char mid[32];
    char direction[12]; /* "sendrecv" unless the section says otherwise */
    /* empty when the section does not set them: see the lksdp_* getters */
    char ice_ufrag[64], ice_pwd[128], fingerprint[160], setup[12];
    uint16_t sctp_port;        /* a=sctp-port; 0 if absent */
    uint32_t max_message_size; /* a=max-message-size; 0 if absent */
    bool end_of_candidates;
} lksdp_media;

typedef struct lksdp_candidate {
    unsigned media; /* index of its section */
    char line[224]; /* "candidate:..." */
} lksdp_candidate;

typedef struct lksdp {
    bool ice_lite;
    char ice_ufrag[64], ice_pwd[128], fingerprint[160], setup[12]; /* session level */
    char bundle[256]; /* a=group:BUNDLE's mids, space separated */
    lksdp_media media[LKSDP_MAX_MEDIA];
    unsigned n_media;
    lksdp_candidate candidates[LKSDP_MAX_CANDIDATES];
    unsigned n_candidates;
} lksdp;

/* 0, or -1 with the line number and the reason in err. */
int lksdp_parse(lksdp *s, const char *text, size_t len, char *err, size_t errlen);

/* A section's value, falling back to the session's ("" if neither). */
const char *lksdp_ice_ufrag(const lksdp *s, unsigned media);
const char *lksdp_ice_pwd(const lksdp *s, unsigned media);
const char *lksdp_fingerprint(const lksdp *s, unsigned media);
const char *lksdp_setup(const lksdp *s, unsigned media);

/* The first section of a kind, or -1. */
int lksdp_find(const lksdp *s, const char *kind);

/* --- writing ---------------------------------------------------------------------- */

typedef struct lksdp_offer {
    uint64_t session_id;
    unsigned version;
    const char *setup; /* NULL: "actpass" (an offer); an answer says "active" */
    const char *mid;   /* NULL: "0" */
    const char *ice_ufrag, *ice_pwd;
    const char *fingerprint; /* "sha-256 AB:..." */
    uint32_t max_message_size;
    const char *const *candidates; /* "candidate:..." lines, may be empty (trickle) */
    unsigned n_candidates;
} lksdp_offer;

/* A description with one data section, as a browser or libwebrtc writes
 * it: an offer by default, an answer with setup and mid set. The length,
 * or 0 if cap is too small. */
size_t lksdp_write_data_offer(char *out, size_t cap, const lksdp_offer *o);

#endif
