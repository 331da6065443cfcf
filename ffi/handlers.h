/*
 * handlers.h: one handler per FfiRequest variant we serve. dispatch.c maps
 * variants to them; each lives in the file of its service.
 */
#ifndef LK_HANDLERS_H
#define LK_HANDLERS_H

#include "server.h"

/* Field numbers of FfiRequest's variants run below this. */
enum { LK_REQUEST_CASES = 128 };

/* server.c */
int lk_on_dispose(lk_call *c);

/* unsupported.c: every variant this core does not serve. */
int lk_on_unsupported(lk_call *c);

#endif
