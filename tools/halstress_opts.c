/*
 * halstress: the command line and the pins a record uses. See halstress(1).
 */
#include "halstress.h"
#include "hmk_version.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ------------------------------------------------------------- */

static void stress_usage(FILE *f)
{
    fprintf(f,
        "Usage: halstress [OPTION]...\n"
        "Load hal-microkernel with N writer and M reader processes and verify every\n"
        "snapshot: no torn record, no lost update. Exit 0 if none was seen, 1 if one\n"
        "was (or on error), 2 on bad usage.\n"
        "  -w, --writers N      writer processes (1..255, default 1)\n"
        "  -r, --readers M      reader processes (0..1024, default 1)\n"
        "      --rate HZ        records per second per writer (default: flat out)\n"
        "  -d, --duration SEC   run time (default 10, or until -n is done)\n"
        "  -n, --count WRITES   records per writer, then stop\n"
        "  -i, --interval SEC   statistics every SEC seconds (default 1, 0: end only)\n"
        "  -R, --region NAME    region (default $HAL_MICROKERNEL_REGION or hal-microkernel)\n"
        "      --pins A,B,...   record pins (default: every float pin with an out side)\n"
        "      --loopback       also verify the in values: HAL nets each pin's out to its in\n"
        "      --kill HZ        SIGKILL a random writer HZ times a second on average and\n"
        "                       start a new one in its place\n"
        "  -h, --help           this text\n"
        "See halstress(1).\n");
}

static int stress_bad(const char *opt, const char *arg, const char *why)
{
    fprintf(stderr, "halstress: %s '%s': %s\n", opt, arg, why);
    return -EINVAL;
}

static int stress_parse_uint(const char *opt, const char *s, uint64_t min, uint64_t max,
                             uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
        char why[96];
        snprintf(why, sizeof(why), "must be a whole number from %llu to %llu",
                 (unsigned long long)min, (unsigned long long)max);
        return stress_bad(opt, s, why);
    }
    *out = v;
    return 0;
}

static int stress_parse_secs(const char *opt, const char *s, double min, double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max) {
        char why[96];
        snprintf(why, sizeof(why), "must be a number from %g to %g", min, max);
        return stress_bad(opt, s, why);
    }
    *out = v;
    return 0;
}

static int stress_option(struct stress_cfg *cfg, int c, const char *arg)
{
    uint64_t u;
    int ret = 0;

    switch (c) {
    case 'w': ret = stress_parse_uint("--writers", arg, 1, STRESS_MAX_WRITERS, &u);
              cfg->writers = (unsigned)u; break;
    case 'r': ret = stress_parse_uint("--readers", arg, 0, STRESS_MAX_READERS, &u);
              cfg->readers = (unsigned)u; break;
    case 'n': ret = stress_parse_uint("--count", arg, 1, STRESS_MAX_SEQ, &cfg->count); break;
    case 'Z': ret = stress_parse_secs("--rate", arg, 0.001, 1e9, &cfg->rate); break;
    case 'd': ret = stress_parse_secs("--duration", arg, 0.001, 1e7, &cfg->duration); break;
    case 'i': ret = stress_parse_secs("--interval", arg, 0, 1e7, &cfg->interval); break;
    case 'R': cfg->region = arg; break;
    case 'P': cfg->pin_list = arg; break;
    case 'L': cfg->loopback = true; break;
    case 'K': ret = stress_parse_secs("--kill", arg, 0.001, 10000, &cfg->kill_rate); break;
    default: ret = -EINVAL; break;
    }
    return ret;
}

/* getopt's own messages do not say which option of ours; these do. */
static int stress_opt_error(int c, char **argv)
{
    const char *opt = argv[optind - 1];

    if (c == ':')
        fprintf(stderr, "halstress: option '%s' needs a value (see halstress --help)\n", opt);
    else if (optopt)
        fprintf(stderr, "halstress: unknown option '-%c' (see halstress --help)\n", optopt);
    else
        fprintf(stderr, "halstress: unknown option '%s' (see halstress --help)\n", opt);
    return 2;
}

