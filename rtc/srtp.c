/*
 * srtp.c: SRTP/SRTCP sessions over libsrtp2 (see srtp.h).
 */
#include "srtp.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "wire.h"

enum {
    RTP_HEADER = 12,
    RTCP_HEADER = 8, /* up to and including the sender's SSRC */
    SRTCP_INDEX = 4, /* E flag and 31-bit index, before the tag */
    CM_SALT = 14,    /* SRTP_AES128_CM_HMAC_SHA1_80 */
    GCM_SALT = 12,   /* SRTP_AEAD_AES_128_GCM */
};

struct lksrtp {
    srtp_t out, in;
    size_t tag_len; /* the same for RTP and RTCP in both profiles we take */
};

/* --- libsrtp, opened once per process --------------------------------------- */

/* libsrtp2 (and, in Debian's build, NSS under it) is opened on first use,
 * not linked: loading it costs a process about 0.7 ms and 0.6 MiB, which a
 * client that never sends media should not pay. srtp_init then builds
 * libsrtp's crypto kernel (cipher and auth tables, self-tested once). We
 * install no log or event handler; neither library starts a thread or keeps
 * a descriptor (test_srtp checks the threads). So a fork child inherits
 * plain memory that no thread was changing (the fork gate waits out library
 * calls): it may free inherited sessions or create new ones (test_srtp
 * forks to show both). Never closed: srtp_shutdown would pull the tables
 * from under live sessions. */
static struct {
    srtp_err_status_t (*init)(void);
    srtp_err_status_t (*create)(srtp_t *, const srtp_policy_t *);
    srtp_err_status_t (*dealloc)(srtp_t);
    srtp_err_status_t (*protect)(srtp_t, void *, int *);
    srtp_err_status_t (*unprotect)(srtp_t, void *, int *);
    srtp_err_status_t (*protect_rtcp)(srtp_t, void *, int *);
    srtp_err_status_t (*unprotect_rtcp)(srtp_t, void *, int *);
    void (*policy_cm_80)(srtp_crypto_policy_t *);
    void (*policy_gcm_128)(srtp_crypto_policy_t *);
} lib;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded; /* every symbol found and srtp_init done */
static char load_error[200];

static void load(void)
{
    void *so = dlopen("libsrtp2.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        snprintf(load_error, sizeof load_error, "cannot open libsrtp2: %s", dlerror());
        return;
    }
    static const struct {
        const char *name;
        void **slot;
    } syms[] = {
        {"srtp_init", (void **)&lib.init},
        {"srtp_create", (void **)&lib.create},
        {"srtp_dealloc", (void **)&lib.dealloc},
        {"srtp_protect", (void **)&lib.protect},
        {"srtp_unprotect", (void **)&lib.unprotect},
        {"srtp_protect_rtcp", (void **)&lib.protect_rtcp},
        {"srtp_unprotect_rtcp", (void **)&lib.unprotect_rtcp},
        /* AES_CM_128_HMAC_SHA1_80 is libsrtp's default (the header's name
         * for it is a macro) */
        {"srtp_crypto_policy_set_rtp_default", (void **)&lib.policy_cm_80},
        {"srtp_crypto_policy_set_aes_gcm_128_16_auth", (void **)&lib.policy_gcm_128},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        if (!(*syms[i].slot = dlsym(so, syms[i].name))) {
            snprintf(load_error, sizeof load_error, "libsrtp2 lacks %s", syms[i].name);
            return;
        }
    }
    srtp_err_status_t st = lib.init();
    if (st != srtp_err_status_ok) {
        snprintf(load_error, sizeof load_error, "libsrtp initialisation failed (status %d)",
                 (int)st);
        return;
    }
    loaded = true;
}

int lksrtp_load(char *err, size_t errlen)
{
    pthread_once(&load_once, load);
    if (loaded)
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "%s", load_error);
    return -1;
}

/* --- sessions ------------------------------------------------------------------ */

/* RFC 5764 4.1.2 and RFC 7714 14.2: the same transform for RTP and RTCP. */
static void set_policies(srtp_policy_t *p, unsigned profile)
{
    if (profile == 1) {
        lib.policy_cm_80(&p->rtp);
        lib.policy_cm_80(&p->rtcp);
    } else {
        lib.policy_gcm_128(&p->rtp);
        lib.policy_gcm_128(&p->rtcp);
    }
}

static size_t profile_salt_len(unsigned profile)
{
    return profile == 1 ? CM_SALT : profile == 7 ? GCM_SALT : 0;
}

/* One direction: libsrtp wants the master key followed by the master salt. */
static srtp_err_status_t create_context(srtp_t *ctx, const lkdtls_srtp *keys, bool outbound)
{
    uint8_t material[16 + CM_SALT];
    memcpy(material, outbound ? keys->local_key : keys->remote_key, 16);
    memcpy(material + 16, outbound ? keys->local_salt : keys->remote_salt, keys->salt_len);

    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    set_policies(&p, keys->profile);
    p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    p.key = material;
    p.window_size = LKSRTP_REPLAY_WINDOW;
    /* A NACKed packet goes out again with its sequence number. */
    p.allow_repeat_tx = outbound ? 1 : 0;
    srtp_err_status_t st = lib.create(ctx, &p);
    explicit_bzero(material, sizeof material);
    return st;
}

