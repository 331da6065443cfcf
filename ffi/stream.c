/*
 * stream.c: data streams over the FFI: StreamSendText, StreamSendBytes,
 * StreamSendFile, Text/ByteStreamOpen with their writers' Write and Close;
 * incoming streams as TextStreamOpened / ByteStreamOpened room events with
 * a reader handle, whose ReadIncremental starts its chunk and EOS events,
 * whose ReadAll answers once with everything, or whose WriteToFile puts it
 * in a file as it arrives. Each consumes the handle, as upstream's do.
 *
 * The wire work is room/stream.c's; here, handles and messages. A reader
 * keeps what arrives before the client asks to read (the client installs
 * its handler after the opened event), then forwards as it comes. Every
 * sending request becomes one job; its callback comes when the job is done.
 * Workers never touch the file system: a file to send is read on the
 * client's thread, inside its request; a file written is written by the
 * runtime's blocking thread (lkio_queue_work), a batch of chunks at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "handlers.h"
#include "pbcopy.h"
#include "room_handle.h"
#include "uuid.h"

#define RES(x) LIVEKIT__PROTO__FFI_RESPONSE__MESSAGE_##x
#define EV(x) LIVEKIT__PROTO__FFI_EVENT__MESSAGE_##x

/* Every AttributesEntry protobuf-c makes has this shape. */
typedef struct kv {
    ProtobufCMessage base;
    char *key, *value;
} kv;
_Static_assert(sizeof(kv) == sizeof(Livekit__Proto__TextStreamInfo__AttributesEntry), "kv");
_Static_assert(sizeof(kv) == sizeof(Livekit__DataStream__Header__AttributesEntry), "kv");

/* n entries of the given type copying `from` (any kv-shaped entries); free
 * the result with free_kvs. */
static void *make_kvs(const ProtobufCMessageDescriptor *d, void *const *from, size_t n)
{
    kv *e = calloc(n ? n : 1, sizeof *e);
    kv **p = calloc(n ? n : 1, sizeof *p);
    if (!e || !p)
        abort();
    p[0] = e; /* what free_kvs frees, entries or none */
    for (size_t i = 0; i < n; i++) {
        protobuf_c_message_init(d, &e[i]);
        e[i].key = ((kv *)from[i])->key ? ((kv *)from[i])->key : (char *)"";
        e[i].value = ((kv *)from[i])->value ? ((kv *)from[i])->value : (char *)"";
        p[i] = &e[i];
    }
    return p;
}

static void free_kvs(void *p)
{
    if (p) {
        free(((kv **)p)[0]);
        free(p);
    }
}

/* --- headers and infos ------------------------------------------------------------------ */

/* A header under construction: the message and what it points to. */
typedef struct header {
    Livekit__DataStream__Header h;
    Livekit__DataStream__TextHeader th;
    Livekit__DataStream__ByteHeader bh;
    char id[LKROOM_UUID_SIZE];
} header;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void header_text(header *x, const Livekit__Proto__StreamTextOptions *o, uint64_t total)
{
    livekit__data_stream__header__init(&x->h);
    livekit__data_stream__text_header__init(&x->th);
    lkroom_uuid(x->id);
    x->h.stream_id = o->id && o->id[0] ? o->id : x->id;
    x->h.timestamp = now_ms();
    x->h.topic = o->topic ? o->topic : (char *)"";
    x->h.mime_type = (char *)"text/plain";
    x->h.total_length = total;
    x->h.n_attributes = o->n_attributes;
    x->h.attributes = make_kvs(&livekit__data_stream__header__attributes_entry__descriptor,
                               (void *const *)o->attributes, o->n_attributes);
    x->th.operation_type = o->has_operation_type
                               ? (Livekit__DataStream__OperationType)o->operation_type
                               : LIVEKIT__DATA_STREAM__OPERATION_TYPE__CREATE;
    x->th.version = o->has_version ? o->version : 0;
    x->th.reply_to_stream_id = o->reply_to_stream_id ? o->reply_to_stream_id : (char *)"";
    x->th.n_attached_stream_ids = o->n_attached_stream_ids;
    x->th.attached_stream_ids = o->attached_stream_ids;
    x->th.generated = o->has_generated && o->generated;
    x->h.content_header_case = LIVEKIT__DATA_STREAM__HEADER__CONTENT_HEADER_TEXT_HEADER;
    x->h.text_header = &x->th;
}

static void header_bytes(header *x, const Livekit__Proto__StreamByteOptions *o, uint64_t total,
                         const char *default_name)
{
    livekit__data_stream__header__init(&x->h);
    livekit__data_stream__byte_header__init(&x->bh);
    lkroom_uuid(x->id);
    x->h.stream_id = o->id && o->id[0] ? o->id : x->id;
    x->h.timestamp = now_ms();
    x->h.topic = o->topic ? o->topic : (char *)"";
    x->h.mime_type = o->mime_type && o->mime_type[0] ? o->mime_type
                                                     : (char *)"application/octet-stream";
    x->h.total_length = total;
    x->h.n_attributes = o->n_attributes;
    x->h.attributes = make_kvs(&livekit__data_stream__header__attributes_entry__descriptor,
                               (void *const *)o->attributes, o->n_attributes);
    x->bh.name = o->name && o->name[0] ? o->name : (char *)default_name;
    x->h.content_header_case = LIVEKIT__DATA_STREAM__HEADER__CONTENT_HEADER_BYTE_HEADER;
    x->h.byte_header = &x->bh;
}

static void header_done(header *x)
{
    free_kvs(x->h.attributes);
}

/* The FFI's view of a header; free with info_done. */
typedef struct info {
    Livekit__Proto__TextStreamInfo text;
    Livekit__Proto__ByteStreamInfo bytes;
} info;

