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

/* `source` is an object of lk_video_source_kind. Subscribers receive each
 * lk_video_capture, on the capturing thread. */
void lk_video_source_subscribe(lk_object *source, lk_sub *sub);
void lk_video_source_unsubscribe(lk_object *source, lk_sub *sub);
/* Ends every subscription that came through `track` (its handle closed). */
void lk_video_source_end_track(lk_object *source, const void *track);

#endif
