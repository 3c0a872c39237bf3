/*
 * halmk_tool.h - tool-internal: not part of the stable ABI, may change.
 *
 * Functions of libhalmk that only the project's own programs use (halpoke,
 * halstress, halweb, the tests and benchmarks): conveniences a service does
 * not need (the typed writes are hmk_write with the value spelled out) and
 * the latch-consistent read of written values (halstress checks torn
 * writes with it; halweb and halpoke show them). They are in the static
 * libhalmk.a these programs link, not exported from libhalmk.so (its
 * version script is made from halmk.h and halmk_service.h alone), and this
 * header is not installed. A program built against the shared library must
 * not include it (HMK_PUBLIC_API_ONLY makes that an error). Errors and
 * threads: as in halmk.h.
 */
#ifndef HALMK_TOOL_H
#define HALMK_TOOL_H

#ifdef HMK_PUBLIC_API_ONLY
#error "halmk_tool.h is not in libhalmk.so's ABI: use the functions of halmk.h"
#endif

#include "halmk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The values last written towards HAL of n pins idx[0..n), as one
 * consistent set (the latch read the bridge does): pins a transaction wrote
 * together are seen together, never half of one commit and half of
 * another. Every idx must have an out side (-EPERM) and be < pin count
 * (-ERANGE); nothing is written to out[] then. -EAGAIN if writers kept
 * winning the race for too long. */
int hmk_read_outs(const hmk_region *r, const unsigned *idx, unsigned n, hmk_value *out);

/* hmk_write of a value of that type (-EINVAL if the pin has another). */
int hmk_write_float(hmk_region *r, unsigned index, double f);
int hmk_write_bit(hmk_region *r, unsigned index, bool b);
int hmk_write_s32(hmk_region *r, unsigned index, int32_t s);
int hmk_write_u32(hmk_region *r, unsigned index, uint32_t u);

#ifdef __cplusplus
}
#endif
#endif /* HALMK_TOOL_H */
