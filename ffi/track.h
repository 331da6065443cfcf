/*
 * track.h: local tracks. A track names a source (audio or video) that
 * streams can read; it keeps the source alive, and closing it ends the
 * streams that read through it.
 */
#ifndef LK_TRACK_H
#define LK_TRACK_H

#include <stdatomic.h>
#include <stdbool.h>

#include "handle.h"
#include "track.pb-c.h"

typedef struct lk_track {
    lk_object base;
    Livekit__Proto__TrackKind kind;
    lk_object *source; /* a reference: an lk_audio_source or a video source */
    char *name;
    char *sid;   /* a remote track's; NULL for a local one (upstream's "TR_unknown") */
    bool remote; /* a subscribed track: its source is fed by the room */
    _Atomic bool muted;
} lk_track;

extern const lk_kind lk_track_kind;

/* The track behind a handle, which must be of the given kind; a new
 * reference, or NULL after lk_fail(). */
lk_track *lk_track_get(FfiHandleId id, Livekit__Proto__TrackKind kind);

static inline bool lk_track_muted(const lk_track *t)
{
    return atomic_load_explicit(&t->muted, memory_order_relaxed);
}

#endif
