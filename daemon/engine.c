/*
 * engine: start and stop, the stack's hooks, and the operations on one
 * connection (open, close, shutdown, expire, send, read, views).
 *
 * DESIGN
 *
 * The engine owns the connection and listener tables and lives under lwIP's
 * core lock: the stack's hooks call in with the lock held, and every public
 * function takes it for the length of one table operation and a copy. There
 * is no global: each owner the hooks receive (a struct conn, a struct
 * listener) leads back to its engine, so a test can run several engines one
 * after another in one process.
 *
 * Two waits are the engine's, not lwIP's (deadlines.c). TIME_WAIT: lwIP
 * would keep a PCB there for its compiled-in 120 s and then free it
 * silently. FIN_WAIT_2 after a full close: the glue shuts only the write
 * side, so lwIP's own FIN_WAIT_2 timeout never runs.
 *
 * Data to send waits in a per-connection queue (connbuf.c) and goes to lwIP
 * as its send buffer frees up (the sendable hook); a FIN asked for
 * meanwhile follows the last queued byte. Received data fills a bounded
 * ring; what does not fit stays in the glue, outside the receive window,
 * until a read makes room.
 *
 * Send copies, receive rings and timelines are charged to one memory budget
 * (membudget.h): a send it has no room for is refused whole, received data
 * stays in the glue as for a full ring, and a timeline event is not
 * recorded. A connection that closes keeps only what its history needs.
 *
 * Each connection keeps a timeline of its segments and state changes. An
 * inbound segment is recorded before lwIP handles it; the state changes
 * reported until the stack's segment_done are its doing and fill in its
 * state_after.
 *
 * Calls into the glue from a hook: state_changed may write queued data and
 * send the pending FIN (engine_conn_pump), and the deadline timers abort or drop;
 * sendable writes. The glue reports what those calls change through the
 * same hooks, re-entering the engine, which every hook tolerates: each one
 * finishes its own bookkeeping before it calls the glue.
 */
#include "engine_internal.h"
#include "peertrace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* lwIP's own TCP_FIN_WAIT_TIMEOUT, which its full close would apply. */
#define ENGINE_FIN_WAIT_2_TIMEOUT_MS 20000u

_Static_assert(sizeof(struct stack_tcb) == sizeof(struct engine_tcb),
    "struct stack_tcb and struct engine_tcb must carry the same fields");

uint64_t
engine_now_us(const struct engine *engine)
{
	struct timespec now;

	if (engine->cfg.clock_us != NULL)
		return engine->cfg.clock_us(engine->cfg.clock_arg);
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - engine->started.tv_sec) * 1000000u +
	    (uint64_t)((now.tv_nsec - engine->started.tv_nsec) / 1000);
}

static uint64_t
wall_clock_us(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
}

static uint64_t
engine_clock(void *ctx)
{
	return engine_now_us(ctx);
}

enum engine_result
engine_admit(const struct engine *engine, size_t used, size_t max)
{
	if (engine->stopping)
		return ENGINE_STOPPING;
	return used >= max ? ENGINE_LIMIT_REACHED : ENGINE_OK;
}

void
engine_limits(const struct engine *engine, struct engine_limits *out)
{
	*out = (struct engine_limits){
		.connections = engine->cfg.max_connections,
		.listeners = engine->cfg.max_listeners,
		.event_streams = engine->cfg.max_event_streams,
		.capture_readers = engine->cfg.max_capture_readers,
		.send_queue = engine->cfg.max_send_queue,
		.fault_rules = engine->cfg.max_fault_rules,
		.batches = engine->cfg.max_batches,
		.memory_budget = engine->cfg.memory_budget,
	};
}

int
engine_admit_stream(const struct engine *engine, size_t used, size_t max)
{
	switch (engine_admit(engine, used, max)) {
	case ENGINE_OK:
		return 0;
	case ENGINE_STOPPING:
		return -ESHUTDOWN;
	default:
		return -ENOBUFS;
	}
}

