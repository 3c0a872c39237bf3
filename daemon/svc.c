/* svc.c - see svc.h */
#include "svc.h"
#include "fmt.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2) /* Linux 6.9 */
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

const char *svc_step_name(int step)
{
    switch (step) {
    case SVC_STEP_SETUP: return "setup";
    case SVC_STEP_NICE: return "setpriority";
    case SVC_STEP_AFFINITY: return "sched_setaffinity";
    case SVC_STEP_SCHED: return "sched";
    case SVC_STEP_RLIMIT: return "setrlimit";
    case SVC_STEP_GROUPS: return "setgroups";
    case SVC_STEP_SETGID: return "setgid";
    case SVC_STEP_SETUID: return "setuid";
    case SVC_STEP_EXEC: return "exec";
    }
    return "?";
}

bool svc_report_transient(const struct svc_exec_report *rep)
{
    return rep->err == EMFILE || rep->err == ENFILE || rep->err == ENOMEM || rep->err == EAGAIN;
}

int svc_signal(const struct svc_proc *p, int sig)
{
    if (p->pidfd >= 0) {
        if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) < 0)
            return -errno;
        return 0;
    }
    /* no pidfds (ENOSYS: kernel < 5.3, or valgrind): the pid is still safe
     * because it is our own child and we have not reaped it yet */
    if (p->pid <= 0)
        return -ESRCH;
    if (kill(p->pid, sig) < 0)
        return -errno;
    return 0;
}

bool svc_group_pinned(pid_t pgid)
{
    char path[64], buf[4096];
    struct dirent *de;
    bool found = false;
    DIR *dir;

    /* the subreaper inherits whatever outlived its parent: our own children,
     * listed per thread that forked or adopted them */
    dir = opendir("/proc/self/task");
    if (!dir)
        return false;
    while (!found && (de = readdir(dir))) {
        ssize_t n;
        int fd;
        if (de->d_name[0] == '.')
            continue;
        fmt(path, sizeof(path), "/proc/self/task/%.16s/children", de->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        for (char *p = buf, *end; !found && *p; p = end) {
            long pid = strtol(p, &end, 10);
            if (end == p)
                break;
            found = pid > 0 && getpgid((pid_t)pid) == pgid;
        }
    }
    closedir(dir);
    return found;
}

int svc_signal_group(int pidfd, pid_t pgid, int sig, bool leader_unreaped)
{
    if (pgid <= 0)
        return -ESRCH;
    if (pidfd >= 0) {
        if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, PIDFD_SIGNAL_PROCESS_GROUP) == 0)
            return 0;
        if (errno != EINVAL) /* EINVAL: a kernel without the flag (< 6.9) */
            return -errno;
    }
    /* by number: exact only while the number cannot name another group,
     * i.e. while a member of it is still our unreaped child */
    if (!leader_unreaped && !svc_group_pinned(pgid))
        return -ESRCH;
    if (kill(-pgid, sig) < 0)
        return -errno;
    return 0;
}

/* "KEY=a,b,c" from a NULL-terminated list (NULL: "KEY="). */
static char *join_env(const char *key, char *const *v)
{
    size_t len = strlen(key) + 1;
    char *e;

    for (char *const *w = v; w && *w; w++)
        len += strlen(*w) + 1;
    e = malloc(len);
    if (!e)
        return NULL;
    strcpy(e, key);
    for (char *const *w = v; w && *w; w++) {
        if (w != v)
            strcat(e, ",");
        strcat(e, *w);
    }
    return e;
}

