/*
 * DESIGN
 *
 * The engine owns the connection and listener tables and lives under lwIP's
 * core lock: the stack's hooks call in with the lock held, and every public
 * function below takes it for the length of one table operation and a copy.
 *
 * Two waits are the engine's, not lwIP's. TIME_WAIT: lwIP would keep a PCB
 * there for its compiled-in 120 s and then free it silently. FIN_WAIT_2
 * after a full close: the glue shuts only the write side, so lwIP's own
 * FIN_WAIT_2 timeout never runs. Every connection in one wait has the same
 * duration, so deadlines come in the order connections enter it, and a FIFO
 * with one timer for its head replaces a priority queue.
 *
 * Data to send waits in a per-connection queue and goes to lwIP as its send
 * buffer frees up (the sent callback); a FIN asked for meanwhile follows the
 * last queued byte. Received data fills a bounded ring; what does not fit
 * stays in the glue, outside the receive window, until a read makes room.
 *
 * Waiters (GET ...?wait_for=) hang on their connection or listener, are
 * checked on each of its changes, and are woken once: reached, unreachable,
 * timed out (an lwIP timer), or stopping.
 *
 * Each connection keeps a timeline of its segments and state changes. An
 * inbound segment is recorded before lwIP handles it; the state changes
 * reported until the stack's segment_done are its doing and fill in its
 * state_after. The event stream is one ring shared by all subscribers, each
 * with its own read position: the stack never waits for a reader.
 */
#include "engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utlist.h>

#include "conntable.h"
#include "log.h"
#include "stack.h"

/* lwIP walks every PCB per frame and per timer tick; past this, each open slows all the others. */
#define ENGINE_LIVE_MAX 16384
#define ENGINE_LISTENERS_MAX 1024
/* lwIP's own TCP_FIN_WAIT_TIMEOUT, which its full close would apply. */
#define ENGINE_FIN_WAIT_2_TIMEOUT_MS 20000u
/* The pattern of generated data repeats every 251 bytes, a prime, so it never lines up with segment sizes. */
#define ENGINE_PATTERN_PERIOD 251u
#define ENGINE_PATTERN_CHUNK 16384u
#define ENGINE_SUBSCRIBERS_MAX 64
/*
 * Idle subscribers are woken this often, so that their readers write
 * something and notice a client that went away while nothing happened.
 */
#define ENGINE_STREAM_HEARTBEAT_MS 15000u

/* Connections waiting out one fixed duration, oldest deadline first. */
struct deadline_queue {
	struct conn *head;
	bool timer_armed;
	uint64_t duration_us;
	struct tcpinfo_cause cause;
	void (*expire)(struct stack_tcp *tcp, struct tcpinfo_cause cause);
};

/* Bytes queued by one send: a copy, or a length of generated pattern. */
struct send_chunk {
	struct send_chunk *next;
	uint64_t len;
	uint64_t done;
	bool pattern;
	uint8_t bytes[];
};

struct listener {
	uint64_t id;
	uint16_t port;
	uint32_t backlog;
	uint64_t accepted;
	struct stack_listener *stack;
	struct engine_waiter *waiters;
	struct listener *prev, *next;	/* id order */
	UT_hash_handle hh;
};

struct engine_waiter {
	struct conn *conn;		/* what is waited on, until woken */
	struct listener *listener;
	uint64_t id;
	enum tcpinfo_state state;	/* for a connection */
	uint64_t accepted;		/* for a listener */
	bool for_listener;
	engine_wake_fn wake;
	void *arg;
	bool woken;
	bool timer_armed;
	enum engine_wait_result result;
	struct engine_waiter *prev, *next;
};

struct engine_subscriber {
	uint64_t next;			/* the number of the next event to read */
	engine_wake_fn wake;
	engine_wake_fn behind;
	void *arg;
	bool waiting;			/* read everything; wake on the next event */
	bool overrun;			/* fell out of the ring; behind() was called */
	struct engine_subscriber *prev, *next_subscriber;
};

struct engine {
	struct engine_config cfg;
	struct engine_stream_event stream[ENGINE_STREAM_REPLAY];
	uint64_t stream_next;		/* the number the next event gets, from 1 */
	struct engine_subscriber *subscribers;
	size_t subscriber_count;
	bool heartbeat_armed;
	struct conntable *table;
	struct listener *listeners_by_id;
	struct listener *listeners;	/* id order */
	size_t listener_count;
	uint64_t next_listener_id;
	struct deadline_queue time_wait;
	struct deadline_queue fin_wait_2;
	uint64_t transitions[TCPINFO_STATE_COUNT][TCPINFO_STATE_COUNT];
	uint64_t curr_estab;
	uint64_t retrans_segs;
	bool stopping;
	struct timespec started;
};

/* The stack's hooks carry a connection, not the engine: there is one engine per process. */
static struct engine *the_engine;

static uint64_t
engine_now_us(const struct engine *engine)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - engine->started.tv_sec) * 1000000u +
	    (uint64_t)((now.tv_nsec - engine->started.tv_nsec) / 1000);
}

static struct tcpinfo_cause
cause_of(enum tcpinfo_cause_kind kind)
{
	return (struct tcpinfo_cause){ .kind = (uint8_t)kind };
}

static void
stream_wake_idle(struct engine *engine)
{
	struct engine_subscriber *subscriber;

	DL_FOREACH2(engine->subscribers, subscriber, next_subscriber) {
		if (subscriber->waiting) {
			subscriber->waiting = false;
			subscriber->wake(subscriber->arg);
		}
	}
}

static void
stream_heartbeat(void *arg)
{
	struct engine *engine = arg;

	engine->heartbeat_armed = false;
	if (engine->subscribers == NULL || engine->stopping)
		return;
	stream_wake_idle(engine);
	stack_timeout(ENGINE_STREAM_HEARTBEAT_MS, stream_heartbeat, engine);
	engine->heartbeat_armed = true;
}

