/*
 * sdp.h: the SDP (RFC 8866) a PeerConnection exchanges with livekit-server:
 * the offers we write and the answers we read (JSEP, RFC 8829).
 *
 * The parser keeps what a WebRTC transport needs (ICE credentials and
 * candidates, the DTLS fingerprint and role, each section's kind, mid,
 * direction, SCTP port and message size) and what an RTP section
 * negotiated (codecs in preference order with their fmtp, header
 * extension ids, the first SSRC and the msid) in one fixed-size structure,
 * and refuses anything malformed with the line it stopped at.
 */
#ifndef LKRTC_SDP_H
#define LKRTC_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { LKSDP_MAX_MEDIA = 128, LKSDP_MAX_CANDIDATES = 32 };
enum { LKSDP_MAX_CODECS = 8, LKSDP_MAX_EXTMAPS = 8 };

/* What our audio sections offer. The RTP sender must write the same
 * values: Opus on this payload type, the audio level (RFC 6464) in a
 * one-byte header extension with this id, which livekit-server needs to
 * rank active speakers. */
enum { LKSDP_OPUS_PT = 111, LKSDP_OPUS_CLOCK = 48000, LKSDP_EXT_AUDIO_LEVEL_ID = 1 };
#define LKSDP_OPUS_FMTP "minptime=10;useinbandfec=1"
#define LKSDP_URI_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define LKSDP_URI_SDES_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
/* What our video sections offer: VP8 alone (no RTX: the server then
 * resends lost packets on the media SSRC, and so do we), with NACK, PLI
 * and FIR feedback; livekit-server registers VP8 on 96. A simulcast
 * section declares no SSRC: each layer's packets carry the section's mid
 * and the layer's rid in these extensions, by which the server binds
 * them. */
enum { LKSDP_VP8_PT = 96, LKSDP_VP8_CLOCK = 90000, LKSDP_EXT_MID_ID = 3, LKSDP_EXT_RID_ID = 4 };
/* A recvonly video section offers H.264 too, after VP8 (RFC 6184,
 * packetization mode 1, the profile-level-ids livekit-server registers:
 * constrained baseline, baseline, main, high), one payload type each from
 * LKSDP_H264_PT on; the server answers with ours. */
enum { LKSDP_H264_PT = 97, LKSDP_H264_PROFILES = 4 };
enum { LKSDP_MAX_RIDS = 3 };
#define LKSDP_URI_RTP_STREAM_ID "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
/* Transport-wide congestion control
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01): a video sender's
 * section offers the sequence number extension, and livekit-server
 * answers with TWCC feedback for its packets. Every video section offers
 * the transport-cc feedback: pion settles a kind's codecs and their
 * feedback at the first offer that has the kind, often a receiver's, and
 * keeps them for later sections. Audio offers neither (the server
 * registers neither for audio). */
enum { LKSDP_EXT_TWCC_ID = 5 };
#define LKSDP_URI_TWCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
/* The receive side's estimate (rtc/rbe): a video receiver's section offers
 * abs-send-time, which livekit-server stamps on what it forwards, and
 * every video section the goog-remb feedback (for pion's first-offer rule
 * as transport-cc); the server then picks our layers from our REMBs. */
enum { LKSDP_EXT_ABS_SEND_TIME_ID = 2 };
#define LKSDP_URI_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"

typedef struct lksdp_codec {
    uint8_t pt;
    char name[16]; /* as written: "opus", "red", "VP8" */
    uint32_t clock;
    uint8_t channels; /* 0 when the rtpmap has none */
    char fmtp[128];   /* the a=fmtp:<pt> value; "" if none */
} lksdp_codec;

