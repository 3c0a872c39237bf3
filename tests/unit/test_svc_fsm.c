/* test_svc_fsm.c - every cell of the state x event table, and the backoff and
 * crash-loop arithmetic. No processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <cmocka.h>

#include "cfg.h"
#include "svc_fsm.h"

#define S(x) SVC_##x
#define A(x) SVC_ACT_##x

/* events other than EXIT: the whole table */
static const struct {
    enum svc_state s;
    enum svc_event e;
    enum svc_state next;
    unsigned actions;
} cells[] = {
    { S(STOPPED), S(EV_UP), S(STARTING), A(SPAWN) },
    { S(STOPPED), S(EV_DOWN), S(STOPPED), 0 },
    { S(STOPPED), S(EV_START), S(STOPPED), 0 }, /* UP follows once its after= run */
    { S(STOPPED), S(EV_STOP), S(STOPPED), 0 },
    { S(STOPPED), S(EV_RESTART), S(STOPPED), 0 },
    { S(STOPPED), S(EV_RECONFIGURE), S(STOPPED), A(TAKE_CFG) },
    { S(STOPPED), S(EV_READY), S(STOPPED), 0 },
    { S(STOPPED), S(EV_TIMER), S(STOPPED), 0 },
    { S(STOPPED), S(EV_EXIT), S(STOPPED), 0 },
    { S(STARTING), S(EV_UP), S(STARTING), 0 },
    { S(STARTING), S(EV_DOWN), S(STOPPING), A(TERM) | A(ARM_STOP) },
    { S(STARTING), S(EV_START), S(STARTING), 0 },
    { S(STARTING), S(EV_STOP), S(STARTING), 0 }, /* DOWN follows */
    { S(STARTING), S(EV_RESTART), S(STOPPING), A(TERM) | A(ARM_STOP) },
    { S(STARTING), S(EV_RECONFIGURE), S(STOPPING), A(TERM) | A(ARM_STOP) },
    { S(STARTING), S(EV_READY), S(RUNNING), A(CANCEL_TIMER) }, /* the ready-timeout */
    { S(STARTING), S(EV_TIMER), S(STOPPING), A(NOT_READY) | A(TERM) | A(ARM_STOP) },
    { S(RUNNING), S(EV_UP), S(RUNNING), 0 },
    { S(RUNNING), S(EV_DOWN), S(STOPPING), A(TERM) | A(ARM_STOP) },
    { S(RUNNING), S(EV_START), S(RUNNING), 0 },
    { S(RUNNING), S(EV_STOP), S(RUNNING), 0 },
    { S(RUNNING), S(EV_RESTART), S(STOPPING), A(TERM) | A(ARM_STOP) },
    { S(RUNNING), S(EV_RECONFIGURE), S(STOPPING), A(TERM) | A(ARM_STOP) },
    { S(RUNNING), S(EV_READY), S(RUNNING), 0 },
    { S(RUNNING), S(EV_TIMER), S(RUNNING), 0 },
    { S(STOPPING), S(EV_UP), S(STOPPING), 0 },
    { S(STOPPING), S(EV_DOWN), S(STOPPING), 0 },
    { S(STOPPING), S(EV_START), S(STOPPING), 0 },
    { S(STOPPING), S(EV_STOP), S(STOPPING), 0 },
    { S(STOPPING), S(EV_RESTART), S(STOPPING), 0 },
    { S(STOPPING), S(EV_RECONFIGURE), S(STOPPING), 0 },
    { S(STOPPING), S(EV_READY), S(STOPPING), 0 },
    { S(STOPPING), S(EV_TIMER), S(STOPPING), A(KILL) },
    { S(BACKOFF), S(EV_UP), S(BACKOFF), 0 }, /* its timer restarts it */
    { S(BACKOFF), S(EV_DOWN), S(STOPPED), A(CANCEL_TIMER) },
    { S(BACKOFF), S(EV_START), S(STARTING), A(CANCEL_TIMER) | A(RESET_CRASHES) | A(SPAWN) },
    { S(BACKOFF), S(EV_STOP), S(BACKOFF), 0 },
    { S(BACKOFF), S(EV_RESTART), S(STARTING), A(CANCEL_TIMER) | A(RESET_CRASHES) | A(SPAWN) },
    { S(BACKOFF), S(EV_RECONFIGURE), S(STOPPED), A(CANCEL_TIMER) | A(TAKE_CFG) },
    { S(BACKOFF), S(EV_READY), S(BACKOFF), 0 },
    { S(BACKOFF), S(EV_TIMER), S(STARTING), A(COUNT_RESTART) | A(SPAWN) },
    { S(BACKOFF), S(EV_EXIT), S(BACKOFF), 0 },
    { S(FAILED), S(EV_UP), S(FAILED), 0 },   /* only by hand */
    { S(FAILED), S(EV_DOWN), S(FAILED), 0 }, /* what happened stays shown */
    { S(FAILED), S(EV_START), S(STARTING), A(RESET_CRASHES) | A(SPAWN) },
    { S(FAILED), S(EV_STOP), S(STOPPED), 0 },
    { S(FAILED), S(EV_RESTART), S(STARTING), A(RESET_CRASHES) | A(SPAWN) },
    { S(FAILED), S(EV_RECONFIGURE), S(STOPPED), A(TAKE_CFG) },
    { S(FAILED), S(EV_READY), S(FAILED), 0 },
    { S(FAILED), S(EV_TIMER), S(FAILED), 0 },
    { S(FAILED), S(EV_EXIT), S(FAILED), 0 },
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
        struct svc_step st = svc_fsm_step(cells[i].s, cells[i].e, NULL);
        if (st.next != cells[i].next || st.actions != cells[i].actions) {
            fprintf(stderr, "%s x %d: got %s/%#x want %s/%#x\n", svc_state_name(cells[i].s), cells[i].e,
                    svc_state_name(st.next), st.actions, svc_state_name(cells[i].next), cells[i].actions);
            fail();
        }
    }
}

