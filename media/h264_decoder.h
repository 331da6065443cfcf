/*
 * h264_decoder.h: H.264 access units in, I420 pictures out, over
 * libavcodec's "h264" decoder.
 *
 * Loading: libavcodec is opened on first use (dlopen), not linked: it
 * brings some sixty shared libraries with it, which every client would
 * otherwise pay for at every load of this library, most of them never
 * seeing H.264. The sonames opened are those of the headers compiled
 * against (libavcodec.so.59 and libavutil.so.57 on Debian 12); when they
 * are missing, creating a decoder fails and says which package to
 * install. Loading silences libavcodec's log for the whole process
 * (av_log_set_level(AV_LOG_QUIET)): it would write to stderr, which a
 * library must not do. A host using the same libavcodec with its default
 * log callback is silenced too; one with its own callback is not.
 *
 * Decoding: one thread, the caller's (thread_count 1, thread_type 0:
 * libavcodec starts none), in low-delay mode, so an access unit's picture
 * comes out of the call that decodes it. Only a stream that reorders
 * pictures (B-frames, which WebRTC senders do not make) has them come out
 * later, in display order. Pictures before the first keyframe (IDR, or
 * recovery point) are not shown: libavcodec would show them made from a
 * grey reference. After a refused access unit, the next one holding an
 * IDR with its SPS and PPS is decoded by a new libavcodec context, as if
 * by a new decoder: libavcodec keeps state across keyframes that damage
 * can spoil (a P-frame with corrupt slice data was seen to spoil every
 * keyframe after it).
 *
 * Refused (a negative return; the caller then wants a keyframe, as for a
 * VP8 decode error); the first two before libavcodec allocates for them:
 *   - anything but 8-bit 4:2:0 (YUV420P, or YUVJ420P, whose full range is
 *     passed on unmarked): the 4:2:2, 4:4:4 and high bit depth profiles
 *     of High 10/4:2:2/4:4:4, which no WebRTC sender uses and which
 *     lkvp8_image cannot carry;
 *   - a picture over 4096x4096, or over 4096x2304 pixels in all (as the
 *     VP8 receiver refuses);
 *   - an access unit libavcodec rejects, or a picture it had to conceal
 *     damage in (it is still kept as a reference).
 *
 * Memory: the decoder's context, two frames and a packet at creation;
 * libavcodec's tables and its pool of pictures when the first keyframe
 * (or a change of size) comes, again after damage; an input buffer grown
 * to the largest access unit seen. Per access unit, nothing of ours
 * (libavcodec copies each into a buffer of its own).
 *
 * Threads: a decoder belongs to one thread; no locks. Decoders on
 * different threads are independent.
 *
 * Fork: the loaded libraries stay mapped in a child, harmlessly (they
 * have no threads); a child may free inherited decoders or make new ones.
 */
#ifndef LKMEDIA_H264_DECODER_H
#define LKMEDIA_H264_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vp8_sender.h" /* lkvp8_image */

enum {
    LKH264_MAX_DIMENSION = 4096,
    LKH264_MAX_AREA = 4096 * 2304,
    LKH264_MAX_AU = 8 << 20, /* bytes of one access unit */
};

enum lkh264_decoder_error {
    LKH264D_E_INVALID = -1, /* NULL arguments, or an access unit over LKH264_MAX_AU */
    LKH264D_E_DECODE = -2,  /* libavcodec refused the access unit, or concealed damage */
    LKH264D_E_FORMAT = -3,  /* not 8-bit 4:2:0 */
    LKH264D_E_SIZE = -4,    /* over LKH264_MAX_DIMENSION or LKH264_MAX_AREA */
};

const char *lkh264_decoder_strerror(int err);

typedef struct lkh264_decoder lkh264_decoder;

/* NULL with the reason in err when libavcodec cannot be opened (e.g.
 * "H.264 decoding needs libavcodec.so.59 (Debian package libavcodec59):
 * <dlerror>") or the decoder cannot be made. */
lkh264_decoder *lkh264_decoder_new(char *err, size_t errlen);
void lkh264_decoder_free(lkh264_decoder *d);

/* Decodes one whole access unit in Annex B form (a start code before
 * every NAL unit; SPS and PPS in band), read during the call only.
 * Returns 1 and the picture in out (valid until the next call on d), 0
 * when it decoded but there is nothing to show, or a negative
 * lkh264_decoder_error. The decoder stays usable after an error: the
 * next keyframe starts it over. */
int lkh264_decoder_decode(lkh264_decoder *d, const uint8_t *au, size_t len, lkvp8_image *out);

/* Whether libavcodec (with its H.264 decoder) can be opened here, without
 * making a decoder; opens it if not yet done (the answer is kept). False
 * with the reason in err (which may be NULL). */
bool lkh264_decoder_available(char *err, size_t errlen);
/* Whether libavcodec was opened, or opening it failed: then _available
 * and _new return without loading anything (opening it takes milliseconds,
 * which a worker must not spend: see room/subscribe.c). */
bool lkh264_decoder_load_tried(void);

#endif
