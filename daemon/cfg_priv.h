/*
 * cfg_priv.h - what the configuration loader's files share: cfg.c reads the
 * file and its sections, cfg_keys.c knows every key, cfg_value.c parses
 * values, cfg_check.c checks across sections. Not for the rest of the
 * daemon: that uses cfg.h.
 */
#ifndef HMK_CFG_PRIV_H
#define HMK_CFG_PRIV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

/* --- cfg_value.c: string vectors (NULL-terminated) and numbers --- */
size_t cfg_strv_len(char *const *v);
/* appends (takes ownership of s); -ENOMEM leaves v intact and frees s */
int cfg_strv_push(char ***v, char *s);
bool cfg_strv_equal(char *const *a, char *const *b);
/* Appends the blank-separated words of val to *v (cfg_split_argv). */
int cfg_strv_append_words(char ***v, const char *val);
/* A decimal number 0..max: -EINVAL not a number, -ERANGE above max. */
int cfg_parse_uint(const char *s, unsigned long long max, unsigned long long *out);

/* --- cfg_check.c: the checks that need the whole file --- */
/* Fills *err (the message formatted by fmt_v, fmt.h). */
void cfg_verror(struct cfg_error *err, int line, const char *format, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* After every line was parsed: each service complete, its after= targets
 * known and acyclic (then c->svc in start order), each queue complete and
 * granted to its services, no realtime service on LinuxCNC's CPUs (the
 * kernel's isolated CPUs stand for rt-cpus unless rt_cpus_given). 0, or
 * -EINVAL with *err filled. */
int cfg_check(struct cfg *c, bool rt_cpus_given, struct cfg_error *err);

/* --- cfg.c: the parse state, shared with the key parsers (cfg_keys.c) --- */

/* The kinds of section, as their header starts: [daemon], [service NAME],
 * [queue NAME] (cfg.c's sections[]). */
enum cfg_section { SEC_NONE, SEC_DAEMON, SEC_SERVICE, SEC_QUEUE };

/* The text being parsed, whole in memory (a file is read in first): its
 * length is explicit so that a NUL byte inside is seen, not taken as the end. */
struct cfg_src {
    const char *p;    /* the next line starts here */
    const char *end;
};

struct pstate {
    struct cfg *c;
    struct cfg_error *err;
    struct cfg_src src;
    int line;
    bool failed;
    enum cfg_section sec;  /* the section the lines are in; SEC_NONE before the first */
    void *obj;             /* its struct: &c->daemon, a cfg_service or a cfg_queue */
    const char *sec_name;  /* its NAME, NULL for [daemon] */
    unsigned *seen;        /* its seen-key bits (duplicate keys) */
    bool seen_daemon;
};

/* The line's error, unless there is one already: the first is reported. */
void cfg_perr(struct pstate *ps, int line, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* --- cfg_keys.c: every key of every section --- */
struct key_def;
/* Parses val into obj (the section's struct); a bad value is the line's
 * error. Called once per line, after the duplicate check. */
typedef void key_parser(struct pstate *ps, const struct key_def *k, void *obj, const char *val);

enum key_dup {
    KEY_ONCE,    /* a second time is "duplicate key" */
    KEY_REPEAT,  /* each line adds to a list (after, env, senders, receivers) */
};

struct key_def {
    const char *name;
    enum cfg_section sec;
    key_parser *parse;
    size_t off;            /* the field it fills: offset in the section's struct */
    enum key_dup dup;
    size_t flag;           /* offset of the bool a good value sets (has_...), 0: none */
    long long min, max;    /* the range, for numbers and durations */
    const char *const *choices; /* p_choice: the words of an enum field, by value */
    unsigned n_choices;
    const char *word;      /* a word standing for word_val (uint64_t fields): none, infinity */
    uint64_t word_val;
    const char *hint;      /* the (...) of "invalid KEY 'VALUE' (...)" */
};

/* The key `name` of section `sec` (NULL: unknown), and its bit in the
 * section's `seen`. */
const struct key_def *cfg_key_find(enum cfg_section sec, const char *name, unsigned *bit);

#endif
