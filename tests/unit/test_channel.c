/*
 * test_channel.c - how a process comes to hold a write channel (lib/hmk_cap.c)
 * against the fake bridge's sealed memfd channels: $HMK_CHANNEL_FD checked
 * against the header's inodes, size and seals; the channel's generation;
 * root's pidfd_getfd path and another user's -EACCES.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>
#include <cmocka.h>

#include "halmk.h"
#include "halmk_priv.h"
#include "lib_fixture.h"

/* ---- write channels ------------------------------------------------------ */

/* A write through a handle whose $HMK_CHANNEL_FD is `fd`: the error the
 * first write gives (0 if it was taken). Opened after the environment is
 * set: the channel is looked for at the first write. */
static int write_with_channel_env(const char *env)
{
    hmk_region *r;
    int ret;

    if (env)
        setenv("HMK_CHANNEL_FD", env, 1);
    else
        unsetenv("HMK_CHANNEL_FD");
    r = open_ok(0);
    ret = hmk_write_float(r, 1, 1.0);
    hmk_close(r);
    return ret;
}

static int write_with_channel_fd(int fd)
{
    char buf[16];
    snprintf(buf, sizeof(buf), "%d", fd);
    return write_with_channel_env(buf);
}

/* A channel-sized memfd with `seals`, its inode named as channel 2 in the
 * header (as if the bridge had made it) when `listed`. */
static int bogus_channel(size_t size, int seals, bool listed, bool valid_content)
{
    int fd = -1;
    struct hmk_chan *c = fake_memfd("bogus", size, seals, &fd);

    assert_non_null(c);
    if (valid_content) {
        c->magic = HMK_CHAN_MAGIC;
        c->generation = fx.shm->hdr.generation;
        hmk_mutex_init_shared(&c->out.lock);
    }
    munmap(c, size);
    if (listed)
        fx.shm->hdr.chan_ino[2] = fake_ino(fd);
    return fd;
}

/* Every descriptor that is not exactly a channel the header names, of a
 * channel's size, sealed against resizing, is refused before it is mapped:
 * an unsealed object could be shrunk under the bridge (SIGBUS in RT). */
static void test_lib_channel_fd_checked(void **state)
{
    struct out_image before;
    int fd;
    (void)state;

    out_image(&before);
    /* right size and seals, but not an inode the header names */
    fd = bogus_channel(sizeof(struct hmk_chan), FAKE_SEALS, false, true);
    assert_int_equal(write_with_channel_fd(fd), -ESTALE);
    close(fd);
    /* named, sealed, wrong size (both ways) */
    fd = bogus_channel(sizeof(struct hmk_chan) + 4096, FAKE_SEALS, true, true);
    assert_int_equal(write_with_channel_fd(fd), -ESTALE);
    close(fd);
    fd = bogus_channel(sizeof(struct hmk_chan) - 64, FAKE_SEALS, true, true);
    assert_int_equal(write_with_channel_fd(fd), -ESTALE);
    close(fd);
    /* named, right size, seals missing: none, no F_SEAL_SEAL, no F_SEAL_SHRINK */
    fd = bogus_channel(sizeof(struct hmk_chan), 0, true, true);
    assert_int_equal(write_with_channel_fd(fd), -ESTALE);
    close(fd);
    fd = bogus_channel(sizeof(struct hmk_chan), F_SEAL_SHRINK | F_SEAL_GROW, true, true);
    assert_int_equal(write_with_channel_fd(fd), -ESTALE);
    close(fd);
    fd = bogus_channel(sizeof(struct hmk_chan), F_SEAL_GROW | F_SEAL_SEAL, true, true);
    assert_int_equal(write_with_channel_fd(fd), -ESTALE);
    close(fd);
    /* named, right size and seals, but no channel of this region inside */
    fd = bogus_channel(sizeof(struct hmk_chan), FAKE_SEALS, true, false);
    assert_int_equal(write_with_channel_fd(fd), -ESTALE);
    close(fd);
    /* the region itself (named by the header as region_ino, not a channel) */
    assert_int_equal(write_with_channel_fd(fx.region_fd), -ESTALE);
    /* the control block: named, sealed, but not a channel */
    assert_int_equal(write_with_channel_fd(fx.ctl_fd), -ESTALE);
    /* not descriptors */
    assert_int_equal(write_with_channel_env("abc"), -EBADF);
    assert_int_equal(write_with_channel_env(""), -EBADF);
    assert_int_equal(write_with_channel_env("-1"), -EBADF);
    assert_int_equal(write_with_channel_env("3x"), -EBADF);
    assert_int_equal(write_with_channel_env("99999999999"), -EBADF);
    assert_int_equal(write_with_channel_env("1000000"), -EBADF); /* not open */
    /* nothing of it reached the tools channel or HAL */
    fake_bridge_cycle(&fx);
    assert_out_unchanged(&before);
    /* and the real one works */
    fx.shm->hdr.chan_ino[2] = fake_ino(fx.chan_fd[2]);
    assert_int_equal(write_with_channel_fd(fx.chan_fd[0]), 0);
}

