/*
 * peer.h: one WebRTC PeerConnection carrying data channels, sans-I/O:
 * ICE, then DTLS on the selected pair, then SCTP with data channels over
 * DTLS, negotiated with one SDP offer and answer. Audio and video go as
 * SRTP on the same path, each track in a sendonly section of a later offer
 * (we always offer, the server always answers).
 *
 * The caller owns the UDP sockets (lkpeer_add_local for each), hands every
 * datagram to lkpeer_on_datagram and sends what the send callback gives;
 * it runs lkpeer_on_timeout at lkpeer_next_deadline. Callbacks may call
 * lkpeer_send / lkpeer_open_channel, not lkpeer_free.
 */
#ifndef LKRTC_PEER_H
#define LKRTC_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "datachannel.h"
#include "dtls.h"
#include "ice.h"

typedef struct lkpeer lkpeer;

enum lkpeer_state {
    LKPEER_NEW,
    LKPEER_CONNECTING,
    LKPEER_CONNECTED, /* ICE, DTLS and SCTP are up: channels can carry data */
    LKPEER_DISCONNECTED, /* ICE lost consent for a while; may recover */
    LKPEER_FAILED,
    LKPEER_CLOSED,
};

typedef struct lkpeer_callbacks {
    void *ctx;
    void (*send)(void *ctx, unsigned local, const struct sockaddr *to, socklen_t tolen,
                 const uint8_t *data, size_t len);
    void (*state_changed)(void *ctx, enum lkpeer_state state, const char *why);
    void (*channel_open)(void *ctx, uint16_t id, const char *label);
    void (*message)(void *ctx, uint16_t id, bool binary, const uint8_t *data, size_t len);
    void (*channel_closed)(void *ctx, uint16_t id);
    /* What was buffered fell to the low-water mark after a send was
     * refused with -EAGAIN: sending can resume. */
    void (*writable)(void *ctx);
    /* A decrypted RTP packet for a receiving section (its index), and a
     * decrypted RTCP compound. Valid during the call. */
    void (*rtp)(void *ctx, int section, const uint8_t *pkt, size_t len);
    void (*rtcp)(void *ctx, const uint8_t *pkt, size_t len);
} lkpeer_callbacks;

/* NULL if no certificate could be made. */
lkpeer *lkpeer_new(const lkpeer_callbacks *cb);
void lkpeer_free(lkpeer *p); /* sends nothing */

int lkpeer_add_local(lkpeer *p, const struct sockaddr *addr, socklen_t len);

/* The offer (we then control ICE); our host candidates are in it. */
size_t lkpeer_create_offer(lkpeer *p, char *out, size_t cap);
int lkpeer_set_answer(lkpeer *p, const char *sdp, size_t len, uint64_t now_ns, char *err,
                      size_t errlen);

/* An ICE restart: the next offer carries new ICE credentials, and its
 * answer starts the checks over (an offer still waiting for its answer is
 * given up). DTLS, SCTP, SRTP and the sections stay as they are; media
 * keeps the path it had until checks select one. Offerer only. */
void lkpeer_restart_ice(lkpeer *p);

/* The answering side (tests, and a server offer should one come). */
int lkpeer_set_offer(lkpeer *p, const char *sdp, size_t len, uint64_t now_ns, char *err,
                     size_t errlen);
size_t lkpeer_create_answer(lkpeer *p, char *out, size_t cap);

/* A trickled candidate ("candidate:..."); 0 added, 1 ignored, -1 malformed. */
int lkpeer_add_remote_candidate(lkpeer *p, const char *line);

/* Channels: see lkdc_open / lkdc_send. Before the connection is up, an
 * open waits and goes out when it is. */
int lkpeer_open_channel(lkpeer *p, const char *label, const lkdc_options *opts, uint64_t now_ns);
int lkpeer_send(lkpeer *p, uint16_t id, bool binary, const uint8_t *data, size_t len,
                uint64_t now_ns);

void lkpeer_on_datagram(lkpeer *p, uint64_t now_ns, unsigned local, const struct sockaddr *from,
                        socklen_t fromlen, const uint8_t *data, size_t len);
uint64_t lkpeer_next_deadline(lkpeer *p, uint64_t now_ns);
void lkpeer_on_timeout(lkpeer *p, uint64_t now_ns);

enum lkpeer_state lkpeer_state(const lkpeer *p);

/* --- statistics (W3C webrtc-stats: the transport, its pair, its channels) --------- */
typedef struct lkpeer_counters {
    uint64_t packets_sent, bytes_sent; /* every datagram: STUN, DTLS, SRTP */
    uint64_t packets_received, bytes_received;
} lkpeer_counters;
typedef struct lkpeer_stats {
    enum lkpeer_state state;
    lkpeer_counters n;
    enum lkice_state ice_state;
    bool ice_controlling;
    const char *ice_ufrag;
    bool have_pair; /* pair is the selected one */
    lkice_pair_info pair;
    unsigned pair_changes;
    lkdtls_info dtls;
    unsigned channels_opened, channels_closed;
} lkpeer_stats;
/* A snapshot; its strings live as long as the peer (the ufrag until a
 * restart). */
