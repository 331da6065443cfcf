/*
 * flow.h: how media moves from a source to the streams reading it.
 *
 * A source keeps a fanout: the list of its subscribers (one per stream,
 * each tagged with the track it came through). Publishing hands an item (a
 * refcounted frame) to every subscriber.
 *
 * A stream keeps a queue: bounded, dropping its oldest item when full, and
 * drained on the stream's own worker, so a slow client delays its stream and
 * nothing else. Ending the queue drops what is queued and runs on_eos once,
 * on the worker, after any item already being handled.
 */
#ifndef LK_FLOW_H
#define LK_FLOW_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "handle.h"
#include "io.h"

/* --- the source side ------------------------------------------------------ */

typedef struct lk_sub lk_sub;
struct lk_sub {
    lk_sub *next;
    const void *track; /* the track the subscription came through */
    /* With the fanout's lock held: keep a reference to item if needed. */
    void (*deliver)(lk_sub *sub, lk_object *item);
    /* With the fanout's lock held, when the track ended the subscription. */
    void (*ended)(lk_sub *sub);
};

typedef struct lk_fanout {
    pthread_mutex_t lock;
    lk_sub *subs;
} lk_fanout;

void lk_fanout_init(lk_fanout *f);
void lk_fanout_destroy(lk_fanout *f);
void lk_fanout_add(lk_fanout *f, lk_sub *sub);
/* False if sub was not there (its track ended it first). */
bool lk_fanout_remove(lk_fanout *f, lk_sub *sub);
/* Ends (removes, and calls ended on) every subscription through `track`. */
void lk_fanout_end_track(lk_fanout *f, const void *track);
void lk_fanout_publish(lk_fanout *f, lk_object *item);
bool lk_fanout_empty(lk_fanout *f);

/* --- the stream side ------------------------------------------------------ */

typedef struct lk_queue lk_queue;
struct lk_queue {
    lk_object *owner; /* the stream: referenced while a task is posted */
    lkio_worker *worker;
    /* On the worker: handle one item (and release its reference). */
    void (*on_item)(lk_queue *q, lk_object *item);
    /* On the worker, once, after the last item. */
    void (*on_eos)(lk_queue *q);

    pthread_mutex_t lock;
    lk_object **items;
    size_t cap, head, len;
    unsigned long long dropped;
    bool ended, posted;
    lkio_task drain_task, eos_task;
};

/* cap ≥ 1; aborts on OOM. */
void lk_queue_init(lk_queue *q, lk_object *owner, lkio_worker *worker, size_t cap,
                   void (*on_item)(lk_queue *, lk_object *), void (*on_eos)(lk_queue *));
void lk_queue_destroy(lk_queue *q);
/* Queues a new reference to item (any thread); when full, the oldest goes. */
void lk_queue_push(lk_queue *q, lk_object *item);
/* Stops the queue, drops what it holds, schedules on_eos once. */
void lk_queue_end(lk_queue *q);

#endif