/* every (state, event) pair but the EXITs test_exit covers has a row */
static void test_table_complete(void **state)
{
    (void)state;
    for (int s = 0; s < SVC_STATE_COUNT; s++)
        for (int e = 0; e < SVC_EV_COUNT; e++) {
            bool found = e == SVC_EV_EXIT && s != S(STOPPED) && s != S(BACKOFF) && s != S(FAILED);
            for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]) && !found; i++)
                found = (int)cells[i].s == s && (int)cells[i].e == e;
            if (!found) {
                fprintf(stderr, "no row for %s x %d\n", svc_state_name(s), e);
                fail();
            }
        }
}

/* the rule the daemon logs and counts crashes by, beside the table's */
static void test_exit_unwanted(void **state)
{
    struct svc_exit_info up = { .goal_up = true }, nr = { .goal_up = true, .not_ready = true };
    (void)state;
    assert_true(svc_fsm_exit_unwanted(S(STARTING), &up));
    assert_true(svc_fsm_exit_unwanted(S(RUNNING), &up));
    assert_false(svc_fsm_exit_unwanted(S(STOPPING), &up)); /* a stop asked for */
    assert_true(svc_fsm_exit_unwanted(S(STOPPING), &nr));  /* ready-timeout: a failed start */
    nr.goal_up = false;
    assert_false(svc_fsm_exit_unwanted(S(STOPPING), &nr)); /* stopped by hand meanwhile */
    for (int s = 0; s < SVC_STATE_COUNT; s++)
        if (s != S(STARTING) && s != S(RUNNING) && s != S(STOPPING))
            assert_false(svc_fsm_exit_unwanted(s, &up));
}

static struct svc_step ex(enum svc_state s, bool goal_up, bool exec_failed, bool clean, int restart, bool limit)
{
    struct svc_exit_info x = { goal_up, exec_failed, clean, restart, limit, false };
    return svc_fsm_step(s, SVC_EV_EXIT, &x);
}

static void test_exit(void **state)
{
    struct svc_step st;
    (void)state;

    for (int s = S(STARTING); s <= S(RUNNING); s++) {
        /* exec failure: failed, never a crash loop, whatever the policy */
        st = ex(s, true, true, false, CFG_RESTART_ALWAYS, false);
        assert_int_equal(st.next, S(FAILED));
        assert_int_equal(st.actions, A(GOAL_DOWN));
        /* crash under each policy */
        st = ex(s, true, false, false, CFG_RESTART_ALWAYS, false);
        assert_int_equal(st.next, S(BACKOFF));
        assert_int_equal(st.actions, A(ARM_BACKOFF));
        st = ex(s, true, false, false, CFG_RESTART_ON_FAILURE, false);
        assert_int_equal(st.next, S(BACKOFF));
        st = ex(s, true, false, false, CFG_RESTART_NO, false);
        assert_int_equal(st.next, S(STOPPED));
        assert_int_equal(st.actions, A(GOAL_DOWN));
        /* clean exit */
        st = ex(s, true, false, true, CFG_RESTART_ON_FAILURE, false);
        assert_int_equal(st.next, S(STOPPED));
        assert_int_equal(st.actions, A(GOAL_DOWN));
        st = ex(s, true, false, true, CFG_RESTART_ALWAYS, false);
        assert_int_equal(st.next, S(BACKOFF));
        /* crash-loop limit */
        st = ex(s, true, false, false, CFG_RESTART_ALWAYS, true);
        assert_int_equal(st.next, S(FAILED));
        assert_int_equal(st.actions, A(GOAL_DOWN));
    }
    /* stopping: down, or straight back up when the goal is up (restart) */
    st = ex(S(STOPPING), false, false, false, CFG_RESTART_ALWAYS, false);
    assert_int_equal(st.next, S(STOPPED));
    assert_int_equal(st.actions, A(CANCEL_TIMER));
    st = ex(S(STOPPING), true, false, false, CFG_RESTART_NO, true);
    assert_int_equal(st.next, S(STARTING));
    assert_int_equal(st.actions, A(CANCEL_TIMER) | A(SPAWN));
    /* stopped for its ready-timeout: a failed start, under its policy */
    {
        struct svc_exit_info x = { .goal_up = true, .restart = CFG_RESTART_ALWAYS, .not_ready = true };
        st = svc_fsm_step(S(STOPPING), SVC_EV_EXIT, &x);
        assert_int_equal(st.next, S(BACKOFF));
        assert_int_equal(st.actions, A(CANCEL_TIMER) | A(ARM_BACKOFF));
        x.restart = CFG_RESTART_NO;
        st = svc_fsm_step(S(STOPPING), SVC_EV_EXIT, &x);
        assert_int_equal(st.next, S(STOPPED));
        assert_int_equal(st.actions, A(CANCEL_TIMER) | A(GOAL_DOWN));
        x.restart = CFG_RESTART_ON_FAILURE;
        x.crash_limit_hit = true;
        st = svc_fsm_step(S(STOPPING), SVC_EV_EXIT, &x);
        assert_int_equal(st.next, S(FAILED));
        /* stopped by hand meanwhile: stays down */
        x.goal_up = false;
        st = svc_fsm_step(S(STOPPING), SVC_EV_EXIT, &x);
        assert_int_equal(st.next, S(STOPPED));
        assert_int_equal(st.actions, A(CANCEL_TIMER));
    }
}