/* The number of the oldest event the ring still holds. */
static uint64_t
stream_oldest(const struct engine *engine)
{
	return engine->stream_next > ENGINE_STREAM_REPLAY ? engine->stream_next - ENGINE_STREAM_REPLAY : 1;
}

/* Whether one more of something bounded may start: -ESHUTDOWN, -ENOBUFS, or 0. */
static int
engine_admit(const struct engine *engine, size_t used, size_t max)
{
	if (engine->stopping)
		return -ESHUTDOWN;
	return used >= max ? -ENOBUFS : 0;
}

/* Appends to the event stream, overwriting the oldest, and wakes idle subscribers. */
static void
stream_emit(struct engine *engine, struct engine_stream_event event)
{
	struct engine_subscriber *subscriber;
	uint64_t oldest;

	if (engine->stopping)
		return;
	event.seq = engine->stream_next++;
	event.at_us = engine_now_us(engine);
	engine->stream[event.seq % ENGINE_STREAM_REPLAY] = event;
	oldest = stream_oldest(engine);
	DL_FOREACH2(engine->subscribers, subscriber, next_subscriber) {
		if (!subscriber->overrun && subscriber->next < oldest) {
			subscriber->overrun = true;
			subscriber->behind(subscriber->arg);
		}
	}
	stream_wake_idle(engine);
}

/* Tells the stream a connection exists, once, before its first state change. */
static void
conn_announce(struct engine *engine, struct conn *conn)
{
	if (conn->announced)
		return;
	conn->announced = true;
	stream_emit(engine, (struct engine_stream_event){
		.kind = ENGINE_STREAM_CONN_CREATED, .id = conn->id, .origin = conn->origin });
}

static void deadline_timer(void *arg);

static void
deadline_arm(struct deadline_queue *queue)
{
	uint64_t now = engine_now_us(the_engine);
	uint64_t deadline;

	if (queue->timer_armed || queue->head == NULL)
		return;
	deadline = queue->head->deadline_us;
	stack_timeout(deadline > now ? (uint32_t)((deadline - now + 999) / 1000) : 0,
	    deadline_timer, queue);
	queue->timer_armed = true;
}

/* Ends every wait in the queue whose deadline has passed. */
static void
deadline_timer(void *arg)
{
	struct deadline_queue *queue = arg;
	uint64_t now = engine_now_us(the_engine);

	queue->timer_armed = false;
	/* Expiry reports CLOSED, and the state hook takes the head off the queue. */
	while (queue->head != NULL && queue->head->deadline_us <= now)
		queue->expire(queue->head->tcp, queue->cause);
	deadline_arm(queue);
}

static void
deadline_add(struct deadline_queue *queue, struct conn *conn, uint64_t now)
{
	conn->deadline_us = now + queue->duration_us;
	conn->timer_queue = queue;
	DL_APPEND2(queue->head, conn, timer_prev, timer_next);
	deadline_arm(queue);
}

static void
deadline_remove(struct conn *conn)
{
	struct deadline_queue *queue = conn->timer_queue;

	if (queue == NULL)
		return;
	DL_DELETE2(queue->head, conn, timer_prev, timer_next);
	conn->timer_queue = NULL;
}

static void waiter_timer(void *arg);

/* Wakes a waiter once, detached from what it waited on. */
static void
waiter_wake(struct engine_waiter *waiter, enum engine_wait_result result)
{
	if (waiter->conn != NULL)
		DL_DELETE(waiter->conn->waiters, waiter);
	if (waiter->listener != NULL)
		DL_DELETE(waiter->listener->waiters, waiter);
	waiter->conn = NULL;
	waiter->listener = NULL;
	if (waiter->timer_armed) {
		stack_untimeout(waiter_timer, waiter);
		waiter->timer_armed = false;
	}
	waiter->woken = true;
	waiter->result = result;
	waiter->wake(waiter->arg);
}

static void
waiter_timer(void *arg)
{
	struct engine_waiter *waiter = arg;

	waiter->timer_armed = false;
	waiter_wake(waiter, ENGINE_WAIT_TIMED_OUT);
}

/* The history ends with the current state, so it answers both "is in" and "has passed". */
static bool
conn_passed(const struct conn *conn, enum tcpinfo_state state)
{
	for (size_t i = 0; i < conn->history_len; i++) {
		if (conn->history[i].state == state)
			return true;
	}
	return false;
}

static void
conn_check_waiters(struct conn *conn)
{
	struct engine_waiter *waiter, *tmp;

	DL_FOREACH_SAFE(conn->waiters, waiter, tmp) {
		if (conn_passed(conn, waiter->state))
			waiter_wake(waiter, ENGINE_WAIT_REACHED);
		else if (conn->state == TCPINFO_CLOSED)
			waiter_wake(waiter, ENGINE_WAIT_UNREACHABLE);
	}
}

static void
listener_check_waiters(struct listener *listener)
{
	struct engine_waiter *waiter, *tmp;

	DL_FOREACH_SAFE(listener->waiters, waiter, tmp) {
		if (listener->accepted >= waiter->accepted)
			waiter_wake(waiter, ENGINE_WAIT_REACHED);
	}
}

static void
recv_ring_free(struct recv_ring *ring)
{
	free(ring->bytes);
	memset(ring, 0, sizeof(*ring));
}

static void
send_queue_free(struct conn *conn)
{
	struct send_chunk *chunk, *tmp;

	LL_FOREACH_SAFE(conn->send_queue, chunk, tmp)
		free(chunk);
	conn->send_queue = NULL;
	conn->send_queued = 0;
}

