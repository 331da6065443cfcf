/*
 * bitrate_alloc.c: libwebrtc's split of a bandwidth estimate across
 * simulcast layers (see bitrate_alloc.h).
 */
#include "bitrate_alloc.h"

typedef struct format {
    unsigned width, height;
    uint32_t max_bps, target_bps, min_bps;
} format;

/* libwebrtc's kSimulcastFormats (video/config/simulcast.cc), largest
 * first; the last row stands for anything smaller, with 320x180's values
 * (the interpolation towards zero is a field trial, off by default). */
static const format FORMATS[] = {
    {1920, 1080, 5000000, 4000000, 800000}, {1280, 720, 2500000, 2500000, 600000},
    {960, 540, 1200000, 1200000, 350000},   {640, 360, 700000, 500000, 150000},
    {480, 270, 450000, 350000, 150000},     {320, 180, 200000, 150000, 30000},
    {0, 0, 200000, 150000, 30000},
};

#define COUNT(a) (sizeof(a) / sizeof *(a))

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

lkroom_layer_rates lkroom_layer_rates_of(unsigned width, unsigned height,
                                         uint32_t declared_max_bps)
{
    unsigned long long pixels = (unsigned long long)width * height;
    const format *f = &FORMATS[COUNT(FORMATS) - 1];
    for (unsigned i = 0; i < COUNT(FORMATS); i++)
        if (pixels >= (unsigned long long)FORMATS[i].width * FORMATS[i].height) {
            f = &FORMATS[i];
            break;
        }
    lkroom_layer_rates r = {f->min_bps, f->target_bps, f->max_bps};
    if (declared_max_bps) {
        /* encoder_stream_factory.cc, "only max bitrate is configured" */
        r.max_bps = declared_max_bps;
        r.min_bps = min_u32(r.min_bps, r.max_bps);
        uint32_t three_quarters = (uint32_t)((uint64_t)r.max_bps * 3 / 4);
        r.target_bps = max_u32(min_u32(max_u32(r.target_bps, three_quarters), r.max_bps),
                               r.min_bps);
    }
    return r;
}

void lkroom_track_rates(const lkroom_video_layer *layers, unsigned n,
                        lkroom_layer_rates *out)
{
    if (n == 1 && layers[0].bitrate) {
        uint32_t max = layers[0].bitrate;
        out[0] = (lkroom_layer_rates){min_u32(LKROOM_SINGLE_LAYER_MIN_BPS, max), max, max};
        return;
    }
    for (unsigned i = 0; i < n; i++)
        out[i] = lkroom_layer_rates_of(layers[i].width, layers[i].height, layers[i].bitrate);
}

uint32_t lkroom_allocate_layers(const lkroom_alloc_layer *layers, unsigned n,
                                uint32_t total_bps, bool screenshare, uint64_t now_ns,
                                uint32_t *out)
{
    for (unsigned i = 0; i < n; i++)
        out[i] = 0;
    if (n > LKROOM_MAX_LAYERS)
        n = LKROOM_MAX_LAYERS;

    /* Ascending max, ties lowest first (libwebrtc's stable sort of its
     * lowest-first list): ours is highest first, so insert from the end. */
    unsigned order[LKROOM_MAX_LAYERS];
    for (unsigned p = 0; p < n; p++) {
        unsigned i = n - 1 - p, k = p;
        for (; k > 0 && layers[order[k - 1]].rates.max_bps > layers[i].rates.max_bps; k--)
            order[k] = order[k - 1];
        order[k] = i;
    }

    unsigned k = 0;
    while (k < n && !layers[order[k]].active)
        k++;
    if (k == n)
        return 0;
    /* With the lowest inactive, the first active may go as low as it
     * could: else a lone HD layer would always be given 600 kbit/s. */
    uint32_t first_min = layers[order[0]].rates.min_bps;
    unsigned first = order[k], top = first;
    uint64_t left = max_u32(total_bps, first_min);

    for (; k < n; k++) {
        const lkroom_alloc_layer *l = &layers[order[k]];
        if (!l->active)
            continue;
        uint64_t need = order[k] == first ? first_min : l->rates.min_bps;
        if (!l->was_on) {
            uint64_t pct = screenshare ? LKROOM_SCREENSHARE_HYSTERESIS_PCT : 100;
            need = need * pct / 100;
            if (need > l->rates.target_bps)
                need = l->rates.target_bps;
            /* ours: a layer we stopped waits before it comes back; the
             * first active one is never stopped, so never waits */
            if (order[k] != first && l->off_since_ns &&
                now_ns - l->off_since_ns < LKROOM_REENABLE_DELAY_NS)
                break;
        }
        /* The first active layer is sent even when this fails: as the
         * top, it gets the rest below (libwebrtc's top_active_layer). */
        if (left < need)
            break;
        uint32_t rate = (uint32_t)(left < l->rates.target_bps ? left : l->rates.target_bps);
        out[order[k]] = rate;
        left -= rate;
        top = order[k];
    }

    /* The top enabled layer takes the rest, up to its max. */
    if (layers[top].rates.max_bps > out[top]) {
        uint64_t room = layers[top].rates.max_bps - out[top];
        out[top] += (uint32_t)(left < room ? left : room);
    }
    uint32_t sum = 0;
    for (unsigned i = 0; i < n; i++)
        sum += out[i];
    return sum;
}
