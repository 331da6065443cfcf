/* libFuzzer harness for the SDP parser: the answers (and trickled lines)
 * the signal server relays. Seeds in seeds/sdp/: an answer to a published
 * mic and one of our own offers.
 *
 * Invariants on what parses: every string field is terminated within its
 * array; the tables stay within their bounds; each codec is one of the
 * m= line's kept payload types, in m= line order; the getters find what
 * the tables hold (the first codec of each name, the first id of each
 * URI), and every key=value pair of a codec's fmtp is found by
 * lksdp_fmtp_has. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

#define TERMINATED(a) check(memchr((a), '\0', sizeof(a)) != NULL)

/* Every "key=value" pair of the fmtp, cut where the parser cuts, trimmed
 * where it trims, must be reported present. */
static void check_fmtp(const lksdp_codec *c)
{
    char copy[sizeof c->fmtp];
    memcpy(copy, c->fmtp, sizeof copy);
    char *save = NULL;
    for (char *pair = strtok_r(copy, ";", &save); pair; pair = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *k = pair, *v = eq + 1;
        while (*k == ' ')
            k++;
        while (*v == ' ')
            v++;
        for (char *e = k + strlen(k); e > k && e[-1] == ' ';)
            *--e = '\0';
        for (char *e = v + strlen(v); e > v && e[-1] == ' ';)
            *--e = '\0';
        check(lksdp_fmtp_has(c, k, v));
    }
}

static void check_media(const lksdp_media *m)
{
    TERMINATED(m->kind);
    TERMINATED(m->proto);
    TERMINATED(m->mid);
    TERMINATED(m->direction);
    TERMINATED(m->msid);
    char stream[64], track[64];
    if (lksdp_msid_split(m->msid, stream, sizeof stream, track, sizeof track))
        check(stream[0] && track[0] && !strchr(stream, ' ') && !strchr(track, ' ') &&
              strlen(stream) + 1 + strlen(track) == strlen(m->msid));
    else
        check(!stream[0] && !track[0]);
    check(m->n_fmts <= LKSDP_MAX_CODECS && m->n_codecs <= m->n_fmts &&
          m->n_extmaps <= LKSDP_MAX_EXTMAPS);
    unsigned f = 0;
    for (unsigned i = 0; i < m->n_codecs; i++) {
        const lksdp_codec *c = &m->codecs[i];
        TERMINATED(c->name);
        TERMINATED(c->fmtp);
        check(c->name[0] && c->clock && c->pt <= 127);
        while (f < m->n_fmts && m->fmts[f] != c->pt)
            f++;
        check(f++ < m->n_fmts); /* in m= line order */
        const lksdp_codec *found = lksdp_codec_find(m, c->name);
        check(found && found <= c && !strcasecmp(found->name, c->name));
        check_fmtp(c);
    }
    for (unsigned i = 0; i < m->n_extmaps; i++) {
        TERMINATED(m->extmaps[i].uri);
        check(m->extmaps[i].id != 0 && m->extmaps[i].uri[0]);
        uint8_t id = lksdp_extmap_id(m, m->extmaps[i].uri);
        unsigned j = 0;
        while (strcmp(m->extmaps[j].uri, m->extmaps[i].uri))
            j++;
        check(id == m->extmaps[j].id);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lksdp s;
    char err[200];
    if (lksdp_parse(&s, (const char *)data, size, err, sizeof err) == 0) {
        check(s.n_media <= LKSDP_MAX_MEDIA && s.n_candidates <= LKSDP_MAX_CANDIDATES);
        TERMINATED(s.bundle);
        for (unsigned i = 0; i < s.n_media; i++) {
            (void)strlen(lksdp_ice_ufrag(&s, i));
            (void)strlen(lksdp_fingerprint(&s, i));
            check_media(&s.media[i]);
        }
        for (unsigned i = 0; i < s.n_candidates; i++) {
            TERMINATED(s.candidates[i].line);
            check(s.candidates[i].media < s.n_media);
        }
    } else {
        TERMINATED(err);
    }
    return 0;
}
