/*
 * stats.c: GetSessionStats. The room's one PeerConnection, read on the
 * room's worker (rtc/peer.h's snapshot), as the reports libwebrtc gives
 * upstream: the peer connection, its transport, the selected candidate
 * pair and its two candidates, and each data channel. They go in
 * publisher_stats; subscriber_stats stays empty, as upstream's does in
 * single PeerConnection mode. Media streams are not reported yet.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "error.h"
#include "handlers.h"
#include "io.h"
#include "room_handle.h"

#define P(x) Livekit__Proto__##x
#define RES(x) LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_##x

enum { MAX_CHANNELS = 16 };

typedef struct stats_job {
    lkio_task task;
    lk_room *room;
    uint64_t async_id;
} stats_job;

/* Everything one answer points into: one allocation per request. */
typedef struct reports {
    P(RtcStats) all[5 + MAX_CHANNELS];
    P(RtcStats) *list[5 + MAX_CHANNELS];
    size_t n;
    P(RtcStatsData) data[5 + MAX_CHANNELS];
    P(RtcStats__PeerConnection) pc;
    P(PeerConnectionStats) pc_stats;
    P(RtcStats__Transport) transport;
    P(TransportStats) transport_stats;
    P(RtcStats__CandidatePair) pair;
    P(CandidatePairStats) pair_stats;
    P(RtcStats__LocalCandidate) local;
    P(RtcStats__RemoteCandidate) remote;
    P(IceCandidateStats) cand[2];
    char addr[2][INET6_ADDRSTRLEN];
    char foundation[12];
    P(RtcStats__DataChannel) dc[MAX_CHANNELS];
    P(DataChannelStats) dc_stats[MAX_CHANNELS];
    char dc_id[MAX_CHANNELS][12];
} reports;

static const char PC_ID[] = "P", TRANSPORT_ID[] = "T01", LOCAL_ID[] = "I-local",
                  REMOTE_ID[] = "I-remote", PAIR_ID[] = "CP-local-remote";

/* The next report, stamped: its kind is the caller's to set. */
static P(RtcStats) *add(reports *rs, const char *id, int64_t now_us)
{
    size_t i = rs->n++;
    livekit__proto__rtc_stats__init(&rs->all[i]);
    livekit__proto__rtc_stats_data__init(&rs->data[i]);
    rs->data[i].id = (char *)id;
    rs->data[i].timestamp = now_us;
    rs->list[i] = &rs->all[i];
    return &rs->all[i];
}

static void candidate(reports *rs, int which, const lkice_candidate *c, const char *ufrag)
{
    P(IceCandidateStats) *s = &rs->cand[which];
    livekit__proto__ice_candidate_stats__init(s);
    unsigned port = 0;
    lkice_format_addr(&c->addr, rs->addr[which], sizeof rs->addr[which], &port);
    s->transport_id = (char *)TRANSPORT_ID;
    s->address = rs->addr[which];
    s->port = (int32_t)port;
    s->protocol = "udp";
    s->has_candidate_type = true;
    s->candidate_type = (P(IceCandidateType))c->type; /* the same order */
    s->priority = (int32_t)c->priority;
    s->url = "";
    s->foundation = which == 0 ? rs->foundation : ""; /* a peer's is not kept */
    s->related_address = "";
    s->username_fragment = (char *)ufrag;
}

