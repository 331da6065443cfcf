/*
 * video_receiver.c: VP8 or H.264 RTP packets to decoded pictures (see
 * video_receiver.h).
 *
 * Sequence numbers are extended to 64 bits relative to the highest seen,
 * and every number in the window (highest - SLOTS, highest] owns the slot
 * at its value modulo SLOTS: a packet, padding, a gap still NACKed, or a
 * gap given up. `next` is the first number not yet decoded or skipped: the
 * first packet of the next frame, when all goes well. Everything below it
 * is done with, so the slots from next to highest are all that pop,
 * feedback and the deadline look at (at most SLOTS of them).
 *
 * need_key says the decoder has no usable reference: at the start, after a
 * skip, after a decoder error. Until a keyframe decodes, only keyframes
 * are decoded, and a frame at next that cannot be decoded gives way to
 * the first whole keyframe after it.
 *
 * Numbers missing between two frames hold no frame when the picture ids
 * say so (the frame after the gap is the one after the last decoded): the
 * packets lost there are padding, which no one resends (a sender behind a
 * lossy link pads on the media's numbers, and the server forwards the gap
 * its loss leaves), so they are not waited for.
 */
#include "video_receiver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

#include "h264.h"
#include "h264_decoder.h"
#include "vp8.h"

enum {
    MAX_TRIES = 10,   /* NACKs per missing packet */
    MIN_RETRY_MS = 20,
    /* The retry time is the round trip, but at most this: the caller's
     * round trip is the signal's, one TCP sample, which a lost segment
     * makes seconds long on a lossy link; the server resends at most
     * every 100 ms anyway, and a packet given up still decodes if it
     * comes. */
    MAX_RETRY_MS = 100,
    /* A gap is given up (a keyframe asked for) once GIVE_UP_TRIES NACKs
     * went out and it has been missing GIVE_UP_MS, however many NACKs that
     * took. The time is the server's: when the camera sits behind a lossy
     * link, livekit-server fetches a lost packet from it with NACKs of its
     * own, 5 tries paced by the camera's round trip (x1.25 each), about
     * 450 ms in all at 70 ms, and forwards it when it comes. Giving up
     * sooner asked for keyframes that were not needed, and livekit-server
     * passes one keyframe request a layer per 0.5 to 1 s: the next gap's
     * request then waited out the throttle (1.24 s frozen in CI). */
    GIVE_UP_TRIES = 4,
    GIVE_UP_MS = 500,
    DEFAULT_RTT_MS = 100,
    PLI_GAP_MS = 300, /* between two PLIs */
    /* A picture held this long with packets waiting behind it asks for a
     * keyframe, whatever holds it (see stalled): longer than a gap takes
     * to be given up, so that the rule never pre-empts a packet on its
     * way. */
    STALL_MS = 700,
    /* Larger keyframes are refused (a decoder error) rather than decoded:
     * libvpx would allocate frame buffers for any size a header claims. */
    MAX_DIMENSION = 4096,
    MAX_AREA = 4096 * 2304,
    /* How far back an H.264 frame start looks past padding for the packet
     * before it (bounded: it is asked for every packet of a frame). */
    MAX_PADDING_BACK = 16,
};
static const uint64_t MS_NS = 1000000ull;

_Static_assert((LKVIDEO_RECV_SLOTS & (LKVIDEO_RECV_SLOTS - 1)) == 0, "slots: a power of two");
_Static_assert((uint64_t)LKVIDEO_RECV_SLOTS * LKVIDEO_RECV_MAX_PACKET <= LKVIDEO_RECV_MAX_FRAME,
               "a whole ring fits the assembly buffer");

enum slot_state {
    SL_EMPTY = 0, /* not in the window */
    SL_MISSING,   /* a gap, NACKed while tries remain */
    SL_LOST,      /* a gap given up: no longer NACKed, yet stored if it comes */
    SL_PADDING,   /* received, nothing to decode */
    SL_PACKET,
};

