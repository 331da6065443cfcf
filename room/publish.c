/*
 * publish.c: our published audio tracks (see publish.h).
 */
#include "publish.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io.h"
#include "opus_sender.h"
#include "peer.h"
#include "rtp.h"
#include "srtp.h"

static const uint64_t MS = 1000000u;
/* As upstream: no TrackPublishedResponse within this, and publishing fails. */
static const uint64_t PUBLISH_TIMEOUT_MS = 10000;
static const uint32_t DEFAULT_MAX_BITRATE = 48000;

/* A sender report every this many pushes (5 s, libwebrtc's interval for
 * audio): the server sends its own to subscribers only once it has ours. */
enum { SR_EVERY_PUSHES = 500 };

struct lkroom_audio_track {
    lkroom_publisher *pub;
    lkroom_audio_track *next;
    uint64_t token;
    uint64_t deadline; /* while waiting for the server; else 0 */
    char cid[37];
    char sid[64];
    uint32_t ssrc;
    uint32_t max_bitrate;
    bool muted;
    bool server_muted; /* what the server was last told */
    int section;          /* the PeerConnection's sender index; -1 before */
    lkopus_sender *opus;  /* once negotiated */
    unsigned pushes;      /* since the last sender report */
    _Alignas(4) uint8_t packet[LKOPUS_MAX_PACKET + LKSRTP_MAX_TRAILER];
};

struct lkroom_publisher {
    lkroom_transport *tr;
    lkroom_publisher_env env;
    lkroom_audio_track *tracks;
};

static lkpeer *peer_of(const lkroom_publisher *p)
{
    return lkroom_transport_peer(p->tr);
}

lkroom_publisher *lkroom_publisher_new(lkroom_transport *tr, const lkroom_publisher_env *env)
{
    lkroom_publisher *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->tr = tr;
    p->env = *env;
    return p;
}

static void track_free(lkroom_audio_track *t)
{
    lkopus_sender_free(t->opus);
    free(t);
}

void lkroom_publisher_free(lkroom_publisher *p)
{
    if (!p)
        return;
    while (p->tracks) {
        lkroom_audio_track *t = p->tracks;
        p->tracks = t->next;
        track_free(t);
    }
    free(p);
}

static void unlink_track(lkroom_audio_track *t)
{
    for (lkroom_audio_track **pp = &t->pub->tracks; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            return;
        }
}

/* Reports the failure and frees the track. */
static void fail(lkroom_audio_track *t, const char *error)
{
    lkroom_publisher *p = t->pub;
    unlink_track(t);
    if (p->env.published)
        p->env.published(p->env.ctx, t->token, NULL, NULL, error);
    track_free(t);
}

