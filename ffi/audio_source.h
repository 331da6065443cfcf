/*
 * audio_source.h: native audio sources, and how their 10 ms frames reach
 * the streams subscribed to them through a track.
 */
#ifndef LK_AUDIO_SOURCE_H
#define LK_AUDIO_SOURCE_H

#include <stdbool.h>
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

/* A source fed from inside the library (a remote track's decoded audio) on
 * worker w: no captures, no pacing of its own; each frame delivered goes
 * to the subscribers at once. One reference, the caller's. */
lk_object *lk_audio_source_new_fed(lkio_worker *w, uint32_t sample_rate, uint32_t num_channels);
void lk_audio_source_deliver(lk_object *source, lk_audio_frame *f);
/* No stream reads the source (a frame delivered now would go nowhere). */
bool lk_audio_source_idle(lk_object *source);

#endif
