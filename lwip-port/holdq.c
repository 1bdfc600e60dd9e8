/*
 * holdq: frames held back by fault rules. See holdq.h.
 *
 * A binary min-heap on (release time, holding order) gives the next release
 * in O(log n) and keeps frames released at the same moment in the order
 * they were held. Frames awaiting the next segment of their connection are
 * few (one per reorder rule firing), so holdq_passed() walks the heap only
 * while some exist.
 */
#include "holdq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct holdq {
	struct holdq_frame **heap;
	size_t count;
	size_t max_frames;
	size_t bytes;
	size_t max_bytes;
	size_t awaiting;	/* frames with awaits_next set */
	uint64_t next_order;
};

static bool
earlier(const struct holdq_frame *a, const struct holdq_frame *b)
{
	if (a->release_at_ms != b->release_at_ms)
		return a->release_at_ms < b->release_at_ms;
	return a->order < b->order;
}

static void
place(struct holdq *q, size_t i, struct holdq_frame *frame)
{
	q->heap[i] = frame;
	frame->heap_index = i;
}

static void
sift_up(struct holdq *q, size_t i)
{
	struct holdq_frame *frame = q->heap[i];

	while (i > 0 && earlier(frame, q->heap[(i - 1) / 2])) {
		place(q, i, q->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	place(q, i, frame);
}

static void
sift_down(struct holdq *q, size_t i)
{
	struct holdq_frame *frame = q->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= q->count)
			break;
		if (child + 1 < q->count && earlier(q->heap[child + 1], q->heap[child]))
			child++;
		if (!earlier(q->heap[child], frame))
			break;
		place(q, i, q->heap[child]);
		i = child;
	}
	place(q, i, frame);
}

struct holdq *
holdq_new(size_t max_frames, size_t max_bytes)
{
	struct holdq *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->heap = calloc(max_frames > 0 ? max_frames : 1, sizeof(*q->heap));
	if (q->heap == NULL) {
		free(q);
		return NULL;
	}
	q->max_frames = max_frames;
	q->max_bytes = max_bytes;
	return q;
}

void
holdq_frame_free(struct holdq_frame *frame)
{
	if (frame == NULL)
		return;
	free(frame->bytes);
	free(frame);
}

void
holdq_free(struct holdq *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->count; i++)
		holdq_frame_free(q->heap[i]);
	free(q->heap);
	free(q);
}

bool
holdq_room(const struct holdq *q, size_t len)
{
	return q->count < q->max_frames && len <= q->max_bytes - q->bytes;
}

int
holdq_hold(struct holdq *q, const uint8_t *frame, size_t len, bool outbound, uint64_t key,
    uint64_t now_ms, uint32_t hold_ms, bool awaits_next, const void *meta, size_t meta_len)
{
	struct holdq_frame *held;

	if (!holdq_room(q, len))
		return -ENOBUFS;
	held = malloc(sizeof(*held) + meta_len);
	if (held == NULL)
		return -ENOMEM;
	held->bytes = malloc(len > 0 ? len : 1);
	if (held->bytes == NULL) {
		free(held);
		return -ENOMEM;
	}
	memcpy(held->bytes, frame, len);
	if (meta_len > 0)
		memcpy(held->meta, meta, meta_len);
	held->len = len;
	held->meta_len = meta_len;
	held->outbound = outbound;
	held->key = key;
	held->awaits_next = awaits_next;
	held->release_at_ms = now_ms + hold_ms;
	held->order = q->next_order++;
	q->bytes += len;
	q->awaiting += awaits_next;
	place(q, q->count++, held);
	sift_up(q, held->heap_index);
	return 0;
}

void
holdq_passed(struct holdq *q, bool outbound, uint64_t key, uint64_t now_ms)
{
	for (size_t i = 0; q->awaiting > 0 && i < q->count; i++) {
		struct holdq_frame *frame = q->heap[i];

		if (!frame->awaits_next || frame->outbound != outbound || frame->key != key)
			continue;
		frame->awaits_next = false;
		q->awaiting--;
		if (frame->release_at_ms > now_ms) {
			frame->release_at_ms = now_ms;
			/* An earlier time only moves a frame up, past slots already walked. */
			sift_up(q, i);
		}
	}
}

bool
holdq_next_release(const struct holdq *q, uint64_t *at_ms)
{
	if (q->count == 0)
		return false;
	*at_ms = q->heap[0]->release_at_ms;
	return true;
}

struct holdq_frame *
holdq_pop(struct holdq *q)
{
	struct holdq_frame *top;

	if (q->count == 0)
		return NULL;
	top = q->heap[0];
	q->count--;
	if (q->count > 0) {
		place(q, 0, q->heap[q->count]);
		sift_down(q, 0);
	}
	q->bytes -= top->len;
	q->awaiting -= top->awaits_next;
	return top;
}

struct holdq_frame *
holdq_pop_due(struct holdq *q, uint64_t now_ms)
{
	if (q->count == 0 || q->heap[0]->release_at_ms > now_ms)
		return NULL;
	return holdq_pop(q);
}

size_t
holdq_count(const struct holdq *q)
{
	return q->count;
}

size_t
holdq_bytes(const struct holdq *q)
{
	return q->bytes;
}
