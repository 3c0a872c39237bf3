/*
 * test_lib.c - libhalmk's contract (include/halmk.h) against regions built
 * by the fake bridge (tests/unit/fake_region.h): hmk_open's errors for
 * every kind of missing, foreign, corrupt, mis-sized or detached object;
 * detach seen by hmk_check and refused by commits; pin lookup; typed reads
 * and writes with their type checks; snapshots; transactions; change
 * notification; and the kernel's enforcement of read-only mappings.
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
#include <limits.h>
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
#include "halmk_tool.h"
#include "halmk_priv.h"
#include "lib_fixture.h"

/* ---- hmk_open ------------------------------------------------------------ */

static void test_lib_open_ok_and_close(void **state)
{
    struct hmk_stats st;
    hmk_region *r = open_ok(0), *ro = open_ok(HMK_OPEN_RDONLY);
    (void)state;

    assert_string_equal(hmk_region_name(r), fx.name);
    assert_int_equal(hmk_check(r), 0);
    assert_int_equal(hmk_pin_count(r), P_N);
    assert_int_equal(hmk_stats(ro, &st), 0);
    assert_int_equal(st.pin_count, P_N);
    assert_int_equal(st.generation, fx.shm->hdr.generation);
    assert_int_equal(st.heartbeat_timeout_ms, 500);
    hmk_close(r);
    hmk_close(ro);
    hmk_close(NULL);

    /* the name from the environment */
    setenv("HAL_MICROKERNEL_REGION", fx.name, 1);
    assert_int_equal(hmk_open(NULL, 0, &r), 0);
    assert_string_equal(hmk_region_name(r), fx.name);
    hmk_close(r);
    unsetenv("HAL_MICROKERNEL_REGION");
}

static void test_lib_open_bad_arguments(void **state)
{
    hmk_region *r = NULL;
    (void)state;

    assert_int_equal(hmk_open(fx.name, 0, NULL), -EINVAL);
    assert_int_equal(hmk_open(fx.name, 0x80, &r), -EINVAL);
    assert_int_equal(hmk_open("a/b", 0, &r), -EINVAL);
    assert_int_equal(hmk_open(".hidden", 0, &r), -EINVAL);
    /* the name comes from a reader's own environment: the longest one that
     * passes is looked for (and fits the path built from it, ASan would
     * say otherwise), one more character is refused */
    char longest[NAME_MAX + 1];
    memset(longest, 'n', NAME_MAX - 1);
    longest[NAME_MAX - 1] = '\0';
    assert_int_equal(hmk_open(longest, 0, &r), -ENOENT);
    longest[NAME_MAX - 1] = 'n';
    longest[NAME_MAX] = '\0';
    assert_int_equal(hmk_open(longest, 0, &r), -EINVAL);
    assert_null(r);
}

static void test_lib_open_missing(void **state)
{
    char name[64];
    hmk_region *r = NULL;
    (void)state;

    fake_region_name(name, sizeof(name)); /* never created */
    assert_int_equal(hmk_open(name, 0, &r), -ENOENT);
    assert_int_equal(hmk_open(name, HMK_OPEN_RDONLY, &r), -ENOENT);
    assert_null(r);
}

static void test_lib_open_wrong_magic(void **state)
{
    (void)state;
    fx.shm->hdr.magic = 0x12345678u;
    assert_int_equal(open_err(), -EBADMSG);
}

static void test_lib_open_wrong_version(void **state)
{
    (void)state;
    fx.shm->hdr.abi_version = HMK_ABI_VERSION + 1;
    assert_int_equal(open_err(), -EPROTONOSUPPORT);
}

static void test_lib_open_wrong_sizes(void **state)
{
    (void)state;
    fx.shm->hdr.region_size = sizeof(struct hmk_shm) + 4096;
    assert_int_equal(open_err(), -EMSGSIZE);
    fx.shm->hdr.region_size = sizeof(struct hmk_shm);
    fx.shm->hdr.header_size = 128;
    assert_int_equal(open_err(), -EMSGSIZE);
    fx.shm->hdr.header_size = sizeof(struct hmk_region_header);
    fx.shm->hdr.pin_desc_size = 32;
    assert_int_equal(open_err(), -EMSGSIZE);
    fx.shm->hdr.pin_desc_size = sizeof(struct hmk_pin_desc);
    assert_int_equal(open_err(), 0);
}

static void test_lib_open_truncated(void **state)
{
    (void)state;
    /* the header still says the full size: the file is short */
    assert_int_equal(truncate(fx.path, sizeof(struct hmk_shm) / 2), 0);
    assert_int_equal(open_err(), -EMSGSIZE);
    /* too short to hold a header at all */
    assert_int_equal(truncate(fx.path, 100), 0);
    assert_int_equal(open_err(), -EBADMSG);
    assert_int_equal(truncate(fx.path, 0), 0);
    assert_int_equal(open_err(), -EBADMSG);
    /* fx.shm now maps past the end of the file: the teardown only unmaps */
}

