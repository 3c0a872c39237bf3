/*
 * hmk-attack - plays a hostile reader or a hostile writing service against
 * a live bridge, for tests/fault/isolation. It tries every way it has to
 * crash, stall or fool the realtime side and prints one line per attempt:
 *     blocked: WHAT (why)      the kernel or the bridge's rules refused it
 *     done: WHAT               it happened, and is harmless by design
 *     HOLE: WHAT               it worked and must not have: exit status 1
 * Whether a write that "worked" reached HAL is judged by the test script
 * (halcmd getp), not here: the bridge refuses ungranted pins silently.
 *
 *   hmk-attack reader REGION
 *       as a user who may only read the region: write, truncate, chmod,
 *       unlink, map writable every object; take rtapi_app's capabilities;
 *       write through libhalmk; flood the relay with pokes
 *   hmk-attack writer REGION PIN VALUE
 *       as a service granted PIN (HMK_CHANNEL_FD): write PIN = VALUE the
 *       legitimate way, then resize and re-seal its channel, write every
 *       other pin and a NaN raw into its latch, fill its command ring with
 *       garbage and an absurd tail, scribble the counters, flip the latch
 *       for a while, take the control block; then leave a grandchild that
 *       keeps writing ungranted pins with the inherited channel
 *   hmk-attack victim REGION PIN VALUE
 *       a well-behaved service: writes PIN = VALUE and waits
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "halmk.h"
#include "halmk_tool.h"
#include "halmk_priv.h"
#include "hmk_region.h"

static int holes;

static void outcome(int worked, const char *what, int err)
{
    if (worked) {
        printf("HOLE: %s\n", what);
        holes++;
    } else {
        printf("blocked: %s (%s)\n", what, strerror(err));
    }
    fflush(stdout);
}

/* rc < 0 with errno set means refused */
static void try_(int rc, const char *what)
{
    outcome(rc >= 0, what, errno);
}

static struct hmk_region_header read_header(const char *path)
{
    struct hmk_region_header h;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    memset(&h, 0, sizeof(h));
    if (fd < 0 || pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
        perror(path);
        exit(2);
    }
    close(fd);
    return h;
}

static void attack_object(const char *path)
{
    char what[512];
    void *p;
    int fd;

    snprintf(what, sizeof(what), "open %s read-write", path);
    fd = open(path, O_RDWR | O_CLOEXEC);
    try_(fd, what);
    if (fd >= 0)
        close(fd);
    snprintf(what, sizeof(what), "truncate %s to 0", path);
    try_(truncate(path, 0), what);
    snprintf(what, sizeof(what), "chmod 0666 %s", path);
    try_(chmod(path, 0666), what);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        snprintf(what, sizeof(what), "ftruncate a read-only descriptor of %s", path);
        try_(ftruncate(fd, 0), what);
        snprintf(what, sizeof(what), "map %s writable", path);
        p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        try_(p == MAP_FAILED ? -1 : 0, what);
        snprintf(what, sizeof(what), "punch a hole in %s", path);
        try_(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), what);
        close(fd);
    }
    snprintf(what, sizeof(what), "unlink %s", path);
    try_(unlink(path), what);
}

/* rtapi_app's descriptors: the control block and the channels. */
static void attack_caps(const struct hmk_region_header *h)
{
    char what[512], path[128];
    int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)h->rtapi_pid, 0);

    try_(pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, h->ctl_fd, 0),
         "take the control block from rtapi_app (pidfd_getfd)");
    try_(pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, h->chan_fd[0], 0),
         "take the tools channel from rtapi_app (pidfd_getfd)");
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", h->rtapi_pid, h->ctl_fd);
    snprintf(what, sizeof(what), "open the control block as %s", path);
    try_(open(path, O_RDWR | O_CLOEXEC), what);
    if (pidfd >= 0)
        close(pidfd);
}

static int cmd_reader(const char *region)
{
    char path[256], spath[256];
    struct hmk_region_header h;
    struct sockaddr_un a;
    socklen_t len;
    hmk_region *r;
    int ret, s, sent = 0;

    snprintf(path, sizeof(path), "/dev/shm/%s", region);
    snprintf(spath, sizeof(spath), "/dev/shm/%s%s", region, HMK_STREAM_SUFFIX);
    h = read_header(path);
    attack_object(path);
    attack_object(spath);
    attack_caps(&h);
    ret = hmk_open(region, 0, &r);
    if (ret == 0) {
        ret = hmk_write_float(r, 0, 666.0);
        outcome(ret == 0, "write pin 0 through libhalmk", -ret);
        hmk_close(r);
    }
    /* pokes cost the daemon's relay a recv each; nothing reaches HAL */
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    hmk_poke_addr(region, &a, &len);
    for (int i = 0; s >= 0 && i < 10000; i++)
        sent += sendto(s, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&a, len) == 1;
    printf("done: %d pokes sent to the relay\n", sent);
    return holes ? 1 : 0;
}

/* Raw stores into our own channel: what a service that skips libhalmk
 * can do. Both copies, generation bumped: the bridge sees a write. */
static void raw_write(struct hmk_chan *c, unsigned pin, uint64_t value)
{
    for (int k = 0; k < 2; k++) {
        atomic_store(&c->out.copy[k].value[pin], value);
        atomic_fetch_add(&c->out.copy[k].wgen[pin], 1);
    }
}

