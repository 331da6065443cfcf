/*
 * data.c: data packets and RPC over the FFI: PublishData, PublishSipDtmf,
 * PublishTranscription, SendChatMessage, EditChatMessage, PerformRpc,
 * RegisterRpcMethod, UnregisterRpcMethod, RpcMethodInvocationResponse; the
 * DataPacketReceived, TranscriptionReceived and ChatMessage room events and
 * the RpcMethodInvocationEvent.
 *
 * Requests copy what they carry and post it to the room's worker, where
 * the engine (room/room.h) and the RPC state (room/rpc.h) live. A received
 * payload is handed over as an owned buffer: memory the client reads in
 * place and releases by dropping its handle, as upstream does.
 *
 * RpcMethodInvocationResponse answers synchronously whether the invocation
 * was waiting, as upstream does; the waiting ids are kept under a lock for
 * that, since the request comes on the client's thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "handlers.h"
#include "room_handle.h"
#include "uuid.h"

#define RES(x) LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_##x
#define EV(x) LIVEKIT__PROTO__FFI_EVENT__MESSAGE_##x

/* --- received payloads ---------------------------------------------------------------- */

typedef struct data_buffer {
    lk_object base;
    size_t len;
    uint8_t data[];
} data_buffer;

static void data_buffer_free(lk_object *o)
{
    free(lk_container_of(o, data_buffer, base));
}

static const lk_kind data_buffer_kind = {"data buffer", NULL, data_buffer_free};

static void emit_user_packet(lk_room *r, const char *identity, const Livekit__UserPacket *u,
                             bool reliable)
{
    data_buffer *b = malloc(sizeof *b + u->payload.len);
    if (!b)
        abort();
    lk_object_init(&b->base, &data_buffer_kind);
    b->len = u->payload.len;
    if (b->len)
        memcpy(b->data, u->payload.data, b->len);
    Livekit__Proto__FfiOwnedHandle h = LIVEKIT__PROTO__FFI_OWNED_HANDLE__INIT;
    h.id = lk_handle_insert(&b->base);
    Livekit__Proto__BufferInfo info = LIVEKIT__PROTO__BUFFER_INFO__INIT;
    info.data_ptr = (uint64_t)(uintptr_t)b->data;
    info.data_len = b->len;
    Livekit__Proto__OwnedBuffer owned = LIVEKIT__PROTO__OWNED_BUFFER__INIT;
    owned.handle = &h;
    owned.data = &info;
    Livekit__Proto__UserPacket user = LIVEKIT__PROTO__USER_PACKET__INIT;
    user.data = &owned;
    user.topic = u->topic[0] ? u->topic : NULL;
    Livekit__Proto__DataPacketReceived m = LIVEKIT__PROTO__DATA_PACKET_RECEIVED__INIT;
    m.kind = reliable ? LIVEKIT__PROTO__DATA_PACKET_KIND__KIND_RELIABLE
                      : LIVEKIT__PROTO__DATA_PACKET_KIND__KIND_LOSSY;
    m.participant_identity = (char *)identity;
    m.value_case = LIVEKIT__PROTO__DATA_PACKET_RECEIVED__VALUE_USER;
    m.user = &user;
    lk_room_event(r, LIVEKIT__PROTO__ROOM_EVENT__MESSAGE_DATA_PACKET_RECEIVED, &m);
}

static void emit_sip_dtmf(lk_room *r, const char *identity, const Livekit__SipDTMF *d,
                          bool reliable)
{
    Livekit__Proto__SipDTMF dtmf = LIVEKIT__PROTO__SIP_DTMF__INIT;
    dtmf.code = d->code;
    dtmf.digit = d->digit[0] ? d->digit : NULL;
    Livekit__Proto__DataPacketReceived m = LIVEKIT__PROTO__DATA_PACKET_RECEIVED__INIT;
    m.kind = reliable ? LIVEKIT__PROTO__DATA_PACKET_KIND__KIND_RELIABLE
                      : LIVEKIT__PROTO__DATA_PACKET_KIND__KIND_LOSSY;
    m.participant_identity = (char *)identity;
    m.value_case = LIVEKIT__PROTO__DATA_PACKET_RECEIVED__VALUE_SIP_DTMF;
    m.sip_dtmf = &dtmf;
    lk_room_event(r, LIVEKIT__PROTO__ROOM_EVENT__MESSAGE_DATA_PACKET_RECEIVED, &m);
}