typedef struct slot {
    int64_t seq; /* extended: which number the state below belongs to */
    uint8_t state;
    /* VP8: S set, partition 0, the first packet of a frame; H.264: it
     * begins a NAL unit (frame_start says whether it begins a frame) */
    bool start;
    bool au_start; /* H.264: its first NAL unit only ever opens an access unit (AUD, SPS) */
    bool sps;      /* H.264: an SPS begins in it */
    bool key;      /* VP8: the start of a keyframe; H.264: an IDR slice or an SPS begins in it */
    bool marker;
    bool has_pid, long_pid; /* the descriptor's picture id, when it has one */
    uint16_t pid;
    uint8_t tries;
    uint16_t len; /* the codec's data: VP8's after the descriptor, H.264's whole payload */
    uint32_t ts;
    uint64_t nack_at; /* SL_MISSING: when the next NACK (or giving up) is due */
    uint64_t missing_since;
    uint8_t data[LKVIDEO_RECV_MAX_PACKET];
} slot;

struct lkvideo_receiver {
    lkvideo_codec codec;
    vpx_codec_ctx_t dec;   /* VP8 */
    lkh264_decoder *h264; /* H.264 */
    bool have_source;
    uint32_t ssrc;
    lkrtp_recv_stats rtp;

    bool synced;   /* a packet was stored: next and highest mean something */
    bool anchored; /* a frame was decoded or skipped: next no longer moves back */
    bool need_key;
    int64_t next, highest;
    bool have_last_pid; /* the picture id of the last frame decoded, if it had one */
    uint16_t last_pid;

    bool pli_pending;
    bool pli_ever;
    uint64_t last_pli;
    uint64_t last_arrival; /* of the last packet put */
    uint64_t moved_at;     /* when next last moved past a frame (or the stream began) */
    uint32_t rtt_ms;

    uint64_t padding, decoded, keys, skipped, errors, nacks, plis;
    unsigned width, height;

    uint8_t frame[LKVIDEO_RECV_MAX_FRAME];
    slot slots[LKVIDEO_RECV_SLOTS];
};

/* The state of one frame, as assembled from next. */
enum frame_state {
    FR_WAIT,     /* packets may still come */
    FR_BROKEN,   /* cannot be completed: a start missing or lost, or it does not add up */
    FR_COMPLETE,
};

typedef struct frame_info {
    int64_t first, last; /* the start packet's number, the marker's */
    uint32_t ts;
    bool key;
    bool sps; /* H.264: one of its packets begins an SPS */
    bool has_pid;
    uint16_t pid;
} frame_info;

static void say(char *err, size_t errlen, const char *what, const char *detail)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

static slot *at(lkvideo_receiver *r, int64_t seq)
{
    return &r->slots[(uint64_t)seq & (LKVIDEO_RECV_SLOTS - 1)];
}

static const slot *cat(const lkvideo_receiver *r, int64_t seq)
{
    return &r->slots[(uint64_t)seq & (LKVIDEO_RECV_SLOTS - 1)];
}

static bool received(const slot *s, int64_t seq)
{
    return s->seq == seq && (s->state == SL_PACKET || s->state == SL_PADDING);
}

/* ns to the 90 kHz clock, without overflow for any uint64_t. */
static uint32_t ticks_of(uint64_t ns)
{
    return (uint32_t)(ns / 100000 * 9 + ns % 100000 * 9 / 100000);
}

static uint64_t retry_ns(const lkvideo_receiver *r)
{
    uint32_t ms = r->rtt_ms ? r->rtt_ms : DEFAULT_RTT_MS;
    ms = ms < MIN_RETRY_MS ? MIN_RETRY_MS : ms > MAX_RETRY_MS ? MAX_RETRY_MS : ms;
    return (uint64_t)ms * MS_NS;
}

static bool give_up(const slot *s, uint64_t now)
{
    return s->tries >= GIVE_UP_TRIES && now >= s->missing_since &&
           now - s->missing_since >= GIVE_UP_MS * MS_NS;
}

/* Packets came after the picture last moved and wait behind it. */
static bool held(const lkvideo_receiver *r)
{
    return r->synced && r->next <= r->highest && r->last_arrival > r->moved_at;
}

