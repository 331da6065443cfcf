/* twcc_wire.h: feedback as the receiver sends it, for the TWCC and GCC
 * suites: the arrivals written by rtc/rtp's writer, parsed back by its
 * parser and matched by the sender (rtc/twcc). Include after cmocka.h. */
#ifndef LK_TEST_TWCC_WIRE_H
#define LK_TEST_TWCC_WIRE_H

#include "rtp.h"
#include "twcc.h"

/* The n arrivals (ascending numbers; gaps are reported lost) as one
 * feedback numbered fb_count: the sender's results into out. */
static inline int twcc_deliver(lktwcc_sender *s, const lkrtcp_twcc_arrival *arr, size_t n,
                               uint8_t fb_count, lktwcc_result *out, size_t cap)
{
    uint8_t buf[8192];
    lkrtcp_fb fb = {.sender_ssrc = 1, .media_ssrc = 0};
    int len = lkrtcp_write_twcc(buf, sizeof buf, &fb, fb_count, arr, n);
    assert_true(len > 0);
    lkrtcp_iter it;
    lkrtcp_packet pk;
    lkrtcp_iter_init(&it, buf, (size_t)len);
    assert_int_equal(lkrtcp_next(&it, &pk), 1);
    lkrtcp_twcc tw;
    static lkrtcp_twcc_status st[65536];
    int k = lkrtcp_parse_twcc(&pk, &tw, st, 65536);
    assert_true(k > 0);
    return lktwcc_sender_feedback(s, &tw, st, (size_t)k, out, cap);
}

#endif