/* A participant of the room by identity: remote, or (or_local) us. */
static bool known(const lk_room *r, const char *identity, bool or_local)
{
    if (!identity[0])
        return false;
    if (or_local && !strcmp(lkroom_local(r->engine)->identity, identity))
        return true;
    return lkroom_remote_by_identity(r->engine, identity) != NULL;
}

/* The segment in the FFI's shape (the same fields). */
static void segment_to_ffi(Livekit__Proto__TranscriptionSegment *to,
                           const Livekit__TranscriptionSegment *from)
{
    to->id = from->id;
    to->text = from->text;
    to->start_time = from->start_time;
    to->end_time = from->end_time;
    to->final = from->final;
    to->language = from->language;
}

/* Whose speech it is names the participant, if we know them; the track
 * would be named by its publication, which we do not track yet. */
static void emit_transcription(lk_room *r, const Livekit__Transcription *t)
{
    size_t n = t->n_segments;
    Livekit__Proto__TranscriptionSegment *segs = calloc(n ? n : 1, sizeof *segs);
    Livekit__Proto__TranscriptionSegment **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    if (!segs || !ptrs)
        abort();
    for (size_t i = 0; i < n; i++) {
        livekit__proto__transcription_segment__init(&segs[i]);
        segment_to_ffi(&segs[i], t->segments[i]);
        ptrs[i] = &segs[i];
    }
    Livekit__Proto__TranscriptionReceived m = LIVEKIT__PROTO__TRANSCRIPTION_RECEIVED__INIT;
    if (known(r, t->transcribed_participant_identity, true))
        m.participant_identity = t->transcribed_participant_identity;
    m.n_segments = n;
    m.segments = ptrs;
    lk_room_event(r, LIVEKIT__PROTO__ROOM_EVENT__MESSAGE_TRANSCRIPTION_RECEIVED, &m);
    free(ptrs);
    free(segs);
}

static void chat_to_ffi(Livekit__Proto__ChatMessage *to, const Livekit__ChatMessage *from)
{
    to->id = from->id;
    to->timestamp = from->timestamp;
    to->message = from->message;
    to->has_edit_timestamp = from->edit_timestamp != 0;
    to->edit_timestamp = from->edit_timestamp;
    to->has_deleted = to->has_generated = true;
    to->deleted = from->deleted;
    to->generated = from->generated;
}

/* As upstream: only from a participant we know. */
static void emit_chat(lk_room *r, const char *identity, const Livekit__ChatMessage *c)
{
    if (!known(r, identity, false))
        return;
    Livekit__Proto__ChatMessage msg = LIVEKIT__PROTO__CHAT_MESSAGE__INIT;
    chat_to_ffi(&msg, c);
    Livekit__Proto__ChatMessageReceived m = LIVEKIT__PROTO__CHAT_MESSAGE_RECEIVED__INIT;
    m.message = &msg;
    m.participant_identity = (char *)identity;
    lk_room_event(r, LIVEKIT__PROTO__ROOM_EVENT__MESSAGE_CHAT_MESSAGE, &m);
}

void lk_room_data_packet(lk_room *r, const Livekit__DataPacket *p, bool reliable)
{
    if (r->rpc && lkrpc_on_packet(r->rpc, p))
        return;
    if (r->streams && lkstreams_on_packet(r->streams, p))
        return;
    const char *identity = p->participant_identity;
    switch (p->value_case) {
    case LIVEKIT__DATA_PACKET__VALUE_USER:
        /* Older senders named themselves inside the user packet. */
        if (!identity[0])
            identity = p->user->participant_identity;
        emit_user_packet(r, identity, p->user, reliable);
        break;
    case LIVEKIT__DATA_PACKET__VALUE_SIP_DTMF:
        emit_sip_dtmf(r, identity, p->sip_dtmf, reliable);
        break;
    case LIVEKIT__DATA_PACKET__VALUE_TRANSCRIPTION:
        emit_transcription(r, p->transcription);
        break;
    case LIVEKIT__DATA_PACKET__VALUE_CHAT_MESSAGE:
        emit_chat(r, identity, p->chat_message);
        break;
    default:
        break; /* a kind we do not serve yet */
    }
}

