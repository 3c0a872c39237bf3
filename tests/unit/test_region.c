/*
 * test_region.c - the region's layout and its two seqlocks, exercised
 * through libhalmk on one side and a fake bridge (tests/unit/fake_region.h)
 * on the other:
 *  - layout: sizes and offsets against the ABI table in docs/region.md;
 *  - in seqlock: a fake-bridge writer thread and hmk_snapshot() readers,
 *    >= 1,000,000 reads of a checksummed multi-pin record, zero torn;
 *  - out latch: hmk_txn_* writer threads and a fake-bridge reader using the
 *    bounded latch read, zero torn among successful reads;
 *  - hmk_snapshot of out-only pins shows a transaction whole as well.
 * Writers that stop or die mid-write: test_region_recovery.c.
 *
 * Records carry a checksum relation (tests/unit/region_fixture.h) so that
 * tearing is detectable. test_region_checker_detects_tearing shows that the
 * check does fire when a reader skips the seqlock.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "region_fixture.h"

#define IN_READS    1000000ull     /* total hmk_snapshot reads required */
#define IN_READERS  3
#define OUT_WRITERS 3
#define OUT_READS   1000000ull     /* fake-bridge latch read attempts */
#define MIN_CHANGES 2000ull        /* record changes the readers must observe */
#define DEADLINE_NS (60ull * 1000000000ull)

/* ---- fixture ------------------------------------------------------------ */

/* out-only u32 pins o0..o<NPINS-1>: hmk_snapshot gives their out values */
static int setup_out_only(void **state)
{
    static struct fx fx;
    struct hmk_pin_desc pins[NPINS];
    char name[16];

    for (unsigned i = 0; i < NPINS; i++) {
        snprintf(name, sizeof(name), "o%u", i);
        fake_pin(&pins[i], name, HMK_RT_U32, HMK_RD_OUT, 0);
    }
    if (fake_region_create(&fx.f, pins, NPINS, NULL) < 0)
        return -1;
    *state = &fx;
    return 0;
}

/* ---- layout ------------------------------------------------------------- */

