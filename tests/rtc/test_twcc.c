/* The TWCC sender's bookkeeping against feedback written by rtc/rtp's
 * writer and read back by its parser, as the server's would come: every
 * packet sent is reported once, received or lost, with its departure and
 * size and its arrival to the writer's 250 us; numbers wrap past 65535;
 * the 24-bit reference time wraps between feedbacks and arrivals keep
 * growing; a repeated report adds nothing, a late "received" after "lost"
 * does; numbers too old or never sent are passed over; a short output
 * leaves the rest for later. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rtp.h"
#include "twcc.h"
#include "twcc_wire.h"

enum { MAX = 512 };
static const uint64_t MS_NS = 1000000ull;

typedef struct sent_pkt {
    uint16_t seq;
    uint64_t at_ns;
    uint32_t size;
} sent_pkt;

static void numbers_count_up_and_wrap(void **state)
{
    (void)state;
    lktwcc_sender *s = lktwcc_sender_new();
    for (uint32_t i = 0; i < 70000; i++)
        assert_int_equal(lktwcc_sender_sent(s, i, 100), (uint16_t)i);
    lktwcc_sender_free(s);
}

/* 200 packets 2.5 ms apart; every seventh lost; arrivals 20 ms later with a
 * few ms of jitter on the receiver's clock (which starts elsewhere). */
static void every_packet_reported_once(void **state)
{
    (void)state;
    lktwcc_sender *s = lktwcc_sender_new();
    static sent_pkt sent[MAX];
    static lkrtcp_twcc_arrival arr[MAX];
    size_t n_arr = 0;
    const int64_t remote0 = 777000123; /* the receiver's clock at our t = 0 */
    for (unsigned i = 0; i < 200; i++) {
        uint64_t at = 5000 * MS_NS + i * 2500000ull;
        uint32_t size = 200 + i;
        sent[i] = (sent_pkt){lktwcc_sender_sent(s, at, size), at, size};
        if (i % 7 == 4)
            continue;
        int64_t arrive = remote0 + (int64_t)(at / 1000) + 20000 + (i * 37 % 5) * 1000;
        arr[n_arr++] = (lkrtcp_twcc_arrival){sent[i].seq, arrive};
    }
    /* out of order arrivals are reported in sequence order: fine as is */
    lktwcc_result res[MAX];
    int k = twcc_deliver(s, arr, n_arr, 0, res, MAX);
    /* from the first received (0) to the last (199): all of them */
    assert_int_equal(k, 200);
    size_t a = 0;
    for (int j = 0; j < k; j++) {
        const lktwcc_result *r = &res[j];
        assert_int_equal(r->seq, j);
        assert_int_equal(r->sent_ns, sent[j].at_ns);
        assert_int_equal(r->size, sent[j].size);
        assert_int_equal(r->received, j % 7 != 4);
        if (r->received) {
            assert_int_equal(r->arrival_us, arr[a].arrival_us / 250 * 250);
            a++;
        }
    }
    /* the same feedback again: nothing new */
    assert_int_equal(twcc_deliver(s, arr, n_arr, 1, res, MAX), 0);
    lktwcc_sender_free(s);
}

/* Lost in one feedback, received in the next: passed on once more. Lost
 * twice: once. */
static void late_after_lost(void **state)
{
    (void)state;
    lktwcc_sender *s = lktwcc_sender_new();
    for (unsigned i = 0; i < 10; i++)
        lktwcc_sender_sent(s, i * MS_NS, 1000);
    lkrtcp_twcc_arrival first[] = {{0, 100000}, {1, 101000}, {4, 104000}}; /* 2, 3 lost */
    lktwcc_result res[16];
    assert_int_equal(twcc_deliver(s, first, 3, 0, res, 16), 5);
    assert_false(res[2].received);
    assert_false(res[3].received);
    lkrtcp_twcc_arrival second[] = {{1, 101000}, {2, 109000}, {5, 105000}}; /* 3, 4 as lost */
    int k = twcc_deliver(s, second, 3, 1, res, 16);
    /* 1 was received already, 3 lost already; 4 received already: 2 and 5 */
    assert_int_equal(k, 2);
    assert_int_equal(res[0].seq, 2);
    assert_true(res[0].received);
    assert_int_equal(res[0].arrival_us, 109000);
    assert_int_equal(res[1].seq, 5);
    lktwcc_sender_free(s);
}

/* Sequence numbers across 65535 -> 0: extended, matched. */
static void wrap_in_a_feedback(void **state)
{
    (void)state;
    lktwcc_sender *s = lktwcc_sender_new();
    for (uint32_t i = 0; i < 65530; i++)
        lktwcc_sender_sent(s, i, 10);
    lkrtcp_twcc_arrival arr[12];
    for (unsigned i = 0; i < 12; i++) {
        uint16_t q = lktwcc_sender_sent(s, 1000000000ull + i, 500 + i);
        arr[i] = (lkrtcp_twcc_arrival){q, 5000000 + i * 1000};
    }
    lktwcc_result res[16];
    assert_int_equal(twcc_deliver(s, arr, 12, 0, res, 16), 12);
    for (unsigned i = 0; i < 12; i++) {
        assert_int_equal(res[i].seq, 65530 + (int64_t)i);
        assert_int_equal(res[i].size, 500 + i);
        assert_int_equal(res[i].sent_ns, 1000000000ull + i);
    }
    lktwcc_sender_free(s);
}

