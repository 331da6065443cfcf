/* SDP: an answer of the shape livekit-server gives to a data-only offer is
 * read whole (session-level fallbacks, candidates, lite, BUNDLE), and one
 * to a published audio section yields its codecs in the server's order,
 * the fmtp it asks our encoder for and the extension ids; our offer, with
 * audio sections or without, reads back as what we wrote; malformed input
 * is refused with its line; oversized tables are cut, not refused. */
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
    size_t n = lksdp_write_offer(buf, sizeof buf, &o);
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
    assert_int_equal(lksdp_write_offer(buf, 100, &o), 0);
    free(s);
}

/* livekit-server v1.13.5's answer to an offer that published a mic with
 * RED and DTX on (docs/research/audio-in-rooms.md 1.4), behind a data
 * section as our offers put it. */
static const char audio_answer[] =
    "v=0\r\n"
    "o=- 6220381941513442137 1732000001 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=msid-semantic:WMS*\r\n"
    "a=fingerprint:sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9\r\n"
    "a=ice-lite\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=group:BUNDLE 0 7\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=setup:active\r\n"
    "a=mid:0\r\n"
    "a=sendrecv\r\n"
    "a=sctp-port:5000\r\n"
    "a=max-message-size:65535\r\n"
    "a=ice-ufrag:QkZtWpTRvfXhUoyk\r\n"
    "a=ice-pwd:pSoOTjfYlETzyLkFCrnUHUBHlPxRcmWh\r\n"
    "a=candidate:2857440463 1 udp 2130706431 127.0.0.1 50123 typ host\r\n"
    "a=end-of-candidates\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 63 111 0 8\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=setup:active\r\n"
    "a=mid:7\r\n"
    "a=ice-ufrag:QkZtWpTRvfXhUoyk\r\n"
    "a=ice-pwd:pSoOTjfYlETzyLkFCrnUHUBHlPxRcmWh\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:63 red/48000/2\r\n"
    "a=fmtp:63 111/111\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=recvonly\r\n";