static void transport_reports(reports *rs, const lkpeer_stats *st, int64_t now_us)
{
    P(TransportStats) *t = &rs->transport_stats;
    livekit__proto__transport_stats__init(t);
    t->packets_sent = st->n.packets_sent;
    t->packets_received = st->n.packets_received;
    t->bytes_sent = st->n.bytes_sent;
    t->bytes_received = st->n.bytes_received;
    t->ice_role = st->ice_controlling ? LIVEKIT__PROTO__ICE_ROLE__ICE_CONTROLLING
                                      : LIVEKIT__PROTO__ICE_ROLE__ICE_CONTROLLED;
    t->ice_local_username_fragment = (char *)st->ice_ufrag;
    t->has_dtls_state = true;
    t->dtls_state = (P(DtlsTransportState))st->dtls.state; /* the same order */
    static const P(IceTransportState) ice[] = {
        [LKICE_NEW] = LIVEKIT__PROTO__ICE_TRANSPORT_STATE__ICE_TRANSPORT_NEW,
        [LKICE_CHECKING] = LIVEKIT__PROTO__ICE_TRANSPORT_STATE__ICE_TRANSPORT_CHECKING,
        [LKICE_CONNECTED] = LIVEKIT__PROTO__ICE_TRANSPORT_STATE__ICE_TRANSPORT_CONNECTED,
        [LKICE_DISCONNECTED] = LIVEKIT__PROTO__ICE_TRANSPORT_STATE__ICE_TRANSPORT_DISCONNECTED,
        [LKICE_FAILED] = LIVEKIT__PROTO__ICE_TRANSPORT_STATE__ICE_TRANSPORT_FAILED,
        [LKICE_CLOSED] = LIVEKIT__PROTO__ICE_TRANSPORT_STATE__ICE_TRANSPORT_CLOSED,
    };
    t->has_ice_state = true;
    t->ice_state = ice[st->ice_state];
    t->selected_candidate_pair_id = (char *)(st->have_pair ? PAIR_ID : "");
    t->local_certificate_id = t->remote_certificate_id = "";
    t->tls_version = (char *)st->dtls.version;
    t->dtls_cipher = (char *)st->dtls.cipher;
    t->dtls_role = st->dtls.client ? LIVEKIT__PROTO__DTLS_ROLE__DTLS_CLIENT
                                   : LIVEKIT__PROTO__DTLS_ROLE__DTLS_SERVER;
    t->srtp_cipher = (char *)st->dtls.srtp_cipher;
    t->selected_candidate_pair_changes = st->pair_changes;
    livekit__proto__rtc_stats__transport__init(&rs->transport);
    P(RtcStats) *r = add(rs, TRANSPORT_ID, now_us);
    rs->transport.rtc = &rs->data[rs->n - 1];
    rs->transport.transport = t;
    r->stats_case = LIVEKIT__PROTO__RTC_STATS__STATS_TRANSPORT;
    r->transport = &rs->transport;
}

/* The selected pair; every datagram goes over it (host candidates only),
 * so its counters are the transport's. */
static void pair_reports(reports *rs, const lkpeer_stats *st, int64_t now_us)
{
    const lkice_pair_info *pi = &st->pair;
    P(CandidatePairStats) *s = &rs->pair_stats;
    livekit__proto__candidate_pair_stats__init(s);
    s->transport_id = (char *)TRANSPORT_ID;
    s->local_candidate_id = (char *)LOCAL_ID;
    s->remote_candidate_id = (char *)REMOTE_ID;
    s->has_state = true;
    s->state = LIVEKIT__PROTO__ICE_CANDIDATE_PAIR_STATE__PAIR_SUCCEEDED;
    s->nominated = pi->nominated;
    s->packets_sent = st->n.packets_sent;
    s->packets_received = st->n.packets_received;
    s->bytes_sent = st->n.bytes_sent;
    s->bytes_received = st->n.bytes_received;
    s->total_round_trip_time = (double)pi->n.rtt_total_ns / 1e9;
    s->current_round_trip_time = (double)pi->n.rtt_last_ns / 1e9;
    s->requests_received = pi->n.requests_received;
    s->requests_sent = pi->n.requests_sent;
    s->responses_received = pi->n.responses_received;
    s->responses_sent = pi->n.responses_sent;
    s->consent_requests_sent = pi->n.consent_requests_sent;
    livekit__proto__rtc_stats__candidate_pair__init(&rs->pair);
    P(RtcStats) *r = add(rs, PAIR_ID, now_us);
    rs->pair.rtc = &rs->data[rs->n - 1];
    rs->pair.candidate_pair = s;
    r->stats_case = LIVEKIT__PROTO__RTC_STATS__STATS_CANDIDATE_PAIR;
    r->candidate_pair = &rs->pair;

    snprintf(rs->foundation, sizeof rs->foundation, "%u", pi->local_index + 1);
    candidate(rs, 0, &pi->local, st->ice_ufrag);
    candidate(rs, 1, &pi->remote, "");
    livekit__proto__rtc_stats__local_candidate__init(&rs->local);
    r = add(rs, LOCAL_ID, now_us);
    rs->local.rtc = &rs->data[rs->n - 1];
    rs->local.candidate = &rs->cand[0];
    r->stats_case = LIVEKIT__PROTO__RTC_STATS__STATS_LOCAL_CANDIDATE;
    r->local_candidate = &rs->local;
    livekit__proto__rtc_stats__remote_candidate__init(&rs->remote);
    r = add(rs, REMOTE_ID, now_us);
    rs->remote.rtc = &rs->data[rs->n - 1];
    rs->remote.candidate = &rs->cand[1];
    r->stats_case = LIVEKIT__PROTO__RTC_STATS__STATS_REMOTE_CANDIDATE;
    r->remote_candidate = &rs->remote;
}

