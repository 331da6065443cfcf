/*
 * video_source.h: native video sources, and the captured frames they hand
 * to the streams subscribed through their tracks.
 */
#ifndef LK_VIDEO_SOURCE_H
#define LK_VIDEO_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "handle.h"
#include "video_buffer.h"

extern const lk_kind lk_video_source_kind;

/* One captured frame, shared by every stream it goes to. */
typedef struct lk_video_capture {
    lk_object base;
    lk_video_buffer *picture; /* a reference */
    int64_t timestamp_us;
    int rotation; /* VideoRotation */
    bool has_metadata;
    bool has_user_timestamp, has_frame_id, has_user_data;
    uint64_t user_timestamp;
    uint32_t frame_id;
    size_t user_data_len;
    uint8_t *user_data;
} lk_video_capture;

/* A capture of pic (the capture takes the reference) at timestamp_us,
 * without rotation or metadata. */
lk_video_capture *lk_video_capture_new(lk_video_buffer *pic, int64_t timestamp_us);

/* A source fed by the library rather than the client: a remote track's. */
lk_object *lk_video_source_new_fed(void);
/* Whether no stream reads the source (then a picture need not be made). */
bool lk_video_source_idle(lk_object *source);
/* Hands a capture to every stream reading the source (the caller keeps
 * its reference). */
void lk_video_source_deliver(lk_object *source, lk_video_capture *cap);

/* `source` is an object of lk_video_source_kind. Subscribers receive each
 * lk_video_capture, on the capturing thread. */
void lk_video_source_subscribe(lk_object *source, lk_sub *sub);
void lk_video_source_unsubscribe(lk_object *source, lk_sub *sub);
/* The resolution the source was created with (0 x 0 if none was given). */
void lk_video_source_resolution(lk_object *source, uint32_t *width, uint32_t *height);
/* Ends every subscription that came through `track` (its handle closed). */
void lk_video_source_end_track(lk_object *source, const void *track);

#endif
