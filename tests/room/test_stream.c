/*
 * test_stream.c: data streams between two lkstreams, their packets encoded
 * and decoded as on the wire, carried by the test one at a time: chunking
 * (UTF-8 aware), pacing, the reader's view, and every way a stream ends
 * badly (no server needed; lkstreams is synchronous).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream.h"

enum { MAX_PACKETS = 4096 };

typedef struct wire {
    uint8_t *data[MAX_PACKETS];
    size_t len[MAX_PACKETS];
    size_t head, tail; /* packets sent, not yet carried */
    int fail_after;    /* sends that succeed before one fails; -1: never */
} wire;

/* What the receiving side saw of its streams, and the sender's jobs. */
typedef struct seen {
    int opened, ended, done;
    char sender[32], topic[32];
    uint8_t content[600000];
    size_t len;
    size_t chunks, max_chunk;
    bool chunks_utf8; /* each chunk started on a character */
    char error[300], job_error[200];
    uint64_t done_job;
    size_t trailer_attributes;
} seen;

static wire W;
static seen S;
static lkstreams *A, *B;

static int wire_send(void *ctx, Livekit__DataPacket *p, const uint64_t *token, char *err,
                     size_t errlen)
{
    (void)ctx;
    assert_non_null(token);
    assert_true(*token & LKSTREAM_TOKEN_BIT);
    if (W.fail_after == 0) {
        snprintf(err, errlen, "the transport is gone");
        return -1;
    }
    if (W.fail_after > 0)
        W.fail_after--;
    p->participant_identity = (char *)"alice"; /* as the server stamps it */
    size_t n = livekit__data_packet__get_packed_size(p);
    assert_true(W.tail < MAX_PACKETS);
    W.data[W.tail] = malloc(n);
    assert_non_null(W.data[W.tail]);
    livekit__data_packet__pack(p, W.data[W.tail]);
    W.len[W.tail++] = n;
    return 0;
}

static size_t in_flight(void)
{
    return W.tail - W.head;
}

/* Carries the oldest packet to B and tells A it went; false when none. */
static bool carry_one(void)
{
    if (W.head == W.tail)
        return false;
    size_t i = W.head++;
    Livekit__DataPacket *p = livekit__data_packet__unpack(NULL, W.len[i], W.data[i]);
    assert_non_null(p);
    assert_true(lkstreams_on_packet(B, p));
    livekit__data_packet__free_unpacked(p, NULL);
    free(W.data[i]);
    lkstreams_sent(A, 0, NULL);
    return true;
}

static size_t carry_all(void)
{
    size_t n = 0;
    while (carry_one())
        n++;
    return n;
}

static void on_opened(void *ctx, const Livekit__DataStream__Header *h, const char *sender)
{
    (void)ctx;
    S.opened++;
    snprintf(S.sender, sizeof S.sender, "%s", sender);
    snprintf(S.topic, sizeof S.topic, "%s", h->topic);
}

static void on_chunk(void *ctx, const char *stream_id, const uint8_t *data, size_t len)
{
    (void)ctx;
    (void)stream_id;
    assert_true(S.len + len <= sizeof S.content);
    memcpy(S.content + S.len, data, len);
    S.len += len;
    S.chunks++;
    if (len > S.max_chunk)
        S.max_chunk = len;
    if (len && (data[0] & 0xc0) == 0x80)
        S.chunks_utf8 = false;
}

static void on_ended(void *ctx, const char *stream_id, const Livekit__DataStream__Trailer *t,
                     const char *error)
{
    (void)ctx;
    (void)stream_id;
    S.ended++;
    S.trailer_attributes = t ? t->n_attributes : 0;
    snprintf(S.error, sizeof S.error, "%s", error ? error : "");
}

static void on_done(void *ctx, uint64_t job, const char *error)
{
    (void)ctx;
    S.done++;
    S.done_job = job;
    snprintf(S.job_error, sizeof S.job_error, "%s", error ? error : "");
}

