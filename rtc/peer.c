/*
 * peer.c: the PeerConnection as a composition of the sans-I/O layers.
 *
 *   datagram --(RFC 7983: first byte)--> STUN: ICE agent
 *                                      > DTLS (from the selected pair only)
 *   DTLS application data -> SCTP packets -> data channel manager
 *                                      > SRTP/SRTCP (128-191): media
 *
 * ICE decides the path; DTLS starts on it once a pair is selected, in the
 * role the SDP gave us (the answerer picks "active", so the offerer is the
 * DTLS server); when DTLS is up the DTLS client sends SCTP's INIT.
 * "Connected" means all three are up. Every entry point records the time,
 * so work done from inside a lower layer's callback carries it.
 */
#include "peer.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cert.h"
#include "dtls.h"
#include "ice.h"
#include "rtp.h"
#include "sdp.h"
#include "srtp.h"

/* One RTP section: ours to send on (sendonly, a track id and SSRC), or
 * the server's to send on (recvonly: what the answer says it sends). */
typedef struct section {
    bool receive;
    bool video;
    bool sending;      /* a sender not stopped */
    char mid[4];
    char track_id[64]; /* sending: the a=msid track id */
    uint32_t ssrc;     /* sending: ours (0: simulcast); receiving: the server's, 0: none */
    char rids[LKSDP_MAX_RIDS][4]; /* a simulcast sender's layers, highest first */
    unsigned n_rids;
    lkpeer_rtp_params params;
    char remote_msid[128]; /* receiving: the answer's a=msid ("<stream> <track>") */
} section;

struct lkpeer {
    lkpeer_callbacks cb;
    lkrtc_cert cert;
    lkice_agent *ice;
    lkdtls *dtls;
    lkdc *dc;
    enum lkpeer_state state;
    bool offerer, dtls_client;
    uint64_t now;
    uint64_t session_id;
    unsigned version;
    struct sockaddr_storage local[LKICE_MAX_LOCAL];
    socklen_t local_len[LKICE_MAX_LOCAL];
    unsigned n_local;
    bool have_path;
    unsigned path_local;
    struct sockaddr_storage path_remote;
    socklen_t path_len;
    uint32_t remote_max_message;
    char remote_mid[32];
    bool offer_pending;

    section sections[LKPEER_MAX_SECTIONS];
    unsigned n_sections;
    _Alignas(4) uint8_t media_buf[1500]; /* an incoming SRTP packet, decrypted in place */
    char cname[20];
    lksrtp *srtp;
    char media_error[160];
    lkpeer_counters n;
};

static void set_state(lkpeer *p, enum lkpeer_state s, const char *why)
{
    if (p->state == s || p->state == LKPEER_CLOSED ||
        (p->state == LKPEER_FAILED && s != LKPEER_CLOSED))
        return;
    p->state = s;
    if (p->cb.state_changed)
        p->cb.state_changed(p->cb.ctx, s, why);
}

/* --- ICE ------------------------------------------------------------------------- */

/* Every datagram leaves through here: counted for the stats. */
static void send_datagram(lkpeer *p, unsigned local, const struct sockaddr *to, socklen_t tolen,
                          const uint8_t *data, size_t len)
{
    p->n.packets_sent++;
    p->n.bytes_sent += len;
    p->cb.send(p->cb.ctx, local, to, tolen, data, len);
}

static void ice_send(void *ctx, unsigned local, const struct sockaddr *to, socklen_t tolen,
                     const uint8_t *data, size_t len)
{
    send_datagram(ctx, local, to, tolen, data, len);
}

static void ice_state(void *ctx, enum lkice_state s)
{
    lkpeer *p = ctx;
    if (s == LKICE_FAILED)
        set_state(p, LKPEER_FAILED, "ICE failed: no path to the peer");
    else if (s == LKICE_DISCONNECTED)
        set_state(p, LKPEER_DISCONNECTED, "ICE: the peer stopped answering");
    else if (s == LKICE_CONNECTED && p->state == LKPEER_DISCONNECTED)
        set_state(p, LKPEER_CONNECTED, NULL);
}