/* --- sending ---------------------------------------------------------------------------- */

/* The callbacks of PublishData and PublishSipDtmf share their shape. */
static void emit_sent(int which, uint64_t async_id, const char *error)
{
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    Livekit__Proto__PublishDataCallback d = LIVEKIT__PROTO__PUBLISH_DATA_CALLBACK__INIT;
    Livekit__Proto__PublishSipDtmfCallback s = LIVEKIT__PROTO__PUBLISH_SIP_DTMF_CALLBACK__INIT;
    d.async_id = s.async_id = async_id;
    d.error = s.error = (char *)error;
    ev.message_case = (Livekit__Proto__FfiEvent__MessageCase)which;
    if (which == EV(PUBLISH_DATA))
        ev.publish_data = &d;
    else
        ev.publish_sip_dtmf = &s;
    lk_emit(&ev);
}

/* What a publish job carries to the worker: the packet is built there. */
typedef struct publish_job {
    lkio_task task;
    lk_room *room;
    uint64_t async_id;
    int which; /* EV(PUBLISH_DATA) or EV(PUBLISH_SIP_DTMF) */
    bool reliable;
    char *topic, *digit;
    uint32_t code;
    char **destinations;
    size_t n_destinations;
    size_t len;
    uint8_t *data;
} publish_job;

/* Takes the caller's reference on r. */
static publish_job *new_publish_job(lk_room *r, size_t n, const char *const *destinations)
{
    publish_job *j = calloc(1, sizeof *j);
    if (!j || !(j->destinations = calloc(n + 1, sizeof *j->destinations)))
        abort();
    j->room = r;
    j->n_destinations = n;
    for (size_t i = 0; i < n; i++)
        if (!(j->destinations[i] = strdup(destinations[i])))
            abort();
    return j;
}

static void publish_job_free(publish_job *j)
{
    for (size_t i = 0; i < j->n_destinations; i++)
        free(j->destinations[i]);
    free(j->destinations);
    free(j->topic);
    free(j->digit);
    free(j->data);
    lk_unref(&j->room->base);
    free(j);
}

/* Data reports through the engine's packet_sent (its token is the async
 * id) when SCTP takes the packet; a SIP DTMF, small and rare, reports as
 * soon as the engine accepts it. */
static void publish_run(lkio_task *t)
{
    publish_job *j = lk_container_of(t, publish_job, task);
    lk_room *r = j->room;
    char err[300];
    Livekit__UserPacket user = LIVEKIT__USER_PACKET__INIT;
    Livekit__SipDTMF dtmf = LIVEKIT__SIP_DTMF__INIT;
    Livekit__DataPacket p = LIVEKIT__DATA_PACKET__INIT;
    p.n_destination_identities = j->n_destinations;
    p.destination_identities = j->destinations;
    if (j->which == EV(PUBLISH_DATA)) {
        user.payload.data = j->data;
        user.payload.len = j->len;
        user.topic = j->topic ? j->topic : (char *)"";
        p.value_case = LIVEKIT__DATA_PACKET__VALUE_USER;
        p.user = &user;
    } else {
        dtmf.code = j->code;
        dtmf.digit = j->digit;
        p.value_case = LIVEKIT__DATA_PACKET__VALUE_SIP_DTMF;
        p.sip_dtmf = &dtmf;
    }
    bool data = j->which == EV(PUBLISH_DATA);
    if (!r->engine || r->over || !r->connected)
        emit_sent(j->which, j->async_id, "the room is not connected");
    else if (lkroom_send_packet(r->engine, &p, j->reliable, data ? &j->async_id : NULL, err,
                                sizeof err) < 0)
        emit_sent(j->which, j->async_id, err);
    else if (!data)
        emit_sent(j->which, j->async_id, NULL);
    publish_job_free(j);
}

/* Stream packets carry tokens of their own (LKSTREAM_TOKEN_BIT); the
 * others are PublishData's async ids. */
void lk_room_data_sent(lk_room *r, uint64_t token, const char *error)
{
    if (token & LKSTREAM_TOKEN_BIT) {
        if (r->streams)
            lkstreams_sent(r->streams, token, error);
    } else {
        emit_sent(EV(PUBLISH_DATA), token, error);
    }
}

