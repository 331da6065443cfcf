/*
 * log.h: the library's own log.
 *
 * With capture_logs the records reach the client as LogBatch events, sent
 * from a worker in batches of up to 32 records or after at most a second.
 * Otherwise they go to stderr. LIVEKIT_FFI_LOG (error, warn, info, debug,
 * trace or off) sets the level; the default is info when captured (the
 * client filters) and warn on stderr.
 */
#ifndef LK_LOG_H
#define LK_LOG_H

#include <stdbool.h>

/* The numbering of the protocol's LogLevel. */
enum lk_log_level { LK_LOG_ERROR, LK_LOG_WARN, LK_LOG_INFO, LK_LOG_DEBUG, LK_LOG_TRACE };

extern int lk_log_max; /* records above this level are skipped; -1: off */

void lk_log_(enum lk_log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LK_LOG(level, ...)                                      \
    do {                                                        \
        if ((int)(level) <= lk_log_max)                         \
            lk_log_((level), __FILE__, __LINE__, __VA_ARGS__);  \
    } while (0)
#define lk_log_error(...) LK_LOG(LK_LOG_ERROR, __VA_ARGS__)
#define lk_log_warn(...) LK_LOG(LK_LOG_WARN, __VA_ARGS__)
#define lk_log_info(...) LK_LOG(LK_LOG_INFO, __VA_ARGS__)
#define lk_log_debug(...) LK_LOG(LK_LOG_DEBUG, __VA_ARGS__)

/* Lifecycle, driven by server.c under its lifecycle lock: */
void lk_log_start(bool capture); /* the runtime is up: capture or not */
void lk_log_stop(void);          /* before the runtime stops: back to stderr */
void lk_log_forget(void);        /* fork child: drop the parent's pending batch */

#endif
