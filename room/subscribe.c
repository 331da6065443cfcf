/*
 * subscribe.c: the remote audio and video tracks the server sends us (see
 * subscribe.h).
 */
#include "subscribe.h"

#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h264_decoder.h"
#include "opus_receiver.h"
#include "peer.h"
#include "rbe.h"
#include "rtp.h"
#include "sdp.h"
#include "srtp.h"
#include "video_receiver.h"

/* Idle recvonly sections in the join offer: upstream's three of each
 * kind. A receiver report every REPORT_TICKS (5 s, libwebrtc's for audio;
 * every second with video, as for video), from which the server rates our
 * connection and measures its round trip. */
enum { JOIN_RECEIVERS = 3, FRAME = 480, REPORT_TICKS = 500, VIDEO_REPORT_TICKS = 100 };
/* NACKs asked at once: a frame of 64 packets lost whole. */
enum { MAX_NACKS = 64 };
/* An RR (a block per track, up to 31) and an SDES with the CNAME. */
enum { LKRTCP_RR_ROOM = 8 + 24 * LKRTCP_MAX_REPORTS + 8 + 256 };
static const uint64_t TICK_NS = 10000000u;
/* Behind by more than this (a stopped process): a fresh schedule rather
 * than a burst of catching up. */
static const uint64_t RESYNC_NS = 200000000u;

typedef struct remote_track {
    bool active;
    bool gone; /* unpublished while the section still names it */
    uint32_t ssrc;
    char participant_sid[64], track_sid[64];
    lkopus_receiver *rx;   /* audio */
    lkvideo_receiver *vrx; /* video: VP8 until an H.264 packet comes */
    lkvideo_codec vcodec;  /* of vrx */
    bool failed;           /* told the client its codec cannot be decoded here */
    uint32_t lsr;   /* the middle of the last SR's NTP time, for our reports */
    uint64_t sr_at; /* when it came */
} remote_track;

struct lkroom_subscriber {
    lkio_worker *w;
    lkroom_transport *tr;
    lkroom_subscriber_env env;
    remote_track tracks[LKPEER_MAX_SECTIONS]; /* by section index */
    unsigned n_active;
    lkio_timer tick;
    uint64_t next_tick;
    unsigned ticks;       /* since the last receiver report */
    unsigned n_video;     /* active video tracks */
    uint32_t rtt_ms;      /* the path's round trip; 0: not known yet */
    lkrbe rbe;            /* our downlink's estimate, for the server's layer choice */
    uint32_t report_ssrc; /* ours in receiver reports: we may send nothing */
    /* Tracks the client unsubscribed (lkroom_subscriber_unwant), by sid:
     * at most one entry per published track. */
    char (*unwanted)[64];
    size_t n_unwanted, cap_unwanted;
    int16_t pcm[FRAME];
    _Alignas(4) uint8_t rtcp[LKRTCP_RR_ROOM + LKSRTP_MAX_TRAILER];
};

static lkpeer *peer_of(const lkroom_subscriber *s)
{
    return lkroom_transport_peer(s->tr);
}

static void on_tick(lkio_timer *t);

lkroom_subscriber *lkroom_subscriber_new(lkio_worker *w, lkroom_transport *tr,
                                         const lkroom_subscriber_env *env)
{
    lkroom_subscriber *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->w = w;
    s->tr = tr;
    s->env = *env;
    lkio_timer_init(&s->tick, on_tick);
    lkrbe_init(&s->rbe);
    while (!s->report_ssrc)
        RAND_bytes((uint8_t *)&s->report_ssrc, sizeof s->report_ssrc);
    return s;
}

void lkroom_subscriber_free(lkroom_subscriber *s)
{
    if (!s)
        return;
    lkio_timer_stop(s->w, &s->tick);
    for (unsigned i = 0; i < LKPEER_MAX_SECTIONS; i++) {
        lkopus_receiver_free(s->tracks[i].rx);
        lkvideo_receiver_free(s->tracks[i].vrx);
    }
    free(s->unwanted);
    free(s);
}

void lkroom_subscriber_prepare_join(lkroom_subscriber *s)
{
    for (int i = 0; i < JOIN_RECEIVERS; i++)
        lkpeer_add_audio_receiver(peer_of(s));
    for (int i = 0; i < JOIN_RECEIVERS; i++)
        lkpeer_add_video_receiver(peer_of(s));
}

