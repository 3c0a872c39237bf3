/*
 * halstress - load and verify hal-microkernel.
 *
 *   halstress [-w N] [-r M] [--rate HZ] [-d SEC | -n WRITES] [-i SEC]
 *             [-R REGION] [--pins a,b,...] [--loopback] [--kill HZ]
 *
 * N writer processes commit records to K float pins as transactions; M
 * reader processes read the out values back (one consistent latch read)
 * and, with --loopback, the in values the bridge took from HAL after the
 * HAL config netted each slot's .out to its .in. Every snapshot is checked:
 *
 *   tag    = writer << 35 | seq          (writer 1..255, seq 1..2^35-1)
 *   pin j  = tag * 1024 + j              for j < K-1
 *   pin K-1= (~tag mod 2^43) * 1024 + K-1
 *
 * Every value is an integer below 2^53, so exact in a double. Two records
 * never share a tag, so any mix of two records breaks the relation: either
 * two pins decode to different tags or the last pin is not the complement
 * of the others' tag. A torn snapshot is therefore detected with certainty.
 * Per writer, the seq a reader sees must never go backwards (a lost
 * update); at the end the last record of each writer must be the one left
 * in the region and, with --loopback, in HAL.
 *
 * With --kill the parent SIGKILLs a random writer at random moments (on
 * average HZ times a second), mostly in the middle of a commit since that
 * is where a flat-out writer spends its time, and starts a new writer in
 * its place that goes on with the dead one's sequence (from the seq it was
 * attempting, plus one: a seq is never reused). The next writer to take
 * the lock must recover it and repair the half-written copy; readers and
 * HAL must never see the half record.
 *
 * Children report through a shared anonymous mapping (one slot each, one
 * writer per counter); the parent prints statistics every interval and at
 * the end. Exit 0: nothing torn, nothing lost; 1: something was, or an
 * error; 2: usage. See halstress(1).
 */
#include "halstress.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stress_interrupted;

static void stress_on_signal(int sig)
{
    (void)sig;
    stress_interrupted = 1;
}

/* ---- the parent ---------------------------------------------------------- */

struct stress_run {
    struct stress_cfg *cfg;
    hmk_region *r;
    struct stress_shared *sh;
    size_t sh_size;
    pid_t *pid;
    unsigned children, running;
    bool failed;             /* a child failed, or a check of the parent did */
    uint64_t *spawn_writes;  /* per writer: its commit count when it was (re)started */
    uint64_t kills, restarts, next_kill, rng;
    struct hmk_stats st0;
    uint64_t t0;
};

static unsigned stress_nchildren(const struct stress_cfg *cfg)
{
    return cfg->writers + cfg->readers;
}

/* Commits record `tag` as one transaction. */
static int stress_commit_record(struct stress_run *run, uint64_t tag)
{
    hmk_txn *t = NULL;
    int ret = hmk_txn_new(run->r, &t);

    if (ret >= 0)
        ret = stress_stage(t, run->cfg, tag);
    if (ret >= 0)
        ret = hmk_txn_commit(t);
    hmk_txn_free(t);
    return ret < 0 ? ret : 0;
}

/* Waits until a side shows record `tag` whole: the out side once the bridge
 * applied it (readers of out pins see what HAL got, not what was committed),
 * the in side (in = true, --loopback) once HAL's nets carried it over. */
static int stress_await(struct stress_run *run, uint64_t tag, bool in)
{
    const struct stress_cfg *cfg = run->cfg;
    uint64_t end = stress_now() + STRESS_SETTLE_MS * 1000000ull, got;
    hmk_value *snap = calloc(cfg->snap_n > cfg->k ? cfg->snap_n : cfg->k, sizeof(*snap));
    double *v = calloc(cfg->k, sizeof(*v));
    int ret = snap && v ? -ETIMEDOUT : -ENOMEM;
    unsigned bad;

    while (ret == -ETIMEDOUT && stress_now() < end) {
        int e = in ? hmk_snapshot(run->r, snap, cfg->snap_n, NULL)
                   : hmk_read_outs(run->r, cfg->pin, cfg->k, snap);
        if (e < 0 && e != -EAGAIN) {
            ret = e;
            break;
        }
        for (unsigned j = 0; e >= 0 && j < cfg->k; j++)
            v[j] = in ? snap[cfg->pin[j]].f : snap[j].f;
        if (e >= 0 && stress_check(v, cfg->k, &got, &bad) == 0 && got == tag)
            ret = 0;
        else
            stress_sleep_ns(1000000);
    }
    free(snap);
    free(v);
    return ret;
}

