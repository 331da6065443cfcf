/*
 * envelope.h: reading and writing FfiRequest, FfiResponse and FfiEvent.
 *
 * Each is a oneof of some 45 to 85 message fields, and protobuf-c's generic
 * pack, size and unpack walk every field of a message: for an envelope
 * holding one small message that walk was over half the cost of a request.
 * So the envelope's single field is read and written here, and protobuf-c
 * handles only the message inside. The bytes are the same.
 */
#ifndef LK_ENVELOPE_H
#define LK_ENVELOPE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

enum lk_envelope_read {
    LK_ENVELOPE_ONE = 0,      /* exactly one known variant: see *field, *body */
    LK_ENVELOPE_GENERIC = 1,  /* a variant repeats (protobuf merges): decode generically */
    LK_ENVELOPE_EMPTY = -1,   /* no known variant; *unknown is the first unknown field or 0 */
    LK_ENVELOPE_MALFORMED = -2,
};

enum lk_envelope_read lk_envelope_read(const ProtobufCMessageDescriptor *envelope,
                                       const uint8_t *data, size_t len,
                                       const ProtobufCFieldDescriptor **field,
                                       const uint8_t **body, size_t *body_len,
                                       uint32_t *unknown);

/* The envelope as protobuf-c's unpack would make it from bytes whose one
 * variant lk_envelope_read found: field set to body's message, the oneof's
 * case to field, nothing else. Memory from alloc (NULL: protobuf-c's
 * default), so protobuf_c_message_free_unpacked frees it with that
 * allocator. NULL if body does not decode as field's message. */
ProtobufCMessage *lk_envelope_unpack_one(const ProtobufCMessageDescriptor *envelope,
                                         const ProtobufCFieldDescriptor *field,
                                         const uint8_t *body, size_t body_len,
                                         ProtobufCAllocator *alloc);

/* The encoded size of an envelope whose variant `field_number` holds m;
 * *inner receives m's own size for lk_envelope_pack. */
size_t lk_envelope_size(unsigned field_number, const ProtobufCMessage *m, size_t *inner);

/* Writes that envelope to out (lk_envelope_size bytes); returns its size. */
size_t lk_envelope_pack(unsigned field_number, const ProtobufCMessage *m, size_t inner,
                        uint8_t *out);

#endif