void lkroom_subscriber_on_requirement(lkroom_subscriber *s,
                                      const Livekit__MediaSectionsRequirement *m)
{
    for (uint32_t i = 0; i < m->num_audios && i < LKPEER_MAX_SECTIONS; i++)
        if (lkpeer_add_audio_receiver(peer_of(s)) < 0)
            break;
    for (uint32_t i = 0; i < m->num_videos && i < LKPEER_MAX_SECTIONS; i++)
        if (lkpeer_add_video_receiver(peer_of(s)) < 0)
            break;
    s->env.negotiate(s->env.ctx);
}

/* --- reports ----------------------------------------------------------------------- */

/* One RR (up to LKRTCP_MAX_REPORTS blocks) and an SDES for the sections
 * from *next on; *next ends past the last one it covered. */
static void send_report_from(lkroom_subscriber *s, uint64_t now, unsigned *next)
{
    lkrtcp_rr rr = {.ssrc = s->report_ssrc};
    unsigned i = *next;
    for (; i < LKPEER_MAX_SECTIONS && rr.n_reports < LKRTCP_MAX_REPORTS; i++) {
        remote_track *x = &s->tracks[i];
        if (!x->active)
            continue;
        lkrtcp_report *rb = &rr.reports[rr.n_reports];
        if (x->vrx)
            lkvideo_receiver_report(x->vrx, rb);
        else
            lkopus_receiver_report(x->rx, rb);
        if (!rb->ssrc)
            continue; /* nothing received yet: nothing to report */
        rr.n_reports++;
        if (x->lsr) {
            rb->lsr = x->lsr;
            rb->dlsr = (uint32_t)((now - x->sr_at) * 65536 / 1000000000u);
        }
    }
    *next = i;
    if (!rr.n_reports)
        return;
    lkpeer *p = peer_of(s);
    int n = lkrtcp_write_rr(s->rtcp, LKRTCP_RR_ROOM, &rr);
    const char *cname = lkpeer_cname(p);
    int m = n > 0 ? lkrtcp_write_sdes_cname(s->rtcp + n, LKRTCP_RR_ROOM - (size_t)n,
                                            s->report_ssrc, cname, strlen(cname))
                  : -1;
    if (m > 0)
        lkpeer_send_rtcp(p, s->rtcp, (size_t)(n + m), sizeof s->rtcp);
}

/* Every track's report block: one RR holds 31, so more tracks take more. */
static void send_report(lkroom_subscriber *s, uint64_t now)
{
    for (unsigned next = 0; next < LKPEER_MAX_SECTIONS;)
        send_report_from(s, now, &next);
}

/* The server's sender reports: the reference our reports give back. */
void lkroom_subscriber_on_rtcp(lkroom_subscriber *s, const uint8_t *pkt, size_t len)
{
    lkrtcp_iter it;
    lkrtcp_packet rp;
    lkrtcp_sr sr;
    lkrtcp_iter_init(&it, pkt, len);
    while (lkrtcp_next(&it, &rp) == 1) {
        if (lkrtcp_parse_sr(&rp, &sr) != 0)
            continue;
        for (unsigned i = 0; i < LKPEER_MAX_SECTIONS; i++)
            if (s->tracks[i].active && s->tracks[i].ssrc == sr.ssrc) {
                s->tracks[i].lsr = lkrtcp_ntp_middle(sr.ntp);
                s->tracks[i].sr_at = lkio_now_ns();
            }
    }
}

/* NACKs and a PLI for a video track, as its receiver asks (on each packet
 * and each tick: its retries are paced in tens of milliseconds). Sender
 * SSRC ours, media SSRC the server's for the track. */
static void send_feedback(lkroom_subscriber *s, remote_track *x, uint64_t now)
{
    uint16_t seqs[MAX_NACKS];
    bool pli = false;
    size_t n = lkvideo_receiver_feedback(x->vrx, now, seqs, MAX_NACKS, &pli);
    lkrtcp_fb fb = {.sender_ssrc = s->report_ssrc, .media_ssrc = x->ssrc};
    lkpeer *p = peer_of(s);
    int len = n ? lkrtcp_write_nack(s->rtcp, LKRTCP_RR_ROOM, &fb, seqs, n) : 0;
    if (len > 0)
        lkpeer_send_rtcp(p, s->rtcp, (size_t)len, sizeof s->rtcp);
    len = pli ? lkrtcp_write_pli(s->rtcp, LKRTCP_RR_ROOM, &fb) : 0;
    if (len > 0)
        lkpeer_send_rtcp(p, s->rtcp, (size_t)len, sizeof s->rtcp);
}

