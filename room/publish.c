/*
 * publish.c: our published tracks (see publish.h).
 */
#include "publish.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bitrate_alloc.h"
#include "gcc.h"
#include "io.h"
#include "opus_sender.h"
#include "pacer.h"
#include "peer.h"
#include "rtp.h"
#include "srtp.h"
#include "twcc.h"
#include "video_layers.h"
#include "vp8_sender.h"

static const uint64_t MS = 1000000u;
/* As upstream: no TrackPublishedResponse within this, and publishing fails. */
static const uint64_t PUBLISH_TIMEOUT_MS = 10000;
static const uint32_t DEFAULT_MAX_BITRATE = 48000;

/* A sender report every this many pushes (5 s, libwebrtc's interval for
 * audio): the server sends its own to subscribers only once it has ours.
 * Video reports every second, as libwebrtc does. */
enum { SR_EVERY_PUSHES = 500 };
static const uint64_t VIDEO_SR_INTERVAL_MS = 1000;

/* Congestion control: the estimate never goes below this (libwebrtc's
 * least for a video stream); statuses read from one feedback (the server
 * reports 21-101 packets in each: more wait for the next). */
static const uint32_t GCC_MIN_BPS = 30000;
enum { TWCC_STATUSES = 1024, RATE_STEP = 20 /* 5 % */ };
/* What a video packet carries on the wire beyond its VP8 payload, which is
 * all an encoder's rate counts: the RTP header with our one extension and
 * the payload descriptor (12 + 8 + 6), then below RTP the SRTP tag (GCM's,
 * the profile our DTLS prefers), UDP and IPv4. */
enum { BELOW_RTP = 16 + 8 + 20, WIRE_OVERHEAD = 26 + BELOW_RTP };
/* Video leaves paced at this times the estimate (libwebrtc's factor), held
 * in at most PACER_SLOTS packets (1.6 s at 600 kbit/s; a full ring sends
 * its oldest at once). */
static const double PACING_FACTOR = 2.5;
enum { PACER_SLOTS = 256 };

enum {
    MAX_PACKET = (int)LKOPUS_MAX_PACKET > (int)LKVP8_MAX_PACKET ? (int)LKOPUS_MAX_PACKET
                                                                : (int)LKVP8_MAX_PACKET,
    /* The UDP payload we stay within: 1200 bytes of RTP and the SRTP tag. */
    VIDEO_MAX_RTP = LKVP8_MAX_PACKET - LKSRTP_MAX_TRAILER,
};

/* One encoding of a video track: its own SSRC, encoder and reports. */
typedef struct video_layer {
    lkroom_video_layer spec;
    bool paused;  /* dynacast: no subscriber wants its quality */
    bool starved; /* congestion control: the estimate leaves it nothing */
    uint32_t bps; /* what its encoder was last given */
    uint64_t off_since_ns; /* when the estimate last switched it off; 0: never */
    lkroom_layer_rates rates;
    uint32_t ssrc;
    lkvp8_sender *vp8; /* once negotiated */
    uint64_t next_sr;  /* when its next sender report is due */
} video_layer;

struct lkroom_local_track {
    lkroom_publisher *pub;
    lkroom_local_track *next;
    uint64_t token;
    uint64_t deadline; /* while waiting for the server; else 0 */
    char cid[37];
    char sid[64];
    /* A full reconnect: moved to the new transport, its AddTrack not sent
     * yet; and the sid it had, until it is published again (or fails). */
    bool moved;
    char previous_sid[64];
    /* what AddTrack says of it, sent again when it is republished */
    char *name, *stream;
    Livekit__TrackSource source;
    bool dtx;
    unsigned width, height;
    uint32_t ssrc;     /* audio's, and a single video layer's */
    uint32_t max_bitrate;
    bool muted;
    bool server_muted; /* what the server was last told */
    bool video;
    uint8_t twcc_id;      /* video: the transport-wide number's extension id; 0: none */
    int section;          /* the PeerConnection's sender index; -1 before */
    lkopus_sender *opus;  /* audio, once negotiated */
    unsigned pushes;      /* audio: since the last sender report */
    video_layer layers[LKROOM_MAX_LAYERS]; /* video, highest first */
    unsigned n_layers;
    _Alignas(8) uint8_t packet[MAX_PACKET + LKSRTP_MAX_TRAILER];
};
/* a held video packet's room: as the track's buffer, 8-byte aligned */
enum { PACED_SLOT = (MAX_PACKET + LKSRTP_MAX_TRAILER + 7) / 8 * 8 };

/* Congestion control covers the video sent with transport-wide numbers
 * (the server negotiates them for video only): one estimate for the
 * transport, shared by the tracks and split into their layers. */
