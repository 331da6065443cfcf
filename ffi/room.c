/*
 * room.c: rooms over the FFI: Connect, Disconnect, ReadyForRoomEvent,
 * SetLocalMetadata/Name/Attributes, and the room's events.
 *
 * A room lives on one worker with its engine (room/room.h); requests post
 * there. As upstream does, room events wait after the ConnectCallback until
 * the client says ReadyForRoomEvent (it installs its listener in between),
 * RoomSidChanged comes first after that, and a room's last event is EOS.
 * Participants are handles of their own; the local one names the room in
 * SetLocal* requests. Data packets and RPC: data.c; data streams:
 * stream.c; publishing our tracks: publish.c; remote participants'
 * track publications: remote_track.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "handle.h"
#include "handlers.h"
#include "io.h"
#include "log.h"
#include "room_handle.h"
#include "srtp.h"

#define RES(x) LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_##x
#define EV(x) LIVEKIT__PROTO__FFI_EVENT__MESSAGE_##x
#define RE(x) LIVEKIT__PROTO__ROOM_EVENT__MESSAGE_##x

struct lk_room_queued_event {
    lk_room_queued_event *next;
    size_t len;
    uint8_t data[];
};

typedef struct lk_participant {
    lk_object base;
    lk_room *room; /* a reference */
    bool local;
    char *identity;
} lk_participant;

static lk_room *room_of(lk_object *o)
{
    return lk_container_of(o, lk_room, base);
}

/* --- objects --------------------------------------------------------------------- */

static void room_close(lk_object *o);

static void room_free(lk_object *o)
{
    lk_room *r = room_of(o);
    /* The engine is destroyed on the worker before the last reference goes;
     * in a fork child it is the parent's and is left alone (its sockets were
     * closed by the runtime's discard). */
    for (lk_room_queued_event *e = r->queue; e;) {
        lk_room_queued_event *next = e->next;
        free(e);
        e = next;
    }
    lk_room_data_free(r);
    free(r->url);
    free(r->token);
    free(r);
}

static const lk_kind room_kind = {"room", room_close, room_free};

static void participant_free(lk_object *o)
{
    lk_participant *p = lk_container_of(o, lk_participant, base);
    lk_unref(&p->room->base);
    free(p->identity);
    free(p);
}

static const lk_kind participant_kind = {"participant", NULL, participant_free};

static FfiHandleId new_participant(lk_room *r, bool local, const char *identity)
{
    lk_participant *p = calloc(1, sizeof *p);
    if (!p || !(p->identity = strdup(identity ? identity : "")))
        abort();
    lk_object_init(&p->base, &participant_kind);
    p->room = room_of(lk_ref(&r->base));
    p->local = local;
    return lk_handle_insert(&p->base);
}

/* --- conversion ---------------------------------------------------------------------- */

/* What the engine knows of a participant, as the FFI describes it. The
 * message borrows the strings of `in`; entries lives in caller storage. */
typedef struct pinfo {
    Livekit__Proto__ParticipantInfo msg;
    Livekit__Proto__ParticipantInfo__AttributesEntry *entries;
    Livekit__Proto__ParticipantInfo__AttributesEntry **ptrs;
} pinfo;

static void pinfo_make(pinfo *p, const Livekit__ParticipantInfo *in)
{
    livekit__proto__participant_info__init(&p->msg);
    p->msg.sid = in->sid;
    p->msg.name = in->name;
    p->msg.identity = in->identity;
    p->msg.state = (Livekit__Proto__ParticipantState)in->state;
    p->msg.metadata = in->metadata;
    p->msg.joined_at = in->joined_at;
    p->msg.client_protocol = in->client_protocol;
    /* The server's kinds are numbered apart from the FFI's for the newest. */
    switch (in->kind) {
    case LIVEKIT__PARTICIPANT_INFO__KIND__CONNECTOR:
        p->msg.kind = LIVEKIT__PROTO__PARTICIPANT_KIND__PARTICIPANT_KIND_CONNECTOR;
        break;
    case LIVEKIT__PARTICIPANT_INFO__KIND__BRIDGE:
        p->msg.kind = LIVEKIT__PROTO__PARTICIPANT_KIND__PARTICIPANT_KIND_BRIDGE;
        break;
    default:
        p->msg.kind = (Livekit__Proto__ParticipantKind)in->kind;
    }
    p->msg.disconnect_reason = (Livekit__Proto__DisconnectReason)in->disconnect_reason;
    size_t n = in->n_attributes;
    p->entries = calloc(n ? n : 1, sizeof *p->entries);
    p->ptrs = calloc(n ? n : 1, sizeof *p->ptrs);
    if (!p->entries || !p->ptrs)
        abort();
    for (size_t i = 0; i < n; i++) {
        livekit__proto__participant_info__attributes_entry__init(&p->entries[i]);
        p->entries[i].key = in->attributes[i]->key;
        p->entries[i].value = in->attributes[i]->value;
        p->ptrs[i] = &p->entries[i];
    }
    p->msg.n_attributes = n;
    p->msg.attributes = p->ptrs;
}

