/* log.c - see log.h */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int log_level = LOG_INFO;

void log_set_level(int level)
{
    log_level = level;
}

int log_get_level(void)
{
    return log_level;
}

int log_level_parse(const char *s)
{
    if (!strcmp(s, "err") || !strcmp(s, "error"))
        return LOG_ERR;
    if (!strcmp(s, "warning") || !strcmp(s, "warn"))
        return LOG_WARNING;
    if (!strcmp(s, "info"))
        return LOG_INFO;
    if (!strcmp(s, "debug"))
        return LOG_DEBUG;
    return -EINVAL;
}

void log_msg(int prio, const char *fmt, ...)
{
    char line[1024];
    int saved = errno; /* so callers can use %m after other work */
    va_list ap;
    int n;

    if (prio > log_level)
        return;
    n = snprintf(line, sizeof(line), "<%d>", prio);
    va_start(ap, fmt);
    errno = saved;
    vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    /* one write per line so lines from a burst never interleave mid-line */
    n = (int)strlen(line);
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
    fflush(stderr);
    errno = saved;
}