enum engine_result
engine_result_of(int stack_rc)
{
	switch (stack_rc) {
	case 0:
		return ENGINE_OK;
	case -EINVAL:
		return ENGINE_ADDRESS_INVALID;
	case -ENETUNREACH:
		return ENGINE_NO_ROUTE;
	case -EADDRINUSE:
		return ENGINE_PORT_IN_USE;
	case -EADDRNOTAVAIL:
		return ENGINE_NO_PORT;
	case -ENETDOWN:
		return ENGINE_LINK_DOWN;
	default:
		return ENGINE_NO_MEMORY;
	}
}

/* Tells the stream a connection exists, once, before its first state change. */
static void
conn_announce(struct engine *engine, struct conn *conn)
{
	if (conn->announced)
		return;
	conn->announced = true;
	events_emit(engine, (struct engine_stream_event){
		.kind = ENGINE_STREAM_CONN_CREATED, .id = conn->entry.id, .origin = conn->entry.origin });
}

/* The table's destructor: what the engine hangs on a connection goes with it. */
static void
conn_destroy(struct conntable_entry *entry)
{
	struct conn *conn = conn_of(entry);

	deadline_remove(&conn->deadline);
	deadline_remove(&conn->batch_hold);
	connbuf_send_clear(&conn->send, &conn->engine->budget);
	connbuf_recv_clear(&conn->recv, &conn->engine->budget);
	timeline_free(conn->timeline);
	free(conn->timeline);
	peerstate_free(&conn->peer);
	free(conn->kernel);
	if (conn->announced)
		events_emit(conn->engine, (struct engine_stream_event){
			.kind = ENGINE_STREAM_CONN_REMOVED, .id = entry->id, .origin = entry->origin });
}

struct conn *
engine_conn_new(struct engine *engine, enum engine_origin origin,
    const struct engine_endpoint *local, const struct engine_endpoint *remote)
{
	struct conntable_entry *entry;
	struct conn *conn;

	entry = conntable_add(engine->table, origin,
	    origin == ENGINE_ORIGIN_PASSIVE ? TCPINFO_LISTEN : TCPINFO_CLOSED, local, remote);
	if (entry == NULL)
		return NULL;
	conn = conn_of(entry);
	conn->engine = engine;
	peerstate_init(&conn->peer);
	conn->open_event = -1;
	return conn;
}

/*
 * The connection's timeline, made at its first event: most connections of a
 * batch never have one, and a million of them would each carry its header.
 * NULL when its timeline is off or out of memory (the event is then refused).
 */
struct timeline *
engine_conn_timeline(struct conn *conn)
{
	struct engine *engine = conn->engine;

	if (conn->timeline != NULL || conn->timeline_off)
		return conn->timeline;
	conn->timeline = malloc(sizeof(*conn->timeline));
	if (conn->timeline == NULL)
		return NULL;
	timeline_init(conn->timeline, engine->cfg.timeline_max,
	    ENGINE_FRAME_HEADERS_MAX + engine->cfg.snaplen, &engine->budget);
	return conn->timeline;
}

struct conn *
engine_conn_find(struct engine *engine, uint64_t id)
{
	struct conntable_entry *entry = conntable_find(engine->table, id);

	return entry != NULL ? conn_of(entry) : NULL;
}

/* The one place a stack TCB becomes the engine's. */
static void
conn_refresh_tcb(struct conn *conn)
{
	struct stack_tcb tcb;

	if (conn->tcp == NULL || !stack_tcp_tcb(conn->tcp, &tcb))
		return;
	conn->has_tcb = true;
	conn->tcb = (struct engine_tcb){
		.iss = tcb.iss, .irs = tcb.irs, .snd_nxt = tcb.snd_nxt, .snd_una = tcb.snd_una,
		.rcv_nxt = tcb.rcv_nxt, .snd_wnd = tcb.snd_wnd, .rcv_wnd = tcb.rcv_wnd,
		.mss = tcb.mss, .rto_ms = tcb.rto_ms, .cwnd = tcb.cwnd, .ssthresh = tcb.ssthresh,
		.nrtx = tcb.nrtx,
	};
}

