/*
 * video_buffer.c: layouts, checks, and any-to-any conversion on libyuv.
 *
 * A conversion takes one libyuv call where one exists: into or out of
 * BGRA (libyuv's ARGB, its hub), into or out of I420, between 4-byte packed
 * orders (a byte shuffle), or a plane copy for the same type. Other pairs
 * take two calls through a temporary: I420 when both sides are 4:2:0 (NV12,
 * I010, I420A), so chroma is never needlessly upsampled, else BGRA, so 4:2:2
 * and 4:4:4 chroma and alpha survive. Flipping is libyuv's negative height
 * on the first call.
 */
#include "video_buffer.h"

#include <libyuv.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static const char *const names[LK_VTYPE_COUNT] = {
    "RGBA", "ABGR", "ARGB", "BGRA", "RGB24", "I420", "I420A", "I422", "I444", "I010", "NV12",
};

const char *lk_vtype_name(enum lk_vtype t)
{
    return (unsigned)t < LK_VTYPE_COUNT ? names[t] : "unknown";
}

int lk_vtype_planes(enum lk_vtype t)
{
    switch (t) {
    case LK_I420:
    case LK_I422:
    case LK_I444:
    case LK_I010:
        return 3;
    case LK_I420A:
        return 4;
    case LK_NV12:
        return 2;
    default:
        return 1;
    }
}

bool lk_vtype_packed(enum lk_vtype t)
{
    return t <= LK_RGB24;
}

static bool four_bytes(enum lk_vtype t)
{
    return t <= LK_BGRA;
}

static bool yuv420(enum lk_vtype t)
{
    return t == LK_I420 || t == LK_I420A || t == LK_NV12 || t == LK_I010;
}

void lk_vtype_plane_shape(enum lk_vtype t, uint32_t w, uint32_t h, int k, uint32_t *row_bytes,
                          uint32_t *rows)
{
    uint32_t cw = (w + 1) / 2, ch = (h + 1) / 2;
    bool chroma = k == 1 || k == 2;
    *rows = h;
    switch (t) {
    case LK_RGB24:
        *row_bytes = 3 * w;
        break;
    case LK_I420:
    case LK_I420A:
        *row_bytes = chroma ? cw : w;
        *rows = chroma ? ch : h;
        break;
    case LK_I422:
        *row_bytes = chroma ? cw : w;
        break;
    case LK_I444:
        *row_bytes = w;
        break;
    case LK_I010:
        *row_bytes = 2 * (chroma ? cw : w);
        *rows = chroma ? ch : h;
        break;
    case LK_NV12:
        *row_bytes = k == 1 ? 2 * cw : w;
        *rows = k == 1 ? ch : h;
        break;
    default:
        *row_bytes = 4 * w;
        break;
    }
}

int lk_vframe_check(const lk_vframe *f)
{
    const char *type = lk_vtype_name(f->type);
    if (f->width == 0 || f->height == 0 || f->width > LK_VIDEO_MAX_SIDE ||
        f->height > LK_VIDEO_MAX_SIDE)
        return lk_fail("%s frame of %ux%u: width and height must be 1..%d", type, f->width,
                       f->height, LK_VIDEO_MAX_SIDE);
    if (f->planes < lk_vtype_planes(f->type))
        return lk_fail("%s needs %d planes (components), got %d", type, lk_vtype_planes(f->type),
                       f->planes);
    for (int k = 0; k < lk_vtype_planes(f->type); k++) {
        const lk_plane *p = &f->p[k];
        uint32_t row, rows;
        lk_vtype_plane_shape(f->type, f->width, f->height, k, &row, &rows);
        if (!p->data)
            return lk_fail("%s plane %d: data_ptr is null", type, k);
        if (p->stride < row)
            return lk_fail("%s plane %d: stride %u is smaller than a row (%u bytes)", type, k,
                           p->stride, row);
        uint64_t need = (uint64_t)p->stride * (rows - 1) + row;
        if (p->size < need)
            return lk_fail("%s plane %d: size %u is smaller than its %u rows need (%llu bytes)",
                           type, k, p->size, rows, (unsigned long long)need);
        if (f->type == LK_I010 && ((uintptr_t)p->data % 2 || p->stride % 2))
            return lk_fail("I010 plane %d: data_ptr and stride must be even (16-bit samples)", k);
    }
    return 0;
}

/* --- owned buffers -------------------------------------------------------- */

static void video_buffer_free(lk_object *o)
{
    free(lk_container_of(o, lk_video_buffer, base));
}

const lk_kind lk_video_buffer_kind = {"video buffer", NULL, video_buffer_free};