static void info_make(info *i, const Livekit__DataStream__Header *h)
{
    livekit__proto__text_stream_info__init(&i->text);
    livekit__proto__byte_stream_info__init(&i->bytes);
    i->text.stream_id = i->bytes.stream_id = h->stream_id;
    i->text.timestamp = i->bytes.timestamp = h->timestamp;
    i->text.mime_type = i->bytes.mime_type = h->mime_type;
    i->text.topic = i->bytes.topic = h->topic;
    i->text.has_total_length = i->bytes.has_total_length = h->total_length > 0;
    i->text.total_length = i->bytes.total_length = h->total_length;
    i->text.n_attributes = h->n_attributes;
    i->text.attributes = make_kvs(&livekit__proto__text_stream_info__attributes_entry__descriptor,
                                  (void *const *)h->attributes, h->n_attributes);
    i->bytes.n_attributes = h->n_attributes;
    i->bytes.attributes = make_kvs(&livekit__proto__byte_stream_info__attributes_entry__descriptor,
                                   (void *const *)h->attributes, h->n_attributes);
    i->text.encryption_type = i->bytes.encryption_type = LIVEKIT__PROTO__ENCRYPTION_TYPE__NONE;
    if (h->content_header_case == LIVEKIT__DATA_STREAM__HEADER__CONTENT_HEADER_TEXT_HEADER) {
        const Livekit__DataStream__TextHeader *t = h->text_header;
        i->text.operation_type = (Livekit__Proto__TextStreamInfo__OperationType)t->operation_type;
        i->text.has_version = true;
        i->text.version = t->version;
        i->text.reply_to_stream_id = t->reply_to_stream_id[0] ? t->reply_to_stream_id : NULL;
        i->text.n_attached_stream_ids = t->n_attached_stream_ids;
        i->text.attached_stream_ids = t->attached_stream_ids;
        i->text.has_generated = true;
        i->text.generated = t->generated;
    }
    i->bytes.name = h->content_header_case ==
                            LIVEKIT__DATA_STREAM__HEADER__CONTENT_HEADER_BYTE_HEADER
                        ? h->byte_header->name
                        : (char *)"";
}

static void info_done(info *i)
{
    free_kvs(i->text.attributes);
    free_kvs(i->bytes.attributes);
}

static bool is_text(const Livekit__DataStream__Header *h)
{
    return h->content_header_case != LIVEKIT__DATA_STREAM__HEADER__CONTENT_HEADER_BYTE_HEADER;
}

/* --- readers --------------------------------------------------------------------------- */

typedef struct chunk {
    struct chunk *next;
    size_t len;
    uint8_t data[];
} chunk;

/* How the client reads: chunk events as they come, ReadAll's one answer
 * at the end, or WriteToFile's answer once the file is written. */
enum read_mode { READ_CHUNKS, READ_ALL, READ_TO_FILE };

typedef struct file_sink file_sink;

typedef struct lk_stream_reader {
    lk_object base;
    lk_room *room; /* a reference */
    bool text;
    char *stream_id;
    char *name; /* a byte stream's file name, else "" */
    /* on the worker: */
    bool reading, ended, listed;
    enum read_mode mode;
    uint64_t async_id; /* ReadAll's or WriteToFile's */
    file_sink *file;   /* WriteToFile's */
    chunk *head, **tail;
    char *error;                            /* the end's error, or NULL */
    Livekit__DataStream__Trailer *trailer; /* the end's trailer, or NULL */
    lkio_task task;
} reader;

static void file_sink_free(file_sink *f);

static void reader_free(lk_object *o)
{
    reader *rd = lk_container_of(o, reader, base);
    for (chunk *c = rd->head; c;) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
    if (rd->trailer)
        protobuf_c_message_free_unpacked(&(rd->trailer)->base, NULL);
    free(rd->error);
    free(rd->stream_id);
    free(rd->name);
    file_sink_free(rd->file);
    lk_unref(&rd->room->base);
    free(rd);
}

static void reader_unlist(reader *rd)
{
    lk_room *r = rd->room;
    for (size_t i = 0; i < r->n_readers; i++) {
        if (r->readers[i] == rd) {
            r->readers[i] = r->readers[--r->n_readers];
            rd->listed = false;
            lk_unref(&rd->base);
            return;
        }
    }
}

static void reader_close_run(lkio_task *t)
{
    reader *rd = lk_container_of(t, reader, task);
    reader_unlist(rd);
    lk_unref(&rd->base); /* the task's */
}

/* Dropping the handle: the room forgets the reader (on its worker). */
static void reader_close(lk_object *o)
{
    reader *rd = lk_container_of(o, reader, base);
    lk_ref(o);
    lkio_post(rd->room->w, &rd->task, reader_close_run);
}

static const lk_kind text_reader_kind = {"text stream reader", reader_close, reader_free};
static const lk_kind byte_reader_kind = {"byte stream reader", reader_close, reader_free};

static reader *find_reader(lk_room *r, const char *stream_id)
{
    for (size_t i = 0; i < r->n_readers; i++)
        if (!strcmp(r->readers[i]->stream_id, stream_id))
            return r->readers[i];
    return NULL;
}

static void emit_chunk(reader *rd, const uint8_t *data, size_t len)
{
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    if (rd->text) {
        char *s = malloc(len + 1);
        if (!s)
            abort();
        memcpy(s, data, len);
        s[len] = 0;
        Livekit__Proto__TextStreamReaderChunkReceived c =
            LIVEKIT__PROTO__TEXT_STREAM_READER_CHUNK_RECEIVED__INIT;
        c.content = s;
        Livekit__Proto__TextStreamReaderEvent e = LIVEKIT__PROTO__TEXT_STREAM_READER_EVENT__INIT;
        e.reader_handle = rd->base.id;
        e.detail_case = LIVEKIT__PROTO__TEXT_STREAM_READER_EVENT__DETAIL_CHUNK_RECEIVED;
        e.chunk_received = &c;
        ev.message_case = EV(TEXT_STREAM_READER_EVENT);
        ev.text_stream_reader_event = &e;
        lk_emit(&ev);
        free(s);
    } else {
        Livekit__Proto__ByteStreamReaderChunkReceived c =
            LIVEKIT__PROTO__BYTE_STREAM_READER_CHUNK_RECEIVED__INIT;
        c.content.data = (uint8_t *)data;
        c.content.len = len;
        Livekit__Proto__ByteStreamReaderEvent e = LIVEKIT__PROTO__BYTE_STREAM_READER_EVENT__INIT;
        e.reader_handle = rd->base.id;
        e.detail_case = LIVEKIT__PROTO__BYTE_STREAM_READER_EVENT__DETAIL_CHUNK_RECEIVED;
        e.chunk_received = &c;
        ev.message_case = EV(BYTE_STREAM_READER_EVENT);
        ev.byte_stream_reader_event = &e;
        lk_emit(&ev);
    }
}

