/*
 * The mapping file: INI-like, one [adapter] section and one section per data
 * item ([event KEY], [sample KEY], [condition KEY]). Every error names
 * FILE:LINE and nothing of a bad file is used (the caller exits).
 */
#include "mtc.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct parse {
    struct mtc_config *c;
    const char *file;
    unsigned line;
    struct mtc_item *it;   /* current item section, NULL in [adapter] */
    bool in_adapter;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static int perr(struct parse *p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s:%u: %s", p->file, p->line, msg);
    return -EINVAL;
}

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Keys become SHDR keys and XML ids: a conservative character set. */
static bool key_ok(const char *s)
{
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return false;
    return true;
}

/* Anything that goes into an SHDR field: no '|', no control characters,
 * and no XML specials (the same words go into Devices.xml). */
static bool text_ok(const char *s, bool spaces)
{
    for (; *s; s++)
        if (*s == '|' || iscntrl((unsigned char)*s) || *s == '<' || *s == '>' || *s == '&' ||
            *s == '"' || (!spaces && *s == ' '))
            return false;
    return true;
}

static int set_word(struct parse *p, char *dst, size_t len, const char *name, const char *v,
                    bool spaces)
{
    if (strlen(v) >= len)
        return perr(p, "%s: longer than %zu characters", name, len - 1);
    if (!text_ok(v, spaces))
        return perr(p, "%s = %s: must not contain '|', '<', '>', '&', '\"'%s or control characters",
                    name, v, spaces ? "" : ", spaces");
    strcpy(dst, v);
    return 0;
}

static int set_num(struct parse *p, const char *name, const char *v, double lo, double hi,
                   double *out)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d < lo || d > hi)
        return perr(p, "%s = %s: not a number in %g..%g", name, v, lo, hi);
    *out = d;
    return 0;
}

static int set_bool(struct parse *p, const char *name, const char *v, bool *out)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
        *out = false;
    else
        return perr(p, "%s = %s: say yes or no", name, v);
    return 0;
}

/* map = 0=READY 1=ACTIVE */
static int set_map(struct parse *p, struct mtc_item *it, char *v)
{
    char *save = NULL;

    it->nmap = 0;
    for (char *tok = strtok_r(v, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '='), *end;
        long long from;

        if (!eq || eq == tok || !eq[1])
            return perr(p, "map: '%s' is not NUMBER=LABEL", tok);
        *eq = '\0';
        errno = 0;
        from = strtoll(tok, &end, 0);
        if (errno || *end || from < INT32_MIN || from > UINT32_MAX)
            return perr(p, "map: '%s' is not a 32-bit number", tok);
        if (it->nmap == MTC_MAP_MAX)
            return perr(p, "map: more than %d entries", MTC_MAP_MAX);
        for (unsigned k = 0; k < it->nmap; k++)
            if (it->map[k].from == from)
                return perr(p, "map: %s given twice", tok);
        it->map[it->nmap].from = from;
        if (set_word(p, it->map[it->nmap].to, MTC_WORD_MAX, "map label", eq + 1, false) < 0)
            return -EINVAL;
        it->nmap++;
    }
    if (!it->nmap)
        return perr(p, "map: empty");
    return 0;
}

static int adapter_kv(struct parse *p, const char *k, char *v)
{
    struct mtc_config *c = p->c;
    double d;

    if (!strcmp(k, "listen"))
        return set_word(p, c->listen, sizeof(c->listen), k, v, false);
    if (!strcmp(k, "region"))
        return set_word(p, c->region, sizeof(c->region), k, v, false);
    if (!strcmp(k, "device"))
        return key_ok(v) ? set_word(p, c->device, sizeof(c->device), k, v, false)
                         : perr(p, "device = %s: letters, digits, _ - . only", v);
    if (!strcmp(k, "uuid"))
        return set_word(p, c->uuid, sizeof(c->uuid), k, v, false);
    if (!strcmp(k, "availability-key"))
        return key_ok(v) ? set_word(p, c->avail_key, sizeof(c->avail_key), k, v, false)
                         : perr(p, "availability-key = %s: letters, digits, _ - . only", v);
    if (!strcmp(k, "availability")) {
        if (strcmp(v, "daemon") && strcmp(v, "attached"))
            return perr(p, "availability = %s: say daemon or attached", v);
        c->avail_needs_daemon = !strcmp(v, "daemon");
        return 0;
    }
    if (!strcmp(k, "heartbeat-ms")) {
        if (set_num(p, k, v, 100, 600000, &d) < 0)
            return -EINVAL;
        c->heartbeat_ms = (unsigned)d;
        return 0;
    }
    if (!strcmp(k, "client-buffer")) {
        if (set_num(p, k, v, 4096, 64 << 20, &d) < 0)
            return -EINVAL;
        c->client_buffer = (size_t)d;
        return 0;
    }
    if (!strcmp(k, "max-clients")) {
        if (set_num(p, k, v, 1, 1000, &d) < 0)
            return -EINVAL;
        c->max_clients = (unsigned)d;
        return 0;
    }
    return perr(p, "unknown setting '%s' in [adapter]", k);
}

