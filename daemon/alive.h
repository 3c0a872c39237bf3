/*
 * alive.h - the daemon's life, told to the bridge without a system call:
 * one thread per attached region holds the control block's alive word as a
 * robust futex (hmk_cap_hold_alive), so the kernel marks it when the daemon
 * dies, however it dies, and the bridge turns <prefix>.connected off in its
 * next cycle. The heartbeat is left to tell a daemon that hangs.
 * Library-style: -errno, never logs.
 */
#ifndef HMK_ALIVE_H
#define HMK_ALIVE_H

#include "halmk.h"

struct alive;

/* Starts the holder on r (which must stay attached until alive_stop) and
 * returns once the word is held. *err: set_robust_list's refusal, if any
 * (the word is held all the same: death then shows by the heartbeat only).
 * NULL with *err when no thread could be started. */
struct alive *alive_start(hmk_region *r, int *err);
/* Stores 0 (a clean detach: the bridge sees it at once) and ends the thread. */
void alive_stop(struct alive *a);

#endif
