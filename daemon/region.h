/*
 * region.h - the daemon's side of the shared-memory region: attach through
 * libhalmk, wait without polling while it is absent (inotify on /dev/shm),
 * re-attach after the bridge detached it, stamp the heartbeat, start and
 * stop the alive word's holder (alive.c) and the change relay (relay.c)
 * with each attach, and run the optional pin monitor. Daemon glue: this
 * module logs (attach and detach once each, errors once per distinct
 * error).
 */
#ifndef HMK_REGION_GLUE_H
#define HMK_REGION_GLUE_H

#include <stdbool.h>
#include <stdint.h>

#include "halmk.h"
#include "pinmon.h"

struct region {
    char name[64];
    hmk_region *r;
    int inotify_fd;   /* watches /dev/shm while detached, -1 if that failed */
    int inotify_wd;   /* the watch, -1 while attached (no wake-ups for others'
                       * objects in /dev/shm then) */
    int retry_fd;     /* one-shot timerfd for transient open errors */
    unsigned retries;
    int last_err;     /* last error logged, so each is logged once */
    bool pin_monitor;
    unsigned pin_monitor_rate;
    struct pinmon_bucket bucket;
    unsigned npins;
    hmk_value *prev_in, *prev_out; /* type 0 = pin has no such side */
    bool have_prev;
    int change_fd;    /* eventfd the change watcher thread signals */
    struct region_watcher *watcher; /* the running watcher, NULL if none */
    struct relay *relay;            /* the change relay (relay.h), NULL if none */
    struct alive *alive;            /* holds the alive word (alive.h), NULL if none */
};

#define REGION_SHM_DIR "/dev/shm"

/* Opens the inotify and timer fds (O_CLOEXEC|O_NONBLOCK); does not attach. */
int region_init(struct region *g, const char *name);
void region_fini(struct region *g);
/* Try to attach now; on -ENOENT and friends wait for inotify or the retry
 * timer. Logs. */
void region_try_attach(struct region *g);
void region_on_inotify(struct region *g);
void region_on_retry(struct region *g);
/* Heartbeat tick: check for -ESTALE (re-attach), stamp the heartbeat. */
void region_tick(struct region *g, uint64_t now_ms);
/* change_fd is readable: the region's values changed; run the pin monitor.
 * The pin monitor is driven by the region's change futex, not by a timer:
 * a thread blocks in hmk_wait_change() and signals change_fd, at most once
 * per REGION_PINMON_MIN_MS, so an idle region costs nothing and a busy one
 * (a pin changing every servo cycle) costs at most 50 scans a second. */
void region_on_change(struct region *g, uint64_t now_ms);
/* Switch to another region name (reload). */
void region_rename(struct region *g, const char *name);
/* Write channels (docs/isolation.md). region_channel_fd grants channel k
 * (>= 1) exactly the pins named in writes and returns a new O_CLOEXEC
 * descriptor of it: -ERANGE if the bridge has no channel k (channels= at
 * loadrt), -ENXIO if a name is not a pin. revoke takes every pin back. */
int region_channel_fd(struct region *g, unsigned k, char *const *writes);
void region_channel_revoke(struct region *g, unsigned k);
unsigned region_channels(const struct region *g);
/* The bridge's cycle as the region shows it (0 when detached). */
uint64_t region_cycle(const struct region *g);
/* A new O_CLOEXEC descriptor of the tools channel (0: every out pin). */
int region_tools_channel_fd(struct region *g);
static inline bool region_attached(const struct region *g) { return g->r != NULL; }

#endif