/* The table's destructor: what the engine hangs on a connection goes with it. */
static void
conn_destroy(struct conn *conn)
{
	send_queue_free(conn);
	recv_ring_free(&conn->recv);
	timeline_free(&conn->timeline);
	if (conn->announced)
		stream_emit(the_engine, (struct engine_stream_event){
			.kind = ENGINE_STREAM_CONN_REMOVED, .id = conn->id, .origin = conn->origin });
}

/* A new connection's engine-side fields, which the table leaves zeroed. */
static void
conn_setup(struct engine *engine, struct conn *conn)
{
	timeline_init(&conn->timeline, engine->cfg.timeline_max);
	conn->open_event = -1;
}

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

static void
conn_view(struct engine *engine, struct conn *conn, struct engine_conn_view *out)
{
	conn_refresh_tcb(conn);
	conntable_view(conn, out);
	if (conn->state == TCPINFO_TIME_WAIT && conn->timer_queue == &engine->time_wait) {
		uint64_t now = engine_now_us(engine);

		out->time_wait_remaining_ms = conn->deadline_us > now ?
		    (uint32_t)((conn->deadline_us - now + 999) / 1000) : 0;
	}
}

static bool
is_established(enum tcpinfo_state state)
{
	return state == TCPINFO_ESTABLISHED || state == TCPINFO_CLOSE_WAIT;
}

/* Gives lwIP as much queued data as its send buffer takes; sends the FIN once all is out. */
static void
conn_pump(struct conn *conn)
{
	uint8_t pattern[ENGINE_PATTERN_CHUNK];
	struct send_chunk *chunk;
	bool wrote = false;

	while (conn->tcp != NULL && (chunk = conn->send_queue) != NULL) {
		uint64_t left = chunk->len - chunk->done;
		size_t want = stack_tcp_send_space(conn->tcp), written;
		const uint8_t *from;

		if (want == 0)
			break;
		if (want > left)
			want = (size_t)left;
		if (chunk->pattern) {
			if (want > sizeof(pattern))
				want = sizeof(pattern);
			for (size_t i = 0; i < want; i++)
				pattern[i] = (uint8_t)((chunk->done + i) % ENGINE_PATTERN_PERIOD);
			from = pattern;
		} else {
			from = chunk->bytes + chunk->done;
		}
		if (stack_tcp_write(conn->tcp, from, want, &written) < 0 || written == 0)
			break;
		wrote = true;
		chunk->done += written;
		conn->send_queued -= written;
		if (chunk->done == chunk->len) {
			conn->send_queue = chunk->next;
			free(chunk);
		}
	}
	if (conn->tcp != NULL && wrote)
		stack_tcp_flush(conn->tcp);
	if (conn->tcp != NULL && conn->fin_pending && conn->send_queue == NULL) {
		conn->fin_pending = false;
		if (conn->close_requested)
			stack_tcp_close(conn->tcp, cause_of(TCPINFO_CAUSE_API_CLOSE));
		else
			stack_tcp_shutdown_write(conn->tcp, cause_of(TCPINFO_CAUSE_API_SHUTDOWN));
	}
}

static void
on_state_changed(void *owner, enum tcpinfo_state state, struct tcpinfo_cause cause)
{
	struct engine *engine = the_engine;
	struct conn *conn = owner;
	uint64_t now = engine_now_us(engine);
	enum tcpinfo_state from = conn->state;

	struct engine_event *inbound;

	engine->transitions[from][state]++;
	engine->curr_estab += is_established(state);
	engine->curr_estab -= is_established(from);
	deadline_remove(conn);
	conn_refresh_tcb(conn);
	conntable_record_state(engine->table, conn, state, cause, now);
	inbound = timeline_get(&conn->timeline, conn->open_event);
	if (inbound != NULL)
		inbound->state_after = state;
	timeline_append(&conn->timeline, &(struct engine_event){
		.kind = ENGINE_EVENT_STATE, .at_us = now, .from = from, .to = state, .cause = cause });
	conn_announce(engine, conn);
	stream_emit(engine, (struct engine_stream_event){ .kind = ENGINE_STREAM_STATE, .id = conn->id,
		.origin = conn->origin, .from = from, .to = state, .cause = cause });
	if (state == TCPINFO_TIME_WAIT) {
		deadline_add(&engine->time_wait, conn, now);
	} else if (state == TCPINFO_FIN_WAIT_2 && conn->close_requested) {
		deadline_add(&engine->fin_wait_2, conn, now);
	} else if (state == TCPINFO_CLOSED) {
		conn->tcp = NULL;
		send_queue_free(conn);
	}
	conn_check_waiters(conn);
	if (state == TCPINFO_CLOSED)
		conntable_prune(engine->table);
	else if (conn->send_queue != NULL)
		conn_pump(conn);	/* data queued before the handshake can go now */
}

static void
on_segment(void *owner, const struct stack_segment *segment)
{
	struct engine *engine = the_engine;
	struct conn *conn = owner;
	uint64_t before = conn->counters.retransmits;
	struct engine_event event = {
		.kind = ENGINE_EVENT_SEGMENT,
		.at_us = engine_now_us(engine),
		.outbound = segment->outbound,
		.flags = segment->flags,
		.seq = segment->seq,
		.ack = segment->ack,
		.len = segment->payload_len,
		.wnd = segment->window,
		.state_before = segment->state_before,
		.state_after = segment->state_after,
	};
	int64_t number;

	conntable_record_segment(conn, segment->outbound, segment->flags, segment->seq,
	    segment->payload_len);
	engine->retrans_segs += conn->counters.retransmits - before;
	timeline_label(&conn->steps, &event);
	number = timeline_append(&conn->timeline, &event);
	if (!segment->outbound) {
		/* Until lwIP is done with it, its state changes are this segment's, and the record stays. */
		conn->open_event = number;
		conntable_pin(engine->table, conn);
	}
}

