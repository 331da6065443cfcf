/* client.c: see client.h. */
#include "client.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audio_frame.pb-c.h"
#include "room.pb-c.h"

enum { MAX_EVENTS = 4096 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t arrived = PTHREAD_COND_INITIALIZER;
static Livekit__Proto__FfiEvent *events[MAX_EVENTS];
static int n_events;

uint64_t tc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tc_callback(const uint8_t *data, size_t len)
{
    Livekit__Proto__FfiEvent *ev = livekit__proto__ffi_event__unpack(NULL, len, data);
    if (!ev)
        abort(); /* the library sent bytes that are not an FfiEvent */
    if (ev->message_case == LIVEKIT__PROTO__FFI_EVENT__MESSAGE_LOGS) {
        livekit__proto__ffi_event__free_unpacked(ev, NULL);
        return;
    }
    pthread_mutex_lock(&lock);
    if (n_events < MAX_EVENTS)
        events[n_events++] = ev;
    else
        livekit__proto__ffi_event__free_unpacked(ev, NULL);
    pthread_cond_broadcast(&arrived);
    pthread_mutex_unlock(&lock);
}

void tc_initialize(void)
{
    livekit_ffi_initialize(tc_callback, false, "tests", "0");
}

void tc_reset(void)
{
    /* In a fork child another parent thread may have been mid-update: start
     * over without touching (or freeing) what it left. */
    pthread_mutex_init(&lock, NULL);
    pthread_cond_init(&arrived, NULL);
    n_events = 0;
}

int tc_pending_events(void)
{
    pthread_mutex_lock(&lock);
    int n = n_events;
    pthread_mutex_unlock(&lock);
    return n;
}

Livekit__Proto__FfiResponse *tc_request(const Livekit__Proto__FfiRequest *req)
{
    size_t len = livekit__proto__ffi_request__get_packed_size(req);
    uint8_t *buf = malloc(len ? len : 1);
    livekit__proto__ffi_request__pack(req, buf);
    const uint8_t *res_ptr;
    size_t res_len;
    FfiHandleId h = livekit_ffi_request(buf, len, &res_ptr, &res_len);
    free(buf);
    if (h == INVALID_HANDLE)
        return NULL;
    Livekit__Proto__FfiResponse *res = livekit__proto__ffi_response__unpack(NULL, res_len, res_ptr);
    if (!res || !livekit_ffi_drop_handle(h))
        abort();
    return res;
}

void tc_response_free(Livekit__Proto__FfiResponse *res)
{
    livekit__proto__ffi_response__free_unpacked(res, NULL);
}

void tc_event_free(Livekit__Proto__FfiEvent *ev)
{
    livekit__proto__ffi_event__free_unpacked(ev, NULL);
}

/* Every callback message starts with `uint64 async_id = 1`. */
static uint64_t async_id_of(const Livekit__Proto__FfiEvent *ev)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
        &livekit__proto__ffi_event__descriptor, (unsigned)ev->message_case);
    const ProtobufCMessage *cb = *(ProtobufCMessage *const *)((const char *)ev + f->offset);
    const ProtobufCFieldDescriptor *id =
        protobuf_c_message_descriptor_get_field_by_name(cb->descriptor, "async_id");
    return id ? *(const uint64_t *)((const char *)cb + id->offset) : 0;
}

static bool same_async_id(const Livekit__Proto__FfiEvent *ev, void *arg)
{
    return async_id_of(ev) == *(uint64_t *)arg;
}

Livekit__Proto__FfiEvent *tc_wait_event(Livekit__Proto__FfiEvent__MessageCase which,
                                       bool (*match)(const Livekit__Proto__FfiEvent *, void *),
                                       void *arg, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    Livekit__Proto__FfiEvent *found = NULL;
    pthread_mutex_lock(&lock);
    for (;;) {
        for (int i = 0; i < n_events && !found; i++) {
            if (events[i]->message_case == which && (!match || match(events[i], arg))) {
                found = events[i];
                memmove(&events[i], &events[i + 1], (size_t)(n_events - i - 1) * sizeof *events);
                n_events--;
            }
        }
        if (found || pthread_cond_timedwait(&arrived, &lock, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

Livekit__Proto__FfiEvent *tc_wait_callback(Livekit__Proto__FfiEvent__MessageCase which,
                                          uint64_t async_id, int timeout_ms)
{
    return tc_wait_event(which, same_async_id, &async_id, timeout_ms);
}

uint64_t tc_send_connect(void)
{
    Livekit__Proto__ConnectRequest connect = LIVEKIT__PROTO__CONNECT_REQUEST__INIT;
    Livekit__Proto__FfiRequest req = LIVEKIT__PROTO__FFI_REQUEST__INIT;
    req.message_case = LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_CONNECT;
    req.connect = &connect;
    Livekit__Proto__FfiResponse *res = tc_request(&req);
    if (!res)
        return 0;
    uint64_t id = res->connect->async_id;
    tc_response_free(res);
    return id;
}

bool tc_send_sync(void)
{
    Livekit__Proto__LoadAudioFilterPluginRequest load =
        LIVEKIT__PROTO__LOAD_AUDIO_FILTER_PLUGIN_REQUEST__INIT;
    Livekit__Proto__FfiRequest req = LIVEKIT__PROTO__FFI_REQUEST__INIT;
    req.message_case = LIVEKIT__PROTO__FFI_REQUEST__MESSAGE_LOAD_AUDIO_FILTER_PLUGIN;
    req.load_audio_filter_plugin = &load;
    Livekit__Proto__FfiResponse *res = tc_request(&req);
    if (!res)
        return false;
    tc_response_free(res);
    return true;
}

int tc_count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}