static int item_cond_kv(struct parse *p, struct mtc_item *it, const char *k, char *v)
{
    if (!strcmp(k, "level")) {
        if (strcmp(v, "FAULT") && strcmp(v, "WARNING"))
            return perr(p, "level = %s: say FAULT or WARNING", v);
        return set_word(p, it->level, sizeof(it->level), k, v, false);
    }
    if (!strcmp(k, "native-code"))
        return set_word(p, it->native_code, sizeof(it->native_code), k, v, false);
    if (!strcmp(k, "native-severity"))
        return set_word(p, it->native_severity, sizeof(it->native_severity), k, v, false);
    if (!strcmp(k, "qualifier"))
        return set_word(p, it->qualifier, sizeof(it->qualifier), k, v, false);
    if (!strcmp(k, "text"))
        return set_word(p, it->text, sizeof(it->text), k, v, true);
    return perr(p, "unknown setting '%s' for a condition", k);
}

static int item_kv(struct parse *p, struct mtc_item *it, const char *k, char *v)
{
    bool b = false;

    if (!strcmp(k, "pin"))
        return set_word(p, it->pin, sizeof(it->pin), k, v, false);
    if (!strcmp(k, "type"))
        return set_word(p, it->type, sizeof(it->type), k, v, false);
    if (!strcmp(k, "subtype"))
        return set_word(p, it->subtype, sizeof(it->subtype), k, v, false);
    if (!strcmp(k, "name"))
        return set_word(p, it->name, sizeof(it->name), k, v, false);
    if (!strcmp(k, "invert")) {
        if (set_bool(p, k, v, &b) < 0)
            return -EINVAL;
        it->invert = b;
        return 0;
    }
    if (it->kind == MTC_CONDITION)
        return item_cond_kv(p, it, k, v);
    if (it->kind == MTC_EVENT && !strcmp(k, "map"))
        return set_map(p, it, v);
    if (it->kind == MTC_EVENT && !strcmp(k, "default"))
        return set_word(p, it->dflt, sizeof(it->dflt), k, v, false);
    if (it->kind == MTC_SAMPLE && !strcmp(k, "units"))
        return set_word(p, it->units, sizeof(it->units), k, v, false);
    if (it->kind == MTC_SAMPLE && !strcmp(k, "scale"))
        return set_num(p, k, v, -1e12, 1e12, &it->scale);
    if (it->kind == MTC_SAMPLE && !strcmp(k, "deadband"))
        return set_num(p, k, v, 0, 1e12, &it->deadband);
    if (it->kind == MTC_SAMPLE && !strcmp(k, "precision")) {
        double d;
        if (set_num(p, k, v, 1, 17, &d) < 0)
            return -EINVAL;
        it->precision = (int)d;
        return 0;
    }
    return perr(p, "unknown setting '%s' for %s %s", k,
                it->kind == MTC_EVENT ? "an event" : "a sample", it->key);
}

static int section(struct parse *p, char *s)
{
    char *close = strchr(s, ']'), *kind, *key, *save = NULL;
    struct mtc_config *c = p->c;
    struct mtc_item *it;

    if (!close || trim(close + 1)[0])
        return perr(p, "malformed section header");
    *close = '\0';
    kind = strtok_r(s + 1, " \t", &save);
    key = strtok_r(NULL, " \t", &save);
    p->it = NULL;
    p->in_adapter = false;
    if (kind && !strcmp(kind, "adapter") && !key) {
        p->in_adapter = true;
        return 0;
    }
    if (!kind || (strcmp(kind, "event") && strcmp(kind, "sample") && strcmp(kind, "condition")))
        return perr(p, "unknown section [%s]: use [adapter], [event KEY], [sample KEY] or [condition KEY]",
                    kind ? kind : "");
    if (!key || strtok_r(NULL, " \t", &save) || !key_ok(key) || strlen(key) >= MTC_KEY_MAX)
        return perr(p, "[%s]: needs one key of letters, digits, _ - . (at most %d)", kind,
                    MTC_KEY_MAX - 1);
    for (unsigned i = 0; i < c->nitems; i++)
        if (!strcmp(c->item[i].key, key))
            return perr(p, "key '%s' already used at line %u", key, c->item[i].line);
    if (c->nitems == MTC_MAX_ITEMS)
        return perr(p, "more than %d data items", MTC_MAX_ITEMS);
    it = &c->item[c->nitems++];
    memset(it, 0, sizeof(*it));
    it->kind = !strcmp(kind, "event") ? MTC_EVENT : !strcmp(kind, "sample") ? MTC_SAMPLE
                                                                             : MTC_CONDITION;
    it->line = p->line;
    it->scale = 1.0;
    it->precision = 10;
    strcpy(it->key, key);
    strcpy(it->level, "FAULT");
    p->it = it;
    return 0;
}