static void pinfo_done(pinfo *p)
{
    free(p->entries);
    free(p->ptrs);
}

static void room_info_make(Livekit__Proto__RoomInfo *out, const Livekit__Room *in)
{
    livekit__proto__room_info__init(out);
    out->sid = in->sid;
    out->name = in->name;
    out->metadata = in->metadata;
    out->empty_timeout = in->empty_timeout;
    out->departure_timeout = in->departure_timeout;
    out->max_participants = in->max_participants;
    out->creation_time = in->creation_time_ms ? in->creation_time_ms : in->creation_time * 1000;
    out->num_participants = in->num_participants;
    out->num_publishers = in->num_publishers;
    out->active_recording = in->active_recording;
}

/* --- events ---------------------------------------------------------------------------- */

static void deliver(lk_room *r, const Livekit__Proto__FfiEvent *ev)
{
    if (r->ready) {
        lk_emit(ev);
        return;
    }
    size_t len = livekit__proto__ffi_event__get_packed_size(ev);
    lk_room_queued_event *q = malloc(sizeof *q + len);
    if (!q)
        abort();
    q->next = NULL;
    q->len = len;
    livekit__proto__ffi_event__pack(ev, q->data);
    *r->queue_tail = q;
    r->queue_tail = &q->next;
}

void lk_room_event(lk_room *r, Livekit__Proto__RoomEvent__MessageCase which, void *msg)
{
    Livekit__Proto__RoomEvent re = LIVEKIT__PROTO__ROOM_EVENT__INIT;
    re.room_handle = r->handle;
    re.message_case = which;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&livekit__proto__room_event__descriptor, which);
    *(void **)((char *)&re + f->offset) = msg;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = EV(ROOM_EVENT);
    ev.room_event = &re;
    deliver(r, &ev);
}

static void emit_connect_error(lk_room *r, const char *error)
{
    Livekit__Proto__ConnectCallback cb = LIVEKIT__PROTO__CONNECT_CALLBACK__INIT;
    cb.async_id = r->connect_async_id;
    cb.message_case = LIVEKIT__PROTO__CONNECT_CALLBACK__MESSAGE_ERROR;
    cb.error = (char *)error;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = EV(CONNECT);
    ev.connect = &cb;
    lk_emit(&ev);
}

static void emit_connected(lk_room *r)
{
    size_t n = lkroom_remote_count(r->engine);
    Livekit__Proto__FfiOwnedHandle room_h = LIVEKIT__PROTO__FFI_OWNED_HANDLE__INIT, local_h = room_h;
    room_h.id = r->handle;
    local_h.id = r->local_handle = new_participant(r, true, lkroom_local(r->engine)->identity);
    Livekit__Proto__RoomInfo info;
    room_info_make(&info, lkroom_info(r->engine));
    Livekit__Proto__OwnedRoom owned_room = LIVEKIT__PROTO__OWNED_ROOM__INIT;
    owned_room.handle = &room_h;
    owned_room.info = &info;
    pinfo local;
    pinfo_make(&local, lkroom_local(r->engine));
    Livekit__Proto__OwnedParticipant owned_local = LIVEKIT__PROTO__OWNED_PARTICIPANT__INIT;
    owned_local.handle = &local_h;
    owned_local.info = &local.msg;

    pinfo *remote = calloc(n ? n : 1, sizeof *remote);
    Livekit__Proto__FfiOwnedHandle *rh = calloc(n ? n : 1, sizeof *rh);
    Livekit__Proto__OwnedParticipant *ro = calloc(n ? n : 1, sizeof *ro);
    Livekit__Proto__ConnectCallback__ParticipantWithTracks *pw = calloc(n ? n : 1, sizeof *pw);
    Livekit__Proto__ConnectCallback__ParticipantWithTracks **pwp = calloc(n ? n : 1, sizeof *pwp);
    if (!remote || !rh || !ro || !pw || !pwp)
        abort();
    for (size_t i = 0; i < n; i++) {
        pinfo_make(&remote[i], lkroom_remote(r->engine, i));
        livekit__proto__ffi_owned_handle__init(&rh[i]);
        rh[i].id = new_participant(r, false, lkroom_remote(r->engine, i)->identity);
        livekit__proto__owned_participant__init(&ro[i]);
        ro[i].handle = &rh[i];
        ro[i].info = &remote[i].msg;
        livekit__proto__connect_callback__participant_with_tracks__init(&pw[i]);
        pw[i].participant = &ro[i];
        lk_room_connect_publications(r, lkroom_remote(r->engine, i), &pw[i]);
        pwp[i] = &pw[i];
    }
    Livekit__Proto__ConnectCallback__Result result = LIVEKIT__PROTO__CONNECT_CALLBACK__RESULT__INIT;
    result.room = &owned_room;
    result.local_participant = &owned_local;
    result.n_participants = n;
    result.participants = pwp;
    Livekit__Proto__ConnectCallback cb = LIVEKIT__PROTO__CONNECT_CALLBACK__INIT;
    cb.async_id = r->connect_async_id;
    cb.message_case = LIVEKIT__PROTO__CONNECT_CALLBACK__MESSAGE_RESULT;
    cb.result = &result;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = EV(CONNECT);
    ev.connect = &cb;
    lk_emit(&ev);
    for (size_t i = 0; i < n; i++) {
        pinfo_done(&remote[i]);
        lk_room_connect_publications_done(&pw[i]);
    }
    pinfo_done(&local);
    free(remote);
    free(rh);
    free(ro);
    free(pw);
    free(pwp);
}

