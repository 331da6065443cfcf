/* The signal connection against a real livekit-server (started by the
 * pytest wrapper tests/room/test_signal_join.py, which passes the URL and
 * tokens in the environment; without them every case is skipped): a good
 * token joins and gets its JoinResponse and pongs, a bad one gets the
 * server's refusal in words, a dead port fails at once, leave ends cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io.h"
#include "signal_client.h"
#include "wait.h"

typedef struct {
    lkio_task task;
    lkio_worker *w;
    lkroom_join_params params;
    lkroom_signal *sig;
    char connect_err[256];
    bool connect_failed;
    bool joined;
    char identity[128], room[128];
    int pongs;
    bool leave_when_ponged;
    bool ended, was_open;
    int http_status;
    char error[512];
    sem_t done;
} session;

static void on_message(void *ctx, const Livekit__SignalResponse *m)
{
    session *s = ctx;
    if (m->message_case == LIVEKIT__SIGNAL_RESPONSE__MESSAGE_JOIN) {
        s->joined = true;
        snprintf(s->identity, sizeof s->identity, "%s", m->join->participant->identity);
        snprintf(s->room, sizeof s->room, "%s", m->join->room->name);
    } else if (m->message_case == LIVEKIT__SIGNAL_RESPONSE__MESSAGE_PONG_RESP) {
        if (s->pongs++ == 0 && s->leave_when_ponged)
            lkroom_signal_leave(s->sig, LIVEKIT__DISCONNECT_REASON__CLIENT_INITIATED);
    }
}

static void on_ended(void *ctx, bool was_open, int http_status, const char *error)
{
    session *s = ctx;
    s->ended = true;
    s->was_open = was_open;
    s->http_status = http_status;
    snprintf(s->error, sizeof s->error, "%s", error);
    sem_post(&s->done);
}

static void connect_task(lkio_task *t)
{
    session *s = lkio_container_of(t, session, task);
    lkroom_signal_callbacks cb = {s, on_message, on_ended};
    s->sig = lkroom_signal_connect(s->w, &s->params, &cb, s->connect_err, sizeof s->connect_err);
    if (!s->sig) {
        s->connect_failed = true;
        sem_post(&s->done);
    }
}

static void destroy_task(lkio_task *t)
{
    session *s = lkio_container_of(t, session, task);
    if (s->sig)
        lkroom_signal_destroy(s->sig);
    sem_post(&s->done);
}

static void run(session *s, const char *url, const char *token)
{
    s->w = lkio_pick_worker();
    s->params.url = url;
    s->params.token = token;
    s->params.auto_subscribe = true;
    sem_init(&s->done, 0, 0);
    lkio_post(s->w, &s->task, connect_task);
    wait_sem_for(&s->done, 20);
}

static void finish(session *s)
{
    lkio_post(s->w, &s->task, destroy_task);
    wait_sem_for(&s->done, 5);
}

static const char *env_or_skip(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        skip();
    return v;
}

static int setup(void **state)
{
    char err[128];
    assert_int_equal(lkio_start(2, err, sizeof err), 0);
    return 0;
}

static int teardown(void **state)
{
    lkio_stop(NULL);
    return 0;
}

static void good_token_joins_pings_and_leaves(void **state)
{
    const char *url = env_or_skip("LK_URL");
    session s = {.leave_when_ponged = true};
    run(&s, url, env_or_skip("LK_TOKEN"));
    assert_false(s.connect_failed);
    assert_true(s.joined);
    assert_string_equal(s.identity, env_or_skip("LK_IDENTITY"));
    assert_string_equal(s.room, env_or_skip("LK_ROOM"));
    assert_true(s.pongs >= 1);
    assert_true(s.was_open);
    assert_int_equal(s.http_status, 0);
    finish(&s);
}

static void bad_token_is_refused_with_the_servers_reason(void **state)
{
    session s = {0};
    run(&s, env_or_skip("LK_URL"), env_or_skip("LK_BAD_TOKEN"));
    assert_false(s.connect_failed);
    assert_true(s.ended);
    assert_false(s.was_open);
    assert_int_equal(s.http_status, 401);
    print_message("bad token: %s\n", s.error);
    assert_true(strlen(s.error) > 0);
    finish(&s);
}

static void dead_port_fails_with_connection_refused(void **state)
{
    session s = {0};
    run(&s, env_or_skip("LK_DEAD_URL"), "token");
    assert_true(s.ended);
    assert_false(s.was_open);
    print_message("dead port: %s\n", s.error);
    assert_non_null(strstr(s.error, "Connection refused"));
    finish(&s);
}

static void bad_url_fails_at_once(void **state)
{
    session s = {0};
    run(&s, "ftp://127.0.0.1:1", "token");
    assert_true(s.connect_failed);
    assert_non_null(strstr(s.connect_err, "scheme"));
    finish(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(good_token_joins_pings_and_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_token_is_refused_with_the_servers_reason, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(dead_port_fails_with_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_url_fails_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
