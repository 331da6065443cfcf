/*
 * video_layers.c: upstream's encodings for a video source (see
 * video_layers.h).
 */
#include "video_layers.h"

#include <math.h>

#include "vp8_sender.h"

typedef struct preset {
    unsigned width, height;
    uint32_t bitrate;
    double fps;
} preset;

#define COUNT(a) (sizeof(a) / sizeof *(a))

static const preset WIDE[] = {
    {160, 90, 90000, 15},      {320, 180, 160000, 15},    {384, 216, 180000, 15},
    {640, 360, 450000, 20},    {960, 540, 800000, 25},    {1280, 720, 1700000, 30},
    {1920, 1080, 3000000, 30}, {2560, 1440, 5000000, 30}, {3840, 2160, 8000000, 30},
};
static const preset STANDARD[] = {
    {160, 120, 80000, 15},     {240, 180, 100000, 15},    {320, 240, 150000, 15},
    {480, 360, 225000, 20},    {640, 480, 300000, 20},    {720, 540, 450000, 25},
    {960, 720, 1500000, 30},   {1440, 1080, 2500000, 30}, {1920, 1440, 3500000, 30},
};
static const preset SCREEN[] = {
    {640, 360, 200000, 3},     {1280, 720, 400000, 5},    {1280, 720, 1000000, 15},
    {1920, 1080, 1500000, 15}, {1920, 1080, 3000000, 30},
};
/* The lower layers of a camera: 180p and 360p of its table. */
enum { LOW_PRESET = 1, MID_PRESET = 3 };

static unsigned max_u(unsigned a, unsigned b) { return a > b ? a : b; }
static unsigned min_u(unsigned a, unsigned b) { return a < b ? a : b; }

/* Nearer 16:9 than 4:3 (a tie counts as 4:3). */
static bool wide(unsigned width, unsigned height)
{
    double ar = (double)max_u(width, height) / min_u(width, height);
    return fabs(ar - 16.0 / 9) < fabs(ar - 4.0 / 3);
}

/* The first preset wider than the longer side, or the largest. */
static preset top_encoding(const preset *table, unsigned n, unsigned width, unsigned height)
{
    unsigned side = max_u(width, height);
    for (unsigned i = 0; i < n; i++)
        if (table[i].width > side)
            return table[i];
    return table[n - 1];
}

static lkroom_video_layer layer(const lkroom_video_request *rq, const preset *p, unsigned index)
{
    static const char RIDS[] = "qhf";
    static const Livekit__VideoQuality QUALITIES[] = {
        LIVEKIT__VIDEO_QUALITY__LOW, LIVEKIT__VIDEO_QUALITY__MEDIUM, LIVEKIT__VIDEO_QUALITY__HIGH};
    double scale = (double)min_u(rq->width, rq->height) / min_u(p->width, p->height);
    if (scale < 1)
        scale = 1;
    lkroom_video_layer l = {.rid = {RIDS[index], '\0'},
                            .quality = QUALITIES[index],
                            .width = (unsigned)(rq->width / scale),
                            .height = (unsigned)(rq->height / scale),
                            .bitrate = p->bitrate,
                            .fps = p->fps};
    return l;
}

unsigned lkroom_video_layers(const lkroom_video_request *rq,
                             lkroom_video_layer out[LKROOM_MAX_LAYERS])
{
    const preset *table = rq->screenshare ? SCREEN
                          : wide(rq->width, rq->height) ? WIDE
                                                        : STANDARD;
    unsigned n = rq->screenshare ? COUNT(SCREEN) : COUNT(WIDE); /* the camera tables match */
    preset top = top_encoding(table, n, rq->width, rq->height);
    if (rq->max_bitrate) {
        /* within what an encoder takes: else the top layer could not start */
        top.bitrate = rq->max_bitrate < LKVP8_MIN_BITRATE   ? LKVP8_MIN_BITRATE
                      : rq->max_bitrate > LKVP8_MAX_BITRATE ? LKVP8_MAX_BITRATE
                                                            : rq->max_bitrate;
        if (rq->max_framerate >= 1 && rq->max_framerate <= LKVP8_MAX_FRAMERATE)
            top.fps = rq->max_framerate; /* else (0, NaN) the preset's */
    }
    top.width = rq->width;
    top.height = rq->height;

    preset chain[LKROOM_MAX_LAYERS]; /* lowest first, as upstream builds it */
    unsigned count = 0;
    unsigned side = max_u(rq->width, rq->height);
    if (rq->simulcast && rq->screenshare && side >= 480) {
        /* half the size, 3 fps, the top's bits per pixel and frame, at least 150 kbps */
        unsigned per = 4 * (unsigned)(top.fps / 3);
        uint32_t bits = per ? top.bitrate / per : top.bitrate;
        chain[count++] = (preset){top.width / 2, top.height / 2, bits > 150000 ? bits : 150000, 3};
    } else if (rq->simulcast && side >= 960) {
        chain[count++] = table[LOW_PRESET];
        chain[count++] = table[MID_PRESET];
    } else if (rq->simulcast && side >= 480) {
        chain[count++] = table[MID_PRESET];
    }
    chain[count++] = top;
    for (unsigned i = 0; i < count; i++)
        out[count - 1 - i] = layer(rq, &chain[i], i);
    return count;
}