static void test_names(void **state)
{
    (void)state;
    for (int s = 0; s < SVC_STATE_COUNT; s++)
        assert_int_equal(svc_state_parse(svc_state_name(s)), s);
    assert_string_equal(svc_state_name(S(BACKOFF)), "backoff");
    assert_int_equal(svc_state_parse("zombie"), -22);
}

static void test_backoff(void **state)
{
    (void)state;
    assert_int_equal(svc_backoff_ms(500, 2.0, 30000, 0), 500);
    assert_int_equal(svc_backoff_ms(500, 2.0, 30000, 1), 1000);
    assert_int_equal(svc_backoff_ms(500, 2.0, 30000, 5), 16000);
    assert_int_equal(svc_backoff_ms(500, 2.0, 30000, 6), 30000);
    assert_int_equal(svc_backoff_ms(500, 2.0, 30000, 4000000000u), 30000); /* no overflow, no long loop */
    assert_int_equal(svc_backoff_ms(100, 1.5, 1000, 2), 225);
    assert_int_equal(svc_backoff_ms(0, 2.0, 1000, 10), 0);
    assert_int_equal(svc_backoff_ms(200, 1.0, 1000, 50), 200);
    assert_int_equal(svc_backoff_ms(5000, 2.0, 1000, 0), 1000);
}

static void test_crash_window(void **state)
{
    uint64_t ring[3];
    struct svc_crashes c = { ring, 3, 0, 0 };
    (void)state;

    /* 3 in 60 s: crashes 1-3 are restarted, the 4th inside 60 s fails */
    assert_false(svc_crash_record(&c, 60000, 1000));
    assert_false(svc_crash_record(&c, 60000, 2000));
    assert_false(svc_crash_record(&c, 60000, 3000));
    assert_true(svc_crash_record(&c, 60000, 4000));

    /* spread out: never more than 3 in any 60 s */
    svc_crash_reset(&c);
    for (uint64_t t = 0; t < 1000000; t += 20001)
        assert_false(svc_crash_record(&c, 60000, t));

    /* the window slides: old crashes age out exactly at T */
    svc_crash_reset(&c);
    assert_false(svc_crash_record(&c, 60000, 0));
    assert_false(svc_crash_record(&c, 60000, 10));
    assert_false(svc_crash_record(&c, 60000, 20));
    assert_false(svc_crash_record(&c, 60000, 60000)); /* the crash at 0 is 60 s old: out */
    assert_false(svc_crash_record(&c, 60000, 60011)); /* 10 aged out: 20, 60000 in */
    assert_true(svc_crash_record(&c, 60000, 60015));  /* 20, 60000, 60011 in */

    /* limit 0: never */
    {
        struct svc_crashes none = { NULL, 0, 0, 0 };
        for (int i = 0; i < 100; i++)
            assert_false(svc_crash_record(&none, 1000, 5));
    }
    /* limit 1 */
    {
        uint64_t r1[1];
        struct svc_crashes one = { r1, 1, 0, 0 };
        assert_false(svc_crash_record(&one, 1000, 0));
        assert_true(svc_crash_record(&one, 1000, 999));
        assert_false(svc_crash_record(&one, 1000, 5000));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table), cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_exit_unwanted), cmocka_unit_test(test_exit), cmocka_unit_test(test_names),
        cmocka_unit_test(test_backoff), cmocka_unit_test(test_crash_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