/* Held for STALL_MS. The rules above should never leave it so (a missing
 * packet is given up, a broken frame asks for a keyframe), but a picture
 * held for any other reason must not stay held: libwebrtc, too, asks for a
 * keyframe while it waits for a decodable frame. */
static bool stalled(const lkvideo_receiver *r, uint64_t now)
{
    return held(r) && now >= r->moved_at + STALL_MS * MS_NS;
}

/* --- sequence state ---------------------------------------------------------------- */

static void reset_sequence(lkvideo_receiver *r)
{
    for (size_t i = 0; i < LKVIDEO_RECV_SLOTS; i++)
        r->slots[i].state = SL_EMPTY;
    r->synced = false;
    r->anchored = false;
    r->need_key = true;
    r->have_last_pid = false;
    r->pli_pending = false;
}

static void start_source(lkvideo_receiver *r, uint32_t ssrc)
{
    r->have_source = true;
    r->ssrc = ssrc;
    lkrtp_recv_init(&r->rtp, ssrc);
    reset_sequence(r);
}

/* The 16-bit number's extension nearest the highest seen. */
static int64_t extend(const lkvideo_receiver *r, uint16_t seq)
{
    if (!r->synced)
        return seq;
    return r->highest + (int16_t)(uint16_t)(seq - (uint16_t)r->highest);
}

static void mark_missing(lkvideo_receiver *r, int64_t seq, uint64_t now)
{
    slot *s = at(r, seq);
    s->seq = seq;
    s->state = SL_MISSING;
    s->tries = 0;
    s->nack_at = now; /* NACKed at once */
    s->missing_since = now;
}

static enum frame_state frame_at(const lkvideo_receiver *r, int64_t from, frame_info *f);

/* Whether a keyframe that may yet be whole waits anywhere from next on
 * (one broken by a packet given up will not end the need). */
static bool key_coming(const lkvideo_receiver *r)
{
    frame_info f;
    for (int64_t q = r->next; q <= r->highest; q++) {
        const slot *s = cat(r, q);
        if (s->state == SL_PACKET && s->key && frame_at(r, q, &f) != FR_BROKEN)
            return true;
    }
    return false;
}

/* A keyframe will be needed: ask for one unless one is on its way. */
static void want_pli(lkvideo_receiver *r)
{
    if (!key_coming(r))
        r->pli_pending = true;
}

static void want_key(lkvideo_receiver *r)
{
    r->need_key = true;
    want_pli(r);
}

/* A packet of no frame to come: it begins none and names no picture, or
 * the last one decoded. livekit-server's padding probes read so (it hands
 * pion 255 bytes of padding as payload, its last byte 255, and pion pads
 * that again), and a sender may pad after a frame's last packet. */
static bool of_no_frame(const lkvideo_receiver *r, const slot *s)
{
    return r->codec == LKVIDEO_VP8 && s->state == SL_PACKET && !s->start &&
           (!s->has_pid || (r->have_last_pid && s->pid == r->last_pid));
}

/* Padding at next is done with, and so is a packet of no frame once a
 * frame was decoded or skipped (next then follows a frame's end, where
 * only a frame's first packet may stand): stepping over them now keeps a
 * long probe between two frames from pushing a frame out of the window,
 * and a probe from standing where the next frame must begin. */
static void consume_padding(lkvideo_receiver *r)
{
    while (r->next <= r->highest) {
        const slot *s = cat(r, r->next);
        if (s->state != SL_PADDING && !(r->anchored && of_no_frame(r, s)))
            break;
        r->next++;
    }
}

/* A new highest number: the numbers jumped over are gaps, and the window
 * moves; what falls out of it below next is lost for good. */
static void advance(lkvideo_receiver *r, int64_t seq, uint64_t now)
{
    int64_t from = r->highest + 1;
    if (from < seq - LKVIDEO_RECV_SLOTS + 1)
        from = seq - LKVIDEO_RECV_SLOTS + 1;
    for (int64_t q = from; q < seq; q++)
        mark_missing(r, q, now);
    at(r, seq)->state = SL_EMPTY; /* whatever the slot held is out of the window */
    r->highest = seq;
    if (r->next <= seq - LKVIDEO_RECV_SLOTS) {
        r->next = seq - LKVIDEO_RECV_SLOTS + 1;
        r->anchored = true;
        r->moved_at = now;
        r->skipped++;
        want_key(r);
    }
}

