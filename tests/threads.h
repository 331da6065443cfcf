/* threads.h: how many threads this process has, for the suites that check
 * a dependency starts none (libsrtp, libavcodec). Include after cmocka.h. */
#ifndef LK_TEST_THREADS_H
#define LK_TEST_THREADS_H

#include <dirent.h>

static inline int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

#endif
