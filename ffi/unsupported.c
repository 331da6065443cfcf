/*
 * unsupported.c: honest, fast answers to everything this core does not
 * serve (rooms, participants, publishing, data, RPC, E2EE, platform audio…).
 *
 * Variants whose upstream contract is "a response with async_id, then a
 * callback" get exactly that: the response, and at once, from a worker, the
 * callback with its error set, so a client awaiting it raises instead of
 * hanging. Other variants get their response's `error` when it has one, and
 * otherwise fail the request (INVALID_HANDLE and livekit_ffi_last_error()).
 *
 * The messages are built through protobuf-c's descriptors, so one function
 * serves every variant; only the request → callback pairing is a table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "handlers.h"
#include "io.h"

#define REQ(x) LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_##x
#define RES(x) LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_##x
#define EV(x) LIVEKIT__PROTO__FFI_EVENT__MESSAGE_##x

/* Variants answered by a callback upstream: response and event fields. */
static const struct {
    uint8_t res, ev;
} async_contract[LK_REQUEST_CASES] = {
    [REQ(CONNECT)] = {RES(CONNECT), EV(CONNECT)},
    [REQ(SET_LOCAL_METADATA)] = {RES(SET_LOCAL_METADATA), EV(SET_LOCAL_METADATA)},
    [REQ(SET_LOCAL_NAME)] = {RES(SET_LOCAL_NAME), EV(SET_LOCAL_NAME)},
    [REQ(SET_LOCAL_ATTRIBUTES)] = {RES(SET_LOCAL_ATTRIBUTES), EV(SET_LOCAL_ATTRIBUTES)},
    [REQ(SEND_STREAM_HEADER)] = {RES(SEND_STREAM_HEADER), EV(SEND_STREAM_HEADER)},
    [REQ(SEND_STREAM_CHUNK)] = {RES(SEND_STREAM_CHUNK), EV(SEND_STREAM_CHUNK)},
    [REQ(SEND_STREAM_TRAILER)] = {RES(SEND_STREAM_TRAILER), EV(SEND_STREAM_TRAILER)},
    [REQ(PUBLISH_DATA_TRACK)] = {RES(PUBLISH_DATA_TRACK), EV(PUBLISH_DATA_TRACK)},
    [REQ(DEFINE_SCHEMA)] = {RES(DEFINE_SCHEMA), EV(DEFINE_SCHEMA)},
    [REQ(GET_SCHEMA)] = {RES(GET_SCHEMA), EV(GET_SCHEMA)},
};

/* --- generic message surgery --------------------------------------------- */

static void *member(void *msg, unsigned offset)
{
    return (char *)msg + offset;
}

static void mark_present(void *msg, const ProtobufCFieldDescriptor *f)
{
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)member(msg, f->quantifier_offset) = f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
             f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)member(msg, f->quantifier_offset) = 1;
}

/* Sets a oneof variant of an envelope (FfiResponse or FfiEvent) to a new,
 * empty message and returns it. */
static void *set_variant(lk_call *c, void *envelope, const ProtobufCMessageDescriptor *desc,
                         unsigned field)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(desc, field);
    void *msg = lk_call_new(c, f->descriptor);
    *(void **)member(envelope, f->offset) = msg;
    mark_present(envelope, f);
    return msg;
}

static void set_async_id(void *msg, uint64_t id)
{
    const ProtobufCMessageDescriptor *d = ((ProtobufCMessage *)msg)->descriptor;
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, "async_id");
    *(uint64_t *)member(msg, f->offset) = id;
    mark_present(msg, f);
}

/* Fills the message's `error`: a string, or a message (RpcError,
 * StreamError…) whose string fields all carry the text. False if the
 * message has no error slot. */
static bool set_error(lk_call *c, void *msg, const char *text)
{
    const ProtobufCMessageDescriptor *d = ((ProtobufCMessage *)msg)->descriptor;
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, "error");
    if (!f)
        return false;
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        *(const char **)member(msg, f->offset) = text;
    } else {
        const ProtobufCMessageDescriptor *ed = f->descriptor;
        void *err = lk_call_new(c, ed);
        for (unsigned i = 0; i < ed->n_fields; i++)
            if (ed->fields[i].type == PROTOBUF_C_TYPE_STRING)
                *(const char **)member(err, ed->fields[i].offset) = text;
        *(void **)member(msg, f->offset) = err;
    }
    mark_present(msg, f);
    return true;
}

/* The client's request_async_id, if the variant has one and it is set. */
static uint64_t async_id_for(const void *request)
{
    const ProtobufCMessageDescriptor *d = ((const ProtobufCMessage *)request)->descriptor;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(d, "request_async_id");
    bool has = f && *(const protobuf_c_boolean *)member((void *)request, f->quantifier_offset);
    return lk_async_id(has, has ? *(const uint64_t *)member((void *)request, f->offset) : 0);
}

int lk_on_unsupported(lk_call *c)
{
    const ProtobufCFieldDescriptor *rf = protobuf_c_message_descriptor_get_field(
        &livekit__proto__ffi_request__descriptor, (unsigned)c->req->message_case);
    char *text = lk_arena_alloc(c->arena, 256);
    snprintf(text, 256,
             "%s is not supported by this build of liblivekit_ffi: rooms, participants, "
             "publishing and data channels are not part of this core",
             rf->name);

    unsigned which = (unsigned)c->req->message_case;
    if (async_contract[which].res) {
        const void *request = *(void *const *)member((void *)c->req, rf->offset);
        uint64_t async_id = async_id_for(request);
        void *res = set_variant(c, c->res, &livekit__proto__ffi_response__descriptor,
                                async_contract[which].res);
        set_async_id(res, async_id);
        Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
        void *cb = set_variant(c, &ev, &livekit__proto__ffi_event__descriptor,
                               async_contract[which].ev);
        set_async_id(cb, async_id);
        set_error(c, cb, text);
        lk_post_event(lkio_pick_worker(), &ev);
        return 0;
    }

    /* Synchronous: answer with the response's own error, if it has one. */
    const ProtobufCFieldDescriptor *sf = protobuf_c_message_descriptor_get_field_by_name(
        &livekit__proto__ffi_response__descriptor, rf->name);
    if (sf) {
        void *res = set_variant(c, c->res, &livekit__proto__ffi_response__descriptor, sf->id);
        if (set_error(c, res, text))
            return 0;
        c->res->message_case = LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE__NOT_SET;
    }
    return lk_fail("%s", text);
}