static void reads_the_answer_to_a_published_mic(void **state)
{
    lksdp *s = malloc(sizeof *s);
    char err[200];
    assert_int_equal(lksdp_parse(s, audio_answer, strlen(audio_answer), err, sizeof err), 0);
    assert_int_equal(s->n_media, 2);
    assert_string_equal(s->bundle, "0 7");
    int a = lksdp_find(s, "audio");
    assert_int_equal(a, 1);
    const lksdp_media *m = &s->media[a];
    assert_string_equal(m->mid, "7");
    assert_string_equal(m->direction, "recvonly");
    assert_string_equal(m->proto, "UDP/TLS/RTP/SAVPF");
    assert_int_equal(m->n_fmts, 4);
    assert_memory_equal(m->fmts, ((uint8_t[]){63, 111, 0, 8}), 4);
    /* the server's preference: RED, then Opus */
    assert_int_equal(m->n_codecs, 4);
    assert_int_equal(m->codecs[0].pt, 63);
    assert_string_equal(m->codecs[0].name, "red");
    assert_int_equal(m->codecs[0].clock, 48000);
    assert_int_equal(m->codecs[0].channels, 2);
    assert_string_equal(m->codecs[0].fmtp, "111/111");
    assert_int_equal(m->codecs[1].pt, 111);
    assert_string_equal(m->codecs[1].name, "opus");
    assert_non_null(strstr(m->codecs[1].fmtp, "usedtx=1"));
    assert_string_equal(m->codecs[2].name, "PCMU");
    assert_int_equal(m->codecs[2].clock, 8000);
    assert_int_equal(m->codecs[2].channels, 0);
    assert_string_equal(m->codecs[2].fmtp, "");
    const lksdp_codec *opus = lksdp_codec_find(m, "opus");
    assert_non_null(opus);
    assert_int_equal(opus->pt, LKSDP_OPUS_PT);
    assert_ptr_equal(lksdp_codec_find(m, "OPUS"), opus);
    assert_ptr_equal(lksdp_codec_find(m, "pcma"), &m->codecs[3]);
    assert_null(lksdp_codec_find(m, "G722"));
    assert_true(lksdp_fmtp_has(opus, "usedtx", "1"));
    assert_true(lksdp_fmtp_has(opus, "minptime", "10"));
    assert_false(lksdp_fmtp_has(opus, "stereo", "1"));
    assert_false(lksdp_fmtp_has(opus, "usedtx", "0"));
    assert_false(lksdp_fmtp_has(opus, "usedtx", ""));
    assert_int_equal(m->n_extmaps, 2);
    assert_int_equal(lksdp_extmap_id(m, LKSDP_URI_AUDIO_LEVEL), LKSDP_EXT_AUDIO_LEVEL_ID);
    assert_int_equal(lksdp_extmap_id(m, LKSDP_URI_SDES_MID), 4);
    assert_int_equal(lksdp_extmap_id(m, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"), 0);
    assert_int_equal(m->ssrc, 0);
    assert_string_equal(m->msid, "");
    assert_string_equal(lksdp_setup(s, 1), "active");
    /* the data section has no RTP fields */
    assert_int_equal(s->media[0].n_fmts, 0);
    assert_int_equal(s->media[0].n_codecs, 0);
    free(s);
}

/* A section the server sends us a track in (audio-in-rooms.md 3.3), with
 * the codec lines out of order and an extmap with a direction. */
static void reads_a_subscribed_section(void **state)
{
    static const char text[] =
        "v=0\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 0 8\n"
        "a=mid:0\n"
        "a=fmtp:111 minptime=10 ; useinbandfec = 1;stereo\n"
        "a=fmtp:63 111/111\n"
        "a=rtpmap:63 red/48000/2\n"
        "a=rtpmap:111 opus/48000/2\n"
        "a=extmap:4/sendonly urn:ietf:params:rtp-hdrext:sdes:mid\n"
        "a=extmap:200 urn:example:two-byte some attributes\n"
        "a=ssrc:3999905466 cname:PA_Azqoy3pVo7gF|TR_AMKKNosF4B9eJ4\n"
        "a=ssrc:3999905466 msid:PA_Azqoy3pVo7gF|TR_AMKKNosF4B9eJ4 TR_AMKKNosF4B9eJ4\n"
        "a=ssrc:12345 cname:other\n"
        "a=msid:PA_Azqoy3pVo7gF|TR_AMKKNosF4B9eJ4 TR_AMKKNosF4B9eJ4\n"
        "a=msid:second one\n"
        "a=sendonly\n";
    lksdp *s = malloc(sizeof *s);
    char err[200];
    assert_int_equal(lksdp_parse(s, text, strlen(text), err, sizeof err), 0);
    const lksdp_media *m = &s->media[0];
    assert_string_equal(m->direction, "sendonly");
    assert_int_equal(m->n_codecs, 2); /* 0 and 8 have no rtpmap */
    assert_int_equal(m->codecs[0].pt, 111);
    assert_int_equal(m->codecs[1].pt, 63);
    assert_string_equal(m->codecs[1].fmtp, "111/111");
    const lksdp_codec *opus = lksdp_codec_find(m, "opus");
    assert_ptr_equal(opus, &m->codecs[0]);
    assert_true(lksdp_fmtp_has(opus, "minptime", "10"));
    assert_true(lksdp_fmtp_has(opus, "useinbandfec", "1"));
    assert_true(lksdp_fmtp_has(opus, "UseInbandFec", "1"));
    assert_false(lksdp_fmtp_has(opus, "stereo", "1"));
    assert_false(lksdp_fmtp_has(opus, "stereo", ""));
    assert_int_equal(lksdp_extmap_id(m, LKSDP_URI_SDES_MID), 4);
    assert_int_equal(lksdp_extmap_id(m, "urn:example:two-byte"), 200);
    assert_int_equal(m->ssrc, 3999905466u);
    assert_string_equal(m->msid, "PA_Azqoy3pVo7gF|TR_AMKKNosF4B9eJ4 TR_AMKKNosF4B9eJ4");
    free(s);
}

/* What a section's tables cannot hold is dropped, keeping the preferred. */
static void more_codecs_and_extensions_than_kept(void **state)
{
    size_t cap = 8192, pos = 0;
    char *text = malloc(cap);
    pos += (size_t)snprintf(text + pos, cap - pos,
                            "v=0\nm=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 102 103 104 105 106 127\n");
    /* backwards, each fmtp before its rtpmap */
    for (int pt = 127; pt >= 96; pt--) {
        if (pt > 106 && pt != 127)
            continue;
        pos += (size_t)snprintf(text + pos, cap - pos, "a=fmtp:%d apt=%d;%0200d\n", pt, pt, 0);
        pos += (size_t)snprintf(text + pos, cap - pos, "a=rtpmap:%d c%d/90000\n", pt, pt);
    }
    for (int id = 1; id <= 12; id++)
        pos += (size_t)snprintf(text + pos, cap - pos, "a=extmap:%d urn:x:%d\n", id, id);
    pos += (size_t)snprintf(text + pos, cap - pos, "m=audio 9 RTP/AVP 0\n");
    lksdp *s = malloc(sizeof *s);
    char err[200];
    /* too long for the field: an error once a kept type's fmtp, not before */
    assert_int_equal(lksdp_parse(s, text, pos, err, sizeof err), -1);
    assert_non_null(strstr(err, "a=fmtp:103"));

    pos = (size_t)snprintf(text, cap,
                           "v=0\nm=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 102 103 104 105 106 127\n");
    for (int pt = 127; pt >= 96; pt--) {
        if (pt > 106 && pt != 127)
            continue;
        if (pt > 103)
            pos += (size_t)snprintf(text + pos, cap - pos, "a=fmtp:%d apt=%d;%0200d\n", pt, pt, 0);
        else
            pos += (size_t)snprintf(text + pos, cap - pos, "a=fmtp:%d apt=%d\n", pt, pt);
        pos += (size_t)snprintf(text + pos, cap - pos, "a=rtpmap:%d c%d/90000\n", pt, pt);
    }
    for (int id = 1; id <= 12; id++)
        pos += (size_t)snprintf(text + pos, cap - pos, "a=extmap:%d urn:x:%d\n", id, id);
    pos += (size_t)snprintf(text + pos, cap - pos, "m=audio 9 RTP/AVP 0\n");
    assert_int_equal(lksdp_parse(s, text, pos, err, sizeof err), 0);
    const lksdp_media *m = &s->media[0];
    assert_int_equal(m->n_fmts, LKSDP_MAX_CODECS);
    assert_int_equal(m->n_codecs, LKSDP_MAX_CODECS);
    for (unsigned i = 0; i < LKSDP_MAX_CODECS; i++) {
        char name[16], fmtp[16];
        snprintf(name, sizeof name, "c%u", 96 + i);
        snprintf(fmtp, sizeof fmtp, "apt=%u", 96 + i);
        assert_int_equal(m->fmts[i], 96 + i);
        assert_int_equal(m->codecs[i].pt, 96 + i);
        assert_string_equal(m->codecs[i].name, name);
        assert_string_equal(m->codecs[i].fmtp, fmtp);
        assert_int_equal(m->codecs[i].clock, 90000);
    }
    assert_null(lksdp_codec_find(m, "c127"));
    assert_int_equal(m->n_extmaps, LKSDP_MAX_EXTMAPS);
    assert_int_equal(lksdp_extmap_id(m, "urn:x:8"), 8);
    assert_int_equal(lksdp_extmap_id(m, "urn:x:9"), 0);
    /* the next section starts afresh */
    assert_int_equal(s->media[1].n_fmts, 1);
    assert_int_equal(s->media[1].n_codecs, 0);
    assert_int_equal(s->media[1].n_extmaps, 0);
    free(text);
    free(s);
}

static void offer_with_audio_reads_back(void **state)
{
    const char *cands[] = {"candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host generation 0",
                           "candidate:2 1 udp 2130706431 10.0.0.1 40001 typ host generation 0"};
    const lksdp_rtp_section rtp[] = {
        {.kind = "audio", .mid = "1", .direction = "sendonly",
         .track_id = "2860c5c8-5d35-43dc-83d2-e33cf8051d1c", .ssrc = 1418787604,
         .cname = "nf9eSS/M3bZ9RkhJ"},
        {.kind = "audio", .mid = "2", .direction = "recvonly"},
    };
    lksdp_offer o = {.session_id = 42, .version = 3, .ice_ufrag = "abcd",
                     .ice_pwd = "p4ssw0rdp4ssw0rdp4ssw0", .fingerprint = "sha-256 AA:BB",
                     .candidates = cands, .n_candidates = 2, .rtp = rtp, .n_rtp = 2};
    char buf[4096];
    size_t n = lksdp_write_offer(buf, sizeof buf, &o);
    assert_true(n > 0);
    assert_int_equal(strlen(buf), n);
    lksdp *s = malloc(sizeof *s);
    char err[200];
    assert_int_equal(lksdp_parse(s, buf, n, err, sizeof err), 0);
    assert_string_equal(s->bundle, "0 1 2");
    assert_int_equal(s->n_media, 3);
    static const char *const kinds[] = {"application", "audio", "audio"};
    static const char *const mids[] = {"0", "1", "2"};
    static const char *const dirs[] = {"sendrecv", "sendonly", "recvonly"};
    for (unsigned i = 0; i < 3; i++) {
        const lksdp_media *m = &s->media[i];
        assert_string_equal(m->kind, kinds[i]);
        assert_string_equal(m->mid, mids[i]);
        assert_string_equal(m->direction, dirs[i]);
        /* written in every section, not inherited from the session */
        assert_string_equal(m->ice_ufrag, "abcd");
        assert_string_equal(m->ice_pwd, "p4ssw0rdp4ssw0rdp4ssw0");
        assert_string_equal(m->fingerprint, "sha-256 AA:BB");
        assert_string_equal(m->setup, "actpass");
        if (i == 0)
            continue;
        assert_string_equal(m->proto, "UDP/TLS/RTP/SAVPF");
        assert_int_equal(m->n_fmts, 1);
        assert_int_equal(m->fmts[0], LKSDP_OPUS_PT);
        assert_int_equal(m->n_codecs, 1);
        assert_string_equal(m->codecs[0].name, "opus");
        assert_int_equal(m->codecs[0].clock, 48000);
        assert_int_equal(m->codecs[0].channels, 2);
        assert_string_equal(m->codecs[0].fmtp, "minptime=10;useinbandfec=1");
        assert_int_equal(m->n_extmaps, 1);
        assert_int_equal(lksdp_extmap_id(m, LKSDP_URI_AUDIO_LEVEL), LKSDP_EXT_AUDIO_LEVEL_ID);
    }
    assert_int_equal(s->media[1].ssrc, 1418787604u);
    assert_string_equal(s->media[1].msid, "- 2860c5c8-5d35-43dc-83d2-e33cf8051d1c");
    assert_int_equal(s->media[2].ssrc, 0);
    assert_string_equal(s->media[2].msid, "");
    /* candidates only where the bundled transport is */
    assert_int_equal(s->n_candidates, 2);
    assert_int_equal(s->candidates[0].media, 0);
    assert_int_equal(s->candidates[1].media, 0);
    /* pion ties an a=ssrc to the a=msid above it */
    const char *msid = strstr(buf, "a=msid:- 2860c5c8"), *ssrc = strstr(buf, "a=ssrc:1418787604 cname:");
    assert_non_null(msid);
    assert_non_null(ssrc);
    assert_true(msid < ssrc);
    assert_non_null(strstr(buf, "a=ssrc:1418787604 msid:- 2860c5c8-5d35-43dc-83d2-e33cf8051d1c\r\n"));
    assert_non_null(strstr(buf, "a=rtcp-mux\r\n"));
    /* plain Opus: no RED, and no sdes:mid */
    assert_null(strstr(buf, "red/"));
    assert_null(strstr(buf, "sdes"));
    /* too small a buffer, by any amount: refused, never overrun */
    for (size_t cap = 0; cap <= n; cap++) {
        char *b = malloc(cap ? cap : 1);
        assert_int_equal(lksdp_write_offer(b, cap, &o), 0);
        free(b);
    }
    assert_int_equal(lksdp_write_offer(buf, n + 1, &o), n);
    free(s);
}

/* A video section: VP8 on livekit-server's number, its feedback
 * (transport-cc and goog-remb included), no audio level extension; sending
 * (VP8 alone, with the transport-wide sequence number) and receiving (VP8
 * first, then H.264 in packetization mode 1, in four profiles;
 * abs-send-time, no sequence number), beside audio. */
static void offer_with_video_reads_back(void **state)
{
    const lksdp_rtp_section rtp[] = {
        {.kind = "video", .mid = "1", .direction = "sendonly", .track_id = "cam-1",
         .ssrc = 77, .cname = "cn"},
        {.kind = "video", .mid = "2", .direction = "recvonly"},
        {.kind = "audio", .mid = "3", .direction = "recvonly"},
    };
    lksdp_offer o = {.session_id = 1, .version = 1, .ice_ufrag = "abcd",
                     .ice_pwd = "p4ssw0rdp4ssw0rdp4ssw0", .fingerprint = "sha-256 AA:BB",
                     .rtp = rtp, .n_rtp = 3};
    char buf[4096];
    size_t n = lksdp_write_offer(buf, sizeof buf, &o);
    assert_true(n > 0);
    lksdp *s = malloc(sizeof *s);
    char err[200];
    assert_int_equal(lksdp_parse(s, buf, n, err, sizeof err), 0);
    assert_int_equal(s->n_media, 4);
    for (unsigned i = 1; i <= 2; i++) {
        const lksdp_media *m = &s->media[i];
        assert_string_equal(m->kind, "video");
        assert_int_equal(m->n_fmts, i == 1 ? 1 : 1 + LKSDP_H264_PROFILES);
        assert_int_equal(m->fmts[0], LKSDP_VP8_PT);
        const lksdp_codec *vp8 = lksdp_codec_find(m, "vp8");
        assert_non_null(vp8);
        assert_int_equal(vp8->clock, 90000);
        assert_int_equal(m->n_extmaps, 1);
        assert_int_equal(lksdp_extmap_id(m, LKSDP_URI_TWCC), i == 1 ? LKSDP_EXT_TWCC_ID : 0);
        assert_int_equal(lksdp_extmap_id(m, LKSDP_URI_ABS_SEND_TIME),
                         i == 2 ? LKSDP_EXT_ABS_SEND_TIME_ID : 0);
        assert_true(lksdp_has_transport_cc(m, LKSDP_VP8_PT));
        assert_true(lksdp_has_goog_remb(m, LKSDP_VP8_PT));
    }
    assert_true(lksdp_has_transport_cc(&s->media[2], LKSDP_H264_PT));
    assert_true(lksdp_has_goog_remb(&s->media[2], LKSDP_H264_PT));
    assert_false(lksdp_has_goog_remb(&s->media[3], LKSDP_OPUS_PT));
    assert_false(lksdp_has_transport_cc(&s->media[1], LKSDP_VP8_PT + 1));
    assert_int_equal(lksdp_has_transport_cc(&s->media[3], LKSDP_OPUS_PT), false);
    assert_null(lksdp_codec_find(&s->media[1], "H264"));
    static const char *const profiles[] = {"42e01f", "42001f", "4d001f", "640032"};
    for (unsigned k = 0; k < LKSDP_H264_PROFILES; k++) {
        const lksdp_codec *c = &s->media[2].codecs[1 + k];
        assert_int_equal(s->media[2].fmts[1 + k], LKSDP_H264_PT + k);
        assert_string_equal(c->name, "H264");
        assert_int_equal(c->clock, 90000);
        assert_true(lksdp_fmtp_has(c, "packetization-mode", "1"));
        assert_true(lksdp_fmtp_has(c, "profile-level-id", profiles[k]));
        char fb[40];
        snprintf(fb, sizeof fb, "a=rtcp-fb:%d nack pli\r\n", c->pt);
        assert_non_null(strstr(buf, fb));
    }
    assert_string_equal(s->media[1].direction, "sendonly");
    assert_int_equal(s->media[1].ssrc, 77);
    assert_string_equal(s->media[1].msid, "- cam-1");
    assert_string_equal(s->media[2].direction, "recvonly");
    assert_string_equal(s->media[3].kind, "audio");
    assert_non_null(lksdp_codec_find(&s->media[3], "opus"));
    /* NACK and keyframe requests, which our sender answers */
    assert_non_null(strstr(buf, "a=rtcp-fb:96 nack\r\n"));
    assert_non_null(strstr(buf, "a=rtcp-fb:96 nack pli\r\n"));
    assert_non_null(strstr(buf, "a=rtcp-fb:96 ccm fir\r\n"));
    assert_null(strstr(buf, "rtx/"));
    free(s);
}

/* transport-cc and goog-remb are read per payload type, or for all with
 * "*"; other feedback, and lines too odd to read, are passed over. */
static void transport_cc_feedback_is_read(void **state)
{
    static const char text[] =
        "v=0\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96 100\r\n"
        "a=rtcp-fb:96 nack\r\na=rtcp-fb:100 transport-cc\r\na=rtcp-fb:97 transport-ccx\r\n"
        "a=rtcp-fb:x transport-cc\r\na=rtcp-fb:200 transport-cc\r\na=rtcp-fb:96\r\n"
        "a=rtcp-fb:96 goog-remb\r\na=rtcp-fb:100 goog-rem\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        "a=rtcp-fb:* transport-cc\r\n";
    lksdp *s = malloc(sizeof *s);
    char err[200];
    assert_int_equal(lksdp_parse(s, text, sizeof text - 1, err, sizeof err), 0);
    for (unsigned pt = 0; pt < 128; pt++) {
        assert_int_equal(lksdp_has_transport_cc(&s->media[0], (uint8_t)pt), pt == 100);
        assert_int_equal(lksdp_has_goog_remb(&s->media[0], (uint8_t)pt), pt == 96);
        assert_false(lksdp_has_goog_remb(&s->media[1], (uint8_t)pt));
    }
    assert_true(lksdp_has_transport_cc(&s->media[1], 96));
    assert_true(lksdp_has_transport_cc(&s->media[1], 127));
    assert_false(lksdp_has_transport_cc(&s->media[1], 200));
    free(s);
}

static void unwritable_sections_are_refused(void **state)
{
    static const lksdp_rtp_section bad[] = {
        {.kind = "text", .mid = "1", .direction = "sendonly"},
        {.kind = NULL, .mid = "1", .direction = "sendonly"},
        {.kind = "audio", .mid = NULL, .direction = "sendonly"},
        {.kind = "audio", .mid = "", .direction = "sendonly"},
        {.kind = "audio", .mid = "1 2", .direction = "sendonly"},
        {.kind = "audio", .mid = "1", .direction = "sideways"},
        {.kind = "audio", .mid = "1", .direction = NULL},
        {.kind = "audio", .mid = "1", .direction = "sendonly", .track_id = "a\r\na=x"},
        {.kind = "audio", .mid = "1", .direction = "sendonly", .ssrc = 5},
        {.kind = "audio", .mid = "1", .direction = "sendonly", .ssrc = 5, .cname = "a b"},
    };
    char buf[4096];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lksdp_offer o = {.ice_ufrag = "u", .ice_pwd = "p", .fingerprint = "sha-256 AA",
                         .rtp = &bad[i], .n_rtp = 1};
        if (lksdp_write_offer(buf, sizeof buf, &o) != 0)
            fail_msg("section %zu written", i);
    }
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
        /* RTP sections */
        {"v=0\nm=audio 9 RTP/AVP 128\n", "line 2"},
        {"v=0\nm=audio 9 RTP/AVP 111 opus\n", "line 2"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:128 x/8000\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:111\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:111 opus\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:111 /48000\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:111 opus/\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:111 opus/0\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:111 opus/48000/\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:111 opus/48000/256\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:x opus/48000\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:111 a-name-longer-than-15/48000\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:112 op us/48000\n", "line 3"}, /* skipped type, still checked */
        {"v=0\nm=audio 9 RTP/AVP 111\na=fmtp:111\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=fmtp:300 x=1\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=fmtp: x=1\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=extmap:0 urn:x\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=extmap:256 urn:x\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=extmap:1\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=extmap:1 \n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=extmap:1/sideways urn:x\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=extmap:x urn:x\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=ssrc:12\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=ssrc:12 \n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=ssrc:x cname:a\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=ssrc:4294967296 cname:a\n", "line 3"},
        {"v=0\nm=audio 9 RTP/AVP 111\na=msid:\n", "line 3"},
    };
    lksdp *s = malloc(sizeof *s);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[200] = "";
        if (lksdp_parse(s, bad[i].text, strlen(bad[i].text), err, sizeof err) != -1)
            fail_msg("accepted: %s", bad[i].text);
        if (!strstr(err, bad[i].where))
            fail_msg("%s -> %s", bad[i].text, err);
    }
    /* values too long for their field, in a kept slot */
    static const char *const oversized[] = {"a=fmtp:111 %0128d", "a=extmap:1 urn:%096d",
                                            "a=msid:- %0128d"};
    for (size_t i = 0; i < sizeof oversized / sizeof *oversized; i++) {
        char text[512], line[300], err[200] = "";
        snprintf(line, sizeof line, oversized[i], 0);
        int n = snprintf(text, sizeof text, "v=0\nm=audio 9 RTP/AVP 111\na=mid:1\n%s\n", line);
        if (lksdp_parse(s, text, (size_t)n, err, sizeof err) != -1)
            fail_msg("accepted: %s", line);
        if (!strstr(err, "line 4"))
            fail_msg("%s -> %s", line, err);
    }
    /* the longest that fit */
    char text[512], err[200];
    int n = snprintf(text, sizeof text, "v=0\nm=audio 9 RTP/AVP 111\na=fmtp:111 %0127d\n"
                     "a=extmap:1 urn:%091d\na=msid:- %0125d\n", 0, 0, 0);
    assert_int_equal(lksdp_parse(s, text, (size_t)n, err, sizeof err), 0);
    assert_int_equal(strlen(s->media[0].msid), 127);
    assert_int_equal(strlen(s->media[0].extmaps[0].uri), 95);
    free(s);
}