/* Before anything was decoded, an earlier packet (reordered at the start)
 * moves next back to it; the numbers between become gaps. */
static void extend_back(lkvideo_receiver *r, int64_t seq, uint64_t now)
{
    for (int64_t q = seq + 1; q < r->next; q++)
        if (!received(cat(r, q), q)) /* padding stepped over was received */
            mark_missing(r, q, now);
    r->next = seq;
}

/* --- put --------------------------------------------------------------------------- */

typedef struct parsed {
    bool padding, start, au_start, key, sps;
    bool has_pid, long_pid;
    uint16_t pid;
    size_t off; /* where the codec's data starts (H.264: 0, depacketized when assembled) */
} parsed;

/* The type of the first NAL unit an H.264 payload begins (0: none). */
static unsigned first_nal_type(const uint8_t *p, size_t n, const lkh264_info *info)
{
    if (!info->begins)
        return 0;
    if (info->type == LKH264_STAP_A)
        return n > 3 ? p[3] & 0x1f : 0;
    if (info->type == LKH264_FU_A)
        return p[1] & 0x1f;
    return info->type;
}

static bool parse_h264(const lkrtp_packet *pkt, parsed *p)
{
    lkh264_info info;
    if (lkh264_parse(pkt->payload, pkt->payload_len, &info) < 0)
        return false;
    unsigned first = first_nal_type(pkt->payload, pkt->payload_len, &info);
    p->start = info.begins;
    p->au_start = first == LKH264_NAL_AUD || first == LKH264_NAL_SPS;
    p->sps = info.nal_types & 1u << LKH264_NAL_SPS;
    p->key = info.nal_types & (1u << LKH264_NAL_IDR | 1u << LKH264_NAL_SPS);
    return true;
}

static bool parse(const lkvideo_receiver *r, const lkrtp_packet *pkt, parsed *p)
{
    memset(p, 0, sizeof *p);
    if (pkt->payload_len == 0) {
        p->padding = true;
        return true;
    }
    if (pkt->payload_len > LKVIDEO_RECV_MAX_PACKET)
        return false;
    if (r->codec == LKVIDEO_H264)
        return parse_h264(pkt, p);
    lkvp8_descriptor d;
    int n = lkvp8_parse_descriptor(&d, pkt->payload, pkt->payload_len);
    if (n < 0)
        return false;
    p->off = (size_t)n;
    p->start = d.start && d.partition == 0;
    p->has_pid = d.has_picture_id;
    p->long_pid = d.long_picture_id;
    p->pid = d.picture_id;
    p->key = lkvp8_is_keyframe(&d, pkt->payload + n, pkt->payload_len - (size_t)n);
    return true;
}

static void store(lkvideo_receiver *r, int64_t seq, const lkrtp_packet *pkt, const parsed *p)
{
    slot *s = at(r, seq);
    s->seq = seq;
    s->state = p->padding ? SL_PADDING : SL_PACKET;
    s->start = p->start;
    s->au_start = p->au_start;
    s->sps = p->sps;
    s->key = p->key;
    s->marker = pkt->h.marker;
    s->has_pid = p->has_pid;
    s->long_pid = p->long_pid;
    s->pid = p->pid;
    s->ts = pkt->h.timestamp;
    s->len = (uint16_t)(pkt->payload_len - p->off);
    if (s->len)
        memcpy(s->data, pkt->payload + p->off, s->len);
}

