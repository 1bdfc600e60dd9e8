/*
 * engine: the connection engine that the API and the lwIP glue share.
 *
 * The API thread calls these functions with plain C values and gets plain
 * C snapshots back; nothing here carries lwIP or HTTP types. Each call takes
 * the stack's core lock for a short, bounded time and copies what it returns,
 * so callers never see shared state. The lock order is in lockorder.h.
 */
#ifndef LWIPD_ENGINE_H
#define LWIPD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine_types.h"	/* the values the calls below take and give back */
#include "engine_streams.h"	/* timelines, the event stream, live capture */

/*
 * For main: creates the engine and starts the stack under it.
 * Returns 0 or a negative errno.
 */
int engine_start(const struct engine_config *cfg, const struct stack_config *stack_cfg,
    struct engine **out);

/* For main: aborts every live connection with a RST and refuses new work. */
void engine_stop(struct engine *engine);

/* Frees the engine after engine_stop() and the stack's stop. Accepts NULL. */
void engine_free(struct engine *engine);

/* Copies the limits the engine was started with; they never change, so no lock is taken. */
void engine_limits(const struct engine *engine, struct engine_limits *out);

/*
 * Starts an active open. On success fills *out with the new connection.
 * Results: ADDRESS_INVALID, NO_ROUTE (remote.ip), PORT_IN_USE (local_port
 * towards that remote endpoint), NO_PORT, LIMIT_REACHED (live
 * connections), NO_MEMORY, STOPPING.
 */
enum engine_result engine_open(struct engine *engine, const struct engine_open_params *params,
    struct engine_conn_view *out);

/*
 * Closes a connection: a FIN for ENGINE_CLOSE_GRACEFUL, a RST for
 * ENGINE_CLOSE_ABORT. *acted is set to false when there was nothing to do
 * (a graceful close of a connection already closing or closed, or an abort
 * of a closed one). *out holds the connection after the call.
 * Results: NOT_FOUND, STOPPING.
 */
enum engine_result engine_close(struct engine *engine, uint64_t id, enum engine_close_mode mode,
    struct engine_conn_view *out, bool *acted);

/* Copies one connection. Results: NOT_FOUND. */
enum engine_result engine_get(struct engine *engine, uint64_t id, struct engine_conn_view *out);

/* A page of a list: at most limit items with ids above after, in id order. */
#define ENGINE_PAGE_MAX 10000u
struct engine_page {
	uint64_t after;		/* 0: from the first */
	size_t limit;		/* 1 to ENGINE_PAGE_MAX */
};

/*
 * Copies a page of connections, only those in *state_filter when it is not
 * NULL; *more tells that further ones match. The core lock is taken for a
 * bounded number of connections at a time, so a connection that comes or
 * goes meanwhile may or may not be listed; after need not exist any more.
 * *out is malloc'd (NULL when *count is 0) and the caller frees it.
 * Results: NO_MEMORY.
 */
enum engine_result engine_list(struct engine *engine, const enum tcpinfo_state *state_filter,
    const struct engine_page *page, struct engine_conn_view **out, size_t *count, bool *more);

/* Copies the interface's configuration and counters. */
void engine_interface(struct engine *engine, struct engine_iface_view *out);

/* True while the stack and the TAP device are up and the daemon is not stopping. */
bool engine_healthy(struct engine *engine);

/* The number of connections not yet CLOSED. */
size_t engine_live_count(struct engine *engine);
/*
 * Listens on port with a backlog of handshakes in progress (1..1024).
 * Results: PORT_IN_USE (a listener or a connection uses the port),
 * LIMIT_REACHED (listeners), NO_MEMORY, STOPPING.
 */
enum engine_result engine_listen(struct engine *engine, uint16_t port, uint32_t backlog,
    struct engine_listener_view *out);

/* Stops listening; accepted connections stay. *out shows state CLOSED. Results: NOT_FOUND. */
enum engine_result engine_unlisten(struct engine *engine, uint64_t id, struct engine_listener_view *out);

/* Results: NOT_FOUND. */
enum engine_result engine_listener_get(struct engine *engine, uint64_t id, struct engine_listener_view *out);

/* Copies a page of listeners as engine_list() copies connections. Results: NO_MEMORY. */
enum engine_result engine_listener_list(struct engine *engine, const struct engine_page *page,
    struct engine_listener_view **out, size_t *count, bool *more);

/*
 * Half-closes a connection. Shutting the write side sends a FIN after any
 * queued data; shutting the read side discards data that arrives from now on.
 * Results: NOT_FOUND, WRONG_STATE (no such shutdown from this state), STOPPING.
 */
enum engine_result engine_shutdown(struct engine *engine, uint64_t id, enum engine_shutdown_how how,
    struct engine_conn_view *out);