static void emit_eos(reader *rd)
{
    Livekit__Proto__StreamError err = LIVEKIT__PROTO__STREAM_ERROR__INIT;
    err.description = rd->error;
    size_t n = rd->trailer ? rd->trailer->n_attributes : 0;
    void *const *from = rd->trailer ? (void *const *)rd->trailer->attributes : NULL;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    if (rd->text) {
        Livekit__Proto__TextStreamReaderEOS eos = LIVEKIT__PROTO__TEXT_STREAM_READER_EOS__INIT;
        eos.error = rd->error ? &err : NULL;
        eos.n_attributes = n;
        eos.attributes =
            make_kvs(&livekit__proto__text_stream_reader_eos__attributes_entry__descriptor, from, n);
        Livekit__Proto__TextStreamReaderEvent e = LIVEKIT__PROTO__TEXT_STREAM_READER_EVENT__INIT;
        e.reader_handle = rd->base.id;
        e.detail_case = LIVEKIT__PROTO__TEXT_STREAM_READER_EVENT__DETAIL_EOS;
        e.eos = &eos;
        ev.message_case = EV(TEXT_STREAM_READER_EVENT);
        ev.text_stream_reader_event = &e;
        lk_emit(&ev);
        free_kvs(eos.attributes);
    } else {
        Livekit__Proto__ByteStreamReaderEOS eos = LIVEKIT__PROTO__BYTE_STREAM_READER_EOS__INIT;
        eos.error = rd->error ? &err : NULL;
        eos.n_attributes = n;
        eos.attributes =
            make_kvs(&livekit__proto__byte_stream_reader_eos__attributes_entry__descriptor, from, n);
        Livekit__Proto__ByteStreamReaderEvent e = LIVEKIT__PROTO__BYTE_STREAM_READER_EVENT__INIT;
        e.reader_handle = rd->base.id;
        e.detail_case = LIVEKIT__PROTO__BYTE_STREAM_READER_EVENT__DETAIL_EOS;
        e.eos = &eos;
        ev.message_case = EV(BYTE_STREAM_READER_EVENT);
        ev.byte_stream_reader_event = &e;
        lk_emit(&ev);
        free_kvs(eos.attributes);
    }
}

/* ReadAll's one answer: everything that came, or the end's error. */
static void emit_all(reader *rd)
{
    size_t n = 0;
    for (chunk *c = rd->head; c; c = c->next)
        n += c->len;
    uint8_t *all = malloc(n + 1);
    if (!all)
        abort();
    n = 0;
    for (chunk *c = rd->head; c; c = c->next) {
        memcpy(all + n, c->data, c->len);
        n += c->len;
    }
    all[n] = 0;
    Livekit__Proto__StreamError err = LIVEKIT__PROTO__STREAM_ERROR__INIT;
    err.description = rd->error;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    if (rd->text) {
        Livekit__Proto__TextStreamReaderReadAllCallback cb =
            LIVEKIT__PROTO__TEXT_STREAM_READER_READ_ALL_CALLBACK__INIT;
        cb.async_id = rd->async_id;
        if (rd->error) {
            cb.result_case = LIVEKIT__PROTO__TEXT_STREAM_READER_READ_ALL_CALLBACK__RESULT_ERROR;
            cb.error = &err;
        } else {
            cb.result_case = LIVEKIT__PROTO__TEXT_STREAM_READER_READ_ALL_CALLBACK__RESULT_CONTENT;
            cb.content = (char *)all;
        }
        ev.message_case = EV(TEXT_STREAM_READER_READ_ALL);
        ev.text_stream_reader_read_all = &cb;
        lk_emit(&ev);
    } else {
        Livekit__Proto__ByteStreamReaderReadAllCallback cb =
            LIVEKIT__PROTO__BYTE_STREAM_READER_READ_ALL_CALLBACK__INIT;
        cb.async_id = rd->async_id;
        if (rd->error) {
            cb.result_case = LIVEKIT__PROTO__BYTE_STREAM_READER_READ_ALL_CALLBACK__RESULT_ERROR;
            cb.error = &err;
        } else {
            cb.result_case = LIVEKIT__PROTO__BYTE_STREAM_READER_READ_ALL_CALLBACK__RESULT_CONTENT;
            cb.content.data = all;
            cb.content.len = n;
        }
        ev.message_case = EV(BYTE_STREAM_READER_READ_ALL);
        ev.byte_stream_reader_read_all = &cb;
        lk_emit(&ev);
    }
    free(all);
}

/* --- WriteToFile ------------------------------------------------------------------------ */

/* What arrives goes to the file by batches: the chunks that queued while
 * the previous batch was written, in one item for the blocking thread. The
 * worker touches the sink only while no item is in flight. */
struct file_sink {
    lkio_work work;
    reader *rd;
    char *path;    /* NULL: the name was refused */
    int fd;        /* -1: not open, or no longer */
    bool opened;   /* the open was tried */
    bool busy;     /* an item in flight, holding a reference to rd */
    bool last;     /* close after this batch */
    bool answered; /* the callback went out */
    int err;       /* errno of the first failure, or 0 */
    chunk *batch;  /* what the item in flight writes, then frees */
};

static void file_sink_free(file_sink *f)
{
    if (!f)
        return;
    if (f->fd >= 0) /* never while the stream goes on: it ends before its reader */
        close(f->fd);
    free(f->path);
    free(f);
}

/* Like a stream name from the network, an override must not leave the
 * directory: one path component, not "." or "..". */