int lkvideo_receiver_put(lkvideo_receiver *r, const lkrtp_packet *pkt, uint64_t arrival_ns)
{
    if (!r || !pkt || (!pkt->payload && pkt->payload_len))
        return -1;
    parsed p;
    if (!parse(r, pkt, &p))
        return LKVIDEO_PUT_INVALID;
    if (!r->have_source || pkt->h.ssrc != r->ssrc)
        start_source(r, pkt->h.ssrc);
    r->last_arrival = arrival_ns;
    enum lkrtp_recv_result res = lkrtp_recv_update(&r->rtp, pkt->h.seq, pkt->h.timestamp,
                                                   ticks_of(arrival_ns), NULL);
    int64_t seq = extend(r, pkt->h.seq);
    /* One packet far ahead is not let push the window past every packet
     * to come (RFC 3550 A.1's probation); the next one after it makes it
     * a new start. Far behind, it is only late. */
    if (r->synced && res == LKRTP_RECV_JUMP && seq > r->highest)
        return LKVIDEO_PUT_JUMP;
    if (p.padding)
        r->padding++;
    if (r->synced && res == LKRTP_RECV_RESTART && (seq < r->next || seq > r->highest)) {
        /* the sender's numbers jumped, twice in a row: a new start */
        reset_sequence(r);
        seq = pkt->h.seq;
    }
    if (!r->synced) {
        r->synced = true;
        r->next = r->highest = seq;
        r->moved_at = arrival_ns;
        at(r, seq)->state = SL_EMPTY;
    } else if (seq < r->next && !r->anchored && r->highest - seq < LKVIDEO_RECV_SLOTS) {
        extend_back(r, seq, arrival_ns);
    }
    if (seq < r->next)
        return LKVIDEO_PUT_LATE;
    if (received(at(r, seq), seq))
        return LKVIDEO_PUT_DUPLICATE;
    if (seq > r->highest)
        advance(r, seq, arrival_ns);
    store(r, seq, pkt, &p);
    consume_padding(r);
    if (p.start && !p.key && r->need_key && !r->anchored)
        want_key(r); /* the stream began after its keyframe */
    return p.padding ? LKVIDEO_PUT_PADDING : LKVIDEO_PUT_BUFFERED;
}

/* --- frames ------------------------------------------------------------------------ */

/* Whether packet q (in s) is the first of its frame. VP8 says so in the
 * descriptor; H.264 does not: a packet beginning a NAL unit is first when
 * that unit can only open an access unit, or when the packet before it
 * (up to MAX_PADDING_BACK padding packets stepped over) is there and
 * ended a frame (the marker, or
 * another timestamp). Unknown counts as not: the frame waits for that
 * packet, or is broken, as a VP8 frame without its S packet. */
static bool frame_start(const lkvideo_receiver *r, int64_t q, const slot *s)
{
    if (!s->start || r->codec == LKVIDEO_VP8)
        return s->start;
    if (s->au_start)
        return true;
    for (int64_t p = q - 1; p >= q - MAX_PADDING_BACK; p--) {
        const slot *b = cat(r, p);
        if (!received(b, p))
            return false;
        if (b->state == SL_PACKET)
            return b->marker || b->ts != s->ts;
    }
    return false;
}

/* The frame that begins at from (padding before it stepped over). */
static enum frame_state frame_at(const lkvideo_receiver *r, int64_t from, frame_info *f)
{
    bool begun = false;
    for (int64_t q = from; q <= r->highest; q++) {
        const slot *s = cat(r, q);
        if (s->state == SL_MISSING)
            return FR_WAIT;
        if (s->state != SL_PACKET && s->state != SL_PADDING)
            return FR_BROKEN; /* lost */
        if (s->state == SL_PADDING)
            continue;
        if (!begun) {
            if (!frame_start(r, q, s))
                return FR_BROKEN;
            begun = true;
            *f = (frame_info){.first = q, .ts = s->ts, .key = s->key,
                              .has_pid = s->has_pid, .pid = s->pid};
        } else if (s->ts != f->ts || frame_start(r, q, s)) {
            return FR_BROKEN; /* the marker was lost, yet the next frame is here */
        } else {
            f->key |= s->key; /* H.264: an IDR slice after an SEI; VP8: never */
        }
        f->sps |= s->sps;
        if (s->marker) {
            f->last = q;
            return FR_COMPLETE;
        }
    }
    return FR_WAIT;
}