static void ice_selected(void *ctx, unsigned local, const struct sockaddr *remote, socklen_t len)
{
    lkpeer *p = ctx;
    p->path_local = local;
    memcpy(&p->path_remote, remote, len);
    p->path_len = len;
    bool first = !p->have_path;
    p->have_path = true;
    if (first && p->dtls)
        lkdtls_start(p->dtls, p->now);
}

/* --- DTLS ------------------------------------------------------------------------ */

static void dtls_send(void *ctx, const uint8_t *data, size_t len)
{
    lkpeer *p = ctx;
    if (p->have_path)
        send_datagram(p, p->path_local, (const struct sockaddr *)&p->path_remote, p->path_len,
                      data, len);
}

/* The SRTP keys come from the handshake (RFC 5764); without them the data
 * channels still work, and media reports why it cannot. */
static void make_srtp(lkpeer *p)
{
    lkdtls_srtp keys;
    if (lkdtls_srtp_keys(p->dtls, &keys) < 0) {
        snprintf(p->media_error, sizeof p->media_error,
                 "DTLS negotiated no SRTP protection profile");
        return;
    }
    char err[120];
    p->srtp = lksrtp_new(&keys, err, sizeof err);
    if (!p->srtp)
        snprintf(p->media_error, sizeof p->media_error, "cannot set up SRTP: %s", err);
    OPENSSL_cleanse(&keys, sizeof keys);
}

static void dtls_connected(void *ctx)
{
    lkpeer *p = ctx;
    make_srtp(p);
    if (p->dtls_client)
        lksctp_connect(lkdc_sctp(p->dc), p->now);
}

static void dtls_data(void *ctx, const uint8_t *data, size_t len)
{
    lkpeer *p = ctx;
    lkdc_handle_packet(p->dc, data, len, p->now);
}

static void dtls_closed(void *ctx, const char *error)
{
    lkpeer *p = ctx;
    if (error)
        set_state(p, LKPEER_FAILED, error);
    else
        set_state(p, LKPEER_CLOSED, "the peer closed the connection");
}

/* --- SCTP and channels ------------------------------------------------------------- */

static void dc_send(void *ctx, const uint8_t *pkt, size_t len)
{
    lkpeer *p = ctx;
    lkdtls_send(p->dtls, pkt, len);
}

static void dc_association(void *ctx, enum lksctp_state s)
{
    lkpeer *p = ctx;
    if (s == LKSCTP_ESTABLISHED)
        set_state(p, LKPEER_CONNECTED, NULL);
    else if (s == LKSCTP_CLOSED)
        set_state(p, p->state == LKPEER_CLOSED ? LKPEER_CLOSED : LKPEER_FAILED,
                  "the SCTP association ended");
}

static void dc_channel(void *ctx, uint16_t id, const char *label, const char *protocol,
                       const lkdc_options *opts)
{
    lkpeer *p = ctx;
    if (p->cb.channel_open)
        p->cb.channel_open(p->cb.ctx, id, label);
}

static void dc_open(void *ctx, uint16_t id)
{
    lkpeer *p = ctx;
    if (p->cb.channel_open)
        p->cb.channel_open(p->cb.ctx, id, lkdc_label(p->dc, id));
}

static void dc_message(void *ctx, uint16_t id, bool binary, const uint8_t *data, size_t len)
{
    lkpeer *p = ctx;
    if (p->cb.message)
        p->cb.message(p->cb.ctx, id, binary, data, len);
}

static void dc_writable(void *ctx)
{
    lkpeer *p = ctx;
    if (p->cb.writable)
        p->cb.writable(p->cb.ctx);
}

static void dc_closed(void *ctx, uint16_t id)
{
    lkpeer *p = ctx;
    if (p->cb.channel_closed)
        p->cb.channel_closed(p->cb.ctx, id);
}

/* --- setup ------------------------------------------------------------------------- */

lkpeer *lkpeer_new(const lkpeer_callbacks *cb)
{
    lkpeer *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->cb = *cb;
    if (lkrtc_cert_generate(&p->cert) < 0) {
        free(p);
        return NULL;
    }
    RAND_bytes((unsigned char *)&p->session_id, sizeof p->session_id);
    p->session_id &= 0x3fffffffffffffffull; /* positive, as SDP wants */
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t rnd[sizeof p->cname - 1];
    RAND_bytes(rnd, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++)
        p->cname[i] = alnum[rnd[i] % (sizeof alnum - 1)];
    return p;
}