static void test_lib_open_corrupt_header_and_pins(void **state)
{
    (void)state;
    fx.shm->hdr.pin_count = 0;
    assert_int_equal(open_err(), -EBADMSG);
    fx.shm->hdr.pin_count = HMK_MAX_PINS + 1;
    assert_int_equal(open_err(), -EBADMSG);
    fx.shm->hdr.pin_count = P_N;
    fx.shm->hdr.max_pins = 16;
    assert_int_equal(open_err(), -EBADMSG);
    fx.shm->hdr.max_pins = HMK_MAX_PINS;
    memset(fx.shm->hdr.hal_prefix, 'x', sizeof(fx.shm->hdr.hal_prefix));
    assert_int_equal(open_err(), -EBADMSG);
    snprintf(fx.shm->hdr.hal_prefix, sizeof(fx.shm->hdr.hal_prefix), "microkernel");
    assert_int_equal(open_err(), 0);

    /* a pin table that does not match its hash */
    fx.shm->pin[2].name[0] = 'q';
    assert_int_equal(open_err(), -EBADMSG);
    fx.shm->pin[2].name[0] = 'p';
    assert_int_equal(open_err(), 0);
    /* or matches it but says nonsense (hash recomputed) */
    fx.shm->pin[1].type = 9;
    fx.shm->hdr.layout_hash = hmk_layout_hash(fx.shm->pin, P_N);
    assert_int_equal(open_err(), -EBADMSG);
    fx.shm->pin[1].type = HMK_RT_FLOAT;
    fx.shm->pin[1].dir = 0;
    fx.shm->hdr.layout_hash = hmk_layout_hash(fx.shm->pin, P_N);
    assert_int_equal(open_err(), -EBADMSG);
    fx.shm->pin[1].dir = HMK_RD_IO;
    memset(fx.shm->pin[1].name, 'n', sizeof(fx.shm->pin[1].name)); /* no NUL */
    fx.shm->hdr.layout_hash = hmk_layout_hash(fx.shm->pin, P_N);
    assert_int_equal(open_err(), -EBADMSG);
    fx.shm->pin[1].name[0] = '\0'; /* empty name */
    fx.shm->hdr.layout_hash = hmk_layout_hash(fx.shm->pin, P_N);
    assert_int_equal(open_err(), -EBADMSG);
}

static void test_lib_open_detached_or_unready(void **state)
{
    (void)state;
    atomic_store(&fx.shm->hdr.state, HMK_STATE_DETACHED);
    assert_int_equal(open_err(), -ESTALE);
    atomic_store(&fx.shm->hdr.state, HMK_STATE_INIT);
    assert_int_equal(open_err(), -EAGAIN);
    atomic_store(&fx.shm->hdr.state, 77);
    assert_int_equal(open_err(), -EAGAIN);
    atomic_store(&fx.shm->hdr.state, HMK_STATE_ATTACHED);
    assert_int_equal(open_err(), 0);
}

/* The header is read once into the handle: a writer changing it after
 * hmk_open (the region is the bridge's, but a hostile or buggy one, or a
 * reload racing us) cannot make the handle size or index by another value. */
static void test_lib_open_private_header_copy(void **state)
{
    hmk_region *r = open_ok(HMK_OPEN_RDONLY);
    struct hmk_stats st;
    hmk_value v;
    (void)state;

    fx.shm->hdr.pin_count = HMK_MAX_PINS;
    fx.shm->hdr.region_size = 1;
    fx.shm->hdr.channels = 0;
    memset(fx.shm->hdr.hal_prefix, 'z', sizeof(fx.shm->hdr.hal_prefix));
    fx.shm->pin[0].type = HMK_RT_BIT;
    fx.shm->pin[P_SPEED].dir = HMK_RD_OUT;
    assert_int_equal(hmk_pin_count(r), P_N);
    assert_int_equal(hmk_read(r, P_N, &v), -ERANGE);
    assert_int_equal(hmk_read(r, HMK_MAX_PINS - 1, &v), -ERANGE);
    assert_int_equal(hmk_read_in(r, 0, &v), 0);
    assert_int_equal(v.type, HMK_TYPE_FLOAT);           /* the pin table copied */
    assert_int_equal(hmk_read_out(r, P_SPEED, &v), -EPERM);
    assert_int_equal(hmk_pin_find(r, "microkernel.spindle.speed"), P_SPEED);
    assert_int_equal(hmk_stats(r, &st), 0);
    assert_int_equal(st.pin_count, P_N);
    hmk_close(r); /* unmaps the size it mapped (ASan/valgrind would see another) */
}

