/*
 * hmk-test-region - a userspace bridge for tests without HAL: creates a
 * region laid out by include/hmk_region.h, with its change stream, its
 * sealed control block and write channels, and then runs in the background
 * as the bridge would, once a millisecond: publishes in values and the
 * merged out values (bridge/hmk_merge.c, the bridge's own merge rule),
 * mirrors the daemon's heartbeat into `connected`, wakes the daemon's relay.
 * The daemon takes its capabilities from this process as it would from
 * rtapi_app (pidfd_getfd), so the simulator must run as the daemon's user.
 *
 *   hmk-test-region create NAME NPINS [CHANNELS]
 *         float slots pin.0 .. pin.N-1 (in + out); returns once the region is
 *         in place, the simulator keeps running until `detach`, one cycle a
 *         millisecond or every $HMK_SIM_PERIOD_US microseconds
 *   hmk-test-region set-in NAME IDX VALUE     returns once a cycle published it
 *   hmk-test-region burst NAME ROUNDS MS      ROUNDS rounds, MS apart: pins 1, 2 and
 *         3 set to the round number in one cycle (a burst whose pace does not
 *         depend on how long this machine takes to start a process)
 *   hmk-test-region get-out NAME IDX          the out value the "bridge" applied
 *   hmk-test-region heartbeat NAME            "PID NS" of the daemon's heartbeat
 *   hmk-test-region detach NAME               marks it detached, unlinks it, stops
 *
 * Run as hmk-web-region (the web dashboard's tests, bench/web.sh), the same
 * program adds the pins lamp (bit out), estop (bit in) and count (s32 in)
 * after the slots, and takes the commands those tests use:
 *   hmk-web-region set NAME IDX VALUE         in value of pin IDX, as its type
 *   hmk-web-region out NAME IDX               out value of pin IDX (%.17g)
 *   hmk-web-region beat NAME MS               plays the daemon: stamps its
 *         heartbeat every MS until killed
 *   hmk-web-region clock NAME IDX HZ SECONDS  pin IDX = the wall clock in ms,
 *         HZ times a second (the page's latency probe)
 *   hmk-web-region storm NAME HZ SECONDS      every float pin changes in every
 *         cycle, HZ cycles a second
 *
 * Requests travel to the simulator over an abstract datagram socket named
 * after the region; each gets one reply line ("ok" or "error: ...").
 */
#include "hmk_merge.c"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "halmk.h"

/* the simulated servo period: 1 ms, or $HMK_SIM_PERIOD_US (100 to
 * 1000000) where many simulators must share a machine (bench/mqtt-fleet.sh) */
static long sim_period_ns = 1000000L;
#define SIM_STREAM_DEPTH 4096u
#define SIM_REPLY_TIMEOUT_S 60

struct sim {
    char name[NAME_MAX];
    char path[PATH_MAX], spath[PATH_MAX];
    struct hmk_shm *shm;
    struct hmk_stream_hdr *st;
    uint64_t st_head;
    struct hmk_ctl *ctl;
    int fds[2 + HMK_MAX_CHANNELS];
    unsigned npins, nslots;
    uint64_t in_next[HMK_MAX_PINS], in_last[HMK_MAX_PINS];
    uint64_t cycle;
    int sock;
    ino_t ino;
};

static struct hmk_merge mg;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void sock_addr(const char *name, struct sockaddr_un *a, socklen_t *len)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "hmk-test-region/%s", name);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a->sun_path + 1));
}

static void *map_fd(int fd, size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        die("mmap");
    memset(p, 0, size);
    return p;
}