typedef struct congestion {
    lktwcc_sender *twcc;
    lkgcc gcc;
    lkpacer *pacer; /* once started; NULL: video leaves as it is made */
    bool started; /* from the first video layer that leaves numbered */
    /* This second's video, counted as it leaves. Resends: at most the
     * estimate's worth (as libwebrtc's retransmission limiter), or a narrow
     * path drowns in them exactly when it loses most. */
    uint64_t window_ns;
    uint64_t resent_bytes, sent_bytes;
    uint32_t packets;
    /* The last second's headers and resends, in 1/1024ths of what went on
     * the wire: the encoders get the estimate less that share (else the
     * path gets that much more than the estimate, and its queue fills).
     * A share, not a rate: a layer coming on brings its own headers, and
     * a rate measured before it would switch it straight off again. */
    uint32_t overhead_share;
    lkrtcp_twcc_status statuses[TWCC_STATUSES];
    lktwcc_result results[TWCC_STATUSES];
} congestion;

struct lkroom_publisher {
    lkio_worker *w;
    lkio_timer pace_timer; /* when the pacer's next packet is due */
    lkroom_transport *tr;
    lkroom_publisher_env env;
    lkroom_local_track *tracks;
    congestion cc;
};

static lkpeer *peer_of(const lkroom_publisher *p)
{
    return lkroom_transport_peer(p->tr);
}

static void on_pace_timer(lkio_timer *timer);

lkroom_publisher *lkroom_publisher_new(lkio_worker *w, lkroom_transport *tr,
                                       const lkroom_publisher_env *env)
{
    lkroom_publisher *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->w = w;
    lkio_timer_init(&p->pace_timer, on_pace_timer);
    p->tr = tr;
    p->env = *env;
    p->cc.twcc = lktwcc_sender_new();
    if (!p->cc.twcc)
        abort();
    return p;
}

static void stop_encoders(lkroom_local_track *t)
{
    lkopus_sender_free(t->opus);
    t->opus = NULL;
    for (unsigned i = 0; i < t->n_layers; i++) {
        lkvp8_sender_free(t->layers[i].vp8);
        t->layers[i].vp8 = NULL;
    }
}

static void track_free(lkroom_local_track *t)
{
    stop_encoders(t);
    free(t->name);
    free(t->stream);
    free(t);
}

void lkroom_publisher_free(lkroom_publisher *p)
{
    if (!p)
        return;
    while (p->tracks) {
        lkroom_local_track *t = p->tracks;
        p->tracks = t->next;
        track_free(t);
    }
    lkio_timer_stop(p->w, &p->pace_timer);
    lkpacer_free(p->cc.pacer);
    lktwcc_sender_free(p->cc.twcc);
    free(p);
}

static void unlink_track(lkroom_local_track *t)
{
    for (lkroom_local_track **pp = &t->pub->tracks; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            return;
        }
}

