/*
 * synmemo: the listener SYNs a fault rule dropped, kept by 4-tuple for the
 * timeline of the connection a retransmission makes (see synmemo.h).
 */
#include "synmemo.h"

#include <string.h>

static bool
same_tuple(const struct stack_segment *a, const struct stack_segment *b)
{
	return a->remote_ip == b->remote_ip && a->remote_port == b->remote_port &&
	    a->local_port == b->local_port;
}

/* The slot of the oldest live entry of segment's 4-tuple, or -1; forgets expired ones on the way. */
static int
find(struct synmemo *memo, const struct stack_segment *segment, uint64_t now_us)
{
	for (size_t i = 0; i < SYNMEMO_MAX; i++) {
		size_t slot = (memo->next + i) % SYNMEMO_MAX;
		struct synmemo_entry *entry = &memo->entries[slot];

		if (!entry->used)
			continue;
		if (now_us - entry->at_us > SYNMEMO_TTL_US) {
			entry->used = false;
			continue;
		}
		if (same_tuple(&entry->segment, segment))
			return (int)slot;
	}
	return -1;
}

void
synmemo_remember(struct synmemo *memo, const struct stack_segment *segment, uint64_t at_us)
{
	struct synmemo_entry *entry = &memo->entries[memo->next];
	size_t len = segment->frame != NULL ? segment->frame_len : 0;

	if (len > SYNMEMO_FRAME_MAX)
		len = SYNMEMO_FRAME_MAX;
	entry->used = true;
	entry->at_us = at_us;
	entry->segment = *segment;
	entry->segment.frame = NULL;
	entry->segment.frame_len = len;
	if (entry->segment.headers_len > len)
		entry->segment.headers_len = len;
	if (len > 0)
		memcpy(entry->frame, segment->frame, len);
	memo->next = (memo->next + 1) % SYNMEMO_MAX;
}

bool
synmemo_has(struct synmemo *memo, const struct stack_segment *segment, uint64_t now_us)
{
	return find(memo, segment, now_us) >= 0;
}

bool
synmemo_take(struct synmemo *memo, const struct stack_segment *segment, uint64_t now_us,
    struct synmemo_entry *out)
{
	int slot = find(memo, segment, now_us);

	if (slot < 0)
		return false;
	*out = memo->entries[slot];
	memo->entries[slot].used = false;
	if (out->segment.frame_len > 0)
		out->segment.frame = out->frame;
	return true;
}