/* The record readers start from: committed, and applied by the bridge before
 * any reader runs (a reader that saw the pins' values from before it would
 * take them for a torn record). */
static int stress_start_record(struct stress_run *run)
{
    int ret = stress_commit_record(run, 0);

    if (ret < 0) {
        fprintf(stderr, "halstress: region '%s': cannot write the pins: %s\n",
                hmk_region_name(run->r), hmk_strerror(ret));
        return ret;
    }
    ret = stress_await(run, 0, false);
    if (ret == -ETIMEDOUT) {
        fprintf(stderr, "halstress: the bridge did not apply a write within %d ms; start the thread "
                "that runs its functions (see halstress(1))\n", STRESS_SETTLE_MS);
        return ret;
    }
    if (ret >= 0 && run->cfg->loopback)
        ret = stress_await(run, 0, true);
    if (ret == -ETIMEDOUT)
        fprintf(stderr, "halstress: --loopback: HAL's in pins did not follow the out pins within "
                "%d ms; net each slot's .out to its .in and start the thread "
                "(see halstress(1))\n", STRESS_SETTLE_MS);
    else if (ret < 0)
        fprintf(stderr, "halstress: region '%s': %s\n", hmk_region_name(run->r),
                hmk_strerror(ret));
    return ret;
}

/* Forks child n: writers are 0..N-1, readers follow. */
static int stress_spawn(struct stress_run *run, unsigned n)
{
    bool writer = n < run->cfg->writers;
    struct stress_child c = {
        .cfg = run->cfg, .r = run->r, .sh = run->sh, .slot = &run->sh->slot[n],
        .id = writer ? n + 1 : n + 1 - run->cfg->writers,
    };
    pid_t p;

    fflush(stdout);
    fflush(stderr);
    p = fork();
    if (p < 0) {
        int e = errno;
        fprintf(stderr, "halstress: fork: %s\n", strerror(e));
        return -e;
    }
    if (p == 0) {
        free(run->pid);
        free(run->spawn_writes);
        stress_child_main(&c, writer);
    }
    run->pid[n] = p;
    run->running++;
    if (writer)
        run->spawn_writes[n] = stress_get(&run->sh->slot[n].writes);
    return 0;
}

static int stress_fork(struct stress_run *run)
{
    for (unsigned n = 0; n < run->children; n++) {
        int ret = stress_spawn(run, n);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static void stress_sum(const struct stress_run *run, struct stress_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned n = 0; n < run->children; n++) {
        const struct stress_slot *s = &run->sh->slot[n];
        uint64_t m = stress_get(&s->lat_max_ns);

        t->writes += stress_get(&s->writes);
        t->reads_out += stress_get(&s->reads_out);
        t->reads_in += stress_get(&s->reads_in);
        t->torn_out += stress_get(&s->torn_out);
        t->torn_in += stress_get(&s->torn_in);
        t->backwards += stress_get(&s->backwards);
        t->lat_max_ns = m > t->lat_max_ns ? m : t->lat_max_ns;
        for (unsigned b = 0; b < STRESS_BUCKETS; b++)
            t->hist[b] += stress_get(&s->hist[b]);
    }
}

/* Child n ended with `status` (and is reaped): a failure stops the run. */
static void stress_ended(struct stress_run *run, unsigned n, int status)
{
    bool writer = n < run->cfg->writers;

    run->pid[n] = 0;
    run->running--;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return;
    if (WIFSIGNALED(status))
        fprintf(stderr, "halstress: %s %u: killed by signal %d\n", writer ? "writer" : "reader",
                writer ? n + 1 : n + 1 - run->cfg->writers, WTERMSIG(status));
    run->failed = true;
    atomic_store_explicit(&run->sh->stop, 1, memory_order_relaxed);
}

/* Reaps children that exited. */
static void stress_reap(struct stress_run *run, int flags)
{
    for (unsigned n = 0; n < run->children && run->running; n++) {
        int status;

        if (run->pid[n] > 0 && waitpid(run->pid[n], &status, flags) > 0)
            stress_ended(run, n, status);
    }
}

/* ---- --kill -------------------------------------------------------------- */

static uint64_t stress_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(0x2545F4914F6CDD1D);
}

/* Exponentially distributed gaps (a Poisson process): kills fall at random
 * moments, never in step with the writers' own rhythm. */
