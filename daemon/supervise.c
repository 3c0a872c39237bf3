/*
 * supervise.c - the services: a record per configured service, its process
 * spawned, watched and reaped, its state driven by the table in svc_fsm.c,
 * and reconcile(), which after every batch of events compares each
 * service's goal (up or down) with its state and feeds the table, honouring
 * after= order: a service starts once everything it is after= is running,
 * and while services go down together (shutdown, reload) one stops only
 * after everything that is after= it has stopped.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "fmt.h"
#include "hmk_region.h"
#include "log.h"
#include "reap.h"

struct svc *svc_find(const char *name, bool include_removed)
{
    for (struct svc *s = d.svcs; s; s = s->next)
        if ((include_removed || !s->removed) && !strcmp(s->cfg->name, name))
            return s;
    return NULL;
}

int svc_set_cfg(struct svc *s, struct cfg_service *c)
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

struct svc *svc_new(struct cfg_service *c)
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
    fmt(s->last_exit, sizeof(s->last_exit), "-");
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

void svc_free(struct svc *s)
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

bool svc_has_process(const struct svc *s)
{
    return s->proc.pid > 0;
}

/* A service's lifecycle line (started, exited, restarting), rate-limited:
 * a crash loop must not flood the journal. What was held back is reported
 * in one line when the next window opens. */
static void svc_log(struct svc *s, struct ratelog *rl, int prio, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
static void svc_log(struct svc *s, struct ratelog *rl, int prio, const char *format, ...)
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
    va_start(ap, format);
    fmt_v(line, sizeof(line), format, ap);
    va_end(ap);
    log_msg(prio, "%s", line);
}

bool svc_writes(const struct cfg_service *c)
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
void revoke_due(void)
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

void linger_tick(void)
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
    fmt(what, sizeof(what), "starting service %s", s->cfg->name);
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
        fmt(s->last_exit, sizeof(s->last_exit), "spawn failed: %s", strerror(-ret));
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

void svc_event(struct svc *s, enum svc_event e, const struct svc_exit_info *x)
{
    enum svc_state old = s->state;
    struct svc_step st = svc_fsm_step(s->state, e, x);
    bool backoff_over = false;

    s->state = st.next;
    if (st.actions & SVC_ACT_CANCEL_TIMER)
        timer_disarm(s->timer_fd);
    if ((st.actions & SVC_ACT_TAKE_CFG) && s->next_cfg) {
        struct cfg_service *c = s->next_cfg;
        s->next_cfg = NULL;
        if (svc_set_cfg(s, c) < 0) {
            log_err("Failed to apply the new configuration of %s: out of memory", c->name);
            cfg_service_free(c);
        }
    }
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
        if (ms)
            timer_arm(s->timer_fd, ms, false);
        else
            backoff_over = true; /* no timer round trip: the TIMER event below */
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
    if (backoff_over)
        svc_event(s, SVC_EV_TIMER, NULL);
}

static void describe_exit(struct svc *s, const siginfo_t *si, bool *clean)
{
    *clean = false;
    if (s->have_report) {
        char cls[40]; /* "deadline:R/D/P" in ns fits */
        if (s->report.step == SVC_STEP_EXEC) {
            fmt(s->last_exit, sizeof(s->last_exit), "exec failed: %s", strerror(s->report.err));
        } else if (s->report.step == SVC_STEP_SCHED) {
            /* the kernel said no (EPERM: no CAP_SYS_NICE or an RT-throttled
             * cgroup; EBUSY: deadline admission; EINVAL: outside its limits) */
            sched_format(&s->cfg->sched, cls, sizeof(cls));
            fmt(s->last_exit, sizeof(s->last_exit), "sched %s refused: %s", cls,
                strerror(s->report.err));
        } else
            fmt(s->last_exit, sizeof(s->last_exit), "%s failed: %s", svc_step_name(s->report.step),
                strerror(s->report.err));
    } else if (si->si_code == CLD_EXITED) {
        *clean = si->si_status == 0;
        fmt(s->last_exit, sizeof(s->last_exit), "exited %d", si->si_status);
    } else {
        const char *name = sigabbrev_np(si->si_status);
        fmt(s->last_exit, sizeof(s->last_exit), "killed by SIG%s%s", name ? name : "?",
            si->si_code == CLD_DUMPED ? " (core dumped)" : "");
    }
}