static bool plain_file_name(const char *name)
{
    return *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (n == 0)
            return EIO; /* no progress and no reason: never loop on it */
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* On the blocking thread: open once, write the batch, close after the last
 * one or the first failure. */
static void file_work(lkio_work *w)
{
    file_sink *f = lk_container_of(w, file_sink, work);
    if (!f->opened) {
        f->opened = true;
        f->fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (f->fd < 0)
            f->err = errno;
    }
    for (chunk *c = f->batch; c;) {
        if (!f->err)
            f->err = write_all(f->fd, c->data, c->len);
        chunk *next = c->next;
        free(c);
        c = next;
    }
    f->batch = NULL;
    if (f->fd >= 0 && (f->last || f->err)) {
        if (close(f->fd) < 0 && !f->err)
            f->err = errno;
        f->fd = -1;
    }
}

/* The callback: the file's path, or why there is none (as upstream words
 * it: the refused name, the I/O error, or the stream's own error). */
static void file_answer(reader *rd)
{
    file_sink *f = rd->file;
    f->answered = true;
    char why[160];
    Livekit__Proto__StreamError err = LIVEKIT__PROTO__STREAM_ERROR__INIT;
    Livekit__Proto__ByteStreamReaderWriteToFileCallback cb =
        LIVEKIT__PROTO__BYTE_STREAM_READER_WRITE_TO_FILE_CALLBACK__INIT;
    cb.async_id = rd->async_id;
    if (!f->path)
        err.description = "file name must be a plain file name without path separators or '..'";
    else if (f->err) {
        snprintf(why, sizeof why, "I/O error: %s (os error %d)", strerror(f->err), f->err);
        err.description = why;
    } else
        err.description = rd->error;
    if (err.description) {
        cb.result_case = LIVEKIT__PROTO__BYTE_STREAM_READER_WRITE_TO_FILE_CALLBACK__RESULT_ERROR;
        cb.error = &err;
    } else {
        cb.result_case = LIVEKIT__PROTO__BYTE_STREAM_READER_WRITE_TO_FILE_CALLBACK__RESULT_FILE_PATH;
        cb.file_path = f->path;
    }
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = EV(BYTE_STREAM_READER_WRITE_TO_FILE);
    ev.byte_stream_reader_write_to_file = &cb;
    lk_emit(&ev);
    reader_unlist(rd);
}

static void file_done(lkio_work *w);

/* On the worker, whenever something arrived or a batch was written: the
 * next batch, or the answer once the file is closed (or was never made). */
static void file_pump(reader *rd)
{
    file_sink *f = rd->file;
    if (f->busy || f->answered)
        return;
    if (!f->path || (f->opened && f->fd < 0)) {
        file_answer(rd);
        return;
    }
    if (f->opened && !rd->head && !rd->ended)
        return; /* waits for more */
    f->batch = rd->head;
    rd->head = NULL;
    rd->tail = &rd->head;
    f->last = rd->ended;
    f->busy = true;
    lk_ref(&rd->base);
    lkio_queue_work(rd->room->w, &f->work, file_work, file_done);
}

static void file_done(lkio_work *w)
{
    reader *rd = lk_container_of(w, file_sink, work)->rd;
    rd->file->busy = false;
    file_pump(rd);
    lk_unref(&rd->base); /* the item's */
}

/* Hands over what waited for the client to read, and the end if it came
 * (ReadAll: everything at the end; WriteToFile: to the file). */
static void reader_flush(reader *rd)
{
    if (rd->mode == READ_TO_FILE) {
        file_pump(rd);
        return;
    }
    if (rd->mode == READ_ALL) {
        if (rd->ended) {
            emit_all(rd);
            reader_unlist(rd);
        }
        return;
    }
    while (rd->head) {
        chunk *c = rd->head;
        rd->head = c->next;
        emit_chunk(rd, c->data, c->len);
        free(c);
    }
    rd->tail = &rd->head;
    if (rd->ended) {
        emit_eos(rd);
        reader_unlist(rd);
    }
}

static void on_stream_opened(void *ctx, const Livekit__DataStream__Header *h, const char *sender)
{
    lk_room *r = ctx;
    if (r->rpc && lkrpc_stream_opened(r->rpc, h, sender))
        return; /* RPC's own, never the client's */
    bool text = is_text(h);
    reader *rd = calloc(1, sizeof *rd);
    if (!rd || !(rd->stream_id = strdup(h->stream_id)))
        abort();
    info in;
    info_make(&in, h);
    if (!(rd->name = strdup(in.bytes.name)))
        abort();
    lk_object_init(&rd->base, text ? &text_reader_kind : &byte_reader_kind);
    rd->room = lk_container_of(lk_ref(&r->base), lk_room, base);
    rd->text = text;
    rd->tail = &rd->head;
    rd->listed = true;
    if (r->n_readers == r->cap_readers) {
        r->cap_readers = r->cap_readers ? 2 * r->cap_readers : 8;
        r->readers = realloc(r->readers, r->cap_readers * sizeof *r->readers);
        if (!r->readers)
            abort();
    }
    r->readers[r->n_readers++] = lk_container_of(lk_ref(&rd->base), reader, base);
    Livekit__Proto__FfiOwnedHandle hd = LIVEKIT__PROTO__FFI_OWNED_HANDLE__INIT;
    hd.id = lk_handle_insert(&rd->base);
    if (text) {
        Livekit__Proto__OwnedTextStreamReader o = LIVEKIT__PROTO__OWNED_TEXT_STREAM_READER__INIT;
        o.handle = &hd;
        o.info = &in.text;
        Livekit__Proto__TextStreamOpened m = LIVEKIT__PROTO__TEXT_STREAM_OPENED__INIT;
        m.reader = &o;
        m.participant_identity = (char *)sender;
        lk_room_event(r, LIVEKIT__PROTO__ROOM_EVENT__MESSAGE_TEXT_STREAM_OPENED, &m);
    } else {
        Livekit__Proto__OwnedByteStreamReader o = LIVEKIT__PROTO__OWNED_BYTE_STREAM_READER__INIT;
        o.handle = &hd;
        o.info = &in.bytes;
        Livekit__Proto__ByteStreamOpened m = LIVEKIT__PROTO__BYTE_STREAM_OPENED__INIT;
        m.reader = &o;
        m.participant_identity = (char *)sender;
        lk_room_event(r, LIVEKIT__PROTO__ROOM_EVENT__MESSAGE_BYTE_STREAM_OPENED, &m);
    }
    info_done(&in);
}

static void on_stream_chunk(void *ctx, const char *stream_id, const uint8_t *data, size_t len)
{
    lk_room *r = ctx;
    if (r->rpc && lkrpc_stream_chunk(r->rpc, stream_id, data, len))
        return;
    reader *rd = find_reader(ctx, stream_id);
    if (!rd)
        return; /* its handle was dropped: nobody reads */
    if (rd->reading && rd->mode == READ_CHUNKS) {
        emit_chunk(rd, data, len);
        return;
    }
    chunk *c = malloc(sizeof *c + len);
    if (!c)
        abort();
    c->next = NULL;
    c->len = len;
    if (len)
        memcpy(c->data, data, len);
    *rd->tail = c;
    rd->tail = &c->next;
    if (rd->reading && rd->mode == READ_TO_FILE)
        file_pump(rd);
}

static void on_stream_ended(void *ctx, const char *stream_id,
                            const Livekit__DataStream__Trailer *t, const char *error)
{
    lk_room *r = ctx;
    if (r->rpc && lkrpc_stream_ended(r->rpc, stream_id, error))
        return;
    reader *rd = find_reader(ctx, stream_id);
    if (!rd)
        return;
    rd->ended = true;
    if (error && !(rd->error = strdup(error)))
        abort();
    if (t) /* its attributes go out with the end (none if it cannot be copied) */
        rd->trailer = lkroom_pb_copy(&t->base);
    if (rd->reading)
        reader_flush(rd);
}

typedef struct read_job {
    lkio_task task;
    reader *rd; /* the handle table's reference, taken */
    enum read_mode mode;
    uint64_t async_id;
    file_sink *file; /* WriteToFile's, handed to the reader */
} read_job;

static void read_run(lkio_task *t)
{
    read_job *j = lk_container_of(t, read_job, task);
    reader *rd = j->rd;
    if (!rd->reading) {
        rd->reading = true;
        rd->mode = j->mode;
        rd->async_id = j->async_id;
        rd->file = j->file;
        if (rd->listed || rd->ended)
            reader_flush(rd);
    }
    lk_unref(&rd->base);
    free(j);
}

/* Takes the reader's handle (the request consumes it) and starts reading
 * on the room's worker. NULL if the handle is not a reader of that kind. */
static read_job *start_reading(uint64_t handle, const lk_kind *kind, enum read_mode mode,
                               uint64_t async_id)
{
    lk_object *o = lk_handle_take(handle, kind);
    if (!o)
        return NULL;
    read_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->rd = lk_container_of(o, reader, base);
    j->mode = mode;
    j->async_id = async_id;
    return j;
}

static void post_read(read_job *j)
{
    lkio_post(j->rd->room->w, &j->task, read_run);
}

/* ReadIncremental (async_id 0) and ReadAll, which need nothing more. */
static int read_as(uint64_t handle, const lk_kind *kind, enum read_mode mode, uint64_t async_id)
{
    read_job *j = start_reading(handle, kind, mode, async_id);
    if (!j)
        return -1;
    post_read(j);
    return 0;
}

int lk_on_text_read_all(lk_call *c)
{
    const Livekit__Proto__TextStreamReaderReadAllRequest *req = c->req->text_read_all;
    uint64_t async_id = lk_async_id(req->has_request_async_id, req->request_async_id);
    if (read_as(req->reader_handle, &text_reader_kind, READ_ALL, async_id) < 0)
        return -1;
    Livekit__Proto__TextStreamReaderReadAllResponse *res =
        lk_call_new(c, &livekit__proto__text_stream_reader_read_all_response__descriptor);
    res->async_id = async_id;
    c->res->message_case = RES(TEXT_READ_ALL);
    c->res->text_read_all = res;
    return 0;
}

int lk_on_byte_read_all(lk_call *c)
{
    const Livekit__Proto__ByteStreamReaderReadAllRequest *req = c->req->byte_read_all;
    uint64_t async_id = lk_async_id(req->has_request_async_id, req->request_async_id);
    if (read_as(req->reader_handle, &byte_reader_kind, READ_ALL, async_id) < 0)
        return -1;
    Livekit__Proto__ByteStreamReaderReadAllResponse *res =
        lk_call_new(c, &livekit__proto__byte_stream_reader_read_all_response__descriptor);
    res->async_id = async_id;
    c->res->message_case = RES(BYTE_READ_ALL);
    c->res->byte_read_all = res;
    return 0;
}

/* The path is made here, on the client's thread: the directory asked for,
 * or the temporary directory as upstream's (TMPDIR, else /tmp). */
int lk_on_byte_write_to_file(lk_call *c)
{
    const Livekit__Proto__ByteStreamReaderWriteToFileRequest *req = c->req->byte_write_to_file;
    uint64_t async_id = lk_async_id(req->has_request_async_id, req->request_async_id);
    read_job *j = start_reading(req->reader_handle, &byte_reader_kind, READ_TO_FILE, async_id);
    if (!j)
        return -1;
    file_sink *f = calloc(1, sizeof *f);
    if (!f)
        abort();
    f->rd = j->rd;
    f->fd = -1;
    const char *name = req->name_override ? req->name_override : j->rd->name;
    const char *dir = req->directory ? req->directory : getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    size_t n = strlen(dir);
    if (plain_file_name(name) &&
        asprintf(&f->path, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name) < 0)
        abort();
    j->file = f;
    post_read(j);
    Livekit__Proto__ByteStreamReaderWriteToFileResponse *res =
        lk_call_new(c, &livekit__proto__byte_stream_reader_write_to_file_response__descriptor);
    res->async_id = async_id;
    c->res->message_case = RES(BYTE_WRITE_TO_FILE);
    c->res->byte_write_to_file = res;
    return 0;
}

int lk_on_text_read_incremental(lk_call *c)
{
    uint64_t handle = c->req->text_read_incremental->reader_handle;
    if (read_as(handle, &text_reader_kind, READ_CHUNKS, 0) < 0)
        return -1;
    c->res->message_case = RES(TEXT_READ_INCREMENTAL);
    c->res->text_read_incremental =
        lk_call_new(c, &livekit__proto__text_stream_reader_read_incremental_response__descriptor);
    return 0;
}

int lk_on_byte_read_incremental(lk_call *c)
{
    uint64_t handle = c->req->byte_read_incremental->reader_handle;
    if (read_as(handle, &byte_reader_kind, READ_CHUNKS, 0) < 0)
        return -1;
    c->res->message_case = RES(BYTE_READ_INCREMENTAL);
    c->res->byte_read_incremental =
        lk_call_new(c, &livekit__proto__byte_stream_reader_read_incremental_response__descriptor);
    return 0;
}

/* --- writers ------------------------------------------------------------------------------ */

typedef struct writer {
    lk_object base;
    lk_room *room; /* a reference */
    bool text;
    char *stream_id;
    char **destinations;
    size_t n_destinations;
    bool closed; /* on the worker: its trailer is queued */
} writer;

static void writer_free(lk_object *o)
{
    writer *w = lk_container_of(o, writer, base);
    for (size_t i = 0; i < w->n_destinations; i++)
        free(w->destinations[i]);
    free(w->destinations);
    free(w->stream_id);
    lk_unref(&w->room->base);
    free(w);
}

static const lk_kind text_writer_kind = {"text stream writer", NULL, writer_free};
static const lk_kind byte_writer_kind = {"byte stream writer", NULL, writer_free};

/* --- jobs: one per sending request, its callback when done ------------------------------- */

typedef struct send_job {
    lkio_task task;
    lk_room *room; /* a reference */
    int kind;      /* the FfiEvent case of its callback */
    uint64_t async_id;
    writer *w;     /* Write and Close: a reference; Open: the new writer */
    Livekit__DataStream__Header *header; /* Send* and Open: for the info */
    lkstream_job job;
    uint8_t *data;
    Livekit__DataStream__Trailer *trailer;
    char **destinations;
    size_t n_destinations;
} send_job;

static void send_job_free(send_job *j)
{
    for (size_t i = 0; i < j->n_destinations; i++)
        free(j->destinations[i]);
    free(j->destinations);
    if (j->header)
        protobuf_c_message_free_unpacked(&(j->header)->base, NULL);
    if (j->trailer)
        protobuf_c_message_free_unpacked(&(j->trailer)->base, NULL);
    free(j->data);
    if (j->w)
        lk_unref(&j->w->base);
    lk_unref(&j->room->base);
    free(j);
}


/* Every stream callback: async_id, then an error or a result. */
static void emit_done(send_job *j, const char *error)
{
    Livekit__Proto__StreamError err = LIVEKIT__PROTO__STREAM_ERROR__INIT;
    err.description = (char *)error;
    Livekit__Proto__StreamError *e = error ? &err : NULL;
    Livekit__Proto__FfiEvent ev = LIVEKIT__PROTO__FFI_EVENT__INIT;
    ev.message_case = (Livekit__Proto__FfiEvent__MessageCase)j->kind;
    info in;
    if (j->header)
        info_make(&in, j->header);
    Livekit__Proto__FfiOwnedHandle h = LIVEKIT__PROTO__FFI_OWNED_HANDLE__INIT;
    if (j->kind == EV(SEND_TEXT)) {
        Livekit__Proto__StreamSendTextCallback cb = LIVEKIT__PROTO__STREAM_SEND_TEXT_CALLBACK__INIT;
        cb.async_id = j->async_id;
        cb.result_case = e ? LIVEKIT__PROTO__STREAM_SEND_TEXT_CALLBACK__RESULT_ERROR
                           : LIVEKIT__PROTO__STREAM_SEND_TEXT_CALLBACK__RESULT_INFO;
        cb.error = e;
        cb.info = e ? NULL : &in.text;
        ev.send_text = &cb;
        lk_emit(&ev);
    } else if (j->kind == EV(SEND_BYTES) || j->kind == EV(SEND_FILE)) {
        Livekit__Proto__StreamSendBytesCallback b = LIVEKIT__PROTO__STREAM_SEND_BYTES_CALLBACK__INIT;
        Livekit__Proto__StreamSendFileCallback f = LIVEKIT__PROTO__STREAM_SEND_FILE_CALLBACK__INIT;
        b.async_id = f.async_id = j->async_id;
        b.result_case = e ? LIVEKIT__PROTO__STREAM_SEND_BYTES_CALLBACK__RESULT_ERROR
                          : LIVEKIT__PROTO__STREAM_SEND_BYTES_CALLBACK__RESULT_INFO;
        f.result_case = e ? LIVEKIT__PROTO__STREAM_SEND_FILE_CALLBACK__RESULT_ERROR
                          : LIVEKIT__PROTO__STREAM_SEND_FILE_CALLBACK__RESULT_INFO;
        b.error = f.error = e;
        b.info = f.info = e ? NULL : &in.bytes;
        if (j->kind == EV(SEND_BYTES))
            ev.send_bytes = &b;
        else
            ev.send_file = &f;
        lk_emit(&ev);
    } else if (j->kind == EV(TEXT_STREAM_OPEN)) {
        Livekit__Proto__OwnedTextStreamWriter o = LIVEKIT__PROTO__OWNED_TEXT_STREAM_WRITER__INIT;
        Livekit__Proto__TextStreamOpenCallback cb = LIVEKIT__PROTO__TEXT_STREAM_OPEN_CALLBACK__INIT;
        cb.async_id = j->async_id;
        cb.result_case = e ? LIVEKIT__PROTO__TEXT_STREAM_OPEN_CALLBACK__RESULT_ERROR
                           : LIVEKIT__PROTO__TEXT_STREAM_OPEN_CALLBACK__RESULT_WRITER;
        cb.error = e;
        if (!e) {
            h.id = lk_handle_insert(lk_ref(&j->w->base));
            o.handle = &h;
            o.info = &in.text;
            cb.writer = &o;
        }
        ev.text_stream_open = &cb;
        lk_emit(&ev);
    } else if (j->kind == EV(BYTE_STREAM_OPEN)) {
        Livekit__Proto__OwnedByteStreamWriter o = LIVEKIT__PROTO__OWNED_BYTE_STREAM_WRITER__INIT;
        Livekit__Proto__ByteStreamOpenCallback cb = LIVEKIT__PROTO__BYTE_STREAM_OPEN_CALLBACK__INIT;
        cb.async_id = j->async_id;
        cb.result_case = e ? LIVEKIT__PROTO__BYTE_STREAM_OPEN_CALLBACK__RESULT_ERROR
                           : LIVEKIT__PROTO__BYTE_STREAM_OPEN_CALLBACK__RESULT_WRITER;
        cb.error = e;
        if (!e) {
            h.id = lk_handle_insert(lk_ref(&j->w->base));
            o.handle = &h;
            o.info = &in.bytes;
            cb.writer = &o;
        }
        ev.byte_stream_open = &cb;
        lk_emit(&ev);
    } else { /* the writers' Write and Close callbacks share one shape */
        Livekit__Proto__TextStreamWriterWriteCallback tw =
            LIVEKIT__PROTO__TEXT_STREAM_WRITER_WRITE_CALLBACK__INIT;
        Livekit__Proto__TextStreamWriterCloseCallback tc =
            LIVEKIT__PROTO__TEXT_STREAM_WRITER_CLOSE_CALLBACK__INIT;
        Livekit__Proto__ByteStreamWriterWriteCallback bw =
            LIVEKIT__PROTO__BYTE_STREAM_WRITER_WRITE_CALLBACK__INIT;
        Livekit__Proto__ByteStreamWriterCloseCallback bc =
            LIVEKIT__PROTO__BYTE_STREAM_WRITER_CLOSE_CALLBACK__INIT;
        tw.async_id = tc.async_id = bw.async_id = bc.async_id = j->async_id;
        tw.error = tc.error = bw.error = bc.error = e;
        if (j->kind == EV(TEXT_STREAM_WRITER_WRITE))
            ev.text_stream_writer_write = &tw;
        else if (j->kind == EV(TEXT_STREAM_WRITER_CLOSE))
            ev.text_stream_writer_close = &tc;
        else if (j->kind == EV(BYTE_STREAM_WRITER_WRITE))
            ev.byte_stream_writer_write = &bw;
        else
            ev.byte_stream_writer_close = &bc;
        lk_emit(&ev);
    }
    if (j->header)
        info_done(&in);
}

void lk_room_stream_done(lk_room *r, uint64_t job, const char *error)
{
    (void)r;
    send_job *j = (send_job *)(uintptr_t)job;
    emit_done(j, error);
    send_job_free(j);
}

static void submit_run(lkio_task *t)
{
    send_job *j = lk_container_of(t, send_job, task);
    lk_room *r = j->room;
    if (!r->streams || r->over) {
        emit_done(j, "the room is not connected");
        send_job_free(j);
        return;
    }
    if (j->w) {
        if (j->w->closed && j->kind != EV(TEXT_STREAM_OPEN) && j->kind != EV(BYTE_STREAM_OPEN)) {
            emit_done(j, "stream has already been closed");
            send_job_free(j);
            return;
        }
        if (j->trailer)
            j->w->closed = true;
    }
    lkstreams_submit(r->streams, (uint64_t)(uintptr_t)j, &j->job);
}

static send_job *new_send_job(lk_room *r, int kind, uint64_t async_id)
{
    send_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->room = r; /* takes the caller's reference */
    j->kind = kind;
    j->async_id = async_id;
    return j;
}

static void post(send_job *j)
{
    lkio_post(j->room->w, &j->task, submit_run);
}

static char **copy_strs(char *const *from, size_t n)
{
    char **to = calloc(n + 1, sizeof *to);
    if (!to)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!(to[i] = strdup(from[i] ? from[i] : "")))
            abort();
    return to;
}