void lkpeer_free(lkpeer *p)
{
    if (!p)
        return;
    lksrtp_free(p->srtp);
    lkdc_free(p->dc);
    lkdtls_free(p->dtls);
    lkice_free(p->ice);
    lkrtc_cert_free(&p->cert);
    free(p);
}

int lkpeer_add_local(lkpeer *p, const struct sockaddr *addr, socklen_t len)
{
    if (p->n_local == LKICE_MAX_LOCAL || p->ice || len > sizeof p->local[0])
        return -1; /* locals are fixed before the first description */
    memcpy(&p->local[p->n_local], addr, len);
    p->local_len[p->n_local] = len;
    return (int)p->n_local++;
}

static void make_ice(lkpeer *p, bool controlling)
{
    lkice_callbacks icb = {p, ice_send, ice_state, ice_selected};
    p->ice = lkice_new(&icb, controlling, NULL);
    for (unsigned i = 0; i < p->n_local; i++)
        lkice_add_local(p->ice, (struct sockaddr *)&p->local[i], p->local_len[i]);
}

static size_t write_description(lkpeer *p, char *out, size_t cap, const char *setup,
                                const char *mid)
{
    char lines[LKICE_MAX_LOCAL][128];
    const char *cands[LKICE_MAX_LOCAL];
    for (unsigned i = 0; i < p->n_local; i++) {
        lkice_local_candidate(p->ice, i, lines[i], sizeof lines[i]);
        cands[i] = lines[i];
    }
    lksdp_rtp_section rtp[LKPEER_MAX_SECTIONS];
    const char *rids[LKPEER_MAX_SECTIONS][LKSDP_MAX_RIDS];
    for (unsigned i = 0; i < p->n_sections; i++) {
        const section *x = &p->sections[i];
        bool sending = x->sending;
        rids[i][0] = x->rids[0];
        rids[i][1] = x->rids[1];
        rids[i][2] = x->rids[2];
        rtp[i] = (lksdp_rtp_section){.kind = x->video ? "video" : "audio",
                                     .mid = x->mid,
                                     .direction = sending ? "sendonly" : "recvonly",
                                     .track_id = sending ? x->track_id : NULL,
                                     .ssrc = sending ? x->ssrc : 0,
                                     .cname = p->cname,
                                     .rids = rids[i],
                                     .n_rids = sending ? x->n_rids : 0};
    }
    lksdp_offer o = {.session_id = p->session_id, .version = ++p->version, .setup = setup,
                     .mid = mid, .ice_ufrag = lkice_local_ufrag(p->ice),
                     .ice_pwd = lkice_local_pwd(p->ice), .fingerprint = p->cert.fingerprint,
                     .candidates = cands, .n_candidates = p->n_local,
                     .rtp = rtp, .n_rtp = p->n_sections};
    return lksdp_write_offer(out, cap, &o);
}

size_t lkpeer_create_offer(lkpeer *p, char *out, size_t cap)
{
    if (!p->ice) {
        p->offerer = true;
        make_ice(p, true);
    }
    size_t n = write_description(p, out, cap, NULL, NULL);
    if (n)
        p->offer_pending = true;
    return n;
}

void lkpeer_restart_ice(lkpeer *p)
{
    if (!p->ice || !p->offerer)
        return;
    lkice_restart(p->ice);
    /* An offer still waiting was lost with the signal that carried it: the
     * restart's offer replaces it. */
    p->offer_pending = false;
}

size_t lkpeer_create_answer(lkpeer *p, char *out, size_t cap)
{
    if (!p->ice || p->offerer)
        return 0;
    return write_description(p, out, cap, "active", p->remote_mid);
}

/* The peer's ICE credentials and candidates in section m. New
 * credentials, or any after lkpeer_restart_ice, start the checks over;
 * the same ones change nothing (a renegotiation). */
