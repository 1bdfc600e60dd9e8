/*
 * histogram: log-linear buckets of durations and their percentiles.
 */
#include "histogram.h"

/* The bucket of a value: exact below HISTOGRAM_SUB, then HISTOGRAM_SUB per power of two. */
static unsigned int
bucket_of(uint64_t value)
{
	unsigned int exp;

	if (value < HISTOGRAM_SUB)
		return (unsigned int)value;
	exp = 63u - (unsigned int)__builtin_clzll(value);
	if (exp > HISTOGRAM_EXP_MAX)
		return HISTOGRAM_BUCKETS - 1;
	return (exp - HISTOGRAM_SUB_BITS + 1) * HISTOGRAM_SUB +
	    (unsigned int)((value >> (exp - HISTOGRAM_SUB_BITS)) & (HISTOGRAM_SUB - 1));
}

/* The largest value that falls in bucket i. */
static uint64_t
bucket_top(unsigned int i)
{
	unsigned int exp, sub;

	if (i < HISTOGRAM_SUB)
		return i;
	exp = i / HISTOGRAM_SUB + HISTOGRAM_SUB_BITS - 1;
	sub = i % HISTOGRAM_SUB;
	return ((uint64_t)(HISTOGRAM_SUB + sub + 1) << (exp - HISTOGRAM_SUB_BITS)) - 1;
}

void
histogram_add(struct histogram *h, uint64_t value)
{
	unsigned int i = bucket_of(value);

	if (h->count == 0 || value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
	h->count++;
	if (h->buckets[i] < UINT32_MAX)
		h->buckets[i]++;
}

uint64_t
histogram_percentile(const struct histogram *h, unsigned int permille)
{
	uint64_t want, seen = 0, top;
	unsigned int i;

	if (h->count == 0)
		return 0;
	/* The rank of the sample asked for, rounded up, and at least the first. */
	want = (h->count * permille + 999) / 1000;
	if (want == 0)
		want = 1;
	for (i = 0; i < HISTOGRAM_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= want)
			break;
	}
	/* The last bucket has no top of its own: it holds everything past the others. */
	top = i < HISTOGRAM_BUCKETS - 1 ? bucket_top(i) : h->max;
	if (top > h->max)
		return h->max;
	return top < h->min ? h->min : top;
}