static void test_region_layout_offsets(void **state)
{
    (void)state;
    /* ABI 3 (include/hmk_region.h): 3 widened the stream record */
    assert_int_equal(HMK_ABI_VERSION, 3);
    assert_int_equal(sizeof(struct hmk_shm), 91200);
    assert_int_equal(sizeof(struct hmk_region_header), 648);
    assert_true(sizeof(struct hmk_region_header) <= HMK_HEADER_SPACE);
    assert_int_equal(sizeof(struct hmk_pin_desc), 64);
    assert_true(sizeof(pthread_mutex_t) <= 64);
    assert_int_equal(offsetof(struct hmk_out_block, lock), 0);
    assert_int_equal(sizeof(((struct hmk_out_block *)0)->lock_space), 64);

    assert_int_equal(offsetof(struct hmk_region_header, magic), 0);
    assert_int_equal(offsetof(struct hmk_region_header, abi_version), 4);
    assert_int_equal(offsetof(struct hmk_region_header, header_size), 8);
    assert_int_equal(offsetof(struct hmk_region_header, pin_desc_size), 12);
    assert_int_equal(offsetof(struct hmk_region_header, region_size), 16);
    assert_int_equal(offsetof(struct hmk_region_header, layout_hash), 24);
    assert_int_equal(offsetof(struct hmk_region_header, generation), 32);
    assert_int_equal(offsetof(struct hmk_region_header, pin_count), 40);
    assert_int_equal(offsetof(struct hmk_region_header, max_pins), 44);
    assert_int_equal(offsetof(struct hmk_region_header, state), 48);
    assert_int_equal(offsetof(struct hmk_region_header, heartbeat_timeout_ms), 52);
    assert_int_equal(offsetof(struct hmk_region_header, bridge_cycle), 56);
    assert_int_equal(offsetof(struct hmk_region_header, bridge_time_ns), 64);
    assert_int_equal(offsetof(struct hmk_region_header, daemon_heartbeat_ns), 72);
    assert_int_equal(offsetof(struct hmk_region_header, daemon_pid), 80);
    assert_int_equal(offsetof(struct hmk_region_header, connected), 84);
    assert_int_equal(offsetof(struct hmk_region_header, cycles), 88);
    assert_int_equal(offsetof(struct hmk_region_header, torn_retries), 96);
    assert_int_equal(offsetof(struct hmk_region_header, latch_misses), 104);
    assert_int_equal(offsetof(struct hmk_region_header, rejected), 112);
    assert_int_equal(offsetof(struct hmk_region_header, exec_ns_last), 120);
    assert_int_equal(offsetof(struct hmk_region_header, exec_ns_max), 128);
    assert_int_equal(offsetof(struct hmk_region_header, out_applied), 136);
    assert_int_equal(offsetof(struct hmk_region_header, change_word), 144);
    assert_int_equal(offsetof(struct hmk_region_header, faulted), 148);
    assert_int_equal(offsetof(struct hmk_region_header, hal_prefix), 152);
    assert_int_equal(offsetof(struct hmk_region_header, rtapi_pid), 200);
    assert_int_equal(offsetof(struct hmk_region_header, channels), 204);
    assert_int_equal(offsetof(struct hmk_region_header, region_fd), 208);
    assert_int_equal(offsetof(struct hmk_region_header, ctl_fd), 212);
    assert_int_equal(offsetof(struct hmk_region_header, region_ino), 216);
    assert_int_equal(offsetof(struct hmk_region_header, ctl_ino), 224);
    assert_int_equal(offsetof(struct hmk_region_header, chan_fd), 232);
    assert_int_equal(offsetof(struct hmk_region_header, chan_ino), 360);
    assert_int_equal(offsetof(struct hmk_region_header, reserved), 616);
    /* the futex word is 4-byte aligned (FUTEX_WAIT needs it) */
    assert_int_equal(offsetof(struct hmk_region_header, change_word) % 4, 0);

    assert_int_equal(offsetof(struct hmk_pin_desc, name), 0);
    assert_int_equal(sizeof(((struct hmk_pin_desc *)0)->name), 48);
    assert_int_equal(offsetof(struct hmk_pin_desc, type), 48);
    assert_int_equal(offsetof(struct hmk_pin_desc, dir), 49);
    assert_int_equal(offsetof(struct hmk_pin_desc, flags), 50);

    assert_int_equal(offsetof(struct hmk_shm, hdr), 0);
    assert_int_equal(offsetof(struct hmk_shm, pin), 1024);
    assert_int_equal(offsetof(struct hmk_shm, in), 66560);
    assert_int_equal(offsetof(struct hmk_shm, in.value), 66624);
    assert_int_equal(offsetof(struct hmk_shm, in.changed_cycle), 74816);
    assert_int_equal(offsetof(struct hmk_shm, in.out_value), 83008);
    assert_true(HMK_MAX_PINS >= 256);

    /* the capabilities: control block and channels (sealed memfds) */
    assert_int_equal(sizeof(struct hmk_ctl), 4160);
    assert_int_equal(offsetof(struct hmk_ctl, heartbeat_ns), 16);
    assert_int_equal(offsetof(struct hmk_ctl, relay_word), 32);
    assert_int_equal(offsetof(struct hmk_ctl, relay_word) % 4, 0);
    assert_int_equal(offsetof(struct hmk_ctl, alive), 36); /* a futex word: 4-aligned */
    assert_int_equal(offsetof(struct hmk_ctl, grant_seq), 40);
    assert_int_equal(offsetof(struct hmk_ctl, grant), 64);
    assert_int_equal(HMK_GRANT_WORDS * 64, HMK_MAX_PINS);
    assert_int_equal(sizeof(struct hmk_chan), 33088);
    assert_int_equal(offsetof(struct hmk_chan, writer_recoveries), 16);
    assert_int_equal(offsetof(struct hmk_chan, commits), 24);
    assert_int_equal(offsetof(struct hmk_chan, out), 64);
    assert_int_equal(offsetof(struct hmk_chan, out.seq), 128);
    assert_int_equal(offsetof(struct hmk_chan, out.copy[0]), 192);
    assert_int_equal(offsetof(struct hmk_chan, out.copy[1]), 192 + 12 * HMK_MAX_PINS);
    assert_int_equal(offsetof(struct hmk_chan, cmd), 24768);
    assert_int_equal(sizeof(struct hmk_out_copy), 12 * HMK_MAX_PINS);
    assert_int_equal(sizeof(struct hmk_cmd_ring), 128 + 32 * HMK_CMD_DEPTH);
    assert_int_equal(offsetof(struct hmk_cmd_ring, head), 64);
    assert_int_equal(offsetof(struct hmk_cmd_ring, tail), 72);
    assert_int_equal(HMK_SEALS_REQUIRED, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW);

    /* the values that travel in it */
    assert_int_equal(HMK_RT_BIT, HMK_TYPE_BIT);
    assert_int_equal(HMK_RT_FLOAT, HMK_TYPE_FLOAT);
    assert_int_equal(HMK_RT_S32, HMK_TYPE_S32);
    assert_int_equal(HMK_RT_U32, HMK_TYPE_U32);
    assert_int_equal(HMK_RD_IN, HMK_DIR_IN);
    assert_int_equal(HMK_RD_OUT, HMK_DIR_OUT);
    assert_int_equal(HMK_RD_IO, HMK_DIR_IO);
    assert_int_equal(hmk_dec_s32(hmk_enc_s32(INT32_MIN)), INT32_MIN);
    assert_int_equal(hmk_enc_s32(-1), 0xffffffffull);
    assert_true(hmk_enc_float(-0.0) == 0x8000000000000000ull);
}

