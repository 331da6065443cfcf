/* SDP: an answer of the shape livekit-server gives to a data-only offer is
 * read whole (session-level fallbacks, candidates, lite, BUNDLE); our offer
 * reads back as what we wrote; malformed input is refused with its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdp.h"

/* Test data in the shape a pion-based SFU answers with. */
static const char answer[] =
    "v=0\r\n"
    "o=- 6220381941513442137 1732000000 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=msid-semantic:WMS*\r\n"
    "a=fingerprint:sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9\r\n"
    "a=ice-lite\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=group:BUNDLE 0\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=setup:active\r\n"
    "a=mid:0\r\n"
    "a=sendrecv\r\n"
    "a=sctp-port:5000\r\n"
    "a=max-message-size:1073741823\r\n"
    "a=ice-ufrag:QkZtWpTRvfXhUoyk\r\n"
    "a=ice-pwd:pSoOTjfYlETzyLkFCrnUHUBHlPxRcmWh\r\n"
    "a=candidate:2857440463 1 udp 2130706431 127.0.0.1 50123 typ host\r\n"
    "a=candidate:2857440464 1 tcp 1671430143 127.0.0.1 7881 typ host tcptype passive\r\n"
    "a=end-of-candidates\r\n";

static void reads_a_server_answer(void **state)
{
    lksdp *s = malloc(sizeof *s);
    char err[200];
    assert_int_equal(lksdp_parse(s, answer, strlen(answer), err, sizeof err), 0);
    assert_true(s->ice_lite);
    assert_string_equal(s->bundle, "0");
    assert_int_equal(s->n_media, 1);
    int data = lksdp_find(s, "application");
    assert_int_equal(data, 0);
    const lksdp_media *m = &s->media[0];
    assert_string_equal(m->mid, "0");
    assert_int_equal(m->port, 9);
    assert_string_equal(m->proto, "UDP/DTLS/SCTP");
    assert_int_equal(m->sctp_port, 5000);
    assert_int_equal(m->max_message_size, 1073741823u);
    assert_true(m->end_of_candidates);
    assert_string_equal(lksdp_setup(s, 0), "active");
    assert_string_equal(lksdp_ice_ufrag(s, 0), "QkZtWpTRvfXhUoyk");
    assert_string_equal(lksdp_ice_pwd(s, 0), "pSoOTjfYlETzyLkFCrnUHUBHlPxRcmWh");
    assert_int_equal(strncmp(lksdp_fingerprint(s, 0), "sha-256 0A:1B", 13), 0); /* session level */
    assert_int_equal(s->n_candidates, 2);
    assert_int_equal(strncmp(s->candidates[0].line, "candidate:2857440463 1 udp", 26), 0);
    assert_int_equal(s->candidates[1].media, 0);
    assert_int_equal(lksdp_find(s, "audio"), -1);
    free(s);
}

static void offer_reads_back(void **state)
{
    const char *cands[] = {"candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host generation 0"};
    lksdp_offer o = {.session_id = 42, .version = 2, .ice_ufrag = "abcd", .ice_pwd = "p4ssw0rdp4ssw0rdp4ssw0",
                     .fingerprint = "sha-256 AA:BB", .candidates = cands, .n_candidates = 1};
    char buf[2048];
    size_t n = lksdp_write_data_offer(buf, sizeof buf, &o);
    assert_true(n > 0);
    assert_int_equal(strlen(buf), n);
    lksdp *s = malloc(sizeof *s);
    char err[200];
    assert_int_equal(lksdp_parse(s, buf, n, err, sizeof err), 0);
    assert_string_equal(s->bundle, "0");
    assert_string_equal(s->media[0].mid, "0");
    assert_string_equal(lksdp_setup(s, 0), "actpass");
    assert_string_equal(lksdp_ice_ufrag(s, 0), "abcd");
    assert_string_equal(lksdp_fingerprint(s, 0), "sha-256 AA:BB");
    assert_int_equal(s->media[0].max_message_size, 262144);
    assert_int_equal(s->n_candidates, 1);
    /* too small a buffer: refused, not truncated */
    assert_int_equal(lksdp_write_data_offer(buf, 100, &o), 0);
    free(s);
}

static void malformed_input_names_its_line(void **state)
{
    static const struct {
        const char *text;
        const char *where;
    } bad[] = {
        {"", "empty"},
        {"v=1\r\n", "line 1"},
        {"o=- 1 1 IN IP4 0.0.0.0\r\n", "line 1"},
        {"v=0\r\nnot a line\r\n", "line 2"},
        {"v=0\r\nm=audio\r\n", "line 2"},
        {"v=0\r\nm=audio x RTP/AVP 0\r\n", "line 2"},
        {"v=0\r\nm=audio 99999 RTP/AVP 0\r\n", "line 2"},
        {"v=0\r\nm=application 9 UDP/DTLS/SCTP x\r\na=sctp-port:0\r\n", "line 3"},
        {"v=0\r\nm=application 9 UDP/DTLS/SCTP x\r\na=max-message-size:12345678901\r\n", "line 3"},
        {"v=0\r\na=fingerprint:nospace\r\n", "line 2"},
        {"v=0\r\nm=application 9 UDP/DTLS/SCTP x\r\na=mid:\r\n", "line 3"},
    };
    lksdp *s = malloc(sizeof *s);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[200] = "";
        if (lksdp_parse(s, bad[i].text, strlen(bad[i].text), err, sizeof err) != -1)
            fail_msg("accepted: %s", bad[i].text);
        if (!strstr(err, bad[i].where))
            fail_msg("%s -> %s", bad[i].text, err);
    }
    free(s);
}

static void bounded_sections_and_candidates(void **state)
{
    size_t cap = 200000, pos = 0;
    char *text = malloc(cap);
    pos += (size_t)snprintf(text + pos, cap - pos, "v=0\n");
    for (int i = 0; i < 20; i++)
        pos += (size_t)snprintf(text + pos, cap - pos, "m=audio 9 UDP/TLS/RTP/SAVPF 111\n");
    lksdp *s = malloc(sizeof *s);
    char err[200];
    assert_int_equal(lksdp_parse(s, text, pos, err, sizeof err), -1);
    assert_non_null(strstr(err, "media sections"));

    pos = (size_t)snprintf(text, cap, "v=0\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\n");
    for (int i = 0; i < 100; i++)
        pos += (size_t)snprintf(text + pos, cap - pos,
                                "a=candidate:%d 1 udp 1 10.0.0.%d 5000 typ host\n", i, i % 250);
    assert_int_equal(lksdp_parse(s, text, pos, err, sizeof err), 0);
    assert_int_equal(s->n_candidates, LKSDP_MAX_CANDIDATES);
    free(text);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_a_server_answer),
        cmocka_unit_test(offer_reads_back),
        cmocka_unit_test(malformed_input_names_its_line),
        cmocka_unit_test(bounded_sections_and_candidates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