/* Returns -1 to go on, else the exit status. */
int stress_parse(struct stress_cfg *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        { "writers", required_argument, NULL, 'w' },  { "readers", required_argument, NULL, 'r' },
        { "rate", required_argument, NULL, 'Z' },     { "duration", required_argument, NULL, 'd' },
        { "count", required_argument, NULL, 'n' },    { "interval", required_argument, NULL, 'i' },
        { "region", required_argument, NULL, 'R' },   { "pins", required_argument, NULL, 'P' },
        { "loopback", no_argument, NULL, 'L' },       { "help", no_argument, NULL, 'h' },
        { "kill", required_argument, NULL, 'K' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    cfg->writers = 1;
    cfg->readers = 1;
    cfg->interval = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":w:r:d:n:i:R:h", opts, NULL)) != -1) {
        if (c == 'h') {
            stress_usage(stdout);
            return 0;
        }
        if (c == 'V') {
            puts("halstress " HMK_VERSION);
            return 0;
        }
        if (c == '?' || c == ':')
            return stress_opt_error(c, argv);
        if (stress_option(cfg, c, optarg) < 0)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "halstress: unexpected argument '%s' (see halstress --help)\n",
                argv[optind]);
        return 2;
    }
    if (cfg->duration == 0 && cfg->count == 0)
        cfg->duration = 10;
    return -1;
}

/* ---- pins ---------------------------------------------------------------- */

/* Why pin i cannot carry a record, or NULL if it can. */
static const char *stress_pin_unfit(hmk_region *r, const struct stress_cfg *cfg, unsigned i)
{
    struct hmk_pin_info info;

    hmk_pin_info(r, i, &info);
    if (info.type != HMK_TYPE_FLOAT)
        return "not a float pin";
    if (!(info.dir & HMK_DIR_OUT))
        return "has no out side (direction in)";
    if (cfg->loopback && !(info.dir & HMK_DIR_IN))
        return "has no in side, so --loopback cannot read it back (use slots or io pins)";
    return NULL;
}

static int stress_add_pin(struct stress_cfg *cfg, unsigned i, const char *name)
{
    for (unsigned j = 0; j < cfg->k; j++)
        if (cfg->pin[j] == i)
            return stress_bad("--pins", name, "named twice");
    cfg->pin[cfg->k++] = i;
    if (i + 1 > cfg->snap_n)
        cfg->snap_n = i + 1;
    return 0;
}

static int stress_pins_listed(hmk_region *r, struct stress_cfg *cfg)
{
    char *copy = strdup(cfg->pin_list), *save = NULL;
    int ret = copy ? 0 : -ENOMEM;

    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && ret == 0;
         tok = strtok_r(NULL, ",", &save)) {
        int i = hmk_pin_find(r, tok);
        const char *why;

        if (i < 0)
            ret = stress_bad("--pins", tok, "no such pin in the region (see halpoke --list)");
        else if ((why = stress_pin_unfit(r, cfg, (unsigned)i)) != NULL)
            ret = stress_bad("--pins", tok, why);
        else
            ret = stress_add_pin(cfg, (unsigned)i, tok);
    }
    free(copy);
    return ret;
}

int stress_pins(hmk_region *r, struct stress_cfg *cfg)
{
    int ret = 0;

    if (cfg->pin_list) {
        ret = stress_pins_listed(r, cfg);
    } else {
        for (unsigned i = 0; i < hmk_pin_count(r) && ret == 0; i++)
            if (!stress_pin_unfit(r, cfg, i))
                ret = stress_add_pin(cfg, i, "");
    }
    if (ret == 0 && cfg->k < 2) {
        fprintf(stderr, "halstress: --pins: a record needs at least 2 float pins with an out "
                "side%s; region '%s' gives %u\n", cfg->loopback ? " and an in side" : "",
                hmk_region_name(r), cfg->k);
        ret = -EINVAL;
    }
    return ret;
}
