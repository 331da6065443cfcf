/*
 * opus_sender.h: a published microphone track's sending side, sans-I/O:
 * 10 ms blocks of 48 kHz PCM in, one Opus RTP packet (RFC 7587) out per
 * 20 ms, with the RFC 6464 audio level, and the material of the RTCP
 * sender report that goes with it.
 *
 * The caller (the library's audio source, which paces 10 ms blocks on an
 * absolute schedule) resamples to 48 kHz first; the sender takes mono or
 * stereo input and mixes it to the coded channel count. Every second push
 * completes a 20 ms frame and may return a packet; the other returns 0.
 * Packets are written into the caller's buffer, the payload encoded in
 * place after the header: nothing is allocated or copied per packet. The
 * packet never exceeds the cap given, so a caller that protects it with
 * SRTP in the same buffer passes its size minus LKSRTP_MAX_TRAILER.
 *
 * Timing: the RTP timestamp advances 960 per 20 ms frame whether or not
 * the frame is sent; the sequence number advances per packet sent. The
 * sender never reads a clock: each push carries the monotonic time of its
 * block, which only the sender report uses.
 *
 * DTX (as libwebrtc does, and as livekit-server's answer asks with
 * usedtx=1): once Opus has detected silence for its 200 ms hangover it
 * codes 1-2 byte frames that carry nothing. The first of them is sent, so
 * that the receiver's decoder knows the gap is silence, not loss; the
 * following ones are not. About every 400 ms Opus codes a comfort-noise
 * frame: it is sent, and the DTX frame after it again, so silence costs
 * about 5 packets a second instead of 50. Without DTX every frame is
 * sent.
 *
 * Audio level (RFC 6464), in every packet when an extension id is given:
 * the frame's RMS in -dBov, 0 the loudest and 127 digital silence (a
 * full-scale sine reads 3). The V bit is set above -50 dBov: an energy
 * threshold, not a voice detector. livekit-server picks active speakers
 * from the level alone.
 *
 * Marker bit: on the first packet, and on the first voiced packet (V set)
 * after frames that were not sent: the start of a talkspurt (RFC 3551
 * 4.1). Comfort-noise packets in a gap do not end it.
 *
 * Mute: as libwebrtc does for a disabled track (the upstream SDK's mute),
 * the sender keeps coding, but silence: the first 10 ms block fades out,
 * the first after unmuting fades in, and in between the input is ignored.
 * Under DTX that is Opus's hangover, then about 5 packets a second;
 * without it, 50 small packets a second. The timestamps keep running and
 * the stream stays alive, so unmuting needs no renegotiation;
 * livekit-server stops forwarding on the signaled mute anyway.
 *
 * Threads: a sender belongs to one thread; no locks. libopus starts no
 * thread and keeps no global state: it links only libm and libc, its
 * encoder is the one allocation opus_encoder_create makes, and each call
 * works on the stack.
 */
#ifndef LKMEDIA_OPUS_SENDER_H
#define LKMEDIA_OPUS_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    LKOPUS_RATE = 48000,
    LKOPUS_BLOCK = 480,  /* samples per channel in one push: 10 ms */
    LKOPUS_FRAME = 960,  /* samples per channel in one packet: 20 ms */
    LKOPUS_MAX_PAYLOAD = 1276, /* a TOC byte and the largest 20 ms frame (RFC 6716 3.2.1) */
    LKOPUS_MAX_HEADER = 20,    /* RTP header and the audio level extension, padded */
    /* A push's cap must be at least this, a packet due or not. */
    LKOPUS_MAX_PACKET = LKOPUS_MAX_HEADER + LKOPUS_MAX_PAYLOAD,
    /* The SR and an SDES with a 255-byte CNAME. */
    LKOPUS_MAX_SR = 28 + 268,
};

enum lkopus_error {
    LKOPUS_E_INVALID = -1, /* NULL, channels not 1 or 2, a block not 480 samples, a bad CNAME */
    LKOPUS_E_NOSPACE = -2, /* cap below LKOPUS_MAX_PACKET, or too small for the report */
    LKOPUS_E_CODEC = -3,   /* libopus failed to encode the frame (it is skipped) */
};

const char *lkopus_strerror(int err);

typedef struct lkopus_config {
    uint32_t ssrc;
    /* 0..63 or 96..127: 64..95 would read as RTCP with the marker set
     * (RFC 5761 4), and RTP and RTCP share the transport. */
    uint8_t payload_type;
    uint8_t ext_audio_level_id; /* RFC 6464 in the one-byte form: 1..14; 0: not sent */
    bool dtx;
    /* In-band FEC, sized for the loss set_packet_loss reports; until then
     * 10% for mono and none for stereo (opus_sender.c says why). */
    bool fec;
    unsigned channels; /* coded channels: 1 or 2 */
    uint32_t bitrate;  /* bits/s, 6000..510000; 0: 32000 mono, 64000 stereo */
    /* Tests: start at these instead of random numbers. */
    bool fixed_start;
    uint16_t first_seq;
    uint32_t first_ts;
} lkopus_config;

typedef struct lkopus_sender lkopus_sender;

/* NULL on a bad config or a libopus failure, with the reason in err. */
lkopus_sender *lkopus_sender_new(const lkopus_config *cfg, char *err, size_t errlen);
void lkopus_sender_free(lkopus_sender *s);

/* One 10 ms block: 480 samples per channel, interleaved, 1 or 2 channels,
 * taken at now_ns (monotonic; the time of its first sample). out is cap
 * bytes, at least LKOPUS_MAX_PACKET. Returns the RTP packet's length, 0 if
 * none is due (the first block of a frame, or a frame DTX leaves out), or
 * a negative LKOPUS_E_*. A refused block changes nothing. */
int lkopus_sender_push(lkopus_sender *s, const int16_t *pcm, unsigned channels,
                       size_t samples_per_channel, uint64_t now_ns, uint8_t *out, size_t cap);

/* Takes effect from the next block pushed. */
void lkopus_sender_set_muted(lkopus_sender *s, bool muted);

/* The loss the receiver reports (0..100, e.g. from an RTCP receiver
 * report's fraction lost): with FEC, Opus spends bits on redundancy in
 * proportion. Larger values are taken as 100. */
void lkopus_sender_set_packet_loss(lkopus_sender *s, unsigned percent);

/* An RTCP compound: SR (no report blocks) and SDES with this CNAME, at
 * now_ns on the pushes' clock and ntp_now (NTP 32.32) on the wall clock.
 * The SR's RTP timestamp is the last frame's, advanced to now_ns at 48 kHz.
 * Returns the length, 0 before the first packet (nothing to report), or a
 * negative LKOPUS_E_*. cap is best LKOPUS_MAX_SR plus the SRTCP trailer. */
int lkopus_sender_write_sr(lkopus_sender *s, uint64_t now_ns, uint64_t ntp_now, uint8_t *buf,
                           size_t cap, const char *cname);

#endif
