/* libFuzzer harness for the VP8 RTP payload: what a subscriber receives
 * from any publisher (through livekit-server, which checks little more).
 *
 * The input is a payload: its descriptor parsed, written again and parsed
 * back equal; the keyframe size read from the data after it (and from the
 * whole input, as if there were no descriptor). Then the input is a frame:
 * cut by the packetizer at a small max_payload its first byte picks, every
 * packet's descriptor is read back with S on the first only, and the parts
 * joined are the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vp8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t joined[1 << 20];

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool same(const lkvp8_descriptor *a, const lkvp8_descriptor *b)
{
    return a->non_reference == b->non_reference && a->start == b->start &&
           a->partition == b->partition && a->has_picture_id == b->has_picture_id &&
           a->long_picture_id == b->long_picture_id && a->picture_id == b->picture_id &&
           a->has_tl0picidx == b->has_tl0picidx && a->tl0picidx == b->tl0picidx &&
           a->has_tid == b->has_tid && a->tid == b->tid && a->layer_sync == b->layer_sync &&
           a->has_keyidx == b->has_keyidx && a->keyidx == b->keyidx;
}

static void keyframe(const lkvp8_descriptor *d, const uint8_t *p, size_t n)
{
    static const lkvp8_descriptor first = {.start = true};
    unsigned w, h;
    /* a size is only read from what is a keyframe at a frame's start */
    if (lkvp8_keyframe_size(p, n, &w, &h))
        check(w <= 0x3fff && h <= 0x3fff && lkvp8_is_keyframe(&first, p, n));
    (void)lkvp8_is_keyframe(d, p, n);
}

static void descriptor(const uint8_t *p, size_t n)
{
    lkvp8_descriptor a, b;
    int len = lkvp8_parse_descriptor(&a, p, n);
    if (len < 0)
        return;
    check(len >= 1 && len <= LKVP8_MAX_DESCRIPTOR && (size_t)len < n);
    uint8_t buf[LKVP8_MAX_DESCRIPTOR + 1];
    int w = lkvp8_write_descriptor(buf, LKVP8_MAX_DESCRIPTOR, &a);
    /* the same fields in the same form, as long but for an X whose byte
     * announces nothing (allowed, and not written again) */
    bool empty_x = (p[0] & 0x80) && (p[1] & 0xf0) == 0;
    check(empty_x ? len == 2 && w == 1 : w == len);
    buf[w] = 0;
    check(lkvp8_parse_descriptor(&b, buf, (size_t)w + 1) == w);
    check(same(&a, &b));
    keyframe(&a, p + len, n - (size_t)len);
}

static void packetize(const uint8_t *p, size_t n)
{
    if (n < 1 || n > sizeof joined)
        return;
    lkvp8_descriptor d = {0};
    /* the first byte is read as the descriptor's fields too, and picks
     * the room for data: 1 to 32 bytes after a descriptor of up to 6 */
    if (lkvp8_parse_descriptor(&d, p, n) < 0)
        d = (lkvp8_descriptor){.has_picture_id = true, .picture_id = p[0]};
    size_t max_payload = LKVP8_MAX_DESCRIPTOR + 1 + (p[0] & 31);
    lkvp8_packetizer pz;
    int count = lkvp8_packetizer_init(&pz, &d, p, n, max_payload);
    check(count >= 1);
    uint8_t pkt[64];
    size_t at = 0, first = 0, prev = 0;
    bool last = false;
    for (int i = 0; i < count; i++) {
        int len = lkvp8_packetizer_next(&pz, pkt, sizeof pkt, &last);
        check(len > 0 && (size_t)len <= max_payload && last == (i == count - 1));
        lkvp8_descriptor got;
        int dl = lkvp8_parse_descriptor(&got, pkt, (size_t)len);
        check(dl > 0 && got.start == (i == 0) && got.partition == 0);
        got.start = d.start;
        got.partition = d.partition;
        /* an id over 127 goes long whatever d asked */
        bool long_id = d.has_picture_id && (d.long_picture_id || d.picture_id > 127);
        check(got.long_picture_id == long_id);
        got.long_picture_id = d.long_picture_id;
        check(same(&got, &d));
        size_t part = (size_t)len - (size_t)dl;
        if (i == 0)
            first = prev = part;
        /* near-equal, the larger first */
        check(part <= prev && first - part <= 1);
        prev = part;
        memcpy(joined + at, pkt + dl, part);
        at += part;
    }
    check(lkvp8_packetizer_next(&pz, pkt, sizeof pkt, &last) == 0);
    check(at == n && memcmp(joined, p, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    descriptor(data, size);
    keyframe(&(lkvp8_descriptor){.start = true}, data, size);
    packetize(data, size);
    return 0;
}