static void
on_segment_done(void *owner)
{
	struct engine *engine = the_engine;
	struct conn *conn = owner;

	conn->open_event = -1;
	conntable_pin(engine->table, NULL);
	conntable_prune(engine->table);
}

static void *
on_passive_open(void *listener_owner, uint32_t remote_ip, uint16_t remote_port,
    uint16_t local_port, struct stack_tcp *tcp)
{
	struct engine *engine = the_engine;
	struct listener *listener = listener_owner;
	struct engine_endpoint local = { .ip = engine->cfg.address, .port = local_port };
	struct engine_endpoint remote = { .ip = remote_ip, .port = remote_port };
	struct conn *conn;

	if (engine_admit(engine, conntable_live_count(engine->table), ENGINE_LIVE_MAX) < 0)
		return NULL;
	conn = conntable_add(engine->table, ENGINE_ORIGIN_PASSIVE, TCPINFO_LISTEN, &local, &remote);
	if (conn == NULL)
		return NULL;
	conn_setup(engine, conn);
	conn->listener_id = listener->id;
	conn->tcp = tcp;
	return conn;
}

static void
on_passive_abandoned(void *owner)
{
	conntable_discard(the_engine->table, owner);
}

static void
on_accepted(void *listener_owner)
{
	struct listener *listener = listener_owner;

	listener->accepted++;
	listener_check_waiters(listener);
}

static size_t
on_received(void *owner, const uint8_t *data, size_t len)
{
	struct conn *conn = owner;
	struct recv_ring *ring = &conn->recv;
	size_t room, take;

	if (conn->read_shut) {
		conn->recv_truncated = true;
		return len;
	}
	if (ring->bytes == NULL) {
		ring->bytes = malloc(the_engine->cfg.recv_buffer);
		if (ring->bytes == NULL)
			return 0;
		ring->capacity = the_engine->cfg.recv_buffer;
	}
	room = ring->capacity - ring->len;
	take = len < room ? len : room;
	for (size_t i = 0; i < take; i++)
		ring->bytes[(ring->start + ring->len + i) % ring->capacity] = data[i];
	ring->len += take;
	return take;
}

static void
on_sendable(void *owner)
{
	conn_pump(owner);
}

int
engine_start(const struct engine_config *cfg, const struct stack_config *stack_cfg,
    struct engine **out)
{
	static const struct stack_hooks hooks = {
		.state_changed = on_state_changed,
		.segment = on_segment,
		.segment_done = on_segment_done,
		.passive_open = on_passive_open,
		.passive_abandoned = on_passive_abandoned,
		.accepted = on_accepted,
		.received = on_received,
		.sendable = on_sendable,
	};
	struct engine *engine;
	int rc;

	engine = calloc(1, sizeof(*engine));
	if (engine == NULL)
		return -ENOMEM;
	engine->cfg = *cfg;
	engine->next_listener_id = 1;
	engine->stream_next = 1;
	engine->time_wait = (struct deadline_queue){
		.duration_us = (uint64_t)cfg->msl_ms * 2000u,
		.cause = cause_of(TCPINFO_CAUSE_TIMER_2MSL),
		.expire = stack_tcp_abort,
	};
	engine->fin_wait_2 = (struct deadline_queue){
		.duration_us = (uint64_t)ENGINE_FIN_WAIT_2_TIMEOUT_MS * 1000u,
		.cause = cause_of(TCPINFO_CAUSE_TIMER_FIN_WAIT_2),
		.expire = stack_tcp_drop,
	};
	clock_gettime(CLOCK_MONOTONIC, &engine->started);
	engine->table = conntable_new(cfg->retain_closed);
	if (engine->table == NULL) {
		rc = -ENOMEM;
		goto free_engine;
	}
	conntable_set_destructor(engine->table, conn_destroy);
	the_engine = engine;
	rc = stack_start(stack_cfg, &hooks);
	if (rc < 0)
		goto free_table;
	*out = engine;
	return 0;

free_table:
	the_engine = NULL;
	conntable_free(engine->table);
free_engine:
	free(engine);
	return rc;
}

void
engine_stop(struct engine *engine)
{
	struct listener *listener, *ltmp;
	struct engine_waiter *waiter, *wtmp;
	struct engine_subscriber *subscriber;
	struct conn *conn;

	stack_lock();
	engine->stopping = true;
	/* Keep every record while aborting, so the walk's next pointer stays valid. */
	conntable_set_retain(engine->table, UINT32_MAX);
	for (conn = conntable_first(engine->table); conn != NULL; conn = conntable_next(conn)) {
		DL_FOREACH_SAFE(conn->waiters, waiter, wtmp)
			waiter_wake(waiter, ENGINE_WAIT_STOPPING);
		if (conn->tcp != NULL)
			stack_tcp_abort(conn->tcp, cause_of(TCPINFO_CAUSE_DAEMON_STOP));
	}
	DL_FOREACH_SAFE(engine->listeners, listener, ltmp) {
		DL_FOREACH_SAFE(listener->waiters, waiter, wtmp)
			waiter_wake(waiter, ENGINE_WAIT_STOPPING);
		stack_tcp_unlisten(listener->stack);
		listener->stack = NULL;
	}
	DL_FOREACH2(engine->subscribers, subscriber, next_subscriber)
		subscriber->wake(subscriber->arg);
	if (engine->heartbeat_armed) {
		stack_untimeout(stream_heartbeat, engine);
		engine->heartbeat_armed = false;
	}
	stack_unlock();
}

void
engine_free(struct engine *engine)
{
	struct listener *listener, *tmp;

	if (engine == NULL)
		return;
	HASH_ITER(hh, engine->listeners_by_id, listener, tmp) {
		HASH_DEL(engine->listeners_by_id, listener);
		free(listener);
	}
	conntable_free(engine->table);
	if (the_engine == engine)
		the_engine = NULL;
	free(engine);
}