/* A REMB when the estimate has one due (every 200 ms, or at once when it
 * falls). */
static void send_remb(lkroom_subscriber *s, uint64_t now)
{
    int len = lkrbe_write_remb(&s->rbe, s->report_ssrc, now, s->rtcp, LKRTCP_RR_ROOM);
    if (len > 0)
        lkpeer_send_rtcp(peer_of(s), s->rtcp, (size_t)len, sizeof s->rtcp);
}

/* --- the clock ------------------------------------------------------------------- */

static void on_tick(lkio_timer *t)
{
    lkroom_subscriber *s = lkio_container_of(t, lkroom_subscriber, tick);
    uint64_t now = lkio_now_ns();
    uint64_t sooner = 0;
    bool first_audio = true;
    for (unsigned i = 0; i < LKPEER_MAX_SECTIONS; i++) {
        remote_track *x = &s->tracks[i];
        if (x->active && x->vrx)
            send_feedback(s, x, now);
        if (!x->active || !x->rx)
            continue;
        lkopus_receiver_pull(x->rx, now, s->pcm);
        s->env.audio(s->env.ctx, x->track_sid, s->pcm, FRAME);
        /* The clock's phase is ours: the first audio track's receiver sets
         * it, so that its packets are played at its target delay rather
         * than up to a pull after (the others' phases stay chance). */
        if (first_audio)
            sooner = lkopus_receiver_sooner_ns(x->rx);
        first_audio = false;
    }
    if (!s->n_active)
        return;
    if (s->n_video)
        send_remb(s, now);
    if (++s->ticks >= (s->n_video ? VIDEO_REPORT_TICKS : REPORT_TICKS)) {
        s->ticks = 0;
        send_report(s, now);
    }
    s->next_tick += TICK_NS - sooner;
    if (now > s->next_tick + RESYNC_NS)
        s->next_tick = now + TICK_NS;
    lkio_timer_start(s->w, &s->tick, s->next_tick);
}

/* --- H.264: libavcodec, opened off the workers ---------------------------------- */

/* Opening libavcodec takes milliseconds (it loads about a hundred
 * libraries), so no worker does it: the first H.264 packet in the process
 * queues it to the blocking thread, and H.264 packets are dropped until it
 * is done (the receiver then asks for the keyframe it missed). Once per
 * process; a fork child that inherited a load still queued queues its own. */
static lkio_work h264_load;
static _Atomic pid_t h264_load_pid;

/* Inside the fork gate: a fork waits for the load (milliseconds) rather
 * than leave its child a load half done, which it could never finish. */
static void h264_load_work(lkio_work *w)
{
    (void)w;
    lkio_enter();
    (void)lkh264_decoder_available(NULL, 0);
    lkio_leave();
}

static void h264_load_done(lkio_work *w)
{
    (void)w;
}

/* Whether the H.264 decoder may be asked for without blocking. */
static bool h264_ready(lkio_worker *w)
{
    if (lkh264_decoder_load_tried())
        return true;
    pid_t me = getpid();
    if (atomic_exchange(&h264_load_pid, me) != me)
        lkio_queue_work(w, &h264_load, h264_load_work, h264_load_done);
    return false;
}

/* The track's receiver for codec, made anew when the server's packets
 * change codec (a publisher's other simulcast codec). False while the
 * packet is to be dropped. */
static bool use_codec(lkroom_subscriber *s, remote_track *x, lkvideo_codec codec)
{
    if (x->vrx && x->vcodec == codec)
        return true;
    if (x->failed || (codec == LKVIDEO_H264 && !h264_ready(s->w)))
        return false;
    char err[300];
    lkvideo_receiver *r = lkvideo_receiver_new(codec, err, sizeof err);
    if (!r) {
        x->failed = true;
        s->env.failed(s->env.ctx, x->track_sid, err);
        return false;
    }
    lkvideo_receiver_free(x->vrx);
    x->vrx = r;
    x->vcodec = codec;
    if (s->rtt_ms)
        lkvideo_receiver_set_rtt(r, s->rtt_ms);
    return true;
}

