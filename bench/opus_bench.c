/*
 * opus_bench: what publishing a microphone costs in CPU, per 20 ms frame:
 * two 10 ms pushes into media/'s Opus sender and the RTP packet out, mono
 * 48 kHz, DTX and FEC on as livekit-server asks. The input is a tone with
 * noise under it: never silent, so DTX never skips the encoder, and
 * noisy enough that Opus codes it as it would speech rather than a pure
 * tone. And what hearing one costs, per 10 ms pull: those packets into
 * media/'s Opus receiver, one every other pull as they would arrive on a
 * clean path, each pull decoding when it needs to (a 20 ms packet per
 * two pulls); measured per pair of pulls with its put, halved. CPU time
 * of this thread, so that a shared machine's other work does not count;
 * the median of every frame. JSON, as bench/ffi_bench.
 *
 * Usage: opus_bench [--quick]
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opus_receiver.h"
#include "opus_sender.h"
#include "rtp.h"

enum { SECONDS = 60, FRAMES = SECONDS * 50 };

static int16_t pcm[SECONDS * LKOPUS_RATE];
static double cost[FRAMES], rx_cost[FRAMES];
static uint8_t packets[FRAMES][LKOPUS_MAX_PACKET];
static int packet_len[FRAMES];

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    size_t frames = quick ? FRAMES / 10 : FRAMES;
    /* 440 Hz at -16 dBFS, white noise 20 dB under it (a fixed LCG: the
     * same input every run) */
    uint32_t rng = 1;
    for (size_t n = 0; n < frames * LKOPUS_FRAME; n++) {
        rng = rng * 1664525u + 1013904223u;
        double noise = ((double)(rng >> 8) / (1u << 24) - 0.5) * 2 * 1600;
        pcm[n] = (int16_t)lrint(5200 * sin(2 * M_PI * 440 * (double)n / LKOPUS_RATE) + noise);
    }
    lkopus_config cfg = {
        .ssrc = 1, .payload_type = 111, .ext_audio_level_id = 1, .dtx = true, .fec = true,
        .channels = 1};
    char err[128];
    lkopus_sender *s = lkopus_sender_new(&cfg, err, sizeof err);
    if (!s) {
        fprintf(stderr, "opus_bench: %s\n", err);
        return 1;
    }
    size_t sent = 0, bytes = 0;
    for (size_t f = 0; f < frames; f++) {
        const int16_t *in = pcm + f * LKOPUS_FRAME;
        uint8_t *out = packets[f];
        uint64_t t = (uint64_t)f * 20000000;
        double t0 = cpu_ns();
        int a = lkopus_sender_push(s, in, 1, LKOPUS_BLOCK, t, out, LKOPUS_MAX_PACKET);
        int b = lkopus_sender_push(s, in + LKOPUS_BLOCK, 1, LKOPUS_BLOCK, t + 10000000, out,
                                   LKOPUS_MAX_PACKET);
        cost[f] = cpu_ns() - t0;
        if (a < 0 || b < 0) {
            fprintf(stderr, "opus_bench: %s\n", lkopus_strerror(a < 0 ? a : b));
            return 1;
        }
        packet_len[f] = b;
        sent += b > 0;
        bytes += (size_t)b;
    }
    lkopus_sender_free(s);
    qsort(cost, frames, sizeof cost[0], by_value);
    double p50 = cost[frames / 2] / 1000, p99 = cost[frames * 99 / 100] / 1000;

    /* The receiver: each packet arrives 20 ms after its frame's end and is
     * put just before the pull after it; the pulls run 10 ms apart. */
    lkopus_receiver_config rcfg = {.channels = 1};
    lkopus_receiver *r = lkopus_receiver_new(&rcfg, err, sizeof err);
    if (!r) {
        fprintf(stderr, "opus_bench: %s\n", err);
        return 1;
    }
    static int16_t block[LKOPUS_BLOCK];
    uint64_t audio = 0;
    for (size_t f = 0; f < frames; f++) {
        uint64_t arrival = (uint64_t)(f + 2) * 20000000, now = arrival + 1000000;
        lkrtp_packet p;
        bool have = packet_len[f] > 0 && lkrtp_parse(&p, packets[f], (size_t)packet_len[f]) == 0;
        double t0 = cpu_ns();
        int rc = have ? lkopus_receiver_put_rtp(r, &p, arrival) : 0;
        int k1 = lkopus_receiver_pull(r, now, block);
        int k2 = lkopus_receiver_pull(r, now + 10000000, block);
        rx_cost[f] = (cpu_ns() - t0) / 2;
        if (rc < 0 || k1 < 0 || k2 < 0) {
            fprintf(stderr, "opus_bench: the receiver refused a packet or a pull\n");
            return 1;
        }
        audio += (k1 == LKOPUS_FRAME_AUDIO) + (k2 == LKOPUS_FRAME_AUDIO);
    }
    lkopus_receiver_free(r);
    if (audio < frames) { /* most pulls must have decoded something */
        fprintf(stderr, "opus_bench: the receiver played %llu of %zu pulls\n",
                (unsigned long long)audio, 2 * frames);
        return 1;
    }
    qsort(rx_cost, frames, sizeof rx_cost[0], by_value);
    double rx50 = rx_cost[frames / 2] / 1000, rx99 = rx_cost[frames * 99 / 100] / 1000;
    printf("{\"quick\": %s, \"libraries\": [\"ours\"], \"rows\": [\n", quick ? "true" : "false");
    printf("    {\"key\": \"opus_frame\", \"label\": \"Opus sender, 20 ms mono 48 kHz frame "
           "(2 pushes + packet)\", \"unit\": \"us\", \"values\": {\"ours\": %.6g}},\n",
           p50);
    printf("    {\"key\": \"opus_frame_p99\", \"label\": \"Opus sender, 20 ms frame, p99\", "
           "\"unit\": \"us\", \"values\": {\"ours\": %.6g}},\n",
           p99);
    printf("    {\"key\": \"opus_packet_bytes\", \"label\": \"Opus sender, mean RTP packet\", "
           "\"unit\": \"B\", \"values\": {\"ours\": %.6g}},\n",
           sent ? (double)bytes / (double)sent : 0);
    printf("    {\"key\": \"opus_pull\", \"label\": \"Opus receiver, 10 ms mono 48 kHz pull "
           "(a 20 ms packet every other)\", \"unit\": \"us\", \"values\": {\"ours\": %.6g}},\n",
           rx50);
    printf("    {\"key\": \"opus_pull_p99\", \"label\": \"Opus receiver, 10 ms pull, p99\", "
           "\"unit\": \"us\", \"values\": {\"ours\": %.6g}}\n",
           rx99);
    printf("]}\n");
    return 0;
}
