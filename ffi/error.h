/*
 * error.h: the calling thread's last error, as livekit_ffi_last_error()
 * reports it.
 *
 * A function that fails calls lk_fail() with a message a user can act on
 * ("sample_rate is 0", "handle 12 is a video source, not an audio source")
 * and returns its own failure value; the first message wins, so an inner
 * failure is not overwritten by a vaguer outer one.
 */
#ifndef LK_ERROR_H
#define LK_ERROR_H

#include <stdbool.h>

/* Records the message unless one is already pending. Returns -1. */
int lk_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The pending message, or NULL. */
const char *lk_error(void);

/* Forgets the pending message (each entry point starts with this). */
void lk_error_clear(void);

#endif
