/*
 * cfg_value.c - the configuration's value parsers (durations, sizes, CPU
 * lists, shell-like words) and the NULL-terminated string vectors the
 * parsed configuration keeps. Pure functions: no parse state, no messages;
 * cfg.c turns their -errno into the line's error. See cfg.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cfg_priv.h"

void cfg_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

size_t cfg_strv_len(char *const *v)
{
    size_t n = 0;

    while (v && v[n])
        n++;
    return n;
}

/* appends (takes ownership of s); -ENOMEM leaves v intact and frees s */
int cfg_strv_push(char ***v, char *s)
{
    size_t n = cfg_strv_len(*v);
    char **nv = realloc(*v, (n + 2) * sizeof(*nv));

    if (!nv) {
        free(s);
        return -ENOMEM;
    }
    nv[n] = s;
    nv[n + 1] = NULL;
    *v = nv;
    return 0;
}

bool cfg_strv_equal(char *const *a, char *const *b)
{
    size_t n = cfg_strv_len(a);

    if (n != cfg_strv_len(b))
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i], b[i]))
            return false;
    return true;
}

/* Appends the blank-separated words of val to *v. */
int cfg_strv_append_words(char ***v, const char *val)
{
    char **words = NULL;
    size_t n = 0, m = 0;
    int ret = cfg_split_argv(val, &words);

    if (ret < 0)
        return ret;
    while (*v && (*v)[n])
        n++;
    while (words[m])
        m++;
    char **nv = realloc(*v, (n + m + 1) * sizeof(*nv));
    if (!nv) {
        cfg_strv_free(words);
        return -ENOMEM;
    }
    memcpy(nv + n, words, (m + 1) * sizeof(*nv));
    free(words); /* the strings moved into nv */
    *v = nv;
    return 0;
}

int cfg_split_argv(const char *s, char ***argv_out)
{
    char **argv = NULL;
    char *word = NULL;
    size_t len = 0;
    int ret;

    word = malloc(strlen(s) + 1);
    if (!word)
        return -ENOMEM;
    for (;;) {
        bool in_word = false;

        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        len = 0;
        while (*s && *s != ' ' && *s != '\t') {
            in_word = true;
            if (*s == '\'') {
                const char *e = strchr(s + 1, '\'');
                if (!e) {
                    ret = -EINVAL;
                    goto fail;
                }
                memcpy(word + len, s + 1, (size_t)(e - s - 1));
                len += (size_t)(e - s - 1);
                s = e + 1;
            } else if (*s == '"') {
                s++;
                while (*s && *s != '"') {
                    if (*s == '\\' && s[1] && strchr("\"\\$`", s[1]))
                        s++;
                    word[len++] = *s++;
                }
                if (*s != '"') {
                    ret = -EINVAL;
                    goto fail;
                }
                s++;
            } else if (*s == '\\') {
                if (!s[1]) {
                    ret = -EINVAL;
                    goto fail;
                }
                word[len++] = s[1];
                s += 2;
            } else {
                word[len++] = *s++;
            }
        }
        if (in_word) {
            char *w = strndup(word, len);
            if (!w || cfg_strv_push(&argv, w) < 0) {
                ret = -ENOMEM;
                goto fail;
            }
        }
    }
    if (!argv) {
        ret = -ENODATA;
        goto fail;
    }
    free(word);
    *argv_out = argv;
    return 0;

fail:
    free(word);
    cfg_strv_free(argv);
    return ret;
}

int cfg_parse_scaled(const char *s, const struct cfg_unit *units, size_t n_units, uint64_t max, uint64_t *out)
{
    const uint64_t E9 = 1000000000ull;
    uint64_t whole = 0, frac = 0, scale = E9, v;
    bool huge = false;
    const struct cfg_unit *u = NULL;

    if (!isdigit((unsigned char)*s))
        return -EINVAL; /* no sign, no blanks, no "inf"/"nan" */
    for (; isdigit((unsigned char)*s); s++) {
        if (whole > UINT64_MAX / 100)
            huge = true; /* keeps reading: what follows must still be valid */
        else
            whole = whole * 10 + (uint64_t)(*s - '0');
    }
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return -EINVAL; /* "1." or "1.s" */
        for (; isdigit((unsigned char)*s); s++) {
            if (scale > 1) { /* frac is in 1e-9ths */
                scale /= 10;
                frac += (uint64_t)(*s - '0') * scale;
            }
        }
    }
    for (size_t i = 0; i < n_units; i++)
        if (!strcmp(s, units[i].name))
            u = &units[i];
    if (!u)
        return -EINVAL;
    if (huge || (u->mult && whole > max / u->mult))
        return -ERANGE;
    /* frac < 1e9: with mult up to 1e10 the product fits 64 bits */
    v = whole * u->mult + (frac * u->mult + E9 / 2) / E9;
    if (v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int cfg_parse_duration_ms(const char *s, uint64_t *out)
{
    static const struct cfg_unit units[] = {
        { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "min", 60000 }, { "h", 3600000 },
    };
    /* > 31 years: surely a typo */
    return cfg_parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 1000000000000ull, out);
}

int cfg_parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end)
        return -EINVAL;
    if (errno || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int cfg_parse_crash_limit(const char *s, unsigned *n, uint64_t *window_ms)
{
    unsigned long long v;
    char buf[64], *sp;
    int ret;

    if (!strcmp(s, "none")) {
        *n = 0;
        *window_ms = 0;
        return 0;
    }
    if (strlen(s) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, s);
    sp = strstr(buf, " in ");
    if (!sp)
        return -EINVAL;
    *sp = '\0';
    ret = cfg_parse_uint(buf, 1000, &v);
    if (ret < 0)
        return ret;
    if (v == 0)
        return -ERANGE;
    ret = cfg_parse_duration_ms(sp + 4, window_ms);
    if (ret < 0)
        return ret;
    if (*window_ms == 0)
        return -ERANGE;
    *n = (unsigned)v;
    return 0;
}

int cfg_parse_cpu_list(const char *s, cpu_set_t *out)
{
    CPU_ZERO(out);
    for (;;) {
        unsigned long a, b;
        char *end;

        if (!isdigit((unsigned char)*s))
            return -EINVAL;
        a = strtoul(s, &end, 10);
        b = a;
        if (*end == '-') {
            s = end + 1;
            if (!isdigit((unsigned char)*s))
                return -EINVAL;
            b = strtoul(s, &end, 10);
        }
        if (a > b)
            return -EINVAL;
        if (b >= CPU_SETSIZE)
            return -ERANGE;
        for (unsigned long i = a; i <= b; i++)
            CPU_SET(i, out);
        if (!*end)
            return 0;
        if (*end != ',')
            return -EINVAL;
        s = end + 1;
    }
}

int cfg_parse_size(const char *s, uint64_t *out)
{
    unsigned long long v;
    char *end;
    unsigned shift = 0;

    if (!strcmp(s, "infinity")) {
        *out = RLIM_INFINITY;
        return 0;
    }
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -ERANGE;
    if (*end) {
        const char *u = "KMGT", *p = strchr(u, *end);
        if (!p || end[1])
            return -EINVAL;
        shift = 10u * (unsigned)(p - u + 1);
    }
    if (v > (UINT64_MAX >> 1) >> shift)
        return -ERANGE;
    *out = v << shift;
    return 0;
}

int cfg_parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1"))
        *out = true;
    else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "0"))
        *out = false;
    else
        return -EINVAL;
    return 0;
}
