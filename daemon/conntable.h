/*
 * conntable: the engine's record of every connection, live and closed.
 * Pure bookkeeping: ids, state history, counters, retransmission detection
 * and the retention of closed connections. No lwIP, no locking; the engine
 * calls it with the stack's core lock held.
 */
#ifndef LWIPD_CONNTABLE_H
#define LWIPD_CONNTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "engine.h"
#include "timeline.h"

struct stack_tcp;
struct send_chunk;
struct engine_waiter;

/* Received bytes waiting for GET .../data, in a ring allocated on first use. */
struct recv_ring {
	uint8_t *bytes;
	size_t capacity;
	size_t start;
	size_t len;
};

struct conn {
	uint64_t id;
	enum engine_origin origin;
	uint64_t listener_id;
	struct engine_endpoint local;
	struct engine_endpoint remote;
	enum tcpinfo_state state;
	size_t history_len;
	struct engine_history_entry history[ENGINE_HISTORY_MAX];
	struct engine_counters counters;
	uint32_t snd_max;		/* highest sequence number sent, plus one */
	bool snd_max_valid;
	struct stack_tcp *tcp;		/* the engine's handle; NULL once closed */
	bool has_tcb;
	struct engine_tcb tcb;		/* the latest copy from lwIP */
	bool close_requested;		/* the API asked for a full close */
	bool write_shut;		/* a FIN is sent or will follow the queued data */
	bool fin_pending;		/* the FIN waits for the send queue to drain */
	bool read_shut;			/* received data is discarded */
	bool recv_truncated;		/* bytes were discarded since the last read */
	struct send_chunk *send_queue;
	uint64_t send_queued;
	struct recv_ring recv;
	struct engine_waiter *waiters;
	struct timeline timeline;
	struct timeline_steps steps;
	int64_t open_event;		/* the inbound segment lwIP is handling, or -1 */
	bool announced;			/* its creation went out on the event stream */
	void *timer_queue;		/* the engine's deadline queue holding it, if any */
	uint64_t deadline_us;
	struct conn *timer_prev, *timer_next;
	struct conn *prev, *next;	/* every connection, in id order */
	struct conn *closed_prev, *closed_next;	/* closed ones, oldest first */
	UT_hash_handle hh;
};

struct conntable;

/* Returns NULL when out of memory. */
struct conntable *conntable_new(uint32_t retain_closed);

/* Frees the table and every connection in it. Accepts NULL. */
void conntable_free(struct conntable *table);

/*
 * Adds a connection with an empty history and the next id, in state CLOSED,
 * or LISTEN for a passive open forked from a listener. NULL: out of memory.
 */
struct conn *conntable_add(struct conntable *table, enum engine_origin origin,
    enum tcpinfo_state initial, const struct engine_endpoint *local,
    const struct engine_endpoint *remote);

/*
 * Removes a connection that never started, as if it had never been added.
 * The engine must have freed what the connection owns.
 */
void conntable_discard(struct conntable *table, struct conn *conn);

struct conn *conntable_find(struct conntable *table, uint64_t id);

/* The first connection in id order, and the next one; NULL at the end. */
struct conn *conntable_first(struct conntable *table);
struct conn *conntable_next(struct conn *conn);

size_t conntable_live_count(const struct conntable *table);

/*
 * Appends a state to the history. Entering CLOSED moves the connection to the
 * closed list; closed connections beyond the retention cap are freed by
 * conntable_prune(), never here, so callers' pointers stay valid.
 */
void conntable_record_state(struct conntable *table, struct conn *conn, enum tcpinfo_state state,
    struct tcpinfo_cause cause, uint64_t at_us);

/* Counts one segment; an outbound one that resends sequence space is a retransmission. */
void conntable_record_segment(struct conn *conn, bool outbound, uint8_t flags, uint32_t seq,
    uint32_t payload_len);

/* Keeps conn from being pruned until unpinned (NULL). */
void conntable_pin(struct conntable *table, struct conn *conn);

/* Frees the oldest closed connections beyond the cap, except the pinned one. */
void conntable_prune(struct conntable *table);

/* Changes the retention cap; the next prune applies it. */
void conntable_set_retain(struct conntable *table, uint32_t retain_closed);

/* Copies the connection's own fields; the engine adds what only it knows. */
void conntable_view(const struct conn *conn, struct engine_conn_view *out);

/* Called on every connection before it is freed, to release what the engine hung on it. */
void conntable_set_destructor(struct conntable *table, void (*destroy)(struct conn *conn));

#endif
