/*
 * opus_receiver.h: a subscribed audio track's receiving side, sans-I/O:
 * Opus RTP packets (RFC 7587; SRTP already removed) in, as they arrive,
 * out of order or not; a continuous stream of 10 ms blocks of 48 kHz PCM
 * out, one per pull, on the caller's clock. Between the two sit a jitter
 * buffer whose delay adapts to the network, and a libopus decoder that
 * fills what is missing: in-band FEC from the next packet where it is
 * there, otherwise the last pitch period played again where the sound
 * repeats itself (Opus's own concealment fades a steady voice or tone
 * within 20 ms), Opus's concealment (PLC) where it does not, and plain
 * silence once nothing has come for a while. This is what libwebrtc's NetEq does for an
 * SDK user; the algorithm here is our own, smaller one.
 *
 * Clock. The receiver never reads one. Each packet comes with its arrival
 * time and each pull with the time it is made, both on one monotonic
 * clock; the caller pulls every 10 ms from its own timer and never waits:
 * a pull always yields exactly 480 samples per channel (a caller free to
 * move its timer's phase asks lkopus_receiver_sooner_ns). Packets carry 10,
 * 20, 40 or 60 ms (up to Opus's 120), read from the payload.
 *
 * Delay (opus_receiver.c has the reasons): every packet's offset, its
 * arrival time less its RTP time, goes into a histogram that forgets
 * (over about 100 packets: 2 s of 20 ms ones); the offset below which 97%
 * of packets arrive, plus a 5 ms guard, is the slack aimed at (how long
 * after its first sample's time a packet may come and still be played:
 * the pull that needs it is then due), and the target delay is that less
 * the fastest packet's offset: 7 ms on a clean path (min_delay_ms raises
 * it), at most max_delay_ms. The delay heard is the slack plus the samples
 * a pull plays before the packet's first, under 10 ms. It follows the
 * target without clicks: in silence at once, packets put on the pulls'
 * boundaries; in sound by playing one pitch period (2.5-7.5 ms) twice, or
 * cutting one out, crossfaded, where the signal repeats itself or is too
 * quiet to matter, at most once every 30 ms: twice when the slack is 5 ms
 * below the target, cut when it is a pull (10 ms) above it, or for free
 * when the period fits before the next packet's first sample. A packet
 * due while the slack is below the target, and missing, is waited for:
 * 10 ms concealed without moving on (NetEq's expand), which grows the
 * delay too.
 *
 * Silence: before the first packet, after a DTX frame (Opus's "nothing to
 * send"), and after 120 ms of concealment (lost, muted or gone
 * publisher), the output fades to zeros over 10 ms and stays there, and
 * the decoder rests until a packet comes. After DTX, comfort-noise packets are
 * decoded but not played unless they are louder than -50 dBov (the
 * sender's voice threshold): DTX silence is silent, without bursts of
 * comfort noise. Sound after silence starts where the target delay puts
 * it, with a 2.5 ms fade-in.
 *
 * Sources: the first packet's SSRC is played. A packet from another SSRC
 * is a new source (a publisher that restarted): what is buffered is
 * dropped, the output fades out, and the new source plays from its own
 * timeline; packets from the source it replaced are dropped from then on.
 * The same source jumping in time (its RTP time more than 1 s away from
 * what arrival times say, twice in a row, and its sequence number not
 * just behind: an old packet come very late is only late) restarts the
 * same way, as do ten packets in a row that all came too late to play. Sequence numbers
 * and timestamps wrap freely.
 *
 * Memory: one allocation at creation (the state: a ring of
 * LKOPUS_RECV_SLOTS packets of up to LKOPUS_RECV_MAX_PAYLOAD bytes, and
 * 140 ms of PCM; 131 KiB) and libopus's decoder (18 KiB, 26 KiB stereo);
 * nothing per packet or pull. A full ring drops its oldest packet.
 *
 * Threads: a receiver belongs to one thread; no locks.
 */
#ifndef LKMEDIA_OPUS_RECEIVER_H
#define LKMEDIA_OPUS_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opus_sender.h" /* LKOPUS_RATE, LKOPUS_BLOCK, the LKOPUS_E_* codes */
#include "rtp.h"

enum {
    LKOPUS_RECV_SLOTS = 64,          /* packets buffered: 640 ms of 10 ms packets */
    LKOPUS_RECV_MAX_PAYLOAD = 1500,  /* larger cannot come in one datagram: refused */
    LKOPUS_RECV_MAX_DELAY_MS = 1000, /* the most max_delay_ms may be */
};

typedef struct lkopus_receiver_config {
    unsigned channels;     /* of the output, 1 or 2, whatever the stream's (libopus mixes) */
    unsigned min_delay_ms; /* the target delay's floor; 0: none */
    unsigned max_delay_ms; /* its ceiling, 20..LKOPUS_RECV_MAX_DELAY_MS; 0: 500 */
} lkopus_receiver_config;