static int setup(void **state)
{
    (void)state;
    memset(&W, 0, sizeof W);
    memset(&S, 0, sizeof S);
    W.fail_after = -1;
    S.chunks_utf8 = true;
    lkstreams_transport t = {NULL, wire_send};
    lkstreams_observer obs = {NULL, on_opened, on_chunk, on_ended, on_done};
    A = lkstreams_new(&t, &obs);
    B = lkstreams_new(&t, &obs);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = W.head; i < W.tail; i++)
        free(W.data[i]);
    lkstreams_free(A);
    lkstreams_free(B);
    return 0;
}

/* A whole stream in one job: header, content, trailer. */
static void submit(uint64_t id, const char *stream_id, const void *data, size_t len, bool text,
                   const char *reason)
{
    Livekit__DataStream__Header h = LIVEKIT__DATA_STREAM__HEADER__INIT;
    Livekit__DataStream__TextHeader th = LIVEKIT__DATA_STREAM__TEXT_HEADER__INIT;
    Livekit__DataStream__ByteHeader bh = LIVEKIT__DATA_STREAM__BYTE_HEADER__INIT;
    h.stream_id = (char *)stream_id;
    h.topic = (char *)"t";
    h.total_length = len;
    if (text) {
        h.content_header_case = LIVEKIT__DATA_STREAM__HEADER__CONTENT_HEADER_TEXT_HEADER;
        h.text_header = &th;
    } else {
        h.content_header_case = LIVEKIT__DATA_STREAM__HEADER__CONTENT_HEADER_BYTE_HEADER;
        bh.name = (char *)"f.bin";
        h.byte_header = &bh;
    }
    Livekit__DataStream__Trailer tr = LIVEKIT__DATA_STREAM__TRAILER__INIT;
    Livekit__DataStream__Trailer__AttributesEntry kv =
        LIVEKIT__DATA_STREAM__TRAILER__ATTRIBUTES_ENTRY__INIT;
    Livekit__DataStream__Trailer__AttributesEntry *kvs[] = {&kv};
    kv.key = (char *)"k";
    kv.value = (char *)"v";
    tr.stream_id = (char *)stream_id;
    tr.reason = (char *)(reason ? reason : "");
    tr.n_attributes = 1;
    tr.attributes = kvs;
    lkstream_job j = {stream_id, &h, data, len, text, &tr, NULL, 0};
    lkstreams_submit(A, id, &j);
}

/* Multi-byte text arrives whole, cut into chunks of at most 15000 bytes
 * that each start on a character; the job is done once, after the
 * trailer went. */
static void text_arrives_whole_in_utf8_chunks(void **state)
{
    (void)state;
    static const char unit[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"; /* 1+2+3+4 bytes */
    static char text[100000];
    size_t n = 0;
    while (n + sizeof unit - 1 <= sizeof text) {
        memcpy(text + n, unit, sizeof unit - 1);
        n += sizeof unit - 1;
    }
    submit(7, "s1", text, n, true, NULL);
    carry_all();
    assert_int_equal(S.opened, 1);
    assert_string_equal(S.sender, "alice");
    assert_string_equal(S.topic, "t");
    assert_int_equal(S.len, n);
    assert_memory_equal(S.content, text, n);
    assert_true(S.chunks >= n / LKSTREAM_CHUNK);
    assert_true(S.max_chunk <= LKSTREAM_CHUNK);
    assert_true(S.chunks_utf8);
    assert_int_equal(S.ended, 1);
    assert_string_equal(S.error, "");
    assert_int_equal(S.trailer_attributes, 1);
    assert_int_equal(S.done, 1);
    assert_int_equal(S.done_job, 7);
    assert_string_equal(S.job_error, "");
}

/* A large send never has more than 16 packets out before the transport
 * reports them, and its job is not done until the last is reported. */
static void a_large_send_is_paced(void **state)
{
    (void)state;
    static uint8_t bytes[150000 * 3];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i * 7);
    submit(1, "big", bytes, sizeof bytes, false, NULL);
    size_t most = 0;
    for (int rounds = 0; rounds < 1000 && S.done == 0; rounds++) {
        if (in_flight() > most)
            most = in_flight();
        if (!carry_one())
            break;
    }
    assert_int_equal(most, 16);
    assert_int_equal(S.done, 1);
    assert_int_equal(S.len, sizeof bytes);
    assert_memory_equal(S.content, bytes, sizeof bytes);
    assert_int_equal(S.ended, 1);
}

