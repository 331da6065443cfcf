/*
 * h264.c: the H.264 RTP payload of RFC 6184 (5.6 single NAL unit
 * packets, 5.7.1 STAP-A, 5.8 FU-A) into Annex B, and the SPS fields that
 * give the picture size (H.264 7.3.2.1.1).
 *
 * A payload is read whole before anything is written, so a refused or
 * too large one leaves the caller's buffer as it was. The SPS is read
 * through its emulation prevention bytes in place, every bit checked
 * against the end of the unit.
 */
#include "h264.h"

#include <limits.h>
#include <string.h>

enum {
    NAL_F_NRI = 0xe0, /* forbidden bit and nal_ref_idc: what an FU indicator shares */
    NAL_TYPE = 0x1f,
    FU_S = 0x80,
    FU_E = 0x40,
    STAP_SIZE = 2, /* the 16-bit size before each aggregated unit */
    FU_HEADERS = 2, /* FU indicator, FU header */
};

static const uint8_t start_code[LKH264_START_CODE] = {0, 0, 0, 1};

/* --- payloads ---------------------------------------------------------------------------- */

/* Inside a STAP-A or FU-A only NAL unit types go: the aggregation and
 * fragmentation types (and 0, unspecified) would make no sense to a decoder. */
static bool nal_type_ok(uint8_t t)
{
    return t >= 1 && t <= 23;
}

static int parse_stap_a(const uint8_t *p, size_t n, lkh264_info *info)
{
    size_t pos = 1, out = 0;
    if (pos >= n)
        return LKH264_E_TRUNCATED;
    while (pos < n) {
        if (n - pos < STAP_SIZE)
            return LKH264_E_MALFORMED;
        size_t size = (size_t)p[pos] << 8 | p[pos + 1];
        pos += STAP_SIZE;
        if (size == 0 || size > n - pos || !nal_type_ok(p[pos] & NAL_TYPE))
            return LKH264_E_MALFORMED;
        info->nal_types |= 1u << (p[pos] & NAL_TYPE);
        info->count++;
        out += LKH264_START_CODE + size;
        pos += size;
    }
    info->begins = info->ends = true;
    return (int)out;
}

static int parse_fu_a(const uint8_t *p, size_t n, lkh264_info *info)
{
    if (n <= FU_HEADERS)
        return LKH264_E_TRUNCATED;
    uint8_t fu = p[1];
    /* RFC 6184 5.8: a whole NAL unit is never sent as one fragment */
    if ((fu & FU_S) && (fu & FU_E))
        return LKH264_E_MALFORMED;
    if (!nal_type_ok(fu & NAL_TYPE))
        return LKH264_E_MALFORMED;
    info->begins = (fu & FU_S) != 0;
    info->ends = (fu & FU_E) != 0;
    size_t data = n - FU_HEADERS;
    if (!info->begins)
        return (int)data;
    info->count = 1;
    info->nal_types = 1u << (fu & NAL_TYPE);
    /* the start code and the NAL header the fragments were cut from */
    return (int)(LKH264_START_CODE + 1 + data);
}

int lkh264_parse(const uint8_t *p, size_t n, lkh264_info *info)
{
    lkh264_info scratch;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof *info);
    if (!p && n)
        return LKH264_E_INVALID;
    /* a STAP-A of 1-byte units writes 5 bytes for every 3 read: the
     * length returned stays an int */
    if (n > INT_MAX / 2)
        return LKH264_E_INVALID;
    if (n == 0)
        return LKH264_E_EMPTY;
    uint8_t t = p[0] & NAL_TYPE;
    int r;
    if (nal_type_ok(t)) {
        info->begins = info->ends = true;
        info->count = 1;
        info->nal_types = 1u << t;
        r = (int)(LKH264_START_CODE + n);
    } else if (t == LKH264_STAP_A) {
        r = parse_stap_a(p, n, info);
    } else if (t == LKH264_FU_A) {
        r = parse_fu_a(p, n, info);
    } else {
        /* STAP-B, MTAP16, MTAP24, FU-B need interleaved mode; 0, 30, 31 are
         * not defined for RTP */
        r = LKH264_E_UNSUPPORTED;
    }
    if (r < 0) {
        memset(info, 0, sizeof *info);
        return r;
    }
    info->type = t;
    return r;
}

int lkh264_depacketize(const uint8_t *p, size_t n, uint8_t *out, size_t cap, lkh264_info *info)
{
    lkh264_info scratch;
    if (!info)
        info = &scratch;
    int len = lkh264_parse(p, n, info);
    if (len < 0)
        return len;
    if (!out || cap < (size_t)len) {
        memset(info, 0, sizeof *info);
        return LKH264_E_NOSPACE;
    }
    size_t at = 0;
    if (info->type == LKH264_STAP_A) {
        /* parse checked every size against the payload */
        for (size_t pos = 1; pos < n;) {
            size_t size = (size_t)p[pos] << 8 | p[pos + 1];
            pos += STAP_SIZE;
            memcpy(out + at, start_code, LKH264_START_CODE);
            memcpy(out + at + LKH264_START_CODE, p + pos, size);
            at += LKH264_START_CODE + size;
            pos += size;
        }
    } else if (info->type == LKH264_FU_A) {
        if (info->begins) {
            memcpy(out, start_code, LKH264_START_CODE);
            out[LKH264_START_CODE] = (uint8_t)((p[0] & NAL_F_NRI) | (p[1] & NAL_TYPE));
            at = LKH264_START_CODE + 1;
        }
        memcpy(out + at, p + FU_HEADERS, n - FU_HEADERS);
    } else {
        memcpy(out, start_code, LKH264_START_CODE);
        memcpy(out + LKH264_START_CODE, p, n);
    }
    return len;
}

