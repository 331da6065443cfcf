/* without_io_uring EPERM|ENOSYS command [arg...]: runs the command in a
 * process where io_uring is denied (deny_io_uring.h), as in a container.
 * scripts/test.sh runs the whole ctest suite under it, once per errno. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "deny_io_uring.h"

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "EPERM") != 0 && strcmp(argv[1], "ENOSYS") != 0)) {
        fprintf(stderr, "usage: %s EPERM|ENOSYS command [arg...]\n", argv[0]);
        return 2;
    }
    deny_io_uring(strcmp(argv[1], "EPERM") == 0 ? EPERM : ENOSYS);
    execvp(argv[2], argv + 2);
    fprintf(stderr, "without_io_uring: %s: %s\n", argv[2], strerror(errno));
    return 127;
}
