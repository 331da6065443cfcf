/* video_frame.c: VideoBufferInfo in and out, and VideoConvert. */
#include "video_frame.h"

#include <stdio.h>

#include "error.h"
#include "handlers.h"

static enum lk_vtype vtype_of(const Livekit__Proto__VideoBufferInfo *info)
{
    unsigned t = (unsigned)info->type;
    return t < LK_VTYPE_COUNT ? (enum lk_vtype)t : LK_RGBA;
}

int lk_vframe_from_info(const Livekit__Proto__VideoBufferInfo *info, const char *what,
                        lk_vframe *f)
{
    if (!info)
        return lk_fail("%s is missing", what);
    *f = (lk_vframe){.type = vtype_of(info), .width = info->width, .height = info->height};
    f->planes = lk_vtype_planes(f->type);
    if (f->width == 0 || f->height == 0 || f->width > LK_VIDEO_MAX_SIDE ||
        f->height > LK_VIDEO_MAX_SIDE)
        return lk_fail("%s: %ux%u is not a picture size (width and height must be 1..%d)", what,
                       f->width, f->height, LK_VIDEO_MAX_SIDE);

    if (lk_vtype_packed(f->type)) {
        uint32_t row, rows;
        lk_vtype_plane_shape(f->type, f->width, f->height, 0, &row, &rows);
        f->p[0].data = (uint8_t *)(uintptr_t)info->data_ptr;
        f->p[0].stride = info->has_stride && info->stride ? info->stride : row;
        uint64_t size = (uint64_t)f->p[0].stride * f->height;
        if (size > UINT32_MAX)
            return lk_fail("%s: stride %u × height %u overflows", what, f->p[0].stride, f->height);
        f->p[0].size = (uint32_t)size;
    } else if (info->n_components) {
        if ((int)info->n_components < f->planes)
            return lk_fail("%s: %s needs %d components, got %zu", what, lk_vtype_name(f->type),
                           f->planes, info->n_components);
        for (int k = 0; k < f->planes; k++) {
            const Livekit__Proto__VideoBufferInfo__ComponentInfo *c = info->components[k];
            f->p[k].data = (uint8_t *)(uintptr_t)c->data_ptr;
            f->p[k].stride = c->stride;
            f->p[k].size = c->size;
        }
    } else { /* no components: the compact layout at data_ptr */
        uint8_t *at = (uint8_t *)(uintptr_t)info->data_ptr;
        for (int k = 0; k < f->planes; k++) {
            uint32_t row, rows;
            lk_vtype_plane_shape(f->type, f->width, f->height, k, &row, &rows);
            f->p[k] = (lk_plane){at, row, row * rows};
            if (at)
                at += (size_t)row * rows;
        }
    }
    return lk_vframe_check(f);
}

void lk_video_buffer_give(lk_video_buffer *b, lk_owned_video_msg *m)
{
    livekit__proto__owned_video_buffer__init(&m->owned);
    livekit__proto__ffi_owned_handle__init(&m->handle);
    livekit__proto__video_buffer_info__init(&m->info);
    const lk_vframe *f = &b->f;
    m->info.has_type = m->info.has_width = m->info.has_height = m->info.has_data_ptr = true;
    m->info.type = (Livekit__Proto__VideoBufferType)f->type;
    m->info.width = f->width;
    m->info.height = f->height;
    m->info.data_ptr = (uint64_t)(uintptr_t)f->p[0].data;
    if (lk_vtype_packed(f->type)) {
        m->info.has_stride = true;
        m->info.stride = f->p[0].stride;
    } else {
        for (int k = 0; k < f->planes; k++) {
            livekit__proto__video_buffer_info__component_info__init(&m->comp[k]);
            m->comp[k].has_data_ptr = m->comp[k].has_stride = m->comp[k].has_size = true;
            m->comp[k].data_ptr = (uint64_t)(uintptr_t)f->p[k].data;
            m->comp[k].stride = f->p[k].stride;
            m->comp[k].size = f->p[k].size;
            m->comp_ptrs[k] = &m->comp[k];
        }
        m->info.n_components = (size_t)f->planes;
        m->info.components = m->comp_ptrs;
    }
    m->handle.id = lk_handle_insert(&b->base);
    m->owned.handle = &m->handle;
    m->owned.info = &m->info;
}

int lk_on_video_convert(lk_call *c)
{
    const Livekit__Proto__VideoConvertRequest *req = c->req->video_convert;
    Livekit__Proto__VideoConvertResponse *res =
        lk_call_new(c, &livekit__proto__video_convert_response__descriptor);
    c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_VIDEO_CONVERT;
    c->res->video_convert = res;

    lk_vframe src;
    unsigned dst = (unsigned)req->dst_type;
    lk_video_buffer *out = NULL;
    if (lk_vframe_from_info(req->buffer, "buffer", &src) == 0) {
        out = lk_video_buffer_new(dst < LK_VTYPE_COUNT ? (enum lk_vtype)dst : LK_RGBA, src.width,
                                  src.height);
        if (lk_vframe_convert(&src, &out->f, req->has_flip_y && req->flip_y) < 0) {
            lk_unref(&out->base);
            out = NULL;
        }
    }
    if (!out) { /* a bad buffer is the response's error, as upstream reports it */
        res->message_case = LIVEKIT__PROTO__VIDEO_CONVERT_RESPONSE__MESSAGE_ERROR;
        res->error = lk_call_take_error(c);
        return 0;
    }
    lk_owned_video_msg *m = lk_arena_alloc(c->arena, sizeof *m);
    lk_video_buffer_give(out, m);
    res->message_case = LIVEKIT__PROTO__VIDEO_CONVERT_RESPONSE__MESSAGE_BUFFER;
    res->buffer = &m->owned;
    return 0;
}