struct hdr_racer {
    _Atomic int stop;
    pthread_t th;
};

static void *hdr_racer_main(void *arg)
{
    struct hdr_racer *h = arg;
    while (!atomic_load(&h->stop)) {
        fx.shm->hdr.pin_count = HMK_MAX_PINS;
        fx.shm->hdr.pin_count = 1;
        fx.shm->hdr.pin_count = P_N;
    }
    return NULL;
}

/* Opens racing a writer of pin_count: each open either fails (the count it
 * read does not match the layout hash) or holds exactly the count it
 * validated; never one it read before or after validation. */
static void test_lib_open_races_header_writer(void **state)
{
    struct hdr_racer h = { 0 };
    unsigned ok = 0, refused = 0;
    uint64_t deadline = fake_now_ns() + 2000000000ull;
    (void)state;

    assert_int_equal(pthread_create(&h.th, NULL, hdr_racer_main, &h), 0);
    while (fake_now_ns() < deadline && (ok < 200 || refused < 200)) {
        hmk_region *r = NULL;
        int ret = hmk_open(fx.name, HMK_OPEN_RDONLY, &r);
        if (ret == 0) {
            hmk_value v;
            assert_int_equal(hmk_pin_count(r), P_N);
            assert_int_equal(hmk_read(r, P_N, &v), -ERANGE);
            hmk_close(r);
            ok++;
        } else {
            assert_int_equal(ret, -EBADMSG);
            assert_null(r);
            refused++;
        }
    }
    atomic_store(&h.stop, 1);
    pthread_join(h.th, NULL);
    fx.shm->hdr.pin_count = P_N;
    print_message("racing opens: %u ok, %u refused\n", ok, refused);
    assert_true(ok > 0);
}

/* Something else squatting the name: a FIFO must give an error, not block
 * hmk_open forever (O_NONBLOCK + S_ISREG); so must a directory and a
 * symlink (O_NOFOLLOW). Run in a child with an alarm: a hang fails. */
static void test_lib_open_not_a_regular_file(void **state)
{
    char name[64], path[128];
    int status;
    pid_t pid;
    (void)state;

    fake_region_name(name, sizeof(name));
    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    assert_int_equal(mkfifo(path, 0644), 0);
    fake_track(path);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hmk_region *r = NULL;
        signal(SIGALRM, SIG_DFL);
        alarm(20);
        _exit(hmk_open(name, 0, &r) == -EBADMSG && hmk_open(name, HMK_OPEN_RDONLY, &r) ==
              -EBADMSG && r == NULL ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status)); /* not killed by the alarm: did not hang */
    assert_int_equal(WEXITSTATUS(status), 0);
    unlink(path);
    assert_int_equal(mkdir(path, 0755), 0);
    {
        hmk_region *r = NULL;
        assert_true(hmk_open(name, 0, &r) < 0);
        assert_null(r);
    }
    rmdir(path);
    assert_int_equal(symlink(fx.path, path), 0);
    {
        hmk_region *r = NULL;
        assert_int_equal(hmk_open(name, 0, &r), -EBADMSG); /* a link to a good region */
        assert_null(r);
    }
    unlink(path);
    fake_untrack(path);
}

/* Writes `size` bytes of `fill` (or seeded random bytes if fill < 0). */
static void write_object(const char *path, size_t size, int fill, uint64_t seed)
{
    unsigned char *buf = malloc(size ? size : 1);
    int fd;

    assert_non_null(buf);
    for (size_t i = 0; i < size; i++)
        buf[i] = fill >= 0 ? (unsigned char)fill : (unsigned char)fake_rand(&seed);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    fake_track(path);
    assert_int_equal(write(fd, buf, size), (ssize_t)size);
    close(fd);
    free(buf);
}