/* Reports the failure and frees the track. */
static void fail(lkroom_local_track *t, const char *error)
{
    lkroom_publisher *p = t->pub;
    unlink_track(t);
    if (t->previous_sid[0])
        p->env.republished(p->env.ctx, t, t->previous_sid, NULL, error);
    else if (p->env.published)
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

static uint32_t random_ssrc(void)
{
    uint32_t ssrc = 0;
    while (!ssrc)
        RAND_bytes((uint8_t *)&ssrc, sizeof ssrc);
    return ssrc;
}

/* Upstream's layers for the source (video_layers.h), each with an SSRC. */
static void video_settings(lkroom_local_track *t, const lkroom_track_options *o)
{
    lkroom_video_request rq = {.width = o->width,
                               .height = o->height,
                               .screenshare = o->source == LIVEKIT__TRACK_SOURCE__SCREEN_SHARE,
                               .simulcast = o->simulcast,
                               .max_bitrate = o->max_bitrate,
                               .max_framerate = o->max_framerate};
    lkroom_video_layer specs[LKROOM_MAX_LAYERS];
    t->n_layers = lkroom_video_layers(&rq, specs);
    for (unsigned i = 0; i < t->n_layers; i++) {
        t->layers[i].spec = specs[i];
        t->layers[i].ssrc = random_ssrc();
    }
    t->ssrc = t->layers[0].ssrc;
}

/* The request's layers (upstream's VideoLayer per encoding, SSRC 0: the
 * server fills in what it binds) and, in simulcast, the same again for
 * VP8 in simulcast_codecs. */
typedef struct add_layers {
    Livekit__VideoLayer layer[LKROOM_MAX_LAYERS];
    Livekit__VideoLayer *ptr[LKROOM_MAX_LAYERS];
    Livekit__SimulcastCodec codec;
    Livekit__SimulcastCodec *codecs[1];
} add_layers;

static void describe_layers(const lkroom_local_track *t, add_layers *l,
                            Livekit__AddTrackRequest *add)
{
    for (unsigned i = 0; i < t->n_layers; i++) {
        const lkroom_video_layer *s = &t->layers[i].spec;
        livekit__video_layer__init(&l->layer[i]);
        l->layer[i].quality = s->quality;
        l->layer[i].width = s->width;
        l->layer[i].height = s->height;
        l->layer[i].bitrate = s->bitrate;
        l->ptr[i] = &l->layer[i];
    }
    add->n_layers = t->n_layers;
    add->layers = l->ptr;
    if (t->n_layers < 2)
        return;
    livekit__simulcast_codec__init(&l->codec);
    l->codec.codec = "vp8";
    l->codec.cid = (char *)t->cid;
    l->codec.n_layers = t->n_layers;
    l->codec.layers = l->ptr;
    l->codecs[0] = &l->codec;
    add->n_simulcast_codecs = 1;
    add->simulcast_codecs = l->codecs;
}

/* What upstream sends. Our audio is plain Opus, so RED is declined and
 * the published mime type is audio/opus. 0, or -1 when the signal
 * connection is closed. */
static int send_add(lkroom_local_track *t, uint64_t now)
{
    Livekit__AddTrackRequest add = LIVEKIT__ADD_TRACK_REQUEST__INIT;
    add.cid = t->cid;
    add.name = t->name;
    add.type = t->video ? LIVEKIT__TRACK_TYPE__VIDEO : LIVEKIT__TRACK_TYPE__AUDIO;
    add.muted = t->muted;
    add.disable_dtx = !t->video && !t->dtx;
    add.source = t->source;
    add.disable_red = true;
    add.stream = t->stream;
    add_layers layers;
    if (t->video) {
        add.width = t->width;
        add.height = t->height;
        describe_layers(t, &layers, &add);
    }
    Livekit__SignalRequest req = LIVEKIT__SIGNAL_REQUEST__INIT;
    req.message_case = LIVEKIT__SIGNAL_REQUEST__MESSAGE_ADD_TRACK;
    req.add_track = &add;
    if (t->pub->env.signal(t->pub->env.ctx, &req) < 0)
        return -1;
    t->deadline = now + PUBLISH_TIMEOUT_MS * MS;
    return 0;
}

lkroom_local_track *lkroom_publisher_add(lkroom_publisher *p, uint64_t token,
                                         const lkroom_track_options *o, uint64_t now, char *err,
                                         size_t errlen)
{
    if (o->video && (o->width < 16 || o->height < 16 || o->width > 16384 || o->height > 16384)) {
        snprintf(err, errlen, "cannot publish video of %ux%u: its source needs a resolution",
                 o->width, o->height);
        return NULL;
    }
    lkroom_local_track *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->pub = p;
    t->token = token;
    t->section = -1;
    t->muted = t->server_muted = o->muted;
    t->video = o->video;
    t->name = strdup(o->name ? o->name : "");
    t->stream = strdup(o->stream ? o->stream : "");
    if (!t->name || !t->stream)
        abort();
    t->source = o->source;
    t->dtx = o->dtx;
    t->width = o->width;
    t->height = o->height;
    random_uuid(t->cid);
    if (o->video) {
        video_settings(t, o);
    } else {
        t->max_bitrate = o->max_bitrate ? o->max_bitrate : DEFAULT_MAX_BITRATE;
        t->ssrc = random_ssrc();
    }
    if (send_add(t, now) < 0) {
        snprintf(err, errlen, "cannot publish: the signal connection is closed");
        track_free(t);
        return NULL;
    }
    t->next = p->tracks;
    p->tracks = t;
    return t;
}

void lkroom_publisher_move(lkroom_publisher *p, lkroom_transport *tr)
{
    p->tr = tr;
    /* a new path: estimated afresh */
    lktwcc_sender_free(p->cc.twcc);
    p->cc.twcc = lktwcc_sender_new();
    if (!p->cc.twcc)
        abort();
    p->cc.started = false;
    p->cc.overhead_share = 0;
    /* what waits to leave was for the old path */
    lkio_timer_stop(p->w, &p->pace_timer);
    lkpacer_free(p->cc.pacer);
    p->cc.pacer = NULL;
    for (lkroom_local_track *t = p->tracks; t; t = t->next) {
        stop_encoders(t);
        t->section = -1;
        t->deadline = 0;
        t->moved = true;
        if (t->sid[0])
            snprintf(t->previous_sid, sizeof t->previous_sid, "%s", t->sid);
        t->sid[0] = '\0';
    }
}

void lkroom_publisher_republish(lkroom_publisher *p, uint64_t now)
{
    for (lkroom_local_track *t = p->tracks, *next; t; t = next) {
        next = t->next;
        if (!t->moved)
            continue;
        t->moved = false;
        t->server_muted = t->muted;
        if (send_add(t, now) < 0)
            fail(t, "cannot publish again: the signal connection is closed");
    }
}

bool lkroom_publisher_republishing(const lkroom_publisher *p)
{
    for (const lkroom_local_track *t = p->tracks; t; t = t->next)
        if (t->moved || t->previous_sid[0])
            return true;
    return false;
}

const char *lkroom_publisher_cid(const lkroom_publisher *p, const char *track_sid)
{
    for (const lkroom_local_track *t = p ? p->tracks : NULL; t; t = t->next)
        if (track_sid && t->sid[0] && !strcmp(t->sid, track_sid))
            return t->cid;
    return NULL;
}

static lkroom_local_track *waiting_for(lkroom_publisher *p, const char *cid)
{
    for (lkroom_local_track *t = p->tracks; t; t = t->next)
        if (t->deadline && cid && !strcmp(t->cid, cid))
            return t;
    return NULL;
}

/* The server learns a change once the track has a sid. */
static void tell_muted(lkroom_local_track *t)
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

static int add_sender(const lkroom_local_track *t)
{
    lkpeer *peer = peer_of(t->pub);
    if (!t->video)
        return lkpeer_add_audio_sender(peer, t->cid, t->ssrc);
    if (t->n_layers == 1)
        return lkpeer_add_video_sender(peer, t->cid, t->ssrc);
    const char *rids[LKROOM_MAX_LAYERS];
    for (unsigned i = 0; i < t->n_layers; i++)
        rids[i] = t->layers[i].spec.rid;
    return lkpeer_add_simulcast_sender(peer, t->cid, rids, t->n_layers);
}

void lkroom_publisher_on_published(lkroom_publisher *p, const Livekit__TrackPublishedResponse *m)
{
    lkroom_local_track *t = waiting_for(p, m->cid);
    if (!t)
        return; /* not ours, or already given up */
    if (!m->track || !m->track->sid || !*m->track->sid) {
        fail(t, "the server published the track without a sid");
        return;
    }
    t->deadline = 0;
    snprintf(t->sid, sizeof t->sid, "%s", m->track->sid);
    t->section = add_sender(t);
    if (t->section < 0) {
        fail(t, "cannot publish more tracks on this connection");
        return;
    }
    tell_muted(t); /* muted or unmuted while waiting */
    if (t->previous_sid[0]) {
        char previous[sizeof t->previous_sid];
        memcpy(previous, t->previous_sid, sizeof previous);
        t->previous_sid[0] = '\0';
        p->env.republished(p->env.ctx, t, previous, m->track, NULL);
    } else if (p->env.published) {
        p->env.published(p->env.ctx, t->token, t, m->track, NULL);
    }
    p->env.negotiate(p->env.ctx);
}

void lkroom_publisher_on_refused(lkroom_publisher *p, const Livekit__RequestResponse *m)
{
    if (m->request_case != LIVEKIT__REQUEST_RESPONSE__REQUEST_ADD_TRACK || !m->add_track)
        return;
    lkroom_local_track *t = waiting_for(p, m->add_track->cid);
    if (!t)
        return;
    char why[300];
    snprintf(why, sizeof why, "the server refused the track (reason %d)%s%s", (int)m->reason,
             m->message && *m->message ? ": " : "", m->message ? m->message : "");
    fail(t, why);
}

/* The encoder follows what the answer asked for (DTX, stereo, FEC). */
static void start_sending(lkroom_local_track *t, const lkpeer_rtp_params *rp)
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

/* One encoder per layer, all on one clock (a shared RTP time base): the
 * server lines layers up by their sender reports when it switches a
 * subscriber between them. Layers carry mid and rid, by which the server
 * binds them; a single layer is declared by its SSRC instead. */
static void start_video(lkroom_local_track *t, const lkpeer_rtp_params *rp)
{
    uint32_t ts_base;
    RAND_bytes((uint8_t *)&ts_base, sizeof ts_base);
    const char *mid = lkpeer_section_mid(peer_of(t->pub), t->section);
    bool layered = t->n_layers > 1;
    t->twcc_id = rp->ext_twcc;
    for (unsigned i = 0; i < t->n_layers; i++) {
        video_layer *l = &t->layers[i];
        if (l->vp8)
            continue; /* started at an earlier answer, when another failed */
        uint16_t seq_and_picture[2];
        RAND_bytes((uint8_t *)seq_and_picture, sizeof seq_and_picture);
        lkvp8_sender_config cfg = {.ssrc = l->ssrc,
                                   .payload_type = rp->payload_type,
                                   .width = l->spec.width & ~1u,
                                   .height = l->spec.height & ~1u,
                                   .max_bitrate = l->spec.bitrate,
                                   .max_framerate = l->spec.fps,
                                   .max_packet = VIDEO_MAX_RTP,
                                   .ext_mid_id = layered ? rp->ext_mid : 0,
                                   .mid = mid,
                                   .ext_rid_id = layered ? rp->ext_rid : 0,
                                   .rid = l->spec.rid,
                                   .ext_twcc_id = rp->ext_twcc,
                                   .fixed_start = true,
                                   .ts_base = ts_base,
                                   .first_seq = seq_and_picture[0],
                                   .first_picture_id = seq_and_picture[1] & 0x7fff};
        /* sizes checked at add, rates within the encoder's (video_layers):
         * only libvpx can fail, on its memory */
        char err[160];
        l->vp8 = lkvp8_sender_new(&cfg, err, sizeof err);
        l->starved = false;
        l->bps = l->spec.bitrate;
        l->off_since_ns = 0;
    }
    lkroom_video_layer specs[LKROOM_MAX_LAYERS];
    lkroom_layer_rates rates[LKROOM_MAX_LAYERS];
    for (unsigned i = 0; i < t->n_layers; i++)
        specs[i] = t->layers[i].spec;
    lkroom_track_rates(specs, t->n_layers, rates);
    for (unsigned i = 0; i < t->n_layers; i++)
        t->layers[i].rates = rates[i];
}

/* --- congestion control ---------------------------------------------------------- */

static bool numbered(const lkroom_local_track *t)
{
    return t->video && t->twcc_id && t->layers[0].vp8;
}

/* What a track could send now: its layers that a subscriber wants. */
static uint32_t track_ceiling(const lkroom_local_track *t)
{
    uint32_t sum = 0;
    for (unsigned i = 0; i < t->n_layers; i++)
        if (t->layers[i].vp8 && !t->layers[i].paused)
            sum += t->layers[i].rates.max_bps;
    return t->muted ? 0 : sum;
}

/* One track's share into its layers: a layer the estimate switches off
 * stops sending, one it switches back on starts with a keyframe. Returns
 * the share at which its next layer would come on (0: none is off). */
static uint32_t allocate_track(lkroom_local_track *t, uint32_t share, uint64_t now)
{
    lkroom_alloc_layer in[LKROOM_MAX_LAYERS];
    uint32_t out[LKROOM_MAX_LAYERS];
    for (unsigned i = 0; i < t->n_layers; i++)
        in[i] = (lkroom_alloc_layer){.rates = t->layers[i].rates,
                                     .active = t->layers[i].vp8 && !t->layers[i].paused,
                                     .was_on = !t->layers[i].starved,
                                     .off_since_ns = t->layers[i].off_since_ns};
    lkroom_allocate_layers(in, t->n_layers, share,
                           t->source == LIVEKIT__TRACK_SOURCE__SCREEN_SHARE, now, out);
    for (unsigned i = 0; i < t->n_layers; i++) {
        video_layer *l = &t->layers[i];
        if (!in[i].active)
            continue;
        bool starved = out[i] == 0;
        if (l->starved && !starved)
            lkvp8_sender_request_keyframe(l->vp8);
        if (!l->starved && starved)
            l->off_since_ns = now;
        l->starved = starved;
        /* small steps wait until they add up: libvpx's reconfiguration
         * is not free, and feedback comes ten times a second */
        uint32_t step = l->bps / RATE_STEP;
        if (!starved && (out[i] > l->bps + step || out[i] < l->bps - step)) {
            lkvp8_sender_set_bitrate(l->vp8, out[i]);
            l->bps = out[i];
        }
    }
    /* the layers on (listed highest first) at their targets, and the
     * lowest one off at its minimum */
    uint32_t need = 0;
    bool next = false;
    for (unsigned i = t->n_layers; i-- > 0;) {
        if (!in[i].active)
            continue;
        if (out[i]) {
            need += t->layers[i].rates.target_bps;
        } else {
            need += t->layers[i].rates.min_bps;
            next = true;
            break;
        }
    }
    return next ? need : 0;
}

/* The estimate, split between the tracks by what each could send, then
 * each share into its layers (room/bitrate_alloc.h). The estimate's
 * ceiling follows what the tracks could send. */
static void allocate(lkroom_publisher *p)
{
    uint32_t total = 0;
    for (const lkroom_local_track *t = p->tracks; t; t = t->next)
        if (numbered(t))
            total += track_ceiling(t);
    if (total < GCC_MIN_BPS)
        return;
    congestion *cc = &p->cc;
    if (!cc->started) {
        lkgcc_config cfg = {.start_bps = total, .min_bps = GCC_MIN_BPS, .max_bps = total};
        cc->started = lkgcc_init(&cc->gcc, &cfg);
        if (!cc->pacer)
            cc->pacer = lkpacer_new(PACER_SLOTS, PACED_SLOT); /* NULL: unpaced */
    } else {
        lkgcc_set_max(&cc->gcc, total);
    }
    /* the encoders get the estimate less the headers and resends, but at
     * least half of it: a burst of resends does not stop the picture */
    uint64_t target = lkgcc_target(&cc->gcc), now = lkio_now_ns(), demand = 0;
    uint64_t keep = 1024 - (cc->overhead_share < 512 ? cc->overhead_share : 512);
    uint64_t media = target * keep / 1024;
    double pace = PACING_FACTOR * (double)target;
    lkpacer_set_rate(cc->pacer, pace > UINT32_MAX ? UINT32_MAX : (uint32_t)pace);
    for (lkroom_local_track *t = p->tracks; t; t = t->next) {
        if (!numbered(t) || !track_ceiling(t))
            continue;
        uint64_t need = allocate_track(t, (uint32_t)(media * track_ceiling(t) / total), now);
        /* the estimate at which this track's share reaches it */
        need = need * total / track_ceiling(t) * 1024 / keep;
        if (need && (!demand || need < demand))
            demand = need;
    }
    /* a layer switched off for want of bandwidth comes back only if the
     * estimate may grow past what the others use: its own packets probe */
    lkgcc_set_demand(&cc->gcc, demand > UINT32_MAX ? UINT32_MAX : (uint32_t)demand);
}

/* The server's transport-wide feedback, matched against what left. */
static void on_twcc(lkroom_publisher *p, const lkrtcp_twcc *fb, size_t n)
{
    congestion *cc = &p->cc;
    int k = lktwcc_sender_feedback(cc->twcc, fb, cc->statuses, n, cc->results, TWCC_STATUSES);
    if (k <= 0 || !cc->started)
        return;
    lkgcc_on_feedback(&cc->gcc, cc->results, (size_t)k, lkio_now_ns());
    allocate(p);
}

/* A new second of sending: the last one's overhead is measured. */
static void roll_window(congestion *cc, uint64_t now)
{
    if (now - cc->window_ns < 1000 * MS)
        return;
    uint64_t wire = cc->sent_bytes + (uint64_t)cc->packets * BELOW_RTP;
    uint64_t over = (uint64_t)cc->packets * WIRE_OVERHEAD + cc->resent_bytes;
    cc->overhead_share = wire ? (uint32_t)(over * 1024 / wire) : 0;
    cc->window_ns = now;
    cc->packets = 0;
    cc->sent_bytes = cc->resent_bytes = 0;
}

/* A video packet leaves now: numbered on the transport when congestion
 * control is negotiated (resends too, each time anew). */
static void leave(lkroom_publisher *p, uint8_t *pkt, size_t len, size_t cap, uint8_t twcc_id,
                  uint64_t now)
{
    if (twcc_id) {
        uint16_t seq = lktwcc_sender_sent(p->cc.twcc, now, (uint32_t)len);
        lkrtp_stamp_transport_seq(pkt, len, twcc_id, seq);
    }
    lkpeer_send_rtp(peer_of(p), pkt, len, cap);
}

/* What the pacer lets go at now leaves; its timer is set for the rest. */
static void pace(lkroom_publisher *p, uint64_t now)
{
    lkpacer *pacer = p->cc.pacer;
    size_t len;
    uint8_t tag, *slot;
    while ((slot = lkpacer_front(pacer, now, &len, &tag))) {
        leave(p, slot, len, PACED_SLOT, tag, now);
        lkpacer_pop(pacer, now);
    }
    uint64_t due = lkpacer_next_ns(pacer);
    if (due == UINT64_MAX)
        lkio_timer_stop(p->w, &p->pace_timer);
    else if (!lkio_timer_active(&p->pace_timer) || p->pace_timer.deadline_ns != due)
        lkio_timer_start(p->w, &p->pace_timer, due);
}

static void on_pace_timer(lkio_timer *timer)
{
    pace(lkio_container_of(timer, lkroom_publisher, pace_timer), lkio_now_ns());
}

/* A video packet from t->packet: counted, then through the pacer (once
 * congestion control runs). */
static void send_video(lkroom_local_track *t, size_t len)
{
    congestion *cc = &t->pub->cc;
    uint64_t now = lkio_now_ns();
    roll_window(cc, now);
    cc->packets++;
    cc->sent_bytes += len;
    bool held = cc->pacer && lkpacer_push(cc->pacer, t->packet, len, t->twcc_id);
    if (cc->pacer && !held) {
        pace(t->pub, now); /* the ring is full: its oldest leaves at once */
        held = lkpacer_push(cc->pacer, t->packet, len, t->twcc_id);
    }
    if (held)
        pace(t->pub, now);
    else /* unpaced, or (cannot be) too large for a slot: never lost */
        leave(t->pub, t->packet, len, sizeof t->packet, t->twcc_id, now);
}

void lkroom_publisher_on_answer(lkroom_publisher *p)
{
    for (lkroom_local_track *t = p->tracks; t; t = t->next) {
        if (t->section < 0)
            continue;
        const lkpeer_rtp_params *rp = lkpeer_section_params(peer_of(p), t->section);
        if (!rp->negotiated)
            continue;
        if (t->video && !t->layers[0].vp8)
            start_video(t, rp);
        else if (!t->video && !t->opus)
            start_sending(t, rp);
    }
    allocate(p);
}

/* The loss the server reports for one of our tracks tunes its encoder's
 * FEC (RR, or the report blocks of an SR). */
static void report_loss(lkroom_publisher *p, const lkrtcp_report *rb, uint8_t n)
{
    for (uint8_t i = 0; i < n; i++)
        for (lkroom_local_track *t = p->tracks; t; t = t->next)
            if (t->opus && t->ssrc == rb[i].ssrc)
                lkopus_sender_set_packet_loss(t->opus, (rb[i].fraction_lost * 100u + 255) / 256);
}

/* The video layer an SSRC names, with its track. */
static video_layer *video_layer_of(lkroom_publisher *p, uint32_t ssrc, lkroom_local_track **track)
{
    for (lkroom_local_track *t = p->tracks; t; t = t->next)
        for (unsigned i = 0; i < t->n_layers; i++)
            if (t->layers[i].vp8 && t->layers[i].ssrc == ssrc) {
                *track = t;
                return &t->layers[i];
            }
    return NULL;
}

/* A NACK is answered from the layer's history, packet by packet, on its
 * SSRC with the original sequence numbers (no RTX is negotiated). */
static void resend(lkroom_local_track *t, video_layer *l, const lkrtcp_nack *nack)
{
    uint16_t seqs[256];
    size_t n = lkrtcp_nack_expand(nack, seqs, sizeof seqs / sizeof *seqs);
    if (n > sizeof seqs / sizeof *seqs)
        n = sizeof seqs / sizeof *seqs;
    congestion *cc = &t->pub->cc;
    uint64_t now = lkio_now_ns();
    roll_window(cc, now);
    uint64_t budget = cc->started ? lkgcc_target(&cc->gcc) / 8 : UINT64_MAX;
    for (size_t i = 0; i < n && cc->resent_bytes < budget; i++) {
        int len = lkvp8_sender_resend(l->vp8, seqs[i], now, t->packet, sizeof t->packet);
        if (len > 0) {
            send_video(t, (size_t)len);
            cc->resent_bytes += (size_t)len;
        }
    }
}

static void video_feedback(lkroom_publisher *p, const lkrtcp_packet *rp)
{
    lkrtcp_fb pli;
    lkrtcp_fir fir;
    lkrtcp_nack nack;
    lkroom_local_track *t;
    video_layer *l;
    if (lkrtcp_parse_pli(rp, &pli) == 0) {
        if ((l = video_layer_of(p, pli.media_ssrc, &t)))
            lkvp8_sender_request_keyframe(l->vp8);
    } else if (lkrtcp_parse_fir(rp, &fir) == 0) {
        for (size_t i = 0; i < fir.n; i++)
            if ((l = video_layer_of(p, lkrtcp_fir_get(&fir, i).ssrc, &t)))
                lkvp8_sender_request_keyframe(l->vp8);
    } else if (lkrtcp_parse_nack(rp, &nack) == 0) {
        if ((l = video_layer_of(p, nack.fb.media_ssrc, &t)))
            resend(t, l, &nack);
    }
}

void lkroom_publisher_on_rtcp(lkroom_publisher *p, const uint8_t *pkt, size_t len)
{
    lkrtcp_iter it;
    lkrtcp_packet rp;
    lkrtcp_iter_init(&it, pkt, len);
    while (lkrtcp_next(&it, &rp) == 1) {
        lkrtcp_rr rr;
        lkrtcp_sr sr;
        lkrtcp_twcc tw;
        int n;
        if ((n = lkrtcp_parse_twcc(&rp, &tw, p->cc.statuses, TWCC_STATUSES)) >= 0)
            on_twcc(p, &tw, (size_t)n);
        else if (lkrtcp_parse_rr(&rp, &rr) == 0)
            report_loss(p, rr.reports, rr.n_reports);
        else if (lkrtcp_parse_sr(&rp, &sr) == 0)
            report_loss(p, sr.reports, sr.n_reports);
        else
            video_feedback(p, &rp);
    }
}

static void set_quality(lkroom_local_track *t, Livekit__VideoQuality q, bool enabled)
{
    for (unsigned i = 0; i < t->n_layers; i++) {
        video_layer *l = &t->layers[i];
        if (l->spec.quality != q || l->paused == !enabled)
            continue;
        l->paused = !enabled;
        if (enabled && l->vp8)
            lkvp8_sender_request_keyframe(l->vp8);
    }
}

void lkroom_publisher_on_qualities(lkroom_publisher *p, const Livekit__SubscribedQualityUpdate *m)
{
    lkroom_local_track *t = p->tracks;
    while (t && (!t->video || !m->track_sid || strcmp(t->sid, m->track_sid) != 0))
        t = t->next;
    if (!t)
        return;
    Livekit__SubscribedQuality **q = m->subscribed_qualities;
    size_t n = m->n_subscribed_qualities;
    for (size_t i = 0; i < m->n_subscribed_codecs; i++) {
        const Livekit__SubscribedCodec *c = m->subscribed_codecs[i];
        if (i == 0 || (c->codec && !strcasecmp(c->codec, "vp8"))) {
            q = c->qualities;
            n = c->n_qualities;
        }
    }
    for (size_t i = 0; i < n; i++)
        set_quality(t, q[i]->quality, q[i]->enabled);
    allocate(p);
}

uint64_t lkroom_publisher_next_deadline(const lkroom_publisher *p)
{
    uint64_t d = UINT64_MAX;
    for (const lkroom_local_track *t = p->tracks; t; t = t->next)
        if (t->deadline && t->deadline < d)
            d = t->deadline;
    return d;
}

void lkroom_publisher_expire(lkroom_publisher *p, uint64_t now)
{
    for (lkroom_local_track *t = p->tracks, *next; t; t = next) {
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

void lkroom_local_track_push_audio(lkroom_local_track *t, const int16_t *pcm, unsigned channels,
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

/* A layer's packets from its last push, and its report every second. */
static void send_layer(lkroom_local_track *t, video_layer *l, bool coded, uint64_t now)
{
    lkpeer *peer = peer_of(t->pub);
    if (coded) {
        int n;
        while ((n = lkvp8_sender_next_packet(l->vp8, t->packet, sizeof t->packet)) > 0)
            send_video(t, (size_t)n);
    }
    if (now < l->next_sr)
        return;
    /* the two clocks read together: now was taken before the layers' encodes */
    uint64_t at = lkio_now_ns();
    int n = lkvp8_sender_write_sr(l->vp8, at, ntp_now(), t->packet, LKVP8_MAX_SR,
                                  lkpeer_cname(peer));
    if (n > 0) {
        lkpeer_send_rtcp(peer, t->packet, (size_t)n, sizeof t->packet);
        l->next_sr = at + VIDEO_SR_INTERVAL_MS * MS;
    }
}

/* One picture's encodes, a layer each: each touches only its own layer's
 * encoder, so they run on several workers at once (lkio_parallel); the
 * packets are then sent from the track's own worker. */
typedef struct picture_job {
    lkroom_local_track *t;
    const lkvp8_image *img;
    uint64_t capture_ns;
    unsigned layer[LKROOM_MAX_LAYERS];
    bool coded[LKROOM_MAX_LAYERS];
} picture_job;

static void encode_layer(void *arg, unsigned i)
{
    picture_job *j = arg;
    /* each layer scales and drops to its own size and rate */
    j->coded[i] = lkvp8_sender_push(j->t->layers[j->layer[i]].vp8, j->img, j->capture_ns) > 0;
}

void lkroom_local_track_push_video(lkroom_local_track *t, const lkvp8_image *img,
                                   uint64_t capture_ns)
{
    if (t->muted)
        return;
    uint64_t now = lkio_now_ns();
    picture_job j = {.t = t, .img = img, .capture_ns = capture_ns};
    unsigned n = 0;
    for (unsigned i = 0; i < t->n_layers; i++)
        if (t->layers[i].vp8 && !t->layers[i].paused && !t->layers[i].starved)
            j.layer[n++] = i;
    lkio_parallel(n, encode_layer, &j);
    for (unsigned k = 0; k < n; k++)
        send_layer(t, &t->layers[j.layer[k]], j.coded[k], now);
}

void lkroom_local_track_set_muted(lkroom_local_track *t, bool muted)
{
    if (t->muted == muted)
        return;
    t->muted = muted;
    if (t->opus)
        lkopus_sender_set_muted(t->opus, muted);
    tell_muted(t);
    if (t->video)
        allocate(t->pub); /* a muted camera's share goes to the others, and comes back */
}

const char *lkroom_local_track_sid(const lkroom_local_track *t)
{
    return t->sid;
}

void lkroom_local_track_unpublish(lkroom_local_track *t)
{
    lkroom_publisher *p = t->pub;
    unlink_track(t);
    if (t->section >= 0) {
        lkpeer_stop_sender(peer_of(p), t->section);
        p->env.negotiate(p->env.ctx);
    }
    track_free(t);
    allocate(p); /* the others may have what it had */
}
