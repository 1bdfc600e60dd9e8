/*
 * waits: waiting without a thread, one mechanism for every wait. A waiter
 * hangs on the connection or listener it waits on, is checked on each of
 * its changes, and is woken once: reached, unreachable, timed out (a stack
 * timer), or stopping. What differs between a connection's wait, a
 * listener's and a batch's is only how the condition is read (wait_status).
 */
#include <stdlib.h>
#include <utlist.h>

#include "engine_internal.h"

enum wait_target {
	WAIT_CONN = 0,			/* until the connection is in or past a state */
	WAIT_LISTENER,			/* until the listener has accepted a count */
	WAIT_BATCH			/* until the batch is no longer running */
};

enum wait_status {
	WAIT_PENDING = 0,
	WAIT_HOLDS,
	WAIT_NEVER,
	WAIT_NOT_FOUND
};

struct engine_waiter {
	struct engine_waiter **list;	/* what it hangs on, until woken */
	enum wait_target target;
	uint64_t id;
	uint64_t goal;			/* a state, or a count of accepted connections */
	engine_wake_fn wake;
	void *arg;
	bool woken;
	bool timer_armed;
	enum engine_wait_result result;
	struct engine_waiter *prev, *next;
};

/* The history ends with the current state, so it answers both "is in" and "has passed". */
static bool
conn_passed(const struct conn *conn, enum tcpinfo_state state)
{
	for (size_t i = 0; i < conn->entry.history_len; i++) {
		if (conn->entry.history[i].state == state)
			return true;
	}
	return false;
}

/* Reads a wait's condition, and finds the list its waiters hang on. */
static enum wait_status
wait_status(struct engine *engine, enum wait_target target, uint64_t id, uint64_t goal,
    struct engine_waiter ***list)
{
	struct listener *listener;
	struct batch *batch;
	struct conn *conn;

	if (target == WAIT_BATCH) {
		batch = batches_find(engine, id);
		if (batch == NULL)
			return WAIT_NOT_FOUND;
		*list = &batch->waiters;
		return batch->state != ENGINE_BATCH_RUNNING ? WAIT_HOLDS : WAIT_PENDING;
	}
	if (target == WAIT_LISTENER) {
		listener = listeners_find(engine, id);
		if (listener == NULL)
			return WAIT_NOT_FOUND;
		*list = &listener->waiters;
		return listener->accepted >= goal ? WAIT_HOLDS : WAIT_PENDING;
	}
	conn = engine_conn_find(engine, id);
	if (conn == NULL)
		return WAIT_NOT_FOUND;
	*list = &conn->waiters;
	if (conn_passed(conn, (enum tcpinfo_state)goal))
		return WAIT_HOLDS;
	/* A closed connection will pass no further state. */
	return conn->entry.state == TCPINFO_CLOSED && conn->entry.history_len > 0 ?
	    WAIT_NEVER : WAIT_PENDING;
}

static void waiter_timer(void *arg);

static void
waiter_detach(struct engine_waiter *waiter)
{
	if (waiter->list != NULL)
		DL_DELETE(*waiter->list, waiter);
	waiter->list = NULL;
	if (waiter->timer_armed) {
		stack_untimeout(waiter_timer, waiter);
		waiter->timer_armed = false;
	}
}