static void bounded_sections_and_candidates(void **state)
{
    size_t cap = 200000, pos = 0;
    char *text = malloc(cap);
    pos += (size_t)snprintf(text + pos, cap - pos, "v=0\n");
    for (int i = 0; i < LKSDP_MAX_MEDIA + 1; i++)
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

static void msid_splits_into_stream_and_track(void **state)
{
    char stream[16], track[16];
    assert_true(lksdp_msid_split("PA_x|TR_y TR_y", stream, sizeof stream, track, sizeof track));
    assert_string_equal(stream, "PA_x|TR_y");
    assert_string_equal(track, "TR_y");
    const char *bad[] = {"", "one", " lead", "trail ", "a b c", "0123456789abcdef x",
                         "x 0123456789abcdef"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(lksdp_msid_split(bad[i], stream, sizeof stream, track, sizeof track));
        assert_string_equal(stream, "");
        assert_string_equal(track, "");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_a_server_answer),
        cmocka_unit_test(reads_the_answer_to_a_published_mic),
        cmocka_unit_test(reads_a_subscribed_section),
        cmocka_unit_test(more_codecs_and_extensions_than_kept),
        cmocka_unit_test(offer_reads_back),
        cmocka_unit_test(offer_with_audio_reads_back),
        cmocka_unit_test(offer_with_video_reads_back),
        cmocka_unit_test(transport_cc_feedback_is_read),
        cmocka_unit_test(unwritable_sections_are_refused),
        cmocka_unit_test(malformed_input_names_its_line),
        cmocka_unit_test(bounded_sections_and_candidates),
        cmocka_unit_test(msid_splits_into_stream_and_track),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
