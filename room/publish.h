/*
 * publish.h: our published tracks, audio and video.
 *
 * Publishing is upstream's sequence: an AddTrackRequest (its cid a fresh
 * UUID), the server's TrackPublishedResponse with the same cid (or a
 * RequestResponse refusing it, or nothing for 10 s), then a sendonly
 * section for the track in the PeerConnection's next offer, its a=msid
 * carrying the cid so the server pairs the two. Once an answer has
 * negotiated the section, media flows as SRTP: audio, 10 ms of PCM per
 * push, an Opus packet every 20 ms; video, a picture per push, VP8 in as
 * many packets as it takes, a keyframe whenever the server asks (PLI,
 * FIR), lost packets resent when it NACKs them. Unpublishing turns the
 * section recvonly in the next offer (sections are never removed), which
 * ends the track on the server.
 *
 * Video goes in the layers upstream would send for the source's size
 * (video_layers.h: simulcast by default, one layer without), each its own
 * encoder and SSRC, sharing one RTP clock.
 *
 * On the room's worker. The publisher talks to the server and asks for
 * offers through its environment; it never sends an offer itself, so the
 * room keeps offers from overlapping.
 */
#ifndef LKROOM_PUBLISH_H
#define LKROOM_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "livekit_rtc.pb-c.h"
#include "transport.h"
#include "vp8_sender.h" /* lkvp8_image */

typedef struct lkroom_publisher lkroom_publisher;
typedef struct lkroom_local_track lkroom_local_track;

typedef struct lkroom_track_options {
    const char *name;
    Livekit__TrackSource source;
    const char *stream; /* NULL or "": the server's choice */
    bool muted;
    bool video;
    /* audio */
    bool dtx; /* upstream's default: true */
    /* bps; 0: upstream's default (audio 48000; video by the size) */
    uint32_t max_bitrate;
    /* video: the source's declared size; simulcast (upstream's default);
     * the client's frame rate cap, used with its max_bitrate */
    unsigned width, height;
    bool simulcast;
    double max_framerate;
} lkroom_track_options;

typedef struct lkroom_publisher_env {
    void *ctx;
    /* Sends a signal request; 0, or -1 when the signal connection is gone. */
    int (*signal)(void *ctx, const Livekit__SignalRequest *req);
    /* The PeerConnection's sections changed: an offer is needed. */
    void (*negotiate)(void *ctx);
    /* The server took the track (info: its TrackInfo, valid during the
     * call) or did not (error says why; the track is then gone). */
    void (*published)(void *ctx, uint64_t token, lkroom_local_track *t,
                      const Livekit__TrackInfo *info, const char *error);
    /* The same for a track published again after a full reconnect
     * (previous_sid: the sid it had); on error t is gone after the call. */
    void (*republished)(void *ctx, lkroom_local_track *t, const char *previous_sid,
                        const Livekit__TrackInfo *info, const char *error);
} lkroom_publisher_env;

/* On worker w (its pacer's timer), as the transport. */
lkroom_publisher *lkroom_publisher_new(lkio_worker *w, lkroom_transport *tr,
                                       const lkroom_publisher_env *env);
/* Frees every track, reporting nothing. */
void lkroom_publisher_free(lkroom_publisher *p);

/* A full reconnect. move: the tracks leave the old transport (which may
 * be gone) for tr, their encoders stopped and sids forgotten; republish,
 * once the new session joined: each is published again (AddTrack, same
 * cid), reported through republished; republishing: some still wait. */
void lkroom_publisher_move(lkroom_publisher *p, lkroom_transport *tr);
void lkroom_publisher_republish(lkroom_publisher *p, uint64_t now);
bool lkroom_publisher_republishing(const lkroom_publisher *p);

/* NULL (with err) when the request cannot go out or the PeerConnection
 * has no room for another section; else published(token) follows. */
lkroom_local_track *lkroom_publisher_add(lkroom_publisher *p, uint64_t token,
                                         const lkroom_track_options *o, uint64_t now, char *err,
                                         size_t errlen);

/* What the server says. */
void lkroom_publisher_on_published(lkroom_publisher *p, const Livekit__TrackPublishedResponse *m);
void lkroom_publisher_on_refused(lkroom_publisher *p, const Livekit__RequestResponse *m);
/* Which qualities of a video track subscribers want (dynacast): layers of
 * a quality disabled stop being coded and sent; enabled again, they start
 * with a keyframe. Qualities the update does not name stay as they are;
 * the VP8 entry is read, else the first codec's, else the deprecated list. */
void lkroom_publisher_on_qualities(lkroom_publisher *p, const Livekit__SubscribedQualityUpdate *m);
/* After each answer: tracks whose section it negotiated start sending. */
void lkroom_publisher_on_answer(lkroom_publisher *p);

/* The server's RTCP: its receiver reports' loss tunes our Opus encoders'
 * FEC; PLI and FIR ask for keyframes, NACKs for resends. */
void lkroom_publisher_on_rtcp(lkroom_publisher *p, const uint8_t *pkt, size_t len);

uint64_t lkroom_publisher_next_deadline(const lkroom_publisher *p);
void lkroom_publisher_expire(lkroom_publisher *p, uint64_t now);

/* 10 ms of interleaved 48 kHz PCM (1 or 2 channels) to an audio track.
 * Dropped until the track's section is negotiated and the connection
 * carries SRTP. */
void lkroom_local_track_push_audio(lkroom_local_track *t, const int16_t *pcm, unsigned channels,
                             size_t samples_per_channel);
/* A picture to a video track, captured at capture_ns (monotonic);
 * dropped as audio is. */
void lkroom_local_track_push_video(lkroom_local_track *t, const lkvp8_image *img,
                                   uint64_t capture_ns);
/* Tells the server (the others see TrackMuted); audio sends silence, video
 * stops sending pictures. */
void lkroom_local_track_set_muted(lkroom_local_track *t, bool muted);
const char *lkroom_local_track_sid(const lkroom_local_track *t); /* "" until published */
/* The cid (the client's id in AddTrack) of our published track sid; NULL
 * if we have none by that sid. */
const char *lkroom_publisher_cid(const lkroom_publisher *p, const char *track_sid);
/* Ends the track on the server with the next offer and frees it. */
void lkroom_local_track_unpublish(lkroom_local_track *t);

#endif