static void test_lib_open_foreign_objects(void **state)
{
    static const size_t sizes[] = { 0, 1, 100, 255, 256, 4096, sizeof(struct hmk_shm),
                                    sizeof(struct hmk_shm) + 1 };
    char name[64], path[128];
    hmk_region *r;
    (void)state;

    fake_region_name(name, sizeof(name));
    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        for (uint64_t seed = 1; seed <= 20; seed++) {
            write_object(path, sizes[k], -1, seed * 1000 + k);
            r = NULL;
            assert_true(hmk_open(name, 0, &r) < 0);
            assert_null(r);
        }
        write_object(path, sizes[k], 0, 0);
        assert_int_equal(hmk_open(name, 0, &r), -EBADMSG);
        write_object(path, sizes[k], 0xff, 0);
        assert_true(hmk_open(name, HMK_OPEN_RDONLY, &r) < 0);
    }
    /* a real header over a random body: the pin table's hash refuses it */
    {
        unsigned char *img = malloc(sizeof(struct hmk_shm));
        uint64_t seed = 99;
        int fd;
        assert_non_null(img);
        for (size_t i = 0; i < sizeof(struct hmk_shm); i++)
            img[i] = (unsigned char)fake_rand(&seed);
        memcpy(img, &fx.shm->hdr, sizeof(fx.shm->hdr));
        fd = open(path, O_RDWR | O_TRUNC | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, img, sizeof(struct hmk_shm)), (ssize_t)sizeof(struct hmk_shm));
        close(fd);
        free(img);
        assert_int_equal(hmk_open(name, 0, &r), -EBADMSG);
    }
    unlink(path);
    fake_untrack(path);
}

/* ---- detach ----------------------------------------------------------- */

static void test_lib_detached_check_and_commit(void **state)
{
    hmk_region *r = open_ok(0);
    struct out_image before;
    struct hmk_stats st;
    hmk_value v;
    hmk_txn *t;
    (void)state;

    assert_int_equal(hmk_write_float(r, 1, 1.5), 0);
    assert_int_equal(hmk_txn_new(r, &t), 0);
    assert_int_equal(hmk_txn_set(t, 1, &(hmk_value){ .type = HMK_TYPE_FLOAT, .f = 2.5 }), 0);
    assert_int_equal(hmk_txn_set(t, P_POS, &(hmk_value){ .type = HMK_TYPE_U32, .u = 7 }), 0);
    assert_int_equal(hmk_check(r), 0);

    atomic_store(&fx.shm->hdr.state, HMK_STATE_DETACHED);
    assert_int_equal(hmk_check(r), -ESTALE);
    assert_int_equal(hmk_stats(r, &st), -ESTALE);
    out_image(&before);
    assert_int_equal(hmk_txn_commit(t), -ESTALE);
    assert_int_equal(hmk_write_float(r, 1, 3.5), -ESTALE);
    assert_out_unchanged(&before);
    assert_int_equal(hmk_read_out(r, 1, &v), -ESTALE);
    /* the lock was released: a later writer is not stuck */
    assert_int_equal(pthread_mutex_trylock(&fx.chan[0]->out.lock), 0);
    assert_int_equal(pthread_mutex_unlock(&fx.chan[0]->out.lock), 0);

    hmk_txn_free(t);
    hmk_close(r);
}

/* ---- pin lookup -------------------------------------------------------- */

static void test_lib_pin_find(void **state)
{
    hmk_region *r = open_ok(HMK_OPEN_RDONLY);
    struct hmk_pin_info pi;
    (void)state;

    /* by index */
    assert_int_equal(hmk_pin_find(r, "0"), 0);
    assert_int_equal(hmk_pin_find(r, "3"), 3);
    assert_int_equal(hmk_pin_find(r, "8"), 8);
    assert_int_equal(hmk_pin_find(r, "9"), -ENOENT);
    assert_int_equal(hmk_pin_find(r, "99999999999999999999"), -ENOENT);
    assert_int_equal(hmk_pin_find(r, "-1"), -ENOENT);
    assert_int_equal(hmk_pin_find(r, "1x"), -ENOENT);
    /* by region name and by HAL name */
    assert_int_equal(hmk_pin_find(r, "pin.2"), 2);
    assert_int_equal(hmk_pin_find(r, "microkernel.pin.2"), 2);
    assert_int_equal(hmk_pin_find(r, "spindle.speed"), P_SPEED);
    assert_int_equal(hmk_pin_find(r, "microkernel.spindle.speed"), P_SPEED);
    assert_int_equal(hmk_pin_find(r, "microkernel.pos"), P_POS);
    /* a slot by its HAL pins' .in/.out names */
    assert_int_equal(hmk_pin_find(r, "pin.2.in"), 2);
    assert_int_equal(hmk_pin_find(r, "pin.2.out"), 2);
    assert_int_equal(hmk_pin_find(r, "microkernel.pin.2.in"), 2);
    assert_int_equal(hmk_pin_find(r, "microkernel.pin.3.out"), 3);
    /* ...but not a named pin */
    assert_int_equal(hmk_pin_find(r, "spindle.speed.in"), -ENOENT);
    assert_int_equal(hmk_pin_find(r, "estop.out"), -ENOENT);
    /* misses */
    assert_int_equal(hmk_pin_find(r, "pin.4"), -ENOENT);
    assert_int_equal(hmk_pin_find(r, "pin.2.inx"), -ENOENT);
    assert_int_equal(hmk_pin_find(r, "pin"), -ENOENT);
    assert_int_equal(hmk_pin_find(r, "PIN.2"), -ENOENT);
    assert_int_equal(hmk_pin_find(r, "other.pin.2"), -ENOENT);
    assert_int_equal(hmk_pin_find(r, "microkernel"), -ENOENT);
    assert_int_equal(hmk_pin_find(r, "microkernel."), -ENOENT);
    assert_int_equal(hmk_pin_find(r, "spindle"), -ENOENT);
    assert_int_equal(hmk_pin_find(r, ""), -EINVAL);
    assert_int_equal(hmk_pin_find(r, NULL), -EINVAL);

    assert_int_equal(hmk_pin_info(r, P_SPEED, &pi), 0);
    assert_string_equal(pi.name, "spindle.speed");
    assert_int_equal(pi.type, HMK_TYPE_FLOAT);
    assert_int_equal(pi.dir, HMK_DIR_IN);
    assert_int_equal(pi.index, P_SPEED);
    assert_false(pi.slot);
    assert_int_equal(hmk_pin_info(r, 0, &pi), 0);
    assert_true(pi.slot);
    assert_int_equal(pi.dir, HMK_DIR_IO);
    assert_int_equal(hmk_pin_info(r, P_N, &pi), -ERANGE);
    hmk_close(r);
}

