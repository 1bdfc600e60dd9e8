/*
 * latency: the bench programs' histogram of durations and their clock.
 */
#include "latency.h"

#include <stdlib.h>

struct latency *
latency_new(void)
{
	return calloc(1, sizeof(struct latency));
}

void
latency_add(struct latency *l, uint64_t us)
{
	l->count++;
	if (us > l->max_us)
		l->max_us = us;
	if (us < LATENCY_BUCKETS)
		l->bucket[us]++;
	else
		l->over++;
}

uint64_t
latency_pct(const struct latency *l, double p)
{
	uint64_t want, seen = 0;

	if (l->count == 0)
		return 0;
	want = (uint64_t)(p * (double)l->count + 0.5);
	if (want == 0)
		want = 1;
	for (uint32_t us = 0; us < LATENCY_BUCKETS; us++) {
		seen += l->bucket[us];
		if (seen >= want)
			return us;
	}
	/* Beyond the buckets only the maximum is known. */
	return l->max_us;
}

uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