static int apply_ice(lkpeer *p, const lksdp *s, unsigned m, const char *what, char *err,
                     size_t errlen)
{
    const char *ufrag = lksdp_ice_ufrag(s, m), *pwd = lksdp_ice_pwd(s, m);
    if (lkice_set_remote_credentials(p->ice, ufrag, pwd) < 0) {
        snprintf(err, errlen, "the %s's ICE credentials are unusable", what);
        return -1;
    }
    for (unsigned i = 0; i < s->n_candidates; i++) {
        char why[160];
        if (s->candidates[i].media == m)
            lkice_add_remote_candidate(p->ice, s->candidates[i].line, why, sizeof why);
    }
    if (s->media[m].end_of_candidates)
        lkice_remote_candidates_done(p->ice);
    if (p->dtls) /* the first time, once DTLS and SCTP exist (apply_transport) */
        lkice_start(p->ice, p->now);
    return 0;
}

/* What both descriptions give the transport: the peer's ICE credentials
 * and candidates, its fingerprint, the DTLS role; then ICE starts. Once per
 * connection: later answers only renegotiate media. */
static int apply_transport(lkpeer *p, const lksdp *s, bool is_answer, char *err, size_t errlen)
{
    const char *what = is_answer ? "answer" : "offer";
    int m = lksdp_find(s, "application");
    if (m < 0 || s->media[m].port == 0) {
        snprintf(err, errlen, "the %s has no data section", what);
        return -1;
    }
    const char *ufrag = lksdp_ice_ufrag(s, (unsigned)m), *pwd = lksdp_ice_pwd(s, (unsigned)m);
    const char *fp = lksdp_fingerprint(s, (unsigned)m), *setup = lksdp_setup(s, (unsigned)m);
    if (!*ufrag || !*pwd || !*fp) {
        snprintf(err, errlen, "the %s lacks ICE credentials or a DTLS fingerprint", what);
        return -1;
    }
    if (is_answer) {
        if (!strcmp(setup, "active"))
            p->dtls_client = false;
        else if (!strcmp(setup, "passive"))
            p->dtls_client = true;
        else {
            snprintf(err, errlen, "the answer's a=setup:%s is not active or passive", setup);
            return -1;
        }
    } else {
        p->dtls_client = true; /* we answer "active", as pion and browsers do */
        snprintf(p->remote_mid, sizeof p->remote_mid, "%s", s->media[m].mid);
        if (!p->ice)
            make_ice(p, false);
    }
    if (apply_ice(p, s, (unsigned)m, what, err, errlen) < 0)
        return -1;
    p->remote_max_message = s->media[m].max_message_size;

    lkdtls_callbacks dcb = {p, dtls_send, dtls_connected, dtls_data, dtls_closed};
    p->dtls = lkdtls_new(&p->cert, p->dtls_client, &dcb);
    lksctp_config cfg = {0};
    if (p->remote_max_message && p->remote_max_message < 256 * 1024)
        cfg.max_message_size = p->remote_max_message;
    lkdc_callbacks ccb = {p,          dc_send,    dc_association, dc_channel,
                          dc_open,    dc_message, dc_closed,      dc_writable};
    p->dc = lkdc_new(&cfg, p->dtls_client, &ccb);
    if (!p->dtls || !p->dc) {
        snprintf(err, errlen, "cannot set up DTLS or SCTP");
        return -1;
    }
    lkdtls_set_remote_fingerprint(p->dtls, fp);
    set_state(p, LKPEER_CONNECTING, NULL);
    lkice_start(p->ice, p->now);
    return 0;
}

/* What the answer says of each of our RTP sections: for a sender, whether
 * it took it and what its Opus fmtp asks of the encoder; for a receiver,
 * what the server sends there (its SSRC and msid; none when idle). */
