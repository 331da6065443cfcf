/* uuid.h: random (version 4) UUIDs, as upstream names RPC requests and
 * data streams. */
#ifndef LKROOM_UUID_H
#define LKROOM_UUID_H

enum { LKROOM_UUID_SIZE = 37 }; /* 36 characters and the terminator */

void lkroom_uuid(char out[LKROOM_UUID_SIZE]);

#endif
