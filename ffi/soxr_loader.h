/*
 * soxr_loader.h: libsoxr, opened on first use.
 *
 * libsoxr brings OpenMP's runtime (libgomp) with it: linked directly, the
 * two cost about a millisecond of every dlopen of this library, paid even by
 * clients that never resample. So it is loaded when the first resampler is
 * made, and everything here goes through this table.
 */
#ifndef LK_SOXR_LOADER_H
#define LK_SOXR_LOADER_H

#include <soxr.h>

typedef struct lk_soxr {
    soxr_t (*create)(double in_rate, double out_rate, unsigned channels, soxr_error_t *err,
                     const soxr_io_spec_t *io, const soxr_quality_spec_t *q,
                     const soxr_runtime_spec_t *rt);
    soxr_error_t (*process)(soxr_t s, soxr_in_t in, size_t ilen, size_t *idone, soxr_out_t out,
                            size_t olen, size_t *odone);
    void (*delete_)(soxr_t s);
    double (*delay)(soxr_t s);
    soxr_error_t (*clear)(soxr_t s);
    soxr_io_spec_t (*io_spec)(soxr_datatype_t in, soxr_datatype_t out);
    soxr_quality_spec_t (*quality_spec)(unsigned long recipe, unsigned long flags);
    soxr_runtime_spec_t (*runtime_spec)(unsigned threads);
} lk_soxr;

/* The table, or NULL after lk_fail() if libsoxr cannot be loaded. */
const lk_soxr *lk_soxr_api(void);

#endif