/* Jobs queue behind each other: the second starts after the first ends. */
static void jobs_run_in_order(void **state)
{
    (void)state;
    submit(1, "one", "first", 5, true, NULL);
    submit(2, "two", "second", 6, true, NULL);
    carry_all();
    assert_int_equal(S.opened, 2);
    assert_int_equal(S.len, 11);
    assert_memory_equal(S.content, "firstsecond", 11);
    assert_int_equal(S.done, 2);
    assert_int_equal(S.done_job, 2);
}

static void a_reason_in_the_trailer_ends_in_error(void **state)
{
    (void)state;
    submit(1, "s", "abc", 3, false, "cancelled");
    carry_all();
    assert_int_equal(S.ended, 1);
    assert_string_equal(S.error, "stream closed abnormally: cancelled");
}

/* The sender leaves mid-way: the reader ends with upstream's words, and
 * what comes after for that stream is ignored. */
static void the_sender_leaving_ends_the_stream(void **state)
{
    (void)state;
    static uint8_t bytes[40000];
    submit(1, "s", bytes, sizeof bytes, false, NULL);
    carry_one(); /* the header */
    carry_one(); /* one chunk */
    lkstreams_participant_left(B, "bob");
    assert_int_equal(S.ended, 0);
    lkstreams_participant_left(B, "alice");
    assert_int_equal(S.ended, 1);
    assert_non_null(strstr(S.error, "Participant alice unexpectedly disconnected"));
    size_t len = S.len;
    carry_all();
    assert_int_equal(S.len, len);
    assert_int_equal(S.ended, 1);
    assert_int_equal(S.done, 1); /* the sender's side is unaffected */
}

/* Bytes that are not UTF-8 end a text stream (the client could not take
 * them as a string); the same bytes pass in a byte stream. */
static void text_that_is_not_utf8_ends_the_stream(void **state)
{
    (void)state;
    static const uint8_t bad[] = {'o', 'k', 0xc3, 0x28, 0xff};
    submit(1, "t", bad, sizeof bad, true, NULL);
    carry_all();
    assert_int_equal(S.ended, 1);
    assert_string_equal(S.error, "stream chunk is not valid UTF-8");
    assert_int_equal(S.len, 0);
    submit(2, "b", bad, sizeof bad, false, NULL);
    carry_all();
    assert_int_equal(S.ended, 2);
    assert_string_equal(S.error, "");
    assert_int_equal(S.len, sizeof bad);
}

/* A header that promises more than the chunks bring, or fewer. */
static void lengths_that_disagree_end_in_error(void **state)
{
    (void)state;
    Livekit__DataStream__Header h = LIVEKIT__DATA_STREAM__HEADER__INIT;
    h.stream_id = (char *)"short";
    h.total_length = 10;
    Livekit__DataStream__Trailer tr = LIVEKIT__DATA_STREAM__TRAILER__INIT;
    tr.stream_id = (char *)"short";
    lkstream_job j = {"short", &h, (const uint8_t *)"abc", 3, false, &tr, NULL, 0};
    lkstreams_submit(A, 1, &j);
    carry_all();
    assert_int_equal(S.ended, 1);
    assert_string_equal(S.error, "stream data is incomplete");

    h.stream_id = tr.stream_id = (char *)"long";
    h.total_length = 2;
    j.stream_id = "long";
    lkstreams_submit(A, 2, &j);
    carry_all();
    assert_int_equal(S.ended, 2);
    assert_string_equal(S.error, "read length exceeded total length specified in stream header");
}

/* A writer's pieces are separate jobs on one stream: header, writes, and
 * the trailer last. */
