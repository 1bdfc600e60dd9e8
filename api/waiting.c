/*
 * waiting: a GET that waits (?wait_for= on a connection or a batch,
 * ?wait_accepted= on a listener) without holding a thread. One path serves
 * all three; only the view and the words of the 408 differ.
 *
 * DESIGN: the handler suspends the request and registers an engine waiter
 * (wait_start); the engine's wake callback resumes it. libmicrohttpd then
 * calls again, the same route and handler run once more and, seeing the
 * wait begun, collect its result (wait_end) and answer.
 */
#include <errno.h>
#include <inttypes.h>

#include "api_internal.h"
#include "errors.h"
#include "render.h"

/* The thing waited on, as it is now. */
struct subject {
	enum waiting_kind kind;
	struct engine_conn_view conn;
	struct engine_listener_view lst;
	struct engine_batch_view batch;
};

/*
 * The engine's wake callback: runs with the core lock held, on any thread,
 * so it only hands the request back to libmicrohttpd (see lockorder.h).
 */
static void
wake_exchange(void *arg)
{
	struct exchange *exchange = arg;

	MHD_resume_connection(exchange->connection);
}

/*
 * Begins the wait. The request is suspended before the waiter exists, as
 * the engine may wake it from another thread before engine_wait_* returns;
 * when the engine answers at once, or refuses, it is resumed right away.
 * Either way the next call answers (see wait_end).
 */
static int
wait_start(const struct call *call, const struct request_wait *wait, enum waiting_kind kind,
    struct reply *reply, struct problem *err)
{
	struct pending_wait *pending = &call->exchange->wait;
	int rc;

	rc = http_may_wait(call->server, err);
	if (rc != 0)
		return rc;
	pending->begun = true;
	MHD_suspend_connection(call->connection);
	if (kind == WAITING_LISTENER)
		pending->start = engine_wait_accepted(call->engine, call->id, wait->accepted,
		    wait->timeout_ms, wake_exchange, call->exchange, &pending->waiter);
	else if (kind == WAITING_BATCH)
		pending->start = engine_wait_batch(call->engine, call->id, wait->timeout_ms,
		    wake_exchange, call->exchange, &pending->waiter);
	else
		pending->start = engine_wait_state(call->engine, call->id, wait->state,
		    wait->timeout_ms, wake_exchange, call->exchange, &pending->waiter);
	if (pending->waiter == NULL)
		MHD_resume_connection(call->connection);
	reply->suspended = true;
	return 0;
}

/* Copies the subject as it is now. */
static enum engine_result
subject_get(const struct call *call, struct subject *subject)
{
	if (subject->kind == WAITING_LISTENER)
		return engine_listener_get(call->engine, call->id, &subject->lst);
	if (subject->kind == WAITING_BATCH)
		return engine_batch_get(call->engine, call->id, &subject->batch);
	return engine_get(call->engine, call->id, &subject->conn);
}

/* Collects the result of a wait once its request has resumed, with the subject as it is now. */
static enum engine_result
wait_end(const struct call *call, struct subject *subject, enum engine_wait_result *result)
{
	struct pending_wait *pending = &call->exchange->wait;
	bool found;

	*result = ENGINE_WAIT_REACHED;
	if (pending->waiter != NULL) {
		*result = engine_wait_finish(call->engine, pending->waiter,
		    subject->kind == WAITING_CONN ? &subject->conn : NULL,
		    subject->kind == WAITING_LISTENER ? &subject->lst : NULL, &found);
		pending->waiter = NULL;
		/* A batch's wait copies nothing; it is copied as it is now. */
		if (found && subject->kind == WAITING_BATCH)
			return subject_get(call, subject);
		return found ? ENGINE_OK : ENGINE_NOT_FOUND;
	}
	if (pending->start != ENGINE_OK)
		return pending->start;
	/* It held at once: answer with a fresh copy. */
	return subject_get(call, subject);
}

/* The 408's words: what was waited for, and how far it got. */
static void
timeout_problem(const struct call *call, const struct request_wait *wait,
    enum engine_wait_result result, const struct subject *s, struct problem *p)
{
	bool timed_out = result == ENGINE_WAIT_TIMED_OUT;

