/*
 * main.c - hal-microkernel: the supervisor daemon.
 *
 * One thread, one epoll loop over: a signalfd (SIGTERM, SIGINT, SIGHUP,
 * SIGCHLD), the heartbeat and watchdog timerfds, per service a pidfd, the
 * exec-status pipe, the ready pipe and a timerfd (backoff, ready-timeout or
 * stop-timeout), one timerfd for what outlived a service's main process in
 * its group, the control socket and its clients, and inotify on /dev/shm plus a retry
 * timer for the region. Nothing is polled: with no region attached and no
 * service changing state the daemon sleeps in epoll_wait indefinitely.
 *
 * After every batch of events reconcile() compares each service's goal (up or
 * down) with its state and feeds the state table (svc_fsm.c), honouring
 * after= order: a service starts once everything it is after= is running,
 * and while services go down together (shutdown, reload) one stops only after
 * everything that is after= it has stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "ctl_parse.h"
#include "hmk_ctl.h"
#include "hmk_version.h"
#include "log.h"
#include "notify.h"
#include "ratelog.h"
#include "reap.h"
#include "region.h"
#include "hmk_region.h"
#include "status.h"
#include "svc.h"
#include "svc_fsm.h"
#include "telemetry.h"

#define DEFAULT_CONFIG "/etc/hal-microkernel.ini"
#define MAX_CLIENTS 32
#define FD_RESERVE 8        /* descriptors control clients never get */
#define FDS_TICK_MS 200     /* while short of descriptors: look again this often */
#define FDS_QUIET_MS 5000   /* ... and call the episode over after this long without */

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

static struct {
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
} d = { .epfd = -1, .sigfd = -1, .hb_fd = -1, .wd_fd = -1, .listen_fd = -1, .fds_tick_fd = -1,
        .linger_fd = -1,
        .region = { .inotify_fd = -1, .retry_fd = -1, .change_fd = -1, .inotify_wd = -1 } };

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int ep_add(int fd, struct watch *w, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = w };

    if (epoll_ctl(d.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        /* close() alone does not drop it from the epoll set while a child
         * between fork and exec still holds a copy: its events would then
         * carry a pointer to a freed watch */
        if (d.epfd >= 0)
            epoll_ctl(d.epfd, EPOLL_CTL_DEL, *fd, NULL);
        close(*fd);
        *fd = -1;
    }
}

static void timer_arm(int fd, uint64_t ms, bool periodic)
{
    struct itimerspec its = { 0 };

    its.it_value.tv_sec = (time_t)(ms / 1000);
    its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
    if (ms == 0 && !periodic)
        its.it_value.tv_nsec = 1; /* 0 would disarm: fire at once instead */
    if (periodic)
        its.it_interval = its.it_value;
    timerfd_settime(fd, 0, &its, NULL);
}

static void timer_disarm(int fd)
{
    struct itimerspec its = { 0 };

    timerfd_settime(fd, 0, &its, NULL);
}

/* ------------------------------------------------- out of file descriptors */

static void reserve_release(void)
{
    while (d.n_reserve)
        close(d.reserve[--d.n_reserve]);
}

/* The reserve: FD_RESERVE descriptors held while there are enough, all or
 * none. A control connection is accepted only while the reserve is whole,
 * so clients never take the last descriptors; when starting a service or
 * attaching the region runs short, the reserve is let go for it. Returns 0
 * when whole, else -errno (and holds none). */
static int reserve_take(void)
{
    while (d.n_reserve < FD_RESERVE) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), e = errno;
        if (fd < 0) {
            reserve_release();
            return -e;
        }
        d.reserve[d.n_reserve++] = fd;
    }
    return 0;
}

static void listen_events(uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = &d.w_listen };

    if (d.listen_fd >= 0)
        epoll_ctl(d.epfd, EPOLL_CTL_MOD, d.listen_fd, &ev);
}

static bool fds_lacking(int err)
{
    return err == EMFILE || err == ENFILE;
}

/* Short of descriptors (err: EMFILE, ENFILE; ENOBUFS, ENOMEM from accept)
 * while doing `what`: the reserve goes to supervision, the listening socket
 * leaves the epoll set (a pending connection keeps it readable: left in, it
 * would spin) and a timer looks again every FDS_TICK_MS (fds_tick). One
 * line for the whole episode. */
static void fds_short_begin(int err, const char *what)
{
    struct rlimit rl = { 0, 0 };

    reserve_release();
    listen_events(0);
    d.fds_short_ms = now_ms();
    if (d.fds_short)
        return;
    d.fds_short = true;
    timer_arm(d.fds_tick_fd, FDS_TICK_MS, true);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (fds_lacking(err))
        log_warn("Out of file descriptors while %s (%s; limit %llu): control connections are "
                 "refused until there are enough again; services are still supervised",
                 what, strerror(err), (unsigned long long)rl.rlim_cur);
    else
        log_warn("Out of memory while %s (%s): control connections are refused until there "
                 "is enough again; services are still supervised", what, strerror(err));
}

/* ---------------------------------------------------------------- services */

static struct svc *svc_find(const char *name, bool include_removed)
{
    for (struct svc *s = d.svcs; s; s = s->next)
        if ((include_removed || !s->removed) && !strcmp(s->cfg->name, name))
            return s;
    return NULL;
}

static int svc_set_cfg(struct svc *s, struct cfg_service *c)
{
    uint64_t *t = NULL;

    if (c->crash_limit) {
        t = calloc(c->crash_limit, sizeof(*t));
        if (!t)
            return -ENOMEM;
    }
    free(s->crashes.t_ms);
    s->crashes.t_ms = t;
    s->crashes.limit = c->crash_limit;
    svc_crash_reset(&s->crashes);
    cfg_service_free(s->cfg);
    s->cfg = c;
    return 0;
}

static struct svc *svc_new(struct cfg_service *c)
{
    struct svc *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->w_pid = (struct watch){ W_SVC_PID, s };
    s->w_status = (struct watch){ W_SVC_STATUS, s };
    s->w_ready = (struct watch){ W_SVC_READY, s };
    s->w_timer = (struct watch){ W_SVC_TIMER, s };
    s->proc.pidfd = s->proc.status_fd = s->proc.ready_fd = -1;
    s->linger.pidfd = -1;
    s->tm = (struct telem)TELEM_INIT;
    s->state = SVC_STOPPED;
    snprintf(s->last_exit, sizeof(s->last_exit), "-");
    s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (s->timer_fd < 0 || ep_add(s->timer_fd, &s->w_timer, EPOLLIN) < 0 || svc_set_cfg(s, c) < 0) {
        if (s->timer_fd >= 0)
            close(s->timer_fd);
        free(s);
        return NULL;
    }
    return s;
}

static void linger_end(struct svc *s, int sig);

static void svc_free(struct svc *s)
{
    linger_end(s, SIGKILL); /* the daemon is going or forgets it: no waiting */
    close_fd(&s->timer_fd);
    close_fd(&s->proc.pidfd);
    close_fd(&s->proc.status_fd);
    close_fd(&s->proc.ready_fd);
    telem_close(&s->tm);
    cfg_service_free(s->cfg);
    cfg_service_free(s->next_cfg);
    free(s->crashes.t_ms);
    free(s);
}

static bool svc_has_process(const struct svc *s)
{
    return s->proc.pid > 0;
}

static void svc_event(struct svc *s, enum svc_event e, const struct svc_exit_info *x);

/* A service's lifecycle line (started, exited, restarting), rate-limited:
 * a crash loop must not flood the journal. What was held back is reported
 * in one line when the next window opens. */
