/*
 * test_datachannel.c: DCEP between two of our data channel managers over
 * the simulated link; side 0 is the DTLS client, side 1 the server. The
 * stats count each side's messages and bytes per channel, and the channels
 * opened and closed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "datachannel.h"
#include "rtc/sctp_link.h"

#define MS ((uint64_t)1000000)
#define SEC (1000 * MS)

typedef struct dmsg {
    uint16_t id;
    bool binary;
    size_t len;
    char text[64];
} dmsg;

typedef struct side {
    lkdc *m;
    char remote_labels[8][32];
    uint16_t remote_ids[8];
    lkdc_options remote_opts[8];
    char remote_protocols[8][32];
    int nremote;
    uint16_t opened[8];
    int nopened;
    uint16_t closed[8];
    int nclosed;
    dmsg msgs[64];
    int nmsgs;
    bool echo; /* send every message back */
} side;

typedef struct world {
    lnk l;
    side s[2];
    uint64_t seed;
} world;

static world *W;

static side *side_of(void *ctx)
{
    return &W->s[((lnk_side *)ctx)->idx];
}

static int idx_of(void *ctx)
{
    return ((lnk_side *)ctx)->idx;
}

static void cb_channel(void *ctx, uint16_t id, const char *label, const char *protocol,
                       const lkdc_options *o)
{
    side *s = side_of(ctx);
    assert_true(s->nremote < 8);
    snprintf(s->remote_labels[s->nremote], 32, "%s", label);
    snprintf(s->remote_protocols[s->nremote], 32, "%s", protocol);
    s->remote_opts[s->nremote] = *o;
    s->remote_ids[s->nremote++] = id;
}

static void cb_open(void *ctx, uint16_t id)
{
    side *s = side_of(ctx);
    s->opened[s->nopened++] = id;
}

static void cb_closed(void *ctx, uint16_t id)
{
    side *s = side_of(ctx);
    s->closed[s->nclosed++] = id;
}

static void cb_message(void *ctx, uint16_t id, bool binary, const uint8_t *d, size_t n)
{
    side *s = side_of(ctx);
    assert_true(s->nmsgs < 64);
    dmsg *m = &s->msgs[s->nmsgs++];
    m->id = id;
    m->binary = binary;
    m->len = n;
    snprintf(m->text, sizeof m->text, "%.*s", (int)(n < 63 ? n : 63), (const char *)d);
    if (s->echo)
        assert_int_equal(lkdc_send(s->m, id, binary, d, n, W->l.now), 0);
    (void)idx_of;
}

static void rnd(void *buf, size_t n)
{
    lnk_random_bytes_from(&W->seed, buf, n);
}

static void deliver(lnk *l, int to, const uint8_t *p, size_t n)
{
    world *w = l->user;
    lkdc_handle_packet(w->s[to].m, p, n, l->now);
}

static uint64_t deadline(lnk *l, int i)
{
    world *w = l->user;
    return lksctp_next_deadline(lkdc_sctp(w->s[i].m));
}

static void timeout(lnk *l, int i)
{
    world *w = l->user;
    lkdc_on_timeout(w->s[i].m, l->now);
}

static world *world_new(uint64_t seed)
{
    world *w = calloc(1, sizeof *w);
    W = w;
    w->seed = seed;
    w->l.rng = seed + 77;
    w->l.delay_ns = 5 * MS;
    w->l.now = SEC;
    w->l.user = w;
    w->l.deliver = deliver;
    w->l.deadline = deadline;
    w->l.timeout = timeout;
    lksctp_config cfg = {.random = rnd};
    for (int i = 0; i < 2; i++) {
        w->l.side[i].l = &w->l;
        w->l.side[i].idx = i;
        lkdc_callbacks cb = {
            .ctx = &w->l.side[i],
            .send = lnk_send,
            .channel = cb_channel,
            .open = cb_open,
            .message = cb_message,
            .closed = cb_closed,
        };
        w->s[i].m = lkdc_new(&cfg, i == 0, &cb);
        assert_non_null(w->s[i].m);
    }
    return w;
}

