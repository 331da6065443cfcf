/* pbcopy.c: see pbcopy.h. */
#include "pbcopy.h"

#include <stdint.h>
#include <stdlib.h>

void *lkroom_pb_copy(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        abort();
    protobuf_c_message_pack(m, buf);
    void *c = protobuf_c_message_unpack(m->descriptor, NULL, n, buf);
    free(buf);
    return c;
}

void *lkroom_pb_copy_own(const ProtobufCMessage *m)
{
    void *c = lkroom_pb_copy(m);
    if (!c)
        abort();
    return c;
}
