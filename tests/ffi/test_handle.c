/* The handle table: ids are never reused, lookups are typed, drops close
 * once and free on the last reference, and all of it holds under threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "handle.h"

typedef struct {
    lk_object base;
    int value;
} thing;

static _Atomic int frees, closes;

static void thing_free(lk_object *o)
{
    atomic_fetch_add(&frees, 1);
    free(lk_container_of(o, thing, base));
}

static void thing_close(lk_object *o)
{
    atomic_fetch_add(&closes, 1);
}

static const lk_kind thing_kind = {"thing", thing_close, thing_free};
static const lk_kind other_kind = {"other thing", NULL, thing_free};

static FfiHandleId new_thing(const lk_kind *kind, int value)
{
    thing *t = malloc(sizeof *t);
    lk_object_init(&t->base, kind);
    t->value = value;
    return lk_handle_insert(&t->base);
}

static int reset(void **state)
{
    atomic_store(&frees, 0);
    atomic_store(&closes, 0);
    lk_error_clear();
    return 0;
}

static void insert_get_drop(void **state)
{
    FfiHandleId id = new_thing(&thing_kind, 42);
    assert_int_not_equal(id, INVALID_HANDLE);
    lk_object *o = lk_handle_get(id, &thing_kind);
    assert_non_null(o);
    assert_int_equal(lk_container_of(o, thing, base)->value, 42);
    assert_true(lk_handle_drop(id));
    assert_int_equal(atomic_load(&closes), 1);
    assert_int_equal(atomic_load(&frees), 0); /* our reference keeps it */
    lk_unref(o);
    assert_int_equal(atomic_load(&frees), 1);
}

static void ids_increase_and_are_never_reused(void **state)
{
    FfiHandleId a = new_thing(&thing_kind, 1);
    assert_true(lk_handle_drop(a));
    FfiHandleId b = new_thing(&thing_kind, 2);
    assert_true(b > a);
    assert_true(lk_handle_drop(b));
}

static void wrong_kind_is_refused_naming_both(void **state)
{
    FfiHandleId id = new_thing(&other_kind, 1);
    assert_null(lk_handle_get(id, &thing_kind));
    assert_non_null(strstr(lk_error(), "wrong kind: 'other thing' where 'thing' is needed"));
    assert_true(lk_handle_drop(id));
}

static void unknown_and_zero_handles(void **state)
{
    assert_null(lk_handle_get(0, NULL));
    assert_non_null(strstr(lk_error(), "invalid"));
    lk_error_clear();
    assert_null(lk_handle_get(123456789, NULL));
    assert_non_null(strstr(lk_error(), "123456789 not found"));
    assert_false(lk_handle_drop(123456789));
    assert_false(lk_handle_drop(0));
}

static void double_drop_is_refused(void **state)
{
    FfiHandleId id = new_thing(&thing_kind, 1);
    assert_true(lk_handle_drop(id));
    assert_false(lk_handle_drop(id));
    assert_int_equal(atomic_load(&closes), 1);
    assert_int_equal(atomic_load(&frees), 1);
}

/* Growth and backward-shift deletion keep every live entry reachable. */
static void many_entries_with_holes(void **state)
{
    enum { N = 20000 };
    FfiHandleId *ids = malloc(N * sizeof *ids);
    for (int i = 0; i < N; i++)
        ids[i] = new_thing(&thing_kind, i);
    uint64_t live = lk_handles_live();
    for (int i = 0; i < N; i += 3)
        assert_true(lk_handle_drop(ids[i]));
    assert_int_equal(lk_handles_live(), live - (N + 2) / 3);
    for (int i = 0; i < N; i++) {
        lk_object *o = lk_handle_get(ids[i], &thing_kind);
        if (i % 3 == 0) {
            assert_null(o);
            lk_error_clear();
        } else {
            assert_non_null(o);
            assert_int_equal(lk_container_of(o, thing, base)->value, i);
            lk_unref(o);
            assert_true(lk_handle_drop(ids[i]));
        }
    }
    assert_int_equal(atomic_load(&frees), N);
    free(ids);
}

static void close_all_keeps_handles_droppable(void **state)
{
    FfiHandleId a = new_thing(&thing_kind, 1), b = new_thing(&thing_kind, 2);
    lk_handles_close_all();
    assert_int_equal(atomic_load(&closes), 2);
    assert_int_equal(atomic_load(&frees), 0);
    assert_true(lk_handle_drop(a));
    assert_true(lk_handle_drop(b));
    assert_int_equal(atomic_load(&closes), 2); /* close runs once */
    assert_int_equal(atomic_load(&frees), 2);
}

static void *churn(void *arg)
{
    for (int i = 0; i < 50000; i++) {
        FfiHandleId id = new_thing(&thing_kind, i);
        lk_object *o = lk_handle_get(id, &thing_kind);
        if (!o || lk_container_of(o, thing, base)->value != i)
            abort();
        lk_unref(o);
        if (!lk_handle_drop(id))
            abort();
    }
    return NULL;
}

static void concurrent_insert_lookup_drop(void **state)
{
    uint64_t live = lk_handles_live();
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, churn, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(lk_handles_live(), live);
    assert_int_equal(atomic_load(&frees), 4 * 50000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(insert_get_drop, reset),
        cmocka_unit_test_setup(ids_increase_and_are_never_reused, reset),
        cmocka_unit_test_setup(wrong_kind_is_refused_naming_both, reset),
        cmocka_unit_test_setup(unknown_and_zero_handles, reset),
        cmocka_unit_test_setup(double_drop_is_refused, reset),
        cmocka_unit_test_setup(many_entries_with_holes, reset),
        cmocka_unit_test_setup(close_all_keeps_handles_droppable, reset),
        cmocka_unit_test_setup(concurrent_insert_lookup_drop, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