static void job_destinations(send_job *j, char *const *dests, size_t n)
{
    j->destinations = copy_strs(dests, n);
    j->n_destinations = n;
    j->job.destinations = j->destinations;
    j->job.n_destinations = n;
}

/* A job for a whole stream or its opening: its header, destinations. */
static void job_header(send_job *j, const header *x, char *const *dests, size_t n)
{
    j->header = lkroom_pb_copy_own(&x->h.base);
    j->job.stream_id = j->header->stream_id;
    j->job.header = j->header;
    job_destinations(j, dests, n);
}

static void job_trailer(send_job *j, const char *stream_id, const char *reason, void *const *attrs,
                        size_t n)
{
    Livekit__DataStream__Trailer t = LIVEKIT__DATA_STREAM__TRAILER__INIT;
    t.stream_id = (char *)stream_id;
    t.reason = (char *)(reason ? reason : "");
    t.n_attributes = n;
    t.attributes = make_kvs(&livekit__data_stream__trailer__attributes_entry__descriptor, attrs, n);
    j->trailer = lkroom_pb_copy_own(&t.base);
    free_kvs(t.attributes);
    j->job.trailer = j->trailer;
}

/* A copy of the request's bytes, for a job to own. */
static uint8_t *dup_bytes(const void *data, size_t len)
{
    uint8_t *d = malloc(len ? len : 1);
    if (!d)
        abort();
    if (len)
        memcpy(d, data, len);
    return d;
}

