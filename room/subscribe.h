/*
 * subscribe.h: the remote audio and video tracks the server sends us.
 *
 * In single-PeerConnection mode the server binds each subscribed track to
 * one of our idle recvonly sections of its kind and asks for an offer
 * (MediaSectionsRequirement: how many sections to add first; often none).
 * We join with JOIN_RECEIVERS of each kind, as upstream does, so the first
 * subscriptions cost one offer and answer. Each answer says what the
 * server sends on each section: its SSRC and msid ("<participant
 * sid>|<track sid> <track sid>"); a section that starts carrying a track
 * is that track subscribed, one that stops (idle or another track) is it
 * unsubscribed.
 *
 * Audio: each track's RTP goes to its own jitter buffer and Opus decoder
 * (media/opus_receiver.h). One clock, a 10 ms timer on an absolute
 * schedule that runs while any track is subscribed, pulls 10 ms of 48 kHz
 * mono from every track and hands it up: the listener hears a steady
 * stream (concealment over loss, silence over DTX), as upstream's
 * listeners do.
 *
 * Video: each track's RTP goes to a video receiver (media/video_receiver.h)
 * for its codec, VP8 or H.264 by the packet's payload type;
 * each picture it completes is handed up as it is decoded, and the NACKs
 * and PLIs it asks for go to the server at once and on the same clock.
 *
 * On the room's worker.
 */
#ifndef LKROOM_SUBSCRIBE_H
#define LKROOM_SUBSCRIBE_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "livekit_rtc.pb-c.h"
#include "transport.h"
#include "video_receiver.h"

typedef struct lkroom_subscriber lkroom_subscriber;

typedef struct lkroom_subscriber_env {
    void *ctx;
    /* The sections changed: an offer is needed. */
    void (*negotiate)(void *ctx);
    /* A track started or stopped arriving. */
    void (*subscribed)(void *ctx, const char *participant_sid, const char *track_sid);
    void (*unsubscribed)(void *ctx, const char *participant_sid, const char *track_sid);
    /* 10 ms (480 samples) of a subscribed audio track, 48 kHz mono. */
    void (*audio)(void *ctx, const char *track_sid, const int16_t *pcm, size_t samples);
    /* A picture of a subscribed video track (valid during the call) and
     * its RTP time (90 kHz). */
    void (*video)(void *ctx, const char *track_sid, const lkvp8_image *img, uint32_t rtp_ts);
    /* A track's codec cannot be decoded here (H.264 without libavcodec):
     * why; its packets are dropped from then on. */
    void (*failed)(void *ctx, const char *track_sid, const char *why);
} lkroom_subscriber_env;

lkroom_subscriber *lkroom_subscriber_new(lkio_worker *w, lkroom_transport *tr,
                                         const lkroom_subscriber_env *env);
/* Frees everything, reporting nothing. */
void lkroom_subscriber_free(lkroom_subscriber *s);

/* Before the join offer: the idle sections it carries. */
void lkroom_subscriber_prepare_join(lkroom_subscriber *s);
/* The server's MediaSectionsRequirement: sections added, then an offer. */
void lkroom_subscriber_on_requirement(lkroom_subscriber *s,
                                      const Livekit__MediaSectionsRequirement *m);
/* After each answer: which track each section now carries. */
void lkroom_subscriber_on_answer(lkroom_subscriber *s);
/* The track was unpublished: it is unsubscribed now, not at the next
 * answer, and stays so while answers still name it. */
void lkroom_subscriber_forget(lkroom_subscriber *s, const char *track_sid);
/* The client asked the server to stop sending the track: it is
 * unsubscribed now, and not taken again from any answer until
 * lkroom_subscriber_want names it (an unpublished track is forgotten
 * from this list). */
void lkroom_subscriber_unwant(lkroom_subscriber *s, const char *track_sid);
/* The client asked for the track again: the next answer that carries it
 * starts it (not the last one: it may describe the binding the server is
 * taking down). */
void lkroom_subscriber_want(lkroom_subscriber *s, const char *track_sid);
/* The server's RTCP: its sender reports, which our receiver reports (one
 * every 5 s while a track is subscribed) refer to. */
void lkroom_subscriber_on_rtcp(lkroom_subscriber *s, const uint8_t *pkt, size_t len);
/* The path's round trip, which paces video NACKs. */
void lkroom_subscriber_set_rtt(lkroom_subscriber *s, uint32_t rtt_ms);
/* Decrypted RTP for a section. */
void lkroom_subscriber_on_rtp(lkroom_subscriber *s, int section, const uint8_t *pkt, size_t len);

#endif
