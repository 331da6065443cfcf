/* URLs as clients write them: schemes, ports, IPv6, paths; bad ones refused
 * with a reason; query building percent-encodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "url.h"

static void schemes_and_default_ports(void **state)
{
    lknet_url u;
    char err[256];
    assert_int_equal(lknet_url_parse(&u, "ws://127.0.0.1:7880", err, sizeof err), 0);
    assert_false(u.tls);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 7880);
    assert_string_equal(u.path, "/");
    assert_int_equal(lknet_url_parse(&u, "wss://example.livekit.cloud", err, sizeof err), 0);
    assert_true(u.tls);
    assert_int_equal(u.port, 443);
    assert_int_equal(lknet_url_parse(&u, "https://h/prefix/", err, sizeof err), 0);
    assert_true(u.tls);
    assert_string_equal(u.path, "/prefix");
    assert_int_equal(lknet_url_parse(&u, "HTTP://h?x=1#frag", err, sizeof err), 0);
    assert_false(u.tls);
    assert_int_equal(u.port, 80);
    assert_string_equal(u.query, "x=1");
}

static void ipv6_literals(void **state)
{
    lknet_url u;
    char err[256], host[300];
    assert_int_equal(lknet_url_parse(&u, "ws://[::1]:7880/rtc", err, sizeof err), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7880);
    lknet_url_host_header(&u, host, sizeof host);
    assert_string_equal(host, "[::1]:7880");
}

static void bad_urls_are_refused_with_a_reason(void **state)
{
    static const char *bad[] = {
        "127.0.0.1:7880", "ftp://h", "ws://", "ws://:80", "ws://h:0", "ws://h:65536",
        "ws://h:80x", "ws://user@h", "ws://[::1", "ws://[zz]:1", "ws://h h", "ws://h:",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lknet_url u;
        char err[256] = "";
        if (lknet_url_parse(&u, bad[i], err, sizeof err) != -1)
            fail_msg("accepted %s", bad[i]);
        assert_non_null(strstr(err, "invalid URL"));
    }
}

static void path_and_query_building(void **state)
{
    lknet_url u;
    char err[256];
    assert_int_equal(lknet_url_parse(&u, "ws://h/base", err, sizeof err), 0);
    assert_int_equal(lknet_url_append_path(&u, "rtc"), 0);
    assert_int_equal(lknet_url_append_path(&u, "v1"), 0);
    assert_string_equal(u.path, "/base/rtc/v1");
    assert_int_equal(lknet_url_add_query(&u, "a", "x y&z=/+"), 0);
    assert_int_equal(lknet_url_add_query(&u, "b", "-_.~"), 0);
    assert_string_equal(u.query, "a=x%20y%26z%3D%2F%2B&b=-_.~");
    /* full: refused, and the query is left as it was */
    char big[sizeof u.query];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(lknet_url_add_query(&u, "c", big), -1);
    assert_string_equal(u.query, "a=x%20y%26z%3D%2F%2B&b=-_.~");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schemes_and_default_ports),
        cmocka_unit_test(ipv6_literals),
        cmocka_unit_test(bad_urls_are_refused_with_a_reason),
        cmocka_unit_test(path_and_query_building),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
