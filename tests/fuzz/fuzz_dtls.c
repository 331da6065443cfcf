/* libFuzzer harness for the DTLS endpoint: arbitrary datagrams (split at
 * the input's 0xff 0xff markers) fed to a fresh server or client endpoint,
 * as anything on the ICE path could send them. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cert.h"
#include "dtls.h"

static void on_send(void *ctx, const uint8_t *data, size_t len)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lkrtc_cert cert;
    static bool have_cert;
    if (!have_cert)
        have_cert = lkrtc_cert_generate(&cert) == 0;
    if (!have_cert || size < 1)
        return 0;
    lkdtls_callbacks cb = {NULL, on_send, NULL, NULL, NULL};
    lkdtls *d = lkdtls_new(&cert, data[0] & 1, &cb);
    lkdtls_set_remote_fingerprint(d, "sha-256 00:11");
    lkdtls_start(d, 0);
    size_t start = 1;
    for (size_t i = 1; i + 1 <= size; i++) {
        if (i + 1 == size || (data[i] == 0xff && data[i + 1] == 0xff)) {
            size_t end = i + 1 == size ? size : i;
            lkdtls_on_datagram(d, 0, data + start, end - start);
            start = i + 2;
            i++;
        }
    }
    lkdtls_free(d);
    return 0;
}