static void test_lib_pin_find_other_prefix(void **state)
{
    struct fake_region f2;
    struct hmk_pin_desc pins[3];
    hmk_region *r;
    (void)state;

    fake_slots(pins, 3, HMK_RT_FLOAT);
    assert_int_equal(fake_region_create(&f2, pins, 3, "mk2"), 0);
    assert_int_equal(hmk_open(f2.name, 0, &r), 0);
    assert_int_equal(hmk_pin_find(r, "mk2.pin.1.out"), 1);
    assert_int_equal(hmk_pin_find(r, "mk2.pin.1"), 1);
    assert_int_equal(hmk_pin_find(r, "microkernel.pin.1.out"), -ENOENT);
    hmk_close(r);
    fake_region_destroy(&f2);
}

/* ---- typed access -------------------------------------------------------- */

static void test_lib_write_type_checks(void **state)
{
    hmk_region *r = open_ok(0), *ro = open_ok(HMK_OPEN_RDONLY);
    struct out_image before;
    hmk_value v;
    hmk_txn *t;
    (void)state;

    out_image(&before);
    /* wrong type for the pin */
    assert_int_equal(hmk_write(r, 0, &(hmk_value){ .type = HMK_TYPE_S32, .s = 1 }), -EINVAL);
    assert_int_equal(hmk_write_bit(r, P_POS, true), -EINVAL);
    assert_int_equal(hmk_write_u32(r, P_COUNT, 1), -EINVAL);
    assert_int_equal(hmk_write_float(r, P_ESTOP, 1.0), -EINVAL);
    assert_int_equal(hmk_write(r, 0, &(hmk_value){ .type = (enum hmk_type)9 }), -EINVAL);
    /* a pin HAL feeds */
    assert_int_equal(hmk_write_float(r, P_SPEED, 1.0), -EPERM);
    /* a read-only handle */
    assert_int_equal(hmk_write_float(ro, 0, 1.0), -EROFS);
    assert_int_equal(hmk_write_bit(ro, P_ESTOP, true), -EROFS);
    assert_int_equal(hmk_heartbeat(ro), -EPERM); /* the daemon's alone now */
    assert_int_equal(hmk_heartbeat(r), -EPERM);
    assert_int_equal(hmk_txn_new(ro, &t), 0);
    assert_int_equal(hmk_txn_set(t, 0, &(hmk_value){ .type = HMK_TYPE_FLOAT, .f = 1 }), -EROFS);
    assert_int_equal(hmk_txn_commit(t), 0);
    hmk_txn_free(t);
    /* out of range */
    assert_int_equal(hmk_write_float(r, P_N, 1.0), -ERANGE);
    assert_int_equal(hmk_write_float(r, 100000, 1.0), -ERANGE);
    assert_int_equal(hmk_write_float(r, 0, NAN), -ERANGE);
    assert_int_equal(hmk_write_float(r, 0, -NAN), -ERANGE);
    assert_int_equal(hmk_write_float(r, 0, INFINITY), -ERANGE);
    assert_int_equal(hmk_write_float(r, 0, -INFINITY), -ERANGE);
    /* reads */
    assert_int_equal(hmk_read_in(r, P_ESTOP, &v), -EPERM);  /* out-only */
    assert_int_equal(hmk_read_out(r, P_SPEED, &v), -EPERM); /* in-only */
    assert_int_equal(hmk_read(r, P_N, &v), -ERANGE);
    assert_int_equal(hmk_read_in(r, P_N, &v), -ERANGE);
    assert_int_equal(hmk_read_out(r, P_N, &v), -ERANGE);
    /* nothing reached the region */
    assert_out_unchanged(&before);
    hmk_close(r);
    hmk_close(ro);
}

