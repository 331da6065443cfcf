/* A seccomp filter that fails the three io_uring syscalls with one errno,
 * as Docker's and containerd's default profiles (EPERM) or a kernel built
 * without io_uring (ENOSYS) do. For tests only: libseccomp never links
 * into the library. */
#ifndef LK_TESTS_DENY_IO_URING_H
#define LK_TESTS_DENY_IO_URING_H

/* Installs the filter on the calling thread, inherited by every thread it
 * creates and every process it forks or execs; exits with a message when
 * the filter cannot be installed or does not take effect. */
void deny_io_uring(int err);

#endif