void
engine_conn_view(struct engine *engine, struct conn *conn, struct engine_conn_view *out)
{
	const struct conntable_entry *entry = &conn->entry;

	conn_refresh_tcb(conn);
	memset(out, 0, sizeof(*out));
	out->id = entry->id;
	out->origin = entry->origin;
	out->listener_id = entry->listener_id;
	out->local = entry->local;
	out->remote = entry->remote;
	out->state = entry->state;
	out->history_len = entry->history_len;
	if (entry->history_len > 0)
		memcpy(out->history, entry->history, entry->history_len * sizeof(entry->history[0]));
	out->counters = entry->counters;
	out->has_tcb = conn->has_tcb;
	out->tcb = conn->tcb;
	out->send_queued = conn->send.queued;
	out->recv_buffered = conn->recv.len;
	out->peer_state = conn->peer.state;
	out->peer_history_len = conn->peer.history_len;
	if (conn->peer.history_len > 0)
		memcpy(out->peer_history, conn->peer.history,
		    conn->peer.history_len * sizeof(conn->peer.history[0]));
	if (conn->kernel != NULL) {
		out->kernel_history_len = conn->kernel->len;
		memcpy(out->kernel_history, conn->kernel->entries,
		    conn->kernel->len * sizeof(out->kernel_history[0]));
	}
	if (entry->state == TCPINFO_TIME_WAIT && conn->deadline.queue == &engine->time_wait)
		out->time_wait_remaining_ms = deadline_remaining_ms(&conn->deadline);
}

void
engine_conn_pump(struct conn *conn)
{
	uint8_t scratch[CONNBUF_PATTERN_CHUNK];
	const uint8_t *bytes;
	bool wrote = false;
	size_t want, written;

	while (conn->tcp != NULL && !connbuf_send_empty(&conn->send)) {
		want = connbuf_send_peek(&conn->send, stack_tcp_send_space(conn->tcp), scratch, &bytes);
		if (want == 0)
			break;
		if (stack_tcp_write(conn->tcp, bytes, want, &written) < 0 || written == 0)
			break;
		wrote = true;
		connbuf_send_consume(&conn->send, written, &conn->engine->budget);
	}
	if (conn->tcp != NULL && wrote)
		stack_tcp_flush(conn->tcp);
	if (conn->tcp != NULL && conn->fin_pending && connbuf_send_empty(&conn->send)) {
		conn->fin_pending = false;
		if (conn->close_requested)
			stack_tcp_close(conn->tcp, engine_cause(TCPINFO_CAUSE_API_CLOSE));
		else
			stack_tcp_shutdown_write(conn->tcp, engine_cause(TCPINFO_CAUSE_API_SHUTDOWN));
	}
}

/* The deadline queues' expiry: TIME_WAIT ends with an abort, FIN_WAIT_2 with a drop. */
static void
expire_time_wait(struct deadline_entry *deadline, void *ctx)
{
	struct conn *conn = (struct conn *)((char *)deadline - offsetof(struct conn, deadline));

	(void)ctx;
	stack_tcp_abort(conn->tcp, engine_cause(TCPINFO_CAUSE_TIMER_2MSL));
}

static void
expire_fin_wait_2(struct deadline_entry *deadline, void *ctx)
{
	struct conn *conn = (struct conn *)((char *)deadline - offsetof(struct conn, deadline));

	(void)ctx;
	stack_tcp_drop(conn->tcp, engine_cause(TCPINFO_CAUSE_TIMER_FIN_WAIT_2));
}

/*
 * A closed connection is kept only for its history: its unsent data goes,
 * its unread data and its timeline keep exactly the memory they use.
 */
static void
conn_retire(struct conn *conn)
{
	struct membudget *budget = &conn->engine->budget;

	conn->tcp = NULL;
	connbuf_send_clear(&conn->send, budget);
	connbuf_recv_shrink(&conn->recv, budget);
	if (conn->timeline != NULL)
		timeline_shrink(conn->timeline);
}