static void random_uuid(char out[37])
{
    uint8_t b[16];
    RAND_bytes(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

lkroom_audio_track *lkroom_publisher_add_audio(lkroom_publisher *p, uint64_t token,
                                               const lkroom_audio_options *o, uint64_t now,
                                               char *err, size_t errlen)
{
    lkroom_audio_track *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->pub = p;
    t->token = token;
    t->section = -1;
    t->muted = t->server_muted = o->muted;
    t->max_bitrate = o->max_bitrate ? o->max_bitrate : DEFAULT_MAX_BITRATE;
    random_uuid(t->cid);
    while (!t->ssrc)
        RAND_bytes((uint8_t *)&t->ssrc, sizeof t->ssrc);

    /* What upstream sends for an audio track. Our sender writes plain Opus,
     * so RED is declined and the published mime type is audio/opus. */
    Livekit__AddTrackRequest add = LIVEKIT__ADD_TRACK_REQUEST__INIT;
    add.cid = t->cid;
    add.name = (char *)(o->name ? o->name : "");
    add.type = LIVEKIT__TRACK_TYPE__AUDIO;
    add.muted = o->muted;
    add.disable_dtx = !o->dtx;
    add.source = o->source;
    add.disable_red = true;
    add.stream = (char *)(o->stream ? o->stream : "");
    Livekit__SignalRequest req = LIVEKIT__SIGNAL_REQUEST__INIT;
    req.message_case = LIVEKIT__SIGNAL_REQUEST__MESSAGE_ADD_TRACK;
    req.add_track = &add;
    if (p->env.signal(p->env.ctx, &req) < 0) {
        snprintf(err, errlen, "cannot publish: the signal connection is closed");
        free(t);
        return NULL;
    }
    t->deadline = now + PUBLISH_TIMEOUT_MS * MS;
    t->next = p->tracks;
    p->tracks = t;
    return t;
}

static lkroom_audio_track *waiting_for(lkroom_publisher *p, const char *cid)
{
    for (lkroom_audio_track *t = p->tracks; t; t = t->next)
        if (t->deadline && cid && !strcmp(t->cid, cid))
            return t;
    return NULL;
}

/* The server learns a change once the track has a sid. */
static void tell_muted(lkroom_audio_track *t)
{
    if (!*t->sid || t->server_muted == t->muted)
        return;
    Livekit__MuteTrackRequest m = LIVEKIT__MUTE_TRACK_REQUEST__INIT;
    m.sid = t->sid;
    m.muted = t->muted;
    Livekit__SignalRequest req = LIVEKIT__SIGNAL_REQUEST__INIT;
    req.message_case = LIVEKIT__SIGNAL_REQUEST__MESSAGE_MUTE;
    req.mute = &m;
    if (t->pub->env.signal(t->pub->env.ctx, &req) == 0)
        t->server_muted = t->muted;
}

void lkroom_publisher_on_published(lkroom_publisher *p, const Livekit__TrackPublishedResponse *m)
{
    lkroom_audio_track *t = waiting_for(p, m->cid);
    if (!t)
        return; /* not ours, or already given up */
    if (!m->track || !m->track->sid || !*m->track->sid) {
        fail(t, "the server published the track without a sid");
        return;
    }
    t->deadline = 0;
    snprintf(t->sid, sizeof t->sid, "%s", m->track->sid);
    t->section = lkpeer_add_audio_sender(peer_of(p), t->cid, t->ssrc);
    if (t->section < 0) {
        fail(t, "cannot publish more tracks on this connection");
        return;
    }
    tell_muted(t); /* muted or unmuted while waiting */
    if (p->env.published)
        p->env.published(p->env.ctx, t->token, t, m->track, NULL);
    p->env.negotiate(p->env.ctx);
}

void lkroom_publisher_on_refused(lkroom_publisher *p, const Livekit__RequestResponse *m)
{
    if (m->request_case != LIVEKIT__REQUEST_RESPONSE__REQUEST_ADD_TRACK || !m->add_track)
        return;
    lkroom_audio_track *t = waiting_for(p, m->add_track->cid);
    if (!t)
        return;
    char why[300];
    snprintf(why, sizeof why, "the server refused the track (reason %d)%s%s", (int)m->reason,
             m->message && *m->message ? ": " : "", m->message ? m->message : "");
    fail(t, why);
}

/* The encoder follows what the answer asked for (DTX, stereo, FEC). */
static void start_sending(lkroom_audio_track *t, const lkpeer_rtp_params *rp)
{
    lkopus_sender_free(t->opus);
    lkopus_config cfg = {.ssrc = t->ssrc,
                         .payload_type = rp->payload_type,
                         .ext_audio_level_id = rp->ext_audio_level,
                         .dtx = rp->dtx,
                         .fec = rp->fec,
                         .channels = rp->stereo ? 2 : 1,
                         .bitrate = t->max_bitrate};
    char err[160];
    t->opus = lkopus_sender_new(&cfg, err, sizeof err);
    if (t->opus)
        lkopus_sender_set_muted(t->opus, t->muted);
}

void lkroom_publisher_on_answer(lkroom_publisher *p)
{
    for (lkroom_audio_track *t = p->tracks; t; t = t->next) {
        if (t->section < 0)
            continue;
        const lkpeer_rtp_params *rp = lkpeer_section_params(peer_of(p), t->section);
        if (rp->negotiated && !t->opus)
            start_sending(t, rp);
    }
}

/* The loss the server reports for one of our tracks tunes its encoder's
 * FEC (RR, or the report blocks of an SR). */
static void report_loss(lkroom_publisher *p, const lkrtcp_report *rb, uint8_t n)
{
    for (uint8_t i = 0; i < n; i++)
        for (lkroom_audio_track *t = p->tracks; t; t = t->next)
            if (t->opus && t->ssrc == rb[i].ssrc)
                lkopus_sender_set_packet_loss(t->opus, (rb[i].fraction_lost * 100u + 255) / 256);
}

void lkroom_publisher_on_rtcp(lkroom_publisher *p, const uint8_t *pkt, size_t len)
{
    lkrtcp_iter it;
    lkrtcp_packet rp;
    lkrtcp_iter_init(&it, pkt, len);
    while (lkrtcp_next(&it, &rp) == 1) {
        lkrtcp_rr rr;
        lkrtcp_sr sr;
        if (lkrtcp_parse_rr(&rp, &rr) == 0)
            report_loss(p, rr.reports, rr.n_reports);
        else if (lkrtcp_parse_sr(&rp, &sr) == 0)
            report_loss(p, sr.reports, sr.n_reports);
    }
}

uint64_t lkroom_publisher_next_deadline(const lkroom_publisher *p)
{
    uint64_t d = UINT64_MAX;
    for (const lkroom_audio_track *t = p->tracks; t; t = t->next)
        if (t->deadline && t->deadline < d)
            d = t->deadline;
    return d;
}

void lkroom_publisher_expire(lkroom_publisher *p, uint64_t now)
{
    for (lkroom_audio_track *t = p->tracks, *next; t; t = next) {
        next = t->next;
        if (t->deadline && t->deadline <= now)
            fail(t, "track publication timed out, no response received from the server");
    }
}

/* NTP time (RFC 3550 4: seconds since 1900, 32.32 fixed point). */
static uint64_t ntp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t sec = (uint64_t)ts.tv_sec + 2208988800u;
    return sec << 32 | (((uint64_t)ts.tv_nsec << 32) / 1000000000u);
}

void lkroom_audio_track_push(lkroom_audio_track *t, const int16_t *pcm, unsigned channels,
                             size_t samples_per_channel)
{
    if (!t->opus)
        return;
    lkpeer *peer = peer_of(t->pub);
    uint64_t now = lkio_now_ns();
    int n = lkopus_sender_push(t->opus, pcm, channels, samples_per_channel, now, t->packet,
                               LKOPUS_MAX_PACKET);
    if (n > 0)
        lkpeer_send_rtp(peer, t->packet, (size_t)n, sizeof t->packet);
    if (++t->pushes < SR_EVERY_PUSHES)
        return;
    n = lkopus_sender_write_sr(t->opus, now, ntp_now(), t->packet, LKOPUS_MAX_PACKET,
                               lkpeer_cname(peer));
    if (n > 0) {
        lkpeer_send_rtcp(peer, t->packet, (size_t)n, sizeof t->packet);
        t->pushes = 0;
    }
}

void lkroom_audio_track_set_muted(lkroom_audio_track *t, bool muted)
{
    if (t->muted == muted)
        return;
    t->muted = muted;
    if (t->opus)
        lkopus_sender_set_muted(t->opus, muted);
    tell_muted(t);
}

const char *lkroom_audio_track_sid(const lkroom_audio_track *t)
{
    return t->sid;
}

void lkroom_audio_track_unpublish(lkroom_audio_track *t)
{
    lkroom_publisher *p = t->pub;
    unlink_track(t);
    if (t->section >= 0) {
        lkpeer_stop_sender(peer_of(p), t->section);
        p->env.negotiate(p->env.ctx);
    }
    track_free(t);
}