int
engine_open(struct engine *engine, const struct engine_open_params *params,
    struct engine_conn_view *out)
{
	struct engine_endpoint local = { .ip = engine->cfg.address, .port = params->local_port };
	struct stack_tcp *tcp;
	struct conn *conn;
	uint16_t chosen_port;
	int rc;

	stack_lock();
	rc = engine_admit(engine, conntable_live_count(engine->table), ENGINE_LIVE_MAX);
	if (rc < 0)
		goto unlock;
	conn = conntable_add(engine->table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local,
	    &params->remote);
	if (conn == NULL) {
		rc = -ENOMEM;
		goto unlock;
	}
	conn_setup(engine, conn);
	conntable_pin(engine->table, conn);
	rc = stack_tcp_connect(conn, params->remote.ip, params->remote.port, params->local_port,
	    &tcp, &chosen_port);
	if (rc < 0) {
		conntable_discard(engine->table, conn);
		goto unlock;
	}
	conn->tcp = tcp;
	conn->local.port = chosen_port;
	conn_view(engine, conn, out);
	conntable_pin(engine->table, NULL);
	conntable_prune(engine->table);
unlock:
	stack_unlock();
	return rc;
}

/*
 * Finds a connection for an operation that may close it, pinned so the
 * record outlives the operation. Returns NULL, with *rc set, when there is none.
 */
static struct conn *
conn_begin(struct engine *engine, uint64_t id, int *rc)
{
	struct conn *conn;

	*rc = 0;
	if (engine->stopping) {
		*rc = -ESHUTDOWN;
		return NULL;
	}
	conn = conntable_find(engine->table, id);
	if (conn == NULL) {
		*rc = -ENOENT;
		return NULL;
	}
	conntable_pin(engine->table, conn);
	return conn;
}

static void
conn_end(struct engine *engine, struct conn *conn, struct engine_conn_view *out)
{
	if (out != NULL)
		conn_view(engine, conn, out);
	conntable_pin(engine->table, NULL);
	conntable_prune(engine->table);
}

/* Shuts the write side now, or once the queued data is out. */
static int
conn_shut_write(struct conn *conn, struct tcpinfo_cause cause)
{
	if (conn->send_queue != NULL) {
		conn->fin_pending = true;
		conn->write_shut = true;
		return 0;
	}
	if (conn->close_requested && stack_tcp_close(conn->tcp, cause) < 0)
		return -EALREADY;
	if (!conn->close_requested && stack_tcp_shutdown_write(conn->tcp, cause) < 0)
		return -ENOTCONN;
	conn->write_shut = true;
	return 0;
}

int
engine_close(struct engine *engine, uint64_t id, enum engine_close_mode mode,
    struct engine_conn_view *out, bool *acted)
{
	struct conn *conn;
	int rc;

	stack_lock();
	conn = conn_begin(engine, id, &rc);
	if (conn == NULL)
		goto unlock;
	*acted = false;
	if (conn->tcp != NULL && mode == ENGINE_CLOSE_ABORT) {
		stack_tcp_abort(conn->tcp, cause_of(TCPINFO_CAUSE_API_ABORT));
		*acted = true;
	} else if (conn->tcp != NULL && !conn->close_requested) {
		conn->close_requested = true;
		*acted = conn_shut_write(conn, cause_of(TCPINFO_CAUSE_API_CLOSE)) == 0;
		/* Half-closed earlier, it may sit in FIN_WAIT_2 already: a full close bounds that wait. */
		if (conn->state == TCPINFO_FIN_WAIT_2 && conn->timer_queue == NULL)
			deadline_add(&engine->fin_wait_2, conn, engine_now_us(engine));
	}
	conn_end(engine, conn, out);
unlock:
	stack_unlock();
	return rc;
}

int
engine_shutdown(struct engine *engine, uint64_t id, enum engine_shutdown_how how,
    struct engine_conn_view *out)
{
	struct conn *conn;
	int rc;

	stack_lock();
	conn = conn_begin(engine, id, &rc);
	if (conn == NULL)
		goto unlock;
	if (conn->tcp == NULL || conn->state == TCPINFO_SYN_SENT || conn->state == TCPINFO_LISTEN ||
	    (how != ENGINE_SHUT_READ && conn->write_shut) || (how != ENGINE_SHUT_WRITE && conn->read_shut)) {
		rc = -ENOTCONN;
	} else {
		if (how != ENGINE_SHUT_WRITE)
			conn->read_shut = true;
		if (how != ENGINE_SHUT_READ)
			rc = conn_shut_write(conn, cause_of(TCPINFO_CAUSE_API_SHUTDOWN));
	}
	conn_end(engine, conn, out);
unlock:
	stack_unlock();
	return rc;
}

int
engine_expire(struct engine *engine, uint64_t id, struct engine_conn_view *out)
{
	struct conn *conn;
	int rc;

	stack_lock();
	conn = conn_begin(engine, id, &rc);
	if (conn == NULL)
		goto unlock;
	if (conn->state == TCPINFO_TIME_WAIT && conn->tcp != NULL)
		stack_tcp_abort(conn->tcp, cause_of(TCPINFO_CAUSE_API_EXPIRE));
	else
		rc = -ENOTCONN;
	conn_end(engine, conn, out);
unlock:
	stack_unlock();
	return rc;
}