/* How many bytes the upstream Python SDK copies from an owned buffer's
 * data_ptr. Its formula squares the chroma width for I420A and NV12, which
 * exceeds the planes of a wide frame: we allocate at least this much so such
 * a read stays inside our block. */
static size_t client_read_len(enum lk_vtype t, size_t w, size_t h)
{
    size_t cw = (w + 1) / 2;
    switch (t) {
    case LK_I420A:
        return w * h * 2 + cw * cw * 2;
    case LK_NV12:
        return w * h + cw * cw * 2;
    default:
        return 0;
    }
}

lk_video_buffer *lk_video_buffer_new(enum lk_vtype type, uint32_t width, uint32_t height)
{
    lk_vframe f = {.type = type, .width = width, .height = height, .planes = lk_vtype_planes(type)};
    size_t total = 0;
    for (int k = 0; k < f.planes; k++) {
        uint32_t row, rows;
        lk_vtype_plane_shape(type, width, height, k, &row, &rows);
        f.p[k].stride = row;
        f.p[k].size = row * rows;
        total += f.p[k].size;
    }
    size_t alloc = total > client_read_len(type, width, height) ? total
                                                                : client_read_len(type, width, height);
    size_t header = (sizeof(lk_video_buffer) + 63) & ~(size_t)63; /* pixels 64-byte aligned */
    lk_video_buffer *b = aligned_alloc(64, (header + alloc + 63) & ~(size_t)63);
    if (!b)
        abort();
    lk_object_init(&b->base, &lk_video_buffer_kind);
    uint8_t *at = (uint8_t *)b + header;
    for (int k = 0; k < f.planes; k++) {
        f.p[k].data = at;
        at += f.p[k].size;
    }
    b->f = f;
    b->bytes = total;
    return b;
}

void lk_vframe_fill_black(const lk_vframe *f)
{
    const lk_plane *p = f->p;
    int w = (int)f->width, h = (int)f->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
    switch (f->type) {
    case LK_RGB24:
        SetPlane(p[0].data, (int)p[0].stride, 3 * w, h, 0);
        break;
    case LK_I420:
    case LK_I420A:
    case LK_I422:
    case LK_I444:
        SetPlane(p[0].data, (int)p[0].stride, w, h, 16);
        for (int k = 1; k < 3; k++) {
            uint32_t row, rows;
            lk_vtype_plane_shape(f->type, f->width, f->height, k, &row, &rows);
            SetPlane(p[k].data, (int)p[k].stride, (int)row, (int)rows, 128);
        }
        if (f->type == LK_I420A)
            SetPlane(p[3].data, (int)p[3].stride, w, h, 255);
        break;
    case LK_I010:
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                ((uint16_t *)(p[0].data + (size_t)y * p[0].stride))[x] = 64;
        for (int k = 1; k < 3; k++)
            for (int y = 0; y < ch; y++)
                for (int x = 0; x < cw; x++)
                    ((uint16_t *)(p[k].data + (size_t)y * p[k].stride))[x] = 512;
        break;
    case LK_NV12:
        SetPlane(p[0].data, (int)p[0].stride, w, h, 16);
        SetPlane(p[1].data, (int)p[1].stride, 2 * cw, ch, 128);
        break;
    default: /* 4-byte packed: black, opaque */
        ARGBRect(p[0].data, (int)p[0].stride, 0, 0, w, h, 0);
        for (int y = 0; y < h; y++) {
            uint8_t *row = p[0].data + (size_t)y * p[0].stride;
            int alpha = f->type == LK_RGBA || f->type == LK_BGRA ? 3 : 0;
            for (int x = 0; x < w; x++)
                row[4 * x + alpha] = 255;
        }
        break;
    }
}

/* --- conversion ------------------------------------------------------------ */

/* An I420 (or BGRA) picture in scratch memory. */
typedef struct {
    uint8_t *mem;
    lk_vframe f;
} temp_frame;

static int temp_new(temp_frame *t, enum lk_vtype type, uint32_t w, uint32_t h)
{
    lk_video_buffer *b = lk_video_buffer_new(type, w, h);
    t->mem = (uint8_t *)b;
    t->f = b->f;
    return 0;
}

static void temp_free(temp_frame *t)
{
    free(t->mem);
}