static void scribble(struct hmk_chan *c, unsigned npins, unsigned granted, uint64_t ms)
{
    struct timespec t0, t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (unsigned i = 0; i < npins; i++)
            if (i != granted)
                raw_write(c, i, hmk_enc_float(999.0));
        atomic_fetch_add(&c->out.seq, 1); /* a flip with no lock */
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000u + (uint64_t)(t.tv_nsec - t0.tv_nsec) / 1000000u < ms);
}

static int cmd_writer(const char *region, const char *pin, const char *value)
{
    const char *env = getenv("HMK_CHANNEL_FD");
    struct hmk_region_header h;
    char path[256];
    hmk_region *r;
    hmk_value v;
    struct hmk_chan *c;
    int idx, ret, fd = env ? atoi(env) : -1;
    struct stat st;

    snprintf(path, sizeof(path), "/dev/shm/%s", region);
    h = read_header(path);
    ret = hmk_open(region, 0, &r);
    if (ret < 0 || (idx = hmk_pin_find(r, pin)) < 0 ||
        hmk_value_parse(HMK_TYPE_FLOAT, value, &v) < 0 || (ret = hmk_write(r, (unsigned)idx, &v)) < 0) {
        fprintf(stderr, "hmk-attack: legitimate write of %s failed: %s\n", pin, hmk_strerror(ret));
        return 2;
    }
    printf("done: wrote %s = %s the legitimate way\n", pin, value);
    hmk_sync(r, 5000);
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "hmk-attack: no channel in HMK_CHANNEL_FD\n");
        return 2;
    }
    try_(ftruncate(fd, 0), "shrink the channel to 0 bytes");
    try_(ftruncate(fd, st.st_size * 2), "grow the channel");
    try_(fallocate(fd, 0, st.st_size, 4096), "grow the channel with fallocate");
    try_(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), "seal the channel against the bridge's writes");
    attack_object(path);
    attack_caps(&h);
    c = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (c == MAP_FAILED) {
        perror("mmap channel");
        return 2;
    }
    /* ungranted pins, a NaN on our own pin, and a pulse ring of garbage */
    for (unsigned i = 0; i < h.pin_count; i++)
        if ((int)i != idx)
            raw_write(c, i, hmk_enc_float(999.0));
    raw_write(c, (unsigned)idx, 0x7ff8000000000001ull);
    for (unsigned k = 0; k < HMK_CMD_DEPTH; k++) {
        struct hmk_cmd_rec *rec = &c->cmd.rec[k];
        atomic_store(&rec->seq, k + 1);
        atomic_store(&rec->pin, k % 2 ? (uint32_t)(idx ^ 1) : 100000u + k);
        atomic_store(&rec->kind, k % 3 ? HMK_CMD_PULSE : 77u);
        atomic_store(&rec->value, hmk_enc_float(555.0));
    }
    atomic_store(&c->cmd.tail, UINT64_MAX - 5);
    atomic_store(&c->cmd.head, 12345);
    atomic_store(&c->cmd.done, UINT64_MAX);
    atomic_store(&c->cmd.dropped, UINT64_MAX);
    c->magic = 0;
    c->generation = 0;
    printf("done: raw writes of every ungranted pin, a NaN, a ring of garbage\n");
    /* the latch flipped without the lock for 2 s: the bridge misses our
     * channel's reads (counted), nobody else's */
    scribble(c, h.pin_count, (unsigned)idx, 2000);
    printf("done: latch flipped for 2 s\n");
    /* hold our lock for ever in a grandchild that outlives us (and the
     * daemon), still writing ungranted pins. It leaves the service's
     * process group (setsid in the middle child) before we exit: what is
     * still in the group when the service's main process ends is the
     * service's, and the daemon ends it. */
    pid_t mid = fork();
    if (mid == 0) {
        setsid();
        if (fork() == 0) {
            pthread_mutex_lock(&c->out.lock);
            for (int i = 0; i < 600; i++)
                scribble(c, h.pin_count, (unsigned)idx, 100);
            _exit(0);
        }
        _exit(0);
    }
    if (mid > 0)
        while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
            ;
    fflush(stdout);
    hmk_close(r);
    return holes ? 1 : 0;
}

static int cmd_victim(const char *region, const char *pin, const char *value)
{
    hmk_region *r;
    hmk_value v;
    int idx, ret = hmk_open(region, 0, &r);

    if (ret < 0 || (idx = hmk_pin_find(r, pin)) < 0 ||
        hmk_value_parse(HMK_TYPE_FLOAT, value, &v) < 0 || (ret = hmk_write(r, (unsigned)idx, &v)) < 0) {
        fprintf(stderr, "hmk-attack: victim's write of %s failed: %s\n", pin, hmk_strerror(ret));
        return 2;
    }
    printf("done: victim wrote %s = %s\n", pin, value);
    fflush(stdout);
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && !strcmp(argv[1], "reader"))
        return cmd_reader(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "writer"))
        return cmd_writer(argv[2], argv[3], argv[4]);
    if (argc == 5 && !strcmp(argv[1], "victim"))
        return cmd_victim(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: hmk-attack reader REGION | writer REGION PIN VALUE | victim REGION PIN VALUE\n");
    return 2;
}