static void channel_reports(reports *rs, const lkpeer *p, int64_t now_us)
{
    lkdc_channel_info ch[MAX_CHANNELS];
    size_t n = lkpeer_channels(p, ch, MAX_CHANNELS);
    for (size_t i = 0; i < n && i < MAX_CHANNELS; i++) {
        P(DataChannelStats) *s = &rs->dc_stats[i];
        livekit__proto__data_channel_stats__init(s);
        s->label = (char *)ch[i].label;
        s->protocol = (char *)ch[i].protocol;
        s->data_channel_identifier = ch[i].id;
        s->has_state = true;
        s->state = ch[i].state == LKDC_OPEN      ? LIVEKIT__PROTO__DATA_CHANNEL_STATE__DC_OPEN
                   : ch[i].state == LKDC_CLOSING ? LIVEKIT__PROTO__DATA_CHANNEL_STATE__DC_CLOSING
                                                 : LIVEKIT__PROTO__DATA_CHANNEL_STATE__DC_CONNECTING;
        s->messages_sent = (uint32_t)ch[i].n.messages_sent;
        s->bytes_sent = ch[i].n.bytes_sent;
        s->messages_received = (uint32_t)ch[i].n.messages_received;
        s->bytes_received = ch[i].n.bytes_received;
        snprintf(rs->dc_id[i], sizeof rs->dc_id[i], "D%u", (unsigned)ch[i].id);
        livekit__proto__rtc_stats__data_channel__init(&rs->dc[i]);
        P(RtcStats) *r = add(rs, rs->dc_id[i], now_us);
        rs->dc[i].rtc = &rs->data[rs->n - 1];
        rs->dc[i].dc = s;
        r->stats_case = LIVEKIT__PROTO__RTC_STATS__STATS_DATA_CHANNEL;
        r->data_channel = &rs->dc[i];
    }
}

static void collect(reports *rs, const lkpeer *p)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    lkpeer_stats st;
    lkpeer_get_stats(p, &st);
    rs->n = 0;
    livekit__proto__peer_connection_stats__init(&rs->pc_stats);
    rs->pc_stats.data_channels_opened = st.channels_opened;
    rs->pc_stats.data_channels_closed = st.channels_closed;
    livekit__proto__rtc_stats__peer_connection__init(&rs->pc);
    P(RtcStats) *r = add(rs, PC_ID, now_us);
    rs->pc.rtc = &rs->data[0];
    rs->pc.pc = &rs->pc_stats;
    r->stats_case = LIVEKIT__PROTO__RTC_STATS__STATS_PEER_CONNECTION;
    r->peer_connection = &rs->pc;
    transport_reports(rs, &st, now_us);
    if (st.have_pair)
        pair_reports(rs, &st, now_us);
    channel_reports(rs, p, now_us);
}

static void stats_run(lkio_task *t)
{
    stats_job *j = lk_container_of(t, stats_job, task);
    lk_room *r = j->room;
    const lkpeer *p = r->engine && !r->over ? lkroom_peer(r->engine) : NULL;
    P(GetSessionStatsCallback) cb = LIVEKIT__PROTO__GET_SESSION_STATS_CALLBACK__INIT;
    P(GetSessionStatsCallback__Result) result =
        LIVEKIT__PROTO__GET_SESSION_STATS_CALLBACK__RESULT__INIT;
    cb.async_id = j->async_id;
    reports *rs = p ? malloc(sizeof *rs) : NULL;
    if (rs) {
        collect(rs, p);
        result.n_publisher_stats = rs->n;
        result.publisher_stats = rs->list;
        cb.message_case = LIVEKIT__PROTO__GET_SESSION_STATS_CALLBACK__MESSAGE_RESULT;
        cb.result = &result;
    } else {
        cb.message_case = LIVEKIT__PROTO__GET_SESSION_STATS_CALLBACK__MESSAGE_ERROR;
        cb.error = p ? "out of memory" : "the room is not connected";
    }
    P(FfiEvent) ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = LIVEKIT__PROTO__FFI_EVENT__MESSAGE_GET_SESSION_STATS;
    ev.get_session_stats = &cb;
    lk_emit(&ev);
    free(rs);
    lk_unref(&r->base);
    free(j);
}

int lk_on_get_session_stats(lk_call *c)
{
    const P(GetSessionStatsRequest) *req = c->req->get_session_stats;
    lk_room *r = lk_room_get(req->room_handle);
    if (!r)
        return -1;
    stats_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->room = r; /* the reference lk_room_get took */
    j->async_id = lk_async_id(req->has_request_async_id, req->request_async_id);
    P(GetSessionStatsResponse) *res =
        lk_call_new(c, &livekit__proto__get_session_stats_response__descriptor);
    res->async_id = j->async_id;
    c->res->message_case = RES(GET_SESSION_STATS);
    c->res->get_session_stats = res;
    lkio_post(r->w, &j->task, stats_run);
    return 0;
}