	if (s->kind == WAITING_BATCH)
		problem_set(p, PROBLEM_TIMEOUT, NULL,
		    "batch %" PRIu64 " was not done within %u ms: %" PRIu64 " of %u started, %"
		    PRIu64 " established, %" PRIu64 " failed", call->id,
		    (unsigned int)wait->timeout_ms, s->batch.started, s->batch.params.count,
		    s->batch.established, s->batch.failed);
	else if (s->kind == WAITING_LISTENER && timed_out)
		problem_set(p, PROBLEM_TIMEOUT, NULL,
		    "listener %" PRIu64 " accepted %" PRIu64 " of %" PRIu64
		    " connections within %u ms", call->id, s->lst.accepted, wait->accepted,
		    (unsigned int)wait->timeout_ms);
	else if (s->kind == WAITING_LISTENER)
		problem_set(p, PROBLEM_TIMEOUT, NULL,
		    "listener %" PRIu64 " stopped listening after accepting %" PRIu64 " of %" PRIu64
		    " connections", call->id, s->lst.accepted, wait->accepted);
	else if (timed_out)
		problem_set(p, PROBLEM_TIMEOUT, NULL,
		    "connection %" PRIu64 " did not reach %s within %u ms; it is in %s",
		    call->id, errors_state_text(wait->state), (unsigned int)wait->timeout_ms,
		    errors_state_text(s->conn.state));
	else
		problem_set(p, PROBLEM_TIMEOUT, NULL,
		    "connection %" PRIu64 " closed without reaching %s", call->id,
		    errors_state_text(wait->state));
}

/* The subject as the answer shows it: in a 200, or inside a 408's problem when p is not NULL. */
static json_t *
render_subject(const struct subject *s, const struct problem *p)
{
	switch (s->kind) {
	case WAITING_LISTENER:
		return p != NULL ? render_listener_problem(p, &s->lst) : render_listener(&s->lst);
	case WAITING_BATCH:
		return p != NULL ? render_batch_problem(p, &s->batch) : render_batch(&s->batch);
	case WAITING_CONN:
	default:
		return p != NULL ? render_conn_problem(p, &s->conn) : render_connection(&s->conn);
	}
}

int
waiting_get(const struct call *call, const struct request_wait *wait, enum waiting_kind kind,
    struct reply *reply, struct problem *err)
{
	enum engine_wait_result result = ENGINE_WAIT_REACHED;
	struct errors_subject about = { .noun = call->route->noun, .id = call->id };
	struct subject subject = { .kind = kind };
	struct problem timeout;
	enum engine_result rc;

	if (wait->requested && !call->exchange->wait.begun)
		return wait_start(call, wait, kind, reply, err);
	if (wait->requested)
		rc = wait_end(call, &subject, &result);
	else
		rc = subject_get(call, &subject);
	/* A deleted listener is gone by the time its waiter is collected. */
	if (rc == ENGINE_NOT_FOUND && kind == WAITING_LISTENER &&
	    result == ENGINE_WAIT_UNREACHABLE) {
		problem_set(err, PROBLEM_TIMEOUT, NULL,
		    "listener %" PRIu64 " stopped listening before accepting %" PRIu64
		    " connections", call->id, wait->accepted);
		return -ETIMEDOUT;
	}
	if (rc != ENGINE_OK)
		return errors_engine(rc, &about, err);
	switch (result) {
	case ENGINE_WAIT_REACHED:
		return routes_reply_json(reply, MHD_HTTP_OK, render_subject(&subject, NULL), err);
	case ENGINE_WAIT_TIMED_OUT:
	case ENGINE_WAIT_UNREACHABLE:
		timeout_problem(call, wait, result, &subject, &timeout);
		return routes_reply_problem(reply, &timeout, render_subject(&subject, &timeout), err);
	case ENGINE_WAIT_STOPPING:
	default:
		return errors_engine(ENGINE_STOPPING, &about, err);
	}
}

void
waiting_abandon(struct api_server *server, struct exchange *exchange)
{
	bool found;

	if (exchange->wait.waiter == NULL)
		return;
	engine_wait_finish(server->engine, exchange->wait.waiter, NULL, NULL, &found);
	exchange->wait.waiter = NULL;
}
