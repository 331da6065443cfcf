/* libFuzzer harness for SCTP and DCEP: arbitrary packets into a data channel
 * manager (our association plus DCEP) that is new, mid-handshake, or
 * established with channels open and data in flight both ways.
 *
 * Input: byte 0 picks the state; then records of [mode, len_hi, len_lo,
 * bytes...]. mode & 3: 0 the bytes as they are; 1 with the right ports, tag
 * and CRC written over them; 2 the same with a zero checksum; 3 the link
 * runs for (len) ms instead. Every record is followed by due timers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../rtc/sctp_link.h"
#include "crc32c.h"
#include "datachannel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MS ((uint64_t)1000000)

typedef struct fz {
    lnk l;
    lkdc *m[2];
    uint32_t tag_to[2]; /* the tag last seen on packets to each side */
    uint64_t seed;
} fz;

static fz *F;

static void rnd(void *buf, size_t n)
{
    lnk_random_bytes_from(&F->seed, buf, n);
}

static void fz_send(void *ctx, const uint8_t *p, size_t n)
{
    lnk_side *s = ctx;
    if (n >= 8)
        F->tag_to[1 - s->idx] = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
                                (uint32_t)p[6] << 8 | p[7];
    lnk_send(ctx, p, n);
}

static void fz_message(void *ctx, uint16_t id, bool binary, const uint8_t *d, size_t n)
{
    (void)binary;
    lnk_side *s = ctx;
    /* touch every byte (ASan), sometimes answer or close */
    uint8_t x = 0;
    for (size_t i = 0; i < n; i++)
        x ^= d[i];
    if (x == 0x5a)
        lkdc_send(F->m[s->idx], id, true, d, n, F->l.now);
    else if (x == 0xa5)
        lkdc_close(F->m[s->idx], id, F->l.now);
}

static void deliver(lnk *l, int to, const uint8_t *p, size_t n)
{
    lkdc_handle_packet(F->m[to], p, n, l->now);
}

static uint64_t deadline(lnk *l, int i)
{
    (void)l;
    return lksctp_next_deadline(lkdc_sctp(F->m[i]));
}

static void timeout(lnk *l, int i)
{
    lkdc_on_timeout(F->m[i], l->now);
}

static bool both_up(lnk *l)
{
    (void)l;
    return lksctp_state(lkdc_sctp(F->m[0])) == LKSCTP_ESTABLISHED &&
           lksctp_state(lkdc_sctp(F->m[1])) == LKSCTP_ESTABLISHED;
}

static void setup(fz *f, uint8_t which)
{
    memset(f, 0, sizeof *f);
    F = f;
    f->seed = 1;
    f->l.rng = 99;
    f->l.delay_ns = 5 * MS;
    f->l.now = 1000 * MS;
    f->l.deliver = deliver;
    f->l.deadline = deadline;
    f->l.timeout = timeout;
    lksctp_config cfg = {.random = rnd, .rwnd = 64 * 1024, .max_message_size = 32 * 1024};
    for (int i = 0; i < 2; i++) {
        f->l.side[i].l = &f->l;
        f->l.side[i].idx = i;
        lkdc_callbacks cb = {.ctx = &f->l.side[i], .send = fz_send, .message = fz_message};
        f->m[i] = lkdc_new(&cfg, i == 0, &cb);
    }
    switch (which % 4) {
    case 0: /* side 1 new: only an INIT or a COOKIE-ECHO can start anything */
        break;
    case 1: /* side 1 has sent INIT, nothing came back */
        lksctp_connect(lkdc_sctp(f->m[1]), f->l.now);
        lnk_clear(&f->l);
        break;
    default: {
        lkdc_open(f->m[0], "_reliable", NULL, f->l.now);
        lkdc_options lossy = {.unordered = true, .reliability = LKSCTP_MAX_RETRANSMITS};
        lkdc_open(f->m[0], "_lossy", &lossy, f->l.now);
        lksctp_connect(lkdc_sctp(f->m[0]), f->l.now);
        lnk_run(&f->l, both_up, 10000 * MS);
        lnk_run(&f->l, NULL, 100 * MS);
        if (which % 4 == 3) {
            /* data in flight both ways, some of it lost */
            static uint8_t big[20000];
            memset(big, 0x11, sizeof big);
            f->l.loss_pct = 30;
            lkdc_send(f->m[0], 0, true, big, sizeof big, f->l.now);
            lkdc_send(f->m[1], 0, false, big, 3000, f->l.now);
            lkdc_send(f->m[0], 2, true, big, 2000, f->l.now);
            lnk_run(&f->l, NULL, 15 * MS);
            f->l.loss_pct = 0;
        }
        break;
    }
    }
}

static void fix_up(fz *f, uint8_t *p, size_t n, bool zero_csum)
{
    if (n < 12)
        return;
    p[0] = 0x13, p[1] = 0x88, p[2] = 0x13, p[3] = 0x88; /* 5000 -> 5000 */
    if (n > 12 && p[12] != 1) { /* INIT keeps its zero tag */
        uint32_t t = f->tag_to[1];
        p[4] = (uint8_t)(t >> 24), p[5] = (uint8_t)(t >> 16), p[6] = (uint8_t)(t >> 8),
        p[7] = (uint8_t)t;
    }
    memset(p + 8, 0, 4);
    if (zero_csum)
        return;
    uint32_t crc = lkcrc32c(p, n);
    p[8] = (uint8_t)crc, p[9] = (uint8_t)(crc >> 8), p[10] = (uint8_t)(crc >> 16),
    p[11] = (uint8_t)(crc >> 24);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fz f;
    setup(&f, data[0]);
    size_t off = 1;
    uint8_t *buf = malloc(65536);
    for (int rec = 0; rec < 64 && off + 3 <= size; rec++) {
        uint8_t mode = data[off];
        size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
        off += 3;
        if ((mode & 3) == 3) {
            lnk_run(&f.l, NULL, (len % 5000) * MS);
            continue;
        }
        if (len > size - off)
            len = size - off;
        memcpy(buf, data + off, len);
        off += len;
        if (mode & 3)
            fix_up(&f, buf, len, (mode & 3) == 2);
        f.l.now += (mode >> 2) * MS;
        lkdc_handle_packet(f.m[1], buf, len, f.l.now);
        /* let the pair react, a bounded number of steps */
        for (int i = 0; i < 200 && lnk_step(&f.l, f.l.now + 2000 * MS); i++)
            ;
    }
    free(buf);
    lnk_clear(&f.l);
    lkdc_free(f.m[0]);
    lkdc_free(f.m[1]);
    return 0;
}
