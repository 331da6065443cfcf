/*
 * h264_decoder.c: H.264 over libavcodec, opened at run time (see
 * h264_decoder.h).
 */
#include "h264_decoder.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/macros.h>
#include <libavutil/pixfmt.h>

/* The sonames of the headers compiled against: a struct field this file
 * sets (AVCodecContext's, AVFrame's) sits where those headers say only in
 * a library of the same major version. Every field used predates both
 * majors, so any minor release of them will do. */
#define AVCODEC_SONAME "libavcodec.so." AV_STRINGIFY(LIBAVCODEC_VERSION_MAJOR)
#define AVUTIL_SONAME "libavutil.so." AV_STRINGIFY(LIBAVUTIL_VERSION_MAJOR)
#define AVCODEC_PACKAGE "libavcodec" AV_STRINGIFY(LIBAVCODEC_VERSION_MAJOR)
#define AVUTIL_PACKAGE "libavutil" AV_STRINGIFY(LIBAVUTIL_VERSION_MAJOR)

_Static_assert(LKH264_MAX_AU <= INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE,
               "an access unit's size fits AVPacket's int");

struct lkh264_decoder {
    AVCodecContext *ctx;
    AVPacket *pkt;
    AVFrame *frame; /* the picture last shown (valid until the next call) */
    AVFrame *next;  /* what receive_frame fills */
    uint8_t *buf;   /* the access unit, padded as libavcodec's readers need */
    size_t cap;
    int refused;    /* why get_format refused the stream's parameters, or 0 */
    bool damaged;   /* an access unit was refused since the context was opened */
};

/* --- libavcodec, opened once per process -------------------------------------- */

/* Opened on first use, never closed (decoders may live until exit). Loading
 * starts no thread (test_h264_decoder counts them), and the decoders are
 * made single-threaded, so a fork child inherits plain memory: the mapped
 * libraries and whatever decoders it had, which it may free or use. */
static struct {
    const AVCodec *(*find_decoder)(enum AVCodecID);
    AVCodecContext *(*alloc_context)(const AVCodec *);
    int (*open)(AVCodecContext *, const AVCodec *, AVDictionary **);
    void (*free_context)(AVCodecContext **);
    int (*send_packet)(AVCodecContext *, const AVPacket *);
    int (*receive_frame)(AVCodecContext *, AVFrame *);
    AVPacket *(*packet_alloc)(void);
    void (*packet_free)(AVPacket **);
    /* libavutil */
    void (*log_set_level)(int);
    AVFrame *(*frame_alloc)(void);
    void (*frame_free)(AVFrame **);
    void (*frame_unref)(AVFrame *);
    void (*frame_move_ref)(AVFrame *, AVFrame *);
} lib;

static const AVCodec *h264; /* the decoder, found once */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_error[300];
static atomic_bool tried; /* load has run: loaded and load_error are final */

static void *open_lib(const char *soname, const char *package)
{
    void *so = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!so)
        snprintf(load_error, sizeof load_error,
                 "H.264 decoding needs %s (Debian package %s): %s", soname, package, dlerror());
    return so;
}

static void load(void)
{
    /* libavcodec would load its own libavutil; opening ours by name first
     * checks that it is the major version the headers are for. */
    void *util = open_lib(AVUTIL_SONAME, AVUTIL_PACKAGE);
    if (!util)
        return;
    void *codec = open_lib(AVCODEC_SONAME, AVCODEC_PACKAGE);
    if (!codec) {
        dlclose(util);
        return;
    }
    static const struct {
        bool util;
        const char *name;
        void **slot;
    } syms[] = {
        {false, "avcodec_find_decoder", (void **)&lib.find_decoder},
        {false, "avcodec_alloc_context3", (void **)&lib.alloc_context},
        {false, "avcodec_open2", (void **)&lib.open},
        {false, "avcodec_free_context", (void **)&lib.free_context},
        {false, "avcodec_send_packet", (void **)&lib.send_packet},
        {false, "avcodec_receive_frame", (void **)&lib.receive_frame},
        {false, "av_packet_alloc", (void **)&lib.packet_alloc},
        {false, "av_packet_free", (void **)&lib.packet_free},
        {true, "av_log_set_level", (void **)&lib.log_set_level},
        {true, "av_frame_alloc", (void **)&lib.frame_alloc},
        {true, "av_frame_free", (void **)&lib.frame_free},
        {true, "av_frame_unref", (void **)&lib.frame_unref},
        {true, "av_frame_move_ref", (void **)&lib.frame_move_ref},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        if (!(*syms[i].slot = dlsym(syms[i].util ? util : codec, syms[i].name))) {
            snprintf(load_error, sizeof load_error, "%s lacks %s",
                     syms[i].util ? AVUTIL_SONAME : AVCODEC_SONAME, syms[i].name);
            goto fail;
        }
    }
    /* Before anything can log: libavcodec's default callback writes to
     * stderr. */
    lib.log_set_level(AV_LOG_QUIET);
    if (!(h264 = lib.find_decoder(AV_CODEC_ID_H264))) {
        snprintf(load_error, sizeof load_error, "%s has no H.264 decoder", AVCODEC_SONAME);
        goto fail;
    }
    loaded = true;
    return;
fail:
    dlclose(codec);
    dlclose(util);
}

