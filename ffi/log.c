/*
 * log.c: stderr or LogBatch events.
 *
 * A record is formatted on the calling thread and appended to the pending
 * batch. The batch is sent by a task on worker 0, never by the logging
 * thread itself: that thread may hold locks a re-entrant callback would
 * need. The first record of a batch arms a one-second timer; the 32nd posts
 * the send at once.
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io.h"
#include "server.h"

enum { BATCH_MAX = 32 };
static const uint64_t BATCH_DELAY_NS = 1000000000u;

typedef struct {
    enum lk_log_level level;
    const char *file;
    int line;
    char *message;
} record;

int lk_log_max = LK_LOG_WARN;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool capturing;
static record batch[BATCH_MAX];
static int batch_len;
static bool send_posted; /* send_task is in worker 0's inbox */
static lkio_task send_task;
static lkio_timer send_timer;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

static int level_from_env(int fallback)
{
    static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
    const char *env = getenv("LIVEKIT_FFI_LOG");
    if (!env || !*env)
        return fallback;
    if (strcmp(env, "off") == 0)
        return -1;
    for (int i = 0; i < 5; i++)
        if (strcasecmp(env, names[i]) == 0)
            return i;
    return fallback;
}

static void write_stderr(const record *r)
{
    fprintf(stderr, "[livekit_ffi %s %s:%d] %s\n", level_names[r->level], r->file, r->line,
            r->message);
}

/* Moves the batch out under the lock; the caller owns the records. */
static int take_batch(record out[BATCH_MAX])
{
    pthread_mutex_lock(&lock);
    int n = batch_len;
    memcpy(out, batch, (size_t)n * sizeof *out);
    batch_len = 0;
    send_posted = false;
    pthread_mutex_unlock(&lock);
    return n;
}

static void send_batch(void)
{
    record taken[BATCH_MAX];
    int n = take_batch(taken);
    if (n == 0)
        return;
    Livekit__Proto__LogRecord recs[BATCH_MAX], *ptrs[BATCH_MAX];
    for (int i = 0; i < n; i++) {
        livekit__proto__log_record__init(&recs[i]);
        recs[i].level = (Livekit__Proto__LogLevel)taken[i].level;
        recs[i].target = "livekit_ffi";
        recs[i].file = (char *)taken[i].file;
        recs[i].has_line = true;
        recs[i].line = (uint32_t)taken[i].line;
        recs[i].message = taken[i].message;
        ptrs[i] = &recs[i];
    }
    Livekit__Proto__LogBatch logs = LIVEKIT__PROTO__LOG_BATCH__INIT;
    logs.n_records = (size_t)n;
    logs.records = ptrs;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = LIVEKIT__PROTO__FFI_EVENT__MESSAGE_LOGS;
    ev.logs = &logs;
    if (!lk_emit(&ev))
        for (int i = 0; i < n; i++)
            write_stderr(&taken[i]);
    for (int i = 0; i < n; i++)
        free(taken[i].message);
}

static void on_send_timer(lkio_timer *t)
{
    send_batch();
}

/* On worker 0: send a full batch now, or make sure the timer will. */
static void on_send_task(lkio_task *t)
{
    pthread_mutex_lock(&lock);
    bool full = batch_len >= BATCH_MAX;
    bool empty = batch_len == 0;
    send_posted = false;
    pthread_mutex_unlock(&lock);
    if (full) {
        lkio_timer_stop(lkio_current(), &send_timer);
        send_batch();
    } else if (!empty && !lkio_timer_active(&send_timer)) {
        lkio_timer_start(lkio_current(), &send_timer, lkio_now_ns() + BATCH_DELAY_NS);
    }
}

void lk_log_(enum lk_log_level level, const char *file, int line, const char *fmt, ...)
{
    record r = {level, file, line, NULL};
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&r.message, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;

    pthread_mutex_lock(&lock);
    /* Not running (a fork child, say): there is no worker to send from. */
    if (!capturing || batch_len == BATCH_MAX || lkio_state() != LKIO_RUNNING) {
        pthread_mutex_unlock(&lock);
        write_stderr(&r); /* a full batch means the runtime is behind: keep the record */
        free(r.message);
        return;
    }
    batch[batch_len++] = r;
    bool post = !send_posted && (batch_len == 1 || batch_len == BATCH_MAX);
    if (post)
        send_posted = true;
    pthread_mutex_unlock(&lock);
    if (post)
        lkio_post(lkio_worker_at(0), &send_task, on_send_task);
}

void lk_log_start(bool capture)
{
    lk_log_max = level_from_env(capture ? LK_LOG_INFO : LK_LOG_WARN);
    lkio_timer_init(&send_timer, on_send_timer);
    pthread_mutex_lock(&lock);
    capturing = capture;
    pthread_mutex_unlock(&lock);
}

void lk_log_stop(void)
{
    pthread_mutex_lock(&lock);
    capturing = false;
    pthread_mutex_unlock(&lock);
    record taken[BATCH_MAX];
    int n = take_batch(taken);
    for (int i = 0; i < n; i++) {
        write_stderr(&taken[i]);
        free(taken[i].message);
    }
}

void lk_log_forget(void)
{
    pthread_mutex_init(&lock, NULL);
    for (int i = 0; i < batch_len; i++)
        free(batch[i].message);
    batch_len = 0;
    send_posted = false;
    capturing = false;
}
