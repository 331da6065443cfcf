/*
 * video_frame.h: VideoBufferInfo in and out, and VideoConvert.
 */
#ifndef LK_VIDEO_FRAME_H
#define LK_VIDEO_FRAME_H

#include "video_buffer.h"
#include "video_frame.pb-c.h"

/* Reads and checks a client's buffer description. Packed types use
 * data_ptr and stride (width × bytes per pixel when absent); planar types
 * use components, or, when there are none, a compact layout at data_ptr.
 * Unknown types read as RGBA, as upstream reads them. 0, or -1 after
 * lk_fail() naming `what`. */
int lk_vframe_from_info(const Livekit__Proto__VideoBufferInfo *info, const char *what,
                        lk_vframe *out);

/* Storage for describing an owned buffer to the client. */
typedef struct lk_owned_video_msg {
    Livekit__Proto__OwnedVideoBuffer owned;
    Livekit__Proto__FfiOwnedHandle handle;
    Livekit__Proto__VideoBufferInfo info;
    Livekit__Proto__VideoBufferInfo__ComponentInfo comp[4];
    Livekit__Proto__VideoBufferInfo__ComponentInfo *comp_ptrs[4];
} lk_owned_video_msg;

/* Gives the client a handle on b (taking over the caller's reference) and
 * describes it in m->owned as upstream does: packed types with stride and no
 * components, planar ones with a component per plane. */
void lk_video_buffer_give(lk_video_buffer *b, lk_owned_video_msg *m);

#endif