static void svc_log(struct svc *s, struct ratelog *rl, int prio, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void svc_log(struct svc *s, struct ratelog *rl, int prio, const char *fmt, ...)
{
    char line[512];
    unsigned held;
    va_list ap;
    bool ok = ratelog_allow(rl, now_ms(), &held);

    if (held)
        log_warn("Service %s: %u more lines about it suppressed (at most %u per %u s)",
                 s->cfg->name, held, RATELOG_BURST, RATELOG_WINDOW_MS / 1000);
    if (!ok)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_msg(prio, "%s", line);
}

static bool svc_writes(const struct cfg_service *c)
{
    return c->has_writes && c->writes && c->writes[0];
}

/* A writing service's channel: sticky for the service's life in the
 * daemon, the lowest one no other service holds. */
static void svc_pick_channel(struct svc *s)
{
    if (s->chan || !svc_writes(s->cfg))
        return;
    for (unsigned k = 1; k < HMK_MAX_CHANNELS && !s->chan; k++) {
        bool taken = false;
        for (struct svc *o = d.svcs; o && !taken; o = o->next)
            taken = o != s && o->chan == k;
        if (!taken)
            s->chan = k;
    }
}

/* The descriptor of the service's channel, granted its `writes =` pins
 * now (the grant follows the configuration of this start), or -1. */
static int svc_channel(struct svc *s)
{
    int fd;

    if (!svc_writes(s->cfg)) {
        if (s->chan)
            region_channel_revoke(&d.region, s->chan);
        return -1;
    }
    svc_pick_channel(s);
    if (!region_attached(&d.region))
        return -1; /* its writes fail until it is started again, attached */
    fd = region_channel_fd(&d.region, s->chan, s->cfg->writes);
    if (fd == -ERANGE)
        svc_log(s, &s->rl_spawn, LOG_ERR, "Service %s: the bridge has %u write channels and "
                "this service would need channel %u (raise channels= on the bridge's loadrt "
                "line); its writes are refused", s->cfg->name, region_channels(&d.region),
                s->chan);
    else if (fd < 0)
        svc_log(s, &s->rl_spawn, LOG_ERR, "Service %s: cannot hand it its write channel: %s",
                s->cfg->name, hmk_strerror(fd));
    return fd < 0 ? -1 : fd;
}

/* Grants of exited services whose last writes the bridge has taken by now
 * (run from the heartbeat; a stopped HAL thread keeps them for later). */
static void revoke_due(void)
{
    uint64_t c = region_attached(&d.region) ? region_cycle(&d.region) : 0;

    for (struct svc *s = d.svcs; s; s = s->next)
        if (s->revoke_due && (c >= s->revoke_cycle || !region_attached(&d.region))) {
            s->revoke_due = false;
            if (!svc_has_process(s))
                region_channel_revoke(&d.region, s->chan);
        }
}

/* ---------------------------------------------- what outlives a service */

static void linger_arm(void)
{
    uint64_t first = 0, now = now_ms();

    for (struct svc *s = d.svcs; s; s = s->next)
        if (s->linger.pgid > 0 && (!first || s->linger.kill_ms < first))
            first = s->linger.kill_ms;
    if (!first)
        timer_disarm(d.linger_fd);
    else
        timer_arm(d.linger_fd, first > now ? first - now : 1, false);
}

/* sig: SIGKILL to whatever is still in the group, 0 to forget it */
static void linger_end(struct svc *s, int sig)
{
    if (s->linger.pgid <= 0)
        return;
    if (sig && svc_signal_group(s->linger.pidfd, s->linger.pgid, sig, false) == 0)
        log_warn("Service %s: processes left in its group after its main process ended "
                 "(stop-timeout %llu ms); sending SIGKILL", s->cfg->name,
                 (unsigned long long)s->cfg->stop_timeout_ms);
    close_fd(&s->linger.pidfd);
    s->linger.pgid = 0;
}

/* Its main process is reaped: the rest of its group (a shell's children, a
 * forked helper) goes with it, SIGTERM now (unless a stop sent it already)
 * and SIGKILL after stop-timeout, so that a restart never runs beside what
 * is left of the last run. Takes the pidfd over while anything is left. */
static void linger_begin(struct svc *s, pid_t pgid)
{
    int fd = s->proc.pidfd;

    if (svc_signal_group(fd, pgid, s->group_termed ? 0 : SIGTERM, false) < 0)
        return; /* nobody left */
    svc_signal_group(fd, pgid, SIGCONT, false); /* a stopped one must see its SIGTERM */
    linger_end(s, SIGKILL); /* what an earlier run left and still has not ended */
    s->linger.pidfd = fd;
    s->proc.pidfd = -1;
    s->linger.pgid = pgid;
    s->linger.kill_ms = now_ms() + s->cfg->stop_timeout_ms;
    linger_arm();
    log_debug("Service %s: ending what is left in its process group %d", s->cfg->name, (int)pgid);
}

static void linger_tick(void)
{
    uint64_t x, now = now_ms();

    if (read(d.linger_fd, &x, sizeof(x)) < 0) {
        /* EAGAIN: disarmed in between */
    }
    for (struct svc *s = d.svcs; s; s = s->next)
        if (s->linger.pgid > 0 && s->linger.kill_ms <= now)
            linger_end(s, SIGKILL);
    linger_arm();
}

/* A stop's signal: to its whole group, which is the service, and to the main
 * process itself only if that left the group. While the main process is
 * unreaped (every state that can stop). */
static int svc_signal_all(struct svc *s, int sig)
{
    pid_t pg = s->proc.pid;

    if (svc_signal_group(s->proc.pidfd, pg, sig, true) == 0 && getpgid(s->proc.pid) == pg) {
        if (sig == SIGTERM)
            s->group_termed = true;
        return 0;
    }
    return svc_signal(&s->proc, sig);
}

static void svc_do_spawn(struct svc *s)
{
    int ret;
    struct svc_pass pass;
    char what[96];

    if (s->next_cfg) {
        struct cfg_service *c = s->next_cfg;
        s->next_cfg = NULL;
        if (svc_set_cfg(s, c) < 0)
            cfg_service_free(c); /* out of memory: keep the old one */
    }
    s->have_report = false;
    s->ready_len = 0;
    s->revoke_due = false; /* granted again, from this start's configuration */
    s->not_ready = s->group_termed = false;
    snprintf(what, sizeof(what), "starting service %s", s->cfg->name);
    pass.chan_fd = svc_channel(s);
    ret = telem_open(&s->tm, s->cfg->deadline_ns);
    if (fds_lacking(-ret)) {
        /* the block is made once per service: the reserve pays for it */
        fds_short_begin(-ret, what);
        ret = telem_open(&s->tm, s->cfg->deadline_ns);
    }
    if (ret < 0) /* then a start without telemetry, said once per start */
        svc_log(s, &s->rl_spawn, LOG_WARNING, "Service %s: no telemetry block: %s", s->cfg->name,
                strerror(-ret));
    pass.telem_fd = s->tm.fd;
    ret = svc_spawn(s->cfg, d.region.name, d.cfg->daemon.control_socket, &pass, &s->proc);
    if (fds_lacking(-ret)) {
        /* what the reserve is kept for */
        fds_short_begin(-ret, what);
        ret = svc_spawn(s->cfg, d.region.name, d.cfg->daemon.control_socket, &pass, &s->proc);
    }
    if (pass.chan_fd >= 0)
        close(pass.chan_fd);
    if (ret < 0) {
        struct svc_exit_info x = { .goal_up = s->goal_up, .restart = s->cfg->restart };
        errno = -ret;
        svc_log(s, &s->rl_spawn, LOG_ERR, "Failed to start service %s: %s", s->cfg->name, strerror(-ret));
        snprintf(s->last_exit, sizeof(s->last_exit), "spawn failed: %s", strerror(-ret));
        s->proc = (struct svc_proc){ 0, -1, -1, -1 };
        /* not the program's fault (fork/pipe failed): count it as a crash so
         * the backoff and crash limit still apply */
        x.crash_limit_hit = svc_crash_record(&s->crashes, s->cfg->crash_window_ms, now_ms());
        svc_event(s, SVC_EV_EXIT, &x);
        return;
    }
    s->start_ms = now_ms();
    if ((s->proc.pidfd >= 0 && ep_add(s->proc.pidfd, &s->w_pid, EPOLLIN) < 0) ||
        ep_add(s->proc.status_fd, &s->w_status, EPOLLIN) < 0 ||
        (s->proc.ready_fd >= 0 && ep_add(s->proc.ready_fd, &s->w_ready, EPOLLIN) < 0))
        log_err("Failed to watch service %s: %m", s->cfg->name);
    svc_log(s, &s->rl, LOG_INFO, "Started service %s (pid %d)", s->cfg->name, (int)s->proc.pid);
    if (s->cfg->ready == CFG_READY_FD && s->cfg->ready_timeout_ms)
        timer_arm(s->timer_fd, s->cfg->ready_timeout_ms, false);
}

static void svc_event(struct svc *s, enum svc_event e, const struct svc_exit_info *x)
{
    enum svc_state old = s->state;
    struct svc_step st = svc_fsm_step(s->state, e, x);

    s->state = st.next;
    if (st.actions & SVC_ACT_CANCEL_TIMER)
        timer_disarm(s->timer_fd);
    if (st.actions & SVC_ACT_GOAL_DOWN)
        s->goal_up = false;
    if (st.actions & SVC_ACT_RESET_CRASHES) {
        svc_crash_reset(&s->crashes);
        s->consecutive = 0;
    }
    if (st.actions & SVC_ACT_COUNT_RESTART)
        s->restarts++;
    if (st.actions & SVC_ACT_NOT_READY) {
        s->not_ready = true;
        svc_log(s, &s->rl, LOG_WARNING, "Service %s did not report ready within %llu ms; stopping it",
                s->cfg->name, (unsigned long long)s->cfg->ready_timeout_ms);
    }
    if (st.actions & SVC_ACT_TERM) {
        int r = svc_signal_all(s, SIGTERM);
        if (r < 0 && r != -ESRCH) {
            errno = -r;
            log_err("Failed to signal service %s: %m", s->cfg->name);
        }
    }
    if (st.actions & SVC_ACT_ARM_STOP)
        timer_arm(s->timer_fd, s->cfg->stop_timeout_ms, false);
    if (st.actions & SVC_ACT_KILL) {
        log_warn("Service %s did not stop within %llu ms; sending SIGKILL", s->cfg->name,
                 (unsigned long long)s->cfg->stop_timeout_ms);
        svc_signal_all(s, SIGKILL);
    }
    if (st.actions & SVC_ACT_ARM_BACKOFF) {
        uint64_t ms = svc_backoff_ms(s->cfg->backoff_initial_ms, s->cfg->backoff_factor,
                                     s->cfg->backoff_max_ms, s->consecutive);
        s->consecutive++;
        svc_log(s, &s->rl, LOG_INFO, "Restarting service %s in %llu ms", s->cfg->name, (unsigned long long)ms);
        timer_arm(s->timer_fd, ms, false);
    }
    if (old != s->state)
        log_debug("Service %s: %s -> %s", s->cfg->name, svc_state_name(old), svc_state_name(s->state));
    if ((s->state == SVC_FAILED || s->state == SVC_STOPPED) && old != s->state) {
        /* the story's end says what it held back */
        unsigned held = ratelog_flush(&s->rl) + ratelog_flush(&s->rl_spawn);
        if (held)
            log_warn("Service %s: %u more lines about it suppressed", s->cfg->name, held);
    }
    if (s->state == SVC_FAILED && old != SVC_FAILED)
        log_err("Service %s failed (%s); not restarting it until started by hand", s->cfg->name, s->last_exit);
    if (st.actions & SVC_ACT_SPAWN)
        svc_do_spawn(s);
}

static void describe_exit(struct svc *s, const siginfo_t *si, bool *clean)
{
    *clean = false;
    if (s->have_report) {
        char cls[40]; /* "deadline:R/D/P" in ns fits */
        if (s->report.step == SVC_STEP_EXEC) {
            snprintf(s->last_exit, sizeof(s->last_exit), "exec failed: %s", strerror(s->report.err));
        } else if (s->report.step == SVC_STEP_SCHED) {
            /* the kernel said no (EPERM: no CAP_SYS_NICE or an RT-throttled
             * cgroup; EBUSY: deadline admission; EINVAL: outside its limits) */
            sched_format(&s->cfg->sched, cls, sizeof(cls));
            snprintf(s->last_exit, sizeof(s->last_exit), "sched %s refused: %s", cls,
                     strerror(s->report.err));
        } else
            snprintf(s->last_exit, sizeof(s->last_exit), "%s failed: %s", svc_step_name(s->report.step),
                     strerror(s->report.err));
    } else if (si->si_code == CLD_EXITED) {
        *clean = si->si_status == 0;
        snprintf(s->last_exit, sizeof(s->last_exit), "exited %d", si->si_status);
    } else {
        const char *name = sigabbrev_np(si->si_status);
        snprintf(s->last_exit, sizeof(s->last_exit), "killed by SIG%s%s", name ? name : "?",
                 si->si_code == CLD_DUMPED ? " (core dumped)" : "");
    }
}

static void svc_read_status(struct svc *s)
{
    struct svc_exec_report rep;
    ssize_t n;

    if (s->proc.status_fd < 0)
        return;
    n = read(s->proc.status_fd, &rep, sizeof(rep));
    if (n < 0 && errno == EAGAIN)
        return; /* not decided yet */
    if (n == (ssize_t)sizeof(rep)) {
        s->report = rep;
        s->have_report = true;
    } else if (n == 0 && s->state == SVC_STARTING && s->cfg->ready == CFG_READY_NONE) {
        /* EOF: the close-on-exec pipe closed in a successful exec */
        close_fd(&s->proc.status_fd);
        svc_event(s, SVC_EV_READY, NULL);
        return;
    }
    close_fd(&s->proc.status_fd);
}

static void svc_read_ready(struct svc *s)
{
    ssize_t n = read(s->proc.ready_fd, s->ready_buf + s->ready_len, sizeof(s->ready_buf) - 1 - s->ready_len);

    if (n < 0 && errno == EAGAIN)
        return;
    if (n > 0) {
        s->ready_len += (size_t)n;
        s->ready_buf[s->ready_len] = '\0';
        if (strstr(s->ready_buf, "READY=1\n")) {
            close_fd(&s->proc.ready_fd);
            log_info("Service %s is ready", s->cfg->name);
            svc_event(s, SVC_EV_READY, NULL);
            return;
        }
        if (s->ready_len < sizeof(s->ready_buf) - 1)
            return;
        log_warn("Service %s wrote garbage to its ready fd; ignoring it", s->cfg->name);
    }
    close_fd(&s->proc.ready_fd); /* EOF without READY=1: it stays starting */
}

/* "64 MiB", "61.6 MiB", "512 KiB" */
static void fmt_size(uint64_t bytes, char *buf, size_t len)
{
    static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)bytes;
    unsigned u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (v == (double)(uint64_t)v)
        snprintf(buf, len, "%llu %s", (unsigned long long)v, unit[u]);
    else
        snprintf(buf, len, "%.1f %s", v, unit[u]);
}

