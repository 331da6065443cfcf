/* libFuzzer harness for the STUN parser and integrity check: what arrives
 * on an ICE socket from anyone. */
#include <stddef.h>
#include <stdint.h>

#include "stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lkstun_msg m;
    if (lkstun_parse(&m, data, size) == 0) {
        (void)lkstun_integrity_ok(&m, data, size, "key", 3);
        if (m.username_len)
            (void)(m.username[0] + m.username[m.username_len - 1]);
    }
    return 0;
}