/* --- SPS --------------------------------------------------------------------------------- */

/* A bit reader over a NAL unit's payload that drops each emulation
 * prevention byte (the 03 of 00 00 03) as it loads bytes. Once a read runs
 * past the end, bad stays set and every read gives 0. */
typedef struct rbsp {
    const uint8_t *p;
    size_t n, pos; /* pos: the next byte to load */
    unsigned zeros; /* zero bytes loaded in a row */
    uint8_t cur;
    unsigned left; /* bits of cur not read yet */
    bool bad;
} rbsp;

static bool load(rbsp *r)
{
    if (r->pos >= r->n)
        return false;
    uint8_t b = r->p[r->pos++];
    if (r->zeros >= 2 && b == 3) {
        r->zeros = 0;
        if (r->pos >= r->n)
            return false;
        b = r->p[r->pos++];
    }
    r->zeros = b == 0 ? r->zeros + 1 : 0;
    r->cur = b;
    r->left = 8;
    return true;
}

static unsigned bit(rbsp *r)
{
    if (r->bad)
        return 0;
    if (r->left == 0 && !load(r)) {
        r->bad = true;
        return 0;
    }
    return (r->cur >> --r->left) & 1;
}

/* k <= 32 bits, most significant first */
static uint32_t bits(rbsp *r, unsigned k)
{
    uint32_t v = 0;
    while (k--)
        v = v << 1 | bit(r);
    return v;
}

/* ue(v), 9.1: up to 31 leading zeros (values to 2^32 - 2); more is
 * nothing an SPS holds. */
static uint32_t ue(rbsp *r)
{
    unsigned zeros = 0;
    while (!r->bad && bit(r) == 0) {
        if (++zeros > 31) {
            r->bad = true;
            return 0;
        }
    }
    if (r->bad)
        return 0;
    return (uint32_t)((1ull << zeros) - 1 + bits(r, zeros));
}

/* se(v), 9.1.1: 1, -1, 2, -2, ... from ue 1, 2, 3, 4, ... */
static int64_t se(rbsp *r)
{
    uint32_t k = ue(r);
    return k & 1 ? (int64_t)(k / 2) + 1 : -(int64_t)(k / 2);
}

/* An ue no larger than max: the range each SPS field has in 7.4.2.1.1. */
static uint32_t ue_max(rbsp *r, uint32_t max)
{
    uint32_t v = ue(r);
    if (v > max)
        r->bad = true;
    return v;
}

/* scaling_list(), 7.3.2.1.1.1: only read past, its values do not matter
 * here. A next scale of 0 ends the list early. */
static void skip_scaling_list(rbsp *r, unsigned size)
{
    int last = 8, next = 8;
    for (unsigned j = 0; j < size && !r->bad; j++) {
        if (next != 0) {
            int64_t delta = se(r);
            if (delta < -128 || delta > 127) {
                r->bad = true;
                return;
            }
            next = (last + (int)delta + 256) % 256;
        }
        last = next == 0 ? last : next;
    }
}

/* The profiles whose SPS carries chroma_format_idc, bit depths and
 * scaling matrices (the list of 7.3.2.1.1). */
static bool high_profile(uint8_t profile)
{
    static const uint8_t high[] = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135};
    return memchr(high, profile, sizeof high) != NULL;
}

/* The fields of the high profiles: chroma_format_idc (0..3) is the one
 * kept. separate_colour_plane_flag only matters to crop units as the
 * absence of a chroma array, and 4:4:4 crops in units of 1 all the same. */
static uint32_t read_chroma(rbsp *r)
{
    uint32_t chroma_format_idc = ue_max(r, 3);
    if (chroma_format_idc == 3)
        bit(r); /* separate_colour_plane_flag */
    ue_max(r, 6); /* bit_depth_luma_minus8 */
    ue_max(r, 6); /* bit_depth_chroma_minus8 */
    bit(r);       /* qpprime_y_zero_transform_bypass_flag */
    if (bit(r)) { /* seq_scaling_matrix_present_flag */
        unsigned lists = chroma_format_idc != 3 ? 8 : 12;
        for (unsigned i = 0; i < lists && !r->bad; i++)
            if (bit(r)) /* seq_scaling_list_present_flag */
                skip_scaling_list(r, i < 6 ? 16 : 64);
    }
    return chroma_format_idc;
}