void svc_read_status(struct svc *s)
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

void svc_read_ready(struct svc *s)
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

/* "64 MiB", "61.6 MiB", "512 KiB": tenths in integers (fmt.h has no %f) */
static void fmt_size(uint64_t bytes, char *buf, size_t len)
{
    static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
    uint64_t div = 1, whole, tenths;
    unsigned u = 0;

    while (bytes / div >= 1024 && u < 4) {
        div *= 1024;
        u++;
    }
    whole = bytes / div;
    tenths = ((bytes % div) * 10 + div / 2) / div;
    if (tenths == 10) {
        whole++;
        tenths = 0;
    }
    if (bytes % div == 0)
        fmt(buf, len, "%llu %s", (unsigned long long)whole, unit[u]);
    else
        fmt(buf, len, "%llu.%llu %s", (unsigned long long)whole, (unsigned long long)tenths, unit[u]);
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
        fmt(s->last_exit, sizeof(s->last_exit), "not ready within %llu ms",
            (unsigned long long)s->cfg->ready_timeout_ms);
    }
    /* a child short of descriptors or memory before exec is retried like a
     * crash; any other report stays wrong until the configuration changes */
    x.exec_failed = s->have_report && !svc_report_transient(&s->report);
    x.clean = clean;
    if (svc_fsm_exit_unwanted(s->state, &x)) {
        bool restarts = !x.exec_failed && (s->cfg->restart == CFG_RESTART_ALWAYS ||
                                           (s->cfg->restart == CFG_RESTART_ON_FAILURE && !clean));
        /* a limit-as death is an abort, a segfault or a failure exit like
         * any other: say how close to its limit the service came */
        if (!clean && !s->have_report && ru && s->cfg->limit_as != CFG_RLIM_UNSET &&
            s->cfg->limit_as != (uint64_t)RLIM_INFINITY) {
            char lim[32], peak[32];
            fmt_size(s->cfg->limit_as, lim, sizeof(lim));
            fmt_size((uint64_t)ru->ru_maxrss * 1024u, peak, sizeof(peak));
            fmt(mem, sizeof(mem), " (limit-as %s; peak resident %s)", lim, peak);
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

struct svc *svc_by_pid(pid_t pid)
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

void reap_all(void)
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

void reconcile(void)
{
    bool changed = true;

    /* the table decides what each goal means in each state */
    while (changed) {
        changed = false;
        for (struct svc *s = d.svcs; s; s = s->next) {
            enum svc_state before = s->state;
            if (s->goal_up && deps_running(s))
                svc_event(s, SVC_EV_UP, NULL);
            else if (!s->goal_up && dependents_down(s))
                svc_event(s, SVC_EV_DOWN, NULL);
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

bool all_down(void)
{
    for (struct svc *s = d.svcs; s; s = s->next)
        if (svc_has_process(s))
            return false;
    return true;
}

void update_status(void)
{
    struct status_counts c = { .region = d.region.name, .attached = region_attached(&d.region) };

    for (struct svc *s = d.svcs; s; s = s->next)
        c.n[s->state]++;
    status_update(&d.status, &c);
}


/* Its timer (backoff, ready-timeout or stop-timeout) fired. */
void svc_timer(struct svc *s)
{
    uint64_t x;

    if (read(s->timer_fd, &x, sizeof(x)) == (ssize_t)sizeof(x))
        svc_event(s, SVC_EV_TIMER, NULL);
}

static void fmt_ns(uint64_t ns, char *buf, size_t len)
{
    if (ns >= 10000000ull) {
        fmt(buf, len, "%llu ms", (unsigned long long)((ns + 500000) / 1000000));
    } else if (ns >= 10000ull) {
        unsigned long long hundredths = (ns + 5000) / 10000; /* of a millisecond */
        fmt(buf, len, "%llu.%02llu ms", hundredths / 100, hundredths % 100);
    } else {
        fmt(buf, len, "%llu ns", (unsigned long long)ns);
    }
}

/* [DEADLINE]: a service's first missed reaction at once, later ones
 * gathered (telem_misses_due). Read on the heartbeat the daemon runs
 * anyway while attached: reactions need the region. */
void deadlines_check(void)
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

