/*
 * batches: many active opens towards one endpoint, paced and closed by the
 * engine itself, for load without one HTTP request per connection.
 *
 * DESIGN
 *
 * A batch runs on lwIP's core thread, never on an API thread: its
 * connections' state changes (batches_on_state, from the state_changed
 * hook) count what happened and arm two kinds of timer. The refill timer
 * (stack_timeout of 0 ms, one per batch) begins opens through the
 * engine's own open path (connections_start: limits, port choice, ARP
 * wait) until in_flight handshakes are outstanding; the hold queue (a
 * deadlines.c FIFO of hold_ms, one per batch) closes each ESTABLISHED
 * connection in turn. The hook itself calls nothing in the glue, as
 * stack.h forbids ending a connection from inside it.
 *
 * A connection knows its batch by id, not by pointer, so a batch may be
 * evicted (oldest finished first, past ENGINE_BATCHES_KEPT) while some of
 * its connections live on: their later changes find no batch and count
 * nowhere. A batch with connections in its hold queue is never evicted,
 * as the queue's entries point into it.
 *
 * Each connection counts once in finished: when its handshake fails, when
 * it is left open (close "none"), when the peer resets it before its close,
 * or when its close is through (TIME_WAIT or CLOSED). The batch is done
 * when all count have finished. Latencies go to a bounded histogram.
 */
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "engine_internal.h"

/* Where a batch connection is in its batch's plan. */
enum batch_phase {
	BATCH_HANDSHAKE = 0,
	BATCH_HOLD,		/* ESTABLISHED, in the hold queue */
	BATCH_CLOSING,		/* the batch closed it; TIME_WAIT or CLOSED ends it */
	BATCH_FINISHED		/* counted; later changes count nowhere */
};

static void batch_refill(void *arg);

struct batch *
batches_find(struct engine *engine, uint64_t id)
{
	struct batch *batch;

	HASH_FIND(hh, engine->batches_by_id, &id, sizeof(id), batch);
	return batch;
}

static void
batch_view(const struct batch *batch, struct engine_batch_view *out)
{
	const struct histogram *h = &batch->latency;
	uint64_t end = batch->end_us != 0 ? batch->end_us : engine_now_us(batch->engine);

	memset(out, 0, sizeof(*out));
	out->id = batch->id;
	out->state = batch->state;
	out->params = batch->params;
	out->started = batch->started;
	out->established = batch->established;
	out->failed = batch->failed;
	memcpy(out->failures, batch->failures, sizeof(out->failures));
	out->closed = batch->closed;
	out->elapsed_us = end > batch->begin_us ? end - batch->begin_us : 0;
	out->latency = (struct engine_latency){
		.count = h->count, .min_us = h->count > 0 ? h->min : 0,
		.p50_us = histogram_percentile(h, 500), .p90_us = histogram_percentile(h, 900),
		.p99_us = histogram_percentile(h, 990), .max_us = h->max,
	};
}

static void
batch_arm_refill(struct batch *batch)
{
	if (batch->refill_armed || batch->state != ENGINE_BATCH_RUNNING ||
	    batch->engine->stopping || batch->started == batch->params.count)
		return;
	stack_timeout(0, batch_refill, batch);
	batch->refill_armed = true;
}

/* One more connection is done with; the last one ends the batch's clock, and its run. */
static void
batch_count_finished(struct batch *batch)
{
	struct engine *engine = batch->engine;

	batch->finished++;
	if (batch->finished < batch->started ||
	    (batch->state == ENGINE_BATCH_RUNNING && batch->started < batch->params.count))
		return;
	batch->end_us = engine_now_us(engine);
	if (batch->state == ENGINE_BATCH_RUNNING) {
		batch->state = ENGINE_BATCH_DONE;
		engine->batches_running--;
		waits_check(engine, &batch->waiters);
	}
}

/* A connection's part in its batch is over: it counts once, and no more. */
static void
batch_finish_one(struct batch *batch, struct conn *conn)
{
	conn->batch_phase = BATCH_FINISHED;
	batch_count_finished(batch);
}

