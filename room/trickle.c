/*
 * trickle.c: the "candidate" member of an RTCIceCandidateInit's JSON
 * (trickle.h). The whole object is checked, as JSON, so that a candidate
 * is never taken from a message cut short; other members' values are
 * skipped, nested ones to a bounded depth (the input is the network's).
 */
#include "trickle.h"

#include <stdbool.h>
#include <string.h>

enum { MAX_DEPTH = 32 };

/* Where a string is unescaped into: at most cap - 1 bytes; the rest is
 * counted as cut, not written. */
typedef struct sink {
    char *out;
    size_t cap, len;
    bool cut;
} sink;

static void put(sink *k, unsigned char c)
{
    if (k->len + 1 < k->cap)
        k->out[k->len++] = (char)c;
    else
        k->cut = true;
}

/* A code point as UTF-8. */
static void put_utf8(sink *k, unsigned long c)
{
    if (c < 0x80) {
        put(k, (unsigned char)c);
    } else if (c < 0x800) {
        put(k, (unsigned char)(0xC0 | c >> 6));
        put(k, (unsigned char)(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        put(k, (unsigned char)(0xE0 | c >> 12));
        put(k, (unsigned char)(0x80 | (c >> 6 & 0x3F)));
        put(k, (unsigned char)(0x80 | (c & 0x3F)));
    } else {
        put(k, (unsigned char)(0xF0 | c >> 18));
        put(k, (unsigned char)(0x80 | (c >> 12 & 0x3F)));
        put(k, (unsigned char)(0x80 | (c >> 6 & 0x3F)));
        put(k, (unsigned char)(0x80 | (c & 0x3F)));
    }
}

static void skip_space(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
        (*p)++;
}

/* Four hex digits after "\u"; -1 if they are not. */
static long hex4(const char **p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *(*p)++;
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* The code point of a \u escape (p just after the "u"), a surrogate pair
 * joined; -1 if malformed. U+0000 is refused: it cannot be in a C string. */
static long unicode_escape(const char **p)
{
    long c = hex4(p);
    if (c >= 0xDC00 && c <= 0xDFFF)
        return -1; /* a low surrogate first */
    if (c >= 0xD800 && c <= 0xDBFF) {
        if ((*p)[0] != '\\' || (*p)[1] != 'u')
            return -1;
        *p += 2;
        long low = hex4(p);
        if (low < 0xDC00 || low > 0xDFFF)
            return -1;
        c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
    }
    return c > 0 ? c : -1;
}

/* The character after a backslash (p just after it); -1 if malformed. */
static long escape(const char **p)
{
    char e = *(*p)++;
    switch (e) {
    case '"':
    case '\\':
    case '/':
        return e;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'u':
        return unicode_escape(p);
    default:
        return -1;
    }
}

/* A JSON string at *p into k; false if malformed. */
static bool read_string(const char **p, sink *k)
{
    if (**p != '"')
        return false;
    (*p)++;
    for (;;) {
        unsigned char c = (unsigned char)*(*p)++;
        if (c == '"')
            return true;
        if (c < 0x20) /* the end of the input, or a raw control character */
            return false;
        if (c != '\\') {
            put(k, c);
            continue;
        }
        long u = escape(p);
        if (u < 0)
            return false;
        put_utf8(k, (unsigned long)u);
    }
}

static bool skip_value(const char **p, int depth);

/* An object's or array's members up to the closing bracket (p just after
 * the opening one). */
static bool skip_members(const char **p, char close, int depth)
{
    skip_space(p);
    if (**p == close) {
        (*p)++;
        return true;
    }
    for (;;) {
        if (close == '}') {
            sink none = {0};
            if (!read_string(p, &none))
                return false;
            skip_space(p);
            if (*(*p)++ != ':')
                return false;
        }
        if (!skip_value(p, depth))
            return false;
        skip_space(p);
        char c = *(*p)++;
        if (c == close)
            return true;
        if (c != ',')
            return false;
        skip_space(p);
    }
}

/* Any JSON value; numbers and literals are taken loosely (their text is
 * never used). */
static bool skip_value(const char **p, int depth)
{
    skip_space(p);
    char c = **p;
    if (c == '"') {
        sink none = {0};
        return read_string(p, &none);
    }
    if (c == '{' || c == '[') {
        if (depth == MAX_DEPTH)
            return false;
        (*p)++;
        return skip_members(p, c == '{' ? '}' : ']', depth + 1);
    }
    const char *start = *p;
    while (**p && strchr("+-.0123456789Eabcdefghijklmnopqrstuvwxyz", **p))
        (*p)++;
    return *p > start;
}

/* The top-level object's members, the first "candidate" into cand: 1
 * found, 0 no such member, -1 malformed (or the candidate cut). */
static int find_candidate(const char *p, sink *cand)
{
    bool found = false;
    skip_space(&p);
    if (*p++ != '{')
        return -1;
    skip_space(&p);
    bool end = *p == '}';
    p += end;
    while (!end) {
        char key[16];
        sink k = {key, sizeof key, 0, false};
        if (!read_string(&p, &k))
            return -1;
        skip_space(&p);
        if (*p++ != ':')
            return -1;
        skip_space(&p);
        bool ours = !found && !k.cut && k.len == 9 && !memcmp(key, "candidate", 9);
        if (ours && (*p != '"' || !read_string(&p, cand) || cand->cut))
            return -1;
        if (!ours && !skip_value(&p, 1))
            return -1;
        found = found || ours;
        skip_space(&p);
        char c = *p++;
        if (c != ',' && c != '}')
            return -1;
        end = c == '}';
        skip_space(&p);
    }
    skip_space(&p);
    if (*p)
        return -1; /* something after the object */
    return found;
}

lkroom_trickle_result lkroom_trickle_candidate(const char *json, char *out, size_t cap)
{
    if (!cap)
        return LKROOM_TRICKLE_MALFORMED;
    sink cand = {out, cap, 0, false};
    int r = find_candidate(json, &cand);
    out[r > 0 ? cand.len : 0] = '\0';
    if (r <= 0)
        return LKROOM_TRICKLE_MALFORMED;
    return cand.len ? LKROOM_TRICKLE_FOUND : LKROOM_TRICKLE_END;
}
