/* STUN against RFC 5769's published test vectors, round trips through our
 * builder, and malformed input refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "stun.h"

/* RFC 5769 2.1: a Binding request with SOFTWARE "STUN test client", PRIORITY, ICE-CONTROLLED,
 * USERNAME "evtj:h6vY", MESSAGE-INTEGRITY and FINGERPRINT. */
static const uint8_t sample_request[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e,
    0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24,
    0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1,
    0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68,
    0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
    0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5,
    0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 2.2: the IPv4 response, XOR-MAPPED-ADDRESS 192.0.2.1:32853. */
static const uint8_t sample_response[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
    0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
    0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99,
    0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b,
    0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

static const char password[] = "VOkJxbRl1RmTxUk/WvJxBt";

static void rfc5769_request(void **state)
{
    lkstun_msg m;
    assert_int_equal(lkstun_parse(&m, sample_request, sizeof sample_request), 0);
    assert_int_equal(m.type, LKSTUN_BINDING_REQUEST);
    assert_true(m.has_fingerprint);
    assert_int_equal(m.username_len, 9);
    assert_memory_equal(m.username, "evtj:h6vY", 9);
    assert_true(m.has_priority);
    assert_int_equal(m.priority, 0x6e0001ff);
    assert_true(m.has_controlled);
    assert_true(m.tiebreaker == 0x932ff9b151263b36ull);
    assert_true(lkstun_integrity_ok(&m, sample_request, sizeof sample_request, password,
                                    strlen(password)));
    assert_false(lkstun_integrity_ok(&m, sample_request, sizeof sample_request, "wrong", 5));
}

static void rfc5769_response(void **state)
{
    lkstun_msg m;
    assert_int_equal(lkstun_parse(&m, sample_response, sizeof sample_response), 0);
    assert_int_equal(m.type, LKSTUN_BINDING_SUCCESS);
    assert_true(m.has_mapped);
    const struct sockaddr_in *a = (const struct sockaddr_in *)&m.mapped;
    assert_int_equal(a->sin_family, AF_INET);
    assert_int_equal(ntohs(a->sin_port), 32853);
    assert_int_equal(ntohl(a->sin_addr.s_addr), 0xc0000201);
    assert_true(lkstun_integrity_ok(&m, sample_response, sizeof sample_response, password,
                                    strlen(password)));
}

static void built_request_round_trips(void **state)
{
    uint8_t txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, buf[256];
    lkstun_builder b;
    lkstun_begin(&b, buf, sizeof buf, LKSTUN_BINDING_REQUEST, txid);
    lkstun_add(&b, LKSTUN_ATTR_USERNAME, "remote:local", 12);
    lkstun_add_u32(&b, LKSTUN_ATTR_PRIORITY, 1853824767);
    lkstun_add_u64(&b, LKSTUN_ATTR_ICE_CONTROLLING, 0x0102030405060708ull);
    lkstun_add(&b, LKSTUN_ATTR_USE_CANDIDATE, NULL, 0);
    lkstun_add_integrity(&b, "pwd", 3);
    lkstun_add_fingerprint(&b);
    size_t n = lkstun_end(&b);
    assert_true(n > 0);
    lkstun_msg m;
    assert_int_equal(lkstun_parse(&m, buf, n), 0);
    assert_memory_equal(m.txid, txid, 12);
    assert_int_equal(m.username_len, 12);
    assert_true(m.use_candidate && m.has_controlling && m.has_fingerprint);
    assert_true(m.tiebreaker == 0x0102030405060708ull);
    assert_true(lkstun_integrity_ok(&m, buf, n, "pwd", 3));

    /* a response with an IPv6 XOR address and an error */
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(5000)};
    inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
    lkstun_begin(&b, buf, sizeof buf, LKSTUN_BINDING_ERROR, txid);
    lkstun_add_xor_address(&b, (struct sockaddr *)&v6);
    lkstun_add_error(&b, 487, "Role Conflict");
    lkstun_add_fingerprint(&b);
    n = lkstun_end(&b);
    assert_int_equal(lkstun_parse(&m, buf, n), 0);
    assert_int_equal(m.error_code, 487);
    const struct sockaddr_in6 *got = (const struct sockaddr_in6 *)&m.mapped;
    assert_int_equal(ntohs(got->sin6_port), 5000);
    assert_memory_equal(&got->sin6_addr, &v6.sin6_addr, 16);
}

static void builder_refuses_what_does_not_fit(void **state)
{
    uint8_t txid[12] = {0}, buf[40];
    lkstun_builder b;
    lkstun_begin(&b, buf, sizeof buf, LKSTUN_BINDING_REQUEST, txid);
    lkstun_add(&b, LKSTUN_ATTR_USERNAME, "a-rather-long-username", 22);
    assert_int_equal(lkstun_end(&b), 0);
}

static void malformed_messages_are_refused(void **state)
{
    uint8_t m2[sizeof sample_request];
    lkstun_msg m;
    /* a flipped bit breaks the FINGERPRINT */
    memcpy(m2, sample_request, sizeof m2);
    m2[30] ^= 1;
    assert_int_equal(lkstun_parse(&m, m2, sizeof m2), -1);
    /* truncations of every length */
    for (size_t n = 0; n < sizeof sample_request; n++)
        assert_int_equal(lkstun_parse(&m, sample_request, n), -1);
    /* an attribute longer than the message */
    memcpy(m2, sample_request, sizeof m2);
    m2[22] = 0x40;
    assert_int_equal(lkstun_parse(&m, m2, sizeof m2), -1);
    /* not STUN: the top bits, the cookie */
    memcpy(m2, sample_request, sizeof m2);
    m2[0] = 0x80;
    assert_false(lkstun_looks_like(m2, sizeof m2));
    memcpy(m2, sample_request, sizeof m2);
    m2[4] = 0;
    assert_int_equal(lkstun_parse(&m, m2, sizeof m2), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc5769_request),
        cmocka_unit_test(rfc5769_response),
        cmocka_unit_test(built_request_round_trips),
        cmocka_unit_test(builder_refuses_what_does_not_fit),
        cmocka_unit_test(malformed_messages_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