static void emit_participant_connected(lk_room *r, const Livekit__ParticipantInfo *in)
{
    pinfo p;
    pinfo_make(&p, in);
    Livekit__Proto__FfiOwnedHandle h = LIVEKIT__PROTO__FFI_OWNED_HANDLE__INIT;
    h.id = new_participant(r, false, in->identity);
    Livekit__Proto__OwnedParticipant op = LIVEKIT__PROTO__OWNED_PARTICIPANT__INIT;
    op.handle = &h;
    op.info = &p.msg;
    Livekit__Proto__ParticipantConnected pc = LIVEKIT__PROTO__PARTICIPANT_CONNECTED__INIT;
    pc.info = &op;
    lk_room_event(r, RE(PARTICIPANT_CONNECTED), &pc);
    pinfo_done(&p);
}

static void on_participant(void *ctx, lkroom_change change, const Livekit__ParticipantInfo *in,
                           bool local)
{
    lk_room *r = ctx;
    switch (change) {
    case LKROOM_PARTICIPANT_CONNECTED:
        emit_participant_connected(r, in);
        break;
    case LKROOM_PARTICIPANT_DISCONNECTED: {
        if (r->rpc)
            lkrpc_participant_left(r->rpc, in->identity);
        if (r->streams)
            lkstreams_participant_left(r->streams, in->identity);
        lk_room_participant_streams_end(r, in->identity);
        Livekit__Proto__ParticipantDisconnected pd = LIVEKIT__PROTO__PARTICIPANT_DISCONNECTED__INIT;
        pd.participant_identity = in->identity;
        pd.disconnect_reason = (Livekit__Proto__DisconnectReason)in->disconnect_reason;
        lk_room_event(r, RE(PARTICIPANT_DISCONNECTED), &pd);
        break;
    }
    case LKROOM_METADATA_CHANGED: {
        Livekit__Proto__ParticipantMetadataChanged m =
            LIVEKIT__PROTO__PARTICIPANT_METADATA_CHANGED__INIT;
        m.participant_identity = in->identity;
        m.metadata = in->metadata;
        lk_room_event(r, RE(PARTICIPANT_METADATA_CHANGED), &m);
        break;
    }
    case LKROOM_NAME_CHANGED: {
        Livekit__Proto__ParticipantNameChanged m = LIVEKIT__PROTO__PARTICIPANT_NAME_CHANGED__INIT;
        m.participant_identity = in->identity;
        m.name = in->name;
        lk_room_event(r, RE(PARTICIPANT_NAME_CHANGED), &m);
        break;
    }
    case LKROOM_ATTRIBUTES_CHANGED: {
        /* All attributes in both lists: the engine does not keep the old set
         * past the change (changed_attributes is a superset, never short). */
        size_t n = in->n_attributes;
        Livekit__Proto__AttributesEntry *e = calloc(n ? n : 1, sizeof *e);
        Livekit__Proto__AttributesEntry **ep = calloc(n ? n : 1, sizeof *ep);
        if (!e || !ep)
            abort();
        for (size_t i = 0; i < n; i++) {
            livekit__proto__attributes_entry__init(&e[i]);
            e[i].key = in->attributes[i]->key;
            e[i].value = in->attributes[i]->value;
            ep[i] = &e[i];
        }
        Livekit__Proto__ParticipantAttributesChanged m =
            LIVEKIT__PROTO__PARTICIPANT_ATTRIBUTES_CHANGED__INIT;
        m.participant_identity = in->identity;
        m.n_attributes = m.n_changed_attributes = n;
        m.attributes = m.changed_attributes = ep;
        lk_room_event(r, RE(PARTICIPANT_ATTRIBUTES_CHANGED), &m);
        free(e);
        free(ep);
        break;
    }
    }
}

