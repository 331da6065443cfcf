/*
 * video_receiver.h: a subscribed video track's receiving side, sans-I/O:
 * VP8 or H.264 RTP packets (SRTP already removed) in, in any order, whole
 * decoded I420 pictures out, in order, and the feedback that keeps the
 * picture whole: NACKs for missing packets, a PLI when a keyframe is
 * needed. One codec per receiver, chosen at creation.
 *
 * Frames. A frame is the packets of one RTP timestamp from its first to
 * the one with the marker, with
 * no sequence number missing between (padding may sit between them,
 * stepped over). A frame is decodable when it is a
 * keyframe, or when the frame before it (by sequence number: its first
 * packet follows the previous frame's last) was decoded, or when its
 * picture id follows that of the last frame decoded and only missing
 * numbers and padding lie between (padding lost between frames is never
 * resent, so it is not waited for); frames are
 * handed to the decoder in order (libvpx, or libavcodec for H.264: one
 * thread each, neither starts one), and a frame the decoder refuses is not
 * shown. VP8 marks a frame's first packet (S set, partition 0); H.264 does
 * not, so there the first packet is one beginning a NAL unit that only
 * opens an access unit (an AUD or an SPS), or one whose preceding packet
 * came and ended a frame (marker, or another timestamp). An H.264 frame
 * is a keyframe when an IDR slice or an SPS begins in it; its packets
 * (RFC 6184, packetization mode 1: single NAL units, STAP-A, FU-A) are
 * put together in Annex B form for the decoder. Padding-only packets (the server
 * probes bandwidth with them, on the media's sequence numbers) count as
 * received and are dropped; so, where a frame must begin, is a VP8 packet
 * that begins no frame and names no picture (or the last one decoded):
 * livekit-server's probes reach us so, 255 bytes of padding sent as
 * payload and padded again. A frame that cannot become decodable (a
 * packet out of the window, its first packet gone, or a newer keyframe
 * is whole) is skipped; until the next keyframe, nothing is shown. A frame
 * waiting on a packet given up is not skipped: it decodes if the packet
 * still comes before a whole keyframe does. A keyframe (H.264: any frame
 * with an SPS) claiming more than 4096x4096, or 4096x2304 pixels in all,
 * is refused as the decoder would refuse it, before it allocates for it.
 * Before the first frame is decoded or skipped, a packet older
 * than the first one come is not late: the start may arrive reordered.
 *
 * Loss. A gap in the sequence numbers is NACKed at once, then again
 * every rtt (within 20..100 ms), up to 10 times per packet, while it is
 * within the last LKVIDEO_RECV_SLOTS packets; once 4 were sent and it has
 * been missing 500 ms, it is given up (not sooner: the server may still be
 * fetching it from a camera behind a lossy link, 5 NACKs of its own paced
 * by the camera's round trip). A PLI is due when no keyframe
 * has been decoded yet (the first packets were not one), when a frame is
 * skipped or a packet given up, and when the decoder refuses a frame,
 * unless a keyframe that may yet be whole is already buffered (skipping
 * to a whole keyframe needs none); also when the picture has not moved
 * for 700 ms while packets wait behind it, whatever holds it (libwebrtc
 * asks likewise while it waits for a decodable frame); at most one per
 * 300 ms, and again while none comes.
 *
 * Clock: the receiver never reads one; arrival times and the feedback
 * call's now come from the caller's monotonic clock.
 *
 * Memory: one allocation at creation (a ring of LKVIDEO_RECV_SLOTS packets
 * of up to LKVIDEO_RECV_MAX_PACKET bytes, and a frame assembly buffer),
 * the decoder and the pictures it keeps; nothing per packet.
 *
 * Threads: a receiver belongs to one thread; no locks.
 */
#ifndef LKMEDIA_VIDEO_RECEIVER_H
#define LKMEDIA_VIDEO_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtp.h"
#include "vp8_sender.h" /* lkvp8_image */

