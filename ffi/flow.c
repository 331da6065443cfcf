/* flow.c: see flow.h. */
#include "flow.h"

#include <stdlib.h>

#include "log.h"

/* --- fanout ---------------------------------------------------------------- */

void lk_fanout_init(lk_fanout *f)
{
    pthread_mutex_init(&f->lock, NULL);
    f->subs = NULL;
}

void lk_fanout_destroy(lk_fanout *f)
{
    pthread_mutex_destroy(&f->lock);
}

void lk_fanout_add(lk_fanout *f, lk_sub *sub)
{
    pthread_mutex_lock(&f->lock);
    sub->next = f->subs;
    f->subs = sub;
    pthread_mutex_unlock(&f->lock);
}

bool lk_fanout_remove(lk_fanout *f, lk_sub *sub)
{
    bool found = false;
    pthread_mutex_lock(&f->lock);
    for (lk_sub **p = &f->subs; *p; p = &(*p)->next) {
        if (*p == sub) {
            *p = sub->next;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&f->lock);
    return found;
}

void lk_fanout_end_track(lk_fanout *f, const void *track)
{
    pthread_mutex_lock(&f->lock);
    for (lk_sub **p = &f->subs; *p;) {
        lk_sub *sub = *p;
        if (sub->track == track) {
            *p = sub->next;
            sub->ended(sub);
        } else {
            p = &sub->next;
        }
    }
    pthread_mutex_unlock(&f->lock);
}

void lk_fanout_publish(lk_fanout *f, lk_object *item)
{
    pthread_mutex_lock(&f->lock);
    for (lk_sub *sub = f->subs; sub; sub = sub->next)
        sub->deliver(sub, item);
    pthread_mutex_unlock(&f->lock);
}

bool lk_fanout_empty(lk_fanout *f)
{
    pthread_mutex_lock(&f->lock);
    bool empty = f->subs == NULL;
    pthread_mutex_unlock(&f->lock);
    return empty;
}

/* --- queue ----------------------------------------------------------------- */

void lk_queue_init(lk_queue *q, lk_object *owner, lkio_worker *worker, size_t cap,
                   void (*on_item)(lk_queue *, lk_object *), void (*on_eos)(lk_queue *))
{
    q->owner = owner;
    q->worker = worker;
    q->on_item = on_item;
    q->on_eos = on_eos;
    pthread_mutex_init(&q->lock, NULL);
    q->items = calloc(cap, sizeof *q->items);
    if (!q->items)
        abort();
    q->cap = cap;
    q->head = q->len = 0;
    q->dropped = 0;
    q->ended = q->posted = false;
}

/* Takes every queued item out, under the lock; the caller releases them. */
static size_t take_all(lk_queue *q, lk_object **out)
{
    size_t n = q->len;
    for (size_t i = 0; i < n; i++)
        out[i] = q->items[(q->head + i) % q->cap];
    q->head = q->len = 0;
    return n;
}

void lk_queue_destroy(lk_queue *q)
{
    for (size_t i = 0; i < q->len; i++)
        lk_unref(q->items[(q->head + i) % q->cap]);
    free(q->items);
    pthread_mutex_destroy(&q->lock);
}

static lk_object *pop(lk_queue *q)
{
    lk_object *item = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->len && !q->ended) {
        item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
    } else {
        q->posted = false; /* the next push posts the drain again */
    }
    pthread_mutex_unlock(&q->lock);
    return item;
}

static void on_drain(lkio_task *t)
{
    lk_queue *q = lk_container_of(t, lk_queue, drain_task);
    lk_object *owner = q->owner;
    for (lk_object *item; (item = pop(q));)
        q->on_item(q, item);
    lk_unref(owner);
}

static void on_eos(lkio_task *t)
{
    lk_queue *q = lk_container_of(t, lk_queue, eos_task);
    lk_object *owner = q->owner;
    q->on_eos(q);
    lk_unref(owner);
}

void lk_queue_push(lk_queue *q, lk_object *item)
{
    lk_object *dropped = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->ended) {
        pthread_mutex_unlock(&q->lock);
        return;
    }
    if (q->len == q->cap) { /* full: the oldest goes, the newest stays */
        dropped = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        q->dropped++;
    }
    q->items[(q->head + q->len++) % q->cap] = lk_ref(item);
    bool post = !q->posted;
    q->posted = true;
    unsigned long long total = q->dropped;
    pthread_mutex_unlock(&q->lock);
    if (dropped) {
        lk_unref(dropped);
        lk_log_debug("stream %llu is behind: %llu items dropped so far",
                     (unsigned long long)q->owner->id, total);
    }
    if (post) {
        lk_ref(q->owner);
        lkio_post(q->worker, &q->drain_task, on_drain);
    }
}

void lk_queue_end(lk_queue *q)
{
    lk_object *stack[64], **taken = stack;
    pthread_mutex_lock(&q->lock);
    bool was_ended = q->ended;
    q->ended = true;
    if (q->len > 64 && !(taken = malloc(q->len * sizeof *taken)))
        abort();
    size_t n = take_all(q, taken);
    pthread_mutex_unlock(&q->lock);
    for (size_t i = 0; i < n; i++)
        lk_unref(taken[i]);
    if (taken != stack)
        free(taken);
    if (was_ended)
        return;
    lk_ref(q->owner);
    lkio_post(q->worker, &q->eos_task, on_eos);
}