int svc_build_env(const struct cfg_service *cfg, const char *region, const char *ctl,
                  const struct svc_pass *pass, char ***out)
{
    size_t n = 0, i = 0;
    char **env;

    while (cfg->env && cfg->env[n])
        n++;
    env = calloc(n + 9, sizeof(*env));
    if (!env)
        return -ENOMEM;
    for (; i < n; i++)
        if (!(env[i] = strdup(cfg->env[i])))
            goto oom;
    if (!(env[i++] = fmt_dup(HMK_ENV_REGION "=%s", region)))
        goto oom;
    if (cfg->ready == CFG_READY_FD && !(env[i++] = fmt_dup(HMK_ENV_READY_FD "=%d", SVC_READY_FD)))
        goto oom;
    if (pass && pass->chan_fd >= 0 && !(env[i++] = fmt_dup(HMK_ENV_CHANNEL_FD "=%d", SVC_CHANNEL_FD)))
        goto oom;
    if (pass && pass->telem_fd >= 0 && !(env[i++] = fmt_dup(HMK_ENV_TELEMETRY_FD "=%d", SVC_TELEMETRY_FD)))
        goto oom;
    if (cfg->has_writes && ctl && *ctl && !(env[i++] = fmt_dup(HMK_ENV_CONTROL_SOCKET "=%s", ctl)))
        goto oom;
    if (cfg->has_queues) {
        /* libhalmk lets it open exactly these queues, for these directions */
        if (!(env[i++] = join_env(HMK_ENV_QUEUES_SEND "=", cfg->q_send)) ||
            !(env[i++] = join_env(HMK_ENV_QUEUES_RECV "=", cfg->q_recv)))
            goto oom;
    }
    if (cfg->has_writes) {
        /* libhalmk grants write access to exactly these pins */
        size_t len = sizeof(HMK_ENV_WRITE_PINS "=");
        char *e;
        for (char **w = cfg->writes; w && *w; w++)
            len += strlen(*w) + 1;
        e = env[i++] = malloc(len);
        if (!e)
            goto oom;
        strcpy(e, HMK_ENV_WRITE_PINS "=");
        for (char **w = cfg->writes; w && *w; w++) {
            if (w != cfg->writes)
                strcat(e, ",");
            strcat(e, *w);
        }
    }
    *out = env;
    return 0;
oom:
    cfg_strv_free(env);
    return -ENOMEM;
}

static int set_rlimit(int res, uint64_t v)
{
    struct rlimit rl;

    if (v == CFG_RLIM_UNSET)
        return 0;
    rl.rlim_cur = rl.rlim_max = (rlim_t)v;
    return setrlimit(res, &rl);
}

/* execvpe() would search the daemon's own PATH; a service's program is
 * looked up in the PATH its configuration gives it (env = PATH=...), else
 * /bin:/usr/bin. No allocation: this runs between fork and exec. Returns
 * only on failure, with errno from the most telling attempt. */
static void exec_in_path(char *const argv[], char *const env[])
{
    const char *path = "/bin:/usr/bin", *p;
    char buf[4096];
    int saved = ENOENT;

    if (strchr(argv[0], '/')) {
        execve(argv[0], argv, env);
        return;
    }
    for (size_t i = 0; env[i]; i++)
        if (strncmp(env[i], "PATH=", 5) == 0)
            path = env[i] + 5;
    for (p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        size_t flen = strlen(argv[0]);

        if (dlen + 1 + flen < sizeof(buf)) {
            memcpy(buf, dlen ? p : ".", dlen ? dlen : 1);
            if (!dlen)
                dlen = 1;
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, argv[0], flen + 1);
            execve(buf, argv, env);
            if (errno != ENOENT && errno != ENOTDIR)
                saved = errno; /* e.g. EACCES: tell that rather than ENOENT */
        }
        p += end ? (size_t)(end - p) + 1 : strlen(p);
    }
    errno = saved;
}

#define SVC_MAX_GROUPS 256 /* a user in more groups fails at setgroups, E2BIG */

/* The user's groups (or only the primary group), with the writer group
 * added for a service granted pins to write and taken away from any other,
 * whatever /etc/group says: the region's access list then lets exactly the
 * granted services open it read-write. -1 with errno on failure. */
