/*
 * layers_bench: how long a worker is busy with one picture of a 720p30
 * simulcast camera (upstream's three layers: 1280x720 at 3 Mbit/s,
 * 640x360 at 450 kbit/s, 320x180 at 160 kbit/s), its layers encoded one
 * after the other on the worker, or split between it and the other worker
 * (lkio_parallel, as room/publish does). The same moving picture for both
 * (a textured square panning), 30 pictures a second of capture time, as
 * fast as they encode; wall time per picture on the worker, median and
 * 95th percentile, and the process's CPU time per picture (the split's
 * cost in CPU). Two workers (this machine's cores). JSON, as ffi_bench.
 *
 * Usage: layers_bench [--quick]
 */
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io.h"
#include "vp8_sender.h"

enum { W = 1280, H = 720, PICTURES = 600, LAYERS = 3 };
static const uint64_t FRAME_NS = 1000000000ull / 30;

static uint8_t y[W * H], u[W * H / 4], v[W * H / 4];
static double wall[PICTURES];

static double ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, z = *(const double *)b;
    return (x > z) - (x < z);
}

static void draw(unsigned k)
{
    for (unsigned r = 0; r < H; r++)
        for (unsigned c = 0; c < W; c++)
            y[r * W + c] = (uint8_t)((((c + 4 * k) / 16 + (r + 2 * k) / 16) % 2) * 160 +
                                     ((c * 7 + r * 13 + k) & 31));
    for (unsigned i = 0; i < W * H / 4; i++) {
        u[i] = (uint8_t)(128 + (i + k) % 40);
        v[i] = (uint8_t)(128 - (i + 2 * k) % 40);
    }
}

typedef struct run {
    lkio_task task;
    bool split;
    unsigned pictures;
    double cpu_ns;
    sem_t done;
    lkvp8_sender *layer[LAYERS];
    lkvp8_image img;
    uint64_t capture_ns;
} run;

static void encode(void *arg, unsigned i)
{
    run *r = arg;
    uint8_t pkt[LKVP8_MAX_PACKET];
    if (lkvp8_sender_push(r->layer[i], &r->img, r->capture_ns) > 0)
        while (lkvp8_sender_next_packet(r->layer[i], pkt, sizeof pkt) > 0) {
        }
}

static void on_worker(lkio_task *t)
{
    run *r = lkio_container_of(t, run, task);
    double cpu0 = ns(CLOCK_PROCESS_CPUTIME_ID);
    for (unsigned k = 0; k < r->pictures; k++) {
        draw(k);
        r->capture_ns = 1000000000ull + k * FRAME_NS;
        double t0 = ns(CLOCK_MONOTONIC);
        if (r->split) {
            lkio_parallel(LAYERS, encode, r);
        } else {
            for (unsigned i = 0; i < LAYERS; i++)
                encode(r, i);
        }
        wall[k] = ns(CLOCK_MONOTONIC) - t0;
    }
    r->cpu_ns = ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    sem_post(&r->done);
}

static void measure(bool split, unsigned pictures, bool last)
{
    static const struct {
        unsigned w, h;
        uint32_t bps;
        double fps;
    } spec[LAYERS] = {{1280, 720, 3000000, 30}, {640, 360, 450000, 20}, {320, 180, 160000, 15}};
    run r = {.split = split, .pictures = pictures,
             .img = {.width = W, .height = H, .y = y, .u = u, .v = v, .stride_y = W,
                     .stride_u = W / 2, .stride_v = W / 2}};
    sem_init(&r.done, 0, 0);
    for (unsigned i = 0; i < LAYERS; i++) {
        lkvp8_sender_config c = {.ssrc = 100 + i, .payload_type = 96, .width = spec[i].w,
                                 .height = spec[i].h, .max_bitrate = spec[i].bps,
                                 .max_framerate = spec[i].fps};
        char err[160];
        r.layer[i] = lkvp8_sender_new(&c, err, sizeof err);
        if (!r.layer[i]) {
            fprintf(stderr, "layers_bench: %s\n", err);
            exit(1);
        }
    }
    lkio_post(lkio_worker_at(0), &r.task, on_worker);
    sem_wait(&r.done);
    for (unsigned i = 0; i < LAYERS; i++)
        lkvp8_sender_free(r.layer[i]);
    sem_destroy(&r.done);
    qsort(wall, pictures, sizeof *wall, by_value);
    printf("  \"%s\": {\"wall_ms_p50\": %.2f, \"wall_ms_p95\": %.2f, \"cpu_ms_per_picture\": %.2f}%s\n",
           split ? "split" : "one_worker", wall[pictures / 2] / 1e6,
           wall[pictures * 95 / 100] / 1e6, r.cpu_ns / pictures / 1e6, last ? "" : ",");
}

int main(int argc, char **argv)
{
    unsigned pictures = argc > 1 && strcmp(argv[1], "--quick") == 0 ? PICTURES / 10 : PICTURES;
    char err[128];
    if (lkio_start(2, err, sizeof err) != 0) {
        fprintf(stderr, "layers_bench: %s\n", err);
        return 1;
    }
    printf("{\n  \"pictures\": %u,\n", pictures);
    measure(false, pictures, false);
    measure(true, pictures, true);
    printf("}\n");
    lkio_stop(NULL);
    return 0;
}