static void load_and_mark(void)
{
    load();
    atomic_store(&tried, true);
}

static bool load_lib(char *err, size_t errlen)
{
    pthread_once(&load_once, load_and_mark);
    if (loaded)
        return true;
    if (err && errlen)
        snprintf(err, errlen, "%s", load_error);
    return false;
}

bool lkh264_decoder_available(char *err, size_t errlen)
{
    return load_lib(err, errlen);
}

bool lkh264_decoder_load_tried(void)
{
    return atomic_load(&tried);
}

/* --- decoding ------------------------------------------------------------------- */

static bool size_ok(int w, int h)
{
    return w > 0 && h > 0 && w <= LKH264_MAX_DIMENSION && h <= LKH264_MAX_DIMENSION &&
           (int64_t)w * h <= LKH264_MAX_AREA;
}

/* Called with a new SPS's parameters (the cropped size already in
 * width/height), before libavcodec allocates its tables or a picture for
 * them: the place to refuse what we will not show. fmts ends with
 * AV_PIX_FMT_NONE; hardware formats come first, the software one last. */
static enum AVPixelFormat get_format(AVCodecContext *ctx, const enum AVPixelFormat *fmts)
{
    lkh264_decoder *d = ctx->opaque;
    if (!size_ok(ctx->width, ctx->height)) {
        d->refused = LKH264D_E_SIZE;
        return AV_PIX_FMT_NONE;
    }
    for (const enum AVPixelFormat *f = fmts; *f != AV_PIX_FMT_NONE; f++)
        if (*f == AV_PIX_FMT_YUV420P || *f == AV_PIX_FMT_YUVJ420P)
            return *f;
    d->refused = LKH264D_E_FORMAT;
    return AV_PIX_FMT_NONE;
}

static void say(char *err, size_t errlen, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", what);
}

/* A new libavcodec context for d (none before). */
static bool open_context(lkh264_decoder *d)
{
    AVCodecContext *c = d->ctx = lib.alloc_context(h264);
    if (!c)
        abort(); /* the library's policy: out of memory aborts */
    c->opaque = d;
    c->get_format = get_format;
    /* Our worker threads drive the decoder: libavcodec starts none. */
    c->thread_count = 1;
    c->thread_type = 0;
    /* Each access unit's picture out of its own call (with one thread
     * there is no frame-threading delay anyway; reordering delay is the
     * stream's to ask for). */
    c->flags |= AV_CODEC_FLAG_LOW_DELAY;
    /* Frames decoded from a missing reference (before the first keyframe)
     * are not for showing. */
    c->flags &= ~AV_CODEC_FLAG_OUTPUT_CORRUPT;
    /* A backstop to get_format's check: libavcodec refuses larger pictures
     * before allocating them. It counts the width rounded up to its stride
     * alignment, so a picture within a hair of the area cap, of an odd
     * width, may fail here as a decode error rather than as a size. */
    c->max_pixels = LKH264_MAX_AREA;
    d->damaged = false;
    return lib.open(c, h264, NULL) >= 0;
}

lkh264_decoder *lkh264_decoder_new(char *err, size_t errlen)
{
    if (!load_lib(err, errlen))
        return NULL;
    lkh264_decoder *d = calloc(1, sizeof *d);
    if (!d)
        abort();
    d->pkt = lib.packet_alloc();
    d->frame = lib.frame_alloc();
    d->next = lib.frame_alloc();
    if (!d->pkt || !d->frame || !d->next)
        abort();
    if (!open_context(d)) {
        say(err, errlen, "libavcodec cannot open its H.264 decoder");
        lkh264_decoder_free(d);
        return NULL;
    }
    return d;
}

void lkh264_decoder_free(lkh264_decoder *d)
{
    if (!d)
        return;
    lib.free_context(&d->ctx);
    lib.packet_free(&d->pkt);
    lib.frame_free(&d->frame);
    lib.frame_free(&d->next);
    free(d->buf);
    free(d);
}

/* Whether the access unit starts a stream over: an IDR slice, with the SPS
 * and PPS it needs (Annex B: each NAL unit after 00 00 01). */
