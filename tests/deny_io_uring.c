#include "deny_io_uring.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

void deny_io_uring(int err)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), SCMP_SYS(io_uring_setup), 0) ||
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), SCMP_SYS(io_uring_enter), 0) ||
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), SCMP_SYS(io_uring_register), 0) ||
        seccomp_load(ctx)) {
        fprintf(stderr, "deny_io_uring: cannot install the seccomp filter\n");
        exit(1);
    }
    seccomp_release(ctx);
    /* A filter that silently failed would let every test pass on io_uring. */
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long fd = syscall(__NR_io_uring_setup, 1, &p);
    if (fd >= 0 || errno != err) {
        fprintf(stderr, "deny_io_uring: io_uring_setup was not denied with %s\n", strerror(err));
        exit(1);
    }
}