/* The receiver's clock passes where the 24-bit reference time turns
 * negative as read (2^23 x 64 ms), then where it wraps (2^24 x 64 ms),
 * between feedbacks: each feedback's arrivals follow the last's. */
static void reference_time_wraps(void **state)
{
    (void)state;
    static const int64_t at[] = {(int64_t)1 << 23, (int64_t)1 << 24};
    for (size_t w = 0; w < 2; w++) {
        lktwcc_sender *s = lktwcc_sender_new();
        for (unsigned i = 0; i < 4; i++)
            lktwcc_sender_sent(s, i, 100);
        const int64_t wrap_us = at[w] * 64000;
        lkrtcp_twcc_arrival a[] = {{0, wrap_us - 70000}, {1, wrap_us - 65000}};
        lkrtcp_twcc_arrival b[] = {{2, wrap_us + 1000}, {3, wrap_us + 2000}};
        lktwcc_result r1[4], r2[4];
        assert_int_equal(twcc_deliver(s, a, 2, 0, r1, 4), 2);
        assert_int_equal(twcc_deliver(s, b, 2, 1, r2, 4), 2);
        assert_int_equal(r2[0].arrival_us - r1[1].arrival_us, 66000);
        assert_int_equal(r2[1].arrival_us - r2[0].arrival_us, 1000);
        lktwcc_sender_free(s);
    }
}

/* Numbers the history forgot, and numbers never sent, are passed over. */
static void too_old_or_never_sent(void **state)
{
    (void)state;
    lktwcc_sender *s = lktwcc_sender_new();
    lktwcc_result res[8];
    lkrtcp_twcc_arrival none[] = {{0, 1000}};
    assert_int_equal(twcc_deliver(s, none, 1, 0, res, 8), 0); /* nothing sent yet */
    for (unsigned i = 0; i < LKTWCC_HISTORY + 10; i++)
        lktwcc_sender_sent(s, i, 100);
    lkrtcp_twcc_arrival old[] = {{5, 1000}, {LKTWCC_HISTORY + 9, 2000}};
    int k = twcc_deliver(s, old, 2, 1, res, 8);
    /* 5 is forgotten; from 6 to LKTWCC_HISTORY + 8 the gap is reported lost,
     * but only what the output holds */
    assert_int_equal(k, 8);
    assert_int_equal(res[0].seq, 10); /* 6..9 were overwritten by 4102..4105 */
    assert_false(res[0].received);
    /* a number ahead of the last sent is one sent 65536 earlier: forgotten */
    lkrtcp_twcc_arrival ahead[] = {{(uint16_t)(LKTWCC_HISTORY + 20), 3000}};
    assert_int_equal(twcc_deliver(s, ahead, 1, 2, res, 8), 0);
    lktwcc_sender_free(s);
}

/* Output shorter than the feedback: the rest is reported by the next. */
static void short_output_leaves_the_rest(void **state)
{
    (void)state;
    lktwcc_sender *s = lktwcc_sender_new();
    lkrtcp_twcc_arrival arr[6];
    for (unsigned i = 0; i < 6; i++)
        arr[i] = (lkrtcp_twcc_arrival){lktwcc_sender_sent(s, i, 100), 1000 * (int64_t)i};
    lktwcc_result res[6];
    assert_int_equal(twcc_deliver(s, arr, 6, 0, res, 4), 4);
    assert_int_equal(twcc_deliver(s, arr, 6, 1, res, 6), 2);
    assert_int_equal(res[0].seq, 4);
    assert_int_equal(res[1].seq, 5);
    lktwcc_sender_free(s);
}

static void bad_arguments(void **state)
{
    (void)state;
    lktwcc_sender *s = lktwcc_sender_new();
    lkrtcp_twcc tw = {0};
    lkrtcp_twcc_status st = {0};
    lktwcc_result r;
    assert_int_equal(lktwcc_sender_feedback(NULL, &tw, &st, 1, &r, 1), -1);
    assert_int_equal(lktwcc_sender_feedback(s, NULL, &st, 1, &r, 1), -1);
    assert_int_equal(lktwcc_sender_feedback(s, &tw, NULL, 1, &r, 1), -1);
    assert_int_equal(lktwcc_sender_feedback(s, &tw, &st, 1, NULL, 1), -1);
    assert_int_equal(lktwcc_sender_feedback(s, &tw, NULL, 0, NULL, 0), 0);
    lktwcc_sender_free(s);
    lktwcc_sender_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_count_up_and_wrap),
        cmocka_unit_test(every_packet_reported_once),
        cmocka_unit_test(late_after_lost),
        cmocka_unit_test(wrap_in_a_feedback),
        cmocka_unit_test(reference_time_wraps),
        cmocka_unit_test(too_old_or_never_sent),
        cmocka_unit_test(short_output_leaves_the_rest),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
