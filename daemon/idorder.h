/*
 * idorder: an ordered index of records by id, for ids that only grow:
 * appending the newest is O(1), and finding the first record after any id,
 * whether or not that id still exists, takes O(log n) steps. Pure, no
 * locking; lists page with it (?after=) without a walk from the start.
 *
 * A record embeds a struct idorder_node; idorder_entry() gets the record
 * back from its node.
 */
#ifndef LWIPD_IDORDER_H
#define LWIPD_IDORDER_H

#include <stddef.h>
#include <stdint.h>

/* Levels above the list of all nodes; each holds about one in eight of the one below. */
#define IDORDER_LEVELS 6

struct idorder_node {
	uint64_t id;
	struct idorder_node *prev, *next;	/* every node, in id order */
	struct idorder_node **up;		/* height pointers, one a level above; NULL when 0 */
	uint8_t height;
};

struct idorder {
	struct idorder_node *first, *last;
	struct idorder_node *head[IDORDER_LEVELS];
	struct idorder_node *tail[IDORDER_LEVELS];
	uint64_t rng;
};

#define idorder_entry(node, type, member) \
	((type *)(void *)((char *)(node) - offsetof(type, member)))

/* Empties the index and seeds the nodes' heights. */
void idorder_init(struct idorder *index);

/*
 * Appends node, whose id must exceed every id in the index. Never fails:
 * a node whose upper links cannot be allocated stays on the bottom list.
 */
void idorder_append(struct idorder *index, struct idorder_node *node, uint64_t id);

/* Takes node out of the index and frees its upper links. */
void idorder_remove(struct idorder *index, struct idorder_node *node);

/* The first node with an id above after, or NULL. */
struct idorder_node *idorder_after(const struct idorder *index, uint64_t after);

#endif