static void test_lib_typed_round_trip(void **state)
{
    hmk_region *r = open_ok(0), *ro = open_ok(HMK_OPEN_RDONLY);
    static const double floats[] = { 0.0, -0.0, 12.5, -1e-300, 1e308, -1e308, DBL_MAX,
                                     -DBL_MAX, DBL_MIN, DBL_TRUE_MIN, 0.1 };
    static const int32_t s32s[] = { INT32_MIN, -1, 0, 1, INT32_MAX };
    static const uint32_t u32s[] = { 0, 1, 0x80000000u, UINT32_MAX };
    uint64_t raw[P_N];
    hmk_value v;
    (void)state;

    /* a write is not what HAL is driven with until the bridge applied it */
    assert_int_equal(hmk_write_float(r, 2, 7.5), 0);
    assert_int_equal(hmk_read_out(ro, 2, &v), 0);
    assert_true(v.f == 0.0);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(hmk_read_out(ro, 2, &v), 0);
    assert_true(v.f == 7.5);
    for (size_t k = 0; k < sizeof(floats) / sizeof(floats[0]); k++) {
        assert_int_equal(hmk_write_float(r, 2, floats[k]), 0);
        assert_true(fake_bridge_cycle(&fx));
        assert_int_equal(hmk_read_out(ro, 2, &v), 0);
        assert_int_equal(v.type, HMK_TYPE_FLOAT);
        assert_int_equal(hmk_enc_float(v.f), hmk_enc_float(floats[k]));
        assert_true(fake_read_latch(fx.chan[0], raw, P_N) >= 0);
        assert_int_equal(raw[2], hmk_enc_float(floats[k]));
    }
    for (size_t k = 0; k < sizeof(s32s) / sizeof(s32s[0]); k++) {
        assert_int_equal(hmk_write_s32(r, P_COUNT, s32s[k]), 0);
        assert_true(fake_bridge_cycle(&fx));
        assert_int_equal(hmk_read_out(ro, P_COUNT, &v), 0);
        assert_int_equal(v.type, HMK_TYPE_S32);
        assert_int_equal(v.s, s32s[k]);
        assert_true(fake_read_latch(fx.chan[0], raw, P_N) >= 0);
        assert_int_equal(raw[P_COUNT], (uint64_t)(uint32_t)s32s[k]);
    }
    for (size_t k = 0; k < sizeof(u32s) / sizeof(u32s[0]); k++) {
        assert_int_equal(hmk_write_u32(r, P_POS, u32s[k]), 0);
        assert_true(fake_bridge_cycle(&fx));
        assert_int_equal(hmk_read(ro, P_POS, &v), 0); /* out-only: read gives out */
        assert_int_equal(v.type, HMK_TYPE_U32);
        assert_int_equal(v.u, u32s[k]);
    }
    for (int b = 0; b < 2; b++) {
        assert_int_equal(hmk_write_bit(r, P_ESTOP, b), 0);
        assert_true(fake_bridge_cycle(&fx));
        assert_int_equal(hmk_read_out(ro, P_ESTOP, &v), 0);
        assert_int_equal(v.type, HMK_TYPE_BIT);
        assert_int_equal(v.b, b);
        assert_true(fake_read_latch(fx.chan[0], raw, P_N) >= 0);
        assert_int_equal(raw[P_ESTOP], (uint64_t)b);
    }
    /* hmk_read of a pin with an in side gives what HAL feeds in */
    {
        uint64_t in[P_N] = { 0 };
        in[P_COUNT] = hmk_enc_s32(-42);
        in[P_SPEED] = hmk_enc_float(-0.0);
        in[P_FLAG] = 1;
        fake_bridge_write_in(fx.shm, in, P_N, 5);
        assert_int_equal(hmk_read(ro, P_COUNT, &v), 0);
        assert_int_equal(v.s, -42);
        assert_int_equal(hmk_read_in(ro, P_SPEED, &v), 0);
        assert_true(v.f == 0.0 && signbit(v.f));
        assert_int_equal(hmk_read(ro, P_FLAG, &v), 0);
        assert_true(v.b);
        assert_int_equal(hmk_read_out(ro, P_COUNT, &v), 0);
        assert_int_equal(v.s, INT32_MAX); /* the last out write, unchanged */
    }
    assert_int_equal(atomic_load(&fx.chan[0]->commits),
                     sizeof(floats) / sizeof(floats[0]) + sizeof(s32s) / sizeof(s32s[0]) +
                     sizeof(u32s) / sizeof(u32s[0]) + 3);
    /* every commit was one pin write the bridge took */
    assert_int_equal(atomic_load(&fx.shm->hdr.out_applied),
                     atomic_load(&fx.chan[0]->commits));
    assert_int_equal(atomic_load(&fx.shm->hdr.rejected), 0);
    hmk_close(r);
    hmk_close(ro);
}

