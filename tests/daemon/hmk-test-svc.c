/*
 * hmk-test-svc - a service with scripted misbehaviour, for the daemon's
 * integration tests. Every event is appended, one write per line, to the file
 * named by $HMK_TEST_LOG as "EVENT NAME PID MONOTONIC_NS [DETAIL]".
 *
 *   hmk-test-svc NAME run             log start, run until SIGTERM (log stop, exit 0)
 *   hmk-test-svc NAME crash MS CODE   log start, after MS ms log crash and exit CODE
 *   hmk-test-svc NAME ignore-term     log start, ignore SIGTERM, run until killed
 *   hmk-test-svc NAME ready MS        log start, after MS ms log ready and write
 *                                     READY=1 to $HMK_READY_FD, then as run
 *   hmk-test-svc NAME double-fork     log start, leave an orphaned grandchild
 *                                     that exits after 100 ms, then as run
 *   hmk-test-svc NAME group MS        log start; fork a member (log member,
 *                                     then as run) and, double-forked, a
 *                                     stubborn one that ignores SIGTERM (log
 *                                     stubborn); both stay in the service's
 *                                     process group. Then MS = 0: as run;
 *                                     else after MS ms log crash, exit 1
 *   hmk-test-svc NAME hog             log start, allocate and touch 1 MiB at a
 *                                     time until allocation fails (log oom MIB),
 *                                     then abort() as a program whose malloc
 *                                     failed would; with no limit in force it
 *                                     stops at 1 GiB (log cap MIB, exit 3)
 *   hmk-test-svc NAME env             log start, one "env" line per variable,
 *                                     one "fd" line per open fd, "id", "nice",
 *                                     "affinity", "nofile" lines, then as run
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static const char *name = "?";
static int log_fd = -1;

static void ev(const char *event, const char *fmt, ...)
{
    char line[1024], detail[900] = "";
    struct timespec ts;
    va_list ap;
    int n;

    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    n = snprintf(line, sizeof(line), "%s %s %d %lld%s%s\n", event, name, (int)getpid(),
                 (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, *detail ? " " : "", detail);
    if (log_fd >= 0 && write(log_fd, line, (size_t)n) < 0)
        _exit(99);
}

static void on_term(int sig)
{
    (void)sig;
    ev("stop", NULL);
    _exit(0);
}

static void msleep(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0)
        ;
}

static void run(void)
{
    signal(SIGTERM, on_term);
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    const char *logp = getenv("HMK_TEST_LOG");
    const char *mode;

    if (argc < 3) {
        fprintf(stderr, "usage: hmk-test-svc NAME MODE [ARGS]\n");
        return 2;
    }
    name = argv[1];
    mode = argv[2];
    if (logp)
        log_fd = open(logp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    /* the env mode reports fds: list them before opening anything else */
    if (!strcmp(mode, "env")) {
        DIR *dir = opendir("/proc/self/fd");
        struct dirent *de;
        char list[512] = "";
        cpu_set_t cs;
        struct rlimit rl;
        while (dir && (de = readdir(dir))) {
            int fd = atoi(de->d_name);
            if (de->d_name[0] == '.' || fd == dirfd(dir) || fd == log_fd)
                continue;
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d", *list ? "," : "", fd);
        }
        if (dir)
            closedir(dir);
        ev("start", NULL);
        ev("fds", "%s", list);
        for (char **e = environ; *e; e++)
            ev("env", "%s", *e);
        ev("id", "uid=%d gid=%d", (int)getuid(), (int)getgid());
        ev("nice", "%d", getpriority(PRIO_PROCESS, 0));
        if (sched_getaffinity(0, sizeof(cs), &cs) == 0)
            ev("affinity", "%d", CPU_COUNT(&cs));
        getrlimit(RLIMIT_NOFILE, &rl);
        ev("nofile", "%llu", (unsigned long long)rl.rlim_cur);
        run();
    }
    ev("start", NULL);
    if (!strcmp(mode, "run")) {
        run();
    } else if (!strcmp(mode, "crash") && argc == 5) {
        msleep(atol(argv[3]));
        ev("crash", NULL);
        _exit(atoi(argv[4]));
    } else if (!strcmp(mode, "ignore-term")) {
        signal(SIGTERM, SIG_IGN);
        for (;;)
            pause();
    } else if (!strcmp(mode, "ready") && argc == 4) {
        const char *fds = getenv("HMK_READY_FD");
        msleep(atol(argv[3]));
        /* logged first: once the daemon has READY=1 it may start what is
         * after= us, whose start line must come after this one */
        ev("ready", NULL);
        if (!fds || write(atoi(fds), "READY=1\n", 8) != 8)
            _exit(98);
        close(atoi(fds));
        run();
    } else if (!strcmp(mode, "group") && argc == 4) {
        long ms = atol(argv[3]);
        if (fork() == 0) {
            ev("member", NULL);
            run();
        }
        if (fork() == 0) {
            if (fork() == 0) {
                signal(SIGTERM, SIG_IGN);
                ev("stubborn", NULL);
                for (;;)
                    pause();
            }
            _exit(0);
        }
        if (!ms)
            run();
        msleep(ms);
        ev("crash", NULL);
        _exit(1);
    } else if (!strcmp(mode, "hog")) {
        unsigned mib = 0;
        for (char *p; (p = malloc(1 << 20)); mib++) {
            memset(p, 1, 1 << 20); /* touched: resident, not just reserved */
            if (mib == 1024) { /* no limit in force: do not take the machine */
                ev("cap", "%u", mib);
                return 3;
            }
        }
        ev("oom", "%u", mib);
        abort();
    } else if (!strcmp(mode, "double-fork")) {
        pid_t p = fork();
        if (p == 0) {
            if (fork() == 0) {
                msleep(100);
                ev("grandchild-exit", NULL);
                _exit(0);
            }
            _exit(0);
        }
        run();
    }
    fprintf(stderr, "hmk-test-svc: bad arguments\n");
    return 2;
}
