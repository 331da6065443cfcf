/* Two of our PeerConnections over in-memory datagrams: offer and answer,
 * then ICE, DTLS and SCTP come up by themselves; the offerer's channels
 * (named as LiveKit names them) open on the answerer, messages cross both
 * ways, the answerer's own channel opens on the offerer; a bad answer is
 * refused with a reason; a re-offer adds an audio sender whose RTP then
 * leaves as SRTP, also while ICE consent has lapsed, not once it expired;
 * an ICE restart selects a pair again under DTLS and SCTP as they were;
 * the stats count every datagram each way and name the selected pair, the
 * DTLS role and ciphers, and the channels. Real clock (DTLS timers are
 * OpenSSL's); every wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer.h"
#include "sdp.h"
#include "srtp.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct side {
    lkpeer *p;
    struct sockaddr_in addr;
    struct side *other;
    struct {
        uint8_t data[1500];
        size_t len;
    } q[512];
    int head, tail;
    enum lkpeer_state state;
    char why[200];
    char opened[4][32];
    int n_opened;
    int messages;
    char last[64];
    bool last_binary;
    uint64_t sent, sent_bytes, received, received_bytes; /* every datagram */
    int media_sent; /* SRTP/SRTCP datagrams (first byte 128-191) */
    size_t media_len;
    int rtp_in, rtcp_in, rtp_section;
    uint8_t rtp[64];
    size_t rtp_len;
} side;

static void on_send(void *ctx, unsigned local, const struct sockaddr *to, socklen_t tolen,
                    const uint8_t *data, size_t len)
{
    side *s = ctx;
    side *o = s->other;
    s->sent++;
    s->sent_bytes += len;
    if (len && data[0] >= 128 && data[0] <= 191) {
        s->media_sent++;
        s->media_len = len;
    }
    const struct sockaddr_in *dst = (const struct sockaddr_in *)to;
    if (dst->sin_port != o->addr.sin_port || len > 1500 || o->tail - o->head >= 512)
        return; /* not routed (or the queue is full: the network drops it) */
    memcpy(o->q[o->tail % 512].data, data, len);
    o->q[o->tail++ % 512].len = len;
}

static void on_state(void *ctx, enum lkpeer_state st, const char *why)
{
    side *s = ctx;
    s->state = st;
    snprintf(s->why, sizeof s->why, "%s", why ? why : "");
}

static void on_open(void *ctx, uint16_t id, const char *label)
{
    side *s = ctx;
    if (s->n_opened < 4)
        snprintf(s->opened[s->n_opened++], 32, "%s", label);
}

static void on_message(void *ctx, uint16_t id, bool binary, const uint8_t *data, size_t len)
{
    side *s = ctx;
    s->messages++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)len, (const char *)data);
    s->last_binary = binary;
}

static void on_rtp(void *ctx, int section, const uint8_t *pkt, size_t len)
{
    side *s = ctx;
    s->rtp_in++;
    s->rtp_section = section;
    s->rtp_len = len < sizeof s->rtp ? len : sizeof s->rtp;
    memcpy(s->rtp, pkt, s->rtp_len);
}

static void on_rtcp(void *ctx, const uint8_t *pkt, size_t len)
{
    side *s = ctx;
    s->rtcp_in++;
}

static void make(side *s, side *other, const char *ip, uint16_t port)
{
    memset(s, 0, sizeof *s);
    s->other = other;
    s->addr.sin_family = AF_INET;
    s->addr.sin_port = htons(port);
    inet_pton(AF_INET, ip, &s->addr.sin_addr);
    lkpeer_callbacks cb = {s, on_send, on_state, on_open, on_message, NULL, NULL, on_rtp, on_rtcp};
    s->p = lkpeer_new(&cb);
    assert_non_null(s->p);
    assert_int_equal(lkpeer_add_local(s->p, (struct sockaddr *)&s->addr, sizeof s->addr), 0);
}