static void read_pic_order_cnt(rbsp *r)
{
    uint32_t type = ue_max(r, 2);
    if (type == 0) {
        ue_max(r, 12); /* log2_max_pic_order_cnt_lsb_minus4 */
    } else if (type == 1) {
        bit(r); /* delta_pic_order_always_zero_flag */
        se(r);  /* offset_for_non_ref_pic */
        se(r);  /* offset_for_top_to_bottom_field */
        uint32_t cycle = ue_max(r, 255);
        for (uint32_t i = 0; i < cycle && !r->bad; i++)
            se(r); /* offset_for_ref_frame */
    }
}

/* No level lets either side pass Sqrt(MaxFS * 8) macroblocks (A.3.1),
 * MaxFS being at most 139264 (level 6.2). */
enum { MAX_SIDE_MBS = 1055 };

bool lkh264_sps_size(const uint8_t *nal, size_t n, unsigned *width, unsigned *height)
{
    if (!nal || n < 1 || (nal[0] & NAL_TYPE) != LKH264_NAL_SPS)
        return false;
    rbsp r = {.p = nal, .n = n, .pos = 1};
    uint8_t profile = (uint8_t)bits(&r, 8);
    bits(&r, 16); /* constraint_set flags, level_idc */
    ue_max(&r, 31); /* seq_parameter_set_id */
    /* 4:2:0 unless a high profile says */
    uint32_t chroma = high_profile(profile) ? read_chroma(&r) : 1;
    ue_max(&r, 12); /* log2_max_frame_num_minus4 */
    read_pic_order_cnt(&r);
    ue_max(&r, 16); /* max_num_ref_frames: MaxDpbFrames is at most 16 */
    bit(&r);        /* gaps_in_frame_num_value_allowed_flag */
    uint64_t width_mbs = (uint64_t)ue(&r) + 1;
    uint64_t map_units = (uint64_t)ue(&r) + 1;
    bool frame_mbs_only = bit(&r);
    if (!frame_mbs_only)
        bit(&r); /* mb_adaptive_frame_field_flag */
    bit(&r);     /* direct_8x8_inference_flag */
    uint64_t crop[4] = {0}; /* left, right, top, bottom */
    if (bit(&r))
        for (int i = 0; i < 4; i++)
            crop[i] = ue(&r);
    if (r.bad)
        return false;

    /* a field (interlaced) picture's map units are pairs of macroblock rows */
    uint64_t height_mbs = map_units * (frame_mbs_only ? 1 : 2);
    if (width_mbs > MAX_SIDE_MBS || height_mbs > MAX_SIDE_MBS)
        return false;
    /* crop units, 7.4.2.1.1: luma samples per chroma sample (SubWidthC,
     * SubHeightC: 2 and 2 in 4:2:0, 2 and 1 in 4:2:2, else 1), lines
     * doubled for fields */
    uint64_t unit_x = chroma == 1 || chroma == 2 ? 2 : 1;
    uint64_t unit_y = (chroma == 1 ? 2 : 1) * (frame_mbs_only ? 1 : 2);
    uint64_t w = width_mbs * 16, h = height_mbs * 16;
    /* offsets below 2^32, units at most 4: no overflow in uint64 */
    uint64_t crop_w = unit_x * (crop[0] + crop[1]), crop_h = unit_y * (crop[2] + crop[3]);
    /* the offsets leave at least one crop unit of picture */
    if (crop_w >= w || crop_h >= h)
        return false;
    if (width)
        *width = (unsigned)(w - crop_w);
    if (height)
        *height = (unsigned)(h - crop_h);
    return true;
}

/* --- Annex B ----------------------------------------------------------------------------- */

/* Where the next 00 00 01 starts at or after from, or len. */
static size_t find_start(const uint8_t *au, size_t len, size_t from)
{
    for (size_t i = from; len >= 3 && i <= len - 3; i++)
        if (au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1)
            return i;
    return len;
}

bool lkh264_next_nal(const uint8_t *au, size_t len, size_t *pos, const uint8_t **nal,
                     size_t *nal_len)
{
    if (!au || !pos || !nal || !nal_len)
        return false;
    while (*pos < len) {
        size_t sc = find_start(au, len, *pos);
        if (sc == len) {
            *pos = len;
            return false;
        }
        size_t begin = sc + 3;
        size_t end = find_start(au, len, begin);
        *pos = end;
        /* zero bytes before a start code are its leading zeros (B.1) */
        while (end > begin && au[end - 1] == 0)
            end--;
        if (end > begin) {
            *nal = au + begin;
            *nal_len = end - begin;
            return true;
        }
    }
    return false;
}

bool lkh264_au_size(const uint8_t *au, size_t len, unsigned *width, unsigned *height)
{
    size_t pos = 0, n;
    const uint8_t *nal;
    unsigned max_w = 0, max_h = 0;
    bool found = false;
    while (lkh264_next_nal(au, len, &pos, &nal, &n)) {
        if ((nal[0] & NAL_TYPE) != LKH264_NAL_SPS)
            continue;
        unsigned w, h;
        if (!lkh264_sps_size(nal, n, &w, &h))
            return false;
        found = true;
        max_w = w > max_w ? w : max_w;
        max_h = h > max_h ? h : max_h;
    }
    if (found && width)
        *width = max_w;
    if (found && height)
        *height = max_h;
    return found;
}
