/*
 * histogram: a bounded log-linear histogram of microsecond durations, for
 * percentiles of any number of samples without keeping each one. Pure,
 * no locking.
 *
 * Values below HISTOGRAM_SUB are exact; above, each power of two is split
 * into HISTOGRAM_SUB buckets, so a percentile is within 1/HISTOGRAM_SUB of
 * the true value. Values past 2^HISTOGRAM_EXP_MAX us (13 days) share the last bucket.
 */
#ifndef LWIPD_HISTOGRAM_H
#define LWIPD_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_SUB_BITS 4
#define HISTOGRAM_SUB (1u << HISTOGRAM_SUB_BITS)
#define HISTOGRAM_EXP_MAX 40
#define HISTOGRAM_BUCKETS ((HISTOGRAM_EXP_MAX - HISTOGRAM_SUB_BITS + 2) * HISTOGRAM_SUB)

struct histogram {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	uint32_t buckets[HISTOGRAM_BUCKETS];
};

/* Adds one sample; buckets saturate at UINT32_MAX. */
void histogram_add(struct histogram *h, uint64_t value);

/*
 * The smallest bucket bound with at least permille/1000 of the samples at
 * or below it, kept within [min, max]; 0 when there are none.
 */
uint64_t histogram_percentile(const struct histogram *h, unsigned int permille);

#endif