static void world_free(world *w)
{
    lnk_clear(&w->l);
    for (int i = 0; i < 2; i++)
        lkdc_free(w->s[i].m);
    free(w);
    W = NULL;
}

static bool up(lnk *l)
{
    world *w = l->user;
    return lksctp_state(lkdc_sctp(w->s[0].m)) == LKSCTP_ESTABLISHED &&
           lksctp_state(lkdc_sctp(w->s[1].m)) == LKSCTP_ESTABLISHED;
}

static void connect_both(world *w)
{
    lksctp_connect(lkdc_sctp(w->s[0].m), w->l.now);
    lksctp_connect(lkdc_sctp(w->s[1].m), w->l.now);
    assert_true(lnk_run(&w->l, up, 60 * SEC));
}

static void settle(world *w)
{
    lnk_run(&w->l, NULL, 5 * SEC);
}

/* LiveKit's two channels, opened by the client before the association is up. */
static void test_open_both_ways(void **state)
{
    (void)state;
    world *w = world_new(1);
    lkdc_options reliable = {0};
    lkdc_options lossy = {.unordered = true, .reliability = LKSCTP_MAX_RETRANSMITS, .value = 0};
    int r = lkdc_open(w->s[0].m, "_reliable", &reliable, w->l.now);
    int l = lkdc_open(w->s[0].m, "_lossy", &lossy, w->l.now);
    assert_int_equal(r, 0); /* DTLS client: even ids */
    assert_int_equal(l, 2);
    assert_int_equal(lkdc_channel_state(w->s[0].m, 0), LKDC_CONNECTING);
    connect_both(w);
    settle(w);
    side *b = &w->s[1];
    assert_int_equal(b->nremote, 2);
    assert_string_equal(b->remote_labels[0], "_reliable");
    assert_string_equal(b->remote_labels[1], "_lossy");
    assert_int_equal(b->remote_ids[1], 2);
    assert_false(b->remote_opts[0].unordered);
    assert_int_equal(b->remote_opts[0].reliability, LKSCTP_RELIABLE);
    assert_true(b->remote_opts[1].unordered);
    assert_int_equal(b->remote_opts[1].reliability, LKSCTP_MAX_RETRANSMITS);
    assert_int_equal(b->remote_opts[1].value, 0);
    assert_int_equal(w->s[0].nopened, 2);
    assert_int_equal(lkdc_channel_state(w->s[0].m, 0), LKDC_OPEN);
    assert_int_equal(lkdc_channel_state(w->s[1].m, 2), LKDC_OPEN);

    /* the server opens one: odd id, with a protocol and a lifetime */
    lkdc_options timed = {.reliability = LKSCTP_MAX_LIFETIME, .value = 3000, .protocol = "chat",
                          .priority = 256};
    int s = lkdc_open(b->m, "from-server", &timed, w->l.now);
    assert_int_equal(s, 1);
    assert_int_equal(lkdc_open(b->m, "another", NULL, w->l.now), 3);
    settle(w);
    side *a = &w->s[0];
    assert_int_equal(a->nremote, 2);
    assert_string_equal(a->remote_labels[0], "from-server");
    assert_string_equal(a->remote_protocols[0], "chat");
    assert_int_equal(a->remote_opts[0].reliability, LKSCTP_MAX_LIFETIME);
    assert_int_equal(a->remote_opts[0].value, 3000);
    assert_int_equal(a->remote_opts[0].priority, 256);
    assert_string_equal(lkdc_label(a->m, 3), "another");
    assert_int_equal(b->nopened, 2);
    /* the next client id skips none and reuses none */
    assert_int_equal(lkdc_open(a->m, "third", NULL, w->l.now), 4);
    world_free(w);
}

