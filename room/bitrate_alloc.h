/*
 * bitrate_alloc.h: a send-side bandwidth estimate (less audio) split
 * across one video track's simulcast layers as libwebrtc splits it, which
 * is what upstream's publisher runs (docs/research/congestion-control.md
 * 5.1), sans-I/O.
 *
 * Rates: a simulcast layer's min/target/max come from libwebrtc's VP8
 * table by pixel count (the largest row with no more pixels than the
 * layer, as FindSimulcastFormatIndex; below 320x180, its values), then
 * the layer's declared bitrate is its max: min = min(table min, max),
 * target = max(table target, 3/4 max) within [min, max]. A track of one
 * layer, camera or screen share, is not simulcast to libwebrtc
 * (CreateDefaultVideoStreams): no table, min 30 kbit/s, target = max =
 * the declared bitrate.
 *
 * Allocation (SimulcastRateAllocator): active layers in ascending max
 * order; the total is raised to the first active layer's min, which is
 * always sent; each further layer is enabled if what is left covers its
 * min (times 1.35 for a screen share layer that was off, capped at its
 * target; 1.0 for a camera); an enabled layer takes up to its target,
 * the top enabled one then the rest up to its max; the first that does
 * not fit is off with every layer above. If the lowest layer is inactive
 * (dynacast), the first active one may go as low as the lowest's min.
 * The caller passes the previous on/off state: libwebrtc applies no
 * hysteresis on the first allocation after a (re)configuration, which a
 * caller reproduces by passing was_on for every layer then.
 *
 * Ours, not libwebrtc's (plan S6, from 5.1 and 1.4): a layer this
 * allocator switched off is not re-enabled for LKROOM_REENABLE_DELAY_NS,
 * since livekit-server takes 10 s to accept a resumed layer and each
 * toggle costs subscribers that long. The caller records when a layer
 * went from some bits to none while active (off_since_ns; 0: never).
 *
 * Not here: the temporal layers' 40/20/40 split (the encoder's);
 * subtracting audio (the caller's).
 *
 * Memory: none allocated. Threads: none kept; pure functions.
 */
#ifndef LKROOM_BITRATE_ALLOC_H
#define LKROOM_BITRATE_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

#include "video_layers.h"

#define LKROOM_REENABLE_DELAY_NS 10000000000ull
enum {
    LKROOM_SINGLE_LAYER_MIN_BPS = 30000, /* libwebrtc's kDefaultMinVideoBitrateBps */
    LKROOM_SCREENSHARE_HYSTERESIS_PCT = 135,
};

typedef struct lkroom_layer_rates {
    uint32_t min_bps, target_bps, max_bps;
} lkroom_layer_rates;

/* One simulcast layer's rates; declared_max_bps 0: the table's. */
lkroom_layer_rates lkroom_layer_rates_of(unsigned width, unsigned height,
                                         uint32_t declared_max_bps);

/* The rates of each of a track's layers, as lkroom_video_layers lists
 * them (highest first); a single layer is not simulcast (see above). */
void lkroom_track_rates(const lkroom_video_layer *layers, unsigned n,
                        lkroom_layer_rates *out);

typedef struct lkroom_alloc_layer {
    lkroom_layer_rates rates;
    bool active;           /* dynacast: the server wants it; else 0 and skipped */
    bool was_on;           /* the previous allocation gave it bits */
    uint64_t off_since_ns; /* when we last switched it off while active; 0: never */
} lkroom_alloc_layer;

/* Splits total_bps across layers (highest first, as video_layers lists
 * them; at most LKROOM_MAX_LAYERS, any beyond get 0): out[i] = the bits/s
 * for layer i, 0 = off. now_ns: the clock of off_since_ns. Returns the
 * sum, which is at most the larger of total_bps and the first active
 * layer's min. */
uint32_t lkroom_allocate_layers(const lkroom_alloc_layer *layers, unsigned n,
                                uint32_t total_bps, bool screenshare, uint64_t now_ns,
                                uint32_t *out);

#endif
