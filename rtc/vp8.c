/*
 * vp8.c: the VP8 RTP payload descriptor (RFC 7741 4.2), the keyframe
 * header a receiver needs (RFC 6386 9.1), and the packetizer.
 *
 * Every optional byte is checked against what is left before it is read.
 * Fields a descriptor does not carry are left zero, so a parsed descriptor
 * written again and parsed again compares equal field by field.
 */
#include "vp8.h"

#include <limits.h>
#include <string.h>

/* Byte 0 of the descriptor. */
enum {
    B0_X = 0x80,
    B0_N = 0x20,
    B0_S = 0x10,
    B0_PID = 0x07,
};

/* The extension byte, present when X is set. */
enum {
    EXT_I = 0x80,
    EXT_L = 0x40,
    EXT_T = 0x20,
    EXT_K = 0x10,
};

/* The first picture id byte: M says a second byte follows. */
enum { PICID_M = 0x80 };

/* --- reading -------------------------------------------------------------------------- */

/* The picture id at p[*pos]: false if it runs past n. */
static bool parse_picture_id(lkvp8_descriptor *d, const uint8_t *p, size_t n, size_t *pos)
{
    if (*pos >= n)
        return false;
    uint8_t b = p[(*pos)++];
    d->has_picture_id = true;
    if (!(b & PICID_M)) {
        d->picture_id = b;
        return true;
    }
    if (*pos >= n)
        return false;
    d->long_picture_id = true;
    d->picture_id = (uint16_t)((b & 0x7f) << 8 | p[(*pos)++]);
    return true;
}

/* The TID/Y/KEYIDX byte: only the fields its flags announce are kept. */
static void parse_tk(lkvp8_descriptor *d, uint8_t ext, uint8_t b)
{
    if (ext & EXT_T) {
        d->has_tid = true;
        d->tid = (uint8_t)(b >> 6);
        d->layer_sync = (b & 0x20) != 0;
    }
    if (ext & EXT_K) {
        d->has_keyidx = true;
        d->keyidx = b & 0x1f;
    }
}

/* The optional bytes the extension byte announces, from p[*pos]. */
static int parse_extension(lkvp8_descriptor *d, const uint8_t *p, size_t n, size_t *pos)
{
    if (*pos >= n)
        return LKVP8_E_TRUNCATED;
    uint8_t ext = p[(*pos)++];
    /* livekit-server drops these: TL0PICIDX means nothing without a TID */
    if ((ext & EXT_L) && !(ext & EXT_T))
        return LKVP8_E_MALFORMED;
    if ((ext & EXT_I) && !parse_picture_id(d, p, n, pos))
        return LKVP8_E_TRUNCATED;
    if (ext & EXT_L) {
        if (*pos >= n)
            return LKVP8_E_TRUNCATED;
        d->has_tl0picidx = true;
        d->tl0picidx = p[(*pos)++];
    }
    if (ext & (EXT_T | EXT_K)) {
        if (*pos >= n)
            return LKVP8_E_TRUNCATED;
        parse_tk(d, ext, p[(*pos)++]);
    }
    return 0;
}

int lkvp8_parse_descriptor(lkvp8_descriptor *d, const uint8_t *p, size_t n)
{
    if (!d || (!p && n))
        return LKVP8_E_INVALID;
    memset(d, 0, sizeof *d);
    if (n < 1)
        return LKVP8_E_TRUNCATED;
    size_t pos = 1;
    d->non_reference = (p[0] & B0_N) != 0;
    d->start = (p[0] & B0_S) != 0;
    d->partition = p[0] & B0_PID;
    if (p[0] & B0_X) {
        int err = parse_extension(d, p, n, &pos);
        if (err < 0)
            return err;
    }
    /* a descriptor with no frame data after it is nothing to decode */
    if (pos >= n)
        return LKVP8_E_TRUNCATED;
    return (int)pos;
}

/* --- writing -------------------------------------------------------------------------- */

static bool wants_long_id(const lkvp8_descriptor *d)
{
    return d->long_picture_id || d->picture_id > 0x7f;
}

/* The fields present are in range, and L comes with T (we would not read
 * back what we wrote otherwise). */
static bool valid_fields(const lkvp8_descriptor *d)
{
    if (d->partition > B0_PID)
        return false;
    if (d->has_picture_id && d->picture_id > 0x7fff)
        return false;
    if (d->has_tl0picidx && !d->has_tid)
        return false;
    if (d->has_tid && d->tid > 3)
        return false;
    return !d->has_keyidx || d->keyidx <= 0x1f;
}

static bool has_extension(const lkvp8_descriptor *d)
{
    return d->has_picture_id || d->has_tl0picidx || d->has_tid || d->has_keyidx;
}

static size_t descriptor_len(const lkvp8_descriptor *d)
{
    if (!has_extension(d))
        return 1;
    size_t len = 2;
    if (d->has_picture_id)
        len += wants_long_id(d) ? 2 : 1;
    if (d->has_tl0picidx)
        len++;
    if (d->has_tid || d->has_keyidx)
        len++;
    return len;
}

static uint8_t ext_byte(const lkvp8_descriptor *d)
{
    return (uint8_t)((d->has_picture_id ? EXT_I : 0) | (d->has_tl0picidx ? EXT_L : 0) |
                     (d->has_tid ? EXT_T : 0) | (d->has_keyidx ? EXT_K : 0));
}

