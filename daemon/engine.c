/*
 * DESIGN
 *
 * The engine owns the connection table and lives under lwIP's core lock: the
 * stack's hooks call in with the lock held, and every public function below
 * takes it for the length of one table operation and a copy.
 *
 * Two waits are the engine's, not lwIP's. TIME_WAIT: lwIP would keep a PCB
 * there for its compiled-in 120 s and then free it silently. FIN_WAIT_2
 * after a full close: the glue shuts only the write side, so lwIP's own
 * FIN_WAIT_2 timeout never runs. Every connection in one wait has the same
 * duration, so deadlines come in the order connections enter it, and a FIFO
 * with one timer for its head replaces a priority queue.
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
/* lwIP's own TCP_FIN_WAIT_TIMEOUT, which its full close would apply. */
#define ENGINE_FIN_WAIT_2_TIMEOUT_MS 20000u

/* Connections waiting out one fixed duration, oldest deadline first. */
struct deadline_queue {
	struct conn *head;
	bool timer_armed;
	uint64_t duration_us;
	struct tcpinfo_cause cause;
	void (*expire)(struct stack_tcp *tcp, struct tcpinfo_cause cause);
};

struct engine {
	struct engine_config cfg;
	struct conntable *table;
	struct deadline_queue time_wait;
	struct deadline_queue fin_wait_2;
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

static void
on_state_changed(void *owner, enum tcpinfo_state state, struct tcpinfo_cause cause)
{
	struct engine *engine = the_engine;
	struct conn *conn = owner;
	uint64_t now = engine_now_us(engine);

	deadline_remove(conn);
	conntable_record_state(engine->table, conn, state, cause, now);
	if (state == TCPINFO_TIME_WAIT) {
		deadline_add(&engine->time_wait, conn, now);
	} else if (state == TCPINFO_FIN_WAIT_2 && conn->close_requested) {
		deadline_add(&engine->fin_wait_2, conn, now);
	} else if (state == TCPINFO_CLOSED) {
		conn->tcp = NULL;
		conntable_prune(engine->table);
	}
}

static void
on_segment(void *owner, const struct stack_segment *segment)
{
	conntable_record_segment(owner, segment->outbound, segment->flags, segment->seq,
	    segment->payload_len);
}

int
engine_start(const struct engine_config *cfg, const struct stack_config *stack_cfg,
    struct engine **out)
{
	static const struct stack_hooks hooks = {
		.state_changed = on_state_changed,
		.segment = on_segment,
	};
	struct engine *engine;
	int rc;

	engine = calloc(1, sizeof(*engine));
	if (engine == NULL)
		return -ENOMEM;
	engine->cfg = *cfg;
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
	struct conn *conn;

	stack_lock();
	engine->stopping = true;
	/* Keep every record while aborting, so the walk's next pointer stays valid. */
	conntable_set_retain(engine->table, UINT32_MAX);
	for (conn = conntable_first(engine->table); conn != NULL; conn = conntable_next(conn)) {
		if (conn->tcp != NULL)
			stack_tcp_abort(conn->tcp, cause_of(TCPINFO_CAUSE_DAEMON_STOP));
	}
	stack_unlock();
}

void
engine_free(struct engine *engine)
{
	if (engine == NULL)
		return;
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
	if (engine->stopping) {
		rc = -ESHUTDOWN;
		goto unlock;
	}
	if (conntable_live_count(engine->table) >= ENGINE_LIVE_MAX) {
		rc = -ENOBUFS;
		goto unlock;
	}
	conn = conntable_add(engine->table, ENGINE_ORIGIN_ACTIVE, &local, &params->remote);
	if (conn == NULL) {
		rc = -ENOMEM;
		goto unlock;
	}
	conntable_pin(engine->table, conn);
	rc = stack_tcp_connect(conn, params->remote.ip, params->remote.port, params->local_port,
	    &tcp, &chosen_port);
	if (rc < 0) {
		conntable_discard(engine->table, conn);
		goto unlock;
	}
	conn->tcp = tcp;
	conn->local.port = chosen_port;
	conntable_view(conn, out);
	conntable_pin(engine->table, NULL);
	conntable_prune(engine->table);
unlock:
	stack_unlock();
	return rc;
}

int
engine_close(struct engine *engine, uint64_t id, enum engine_close_mode mode,
    struct engine_conn_view *out, bool *acted)
{
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
	conntable_pin(engine->table, conn);
	*acted = false;
	if (conn->tcp != NULL && mode == ENGINE_CLOSE_ABORT) {
		stack_tcp_abort(conn->tcp, cause_of(TCPINFO_CAUSE_API_ABORT));
		*acted = true;
	} else if (conn->tcp != NULL) {
		conn->close_requested = true;
		*acted = stack_tcp_close(conn->tcp, cause_of(TCPINFO_CAUSE_API_CLOSE)) == 0;
	}
	conntable_view(conn, out);
	conntable_pin(engine->table, NULL);
	conntable_prune(engine->table);
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
		conntable_view(conn, out);
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
			conntable_view(conn, &views[i++]);
	}
unlock:
	stack_unlock();
	*out = views;
	*count = n;
	return rc;
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
