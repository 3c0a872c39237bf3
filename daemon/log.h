/*
 * log.h - the daemon's logging: one line per message on stderr, prefixed with
 * the syslog priority in the form journald understands ("<3>", "<4>", "<6>",
 * "<7>"). Only the daemon's top level (main.c, supervise.c, ctl.c) and its
 * glue around libhalmk (region.c) log; library-style modules return -errno.
 */
#ifndef HMK_LOG_H
#define HMK_LOG_H

#include <syslog.h>

/* LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG; messages above it are dropped. */
void log_set_level(int level);
int log_get_level(void);
/* "err", "warning", "info", "debug" -> level, or -EINVAL. */
int log_level_parse(const char *s);

void log_msg(int prio, const char *format, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