/* A channel's generation must be the region's: a channel of an earlier
 * bridge (same inode reused is impossible, but the content is checked). */
static void test_lib_channel_generation_checked(void **state)
{
    (void)state;
    fx.chan[0]->generation++;
    assert_int_equal(write_with_channel_fd(fx.chan_fd[0]), -ESTALE);
    fx.chan[0]->generation--;
    fx.chan[0]->magic = 0;
    assert_int_equal(write_with_channel_fd(fx.chan_fd[0]), -ESTALE);
    fx.chan[0]->magic = HMK_CHAN_MAGIC;
    assert_int_equal(write_with_channel_fd(fx.chan_fd[0]), 0);
}

/* The inherited descriptor stays usable: the library dups it, closes its
 * own copy at hmk_close, and a second handle finds it again. */
static void test_lib_channel_env_fd_kept(void **state)
{
    hmk_region *a = open_ok(0), *b = open_ok(0);
    hmk_value v;
    (void)state;

    assert_int_equal(hmk_write_float(a, 0, 1.5), 0);
    hmk_close(a);
    assert_true(fcntl(fx.chan_fd[0], F_GETFD) >= 0);
    assert_int_equal(hmk_write_float(b, 1, 2.5), 0);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(hmk_read_out(b, 0, &v), 0);
    assert_true(v.f == 1.5);
    assert_int_equal(hmk_read_out(b, 1, &v), 0);
    assert_true(v.f == 2.5);
    hmk_close(b);
}

/* Without $HMK_CHANNEL_FD: root takes the tools channel from rtapi_app
 * (here: this process) with pidfd_getfd; anyone else gets -EACCES, and a
 * read-only handle never looks. */
static void test_lib_channel_root_and_other_users(void **state)
{
    int status;
    pid_t pid;
    (void)state;

    if (geteuid() != 0) {
        assert_int_equal(write_with_channel_env(NULL), -EACCES);
        skip();
    }
    assert_int_equal(write_with_channel_env(NULL), 0);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(hmk_dec_float(atomic_load(&fx.shm->in.out_value[1])), 1.0);
    /* the header's descriptor number for channel 0 names something else */
    fx.shm->hdr.chan_fd[0] = fx.ctl_fd;
    assert_int_equal(write_with_channel_env(NULL), -ESTALE);
    fx.shm->hdr.chan_fd[0] = fx.chan_fd[0];
    /* another user: the region is readable, a write has no channel */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hmk_region *r = NULL;
        int ok;
        unsetenv("HMK_CHANNEL_FD");
        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
            setresuid(65534, 65534, 65534) < 0)
            _exit(2);
        if (hmk_open(fx.name, 0, &r) < 0)
            _exit(3);
        ok = hmk_write_float(r, 1, 9.0) == -EACCES && hmk_write_float(r, 1, 9.0) == -EACCES;
        /* nor can it take the channel from the fd rtapi_app (we) hold */
        hmk_close(r);
        _exit(ok ? 0 : 4);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_lib_channel_fd_checked),
        T(test_lib_channel_generation_checked),
        T(test_lib_channel_env_fd_kept),
        T(test_lib_channel_root_and_other_users),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