static void a_writer_sends_in_pieces(void **state)
{
    (void)state;
    Livekit__DataStream__Header h = LIVEKIT__DATA_STREAM__HEADER__INIT;
    h.stream_id = (char *)"w";
    Livekit__DataStream__Trailer tr = LIVEKIT__DATA_STREAM__TRAILER__INIT;
    tr.stream_id = (char *)"w";
    lkstream_job open = {"w", &h, NULL, 0, true, NULL, NULL, 0};
    lkstream_job one = {"w", NULL, (const uint8_t *)"one ", 4, true, NULL, NULL, 0};
    lkstream_job two = {"w", NULL, (const uint8_t *)"two", 3, true, NULL, NULL, 0};
    lkstream_job close = {"w", NULL, NULL, 0, true, &tr, NULL, 0};
    lkstreams_submit(A, 1, &open);
    lkstreams_submit(A, 2, &one);
    lkstreams_submit(A, 3, &two);
    lkstreams_submit(A, 4, &close);
    carry_all();
    assert_int_equal(S.done, 4);
    assert_int_equal(S.chunks, 2);
    assert_memory_equal(S.content, "one two", 7);
    assert_int_equal(S.ended, 1);
    assert_string_equal(S.error, "");
    /* writing after the close: the stream is no longer open */
    lkstreams_submit(A, 5, &one);
    carry_all();
    assert_int_equal(S.done, 5);
    assert_string_equal(S.job_error, "the stream is not open");
}

/* A send the transport refuses fails its job with the transport's words;
 * the next job still runs. */
static void a_refused_send_fails_the_job(void **state)
{
    (void)state;
    static uint8_t bytes[50000];
    W.fail_after = 2; /* the header and one chunk go */
    submit(1, "s", bytes, sizeof bytes, false, NULL);
    carry_all();
    assert_int_equal(S.done, 1);
    assert_string_equal(S.job_error, "the transport is gone");
    W.fail_after = -1;
    submit(2, "s2", "x", 1, false, NULL);
    carry_all();
    assert_int_equal(S.done, 2);
    assert_string_equal(S.job_error, "");
}

/* The session ends: open incoming streams end in error and queued jobs
 * fail, each reported once. */
static void the_session_ending_ends_everything(void **state)
{
    (void)state;
    static uint8_t bytes[300000];
    submit(1, "s", bytes, sizeof bytes, false, NULL);
    submit(2, "s2", "x", 1, false, NULL);
    carry_one();
    carry_one();
    lkstreams_session_ended(B);
    assert_int_equal(S.ended, 1);
    assert_string_equal(S.error, "stream closed abnormally: the room was disconnected");
    lkstreams_session_ended(A);
    assert_int_equal(S.done, 2);
    assert_string_equal(S.job_error, "the room was disconnected");
}

/* Chunks and trailers of streams never opened are dropped quietly. */
static void strangers_are_ignored(void **state)
{
    (void)state;
    Livekit__DataStream__Chunk c = LIVEKIT__DATA_STREAM__CHUNK__INIT;
    c.stream_id = (char *)"nope";
    c.content.data = (uint8_t *)"x";
    c.content.len = 1;
    Livekit__DataPacket p = LIVEKIT__DATA_PACKET__INIT;
    p.value_case = LIVEKIT__DATA_PACKET__VALUE_STREAM_CHUNK;
    p.stream_chunk = &c;
    assert_true(lkstreams_on_packet(B, &p));
    Livekit__DataStream__Trailer t = LIVEKIT__DATA_STREAM__TRAILER__INIT;
    t.stream_id = (char *)"nope";
    p.value_case = LIVEKIT__DATA_PACKET__VALUE_STREAM_TRAILER;
    p.stream_trailer = &t;
    assert_true(lkstreams_on_packet(B, &p));
    Livekit__UserPacket u = LIVEKIT__USER_PACKET__INIT;
    p.value_case = LIVEKIT__DATA_PACKET__VALUE_USER;
    p.user = &u;
    assert_false(lkstreams_on_packet(B, &p));
    assert_int_equal(S.len + S.opened + S.ended, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(text_arrives_whole_in_utf8_chunks),
        T(a_large_send_is_paced),
        T(jobs_run_in_order),
        T(a_reason_in_the_trailer_ends_in_error),
        T(the_sender_leaving_ends_the_stream),
        T(text_that_is_not_utf8_ends_the_stream),
        T(lengths_that_disagree_end_in_error),
        T(a_writer_sends_in_pieces),
        T(a_refused_send_fails_the_job),
        T(the_session_ending_ends_everything),
        T(strangers_are_ignored),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