/* ru: the process's resource usage (peak resident set), NULL if unknown. */
static void svc_exited(struct svc *s, const siginfo_t *si, const struct rusage *ru)
{
    struct svc_exit_info x = { .goal_up = s->goal_up, .restart = s->cfg->restart };
    uint64_t now = now_ms();
    char mem[96] = "";
    bool clean;

    /* a descendant that outlives it keeps the descriptor, not the pins;
     * but what the service wrote last (coolant off as it stopped) must
     * reach HAL first: the grant goes once the bridge ran two more cycles */
    if (s->chan && region_attached(&d.region)) {
        s->revoke_due = true;
        s->revoke_cycle = region_cycle(&d.region) + 2;
    }

    svc_read_status(s); /* the exec report, if any, is in the pipe by now */
    close_fd(&s->proc.status_fd);
    close_fd(&s->proc.ready_fd);
    linger_begin(s, s->proc.pid);
    close_fd(&s->proc.pidfd);
    s->proc.pid = 0;
    describe_exit(s, si, &clean);
    x.not_ready = s->not_ready;
    if (s->not_ready) { /* stopped for it: a failed start, however it ended */
        clean = false;
        snprintf(s->last_exit, sizeof(s->last_exit), "not ready within %llu ms",
                 (unsigned long long)s->cfg->ready_timeout_ms);
    }
    /* a child short of descriptors or memory before exec is retried like a
     * crash; any other report stays wrong until the configuration changes */
    x.exec_failed = s->have_report && !svc_report_transient(&s->report);
    x.clean = clean;
    if (s->state == SVC_STARTING || s->state == SVC_RUNNING ||
        (s->state == SVC_STOPPING && s->not_ready && s->goal_up)) {
        bool restarts = !x.exec_failed && (s->cfg->restart == CFG_RESTART_ALWAYS ||
                                           (s->cfg->restart == CFG_RESTART_ON_FAILURE && !clean));
        /* a limit-as death is an abort, a segfault or a failure exit like
         * any other: say how close to its limit the service came */
        if (!clean && !s->have_report && ru && s->cfg->limit_as != CFG_RLIM_UNSET &&
            s->cfg->limit_as != (uint64_t)RLIM_INFINITY) {
            char lim[32], peak[32];
            fmt_size(s->cfg->limit_as, lim, sizeof(lim));
            fmt_size((uint64_t)ru->ru_maxrss * 1024u, peak, sizeof(peak));
            snprintf(mem, sizeof(mem), " (limit-as %s; peak resident %s)", lim, peak);
        }
        if (s->have_report)
            svc_log(s, &s->rl, LOG_ERR, "Service %s: %s", s->cfg->name, s->last_exit);
        else
            svc_log(s, &s->rl, clean ? LOG_INFO : LOG_WARNING, "Service %s %s%s", s->cfg->name,
                    s->last_exit, mem);
        /* a run longer than the backoff cap was a success: start over */
        if (now - s->start_ms >= s->cfg->backoff_max_ms)
            s->consecutive = 0;
        if (restarts)
            x.crash_limit_hit = svc_crash_record(&s->crashes, s->cfg->crash_window_ms, now);
    } else {
        log_info("Service %s stopped (%s)", s->cfg->name, s->last_exit);
    }
    svc_event(s, SVC_EV_EXIT, &x);
}