/* The fixture's region is one that libhalmk accepts and reads as created. */
static void test_region_fixture_is_valid(void **state)
{
    struct fx *fx = *state;
    struct hmk_pin_info pi;
    struct hmk_stats st;
    hmk_region *r = open_rw(fx);

    assert_int_equal(hmk_pin_count(r), IN_NPINS);
    assert_int_equal(hmk_pin_info(r, 3, &pi), 0);
    assert_string_equal(pi.name, "pin.3");
    assert_int_equal(pi.type, HMK_TYPE_U32);
    assert_int_equal(pi.dir, HMK_DIR_IO);
    assert_true(pi.slot);
    assert_int_equal(hmk_stats(r, &st), 0);
    assert_int_equal(st.generation, fx->f.shm->hdr.generation);
    assert_int_equal(st.layout_hash, hmk_layout_hash(fx->f.shm->pin, IN_NPINS));
    hmk_close(r);
}

/* ---- in seqlock: fake bridge writer, hmk_snapshot readers ---------------- */

struct in_run {
    struct fx *fx;
    hmk_region *r;
    _Atomic int stop;
    _Atomic uint64_t reads, torn, eagain, errors, distinct, backwards;
    _Atomic uint64_t written;
    uint64_t deadline;
};

static void *in_writer(void *arg)
{
    struct in_run *run = arg;
    struct hmk_shm *shm = run->fx->f.shm;
    uint64_t rng = 12345, k = 0;
    uint32_t rec[IN_NPINS];
    uint64_t raw[IN_NPINS];

    while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
        k++;
        make_record(rec, IN_NPINS, (uint32_t)k, k * 7919);
        for (unsigned i = 0; i < IN_NPINS; i++)
            raw[i] = rec[i];
        fake_bridge_write_in(shm, raw, IN_NPINS, k);
        atomic_store_explicit(&run->written, k, memory_order_relaxed);
        /* a short, varying gap so readers also find the lock free; the
         * bridge itself writes once per servo period */
        unsigned spin = (unsigned)(fake_rand(&rng) % 256);
        for (unsigned j = 0; j < spin; j++)
            (void)atomic_load_explicit(&run->stop, memory_order_relaxed);
    }
    return NULL;
}

static void *in_reader(void *arg)
{
    struct in_run *run = arg;
    uint64_t quota = (IN_READS + IN_READERS - 1) / IN_READERS;
    uint64_t last_cycle = 0, n = 0;
    hmk_value vals[IN_NPINS];
    uint32_t rec[IN_NPINS];

    /* a share of the reads, and (the point of the exercise) reads that
     * raced a moving writer: under CPU load the threads may be time-sliced
     * rather than overlap, so keep going until enough records were seen
     * change, within the deadline */
    while (n < quota || atomic_load_explicit(&run->distinct, memory_order_relaxed) < MIN_CHANGES) {
        uint64_t cycle = 0;
        int ret = hmk_snapshot(run->r, vals, IN_NPINS, &cycle);
        if (ret == -EAGAIN) {
            atomic_fetch_add(&run->eagain, 1);
        } else if (ret < 0) {
            atomic_fetch_add(&run->errors, 1);
        } else {
            n++;
            for (unsigned i = 0; i < IN_NPINS; i++)
                rec[i] = vals[i].u;
            /* the record's own checksum, and its sequence number = the
             * snapshot's cycle (cycle 0: nothing written yet, all zero) */
            if (cycle == 0 ? rec[IN_NPINS - 1] != 0 || rec[0] != 0
                           : !record_ok(rec, IN_NPINS) || rec[0] != (uint32_t)cycle)
                atomic_fetch_add(&run->torn, 1);
            if (cycle < last_cycle)
                atomic_fetch_add(&run->backwards, 1);
            if (cycle != last_cycle)
                atomic_fetch_add_explicit(&run->distinct, 1, memory_order_relaxed);
            last_cycle = cycle;
        }
        if ((n & 1023) == 0 && fake_now_ns() > run->deadline)
            break;
    }
    atomic_fetch_add(&run->reads, n);
    return NULL;
}

