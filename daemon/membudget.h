/*
 * membudget: the daemon's one memory budget (--memory-budget) for what
 * peers and API clients make it hold: queued send bytes, receive buffers
 * and timelines. Pure accounting, no allocation, no locking; the engine and
 * the buffers it owns charge and credit it with the core lock held.
 */
#ifndef LWIPD_MEMBUDGET_H
#define LWIPD_MEMBUDGET_H

#include <stdbool.h>
#include <stdint.h>

#define MEMBUDGET_DEFAULT (256u << 20)
#define MEMBUDGET_MIN (1u << 20)
#define MEMBUDGET_MAX UINT32_MAX

enum membudget_kind {
	MEMBUDGET_SEND = 0,	/* copies of data queued to send */
	MEMBUDGET_RECV,		/* receive rings */
	MEMBUDGET_TIMELINE,	/* timeline events and their frame snapshots */
	MEMBUDGET_KIND_COUNT
};

struct membudget {
	uint64_t limit;
	uint64_t used[MEMBUDGET_KIND_COUNT];
	uint64_t refused[MEMBUDGET_KIND_COUNT];	/* charges that did not fit */
};

void membudget_init(struct membudget *budget, uint64_t limit);

/*
 * Charges bytes to kind if all of them fit, and returns whether they did; a
 * refusal is counted. A NULL budget grants everything.
 */
bool membudget_charge(struct membudget *budget, enum membudget_kind kind, uint64_t bytes);

/*
 * Charges as much of want as fits and returns it; a grant smaller than want
 * is counted as a refusal. A NULL budget grants everything.
 */
uint64_t membudget_charge_upto(struct membudget *budget, enum membudget_kind kind, uint64_t want);

/* Gives back bytes charged to kind earlier. Accepts NULL. */
void membudget_credit(struct membudget *budget, enum membudget_kind kind, uint64_t bytes);

/* Every kind's use together. */
uint64_t membudget_used(const struct membudget *budget);

#endif