static struct svc *svc_by_pid(pid_t pid)
{
    for (struct svc *s = d.svcs; s; s = s->next)
        if (s->proc.pid == pid)
            return s;
    return NULL;
}

static bool reap_is_service(void *ctx, pid_t pid)
{
    (void)ctx;
    return svc_by_pid(pid) != NULL;
}

static int reap_service(void *ctx, pid_t pid)
{
    struct svc *s = svc_by_pid(pid);
    struct rusage ru;
    siginfo_t si;
    int r;

    (void)ctx;
    memset(&si, 0, sizeof(si));
    memset(&ru, 0, sizeof(ru));
    /* the system call itself: it also hands back the child's resource
     * usage, which glibc's waitid() drops */
    if (s->proc.pidfd >= 0)
        r = (int)syscall(SYS_waitid, P_PIDFD, s->proc.pidfd, &si, WEXITED | WNOHANG, &ru);
    else
        r = (int)syscall(SYS_waitid, P_PID, (id_t)pid, &si, WEXITED | WNOHANG, &ru);
    if (r < 0 || si.si_pid == 0)
        return -ECHILD;
    svc_exited(s, &si, &ru);
    return 0;
}

static void reap_orphan(void *ctx, pid_t pid)
{
    (void)ctx;
    log_debug("Reaped orphaned process %d", (int)pid);
}

static void reap_all(void)
{
    static const struct reap_ops ops = { reap_is_service, reap_service, reap_orphan };
    int r = reap_children(&ops, NULL);

    if (r < 0) {
        errno = -r;
        log_err("Failed to reap children: %m");
    }
}

static bool depends_on(const struct svc *s, const char *name)
{
    for (char **a = s->cfg->after; a && *a; a++)
        if (!strcmp(*a, name))
            return true;
    return false;
}

static bool deps_running(const struct svc *s)
{
    for (char **a = s->cfg->after; a && *a; a++) {
        struct svc *dep = svc_find(*a, false);
        if (!dep || dep->state != SVC_RUNNING)
            return false;
    }
    return true;
}

/* a dependent that goes down too and still has a process holds us up */
static bool dependents_down(const struct svc *s)
{
    for (struct svc *o = d.svcs; o; o = o->next)
        if (o != s && !o->goal_up && svc_has_process(o) && depends_on(o, s->cfg->name))
            return false;
    return true;
}

static void reconcile(void)
{
    bool changed = true;

    while (changed) {
        changed = false;
        for (struct svc *s = d.svcs; s; s = s->next) {
            enum svc_state before = s->state;
            if (s->goal_up && s->state == SVC_STOPPED && deps_running(s))
                svc_event(s, SVC_EV_START, NULL);
            else if (!s->goal_up &&
                     (s->state == SVC_STARTING || s->state == SVC_RUNNING || s->state == SVC_BACKOFF) &&
                     dependents_down(s))
                svc_event(s, SVC_EV_STOP, NULL);
            if (s->state != before)
                changed = true;
        }
    }
    /* services dropped by a reload go once they are down */
    for (struct svc **pp = &d.svcs; *pp;) {
        struct svc *s = *pp;
        if (s->removed && !svc_has_process(s) && s->state != SVC_STOPPING) {
            log_info("Removed service %s", s->cfg->name);
            *pp = s->next;
            svc_free(s);
        } else {
            pp = &s->next;
        }
    }
}

static bool all_down(void)
{
    for (struct svc *s = d.svcs; s; s = s->next)
        if (svc_has_process(s))
            return false;
    return true;
}

static void update_status(void)
{
    struct status_counts c = { .region = d.region.name, .attached = region_attached(&d.region) };

    for (struct svc *s = d.svcs; s; s = s->next)
        c.n[s->state]++;
    status_update(&d.status, &c);
}

/* ------------------------------------------------------------------ config */

/* Creates the configured message queues. An existing queue of the same
 * geometry is kept with its messages (a daemon restart loses none); one of
 * another geometry is reported and left alone. Removed queues are left in
 * /dev/shm too: a receiver may still drain them. */
