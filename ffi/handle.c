/*
 * handle.c: the handle table.
 *
 * Sixteen shards, chosen by the low bits of the id, each an open-addressing
 * table under its own mutex. Ids come from one counter, so consecutive
 * requests land in different shards, and within a shard an id's home slot
 * is simply its sequence number: lookups are one or two probes. Deletion
 * shifts the rest of the cluster back, so there are no tombstones.
 *
 * A shard is held for a few dozen instructions (a probe, a shift), so its
 * lock spins rather than sleeps: half the cost of a mutex on the request
 * path. The rare long hold (the table doubling) makes waiters yield.
 */
#include "handle.h"

#include <sched.h>
#include <stdlib.h>

#include "error.h"

enum { SHARD_BITS = 4, SHARDS = 1 << SHARD_BITS, MIN_CAP = 64 };

typedef struct {
    FfiHandleId id; /* INVALID_HANDLE: empty */
    lk_object *obj;
} slot;

typedef struct {
    _Atomic int lock;
    slot *slots;
    size_t cap; /* a power of two, or 0 */
    size_t len;
} __attribute__((aligned(64))) shard;

static shard shards[SHARDS];
static _Atomic uint64_t next_id = 1; /* 0 is INVALID_HANDLE */

void lk_object_init(lk_object *o, const lk_kind *kind)
{
    o->kind = kind;
    atomic_init(&o->refs, 1);
    atomic_init(&o->closed, false);
    o->id = INVALID_HANDLE;
}

void lk_unref(lk_object *o)
{
    /* The last reference is usually the caller's alone, and then nobody can
     * take another: skip the atomic read-modify-write. */
    if (atomic_load_explicit(&o->refs, memory_order_acquire) == 1 ||
        atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1)
        o->kind->free(o);
}

bool lk_object_close(lk_object *o)
{
    if (!o->kind->close || atomic_exchange(&o->closed, true))
        return false;
    o->kind->close(o);
    return true;
}

FfiHandleId lk_next_id(void)
{
    return atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static void shard_lock(shard *s)
{
    for (;;) {
        if (!atomic_exchange_explicit(&s->lock, 1, memory_order_acquire))
            return;
        for (int spins = 0; atomic_load_explicit(&s->lock, memory_order_relaxed); spins++) {
            if (spins < 100)
                cpu_relax();
            else
                sched_yield();
        }
    }
}

static void shard_unlock(shard *s)
{
    atomic_store_explicit(&s->lock, 0, memory_order_release);
}

static shard *shard_of(FfiHandleId id)
{
    return &shards[id & (SHARDS - 1)];
}

static size_t home(const shard *s, FfiHandleId id)
{
    return (size_t)(id >> SHARD_BITS) & (s->cap - 1);
}

static slot *find(shard *s, FfiHandleId id)
{
    if (!s->cap)
        return NULL;
    for (size_t i = home(s, id);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i].id == id)
            return &s->slots[i];
        if (s->slots[i].id == INVALID_HANDLE)
            return NULL;
    }
}

static void place(shard *s, FfiHandleId id, lk_object *obj)
{
    size_t i = home(s, id);
    while (s->slots[i].id != INVALID_HANDLE)
        i = (i + 1) & (s->cap - 1);
    s->slots[i] = (slot){id, obj};
    s->len++;
}

static void grow(shard *s)
{
    size_t old_cap = s->cap;
    slot *old = s->slots;
    s->cap = old_cap ? 2 * old_cap : MIN_CAP;
    s->slots = calloc(s->cap, sizeof *s->slots);
    if (!s->slots)
        abort(); /* the caller's object would have nowhere to live */
    s->len = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].id != INVALID_HANDLE)
            place(s, old[i].id, old[i].obj);
    free(old);
}

/* Backward-shift deletion: pull later members of the cluster into the hole
 * whenever their home slot does not lie between the hole and them. */
static void erase(shard *s, slot *victim)
{
    size_t mask = s->cap - 1;
    size_t hole = (size_t)(victim - s->slots);
    for (size_t i = (hole + 1) & mask; s->slots[i].id != INVALID_HANDLE; i = (i + 1) & mask) {
        size_t h = home(s, s->slots[i].id);
        if (((i - h) & mask) >= ((i - hole) & mask)) {
            s->slots[hole] = s->slots[i];
            hole = i;
        }
    }
    s->slots[hole] = (slot){INVALID_HANDLE, NULL};
    s->len--;
}

