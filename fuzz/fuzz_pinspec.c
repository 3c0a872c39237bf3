/*
 * fuzz_pinspec - the bridge's loadrt parameter parser (bridge/hmk_pinspec.c)
 * built as ordinary C.
 *
 * Input: 2 bytes count (int16 little-endian; -1 = default), 1 byte error
 * buffer length (0..255, the buffer is allocated to exactly that size so
 * ASan sees any overrun), then NUL-separated fields
 *     prefix \0 pins \0 types \0 safe \0 mode \0 region
 * A field the input does not reach is passed as NULL (the module passes
 * NULL for parameters not given on the loadrt line).
 *
 * Checked beyond "no crash": a failure returns a negative errno and writes
 * a non-empty, NUL-terminated sentence; a success yields a pin table the
 * bridge can register in HAL as is (valid, unique names that fit HAL's 47
 * characters with the prefix and suffix, known types and directions).
 */
#include "hmk_pinspec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NFIELDS 6

static void check_err(int ret, const char *err, unsigned errlen)
{
    if (ret >= 0)
        return;
    if (errlen == 0)
        return;
    if (!memchr(err, '\0', errlen))
        abort(); /* not terminated */
    if (errlen > 1 && err[0] == '\0')
        abort(); /* failed without saying why */
}

static int hal_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_spec(const char *prefix, const struct hmk_pinspec *ps)
{
    static const char *names[HMK_MAX_PINS];
    size_t plen = strlen(prefix);

    if (ps->n == 0 || ps->n > HMK_MAX_PINS)
        abort();
    for (unsigned i = 0; i < ps->n; i++) {
        const struct hmk_pin_desc *p = &ps->pin[i];
        size_t len;

        if (!memchr(p->name, '\0', sizeof(p->name)))
            abort();
        len = strlen(p->name);
        if (len == 0)
            abort();
        for (size_t k = 0; k < len; k++)
            if (!hal_name_char(p->name[k]))
                abort();
        if (p->type < HMK_RT_BIT || p->type > HMK_RT_U32)
            abort();
        if (p->dir < HMK_RD_IN || p->dir > HMK_RD_IO)
            abort();
        if (p->policy != HMK_POLICY_HOLD && p->policy != HMK_POLICY_SAFE)
            abort();
        /* the longest HAL name the bridge makes for this pin */
        if (plen + 1 + len + ((p->flags & HMK_PIN_SLOT) ? 4 : 0) > HMK_HAL_NAME_LEN)
            abort();
        names[i] = p->name;
    }
    /* HAL would refuse a second pin of the same name */
    qsort(names, ps->n, sizeof(names[0]), cmp_name);
    for (unsigned i = 1; i < ps->n; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hmk_pinspec ps; /* 64 KiB: not on the stack */
    const char *field[NFIELDS] = { 0 };
    char *buf, *err;
    unsigned errlen, mode = 0;
    int count, ret;

    if (size < 3)
        return 0;
    count = (int16_t)(data[0] | (data[1] << 8));
    errlen = data[2];
    data += 3;
    size -= 3;

    buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    {
        char *s = buf, *end = buf + size;
        for (int f = 0; f < NFIELDS && s <= end; f++) {
            field[f] = s;
            s += strlen(s) + 1;
        }
    }
    err = errlen ? malloc(errlen) : NULL;

    ret = hmk_pinspec_check_region(field[5], err, errlen);
    check_err(ret, err, errlen);
    ret = hmk_pinspec_parse_mode(field[4], &mode, err, errlen);
    check_err(ret, err, errlen);
    if (ret == 0 && ((mode & 0600) != 0600 || (mode & 0111) || mode > 0777))
        abort();
    ret = hmk_pinspec_check_prefix(field[0], err, errlen);
    check_err(ret, err, errlen);

    ret = hmk_pinspec_parse(field[0], count, field[1], &ps, err, errlen);
    check_err(ret, err, errlen);
    if (ret == 0) {
        check_spec(field[0], &ps);
        ret = hmk_pinspec_slot_types(&ps, field[2], err, errlen);
        check_err(ret, err, errlen);
        if (ret == 0) {
            ret = hmk_pinspec_slot_safe(&ps, field[3], err, errlen);
            check_err(ret, err, errlen);
        }
        if (ret == 0)
            check_spec(field[0], &ps);
    }
    free(err);
    free(buf);
    return 0;
}