int lk_on_publish_data(lk_call *c)
{
    const Livekit__Proto__PublishDataRequest *req = c->req->publish_data;
    if (!req->has_data_len || (req->data_len && !req->data_ptr))
        return lk_fail("PublishDataRequest needs data_ptr and data_len");
    for (size_t i = 0; i < req->n_destination_identities; i++)
        if (!req->destination_identities[i])
            return lk_fail("destination identity %zu is missing", i);
    lk_room *r = lk_room_of_local(req->local_participant_handle);
    if (!r)
        return -1;
    publish_job *j = new_publish_job(r, req->n_destination_identities,
                                     (const char *const *)req->destination_identities);
    if (!(j->data = malloc(req->data_len ? req->data_len : 1)))
        abort();
    j->which = EV(PUBLISH_DATA);
    j->async_id = lk_async_id(req->has_request_async_id, req->request_async_id);
    j->reliable = req->has_reliable && req->reliable;
    j->len = req->data_len;
    if (j->len)
        memcpy(j->data, (const void *)(uintptr_t)req->data_ptr, j->len);
    if (req->topic && !(j->topic = strdup(req->topic)))
        abort();
    Livekit__Proto__PublishDataResponse *res =
        lk_call_new(c, &livekit__proto__publish_data_response__descriptor);
    res->async_id = j->async_id;
    c->res->message_case = RES(PUBLISH_DATA);
    c->res->publish_data = res;
    lkio_post(r->w, &j->task, publish_run);
    return 0;
}

int lk_on_publish_sip_dtmf(lk_call *c)
{
    const Livekit__Proto__PublishSipDtmfRequest *req = c->req->publish_sip_dtmf;
    if (!req->has_code || !req->digit)
        return lk_fail("PublishSipDtmfRequest needs code and digit");
    for (size_t i = 0; i < req->n_destination_identities; i++)
        if (!req->destination_identities[i])
            return lk_fail("destination identity %zu is missing", i);
    lk_room *r = lk_room_of_local(req->local_participant_handle);
    if (!r)
        return -1;
    publish_job *j = new_publish_job(r, req->n_destination_identities,
                                     (const char *const *)req->destination_identities);
    if (!(j->digit = strdup(req->digit)))
        abort();
    j->which = EV(PUBLISH_SIP_DTMF);
    j->async_id = lk_async_id(req->has_request_async_id, req->request_async_id);
    j->reliable = true;
    j->code = req->code;
    Livekit__Proto__PublishSipDtmfResponse *res =
        lk_call_new(c, &livekit__proto__publish_sip_dtmf_response__descriptor);
    res->async_id = j->async_id;
    c->res->message_case = RES(PUBLISH_SIP_DTMF);
    c->res->publish_sip_dtmf = res;
    lkio_post(r->w, &j->task, publish_run);
    return 0;
}

/* --- transcriptions and chat ------------------------------------------------------------ */

/* A reliable packet built and encoded on the client's thread; the worker
 * decodes and sends it, then answers (rare and small: the copy is cheap). */
typedef struct packet_job {
    lkio_task task;
    lk_room *room;
    uint64_t async_id;
    int which; /* EV(PUBLISH_TRANSCRIPTION) or EV(CHAT_MESSAGE) */
    size_t len;
    uint8_t packed[];
} packet_job;

static void emit_packet_done(const packet_job *j, const Livekit__DataPacket *p, const char *error)
{
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = (Livekit__Proto__FfiEvent__MessageCase)j->which;
    if (j->which == EV(PUBLISH_TRANSCRIPTION)) {
        Livekit__Proto__PublishTranscriptionCallback cb =
            LIVEKIT__PROTO__PUBLISH_TRANSCRIPTION_CALLBACK__INIT;
        cb.async_id = j->async_id;
        cb.error = (char *)error;
        ev.publish_transcription = &cb;
        lk_emit(&ev);
        return;
    }
    Livekit__Proto__ChatMessage msg = LIVEKIT__PROTO__CHAT_MESSAGE__INIT;
    Livekit__Proto__SendChatMessageCallback cb = LIVEKIT__PROTO__SEND_CHAT_MESSAGE_CALLBACK__INIT;
    cb.async_id = j->async_id;
    if (error) {
        cb.message_case = LIVEKIT__PROTO__SEND_CHAT_MESSAGE_CALLBACK__MESSAGE_ERROR;
        cb.error = (char *)error;
    } else {
        chat_to_ffi(&msg, p->chat_message);
        cb.message_case = LIVEKIT__PROTO__SEND_CHAT_MESSAGE_CALLBACK__MESSAGE_CHAT_MESSAGE;
        cb.chat_message = &msg;
    }
    ev.chat_message = &cb;
    lk_emit(&ev);
}