/* --- tracks ------------------------------------------------------------------------ */

static void end_track(lkroom_subscriber *s, remote_track *x)
{
    x->active = false;
    lkopus_receiver_free(x->rx);
    x->rx = NULL;
    if (x->vrx)
        s->n_video--;
    lkvideo_receiver_free(x->vrx);
    x->vrx = NULL;
    x->failed = false;
    if (--s->n_active == 0)
        lkio_timer_stop(s->w, &s->tick);
    s->env.unsubscribed(s->env.ctx, x->participant_sid, x->track_sid);
}

/* livekit-server's msid: "<participant sid>|<track sid> <track sid>". */
static bool parse_msid(const char *msid, char *participant, char *track)
{
    char stream[64 + 64];
    if (!lksdp_msid_split(msid, stream, sizeof stream, track, 64))
        return false;
    char *bar = strchr(stream, '|');
    if (!bar || bar == stream || (size_t)(bar - stream) >= 64)
        return false;
    *bar = '\0';
    strcpy(participant, stream);
    return true;
}

static void start_track(lkroom_subscriber *s, remote_track *x, bool video, uint32_t ssrc,
                        const char *participant, const char *track)
{
    char err[160];
    lkopus_receiver_config cfg = {.channels = 1};
    x->vcodec = LKVIDEO_VP8; /* until an H.264 packet comes */
    if (video)
        x->vrx = lkvideo_receiver_new(x->vcodec, err, sizeof err);
    else
        x->rx = lkopus_receiver_new(&cfg, err, sizeof err);
    if (x->vrx && s->rtt_ms)
        lkvideo_receiver_set_rtt(x->vrx, s->rtt_ms);
    if (!x->rx && !x->vrx)
        return;
    s->n_video += video;
    x->active = true;
    x->ssrc = ssrc;
    x->lsr = 0;
    snprintf(x->participant_sid, sizeof x->participant_sid, "%s", participant);
    snprintf(x->track_sid, sizeof x->track_sid, "%s", track);
    if (s->n_active++ == 0) {
        s->next_tick = lkio_now_ns() + TICK_NS;
        lkio_timer_start(s->w, &s->tick, s->next_tick);
    }
    s->env.subscribed(s->env.ctx, x->participant_sid, x->track_sid);
}

/* What the last answer says section i carries; false when idle. */
static bool carried(lkroom_subscriber *s, unsigned i, uint32_t *ssrc, char *participant,
                    char *track)
{
    const char *msid;
    return lkpeer_receiver(peer_of(s), (int)i, ssrc, &msid) && *ssrc &&
           parse_msid(msid, participant, track);
}

static ptrdiff_t unwanted_index(const lkroom_subscriber *s, const char *track_sid)
{
    for (size_t i = 0; i < s->n_unwanted; i++)
        if (!strcmp(s->unwanted[i], track_sid))
            return (ptrdiff_t)i;
    return -1;
}

static void drop_unwanted(lkroom_subscriber *s, const char *track_sid)
{
    ptrdiff_t k = unwanted_index(s, track_sid);
    if (k < 0)
        return;
    /* the last entry takes its place (memcpy onto itself is undefined) */
    if ((size_t)k != --s->n_unwanted)
        memcpy(s->unwanted[k], s->unwanted[s->n_unwanted], sizeof s->unwanted[k]);
}

/* Ends first, then starts: a track the server moved to another section is
 * unsubscribed before it is subscribed again, never twice at once. */
void lkroom_subscriber_on_answer(lkroom_subscriber *s)
{
    unsigned n = lkpeer_section_count(peer_of(s));
    if (n > LKPEER_MAX_SECTIONS)
        n = LKPEER_MAX_SECTIONS;
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < n; i++) {
            uint32_t ssrc = 0;
            char participant[64] = "", track[64] = "";
            bool carries = carried(s, i, &ssrc, participant, track);
            remote_track *x = &s->tracks[i];
            bool same = carries && x->ssrc == ssrc && !strcmp(x->track_sid, track);
            if (pass == 0 && x->active && (!same || unwanted_index(s, track) >= 0))
                end_track(s, x);
            if (pass == 0 && !same)
                x->gone = false;
            else if (pass == 1 && carries && !x->active && !x->gone &&
                     unwanted_index(s, track) < 0)
                start_track(s, x, lkpeer_section_is_video(peer_of(s), (int)i), ssrc,
                            participant, track);
        }
}