static uint8_t tk_byte(const lkvp8_descriptor *d)
{
    uint8_t b = 0;
    if (d->has_tid)
        b |= (uint8_t)(d->tid << 6 | (d->layer_sync ? 0x20 : 0));
    if (d->has_keyidx)
        b |= d->keyidx;
    return b;
}

/* The optional bytes after byte 0, in the order RFC 7741 4.2 lays out. */
static size_t write_extension(uint8_t *buf, const lkvp8_descriptor *d)
{
    size_t pos = 0;
    buf[pos++] = ext_byte(d);
    if (d->has_picture_id && wants_long_id(d)) {
        buf[pos++] = (uint8_t)(PICID_M | d->picture_id >> 8);
        buf[pos++] = (uint8_t)d->picture_id;
    } else if (d->has_picture_id) {
        buf[pos++] = (uint8_t)d->picture_id;
    }
    if (d->has_tl0picidx)
        buf[pos++] = d->tl0picidx;
    if (d->has_tid || d->has_keyidx)
        buf[pos++] = tk_byte(d);
    return pos;
}

int lkvp8_write_descriptor(uint8_t *buf, size_t cap, const lkvp8_descriptor *d)
{
    if (!d || !valid_fields(d))
        return LKVP8_E_INVALID;
    size_t len = descriptor_len(d);
    if (!buf || cap < len)
        return LKVP8_E_NOSPACE;
    bool x = has_extension(d);
    buf[0] = (uint8_t)((x ? B0_X : 0) | (d->non_reference ? B0_N : 0) | (d->start ? B0_S : 0) |
                       d->partition);
    if (x)
        write_extension(buf + 1, d);
    return (int)len;
}

/* --- keyframes ------------------------------------------------------------------------ */

/* Bit 0 of the frame tag is the inverse key frame flag: 0 marks a keyframe. */
static bool starts_keyframe(const uint8_t *data, size_t n)
{
    return data && n >= 1 && !(data[0] & 1);
}

bool lkvp8_is_keyframe(const lkvp8_descriptor *d, const uint8_t *data, size_t n)
{
    return d && d->start && d->partition == 0 && starts_keyframe(data, n);
}

/* 3-byte frame tag, 3-byte start code, then the two 16-bit LE size words
 * whose top two bits are the scaling mode, not the size. */
enum { KEYFRAME_HEADER = 10, SIZE_MASK = 0x3fff };

bool lkvp8_keyframe_size(const uint8_t *data, size_t n, unsigned *width, unsigned *height)
{
    static const uint8_t start_code[3] = {0x9d, 0x01, 0x2a};
    if (!starts_keyframe(data, n) || n < KEYFRAME_HEADER)
        return false;
    if (memcmp(data + 3, start_code, sizeof start_code) != 0)
        return false;
    if (width)
        *width = (unsigned)(data[6] | data[7] << 8) & SIZE_MASK;
    if (height)
        *height = (unsigned)(data[8] | data[9] << 8) & SIZE_MASK;
    return true;
}

/* --- packetizer ----------------------------------------------------------------------- */

int lkvp8_packetizer_init(lkvp8_packetizer *pz, const lkvp8_descriptor *d, const uint8_t *frame,
                          size_t len, size_t max_payload)
{
    if (!pz)
        return LKVP8_E_INVALID;
    memset(pz, 0, sizeof *pz); /* a failed init leaves next with nothing to send */
    if (!d || !frame || len == 0)
        return LKVP8_E_INVALID;
    pz->d = *d;
    pz->d.partition = 0; /* the frame is cut without regard to partitions */
    pz->d.start = true;
    /* next returns a packet's length as an int */
    if (max_payload > INT_MAX)
        max_payload = INT_MAX;
    uint8_t scratch[LKVP8_MAX_DESCRIPTOR];
    int dl = lkvp8_write_descriptor(scratch, sizeof scratch, &pz->d);
    if (dl < 0 || max_payload <= (size_t)dl)
        return LKVP8_E_INVALID;
    size_t room = max_payload - (size_t)dl;
    size_t count = len / room + (len % room != 0);
    if (count > INT_MAX)
        return LKVP8_E_INVALID;
    pz->frame = frame;
    pz->len = len;
    pz->count = (unsigned)count;
    pz->desc_len = dl;
    return (int)count;
}

/* Packet i's share of the frame: the remainder spread one byte each over
 * the first packets, so no part is more than one byte larger than another
 * and none exceeds the room init worked out. */
static size_t part_len(const lkvp8_packetizer *pz, unsigned i)
{
    size_t base = pz->len / pz->count;
    return base + (i < pz->len % pz->count ? 1 : 0);
}

int lkvp8_packetizer_next(lkvp8_packetizer *pz, uint8_t *out, size_t cap, bool *last)
{
    if (last)
        *last = false;
    if (pz->index >= pz->count)
        return 0;
    size_t part = part_len(pz, pz->index);
    size_t total = (size_t)pz->desc_len + part;
    if (!out || cap < total)
        return LKVP8_E_NOSPACE;
    pz->d.start = pz->index == 0;
    lkvp8_write_descriptor(out, cap, &pz->d);
    memcpy(out + pz->desc_len, pz->frame + pz->sent, part);
    pz->sent += part;
    pz->index++;
    if (last)
        *last = pz->index == pz->count;
    return (int)total;
}