/* The job's content, taken over: room/stream.c sends from it in place. */
static void job_data(send_job *j, uint8_t *data, size_t len, bool text)
{
    j->data = data;
    j->job.data = j->data;
    j->job.len = len;
    j->job.text = text;
}

static int async_response(lk_call *c, int res_case, const ProtobufCMessageDescriptor *d,
                          uint64_t async_id)
{
    struct {
        ProtobufCMessage base;
        uint64_t async_id;
    } *res = lk_call_new(c, d);
    res->async_id = async_id;
    c->res->message_case = (Livekit__Proto__FfiResponse__MessageCase)res_case;
    c->res->send_text = (void *)res; /* the oneof's members share one slot */
    return 0;
}

int lk_on_send_text(lk_call *c)
{
    const Livekit__Proto__StreamSendTextRequest *req = c->req->send_text;
    if (!req->options || !req->text)
        return lk_fail("StreamSendTextRequest needs options and text");
    lk_room *r = lk_room_of_local(req->local_participant_handle);
    if (!r)
        return -1;
    uint64_t id = lk_async_id(req->has_request_async_id, req->request_async_id);
    send_job *j = new_send_job(r, EV(SEND_TEXT), id);
    header x;
    size_t len = strlen(req->text);
    header_text(&x, req->options, len);
    job_header(j, &x, req->options->destination_identities, req->options->n_destination_identities);
    job_data(j, dup_bytes(req->text, len), len, true);
    job_trailer(j, j->header->stream_id, NULL, NULL, 0);
    header_done(&x);
    async_response(c, RES(SEND_TEXT), &livekit__proto__stream_send_text_response__descriptor, id);
    post(j);
    return 0;
}