static void
batch_fail(struct batch *batch, enum engine_batch_failure why)
{
	batch->failed++;
	batch->failures[why]++;
}

/* Why a handshake ended in CLOSED. */
static enum engine_batch_failure
failure_of(struct tcpinfo_cause cause)
{
	switch (cause.kind) {
	case TCPINFO_CAUSE_RX:
		return (cause.flags & TCPINFO_FLAG_RST) ? ENGINE_BATCH_FAIL_REFUSED :
		    ENGINE_BATCH_FAIL_OTHER;
	case TCPINFO_CAUSE_TIMER_SYN_RETRIES:
		return ENGINE_BATCH_FAIL_TIMEOUT;
	case TCPINFO_CAUSE_ARP_UNRESOLVED:
		return ENGINE_BATCH_FAIL_UNRESOLVED;
	case TCPINFO_CAUSE_DAEMON_STOP:
		return ENGINE_BATCH_FAIL_STOPPING;
	case TCPINFO_CAUSE_API_CLOSE:
	case TCPINFO_CAUSE_API_ABORT:
	case TCPINFO_CAUSE_TIMER_RETRANSMIT:
	case TCPINFO_CAUSE_TIMER_TIMEOUT:
		return ENGINE_BATCH_FAIL_CLOSED;
	default:
		return ENGINE_BATCH_FAIL_OTHER;
	}
}

/* Why an open could not begin. */
static enum engine_batch_failure
open_failure_of(enum engine_result rc)
{
	switch (rc) {
	case ENGINE_LIMIT_REACHED:
		return ENGINE_BATCH_FAIL_LIMIT;
	case ENGINE_NO_PORT:
		return ENGINE_BATCH_FAIL_NO_PORT;
	case ENGINE_NO_MEMORY:
		return ENGINE_BATCH_FAIL_NO_MEMORY;
	case ENGINE_STOPPING:
		return ENGINE_BATCH_FAIL_STOPPING;
	default:
		return ENGINE_BATCH_FAIL_OTHER;
	}
}

/*
 * Begins one open. An open that cannot begin counts as failed at once.
 * Returns the engine's result, for the first open's refusal.
 */
static enum engine_result
batch_open_one(struct batch *batch)
{
	struct engine *engine = batch->engine;
	struct engine_open_params params = {
		.remote = batch->params.remote, .timeline_off = !batch->params.timelines,
	};
	enum engine_result rc;
	struct conn *conn;

	batch->started++;
	batch->handshaking++;
	conn = connections_start(engine, &params, batch->id, &rc);
	if (conn == NULL) {
		batch->handshaking--;
		batch_fail(batch, open_failure_of(rc));
		batch_count_finished(batch);
		return rc;
	}
	/* The SYN leaves when ARP has resolved: the wait counts, as it would for a kernel socket. */
	conn->batch_syn_us = engine_now_us(engine);
	return ENGINE_OK;
}

/*
 * Begins opens until in_flight are outstanding. Opens that fail at once
 * free their slots again, so one call tries at most in_flight and leaves
 * the rest to the next turn of the refill timer.
 */
static void
batch_fill(struct batch *batch)
{
	uint32_t tries = batch->params.in_flight;

	while (tries-- > 0 && batch->state == ENGINE_BATCH_RUNNING &&
	    batch->handshaking < batch->params.in_flight && batch->started < batch->params.count)
		batch_open_one(batch);
	if (batch->handshaking < batch->params.in_flight)
		batch_arm_refill(batch);
}

static void
batch_refill(void *arg)
{
	struct batch *batch = arg;

	batch->refill_armed = false;
	batch_fill(batch);
	conntable_prune(batch->engine->table);
}