static void apply_media(lkpeer *p, const lksdp *s)
{
    for (unsigned i = 0; i < p->n_sections; i++) {
        section *x = &p->sections[i];
        memset(&x->params, 0, sizeof x->params);
        const lksdp_media *m = NULL;
        for (unsigned k = 0; k < s->n_media && !m; k++)
            if (!strcmp(s->media[k].mid, x->mid))
                m = &s->media[k];
        const lksdp_codec *codec =
            m && m->port ? lksdp_codec_find(m, x->video ? "VP8" : "opus") : NULL;
        uint32_t h264 = 0;
        for (unsigned k = 0; m && m->port && x->video && x->receive && k < m->n_codecs; k++)
            if (!strcasecmp(m->codecs[k].name, "H264") && m->codecs[k].pt >= 96 &&
                m->codecs[k].pt <= 127 &&
                lksdp_fmtp_has(&m->codecs[k], "packetization-mode", "1"))
                h264 |= 1u << (m->codecs[k].pt - 96);
        const char *dir = m ? m->direction : "";
        bool flows = x->receive
                         ? !strcmp(dir, "sendonly") || !strcmp(dir, "sendrecv")
                         : x->sending && (!strcmp(dir, "recvonly") || !strcmp(dir, "sendrecv"));
        bool ok = (codec || h264) && flows;
        if (x->receive) {
            x->ssrc = ok ? m->ssrc : 0;
            snprintf(x->remote_msid, sizeof x->remote_msid, "%s", ok && m->ssrc ? m->msid : "");
        }
        if (!ok)
            continue;
        x->params = (lkpeer_rtp_params){
            .negotiated = true,
            .payload_type = codec ? codec->pt : 0,
            .h264_pts = h264,
            .ext_audio_level = lksdp_extmap_id(m, LKSDP_URI_AUDIO_LEVEL),
            .ext_mid = lksdp_extmap_id(m, LKSDP_URI_SDES_MID),
            .ext_rid = lksdp_extmap_id(m, LKSDP_URI_RTP_STREAM_ID),
            .ext_twcc = x->video && !x->receive && codec && lksdp_has_transport_cc(m, codec->pt)
                            ? lksdp_extmap_id(m, LKSDP_URI_TWCC)
                            : 0,
            .ext_abs_send_time =
                x->video && x->receive && codec && lksdp_has_goog_remb(m, codec->pt)
                    ? lksdp_extmap_id(m, LKSDP_URI_ABS_SEND_TIME)
                    : 0,
            .dtx = codec && lksdp_fmtp_has(codec, "usedtx", "1"),
            .stereo = codec && lksdp_fmtp_has(codec, "stereo", "1"),
            .fec = codec && lksdp_fmtp_has(codec, "useinbandfec", "1"),
        };
    }
}