/* Send bytes and send file: a whole byte stream of data (taken over). */
static int send_bytes(lk_call *c, uint64_t handle, const Livekit__Proto__StreamByteOptions *o,
                      uint8_t *data, size_t len, const char *name, int kind, int res_case,
                      const ProtobufCMessageDescriptor *res_desc, uint64_t async_id)
{
    lk_room *r = lk_room_of_local(handle);
    if (!r) {
        free(data);
        return -1;
    }
    send_job *j = new_send_job(r, kind, async_id);
    header x;
    header_bytes(&x, o, len, name);
    job_header(j, &x, o->destination_identities, o->n_destination_identities);
    job_data(j, data, len, false);
    job_trailer(j, j->header->stream_id, NULL, NULL, 0);
    header_done(&x);
    async_response(c, res_case, res_desc, async_id);
    post(j);
    return 0;
}

int lk_on_send_bytes(lk_call *c)
{
    const Livekit__Proto__StreamSendBytesRequest *req = c->req->send_bytes;
    if (!req->options || !req->has_bytes)
        return lk_fail("StreamSendBytesRequest needs options and bytes");
    return send_bytes(c, req->local_participant_handle, req->options,
                      dup_bytes(req->bytes.data, req->bytes.len), req->bytes.len, "unknown",
                      EV(SEND_BYTES), RES(SEND_BYTES),
                      &livekit__proto__stream_send_bytes_response__descriptor,
                      lk_async_id(req->has_request_async_id, req->request_async_id));
}

/* The whole file, read here on the client's thread (never on a worker). */
static uint8_t *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        lk_fail("cannot read %s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    uint8_t *buf = malloc((size_t)st.st_size ? (size_t)st.st_size : 1);
    if (!buf)
        abort();
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0) {
            lk_fail("cannot read %s: %s", path, n < 0 ? strerror(errno) : "it shrank");
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return buf;
}

int lk_on_send_file(lk_call *c)
{
    const Livekit__Proto__StreamSendFileRequest *req = c->req->send_file;
    if (!req->options || !req->file_path)
        return lk_fail("StreamSendFileRequest needs options and file_path");
    size_t len = 0;
    uint8_t *data = read_file(req->file_path, &len);
    if (!data)
        return -1;
    const char *base = strrchr(req->file_path, '/');
    return send_bytes(c, req->local_participant_handle, req->options, data, len,
                      base ? base + 1 : req->file_path, EV(SEND_FILE), RES(SEND_FILE),
                      &livekit__proto__stream_send_file_response__descriptor,
                      lk_async_id(req->has_request_async_id, req->request_async_id));
}

/* Opening a writer: its header goes out; the callback carries the writer. */
static int open_writer(lk_call *c, uint64_t handle, const header *x, bool text,
                       char *const *dests, size_t n, int kind, int res_case,
                       const ProtobufCMessageDescriptor *res_desc, uint64_t async_id)
{
    lk_room *r = lk_room_of_local(handle);
    if (!r)
        return -1;
    send_job *j = new_send_job(r, kind, async_id);
    job_header(j, x, dests, n);
    writer *w = calloc(1, sizeof *w);
    if (!w || !(w->stream_id = strdup(j->header->stream_id)))
        abort();
    lk_object_init(&w->base, text ? &text_writer_kind : &byte_writer_kind);
    w->room = lk_container_of(lk_ref(&r->base), lk_room, base);
    w->text = text;
    w->destinations = copy_strs(dests, n);
    w->n_destinations = n;
    j->w = w; /* the job holds the writer's first reference */
    async_response(c, res_case, res_desc, async_id);
    post(j);
    return 0;
}

