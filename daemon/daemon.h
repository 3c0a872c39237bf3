/*
 * daemon.h - what the daemon's own files share: the event loop's watches,
 * a service's and a control client's records, the one daemon-wide state
 * `d`, and the functions each part offers the others. Internal: only
 * daemon/main.c (the loop and the configuration), daemon/supervise.c
 * (services: spawning, reaping, reconciling) and daemon/ctl.c (the control
 * socket and the descriptor reserve) include it.
 */
#ifndef HMK_DAEMON_H
#define HMK_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "cfg.h"
#include "hmk_ctl.h"
#include "ratelog.h"
#include "region.h"
#include "status.h"
#include "svc.h"
#include "svc_fsm.h"
#include "telemetry.h"

#define FD_RESERVE 8        /* descriptors control clients never get */

enum wkind {
    W_SIGNAL = 1, W_HEARTBEAT, W_WATCHDOG, W_INOTIFY, W_REGION_RETRY, W_REGION_CHANGE, W_LISTEN,
    W_CLIENT, W_FDS_TICK, W_LINGER,
    W_SVC_PID, W_SVC_STATUS, W_SVC_READY, W_SVC_TIMER,
};

struct watch {
    enum wkind kind;
    void *obj;
};

struct svc {
    struct watch w_pid, w_status, w_ready, w_timer;
    struct cfg_service *cfg;
    struct cfg_service *next_cfg; /* changed by reload: used at the next spawn */
    enum svc_state state;
    bool goal_up;
    bool removed;                 /* dropped by reload: freed once down */
    struct svc_proc proc;         /* pid 0 / fds -1 when no process */
    int timer_fd;
    bool have_report;
    struct svc_exec_report report;
    uint64_t start_ms;
    unsigned restarts, consecutive;
    struct svc_crashes crashes;
    struct ratelog rl;            /* its started/exited/restarting lines */
    struct ratelog rl_spawn;      /* why it could not be started (apart: news) */
    char ready_buf[16];
    size_t ready_len;
    char last_exit[HMK_CTL_LAST_EXIT_MAX + 1];
    unsigned chan;                /* its write channel (>= 1), 0: writes nothing */
    struct telem tm;              /* its reaction-time block, kept across restarts */
    bool revoke_due;              /* exited: take its grant back once the */
    uint64_t revoke_cycle;        /* bridge has run past this cycle */
    bool not_ready;               /* ready-timeout passed: its exit is a failed start */
    bool group_termed;            /* a stop sent its group SIGTERM */
    struct {                      /* what outlived its main process in its group: */
        int pidfd;                /* the main process's (-1: nothing left) */
        pid_t pgid;
        uint64_t kill_ms;         /* SIGKILL then */
    } linger;
    struct svc *next;
};

struct client {
    struct watch w;
    int fd;
    uint64_t accepted_ms;
    bool priv;                    /* may start/stop/restart (control-group) */
    bool writer;                  /* may take the tools channel (writer-group) */
    int pass_fd;                  /* descriptor the reply carries, or -1 */
    char in[HMK_CTL_REQUEST_MAX];
    size_t in_len;
    char *out;
    size_t out_len, out_off;
    struct client *next;
};

struct daemon {
    const char *config_path;
    struct cfg *cfg;              /* [daemon] part; services live in struct svc */
    int epfd, sigfd, hb_fd, wd_fd, listen_fd;
    int reserve[FD_RESERVE];      /* see reserve_take() */
    unsigned n_reserve;
    int fds_tick_fd;              /* periodic while short of descriptors */
    int linger_fd;                /* the earliest service linger.kill_ms */
    bool fds_short;               /* in such an episode (logged once) */
    uint64_t fds_short_ms;        /* when last found short */
    struct watch w_sig, w_hb, w_wd, w_ino, w_retry, w_change, w_listen, w_fds_tick, w_linger;
    char listen_path[108];
    struct region region;
    struct svc *svcs;             /* start order */
    struct client *clients;
    struct client *dead_clients;  /* closed, freed after the event batch */
    unsigned n_clients;
    bool shutting_down;
    struct status_notifier status;
};

extern struct daemon d;

/* main.c: the loop's helpers */
uint64_t now_ms(void);
int ep_add(int fd, struct watch *w, uint32_t events);
void close_fd(int *fd);                        /* also leaves the epoll set */
void timer_arm(int fd, uint64_t ms, bool periodic); /* 0 ms, one-shot: at once */
void timer_disarm(int fd);

/* supervise.c: services */
struct svc *svc_find(const char *name, bool include_removed);
struct svc *svc_by_pid(pid_t pid);
struct svc *svc_new(struct cfg_service *c);    /* goal down, stopped; NULL: out of memory */
int svc_set_cfg(struct svc *s, struct cfg_service *c); /* 0: owns c; -ENOMEM: c stays yours */
void svc_free(struct svc *s);
bool svc_has_process(const struct svc *s);
bool svc_writes(const struct cfg_service *c);
void svc_event(struct svc *s, enum svc_event e, const struct svc_exit_info *x);
void svc_read_status(struct svc *s);           /* its exec-status pipe is readable */
void svc_read_ready(struct svc *s);            /* its ready pipe is readable */
void svc_timer(struct svc *s);                 /* its timerfd fired */
void revoke_due(void);
void linger_tick(void);
void reap_all(void);
void reconcile(void);
bool all_down(void);
void update_status(void);
void deadlines_check(void);

/* ctl.c: the control socket and the descriptor reserve */
int reserve_take(void);                        /* 0: whole; -errno: holds none */
void reserve_release(void);
bool fds_lacking(int err);                     /* EMFILE or ENFILE */
void fds_short_begin(int err, const char *what);
void fds_tick(void);
int ctl_listen(const struct cfg_daemon *c);    /* -1 and errno on failure */
void ctl_accept(void);
void client_io(struct client *c);
void client_close(struct client *c);
void reap_dead_clients(void);

#endif