static void test_lib_snapshot(void **state)
{
    hmk_region *r = open_ok(HMK_OPEN_RDONLY), *w = open_ok(0);
    uint64_t in[P_N] = { 0 }, cycle = 0;
    hmk_value vals[P_N];
    (void)state;

    assert_int_equal(hmk_write_u32(w, P_POS, 4242), 0);
    assert_int_equal(hmk_write_bit(w, P_ESTOP, true), 0);
    for (unsigned i = 0; i < P_SLOTS; i++)
        in[i] = hmk_enc_float(i * 1.25);
    in[P_SPEED] = hmk_enc_float(3000.0);
    in[P_COUNT] = hmk_enc_s32(INT32_MIN);
    in[P_FLAG] = 1;
    in[P_POS] = 99; /* out-only pins have no in value; the snapshot ignores it */
    fake_bridge_write_in(fx.shm, in, P_N, 77);
    assert_true(fake_bridge_cycle(&fx));

    assert_int_equal(hmk_snapshot(r, vals, P_N, &cycle), 0);
    assert_int_equal(cycle, 77);
    for (unsigned i = 0; i < P_SLOTS; i++) {
        assert_int_equal(vals[i].type, HMK_TYPE_FLOAT);
        assert_true(vals[i].f == i * 1.25);
    }
    assert_true(vals[P_SPEED].f == 3000.0);
    assert_int_equal(vals[P_COUNT].type, HMK_TYPE_S32);
    assert_int_equal(vals[P_COUNT].s, INT32_MIN);
    assert_true(vals[P_FLAG].b);
    assert_int_equal(vals[P_POS].type, HMK_TYPE_U32);
    assert_int_equal(vals[P_POS].u, 4242);
    assert_true(vals[P_ESTOP].b);
    /* a prefix of the pins; none; too many */
    assert_int_equal(hmk_snapshot(r, vals, 2, NULL), 0);
    assert_int_equal(hmk_snapshot(r, NULL, 0, &cycle), 0);
    assert_int_equal(hmk_snapshot(r, vals, P_N + 1, &cycle), -EINVAL);
    assert_int_equal(hmk_snapshot(r, NULL, 3, &cycle), -EINVAL);
    hmk_close(r);
    hmk_close(w);
}

static void test_lib_txn_semantics(void **state)
{
    hmk_region *r = open_ok(0);
    uint64_t raw[P_N];
    hmk_value v;
    hmk_txn *t;
    (void)state;

    assert_int_equal(hmk_txn_new(r, &t), 0);
    assert_int_equal(hmk_txn_commit(t), 0); /* empty */
    assert_int_equal(hmk_txn_set(t, 0, &(hmk_value){ .type = HMK_TYPE_FLOAT, .f = 1.0 }), 0);
    assert_int_equal(hmk_txn_set(t, 0, &(hmk_value){ .type = HMK_TYPE_FLOAT, .f = 2.0 }), 0);
    assert_int_equal(hmk_txn_set(t, P_POS, &(hmk_value){ .type = HMK_TYPE_U32, .u = 5 }), 0);
    /* failed sets leave the transaction as it was */
    assert_int_equal(hmk_txn_set(t, 1, &(hmk_value){ .type = HMK_TYPE_BIT, .b = 1 }), -EINVAL);
    assert_int_equal(hmk_txn_set(t, P_SPEED, &(hmk_value){ .type = HMK_TYPE_FLOAT }), -EPERM);
    assert_int_equal(hmk_txn_set(t, P_N, &(hmk_value){ .type = HMK_TYPE_FLOAT }), -ERANGE);
    assert_int_equal(hmk_txn_set(t, 0, &(hmk_value){ .type = HMK_TYPE_FLOAT, .f = NAN }),
                     -ERANGE);
    assert_int_equal(hmk_txn_commit(t), 2); /* distinct pins, last value wins */
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(hmk_read_out(r, 0, &v), 0);
    assert_true(v.f == 2.0);
    assert_int_equal(hmk_read_out(r, P_POS, &v), 0);
    assert_int_equal(v.u, 5);
    assert_int_equal(hmk_txn_commit(t), 0); /* commit emptied it */
    /* clear discards what was staged */
    assert_int_equal(hmk_txn_set(t, P_POS, &(hmk_value){ .type = HMK_TYPE_U32, .u = 6 }), 0);
    hmk_txn_clear(t);
    assert_int_equal(hmk_txn_commit(t), 0);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(hmk_read_out(r, P_POS, &v), 0);
    assert_int_equal(v.u, 5);
    assert_int_equal(atomic_load(&fx.chan[0]->commits), 1);
    assert_int_equal(atomic_load(&fx.shm->hdr.out_applied), 2);
    /* per-pin write generations: the bridge sees which pins a commit wrote */
    assert_int_equal(atomic_load(&fx.chan[0]->out.copy[0].wgen[0]), 1);
    assert_int_equal(atomic_load(&fx.chan[0]->out.copy[1].wgen[0]), 1);
    assert_int_equal(atomic_load(&fx.chan[0]->out.copy[0].wgen[1]), 0);
    assert_true(fake_read_latch(fx.chan[0], raw, P_N) >= 0);
    assert_int_equal(raw[P_POS], 5);
    hmk_txn_free(t);
    hmk_txn_free(NULL);
    assert_int_equal(hmk_txn_new(NULL, &t), -EINVAL);
    assert_int_equal(hmk_txn_new(r, NULL), -EINVAL);
    hmk_close(r);
}