/* The first whole keyframe after next. */
static bool find_key(const lkvideo_receiver *r, int64_t *first)
{
    frame_info f;
    for (int64_t q = r->next + 1; q <= r->highest; q++) {
        const slot *s = cat(r, q);
        if (s->state == SL_PACKET && s->key && frame_at(r, q, &f) == FR_COMPLETE) {
            *first = q;
            return true;
        }
    }
    return false;
}

/* The frame after the last decoded one, beyond a gap at next that holds
 * no frame: from next, only numbers missing, given up, padding or packets
 * of no frame, then a whole frame whose picture id follows the last
 * decoded one's. */
static bool find_following(const lkvideo_receiver *r, int64_t *first)
{
    if (!r->have_last_pid)
        return false;
    for (int64_t q = r->next; q <= r->highest; q++) {
        const slot *s = cat(r, q);
        if (s->state == SL_MISSING || s->state == SL_LOST || s->state == SL_PADDING ||
            (received(s, q) && of_no_frame(r, s)))
            continue;
        if (!received(s, q) || !s->start || !s->has_pid)
            return false;
        uint16_t mask = s->long_pid ? 0x7fff : 0x7f;
        frame_info f;
        if (s->pid != ((r->last_pid + 1) & mask) || frame_at(r, q, &f) != FR_COMPLETE)
            return false;
        *first = q;
        return true;
    }
    return false;
}

/* Passing over what cannot be decoded, to seq: frames counted by their
 * first packets, and the one at next even without its first. */
static void skip_to(lkvideo_receiver *r, int64_t seq)
{
    const slot *s0 = cat(r, r->next);
    uint64_t n = !(s0->state == SL_PACKET && frame_start(r, r->next, s0));
    for (int64_t q = r->next; q < seq; q++) {
        const slot *s = cat(r, q);
        n += s->state == SL_PACKET && frame_start(r, q, s);
    }
    r->skipped += n;
    r->next = seq;
    r->anchored = true;
    r->moved_at = r->last_arrival;
}

/* The frame's coded bytes, in r->frame: VP8's data as it came, H.264's
 * payloads in Annex B form. False if they do not fit. */
static bool assemble(lkvideo_receiver *r, const frame_info *f, size_t *len)
{
    *len = 0;
    for (int64_t q = f->first; q <= f->last; q++) {
        const slot *s = at(r, q);
        if (s->state != SL_PACKET)
            continue;
        if (r->codec == LKVIDEO_H264) {
            int n = lkh264_depacketize(s->data, s->len, r->frame + *len,
                                       sizeof r->frame - *len, NULL);
            if (n < 0)
                return false;
            *len += (size_t)n;
        } else {
            memcpy(r->frame + *len, s->data, s->len);
            *len += s->len;
        }
    }
    return true;
}

static bool size_allowed(unsigned w, unsigned h)
{
    return w && h && w <= MAX_DIMENSION && h <= MAX_DIMENSION && (uint64_t)w * h <= MAX_AREA;
}

/* A keyframe (or an H.264 frame bringing an SPS) claiming a size the
 * decoder would allocate too much for is refused before it sees it. */
static bool size_ok(const lkvideo_receiver *r, const frame_info *f, size_t len)
{
    unsigned w, h;
    if (r->codec == LKVIDEO_H264)
        return !f->sps || (lkh264_au_size(r->frame, len, &w, &h) && size_allowed(w, h));
    return !f->key || (lkvp8_keyframe_size(r->frame, len, &w, &h) && size_allowed(w, h));
}

/* The codec's decoder on the assembled frame: 1 with a picture, 0 decoded
 * with none to show, negative refused. */