/* The engine holds a reference on the room from connect until here. */
static void drop_engine(lk_room *r)
{
    if (!r->engine)
        return;
    if (r->rpc)
        lkrpc_session_ended(r->rpc); /* calls in flight get their callback */
    lk_room_streams_stop(r); /* before RPC goes: its streams' jobs end */
    lkrpc_free(r->rpc);
    r->rpc = NULL;
    lk_room_publications_end(r, "the room was disconnected");
    lk_room_remote_tracks_end(r);
    lkroom_destroy(r->engine);
    r->engine = NULL;
    lk_unref(&r->base);
}

static void destroy_engine(lkio_task *t)
{
    drop_engine(lk_container_of(t, lk_room, destroy_task));
}

/* The engine may not be destroyed inside its own callback: from a task. */
static void retire_engine(lk_room *r)
{
    if (r->retiring)
        return;
    r->retiring = true;
    lkio_post(r->w, &r->destroy_task, destroy_engine);
}

static void on_connected(void *ctx, lkroom *engine, const char *error)
{
    lk_room *r = ctx;
    if (error) {
        r->over = true;
        emit_connect_error(r, error);
        retire_engine(r);
        return;
    }
    r->connected = true;
    r->handle = lk_handle_insert(lk_ref(&r->base));
    lk_room_rpc_start(r);
    lk_room_streams_start(r);
    emit_connected(r);
}

static void on_disconnected(void *ctx, Livekit__DisconnectReason reason)
{
    lk_room *r = ctx;
    r->over = true;
    if (r->rpc)
        lkrpc_session_ended(r->rpc);
    lk_room_streams_stop(r);
    lk_room_publications_end(r, "the room was disconnected");
    lk_room_remote_tracks_end(r);
    Livekit__Proto__ConnectionStateChanged cs = LIVEKIT__PROTO__CONNECTION_STATE_CHANGED__INIT;
    cs.state = LIVEKIT__PROTO__CONNECTION_STATE__CONN_DISCONNECTED;
    lk_room_event(r, RE(CONNECTION_STATE_CHANGED), &cs);
    Livekit__Proto__Disconnected d = LIVEKIT__PROTO__DISCONNECTED__INIT;
    d.reason = (Livekit__Proto__DisconnectReason)reason;
    lk_room_event(r, RE(DISCONNECTED), &d);
    if (r->disconnect_asked) {
        Livekit__Proto__DisconnectCallback dc = LIVEKIT__PROTO__DISCONNECT_CALLBACK__INIT;
        dc.async_id = r->disconnect_async_id;
        Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
        ev.message_case = EV(DISCONNECT);
        ev.disconnect = &dc;
        lk_emit(&ev);
    }
    Livekit__Proto__RoomEOS eos = LIVEKIT__PROTO__ROOM_EOS__INIT;
    lk_room_event(r, RE(EOS), &eos);
    retire_engine(r);
}

/* As upstream reports a resume: the state, then the event. */
static void on_reconnecting(void *ctx)
{
    lk_room *r = ctx;
    Livekit__Proto__ConnectionStateChanged cs = LIVEKIT__PROTO__CONNECTION_STATE_CHANGED__INIT;
    cs.state = LIVEKIT__PROTO__CONNECTION_STATE__CONN_RECONNECTING;
    lk_room_event(r, RE(CONNECTION_STATE_CHANGED), &cs);
    Livekit__Proto__Reconnecting e = LIVEKIT__PROTO__RECONNECTING__INIT;
    lk_room_event(r, RE(RECONNECTING), &e);
}

static void on_reconnected(void *ctx)
{
    lk_room *r = ctx;
    Livekit__Proto__ConnectionStateChanged cs = LIVEKIT__PROTO__CONNECTION_STATE_CHANGED__INIT;
    cs.state = LIVEKIT__PROTO__CONNECTION_STATE__CONN_CONNECTED;
    lk_room_event(r, RE(CONNECTION_STATE_CHANGED), &cs);
    Livekit__Proto__Reconnected e = LIVEKIT__PROTO__RECONNECTED__INIT;
    lk_room_event(r, RE(RECONNECTED), &e);
}

static void on_token_refreshed(void *ctx, const char *token)
{
    Livekit__Proto__TokenRefreshed e = LIVEKIT__PROTO__TOKEN_REFRESHED__INIT;
    e.token = (char *)token;
    lk_room_event(ctx, RE(TOKEN_REFRESHED), &e);
}

static void emit_set_done(int kind, uint64_t async_id, const char *error)
{
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    Livekit__Proto__SetLocalMetadataCallback m = LIVEKIT__PROTO__SET_LOCAL_METADATA_CALLBACK__INIT;
    Livekit__Proto__SetLocalNameCallback n = LIVEKIT__PROTO__SET_LOCAL_NAME_CALLBACK__INIT;
    Livekit__Proto__SetLocalAttributesCallback a = LIVEKIT__PROTO__SET_LOCAL_ATTRIBUTES_CALLBACK__INIT;
    m.async_id = n.async_id = a.async_id = async_id;
    m.error = n.error = a.error = (char *)error;
    ev.message_case = (Livekit__Proto__FfiEvent__MessageCase)kind;
    if (kind == EV(SET_LOCAL_METADATA))
        ev.set_local_metadata = &m;
    else if (kind == EV(SET_LOCAL_NAME))
        ev.set_local_name = &n;
    else
        ev.set_local_attributes = &a;
    lk_emit(&ev);
}