typedef struct lksdp_extmap {
    uint8_t id;
    char uri[96];
} lksdp_extmap;

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
    /* RTP sections. Only the m= line's first LKSDP_MAX_CODECS payload
     * types are kept (the rest are checked for shape, then skipped);
     * codecs are those of them with an a=rtpmap, in m= line (preference)
     * order; extmaps the first LKSDP_MAX_EXTMAPS. */
    uint8_t fmts[LKSDP_MAX_CODECS]; /* the m= line's payload types, in order */
    unsigned n_fmts;
    lksdp_codec codecs[LKSDP_MAX_CODECS];
    unsigned n_codecs;
    lksdp_extmap extmaps[LKSDP_MAX_EXTMAPS];
    unsigned n_extmaps;
    uint8_t transport_cc[16]; /* a=rtcp-fb:<pt> transport-cc, a bit per pt; "*": all */
    uint8_t goog_remb[16];    /* a=rtcp-fb:<pt> goog-remb, the same way */
    uint32_t ssrc;  /* the first a=ssrc; 0 if none */
    char msid[128]; /* the a=msid value ("<stream> <track>"); "" if none */
} lksdp_media;

typedef struct lksdp_candidate {
    unsigned media; /* index of its section */
    char line[224]; /* "candidate:..." */
} lksdp_candidate;

typedef struct lksdp {
    bool ice_lite;
    char ice_ufrag[64], ice_pwd[128], fingerprint[160], setup[12]; /* session level */
    char bundle[1024]; /* a=group:BUNDLE's mids, space separated: ours fit */
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

/* The section's first codec of that name (any case), in preference
 * order; NULL if none. */
const lksdp_codec *lksdp_codec_find(const lksdp_media *m, const char *name);

/* The id the section gives the header extension uri; 0 if absent. */
uint8_t lksdp_extmap_id(const lksdp_media *m, const char *uri);

/* Whether the section's feedback for payload type pt includes transport-cc,
 * or goog-remb. */
bool lksdp_has_transport_cc(const lksdp_media *m, uint8_t pt);
bool lksdp_has_goog_remb(const lksdp_media *m, uint8_t pt);

/* Whether the codec's fmtp (";"-separated key=value pairs, spaces around
 * either allowed) has key (any case) set to exactly value, e.g. the
 * server's answer asking our Opus encoder for "usedtx" "1". */
bool lksdp_fmtp_has(const lksdp_codec *c, const char *key, const char *value);

/* An a=msid value's two parts (RFC 8830: "<stream id> <track id>") into
 * stream and track; false (both "") when it has not exactly two non-empty
 * parts or either does not fit. */
bool lksdp_msid_split(const char *msid, char *stream, size_t stream_cap, char *track,
                      size_t track_cap);

/* --- writing ---------------------------------------------------------------------- */

/* One RTP section of an offer, rtcp-mux. Audio: Opus only (no RED: we
 * send plain Opus, so the server publishes the track as audio/opus), the
 * audio level extension. Video: VP8 and, recvonly, H.264; their feedback
 * (above). */
typedef struct lksdp_rtp_section {
    const char *kind;      /* "audio" or "video" */
    const char *mid;
    const char *direction; /* "sendonly", "recvonly", "sendrecv", "inactive" */
    const char *track_id;  /* "a=msid:- <track_id>"; NULL: no msid */
    /* "a=ssrc:<ssrc> cname:<cname>" and "a=ssrc:<ssrc> msid:- <track_id>"; 0: none */
    uint32_t ssrc;
    const char *cname;
    /* A simulcast video sender's layers, highest first: an a=rid line
     * each and a=simulcast, and the mid and rid extensions. */
    const char *const *rids;
    unsigned n_rids; /* 0, or 2..LKSDP_MAX_RIDS */
} lksdp_rtp_section;

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
    const lksdp_rtp_section *rtp; /* after the data section, in order */
    unsigned n_rtp;
} lksdp_offer;

/* A description with a data section first, then the RTP sections, all
 * BUNDLEd on the data section's transport (its candidates, the same ICE
 * credentials and fingerprint in every section), as a browser or
 * libwebrtc writes it: an offer by default, an answer with setup and mid
 * set. The length, or 0 if cap is too small or an RTP section is not one
 * we can write (a kind other than audio or video, an unknown direction, a mid,
 * track id or cname missing where needed or holding a space or line
 * break). */
size_t lksdp_write_offer(char *out, size_t cap, const lksdp_offer *o);

#endif
