/*
 * client.h: a minimal C client of the public ABI for tests: encode a
 * request, send it, decode the response, collect events.
 */
#ifndef LK_TEST_CLIENT_H
#define LK_TEST_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "ffi.pb-c.h"
#include "livekit_ffi.h"

/* The callback every test initializes the library with. */
void tc_callback(const uint8_t *data, size_t len);

/* livekit_ffi_initialize(tc_callback, false, "tests", "0"). */
void tc_initialize(void);

/* In a fork child: forgets collected events and resets the collector's lock. */
void tc_reset(void);

/* Sends req. On success returns the decoded response (free with
 * tc_response_free) and drops the response handle; NULL if refused. */
Livekit__Proto__FfiResponse *tc_request(const Livekit__Proto__FfiRequest *req);
void tc_response_free(Livekit__Proto__FfiResponse *res);

/* Waits up to timeout_ms for an event of the given FfiEvent variant whose
 * async_id (first field of the callback) matches; removes it. Returns the
 * event (free with tc_event_free) or NULL on timeout. */
Livekit__Proto__FfiEvent *tc_wait_callback(Livekit__Proto__FfiEvent__MessageCase which,
                                          uint64_t async_id, int timeout_ms);
/* Any event of the variant, for which match (may be NULL) is true. */
Livekit__Proto__FfiEvent *tc_wait_event(Livekit__Proto__FfiEvent__MessageCase which,
                                       bool (*match)(const Livekit__Proto__FfiEvent *, void *),
                                       void *arg, int timeout_ms);
void tc_event_free(Livekit__Proto__FfiEvent *ev);

/* Events received so far (not yet taken). */
int tc_pending_events(void);

/* Requests used across tests: an async one answered by a callback, and a
 * sync one answered in the response. */
uint64_t tc_send_connect(void); /* returns the async id; 0 if refused */
bool tc_send_sync(void);

uint64_t tc_now_ns(void);

/* Open file descriptors of this process (to see that nothing leaks them). */
int tc_count_fds(void);

#endif