static void on_update_done(void *ctx, uint64_t token, const char *error)
{
    lk_room *r = ctx;
    for (size_t i = 0; i < r->n_sets; i++) {
        if (r->sets[i].async_id != token)
            continue;
        int kind = r->sets[i].kind;
        r->sets[i] = r->sets[--r->n_sets];
        emit_set_done(kind, token, error);
        return;
    }
}

static void on_packet(void *ctx, const Livekit__DataPacket *p, bool reliable)
{
    lk_room_data_packet(ctx, p, reliable);
}

static void on_packet_sent(void *ctx, uint64_t token, const char *error)
{
    lk_room_data_sent(ctx, token, error);
}

static void on_track_published(void *ctx, uint64_t token, lkroom_local_track *t,
                               const Livekit__TrackInfo *info, const char *error)
{
    lk_room_track_published(ctx, token, t, info, error);
}

static void on_track_republished(void *ctx, lkroom_local_track *t,
                                         const char *previous_sid,
                                         const Livekit__TrackInfo *info, const char *error)
{
    lk_room_track_republished(ctx, t, previous_sid, info, error);
}

static void on_remote_track(void *ctx, lkroom_track_change c, const Livekit__ParticipantInfo *p,
                            const Livekit__TrackInfo *t)
{
    lk_room_remote_track(ctx, c, p, t);
}

static void on_track_subscribed(void *ctx, const char *participant_sid, const char *track_sid,
                                bool on)
{
    lk_room_track_subscribed(ctx, track_sid, on);
}

static void on_subscription_failed(void *ctx, const char *track_sid, const char *error)
{
    lk_room_track_subscription_failed(ctx, track_sid, error);
}

static void on_audio(void *ctx, const char *track_sid, const int16_t *pcm, size_t samples)
{
    lk_room_track_audio(ctx, track_sid, pcm, samples);
}

static void on_video(void *ctx, const char *track_sid, const lkvp8_image *img, uint32_t rtp_ts)
{
    lk_room_track_video(ctx, track_sid, img, rtp_ts);
}

/* Identities, in the engine's order (upstream's: quietest first). */
static void on_speakers(void *ctx, const Livekit__ParticipantInfo *const *active, size_t n)
{
    char **ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids)
        abort();
    for (size_t i = 0; i < n; i++)
        ids[i] = active[i]->identity;
    Livekit__Proto__ActiveSpeakersChanged e = LIVEKIT__PROTO__ACTIVE_SPEAKERS_CHANGED__INIT;
    e.n_participant_identities = n;
    e.participant_identities = ids;
    lk_room_event(ctx, RE(ACTIVE_SPEAKERS_CHANGED), &e);
    free(ids);
}

/* The signal's enum and ours share their numbers (POOR 0 to LOST 3). A
 * value beyond them (a newer server) is not passed on: in our proto2
 * event, a client's parser would drop the unknown value, then refuse the
 * event for its missing required field. */
static void on_quality(void *ctx, const Livekit__ParticipantInfo *p, Livekit__ConnectionQuality q)
{
    if ((int)q < LIVEKIT__PROTO__CONNECTION_QUALITY__QUALITY_POOR ||
        (int)q > LIVEKIT__PROTO__CONNECTION_QUALITY__QUALITY_LOST)
        return;
    Livekit__Proto__ConnectionQualityChanged e = LIVEKIT__PROTO__CONNECTION_QUALITY_CHANGED__INIT;
    e.participant_identity = p->identity;
    e.quality = (Livekit__Proto__ConnectionQuality)q;
    lk_room_event(ctx, RE(CONNECTION_QUALITY_CHANGED), &e);
}

static void on_local_track_subscribed(void *ctx, const char *sid)
{
    Livekit__Proto__LocalTrackSubscribed e = LIVEKIT__PROTO__LOCAL_TRACK_SUBSCRIBED__INIT;
    e.track_sid = (char *)sid;
    lk_room_event(ctx, RE(LOCAL_TRACK_SUBSCRIBED), &e);
}

/* --- worker tasks ------------------------------------------------------------------------ */