/* What put did with a packet (a negative LKOPUS_E_INVALID for bad arguments). */
enum lkopus_put_result {
    LKOPUS_PUT_BUFFERED = 0, /* waits for its turn */
    LKOPUS_PUT_DUPLICATE,    /* its time is buffered already */
    LKOPUS_PUT_LATE,         /* its time has been played (counted in the jitter estimate) */
    LKOPUS_PUT_INVALID,      /* libopus refuses the payload, or it is too large */
    LKOPUS_PUT_STALE_SOURCE, /* from an SSRC that a newer one replaced */
    LKOPUS_PUT_HELD_BACK,    /* a jump in time, dropped unless the next packet confirms it */
    LKOPUS_PUT_OVERFLOW,     /* the ring was full and this packet the oldest: dropped */
};

/* What one pull yields (a negative LKOPUS_E_INVALID for bad arguments). */
enum lkopus_frame_kind {
    LKOPUS_FRAME_SILENCE = 0,   /* zeros: nothing received yet, DTX, or a gone source */
    LKOPUS_FRAME_AUDIO = 1,     /* decoded packets (FEC included), perhaps fading in or out */
    LKOPUS_FRAME_CONCEALED = 2, /* some of it made up by Opus's concealment */
};

typedef struct lkopus_receiver_stats {
    /* RFC 3550 A.3 and A.8, for the source being played (all 0 before the
     * first packet); a new SSRC starts them over. */
    uint32_t ssrc;
    uint32_t packets_received; /* duplicates and late ones included */
    int32_t packets_lost;      /* expected less received: negative with duplicates */
    uint32_t highest_seq;      /* extended: cycles << 16 | the highest */
    uint32_t jitter;           /* interarrival jitter, 48 kHz units */
    /* Since creation, every source. */
    uint64_t packets_late;      /* came after their time was played */
    uint64_t packets_discarded; /* never played: late, duplicates, overflow, restarts, stale
                                 * sources, jumps not confirmed */
    uint64_t packets_invalid;   /* payloads libopus refused (at put or at decode) */
    uint64_t frames;            /* pulls */
    uint64_t concealed_frames;  /* pulls whose output holds concealment */
    uint64_t concealed_samples; /* per channel */
    uint64_t fec_frames;        /* Opus frames recovered from the next packet's FEC */
    uint64_t silent_frames;     /* pulls of zeros (before the first packet included) */
    uint64_t inserted_samples;  /* concealment that grew the delay (a late packet awaited) */
    uint64_t removed_samples;   /* cut to shrink it */
    uint32_t restarts;          /* new sources and jumps in time */
    uint32_t target_delay_ms;   /* beyond the fastest packet's arrival */
    uint32_t delay_ms;          /* the same, as played at the last pull */
} lkopus_receiver_stats;

typedef struct lkopus_receiver lkopus_receiver;

/* NULL on a bad config or a libopus failure, with the reason in err. */
lkopus_receiver *lkopus_receiver_new(const lkopus_receiver_config *cfg, char *err,
                                     size_t errlen);
void lkopus_receiver_free(lkopus_receiver *r);

/* One packet, at arrival_ns. The payload is copied; the caller keeps its
 * buffer. Returns an lkopus_put_result, or LKOPUS_E_INVALID (r NULL, or
 * payload NULL with len > 0) and nothing changes. */
int lkopus_receiver_put(lkopus_receiver *r, uint32_t ssrc, uint16_t seq, uint32_t timestamp,
                        const uint8_t *payload, size_t len, uint64_t arrival_ns);
/* The same from a parsed packet (its payload type is the caller's to check). */
int lkopus_receiver_put_rtp(lkopus_receiver *r, const lkrtp_packet *pkt, uint64_t arrival_ns);

/* The next 10 ms, pulled at now_ns: LKOPUS_BLOCK samples per channel,
 * interleaved, into out. Returns an lkopus_frame_kind, or LKOPUS_E_INVALID
 * (r or out NULL). */
int lkopus_receiver_pull(lkopus_receiver *r, uint64_t now_ns, int16_t *out);

/* For a caller whose clock's phase is its own to choose, asked after a
 * pull: how much less than 10 ms the next pull may wait. Where the pulls
 * fall against the packets' times is chance, and the slack the receiver
 * settles on is the target plus up to a pull (packets start on a pull's
 * boundary); pulling that much sooner, once, makes the slack the target,
 * and the delay heard up to 9 ms shorter, with no sample cut or repeated.
 * 0 (wait the full 10 ms) in silence, within 1 ms of the target, and for
 * 50 pulls after an advice, which the receiver takes as followed. */
uint64_t lkopus_receiver_sooner_ns(lkopus_receiver *r);

/* Everything is zero for NULL. */
void lkopus_receiver_get_stats(const lkopus_receiver *r, lkopus_receiver_stats *st);

/* An RTCP report block for the source being played (lsr and dlsr left 0
 * for the caller, who knows the sender reports); starts the next
 * interval of fraction lost. All zero before the first packet. */
void lkopus_receiver_report(lkopus_receiver *r, lkrtcp_report *rb);

#endif
