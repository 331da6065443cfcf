/* libFuzzer harness for the video receiver with H.264: fuzz_vp8_receiver.c's
 * records (see there), the payloads read as H.264 (RFC 6184) and decoded by
 * libavcodec; seeds in seeds/h264_receiver/, a real 64x48 keyframe (SPS and
 * PPS in a STAP-A, the IDR in FU-As) and the frame after it. */
#define FUZZ_CODEC LKVIDEO_H264
#include "fuzz_vp8_receiver.c"