static void apply_queues(const struct cfg *c)
{
    for (unsigned i = 0; i < c->n_q; i++) {
        const struct cfg_queue *q = c->q[i];
        int ret = hmk_queue_create(q->name, q->depth, q->size, 0660);
        if (ret == -EEXIST)
            log_err("Queue '%s' exists with another depth or size; remove /dev/shm/hmkq.%s "
                    "to recreate it", q->name, q->name);
        else if (ret < 0)
            log_err("Failed to create queue '%s': %s", q->name, strerror(-ret));
    }
}

static void apply_daemon_cfg(const struct cfg_daemon *c)
{
    log_set_level(c->log_level);
    d.region.pin_monitor = c->pin_monitor;
    if (d.region.pin_monitor_rate != c->pin_monitor_rate)
        pinmon_bucket_init(&d.region.bucket, c->pin_monitor_rate, now_ms());
    d.region.pin_monitor_rate = c->pin_monitor_rate;
    region_rename(&d.region, c->region);
    if (region_attached(&d.region))
        timer_arm(d.hb_fd, c->heartbeat_ms, true);
    else
        timer_disarm(d.hb_fd);
}

static int ctl_listen(const struct cfg_daemon *c);

/* Services from a new configuration: the caller has checked it whole. */
static void apply_services(struct cfg *nc)
{
    struct svc *list = NULL, **tail = &list;

    /* build the new start order; services not in nc stay at the end */
    for (unsigned i = 0; i < nc->n_svc; i++) {
        struct cfg_service *c = nc->svc[i];
        struct svc *s = svc_find(c->name, true), **pp;

        nc->svc[i] = NULL;
        if (s) {
            for (pp = &d.svcs; *pp != s; pp = &(*pp)->next)
                ;
            *pp = s->next;
            if (s->removed) {
                /* dropped by an earlier reload and back before it stopped:
                 * it is wanted again */
                s->removed = false;
                s->goal_up = true;
            }
            if (cfg_service_equal(s->cfg, c) && !s->next_cfg) {
                cfg_service_free(c); /* untouched */
            } else {
                log_info("Service %s changed; restarting it", c->name);
                cfg_service_free(s->next_cfg);
                s->next_cfg = c;
                s->goal_up = true;
                if (s->state == SVC_STARTING || s->state == SVC_RUNNING) {
                    svc_event(s, SVC_EV_STOP, NULL); /* respawns with next_cfg on exit */
                } else if (s->state != SVC_STOPPING) {
                    /* no process: take the new configuration now; reconcile
                     * starts it in after= order */
                    s->next_cfg = NULL;
                    if (svc_set_cfg(s, c) < 0) {
                        log_err("Failed to apply the new configuration of %s: out of memory", c->name);
                        cfg_service_free(c);
                    }
                    if (s->state == SVC_BACKOFF || s->state == SVC_FAILED)
                        svc_event(s, SVC_EV_STOP, NULL); /* -> stopped, timer off */
                }
            }
        } else {
            s = svc_new(c);
            if (!s) {
                log_err("Failed to add service %s: out of memory", c->name);
                cfg_service_free(c);
                continue;
            }
            s->goal_up = true;
            log_info("Added service %s", c->name);
        }
        s->next = NULL;
        *tail = s;
        tail = &s->next;
    }
    for (struct svc *s = d.svcs; s; s = s->next) {
        if (!s->removed)
            log_info("Removing service %s", s->cfg->name);
        s->removed = true;
        s->goal_up = false;
    }
    *tail = d.svcs;
    d.svcs = list;
    nc->n_svc = 0;
}

static void reload(void)
{
    struct cfg_error err;
    struct cfg *nc = NULL;
    bool sock_changed;
    int ret;

    log_info("Reloading %s", d.config_path);
    notify_send("RELOADING=1");
    /* reading the file and looking up users and groups take descriptors:
     * short of them, a lookup would fail as if the user did not exist */
    reserve_release();
    ret = cfg_load(d.config_path, &nc, &err);
    if (ret == -EINVAL) {
        log_err("%s:%d: %s", d.config_path, err.line, err.msg);
        log_err("Reload rejected; keeping the running configuration");
        goto out;
    } else if (ret < 0) {
        errno = -ret;
        log_err("Failed to open '%s': %m; keeping the running configuration", d.config_path);
        goto out;
    }
    sock_changed = strcmp(nc->daemon.control_socket, d.cfg->daemon.control_socket) ||
                   nc->daemon.control_mode != d.cfg->daemon.control_mode ||
                   nc->daemon.has_control_group != d.cfg->daemon.has_control_group ||
                   nc->daemon.control_gid != d.cfg->daemon.control_gid;
    apply_daemon_cfg(&nc->daemon);
    apply_queues(nc);
    if (sock_changed && ctl_listen(&nc->daemon) < 0)
        log_err("Failed to listen on '%s': %m", nc->daemon.control_socket);
    apply_services(nc);
    cfg_free(d.cfg);
    d.cfg = nc;
out:
    ret = reserve_take();
    if (ret < 0)
        fds_short_begin(-ret, "reloading the configuration");
    notify_send("READY=1");
}

/* Whether a live daemon listens at sa. A socket file left by a killed
 * daemon refuses connections, except for a moment after a SIGKILL, when a
 * child between fork and exec may still hold the listening socket: only a
 * socket that keeps taking connections for a second belongs to a daemon
 * (one that is busy, or whose backlog is full, still counts). */
static bool socket_alive(const struct sockaddr_un *sa)
{
    for (int i = 0; i < 10; i++) {
        struct timespec gap = { 0, 100000000 };
        int p = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r, e;

        if (p < 0)
            return true; /* cannot tell: never take over a live daemon's socket */
        r = connect(p, (const struct sockaddr *)sa, sizeof(*sa));
        e = errno;
        close(p);
        if (r < 0 && e != EAGAIN)
            return false;
        if (i < 9)
            nanosleep(&gap, NULL);
    }
    return true;
}

/* ----------------------------------------------------------- control socket */

static int ctl_listen(const struct cfg_daemon *c)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    mode_t old_umask;
    char dir[sizeof(sa.sun_path)], *slash;
    int fd, ret;

    if (d.listen_fd >= 0) {
        close_fd(&d.listen_fd);
        unlink(d.listen_path);
        d.listen_path[0] = '\0';
    }
    if (!*c->control_socket)
        return 0;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->control_socket);
    snprintf(dir, sizeof(dir), "%s", c->control_socket);
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    /* a socket left over by a daemon that was killed goes; one that a
     * running daemon still answers on stays, and we refuse to start */
    {
        struct stat st;
        if (lstat(sa.sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            if (socket_alive(&sa)) {
                close(fd);
                errno = EADDRINUSE;
                return -1;
            }
            unlink(sa.sun_path);
        }
    }
    old_umask = umask(0177); /* no window where the socket is wider open than asked */
    ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old_umask);
    if (ret < 0 || chmod(sa.sun_path, c->control_mode) < 0 ||
        (c->has_control_group && chown(sa.sun_path, (uid_t)-1, c->control_gid) < 0) || listen(fd, 16) < 0)
        goto fail;
    d.w_listen = (struct watch){ W_LISTEN, NULL };
    if (ep_add(fd, &d.w_listen, EPOLLIN) < 0)
        goto fail;
    d.listen_fd = fd;
    snprintf(d.listen_path, sizeof(d.listen_path), "%s", c->control_socket);
    return 0;
fail:
    ret = errno;
    close(fd);
    errno = ret;
    return -1;
}

/* Unlinks and closes now; frees after the current batch of epoll events,
 * which may still hold a pointer to it (see reap_dead_clients). */
