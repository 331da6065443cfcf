/*
 * stream.c: outgoing stream jobs, one at a time, a few packets in flight;
 * the incoming streams open now and who sent them.
 */
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "pbcopy.h"
#include "utf8.h"

/* Chunks in flight: 16 x 15000 bytes keeps SCTP busy without queueing. */
enum { IN_FLIGHT = 16, MAX_INCOMING = 1024 };

typedef enum stage { HEADER, CONTENT, TRAILER, FINISHING } stage;

typedef struct job {
    struct job *next;
    uint64_t id;
    char *stream_id;
    Livekit__DataStream__Header *header;
    Livekit__DataStream__Trailer *trailer;
    const uint8_t *data; /* the submitter's, until done */
    size_t len, off;
    bool text;
    char **destinations;
    size_t n_destinations;
    stage stage;
    char error[200];
} job;

/* Our streams between their header and their trailer. */
typedef struct outgoing {
    char *id;
    uint64_t next_index;
} outgoing;

typedef struct incoming {
    char *id, *sender;
    uint64_t total, received, next_index; /* total 0: not said */
    bool text; /* each chunk must be whole UTF-8 (upstream's senders cut so) */
} incoming;

struct lkstreams {
    lkstreams_transport t;
    lkstreams_observer obs;
    job *jobs, **jobs_tail;
    unsigned in_flight;
    bool pumping;
    uint64_t next_token;
    outgoing *out;
    size_t n_out, cap_out;
    incoming *in;
    size_t n_in, cap_in;
};

