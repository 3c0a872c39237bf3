/*
 * hmk_value_syntax.h - the one text syntax of a pin value.
 *
 * Every place a person types a value reads it here: libhalmk's
 * hmk_value_parse (so halpoke, halweb, mqtt-gateway, filefeed) and the
 * bridge's fault policies (safe= and the POLICY of pins=). Plain C with no
 * allocation and no dependency on libhalmk or rtapi, so the bridge can
 * include lib/hmk_value_syntax.c into its one halcompile'd source. Not
 * installed: the users' description is halpoke(1) VALUES, which
 * hal_microkernel_bridge(9) refers to.
 *
 * The syntax. The whole text is the value: nothing before or after it, not
 * even a blank; at most HMK_VALUE_TEXT_MAX characters.
 *   bit    1, true, TRUE  or  0, false, FALSE
 *   s32    an optional '-', then decimal digits or 0x (0X) and hexadecimal
 *          digits: -7, 0x10, -0x80000000. Leading zeros stay decimal ("010"
 *          is ten, never octal); no '+'.
 *   u32    the same without '-': a well-formed negative number (even -0)
 *          is out of range.
 *   float  a finite decimal number as strtod reads it, written with
 *          0-9 + - . e E only: 1.5, -2, .5, +1, 1e3. No nan, inf or hex
 *          floats (so 0x10 is not a float). A number too small for a
 *          double reads as 0 or a subnormal, one too large is out of range.
 *
 * Each function reads text[0] .. text[len - 1] (no terminator needed, so
 * the bridge reads items of its comma lists in place) and returns 0 with
 * *out set, -EINVAL when the text is not of the syntax (a text with a NUL
 * inside is not), or -ERANGE when it is but its value does not fit the
 * type. On failure *out is untouched.
 */
#ifndef HMK_VALUE_SYNTAX_H
#define HMK_VALUE_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longer than any value needs (a double's exact %.17g is 24 characters),
 * and what lets a float be copied for strtod without allocating. */
#define HMK_VALUE_TEXT_MAX 255

int hmk_value_text_bit(const char *text, size_t len, bool *out);
int hmk_value_text_s32(const char *text, size_t len, int32_t *out);
int hmk_value_text_u32(const char *text, size_t len, uint32_t *out);
int hmk_value_text_float(const char *text, size_t len, double *out);

#endif