static void test_messages_and_ppids(void **state)
{
    (void)state;
    world *w = world_new(2);
    connect_both(w);
    w->l.loss_pct = 10;
    int id = lkdc_open(w->s[0].m, "_reliable", NULL, w->l.now);
    /* sent before the ACK: ordered after the OPEN, so never lost to it */
    assert_int_equal(lkdc_send(w->s[0].m, (uint16_t)id, false, (const uint8_t *)"hello", 5,
                               w->l.now),
                     0);
    assert_int_equal(lkdc_send(w->s[0].m, (uint16_t)id, true, (const uint8_t *)"\x01\x02", 2,
                               w->l.now),
                     0);
    assert_int_equal(lkdc_send(w->s[0].m, (uint16_t)id, false, NULL, 0, w->l.now), 0);
    assert_int_equal(lkdc_send(w->s[0].m, (uint16_t)id, true, NULL, 0, w->l.now), 0);
    w->s[1].echo = true;
    lnk_run(&w->l, NULL, 30 * SEC);
    side *b = &w->s[1], *a = &w->s[0];
    assert_int_equal(b->nmsgs, 4);
    assert_string_equal(b->msgs[0].text, "hello");
    assert_false(b->msgs[0].binary);
    assert_true(b->msgs[1].binary);
    assert_int_equal(b->msgs[1].len, 2);
    assert_int_equal(b->msgs[2].len, 0);
    assert_false(b->msgs[2].binary);
    assert_int_equal(b->msgs[3].len, 0);
    assert_true(b->msgs[3].binary);
    /* the echoes, same kinds */
    assert_int_equal(a->nmsgs, 4);
    assert_string_equal(a->msgs[0].text, "hello");
    assert_true(a->msgs[3].binary);
    assert_int_equal(a->msgs[3].len, 0);
    assert_int_equal(lkdc_buffered(a->m, (uint16_t)id), 0);
    assert_int_equal(lkdc_send(a->m, 100, false, (const uint8_t *)"x", 1, w->l.now), -ENOENT);
    /* both sides count the 4 messages, 7 bytes (the empty ones are 0) */
    for (int k = 0; k < 2; k++) {
        lkdc_channel_info info[2];
        assert_int_equal(lkdc_channels(w->s[k].m, info, 2), 1);
        assert_int_equal(info[0].id, id);
        assert_string_equal(info[0].label, "_reliable");
        assert_string_equal(info[0].protocol, "");
        assert_int_equal(info[0].state, LKDC_OPEN);
        assert_int_equal(info[0].n.messages_sent, 4);
        assert_int_equal(info[0].n.bytes_sent, 7);
        assert_int_equal(info[0].n.messages_received, 4);
        assert_int_equal(info[0].n.bytes_received, 7);
    }
    world_free(w);
}

