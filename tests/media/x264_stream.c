/* x264_stream.c: see x264_stream.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/macros.h>
#include <libavutil/opt.h>

#include "x264_stream.h"

#define AVCODEC_SONAME "libavcodec.so." AV_STRINGIFY(LIBAVCODEC_VERSION_MAJOR)

/* --- libavcodec, for the encoder ---------------------------------------------------- */

static struct {
    const AVCodec *(*find_encoder_by_name)(const char *);
    AVCodecContext *(*alloc_context)(const AVCodec *);
    int (*open)(AVCodecContext *, const AVCodec *, AVDictionary **);
    void (*free_context)(AVCodecContext **);
    int (*send_frame)(AVCodecContext *, const AVFrame *);
    int (*receive_packet)(AVCodecContext *, AVPacket *);
    AVPacket *(*packet_alloc)(void);
    void (*packet_free)(AVPacket **);
    void (*packet_unref)(AVPacket *);
    AVFrame *(*frame_alloc)(void);
    void (*frame_free)(AVFrame **);
    int (*frame_get_buffer)(AVFrame *, int);
    int (*opt_set)(void *, const char *, const char *, int);
} av;

static void load_av(void)
{
    static bool done;
    if (done)
        return;
    void *so = dlopen(AVCODEC_SONAME, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(so);
    /* dlsym on libavcodec finds libavutil's symbols too (a dependency). */
#define BIND(field, symbol) assert_non_null(*(void **)&av.field = dlsym(so, symbol))
    BIND(find_encoder_by_name, "avcodec_find_encoder_by_name");
    BIND(alloc_context, "avcodec_alloc_context3");
    BIND(open, "avcodec_open2");
    BIND(free_context, "avcodec_free_context");
    BIND(send_frame, "avcodec_send_frame");
    BIND(receive_packet, "avcodec_receive_packet");
    BIND(packet_alloc, "av_packet_alloc");
    BIND(packet_free, "av_packet_free");
    BIND(packet_unref, "av_packet_unref");
    BIND(frame_alloc, "av_frame_alloc");
    BIND(frame_free, "av_frame_free");
    BIND(frame_get_buffer, "av_frame_get_buffer");
    BIND(opt_set, "av_opt_set");
#undef BIND
    done = true;
}

/* --- the source ------------------------------------------------------------------------ */

uint8_t x264_stream_luma(unsigned i, unsigned x, unsigned y)
{
    double v = 128 + 50 * sin((x + 4.0 * i) / 11.0) * cos((y + 2.0 * i) / 9.0);
    bool square = x - (40 + 9 * i) < 80 && y - (60 + 5 * i) < 80; /* unsigned wrap: inside */
    return (uint8_t)(square ? 230 : v);
}

static uint8_t chroma(unsigned i, unsigned x, unsigned y, unsigned plane)
{
    return (uint8_t)(128 + (plane == 1 ? 30 : -30) * sin((x + y + 3.0 * i) / 17.0));
}

/* Writes picture i into frame (8-bit planes; for a 16-bit format, the
 * samples are shifted up to 10 bits). */
static void fill(AVFrame *f, unsigned i, bool wide)
{
    int shift = f->format == AV_PIX_FMT_YUV444P ? 0 : 1; /* of the chroma planes */
    for (unsigned p = 0; p < 3; p++) {
        unsigned w = (unsigned)(p ? AV_CEIL_RSHIFT(f->width, shift) : f->width);
        unsigned h = (unsigned)(p ? AV_CEIL_RSHIFT(f->height, shift) : f->height);
        for (unsigned y = 0; y < h; y++)
            for (unsigned x = 0; x < w; x++) {
                uint8_t v = p ? chroma(i, x, y, p) : x264_stream_luma(i, x, y);
                uint8_t *row = f->data[p] + (size_t)y * (size_t)f->linesize[p];
                if (wide)
                    ((uint16_t *)row)[x] = (uint16_t)(v << 2);
                else
                    row[x] = v;
            }
    }
}

/* --- the encoder ----------------------------------------------------------------------- */

static void take_packets(AVCodecContext *c, AVPacket *pkt, x264_stream *s, size_t cap)
{
    int rc;
    while ((rc = av.receive_packet(c, pkt)) == 0) {
        assert_true(s->n < X264_MAX_FRAMES);
        size_t at = s->off[s->n];
        assert_true(at + (size_t)pkt->size <= cap);
        memcpy(s->data + at, pkt->data, (size_t)pkt->size);
        s->key[s->n] = pkt->flags & AV_PKT_FLAG_KEY;
        s->off[++s->n] = at + (size_t)pkt->size;
        av.packet_unref(pkt);
    }
    assert_true(rc == AVERROR(EAGAIN) || rc == AVERROR_EOF);
}

/* n frames of w x h in pix_fmt with x264's profile, into s (data of cap
 * bytes, allocated here). */
void x264_stream_encode(x264_stream *s, unsigned w, unsigned h, unsigned n,
                   enum AVPixelFormat fmt, const char *profile, size_t cap)
{
    load_av();
    const AVCodec *x264 = av.find_encoder_by_name("libx264");
    assert_non_null(x264);
    AVCodecContext *c = av.alloc_context(x264);
    assert_non_null(c);
    c->width = (int)w;
    c->height = (int)h;
    c->pix_fmt = fmt;
    c->time_base = (AVRational){1, 30};
    c->framerate = (AVRational){30, 1};
    c->gop_size = 1000; /* one keyframe: the first */
    c->max_b_frames = 0;
    c->thread_count = 1; /* no x264 threads either */
    assert_int_equal(av.opt_set(c->priv_data, "preset", "veryfast", 0), 0);
    assert_int_equal(av.opt_set(c->priv_data, "tune", "zerolatency", 0), 0);
    assert_int_equal(av.opt_set(c->priv_data, "profile", profile, 0), 0);
    assert_int_equal(av.opt_set(c->priv_data, "x264-params", "scenecut=0", 0), 0);
    assert_int_equal(av.open(c, x264, NULL), 0);

    AVFrame *f = av.frame_alloc();
    AVPacket *pkt = av.packet_alloc();
    assert_non_null(f);
    assert_non_null(pkt);
    f->width = c->width;
    f->height = c->height;
    f->format = fmt;
    assert_int_equal(av.frame_get_buffer(f, 0), 0);
    memset(s, 0, sizeof *s);
    s->data = malloc(cap);
    assert_non_null(s->data);
    for (unsigned i = 0; i < n; i++) {
        fill(f, i, fmt == AV_PIX_FMT_YUV420P10LE);
        f->pts = i;
        assert_int_equal(av.send_frame(c, f), 0);
        take_packets(c, pkt, s, cap);
        assert_int_equal(s->n, i + 1); /* zerolatency: one access unit per picture, at once */
    }
    assert_int_equal(av.send_frame(c, NULL), 0);
    take_packets(c, pkt, s, cap);
    assert_int_equal(s->n, n);
    av.packet_free(&pkt);
    av.frame_free(&f);
    av.free_context(&c);
}

void x264_stream_free(x264_stream *s)
{
    free(s->data);
    s->data = NULL;
}