static int set_groups(const struct cfg_service *cfg)
{
    gid_t g[SVC_MAX_GROUPS + 1];
    int n = SVC_MAX_GROUPS, k = 0;
    bool writer = cfg->has_writes && cfg->writes && cfg->writes[0];

    if (!cfg->has_user) {
        g[0] = cfg->gid;
        n = 1;
    } else if (getgrouplist(cfg->user, cfg->gid, g, &n) < 0) {
        errno = E2BIG;
        return -1;
    }
    /* write rights are channels now: the writer group only ever loses */
    (void)writer;
    for (int i = 0; i < n; i++)
        if (!cfg->has_writer_gid || g[i] != cfg->writer_gid)
            g[k++] = g[i];
    return setgroups((size_t)k, g);
}

/* The signals the daemon ignores, which a child would inherit across exec
 * (handlers exec resets itself): every signal until svc_signals_init(). */
static sigset_t ignored;
static bool ignored_known;

void svc_signals_init(void)
{
    sigemptyset(&ignored);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
            sigaddset(&ignored, sig);
    }
    ignored_known = true;
}

/* Runs in the child between fork and exec: only async-signal-safe calls,
 * as far as dropping privileges allows (the daemon forks from its main
 * thread; its one other thread, the pin monitor's watcher, holds no lock
 * while it waits). */