static lksdp *parse(const char *sdp, size_t len, char *err, size_t errlen)
{
    lksdp *s = malloc(sizeof *s);
    if (!s)
        abort();
    if (lksdp_parse(s, sdp, len, err, errlen) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

int lkpeer_set_answer(lkpeer *p, const char *sdp, size_t len, uint64_t now_ns, char *err,
                      size_t errlen)
{
    p->now = now_ns;
    if (!p->offerer || !p->offer_pending) {
        snprintf(err, errlen, "no offer of ours is waiting for an answer");
        return -1;
    }
    lksdp *s = parse(sdp, len, err, errlen);
    if (!s)
        return -1;
    int r = 0, m = lksdp_find(s, "application");
    if (!p->dtls)
        r = apply_transport(p, s, true, err, errlen);
    else if (m >= 0 && *lksdp_ice_ufrag(s, (unsigned)m)) /* an ICE restart's answer? */
        r = apply_ice(p, s, (unsigned)m, "answer", err, errlen);
    if (r == 0) {
        apply_media(p, s);
        p->offer_pending = false;
    }
    free(s);
    return r;
}

int lkpeer_set_offer(lkpeer *p, const char *sdp, size_t len, uint64_t now_ns, char *err,
                     size_t errlen)
{
    p->now = now_ns;
    if (p->offerer) {
        snprintf(err, errlen, "we made the offer: an offer from the peer collides with it");
        return -1;
    }
    lksdp *s = parse(sdp, len, err, errlen);
    if (!s)
        return -1;
    int r = 0;
    if (!p->dtls) {
        r = apply_transport(p, s, false, err, errlen);
    } else {
        /* Renegotiation: only an ICE restart (new credentials), to which
         * the answer brings new credentials of ours. */
        int m = lksdp_find(s, "application");
        if (m < 0 || !strcmp(lksdp_ice_ufrag(s, (unsigned)m), lkice_remote_ufrag(p->ice))) {
            snprintf(err, errlen, "renegotiation other than an ICE restart is not supported");
            r = -1;
        } else {
            lkice_restart(p->ice);
            r = apply_ice(p, s, (unsigned)m, "offer", err, errlen);
        }
    }
    free(s);
    return r;
}

int lkpeer_add_remote_candidate(lkpeer *p, const char *line)
{
    char why[160];
    if (!p->ice)
        return -1;
    return lkice_add_remote_candidate(p->ice, line, why, sizeof why);
}

/* --- data ----------------------------------------------------------------------------- */

int lkpeer_open_channel(lkpeer *p, const char *label, const lkdc_options *opts, uint64_t now_ns)
{
    if (!p->dc)
        return -ENOTCONN; /* after the remote description: it decides the ids */
    p->now = now_ns;
    return lkdc_open(p->dc, label, opts, now_ns);
}

int lkpeer_send(lkpeer *p, uint16_t id, bool binary, const uint8_t *data, size_t len,
                uint64_t now_ns)
{
    if (!p->dc)
        return -ENOTCONN;
    p->now = now_ns;
    return lkdc_send(p->dc, id, binary, data, len, now_ns);
}

/* --- media ------------------------------------------------------------------------------ */

static const section *section_at(const lkpeer *p, int index)
{
    return index >= 0 && (unsigned)index < p->n_sections ? &p->sections[index] : NULL;
}

static section *add_section(lkpeer *p)
{
    if (p->n_sections == LKPEER_MAX_SECTIONS)
        return NULL;
    section *x = &p->sections[p->n_sections];
    memset(x, 0, sizeof *x);
    snprintf(x->mid, sizeof x->mid, "%u", p->n_sections + 1); /* the data section is "0" */
    return x;
}

static int add_sender(lkpeer *p, bool video, const char *track_id, uint32_t ssrc,
                      const char *const *rids, unsigned n_rids)
{
    if ((!ssrc && !n_rids) || n_rids == 1 || n_rids > LKSDP_MAX_RIDS || !track_id ||
        strlen(track_id) >= sizeof p->sections[0].track_id)
        return -1;
    for (unsigned i = 0; i < n_rids; i++)
        if (!rids[i] || !*rids[i] || strlen(rids[i]) >= sizeof p->sections[0].rids[0])
            return -1;
    section *x = add_section(p);
    if (!x)
        return -1;
    x->video = video;
    x->sending = true;
    strcpy(x->track_id, track_id);
    x->ssrc = n_rids ? 0 : ssrc;
    for (unsigned i = 0; i < n_rids; i++)
        strcpy(x->rids[i], rids[i]);
    x->n_rids = n_rids;
    return (int)p->n_sections++;
}

static int add_receiver(lkpeer *p, bool video)
{
    section *x = add_section(p);
    if (!x)
        return -1;
    x->receive = true;
    x->video = video;
    return (int)p->n_sections++;
}

int lkpeer_add_audio_sender(lkpeer *p, const char *track_id, uint32_t ssrc)
{
    return add_sender(p, false, track_id, ssrc, NULL, 0);
}

int lkpeer_add_video_sender(lkpeer *p, const char *track_id, uint32_t ssrc)
{
    return add_sender(p, true, track_id, ssrc, NULL, 0);
}

int lkpeer_add_simulcast_sender(lkpeer *p, const char *track_id, const char *const *rids,
                                unsigned n_rids)
{
    return n_rids >= 2 ? add_sender(p, true, track_id, 0, rids, n_rids) : -1;
}

int lkpeer_add_audio_receiver(lkpeer *p)
{
    return add_receiver(p, false);
}

int lkpeer_add_video_receiver(lkpeer *p)
{
    return add_receiver(p, true);
}

bool lkpeer_section_is_video(const lkpeer *p, int index)
{
    const section *x = section_at(p, index);
    return x && x->video;
}

void lkpeer_stop_sender(lkpeer *p, int index)
{
    if (index >= 0 && (unsigned)index < p->n_sections && !p->sections[index].receive) {
        p->sections[index].sending = false;
        p->sections[index].ssrc = 0;
        p->sections[index].params.negotiated = false;
    }
}


const lkpeer_rtp_params *lkpeer_section_params(const lkpeer *p, int index)
{
    static const lkpeer_rtp_params none;
    const section *x = section_at(p, index);
    return x ? &x->params : &none;
}

bool lkpeer_is_h264(const lkpeer_rtp_params *rp, uint8_t pt)
{
    return pt >= 96 && pt <= 127 && (rp->h264_pts >> (pt - 96) & 1);
}

const char *lkpeer_section_mid(const lkpeer *p, int index)
{
    const section *x = section_at(p, index);
    return x ? x->mid : "";
}

unsigned lkpeer_section_count(const lkpeer *p)
{
    return p->n_sections;
}

bool lkpeer_receiver(const lkpeer *p, int index, uint32_t *ssrc, const char **msid)
{
    const section *x = section_at(p, index);
    if (!x || !x->receive)
        return false;
    *ssrc = x->ssrc;
    *msid = x->remote_msid;
    return true;
}

bool lkpeer_offer_pending(const lkpeer *p)
{
    return p->offer_pending;
}

const char *lkpeer_media_error(const lkpeer *p)
{
    return p->media_error[0] ? p->media_error : NULL;
}

const char *lkpeer_cname(const lkpeer *p)
{
    return p->cname;
}

/* Media goes out while ICE is connected, and also while it is only
 * disconnected: consent lapsed (a check or two lost on a lossy link) but
 * has not expired (RFC 7675: 30 s), as libwebrtc keeps sending. Stopping
 * there silenced a microphone for seconds behind a link losing 10 %. */
static int send_srtp(lkpeer *p, uint8_t *pkt, size_t len, size_t cap, bool rtcp)
{
    if (!p->srtp || !p->have_path ||
        (p->state != LKPEER_CONNECTED && p->state != LKPEER_DISCONNECTED))
        return -ENOTCONN;
    int n = rtcp ? lksrtp_protect_rtcp(p->srtp, pkt, len, cap)
                 : lksrtp_protect_rtp(p->srtp, pkt, len, cap);
    if (n < 0)
        return -EINVAL;
    send_datagram(p, p->path_local, (const struct sockaddr *)&p->path_remote, p->path_len, pkt,
                  (size_t)n);
    return 0;
}

int lkpeer_send_rtp(lkpeer *p, uint8_t *pkt, size_t len, size_t cap)
{
    return send_srtp(p, pkt, len, cap, false);
}

int lkpeer_send_rtcp(lkpeer *p, uint8_t *pkt, size_t len, size_t cap)
{
    return send_srtp(p, pkt, len, cap, true);
}

/* SRTP from the server: RTP for a receiving section whose SSRC the answer
 * named (anything else is dropped before it is decrypted: RTP may come
 * just before the answer does), and SRTCP. Decrypted in a copy, since
 * the caller's datagram is not ours to change. */
static void on_media(lkpeer *p, const uint8_t *data, size_t len)
{
    if (len > sizeof p->media_buf)
        return;
    enum lkrtp_kind kind = lkrtp_demux(data, len);
    if (kind == LKRTP_RTCP) {
        memcpy(p->media_buf, data, len);
        int n = lksrtp_unprotect_rtcp(p->srtp, p->media_buf, len);
        if (n > 0 && p->cb.rtcp)
            p->cb.rtcp(p->cb.ctx, p->media_buf, (size_t)n);
        return;
    }
    if (kind != LKRTP_RTP || len < LKRTP_HEADER_SIZE)
        return;
    uint32_t ssrc = (uint32_t)data[8] << 24 | (uint32_t)data[9] << 16 | (uint32_t)data[10] << 8 |
                    data[11];
    for (unsigned i = 0; i < p->n_sections; i++) {
        const section *x = &p->sections[i];
        if (!x->receive || x->ssrc != ssrc || !ssrc)
            continue;
        memcpy(p->media_buf, data, len);
        int n = lksrtp_unprotect_rtp(p->srtp, p->media_buf, len);
        if (n > 0 && p->cb.rtp)
            p->cb.rtp(p->cb.ctx, (int)i, p->media_buf, (size_t)n);
        return;
    }
}

/* --- datagrams ------------------------------------------------------------------------ */

static bool same_remote(const lkpeer *p, const struct sockaddr *from, socklen_t len)
{
    return p->have_path && len == p->path_len && !memcmp(from, &p->path_remote, len);
}

void lkpeer_on_datagram(lkpeer *p, uint64_t now_ns, unsigned local, const struct sockaddr *from,
                        socklen_t fromlen, const uint8_t *data, size_t len)
{
    p->now = now_ns;
    if (!len || !p->ice || p->state == LKPEER_CLOSED)
        return;
    p->n.packets_received++;
    p->n.bytes_received += len;
    uint8_t b = data[0];
    if (b <= 3) {
        lkice_on_datagram(p->ice, now_ns, local, from, fromlen, data, len);
    } else if (b >= 20 && b <= 63) {
        if (p->dtls && local == p->path_local && same_remote(p, from, fromlen))
            lkdtls_on_datagram(p->dtls, now_ns, data, len);
    } else if (b >= 128 && b <= 191) {
        if (p->srtp && local == p->path_local && same_remote(p, from, fromlen))
            on_media(p, data, len);
    }
    /* anything else is not ours */
}

uint64_t lkpeer_next_deadline(lkpeer *p, uint64_t now_ns)
{
    uint64_t d = p->ice ? lkice_next_deadline(p->ice) : UINT64_MAX;
    if (p->dtls) {
        uint64_t t = lkdtls_next_deadline(p->dtls, now_ns);
        d = t < d ? t : d;
    }
    if (p->dc) {
        uint64_t t = lksctp_next_deadline(lkdc_sctp(p->dc));
        d = t < d ? t : d;
    }
    return d;
}

void lkpeer_on_timeout(lkpeer *p, uint64_t now_ns)
{
    p->now = now_ns;
    if (p->ice)
        lkice_on_timeout(p->ice, now_ns);
    if (p->dtls && lkdtls_next_deadline(p->dtls, now_ns) <= now_ns)
        lkdtls_on_timeout(p->dtls, now_ns);
    if (p->dc && lksctp_next_deadline(lkdc_sctp(p->dc)) <= now_ns)
        lkdc_on_timeout(p->dc, now_ns);
}

enum lkpeer_state lkpeer_state(const lkpeer *p)
{
    return p->state;
}

void lkpeer_get_stats(const lkpeer *p, lkpeer_stats *st)
{
    memset(st, 0, sizeof *st);
    st->state = p->state;
    st->n = p->n;
    st->ice_state = p->ice ? lkice_state(p->ice) : LKICE_NEW;
    st->ice_controlling = p->ice && lkice_controlling(p->ice);
    st->ice_ufrag = p->ice ? lkice_local_ufrag(p->ice) : "";
    st->have_pair = p->ice && lkice_selected_pair(p->ice, &st->pair);
    st->pair_changes = p->ice ? lkice_selected_changes(p->ice) : 0;
    if (p->dtls) {
        lkdtls_get_info(p->dtls, &st->dtls);
    } else {
        st->dtls.client = p->dtls_client;
        st->dtls.cipher = st->dtls.srtp_cipher = "";
    }
    if (p->dc)
        lkdc_open_counts(p->dc, &st->channels_opened, &st->channels_closed);
}

size_t lkpeer_channels(const lkpeer *p, lkdc_channel_info *out, size_t cap)
{
    return p->dc ? lkdc_channels(p->dc, out, cap) : 0;
}

size_t lkpeer_buffered(const lkpeer *p, uint16_t id)
{
    return p->dc ? lkdc_buffered(p->dc, id) : 0;
}

size_t lkpeer_unread_by_remote(const lkpeer *p)
{
    return p->dc ? lksctp_peer_unread(lkdc_sctp(p->dc)) : 0;
}

void lkpeer_close(lkpeer *p, uint64_t now_ns)
{
    p->now = now_ns;
    if (p->state == LKPEER_CLOSED)
        return;
    if (p->dc && lksctp_state(lkdc_sctp(p->dc)) == LKSCTP_ESTABLISHED)
        lksctp_abort(lkdc_sctp(p->dc), "closing", now_ns);
    if (p->dtls)
        lkdtls_close(p->dtls);
    if (p->ice)
        lkice_close(p->ice);
    set_state(p, LKPEER_CLOSED, NULL);
}
