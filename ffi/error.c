/* error.c: per-thread last-error text. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static __thread char error_text[512];
static __thread bool error_set;

int lk_fail(const char *fmt, ...)
{
    if (!error_set) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(error_text, sizeof error_text, fmt, ap);
        va_end(ap);
        error_set = true;
    }
    return -1;
}

const char *lk_error(void)
{
    return error_set ? error_text : NULL;
}

void lk_error_clear(void)
{
    error_set = false;
}