#define Y(f) (f)->p[0].data, (int)(f)->p[0].stride
#define U(f) (f)->p[1].data, (int)(f)->p[1].stride
#define V(f) (f)->p[2].data, (int)(f)->p[2].stride
#define A(f) (f)->p[3].data, (int)(f)->p[3].stride
#define Y16(f) (const uint16_t *)(f)->p[0].data, (int)(f)->p[0].stride / 2
#define U16(f) (const uint16_t *)(f)->p[1].data, (int)(f)->p[1].stride / 2
#define V16(f) (const uint16_t *)(f)->p[2].data, (int)(f)->p[2].stride / 2

/* src (any type) into a BGRA plane; h < 0 flips. */
static int to_bgra(const lk_vframe *s, uint8_t *dst, int ds, int w, int h)
{
    switch (s->type) {
    case LK_RGBA: return ABGRToARGB(Y(s), dst, ds, w, h);
    case LK_ABGR: return RGBAToARGB(Y(s), dst, ds, w, h);
    case LK_ARGB: return BGRAToARGB(Y(s), dst, ds, w, h);
    case LK_BGRA: return ARGBCopy(Y(s), dst, ds, w, h);
    case LK_RGB24: return RAWToARGB(Y(s), dst, ds, w, h);
    case LK_I420: return I420ToARGB(Y(s), U(s), V(s), dst, ds, w, h);
    case LK_I420A: return I420AlphaToARGB(Y(s), U(s), V(s), A(s), dst, ds, w, h, 0);
    case LK_I422: return I422ToARGB(Y(s), U(s), V(s), dst, ds, w, h);
    case LK_I444: return I444ToARGB(Y(s), U(s), V(s), dst, ds, w, h);
    case LK_I010: return I010ToARGB(Y16(s), U16(s), V16(s), dst, ds, w, h);
    case LK_NV12: return NV12ToARGB(Y(s), U(s), dst, ds, w, h);
    default: return -1;
    }
}

/* A BGRA plane into d (any type); h < 0 flips. */
static int from_bgra(const uint8_t *src, int ss, const lk_vframe *d, int w, int h)
{
    switch (d->type) {
    case LK_RGBA: return ARGBToABGR(src, ss, Y(d), w, h);
    case LK_ABGR: return ARGBToRGBA(src, ss, Y(d), w, h);
    case LK_ARGB: return ARGBToBGRA(src, ss, Y(d), w, h);
    case LK_BGRA: return ARGBCopy(src, ss, Y(d), w, h);
    case LK_RGB24: return ARGBToRAW(src, ss, Y(d), w, h);
    case LK_I420: return ARGBToI420(src, ss, Y(d), U(d), V(d), w, h);
    case LK_I420A:
        if (ARGBToI420(src, ss, Y(d), U(d), V(d), w, h))
            return -1;
        return ARGBExtractAlpha(src, ss, A(d), w, h);
    case LK_I422: return ARGBToI422(src, ss, Y(d), U(d), V(d), w, h);
    case LK_I444: return ARGBToI444(src, ss, Y(d), U(d), V(d), w, h);
    case LK_NV12: return ARGBToNV12(src, ss, Y(d), U(d), w, h);
    case LK_I010: {
        temp_frame t;
        temp_new(&t, LK_I420, d->width, d->height);
        int r = ARGBToI420(src, ss, Y(&t.f), U(&t.f), V(&t.f), w, h) ||
                I420ToI010(Y(&t.f), U(&t.f), V(&t.f), (uint16_t *)d->p[0].data,
                           (int)d->p[0].stride / 2, (uint16_t *)d->p[1].data,
                           (int)d->p[1].stride / 2, (uint16_t *)d->p[2].data,
                           (int)d->p[2].stride / 2, w, abs(h));
        temp_free(&t);
        return r;
    }
    default: return -1;
    }
}

/* src (any type) into I420 planes; h < 0 flips. */
static int to_i420(const lk_vframe *s, const lk_vframe *d, int w, int h)
{
    switch (s->type) {
    case LK_RGBA: return ABGRToI420(Y(s), Y(d), U(d), V(d), w, h);
    case LK_ABGR: return RGBAToI420(Y(s), Y(d), U(d), V(d), w, h);
    case LK_ARGB: return BGRAToI420(Y(s), Y(d), U(d), V(d), w, h);
    case LK_BGRA: return ARGBToI420(Y(s), Y(d), U(d), V(d), w, h);
    case LK_RGB24: return RAWToI420(Y(s), Y(d), U(d), V(d), w, h);
    case LK_I420:
    case LK_I420A: return I420Copy(Y(s), U(s), V(s), Y(d), U(d), V(d), w, h);
    case LK_I422: return I422ToI420(Y(s), U(s), V(s), Y(d), U(d), V(d), w, h);
    case LK_I444: return I444ToI420(Y(s), U(s), V(s), Y(d), U(d), V(d), w, h);
    case LK_I010: return I010ToI420(Y16(s), U16(s), V16(s), Y(d), U(d), V(d), w, h);
    case LK_NV12: return NV12ToI420(Y(s), U(s), Y(d), U(d), V(d), w, h);
    default: return -1;
    }
}