/* Calls back into the glue: engine_conn_pump writes and may close. */
static void
on_state_changed(void *owner, enum tcpinfo_state state, struct tcpinfo_cause cause)
{
	struct conn *conn = owner;
	struct engine *engine = conn->engine;
	uint64_t now = engine_now_us(engine);
	enum tcpinfo_state from = conn->entry.state;
	struct engine_event *inbound;
	struct timeline *timeline;

	stats_count_transition(engine, from, state);
	deadline_remove(&conn->deadline);
	conn_refresh_tcb(conn);
	conntable_record_state(engine->table, &conn->entry, state, cause, now);
	timeline = engine_conn_timeline(conn);
	inbound = timeline != NULL ? timeline_get(timeline, conn->open_event) : NULL;
	if (inbound != NULL)
		inbound->state_after = state;
	if (timeline != NULL)
		timeline_append(timeline, &(struct engine_event){
			.kind = ENGINE_EVENT_STATE, .at_us = now, .from = from, .to = state,
			.cause = cause });
	conn_announce(engine, conn);
	events_emit(engine, (struct engine_stream_event){ .kind = ENGINE_STREAM_STATE,
		.id = conn->entry.id, .origin = conn->entry.origin, .from = from, .to = state,
		.cause = cause });
	if (state == TCPINFO_TIME_WAIT) {
		deadline_add(&engine->time_wait, &conn->deadline);
	} else if (state == TCPINFO_FIN_WAIT_2 && conn->close_requested) {
		deadline_add(&engine->fin_wait_2, &conn->deadline);
	} else if (state == TCPINFO_CLOSED) {
		conn_retire(conn);
	}
	waits_check(engine, &conn->waiters);
	if (conn->batch_id != 0)
		batches_on_state(conn, state, cause);
	if (state == TCPINFO_CLOSED)
		conntable_prune(engine->table);
	else if (!connbuf_send_empty(&conn->send))
		engine_conn_pump(conn);	/* data queued before the handshake can go now */
}

/* Calls nothing in the glue. */
static void *
on_passive_open(void *listener_owner, uint32_t remote_ip, uint16_t remote_port,
    uint16_t local_port, struct stack_tcp *tcp)
{
	struct listener *listener = listener_owner;
	struct engine *engine = listener->engine;
	struct engine_endpoint local = { .ip = engine->cfg.address, .port = local_port };
	struct engine_endpoint remote = { .ip = remote_ip, .port = remote_port };
	struct conn *conn;

	if (engine_admit(engine, conntable_live_count(engine->table), engine->cfg.max_connections) != ENGINE_OK)
		return NULL;
	conn = engine_conn_new(engine, ENGINE_ORIGIN_PASSIVE, &local, &remote);
	if (conn == NULL)
		return NULL;
	conn->entry.listener_id = listener->id;
	conn->tcp = tcp;
	return conn;
}

/* Calls nothing in the glue. */
static void
on_passive_abandoned(void *owner)
{
	struct conn *conn = owner;

	conntable_discard(conn->engine->table, &conn->entry);
}

/*
 * Calls nothing in the glue: what does not fit, in the ring or in the memory
 * budget, stays there, outside the receive window, until engine_read.
 */
static size_t
on_received(void *owner, const uint8_t *data, size_t len)
{
	struct conn *conn = owner;

	if (conn->read_shut) {
		conn->recv_truncated = true;
		return len;
	}
	return connbuf_recv_put(&conn->recv, conn->engine->cfg.recv_buffer, data, len,
	    &conn->engine->budget);
}

/* Calls back into the glue: writes queued data, and may send the pending FIN. */
static void
on_sendable(void *owner)
{
	engine_conn_pump(owner);
}

static const struct stack_hooks engine_hooks = {
	.state_changed = on_state_changed,
	.segment = segments_on_segment,
	.frame = capture_on_frame,
	.segment_done = segments_on_done,
	.passive_open = on_passive_open,
	.passive_abandoned = on_passive_abandoned,
	.accepted = listeners_on_accepted,
	.received = on_received,
	.sendable = on_sendable,
};