static __attribute__((noreturn)) void child(const struct cfg_service *cfg, char **env, pid_t parent,
                                            int status_w, int ready_w, const struct svc_pass *pass)
{
    struct svc_exec_report rep = { 0, 0 };
    /* what lands on SVC_READY_FD, SVC_CHANNEL_FD, SVC_TELEMETRY_FD (-1: nothing) */
    int fds[3] = { ready_w, pass ? pass->chan_fd : -1, pass ? pass->telem_fd : -1 };
    int top = -1; /* the highest descriptor the service keeps */
    sigset_t all;
    int step = SVC_STEP_SETUP;

    sigemptyset(&all);
    /* the daemon blocks signals for its signalfd and ignores some: exec
     * keeps both (handlers it resets itself) */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP && (!ignored_known || sigismember(&ignored, sig) == 1))
            signal(sig, SIG_DFL);
    if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
        goto fail;
    /* own session: terminal signals and the daemon's group stay separate */
    if (setsid() < 0)
        goto fail;
    /* first every one of ours above the three targets, so that no dup2
     * clobbers another (the copies close on exec) */
    if ((status_w = fcntl(status_w, F_DUPFD_CLOEXEC, SVC_TELEMETRY_FD + 1)) < 0)
        goto fail;
    for (int k = 0; k < 3; k++)
        if (fds[k] >= 0 && (fds[k] = fcntl(fds[k], F_DUPFD_CLOEXEC, SVC_TELEMETRY_FD + 1)) < 0)
            goto fail;
    for (int k = 0; k < 3; k++) {
        if (fds[k] < 0)
            continue;
        if (dup2(fds[k], SVC_READY_FD + k) < 0)
            goto fail;
        top = SVC_READY_FD + k;
    }
    /* everything else but 0, 1, 2 closes on exec; most already does
     * (O_CLOEXEC everywhere), this catches strays, also in the holes
     * below `top` */
    if (syscall(SYS_close_range, top >= 0 ? top + 1 : SVC_READY_FD, ~0U, CLOSE_RANGE_CLOEXEC) < 0 &&
        errno != ENOSYS) /* kernel < 5.11, valgrind */
        goto fail;
    for (int k = 0; k < 3 && SVC_READY_FD + k < top; k++)
        if (fds[k] < 0 && fcntl(SVC_READY_FD + k, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
            goto fail;
    step = SVC_STEP_NICE;
    errno = 0;
    if (cfg->has_nice && setpriority(PRIO_PROCESS, 0, cfg->nice) < 0)
        goto fail;
    step = SVC_STEP_AFFINITY;
    if (cfg->has_affinity && sched_setaffinity(0, sizeof(cfg->affinity), &cfg->affinity) < 0)
        goto fail;
    /* as root, before setuid: a realtime class needs CAP_SYS_NICE, which
     * the service itself never gets (its own RLIMIT_RTPRIO stays 0) */
    step = SVC_STEP_SCHED;
    if (cfg->sched.cls != SCHED_CLASS_UNSET && (errno = -sched_apply(&cfg->sched)) != 0)
        goto fail;
    step = SVC_STEP_RLIMIT;
    if (set_rlimit(RLIMIT_AS, cfg->limit_as) < 0 || set_rlimit(RLIMIT_CPU, cfg->limit_cpu) < 0 ||
        set_rlimit(RLIMIT_NOFILE, cfg->limit_nofile) < 0 ||
        set_rlimit(RLIMIT_RTTIME, cfg->limit_rttime) < 0)
        goto fail;
    step = SVC_STEP_GROUPS;
    if ((cfg->has_user || cfg->has_group) && set_groups(cfg) < 0)
        goto fail;
    step = SVC_STEP_SETGID;
    if ((cfg->has_user || cfg->has_group) && setgid(cfg->gid) < 0)
        goto fail;
    step = SVC_STEP_SETUID;
    if (cfg->has_user && setuid(cfg->uid) < 0)
        goto fail;
    /* a daemon killed outright (SIGKILL, OOM) must not leave its services
     * running unsupervised beside the next instance, which starts its own:
     * they get SIGTERM when it dies. Set after setuid, which clears it. */
    step = SVC_STEP_SETUP;
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
        goto fail;
    step = SVC_STEP_EXEC;
    exec_in_path(cfg->argv, env);
fail:
    rep.step = step;
    rep.err = errno;
    if (write(status_w, &rep, sizeof(rep)) < 0) {
        /* nothing left to tell anyone */
    }
    _exit(127);
}

int svc_spawn(const struct cfg_service *cfg, const char *region, const char *ctl,
              const struct svc_pass *pass, struct svc_proc *out)
{
    int status_p[2] = { -1, -1 }, ready_p[2] = { -1, -1 };
    char **env = NULL;
    pid_t pid, parent;
    int pidfd, ret;

    ret = svc_build_env(cfg, region, ctl, pass, &env);
    if (ret < 0)
        return ret;
    if (pipe2(status_p, O_CLOEXEC) < 0 ||
        (cfg->ready == CFG_READY_FD && pipe2(ready_p, O_CLOEXEC) < 0)) {
        ret = -errno;
        goto fail;
    }
    /* the daemon's pid taken before fork: read in the child, getppid()
     * would already name the reaper if the daemon died in between */
    parent = getpid();
    pid = fork();
    if (pid < 0) {
        ret = -errno;
        goto fail;
    }
    if (pid == 0)
        child(cfg, env, parent, status_p[1], ready_p[1], pass);
    close(status_p[1]);
    status_p[1] = -1;
    if (ready_p[1] >= 0) {
        close(ready_p[1]);
        ready_p[1] = -1;
    }
    cfg_strv_free(env);
    env = NULL;
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0 && errno != ENOSYS) {
        /* still our unreaped child: its pid cannot have been reused yet,
         * so kill and reap it by pid this once */
        ret = -errno;
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        goto fail;
    }
    /* only our read ends are non-blocking: the service gets a plain pipe */
    fcntl(status_p[0], F_SETFL, O_NONBLOCK);
    if (ready_p[0] >= 0)
        fcntl(ready_p[0], F_SETFL, O_NONBLOCK);
    out->pid = pid;
    out->pidfd = pidfd;
    out->status_fd = status_p[0];
    out->ready_fd = ready_p[0];
    return 0;

fail:
    cfg_strv_free(env);
    for (int i = 0; i < 2; i++) {
        if (status_p[i] >= 0)
            close(status_p[i]);
        if (ready_p[i] >= 0)
            close(ready_p[i]);
    }
    return ret;
}