static void start(lkio_task *t)
{
    lk_room *r = lk_container_of(t, lk_room, start_task);
    lkroom_observer obs = {.ctx = r,
                           .connected = on_connected,
                           .participant = on_participant,
                           .disconnected = on_disconnected,
                           .reconnecting = on_reconnecting,
                           .reconnected = on_reconnected,
                           .token_refreshed = on_token_refreshed,
                           .update_done = on_update_done,
                           .packet = on_packet,
                           .packet_sent = on_packet_sent,
                           .track_published = on_track_published,
                           .track_republished = on_track_republished,
                           .local_track_subscribed = on_local_track_subscribed,
                           .remote_track = on_remote_track,
                           .track_subscribed = on_track_subscribed,
                           .subscription_failed = on_subscription_failed,
                           .audio = on_audio,
                           .video = on_video,
                           .speakers = on_speakers,
                           .quality = on_quality};
    r->engine = lkroom_connect(r->w, r->url, r->token, &r->opts, &obs);
}

static void close_run(lkio_task *t)
{
    lk_room *r = lk_container_of(t, lk_room, close_task);
    r->over = true;
    if (!r->retiring)
        drop_engine(r); /* the socket's FIN tells the server */
    lk_unref(&r->base);
}

static void room_close(lk_object *o)
{
    lk_room *r = room_of(o);
    lkio_post(r->w, &r->close_task, close_run);
    lk_ref(o); /* for the task */
}

/* --- requests ------------------------------------------------------------------------------ */

int lk_on_connect(lk_call *c)
{
    const Livekit__Proto__ConnectRequest *req = c->req->connect;
    lk_room *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    lk_object_init(&r->base, &room_kind);
    r->w = lkio_pick_worker();
    /* libsrtp2 is opened from disk on first use: here, where blocking is
     * allowed, not on the worker when the connection comes up. Without it
     * the room still joins and carries data; publishing says why not. */
    char srtp_error[160];
    if (lksrtp_load(srtp_error, sizeof srtp_error) < 0)
        lk_log_warn("%s: rooms will carry no media", srtp_error);
    /* Missing ones fail in the callback, as upstream's do. */
    r->url = strdup(req->url ? req->url : "");
    r->token = strdup(req->token ? req->token : "");
    r->queue_tail = &r->queue;
    lk_room_data_init(r);
    r->opts.auto_subscribe = true;
    if (req->options) {
        if (req->options->has_auto_subscribe)
            r->opts.auto_subscribe = req->options->auto_subscribe;
        if (req->options->has_adaptive_stream)
            r->opts.adaptive_stream = req->options->adaptive_stream;
        if (req->options->has_dynacast)
            r->opts.dynacast = req->options->dynacast;
        if (req->options->has_connect_timeout_ms)
            r->opts.connect_timeout_ms = req->options->connect_timeout_ms;
    }
    r->connect_async_id = lk_async_id(req->has_request_async_id, req->request_async_id);
    Livekit__Proto__ConnectResponse *res = lk_call_new(c, &livekit__proto__connect_response__descriptor);
    res->async_id = r->connect_async_id;
    c->res->message_case = RES(CONNECT);
    c->res->connect = res;
    lkio_post(r->w, &r->start_task, start); /* the caller's reference: the engine's */
    return 0;
}

typedef struct room_job {
    lkio_task task;
    lk_room *room;
    uint64_t async_id;
    int kind;
    Livekit__DisconnectReason reason;
    char *metadata, *name;
    char **keys, **values;
    size_t n;
} room_job;

static void job_free(room_job *j)
{
    free(j->metadata);
    free(j->name);
    for (size_t i = 0; i < j->n; i++) {
        free(j->keys[i]);
        free(j->values[i]);
    }
    free(j->keys);
    free(j->values);
    lk_unref(&j->room->base);
    free(j);
}

static void disconnect_run(lkio_task *t)
{
    room_job *j = lk_container_of(t, room_job, task);
    lk_room *r = j->room;
    if (r->engine && !r->over && !r->disconnect_asked) {
        r->disconnect_asked = true;
        r->disconnect_async_id = j->async_id;
        lkroom_leave(r->engine, j->reason);
    } else { /* already over: answer at once, as upstream does */
        Livekit__Proto__DisconnectCallback dc = LIVEKIT__PROTO__DISCONNECT_CALLBACK__INIT;
        dc.async_id = j->async_id;
        Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
        ev.message_case = EV(DISCONNECT);
        ev.disconnect = &dc;
        lk_emit(&ev);
    }
    job_free(j);
}

static room_job *new_job(lk_room *r, uint64_t async_id)
{
    room_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->room = r; /* takes the caller's reference */
    j->async_id = async_id;
    return j;
}

static void ready_run(lkio_task *t)
{
    room_job *j = lk_container_of(t, room_job, task);
    lk_room *r = j->room;
    if (!r->ready) {
        r->ready = true;
        Livekit__Proto__RoomSidChanged sid = LIVEKIT__PROTO__ROOM_SID_CHANGED__INIT;
        sid.sid = (char *)(r->engine && lkroom_info(r->engine) ? lkroom_info(r->engine)->sid : "");
        if (r->engine && sid.sid[0])
            lk_room_event(r, RE(ROOM_SID_CHANGED), &sid);
        lk_room_queued_event *e = r->queue;
        r->queue = NULL;
        r->queue_tail = &r->queue;
        while (e) {
            lk_room_queued_event *next = e->next;
            lk_emit_packed(e->data, e->len);
            free(e);
            e = next;
        }
    }
    job_free(j);
}

