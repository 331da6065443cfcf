/* envelope.c: see envelope.h. Wire format: protobuf's varints and tags. */
#include "envelope.h"

#include <stdlib.h>

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p == end)
            return -1;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1; /* more than ten bytes */
}

/* Skips the value of a field of the given wire type. */
static int skip(const uint8_t **p, const uint8_t *end, unsigned wire_type)
{
    uint64_t n;
    switch (wire_type) {
    case 0:
        return read_varint(p, end, &n);
    case 1:
        n = 8;
        break;
    case 2:
        if (read_varint(p, end, &n) < 0)
            return -1;
        break;
    case 5:
        n = 4;
        break;
    default: /* groups (3, 4) are not in this protocol */
        return -1;
    }
    if ((uint64_t)(end - *p) < n)
        return -1;
    *p += n;
    return 0;
}

enum lk_envelope_read lk_envelope_read(const ProtobufCMessageDescriptor *envelope,
                                       const uint8_t *data, size_t len,
                                       const ProtobufCFieldDescriptor **field,
                                       const uint8_t **body, size_t *body_len,
                                       uint32_t *unknown)
{
    *field = NULL;
    *unknown = 0;
    if (!len) /* data may be NULL then */
        return LK_ENVELOPE_EMPTY;
    const uint8_t *p = data, *end = data + len;
    while (p < end) {
        uint64_t tag;
        if (read_varint(&p, end, &tag) < 0)
            return LK_ENVELOPE_MALFORMED;
        uint64_t number = tag >> 3;
        unsigned wire_type = (unsigned)(tag & 7);
        if (number == 0 || number > 0x1fffffff)
            return LK_ENVELOPE_MALFORMED;
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(envelope, (unsigned)number);
        if (!f || wire_type != 2 || f->type != PROTOBUF_C_TYPE_MESSAGE) {
            if (!f && !*unknown)
                *unknown = (uint32_t)number;
            if (f) /* a known field with the wrong wire type */
                return LK_ENVELOPE_MALFORMED;
            if (skip(&p, end, wire_type) < 0)
                return LK_ENVELOPE_MALFORMED;
            continue;
        }
        uint64_t n;
        if (read_varint(&p, end, &n) < 0 || (uint64_t)(end - p) < n)
            return LK_ENVELOPE_MALFORMED;
        if (*field)
            return LK_ENVELOPE_GENERIC;
        *field = f;
        *body = p;
        *body_len = (size_t)n;
        p += n;
    }
    return *field ? LK_ENVELOPE_ONE : LK_ENVELOPE_EMPTY;
}

ProtobufCMessage *lk_envelope_unpack_one(const ProtobufCMessageDescriptor *envelope,
                                         const ProtobufCFieldDescriptor *field,
                                         const uint8_t *body, size_t body_len,
                                         ProtobufCAllocator *alloc)
{
    ProtobufCMessage *inner = protobuf_c_message_unpack(field->descriptor, alloc, body_len, body);
    if (!inner)
        return NULL;
    ProtobufCMessage *m = alloc ? alloc->alloc(alloc->allocator_data, envelope->sizeof_message)
                                : malloc(envelope->sizeof_message);
    if (!m)
        abort(); /* the library's policy: out of memory aborts */
    envelope->message_init(m);
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)((char *)m + field->quantifier_offset) = field->id;
    *(ProtobufCMessage **)((char *)m + field->offset) = inner;
    return m;
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *write_varint(uint8_t *out, uint64_t v)
{
    while (v >= 0x80) {
        *out++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *out++ = (uint8_t)v;
    return out;
}

size_t lk_envelope_size(unsigned field_number, const ProtobufCMessage *m, size_t *inner)
{
    *inner = protobuf_c_message_get_packed_size(m);
    return varint_size((uint64_t)field_number << 3 | 2) + varint_size(*inner) + *inner;
}

size_t lk_envelope_pack(unsigned field_number, const ProtobufCMessage *m, size_t inner,
                        uint8_t *out)
{
    uint8_t *p = write_varint(out, (uint64_t)field_number << 3 | 2);
    p = write_varint(p, inner);
    p += protobuf_c_message_pack(m, p);
    return (size_t)(p - out);
}
