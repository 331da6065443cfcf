/*
 * stream.h: data streams between participants, version 1 of upstream's
 * protocol: a header, chunks of at most 15000 bytes (text cut only between
 * UTF-8 characters), a trailer, each a reliable data packet.
 *
 * Outgoing work is a queue of jobs; a job sends any of a header, content
 * and a trailer for one stream, and is done (`done`) when the room has
 * handed its last packet to the transport. Only a few chunks are in flight
 * at a time, so a large send is paced by the connection and holds no more
 * than its own buffer. Incoming streams are reported as they open, as their
 * chunks arrive and as they end, with an error if the sender leaves first
 * or a text stream's chunk is not UTF-8 (the client takes it as a string).
 *
 * On the room's worker, like the room.
 */
#ifndef LKROOM_STREAM_H
#define LKROOM_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "livekit_rtc.pb-c.h"

enum { LKSTREAM_CHUNK = 15000 };

/* Tokens this module gives the transport have this bit set. */
#define LKSTREAM_TOKEN_BIT (UINT64_C(1) << 63)

typedef struct lkstreams_transport {
    void *ctx;
    /* A reliable packet; with a token, report it to lkstreams_sent. */
    int (*send)(void *ctx, Livekit__DataPacket *p, const uint64_t *token, char *err,
                size_t errlen);
} lkstreams_transport;

typedef struct lkstreams_observer {
    void *ctx;
    void (*opened)(void *ctx, const Livekit__DataStream__Header *h, const char *sender);
    void (*chunk)(void *ctx, const char *stream_id, const uint8_t *data, size_t len);
    /* The end: with the trailer if one came, and an error (upstream's
     * words) unless it ended well. */
    void (*ended)(void *ctx, const char *stream_id, const Livekit__DataStream__Trailer *trailer,
                  const char *error);
    /* Outgoing job `job` finished (error NULL) or failed. */
    void (*done)(void *ctx, uint64_t job, const char *error);
} lkstreams_observer;

/* One outgoing job; what is NULL/0 is not sent. Copied at once, but for
 * data: that stays the submitter's and must live until done(job). */
typedef struct lkstream_job {
    const char *stream_id;
    const Livekit__DataStream__Header *header;
    const uint8_t *data;
    size_t len;
    bool text; /* cut data between UTF-8 characters */
    const Livekit__DataStream__Trailer *trailer;
    char *const *destinations;
    size_t n_destinations;
} lkstream_job;

typedef struct lkstreams lkstreams;

lkstreams *lkstreams_new(const lkstreams_transport *t, const lkstreams_observer *obs);
void lkstreams_free(lkstreams *s); /* emits nothing */

void lkstreams_submit(lkstreams *s, uint64_t job, const lkstream_job *j);
void lkstreams_sent(lkstreams *s, uint64_t token, const char *error);

/* Incoming packets: true when it was a stream packet (taken). */
bool lkstreams_on_packet(lkstreams *s, const Livekit__DataPacket *p);
void lkstreams_participant_left(lkstreams *s, const char *identity);
/* The session ended: open incoming streams end with an error, queued jobs
 * fail. */
void lkstreams_session_ended(lkstreams *s);

#endif