static int decode_frame(lkvideo_receiver *r, size_t len, lkvp8_image *out)
{
    if (r->codec == LKVIDEO_H264) {
        int rc = lkh264_decoder_decode(r->h264, r->frame, len, out);
        return rc < 0 ? -1 : rc;
    }
    if (vpx_codec_decode(&r->dec, r->frame, (unsigned)len, NULL, 0) != VPX_CODEC_OK)
        return -1;
    vpx_codec_iter_t it = NULL;
    vpx_image_t *img = vpx_codec_get_frame(&r->dec, &it);
    if (!img || img->fmt != VPX_IMG_FMT_I420)
        return 0;
    *out = (lkvp8_image){.width = img->d_w, .height = img->d_h,
                         .y = img->planes[VPX_PLANE_Y], .u = img->planes[VPX_PLANE_U],
                         .v = img->planes[VPX_PLANE_V],
                         .stride_y = (unsigned)img->stride[VPX_PLANE_Y],
                         .stride_u = (unsigned)img->stride[VPX_PLANE_U],
                         .stride_v = (unsigned)img->stride[VPX_PLANE_V]};
    return 1;
}

/* Decodes a whole frame: true with a picture to show. */
static bool decode(lkvideo_receiver *r, const frame_info *f, lkvp8_image *out)
{
    size_t len;
    bool whole = assemble(r, f, &len);
    r->next = f->last + 1;
    r->anchored = true;
    r->moved_at = r->last_arrival;
    int rc = whole && size_ok(r, f, len) ? decode_frame(r, len, out) : -1;
    if (rc < 0) {
        r->errors++;
        r->need_key = true;
        r->pli_pending = true;
        consume_padding(r);
        return false;
    }
    r->decoded++;
    r->have_last_pid = f->has_pid;
    r->last_pid = f->pid;
    consume_padding(r); /* after the picture id: packets naming it are of no frame */
    if (f->key) {
        r->keys++;
        r->need_key = false;
        r->pli_pending = false;
    }
    if (rc == 0)
        return false; /* decoded, not for showing */
    r->width = out->width;
    r->height = out->height;
    return true;
}

int lkvideo_receiver_pop(lkvideo_receiver *r, lkvp8_image *out, uint32_t *rtp_ts)
{
    if (!r || !out)
        return 0;
    while (r->synced) {
        frame_info f;
        enum frame_state st = frame_at(r, r->next, &f);
        if (st == FR_COMPLETE && (f.key || !r->need_key)) {
            if (decode(r, &f, out)) {
                if (rtp_ts)
                    *rtp_ts = f.ts;
                return 1;
            }
            continue;
        }
        if (st == FR_COMPLETE) {
            /* whole, but its reference is gone */
            skip_to(r, f.last + 1);
            want_pli(r);
            consume_padding(r);
            continue;
        }
        int64_t q;
        if (!r->need_key && find_following(r, &q)) {
            r->next = q; /* nothing skipped: the gap held no frame */
            r->moved_at = r->last_arrival;
            continue;
        }
        int64_t key;
        if (find_key(r, &key)) {
            skip_to(r, key); /* sooner than waiting on repairs */
            continue;
        }
        /* Broken at the start may yet mend: an earlier packet moves next
         * back (and a non-key start asks for a keyframe, in put). Broken
         * after a decoded frame, by a packet given up, it may mend too:
         * the server can still be fetching it from a sender behind a
         * lossy link, and forwards it when it comes. Nothing was skipped,
         * so the decoder's reference holds: a keyframe is asked for, yet
         * the frame decodes if its packet comes first. */
        if (st == FR_BROKEN && r->anchored)
            want_pli(r);
        return 0;
    }
    return 0;
}

/* --- feedback ---------------------------------------------------------------------- */

size_t lkvideo_receiver_feedback(lkvideo_receiver *r, uint64_t now_ns, uint16_t *nack, size_t cap,
                               bool *pli)
{
    if (pli)
        *pli = false;
    if (!r)
        return 0;
    size_t n = 0;
    for (int64_t q = r->next; r->synced && q <= r->highest; q++) {
        slot *s = at(r, q);
        if (s->state != SL_MISSING || s->nack_at > now_ns)
            continue;
        if (give_up(s, now_ns)) {
            /* the last NACK had its round trip: given up, so a keyframe is
             * asked for (the packet may still come: see pop) */
            s->state = SL_LOST;
            want_pli(r); /* frames before it may still decode: pop says when */
            continue;
        }
        if (s->tries >= MAX_TRIES) {
            s->nack_at = s->missing_since + GIVE_UP_MS * MS_NS; /* NACKs spent: wait */
            continue;
        }
        if (n >= cap || !nack)
            continue;
        nack[n++] = (uint16_t)q;
        s->tries++;
        s->nack_at = now_ns + retry_ns(r);
        r->nacks++;
    }
    if (stalled(r, now_ns))
        r->pli_pending = true; /* not given up, yet held: see stalled */
    if (r->pli_pending && pli &&
        (!r->pli_ever || now_ns - r->last_pli >= PLI_GAP_MS * MS_NS)) {
        *pli = true;
        r->pli_pending = false;
        r->pli_ever = true;
        r->last_pli = now_ns;
        r->plis++;
    }
    return n;
}

