/* x264_stream.h: H.264 streams for the tests, coded by libavcodec's
 * libx264 (one thread, tune zerolatency, a keyframe first and no other):
 * a moving pattern whose pictures the tests rebuild to measure what a
 * decoder made of them. libavcodec is opened at run time, as the library
 * opens it, and only when a stream is first coded. */
#ifndef LKTEST_X264_STREAM_H
#define LKTEST_X264_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavutil/pixfmt.h>

enum { X264_MAX_FRAMES = 64 };

typedef struct x264_stream {
    uint8_t *data;                    /* the access units, one after another (Annex B) */
    size_t off[X264_MAX_FRAMES + 1];  /* where each begins; off[n] is the end */
    bool key[X264_MAX_FRAMES];
    unsigned n;
} x264_stream;

/* n pictures of w x h in fmt with x264's profile ("baseline", "high444"...)
 * into s (data of cap bytes, allocated here; cmocka asserts on failure). */
void x264_stream_encode(x264_stream *s, unsigned w, unsigned h, unsigned n,
                        enum AVPixelFormat fmt, const char *profile, size_t cap);
void x264_stream_free(x264_stream *s);
/* Picture i's luma at (x, y), as coded. */
uint8_t x264_stream_luma(unsigned i, unsigned x, unsigned y);

#endif