/* Ends TIME_WAIT now (cause "api:expire"). Results: NOT_FOUND, WRONG_STATE (not in TIME_WAIT), STOPPING. */
enum engine_result engine_expire(struct engine *engine, uint64_t id, struct engine_conn_view *out);

/*
 * Queues bytes to send: a copy of data, or, when data is NULL, len bytes of
 * the pattern byte[k] = k % 251 counted from the first byte of this call.
 * Queued bytes go to lwIP as its send buffer frees up, so a large send waits
 * rather than fails. *out (may be NULL) holds the connection after the call.
 * Results: NOT_FOUND, WRONG_STATE (the connection cannot send), QUEUE_FULL (more than
 * --max-send-queue bytes would wait), MEMORY_BUDGET (nothing is queued), NO_MEMORY,
 * STOPPING.
 */
enum engine_result engine_send(struct engine *engine, uint64_t id, const void *data, uint64_t len,
    struct engine_conn_view *out);

/*
 * Returns and drains the receive buffer: *data is malloc'd (NULL when empty).
 * *truncated tells that bytes were dropped since the last read, because the
 * read side was shut. Results: NOT_FOUND, NO_MEMORY.
 */
enum engine_result engine_read(struct engine *engine, uint64_t id, uint8_t **data, size_t *len, bool *truncated);

/* The same copy without draining: the buffer and *truncated stay as they were. */
enum engine_result engine_peek(struct engine *engine, uint64_t id, uint8_t **data, size_t *len, bool *truncated);

void engine_stats(struct engine *engine, struct engine_stats *out);

/*
 * Waiting without a thread: engine_wait_* either answers at once or
 * registers a waiter and calls wake(arg) later, with the core lock held and
 * from any thread, when the condition holds, can no longer hold, times out,
 * or the daemon stops. wake must only signal (e.g. resume a suspended HTTP
 * request); the caller then calls engine_wait_finish(). As it runs under
 * the core lock, wake may take only locks later in the order of
 * daemon/lockorder.h, and must not call the engine.
 */
struct engine_waiter;

enum engine_wait_result {
	ENGINE_WAIT_REACHED = 0,
	ENGINE_WAIT_TIMED_OUT,
	ENGINE_WAIT_UNREACHABLE,	/* the connection closed without passing the state */
	ENGINE_WAIT_STOPPING
};

#define ENGINE_WAIT_TIMEOUT_MAX_MS 60000u

/*
 * Waits until connection id is in state or has passed through it.
 * ENGINE_OK with *out registered, or with *out NULL when that holds
 * already. Results: NOT_FOUND, NO_MEMORY, STOPPING.
 */
enum engine_result engine_wait_state(struct engine *engine, uint64_t id, enum tcpinfo_state state,
    uint32_t timeout_ms, engine_wake_fn wake, void *arg, struct engine_waiter **out);

/* Waits until listener id has accepted at least count connections. Same returns. */
enum engine_result engine_wait_accepted(struct engine *engine, uint64_t id, uint64_t count,
    uint32_t timeout_ms, engine_wake_fn wake, void *arg, struct engine_waiter **out);

/* Waits until batch id is no longer running (done or stopped). Same returns. */
enum engine_result engine_wait_batch(struct engine *engine, uint64_t id, uint32_t timeout_ms,
    engine_wake_fn wake, void *arg, struct engine_waiter **out);

/*
 * Frees the waiter (also to cancel one that has not woken) and returns its
 * result; copies the connection or listener as it is now into conn_out or
 * listener_out, whichever the wait was for (either may be NULL). A copy is
 * not made when it has been dropped meanwhile; then *found is false. A
 * batch's wait copies nothing: *found tells whether it is still kept.
 */
enum engine_wait_result engine_wait_finish(struct engine *engine, struct engine_waiter *waiter,
    struct engine_conn_view *conn_out, struct engine_listener_view *listener_out, bool *found);

/* Connections in the table, live and retained, by state. */
void engine_count_by_state(struct engine *engine, uint64_t counts[TCPINFO_STATE_COUNT]);

/*
 * Fault rules (faults.h): they act on the segments between lwIP and the
 * wire. Rules are numbered from 1 and never renumbered.
 */

/* Adds a rule whose values the caller checked. RULES_FULL, STOPPING or NO_MEMORY otherwise. */
enum engine_result engine_fault_add(struct engine *engine, const struct fault_spec *spec,
    struct fault_rule_view *out);

/* Returns OK or NOT_FOUND. */
enum engine_result engine_fault_get(struct engine *engine, uint64_t id, struct fault_rule_view *out);

/* Copies up to max rules with ids above after, in id order; returns how many. */
size_t engine_fault_list(struct engine *engine, uint64_t after, struct fault_rule_view *out,
    size_t max);