static uint64_t stress_kill_gap(struct stress_run *run)
{
    double u = ((double)(stress_rand(&run->rng) >> 11) + 0.5) / 0x1p53;

    return (uint64_t)(-log(u) / run->cfg->kill_rate * 1e9);
}

/* SIGKILLs a random writer and starts a new one in its place. */
static int stress_kill_one(struct stress_run *run)
{
    unsigned n = (unsigned)(stress_rand(&run->rng) % run->cfg->writers);
    pid_t p = run->pid[n];
    int status;

    if (p <= 0)
        return 0; /* it finished its -n count */
    kill(p, SIGKILL);
    while (waitpid(p, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
        stress_ended(run, n, status); /* it ended by itself first */
        return 0;
    }
    run->pid[n] = 0;
    run->running--;
    run->kills++;
    if (stress_spawn(run, n) < 0)
        return -1;
    run->restarts++;
    return 0;
}

/* The run is over: wait until every writer started by --kill has committed
 * at least once, so the region's last record comes from a writer that
 * recorded it (a killed writer's last commit may be unrecorded). */
static void stress_kill_settle(struct stress_run *run)
{
    double wait_s = 3.0 / (run->cfg->rate > 0 ? run->cfg->rate : 1e9);
    uint64_t end = stress_now() + (uint64_t)((wait_s > 5 ? wait_s : 5) * 1e9);

    for (unsigned n = 0; n < run->cfg->writers; n++) {
        while (run->pid[n] > 0 && stress_get(&run->sh->slot[n].writes) <= run->spawn_writes[n]
               && atomic_load_explicit(&run->sh->slot[n].done, memory_order_acquire) == 0) {
            if (stress_now() >= end || run->failed) {
                fprintf(stderr, "halstress: writer %u made no commit after its restart\n", n + 1);
                run->failed = true;
                return;
            }
            stress_sleep_ns(1000000);
            stress_reap(run, WNOHANG);
        }
    }
}

static bool stress_writers_done(const struct stress_run *run)
{
    for (unsigned n = 0; n < run->cfg->writers; n++)
        if (atomic_load_explicit(&run->sh->slot[n].done, memory_order_acquire) == 0)
            return false;
    return true;
}

static void stress_print_interval(struct stress_run *run, const struct stress_totals *now,
                                  const struct stress_totals *prev, double secs)
{
    uint64_t hist[STRESS_BUCKETS]; /* this interval's commits only */
    struct hmk_stats st;

    for (unsigned b = 0; b < STRESS_BUCKETS; b++)
        hist[b] = now->hist[b] - prev->hist[b];
    hmk_stats(run->r, &st);
    printf("%8.1fs  writes/s %9.0f  reads/s %9.0f  torn %llu  backwards %llu  retries %llu  "
           "misses %llu  recoveries %llu  kills %llu  commit us p50 %.2f p99 %.2f max %.1f\n",
           (double)(stress_now() - run->t0) / 1e9,
           (double)(now->writes - prev->writes) / secs,
           (double)(now->reads_out + now->reads_in - prev->reads_out - prev->reads_in) / secs,
           (unsigned long long)(now->torn_out + now->torn_in),
           (unsigned long long)now->backwards,
           (unsigned long long)(st.torn_retries - run->st0.torn_retries),
           (unsigned long long)(st.latch_misses - run->st0.latch_misses),
           (unsigned long long)(st.writer_recoveries - run->st0.writer_recoveries),
           (unsigned long long)run->kills, stress_percentile_us(hist, 0.50), stress_percentile_us(hist, 0.99),
           (double)now->lat_max_ns / 1000.0);
    fflush(stdout);
}

static bool stress_should_stop(const struct stress_run *run, uint64_t end)
{
    if (stress_interrupted || atomic_load_explicit(&run->sh->stop, memory_order_relaxed))
        return true;
    if (end && stress_now() >= end)
        return true;
    return run->cfg->count && stress_writers_done(run);
}

/* Waits for the end of the run, printing a line every interval. */
static void stress_supervise(struct stress_run *run, struct stress_totals *now,
                             struct stress_totals *prev)
{
    const struct stress_cfg *cfg = run->cfg;
    uint64_t end = cfg->duration > 0 ? run->t0 + (uint64_t)(cfg->duration * 1e9) : 0;
    uint64_t step = cfg->interval > 0 ? (uint64_t)(cfg->interval * 1e9) : 0;
    uint64_t next = run->t0 + step, last = run->t0;

    memset(prev, 0, sizeof(*prev));
    if (cfg->kill_rate > 0)
        run->next_kill = run->t0 + stress_kill_gap(run);
    while (!stress_should_stop(run, end)) {
        uint64_t t = stress_now(), nap = 20000000; /* notice -n completion and failures soon */

        if (cfg->kill_rate > 0)
            nap = run->next_kill <= t ? 0 : run->next_kill - t < nap ? run->next_kill - t : nap;
        stress_sleep_ns(nap);
        stress_reap(run, WNOHANG);
        if (cfg->kill_rate > 0 && stress_now() >= run->next_kill && !run->failed) {
            if (stress_kill_one(run) < 0) {
                run->failed = true;
                break;
            }
            run->next_kill = stress_now() + stress_kill_gap(run);
        }
        if (step && t >= next) {
            stress_sum(run, now);
            stress_print_interval(run, now, prev, (double)(t - last) / 1e9);
            *prev = *now;
            last = t;
            next += step;
        }
    }
}

static bool stress_writers_wrote(const struct stress_run *run)
{
    for (unsigned n = 0; n < run->cfg->writers; n++)
        if (stress_get(&run->sh->slot[n].writes))
            return true;
    return false;
}

/* After the writers stopped: the region must hold the last record of some
 * writer, and with --loopback HAL must show it too. Returns updates lost. */
static uint64_t stress_check_final(struct stress_run *run)
{
    const struct stress_cfg *cfg = run->cfg;
    hmk_value *tmp = calloc(cfg->k, sizeof(*tmp));
    double *v = calloc(cfg->k, sizeof(*v));
    uint64_t tag = 0, last, lost = 0;
    unsigned bad, w;
    int ret;

    /* the region's out values are what the bridge applied: let it apply the
     * writers' last commits first (two cycles), or the check would compare
     * a record the bridge had not yet replaced */
    hmk_sync(run->r, STRESS_SETTLE_MS);
    ret = tmp && v ? hmk_read_outs(run->r, cfg->pin, cfg->k, tmp) : -ENOMEM;

    for (unsigned j = 0; ret >= 0 && j < cfg->k; j++)
        v[j] = tmp[j].f;
    free(tmp);
    if (ret >= 0 && stress_check(v, cfg->k, &tag, &bad) < 0) {
        fprintf(stderr, "halstress: final out values are not one record\n");
        lost = 1;
    }
    free(v);
    if (ret < 0) {
        fprintf(stderr, "halstress: final check: region '%s': %s\n", hmk_region_name(run->r),
                hmk_strerror(ret));
        run->failed = true;
        return 0;
    }
    if (lost)
        return lost;
    w = stress_tag_writer(tag);
    last = w >= 1 && w <= cfg->writers ? stress_get(&run->sh->slot[w - 1].last_tag) : 0;
    if (w == 0 ? stress_writers_wrote(run) : tag != last) {
        fprintf(stderr, "halstress: lost update: the region holds writer %u seq %llu, not that "
                "writer's last commit\n", w, (unsigned long long)stress_tag_seq(tag));
        return 1;
    }
    if (cfg->loopback && stress_await(run, tag, true) < 0) {
        fprintf(stderr, "halstress: lost update: HAL's in pins never showed the last record "
                "(writer %u seq %llu)\n", w, (unsigned long long)stress_tag_seq(tag));
        return 1;
    }
    return 0;
}

static void stress_print_summary(const struct stress_run *run, const struct stress_totals *t,
                                 double secs, bool pass)
{
    const struct stress_cfg *cfg = run->cfg;
    struct hmk_stats st;

    hmk_stats(run->r, &st);
    printf("summary: %u writers, %u readers, %u pins%s, %.3f s\n", cfg->writers, cfg->readers,
           cfg->k, cfg->loopback ? " (loopback)" : "", secs);
    printf("  writes             %llu\n", (unsigned long long)t->writes);
    printf("  writes_per_s       %.0f\n", (double)t->writes / secs);
    printf("  reads_out          %llu\n", (unsigned long long)t->reads_out);
    printf("  reads_in           %llu\n", (unsigned long long)t->reads_in);
    printf("  reads_per_s        %.0f\n", (double)(t->reads_out + t->reads_in) / secs);
    printf("  torn_out           %llu\n", (unsigned long long)t->torn_out);
    printf("  torn_in            %llu\n", (unsigned long long)t->torn_in);
    printf("  torn               %llu\n", (unsigned long long)(t->torn_out + t->torn_in));
    printf("  backwards          %llu\n", (unsigned long long)t->backwards);
    printf("  lost               %llu\n", (unsigned long long)t->lost);
    printf("  bridge_retries     %llu\n", (unsigned long long)(st.torn_retries - run->st0.torn_retries));
    printf("  bridge_misses      %llu\n", (unsigned long long)(st.latch_misses - run->st0.latch_misses));
    printf("  writer_recoveries  %llu\n",
           (unsigned long long)(st.writer_recoveries - run->st0.writer_recoveries));
    printf("  kills              %llu\n", (unsigned long long)run->kills);
    printf("  writer_restarts    %llu\n", (unsigned long long)run->restarts);
    printf("  bridge_cycles      %llu\n", (unsigned long long)(st.cycles - run->st0.cycles));
    printf("  commit_p50_us      %.2f\n", stress_percentile_us(t->hist, 0.50));
    printf("  commit_p99_us      %.2f\n", stress_percentile_us(t->hist, 0.99));
    printf("  commit_max_us      %.1f\n", (double)t->lat_max_ns / 1000.0);
    printf("result: %s\n", pass ? "PASS" : "FAIL");
    fflush(stdout);
}

static int stress_setup(struct stress_run *run)
{
    int ret = hmk_open(run->cfg->region, 0, &run->r);

    if (ret < 0) {
        const char *name = run->cfg->region ? run->cfg->region : getenv("HAL_MICROKERNEL_REGION");
        fprintf(stderr, "halstress: region '%s': %s\n", name && *name ? name : "hal-microkernel",
                hmk_strerror(ret));
        return ret;
    }
    ret = stress_pins(run->r, run->cfg);
    if (ret < 0)
        return ret;
    run->children = stress_nchildren(run->cfg);
    run->sh_size = sizeof(*run->sh) + run->children * sizeof(run->sh->slot[0]);
    run->sh = mmap(NULL, run->sh_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    run->pid = calloc(run->children, sizeof(*run->pid));
    run->spawn_writes = calloc(run->cfg->writers, sizeof(*run->spawn_writes));
    run->rng = (stress_now() ^ (uint64_t)getpid() << 32) | 1;
    if (run->sh == MAP_FAILED || !run->pid || !run->spawn_writes) {
        fprintf(stderr, "halstress: out of memory for %u children\n", run->children);
        return -ENOMEM;
    }
    ret = stress_start_record(run);
    if (ret < 0)
        return ret;
    return hmk_stats(run->r, &run->st0);
}

static void stress_teardown(struct stress_run *run)
{
    if (run->running) {
        atomic_store_explicit(&run->sh->stop, 1, memory_order_relaxed);
        stress_reap(run, 0);
    }
    if (run->sh && run->sh != MAP_FAILED)
        munmap(run->sh, run->sh_size);
    free(run->pid);
    free(run->spawn_writes);
    hmk_close(run->r);
}

/* Runs the children to the end and judges the run: 0 pass, 1 fail. */
static int stress_run_all(struct stress_run *run)
{
    static struct stress_totals now, prev;
    uint64_t t_end;
    bool pass;

    run->t0 = stress_now();
    if (stress_fork(run) < 0) {
        run->failed = true;
        return 1;
    }
    stress_supervise(run, &now, &prev);
    if (run->cfg->kill_rate > 0 && !run->failed && !stress_interrupted)
        stress_kill_settle(run);
    t_end = stress_now();
    atomic_store_explicit(&run->sh->stop, 1, memory_order_relaxed);
    stress_reap(run, 0);
    stress_sum(run, &now);
    if (!run->failed)
        now.lost = stress_check_final(run);
    pass = !run->failed && now.torn_out + now.torn_in + now.backwards + now.lost == 0;
    stress_print_summary(run, &now, (double)(t_end - run->t0) / 1e9, pass);
    return pass ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct sigaction sa = { .sa_handler = stress_on_signal };
    struct stress_run run = { .sh = MAP_FAILED };
    int rc;

    run.cfg = calloc(1, sizeof(*run.cfg));
    if (!run.cfg) {
        fprintf(stderr, "halstress: out of memory\n");
        return 1;
    }
    rc = stress_parse(run.cfg, argc, argv);
    if (rc >= 0) {
        free(run.cfg);
        return rc;
    }
    /* no SA_RESTART: Ctrl-C ends the supervisor's sleep at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = stress_setup(&run) < 0 ? 1 : stress_run_all(&run);
    stress_teardown(&run);
    free(run.cfg);
    return rc;
}