static void pump(side *a, side *b, bool (*done)(side *, side *))
{
    uint64_t start = now_ns();
    while (!done(a, b) && now_ns() - start < 10000000000u) {
        side *all[2] = {a, b};
        bool moved = false;
        for (int k = 0; k < 2; k++)
            while (all[k]->head != all[k]->tail) {
                int i = all[k]->head++ % 512;
                all[k]->received++;
                all[k]->received_bytes += all[k]->q[i].len;
                lkpeer_on_datagram(all[k]->p, now_ns(), 0,
                                   (struct sockaddr *)&all[k]->other->addr,
                                   sizeof all[k]->other->addr, all[k]->q[i].data,
                                   all[k]->q[i].len);
                moved = true;
            }
        for (int k = 0; k < 2; k++)
            if (lkpeer_next_deadline(all[k]->p, now_ns()) <= now_ns())
                lkpeer_on_timeout(all[k]->p, now_ns());
        if (!moved) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

static bool connected(side *a, side *b)
{
    return a->state == LKPEER_CONNECTED && b->state == LKPEER_CONNECTED;
}

static bool channels_open(side *a, side *b)
{
    return a->n_opened >= 2 && b->n_opened >= 2;
}

static bool messages_in(side *a, side *b)
{
    return a->messages >= 1 && b->messages >= 1;
}

static bool third_open(side *a, side *b)
{
    return a->n_opened >= 3;
}

static void negotiate(side *a, side *b)
{
    char offer[4096], answer[4096], err[200];
    size_t n = lkpeer_create_offer(a->p, offer, sizeof offer);
    assert_true(n > 0);
    assert_non_null(strstr(offer, "a=setup:actpass"));
    assert_int_equal(lkpeer_set_offer(b->p, offer, n, now_ns(), err, sizeof err), 0);
    n = lkpeer_create_answer(b->p, answer, sizeof answer);
    assert_true(n > 0);
    assert_non_null(strstr(answer, "a=setup:active"));
    assert_int_equal(lkpeer_set_answer(a->p, answer, n, now_ns(), err, sizeof err), 0);
}

static void offer_answer_connect_and_carry_data(void **state)
{
    side a, b;
    make(&a, &b, "10.0.0.1", 5001);
    make(&b, &a, "10.0.0.2", 5002);
    negotiate(&a, &b);
    lkdc_options lossy = {.reliability = LKSCTP_MAX_RETRANSMITS, .value = 0};
    int reliable_id = lkpeer_open_channel(a.p, "_reliable", NULL, now_ns());
    int lossy_id = lkpeer_open_channel(a.p, "_lossy", &lossy, now_ns());
    assert_true(reliable_id >= 0 && lossy_id >= 0);
    /* the offerer is the DTLS server: its channel ids are odd */
    assert_int_equal(reliable_id % 2, 1);

    pump(&a, &b, connected);
    if (!connected(&a, &b))
        fail_msg("not connected: offerer %d (%s), answerer %d (%s)", a.state, a.why, b.state, b.why);
    assert_int_equal(a.state, LKPEER_CONNECTED);
    assert_int_equal(b.state, LKPEER_CONNECTED);
    pump(&a, &b, channels_open);
    assert_int_equal(b.n_opened, 2);
    assert_string_equal(b.opened[0], "_reliable");
    assert_string_equal(b.opened[1], "_lossy");

    assert_int_equal(lkpeer_send(a.p, (uint16_t)reliable_id, true, (const uint8_t *)"to b", 4, now_ns()), 0);
    assert_int_equal(lkpeer_send(b.p, (uint16_t)reliable_id, false, (const uint8_t *)"to a", 4, now_ns()), 0);
    pump(&a, &b, messages_in);
    assert_string_equal(b.last, "to b");
    assert_true(b.last_binary);
    assert_string_equal(a.last, "to a");
    assert_false(a.last_binary);

    int from_b = lkpeer_open_channel(b.p, "chat", NULL, now_ns());
    assert_int_equal(from_b % 2, 0);
    pump(&a, &b, third_open);
    assert_string_equal(a.opened[2], "chat");

    side *both[2] = {&a, &b};
    for (int k = 0; k < 2; k++) {
        side *s = both[k];
        lkpeer_stats st;
        lkpeer_get_stats(s->p, &st);
        assert_int_equal(st.state, LKPEER_CONNECTED);
        assert_int_equal(st.n.packets_sent, s->sent);
        assert_int_equal(st.n.bytes_sent, s->sent_bytes);
        assert_int_equal(st.n.packets_received, s->received);
        assert_int_equal(st.n.bytes_received, s->received_bytes);
        assert_int_equal(st.ice_state, LKICE_CONNECTED);
        assert_int_equal(st.ice_controlling, k == 0); /* the offerer controls */
        assert_int_equal(strlen(st.ice_ufrag), 8);
        assert_true(st.have_pair);
        assert_int_equal(st.pair_changes, 1);
        const struct sockaddr_in *l = (const struct sockaddr_in *)&st.pair.local.addr;
        const struct sockaddr_in *r = (const struct sockaddr_in *)&st.pair.remote.addr;
        assert_int_equal(l->sin_port, s->addr.sin_port);
        assert_int_equal(r->sin_port, s->other->addr.sin_port);
        assert_int_equal(st.dtls.state, LKDTLS_CONNECTED);
        assert_int_equal(st.dtls.client, k == 1); /* the answerer is the DTLS client */
        assert_string_equal(st.dtls.version, "FEFD");
        assert_string_equal(st.dtls.srtp_cipher, "AEAD_AES_128_GCM");
        assert_int_equal(st.channels_opened, 3);
        assert_int_equal(st.channels_closed, 0);
        lkdc_channel_info ch[4];
        assert_int_equal(lkpeer_channels(s->p, ch, 4), 3);
        for (int i = 0; i < 3; i++)
            if (ch[i].id == reliable_id) {
                assert_string_equal(ch[i].label, "_reliable");
                assert_int_equal(ch[i].n.messages_sent, 1);
                assert_int_equal(ch[i].n.messages_received, 1);
                assert_int_equal(ch[i].n.bytes_sent, 4);
            }
    }

    lkpeer_close(a.p, now_ns());
    assert_int_equal(a.state, LKPEER_CLOSED);
    lkpeer_free(a.p);
    lkpeer_free(b.p);
}

static void unusable_answers_are_refused(void **state)
{
    side a, b;
    make(&a, &b, "10.0.0.1", 5001);
    make(&b, &a, "10.0.0.2", 5002);
    char offer[4096], err[200];
    lkpeer_create_offer(a.p, offer, sizeof offer);
    const char *no_data = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
    assert_int_equal(lkpeer_set_answer(a.p, no_data, strlen(no_data), now_ns(), err, sizeof err), -1);
    assert_non_null(strstr(err, "no data section"));
    const char *no_creds = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=setup:active\r\n";
    assert_int_equal(lkpeer_set_answer(a.p, no_creds, strlen(no_creds), now_ns(), err, sizeof err), -1);
    assert_non_null(strstr(err, "credentials"));
    const char *actpass = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                          "a=setup:actpass\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdabcdabcdabcdabcdabcd\r\n"
                          "a=fingerprint:sha-256 AA\r\n";
    assert_int_equal(lkpeer_set_answer(a.p, actpass, strlen(actpass), now_ns(), err, sizeof err), -1);
    assert_non_null(strstr(err, "setup"));
    const char *garbage = "hello";
    assert_int_equal(lkpeer_set_answer(a.p, garbage, 5, now_ns(), err, sizeof err), -1);
    lkpeer_free(a.p);
    lkpeer_free(b.p);
}

/* The server's answer to a re-offer with one audio sender (mid 1): the
 * answerer's own data section, then what livekit-server answers for a
 * published microphone (RED preferred, Opus asked for DTX). */
static size_t answer_with_audio(side *b, char *out, size_t cap, const char *direction)
{
    size_t n = lkpeer_create_answer(b->p, out, cap);
    assert_true(n > 0);
    int k = snprintf(out + n, cap - n,
                     "m=audio 9 UDP/TLS/RTP/SAVPF 63 111 0 8\r\n"
                     "a=mid:1\r\na=rtcp-mux\r\n"
                     "a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n"
                     "a=rtpmap:111 opus/48000/2\r\n"
                     "a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n"
                     "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
                     "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
                     "a=%s\r\n",
                     direction);
    assert_true(k > 0 && (size_t)k < cap - n);
    return n + (size_t)k;
}

/* The server's answer for a recvonly section it sends a subscribed track
 * on (as livekit-server writes it), or leaves idle (ssrc 0). */
static size_t answer_sending_audio(side *b, char *out, size_t cap, uint32_t ssrc)
{
    size_t n = lkpeer_create_answer(b->p, out, cap);
    assert_true(n > 0);
    int k = snprintf(out + n, cap - n,
                     "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
                     "a=mid:1\r\na=rtcp-mux\r\n"
                     "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
                     "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n");
    assert_true(k > 0);
    n += (size_t)k;
    if (ssrc) {
        k = snprintf(out + n, cap - n,
                     "a=ssrc:%u cname:PA_x|TR_AMy\r\n"
                     "a=ssrc:%u msid:PA_x|TR_AMy TR_AMy\r\n"
                     "a=msid:PA_x|TR_AMy TR_AMy\r\n",
                     ssrc, ssrc);
        assert_true(k > 0);
        n += (size_t)k;
    }
    k = snprintf(out + n, cap - n, "a=sendonly\r\n");
    assert_true(k > 0 && (size_t)k < cap - n);
    return n + (size_t)k;
}

static bool rtp_arrived(side *a, side *b)
{
    return a->rtp_in > 0 && a->rtcp_in > 0;
}

static bool delivered(side *a, side *b)
{
    return a->head == a->tail && b->head == b->tail;
}

/* Video sections offer VP8 (receivers H.264 too) and negotiate it from
 * livekit-server's answer (which may add RTX, which we ignore); a
 * receiver answered with H.264 in packetization mode 1 alone is
 * negotiated for H.264; one answered with neither is not. */
static void video_sections_negotiate_vp8(void **state)
{
    side a, b;
    make(&a, &b, "10.0.0.1", 5001);
    make(&b, &a, "10.0.0.2", 5002);
    int r = lkpeer_add_video_receiver(a.p);
    int s = lkpeer_add_video_sender(a.p, "cam-1", 4242);
    int x = lkpeer_add_video_receiver(a.p);
    int h = lkpeer_add_video_receiver(a.p);
    assert_int_equal(r, 0);
    assert_int_equal(s, 1);
    assert_true(lkpeer_section_is_video(a.p, r) && lkpeer_section_is_video(a.p, s));
    assert_true(lkpeer_section_is_video(a.p, h));
    assert_false(lkpeer_section_is_video(a.p, 4));
    char offer[8192], answer[8192], err[200];
    size_t n = lkpeer_create_offer(a.p, offer, sizeof offer);
    assert_non_null(strstr(offer, "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"));
    assert_non_null(strstr(offer, "a=msid:- cam-1\r\n"));
    assert_non_null(strstr(offer, "a=rtpmap:96 VP8/90000\r\n"));
    assert_int_equal(lkpeer_set_offer(b.p, offer, n, now_ns(), err, sizeof err), 0);
    n = lkpeer_create_answer(b.p, answer, sizeof answer);
    int k = snprintf(answer + n, sizeof answer - n,
                     "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:1\r\na=rtcp-mux\r\n"
                     "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\n"
                     "a=rtcp-fb:96 transport-cc\r\na=extmap:5 " LKSDP_URI_TWCC "\r\n"
                     "a=rtcp-fb:96 goog-remb\r\na=extmap:2 " LKSDP_URI_ABS_SEND_TIME "\r\n"
                     "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
                     "a=ssrc:9001 cname:PA_x|TR_VC\r\na=msid:PA_x|TR_VC TR_VC\r\n"
                     "a=sendonly\r\n"
                     "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=rtcp-mux\r\n"
                     "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 transport-cc\r\n"
                     "a=extmap:7 " LKSDP_URI_TWCC "\r\na=extmap:2 " LKSDP_URI_ABS_SEND_TIME
                     "\r\na=recvonly\r\n"
                     "m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=mid:3\r\na=rtcp-mux\r\n"
                     "a=rtpmap:102 H264/90000\r\na=sendonly\r\n"
                     "m=video 9 UDP/TLS/RTP/SAVPF 97 99\r\na=mid:4\r\na=rtcp-mux\r\n"
                     "a=rtpmap:97 H264/90000\r\n"
                     "a=fmtp:97 level-asymmetry-allowed=1;packetization-mode=1;"
                     "profile-level-id=42e01f\r\n"
                     "a=rtpmap:99 H264/90000\r\n"
                     "a=fmtp:99 packetization-mode=0;profile-level-id=42001f\r\n"
                     "a=sendonly\r\n");
    assert_true(k > 0 && (size_t)k < sizeof answer - n);
    n += (size_t)k;
    assert_int_equal(lkpeer_set_answer(a.p, answer, n, now_ns(), err, sizeof err), 0);
    uint32_t ssrc;
    const char *msid;
    assert_true(lkpeer_receiver(a.p, r, &ssrc, &msid));
    assert_int_equal(ssrc, 9001);
    assert_string_equal(msid, "PA_x|TR_VC TR_VC");
    assert_true(lkpeer_section_params(a.p, r)->negotiated);
    assert_int_equal(lkpeer_section_params(a.p, r)->payload_type, 96);
    assert_true(lkpeer_section_params(a.p, s)->negotiated);
    assert_int_equal(lkpeer_section_params(a.p, s)->payload_type, 96);
    /* TWCC: the sender's id is the answer's; a receiver never stamps */
    assert_int_equal(lkpeer_section_params(a.p, s)->ext_twcc, 7);
    assert_int_equal(lkpeer_section_params(a.p, r)->ext_twcc, 0);
    /* REMB: a receiver reads abs-send-time where goog-remb is kept; a
     * sender, or a receiver without goog-remb, does not */
    assert_int_equal(lkpeer_section_params(a.p, r)->ext_abs_send_time, 2);
    assert_int_equal(lkpeer_section_params(a.p, s)->ext_abs_send_time, 0);
    assert_int_equal(lkpeer_section_params(a.p, h)->ext_abs_send_time, 0);
    assert_false(lkpeer_section_params(a.p, x)->negotiated); /* H.264, mode 0 */
    const lkpeer_rtp_params *hp = lkpeer_section_params(a.p, h);
    assert_true(hp->negotiated);
    assert_int_equal(hp->payload_type, 0);
    assert_true(lkpeer_is_h264(hp, 97));
    assert_false(lkpeer_is_h264(hp, 99) || lkpeer_is_h264(hp, 96));
    assert_false(lkpeer_is_h264(lkpeer_section_params(a.p, r), 97));
    /* a receiver offers H.264 after VP8; a sender VP8 alone */
    assert_non_null(strstr(offer, "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100\r\n"));
    lkpeer_free(a.p);
    lkpeer_free(b.p);
}

static void receiver_gets_the_servers_rtp(void **state)
{
    side a, b;
    make(&a, &b, "10.0.0.1", 5001);
    make(&b, &a, "10.0.0.2", 5002);
    /* in the first offer: a recvonly section, answered with a track */
    int r = lkpeer_add_audio_receiver(a.p);
    assert_int_equal(r, 0);
    char offer[8192], answer[8192], err[200];
    size_t n = lkpeer_create_offer(a.p, offer, sizeof offer);
    assert_non_null(strstr(offer, "a=recvonly\r\n"));
    assert_null(strstr(offer, "a=ssrc:"));
    assert_int_equal(lkpeer_set_offer(b.p, offer, n, now_ns(), err, sizeof err), 0);
    n = answer_sending_audio(&b, answer, sizeof answer, 555);
    assert_int_equal(lkpeer_set_answer(a.p, answer, n, now_ns(), err, sizeof err), 0);
    uint32_t ssrc;
    const char *msid;
    assert_true(lkpeer_receiver(a.p, r, &ssrc, &msid));
    assert_int_equal(ssrc, 555);
    assert_string_equal(msid, "PA_x|TR_AMy TR_AMy");
    assert_true(lkpeer_section_params(a.p, r)->negotiated);
    assert_int_equal(lkpeer_section_params(a.p, r)->payload_type, 111);
    pump(&a, &b, connected);
    assert_true(connected(&a, &b));

    /* b sends as the server would: RTP on that SSRC, one on another, RTCP */
    uint8_t pkt[64 + LKSRTP_MAX_TRAILER] = {0x80, 111, 0x12, 0x34, 0, 0, 0, 9, 0, 0, 0x02, 0x2b,
                                             'o', 'p', 'u', 's'};
    uint8_t other[64 + LKSRTP_MAX_TRAILER];
    memcpy(other, pkt, 16);
    other[11] = 0x2c; /* SSRC 556: not in the answer */
    uint8_t sr[64 + LKSRTP_MAX_TRAILER] = {0x80, 200, 0, 6, 0, 0, 0x02, 0x2b};
    assert_int_equal(lkpeer_send_rtp(b.p, other, 16, sizeof other), 0);
    assert_int_equal(lkpeer_send_rtp(b.p, pkt, 16, sizeof pkt), 0);
    assert_int_equal(lkpeer_send_rtcp(b.p, sr, 28, sizeof sr), 0);
    pump(&a, &b, rtp_arrived);
    assert_int_equal(a.rtp_in, 1);
    assert_int_equal(a.rtp_section, r);
    assert_int_equal(a.rtp_len, 16);
    assert_memory_equal(a.rtp, "\x80\x6f\x12\x34\0\0\0\x09\0\0\x02\x2bopus", 16);
    assert_int_equal(a.rtcp_in, 1);

    /* the track leaves: the section goes idle, its SSRC is no longer taken */
    n = lkpeer_create_offer(a.p, offer, sizeof offer);
    n = answer_sending_audio(&b, answer, sizeof answer, 0);
    assert_int_equal(lkpeer_set_answer(a.p, answer, n, now_ns(), err, sizeof err), 0);
    assert_true(lkpeer_receiver(a.p, r, &ssrc, &msid));
    assert_int_equal(ssrc, 0);
    assert_string_equal(msid, "");
    pkt[3] = 0x35;
    assert_int_equal(lkpeer_send_rtp(b.p, pkt, 16, sizeof pkt), 0);
    pump(&a, &b, delivered);
    assert_int_equal(a.rtp_in, 1);
    lkpeer_free(a.p);
    lkpeer_free(b.p);
}

static bool both_reselected(side *a, side *b)
{
    lkpeer_stats sa, sb;
    lkpeer_get_stats(a->p, &sa);
    lkpeer_get_stats(b->p, &sb);
    return sa.pair_changes >= 2 && sb.pair_changes >= 2;
}

/* An ICE restart (a resume): new credentials both ways, checks start over
 * and select a pair again, while DTLS, SCTP and the open channel go on
 * untouched: no state change, no channel opened again, and a message
 * sent during the restart arrives. */
static void ice_restart_keeps_dtls_and_channels(void **state)
{
    side a, b;
    make(&a, &b, "10.0.0.1", 5001);
    make(&b, &a, "10.0.0.2", 5002);
    negotiate(&a, &b);
    int reliable_id = lkpeer_open_channel(a.p, "_reliable", NULL, now_ns());
    pump(&a, &b, connected);
    assert_true(connected(&a, &b));
    pump(&a, &b, delivered);
    assert_int_equal(b.n_opened, 1);
    lkpeer_stats st;
    lkpeer_get_stats(a.p, &st);
    char old_ufrag[32];
    snprintf(old_ufrag, sizeof old_ufrag, "%s", st.ice_ufrag);

    lkpeer_restart_ice(a.p);
    char offer[4096], answer[4096], err[200], line[64];
    size_t n = lkpeer_create_offer(a.p, offer, sizeof offer);
    assert_true(n > 0);
    snprintf(line, sizeof line, "a=ice-ufrag:%s\r\n", old_ufrag);
    assert_null(strstr(offer, line));
    assert_int_equal(lkpeer_send(a.p, (uint16_t)reliable_id, true, (const uint8_t *)"during", 6,
                                 now_ns()),
                     0);
    assert_int_equal(lkpeer_set_offer(b.p, offer, n, now_ns(), err, sizeof err), 0);
    n = lkpeer_create_answer(b.p, answer, sizeof answer);
    assert_true(n > 0);
    assert_int_equal(lkpeer_set_answer(a.p, answer, n, now_ns(), err, sizeof err), 0);
    pump(&a, &b, both_reselected);
    assert_true(both_reselected(&a, &b));
    assert_int_equal(a.state, LKPEER_CONNECTED);
    assert_int_equal(b.state, LKPEER_CONNECTED);
    pump(&a, &b, delivered);
    assert_int_equal(b.n_opened, 1);
    assert_string_equal(b.last, "during");

    /* the same offer again is not a restart: refused, nothing changes */
    assert_int_equal(lkpeer_set_offer(b.p, offer, strlen(offer), now_ns(), err, sizeof err), -1);
    assert_non_null(strstr(err, "ICE restart"));
    assert_int_equal(lkpeer_send(a.p, (uint16_t)reliable_id, true, (const uint8_t *)"after", 5,
                                 now_ns()),
                     0);
    pump(&a, &b, delivered);
    assert_string_equal(b.last, "after");
    lkpeer_free(a.p);
    lkpeer_free(b.p);
}

static void renegotiation_adds_audio_sent_as_srtp(void **state)
{
    side a, b;
    make(&a, &b, "10.0.0.1", 5001);
    make(&b, &a, "10.0.0.2", 5002);
    uint8_t pkt[64 + LKSRTP_MAX_TRAILER] = {0x80, 111, 0, 1, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44};
    assert_int_equal(lkpeer_send_rtp(a.p, pkt, 16, sizeof pkt), -ENOTCONN);
    negotiate(&a, &b);
    int reliable_id = lkpeer_open_channel(a.p, "_reliable", NULL, now_ns());
    pump(&a, &b, connected);
    assert_true(connected(&a, &b));
    assert_null(lkpeer_media_error(a.p));

    /* a sender: in the next offer, sendonly with its track id and SSRC */
    int s = lkpeer_add_audio_sender(a.p, "track-1", 0x11223344);
    assert_int_equal(s, 0);
    assert_false(lkpeer_section_params(a.p, s)->negotiated);
    char offer[8192], answer[8192], err[200];
    size_t n = lkpeer_create_offer(a.p, offer, sizeof offer);
    assert_true(n > 0);
    assert_true(lkpeer_offer_pending(a.p));
    assert_non_null(strstr(offer, "a=group:BUNDLE 0 1\r\n"));
    assert_non_null(strstr(offer, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
    assert_non_null(strstr(offer, "a=mid:1\r\n"));
    assert_non_null(strstr(offer, "a=sendonly\r\n"));
    assert_non_null(strstr(offer, "a=msid:- track-1\r\n"));
    char ssrc_line[80];
    snprintf(ssrc_line, sizeof ssrc_line, "a=ssrc:287454020 cname:%s\r\n", lkpeer_cname(a.p));
    assert_non_null(strstr(offer, ssrc_line));

    /* the answer renegotiates media only: the connection stays up */
    n = answer_with_audio(&b, answer, sizeof answer, "recvonly");
    assert_int_equal(lkpeer_set_answer(a.p, answer, n, now_ns(), err, sizeof err), 0);
    assert_false(lkpeer_offer_pending(a.p));
    assert_int_equal(lkpeer_set_answer(a.p, answer, n, now_ns(), err, sizeof err), -1);
    const lkpeer_rtp_params *rp = lkpeer_section_params(a.p, s);
    assert_true(rp->negotiated);
    assert_int_equal(rp->payload_type, 111);
    assert_int_equal(rp->ext_audio_level, 1);
    assert_true(rp->dtx && rp->fec);
    assert_false(rp->stereo);
    assert_int_equal(a.state, LKPEER_CONNECTED);
    assert_int_equal(lkpeer_send(a.p, (uint16_t)reliable_id, true, (const uint8_t *)"still", 5,
                                 now_ns()),
                     0);
    pump(&a, &b, messages_in);
    assert_string_equal(b.last, "still");

    /* RTP leaves protected: the packet grows by its tag */
    assert_int_equal(lkpeer_send_rtp(a.p, pkt, 16, sizeof pkt), 0);
    assert_int_equal(a.media_sent, 1);
    assert_true(a.media_len > 16);
    assert_int_equal(lkpeer_send_rtp(a.p, pkt, 16, 16), -EINVAL); /* no room for the tag */

    /* stopped: recvonly without an SSRC from the next offer on */
    lkpeer_stop_sender(a.p, s);
    n = lkpeer_create_offer(a.p, offer, sizeof offer);
    assert_true(n > 0);
    assert_non_null(strstr(offer, "a=recvonly\r\n"));
    assert_null(strstr(offer, "a=ssrc:"));
    n = answer_with_audio(&b, answer, sizeof answer, "inactive");
    assert_int_equal(lkpeer_set_answer(a.p, answer, n, now_ns(), err, sizeof err), 0);
    assert_false(lkpeer_section_params(a.p, s)->negotiated);

    /* sections are never reused: the next sender gets mid 2 */
    assert_int_equal(lkpeer_add_audio_sender(a.p, "track-2", 7), 1);
    n = lkpeer_create_offer(a.p, offer, sizeof offer);
    assert_non_null(strstr(offer, "a=group:BUNDLE 0 1 2\r\n"));

    /* b goes silent: once consent lapses (10 s) the peer is disconnected,
     * yet media still leaves until consent expires (30 s, RFC 7675) */
    uint64_t t0 = now_ns();
    int sent = a.media_sent;
    lkpeer_on_timeout(a.p, t0 + 11000000000u);
    assert_int_equal(a.state, LKPEER_DISCONNECTED);
    assert_int_equal(lkpeer_send_rtp(a.p, pkt, 16, sizeof pkt), 0);
    assert_int_equal(a.media_sent, sent + 1);
    lkpeer_on_timeout(a.p, t0 + 31000000000u);
    assert_int_equal(a.state, LKPEER_FAILED);
    assert_int_equal(lkpeer_send_rtp(a.p, pkt, 16, sizeof pkt), -ENOTCONN);
    assert_int_equal(a.media_sent, sent + 1);
    lkpeer_free(a.p);
    lkpeer_free(b.p);
}

/* A room with many speakers: every section the peer allows fits in an
 * offer our own parser (and so the answer's) reads back. */
static void sections_up_to_the_limit(void **state)
{
    side a, b;
    make(&a, &b, "10.0.0.1", 5001);
    for (int i = 0; i < LKPEER_MAX_SECTIONS; i++)
        assert_int_equal(i % 2 ? lkpeer_add_audio_receiver(a.p)
                               : lkpeer_add_audio_sender(a.p, "t", (uint32_t)i + 1),
                         i);
    assert_int_equal(lkpeer_add_audio_receiver(a.p), -1);
    assert_int_equal(lkpeer_add_audio_sender(a.p, "t", 99), -1);
    static char offer[131072];
    size_t n = lkpeer_create_offer(a.p, offer, sizeof offer);
    assert_true(n > 0);
    static lksdp parsed;
    char err[200];
    assert_int_equal(lksdp_parse(&parsed, offer, n, err, sizeof err), 0);
    assert_int_equal(parsed.n_media, LKPEER_MAX_SECTIONS + 1);
    assert_string_equal(parsed.media[LKPEER_MAX_SECTIONS].mid, "127");
    lkpeer_free(a.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(offer_answer_connect_and_carry_data),
        cmocka_unit_test(unusable_answers_are_refused),
        cmocka_unit_test(renegotiation_adds_audio_sent_as_srtp),
        cmocka_unit_test(ice_restart_keeps_dtls_and_channels),
        cmocka_unit_test(receiver_gets_the_servers_rtp),
        cmocka_unit_test(video_sections_negotiate_vp8),
        cmocka_unit_test(sections_up_to_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
