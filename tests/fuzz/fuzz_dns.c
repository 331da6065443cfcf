/* libFuzzer harness for DNS answers: whatever comes back on the resolver's
 * socket, read as the answer to an A and an AAAA query. */
#include <stddef.h>
#include <stdint.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint16_t id = (uint16_t)(data[0] << 8 | data[1]);
    struct sockaddr_storage out;
    socklen_t len;
    lkdns_answer(data, size, id, "media.example.com", LKDNS_A, 443, &out, &len);
    lkdns_answer(data, size, id, "x", LKDNS_AAAA, 443, &out, &len);
    return 0;
}
