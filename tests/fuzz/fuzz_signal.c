/* libFuzzer harness for what livekit-server sends on the signal WebSocket:
 * the input is a sequence of messages, each a 2-byte big-endian length and
 * that many bytes, decoded as a SignalResponse (protobuf-c) and given to a
 * fresh room session (room/session.c), as the room would; a Trickle's
 * candidate goes through the extraction (room/trickle.c). Three local
 * updates wait from the start, so that answers, our own record and the
 * clock (one tick per message) finish them; a Leave ends them. After each
 * message the table must hold no empty, repeated or own sid and no
 * identity twice. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "trickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lkroom_session *S;
static size_t touched;

/* Reads both ends of a string the session handed out: a dangling one is
 * the sanitizer's to report. */
static void touch(const char *s)
{
    size_t n = strlen(s);
    touched += n ? (size_t)(s[0] == s[n - 1]) : 0;
}

static void fz_participant(void *ctx, lkroom_change c, const Livekit__ParticipantInfo *info,
                           bool local)
{
    (void)ctx;
    touch(info->sid);
    touch(info->identity);
    touch(info->metadata);
    touch(info->name);
    for (size_t i = 0; i < info->n_attributes; i++)
        touch(info->attributes[i]->value);
    if (local)
        return;
    /* the table already shows the change */
    bool in_table = lkroom_session_find_sid(S, info->sid) != NULL;
    if (in_table != (c != LKROOM_PARTICIPANT_DISCONNECTED))
        abort();
}

/* An answer may re-enter: a finished update sometimes asks for another. */
static void fz_update_done(void *ctx, uint64_t token, const char *error)
{
    (void)ctx;
    if (error)
        touch(error);
    if (token < 3)
        lkroom_session_expect(S, (uint32_t)token + 10, token + 10, token + 10, "m", NULL, NULL,
                              NULL, 0);
}

static void check_table(void)
{
    const Livekit__ParticipantInfo *local = lkroom_session_local(S);
    size_t n = lkroom_session_remote_count(S);
    for (size_t i = 0; i < n; i++) {
        const Livekit__ParticipantInfo *a = lkroom_session_remote(S, i);
        if (!a->sid[0] || (local && !strcmp(a->sid, local->sid)))
            abort();
        for (size_t j = i + 1; j < n; j++) {
            const Livekit__ParticipantInfo *b = lkroom_session_remote(S, j);
            if (!strcmp(a->sid, b->sid) || (a->identity[0] && !strcmp(a->identity, b->identity)))
                abort();
        }
    }
}

static void trickle(const char *json)
{
    char line[512];
    lkroom_trickle_result r = lkroom_trickle_candidate(json, line, sizeof line);
    size_t n = strlen(line);
    if ((r == LKROOM_TRICKLE_FOUND) != (n > 0) || n >= sizeof line)
        abort();
}

static void handle(const Livekit__SignalResponse *m)
{
    switch (m->message_case) {
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_JOIN:
        lkroom_session_join(S, m->join);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_UPDATE:
        lkroom_session_participant_update(S, m->update);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_ROOM_UPDATE:
        lkroom_session_room_update(S, m->room_update);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_REQUEST_RESPONSE:
        lkroom_session_request_response(S, m->request_response);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_TRICKLE:
        trickle(m->trickle->candidateinit);
        break;
    case LIVEKIT__SIGNAL_RESPONSE__MESSAGE_LEAVE:
        lkroom_session_end(S, "the room was disconnected");
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lkroom_session_observer obs = {NULL, fz_participant, fz_update_done};
    S = lkroom_session_new(&obs);
    static const char *const keys[] = {"k"}, *const values[] = {"v"};
    lkroom_session_expect(S, 1, 1, 20, "meta", NULL, NULL, NULL, 0);
    lkroom_session_expect(S, 2, 2, 40, NULL, "name", keys, values, 1);
    lkroom_session_expect(S, 3, 3, 60, NULL, NULL, keys, values, 0);
    uint64_t now = 0;
    while (size >= 2) {
        size_t n = (size_t)data[0] << 8 | data[1];
        data += 2, size -= 2;
        if (n > size)
            n = size;
        Livekit__SignalResponse *m = livekit__signal_response__unpack(NULL, n, data);
        data += n, size -= n;
        if (!m)
            continue;
        handle(m);
        livekit__signal_response__free_unpacked(m, NULL);
        check_table();
        lkroom_session_expire(S, ++now);
    }
    const Livekit__Room *room = lkroom_session_room(S);
    if (room)
        touch(room->sid);
    touch(lkroom_session_server_version(S));
    lkroom_session_free(S);
    return 0;
}