static void test_region_in_seqlock_no_torn_snapshots(void **state)
{
    struct fx *fx = *state;
    struct in_run run = { .fx = fx };
    pthread_t w, rd[IN_READERS];
    uint64_t t0 = fake_now_ns();

    run.r = open_rw(fx);
    run.deadline = t0 + DEADLINE_NS;
    assert_int_equal(pthread_create(&w, NULL, in_writer, &run), 0);
    for (int i = 0; i < IN_READERS; i++)
        assert_int_equal(pthread_create(&rd[i], NULL, in_reader, &run), 0);
    for (int i = 0; i < IN_READERS; i++)
        pthread_join(rd[i], NULL);
    atomic_store(&run.stop, 1);
    pthread_join(w, NULL);
    hmk_close(run.r);

    print_message("in seqlock: %llu snapshots by %d readers, %llu records written, "
                  "%llu cycle changes seen, %llu torn, %llu -EAGAIN, %.2f s\n",
                  (unsigned long long)run.reads, IN_READERS, (unsigned long long)run.written,
                  (unsigned long long)run.distinct, (unsigned long long)run.torn,
                  (unsigned long long)run.eagain, (double)(fake_now_ns() - t0) / 1e9);
    assert_true(run.reads >= IN_READS);
    assert_int_equal(run.torn, 0);
    assert_int_equal(run.errors, 0);
    assert_int_equal(run.backwards, 0);
    /* the readers really raced a moving writer */
    assert_true(run.written >= MIN_CHANGES);
    assert_true(run.distinct >= MIN_CHANGES);
}

/*
 * Control: the same record check on a reader that copies the values with
 * no seqlock at all does find torn records, so a zero above means something.
 * Bounded by a deadline; stops at the first torn record.
 */
struct naive_run {
    struct hmk_shm *shm;
    _Atomic int stop;
};

static void *naive_writer(void *arg)
{
    struct naive_run *run = arg;
    uint32_t rec[NPINS];
    uint64_t raw[NPINS], k = 0;

    while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
        k++;
        make_record(rec, NPINS, (uint32_t)k, k * 31);
        for (unsigned i = 0; i < NPINS; i++)
            raw[i] = rec[i];
        fake_bridge_write_in(run->shm, raw, NPINS, k);
    }
    return NULL;
}

static void test_region_checker_detects_tearing(void **state)
{
    struct fx *fx = *state;
    struct naive_run run = { .shm = fx->f.shm };
    uint64_t deadline = fake_now_ns() + 20ull * 1000000000ull, reads = 0, torn = 0;
    uint64_t raw[NPINS];
    pthread_t w;

    assert_int_equal(pthread_create(&w, NULL, naive_writer, &run), 0);
    while (torn == 0 && fake_now_ns() < deadline) {
        for (int k = 0; k < 1000; k++) {
            for (unsigned i = 0; i < NPINS; i++)
                raw[i] = atomic_load_explicit(&fx->f.shm->in.value[i], memory_order_relaxed);
            reads++;
            if (raw[0] != 0 && !record_ok64(raw, NPINS))
                torn++;
        }
    }
    atomic_store(&run.stop, 1);
    pthread_join(w, NULL);
    print_message("control: a reader without the seqlock saw a torn record after %llu reads\n",
                  (unsigned long long)reads);
    assert_true(torn > 0);
}

/* ---- out latch: hmk_txn writers, fake-bridge reader ---------------------- */

struct out_run {
    struct fx *fx;
    _Atomic int stop;
    _Atomic uint64_t commits, errors;
    uint64_t deadline;
    int id_next;
    pthread_mutex_t id_lock;
    bool paced;              /* one commit per bridge cycle per writer */
};