int
engine_send(struct engine *engine, uint64_t id, const void *data, uint64_t len)
{
	struct send_chunk *chunk;
	struct conn *conn;
	int rc;

	stack_lock();
	conn = conn_begin(engine, id, &rc);
	if (conn == NULL)
		goto unlock;
	if (conn->tcp == NULL || conn->write_shut || conn->state == TCPINFO_CLOSED ||
	    (conn->state != TCPINFO_SYN_SENT && conn->state != TCPINFO_SYN_RCVD &&
	    !is_established(conn->state))) {
		rc = -ENOTCONN;
		goto end;
	}
	if (len > ENGINE_SEND_QUEUE_MAX - conn->send_queued) {
		rc = -ENOBUFS;
		goto end;
	}
	chunk = malloc(sizeof(*chunk) + (data != NULL ? (size_t)len : 0));
	if (chunk == NULL) {
		rc = -ENOMEM;
		goto end;
	}
	*chunk = (struct send_chunk){ .len = len, .pattern = data == NULL };
	if (data != NULL)
		memcpy(chunk->bytes, data, (size_t)len);
	LL_APPEND(conn->send_queue, chunk);
	conn->send_queued += len;
	conn_pump(conn);
end:
	conn_end(engine, conn, NULL);
unlock:
	stack_unlock();
	return rc;
}

int
engine_read(struct engine *engine, uint64_t id, uint8_t **data, size_t *len, bool *truncated)
{
	struct recv_ring *ring;
	struct conn *conn;
	uint8_t *copy = NULL;
	int rc = 0;

	stack_lock();
	conn = conntable_find(engine->table, id);
	if (conn == NULL) {
		rc = -ENOENT;
		goto unlock;
	}
	ring = &conn->recv;
	if (ring->len > 0) {
		copy = malloc(ring->len);
		if (copy == NULL) {
			rc = -ENOMEM;
			goto unlock;
		}
		for (size_t i = 0; i < ring->len; i++)
			copy[i] = ring->bytes[(ring->start + i) % ring->capacity];
	}
	*data = copy;
	*len = ring->len;
	*truncated = conn->recv_truncated;
	ring->start = 0;
	ring->len = 0;
	conn->recv_truncated = false;
	/* Room again: what waited outside the window comes in, and the window reopens. */
	if (conn->tcp != NULL)
		stack_tcp_deliver(conn->tcp);
unlock:
	stack_unlock();
	return rc;
}

int
engine_get(struct engine *engine, uint64_t id, struct engine_conn_view *out)
{
	struct conn *conn;
	int rc = 0;

	stack_lock();
	conn = conntable_find(engine->table, id);
	if (conn != NULL)
		conn_view(engine, conn, out);
	else
		rc = -ENOENT;
	stack_unlock();
	return rc;
}

int
engine_list(struct engine *engine, const enum tcpinfo_state *state_filter,
    struct engine_conn_view **out, size_t *count)
{
	struct engine_conn_view *views = NULL;
	struct conn *conn;
	size_t n = 0, i = 0;
	int rc = 0;

	stack_lock();
	for (conn = conntable_first(engine->table); conn != NULL; conn = conntable_next(conn))
		n += state_filter == NULL || conn->state == *state_filter;
	if (n > 0) {
		views = malloc(n * sizeof(*views));
		if (views == NULL) {
			rc = -ENOMEM;
			n = 0;
			goto unlock;
		}
	}
	for (conn = conntable_first(engine->table); conn != NULL && i < n; conn = conntable_next(conn)) {
		if (state_filter == NULL || conn->state == *state_filter)
			conn_view(engine, conn, &views[i++]);
	}
unlock:
	stack_unlock();
	*out = views;
	*count = n;
	return rc;
}

static void
listener_view(const struct listener *listener, struct engine_listener_view *out)
{
	*out = (struct engine_listener_view){
		.id = listener->id,
		.port = listener->port,
		.backlog = listener->backlog,
		.state = listener->stack != NULL ? TCPINFO_LISTEN : TCPINFO_CLOSED,
		.accepted = listener->accepted,
	};
}

static struct listener *
listener_find(struct engine *engine, uint64_t id)
{
	struct listener *listener;

	HASH_FIND(hh, engine->listeners_by_id, &id, sizeof(id), listener);
	return listener;
}

int
engine_listen(struct engine *engine, uint16_t port, uint32_t backlog,
    struct engine_listener_view *out)
{
	struct listener *listener;
	int rc;

	stack_lock();
	rc = engine_admit(engine, engine->listener_count, ENGINE_LISTENERS_MAX);
	if (rc < 0)
		goto unlock;
	listener = calloc(1, sizeof(*listener));
	if (listener == NULL) {
		rc = -ENOMEM;
		goto unlock;
	}
	rc = stack_tcp_listen(listener, port, backlog, &listener->stack);
	if (rc < 0) {
		free(listener);
		goto unlock;
	}
	listener->id = engine->next_listener_id++;
	listener->port = port;
	listener->backlog = backlog;
	HASH_ADD(hh, engine->listeners_by_id, id, sizeof(listener->id), listener);
	DL_APPEND(engine->listeners, listener);
	engine->listener_count++;
	listener_view(listener, out);
	stream_emit(engine, (struct engine_stream_event){
		.kind = ENGINE_STREAM_LISTENER_CREATED, .id = listener->id, .port = port });
unlock:
	stack_unlock();
	return rc;
}

int
engine_unlisten(struct engine *engine, uint64_t id, struct engine_listener_view *out)
{
	struct engine_waiter *waiter, *tmp;
	struct listener *listener;
	int rc = 0;

	stack_lock();
	listener = listener_find(engine, id);
	if (listener == NULL || listener->stack == NULL) {
		rc = -ENOENT;
		goto unlock;
	}
	DL_FOREACH_SAFE(listener->waiters, waiter, tmp)
		waiter_wake(waiter, ENGINE_WAIT_UNREACHABLE);
	stack_tcp_unlisten(listener->stack);
	listener->stack = NULL;
	listener_view(listener, out);
	stream_emit(engine, (struct engine_stream_event){
		.kind = ENGINE_STREAM_LISTENER_REMOVED, .id = listener->id, .port = listener->port });
	HASH_DEL(engine->listeners_by_id, listener);
	DL_DELETE(engine->listeners, listener);
	engine->listener_count--;
	free(listener);
unlock:
	stack_unlock();
	return rc;
}

