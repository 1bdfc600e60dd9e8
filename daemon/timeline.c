#include "timeline.h"

#include <stdlib.h>
#include <string.h>

#define TIMELINE_FIRST_CAPACITY 16

void
timeline_init(struct timeline *timeline, size_t cap)
{
	memset(timeline, 0, sizeof(*timeline));
	timeline->cap = cap > ENGINE_TIMELINE_HEAD ? cap : ENGINE_TIMELINE_HEAD + 1;
}

void
timeline_free(struct timeline *timeline)
{
	if (timeline == NULL)
		return;
	free(timeline->events);
	timeline->events = NULL;
	timeline->capacity = 0;
	timeline->count = 0;
}

/* Where event number n lives: the head in order, then a ring over the rest. */
static size_t
timeline_slot(const struct timeline *timeline, uint64_t n)
{
	size_t ring = timeline->cap - ENGINE_TIMELINE_HEAD;

	if (n < ENGINE_TIMELINE_HEAD)
		return (size_t)n;
	return ENGINE_TIMELINE_HEAD + (size_t)((n - ENGINE_TIMELINE_HEAD) % ring);
}

int64_t
timeline_append(struct timeline *timeline, const struct engine_event *event)
{
	uint64_t n = timeline->appended;

	if (timeline->count == timeline->capacity && timeline->capacity < timeline->cap) {
		size_t capacity = timeline->capacity ? timeline->capacity * 2 : TIMELINE_FIRST_CAPACITY;
		struct engine_event *grown;

		if (capacity > timeline->cap)
			capacity = timeline->cap;
		grown = realloc(timeline->events, capacity * sizeof(*grown));
		if (grown == NULL) {
			timeline->dropped++;
			return -1;
		}
		timeline->events = grown;
		timeline->capacity = capacity;
	}
	timeline->events[timeline_slot(timeline, n)] = *event;
	timeline->appended++;
	if (timeline->count < timeline->cap)
		timeline->count++;
	else
		timeline->dropped++;
	return (int64_t)n;
}

struct engine_event *
timeline_get(struct timeline *timeline, int64_t number)
{
	uint64_t n = (uint64_t)number;
	uint64_t tail_first = timeline->appended - (timeline->count - (timeline->count <
	    ENGINE_TIMELINE_HEAD ? timeline->count : ENGINE_TIMELINE_HEAD));

	if (number < 0 || n >= timeline->appended)
		return NULL;
	if (n >= ENGINE_TIMELINE_HEAD && n < tail_first)
		return NULL;
	return &timeline->events[timeline_slot(timeline, n)];
}

void
timeline_copy(const struct timeline *timeline, struct engine_event *out)
{
	size_t head = timeline->count < ENGINE_TIMELINE_HEAD ? timeline->count : ENGINE_TIMELINE_HEAD;
	uint64_t tail_first = timeline->appended - (timeline->count - head);

	size_t i = head;

	memcpy(out, timeline->events, head * sizeof(*out));
	for (uint64_t n = tail_first; n < timeline->appended; n++)
		out[i++] = timeline->events[timeline_slot(timeline, n)];
}

static enum tcpinfo_step
timeline_step(struct timeline_steps *steps, bool outbound, uint8_t flags, uint32_t seq,
    uint32_t ack, uint32_t len)
{
	bool syn = flags & TCPINFO_FLAG_SYN, fin = flags & TCPINFO_FLAG_FIN;
	bool has_ack = flags & TCPINFO_FLAG_ACK;
	uint32_t seq_len = len + syn + fin;
	bool resent = tcpinfo_seq_resent(&steps->sent[outbound], seq, seq_len);

	if (flags & TCPINFO_FLAG_RST)
		return TCPINFO_STEP_RST;
	if (resent)
		return TCPINFO_STEP_RETRANSMIT;
	if (syn && !has_ack && steps->handshake == 0) {
		steps->handshake = 1;
		steps->opener_outbound = outbound;
		return TCPINFO_STEP_HANDSHAKE_1;
	}
	if (syn && has_ack && steps->handshake == 1) {
		steps->handshake = 2;
		return TCPINFO_STEP_HANDSHAKE_2;
	}
	if (!syn && has_ack && steps->handshake == 2 && outbound == steps->opener_outbound) {
		steps->handshake = 3;
		/* The third segment may carry data or even a FIN; the handshake names it. */
		if (!fin)
			return TCPINFO_STEP_HANDSHAKE_3;
	}
	if (fin && steps->teardown == 0) {
		steps->teardown = 1;
		steps->first_fin_outbound = outbound;
		steps->first_fin_end = seq + seq_len;
		return TCPINFO_STEP_TEARDOWN_1;
	}
	if (fin && steps->teardown >= 1 && steps->teardown < 3 && outbound != steps->first_fin_outbound) {
		steps->teardown = 3;
		steps->second_fin_end = seq + seq_len;
		/* A three-segment close: the ACK of the first FIN rides on the second. */
		if (has_ack && !steps->teardown_2_seen && !tcpinfo_seq_lt(ack, steps->first_fin_end)) {
			steps->teardown_2_seen = true;
			return TCPINFO_STEP_TEARDOWN_2_3;
		}
		return TCPINFO_STEP_TEARDOWN_3;
	}
	if (has_ack && steps->teardown == 1 && !steps->teardown_2_seen &&
	    outbound != steps->first_fin_outbound && !tcpinfo_seq_lt(ack, steps->first_fin_end)) {
		steps->teardown_2_seen = true;
		steps->teardown = 2;
		return TCPINFO_STEP_TEARDOWN_2;
	}
	if (has_ack && steps->teardown == 3 && !steps->teardown_4_seen &&
	    outbound == steps->first_fin_outbound && !tcpinfo_seq_lt(ack, steps->second_fin_end)) {
		steps->teardown_4_seen = true;
		steps->teardown = 4;
		return TCPINFO_STEP_TEARDOWN_4;
	}
	if (len > 0)
		return TCPINFO_STEP_DATA;
	if (has_ack)
		return TCPINFO_STEP_ACK;
	return TCPINFO_STEP_NONE;
}

void
timeline_relative(struct timeline_steps *steps, struct engine_event *segment)
{
	bool outbound = segment->outbound;

	if ((segment->flags & TCPINFO_FLAG_SYN) && !steps->isn_known[outbound]) {
		steps->isn[outbound] = segment->seq;
		steps->isn_known[outbound] = true;
	}
	segment->has_rel_seq = steps->isn_known[outbound];
	segment->rel_seq = segment->seq - steps->isn[outbound];
	segment->has_rel_ack = (segment->flags & TCPINFO_FLAG_ACK) && steps->isn_known[!outbound];
	segment->rel_ack = segment->has_rel_ack ? segment->ack - steps->isn[!outbound] : 0;
}

void
timeline_label(struct timeline_steps *steps, struct engine_event *segment)
{
	timeline_relative(steps, segment);
	segment->step = timeline_step(steps, segment->outbound, segment->flags, segment->seq,
	    segment->ack, segment->len);
}