enum {
    LKVIDEO_RECV_SLOTS = 1024,      /* packets buffered: a 1.2 MB keyframe */
    LKVIDEO_RECV_MAX_PACKET = 1500, /* larger cannot come in one datagram: refused */
    LKVIDEO_RECV_MAX_FRAME = 2 << 20, /* coded bytes of one frame */
};

/* What put did with a packet (a negative value for bad arguments). */
enum lkvp8_put_result {
    LKVIDEO_PUT_BUFFERED = 0, /* kept for its frame */
    LKVIDEO_PUT_PADDING,      /* no payload: counted, dropped */
    LKVIDEO_PUT_DUPLICATE,
    LKVIDEO_PUT_LATE,         /* older than what was decoded or skipped */
    LKVIDEO_PUT_INVALID,      /* a payload that does not parse, or too large */
    LKVIDEO_PUT_JUMP,         /* far ahead (3000 or more): dropped, unless the next follows it */
};

typedef struct lkvideo_receiver_stats {
    /* RFC 3550 A.3 and A.8 for the SSRC received (a new SSRC starts them over). */
    uint32_t ssrc;
    uint32_t packets_received;
    int32_t packets_lost;
    uint32_t highest_seq; /* extended */
    uint32_t jitter;      /* 90 kHz units */
    uint64_t padding_packets;
    uint64_t frames_decoded;
    uint64_t keyframes_decoded;
    uint64_t frames_skipped;  /* never decodable: lost beyond repair, or passed over for a
                               * keyframe (counted by their first packets, and the one
                               * whose first packet is gone) */
    uint64_t decode_errors;
    uint64_t nacks_sent;      /* sequence numbers asked for */
    uint64_t plis_sent;
    unsigned width, height;   /* of the last picture decoded */
} lkvideo_receiver_stats;

typedef struct lkvideo_receiver lkvideo_receiver;

typedef enum lkvideo_codec {
    LKVIDEO_VP8,
    LKVIDEO_H264, /* needs libavcodec at run time (media/h264_decoder.h) */
} lkvideo_codec;

/* NULL with the reason in err when the codec's decoder cannot be made
 * (H.264 without libavcodec installed, say). */
lkvideo_receiver *lkvideo_receiver_new(lkvideo_codec codec, char *err, size_t errlen);
void lkvideo_receiver_free(lkvideo_receiver *r);

/* One packet (its payload type is the caller's to check), at arrival_ns.
 * The payload is copied. Returns an lkvp8_put_result, or a negative value
 * for NULL arguments (or a NULL payload with a length). */
int lkvideo_receiver_put(lkvideo_receiver *r, const lkrtp_packet *pkt, uint64_t arrival_ns);

/* Decodes the next decodable frame: 1 and the picture (valid until the
 * next call on r) with its RTP timestamp (rtp_ts may be NULL), or 0 when
 * none is ready. Frames the decoder refuses are passed over within the
 * call. */
int lkvideo_receiver_pop(lkvideo_receiver *r, lkvp8_image *out, uint32_t *rtp_ts);

/* Feedback due at now_ns: up to cap sequence numbers to NACK (returned
 * count), and *pli true when a PLI should go. Taking them marks them sent. */
size_t lkvideo_receiver_feedback(lkvideo_receiver *r, uint64_t now_ns, uint16_t *nack, size_t cap,
                               bool *pli);
/* The path's round-trip time when known (NACK pacing); 0: 100 ms assumed. */
void lkvideo_receiver_set_rtt(lkvideo_receiver *r, uint32_t rtt_ms);
/* When feedback may next be due (UINT64_MAX: not before the next packet). */
uint64_t lkvideo_receiver_next_deadline(const lkvideo_receiver *r);

void lkvideo_receiver_get_stats(const lkvideo_receiver *r, lkvideo_receiver_stats *st);
/* An RTCP report block for the SSRC received (lsr, dlsr left 0); starts
 * the next interval of fraction lost. All zero before the first packet. */
void lkvideo_receiver_report(lkvideo_receiver *r, lkrtcp_report *rb);

#endif
