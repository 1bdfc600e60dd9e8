/*
 * latency: a histogram of durations in microseconds, exact to 1 us up to
 * 100 ms, for the bench programs' percentiles without storing each sample.
 */
#ifndef LWIPD_BENCH_LATENCY_H
#define LWIPD_BENCH_LATENCY_H

#include <stdint.h>
#include <time.h>

#define LATENCY_BUCKETS 100000u

struct latency {
	uint64_t count;
	uint64_t over;		/* samples of LATENCY_BUCKETS us or more */
	uint64_t max_us;
	uint32_t bucket[LATENCY_BUCKETS];
};

struct latency *latency_new(void);
void latency_add(struct latency *l, uint64_t us);
/* The smallest value with at least p (0..1) of the samples at or below it. */
uint64_t latency_pct(const struct latency *l, double p);

uint64_t now_us(void);

#endif