lksrtp *lksrtp_new(const lkdtls_srtp *keys, char *err, size_t errlen)
{
    char scratch[1];
    if (!err || !errlen) {
        err = scratch;
        errlen = sizeof scratch;
    }
    size_t salt = keys ? profile_salt_len(keys->profile) : 0;
    if (!salt) {
        snprintf(err, errlen, "unsupported SRTP protection profile %u", keys ? keys->profile : 0);
        return NULL;
    }
    if (keys->salt_len != salt) {
        snprintf(err, errlen, "SRTP profile %u wants a %zu-byte salt, not %zu", keys->profile, salt,
                 keys->salt_len);
        return NULL;
    }
    if (lksrtp_load(err, errlen) < 0)
        return NULL;
    lksrtp *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->tag_len = keys->profile == 1 ? 10 : 16;
    srtp_err_status_t st = create_context(&s->out, keys, true);
    if (st == srtp_err_status_ok) {
        st = create_context(&s->in, keys, false);
        if (st != srtp_err_status_ok)
            lib.dealloc(s->out);
    }
    if (st != srtp_err_status_ok) {
        snprintf(err, errlen, "libsrtp refused the session (status %d)", (int)st);
        free(s);
        return NULL;
    }
    return s;
}

void lksrtp_free(lksrtp *s)
{
    if (!s)
        return;
    lib.dealloc(s->out);
    lib.dealloc(s->in);
    free(s);
}

/* --- packets ------------------------------------------------------------------- */

/* The RTP header's length with its CSRCs and extension, or 0 if it does not
 * fit in len bytes. */
static size_t rtp_header_len(const uint8_t *p, size_t len)
{
    if (len < RTP_HEADER)
        return 0;
    size_t h = RTP_HEADER + 4 * (size_t)(p[0] & 0x0f);
    if (p[0] & 0x10) {
        if (h + 4 > len)
            return 0;
        h += 4 + 4 * (size_t)lkrtc_rd16(p + h + 2);
    }
    return h <= len ? h : 0;
}

static int map_status(srtp_err_status_t st)
{
    switch (st) {
    case srtp_err_status_ok:
        return 0;
    case srtp_err_status_bad_param:
        return LKSRTP_EMALFORMED;
    case srtp_err_status_auth_fail:
    /* An SRTCP E flag saying "not encrypted": our sessions always encrypt,
     * so the flag was altered, which is what a failed tag means. */
    case srtp_err_status_cant_check:
        return LKSRTP_EAUTH;
    case srtp_err_status_replay_fail:
        return LKSRTP_EREPLAY;
    case srtp_err_status_replay_old:
        return LKSRTP_EOLD;
    default:
        return LKSRTP_EFAIL;
    }
}

static bool room_for_trailer(size_t len, size_t cap)
{
    return len <= LKSRTP_MAX_PACKET && cap >= len + LKSRTP_MAX_TRAILER;
}

int lksrtp_protect_rtp(lksrtp *s, uint8_t *pkt, size_t len, size_t cap)
{
    if (!room_for_trailer(len, cap))
        return LKSRTP_EINVAL;
    if (!rtp_header_len(pkt, len))
        return LKSRTP_EMALFORMED;
    int n = (int)len;
    int rc = map_status(lib.protect(s->out, pkt, &n));
    return rc ? rc : n;
}

int lksrtp_protect_rtcp(lksrtp *s, uint8_t *pkt, size_t len, size_t cap)
{
    if (!room_for_trailer(len, cap))
        return LKSRTP_EINVAL;
    if (len < RTCP_HEADER)
        return LKSRTP_EMALFORMED;
    int n = (int)len;
    int rc = map_status(lib.protect_rtcp(s->out, pkt, &n));
    return rc ? rc : n;
}

int lksrtp_unprotect_rtp(lksrtp *s, uint8_t *pkt, size_t len)
{
    if (len > LKSRTP_MAX_PACKET)
        return LKSRTP_EINVAL;
    size_t h = rtp_header_len(pkt, len);
    if (!h || h + s->tag_len > len)
        return LKSRTP_EMALFORMED;
    int n = (int)len;
    int rc = map_status(lib.unprotect(s->in, pkt, &n));
    return rc ? rc : n;
}

int lksrtp_unprotect_rtcp(lksrtp *s, uint8_t *pkt, size_t len)
{
    if (len > LKSRTP_MAX_PACKET)
        return LKSRTP_EINVAL;
    if (len < RTCP_HEADER + SRTCP_INDEX + s->tag_len)
        return LKSRTP_EMALFORMED;
    int n = (int)len;
    int rc = map_status(lib.unprotect_rtcp(s->in, pkt, &n));
    return rc ? rc : n;
}

const char *lksrtp_strerror(int code)
{
    switch (code) {
    case LKSRTP_EINVAL:
        return "bad parameter (keys, profile or buffer room)";
    case LKSRTP_EMALFORMED:
        return "malformed packet: too short for its header and tag";
    case LKSRTP_EAUTH:
        return "authentication failed: packet altered or keyed otherwise";
    case LKSRTP_EREPLAY:
        return "replayed packet: already received";
    case LKSRTP_EOLD:
        return "packet older than the replay window";
    case LKSRTP_EFAIL:
        return "SRTP library failure";
    default:
        return code >= 0 ? "no error" : "unknown SRTP error";
    }
}
