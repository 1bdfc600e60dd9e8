/* timeline: one connection's events, bounded and budgeted; see timeline.h. */
#include "timeline.h"

#include <stdlib.h>
#include <string.h>


void
timeline_init(struct timeline *timeline, size_t cap, size_t frame_slot, struct membudget *budget)
{
	memset(timeline, 0, sizeof(*timeline));
	timeline->budget = budget;
	timeline->frame_slot = (uint32_t)frame_slot;
	timeline->cap = (uint32_t)(cap > ENGINE_TIMELINE_HEAD ? cap : ENGINE_TIMELINE_HEAD + 1);
}

/* The bytes n events take, with their frame slots. */
static uint64_t
timeline_bytes(const struct timeline *timeline, size_t n)
{
	return (uint64_t)n * (sizeof(struct engine_event) + timeline->frame_slot);
}

void
timeline_free(struct timeline *timeline)
{
	if (timeline == NULL)
		return;
	membudget_credit(timeline->budget, MEMBUDGET_TIMELINE,
	    timeline_bytes(timeline, timeline->capacity));
	free(timeline->events);
	free(timeline->frames);
	timeline->events = NULL;
	timeline->frames = NULL;
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

/*
 * Reallocates the events and their frames to capacity. On failure both
 * arrays stay at least timeline->capacity long: a growth keeps the old
 * capacity, a shrink the new one once the events shrank.
 */
static int
timeline_resize(struct timeline *timeline, size_t capacity)
{
	struct engine_event *events;
	uint8_t *frames;

	events = realloc(timeline->events, capacity * sizeof(*events));
	if (events == NULL)
		return -1;
	timeline->events = events;
	if (capacity < timeline->capacity)
		timeline->capacity = (uint32_t)capacity;
	if (timeline->frame_slot > 0) {
		frames = realloc(timeline->frames, capacity * timeline->frame_slot);
		if (frames == NULL)
			return -1;
		timeline->frames = frames;
	}
	timeline->capacity = (uint32_t)capacity;
	return 0;
}

void
timeline_shrink(struct timeline *timeline)
{
	size_t before = timeline->capacity;

	if (timeline->count == before)
		return;
	if (timeline->count == 0) {
		timeline_free(timeline);
		return;
	}
	timeline_resize(timeline, timeline->count);
	membudget_credit(timeline->budget, MEMBUDGET_TIMELINE,
	    timeline_bytes(timeline, before - timeline->capacity));
}

int64_t
timeline_append(struct timeline *timeline, const struct engine_event *event)
{
	uint64_t n = timeline->appended;

	if (timeline->count == timeline->capacity && timeline->capacity < timeline->cap) {
		size_t capacity = timeline->capacity ? timeline->capacity * 2 : TIMELINE_FIRST_CAPACITY;
		uint64_t more;

		if (capacity > timeline->cap)
			capacity = timeline->cap;
		more = timeline_bytes(timeline, capacity - timeline->capacity);
		if (!membudget_charge(timeline->budget, MEMBUDGET_TIMELINE, more)) {
			timeline->refused++;
			return -1;
		}
		if (timeline_resize(timeline, capacity) < 0) {
			membudget_credit(timeline->budget, MEMBUDGET_TIMELINE, more);
			timeline->dropped++;
			return -1;
		}
	}
	timeline->events[timeline_slot(timeline, n)] = *event;
	timeline->events[timeline_slot(timeline, n)].snap_len = 0;
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

const uint8_t *
timeline_frame(struct timeline *timeline, int64_t number)
{
	struct engine_event *event = timeline_get(timeline, number);

	if (event == NULL || event->snap_len == 0 || timeline->frames == NULL)
		return NULL;
	return timeline->frames + timeline_slot(timeline, (uint64_t)number) * timeline->frame_slot;
}

void
timeline_keep_frame(struct timeline *timeline, int64_t number, const uint8_t *frame, size_t len,
    size_t frame_len)
{
	struct engine_event *event = timeline_get(timeline, number);
	size_t kept = len < timeline->frame_slot ? len : timeline->frame_slot;

	if (event == NULL || frame == NULL)
		return;
	event->frame_len = (uint32_t)frame_len;
	event->snap_len = (uint32_t)kept;
	if (kept > 0)
		memcpy(timeline->frames + timeline_slot(timeline, (uint64_t)number) *
		    timeline->frame_slot, frame, kept);
}

void
timeline_copy(const struct timeline *timeline, struct engine_event *out, uint8_t *frames)
{
	size_t head = timeline->count < ENGINE_TIMELINE_HEAD ? timeline->count : ENGINE_TIMELINE_HEAD;
	uint64_t tail_first = timeline->appended - (timeline->count - head);
	size_t slot = timeline->frame_slot;
	size_t i = head;

	memcpy(out, timeline->events, head * sizeof(*out));
	if (frames != NULL && slot > 0)
		memcpy(frames, timeline->frames, head * slot);
	for (uint64_t n = tail_first; n < timeline->appended; n++, i++) {
		out[i] = timeline->events[timeline_slot(timeline, n)];
		if (frames != NULL && slot > 0)
			memcpy(frames + i * slot, timeline->frames + timeline_slot(timeline, n) * slot,
			    slot);
	}
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

/* Whether a recorded segment reached its receiver, as segments.c decided when it recorded it. */
static bool
event_delivered(const struct engine_event *event)
{
	return event->drop == TCPINFO_DROP_NONE && event->fault.action != FAULT_DROP &&
	    event->fault.action != FAULT_CORRUPT;
}

void
timeline_rewrite_peer(timeline_event_at at, void *events, uint64_t count,
    const struct peerstate_step *step)
{
	enum tcpinfo_state state = TCPINFO_LISTEN;
	struct engine_event *event;

	if (step->patch == PEERSTATE_PATCH_FIN) {
		/* Back to lwIP's FIN: the segments since then found the peer in its new state. */
		for (uint64_t n = count; n-- > 0;) {
			event = at(events, n);
			if (event == NULL || event->at_us < step->since_us)
				return;
			if (event->kind != ENGINE_EVENT_SEGMENT)
				continue;
			event->peer_state_after = step->before;
			if (event->outbound && (event->flags & TCPINFO_FLAG_FIN) &&
			    event_delivered(event) && event->at_us == step->since_us)
				return;
			event->peer_state_before = step->before;
		}
		return;
	}
	/* PEERSTATE_PATCH_LISTEN: listening until lwIP's first SYN reached it. */
	for (uint64_t n = 0; n < count; n++) {
		event = at(events, n);
		if (event == NULL)
			return;
		if (event->kind != ENGINE_EVENT_SEGMENT)
			continue;
		event->peer_state_before = state;
		if (event->outbound && (event->flags & TCPINFO_FLAG_SYN) && event_delivered(event))
			state = TCPINFO_SYN_RCVD;
		event->peer_state_after = state;
	}
}
