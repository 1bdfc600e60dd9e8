/*
 * conntable: the record of every connection, live and closed: ids, lookup,
 * state history, counters and the retention of closed connections.
 * Pure bookkeeping, no lwIP and no locking; the engine calls it with the
 * stack's core lock held.
 *
 * The table allocates each entry with room for its owner's own fields: the
 * engine's struct conn begins with a struct conntable_entry, and the table
 * knows nothing of what follows it.
 */
#ifndef LWIPD_CONNTABLE_H
#define LWIPD_CONNTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "conninfo.h"
#include "idorder.h"
#include "tcpinfo.h"

/* Members ordered so that padding wastes nothing: the table may hold a million. */
struct conntable_entry {
	uint64_t id;
	uint64_t listener_id;		/* passive connections: the listener that accepted it */
	struct engine_endpoint local;
	struct engine_endpoint remote;
	enum engine_origin origin;
	enum tcpinfo_state state;
	uint32_t history_len;
	uint32_t history_cap;		/* allocated (histbuf.h), at most ENGINE_HISTORY_MAX */
	struct tcpinfo_seq_mark sent;	/* for spotting retransmissions */
	struct engine_history_entry *history;
	struct engine_counters counters;
	struct idorder_node order;	/* every connection, in id order */
	struct conntable_entry *closed_prev, *closed_next;	/* closed ones, oldest first */
	UT_hash_handle hh;
};

struct conntable;

/*
 * Returns NULL when out of memory. Entries are entry_size bytes, zeroed,
 * at least sizeof(struct conntable_entry).
 */
struct conntable *conntable_new(uint32_t retain_closed, size_t entry_size);

/* Frees the table and every connection in it. Accepts NULL. */
void conntable_free(struct conntable *table);

/*
 * Adds a connection with an empty history and the next id, in state CLOSED,
 * or LISTEN for a passive open forked from a listener. NULL: out of memory.
 */
struct conntable_entry *conntable_add(struct conntable *table, enum engine_origin origin,
    enum tcpinfo_state initial, const struct engine_endpoint *local,
    const struct engine_endpoint *remote);

/*
 * Removes a connection that never started, as if it had never been added.
 * The destructor runs first.
 */
void conntable_discard(struct conntable *table, struct conntable_entry *entry);

struct conntable_entry *conntable_find(struct conntable *table, uint64_t id);

/* The first connection in id order, and the next one; NULL at the end. */
struct conntable_entry *conntable_first(struct conntable *table);
struct conntable_entry *conntable_next(struct conntable_entry *entry);

/* The first connection with an id above after, which need not exist any more; NULL at the end. */
struct conntable_entry *conntable_after(struct conntable *table, uint64_t after);

size_t conntable_live_count(const struct conntable *table);

/*
 * Appends a state to the history. Entering CLOSED moves the connection to the
 * closed list; closed connections beyond the retention cap are freed by
 * conntable_prune(), never here, so callers' pointers stay valid.
 */
void conntable_record_state(struct conntable *table, struct conntable_entry *entry,
    enum tcpinfo_state state, struct tcpinfo_cause cause, uint64_t at_us);

/* Counts one segment; an outbound one that resends sequence space is a retransmission. */
void conntable_record_segment(struct conntable_entry *entry, bool outbound, uint8_t flags,
    uint32_t seq, uint32_t payload_len);

/* Keeps entry from being pruned until unpinned (NULL). */
void conntable_pin(struct conntable *table, struct conntable_entry *entry);

/* Frees the oldest closed connections beyond the cap, except the pinned one. */
void conntable_prune(struct conntable *table);

/* Changes the retention cap; the next prune applies it. */
void conntable_set_retain(struct conntable *table, uint32_t retain_closed);

/* Called on every connection before it is freed, to release what its owner hung on it. */
void conntable_set_destructor(struct conntable *table,
    void (*destroy)(struct conntable_entry *entry));

#endif