static void client_close(struct client *c)
{
    for (struct client **pp = &d.clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    close_fd(&c->fd);
    close_fd(&c->pass_fd);
    free(c->out);
    c->out = NULL;
    c->next = d.dead_clients;
    d.dead_clients = c;
    d.n_clients--;
}

static void reap_dead_clients(void)
{
    while (d.dead_clients) {
        struct client *c = d.dead_clients;
        d.dead_clients = c->next;
        free(c);
    }
}

static int out_append(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int out_append(struct client *c, const char *fmt, ...)
{
    va_list ap;
    char *n;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    n = realloc(c->out, c->out_len + (size_t)len + 1);
    if (!n)
        return -ENOMEM;
    c->out = n;
    va_start(ap, fmt);
    vsnprintf(c->out + c->out_len, (size_t)len + 1, fmt, ap);
    va_end(ap);
    c->out_len += (size_t)len;
    return 0;
}

static void out_record(struct client *c, const struct svc *s, uint64_t now)
{
    out_append(c, "service\t%s\t%s\t%d\t%llu\t%u\t%s\n", s->cfg->name, svc_state_name(s->state),
               (int)s->proc.pid, svc_has_process(s) ? (unsigned long long)(now - s->start_ms) : 0ULL,
               s->restarts, s->last_exit);
}

/* A write channel, the descriptor travelling with the "ok": a service's
 * own (the peer is its main process: libhalmk asks again after the bridge
 * was reloaded, the channel it inherited being the old bridge's), or the
 * tools channel for a user of the writer group (every out pin, like root's
 * halpoke). */
static void out_stats(struct client *c, const struct svc *s)
{
    struct telem_snap sn;
    char line[1024];

    telem_read(&s->tm, &sn);
    sn.deadline_ns = s->cfg->deadline_ns; /* the configured one, whatever the block says */
    if (telem_format(s->cfg->name, &sn, line, sizeof(line)) > 0)
        out_append(c, "%s", line);
}

static void client_channel(struct client *c)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    struct svc *s = NULL;
    int fd;

    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
        s = svc_by_pid(cred.pid);
    if (s && s->chan && svc_writes(s->cfg)) {
        /* a service that re-attached to a new region before we did: it
         * asks again (libhalmk retries on this reply for a second) */
        if (!region_attached(&d.region)) {
            out_append(c, "error\tno region attached (is the bridge loaded?)\n");
            return;
        }
        fd = region_channel_fd(&d.region, s->chan, s->cfg->writes);
        if (fd == -ESTALE) {
            /* the bridge was reloaded and our heartbeat has not noticed
             * yet: notice now (re-attach), then hand out the new channel */
            region_tick(&d.region, now_ms());
            fd = region_attached(&d.region) ? region_channel_fd(&d.region, s->chan, s->cfg->writes)
                                            : -ESTALE;
        }
        if (fd == -ESTALE) {
            out_append(c, "error\tno region attached (is the bridge loaded?)\n");
            return;
        }
        if (fd < 0) {
            out_append(c, "error\tcannot hand service %s its channel: %s\n", s->cfg->name,
                       hmk_strerror(fd));
            return;
        }
        c->pass_fd = fd;
        out_append(c, "ok\n");
        return;
    }
    if (!c->writer) {
        log_warn("Refused a write channel to a peer outside the writer group");
        out_append(c, "error\tpermission denied: writing needs root or the writer-group "
                   "(writer-group = in [daemon])\n");
        return;
    }
    if (!region_attached(&d.region)) {
        out_append(c, "error\tno region attached (is the bridge loaded?)\n");
        return;
    }
    fd = region_tools_channel_fd(&d.region);
    if (fd < 0) {
        out_append(c, "error\tcannot take the tools channel: %s\n", hmk_strerror(fd));
        return;
    }
    c->pass_fd = fd;
    out_append(c, "ok\n");
}

static void client_request(struct client *c, size_t len)
{
    struct ctl_request rq;
    const char *why;
    struct svc *s = NULL;
    uint64_t now = now_ms();

    if (ctl_parse_request(c->in, len, &rq, &why) < 0) {
        out_append(c, "error\t%s\n", why);
        return;
    }
    if (rq.verb == HMK_CTL_CHANNEL) {
        client_channel(c);
        return;
    }
    if (rq.has_name) {
        s = svc_find(rq.name, false);
        if (!s) {
            out_append(c, "error\tno such service: %s\n", rq.name);
            return;
        }
    }
    if (rq.verb == HMK_CTL_STATS) {
        for (struct svc *t = s ? s : d.svcs; t; t = s ? NULL : t->next)
            out_stats(c, t);
        out_append(c, "ok\n");
        return;
    }
    if (rq.verb != HMK_CTL_STATUS) {
        if (!c->priv) {
            log_warn("Refused '%s %s' from an unprivileged peer", hmk_ctl_verb_name(rq.verb), rq.name);
            out_append(c, "error\tpermission denied\n");
            return;
        }
        if (d.shutting_down) {
            out_append(c, "error\tshutting down\n");
            return;
        }
        log_info("Control: %s %s", hmk_ctl_verb_name(rq.verb), rq.name);
        switch (rq.verb) {
        case HMK_CTL_START:
            s->goal_up = true;
            if (s->state == SVC_FAILED || s->state == SVC_BACKOFF)
                svc_event(s, SVC_EV_START, NULL);
            break;
        case HMK_CTL_STOP:
            s->goal_up = false;
            if (s->state == SVC_FAILED)
                svc_event(s, SVC_EV_STOP, NULL);
            break;
        case HMK_CTL_RESTART:
            s->goal_up = true;
            if (s->state == SVC_STARTING || s->state == SVC_RUNNING)
                svc_event(s, SVC_EV_STOP, NULL); /* respawns on exit: goal is up */
            else if (s->state == SVC_FAILED || s->state == SVC_BACKOFF)
                svc_event(s, SVC_EV_START, NULL);
            break;
        default:
            break;
        }
        reconcile();
    }
    if (s)
        out_record(c, s, now);
    else
        for (s = d.svcs; s; s = s->next)
            out_record(c, s, now);
    out_append(c, "ok\n");
}

/* The first bytes of a reply that carries a descriptor go with it. */
static ssize_t client_send_fd(struct client *c)
{
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    struct iovec iov = { c->out, c->out_len };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof(u.buf) };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    ssize_t n;

    memset(&u, 0, sizeof(u));
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &c->pass_fd, sizeof(int));
    n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
    if (n >= 0)
        close_fd(&c->pass_fd);
    return n;
}

static void client_flush(struct client *c)
{
    while (c->out_off < c->out_len) {
        if (c->pass_fd >= 0 && c->out_off == 0) {
            ssize_t n = client_send_fd(c);
            if (n < 0 && errno == EAGAIN) {
                struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &c->w };
                epoll_ctl(d.epfd, EPOLL_CTL_MOD, c->fd, &ev);
                return;
            }
            if (n < 0)
                break;
            c->out_off += (size_t)n;
            continue;
        }
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &c->w };
                epoll_ctl(d.epfd, EPOLL_CTL_MOD, c->fd, &ev);
                return;
            }
            break;
        }
        c->out_off += (size_t)n;
    }
    client_close(c);
}

static void client_io(struct client *c)
{
    char *nl;
    ssize_t n;

    if (c->fd < 0)
        return; /* closed earlier in this batch */
    if (c->out) {
        client_flush(c);
        return;
    }
    n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
    if (n < 0 && errno == EAGAIN)
        return;
    /* a peer that shut its side mid-line still gets one error line */
    if (n < 0 || (n == 0 && c->in_len == 0)) {
        client_close(c);
        return;
    }
    c->in_len += (size_t)n;
    nl = memchr(c->in, '\n', c->in_len);
    if (!nl && c->in_len < sizeof(c->in) && n > 0)
        return;
    client_request(c, nl ? (size_t)(nl - c->in + 1) : c->in_len);
    if (!c->out) {
        client_close(c);
        return;
    }
    client_flush(c);
}

