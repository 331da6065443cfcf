/*
 * video_layers.h: the encodings upstream publishes a video track in, from
 * its source's declared size and the client's options: its presets (16:9,
 * 4:3 and screen share tables), the top encoding taken from the first
 * preset wider than the source's longer side, and with simulcast (on by
 * default, as upstream) one or two smaller layers: below 480 pixels none,
 * from 480 one (the 360p preset), from 960 two (180p and 360p); a screen
 * share gets one, at half size and 3 fps. Layers are named as upstream
 * names them, q, h, f from the lowest, and listed highest first.
 */
#ifndef LKROOM_VIDEO_LAYERS_H
#define LKROOM_VIDEO_LAYERS_H

#include <stdbool.h>
#include <stdint.h>

#include "livekit_models.pb-c.h"

enum { LKROOM_MAX_LAYERS = 3 };

typedef struct lkroom_video_layer {
    char rid[2];                 /* "q", "h" or "f" */
    Livekit__VideoQuality quality; /* LOW, MEDIUM, HIGH by rid */
    unsigned width, height;      /* the source's size over the layer's scale */
    uint32_t bitrate;            /* bits/s */
    double fps;
} lkroom_video_layer;

typedef struct lkroom_video_request {
    unsigned width, height; /* the source's declared size */
    bool screenshare;
    bool simulcast;
    uint32_t max_bitrate; /* the client's encoding; 0: the presets' */
    double max_framerate; /* used only with max_bitrate */
} lkroom_video_request;

/* The layers, highest first; their count (1..LKROOM_MAX_LAYERS). */
unsigned lkroom_video_layers(const lkroom_video_request *rq,
                             lkroom_video_layer out[LKROOM_MAX_LAYERS]);

#endif