/* The hold queue's expiry: the connection is closed as its batch asks. */
static void
batch_hold_expire(struct deadline_entry *entry, void *ctx)
{
	struct conn *conn = (struct conn *)((char *)entry - offsetof(struct conn, batch_hold));
	struct batch *batch = ctx;

	deadline_remove(entry);
	batch->holding--;
	conn->batch_phase = BATCH_CLOSING;
	if (batch->params.close == ENGINE_BATCH_CLOSE_ABORT) {
		stack_tcp_abort(conn->tcp, engine_cause(TCPINFO_CAUSE_API_ABORT));
		return;
	}
	conn->close_requested = true;
	conn->write_shut = true;
	stack_tcp_close(conn->tcp, engine_cause(TCPINFO_CAUSE_API_CLOSE));
}

void
batches_on_state(struct conn *conn, enum tcpinfo_state to, struct tcpinfo_cause cause)
{
	struct batch *batch = batches_find(conn->engine, conn->batch_id);
	struct engine *engine = conn->engine;

	if (batch == NULL || conn->batch_phase == BATCH_FINISHED)
		return;
	switch ((enum batch_phase)conn->batch_phase) {
	case BATCH_HANDSHAKE:
		if (to != TCPINFO_ESTABLISHED && to != TCPINFO_CLOSED)
			return;
		batch->handshaking--;
		batch_arm_refill(batch);
		if (to == TCPINFO_CLOSED) {
			batch_fail(batch, failure_of(cause));
			batch_finish_one(batch, conn);
			return;
		}
		batch->established++;
		histogram_add(&batch->latency, engine_now_us(engine) - conn->batch_syn_us);
		if (batch->params.close == ENGINE_BATCH_CLOSE_NONE) {
			batch_finish_one(batch, conn);
			return;
		}
		conn->batch_phase = BATCH_HOLD;
		batch->holding++;
		deadline_add(&batch->hold, &conn->batch_hold);
		return;
	case BATCH_HOLD:
		/* The peer's FIN leaves it in CLOSE_WAIT, still to be closed after the hold. */
		if (to != TCPINFO_CLOSED)
			return;
		deadline_remove(&conn->batch_hold);
		batch->holding--;
		batch_fail(batch, cause.kind == TCPINFO_CAUSE_DAEMON_STOP ?
		    ENGINE_BATCH_FAIL_STOPPING : ENGINE_BATCH_FAIL_RESET);
		batch_finish_one(batch, conn);
		return;
	case BATCH_CLOSING:
		if (to != TCPINFO_TIME_WAIT && to != TCPINFO_CLOSED)
			return;
		batch->closed++;
		batch_finish_one(batch, conn);
		return;
	case BATCH_FINISHED:
		return;
	}
}

/* The hold queue's clock: its context is the batch. */
static uint64_t
batch_clock(void *ctx)
{
	const struct batch *batch = ctx;

	return engine_now_us(batch->engine);
}

static void
batch_free(struct engine *engine, struct batch *batch)
{
	if (batch->refill_armed)
		stack_untimeout(batch_refill, batch);
	deadline_queue_stop(&batch->hold);
	HASH_DELETE(hh, engine->batches_by_id, batch);
	DL_DELETE(engine->batches, batch);
	engine->batch_count--;
	free(batch);
}

/* Makes room for one more batch: evicts the oldest finished one with nothing in its hold queue. */
static enum engine_result
batches_make_room(struct engine *engine)
{
	struct batch *batch;

	if (engine->batches_running >= engine->cfg.max_batches)
		return ENGINE_LIMIT_REACHED;
	if (engine->batch_count < ENGINE_BATCHES_KEPT)
		return ENGINE_OK;
	DL_FOREACH(engine->batches, batch) {
		if (batch->state != ENGINE_BATCH_RUNNING && batch->holding == 0) {
			batch_free(engine, batch);
			return ENGINE_OK;
		}
	}
	return ENGINE_LIMIT_REACHED;
}

enum engine_result
engine_batch_start(struct engine *engine, const struct engine_batch_params *params,
    struct engine_batch_view *out)
{
	struct batch *batch;
	enum engine_result rc;