int
engine_listener_get(struct engine *engine, uint64_t id, struct engine_listener_view *out)
{
	struct listener *listener;
	int rc = 0;

	stack_lock();
	listener = listener_find(engine, id);
	if (listener != NULL)
		listener_view(listener, out);
	else
		rc = -ENOENT;
	stack_unlock();
	return rc;
}

int
engine_listener_list(struct engine *engine, struct engine_listener_view **out, size_t *count)
{
	struct engine_listener_view *views = NULL;
	struct listener *listener;
	size_t i = 0;
	int rc = 0;

	stack_lock();
	if (engine->listener_count > 0) {
		views = malloc(engine->listener_count * sizeof(*views));
		if (views == NULL) {
			rc = -ENOMEM;
			goto unlock;
		}
	}
	DL_FOREACH(engine->listeners, listener)
		listener_view(listener, &views[i++]);
unlock:
	stack_unlock();
	*out = views;
	*count = i;
	return rc;
}

void
engine_stats(struct engine *engine, struct engine_stats *out)
{
	struct stack_tcp_totals totals;
	struct engine_iface_view iface;
	const uint64_t (*t)[TCPINFO_STATE_COUNT] = engine->transitions;

	engine_interface(engine, &iface);
	stack_lock();
	stack_tcp_totals(&totals);
	memcpy(out->transitions, engine->transitions, sizeof(out->transitions));
	out->tcp = (struct engine_tcp_stats){
		.active_opens = t[TCPINFO_CLOSED][TCPINFO_SYN_SENT],
		.passive_opens = t[TCPINFO_LISTEN][TCPINFO_SYN_RCVD],
		.attempt_fails = t[TCPINFO_SYN_SENT][TCPINFO_CLOSED] + t[TCPINFO_SYN_RCVD][TCPINFO_CLOSED] +
		    t[TCPINFO_SYN_RCVD][TCPINFO_LISTEN],
		.estab_resets = t[TCPINFO_ESTABLISHED][TCPINFO_CLOSED] + t[TCPINFO_CLOSE_WAIT][TCPINFO_CLOSED],
		.curr_estab = engine->curr_estab,
		.in_segs = totals.in_segs,
		.out_segs = totals.out_segs - engine->retrans_segs,
		.retrans_segs = engine->retrans_segs,
		.in_errs = totals.in_errs,
		.out_rsts = totals.out_rsts,
	};
	stack_unlock();
	out->iface = iface.counters;
}

static struct engine_waiter *
waiter_new(engine_wake_fn wake, void *arg, uint64_t id, uint32_t timeout_ms)
{
	struct engine_waiter *waiter = calloc(1, sizeof(*waiter));

	if (waiter == NULL)
		return NULL;
	waiter->wake = wake;
	waiter->arg = arg;
	waiter->id = id;
	if (timeout_ms > ENGINE_WAIT_TIMEOUT_MAX_MS)
		timeout_ms = ENGINE_WAIT_TIMEOUT_MAX_MS;
	stack_timeout(timeout_ms, waiter_timer, waiter);
	waiter->timer_armed = true;
	return waiter;
}

int
engine_wait_state(struct engine *engine, uint64_t id, enum tcpinfo_state state,
    uint32_t timeout_ms, engine_wake_fn wake, void *arg, struct engine_waiter **out)
{
	struct engine_waiter *waiter;
	struct conn *conn;
	int rc = 0;

	stack_lock();
	if (engine->stopping) {
		rc = -ESHUTDOWN;
		goto unlock;
	}
	conn = conntable_find(engine->table, id);
	if (conn == NULL) {
		rc = -ENOENT;
		goto unlock;
	}
	if (conn_passed(conn, state)) {
		rc = 1;
		goto unlock;
	}
	waiter = waiter_new(wake, arg, id, timeout_ms);
	if (waiter == NULL) {
		rc = -ENOMEM;
		goto unlock;
	}
	waiter->conn = conn;
	waiter->state = state;
	DL_APPEND(conn->waiters, waiter);
	/* A closed connection will pass no further state: answer now rather than at the timeout. */
	if (conn->state == TCPINFO_CLOSED && conn->history_len > 0)
		waiter_wake(waiter, ENGINE_WAIT_UNREACHABLE);
	*out = waiter;
unlock:
	stack_unlock();
	return rc;
}

int
engine_wait_accepted(struct engine *engine, uint64_t id, uint64_t count,
    uint32_t timeout_ms, engine_wake_fn wake, void *arg, struct engine_waiter **out)
{
	struct engine_waiter *waiter;
	struct listener *listener;
	int rc = 0;

	stack_lock();
	if (engine->stopping) {
		rc = -ESHUTDOWN;
		goto unlock;
	}
	listener = listener_find(engine, id);
	if (listener == NULL) {
		rc = -ENOENT;
		goto unlock;
	}
	if (listener->accepted >= count) {
		rc = 1;
		goto unlock;
	}
	waiter = waiter_new(wake, arg, id, timeout_ms);
	if (waiter == NULL) {
		rc = -ENOMEM;
		goto unlock;
	}
	waiter->for_listener = true;
	waiter->listener = listener;
	waiter->accepted = count;
	DL_APPEND(listener->waiters, waiter);
	*out = waiter;
unlock:
	stack_unlock();
	return rc;
}

enum engine_wait_result
engine_wait_finish(struct engine *engine, struct engine_waiter *waiter,
    struct engine_conn_view *conn_out, struct engine_listener_view *listener_out, bool *found)
{
	enum engine_wait_result result;
	struct listener *listener;
	struct conn *conn;