static int sealed_memfd(const char *what, size_t size)
{
    int fd = memfd_create(what, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        die("memfd");
    return fd;
}

static int shm_file(const char *tmp, size_t size)
{
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
        die(tmp);
    return fd;
}

static uint64_t ino_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Everything the bridge's rtapi_app_main makes, under temporary names. */
static void sim_build(struct sim *s, unsigned nchan, char *tmp, char *stmp)
{
    struct hmk_region_header *h;
    struct timespec ts;
    uint64_t gen;
    int fd, sfd;

    clock_gettime(CLOCK_REALTIME, &ts);
    gen = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    fd = shm_file(tmp, sizeof(*s->shm));
    s->shm = map_fd(fd, sizeof(*s->shm));
    s->ino = (ino_t)ino_of(fd);
    sfd = shm_file(stmp, sizeof(struct hmk_stream_hdr) + SIM_STREAM_DEPTH * sizeof(struct hmk_stream_rec));
    s->st = map_fd(sfd, sizeof(struct hmk_stream_hdr) + SIM_STREAM_DEPTH * sizeof(struct hmk_stream_rec));
    close(sfd);
    s->st->depth = SIM_STREAM_DEPTH;
    s->st->generation = gen;
    s->st->magic = HMK_STREAM_MAGIC;
    s->fds[0] = fd;
    s->fds[1] = sealed_memfd("hmk-test-ctl", sizeof(struct hmk_ctl));
    s->ctl = map_fd(s->fds[1], sizeof(struct hmk_ctl));
    h = &s->shm->hdr;
    for (unsigned i = 0; i < s->nslots; i++) {
        snprintf(s->shm->pin[i].name, sizeof(s->shm->pin[i].name), "pin.%u", i);
        s->shm->pin[i].type = HMK_RT_FLOAT;
        s->shm->pin[i].dir = HMK_RD_IO;
        s->shm->pin[i].flags = HMK_PIN_SLOT;
    }
    if (s->npins > s->nslots) { /* hmk-web-region's typed pins */
        static const struct { const char *name; uint8_t type, dir; } extra[3] = {
            { "lamp", HMK_RT_BIT, HMK_RD_OUT }, { "estop", HMK_RT_BIT, HMK_RD_IN },
            { "count", HMK_RT_S32, HMK_RD_IN },
        };
        for (unsigned k = 0; k < 3; k++) {
            struct hmk_pin_desc *d = &s->shm->pin[s->nslots + k];
            snprintf(d->name, sizeof(d->name), "%s", extra[k].name);
            d->type = extra[k].type;
            d->dir = extra[k].dir;
        }
    }
    hmk_region_header_init(s->shm, s->npins, nchan, gen, "microkernel", 500);
    h->rtapi_pid = (int32_t)getpid();
    h->region_fd = fd;
    h->region_ino = ino_of(fd);
    h->ctl_fd = s->fds[1];
    h->ctl_ino = ino_of(s->fds[1]);
    hmk_ctl_init(s->ctl, nchan, gen);
    mg.nchan = nchan;
    mg.pin = s->shm->pin;
    mg.h = h;
    mg.ctl = s->ctl;
    for (unsigned k = 0; k < nchan; k++) {
        int cfd = s->fds[2 + k] = sealed_memfd("hmk-test-channel", sizeof(struct hmk_chan));
        struct hmk_chan *c = map_fd(cfd, sizeof(struct hmk_chan));
        hmk_chan_init(c, k, gen);
        h->chan_fd[k] = cfd;
        h->chan_ino[k] = ino_of(cfd);
        mg.chan[k] = c;
    }
    hmk_merge_init(&mg, s->npins);
    hmk_region_publish(h);
}

/* One bridge cycle: in values (with the stream), the merged out values,
 * connected from the heartbeat, and the relay wake when anything changed. */
static void sim_cycle(struct sim *s)
{
    struct hmk_region_header *h = &s->shm->hdr;
    struct timespec ts;
    uint64_t now, hb, q;
    bool changed, connected;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    hmk_merge_all(&mg);
    changed = mg.out_dirty;
    mg.out_dirty = false;
    s->cycle++;
    q = hmk_in_write_begin(&s->shm->in);
    for (unsigned i = 0; i < s->npins; i++) {
        if ((s->shm->pin[i].dir & HMK_RD_IN) && s->in_next[i] != s->in_last[i]) {
            s->in_last[i] = s->in_next[i];
            changed = true;
            atomic_store_explicit(&s->shm->in.changed_cycle[i], s->cycle, memory_order_relaxed);
            hmk_stream_append(s->st, &s->st_head, SIM_STREAM_DEPTH, s->cycle, now, i,
                              s->in_last[i]);
        }
        atomic_store_explicit(&s->shm->in.value[i], s->in_last[i], memory_order_relaxed);
        atomic_store_explicit(&s->shm->in.out_value[i], mg.latched[i], memory_order_relaxed);
    }
    atomic_store_explicit(&s->shm->in.cycle, s->cycle, memory_order_relaxed);
    hmk_in_write_end(&s->shm->in, q);
    hb = atomic_load_explicit(&s->ctl->heartbeat_ns, memory_order_acquire);
    connected = hb != 0 && (now <= hb || now - hb <= 500000000ull);
    atomic_store_explicit(&h->daemon_heartbeat_ns, hb, memory_order_relaxed);
    atomic_store_explicit(&h->daemon_pid, atomic_load(&s->ctl->daemon_pid), memory_order_relaxed);
    atomic_store_explicit(&h->connected, connected, memory_order_relaxed);
    if (changed)
        hmk_change_publish(h, s->ctl, connected);
    atomic_store_explicit(&h->bridge_time_ns, now, memory_order_relaxed);
    atomic_store_explicit(&h->bridge_cycle, s->cycle, memory_order_release);
    atomic_fetch_add_explicit(&h->cycles, 1, memory_order_relaxed);
}

static void sim_detach(struct sim *s)
{
    atomic_store_explicit(&s->shm->hdr.state, HMK_STATE_DETACHED, memory_order_release);
    atomic_fetch_add_explicit(&s->shm->hdr.change_word, 2, memory_order_seq_cst);
    syscall(SYS_futex, &s->shm->hdr.change_word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    unlink(s->spath);
    unlink(s->path);
}

static uint64_t encode(uint8_t type, double v)
{
    switch (type) {
    case HMK_RT_BIT:   return v != 0;
    case HMK_RT_S32:   return hmk_enc_s32((int32_t)v);
    case HMK_RT_U32:   return (uint32_t)v;
    default:           return hmk_enc_float(v);
    }
}

struct sim_req {
    struct sockaddr_un from;
    socklen_t fromlen;
    char reply[64];
};

/* Requests are taken before a cycle and answered after it, so a client
 * that gets "ok" knows the cycle that published its value is over. */
static bool sim_take(struct sim *s, struct sim_req *rq, bool *detach)
{
    char buf[128];
    unsigned idx;
    double v;
    ssize_t n;

    rq->fromlen = sizeof(rq->from);
    n = recvfrom(s->sock, buf, sizeof(buf) - 1, MSG_DONTWAIT, (struct sockaddr *)&rq->from,
                 &rq->fromlen);
    if (n < 0)
        return false;
    buf[n] = '\0';
    snprintf(rq->reply, sizeof(rq->reply), "ok");
    if (sscanf(buf, "set %u %lf", &idx, &v) == 2) {
        if (idx < s->npins && (s->shm->pin[idx].dir & HMK_RD_IN))
            s->in_next[idx] = encode(s->shm->pin[idx].type, v);
        else
            snprintf(rq->reply, sizeof(rq->reply), "error: no in pin %u", idx);
    } else if (!strcmp(buf, "beat")) {
        /* a stand-in daemon: the heartbeat the bridge reads from ctl */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        atomic_store(&s->ctl->daemon_pid, (uint32_t)getpid());
        atomic_store(&s->ctl->heartbeat_ns, (uint64_t)ts.tv_sec * 1000000000ull +
                                                (uint64_t)ts.tv_nsec);
    } else if (!strcmp(buf, "storm")) {
        for (unsigned i = 0; i < s->npins; i++)
            if (s->shm->pin[i].type == HMK_RT_FLOAT && (s->shm->pin[i].dir & HMK_RD_IN))
                s->in_next[i] = hmk_enc_float(hmk_dec_float(s->in_next[i]) + 1.0);
    } else if (!strcmp(buf, "detach")) {
        *detach = true;
    } else {
        snprintf(rq->reply, sizeof(rq->reply), "error: bad request");
    }
    return true;
}

static __attribute__((noreturn)) void sim_run(struct sim *s)
{
    struct timespec next;
    struct sim_req rq[16];

    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        unsigned n = 0;
        bool detach = false;
        struct stat st;

        while (n < 16 && sim_take(s, &rq[n], &detach))
            n++;
        sim_cycle(s);
        if (detach)
            sim_detach(s);
        for (unsigned k = 0; k < n; k++)
            sendto(s->sock, rq[k].reply, strlen(rq[k].reply), MSG_DONTWAIT,
                   (struct sockaddr *)&rq[k].from, rq[k].fromlen);
        /* gone (detached, or removed by a test's cleanup): so are we */
        if (detach || (s->cycle % 64 == 0 && (stat(s->path, &st) < 0 || st.st_ino != s->ino)))
            exit(0);
        next.tv_nsec += sim_period_ns;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
}

static void sim_period_from_env(void)
{
    const char *e = getenv("HMK_SIM_PERIOD_US");
    long us = e ? strtol(e, NULL, 10) : 0;

    if (us >= 100 && us <= 1000000)
        sim_period_ns = us * 1000L;
}

static int cmd_create(const char *name, unsigned npins, unsigned nchan, bool web)
{
    static struct sim s;
    char tmp[PATH_MAX], stmp[PATH_MAX];
    struct sockaddr_un a;
    socklen_t len;
    int p[2];
    pid_t pid;
    char c;

    if (npins == 0 || npins > HMK_MAX_PINS || nchan < 2 || nchan > HMK_MAX_CHANNELS) {
        fprintf(stderr, "hmk-test-region: NPINS must be 1..%u, CHANNELS 2..%u\n", HMK_MAX_PINS,
                HMK_MAX_CHANNELS);
        return 2;
    }
    sim_period_from_env();
    snprintf(s.name, sizeof(s.name), "%s", name);
    s.nslots = npins;
    s.npins = npins + (web && npins + 3 <= HMK_MAX_PINS ? 3 : 0);
    snprintf(s.path, sizeof(s.path), "/dev/shm/%s", name);
    snprintf(s.spath, sizeof(s.spath), "/dev/shm/%s%s", name, HMK_STREAM_SUFFIX);
    snprintf(tmp, sizeof(tmp), "/dev/shm/.%s.test", name);
    snprintf(stmp, sizeof(stmp), "/dev/shm/.%s.test.stream", name);
    unlink(tmp);
    unlink(stmp);
    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe");
    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid > 0) {
        close(p[1]);
        /* the region is in place (or the simulator failed) when it says so */
        return read(p[0], &c, 1) == 1 ? 0 : 1;
    }
    close(p[0]);
    setsid();
    s.sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sock_addr(name, &a, &len);
    if (s.sock < 0 || bind(s.sock, (struct sockaddr *)&a, len) < 0)
        die("simulator socket (another simulator for this name?)");
    sim_build(&s, nchan, tmp, stmp);
    sim_cycle(&s);
    if (rename(stmp, s.spath) < 0 || rename(tmp, s.path) < 0)
        die("rename");
    c = 1;
    if (write(p[1], &c, 1) != 1)
        exit(1);
    close(p[1]);
    /* stdio stays open to whoever started us no longer than needed */
    if (freopen("/dev/null", "r", stdin) == NULL || freopen("/dev/null", "w", stdout) == NULL)
        exit(1);
    sim_run(&s);
}

static int request_fd(void)
{
    struct timeval tv = { SIM_REPLY_TIMEOUT_S, 0 };
    sa_family_t fam = AF_UNIX;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    /* autobind: an address the simulator can reply to */
    if (fd < 0 || bind(fd, (struct sockaddr *)&fam, sizeof(fam)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
        die("socket");
    return fd;
}

/* Requests sent together are taken in one cycle (up to 16); then every
 * reply. */
static int requests(int fd, const char *name, char reqs[][64], unsigned n)
{
    struct sockaddr_un a;
    socklen_t len;
    char buf[128];
    ssize_t got;

    sock_addr(name, &a, &len);
    for (unsigned k = 0; k < n; k++)
        if (sendto(fd, reqs[k], strlen(reqs[k]), 0, (struct sockaddr *)&a, len) < 0) {
            fprintf(stderr, "hmk-test-region: no simulator for region '%s': %s\n", name,
                    strerror(errno));
            return 1;
        }
    for (unsigned k = 0; k < n; k++) {
        got = recv(fd, buf, sizeof(buf) - 1, 0);
        if (got < 0) {
            fprintf(stderr, "hmk-test-region: no reply from the simulator of '%s'\n", name);
            return 1;
        }
        buf[got] = '\0';
        if (strcmp(buf, "ok") != 0) {
            fprintf(stderr, "hmk-test-region: %s\n", buf);
            return 1;
        }
    }
    return 0;
}

static int cmd_burst(const char *name, unsigned rounds, long ms)
{
    struct timespec gap = { ms / 1000, (ms % 1000) * 1000000L };
    char reqs[3][64];
    int fd = request_fd(), ret = 0;

    for (unsigned r = 1; r <= rounds && ret == 0; r++) {
        for (unsigned i = 1; i <= 3; i++)
            snprintf(reqs[i - 1], sizeof(reqs[0]), "set %u %u", i, r);
        ret = requests(fd, name, reqs, 3);
        nanosleep(&gap, NULL);
    }
    close(fd);
    return ret;
}

static int cmd_request(const char *name, const char *req)
{
    char reqs[1][64];
    int fd = request_fd(), ret;

    snprintf(reqs[0], sizeof(reqs[0]), "%s", req);
    ret = requests(fd, name, reqs, 1);
    close(fd);
    return ret;
}

/* A request HZ times a second for SECONDS (0: until killed): "set IDX
 * <wall clock ms>" when what is NULL, else what. Replies are awaited, so
 * the pace never outruns the simulator's cycle. */
static int cmd_every(const char *name, const char *what, int idx, double hz, double seconds)
{
    struct timespec next, ts;
    char reqs[1][64];
    int fd = request_fd();
    long step = hz > 0 ? (long)(1e9 / hz) : 1000000L;
    double end;

    clock_gettime(CLOCK_MONOTONIC, &next);
    end = (double)next.tv_sec + next.tv_nsec / 1e9 + seconds;
    for (;;) {
        if (what) {
            snprintf(reqs[0], sizeof(reqs[0]), "%s", what);
        } else {
            clock_gettime(CLOCK_REALTIME, &ts);
            snprintf(reqs[0], sizeof(reqs[0]), "set %d %.3f", idx,
                     (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6);
        }
        if (requests(fd, name, reqs, 1) != 0)
            return 1;
        next.tv_nsec += step;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        if (seconds > 0 && (double)next.tv_sec + next.tv_nsec / 1e9 >= end)
            return 0;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
}

/* Reads the region as any reader may: the heartbeat mirror, an out value. */
static int cmd_look(const char *name, const char *pin, bool raw)
{
    char path[PATH_MAX], b[64];
    const struct hmk_shm *shm;
    unsigned i = pin ? (unsigned)atoi(pin) : 0;
    hmk_value v = { .type = HMK_TYPE_FLOAT };
    int fd;

    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die(path);
    shm = mmap(NULL, sizeof(*shm), PROT_READ, MAP_SHARED, fd, 0);
    if (shm == MAP_FAILED)
        die("mmap");
    close(fd);
    if (!pin) {
        printf("%u %llu\n", (unsigned)atomic_load(&shm->hdr.daemon_pid),
               (unsigned long long)atomic_load(&shm->hdr.daemon_heartbeat_ns));
        return 0;
    }
    if (i >= shm->hdr.pin_count) {
        fprintf(stderr, "hmk-test-region: no pin %s\n", pin);
        return 1;
    }
    v.f = hmk_dec_float(atomic_load(&shm->in.out_value[i]));
    if (raw) {
        printf("%.17g\n", v.f);
        return 0;
    }
    if (hmk_value_format(&v, b, sizeof(b)) < 0)
        return 1;
    printf("%s\n", b);
    return 0;
}

int main(int argc, char **argv)
{
    char req[128];

    const char *me = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    bool web = !strcmp(me, "hmk-web-region");

    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "create"))
        return cmd_create(argv[2], (unsigned)atoi(argv[3]),
                          argc == 5 ? (unsigned)atoi(argv[4]) : HMK_DEFAULT_CHANNELS, web);
    if (argc == 5 && (!strcmp(argv[1], "set-in") || !strcmp(argv[1], "set"))) {
        snprintf(req, sizeof(req), "set %s %s", argv[3], argv[4]);
        return cmd_request(argv[2], req);
    }
    if (argc == 3 && !strcmp(argv[1], "detach"))
        return cmd_request(argv[2], "detach");
    if (argc == 5 && !strcmp(argv[1], "burst"))
        return cmd_burst(argv[2], (unsigned)atoi(argv[3]), atol(argv[4]));
    if ((argc == 3 && !strcmp(argv[1], "heartbeat")) || (argc == 4 && !strcmp(argv[1], "get-out")))
        return cmd_look(argv[2], argc == 4 ? argv[3] : NULL, false);
    if (argc == 4 && !strcmp(argv[1], "out"))
        return cmd_look(argv[2], argv[3], true);
    if (argc == 4 && !strcmp(argv[1], "beat"))
        return cmd_every(argv[2], "beat", -1, 1000.0 / atof(argv[3]), 0);
    if (argc == 6 && !strcmp(argv[1], "clock"))
        return cmd_every(argv[2], NULL, atoi(argv[3]), atof(argv[4]), atof(argv[5]));
    if (argc == 5 && !strcmp(argv[1], "storm"))
        return cmd_every(argv[2], "storm", -1, atof(argv[3]), atof(argv[4]));
    fprintf(stderr, "usage: see the comment at the top of hmk-test-region.c\n");
    return 2;
}