void lkroom_subscriber_forget(lkroom_subscriber *s, const char *track_sid)
{
    drop_unwanted(s, track_sid); /* its sid will not come back */
    for (unsigned i = 0; i < LKPEER_MAX_SECTIONS; i++) {
        remote_track *x = &s->tracks[i];
        if (x->active && !strcmp(x->track_sid, track_sid)) {
            x->gone = true;
            end_track(s, x);
        }
    }
}

void lkroom_subscriber_unwant(lkroom_subscriber *s, const char *track_sid)
{
    if (strlen(track_sid) >= sizeof *s->unwanted)
        return; /* no section can name it (parse_msid) */
    if (unwanted_index(s, track_sid) < 0) {
        if (s->n_unwanted == s->cap_unwanted) {
            size_t cap = s->cap_unwanted ? 2 * s->cap_unwanted : 4;
            char(*grown)[64] = realloc(s->unwanted, cap * sizeof *grown);
            if (!grown)
                abort();
            s->unwanted = grown;
            s->cap_unwanted = cap;
        }
        strcpy(s->unwanted[s->n_unwanted++], track_sid);
    }
    for (unsigned i = 0; i < LKPEER_MAX_SECTIONS; i++) {
        remote_track *x = &s->tracks[i];
        if (x->active && !strcmp(x->track_sid, track_sid))
            end_track(s, x);
    }
}

void lkroom_subscriber_want(lkroom_subscriber *s, const char *track_sid)
{
    /* Not started from the last answer, which may describe a binding the
     * server is taking down: from the next one that carries it. */
    drop_unwanted(s, track_sid);
}

/* A video packet: every picture it completes goes up at once (the server
 * paces frames; a jitter buffer would only add delay), then what it
 * showed missing is NACKed. */
static void video_rtp(lkroom_subscriber *s, remote_track *x, const lkrtp_packet *rtp,
                      lkvideo_codec codec, uint64_t now)
{
    if (!use_codec(s, x, codec))
        return;
    lkvideo_receiver_put(x->vrx, rtp, now);
    lkvp8_image img;
    uint32_t ts;
    while (x->active && lkvideo_receiver_pop(x->vrx, &img, &ts) == 1)
        s->env.video(s->env.ctx, x->track_sid, &img, ts);
    if (x->active)
        send_feedback(s, x, now);
}

void lkroom_subscriber_set_rtt(lkroom_subscriber *s, uint32_t rtt_ms)
{
    s->rtt_ms = rtt_ms;
    for (unsigned i = 0; i < LKPEER_MAX_SECTIONS; i++)
        if (s->tracks[i].vrx)
            lkvideo_receiver_set_rtt(s->tracks[i].vrx, rtt_ms);
}

void lkroom_subscriber_on_rtp(lkroom_subscriber *s, int section, const uint8_t *pkt, size_t len)
{
    if (section < 0 || section >= LKPEER_MAX_SECTIONS || !s->tracks[section].active)
        return;
    remote_track *x = &s->tracks[section];
    lkrtp_packet rtp;
    const lkpeer_rtp_params *rp = lkpeer_section_params(peer_of(s), section);
    if (lkrtp_parse(&rtp, pkt, len) != 0)
        return;
    uint64_t now = lkio_now_ns(); /* the packet's arrival, for all that follows */
    /* every video packet counts in the downlink's estimate, the server's
     * padding probes included */
    uint32_t t24;
    if (x->vrx && rp->ext_abs_send_time &&
        lkrtp_ext_abs_send_time(&rtp, rp->ext_abs_send_time, &t24)) {
        lkrbe_on_packet(&s->rbe, rtp.h.ssrc, t24, len, now);
        send_remb(s, now);
    }
    bool h264 = x->vrx && lkpeer_is_h264(rp, rtp.h.payload_type);
    if (!h264 && (!rp->payload_type || rtp.h.payload_type != rp->payload_type))
        return;
    if (x->vrx)
        video_rtp(s, x, &rtp, h264 ? LKVIDEO_H264 : LKVIDEO_VP8, now);
    else
        lkopus_receiver_put_rtp(x->rx, &rtp, now);
}