int
engine_start(const struct engine_config *cfg, const struct stack_config *stack_cfg,
    struct engine **out)
{
	struct stack_hooks hooks = engine_hooks;
	struct engine *engine;
	int rc;

	engine = calloc(1, sizeof(*engine));
	if (engine == NULL)
		return -ENOMEM;
	engine->cfg = *cfg;
	engine->next_listener_id = 1;
	idorder_init(&engine->listeners);
	engine->next_batch_id = 1;
	membudget_init(&engine->budget, cfg->memory_budget);
	events_init(&engine->events);
	deadline_queue_init(&engine->time_wait, (uint64_t)cfg->msl_ms * 2000u, engine_clock,
	    expire_time_wait, engine);
	deadline_queue_init(&engine->fin_wait_2, (uint64_t)ENGINE_FIN_WAIT_2_TIMEOUT_MS * 1000u,
	    engine_clock, expire_fin_wait_2, engine);
	clock_gettime(CLOCK_MONOTONIC, &engine->started);
	engine->started_unix_us = wall_clock_us();
	engine->table = conntable_new(cfg->retain_closed, sizeof(struct conn));
	if (engine->table == NULL) {
		rc = -ENOMEM;
		goto free_engine;
	}
	conntable_set_destructor(engine->table, conn_destroy);
	engine->faults = faults_new(cfg->max_fault_rules, cfg->fault_seed);
	if (engine->faults == NULL) {
		rc = -ENOMEM;
		goto free_table;
	}
	for (size_t i = 0; i < cfg->fault_count; i++) {
		struct fault_rule_view rule;

		rc = faults_add(engine->faults, &cfg->faults[i], &rule);
		if (rc < 0)
			goto free_faults;
	}
	hooks.arg = engine;
	rc = stack_start(stack_cfg, &hooks);
	if (rc < 0)
		goto free_faults;
	/* Without tracefs or the privilege it logs once, and the peer's state stays inferred. */
	if (cfg->peer_trace)
		peertrace_start(engine);
	*out = engine;
	return 0;

free_faults:
	faults_free(engine->faults);
free_table:
	conntable_free(engine->table);
free_engine:
	free(engine);
	return rc;
}

void
engine_stop(struct engine *engine)
{
	struct conntable_entry *entry;
	struct conn *conn;

	/* Before the lock: the reader takes it for each batch of lines. */
	peertrace_stop(engine);
	engine_lock();
	engine->stopping = true;
	/* Keep every record while aborting, so the walk's next pointer stays valid. */
	conntable_set_retain(engine->table, UINT32_MAX);
	for (entry = conntable_first(engine->table); entry != NULL; entry = conntable_next(entry))
		waits_wake_all(&conn_of(entry)->waiters, ENGINE_WAIT_STOPPING);
	/* Every PCB at once, cheaply; then those still waiting for ARP. */
	stack_tcp_abort_all(engine_cause(TCPINFO_CAUSE_DAEMON_STOP));
	for (entry = conntable_first(engine->table); entry != NULL; entry = conntable_next(entry)) {
		conn = conn_of(entry);
		if (conn->tcp != NULL)
			stack_tcp_abort(conn->tcp, engine_cause(TCPINFO_CAUSE_DAEMON_STOP));
	}
	listeners_stop(engine);
	batches_stop(engine);
	events_stop(engine);
	capture_stop(engine);
	deadline_queue_stop(&engine->time_wait);
	deadline_queue_stop(&engine->fin_wait_2);
	engine_unlock();
}

void
engine_free(struct engine *engine)
{
	if (engine == NULL)
		return;
	listeners_free(engine);
	/* Before the batches: freeing a connection takes it off its batch's hold queue. */
	conntable_free(engine->table);
	batches_free(engine);
	events_free(&engine->events);
	faults_free(engine->faults);
	free(engine);
}
