/*
 * engine_internal: what the engine's own files share and nothing else sees:
 * the engine, its connections and listeners, and the functions one engine
 * file offers the others. Everything here lives under lwIP's core lock.
 */
#ifndef LWIPD_ENGINE_INTERNAL_H
#define LWIPD_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <uthash.h>

#include "connbuf.h"
#include "conntable.h"
#include "deadlines.h"
#include "engine.h"
#include "faults.h"
#include "histogram.h"
#include "idorder.h"
#include "peerstate.h"
#include "lockorder.h"
#include "membudget.h"
#include "stack.h"
#include "synmemo.h"
#include "timeline.h"

/* A list is gathered with the core lock held for at most this many entries at a time. */
#define ENGINE_LIST_CHUNK 256

/* The peer's transitions as its kernel reported them: allocated only with --peer-trace. */
struct kernel_history {
	size_t len;
	struct engine_kernel_transition entries[ENGINE_KERNEL_HISTORY_MAX];
};

/*
 * A connection: the table's record, then what the engine hangs on it. Every
 * owner the stack's hooks receive leads back to its engine, so the engine
 * needs no global.
 */
struct conn {
	struct conntable_entry entry;	/* first: the table allocates struct conn */
	struct engine *engine;
	struct stack_tcp *tcp;		/* NULL once closed */
	struct engine_tcb tcb;		/* the latest copy from lwIP, once has_tcb */
	struct connbuf_send send;
	struct connbuf_recv recv;
	struct engine_waiter *waiters;
	struct timeline *timeline;	/* NULL until its first event; for good with timeline_off */
	struct timeline_steps steps;
	int64_t open_event;		/* the inbound segment lwIP is handling, or -1 */
	struct peerstate peer;		/* the peer's inferred state */
	struct kernel_history *kernel;	/* and its real one, with --peer-trace; or NULL */
	struct deadline_entry deadline;	/* TIME_WAIT or FIN_WAIT_2, when the engine times it */
	/* A batch's connection: its batch (0: none), its part in it, and its hold before the close. */
	uint64_t batch_id;
	uint64_t batch_syn_us;
	struct deadline_entry batch_hold;
	/* The flags last, together: a table may hold a million connections. */
	uint8_t batch_phase;		/* enum batch_phase, batches.c */
	bool has_tcb;
	bool close_requested;		/* the API asked for a full close */
	bool write_shut;		/* a FIN is sent or will follow the queued data */
	bool fin_pending;		/* the FIN waits for the send queue to drain */
	bool read_shut;			/* received data is discarded */
	bool recv_truncated;		/* bytes were discarded since the last read */
	bool open_rst;			/* and it is a RST that reached lwIP (open_event) */
	bool announced;			/* its creation went out on the event stream */
	bool timeline_off;		/* records no timeline events */
};

struct listener {
	struct engine *engine;
	uint64_t id;
	uint16_t port;
	uint32_t backlog;
	uint64_t accepted;
	struct stack_listener *stack;
	struct engine_waiter *waiters;
	struct idorder_node order;
	UT_hash_handle hh;
};

/* A batch of opens (batches.c). */
struct batch {
	struct engine *engine;
	uint64_t id;
	enum engine_batch_state state;
	struct engine_batch_params params;
	uint64_t started, established, failed, closed;
	uint64_t failures[ENGINE_BATCH_FAIL_COUNT];
	uint64_t finished;		/* connections done with: failed, closed, or left open */
	uint32_t handshaking;		/* opens begun and not yet ESTABLISHED or failed */
	uint32_t holding;		/* connections in the hold queue */
	uint64_t begin_us, end_us;	/* end_us: 0 until the last connection finished */
	bool refill_armed;
	struct deadline_queue hold;	/* ESTABLISHED connections waiting hold_ms for their close */
	struct histogram latency;
	struct engine_waiter *waiters;
	struct batch *prev, *next;	/* id order */
	UT_hash_handle hh;
};

/* The event stream: one ring, each subscriber with its own read position. */
struct events {
	struct engine_stream_event ring[ENGINE_STREAM_REPLAY];
	uint64_t next;			/* the number the next event gets, from 1 */
	struct engine_subscriber *subscribers;
	size_t subscriber_count;
	bool heartbeat_armed;
};

struct engine {
	struct engine_config cfg;
	struct events events;
	struct conntable *table;
	struct listener *listeners_by_id;
	struct idorder listeners;	/* id order */
	size_t listener_count;
	uint64_t next_listener_id;
	struct deadline_queue time_wait;
	struct deadline_queue fin_wait_2;
	uint64_t transitions[TCPINFO_STATE_COUNT][TCPINFO_STATE_COUNT];
	uint64_t curr_estab;
	uint64_t retrans_segs;
	struct faults *faults;
	uint64_t overflow_warned_us;	/* when a full hold was last logged */
	uint64_t overflows_unwarned;	/* full-hold overflows since, unlogged */
	struct synmemo dropped_syns;	/* listener SYNs a rule dropped, for the connection a retry makes */
	bool stopping;
	struct timespec started;
	uint64_t started_unix_us;	/* the wall clock at started, for captures */
	struct engine_capture_reader *capture_readers;
	size_t capture_reader_count;
	uint64_t capture_dropped;	/* readers dropped for falling behind */
	struct peertrace *peertrace;	/* --peer-trace's reader, or NULL */
	struct batch *batches_by_id;
	struct batch *batches;		/* id order */
	size_t batch_count;
	size_t batches_running;
	uint64_t next_batch_id;
	struct membudget budget;	/* --memory-budget: send copies, receive rings, timelines */
};

