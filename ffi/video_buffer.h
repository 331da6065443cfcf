/*
 * video_buffer.h: video frames of every VideoBufferType, as views on memory
 * and as owned buffers handed to the client, and conversion between any two
 * types (libyuv).
 *
 * Type names are LiveKit's, in memory byte order: RGBA is R,G,B,A bytes
 * (libyuv calls that ABGR), BGRA is libyuv's ARGB, ARGB is libyuv's BGRA,
 * ABGR is libyuv's RGBA, RGB24 is R,G,B bytes (libyuv's RAW).
 *
 * Owned buffers are one block, planes one after another with no padding,
 * laid out as upstream lays them out (strides and sizes in bytes; chroma
 * planes of odd sizes round up):
 *   packed      stride = width × bytes per pixel (4, or 3 for RGB24)
 *   I420        Y: width × height; U, V: cw × ch          (cw = (w+1)/2, ch = (h+1)/2)
 *   I420A       I420, then A: width × height
 *   I422        Y: width × height; U, V: cw × height
 *   I444        Y, U, V: width × height
 *   I010        16-bit samples: Y: 2·width × height; U, V: 2·cw × ch
 *   NV12        Y: width × height; UV (interleaved): 2·cw × ch
 */
#ifndef LK_VIDEO_BUFFER_H
#define LK_VIDEO_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handle.h"

/* The numbering of the protocol's VideoBufferType. */
enum lk_vtype {
    LK_RGBA, LK_ABGR, LK_ARGB, LK_BGRA, LK_RGB24,
    LK_I420, LK_I420A, LK_I422, LK_I444, LK_I010, LK_NV12,
    LK_VTYPE_COUNT
};

/* Largest accepted side, in pixels. */
enum { LK_VIDEO_MAX_SIDE = 16384 };

typedef struct lk_plane {
    uint8_t *data;
    uint32_t stride; /* bytes */
    uint32_t size;   /* bytes */
} lk_plane;

/* A frame: its type, size and planes (packed types have one). */
typedef struct lk_vframe {
    enum lk_vtype type;
    uint32_t width, height;
    int planes;
    lk_plane p[4];
} lk_vframe;

const char *lk_vtype_name(enum lk_vtype t);
int lk_vtype_planes(enum lk_vtype t);
bool lk_vtype_packed(enum lk_vtype t);

/* Plane k of a type at a size: the bytes one row takes (width in bytes)
 * and its number of rows. */
void lk_vtype_plane_shape(enum lk_vtype t, uint32_t width, uint32_t height, int k,
                          uint32_t *row_bytes, uint32_t *rows);

/* Checks a frame a client described: dimensions, pointers, strides and
 * sizes large enough for what they describe. 0, or -1 after lk_fail(). */
int lk_vframe_check(const lk_vframe *f);

/* An owned, compact frame. */
typedef struct lk_video_buffer {
    lk_object base;
    lk_vframe f;
    size_t bytes;
} lk_video_buffer;

extern const lk_kind lk_video_buffer_kind;

/* A new buffer of the upstream layout (contents unset), one reference;
 * aborts on OOM. Callers have checked the dimensions. */
lk_video_buffer *lk_video_buffer_new(enum lk_vtype type, uint32_t width, uint32_t height);

/* Converts src into dst, which has src's width and height; flip_y turns the
 * picture upside down. Any type to any type. 0, or -1 after lk_fail(). */
int lk_vframe_convert(const lk_vframe *src, const lk_vframe *dst, bool flip_y);

/* Fills f with black (limited-range YUV black; opaque alpha). */
void lk_vframe_fill_black(const lk_vframe *f);

#endif