static void *out_writer(void *arg)
{
    struct out_run *run = arg;
    hmk_region *r = NULL;
    hmk_txn *t = NULL;
    uint32_t rec[NPINS];
    uint32_t k = 0;
    int id;

    pthread_mutex_lock(&run->id_lock);
    id = ++run->id_next;
    pthread_mutex_unlock(&run->id_lock);
    if (hmk_open(run->fx->f.name, 0, &r) < 0 || hmk_txn_new(r, &t) < 0) {
        atomic_fetch_add(&run->errors, 1);
        hmk_close(r);
        return NULL;
    }
    while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
        k++;
        make_record(rec, NPINS, ((uint32_t)id << 24) | (k & 0xffffff),
                    ((uint64_t)id << 32) | k);
        for (unsigned i = 0; i < NPINS; i++) {
            hmk_value v = { .type = HMK_TYPE_U32, .u = rec[i] };
            if (hmk_txn_set(t, i, &v) < 0)
                atomic_fetch_add(&run->errors, 1);
        }
        if (hmk_txn_commit(t) != (int)NPINS)
            atomic_fetch_add(&run->errors, 1);
        else
            atomic_fetch_add_explicit(&run->commits, 1, memory_order_relaxed);
        /* a writer flipping its latch without pause makes the bridge's
         * bounded read miss it (by design: only it loses); services write
         * at most once a servo cycle, which this models */
        if (run->paced) {
            uint64_t c = atomic_load(&run->fx->f.shm->hdr.bridge_cycle);
            while (atomic_load(&run->fx->f.shm->hdr.bridge_cycle) == c &&
                   !atomic_load_explicit(&run->stop, memory_order_relaxed))
                sched_yield();
        }
    }
    hmk_txn_free(t);
    hmk_close(r);
    return NULL;
}

static void test_region_out_latch_no_torn_reads(void **state)
{
    struct fx *fx = *state;
    struct out_run run = { .fx = fx };
    pthread_t w[OUT_WRITERS];
    uint64_t raw[NPINS], prev0 = 0;
    uint64_t attempts = 0, ok = 0, retries = 0, misses = 0, torn = 0, distinct = 0;
    uint64_t merges = 0, merge_torn = 0, merge_misses = 0;
    uint64_t t0 = fake_now_ns();

    pthread_mutex_init(&run.id_lock, NULL);
    run.deadline = t0 + DEADLINE_NS;
    for (int i = 0; i < OUT_WRITERS; i++)
        assert_int_equal(pthread_create(&w[i], NULL, out_writer, &run), 0);
    /* the bridge's role, in this thread */
    while ((attempts < OUT_READS || distinct < MIN_CHANGES) && fake_now_ns() < run.deadline) {
        for (int k = 0; k < 1000; k++) {
            int ret = fake_read_latch(fx->f.chan[0], raw, NPINS);
            attempts++;
            if (ret < 0) {
                misses++;
                retries += HMK_LATCH_RETRIES - 1;
                continue;
            }
            ok++;
            retries += (unsigned)ret;
            if (raw[0] == 0 && raw[NPINS - 1] == 0)
                continue; /* nothing committed yet */
            if (!record_ok64(raw, NPINS))
                torn++;
            if (raw[0] != prev0)
                distinct++;
            prev0 = raw[0];
        }
        /* the merge (the bridge's own code) takes whole transactions too */
        if (!fake_bridge_cycle(&fx->f))
            merge_misses++;
        merges++;
        for (unsigned i = 0; i < NPINS; i++)
            raw[i] = fx->f.b->m.latched[i];
        if (!(raw[0] == 0 && raw[NPINS - 1] == 0) && !record_ok64(raw, NPINS))
            merge_torn++;
    }
    atomic_store(&run.stop, 1);
    for (int i = 0; i < OUT_WRITERS; i++)
        pthread_join(w[i], NULL);
    pthread_mutex_destroy(&run.id_lock);

    /* afterwards, both copies hold the last commit */
    for (unsigned i = 0; i < NPINS; i++) {
        assert_int_equal(atomic_load(&fx->f.chan[0]->out.copy[0].value[i]),
                         atomic_load(&fx->f.chan[0]->out.copy[1].value[i]));
        assert_int_equal(atomic_load(&fx->f.chan[0]->out.copy[0].wgen[i]),
                         atomic_load(&fx->f.chan[0]->out.copy[1].wgen[i]));
    }
    print_message("out latch: %llu bridge reads (%llu ok), %llu retries, %llu misses "
                  "(bound %u), %llu torn, %llu commits by %d writers, %llu changes seen, "
                  "%.2f s\n",
                  (unsigned long long)attempts, (unsigned long long)ok,
                  (unsigned long long)retries, (unsigned long long)misses, HMK_LATCH_RETRIES,
                  (unsigned long long)torn, (unsigned long long)run.commits, OUT_WRITERS,
                  (unsigned long long)distinct, (double)(fake_now_ns() - t0) / 1e9);
    assert_true(attempts >= OUT_READS);
    assert_int_equal(run.errors, 0);
    print_message("merge: %llu cycles, %llu latch misses, %llu torn\n",
                  (unsigned long long)merges, (unsigned long long)merge_misses,
                  (unsigned long long)merge_torn);
    assert_int_equal(torn, 0);
    assert_int_equal(merge_torn, 0);
    assert_int_equal(atomic_load(&fx->f.shm->hdr.latch_misses), merge_misses);
    assert_int_equal(atomic_load(&fx->f.shm->hdr.rejected), 0);
    assert_true(run.commits >= MIN_CHANGES);
    assert_true(distinct >= MIN_CHANGES);
    assert_int_equal(atomic_load(&fx->f.chan[0]->commits), run.commits);
}