	engine_lock();
	rc = engine->stopping ? ENGINE_STOPPING : batches_make_room(engine);
	if (rc != ENGINE_OK)
		goto unlock;
	batch = calloc(1, sizeof(*batch));
	if (batch == NULL) {
		rc = ENGINE_NO_MEMORY;
		goto unlock;
	}
	batch->engine = engine;
	batch->id = engine->next_batch_id;
	batch->params = *params;
	batch->begin_us = engine_now_us(engine);
	deadline_queue_init(&batch->hold, (uint64_t)params->hold_ms * 1000u, batch_clock,
	    batch_hold_expire, batch);
	HASH_ADD(hh, engine->batches_by_id, id, sizeof(batch->id), batch);
	DL_APPEND(engine->batches, batch);
	engine->batch_count++;
	engine->batches_running++;
	/* The first open tells whether the endpoint can be reached at all. */
	rc = batch_open_one(batch);
	if (rc == ENGINE_ADDRESS_INVALID || rc == ENGINE_NO_ROUTE || rc == ENGINE_LINK_DOWN) {
		if (batch->state == ENGINE_BATCH_RUNNING)
			engine->batches_running--;
		batch_free(engine, batch);
		goto unlock;
	}
	engine->next_batch_id++;
	rc = ENGINE_OK;
	batch_fill(batch);
	batch_view(batch, out);
	conntable_prune(engine->table);
unlock:
	engine_unlock();
	return rc;
}

enum engine_result
engine_batch_list(struct engine *engine, struct engine_batch_view **out, size_t *count)
{
	struct engine_batch_view *views = NULL;
	enum engine_result rc = ENGINE_OK;
	struct batch *batch;
	size_t n = 0;

	engine_lock();
	if (engine->batch_count > 0) {
		views = malloc(engine->batch_count * sizeof(*views));
		if (views == NULL) {
			rc = ENGINE_NO_MEMORY;
			goto unlock;
		}
	}
	DL_FOREACH(engine->batches, batch)
		batch_view(batch, &views[n++]);
unlock:
	engine_unlock();
	*out = views;
	*count = n;
	return rc;
}

/* Stops a batch from starting more opens; its connections go on as asked. */
static void
batch_halt(struct batch *batch)
{
	struct engine *engine = batch->engine;

	if (batch->state == ENGINE_BATCH_RUNNING) {
		batch->state = ENGINE_BATCH_STOPPED;
		engine->batches_running--;
		if (batch->finished == batch->started)
			batch->end_us = engine_now_us(engine);
	}
	if (batch->refill_armed) {
		stack_untimeout(batch_refill, batch);
		batch->refill_armed = false;
	}
}

/* Copies a batch, stopping it first when stop is set. */
static enum engine_result
batch_copy(struct engine *engine, uint64_t id, bool stop, struct engine_batch_view *out)
{
	enum engine_result rc = ENGINE_OK;
	struct batch *batch;

	engine_lock();
	batch = batches_find(engine, id);
	if (batch == NULL) {
		rc = ENGINE_NOT_FOUND;
		goto unlock;
	}
	if (stop) {
		batch_halt(batch);
		waits_check(engine, &batch->waiters);
	}
	batch_view(batch, out);
unlock:
	engine_unlock();
	return rc;
}

enum engine_result
engine_batch_get(struct engine *engine, uint64_t id, struct engine_batch_view *out)
{
	return batch_copy(engine, id, false, out);
}

enum engine_result
engine_batch_stop(struct engine *engine, uint64_t id, struct engine_batch_view *out)
{
	return batch_copy(engine, id, true, out);
}

void
batches_stop(struct engine *engine)
{
	struct batch *batch;

	DL_FOREACH(engine->batches, batch) {
		batch_halt(batch);
		deadline_queue_stop(&batch->hold);
		waits_wake_all(&batch->waiters, ENGINE_WAIT_STOPPING);
	}
}

void
batches_free(struct engine *engine)
{
	struct batch *batch, *tmp;

	DL_FOREACH_SAFE(engine->batches, batch, tmp)
		batch_free(engine, batch);
}
