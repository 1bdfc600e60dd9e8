/* connbuf: a connection's send queue and receive ring; see connbuf.h. */
#include "connbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

/* Bytes queued by one send: a copy, or a length of generated pattern. */
struct connbuf_chunk {
	struct connbuf_chunk *next;
	uint64_t len;
	uint64_t done;
	bool pattern;
	uint8_t bytes[];
};

/* The bytes of a chunk the budget is charged for: its copy. */
static uint64_t
chunk_charge(const struct connbuf_chunk *chunk)
{
	return chunk->pattern ? 0 : chunk->len;
}

int
connbuf_send_push(struct connbuf_send *queue, const void *data, uint64_t len,
    struct membudget *budget)
{
	uint64_t copied = data != NULL ? len : 0;
	struct connbuf_chunk *chunk;

	if (!membudget_charge(budget, MEMBUDGET_SEND, copied))
		return -ENOBUFS;
	chunk = malloc(sizeof(*chunk) + (size_t)copied);
	if (chunk == NULL) {
		membudget_credit(budget, MEMBUDGET_SEND, copied);
		return -ENOMEM;
	}
	*chunk = (struct connbuf_chunk){ .len = len, .pattern = data == NULL };
	if (data != NULL)
		memcpy(chunk->bytes, data, (size_t)len);
	LL_APPEND(queue->head, chunk);
	queue->queued += len;
	return 0;
}

size_t
connbuf_send_peek(const struct connbuf_send *queue, size_t max,
    uint8_t scratch[CONNBUF_PATTERN_CHUNK], const uint8_t **bytes)
{
	const struct connbuf_chunk *chunk = queue->head;
	uint64_t left;

	if (chunk == NULL)
		return 0;
	left = chunk->len - chunk->done;
	if (max > left)
		max = (size_t)left;
	if (!chunk->pattern) {
		*bytes = chunk->bytes + chunk->done;
		return max;
	}
	if (max > CONNBUF_PATTERN_CHUNK)
		max = CONNBUF_PATTERN_CHUNK;
	for (size_t i = 0; i < max; i++)
		scratch[i] = (uint8_t)((chunk->done + i) % CONNBUF_PATTERN_PERIOD);
	*bytes = scratch;
	return max;
}

void
connbuf_send_consume(struct connbuf_send *queue, size_t n, struct membudget *budget)
{
	struct connbuf_chunk *chunk = queue->head;

	chunk->done += n;
	queue->queued -= n;
	if (chunk->done == chunk->len) {
		queue->head = chunk->next;
		membudget_credit(budget, MEMBUDGET_SEND, chunk_charge(chunk));
		free(chunk);
	}
}

bool
connbuf_send_empty(const struct connbuf_send *queue)
{
	return queue->head == NULL;
}

void
connbuf_send_clear(struct connbuf_send *queue, struct membudget *budget)
{
	struct connbuf_chunk *chunk, *tmp;

	LL_FOREACH_SAFE(queue->head, chunk, tmp) {
		membudget_credit(budget, MEMBUDGET_SEND, chunk_charge(chunk));
		free(chunk);
	}
	queue->head = NULL;
	queue->queued = 0;
}

/* Moves the unread bytes, in order, to a new allocation of capacity bytes (none: frees). */
static int
recv_resize(struct connbuf_recv *ring, size_t capacity)
{
	uint8_t *bytes = NULL;

	if (capacity > 0) {
		bytes = malloc(capacity);
		if (bytes == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < ring->len; i++)
			bytes[i] = ring->bytes[(ring->start + i) % ring->capacity];
	}
	free(ring->bytes);
	ring->bytes = bytes;
	ring->capacity = capacity;
	ring->start = 0;
	return 0;
}

/* Grows the ring towards want bytes, doubling, within max and the budget's room. */
static void
recv_grow(struct connbuf_recv *ring, size_t want, size_t max, struct membudget *budget)
{
	size_t capacity = ring->capacity > 0 ? ring->capacity : CONNBUF_RECV_FIRST;
	uint64_t granted;

	while (capacity < want && capacity < max)
		capacity *= 2;
	if (capacity > max)
		capacity = max;
	granted = membudget_charge_upto(budget, MEMBUDGET_RECV, capacity - ring->capacity);
	if (granted == 0)
		return;
	if (recv_resize(ring, ring->capacity + (size_t)granted) < 0)
		membudget_credit(budget, MEMBUDGET_RECV, granted);
}

size_t
connbuf_recv_put(struct connbuf_recv *ring, size_t max, const uint8_t *data, size_t len,
    struct membudget *budget)
{
	size_t want = ring->len + (len < max - ring->len ? len : max - ring->len);
	size_t room, take;

	if (want > ring->capacity)
		recv_grow(ring, want, max, budget);
	room = ring->capacity - ring->len;
	take = len < room ? len : room;
	for (size_t i = 0; i < take; i++)
		ring->bytes[(ring->start + ring->len + i) % ring->capacity] = data[i];
	ring->len += take;
	return take;
}

int
connbuf_recv_copy(const struct connbuf_recv *ring, uint8_t **data, size_t *len)
{
	uint8_t *copy = NULL;

	if (ring->len > 0) {
		copy = malloc(ring->len);
		if (copy == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < ring->len; i++)
			copy[i] = ring->bytes[(ring->start + i) % ring->capacity];
	}
	*data = copy;
	*len = ring->len;
	return 0;
}

int
connbuf_recv_take(struct connbuf_recv *ring, uint8_t **data, size_t *len,
    struct membudget *budget)
{
	int rc = connbuf_recv_copy(ring, data, len);

	if (rc != 0)
		return rc;
	connbuf_recv_clear(ring, budget);
	return 0;
}

void
connbuf_recv_shrink(struct connbuf_recv *ring, struct membudget *budget)
{
	size_t before = ring->capacity;

	if (ring->len < before && recv_resize(ring, ring->len) == 0)
		membudget_credit(budget, MEMBUDGET_RECV, before - ring->capacity);
}

void
connbuf_recv_clear(struct connbuf_recv *ring, struct membudget *budget)
{
	membudget_credit(budget, MEMBUDGET_RECV, ring->capacity);
	free(ring->bytes);
	memset(ring, 0, sizeof(*ring));
}
