/* wait.h: a bounded wait on a semaphore for the C suites: a hang guard that
 * fails the test, never a timing check; and the wait for a fork child that
 * says how it ended. Include after cmocka.h. */
#ifndef LK_TEST_WAIT_H
#define LK_TEST_WAIT_H

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/wait.h>
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

/* The child exited 0; else which signal ended it (SIGALRM: its hang guard)
 * or at which check (its exit code) it failed. */
static inline void expect_child_ok(pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("child killed by signal %d%s", WTERMSIG(status),
                 WTERMSIG(status) == SIGALRM ? " (hang guard)" : "");
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("child failed at check %d", WEXITSTATUS(status));
}

#endif
