/*
 * gw.h - mqtt-gateway's state, shared by its two threads:
 *  - the HAL thread runs the service framework (hmk_svc_run, stream mode)
 *    and only records each pin's latest value in the table below;
 *  - the network thread owns the broker connection (libmosquitto, driven
 *    by its own poll loop), publishes what the table marks dirty, applies
 *    commands and judges HAL's liveness.
 * Why two: the change stream wakes on a futex and the broker on a socket,
 * and no one wait covers both; and a slow or absent broker must never
 * hold up the reader of the change stream. The lock is held only to copy a
 * value in or out, never across I/O.
 */
#ifndef GW_H
#define GW_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "halmk_service.h"

struct gw_pin {
    char *name;          /* region pin name, also the topic level */
    enum hmk_type type;
    enum hmk_dir dir;
    unsigned index;      /* in the region the network thread has open */
    bool read;           /* fed by the change stream (in or io) */
    bool settable;       /* named by --set: commands accepted */
    /* under gw.lock */
    hmk_value value;
    bool have;           /* value is known */
    bool dirty;          /* value changed since it was last published */
    bool force;          /* publish even if unchanged (connect, refresh) */
    bool bounce;         /* bit: an unpublished edge was overwritten */
    /* network thread only */
    hmk_value published;
    bool ever;           /* published at least once on this connection */
    int64_t pub_ms;
};

struct gw_opts {
    const char *host, *region, *prefix, *machine, *client_id;
    const char *password_file, *cafile, *certfile, *keyfile;
    const char *ha_prefix;   /* --ha-discovery: HA's discovery prefix, NULL off */
    bool ha_remove;          /* --ha-remove: clear the configs on a clean stop */
    int state_interval_ms;   /* --state-interval: BASE/state at most this often, 0 off */
    int stats_interval_ms;   /* --stats-interval: ask the daemon for BASE/stats, 0 off */
    const char *control;     /* --control: the daemon's control socket */
    int port, qos, keepalive, mqtt_version;
    int min_interval_ms, refresh_s, inflight_max;
    int backoff_min_ms, backoff_max_ms;
    double deadband;
    bool check_only, stream;
    char *user, *password; /* from password_file */
};

struct gw {
    struct gw_opts o;
    char base[256];          /* <prefix>/<machine> */
    struct gw_pin *pins;
    unsigned npins;
    const char **reads;      /* NULL-terminated, for hmk_svc_def */
    unsigned *read_pin;      /* read slot -> pins[] index */
    pthread_mutex_t lock;
    int wake_fd;             /* eventfd: the HAL thread has dirty pins, or stop */
    /* under lock */
    uint64_t cycle;          /* bridge cycle of the latest change seen */
    bool state_dirty;        /* a value changed since BASE/state was built */
    atomic_bool stop;
    atomic_uint_fast64_t lost;
};

/* gw_net.c: the network thread. gw_net_new sets up the client (will,
 * credentials, TLS; NULL with errno on failure); gw_net_main(net) runs
 * until gw->stop is set, publishing "offline" first (bounded by a short
 * deadline). */
struct net;
struct net *gw_net_new(struct gw *gw);
void gw_net_free(struct net *n);
void *gw_net_main(void *arg);
/* Wakes the network thread (from either thread). */
void gw_wake(struct gw *gw);
int64_t gw_now_ms(void);

/* gw_ha.c: Home Assistant discovery and the bulk state object (text only;
 * return 0 or -errno, the buffer's sticky error). */
struct gw_buf;
const char *gw_ha_component(const struct gw_pin *p);
int gw_ha_topic(char *buf, size_t len, const struct gw *gw, const struct gw_pin *p);
int gw_ha_config(struct gw_buf *b, const struct gw *gw, const struct gw_pin *p);
int gw_ha_check(const struct gw *gw);  /* prints one error line */
int gw_state_json(struct gw_buf *b, struct gw *gw, uint64_t cycle_now);

#endif