static void test_lib_write_grants(void **state)
{
    hmk_region *r;
    (void)state;

    setenv("HMK_WRITE_PINS", "pin.1, estop", 1);
    r = open_ok(0);
    assert_int_equal(hmk_write_float(r, 1, 1.0), 0);
    assert_int_equal(hmk_write_bit(r, P_ESTOP, true), 0);
    assert_int_equal(hmk_write_float(r, 0, 1.0), -EPERM);
    assert_int_equal(hmk_write_u32(r, P_POS, 1), -EPERM);
    hmk_close(r);
    setenv("HMK_WRITE_PINS", "pin.1,nosuchpin", 1);
    assert_int_equal(open_err(), -ENXIO); /* a grant of a pin the region lacks */
    setenv("HMK_WRITE_PINS", "", 1);
    r = open_ok(0);
    assert_int_equal(hmk_write_float(r, 1, 1.0), -EROFS);
    hmk_close(r);
    unsetenv("HMK_WRITE_PINS");
}

static void test_lib_strerror(void **state)
{
    static const int errs[] = { -ENOENT, -EBADMSG, -EPROTONOSUPPORT, -EMSGSIZE, -ESTALE,
                                -EAGAIN, -ERANGE, -EINVAL, -EPERM, -EROFS, -ETIMEDOUT };
    (void)state;
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        const char *s = hmk_strerror(errs[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 3);
        assert_null(strchr(s, '\n'));
    }
}

/* ---- read-only is enforced by the kernel -------------------------------- */

static void test_lib_rdonly_mapping_faults_on_write(void **state)
{
    uint32_t magic = fx.shm->hdr.magic;
    int status;
    pid_t pid;
    (void)state;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the child maps the object as a read-only handle does */
        int fd = open(fx.path, O_RDONLY | O_CLOEXEC);
        volatile struct hmk_shm *m;
        signal(SIGSEGV, SIG_DFL); /* not cmocka's or a sanitizer's handler */
        if (fd < 0)
            _exit(2);
        m = mmap(NULL, sizeof(struct hmk_shm), PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            _exit(3);
        if (m->hdr.magic != HMK_REGION_MAGIC)
            _exit(4);
        m->hdr.magic = 0; /* must fault */
        _exit(5);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status))
        print_message("child exited with %d instead of faulting\n", WEXITSTATUS(status));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    assert_int_equal(fx.shm->hdr.magic, magic);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_lib_open_ok_and_close),
        T(test_lib_open_bad_arguments),
        T(test_lib_open_missing),
        T(test_lib_open_wrong_magic),
        T(test_lib_open_wrong_version),
        T(test_lib_open_wrong_sizes),
        T(test_lib_open_truncated),
        T(test_lib_open_corrupt_header_and_pins),
        T(test_lib_open_detached_or_unready),
        T(test_lib_open_private_header_copy),
        T(test_lib_open_races_header_writer),
        T(test_lib_open_not_a_regular_file),
        T(test_lib_open_foreign_objects),
        T(test_lib_detached_check_and_commit),
        T(test_lib_pin_find),
        T(test_lib_pin_find_other_prefix),
        T(test_lib_write_type_checks),
        T(test_lib_typed_round_trip),
        T(test_lib_snapshot),
        T(test_lib_txn_semantics),
        T(test_lib_write_grants),
        T(test_lib_strerror),
        T(test_lib_rdonly_mapping_faults_on_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