int lk_on_disconnect(lk_call *c)
{
    const Livekit__Proto__DisconnectRequest *req = c->req->disconnect;
    lk_object *o = lk_handle_get(req->room_handle, &room_kind);
    if (!o)
        return -1;
    room_job *j = new_job(room_of(o), lk_async_id(req->has_request_async_id, req->request_async_id));
    j->reason = req->has_reason ? (Livekit__DisconnectReason)req->reason
                                : LIVEKIT__DISCONNECT_REASON__CLIENT_INITIATED;
    Livekit__Proto__DisconnectResponse *res =
        lk_call_new(c, &livekit__proto__disconnect_response__descriptor);
    res->async_id = j->async_id;
    c->res->message_case = RES(DISCONNECT);
    c->res->disconnect = res;
    lkio_post(j->room->w, &j->task, disconnect_run);
    return 0;
}

/* The FFI's scenario kinds, as the engine names them; -1 with why. */
static int scenario_of(int kind, const char **why)
{
#define SK(x) LIVEKIT__PROTO__SIMULATE_SCENARIO_KIND__SIMULATE_##x
    switch (kind) {
    case SK(SIGNAL_RECONNECT): return LKROOM_SIMULATE_SIGNAL_LOSS;
    case SK(SPEAKER): return LKROOM_SIMULATE_SPEAKER;
    case SK(NODE_FAILURE): return LKROOM_SIMULATE_NODE_FAILURE;
    case SK(SERVER_LEAVE): return LKROOM_SIMULATE_SERVER_LEAVE;
    case SK(MIGRATION): return LKROOM_SIMULATE_MIGRATION;
    case SK(FULL_RECONNECT): return LKROOM_SIMULATE_FULL_RECONNECT;
    case SK(DISCONNECT_SIGNAL_ON_RESUME): return LKROOM_SIMULATE_RESUME_CUT;
    case SK(FORCE_TCP):
    case SK(FORCE_TLS):
        *why = "this build's ICE is UDP only: TCP and TLS cannot be forced";
        return -1;
    default:
        *why = "unknown scenario";
        return -1;
    }
#undef SK
}

static void simulate_run(lkio_task *t)
{
    room_job *j = lk_container_of(t, room_job, task);
    lk_room *r = j->room;
    Livekit__Proto__SimulateScenarioCallback cb = LIVEKIT__PROTO__SIMULATE_SCENARIO_CALLBACK__INIT;
    cb.async_id = j->async_id;
    const char *why = NULL;
    int s = scenario_of(j->kind, &why);
    if (s < 0)
        cb.error = (char *)why;
    else if (!r->engine || r->over || !r->connected ||
             lkroom_simulate(r->engine, (lkroom_scenario)s) < 0)
        cb.error = "the room is not connected";
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = EV(SIMULATE_SCENARIO);
    ev.simulate_scenario = &cb;
    lk_emit(&ev);
    job_free(j);
}

int lk_on_simulate_scenario(lk_call *c)
{
    const Livekit__Proto__SimulateScenarioRequest *req = c->req->simulate_scenario;
    lk_object *o = lk_handle_get(req->room_handle, &room_kind);
    if (!o)
        return -1;
    room_job *j = new_job(room_of(o), lk_async_id(req->has_request_async_id, req->request_async_id));
    j->kind = (int)req->scenario;
    Livekit__Proto__SimulateScenarioResponse *res =
        lk_call_new(c, &livekit__proto__simulate_scenario_response__descriptor);
    res->async_id = j->async_id;
    c->res->message_case = RES(SIMULATE_SCENARIO);
    c->res->simulate_scenario = res;
    lkio_post(j->room->w, &j->task, simulate_run);
    return 0;
}

int lk_on_ready_for_room_event(lk_call *c)
{
    lk_object *o = lk_handle_get(c->req->ready_for_room_event->room_handle, &room_kind);
    if (!o)
        return -1;
    room_job *j = new_job(room_of(o), 0);
    c->res->message_case = RES(READY_FOR_ROOM_EVENT);
    c->res->ready_for_room_event =
        lk_call_new(c, &livekit__proto__ready_for_room_event_response__descriptor);
    lkio_post(j->room->w, &j->task, ready_run);
    return 0;
}

