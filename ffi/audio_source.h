/*
 * audio_source.h: native audio sources, and how their 10 ms frames reach
 * the streams subscribed to them through a track.
 */
#ifndef LK_AUDIO_SOURCE_H
#define LK_AUDIO_SOURCE_H

#include <stdint.h>

#include "audio_frame.h"
#include "flow.h"
#include "handle.h"

extern const lk_kind lk_audio_source_kind;

/* `source` is an object of lk_audio_source_kind. Subscribers receive each
 * 10 ms lk_audio_frame, on the source's worker. */
void lk_audio_source_subscribe(lk_object *source, lk_sub *sub);
void lk_audio_source_unsubscribe(lk_object *source, lk_sub *sub);
/* Ends every subscription that came through `track`. */
void lk_audio_source_end_track(lk_object *source, const void *track);

/* The worker the source ticks on. */
lkio_worker *lk_audio_source_worker(lk_object *source);

#endif
