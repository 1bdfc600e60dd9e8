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

int
connbuf_send_push(struct connbuf_send *queue, const void *data, uint64_t len)
{
	struct connbuf_chunk *chunk;

	chunk = malloc(sizeof(*chunk) + (data != NULL ? (size_t)len : 0));
	if (chunk == NULL)
		return -ENOMEM;
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
connbuf_send_consume(struct connbuf_send *queue, size_t n)
{
	struct connbuf_chunk *chunk = queue->head;

	chunk->done += n;
	queue->queued -= n;
	if (chunk->done == chunk->len) {
		queue->head = chunk->next;
		free(chunk);
	}
}

bool
connbuf_send_empty(const struct connbuf_send *queue)
{
	return queue->head == NULL;
}

void
connbuf_send_clear(struct connbuf_send *queue)
{
	struct connbuf_chunk *chunk, *tmp;

	LL_FOREACH_SAFE(queue->head, chunk, tmp)
		free(chunk);
	queue->head = NULL;
	queue->queued = 0;
}

size_t
connbuf_recv_put(struct connbuf_recv *ring, size_t capacity, const uint8_t *data, size_t len)
{
	size_t room, take;

	if (ring->bytes == NULL) {
		ring->bytes = malloc(capacity);
		if (ring->bytes == NULL)
			return 0;
		ring->capacity = capacity;
	}
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
connbuf_recv_take(struct connbuf_recv *ring, uint8_t **data, size_t *len)
{
	int rc = connbuf_recv_copy(ring, data, len);

	if (rc != 0)
		return rc;
	ring->start = 0;
	ring->len = 0;
	return 0;
}

void
connbuf_recv_clear(struct connbuf_recv *ring)
{
	free(ring->bytes);
	memset(ring, 0, sizeof(*ring));
}
