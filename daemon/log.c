/* log.c - see log.h */
#include "log.h"
#include "fmt.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

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

void log_msg(int prio, const char *format, ...)
{
    char line[1024];
    int saved = errno; /* so callers can use %m after other work */
    va_list ap;
    int n;

    if (prio > log_level)
        return;
    n = fmt(line, sizeof(line), "<%d>", prio);
    va_start(ap, format);
    errno = saved;
    fmt_v(line + n, sizeof(line) - (size_t)n - 1, format, ap);
    va_end(ap);
    /* one write(2) per line, not stdio: lines from a burst never interleave
     * mid-line, and no FILE code is kept mapped by a long-lived daemon */
    n = (int)strlen(line);
    line[n++] = '\n';
    for (const char *p = line; n > 0;) {
        ssize_t w = write(STDERR_FILENO, p, (size_t)n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* nowhere to say it: a log line is not worth blocking for */
        p += w;
        n -= (int)w;
    }
    errno = saved;
}