/* Returns OK or NOT_FOUND; *out is the rule as it was. */
enum engine_result engine_fault_remove(struct engine *engine, uint64_t id,
    struct fault_rule_view *out);

/* Removes every rule; returns how many there were. */
size_t engine_fault_clear(struct engine *engine);

/*
 * Batches: count active opens towards one endpoint, at most in_flight
 * handshakes outstanding at a time, each closed as asked hold_ms after it
 * is ESTABLISHED. The core thread drives them (batches.c); these calls only
 * start, copy and stop them.
 */
#define ENGINE_BATCH_COUNT_MAX 1000000u
#define ENGINE_BATCH_IN_FLIGHT_MAX 4096u
#define ENGINE_BATCH_HOLD_MAX_MS 600000u
#define ENGINE_BATCHES_KEPT 64		/* finished batches beyond this go, oldest first */

enum engine_batch_close {
	ENGINE_BATCH_CLOSE_NONE = 0,	/* leave each connection open */
	ENGINE_BATCH_CLOSE_GRACEFUL,	/* FIN */
	ENGINE_BATCH_CLOSE_ABORT	/* RST */
};

enum engine_batch_state {
	ENGINE_BATCH_RUNNING = 0,
	ENGINE_BATCH_DONE,		/* every connection finished as asked or failed */
	ENGINE_BATCH_STOPPED		/* stopped before it started them all */
};

/* Why a batch connection failed; the API names them. */
enum engine_batch_failure {
	ENGINE_BATCH_FAIL_REFUSED = 0,	/* the SYN was answered with a RST */
	ENGINE_BATCH_FAIL_TIMEOUT,	/* lwIP gave up retransmitting the SYN */
	ENGINE_BATCH_FAIL_UNRESOLVED,	/* ARP never resolved the next hop */
	ENGINE_BATCH_FAIL_RESET,	/* reset after ESTABLISHED, before the batch closed it */
	ENGINE_BATCH_FAIL_LIMIT,	/* the live connection limit refused the open */
	ENGINE_BATCH_FAIL_NO_PORT,	/* no free local port towards the endpoint */
	ENGINE_BATCH_FAIL_NO_MEMORY,
	ENGINE_BATCH_FAIL_CLOSED,	/* closed or aborted by the API, or by a stack timer */
	ENGINE_BATCH_FAIL_STOPPING,	/* the daemon stopped */
	ENGINE_BATCH_FAIL_OTHER,
	ENGINE_BATCH_FAIL_COUNT
};

struct engine_batch_params {
	struct engine_endpoint remote;
	uint32_t count;			/* 1..ENGINE_BATCH_COUNT_MAX */
	uint32_t in_flight;		/* 1..ENGINE_BATCH_IN_FLIGHT_MAX */
	enum engine_batch_close close;
	uint32_t hold_ms;		/* 0..ENGINE_BATCH_HOLD_MAX_MS */
	bool timelines;			/* record each connection's timeline */
};

/* Handshake latencies (SYN_SENT to ESTABLISHED), from a log-linear histogram: within 1/16. */
struct engine_latency {
	uint64_t count;
	uint64_t min_us, p50_us, p90_us, p99_us, max_us;	/* 0 when count is 0 */
};

struct engine_batch_view {
	uint64_t id;
	enum engine_batch_state state;
	struct engine_batch_params params;
	uint64_t started;		/* opens begun, failed ones included */
	uint64_t established;
	uint64_t failed;
	uint64_t failures[ENGINE_BATCH_FAIL_COUNT];
	uint64_t closed;		/* closed by the batch, and through TIME_WAIT or CLOSED */
	uint64_t elapsed_us;		/* from the start to the last connection finished, or now */
	struct engine_latency latency;
};

/*
 * Starts a batch whose values the caller checked; its first opens go out
 * before the call returns. Results: ADDRESS_INVALID, NO_ROUTE (the first
 * open's), LIMIT_REACHED (--max-batches run already), LINK_DOWN,
 * NO_MEMORY, STOPPING.
 */
enum engine_result engine_batch_start(struct engine *engine,
    const struct engine_batch_params *params, struct engine_batch_view *out);

/* Results: NOT_FOUND. */
enum engine_result engine_batch_get(struct engine *engine, uint64_t id,
    struct engine_batch_view *out);

/* Copies every kept batch in id order; *out is malloc'd (NULL when none). Results: NO_MEMORY. */
enum engine_result engine_batch_list(struct engine *engine, struct engine_batch_view **out,
    size_t *count);

/*
 * Stops a running batch from starting more opens; connections it opened
 * go on and are closed as asked. Results: NOT_FOUND.
 */
enum engine_result engine_batch_stop(struct engine *engine, uint64_t id,
    struct engine_batch_view *out);

#endif