int lk_on_text_stream_open(lk_call *c)
{
    const Livekit__Proto__TextStreamOpenRequest *req = c->req->text_stream_open;
    if (!req->options)
        return lk_fail("TextStreamOpenRequest needs options");
    header x;
    header_text(&x, req->options, 0);
    int rc = open_writer(c, req->local_participant_handle, &x, true,
                         req->options->destination_identities,
                         req->options->n_destination_identities, EV(TEXT_STREAM_OPEN),
                         RES(TEXT_STREAM_OPEN), &livekit__proto__text_stream_open_response__descriptor,
                         lk_async_id(req->has_request_async_id, req->request_async_id));
    header_done(&x);
    return rc;
}

int lk_on_byte_stream_open(lk_call *c)
{
    const Livekit__Proto__ByteStreamOpenRequest *req = c->req->byte_stream_open;
    if (!req->options)
        return lk_fail("ByteStreamOpenRequest needs options");
    header x;
    header_bytes(&x, req->options, req->options->has_total_length ? req->options->total_length : 0,
                 "unknown");
    int rc = open_writer(c, req->local_participant_handle, &x, false,
                         req->options->destination_identities,
                         req->options->n_destination_identities, EV(BYTE_STREAM_OPEN),
                         RES(BYTE_STREAM_OPEN), &livekit__proto__byte_stream_open_response__descriptor,
                         lk_async_id(req->has_request_async_id, req->request_async_id));
    header_done(&x);
    return rc;
}

/* Write (data) or close (trailer) on a writer. */
static int writer_job(lk_call *c, uint64_t handle, const lk_kind *kind, const uint8_t *data,
                      size_t len, bool closing, const char *reason, void *const *attrs,
                      size_t n_attrs, int ev_kind, int res_case,
                      const ProtobufCMessageDescriptor *res_desc, uint64_t async_id)
{
    lk_object *o = lk_handle_get(handle, kind);
    if (!o)
        return -1;
    writer *w = lk_container_of(o, writer, base);
    send_job *j = new_send_job(lk_container_of(lk_ref(&w->room->base), lk_room, base), ev_kind,
                               async_id);
    j->w = w; /* takes the reference lk_handle_get gave */
    j->job.stream_id = w->stream_id;
    job_destinations(j, w->destinations, w->n_destinations);
    if (closing)
        job_trailer(j, w->stream_id, reason, attrs, n_attrs);
    else
        job_data(j, dup_bytes(data, len), len, w->text);
    async_response(c, res_case, res_desc, async_id);
    post(j);
    return 0;
}

int lk_on_text_stream_write(lk_call *c)
{
    const Livekit__Proto__TextStreamWriterWriteRequest *req = c->req->text_stream_write;
    if (!req->text)
        return lk_fail("TextStreamWriterWriteRequest needs text");
    return writer_job(c, req->writer_handle, &text_writer_kind, (const uint8_t *)req->text,
                      strlen(req->text), false, NULL, NULL, 0, EV(TEXT_STREAM_WRITER_WRITE),
                      RES(TEXT_STREAM_WRITE),
                      &livekit__proto__text_stream_writer_write_response__descriptor,
                      lk_async_id(req->has_request_async_id, req->request_async_id));
}

int lk_on_byte_stream_write(lk_call *c)
{
    const Livekit__Proto__ByteStreamWriterWriteRequest *req = c->req->byte_stream_write;
    if (!req->has_bytes)
        return lk_fail("ByteStreamWriterWriteRequest needs bytes");
    return writer_job(c, req->writer_handle, &byte_writer_kind, req->bytes.data, req->bytes.len,
                      false, NULL, NULL, 0, EV(BYTE_STREAM_WRITER_WRITE), RES(BYTE_STREAM_WRITE),
                      &livekit__proto__byte_stream_writer_write_response__descriptor,
                      lk_async_id(req->has_request_async_id, req->request_async_id));
}

int lk_on_text_stream_close(lk_call *c)
{
    const Livekit__Proto__TextStreamWriterCloseRequest *req = c->req->text_stream_close;
    return writer_job(c, req->writer_handle, &text_writer_kind, NULL, 0, true, req->reason,
                      (void *const *)req->attributes, req->n_attributes,
                      EV(TEXT_STREAM_WRITER_CLOSE), RES(TEXT_STREAM_CLOSE),
                      &livekit__proto__text_stream_writer_close_response__descriptor,
                      lk_async_id(req->has_request_async_id, req->request_async_id));
}

int lk_on_byte_stream_close(lk_call *c)
{
    const Livekit__Proto__ByteStreamWriterCloseRequest *req = c->req->byte_stream_close;
    return writer_job(c, req->writer_handle, &byte_writer_kind, NULL, 0, true, req->reason,
                      (void *const *)req->attributes, req->n_attributes,
                      EV(BYTE_STREAM_WRITER_CLOSE), RES(BYTE_STREAM_CLOSE),
                      &livekit__proto__byte_stream_writer_close_response__descriptor,
                      lk_async_id(req->has_request_async_id, req->request_async_id));
}

/* --- the room's side ------------------------------------------------------------------------ */

static int streams_send(void *ctx, Livekit__DataPacket *p, const uint64_t *token, char *err,
                        size_t errlen)
{
    return lkroom_send_packet(ctx, p, true, token, err, errlen);
}

static void streams_done(void *ctx, uint64_t job, const char *error)
{
    lk_room *r = ctx;
    if (!(job & LKRPC_JOB_BIT))
        lk_room_stream_done(r, job, error);
    else if (r->rpc)
        lkrpc_stream_done(r->rpc, job, error);
}

void lk_room_streams_start(lk_room *r)
{
    lkstreams_transport t = {r->engine, streams_send};
    lkstreams_observer obs = {r, on_stream_opened, on_stream_chunk, on_stream_ended, streams_done};
    r->streams = lkstreams_new(&t, &obs);
}

void lk_room_streams_stop(lk_room *r)
{
    if (r->streams) {
        lkstreams_session_ended(r->streams); /* jobs answer, readers end */
        lkstreams_free(r->streams);
        r->streams = NULL;
    }
    while (r->n_readers)
        reader_unlist(r->readers[r->n_readers - 1]);
    free(r->readers);
    r->readers = NULL;
    r->cap_readers = 0;
}