/* Wakes a waiter once, detached from what it waited on. */
static void
waiter_wake(struct engine_waiter *waiter, enum engine_wait_result result)
{
	waiter_detach(waiter);
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

void
waits_check(struct engine *engine, struct engine_waiter **list)
{
	struct engine_waiter *waiter, *tmp, **unused;

	DL_FOREACH_SAFE(*list, waiter, tmp) {
		switch (wait_status(engine, waiter->target, waiter->id, waiter->goal, &unused)) {
		case WAIT_HOLDS:
			waiter_wake(waiter, ENGINE_WAIT_REACHED);
			break;
		case WAIT_NEVER:
			waiter_wake(waiter, ENGINE_WAIT_UNREACHABLE);
			break;
		default:
			break;
		}
	}
}

void
waits_wake_all(struct engine_waiter **list, enum engine_wait_result result)
{
	struct engine_waiter *waiter, *tmp;

	DL_FOREACH_SAFE(*list, waiter, tmp)
		waiter_wake(waiter, result);
}

static enum engine_result
wait_begin(struct engine *engine, enum wait_target target, uint64_t id, uint64_t goal,
    uint32_t timeout_ms, engine_wake_fn wake, void *arg, struct engine_waiter **out)
{
	struct engine_waiter *waiter, **list = NULL;
	enum engine_result rc = ENGINE_OK;
	enum wait_status status;

	*out = NULL;
	engine_lock();
	if (engine->stopping) {
		rc = ENGINE_STOPPING;
		goto unlock;
	}
	status = wait_status(engine, target, id, goal, &list);
	if (status == WAIT_NOT_FOUND || status == WAIT_HOLDS) {
		rc = status == WAIT_NOT_FOUND ? ENGINE_NOT_FOUND : ENGINE_OK;
		goto unlock;
	}
	waiter = calloc(1, sizeof(*waiter));
	if (waiter == NULL) {
		rc = ENGINE_NO_MEMORY;
		goto unlock;
	}
	*waiter = (struct engine_waiter){
		.list = list, .target = target, .id = id, .goal = goal, .wake = wake, .arg = arg,
	};
	DL_APPEND(*list, waiter);
	stack_timeout(timeout_ms < ENGINE_WAIT_TIMEOUT_MAX_MS ? timeout_ms : ENGINE_WAIT_TIMEOUT_MAX_MS,
	    waiter_timer, waiter);
	waiter->timer_armed = true;
	/* Answer now rather than at the timeout; the caller learns it from engine_wait_finish(). */
	if (status == WAIT_NEVER)
		waiter_wake(waiter, ENGINE_WAIT_UNREACHABLE);
	*out = waiter;
unlock:
	engine_unlock();
	return rc;
}

enum engine_result
engine_wait_state(struct engine *engine, uint64_t id, enum tcpinfo_state state,
    uint32_t timeout_ms, engine_wake_fn wake, void *arg, struct engine_waiter **out)
{
	return wait_begin(engine, WAIT_CONN, id, state, timeout_ms, wake, arg, out);
}

enum engine_result
engine_wait_accepted(struct engine *engine, uint64_t id, uint64_t count,
    uint32_t timeout_ms, engine_wake_fn wake, void *arg, struct engine_waiter **out)
{
	return wait_begin(engine, WAIT_LISTENER, id, count, timeout_ms, wake, arg, out);
}

enum engine_result
engine_wait_batch(struct engine *engine, uint64_t id, uint32_t timeout_ms, engine_wake_fn wake,
    void *arg, struct engine_waiter **out)
{
	return wait_begin(engine, WAIT_BATCH, id, 0, timeout_ms, wake, arg, out);
}

enum engine_wait_result
engine_wait_finish(struct engine *engine, struct engine_waiter *waiter,
    struct engine_conn_view *conn_out, struct engine_listener_view *listener_out, bool *found)
{
	enum engine_wait_result result;
	struct listener *listener;
	struct conn *conn;

	engine_lock();
	if (!waiter->woken) {
		/* Cancelled before it woke: detach it without calling back. */
		waiter_detach(waiter);
		waiter->result = ENGINE_WAIT_TIMED_OUT;
	}
	result = waiter->result;
	*found = false;
	if (waiter->target == WAIT_BATCH) {
		*found = batches_find(engine, waiter->id) != NULL;
	} else if (waiter->target == WAIT_LISTENER && (listener = listeners_find(engine, waiter->id)) != NULL) {
		if (listener_out != NULL)
			listeners_view(listener, listener_out);
		*found = true;
	} else if (waiter->target == WAIT_CONN && (conn = engine_conn_find(engine, waiter->id)) != NULL) {
		if (conn_out != NULL)
			engine_conn_view(engine, conn, conn_out);
		*found = true;
	}
	engine_unlock();
	free(waiter);
	return result;
}