static char *copy_str(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static void grow(void **items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return;
    *cap = *cap ? *cap * 2 : 8;
    void *p = realloc(*items, *cap * size);
    if (!p)
        abort();
    *items = p;
}

/* --- outgoing ------------------------------------------------------------------------ */

static outgoing *find_out(lkstreams *s, const char *id)
{
    for (size_t i = 0; i < s->n_out; i++)
        if (!strcmp(s->out[i].id, id))
            return &s->out[i];
    return NULL;
}

static void drop_out(lkstreams *s, const char *id)
{
    outgoing *o = find_out(s, id);
    if (!o)
        return;
    free(o->id);
    *o = s->out[--s->n_out];
}

static void job_free(job *j)
{
    free(j->stream_id);
    if (j->header)
        protobuf_c_message_free_unpacked(&(j->header)->base, NULL);
    if (j->trailer)
        protobuf_c_message_free_unpacked(&(j->trailer)->base, NULL);
    for (size_t i = 0; i < j->n_destinations; i++)
        free(j->destinations[i]);
    free(j->destinations);
    free(j);
}

/* Sends one packet of job j, reported back through lkstreams_sent. */
static void send_packet(lkstreams *s, job *j, Livekit__DataPacket *p)
{
    p->n_destination_identities = j->n_destinations;
    p->destination_identities = j->destinations;
    uint64_t token = LKSTREAM_TOKEN_BIT | ++s->next_token;
    s->in_flight++; /* first: the report may come inside send */
    if (s->t.send(s->t.ctx, p, &token, j->error, sizeof j->error) < 0) {
        s->in_flight--;
        j->stage = FINISHING; /* j->error says why */
    }
}

/* How much of the content the next chunk takes: text is cut between
 * UTF-8 characters (a continuation byte never starts a chunk). */
static size_t chunk_len(const job *j)
{
    size_t n = j->len - j->off;
    if (n <= LKSTREAM_CHUNK)
        return n;
    n = LKSTREAM_CHUNK;
    if (j->text) {
        size_t m = n;
        while (m > 0 && (j->data[j->off + m] & 0xc0) == 0x80)
            m--;
        if (m > 0)
            n = m;
    }
    return n;
}

static void step(lkstreams *s, job *j)
{
    Livekit__DataPacket p = LIVEKIT__DATA_PACKET__INIT;
    switch (j->stage) {
    case HEADER:
        j->stage = CONTENT;
        if (j->header) {
            outgoing o = {copy_str(j->stream_id), 0};
            grow((void **)&s->out, &s->cap_out, s->n_out, sizeof o);
            s->out[s->n_out++] = o;
            p.value_case = LIVEKIT__DATA_PACKET__VALUE_STREAM_HEADER;
            p.stream_header = j->header;
            send_packet(s, j, &p);
        }
        break;
    case CONTENT: {
        if (j->off == j->len) {
            j->stage = TRAILER;
            break;
        }
        outgoing *o = find_out(s, j->stream_id);
        if (!o) {
            snprintf(j->error, sizeof j->error, "the stream is not open");
            j->stage = FINISHING;
            break;
        }
        size_t n = chunk_len(j);
        Livekit__DataStream__Chunk c = LIVEKIT__DATA_STREAM__CHUNK__INIT;
        c.stream_id = j->stream_id;
        c.chunk_index = o->next_index++;
        c.content.data = (uint8_t *)(uintptr_t)(j->data + j->off); /* only read */
        c.content.len = n;
        j->off += n;
        p.value_case = LIVEKIT__DATA_PACKET__VALUE_STREAM_CHUNK;
        p.stream_chunk = &c;
        send_packet(s, j, &p);
        break;
    }
    case TRAILER:
        j->stage = FINISHING;
        if (j->trailer) {
            drop_out(s, j->stream_id);
            p.value_case = LIVEKIT__DATA_PACKET__VALUE_STREAM_TRAILER;
            p.stream_trailer = j->trailer;
            send_packet(s, j, &p);
        }
        break;
    case FINISHING:
        break;
    }
}

/* Moves the queue along as far as the packets in flight allow. Reports
 * and submissions that come while it runs are picked up by its loop. */
static void pump(lkstreams *s)
{
    if (s->pumping)
        return;
    s->pumping = true;
    while (s->jobs) {
        job *j = s->jobs;
        if (j->stage != FINISHING) {
            if (s->in_flight >= IN_FLIGHT)
                break;
            step(s, j);
            continue;
        }
        if (s->in_flight)
            break; /* done when its last packet is reported */
        s->jobs = j->next;
        if (!s->jobs)
            s->jobs_tail = &s->jobs;
        if (s->obs.done)
            s->obs.done(s->obs.ctx, j->id, j->error[0] ? j->error : NULL);
        job_free(j);
    }
    s->pumping = false;
}

void lkstreams_submit(lkstreams *s, uint64_t id, const lkstream_job *in)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->id = id;
    j->stream_id = copy_str(in->stream_id);
    if (in->header)
        j->header = lkroom_pb_copy_own(&in->header->base);
    if (in->trailer)
        j->trailer = lkroom_pb_copy_own(&in->trailer->base);
    j->data = in->data;
    j->len = in->len;
    j->text = in->text;
    j->n_destinations = in->n_destinations;
    j->destinations = calloc(in->n_destinations + 1, sizeof *j->destinations);
    if (!j->destinations)
        abort();
    for (size_t i = 0; i < in->n_destinations; i++)
        j->destinations[i] = copy_str(in->destinations[i]);
    *s->jobs_tail = j;
    s->jobs_tail = &j->next;
    pump(s);
}

void lkstreams_sent(lkstreams *s, uint64_t token, const char *error)
{
    (void)token; /* reported in order: it is the oldest in flight */
    if (!s->in_flight)
        return;
    s->in_flight--;
    if (error && s->jobs && !s->jobs->error[0]) {
        snprintf(s->jobs->error, sizeof s->jobs->error, "%s", error);
        s->jobs->stage = FINISHING;
    }
    pump(s);
}

/* --- incoming ---------------------------------------------------------------------- */

static ssize_t find_in(const lkstreams *s, const char *id)
{
    for (size_t i = 0; i < s->n_in; i++)
        if (!strcmp(s->in[i].id, id))
            return (ssize_t)i;
    return -1;
}

static void drop_in(lkstreams *s, size_t i)
{
    free(s->in[i].id);
    free(s->in[i].sender);
    s->in[i] = s->in[--s->n_in];
}

/* Ends incoming stream i with an error (the observer may not re-enter). */
static void end_in(lkstreams *s, size_t i, const char *error)
{
    char *id = s->in[i].id;
    s->in[i].id = NULL;
    drop_in(s, i);
    if (s->obs.ended)
        s->obs.ended(s->obs.ctx, id, NULL, error);
    free(id);
}