static int line(struct parse *p, char *s)
{
    char *eq, *k, *v;

    s = trim(s);
    if (!*s || *s == '#' || *s == ';')
        return 0;
    if (*s == '[')
        return section(p, s);
    eq = strchr(s, '=');
    if (!eq)
        return perr(p, "expected KEY = VALUE or [section]");
    *eq = '\0';
    k = trim(s);
    v = trim(eq + 1);
    if (p->in_adapter)
        return adapter_kv(p, k, v);
    if (p->it)
        return item_kv(p, p->it, k, v);
    return perr(p, "'%s' outside a section", k);
}

/* What a section must have, checked once the file is read. */
static int finish(struct parse *p)
{
    struct mtc_config *c = p->c;

    for (unsigned i = 0; i < c->nitems; i++) {
        struct mtc_item *it = &c->item[i];
        p->line = it->line;
        if (!it->pin[0])
            return perr(p, "[%s]: no pin =", it->key);
        if (!it->type[0])
            return perr(p, "[%s]: no type = (the MTConnect type, e.g. EXECUTION)", it->key);
        if (!strcmp(it->key, c->avail_key))
            return perr(p, "[%s]: the key is the availability key", it->key);
    }
    if (!c->nitems) {
        p->line = 0;
        return perr(p, "no data items: add [event KEY], [sample KEY] or [condition KEY] sections");
    }
    return 0;
}

int mtc_config_parse(struct mtc_config *c, const char *file, FILE *f, char *err, size_t errlen)
{
    struct parse p = { .c = c, .file = file, .err = err, .errlen = errlen };
    char buf[1024];
    int ret = 0;

    memset(c, 0, sizeof(*c));
    snprintf(c->file, sizeof(c->file), "%s", file);
    strcpy(c->listen, "127.0.0.1:7878");
    strcpy(c->device, "linuxcnc");
    strcpy(c->uuid, "linuxcnc-hal-microkernel");
    strcpy(c->avail_key, "avail");
    c->avail_needs_daemon = true;
    c->heartbeat_ms = 10000;
    c->client_buffer = 256 * 1024;
    c->max_clients = 8;
    while (ret == 0 && fgets(buf, sizeof(buf), f)) {
        p.line++;
        if (!strchr(buf, '\n') && !feof(f))
            return perr(&p, "line longer than %zu characters", sizeof(buf) - 2);
        ret = line(&p, buf);
    }
    if (ret == 0 && ferror(f))
        return perr(&p, "read error");
    return ret < 0 ? ret : finish(&p);
}

int mtc_config_load(struct mtc_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    int ret;

    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    ret = mtc_config_parse(c, path, f, err, errlen);
    fclose(f);
    return ret;
}

int mtc_item_check_type(const struct mtc_config *c, const struct mtc_item *it, enum hmk_type t,
                        char *err, size_t errlen)
{
    const char *why = NULL;

    if (it->kind == MTC_CONDITION && t != HMK_TYPE_BIT)
        why = "a condition needs a bit pin";
    else if (it->kind == MTC_EVENT && it->nmap && t == HMK_TYPE_FLOAT)
        why = "a map needs a bit, s32 or u32 pin";
    else if (it->invert && t != HMK_TYPE_BIT)
        why = "invert needs a bit pin";
    else if (it->kind == MTC_EVENT && t == HMK_TYPE_BIT)
        for (unsigned k = 0; k < it->nmap; k++)
            if (it->map[k].from != 0 && it->map[k].from != 1)
                why = "a bit pin is 0 or 1: map other numbers never match";
    if (!why)
        return 0;
    snprintf(err, errlen, "%s:%u: [%s] pin '%s' is %s: %s", c->file, it->line, it->key, it->pin,
             hmk_type_name(t), why);
    return -EINVAL;
}
