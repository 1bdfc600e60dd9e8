/*
 * idorder: the ordered index of records by growing id.
 *
 * DESIGN
 *
 * A skip list whose bottom level is the doubly linked list of every node.
 * Ids only grow, so an append links the node at the tail of each of its
 * levels and never searches. Removal unlinks the bottom level at once and
 * searches only for a node with upper levels (one in eight). A lookup
 * descends from the top, so an id that was removed still finds its
 * successor. Heights are random, seeded from getrandom(), so no pattern
 * of opens and closes can make a level empty on purpose.
 */
#include "idorder.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void
idorder_init(struct idorder *index)
{
	memset(index, 0, sizeof(*index));
	/* Without entropy the index still works; only its heights are predictable. */
	if (getrandom(&index->rng, sizeof(index->rng), GRND_NONBLOCK) != sizeof(index->rng) ||
	    index->rng == 0)
		index->rng = (uint64_t)(uintptr_t)index | 1u;
}

/* Each level up with a chance of one in eight: three random bits per level. */
static uint8_t
draw_height(struct idorder *index)
{
	uint64_t x = index->rng;
	uint8_t height = 0;

	/* xorshift64 */
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	index->rng = x;
	while (height < IDORDER_LEVELS && (x & 7u) == 0) {
		height++;
		x >>= 3;
	}
	return height;
}

void
idorder_append(struct idorder *index, struct idorder_node *node, uint64_t id)
{
	node->id = id;
	node->next = NULL;
	node->prev = index->last;
	if (index->last != NULL)
		index->last->next = node;
	else
		index->first = node;
	index->last = node;

	node->height = draw_height(index);
	node->up = NULL;
	if (node->height > 0)
		node->up = calloc(node->height, sizeof(*node->up));
	if (node->up == NULL)
		node->height = 0;
	for (uint8_t level = 0; level < node->height; level++) {
		if (index->tail[level] != NULL)
			index->tail[level]->up[level] = node;
		else
			index->head[level] = node;
		index->tail[level] = node;
	}
}

void
idorder_remove(struct idorder *index, struct idorder_node *node)
{
	struct idorder_node *prev = NULL;

	if (node->prev != NULL)
		node->prev->next = node->next;
	else
		index->first = node->next;
	if (node->next != NULL)
		node->next->prev = node->prev;
	else
		index->last = node->prev;

	for (int level = IDORDER_LEVELS - 1; node->height > 0 && level >= 0; level--) {
		struct idorder_node **link = prev != NULL ? &prev->up[level] : &index->head[level];

		while (*link != NULL && (*link)->id < node->id) {
			prev = *link;
			link = &prev->up[level];
		}
		if (level < node->height && *link == node) {
			*link = node->up[level];
			if (index->tail[level] == node)
				index->tail[level] = prev;
		}
	}
	free(node->up);
	node->up = NULL;
	node->height = 0;
	node->prev = node->next = NULL;
}

struct idorder_node *
idorder_after(const struct idorder *index, uint64_t after)
{
	const struct idorder_node *prev = NULL;
	struct idorder_node *next;

	for (int level = IDORDER_LEVELS - 1; level >= 0; level--) {
		next = prev != NULL ? prev->up[level] : index->head[level];
		while (next != NULL && next->id <= after) {
			prev = next;
			next = next->up[level];
		}
	}
	next = prev != NULL ? prev->next : index->first;
	while (next != NULL && next->id <= after)
		next = next->next;
	return next;
}