/* The bridge's write cycle, over and over, until stopped. */
static void *bridge_main(void *arg)
{
    struct out_run *run = arg;

    while (!atomic_load_explicit(&run->stop, memory_order_relaxed))
        fake_bridge_cycle(&run->fx->f);
    return NULL;
}

/*
 * hmk_snapshot of out-only pins (it gives their applied out values) must
 * show a transaction whole too: the bridge takes it from one latch read and
 * publishes it in one in-seqlock write. Writers: hmk_txn_* threads as
 * above; the bridge: its merge in a thread; readers: hmk_snapshot here.
 */
static void test_region_snapshot_out_only_pins_consistent(void **state)
{
    struct fx *fx = *state;
    struct out_run run = { .fx = fx, .paced = true };
    hmk_region *r = open_rw(fx);
    pthread_t w[2], bridge;
    hmk_value vals[NPINS];
    uint32_t rec[NPINS], prev0 = 0;
    uint64_t reads = 0, torn = 0, distinct = 0, eagain = 0;

    pthread_mutex_init(&run.id_lock, NULL);
    run.deadline = fake_now_ns() + DEADLINE_NS;
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&w[i], NULL, out_writer, &run), 0);
    /* the bridge applies (merge + publish under the in seqlock) in its own
     * thread: what hmk_snapshot gives out-only pins is what it applied */
    assert_int_equal(pthread_create(&bridge, NULL, bridge_main, &run), 0);
    while ((reads < 200000 || distinct < MIN_CHANGES) && fake_now_ns() < run.deadline) {
        int ret = hmk_snapshot(r, vals, NPINS, NULL);
        if (ret == -EAGAIN) {
            eagain++;
            continue;
        }
        assert_int_equal(ret, 0);
        reads++;
        for (unsigned i = 0; i < NPINS; i++)
            rec[i] = vals[i].u;
        if (rec[0] == 0 && rec[NPINS - 1] == 0)
            continue;
        if (!record_ok(rec, NPINS))
            torn++;
        if (rec[0] != prev0)
            distinct++;
        prev0 = rec[0];
    }
    atomic_store(&run.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(w[i], NULL);
    pthread_join(bridge, NULL);
    pthread_mutex_destroy(&run.id_lock);
    hmk_close(r);
    print_message("snapshot of out-only pins: %llu reads, %llu torn, %llu -EAGAIN, "
                  "%llu changes seen, %llu bridge cycles (%llu latch misses), %llu commits\n",
                  (unsigned long long)reads, (unsigned long long)torn,
                  (unsigned long long)eagain, (unsigned long long)distinct,
                  (unsigned long long)fx->f.b->cycle,
                  (unsigned long long)atomic_load(&fx->f.shm->hdr.latch_misses),
                  (unsigned long long)run.commits);
    assert_int_equal(run.errors, 0);
    assert_int_equal(torn, 0);
    assert_true(distinct >= MIN_CHANGES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_region_layout_offsets),
        cmocka_unit_test_setup_teardown(test_region_fixture_is_valid, setup_u32, teardown),
        cmocka_unit_test_setup_teardown(test_region_in_seqlock_no_torn_snapshots, setup_u32, teardown),
        cmocka_unit_test_setup_teardown(test_region_checker_detects_tearing, setup_u32, teardown),
        cmocka_unit_test_setup_teardown(test_region_out_latch_no_torn_reads, setup_u32, teardown),
        cmocka_unit_test_setup_teardown(test_region_snapshot_out_only_pins_consistent,
                                        setup_out_only, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
