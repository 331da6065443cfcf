/* wait.h: a bounded wait on a semaphore for the C suites: a hang guard that
 * fails the test, never a timing check. Include after cmocka.h. */
#ifndef LK_TEST_WAIT_H
#define LK_TEST_WAIT_H

#include <errno.h>
#include <semaphore.h>
#include <time.h>

static inline void wait_sem_for(sem_t *s, int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    int r;
    while ((r = sem_timedwait(s, &ts)) < 0 && errno == EINTR) {
    }
    assert_int_equal(r, 0);
}

static inline void wait_sem(sem_t *s)
{
    wait_sem_for(s, 10);
}

#endif
