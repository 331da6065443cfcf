/* libFuzzer harness for the H.264 RTP payload: what a subscriber receives
 * from any publisher (through livekit-server, which does not look inside).
 *
 * The input is a payload: parse and depacketize agree on its length and
 * info, the bytes written are what its type says (a start code and the
 * payload, the units of a STAP-A, an FU-A's data after the rebuilt
 * header), and into a buffer one byte short, or a tiny one, it is refused
 * with nothing written. The input is then an SPS (its first byte made type
 * 7): any size read is within what any level allows, and reading a prefix
 * never gives another size than the whole. The input and the payload's
 * Annex B output are access units: every unit next_nal finds lies inside,
 * and au_size is the largest of their SPSs' sizes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h264.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_INPUT = 1 << 18, MAX_SIDE = 16880 };

static uint8_t out[2 * MAX_INPUT];

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool same_info(const lkh264_info *a, const lkh264_info *b)
{
    return a->type == b->type && a->begins == b->begins && a->ends == b->ends &&
           a->count == b->count && a->nal_types == b->nal_types;
}

/* The bytes written, against the payload they came from. */
static void check_output(const uint8_t *p, size_t n, const uint8_t *o, size_t len,
                         const lkh264_info *info)
{
    static const uint8_t sc[LKH264_START_CODE] = {0, 0, 0, 1};
    uint8_t t = p[0] & 0x1f;
    check(info->type == t);
    /* only NAL unit types begin, and only when a unit begins */
    check((info->nal_types & ~0xfffffeu) == 0);
    check((info->nal_types != 0) == info->begins && (info->count != 0) == info->begins);
    if (t == LKH264_FU_A) {
        check(!(info->begins && info->ends) && info->count <= 1);
        size_t head = info->begins ? LKH264_START_CODE + 1 : 0;
        check(len == head + n - 2 && memcmp(o + head, p + 2, n - 2) == 0);
        if (info->begins)
            check(memcmp(o, sc, sizeof sc) == 0 &&
                  o[LKH264_START_CODE] == ((p[0] & 0xe0) | (p[1] & 0x1f)) &&
                  info->nal_types == 1u << (p[1] & 0x1f));
        return;
    }
    check(info->begins && info->ends);
    if (t != LKH264_STAP_A) {
        check(info->count == 1 && len == n + LKH264_START_CODE);
        check(memcmp(o, sc, sizeof sc) == 0 && memcmp(o + LKH264_START_CODE, p, n) == 0);
        return;
    }
    /* a STAP-A: each unit's size and bytes, in turn, filling the payload */
    size_t pos = 1, at = 0;
    unsigned units = 0;
    uint32_t types = 0;
    while (pos < n) {
        size_t s = (size_t)p[pos] << 8 | p[pos + 1];
        pos += 2;
        check(s >= 1 && s <= n - pos && at + LKH264_START_CODE + s <= len);
        check(memcmp(o + at, sc, sizeof sc) == 0 &&
              memcmp(o + at + LKH264_START_CODE, p + pos, s) == 0);
        types |= 1u << (p[pos] & 0x1f);
        at += LKH264_START_CODE + s;
        pos += s;
        units++;
    }
    check(pos == n && at == len && units == info->count && types == info->nal_types);
}

/* Into a heap block of exactly cap bytes, so ASan sees a write past it. */
static void too_small(const uint8_t *p, size_t n, size_t cap)
{
    uint8_t *b = malloc(cap ? cap : 1);
    check(b != NULL);
    memset(b, 0xa5, cap);
    lkh264_info info;
    check(lkh264_depacketize(p, n, b, cap, &info) == LKH264_E_NOSPACE);
    for (size_t i = 0; i < cap; i++)
        check(b[i] == 0xa5);
    check(info.nal_types == 0 && !info.begins);
    free(b);
}

static void payload(const uint8_t *p, size_t n)
{
    lkh264_info a, b;
    int parsed = lkh264_parse(p, n, &a);
    int len = lkh264_depacketize(p, n, out, sizeof out, &b);
    check(parsed == len && same_info(&a, &b));
    if (len < 0) {
        check(len >= LKH264_E_EMPTY && len != LKH264_E_NOSPACE && len != LKH264_E_INVALID);
        check(a.nal_types == 0 && a.count == 0);
        return;
    }
    check(len > 0 && (size_t)len <= 2 * n + LKH264_START_CODE);
    check_output(p, n, out, (size_t)len, &b);
    too_small(p, n, (size_t)len - 1);
    too_small(p, n, p[0] % 4 < (size_t)len ? p[0] % 4 : 0);
}

static bool sps_size(const uint8_t *nal, size_t n, unsigned *w, unsigned *h)
{
    if (!lkh264_sps_size(nal, n, w, h))
        return false;
    check(*w >= 1 && *w <= MAX_SIDE && *h >= 1 && *h <= MAX_SIDE);
    return true;
}

/* The input as an SPS, in a block of its own length. */
static void sps(const uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    uint8_t *nal = malloc(n);
    check(nal != NULL);
    memcpy(nal, p, n);
    nal[0] = (uint8_t)((nal[0] & 0xe0) | LKH264_NAL_SPS);
    unsigned w, h, pw, ph;
    bool whole = sps_size(nal, n, &w, &h);
    /* reading stops at the last size field: a prefix that has them all
     * says what the whole says */
    if (sps_size(nal, n - 1, &pw, &ph))
        check(whole && pw == w && ph == h);
    free(nal);
}

/* next_nal's units of an access unit, and au_size against them. */
static void access_unit(const uint8_t *au, size_t len)
{
    size_t pos = 0, prev = 0, n;
    const uint8_t *nal;
    unsigned max_w = 0, max_h = 0;
    bool found = false, refused = false;
    while (lkh264_next_nal(au, len, &pos, &nal, &n)) {
        check(pos > prev && pos <= len);
        prev = pos;
        check(nal >= au + 3 && n >= 1 && (size_t)(nal - au) + n <= pos && nal[n - 1] != 0);
        check(nal[-1] == 1 && nal[-2] == 0 && nal[-3] == 0);
        if ((nal[0] & 0x1f) != LKH264_NAL_SPS)
            continue;
        unsigned w, h;
        if (!sps_size(nal, n, &w, &h)) {
            refused = true;
            continue;
        }
        found = true;
        max_w = w > max_w ? w : max_w;
        max_h = h > max_h ? h : max_h;
    }
    unsigned w = 0, h = 0;
    bool ok = lkh264_au_size(au, len, &w, &h);
    check(ok == (found && !refused));
    if (ok)
        check(w == max_w && h == max_h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    payload(data, size);
    sps(data, size);
    access_unit(data, size);
    lkh264_info info;
    int len = lkh264_depacketize(data, size, out, sizeof out, &info);
    if (len > 0)
        access_unit(out, (size_t)len);
    return 0;
}
