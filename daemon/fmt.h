/*
 * fmt.h - snprintf for the daemon, without libc's printf machinery.
 *
 * Why not snprintf: libc's vfprintf, its jump tables and digit tables lie
 * on ~10 pages of libc text and 3 of its rodata, far apart. The kernel maps
 * a file page with the 64 KiB around it already in the page cache (fault
 * around), so one call keeps about 200 KiB of libc resident in a
 * supervisor that lives for months (issue 19 holds its memory to
 * s6-supervise's). The daemon formats log lines, status and exit reasons
 * with a handful of integer and string conversions; this is those.
 *
 * Contract: as snprintf(3). Writes at most len bytes including the NUL
 * (none when len is 0; buf may then be NULL) and returns the length the
 * whole result has, so a result >= len means it was cut.
 *
 * Conversions: %% %c %s %d %i %u %x, flags '-' and '0', a field width and a
 * precision (digits or '*'), length modifiers hh h l ll z j t, and %m
 * (strerror(errno)). Floating point is not here: the few places that print
 * a double (pin values, pinmon.c) use snprintf. An unknown conversion
 * writes "%?" and ends the formatting there, so its argument is never
 * taken with the wrong type; the format attribute has already checked the
 * types of the rest at compile time.
 */
#ifndef HMK_FMT_H
#define HMK_FMT_H

#include <stdarg.h>
#include <stddef.h>

int fmt(char *buf, size_t len, const char *format, ...) __attribute__((format(printf, 3, 4)));
int fmt_v(char *buf, size_t len, const char *format, va_list ap) __attribute__((format(printf, 3, 0)));
/* A new malloc'ed string, NULL when out of memory. */
char *fmt_dup(const char *format, ...) __attribute__((format(printf, 1, 2)));

#endif
