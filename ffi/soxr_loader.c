/* soxr_loader.c: see soxr_loader.h. */
#include "soxr_loader.h"

#include <dlfcn.h>
#include <pthread.h>

#include "error.h"

static lk_soxr api;
static const char *load_error;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    void *so = dlopen("libsoxr.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        load_error = dlerror();
        return;
    }
    /* POSIX guarantees a data pointer from dlsym converts to a function pointer. */
#define BIND(field, symbol) *(void **)&api.field = dlsym(so, symbol)
    BIND(create, "soxr_create");
    BIND(process, "soxr_process");
    BIND(delete_, "soxr_delete");
    BIND(delay, "soxr_delay");
    BIND(clear, "soxr_clear");
    BIND(io_spec, "soxr_io_spec");
    BIND(quality_spec, "soxr_quality_spec");
    BIND(runtime_spec, "soxr_runtime_spec");
#undef BIND
    if (!api.create || !api.process || !api.delete_ || !api.delay || !api.clear ||
        !api.io_spec || !api.quality_spec || !api.runtime_spec)
        load_error = "libsoxr.so.0 lacks a symbol this library uses";
}

const lk_soxr *lk_soxr_api(void)
{
    pthread_once(&once, load);
    if (load_error) {
        lk_fail("cannot load libsoxr: %s", load_error);
        return NULL;
    }
    return &api;
}