static void packet_run(lkio_task *t)
{
    packet_job *j = lk_container_of(t, packet_job, task);
    lk_room *r = j->room;
    Livekit__DataPacket *p = livekit__data_packet__unpack(NULL, j->len, j->packed);
    char err[300];
    if (!p)
        abort(); /* we packed it */
    if (!r->engine || r->over || !r->connected)
        emit_packet_done(j, p, "the room is not connected");
    else if (lkroom_send_packet(r->engine, p, true, NULL, err, sizeof err) < 0)
        emit_packet_done(j, p, err);
    else
        emit_packet_done(j, p, NULL);
    livekit__data_packet__free_unpacked(p, NULL);
    lk_unref(&r->base);
    free(j);
}

/* Encodes p into a job for r's worker; takes the caller's reference on r. */
static void post_packet(lk_room *r, const Livekit__DataPacket *p, int which, uint64_t async_id)
{
    size_t n = livekit__data_packet__get_packed_size(p);
    packet_job *j = calloc(1, sizeof *j + n);
    if (!j)
        abort();
    j->room = r;
    j->async_id = async_id;
    j->which = which;
    j->len = livekit__data_packet__pack(p, j->packed);
    lkio_post(r->w, &j->task, packet_run);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int lk_on_publish_transcription(lk_call *c)
{
    const Livekit__Proto__PublishTranscriptionRequest *req = c->req->publish_transcription;
    if (!req->participant_identity || !req->track_id)
        return lk_fail("PublishTranscriptionRequest needs participant_identity and track_id");
    lk_room *r = lk_room_of_local(req->local_participant_handle);
    if (!r)
        return -1;
    size_t n = req->n_segments;
    Livekit__TranscriptionSegment *segs = calloc(n ? n : 1, sizeof *segs);
    Livekit__TranscriptionSegment **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    if (!segs || !ptrs)
        abort();
    for (size_t i = 0; i < n; i++) {
        const Livekit__Proto__TranscriptionSegment *f = req->segments[i];
        livekit__transcription_segment__init(&segs[i]);
        segs[i].id = f->id;
        segs[i].text = f->text;
        segs[i].start_time = f->start_time;
        segs[i].end_time = f->end_time;
        segs[i].final = f->final;
        segs[i].language = f->language;
        ptrs[i] = &segs[i];
    }
    Livekit__Transcription t = LIVEKIT__TRANSCRIPTION__INIT;
    t.transcribed_participant_identity = req->participant_identity;
    t.track_id = req->track_id;
    t.n_segments = n;
    t.segments = ptrs;
    Livekit__DataPacket p = LIVEKIT__DATA_PACKET__INIT;
    p.value_case = LIVEKIT__DATA_PACKET__VALUE_TRANSCRIPTION;
    p.transcription = &t;
    uint64_t async_id = lk_async_id(req->has_request_async_id, req->request_async_id);
    post_packet(r, &p, EV(PUBLISH_TRANSCRIPTION), async_id);
    free(ptrs);
    free(segs);
    Livekit__Proto__PublishTranscriptionResponse *res =
        lk_call_new(c, &livekit__proto__publish_transcription_response__descriptor);
    res->async_id = async_id;
    c->res->message_case = RES(PUBLISH_TRANSCRIPTION);
    c->res->publish_transcription = res;
    return 0;
}

/* Send and edit answer alike: SendChatMessageResponse, then the callback
 * with the message as sent. The sender identity is ignored, as upstream
 * does (the packet names us; the server decides). */
static int chat(lk_call *c, uint64_t handle, Livekit__ChatMessage *m, char *const *dests, size_t n,
                bool has_async_id, uint64_t request_async_id)
{
    for (size_t i = 0; i < n; i++)
        if (!dests[i])
            return lk_fail("destination identity %zu is missing", i);
    lk_room *r = lk_room_of_local(handle);
    if (!r)
        return -1;
    Livekit__DataPacket p = LIVEKIT__DATA_PACKET__INIT;
    p.value_case = LIVEKIT__DATA_PACKET__VALUE_CHAT_MESSAGE;
    p.chat_message = m;
    p.n_destination_identities = n;
    p.destination_identities = (char **)dests;
    uint64_t async_id = lk_async_id(has_async_id, request_async_id);
    post_packet(r, &p, EV(CHAT_MESSAGE), async_id);
    Livekit__Proto__SendChatMessageResponse *res =
        lk_call_new(c, &livekit__proto__send_chat_message_response__descriptor);
    res->async_id = async_id;
    c->res->message_case = RES(SEND_CHAT_MESSAGE);
    c->res->send_chat_message = res;
    return 0;
}

int lk_on_send_chat_message(lk_call *c)
{
    const Livekit__Proto__SendChatMessageRequest *req = c->req->send_chat_message;
    if (!req->message)
        return lk_fail("SendChatMessageRequest needs message");
    char id[LKROOM_UUID_SIZE];
    lkroom_uuid(id);
    Livekit__ChatMessage m = LIVEKIT__CHAT_MESSAGE__INIT;
    m.id = id;
    m.timestamp = now_ms();
    m.message = req->message;
    return chat(c, req->local_participant_handle, &m, req->destination_identities,
                req->n_destination_identities, req->has_request_async_id, req->request_async_id);
}

int lk_on_edit_chat_message(lk_call *c)
{
    const Livekit__Proto__EditChatMessageRequest *req = c->req->edit_chat_message;
    if (!req->edit_text || !req->original_message)
        return lk_fail("EditChatMessageRequest needs edit_text and original_message");
    const Livekit__Proto__ChatMessage *o = req->original_message;
    Livekit__ChatMessage m = LIVEKIT__CHAT_MESSAGE__INIT;
    m.id = o->id;
    m.timestamp = o->timestamp;
    m.edit_timestamp = now_ms();
    m.message = req->edit_text;
    m.deleted = o->has_deleted && o->deleted;
    m.generated = o->has_generated && o->generated;
    return chat(c, req->local_participant_handle, &m, req->destination_identities,
                req->n_destination_identities, req->has_request_async_id, req->request_async_id);
}

/* --- RPC ---------------------------------------------------------------------------------- */

void lk_room_data_init(lk_room *r)
{
    pthread_mutex_init(&r->invocations_lock, NULL);
}

void lk_room_data_free(lk_room *r)
{
    pthread_mutex_destroy(&r->invocations_lock);
    free(r->invocations);
}

/* Any thread: adds (id) or removes one waiting invocation; removing says
 * whether it was there. */
static void invocation_add(lk_room *r, uint64_t id)
{
    pthread_mutex_lock(&r->invocations_lock);
    if (r->n_invocations == r->cap_invocations) {
        r->cap_invocations = r->cap_invocations ? 2 * r->cap_invocations : 8;
        r->invocations = realloc(r->invocations, r->cap_invocations * sizeof *r->invocations);
        if (!r->invocations)
            abort();
    }
    r->invocations[r->n_invocations++] = id;
    pthread_mutex_unlock(&r->invocations_lock);
}

static bool invocation_take(lk_room *r, uint64_t id)
{
    bool found = false;
    pthread_mutex_lock(&r->invocations_lock);
    for (size_t i = 0; i < r->n_invocations && !found; i++) {
        if (r->invocations[i] == id) {
            r->invocations[i] = r->invocations[--r->n_invocations];
            found = true;
        }
    }
    pthread_mutex_unlock(&r->invocations_lock);
    return found;
}

static void emit_rpc_result(void *ctx, uint64_t async_id, const char *payload,
                            const lkrpc_error *error)
{
    (void)ctx;
    Livekit__Proto__RpcError e = LIVEKIT__PROTO__RPC_ERROR__INIT;
    Livekit__Proto__PerformRpcCallback cb = LIVEKIT__PROTO__PERFORM_RPC_CALLBACK__INIT;
    cb.async_id = async_id;
    if (error) {
        e.code = error->code;
        e.message = (char *)error->message;
        e.data = (char *)error->data;
        cb.error = &e;
    } else {
        cb.payload = (char *)payload;
    }
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = EV(PERFORM_RPC);
    ev.perform_rpc = &cb;
    lk_emit(&ev);
}

static void emit_invocation(void *ctx, uint64_t id, const char *method, const char *request_id,
                            const char *caller, const char *payload, uint32_t timeout_ms)
{
    lk_room *r = ctx;
    invocation_add(r, id);
    Livekit__Proto__RpcMethodInvocationEvent m = LIVEKIT__PROTO__RPC_METHOD_INVOCATION_EVENT__INIT;
    m.local_participant_handle = r->local_handle;
    m.invocation_id = id;
    m.method = (char *)method;
    m.request_id = (char *)request_id;
    m.caller_identity = (char *)caller;
    m.payload = (char *)payload;
    m.response_timeout_ms = timeout_ms;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = EV(RPC_METHOD_INVOCATION);
    ev.rpc_method_invocation = &m;
    lk_emit(&ev);
}

static int rpc_send(void *ctx, Livekit__DataPacket *p, char *err, size_t errlen)
{
    return lkroom_send_packet(((lk_room *)ctx)->engine, p, true, NULL, err, errlen);
}

static const char *rpc_server_version(void *ctx)
{
    return lkroom_server_version(((lk_room *)ctx)->engine);
}

/* RPC's streams share the room's (stream.c routes their ends back). */
static int rpc_submit(void *ctx, uint64_t job, const lkstream_job *j)
{
    lk_room *r = ctx;
    if (!r->streams)
        return -1;
    lkstreams_submit(r->streams, job, j);
    return 0;
}

static int rpc_client_protocol(void *ctx, const char *identity)
{
    const Livekit__ParticipantInfo *p =
        lkroom_remote_by_identity(((lk_room *)ctx)->engine, identity);
    return p ? p->client_protocol : 0;
}

void lk_room_rpc_start(lk_room *r)
{
    lkrpc_transport t = {r, rpc_send, rpc_server_version, rpc_submit, rpc_client_protocol};
    lkrpc_observer obs = {r, emit_rpc_result, emit_invocation};
    r->rpc = lkrpc_new(r->w, &t, &obs);
}

/* One RPC request on its way to the worker. */
typedef struct rpc_job {
    lkio_task task;
    lk_room *room;
    uint64_t async_id, invocation;
    char *destination, *method, *payload;
    uint32_t response_timeout_ms, max_round_trip_ms;
    bool has_error;
    uint32_t code;
    char *message, *data;
} rpc_job;

static rpc_job *rpc_job_new(lk_room *r)
{
    rpc_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->room = r; /* takes the caller's reference */
    return j;
}

static void rpc_job_free(rpc_job *j)
{
    free(j->destination);
    free(j->method);
    free(j->payload);
    free(j->message);
    free(j->data);
    lk_unref(&j->room->base);
    free(j);
}

static char *copy(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static void perform_run(lkio_task *t)
{
    rpc_job *j = lk_container_of(t, rpc_job, task);
    lk_room *r = j->room;
    if (!r->rpc || r->over) {
        lkrpc_error e = {LKRPC_SEND_FAILED, "Failed to send", "Not connected"};
        emit_rpc_result(r, j->async_id, NULL, &e);
    } else {
        lkrpc_perform(r->rpc, j->async_id, j->destination, j->method, j->payload,
                      j->response_timeout_ms, j->max_round_trip_ms);
    }
    rpc_job_free(j);
}

int lk_on_perform_rpc(lk_call *c)
{
    const Livekit__Proto__PerformRpcRequest *req = c->req->perform_rpc;
    if (!req->destination_identity || !req->method || !req->payload)
        return lk_fail("PerformRpcRequest needs destination_identity, method and payload");
    lk_room *r = lk_room_of_local(req->local_participant_handle);
    if (!r)
        return -1;
    rpc_job *j = rpc_job_new(r);
    j->async_id = lk_async_id(req->has_request_async_id, req->request_async_id);
    j->destination = copy(req->destination_identity);
    j->method = copy(req->method);
    j->payload = copy(req->payload);
    /* 0 would mean "at once" to upstream; here it takes the default, as absent does */
    j->response_timeout_ms = req->has_response_timeout_ms ? req->response_timeout_ms : 0;
    j->max_round_trip_ms = req->has_max_round_trip_latency_ms ? req->max_round_trip_latency_ms : 0;
    Livekit__Proto__PerformRpcResponse *res =
        lk_call_new(c, &livekit__proto__perform_rpc_response__descriptor);
    res->async_id = j->async_id;
    c->res->message_case = RES(PERFORM_RPC);
    c->res->perform_rpc = res;
    lkio_post(r->w, &j->task, perform_run);
    return 0;
}

static void register_run(lkio_task *t)
{
    rpc_job *j = lk_container_of(t, rpc_job, task);
    if (j->room->rpc)
        lkrpc_register(j->room->rpc, j->method);
    rpc_job_free(j);
}

static void unregister_run(lkio_task *t)
{
    rpc_job *j = lk_container_of(t, rpc_job, task);
    if (j->room->rpc)
        lkrpc_unregister(j->room->rpc, j->method);
    rpc_job_free(j);
}

/* Register and unregister: synchronous for the client, done on the worker
 * before any request that arrives after them. */
static int method_request(uint64_t handle, const char *method, lkio_task_fn run)
{
    if (!method)
        return lk_fail("the request needs a method");
    lk_room *r = lk_room_of_local(handle);
    if (!r)
        return -1;
    rpc_job *j = rpc_job_new(r);
    j->method = copy(method);
    lkio_post(r->w, &j->task, run);
    return 0;
}

int lk_on_register_rpc_method(lk_call *c)
{
    const Livekit__Proto__RegisterRpcMethodRequest *req = c->req->register_rpc_method;
    if (method_request(req->local_participant_handle, req->method, register_run) < 0)
        return -1;
    c->res->message_case = RES(REGISTER_RPC_METHOD);
    c->res->register_rpc_method =
        lk_call_new(c, &livekit__proto__register_rpc_method_response__descriptor);
    return 0;
}

int lk_on_unregister_rpc_method(lk_call *c)
{
    const Livekit__Proto__UnregisterRpcMethodRequest *req = c->req->unregister_rpc_method;
    if (method_request(req->local_participant_handle, req->method, unregister_run) < 0)
        return -1;
    c->res->message_case = RES(UNREGISTER_RPC_METHOD);
    c->res->unregister_rpc_method =
        lk_call_new(c, &livekit__proto__unregister_rpc_method_response__descriptor);
    return 0;
}

static void reply_run(lkio_task *t)
{
    rpc_job *j = lk_container_of(t, rpc_job, task);
    if (j->room->rpc) {
        lkrpc_error e = {j->code, j->message, j->data};
        lkrpc_reply(j->room->rpc, j->invocation, j->payload, j->has_error ? &e : NULL);
    }
    rpc_job_free(j);
}

int lk_on_rpc_method_invocation_response(lk_call *c)
{
    const Livekit__Proto__RpcMethodInvocationResponseRequest *req =
        c->req->rpc_method_invocation_response;
    if (!req->has_invocation_id)
        return lk_fail("RpcMethodInvocationResponseRequest needs invocation_id");
    lk_room *r = lk_room_of_local(req->local_participant_handle);
    if (!r)
        return -1;
    Livekit__Proto__RpcMethodInvocationResponseResponse *res =
        lk_call_new(c, &livekit__proto__rpc_method_invocation_response_response__descriptor);
    c->res->message_case = RES(RPC_METHOD_INVOCATION_RESPONSE);
    c->res->rpc_method_invocation_response = res;
    if (!invocation_take(r, req->invocation_id)) {
        res->error = (char *)"No caller found";
        lk_unref(&r->base);
        return 0;
    }
    rpc_job *j = rpc_job_new(r);
    j->invocation = req->invocation_id;
    j->payload = copy(req->payload);
    if (req->error) {
        j->has_error = true;
        j->code = req->error->code;
        j->message = copy(req->error->message);
        j->data = req->error->data ? copy(req->error->data) : NULL;
    }
    lkio_post(r->w, &j->task, reply_run);
    return 0;
}
