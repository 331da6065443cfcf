/*
 * srtp.h: SRTP and SRTCP (RFC 3711, RFC 7714) for one DTLS association,
 * keyed by the DTLS exporter (RFC 5764), over libsrtp2.
 *
 * A session is a pair of libsrtp contexts: outbound keyed with our key and
 * salt, inbound with the peer's, each taking any SSRC. Packets are changed
 * in place: protect appends the trailer (the tag; for SRTCP also the E flag
 * and index), so the buffer needs LKSRTP_MAX_TRAILER bytes of room past the
 * packet; unprotect checks, decrypts and drops it. Both return the new
 * length, or a negative LKSRTP_E* code: the packet's length is then as it
 * was and its header as received, but with GCM the payload may have been
 * zeroed (the crypto backend never leaves unauthenticated plaintext), so a
 * caller that would try other keys keeps a copy. Buffers are best 4-byte
 * aligned (libsrtp reads 32-bit words).
 *
 * A session belongs to one worker: no locks of ours. Nothing is allocated
 * per packet by us; libsrtp allocates once per new SSRC (for inbound, once
 * it authenticates). Debian's libsrtp2 does its crypto with NSS, which
 * allocates a few blocks and takes uncontended locks inside each call:
 * not ours to change.
 */
#ifndef LKRTC_SRTP_H
#define LKRTC_SRTP_H

#include <stddef.h>
#include <stdint.h>

#include "dtls.h"

typedef struct lksrtp lksrtp;

enum {
    /* The largest trailer protect appends: a 16-byte GCM tag plus the 4-byte
     * SRTCP index. No MKI is used. */
    LKSRTP_MAX_TRAILER = 20,
    /* Packets per SSRC that may arrive out of order and still be accepted:
     * a video keyframe burst reordered on the path must not be dropped. */
    LKSRTP_REPLAY_WINDOW = 1024,
    /* Larger input is refused: nothing above a UDP datagram is a packet. */
    LKSRTP_MAX_PACKET = 65535,
};

enum lksrtp_error {
    LKSRTP_EINVAL = -1,     /* bad argument: keys, profile, no room for the trailer */
    LKSRTP_EMALFORMED = -2, /* too short for its header and tag, or a header overrunning it */
    LKSRTP_EAUTH = -3,      /* the tag does not verify: altered, or other keys */
    LKSRTP_EREPLAY = -4,    /* already received */
    LKSRTP_EOLD = -5,       /* older than the replay window */
    LKSRTP_EFAIL = -6,      /* libsrtp or its crypto backend failed */
};

/* Opens libsrtp2 (once per process; later calls only report). It reads a
 * shared library from disk, so call it where blocking is allowed (the
 * client's thread) before the first session; lksrtp_new calls it too.
 * 0, or -1 with the reason in err. */
int lksrtp_load(char *err, size_t errlen);

/* NULL on failure, with the reason in err. The keys may be wiped after. */
lksrtp *lksrtp_new(const lkdtls_srtp *keys, char *err, size_t errlen);
void lksrtp_free(lksrtp *s);

/* pkt holds len bytes of RTP (RTCP) in a buffer of cap bytes; cap must be
 * at least len + LKSRTP_MAX_TRAILER. Returns the SRTP (SRTCP) length. The
 * same sequence number may be protected again (a NACKed retransmission)
 * until LKSRTP_REPLAY_WINDOW newer ones have gone out; then LKSRTP_EOLD. */
int lksrtp_protect_rtp(lksrtp *s, uint8_t *pkt, size_t len, size_t cap);
int lksrtp_protect_rtcp(lksrtp *s, uint8_t *pkt, size_t len, size_t cap);

/* Returns the plain RTP (RTCP) length. */
int lksrtp_unprotect_rtp(lksrtp *s, uint8_t *pkt, size_t len);
int lksrtp_unprotect_rtcp(lksrtp *s, uint8_t *pkt, size_t len);

/* Words for a negative code above. */
const char *lksrtp_strerror(int code);

#endif
