/*
 * main.c - hal-microkernel: the supervisor daemon's event loop, its wiring
 * and its configuration (start, reload).
 *
 * One epoll loop over: a signalfd (SIGTERM, SIGINT, SIGHUP, SIGCHLD), the
 * heartbeat and watchdog timerfds, per service a pidfd, the exec-status
 * pipe, the ready pipe and a timerfd (backoff, ready-timeout or
 * stop-timeout), one timerfd for what outlived a service's main process in
 * its group, the control socket and its clients, the descriptor reserve's
 * timerfd (ctl.c), and inotify on /dev/shm plus a retry timer for the
 * region. Beside the loop, while the region is attached, one thread holds
 * the alive word (alive.c), one relays the bridge's wake-ups to readers
 * (relay.c) and, with pin-monitor on, one waits on the region's change
 * word (region.c). The alive thread and the watcher share an eventfd with
 * the loop each (the watcher's says a value changed, the alive thread's
 * tells it to let go), the relay none; no other state. Nothing is polled:
 * with no region attached and no service changing state the daemon sleeps
 * in epoll_wait indefinitely.
 *
 * After every batch of events reconcile() (supervise.c) brings each service
 * toward its goal; the control socket's clients are in ctl.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "hmk_version.h"
#include "log.h"
#include "notify.h"
#include "pinmon.h"

#define DEFAULT_CONFIG "/etc/hal-microkernel.ini"

struct daemon d = { .epfd = -1, .sigfd = -1, .hb_fd = -1, .wd_fd = -1, .listen_fd = -1, .fds_tick_fd = -1,
        .linger_fd = -1,
        .region = { .inotify_fd = -1, .retry_fd = -1, .change_fd = -1, .inotify_wd = -1 } };

uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int ep_add(int fd, struct watch *w, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = w };

    if (epoll_ctl(d.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    return 0;
}

void close_fd(int *fd)
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

void timer_arm(int fd, uint64_t ms, bool periodic)
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

void timer_disarm(int fd)
{
    struct itimerspec its = { 0 };

    timerfd_settime(fd, 0, &its, NULL);
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
                svc_event(s, SVC_EV_RECONFIGURE, NULL);
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
    case W_SVC_TIMER:
        svc_timer(w->obj);
        break;
    }
    (void)events;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: hal-microkernel [-c FILE] [-n]\n"
               "  -c, --config FILE  configuration (default " DEFAULT_CONFIG ")\n"
               "  -n, --check        check the configuration and exit (0 = valid)\n"
               "  -h, --help         this text\n"
               "      --version      the version\n");
}

enum args { ARGS_RUN, ARGS_CHECK, ARGS_HELP, ARGS_VERSION, ARGS_BAD };

/* The command line, by hand rather than getopt_long: getopt is the only
 * thing that would pull in another page-cache window of libc text and one of
 * its rodata (POSIXLY_CORRECT) into a supervisor that lives for months, and
 * issue 19 holds its memory to s6-supervise's. Accepted: -c FILE, -cFILE,
 * --config FILE, --config=FILE, -n, --check, -h, --help, --version,
 * clusters such as -nc FILE, and "--" ending the options. */
static enum args parse_args(int argc, char **argv)
{
    enum args what = ARGS_RUN;
    int i;

    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[1] == '-') {
            const char *eq = strchr(a, '=');
            size_t n = eq ? (size_t)(eq - a) : strlen(a);

            if (n == 8 && strncmp(a, "--config", n) == 0) {
                if (eq) {
                    d.config_path = eq + 1;
                } else if (i + 1 < argc) {
                    d.config_path = argv[++i];
                } else {
                    fprintf(stderr, "hal-microkernel: option '--config' needs a FILE\n");
                    return ARGS_BAD;
                }
            } else if (!eq && strcmp(a, "--check") == 0) {
                what = what == ARGS_RUN ? ARGS_CHECK : what;
            } else if (!eq && strcmp(a, "--help") == 0) {
                return ARGS_HELP;
            } else if (!eq && strcmp(a, "--version") == 0) {
                return ARGS_VERSION;
            } else {
                fprintf(stderr, "hal-microkernel: unknown option '%s'\n", a);
                return ARGS_BAD;
            }
            continue;
        }
        for (const char *p = a + 1; *p; p++) {
            if (*p == 'n') {
                what = ARGS_CHECK;
            } else if (*p == 'h') {
                return ARGS_HELP;
            } else if (*p == 'c') {
                if (p[1]) {
                    d.config_path = p + 1;
                } else if (i + 1 < argc) {
                    d.config_path = argv[++i];
                } else {
                    fprintf(stderr, "hal-microkernel: option '-c' needs a FILE\n");
                    return ARGS_BAD;
                }
                break;
            } else {
                fprintf(stderr, "hal-microkernel: unknown option '-%c'\n", *p);
                return ARGS_BAD;
            }
        }
    }
    if (i != argc) {
        fprintf(stderr, "hal-microkernel: unexpected argument '%s'\n", argv[i]);
        return ARGS_BAD;
    }
    return what;
}

int main(int argc, char **argv)
{
    struct cfg_error err;
    struct cfg *cfg = NULL;
    bool check = false;
    sigset_t mask;
    uint64_t wd_usec = 0;
    int ret, rc = 1;

    d.config_path = DEFAULT_CONFIG;
    switch (parse_args(argc, argv)) {
    case ARGS_RUN: break;
    case ARGS_CHECK: check = true; break;
    case ARGS_HELP: usage(stdout); return 0;
    case ARGS_VERSION: puts("hal-microkernel " HMK_VERSION); return 0;
    case ARGS_BAD: usage(stderr); return 2;
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
    svc_signals_init();
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