static void set_run(lkio_task *t)
{
    room_job *j = lk_container_of(t, room_job, task);
    lk_room *r = j->room;
    if (!r->engine || r->over || r->n_sets == sizeof r->sets / sizeof r->sets[0]) {
        emit_set_done(j->kind, j->async_id,
                      r->n_sets == sizeof r->sets / sizeof r->sets[0] ? "too many updates pending"
                                                                     : "the room is not connected");
    } else {
        r->sets[r->n_sets].async_id = j->async_id;
        r->sets[r->n_sets++].kind = j->kind;
        lkroom_update_local(r->engine, j->async_id, j->metadata, j->name,
                            (const char *const *)j->keys, (const char *const *)j->values, j->n);
    }
    job_free(j);
}

lk_room *lk_room_get(uint64_t handle)
{
    lk_object *o = lk_handle_get(handle, &room_kind);
    return o ? room_of(o) : NULL;
}

lk_room *lk_room_of_local(uint64_t handle)
{
    lk_object *o = lk_handle_get(handle, &participant_kind);
    if (!o)
        return NULL;
    lk_participant *p = lk_container_of(o, lk_participant, base);
    lk_room *r = p->local ? room_of(lk_ref(&p->room->base)) : NULL;
    lk_unref(o);
    if (!r)
        lk_fail("not the local participant's handle");
    return r;
}

lk_room *lk_room_of_participant(uint64_t handle, char **identity)
{
    lk_object *o = lk_handle_get(handle, &participant_kind);
    if (!o)
        return NULL;
    lk_participant *p = lk_container_of(o, lk_participant, base);
    lk_room *r = room_of(lk_ref(&p->room->base));
    if (!(*identity = strdup(p->identity)))
        abort();
    lk_unref(o);
    return r;
}

/* The room behind a local participant handle, as a new job. */
static room_job *local_job(uint64_t handle, bool has_async, uint64_t request_async_id, int kind)
{
    lk_room *r = lk_room_of_local(handle);
    if (!r)
        return NULL;
    room_job *j = new_job(r, lk_async_id(has_async, request_async_id));
    j->kind = kind;
    return j;
}

int lk_on_set_local_metadata(lk_call *c)
{
    const Livekit__Proto__SetLocalMetadataRequest *req = c->req->set_local_metadata;
    if (!req->metadata)
        return lk_fail("SetLocalMetadataRequest needs metadata");
    room_job *j = local_job(req->local_participant_handle, req->has_request_async_id,
                            req->request_async_id, EV(SET_LOCAL_METADATA));
    if (!j)
        return -1;
    j->metadata = strdup(req->metadata);
    Livekit__Proto__SetLocalMetadataResponse *res =
        lk_call_new(c, &livekit__proto__set_local_metadata_response__descriptor);
    res->async_id = j->async_id;
    c->res->message_case = RES(SET_LOCAL_METADATA);
    c->res->set_local_metadata = res;
    lkio_post(j->room->w, &j->task, set_run);
    return 0;
}

int lk_on_set_local_name(lk_call *c)
{
    const Livekit__Proto__SetLocalNameRequest *req = c->req->set_local_name;
    if (!req->name)
        return lk_fail("SetLocalNameRequest needs name");
    room_job *j = local_job(req->local_participant_handle, req->has_request_async_id,
                            req->request_async_id, EV(SET_LOCAL_NAME));
    if (!j)
        return -1;
    j->name = strdup(req->name);
    Livekit__Proto__SetLocalNameResponse *res =
        lk_call_new(c, &livekit__proto__set_local_name_response__descriptor);
    res->async_id = j->async_id;
    c->res->message_case = RES(SET_LOCAL_NAME);
    c->res->set_local_name = res;
    lkio_post(j->room->w, &j->task, set_run);
    return 0;
}

int lk_on_set_local_attributes(lk_call *c)
{
    const Livekit__Proto__SetLocalAttributesRequest *req = c->req->set_local_attributes;
    for (size_t i = 0; i < req->n_attributes; i++)
        if (!req->attributes[i]->key || !req->attributes[i]->value)
            return lk_fail("attribute %zu lacks its key or value", i);
    room_job *j = local_job(req->local_participant_handle, req->has_request_async_id,
                            req->request_async_id, EV(SET_LOCAL_ATTRIBUTES));
    if (!j)
        return -1;
    j->n = req->n_attributes;
    j->keys = calloc(j->n ? j->n : 1, sizeof *j->keys);
    j->values = calloc(j->n ? j->n : 1, sizeof *j->values);
    if (!j->keys || !j->values)
        abort();
    for (size_t i = 0; i < j->n; i++) {
        j->keys[i] = strdup(req->attributes[i]->key);
        j->values[i] = strdup(req->attributes[i]->value);
    }
    Livekit__Proto__SetLocalAttributesResponse *res =
        lk_call_new(c, &livekit__proto__set_local_attributes_response__descriptor);
    res->async_id = j->async_id;
    c->res->message_case = RES(SET_LOCAL_ATTRIBUTES);
    c->res->set_local_attributes = res;
    lkio_post(j->room->w, &j->task, set_run);
    return 0;
}
