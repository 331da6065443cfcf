/* libFuzzer harness for the SDP parser: the answers (and trickled lines)
 * the signal server relays. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lksdp s;
    char err[200];
    if (lksdp_parse(&s, (const char *)data, size, err, sizeof err) == 0) {
        for (unsigned i = 0; i < s.n_media; i++) {
            (void)strlen(lksdp_ice_ufrag(&s, i));
            (void)strlen(lksdp_fingerprint(&s, i));
        }
        for (unsigned i = 0; i < s.n_candidates; i++)
            (void)strlen(s.candidates[i].line);
    }
    return 0;
}
