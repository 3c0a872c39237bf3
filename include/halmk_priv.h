/*
 * halmk_priv.h - what only the daemon (and root tools) use: the
 * capabilities rtapi_app holds. Not installed; services never include it.
 *
 * rtapi_app (setuid root) creates the control block and the write channels
 * as sealed memfds; their descriptor numbers and inodes are in the region
 * header. Taking one (pidfd_getfd) needs ptrace rights over rtapi_app, in
 * practice root: every function here returns -EPERM otherwise. Each fd
 * taken is checked against the inode the header names (-ESTALE if not).
 */
#ifndef HMK_HALMK_PRIV_H
#define HMK_HALMK_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "halmk.h"

#define HMK_GRANT_WORDS_PUB 16u  /* = HMK_MAX_PINS / 64 (checked in hmk_cap.c) */

/* The daemon's own hold on the region: maps the control block and a
 * writable view of the region (for the relay bit of the change word). */
int hmk_cap_attach(hmk_region *r);
/* Stamps the heartbeat that drives <prefix>.connected (needs hmk_cap_attach). */
int hmk_heartbeat(hmk_region *r);
/* The daemon's life as the bridge sees it in one load (hmk_daemon_alive()
 * in hmk_region.h): hold_alive puts the calling thread's id in the control
 * block's alive word and makes that word the thread's robust list, so the
 * kernel marks it FUTEX_OWNER_DIED when the thread dies, however it dies.
 * Call it from a thread of its own that holds no robust pthread mutex (its
 * robust list is replaced) and lives while the daemon is attached;
 * release_alive stores 0 (a clean detach or stop). hold_alive returns the
 * error of set_robust_list, if any, with the word held all the same: death
 * is then told by the heartbeat alone. */
int hmk_cap_hold_alive(hmk_region *r);
int hmk_cap_release_alive(hmk_region *r);
/* Channels the bridge has (channels= at loadrt), 0 before attach. */
unsigned hmk_cap_channels(const hmk_region *r);
/* A new O_CLOEXEC descriptor of channel k (0 = the tools channel). */
int hmk_cap_channel_fd(const hmk_region *r, unsigned k);
/* Sets channel k's grant (k >= 1): bit i of bits[i / 64] = pin i. */
int hmk_cap_grant(hmk_region *r, unsigned k, const uint64_t bits[HMK_GRANT_WORDS_PUB]);

/* The relay (see docs/isolation.md): the bridge wakes one thread, which
 * wakes every reader. relay_wait blocks until the bridge bumped the relay
 * word past *seen (0) or timeout_ms passed (-ETIMEDOUT); relay_arm sets or
 * clears "someone waits" and wakes every reader so each re-reads it; fanout
 * wakes every reader and returns how many there were. */
int hmk_cap_relay_wait(hmk_region *r, uint32_t *seen, int timeout_ms);
int hmk_cap_relay_arm(hmk_region *r, bool armed);
int hmk_cap_fanout(hmk_region *r);
/* Bumps the relay word and wakes the relay thread: how it is stopped. */
int hmk_cap_relay_kick(hmk_region *r);
/* The relay's datagram address for a region (abstract socket): readers
 * send a datagram to it when they wait while the relay is not armed. */
void hmk_poke_addr(const char *region, struct sockaddr_un *a, socklen_t *len);

#endif