void lkpeer_get_stats(const lkpeer *p, lkpeer_stats *st);
/* As lkdc_channels: the open and opening channels. */
size_t lkpeer_channels(const lkpeer *p, lkdc_channel_info *out, size_t cap);
/* Bytes sent on channel id that the peer has not acknowledged yet. */
size_t lkpeer_buffered(const lkpeer *p, uint16_t id);
/* What the remote had acknowledged but not yet read, at its last word
 * (lksctp_peer_unread). */
size_t lkpeer_unread_by_remote(const lkpeer *p);

/* --- media ----------------------------------------------------------------------
 * Sections are append-only (mids "1", "2", ... after the data section's
 * "0"), never removed or reused for another kind, as JSEP wants. Each is
 * ours to send on (a sender) or the server's (a receiver: recvonly in our
 * offers; the server binds a subscribed track to an idle one). Indexes
 * count from 0 in the order sections were added. */
enum { LKPEER_MAX_SECTIONS = 127 }; /* and the data section: LKSDP_MAX_MEDIA */

typedef struct lkpeer_rtp_params {
    bool negotiated;         /* an answer accepted the section */
    uint8_t payload_type;    /* of Opus, or of VP8 in a video section (0: a receiver without VP8) */
    uint32_t h264_pts;       /* a video receiver's H.264 payload types: bit pt - 96 */
    uint8_t ext_audio_level; /* RFC 6464 extension id; 0: not negotiated */
    uint8_t ext_mid, ext_rid; /* sdes:mid and rtp-stream-id ids (simulcast); 0: not */
    /* A video sender's transport-wide sequence number extension id, when
     * the answer kept it and transport-cc feedback for VP8; 0: not */
    uint8_t ext_twcc;
    /* A video receiver's abs-send-time extension id, when the answer kept
     * it and goog-remb feedback for VP8 (the server reads our REMBs); 0: not */
    uint8_t ext_abs_send_time;
    bool dtx, stereo, fec;   /* what the answer's Opus fmtp asks of our encoder */
} lkpeer_rtp_params;

/* A sendonly audio section for a track: its a=msid track id (the server
 * pairs it with the AddTrackRequest's cid) and SSRC, in every offer from
 * the next on. The section's index, or -1 when there is no room. */
int lkpeer_add_audio_sender(lkpeer *p, const char *track_id, uint32_t ssrc);
/* The same for a video track: VP8 (rtc/sdp.h says what is offered). */
int lkpeer_add_video_sender(lkpeer *p, const char *track_id, uint32_t ssrc);
/* A video track sent in layers (2..LKSDP_MAX_RIDS rids, highest first, as
 * libwebrtc lists them): no SSRC declared; each layer's packets must carry
 * the mid and rid extensions the answer negotiates. */
int lkpeer_add_simulcast_sender(lkpeer *p, const char *track_id, const char *const *rids,
                                unsigned n_rids);
/* The section goes recvonly without an SSRC from the next offer on: the
 * server ends the track. */
void lkpeer_stop_sender(lkpeer *p, int index);
/* A recvonly audio section (Opus only, so the server never sends us RED),
 * in every offer from the next on. Its index, or -1 when there is no room. */
int lkpeer_add_audio_receiver(lkpeer *p);
/* A recvonly video section (VP8, and H.264 in the profiles rtc/sdp.h names). */
int lkpeer_add_video_receiver(lkpeer *p);
bool lkpeer_section_is_video(const lkpeer *p, int index);
/* What the last answer negotiated for a section (negotiated false before):
 * for a receiver, the Opus payload type the server sends. */
const lkpeer_rtp_params *lkpeer_section_params(const lkpeer *p, int index);
/* Whether the answer gave pt to H.264 in the section these params are of. */
bool lkpeer_is_h264(const lkpeer_rtp_params *rp, uint8_t pt);
unsigned lkpeer_section_count(const lkpeer *p);
/* A section's mid ("" for a bad index). */
const char *lkpeer_section_mid(const lkpeer *p, int index);
/* A receiver's SSRC and a=msid ("<participant sid>|<track sid> <track
 * sid>" from livekit-server) in the last answer; 0 and "" while idle.
 * false if index is not a receiver. */
bool lkpeer_receiver(const lkpeer *p, int index, uint32_t *ssrc, const char **msid);
/* true from lkpeer_create_offer until its answer is set: offers must not
 * overlap. */
bool lkpeer_offer_pending(const lkpeer *p);

/* Protects an RTP (RTCP) packet in place and sends it on the selected
 * path: pkt has room for LKSRTP_MAX_TRAILER bytes past len (cap). 0;
 * -ENOTCONN until DTLS has given SRTP keys, or when it negotiated no SRTP
 * profile or libsrtp2 cannot be opened (see lkpeer_media_error); -EINVAL
 * for a packet SRTP refuses. */
int lkpeer_send_rtp(lkpeer *p, uint8_t *pkt, size_t len, size_t cap);
int lkpeer_send_rtcp(lkpeer *p, uint8_t *pkt, size_t len, size_t cap);
/* Why media cannot flow on an established connection; NULL if it can or
 * the connection is not up yet. */
const char *lkpeer_media_error(const lkpeer *p);
/* The RTCP CNAME of this connection's senders. */
const char *lkpeer_cname(const lkpeer *p);

/* SCTP ABORT (what is unacknowledged is lost: see lkpeer_buffered), DTLS
 * close_notify. */
void lkpeer_close(lkpeer *p, uint64_t now_ns);

#endif