static inline struct conn *
conn_of(struct conntable_entry *entry)
{
	return (struct conn *)entry;
}

/* Takes lwIP's core lock for one engine operation; see lockorder.h. */
static inline void
engine_lock(void)
{
	lockorder_acquire(LOCKORDER_CORE);
	stack_lock();
}

static inline void
engine_unlock(void)
{
	stack_unlock();
	lockorder_release(LOCKORDER_CORE);
}

static inline struct tcpinfo_cause
engine_cause(enum tcpinfo_cause_kind kind)
{
	return (struct tcpinfo_cause){ .kind = (uint8_t)kind };
}

/* batches.c */
struct batch *batches_find(struct engine *engine, uint64_t id);
/* The state_changed hook's part for a batch's connection; calls nothing in the glue. */
void batches_on_state(struct conn *conn, enum tcpinfo_state to, struct tcpinfo_cause cause);
/* For engine_stop: ends every batch's waits and timers. */
void batches_stop(struct engine *engine);
void batches_free(struct engine *engine);

/* capture.c */
void capture_on_frame(void *arg, const struct stack_frame *frame);
void capture_stop(struct engine *engine);

/* engine.c */
uint64_t engine_now_us(const struct engine *engine);
/* The connection with that id, live or retained, or NULL. */
struct conn *engine_conn_find(struct engine *engine, uint64_t id);
/* Whether one more of something bounded may start: STOPPING, LIMIT_REACHED, or OK. */
enum engine_result engine_admit(const struct engine *engine, size_t used, size_t max);
/* The same for the streams, whose calls keep errno values: 0, -ESHUTDOWN or -ENOBUFS. */
int engine_admit_stream(const struct engine *engine, size_t used, size_t max);
/* The result a stack call's errno stands for (stack_tcp_connect, stack_tcp_listen). */
enum engine_result engine_result_of(int stack_rc);
void engine_conn_view(struct engine *engine, struct conn *conn, struct engine_conn_view *out);
/* Gives lwIP as much queued data as its send buffer takes; sends the FIN once all is out. */
void engine_conn_pump(struct conn *conn);
/* The connection's timeline, made at its first event; NULL when off (or out of memory). */
struct timeline *engine_conn_timeline(struct conn *conn);
/* A connection not yet begun, set up for the engine; NULL when out of memory. */
struct conn *engine_conn_new(struct engine *engine, enum engine_origin origin,
    const struct engine_endpoint *local, const struct engine_endpoint *remote);

/* connections.c */
/*
 * Begins an active open under the core lock: the new connection, or NULL
 * with *rc set (as engine_open's results). batch_id (0: none) is set
 * before the SYN_SENT report.
 */
struct conn *connections_start(struct engine *engine, const struct engine_open_params *params,
    uint64_t batch_id, enum engine_result *rc);

/* events.c */
void events_init(struct events *events);
/* Appends to the stream, overwriting the oldest, and wakes idle subscribers. */
void events_emit(struct engine *engine, struct engine_stream_event event);
/* Wakes every subscriber so that its reader learns the daemon stops. */
void events_stop(struct engine *engine);
/* Frees what subscribers are left. */
void events_free(struct events *events);

/* waits.c */
/* Wakes the waiters on a connection or listener whose condition now holds or never will. */
void waits_check(struct engine *engine, struct engine_waiter **list);
/* Wakes every waiter on the list with result. */
void waits_wake_all(struct engine_waiter **list, enum engine_wait_result result);

/* listeners.c */
struct listener *listeners_find(struct engine *engine, uint64_t id);
/* The first listener with an id above after, and the next one; NULL at the end. */
struct listener *listeners_after(struct engine *engine, uint64_t after);
struct listener *listeners_next(struct listener *listener);
void listeners_view(const struct listener *listener, struct engine_listener_view *out);
/* For engine_stop: ends every listener's waits and stops it listening. */
void listeners_stop(struct engine *engine);
void listeners_free(struct engine *engine);
/* The stack's accepted hook. */
void listeners_on_accepted(void *listener_owner);

/* segments.c: the stack's segment and segment_done hooks. */
void segments_on_segment(void *arg, void *owner, struct stack_segment *segment);
void segments_on_done(void *owner, const struct stack_rx_outcome *outcome);

/* stats.c */
/* Counts a transition, and the connections established now. */
void stats_count_transition(struct engine *engine, enum tcpinfo_state from, enum tcpinfo_state to);

#endif
