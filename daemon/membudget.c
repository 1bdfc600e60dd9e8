/*
 * membudget: charges and credits against the one global memory limit; see
 * membudget.h.
 */
#include "membudget.h"

#include <string.h>

void
membudget_init(struct membudget *budget, uint64_t limit)
{
	memset(budget, 0, sizeof(*budget));
	budget->limit = limit;
}

uint64_t
membudget_used(const struct membudget *budget)
{
	uint64_t used = 0;

	for (int kind = 0; kind < MEMBUDGET_KIND_COUNT; kind++)
		used += budget->used[kind];
	return used;
}

static uint64_t
membudget_room(const struct membudget *budget)
{
	uint64_t used = membudget_used(budget);

	return used < budget->limit ? budget->limit - used : 0;
}

bool
membudget_charge(struct membudget *budget, enum membudget_kind kind, uint64_t bytes)
{
	if (budget == NULL)
		return true;
	if (bytes > membudget_room(budget)) {
		budget->refused[kind]++;
		return false;
	}
	budget->used[kind] += bytes;
	return true;
}

uint64_t
membudget_charge_upto(struct membudget *budget, enum membudget_kind kind, uint64_t want)
{
	uint64_t room, granted;

	if (budget == NULL)
		return want;
	room = membudget_room(budget);
	granted = want < room ? want : room;
	if (granted < want)
		budget->refused[kind]++;
	budget->used[kind] += granted;
	return granted;
}

void
membudget_credit(struct membudget *budget, enum membudget_kind kind, uint64_t bytes)
{
	if (budget == NULL)
		return;
	/* Never below zero: the unit tests check that every charge comes back exactly. */
	budget->used[kind] -= bytes < budget->used[kind] ? bytes : budget->used[kind];
}
