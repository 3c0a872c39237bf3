/*
 * notify.h - the service manager's notification protocol (sd_notify(3),
 * systemd.service(5) Type=notify and WatchdogSec=), spoken directly: one
 * datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET, an absolute path or, with a leading '@', a name in the
 * abstract namespace.
 *
 * Why not libsystemd's sd_notify(): the protocol is a stable, documented
 * interface that systemd invites daemons to implement themselves, and the
 * library brings libgcrypt, liblz4, libzstd, liblzma, libcap and
 * libgpg-error into the daemon's address space, about half of its private
 * memory (bench/run.sh row 5).
 *
 * Library-style: no logging, -errno returns, non-realtime context.
 */
#ifndef HMK_NOTIFY_H
#define HMK_NOTIFY_H

#include <stdint.h>

/* Sends `msg` (e.g. "READY=1" or "STATUS=...") to the service manager.
 * Never blocks: a full receive queue is -EAGAIN. Returns 1 when sent, 0
 * when not run by a manager ($NOTIFY_SOCKET unset or empty), -EINVAL when
 * $NOTIFY_SOCKET is neither an absolute path nor '@name' or too long, or
 * the -errno of socket()/sendto(). */
int notify_send(const char *msg);

/* Whether the manager expects watchdog pings ($WATCHDOG_USEC, and
 * $WATCHDOG_PID if set must be this process). Returns 1 and the interval
 * in *usec, 0 when not enabled (or meant for another process), -EINVAL when
 * a variable is malformed. */
int notify_watchdog_usec(uint64_t *usec);

#endif
