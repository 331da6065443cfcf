/* Our PeerConnection against a real livekit-server (pion inside), joined
 * in single-PeerConnection mode: the offer travels in the join request,
 * the server answers and trickles, and ICE, DTLS, SCTP and LiveKit's two
 * data channels come up; what is sent drains (the server acknowledges it
 * all) before a leave would close the connection. Run by tests/room/test_transport_join.py with the
 * server's URL and a token in the environment (skipped without them). */
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
#include "transport.h"
#include "wait.h"

typedef struct session {
    lkio_task task;
    lkio_worker *w;
    const char *url, *token;
    lkroom_signal *sig;
    lkroom_transport *tr;
    char offer[8192];
    bool joined, answered, ready, failed;
    bool drained_at_once, drained; /* the drain step */
    int sent;
    int trickles;
    char why[400];
    sem_t done;
} session;

static void on_message(void *ctx, const Livekit__SignalResponse *m)
{
    session *s = ctx;
    char err[256];
    switch (m->message_case) {
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_JOIN:
        s->joined = true;
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_ANSWER:
        s->answered = true;
        if (getenv("LK_DEBUG_SDP"))
            print_message("answer:\n%s\n", m->answer->sdp);
        if (lkroom_transport_answer(s->tr, m->answer->sdp, strlen(m->answer->sdp), err,
                                    sizeof err) < 0) {
            snprintf(s->why, sizeof s->why, "answer refused: %s", err);
            s->failed = true;
            sem_post(&s->done);
        }
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_TRICKLE:
        s->trickles++;
        if (getenv("LK_DEBUG_SDP"))
            print_message("trickle: %s\n", m->trickle->candidateinit);
        lkroom_transport_trickle(s->tr, m->trickle->candidateinit);
        break;
    default:
        break;
    }
}

static void on_ended(void *ctx, bool was_open, int http_status, const char *error)
{
    session *s = ctx;
    if (!s->ready) {
        snprintf(s->why, sizeof s->why, "signal ended: %s", error);
        s->failed = true;
        sem_post(&s->done);
    }
}

static void on_transport_state(void *ctx, enum lkpeer_state st, const char *why)
{
    session *s = ctx;
    if (st == LKPEER_FAILED && !s->ready) {
        snprintf(s->why, sizeof s->why, "transport failed: %s", why ? why : "");
        s->failed = true;
        sem_post(&s->done);
    }
}

static void on_ready(void *ctx)
{
    session *s = ctx;
    s->ready = true;
    sem_post(&s->done);
}

static void on_drained(void *ctx)
{
    session *s = ctx;
    s->drained = true;
    sem_post(&s->done);
}

/* More than SCTP's window: some is still unacknowledged when this returns. */
static void send_then_drain(lkio_task *t)
{
    session *s = lkio_container_of(t, session, task);
    static uint8_t msg[15000];
    for (int i = 0; i < 140; i++)
        s->sent += lkroom_transport_send(s->tr, true, msg, sizeof msg, NULL) == 0;
    s->drained_at_once = lkroom_transport_drain(s->tr);
    if (s->drained_at_once)
        sem_post(&s->done);
}

static void start(lkio_task *t)
{
    session *s = lkio_container_of(t, session, task);
    char err[256];
    lkroom_transport_callbacks tcb = {s, on_transport_state, on_ready, NULL, NULL, on_drained,
                                      NULL, NULL};
    s->tr = lkroom_transport_new(s->w, &tcb, err, sizeof err);
    if (!s->tr) {
        snprintf(s->why, sizeof s->why, "no transport: %s", err);
        s->failed = true;
        sem_post(&s->done);
        return;
    }
    size_t n = lkroom_transport_offer(s->tr, s->offer, sizeof s->offer);
    assert_true(n > 0);
    Livekit__SessionDescription sd = LIVEKIT__SESSION_DESCRIPTION__INIT;
    sd.type = (char *)"offer";
    sd.sdp = s->offer;
    lkroom_join_params p = {.url = s->url, .token = s->token, .auto_subscribe = true,
                            .publisher_offer = &sd};
    lkroom_signal_callbacks scb = {s, on_message, on_ended};
    s->sig = lkroom_signal_connect(s->w, &p, &scb, err, sizeof err);
    if (!s->sig) {
        snprintf(s->why, sizeof s->why, "no signal: %s", err);
        s->failed = true;
        sem_post(&s->done);
    }
}

static void stop(lkio_task *t)
{
    session *s = lkio_container_of(t, session, task);
    if (s->sig)
        lkroom_signal_destroy(s->sig);
    if (s->tr)
        lkroom_transport_destroy(s->tr);
    sem_post(&s->done);
}

static void peer_connection_comes_up_against_livekit_server(void **state)
{
    session s = {0};
    s.url = getenv("LK_URL");
    s.token = getenv("LK_TOKEN");
    if (!s.url || !s.token)
        skip();
    char err[128];
    assert_int_equal(lkio_start(2, err, sizeof err), 0);
    s.w = lkio_pick_worker();
    sem_init(&s.done, 0, 0);
    lkio_post(s.w, &s.task, start);
    wait_sem_for(&s.done, 30);
    print_message("joined %d answered %d trickles %d ready %d %s\n", s.joined, s.answered,
                  s.trickles, s.ready, s.why);
    bool ready = s.ready;
    if (ready) {
        lkio_post(s.w, &s.task, send_then_drain);
        wait_sem_for(&s.done, 30);
    }
    lkio_post(s.w, &s.task, stop);
    wait_sem_for(&s.done, 10);
    lkio_stop(NULL);
    assert_true(s.joined);
    assert_true(s.answered);
    assert_true(ready);
    /* 2.1 MB went out; the first drain had to wait for the server's
     * acknowledgements, and told when they had all come */
    assert_int_equal(s.sent, 140);
    assert_false(s.drained_at_once);
    assert_true(s.drained);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(peer_connection_comes_up_against_livekit_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