FfiHandleId lk_handle_insert(lk_object *o)
{
    FfiHandleId id = lk_next_id();
    o->id = id;
    shard *s = shard_of(id);
    shard_lock(s);
    if (2 * (s->len + 1) > s->cap)
        grow(s);
    place(s, id, o);
    shard_unlock(s);
    return id;
}

lk_object *lk_handle_get(FfiHandleId id, const lk_kind *kind)
{
    if (id == INVALID_HANDLE) {
        lk_fail("handle is invalid (0)");
        return NULL;
    }
    shard *s = shard_of(id);
    shard_lock(s);
    slot *sl = find(s, id);
    lk_object *o = sl ? sl->obj : NULL;
    if (o && (!kind || o->kind == kind))
        lk_ref(o);
    shard_unlock(s);
    if (!o) {
        lk_fail("handle %llu not found", (unsigned long long)id);
        return NULL;
    }
    if (kind && o->kind != kind) {
        lk_fail("handle %llu has the wrong kind: '%s' where '%s' is needed",
                (unsigned long long)id, o->kind->name, kind->name);
        return NULL;
    }
    return o;
}

/* Removes id from the table (unless keep_closable and the object has a
 * close); the caller gets the table's reference. */
static lk_object *take(FfiHandleId id, bool keep_closable, bool *kept)
{
    *kept = false;
    if (id == INVALID_HANDLE)
        return NULL;
    shard *s = shard_of(id);
    shard_lock(s);
    slot *sl = find(s, id);
    lk_object *o = sl ? sl->obj : NULL;
    if (o && keep_closable && o->kind->close) {
        *kept = true;
        o = NULL;
    } else if (sl) {
        erase(s, sl);
    }
    shard_unlock(s);
    return o;
}

lk_object *lk_handle_take(FfiHandleId id, const lk_kind *kind)
{
    lk_object *o = lk_handle_get(id, kind); /* the errors, and a reference */
    if (!o)
        return NULL;
    bool kept;
    lk_object *taken = take(id, false, &kept);
    if (taken)
        lk_unref(taken); /* ours from lk_handle_get stands for it */
    else {
        lk_unref(o); /* someone else took it first */
        lk_fail("handle %llu not found", (unsigned long long)id);
        return NULL;
    }
    return o;
}

lk_object *lk_handle_take_plain(FfiHandleId id, bool *closable)
{
    return take(id, true, closable);
}

bool lk_handle_drop(FfiHandleId id)
{
    bool kept;
    lk_object *o = take(id, false, &kept);
    if (!o)
        return false;
    lk_object_close(o);
    lk_unref(o);
    return true;
}

/* Takes a reference on every object of one shard, under its lock. */
static lk_object **snapshot(shard *s, size_t *n)
{
    shard_lock(s);
    lk_object **objs = s->len ? malloc(s->len * sizeof *objs) : NULL;
    if (s->len && !objs)
        abort();
    *n = 0;
    if (objs)
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i].id != INVALID_HANDLE)
                objs[(*n)++] = lk_ref(s->slots[i].obj);
    shard_unlock(s);
    return objs;
}

void lk_handles_close_all(void)
{
    for (int k = 0; k < SHARDS; k++) {
        size_t n;
        lk_object **objs = snapshot(&shards[k], &n);
        for (size_t i = 0; i < n; i++) {
            lk_object_close(objs[i]);
            lk_unref(objs[i]);
        }
        free(objs);
    }
}

void lk_handles_forget_all(void)
{
    for (int k = 0; k < SHARDS; k++) {
        shard *s = &shards[k];
        atomic_store(&s->lock, 0);
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i].id != INVALID_HANDLE)
                lk_unref(s->slots[i].obj);
        free(s->slots);
        s->slots = NULL;
        s->cap = s->len = 0;
    }
}

void lk_handles_lock_all(void)
{
    for (int k = 0; k < SHARDS; k++)
        shard_lock(&shards[k]);
}

void lk_handles_after_fork(void)
{
    for (int k = 0; k < SHARDS; k++)
        shard_unlock(&shards[k]);
}

uint64_t lk_handles_live(void)
{
    uint64_t n = 0;
    for (int k = 0; k < SHARDS; k++) {
        shard_lock(&shards[k]);
        n += shards[k].len;
        shard_unlock(&shards[k]);
    }
    return n;
}