/* I420 planes (s) into d (any type); h < 0 flips. */
static int from_i420(const lk_vframe *s, const lk_vframe *d, int w, int h)
{
    switch (d->type) {
    case LK_RGBA: return I420ToABGR(Y(s), U(s), V(s), Y(d), w, h);
    case LK_ABGR: return I420ToRGBA(Y(s), U(s), V(s), Y(d), w, h);
    case LK_ARGB: return I420ToBGRA(Y(s), U(s), V(s), Y(d), w, h);
    case LK_BGRA: return I420ToARGB(Y(s), U(s), V(s), Y(d), w, h);
    case LK_RGB24: return I420ToRAW(Y(s), U(s), V(s), Y(d), w, h);
    case LK_I420: return I420Copy(Y(s), U(s), V(s), Y(d), U(d), V(d), w, h);
    case LK_I420A:
        SetPlane(A(d), w, abs(h), 255);
        return I420Copy(Y(s), U(s), V(s), Y(d), U(d), V(d), w, h);
    case LK_I422: return I420ToI422(Y(s), U(s), V(s), Y(d), U(d), V(d), w, h);
    case LK_I444: return I420ToI444(Y(s), U(s), V(s), Y(d), U(d), V(d), w, h);
    case LK_I010:
        return I420ToI010(Y(s), U(s), V(s), (uint16_t *)d->p[0].data, (int)d->p[0].stride / 2,
                          (uint16_t *)d->p[1].data, (int)d->p[1].stride / 2,
                          (uint16_t *)d->p[2].data, (int)d->p[2].stride / 2, w, h);
    case LK_NV12: return I420ToNV12(Y(s), U(s), V(s), Y(d), U(d), w, h);
    default: return -1;
    }
}

/* Byte order of each 4-byte type: which channel each byte holds. */
static const char order[4][5] = {"RGBA", "ABGR", "ARGB", "BGRA"};

static int shuffle(const lk_vframe *s, const lk_vframe *d, int w, int h)
{
    uint8_t mask[16];
    for (int i = 0; i < 16; i++) {
        const char *at = strchr(order[s->type], order[d->type][i % 4]);
        mask[i] = (uint8_t)(i / 4 * 4 + (at - order[s->type]));
    }
    return ARGBShuffle(Y(s), Y(d), mask, w, h);
}

static int copy_planes(const lk_vframe *s, const lk_vframe *d, int h)
{
    for (int k = 0; k < s->planes; k++) {
        uint32_t row, rows;
        lk_vtype_plane_shape(s->type, s->width, s->height, k, &row, &rows);
        CopyPlane(s->p[k].data, (int)s->p[k].stride, d->p[k].data, (int)d->p[k].stride, (int)row,
                  h < 0 ? -(int)rows : (int)rows);
    }
    return 0;
}

int lk_vframe_convert(const lk_vframe *s, const lk_vframe *d, bool flip_y)
{
    int w = (int)s->width, h = flip_y ? -(int)s->height : (int)s->height;
    int r;
    if (s->type == d->type)
        r = copy_planes(s, d, h);
    else if (d->type == LK_BGRA)
        r = to_bgra(s, Y(d), w, h);
    else if (s->type == LK_BGRA)
        r = from_bgra(s->p[0].data, (int)s->p[0].stride, d, w, h);
    else if (four_bytes(s->type) && four_bytes(d->type))
        r = shuffle(s, d, w, h);
    else if (d->type == LK_I420)
        r = to_i420(s, d, w, h);
    else if (s->type == LK_I420)
        r = from_i420(s, d, w, h);
    else {
        temp_frame t;
        bool via_i420 = yuv420(s->type) && yuv420(d->type);
        temp_new(&t, via_i420 ? LK_I420 : LK_BGRA, s->width, s->height);
        if (via_i420)
            r = to_i420(s, &t.f, w, h) || from_i420(&t.f, d, w, (int)s->height);
        else
            r = to_bgra(s, Y(&t.f), w, h) || from_bgra(Y(&t.f), d, w, (int)s->height);
        temp_free(&t);
    }
    if (r)
        return lk_fail("converting %s to %s failed", lk_vtype_name(s->type), lk_vtype_name(d->type));
    return 0;
}