/* The peer (SO_PEERCRED, SO_PEERGROUPS) is root, or in group gid if has. */
static bool peer_in_group(int fd, bool has, gid_t gid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    gid_t groups[256];

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return false;
    if (cred.uid == 0)
        return true;
    if (!has)
        return false;
    if (cred.gid == gid)
        return true;
    len = sizeof(groups);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
        return false;
    for (size_t i = 0; i < len / sizeof(gid_t); i++)
        if (groups[i] == gid)
            return true;
    return false;
}

static bool peer_privileged(int fd)
{
    return peer_in_group(fd, d.cfg->daemon.has_control_group, d.cfg->daemon.control_gid);
}

/* A full table evicts the oldest client that has had CLIENT_GRACE_MS to say
 * something: a peer that connects and stays silent cannot lock the control
 * socket, and no timer is needed while the table is not full. */
#define CLIENT_GRACE_MS 5000u
static void evict_stale_client(void)
{
    struct client *oldest = NULL;

    for (struct client *c = d.clients; c; c = c->next)
        if (!oldest || c->accepted_ms < oldest->accepted_ms)
            oldest = c;
    if (oldest && now_ms() - oldest->accepted_ms >= CLIENT_GRACE_MS)
        client_close(oldest);
}

/* Answers one error line and closes. */
static void refuse(int fd, const char *line)
{
    char sink[HMK_CTL_REQUEST_MAX];

    if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
        /* the peer is gone already */
    }
    /* closing with its request unread would reset the connection and lose
     * the answer: take what it sent so far */
    while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
        ;
    close(fd);
}

/* While short of descriptors: connections waiting in the backlog get a
 * prompt answer instead of none (each borrows a descriptor for a moment,
 * if there is one); a bounded number per tick. */
static void refuse_pending(void)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(d.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        refuse(fd, "error\tthe daemon is out of file descriptors; try again shortly\n");
    }
}

/* Every FDS_TICK_MS while short of descriptors: clients silent for their
 * grace time go (they may be what holds the descriptors), waiting ones are
 * answered; once the reserve can be taken whole again, accept() resumes,
 * and after FDS_QUIET_MS without a shortage the episode is over. */
static void fds_tick(void)
{
    uint64_t x, now = now_ms();

    if (read(d.fds_tick_fd, &x, sizeof(x)) < 0) {
        /* nothing to drain */
    }
    if (!d.fds_short)
        return;
    for (struct client *c = d.clients, *next; c; c = next) {
        next = c->next;
        if (now - c->accepted_ms >= CLIENT_GRACE_MS)
            client_close(c);
    }
    if (reserve_take() < 0) {
        d.fds_short_ms = now;
        if (d.listen_fd >= 0)
            refuse_pending();
        return;
    }
    listen_events(EPOLLIN);
    if (now - d.fds_short_ms >= FDS_QUIET_MS) {
        d.fds_short = false;
        timer_disarm(d.fds_tick_fd);
        log_info("File descriptors available again: control connections accepted");
    }
}

