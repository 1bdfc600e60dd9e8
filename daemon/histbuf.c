/* histbuf: a bounded history's storage, grown as entries come; see histbuf.h. */
#include "histbuf.h"

#include <stdlib.h>

int
histbuf_slot(void **entries, uint32_t *len, uint32_t *cap, size_t size, uint32_t max)
{
	if (*len == *cap && *cap < max) {
		uint32_t grown = *cap > 0 ? *cap * 2 : HISTBUF_FIRST;
		void *bigger;

		if (grown > max)
			grown = max;
		bigger = realloc(*entries, grown * size);
		if (bigger != NULL) {
			*entries = bigger;
			*cap = grown;
		}
	}
	if (*len < *cap)
		(*len)++;
	return *len > 0 ? (int)*len - 1 : -1;
}