	stack_lock();
	if (!waiter->woken) {
		/* Cancelled before it woke: detach it without calling back. */
		if (waiter->conn != NULL)
			DL_DELETE(waiter->conn->waiters, waiter);
		if (waiter->listener != NULL)
			DL_DELETE(waiter->listener->waiters, waiter);
		if (waiter->timer_armed)
			stack_untimeout(waiter_timer, waiter);
		waiter->result = ENGINE_WAIT_TIMED_OUT;
	}
	result = waiter->result;
	*found = false;
	if (waiter->for_listener && (listener = listener_find(engine, waiter->id)) != NULL) {
		if (listener_out != NULL)
			listener_view(listener, listener_out);
		*found = true;
	} else if (!waiter->for_listener && (conn = conntable_find(engine->table, waiter->id)) != NULL) {
		if (conn_out != NULL)
			conn_view(engine, conn, conn_out);
		*found = true;
	}
	stack_unlock();
	free(waiter);
	return result;
}

void
engine_interface(struct engine *engine, struct engine_iface_view *out)
{
	struct stack_iface_info info;

	stack_lock();
	stack_iface_info(&info);
	stack_unlock();

	memset(out, 0, sizeof(*out));
	memcpy(out->name, engine->cfg.ifname, sizeof(out->name));
	memcpy(out->mac, info.mac, sizeof(out->mac));
	out->address = engine->cfg.address;
	out->prefix = engine->cfg.prefix;
	out->mtu = info.mtu;
	out->up = info.up;
	out->counters = (struct engine_iface_counters){
		.rx_frames = info.rx_frames,
		.tx_frames = info.tx_frames,
		.rx_bytes = info.rx_bytes,
		.tx_bytes = info.tx_bytes,
		.rx_dropped = info.rx_dropped,
		.rx_fragments = info.rx_fragments,
		.rx_malformed = info.rx_malformed,
		.rx_other = info.rx_other,
	};
}

bool
engine_healthy(struct engine *engine)
{
	bool healthy;

	stack_lock();
	healthy = !engine->stopping && stack_healthy();
	stack_unlock();
	return healthy;
}

size_t
engine_live_count(struct engine *engine)
{
	size_t count;

	stack_lock();
	count = conntable_live_count(engine->table);
	stack_unlock();
	return count;
}

int
engine_timeline(struct engine *engine, uint64_t id, struct engine_timeline *out)
{
	struct conn *conn;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	stack_lock();
	conn = conntable_find(engine->table, id);
	if (conn == NULL) {
		rc = -ENOENT;
		goto unlock;
	}
	conn_view(engine, conn, &out->conn);
	if (conn->timeline.count > 0) {
		out->events = malloc(conn->timeline.count * sizeof(*out->events));
		if (out->events == NULL) {
			rc = -ENOMEM;
			goto unlock;
		}
		timeline_copy(&conn->timeline, out->events);
	}
	out->count = conn->timeline.count;
	out->dropped = conn->timeline.dropped;
unlock:
	stack_unlock();
	return rc;
}

void
engine_timeline_free(struct engine_timeline *timeline)
{
	if (timeline == NULL)
		return;
	free(timeline->events);
	timeline->events = NULL;
	timeline->count = 0;
}

int
engine_subscribe(struct engine *engine, uint64_t last_seen, engine_wake_fn wake,
    engine_wake_fn behind, void *arg, struct engine_subscriber **out)
{
	struct engine_subscriber *subscriber;
	uint64_t oldest;
	int rc = 0;

	stack_lock();
	rc = engine_admit(engine, engine->subscriber_count, ENGINE_SUBSCRIBERS_MAX);
	if (rc < 0)
		goto unlock;
	subscriber = calloc(1, sizeof(*subscriber));
	if (subscriber == NULL) {
		rc = -ENOMEM;
		goto unlock;
	}
	/* A reconnecting client gets what the ring still holds of what it missed. */
	oldest = stream_oldest(engine);
	if (last_seen == 0 || last_seen >= engine->stream_next)
		subscriber->next = engine->stream_next;
	else
		subscriber->next = last_seen + 1 > oldest ? last_seen + 1 : oldest;
	subscriber->wake = wake;
	subscriber->behind = behind;
	subscriber->arg = arg;
	DL_APPEND2(engine->subscribers, subscriber, prev, next_subscriber);
	engine->subscriber_count++;
	if (!engine->heartbeat_armed) {
		stack_timeout(ENGINE_STREAM_HEARTBEAT_MS, stream_heartbeat, engine);
		engine->heartbeat_armed = true;
	}
	*out = subscriber;
unlock:
	stack_unlock();
	return rc;
}

int
engine_stream_read(struct engine *engine, struct engine_subscriber *subscriber,
    struct engine_stream_event *out, size_t max)
{
	uint64_t oldest;
	size_t n = 0;
	int rc;

	stack_lock();
	oldest = stream_oldest(engine);
	if (engine->stopping) {
		rc = -ESHUTDOWN;
	} else if (subscriber->next < oldest) {
		rc = -EOVERFLOW;
	} else {
		while (n < max && subscriber->next < engine->stream_next)
			out[n++] = engine->stream[subscriber->next++ % ENGINE_STREAM_REPLAY];
		subscriber->waiting = n == 0;
		rc = (int)n;
	}
	stack_unlock();
	return rc;
}

void
engine_unsubscribe(struct engine *engine, struct engine_subscriber *subscriber)
{
	if (subscriber == NULL)
		return;
	stack_lock();
	DL_DELETE2(engine->subscribers, subscriber, prev, next_subscriber);
	engine->subscriber_count--;
	stack_unlock();
	free(subscriber);
}

void
engine_count_by_state(struct engine *engine, uint64_t counts[TCPINFO_STATE_COUNT])
{
	struct conn *conn;

	memset(counts, 0, TCPINFO_STATE_COUNT * sizeof(counts[0]));
	stack_lock();
	for (conn = conntable_first(engine->table); conn != NULL; conn = conntable_next(conn))
		counts[conn->state]++;
	stack_unlock();
}
