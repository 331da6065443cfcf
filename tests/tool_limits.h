/*
 * tool_limits.h: tests that a checking tool cannot run skip themselves, and
 * this file says why. The same tests run in the plain build and under the
 * other tools.
 */
#ifndef LK_TEST_TOOL_LIMITS_H
#define LK_TEST_TOOL_LIMITS_H

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* Valgrind 3.19's address-space manager does not follow MADV_DONTFORK: in a
 * fork child it still believes the parent's rings are mapped, and asserts
 * when the child maps a new ring where they were. */
#define skip_if_valgrind_child_restarts() \
    do {                                  \
        if (RUNNING_ON_VALGRIND)          \
            skip();                       \
    } while (0)

/* LLVM 14's AddressSanitizer and ThreadSanitizer allocators are not
 * fork-safe: a child forked while another thread allocates can deadlock in
 * its first malloc (seen in both). LK_FORK_UNDER_LOAD_UNSAFE is set by
 * tests/CMakeLists.txt for sanitizer builds; the plain build runs these. */
#ifdef LK_FORK_UNDER_LOAD_UNSAFE
#define skip_if_fork_under_load_unsafe() skip()
#else
#define skip_if_fork_under_load_unsafe() skip_if_valgrind_child_restarts()
#endif

/* LLVM 14's ThreadSanitizer crashes in its own trace code when a child
 * forked from a non-main thread exits through that thread. */
#ifdef LK_FORK_CHILD_THREAD_EXIT_UNSAFE
#define skip_if_fork_child_thread_exit_unsafe() skip()
#else
#define skip_if_fork_child_thread_exit_unsafe() skip_if_valgrind_child_restarts()
#endif

#endif
