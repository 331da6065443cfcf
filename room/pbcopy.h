/*
 * pbcopy.h: a deep copy of a protobuf-c message through its wire form, one
 * allocation tree of protobuf-c's own (free it with the type's
 * free_unpacked).
 */
#ifndef LKROOM_PBCOPY_H
#define LKROOM_PBCOPY_H
#include <protobuf-c/protobuf-c.h>

/* NULL when the copy does not read back: protobuf-c accepts some wire forms
 * (a field numbered 0, found by fuzz_signal) that it then writes in a form
 * it refuses, so a message from the network may not survive its copy. */
void *lkroom_pb_copy(const ProtobufCMessage *m);

/* The same, of a message we built ourselves: it cannot fail (aborts). */
void *lkroom_pb_copy_own(const ProtobufCMessage *m);

#endif