void lkvideo_receiver_set_rtt(lkvideo_receiver *r, uint32_t rtt_ms)
{
    if (r)
        r->rtt_ms = rtt_ms;
}

uint64_t lkvideo_receiver_next_deadline(const lkvideo_receiver *r)
{
    uint64_t t = UINT64_MAX;
    if (!r)
        return t;
    for (int64_t q = r->next; r->synced && q <= r->highest; q++) {
        const slot *s = cat(r, q);
        if (s->state == SL_MISSING && s->nack_at < t)
            t = s->nack_at;
    }
    if (r->pli_pending || held(r)) {
        uint64_t p = r->pli_ever ? r->last_pli + PLI_GAP_MS * MS_NS : 0;
        if (!r->pli_pending && p < r->moved_at + STALL_MS * MS_NS)
            p = r->moved_at + STALL_MS * MS_NS; /* when it would be stalled */
        if (p < t)
            t = p;
    }
    return t;
}

/* --- the rest ---------------------------------------------------------------------- */

lkvideo_receiver *lkvideo_receiver_new(lkvideo_codec codec, char *err, size_t errlen)
{
    if (codec != LKVIDEO_VP8 && codec != LKVIDEO_H264) {
        say(err, errlen, "unknown video codec", NULL);
        return NULL;
    }
    lkvideo_receiver *r = calloc(1, sizeof *r);
    if (!r)
        abort(); /* the library's policy: out of memory aborts */
    r->codec = codec;
    r->need_key = true;
    if (codec == LKVIDEO_H264) {
        if (!(r->h264 = lkh264_decoder_new(err, errlen))) {
            free(r);
            return NULL;
        }
        return r;
    }
    vpx_codec_dec_cfg_t cfg = {.threads = 1};
    vpx_codec_err_t rc = vpx_codec_dec_init(&r->dec, vpx_codec_vp8_dx(), &cfg, 0);
    if (rc != VPX_CODEC_OK) {
        say(err, errlen, "vpx_codec_dec_init", vpx_codec_err_to_string(rc));
        free(r);
        return NULL;
    }
    return r;
}

void lkvideo_receiver_free(lkvideo_receiver *r)
{
    if (!r)
        return;
    if (r->codec == LKVIDEO_H264)
        lkh264_decoder_free(r->h264);
    else
        vpx_codec_destroy(&r->dec);
    free(r);
}

void lkvideo_receiver_get_stats(const lkvideo_receiver *r, lkvideo_receiver_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!r)
        return;
    if (r->have_source && r->rtp.started) {
        st->ssrc = r->ssrc;
        st->packets_received = r->rtp.received;
        st->packets_lost = (int32_t)lkrtp_recv_lost(&r->rtp);
        st->highest_seq = lkrtp_recv_highest(&r->rtp);
        st->jitter = r->rtp.jitter >> 4;
    }
    st->padding_packets = r->padding;
    st->frames_decoded = r->decoded;
    st->keyframes_decoded = r->keys;
    st->frames_skipped = r->skipped;
    st->decode_errors = r->errors;
    st->nacks_sent = r->nacks;
    st->plis_sent = r->plis;
    st->width = r->width;
    st->height = r->height;
}

void lkvideo_receiver_report(lkvideo_receiver *r, lkrtcp_report *rb)
{
    if (!rb)
        return;
    memset(rb, 0, sizeof *rb);
    if (r && r->have_source)
        lkrtp_recv_report(&r->rtp, rb);
}