static void ctl_accept(void)
{
    for (;;) {
        int fd = -1, ret;
        struct client *c;

        /* the reserve whole first: clients never take the last descriptors */
        ret = reserve_take();
        if (ret == 0) {
            fd = accept4(d.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            ret = fd < 0 ? -errno : 0;
        }
        if (ret < 0) {
            if (fds_lacking(-ret) || ret == -ENOBUFS || ret == -ENOMEM) {
                /* the released reserve lends the waiting ones a descriptor
                 * each for their answer */
                fds_short_begin(-ret, "accepting a control connection");
                refuse_pending();
            }
            return;
        }
        if (d.n_clients >= MAX_CLIENTS)
            evict_stale_client();
        if (d.n_clients >= MAX_CLIENTS || !(c = calloc(1, sizeof(*c)))) {
            refuse(fd, "error\tbusy\n");
            continue;
        }
        c->fd = fd;
        c->accepted_ms = now_ms();
        c->w = (struct watch){ W_CLIENT, c };
        c->priv = peer_privileged(fd);
        c->writer = peer_in_group(fd, d.cfg->daemon.has_writer_group, d.cfg->daemon.writer_gid);
        c->pass_fd = -1;
        if (ep_add(fd, &c->w, EPOLLIN) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = d.clients;
        d.clients = c;
        d.n_clients++;
    }
}

/* ------------------------------------------------------------------- main */

static void begin_shutdown(void)
{
    if (d.shutting_down)
        return;
    d.shutting_down = true;
    log_info("Stopping all services");
    notify_send("STOPPING=1");
    for (struct svc *s = d.svcs; s; s = s->next)
        s->goal_up = false;
}

static void on_signal(void)
{
    struct signalfd_siginfo si;

    while (read(d.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            reap_all();
            break;
        case SIGHUP:
            if (!d.shutting_down)
                reload();
            break;
        case SIGTERM:
        case SIGINT:
            begin_shutdown();
            break;
        }
    }
}

static void fmt_ns(uint64_t ns, char *buf, size_t len)
{
    if (ns >= 10000000ull)
        snprintf(buf, len, "%.0f ms", ns / 1e6);
    else if (ns >= 10000ull)
        snprintf(buf, len, "%.2f ms", ns / 1e6);
    else
        snprintf(buf, len, "%llu ns", (unsigned long long)ns);
}

/* [DEADLINE]: a service's first missed reaction at once, later ones
 * gathered (telem_misses_due). Read on the heartbeat the daemon runs
 * anyway while attached: reactions need the region. */
static void deadlines_check(void)
{
    uint64_t now = now_ms();

    for (struct svc *s = d.svcs; s; s = s->next) {
        struct telem_snap sn;
        uint64_t due;
        char dl[32], worst[32];

        if (!s->cfg->deadline_ns)
            continue;
        telem_read(&s->tm, &sn);
        due = telem_misses_due(&s->tm, &sn, now);
        if (!due)
            continue;
        fmt_ns(s->cfg->deadline_ns, dl, sizeof(dl));
        fmt_ns(sn.max_ns, worst, sizeof(worst));
        log_warn("[DEADLINE] Service %s missed its %s deadline %llu more time%s (%llu of %llu "
                 "reactions; worst %s)", s->cfg->name, dl, (unsigned long long)due, due == 1 ? "" : "s",
                 (unsigned long long)sn.misses, (unsigned long long)sn.count, worst);
    }
}

static void dispatch(struct watch *w, uint32_t events)
{
    uint64_t x;

    switch (w->kind) {
    case W_SIGNAL:
        on_signal();
        break;
    case W_HEARTBEAT:
        if (read(d.hb_fd, &x, sizeof(x)) < 0) {
            /* spurious */
        }
        region_tick(&d.region, now_ms());
        revoke_due();
        deadlines_check();
        if (!region_attached(&d.region))
            timer_disarm(d.hb_fd);
        break;
    case W_WATCHDOG:
        if (read(d.wd_fd, &x, sizeof(x)) < 0) {
            /* spurious */
        }
        notify_send("WATCHDOG=1");
        break;
    case W_REGION_CHANGE:
        region_on_change(&d.region, now_ms());
        break;
    case W_INOTIFY:
    case W_REGION_RETRY: {
        bool was = region_attached(&d.region);
        if (d.fds_short)
            reserve_release(); /* attaching takes two for a moment */
        if (w->kind == W_INOTIFY)
            region_on_inotify(&d.region);
        else
            region_on_retry(&d.region);
        if (!region_attached(&d.region) && fds_lacking(-d.region.last_err)) {
            fds_short_begin(-d.region.last_err, "attaching the region");
            region_try_attach(&d.region);
        }
        if (!was && region_attached(&d.region)) {
            region_tick(&d.region, now_ms()); /* first heartbeat now */
            timer_arm(d.hb_fd, d.cfg->daemon.heartbeat_ms, true);
        }
        break;
    }
    case W_LISTEN:
        ctl_accept();
        break;
    case W_FDS_TICK:
        fds_tick();
        break;
    case W_LINGER:
        linger_tick();
        break;
    case W_CLIENT:
        client_io(w->obj);
        break;
    case W_SVC_PID:
        reap_all();
        break;
    case W_SVC_STATUS:
        svc_read_status(w->obj);
        break;
    case W_SVC_READY:
        svc_read_ready(w->obj);
        break;
    case W_SVC_TIMER: {
        struct svc *s = w->obj;
        if (read(s->timer_fd, &x, sizeof(x)) == (ssize_t)sizeof(x))
            svc_event(s, SVC_EV_TIMER, NULL);
        break;
    }
    }
    (void)events;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: hal-microkernel [-c FILE] [-n]\n"
               "  -c, --config FILE  configuration (default " DEFAULT_CONFIG ")\n"
               "  -n, --check        check the configuration and exit (0 = valid)\n"
               "  -h, --help         this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "check", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct cfg_error err;
    struct cfg *cfg = NULL;
    bool check = false;
    sigset_t mask;
    uint64_t wd_usec = 0;
    int opt, ret, rc = 1;

    d.config_path = DEFAULT_CONFIG;
    while ((opt = getopt_long(argc, argv, "c:nh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': d.config_path = optarg; break;
        case 'n': check = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("hal-microkernel " HMK_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    ret = cfg_load(d.config_path, &cfg, &err);
    if (ret == -EINVAL) {
        if (check)
            fprintf(stderr, "%s:%d: %s\n", d.config_path, err.line, err.msg);
        else
            log_err("%s:%d: %s", d.config_path, err.line, err.msg);
        return 1;
    } else if (ret < 0) {
        errno = -ret;
        if (check)
            fprintf(stderr, "Failed to open '%s': %m\n", d.config_path);
        else
            log_err("Failed to open '%s': %m", d.config_path);
        return 1;
    }
    if (check) {
        printf("%s: OK (%u services)\n", d.config_path, cfg->n_svc);
        cfg_free(cfg);
        return 0;
    }
    d.cfg = cfg;
    log_set_level(cfg->daemon.log_level);

    /* orphaned grandchildren (double-forking services) come to us */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        log_warn("Failed to become a child subreaper: %m");
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
        (d.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
        (d.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (d.hb_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0 ||
        (d.fds_tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0 ||
        (d.linger_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0) {
        log_err("Failed to set up the event loop: %m");
        goto out;
    }
    d.w_sig = (struct watch){ W_SIGNAL, NULL };
    d.w_hb = (struct watch){ W_HEARTBEAT, NULL };
    d.w_fds_tick = (struct watch){ W_FDS_TICK, NULL };
    d.w_linger = (struct watch){ W_LINGER, NULL };
    if (ep_add(d.sigfd, &d.w_sig, EPOLLIN) < 0 || ep_add(d.hb_fd, &d.w_hb, EPOLLIN) < 0 ||
        ep_add(d.fds_tick_fd, &d.w_fds_tick, EPOLLIN) < 0 || ep_add(d.linger_fd, &d.w_linger, EPOLLIN) < 0) {
        log_err("Failed to set up the event loop: %m");
        goto out;
    }
    /* first: a second daemon must not touch the running one's region */
    if (ctl_listen(&cfg->daemon) < 0) {
        if (errno == EADDRINUSE)
            log_err("Another hal-microkernel is running on '%s'", cfg->daemon.control_socket);
        else
            log_err("Failed to listen on '%s': %m", cfg->daemon.control_socket);
        goto out;
    }
    if (notify_watchdog_usec(&wd_usec) < 0)
        log_warn("Ignoring a malformed WATCHDOG_USEC or WATCHDOG_PID from the service manager");
    if (wd_usec > 0) {
        d.wd_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        d.w_wd = (struct watch){ W_WATCHDOG, NULL };
        if (d.wd_fd < 0 || ep_add(d.wd_fd, &d.w_wd, EPOLLIN) < 0) {
            log_err("Failed to set up the watchdog timer: %m");
            goto out;
        }
        timer_arm(d.wd_fd, wd_usec / 2000 ? wd_usec / 2000 : 1, true);
        log_info("Watchdog enabled: pinging every %llu ms", (unsigned long long)(wd_usec / 2000));
    }
    ret = region_init(&d.region, cfg->daemon.region);
    if (ret < 0) {
        errno = -ret;
        log_err("Failed to watch " REGION_SHM_DIR " for region '%s': %m; attach only at start",
                cfg->daemon.region);
    }
    d.w_ino = (struct watch){ W_INOTIFY, NULL };
    d.w_retry = (struct watch){ W_REGION_RETRY, NULL };
    d.w_change = (struct watch){ W_REGION_CHANGE, NULL };
    if ((d.region.inotify_fd >= 0 && ep_add(d.region.inotify_fd, &d.w_ino, EPOLLIN) < 0) ||
        (d.region.retry_fd >= 0 && ep_add(d.region.retry_fd, &d.w_retry, EPOLLIN) < 0) ||
        (d.region.change_fd >= 0 && ep_add(d.region.change_fd, &d.w_change, EPOLLIN) < 0)) {
        log_err("Failed to set up the event loop: %m");
        goto out;
    }
    d.region.name[0] = '\0'; /* so apply_daemon_cfg attaches */
    apply_daemon_cfg(&cfg->daemon);
    apply_queues(cfg);
    /* every configured service gets a struct svc, goal up */
    apply_services(cfg);
    ret = reserve_take();
    if (ret < 0)
        fds_short_begin(-ret, "starting up");
    log_info("hal-microkernel started with %s", d.config_path);
    reconcile();
    update_status();
    notify_send("READY=1");

    while (!(d.shutting_down && all_down())) {
        struct epoll_event ev[16];
        int n = epoll_wait(d.epfd, ev, 16, -1);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_err("epoll_wait failed: %m");
            goto out;
        }
        for (int i = 0; i < n; i++) {
            /* watches stay valid for the whole batch: services are freed
             * in reconcile() and clients in reap_dead_clients(), after it */
            dispatch(ev[i].data.ptr, ev[i].events);
        }
        reap_dead_clients();
        reconcile();
        update_status();
    }
    log_info("All services stopped; exiting");
    rc = 0;
out:
    while (d.clients)
        client_close(d.clients);
    reap_dead_clients();
    while (d.svcs) {
        struct svc *s = d.svcs;
        d.svcs = s->next;
        svc_free(s);
    }
    if (d.listen_fd >= 0) {
        close_fd(&d.listen_fd);
        unlink(d.listen_path);
    }
    region_fini(&d.region);
    reserve_release();
    close_fd(&d.fds_tick_fd);
    close_fd(&d.linger_fd);
    close_fd(&d.hb_fd);
    close_fd(&d.wd_fd);
    close_fd(&d.sigfd);
    close_fd(&d.epfd);
    cfg_free(d.cfg);
    return rc;
}
