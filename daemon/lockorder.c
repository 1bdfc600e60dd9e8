#include "lockorder.h"

#ifndef NDEBUG
#include <assert.h>

/* How many times this thread holds each lock; a recursive take counts twice. */
static _Thread_local unsigned int held[LOCKORDER_LEVEL_COUNT];

void
lockorder_acquire(enum lockorder_level level)
{
	for (int later = (int)level + 1; later < LOCKORDER_LEVEL_COUNT; later++)
		assert(held[later] == 0 && "lock taken against the order in lockorder.h");
	held[level]++;
}

void
lockorder_release(enum lockorder_level level)
{
	assert(held[level] > 0);
	held[level]--;
}
#endif