static void test_close_both_ways(void **state)
{
    (void)state;
    world *w = world_new(3);
    connect_both(w);
    int c0 = lkdc_open(w->s[0].m, "a", NULL, w->l.now);
    int c1 = lkdc_open(w->s[0].m, "b", NULL, w->l.now);
    settle(w);
    /* we close ours */
    assert_int_equal(lkdc_close(w->s[0].m, (uint16_t)c0, w->l.now), 0);
    assert_int_equal(lkdc_channel_state(w->s[0].m, (uint16_t)c0), LKDC_CLOSING);
    assert_int_equal(lkdc_send(w->s[0].m, (uint16_t)c0, false, (const uint8_t *)"x", 1,
                               w->l.now),
                     -EPIPE);
    settle(w);
    assert_int_equal(w->s[0].nclosed, 1);
    assert_int_equal(w->s[1].nclosed, 1);
    assert_int_equal(w->s[1].closed[0], c0);
    assert_int_equal(lkdc_channel_state(w->s[0].m, (uint16_t)c0), LKDC_NONE);
    assert_int_equal(lkdc_channel_state(w->s[1].m, (uint16_t)c0), LKDC_NONE);
    /* the peer closes one of ours */
    assert_int_equal(lkdc_close(w->s[1].m, (uint16_t)c1, w->l.now), 0);
    settle(w);
    assert_int_equal(w->s[0].nclosed, 2);
    assert_int_equal(w->s[0].closed[1], c1);
    assert_int_equal(w->s[1].nclosed, 2);
    /* ids are free again, and a new channel on a reset stream works */
    int again = lkdc_open(w->s[0].m, "again", NULL, w->l.now);
    assert_int_equal(again, c0);
    assert_int_equal(lkdc_send(w->s[0].m, (uint16_t)again, false, (const uint8_t *)"after", 5,
                               w->l.now),
                     0);
    settle(w);
    assert_int_equal(w->s[1].nmsgs, 1);
    assert_string_equal(w->s[1].msgs[0].text, "after");
    assert_int_equal(w->s[1].msgs[0].id, again);
    /* the association ending closes what is left */
    lksctp_abort(lkdc_sctp(w->s[0].m), "done", w->l.now);
    settle(w);
    assert_int_equal(w->s[0].nclosed, 3);
    assert_int_equal(w->s[1].nclosed, 3);
    for (int k = 0; k < 2; k++) {
        unsigned opened, closed;
        lkdc_open_counts(w->s[k].m, &opened, &closed);
        assert_int_equal(opened, 3);
        assert_int_equal(closed, 3);
        assert_int_equal(lkdc_channels(w->s[k].m, NULL, 0), 0);
    }
    world_free(w);
}

static void test_parse_open(void **state)
{
    (void)state;
    uint8_t ok[] = {3, 0x81, 0, 1, 0, 0, 0, 5, 0, 2, 0, 1, 'h', 'i', 'p'};
    lkdc_open_msg o;
    assert_int_equal(lkdc_parse_open(ok, sizeof ok, &o), 0);
    assert_int_equal(o.channel_type, 0x81);
    assert_int_equal(o.reliability, 5);
    assert_int_equal(o.label_len, 2);
    assert_memory_equal(o.label, "hi", 2);
    assert_memory_equal(o.protocol, "p", 1);
    assert_int_equal(lkdc_parse_open(ok, sizeof ok - 1, &o), -1); /* truncated */
    assert_int_equal(lkdc_parse_open(ok, 11, &o), -1);
    uint8_t badtype[sizeof ok];
    memcpy(badtype, ok, sizeof ok);
    badtype[1] = 0x05;
    assert_int_equal(lkdc_parse_open(badtype, sizeof badtype, &o), -1);
    badtype[1] = 0x81;
    badtype[0] = 2;
    assert_int_equal(lkdc_parse_open(badtype, sizeof badtype, &o), -1);
}

static void test_negotiated(void **state)
{
    (void)state;
    world *w = world_new(4);
    lkdc_options neg = {.negotiated = true, .id = 7};
    assert_int_equal(lkdc_open(w->s[0].m, "n", &neg, w->l.now), 7);
    assert_int_equal(lkdc_open(w->s[1].m, "n", &neg, w->l.now), 7);
    assert_int_equal(lkdc_open(w->s[1].m, "n", &neg, w->l.now), -EEXIST);
    connect_both(w);
    settle(w);
    assert_int_equal(w->s[0].nremote, 0);
    assert_int_equal(w->s[0].nopened, 1);
    assert_int_equal(lkdc_send(w->s[0].m, 7, false, (const uint8_t *)"oob", 3, w->l.now), 0);
    settle(w);
    assert_int_equal(w->s[1].nmsgs, 1);
    assert_string_equal(w->s[1].msgs[0].text, "oob");
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_both_ways),
        cmocka_unit_test(test_messages_and_ppids),
        cmocka_unit_test(test_close_both_ways),
        cmocka_unit_test(test_parse_open),
        cmocka_unit_test(test_negotiated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