static bool starts_over(const uint8_t *au, size_t len)
{
    bool idr = false, sps = false, pps = false;
    for (size_t i = 0; i + 3 < len; i++) {
        if (au[i] || au[i + 1] || au[i + 2] != 1)
            continue;
        switch (au[i + 3] & 0x1f) {
        case 5: idr = true; break;
        case 7: sps = true; break;
        case 8: pps = true; break;
        default: break;
        }
        i += 3;
    }
    return idr && sps && pps;
}

/* Copies the access unit into the padded buffer: libavcodec's bitstream
 * readers read up to AV_INPUT_BUFFER_PADDING_SIZE bytes past the end. */
static void fill_packet(lkh264_decoder *d, const uint8_t *au, size_t len)
{
    size_t need = len + AV_INPUT_BUFFER_PADDING_SIZE;
    if (need > d->cap) {
        size_t cap = d->cap ? d->cap : 64 * 1024;
        while (cap < need)
            cap *= 2;
        free(d->buf);
        if (!(d->buf = malloc(cap)))
            abort();
        d->cap = cap;
    }
    memcpy(d->buf, au, len);
    memset(d->buf + len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    /* Not reference counted: send_packet takes its own copy. */
    d->pkt->data = d->buf;
    d->pkt->size = (int)len;
}

/* Decodes the access unit in d->pkt: as lkh264_decoder_decode. */
static int decode(lkh264_decoder *d, lkvp8_image *out)
{
    int rc = lib.send_packet(d->ctx, d->pkt);
    if (rc == AVERROR(EAGAIN)) {
        /* A picture left queued (never, as every call drains them): make
         * room and try again. */
        while (lib.receive_frame(d->ctx, d->next) >= 0)
            lib.frame_unref(d->next);
        rc = lib.send_packet(d->ctx, d->pkt);
    }
    d->pkt->data = NULL;
    d->pkt->size = 0;
    if (rc < 0)
        return d->refused ? d->refused : LKH264D_E_DECODE;
    /* Everything out; the newest is shown (one access unit makes at most
     * one picture, but nothing must stay queued: the next send would be
     * refused with EAGAIN). */
    bool got = false;
    while ((rc = lib.receive_frame(d->ctx, d->next)) >= 0) {
        lib.frame_unref(d->frame);
        lib.frame_move_ref(d->frame, d->next);
        got = true;
    }
    if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) {
        lib.frame_unref(d->frame);
        return d->refused ? d->refused : LKH264D_E_DECODE;
    }
    if (!got)
        return 0;
    const AVFrame *f = d->frame;
    int status = 0;
    if (f->format != AV_PIX_FMT_YUV420P && f->format != AV_PIX_FMT_YUVJ420P)
        status = LKH264D_E_FORMAT;
    else if (!size_ok(f->width, f->height))
        status = LKH264D_E_SIZE;
    else if ((f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags)
        status = LKH264D_E_DECODE;
    else if (f->linesize[0] <= 0 || f->linesize[1] <= 0 || f->linesize[2] <= 0)
        status = LKH264D_E_FORMAT; /* bottom-up: not from this decoder */
    if (status) {
        lib.frame_unref(d->frame);
        return status;
    }
    *out = (lkvp8_image){.width = (unsigned)f->width, .height = (unsigned)f->height,
                         .y = f->data[0], .u = f->data[1], .v = f->data[2],
                         .stride_y = (unsigned)f->linesize[0],
                         .stride_u = (unsigned)f->linesize[1],
                         .stride_v = (unsigned)f->linesize[2]};
    return 1;
}

int lkh264_decoder_decode(lkh264_decoder *d, const uint8_t *au, size_t len, lkvp8_image *out)
{
    if (!d || !out || (!au && len) || len > LKH264_MAX_AU)
        return LKH264D_E_INVALID;
    lib.frame_unref(d->frame); /* the last picture's lease ends */
    if (!len)
        return 0;
    /* After damage, a keyframe is decoded by a new context: libavcodec
     * keeps state across keyframes that damage can spoil (a P-frame with
     * corrupt slice data has been seen to spoil the intra prediction of
     * every keyframe after it). */
    if (d->damaged && starts_over(au, len)) {
        lib.free_context(&d->ctx);
        if (!open_context(d))
            abort(); /* it opened before: only memory can lack */
    }
    d->refused = 0;
    fill_packet(d, au, len);
    int status = decode(d, out);
    if (status < 0)
        d->damaged = true;
    return status;
}

const char *lkh264_decoder_strerror(int err)
{
    switch (err) {
    case LKH264D_E_INVALID: return "invalid argument";
    case LKH264D_E_DECODE: return "the H.264 decoder refused the access unit";
    case LKH264D_E_FORMAT: return "not 8-bit 4:2:0 H.264";
    case LKH264D_E_SIZE: return "H.264 picture too large";
    default: return "unknown error";
    }
}