bool lkstreams_on_packet(lkstreams *s, const Livekit__DataPacket *p)
{
    switch (p->value_case) {
    case LIVEKIT__DATA_PACKET__VALUE_STREAM_HEADER: {
        const Livekit__DataStream__Header *h = p->stream_header;
        if (!h->stream_id[0] || find_in(s, h->stream_id) >= 0 || s->n_in == MAX_INCOMING)
            return true; /* nameless, a repeat, or one too many: ignored */
        incoming in = {copy_str(h->stream_id), copy_str(p->participant_identity),
                       h->total_length, 0, 0,
                       h->content_header_case != LIVEKIT__DATA_STREAM__HEADER__CONTENT_HEADER_BYTE_HEADER};
        grow((void **)&s->in, &s->cap_in, s->n_in, sizeof in);
        s->in[s->n_in++] = in;
        if (s->obs.opened)
            s->obs.opened(s->obs.ctx, h, p->participant_identity);
        return true;
    }
    case LIVEKIT__DATA_PACKET__VALUE_STREAM_CHUNK: {
        const Livekit__DataStream__Chunk *c = p->stream_chunk;
        ssize_t i = find_in(s, c->stream_id);
        if (i < 0)
            return true;
        incoming *in = &s->in[i];
        if (c->chunk_index != in->next_index++) {
            end_in(s, (size_t)i, "expected chunk index to be exactly one more than the previous");
        } else if (in->total && (in->received += c->content.len) > in->total) {
            end_in(s, (size_t)i, "read length exceeded total length specified in stream header");
        } else if (in->text && !lknet_utf8_valid(c->content.data, c->content.len)) {
            end_in(s, (size_t)i, "stream chunk is not valid UTF-8");
        } else if (s->obs.chunk) {
            s->obs.chunk(s->obs.ctx, c->stream_id, c->content.data, c->content.len);
        }
        return true;
    }
    case LIVEKIT__DATA_PACKET__VALUE_STREAM_TRAILER: {
        const Livekit__DataStream__Trailer *t = p->stream_trailer;
        ssize_t i = find_in(s, t->stream_id);
        if (i < 0)
            return true;
        char why[300] = "";
        if (s->in[i].total && s->in[i].received < s->in[i].total)
            snprintf(why, sizeof why, "stream data is incomplete");
        else if (t->reason[0])
            snprintf(why, sizeof why, "stream closed abnormally: %s", t->reason);
        drop_in(s, (size_t)i);
        if (s->obs.ended)
            s->obs.ended(s->obs.ctx, t->stream_id, t, why[0] ? why : NULL);
        return true;
    }
    default:
        return false;
    }
}

void lkstreams_participant_left(lkstreams *s, const char *identity)
{
    char why[300];
    snprintf(why, sizeof why,
             "stream closed abnormally: Participant %s unexpectedly disconnected in the middle "
             "of sending data",
             identity);
    for (size_t i = 0; i < s->n_in;) {
        if (strcmp(s->in[i].sender, identity))
            i++;
        else
            end_in(s, i, why);
    }
}

void lkstreams_session_ended(lkstreams *s)
{
    while (s->n_in)
        end_in(s, s->n_in - 1, "stream closed abnormally: the room was disconnected");
    for (job *j = s->jobs; j; j = j->next) {
        if (!j->error[0])
            snprintf(j->error, sizeof j->error, "the room was disconnected");
        j->stage = FINISHING;
    }
    s->in_flight = 0; /* nothing more will be reported */
    pump(s);
}

/* --- lifecycle ----------------------------------------------------------------------- */

lkstreams *lkstreams_new(const lkstreams_transport *t, const lkstreams_observer *obs)
{
    lkstreams *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->t = *t;
    s->obs = *obs;
    s->jobs_tail = &s->jobs;
    return s;
}

void lkstreams_free(lkstreams *s)
{
    if (!s)
        return;
    while (s->jobs) {
        job *j = s->jobs;
        s->jobs = j->next;
        job_free(j);
    }
    for (size_t i = 0; i < s->n_out; i++)
        free(s->out[i].id);
    for (size_t i = 0; i < s->n_in; i++) {
        free(s->in[i].id);
        free(s->in[i].sender);
    }
    free(s->out);
    free(s->in);
    free(s);
}
