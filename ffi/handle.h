/*
 * handle.h: reference-counted objects and the table of handles the client
 * holds on them.
 *
 * Every object the client can name (a response buffer, a resampler, a
 * source, a stream…) starts with an lk_object. The table maps 64-bit ids,
 * never reused in a process, to objects, and holds one reference on each.
 * Dropping a handle closes the object (stops whatever it does on the
 * runtime) and releases the table's reference; the memory goes when the last
 * reference does, so a worker still using an object keeps it valid.
 */
#ifndef LK_HANDLE_H
#define LK_HANDLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "livekit_ffi.h"

typedef struct lk_object lk_object;

typedef struct lk_kind {
    const char *name; /* for messages: "audio source" */
    /* Stops the object's activity; runs once, inside the gate, when its
     * handle is dropped or the library is disposed. May be NULL. */
    void (*close)(lk_object *o);
    /* Releases the object's memory when the last reference goes. */
    void (*free)(lk_object *o);
} lk_kind;

struct lk_object {
    const lk_kind *kind;
    _Atomic uint32_t refs;
    _Atomic bool closed;
    FfiHandleId id; /* INVALID_HANDLE until it has a handle */
};

/* One reference, owned by the caller. */
void lk_object_init(lk_object *o, const lk_kind *kind);

static inline lk_object *lk_ref(lk_object *o)
{
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
    return o;
}

void lk_unref(lk_object *o);

/* Runs kind->close once (inside the gate); false if there is none or it
 * had already run. */
bool lk_object_close(lk_object *o);

static inline bool lk_object_closed(const lk_object *o)
{
    return atomic_load(&o->closed);
}

/* The next id from the counter shared by handles and async ids. */
FfiHandleId lk_next_id(void);

/* Gives the table a handle on o, taking over the caller's reference.
 * Returns the new id; out of memory is fatal (the table grows by doubling). */
FfiHandleId lk_handle_insert(lk_object *o);

/* A new reference on the object behind id, which must be of the given kind
 * (NULL: any kind). Else NULL, with an error naming what was wrong. */
lk_object *lk_handle_get(FfiHandleId id, const lk_kind *kind);

/* Removes id from the table if its object is of the given kind and hands
 * over the table's reference, closing nothing (a request that consumes its
 * handle, as upstream's reader requests do). Else NULL, with an error. */
lk_object *lk_handle_take(FfiHandleId id, const lk_kind *kind);

/* Outside the gate: removes id from the table if its object has no close
 * (a response buffer, a frame: nothing else to stop), and hands over the
 * table's reference. NULL if unknown, or if the object has a close (then
 * *closable is set: drop it with lk_handle_drop inside the gate, so a
 * dispose running at the same time cannot miss it). The table is fork-safe
 * through the hooks below. */
lk_object *lk_handle_take_plain(FfiHandleId id, bool *closable);

/* Inside the gate: takes, closes and releases. False if unknown. */
bool lk_handle_drop(FfiHandleId id);

/* Closes every object but keeps the handles droppable (dispose). */
void lk_handles_close_all(void);

/* In a fork child: empties the table without closing anything (the
 * runtime the objects used is the parent's). */
void lk_handles_forget_all(void);

/* fork(): lock every shard (after the gate closed), and release them. */
void lk_handles_lock_all(void);
void lk_handles_after_fork(void);

/* Number of live handles (tests, leak checks). */
uint64_t lk_handles_live(void);

#define lk_container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
