/*
 * DESIGN: libmicrohttpd calls handle_request several times per request: once
 * with the headers, once per piece of body, and once more with no data. The
 * first call creates a struct exchange (freed by request_completed) and may
 * refuse an oversized Content-Length at once (see refuse_unread); the middle
 * calls collect the body; the last call does all the work: size check,
 * routing, method, query parameters, then one handler, which validates,
 * calls the engine and fills a struct reply or a struct problem. Every
 * answer is queued in one place, queue_text, so every response carries the
 * same headers.
 *
 * A GET that waits (?wait_for=, ?wait_accepted=) holds no thread: its
 * handler suspends the request and registers an engine waiter (wait_start),
 * and the engine's wake callback resumes it. libmicrohttpd then makes the
 * last call again; the same route and handler run once more and, seeing the
 * wait begun, collect its result (wait_end) and answer.
 *
 * GET /v1/events answers with a stream (see sse.c) rather than a body; it
 * too counts as waiting until it completes, so api_stop, which first ends
 * every stream, lets the streams finish as it lets the waits answer.
 * GET .../timeline?format=text and GET /metrics answer with plain text.
 *
 * Every answer queued is counted for /metrics by route pattern, method and
 * status (queue_response); the route is found once, on the first call.
 *
 * Everything runs on libmicrohttpd's single internal thread, except
 * wake_exchange and the streams' wake, which the engine calls from any thread; engine calls block
 * only briefly, and no JSON value outlives the call that built it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api.h"
#include "engine.h"
#include "ladder.h"
#include "log.h"
#include "metrics.h"
#include "problem.h"
#include "render.h"
#include "request.h"
#include "sse.h"

#define API_CONNECTION_LIMIT 256
#define API_CONNECTION_TIMEOUT_S 30
/* Per-connection memory for headers and read buffers; bodies are kept outside it. */
#define API_CONNECTION_MEMORY 65536

/* The most of an oversized body read and dropped so the client sees the 413; see refuse_unread. */
#define API_DISCARD_MAX (4u << 20)

/* How long api_stop lets requests whose wait the engine ended answer 503 before closing them. */
#define API_STOP_DRAIN_MS 1000

/* More parameters than any route accepts; see collect_param for why this is safe. */
#define API_QUERY_MAX 16

/* How much of an untrusted path or method a detail quotes. */
#define API_PATH_QUOTE_MAX 200
#define API_METHOD_QUOTE_MAX 32

#define API_CONNECTIONS_PATH "/v1/connections"
#define API_LISTENERS_PATH "/v1/listeners"
/* The longest route label: a route's path, "{id}", and what follows the id. */
#define API_ROUTE_LABEL_MAX 64
/* The longest Location: a collection path, '/', and an id of up to 20 digits. */
#define API_LOCATION_MAX 64

struct api_server {
	struct MHD_Daemon *daemon;
	struct engine *engine;
	pthread_mutex_t lock;
	pthread_cond_t drained;		/* signalled when waiting drops to 0 */
	unsigned int waiting;		/* requests that began a wait or a stream, not completed */
	struct sse_hub *hub;
	struct metrics_http http;	/* libmicrohttpd's thread only */
};

/* A wait from suspending its request until it is answered. */
struct pending_wait {
	bool begun;			/* the request was suspended; the next call answers */
	struct engine_waiter *waiter;	/* NULL when there is none to finish */
	int start_rc;			/* engine_wait_*'s return when it registered none */
};

/* The state of one request between libmicrohttpd's calls. */
struct exchange {
	struct request_body body;
	struct MHD_Connection *connection;	/* for wake_exchange */
	const struct route *route;		/* NULL for a path with no route */
	uint64_t id;				/* for paths with an id */
	enum metrics_method method;
	struct pending_wait wait;
	bool streaming;				/* answered with an event stream */
};

struct query {
	struct request_param params[API_QUERY_MAX];
	size_t count;
};

/* What a handler needs to know about its request. */
struct call {
	struct api_server *server;
	struct engine *engine;
	struct MHD_Connection *connection;
	const struct route *route;
	uint64_t id;			/* for paths with an id */
	const struct query *query;
	const struct request_body *body;
	struct exchange *exchange;
};

/* An answer that is not a struct problem: a resource, or a problem with members of its own. */
struct reply {
	unsigned int status;
	json_t *body;
	bool is_problem;		/* sends application/problem+json */
	bool suspended;			/* nothing to send yet: a wait has begun */
	char location[API_LOCATION_MAX];	/* empty for none */
	char *text;			/* malloc'd: sent instead of body, as content_type */
	const char *content_type;
	struct MHD_Response *stream;	/* sent instead of body, as an event stream */
};

/* Returns 0 with *reply filled, or a negative errno with *err filled. */
typedef int handler_fn(const struct call *call, struct reply *reply, struct problem *err);

struct route {
	const char *path;		/* the whole path, or the part before the id */
	const char *after_id;		/* NULL when the path has no id; else what follows it */
	const char *noun;		/* what the id names, for a 404 */
	const char *allow;		/* the Allow header of a 405 */
	handler_fn *get;		/* also answers HEAD; NULL for none */
	const char *const *get_params;
	const char *change_method;	/* POST or DELETE, or NULL */
	handler_fn *change;
	const char *const *change_params;
};

static const char *const no_params[] = { NULL };
static const char *const list_params[] = { "state", NULL };
static const char *const close_params[] = { "mode", NULL };
static const char *const get_params[] = { "wait_for", "timeout_ms", NULL };
static const char *const listener_get_params[] = { "wait_accepted", "timeout_ms", NULL };
static const char *const timeline_params[] = { "format", NULL };
static const char *const events_params[] = { "connection", NULL };

/* Rendering fails only when memory runs out or a view holds a value with no name. */
static int
render_failed(struct problem *err)
{
	log_warnx("api: cannot render a response");
	problem_set(err, PROBLEM_INTERNAL, NULL, "the response could not be rendered");
	return -ENOMEM;
}

/* Fills *reply with body, or answers 500 when building body failed. */
static int
reply_json(struct reply *reply, unsigned int status, json_t *body, struct problem *err)
{
	if (body == NULL)
		return render_failed(err);
	reply->status = status;
	reply->body = body;
	return 0;
}

/* Fills *reply with text, which it takes over, or answers 500 when building text failed. */
static int
reply_text(struct reply *reply, char *text, const char *content_type, struct problem *err)
{
	if (text == NULL)
		return render_failed(err);
	reply->status = MHD_HTTP_OK;
	reply->text = text;
	reply->content_type = content_type;
	return 0;
}

/* Fills *reply with a problem object that has members of its own, or answers 500. */
static int
reply_problem(struct reply *reply, const struct problem *p, json_t *body, struct problem *err)
{
	if (body == NULL)
		return render_failed(err);
	reply->status = problem_status(p);
	reply->body = body;
	reply->is_problem = true;
	return 0;
}

/* Turns an error that any engine call may return into the problem the API contract gives it. */
static int
engine_problem(int rc, const struct call *call, struct problem *err)
{
	switch (rc) {
	case -ENOENT:
		problem_set(err, PROBLEM_NOT_FOUND, NULL, "no %s has id %" PRIu64,
		    call->route->noun, call->id);
		break;
	case -ENOMEM:
		problem_set(err, PROBLEM_UNAVAILABLE, NULL, "the daemon is out of memory");
		break;
	case -ESHUTDOWN:
		problem_set(err, PROBLEM_UNAVAILABLE, NULL, "the daemon is stopping");
		break;
	default:
		log_warnx("api: unexpected engine error: %s", strerror(-rc));
		problem_set(err, PROBLEM_INTERNAL, NULL, "the engine failed unexpectedly");
		break;
	}
	return rc;
}

/* The errors of engine_open, then those of every call. */
static int
open_problem(int rc, const struct call *call, const struct engine_open_params *params,
    struct problem *err)
{
	switch (rc) {
	case -EINVAL:
		problem_set(err, PROBLEM_INVALID_FIELD, "remote_ip",
		    "remote_ip is this interface's own, network or broadcast address");
		break;
	case -ENETUNREACH:
		problem_set(err, PROBLEM_INVALID_FIELD, "remote_ip",
		    "remote_ip is off the interface's subnet and no --gateway is set");
		break;
	case -EADDRINUSE:
		problem_set(err, PROBLEM_CONFLICT, "local_port",
		    "local_port %u is already in use towards that remote endpoint",
		    (unsigned int)params->local_port);
		break;
	case -EADDRNOTAVAIL:
		problem_set(err, PROBLEM_UNAVAILABLE, NULL,
		    "no free local port towards that remote endpoint");
		break;
	case -ENOBUFS:
		problem_set(err, PROBLEM_UNAVAILABLE, NULL, "connection limit reached");
		break;
	default:
		return engine_problem(rc, call, err);
	}
	return rc;
}

/* A state's name for a detail; never NULL. */
static const char *
state_text(enum tcpinfo_state state)
{
	const char *name = tcpinfo_state_name(state);

	return name != NULL ? name : "?";
}

/*
 * Answers 409 for an operation that the connection's state does not allow,
 * naming the state: "<what>; the connection is in state X".
 */
static int
state_conflict(const struct call *call, const char *what, struct problem *err)
{
	struct engine_conn_view conn;
	int rc;

	rc = engine_get(call->engine, call->id, &conn);
	if (rc != 0)
		return engine_problem(rc, call, err);
	problem_set(err, PROBLEM_CONFLICT, NULL, "%s; the connection is in state %s",
	    what, state_text(conn.state));
	return -ENOTCONN;
}

static const char *
content_type(const struct call *call)
{
	return MHD_lookup_connection_value(call->connection, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
}

/* Returns the parameter called name, or NULL when the request has none. */
static const struct request_param *
query_find(const struct query *query, const char *name)
{
	size_t i;

	for (i = 0; i < query->count; i++) {
		if (strcmp(query->params[i].name, name) == 0)
			return &query->params[i];
	}
	return NULL;
}

/*
 * The engine's wake callback: runs with the engine's lock held, on any
 * thread, so it only hands the request back to libmicrohttpd.
 */
static void
wake_exchange(void *arg)
{
	struct exchange *exchange = arg;

	MHD_resume_connection(exchange->connection);
}

/*
 * Begins the wait a GET asks for. The request is suspended before the
 * waiter exists, as the engine may wake it from another thread before
 * engine_wait_* returns; when the engine answers at once, or fails, it is
 * resumed right away. Either way the next call answers (see wait_end).
 */
static int
wait_start(const struct call *call, const struct request_wait *wait, bool for_listener,
    struct reply *reply)
{
	struct pending_wait *pending = &call->exchange->wait;
	int rc;

	pending->begun = true;
	MHD_suspend_connection(call->connection);
	if (for_listener)
		rc = engine_wait_accepted(call->engine, call->id, wait->accepted, wait->timeout_ms,
		    wake_exchange, call->exchange, &pending->waiter);
	else
		rc = engine_wait_state(call->engine, call->id, wait->state, wait->timeout_ms,
		    wake_exchange, call->exchange, &pending->waiter);
	if (rc != 0) {
		pending->waiter = NULL;
		pending->start_rc = rc;
		MHD_resume_connection(call->connection);
	}
	reply->suspended = true;
	return 0;
}

/*
 * Collects the result of a wait once its request has resumed, with the
 * connection (conn) or listener as it is now. Returns 0, or a negative
 * errno when the wait could not begin or what it was on is gone.
 */
static int
wait_end(const struct call *call, struct engine_conn_view *conn,
    struct engine_listener_view *listener, enum engine_wait_result *result)
{
	struct pending_wait *pending = &call->exchange->wait;
	bool found;

	*result = ENGINE_WAIT_REACHED;
	if (pending->waiter != NULL) {
		*result = engine_wait_finish(call->engine, pending->waiter, conn, listener, &found);
		pending->waiter = NULL;
		return found ? 0 : -ENOENT;
	}
	if (pending->start_rc < 0)
		return pending->start_rc;
	/* It held at once: answer with a fresh copy. */
	if (conn != NULL)
		return engine_get(call->engine, call->id, conn);
	return engine_listener_get(call->engine, call->id, listener);
}

static int
handle_healthz(const struct call *call, struct reply *reply, struct problem *err)
{
	if (!engine_healthy(call->engine)) {
		problem_set(err, PROBLEM_UNAVAILABLE, NULL,
		    "the stack or the TAP device is down, or the daemon is stopping");
		return -EAGAIN;
	}
	return reply_json(reply, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"), err);
}

static int
handle_interface(const struct call *call, struct reply *reply, struct problem *err)
{
	struct engine_iface_view iface;

	engine_interface(call->engine, &iface);
	return reply_json(reply, MHD_HTTP_OK, render_interface(&iface), err);
}

static int
handle_stats(const struct call *call, struct reply *reply, struct problem *err)
{
	struct engine_stats stats;

	engine_stats(call->engine, &stats);
	return reply_json(reply, MHD_HTTP_OK, render_stats(&stats), err);
}

static int
handle_list(const struct call *call, struct reply *reply, struct problem *err)
{
	const struct request_param *state_param = query_find(call->query, "state");
	struct engine_conn_view *conns = NULL;
	enum tcpinfo_state state;
	size_t count = 0;
	int rc;

	if (state_param != NULL) {
		rc = request_parse_state_filter(state_param->value, &state, err);
		if (rc != 0)
			return rc;
	}
	rc = engine_list(call->engine, state_param != NULL ? &state : NULL, &conns, &count);
	if (rc != 0)
		return engine_problem(rc, call, err);
	rc = reply_json(reply, MHD_HTTP_OK, render_connection_list(conns, count), err);
	free(conns);
	return rc;
}

static int
handle_open(const struct call *call, struct reply *reply, struct problem *err)
{
	struct engine_open_params params;
	struct engine_conn_view conn;
	int rc;

	rc = request_parse_open(call->body->data, call->body->len, content_type(call), &params,
	    err);
	if (rc != 0)
		return rc;
	rc = engine_open(call->engine, &params, &conn);
	if (rc != 0)
		return open_problem(rc, call, &params, err);
	snprintf(reply->location, sizeof(reply->location), API_CONNECTIONS_PATH "/%" PRIu64,
	    conn.id);
	return reply_json(reply, MHD_HTTP_CREATED, render_connection(&conn), err);
}

/* Answers a finished ?wait_for=: 200, or 408 with the state the connection is in. */
static int
reply_state_wait(const struct call *call, const struct request_wait *wait,
    enum engine_wait_result result, const struct engine_conn_view *conn,
    struct reply *reply, struct problem *err)
{
	struct problem timeout;

	switch (result) {
	case ENGINE_WAIT_REACHED:
		return reply_json(reply, MHD_HTTP_OK, render_connection(conn), err);
	case ENGINE_WAIT_TIMED_OUT:
		problem_set(&timeout, PROBLEM_TIMEOUT, NULL,
		    "connection %" PRIu64 " did not reach %s within %u ms; it is in %s",
		    call->id, state_text(wait->state), (unsigned int)wait->timeout_ms,
		    state_text(conn->state));
		break;
	case ENGINE_WAIT_UNREACHABLE:
		problem_set(&timeout, PROBLEM_TIMEOUT, NULL,
		    "connection %" PRIu64 " closed without reaching %s", call->id,
		    state_text(wait->state));
		break;
	case ENGINE_WAIT_STOPPING:
	default:
		problem_set(err, PROBLEM_UNAVAILABLE, NULL, "the daemon is stopping");
		return -ESHUTDOWN;
	}
	return reply_problem(reply, &timeout, render_conn_problem(&timeout, conn), err);
}

static int
handle_get(const struct call *call, struct reply *reply, struct problem *err)
{
	enum engine_wait_result result = ENGINE_WAIT_REACHED;
	struct engine_conn_view conn;
	struct request_wait wait;
	int rc;

	rc = request_parse_state_wait(query_find(call->query, "wait_for"),
	    query_find(call->query, "timeout_ms"), &wait, err);
	if (rc != 0)
		return rc;
	if (wait.requested && !call->exchange->wait.begun)
		return wait_start(call, &wait, false, reply);
	if (wait.requested)
		rc = wait_end(call, &conn, NULL, &result);
	else
		rc = engine_get(call->engine, call->id, &conn);
	if (rc != 0)
		return engine_problem(rc, call, err);
	return reply_state_wait(call, &wait, result, &conn, reply, err);
}

static int
handle_close(const struct call *call, struct reply *reply, struct problem *err)
{
	const struct request_param *mode_param = query_find(call->query, "mode");
	enum engine_close_mode mode = ENGINE_CLOSE_GRACEFUL;
	struct engine_conn_view conn;
	bool acted;
	int rc;

	if (mode_param != NULL) {
		rc = request_parse_close_mode(mode_param->value, &mode, err);
		if (rc != 0)
			return rc;
	}
	rc = engine_close(call->engine, call->id, mode, &conn, &acted);
	if (rc != 0)
		return engine_problem(rc, call, err);
	/* 202: the close has started; 200: it had already, and this is where it stands. */
	return reply_json(reply, acted ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK,
	    render_connection(&conn), err);
}

static int
handle_shutdown(const struct call *call, struct reply *reply, struct problem *err)
{
	static const char *const refusals[] = {
		[ENGINE_SHUT_READ] = "cannot shut down the read side",
		[ENGINE_SHUT_WRITE] = "cannot shut down the write side",
		[ENGINE_SHUT_BOTH] = "cannot shut down both sides",
	};
	enum engine_shutdown_how how;
	struct engine_conn_view conn;
	int rc;

	rc = request_parse_shutdown(call->body->data, call->body->len, content_type(call), &how,
	    err);
	if (rc != 0)
		return rc;
	rc = engine_shutdown(call->engine, call->id, how, &conn);
	if (rc == -ENOTCONN)
		return state_conflict(call, refusals[how], err);
	if (rc != 0)
		return engine_problem(rc, call, err);
	/* 202, as for DELETE: the FIN may still wait behind queued data. */
	return reply_json(reply, MHD_HTTP_ACCEPTED, render_connection(&conn), err);
}

static int
handle_expire(const struct call *call, struct reply *reply, struct problem *err)
{
	struct engine_conn_view conn;
	int rc;

	rc = request_parse_expire(call->body->data, call->body->len, content_type(call), err);
	if (rc != 0)
		return rc;
	rc = engine_expire(call->engine, call->id, &conn);
	if (rc == -ENOTCONN)
		return state_conflict(call, "only a connection in TIME_WAIT can be expired", err);
	if (rc != 0)
		return engine_problem(rc, call, err);
	return reply_json(reply, MHD_HTTP_OK, render_connection(&conn), err);
}

static int
handle_send(const struct call *call, struct reply *reply, struct problem *err)
{
	struct request_send send;
	int rc;

	rc = request_parse_send(call->body->data, call->body->len, content_type(call), &send, err);
	if (rc != 0)
		return rc;
	rc = engine_send(call->engine, call->id, send.data, send.len);
	if (rc == -ENOTCONN)
		rc = state_conflict(call, "cannot send", err);
	else if (rc == -ENOBUFS)
		problem_set(err, PROBLEM_CONFLICT, NULL,
		    "the send queue is full: at most %llu bytes may wait to be sent; retry later",
		    ENGINE_SEND_QUEUE_MAX);
	else if (rc != 0)
		engine_problem(rc, call, err);
	else
		rc = reply_json(reply, MHD_HTTP_ACCEPTED,
		    json_pack("{s:I}", "queued", (json_int_t)send.len), err);
	request_send_free(&send);
	return rc;
}

static int
handle_data(const struct call *call, struct reply *reply, struct problem *err)
{
	uint8_t *data = NULL;
	bool truncated = false;
	size_t len = 0;
	int rc;

	rc = engine_read(call->engine, call->id, &data, &len, &truncated);
	if (rc != 0)
		return engine_problem(rc, call, err);
	rc = reply_json(reply, MHD_HTTP_OK, render_data(data, len, truncated), err);
	free(data);
	return rc;
}

static int
handle_listener_list(const struct call *call, struct reply *reply, struct problem *err)
{
	struct engine_listener_view *listeners = NULL;
	size_t count = 0;
	int rc;

	rc = engine_listener_list(call->engine, &listeners, &count);
	if (rc != 0)
		return engine_problem(rc, call, err);
	rc = reply_json(reply, MHD_HTTP_OK, render_listener_list(listeners, count), err);
	free(listeners);
	return rc;
}

static int
handle_listen(const struct call *call, struct reply *reply, struct problem *err)
{
	struct engine_listener_view listener;
	struct request_listen params;
	int rc;

	rc = request_parse_listen(call->body->data, call->body->len, content_type(call), &params,
	    err);
	if (rc != 0)
		return rc;
	rc = engine_listen(call->engine, params.port, params.backlog, &listener);
	if (rc == -EADDRINUSE) {
		problem_set(err, PROBLEM_CONFLICT, "port", "port %u is already in use",
		    (unsigned int)params.port);
		return rc;
	}
	if (rc == -ENOBUFS) {
		problem_set(err, PROBLEM_UNAVAILABLE, NULL, "listener limit reached");
		return rc;
	}
	if (rc != 0)
		return engine_problem(rc, call, err);
	snprintf(reply->location, sizeof(reply->location), API_LISTENERS_PATH "/%" PRIu64,
	    listener.id);
	return reply_json(reply, MHD_HTTP_CREATED, render_listener(&listener), err);
}

/* Answers a finished ?wait_accepted=: 200, or 408 with the count reached. */
static int
reply_accepted_wait(const struct call *call, const struct request_wait *wait,
    enum engine_wait_result result, const struct engine_listener_view *listener,
    struct reply *reply, struct problem *err)
{
	struct problem timeout;

	switch (result) {
	case ENGINE_WAIT_REACHED:
		return reply_json(reply, MHD_HTTP_OK, render_listener(listener), err);
	case ENGINE_WAIT_TIMED_OUT:
		problem_set(&timeout, PROBLEM_TIMEOUT, NULL,
		    "listener %" PRIu64 " accepted %" PRIu64 " of %" PRIu64
		    " connections within %u ms", call->id, listener->accepted, wait->accepted,
		    (unsigned int)wait->timeout_ms);
		break;
	case ENGINE_WAIT_UNREACHABLE:
		problem_set(&timeout, PROBLEM_TIMEOUT, NULL,
		    "listener %" PRIu64 " stopped listening after accepting %" PRIu64 " of %" PRIu64
		    " connections", call->id, listener->accepted, wait->accepted);
		break;
	case ENGINE_WAIT_STOPPING:
	default:
		problem_set(err, PROBLEM_UNAVAILABLE, NULL, "the daemon is stopping");
		return -ESHUTDOWN;
	}
	return reply_problem(reply, &timeout, render_listener_problem(&timeout, listener), err);
}

static int
handle_listener_get(const struct call *call, struct reply *reply, struct problem *err)
{
	enum engine_wait_result result = ENGINE_WAIT_REACHED;
	struct engine_listener_view listener;
	struct request_wait wait;
	int rc;

	rc = request_parse_accepted_wait(query_find(call->query, "wait_accepted"),
	    query_find(call->query, "timeout_ms"), &wait, err);
	if (rc != 0)
		return rc;
	if (wait.requested && !call->exchange->wait.begun)
		return wait_start(call, &wait, true, reply);
	if (wait.requested)
		rc = wait_end(call, NULL, &listener, &result);
	else
		rc = engine_listener_get(call->engine, call->id, &listener);
	if (rc != 0)
		return engine_problem(rc, call, err);
	return reply_accepted_wait(call, &wait, result, &listener, reply, err);
}

static int
handle_unlisten(const struct call *call, struct reply *reply, struct problem *err)
{
	struct engine_listener_view listener;
	int rc;

	rc = engine_unlisten(call->engine, call->id, &listener);
	if (rc != 0)
		return engine_problem(rc, call, err);
	return reply_json(reply, MHD_HTTP_OK, render_listener(&listener), err);
}

static int
handle_timeline(const struct call *call, struct reply *reply, struct problem *err)
{
	const struct request_param *format = query_find(call->query, "format");
	struct engine_timeline timeline;
	bool as_text = false;
	char *text = NULL;
	size_t len;
	int rc;

	if (format != NULL) {
		rc = request_parse_timeline_format(format->value, &as_text, err);
		if (rc != 0)
			return rc;
	}
	rc = engine_timeline(call->engine, call->id, &timeline);
	if (rc != 0)
		return engine_problem(rc, call, err);
	if (!as_text)
		rc = reply_json(reply, MHD_HTTP_OK, render_timeline(&timeline), err);
	else if (ladder_render(&timeline, &text, &len) == 0)
		rc = reply_text(reply, text, "text/plain; charset=utf-8", err);
	else
		rc = render_failed(err);
	engine_timeline_free(&timeline);
	return rc;
}

static int
handle_events(const struct call *call, struct reply *reply, struct problem *err)
{
	const struct request_param *connection = query_find(call->query, "connection");
	struct sse_filter filter = { .by_connection = connection != NULL };
	uint64_t last_seen;
	int rc;

	if (connection != NULL) {
		rc = request_parse_connection_filter(connection->value, &filter.connection, err);
		if (rc != 0)
			return rc;
	}
	rc = request_parse_last_event_id(MHD_lookup_connection_value(call->connection,
	    MHD_HEADER_KIND, "Last-Event-ID"), &last_seen, err);
	if (rc != 0)
		return rc;
	rc = sse_response(call->server->hub, call->connection, &filter, last_seen, &reply->stream);
	if (rc == -ENOBUFS) {
		problem_set(err, PROBLEM_UNAVAILABLE, NULL, "too many event stream clients");
		return rc;
	}
	if (rc != 0)
		return engine_problem(rc, call, err);
	reply->status = MHD_HTTP_OK;
	return 0;
}

static int handle_metrics(const struct call *call, struct reply *reply, struct problem *err);

static const struct route routes[] = {
	{ "/healthz", NULL, NULL, "GET, HEAD", handle_healthz, no_params, NULL, NULL, NULL },
	{ "/v1/interface", NULL, NULL, "GET, HEAD", handle_interface, no_params, NULL, NULL, NULL },
	{ "/v1/stats", NULL, NULL, "GET, HEAD", handle_stats, no_params, NULL, NULL, NULL },
	{ API_CONNECTIONS_PATH, NULL, NULL, "GET, HEAD, POST", handle_list, list_params,
	    MHD_HTTP_METHOD_POST, handle_open, no_params },
	{ API_CONNECTIONS_PATH "/", "", "connection", "GET, HEAD, DELETE", handle_get, get_params,
	    MHD_HTTP_METHOD_DELETE, handle_close, close_params },
	{ API_CONNECTIONS_PATH "/", "/shutdown", "connection", "POST", NULL, NULL,
	    MHD_HTTP_METHOD_POST, handle_shutdown, no_params },
	{ API_CONNECTIONS_PATH "/", "/expire", "connection", "POST", NULL, NULL,
	    MHD_HTTP_METHOD_POST, handle_expire, no_params },
	{ API_CONNECTIONS_PATH "/", "/send", "connection", "POST", NULL, NULL,
	    MHD_HTTP_METHOD_POST, handle_send, no_params },
	{ API_CONNECTIONS_PATH "/", "/data", "connection", "GET, HEAD", handle_data, no_params,
	    NULL, NULL, NULL },
	{ API_CONNECTIONS_PATH "/", "/timeline", "connection", "GET, HEAD", handle_timeline,
	    timeline_params, NULL, NULL, NULL },
	{ "/v1/events", NULL, NULL, "GET, HEAD", handle_events, events_params, NULL, NULL, NULL },
	{ "/metrics", NULL, NULL, "GET, HEAD", handle_metrics, no_params, NULL, NULL, NULL },
	{ API_LISTENERS_PATH, NULL, NULL, "GET, HEAD, POST", handle_listener_list, no_params,
	    MHD_HTTP_METHOD_POST, handle_listen, no_params },
	{ API_LISTENERS_PATH "/", "", "listener", "GET, HEAD, DELETE", handle_listener_get,
	    listener_get_params, MHD_HTTP_METHOD_DELETE, handle_unlisten, no_params },
};

#define API_ROUTE_COUNT (sizeof(routes) / sizeof(routes[0]))
/* The metrics table has a row for each route and one for paths with none. */
_Static_assert(API_ROUTE_COUNT < METRICS_ROUTE_MAX, "metrics_http has too few routes");

/* A route's row in the metrics table; the last row is for paths with no route. */
static size_t
route_index(const struct route *route)
{
	return route != NULL ? (size_t)(route - routes) : API_ROUTE_COUNT;
}

/* Reports the route patterns, "/v1/connections/{id}/send", as the rows of server->http. */
static int
handle_metrics(const struct call *call, struct reply *reply, struct problem *err)
{
	char labels[API_ROUTE_COUNT + 1][API_ROUTE_LABEL_MAX];
	const char *names[API_ROUTE_COUNT + 1];
	struct metrics_input in = {
		.http = &call->server->http,
		.routes = names,
		.route_count = API_ROUTE_COUNT + 1,
	};
	char *text = NULL;
	size_t i, len;

	for (i = 0; i < API_ROUTE_COUNT; i++) {
		snprintf(labels[i], sizeof(labels[i]), "%s%s%s", routes[i].path,
		    routes[i].after_id != NULL ? "{id}" : "",
		    routes[i].after_id != NULL ? routes[i].after_id : "");
		names[i] = labels[i];
	}
	names[API_ROUTE_COUNT] = "other";
	engine_stats(call->engine, &in.stats);
	engine_count_by_state(call->engine, in.by_state);
	sse_hub_counts(call->server->hub, &in.sse_clients, &in.sse_dropped);
	if (metrics_render(&in, &text, &len) != 0)
		return render_failed(err);
	return reply_text(reply, text, "text/plain; version=0.0.4; charset=utf-8", err);
}

/* Finds the route of a path, and its id when the path has one. */
static const struct route *
route_find(const char *path, uint64_t *id)
{
	const char *id_text;
	size_t i, len, id_len;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (routes[i].after_id == NULL) {
			if (strcmp(path, routes[i].path) == 0)
				return &routes[i];
			continue;
		}
		len = strlen(routes[i].path);
		if (strncmp(path, routes[i].path, len) != 0)
			continue;
		id_text = path + len;
		id_len = strcspn(id_text, "/");
		if (strcmp(id_text + id_len, routes[i].after_id) == 0 &&
		    request_parse_id(id_text, id_len, id) == 0)
			return &routes[i];
	}
	return NULL;
}

/*
 * Collects query parameters up to API_QUERY_MAX. Dropping the rest is safe:
 * a route accepts fewer names than that, each once, so any request with more
 * parameters already breaks a rule within the ones kept.
 */
static enum MHD_Result
collect_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query *query = cls;

	(void)kind;
	if (query->count == API_QUERY_MAX)
		return MHD_NO;
	query->params[query->count].name = key;
	query->params[query->count].value = value;
	query->count++;
	return MHD_YES;
}

/* Routes the request and runs its handler. */
static int
dispatch(struct api_server *server, struct MHD_Connection *connection, const char *url,
    const char *method, struct exchange *exchange, struct reply *reply,
    const char **allow, struct problem *err)
{
	struct query query = { .count = 0 };
	struct call call = {
		.server = server,
		.engine = server->engine,
		.connection = connection,
		.route = exchange->route,
		.id = exchange->id,
		.query = &query,
		.body = &exchange->body,
		.exchange = exchange,
	};
	const struct route *route = exchange->route;
	const char *const *params;
	handler_fn *handle;
	int rc;

	if (route == NULL) {
		problem_set(err, PROBLEM_NOT_FOUND, NULL, "no resource at path '%.*s%s'",
		    API_PATH_QUOTE_MAX, url, strlen(url) > API_PATH_QUOTE_MAX ? "..." : "");
		return -ENOENT;
	}
	if (route->get != NULL && (strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)) {
		handle = route->get;
		params = route->get_params;
	} else if (route->change_method != NULL && strcmp(method, route->change_method) == 0) {
		handle = route->change;
		params = route->change_params;
	} else {
		*allow = route->allow;
		problem_set(err, PROBLEM_METHOD_NOT_ALLOWED, NULL,
		    "method %.*s is not allowed here; use one of %s",
		    API_METHOD_QUOTE_MAX, method, route->allow);
		return -EPERM;
	}
	MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, collect_param, &query);
	rc = request_check_query(query.params, query.count, params, err);
	if (rc != 0)
		return rc;
	return handle(&call, reply, err);
}

/*
 * Queues response with the headers every response carries, counts it, and
 * releases it.
 */
static enum MHD_Result
queue_response(struct api_server *server, struct exchange *exchange, unsigned int status,
    struct MHD_Response *response, const char *content_type, const char *allow,
    const char *location)
{
	enum MHD_Result result = MHD_NO;

	if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES ||
	    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES)
		goto out;
	if (allow != NULL &&
	    MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)
		goto out;
	if (location != NULL &&
	    MHD_add_response_header(response, MHD_HTTP_HEADER_LOCATION, location) != MHD_YES)
		goto out;
	result = MHD_queue_response(exchange->connection, status, response);
	if (result == MHD_YES)
		metrics_http_count(&server->http, route_index(exchange->route), exchange->method,
		    status);
out:
	MHD_destroy_response(response);
	return result;
}

/* Queues text, which it takes over; see queue_response. */
static enum MHD_Result
queue_text(struct api_server *server, struct exchange *exchange, unsigned int status,
    char *text, const char *content_type, const char *allow, const char *location)
{
	struct MHD_Response *response;

	if (text == NULL)
		return MHD_NO;
	response = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (response == NULL) {
		free(text);
		return MHD_NO;
	}
	return queue_response(server, exchange, status, response, content_type, allow, location);
}

static enum MHD_Result
queue_problem(struct api_server *server, struct exchange *exchange, const struct problem *err,
    const char *allow)
{
	return queue_text(server, exchange, problem_status(err), problem_render(err),
	    "application/problem+json", allow, NULL);
}

/* Counts a request that waits or streams, for api_stop. */
static void
begin_waiting(struct api_server *server)
{
	pthread_mutex_lock(&server->lock);
	server->waiting++;
	pthread_mutex_unlock(&server->lock);
}

/* Answers a request whose body has arrived. */
static enum MHD_Result
answer(struct api_server *server, struct MHD_Connection *connection, const char *url,
    const char *method, struct exchange *exchange)
{
	struct reply reply = { .body = NULL };
	const char *allow = NULL;
	struct problem err;
	enum MHD_Result result;
	char *text;
	int rc;

	/* The size comes first, as it does when Content-Length already tells it. */
	rc = request_check_body_size(exchange->body.received, &err);
	if (rc == 0)
		rc = dispatch(server, connection, url, method, exchange, &reply, &allow, &err);
	if (rc != 0)
		return queue_problem(server, exchange, &err, allow);
	/* Suspended: libmicrohttpd calls again once the wait is over. */
	if (reply.suspended) {
		begin_waiting(server);
		return MHD_YES;
	}
	if (reply.stream != NULL) {
		result = queue_response(server, exchange, reply.status, reply.stream,
		    "text/event-stream", NULL, NULL);
		if (result == MHD_YES) {
			exchange->streaming = true;
			begin_waiting(server);
		}
		return result;
	}
	if (reply.text != NULL)
		return queue_text(server, exchange, reply.status, reply.text, reply.content_type,
		    NULL, NULL);
	text = render_text(reply.body);
	json_decref(reply.body);
	if (text == NULL) {
		render_failed(&err);
		return queue_problem(server, exchange, &err, NULL);
	}
	return queue_text(server, exchange, reply.status, text,
	    reply.is_problem ? "application/problem+json" : "application/json", NULL,
	    reply.location[0] != '\0' ? reply.location : NULL);
}

/*
 * Whether to refuse an oversized body before reading it. A client that
 * waits for "100 Continue" has sent nothing yet. Other clients may be
 * writing the whole body before they read (Python's urllib does), and
 * closing on them would lose the answer in a reset; so a body up to
 * API_DISCARD_MAX is read and dropped first, and only a larger one is cut
 * short.
 */
static bool
refuse_unread(struct MHD_Connection *connection, uint64_t announced)
{
	const char *expect = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_EXPECT);

	return announced > API_DISCARD_MAX ||
	    (expect != NULL && strcasecmp(expect, "100-continue") == 0);
}

static enum MHD_Result
handle_request(void *cls, struct MHD_Connection *connection, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct api_server *server = cls;
	struct exchange *exchange = *req_cls;
	struct problem err;
	uint64_t announced;

	(void)version;
	if (exchange == NULL) {
		exchange = calloc(1, sizeof(*exchange));
		if (exchange == NULL)
			return MHD_NO;
		exchange->connection = connection;
		exchange->route = route_find(url, &exchange->id);
		exchange->method = metrics_method_parse(method);
		*req_cls = exchange;
		announced = request_content_length(MHD_lookup_connection_value(connection,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH));
		/* An answer queued now makes libmicrohttpd skip the body and close. */
		if (request_check_body_size(announced, &err) != 0 &&
		    refuse_unread(connection, announced))
			return queue_problem(server, exchange, &err, NULL);
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (request_body_append(&exchange->body, upload_data, *upload_data_size) != 0)
			return MHD_NO;
		*upload_data_size = 0;
		/* libmicrohttpd 0.9.75 cannot answer in the middle of a body: close instead. */
		return exchange->body.received > API_DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	return answer(server, connection, url, method, exchange);
}

static void
request_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
    enum MHD_RequestTerminationCode code)
{
	struct api_server *server = cls;
	struct exchange *exchange = *req_cls;
	bool found;

	(void)connection;
	(void)code;
	if (exchange == NULL)
		return;
	/* A request resumed but not answered (its client left, or the daemon stops) holds its waiter. */
	if (exchange->wait.waiter != NULL)
		engine_wait_finish(server->engine, exchange->wait.waiter, NULL, NULL, &found);
	if (exchange->wait.begun || exchange->streaming) {
		pthread_mutex_lock(&server->lock);
		if (--server->waiting == 0)
			pthread_cond_broadcast(&server->drained);
		pthread_mutex_unlock(&server->lock);
	}
	request_body_free(&exchange->body);
	free(exchange);
	*req_cls = NULL;
}

/*
 * Decodes %HH escapes in the path and in query names and values, but leaves
 * a string holding "%00" as it is: decoded, the NUL would cut the C string
 * short, so "/v1/connections/1%00x" would act on connection 1 and
 * "?mode=abort%00x" would abort.
 */
static size_t
unescape_except_nul(void *cls, struct MHD_Connection *connection, char *text)
{
	(void)cls;
	(void)connection;
	if (strstr(text, "%00") != NULL)
		return strlen(text);
	return MHD_http_unescape(text);
}

__attribute__((format(printf, 2, 0)))
static void
log_mhd(void *cls, const char *fmt, va_list ap)
{
	char message[512];
	size_t len;
	int saved_errno = errno;

	(void)cls;
	vsnprintf(message, sizeof(message), fmt, ap);
	/* libmicrohttpd ends its messages with a newline; log_warnx adds its own. */
	len = strlen(message);
	while (len > 0 && message[len - 1] == '\n')
		message[--len] = '\0';
	log_warnx("http: %s", message);
	/* api_start reads errno after a failed start, so logging must not change it. */
	errno = saved_errno;
}

static uint16_t
listen_port(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)addr)->sin_port);
}

/* Writes "127.0.0.1:8080" or "[::1]:8080". */
static void
format_listen_address(const struct sockaddr_storage *addr, uint16_t port, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (addr->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, (unsigned int)port);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, (unsigned int)port);
	}
}

/* Sets up what api_stop needs to wait for requests in a wait, on the monotonic clock. */
static int
sync_init(struct api_server *server)
{
	pthread_condattr_t attr;
	int rc;

	rc = pthread_condattr_init(&attr);
	if (rc != 0)
		return -rc;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&server->drained, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0)
		return -rc;
	rc = pthread_mutex_init(&server->lock, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&server->drained);
		return -rc;
	}
	return 0;
}

int
api_start(const struct api_config *cfg, struct engine *engine, struct api_server **out)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	char address[INET6_ADDRSTRLEN + sizeof("[]:65535")];
	const union MHD_DaemonInfo *info;
	struct api_server *server;
	int rc;

	if (cfg->listen_addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	else if (cfg->listen_addr.ss_family != AF_INET)
		return -EAFNOSUPPORT;
	server = calloc(1, sizeof(*server));
	if (server == NULL)
		return -ENOMEM;
	server->engine = engine;
	rc = sync_init(server);
	if (rc != 0) {
		free(server);
		return rc;
	}
	rc = sse_hub_new(engine, &server->hub);
	if (rc != 0)
		goto fail;
	errno = 0;
	/* The port argument only names the port in libmicrohttpd's messages; the address decides. */
	server->daemon = MHD_start_daemon(flags, listen_port(&cfg->listen_addr), NULL, NULL,
	    handle_request, server,
	    /* First, so that libmicrohttpd logs nothing through its own logger. */
	    MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
	    MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&cfg->listen_addr,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)API_CONNECTION_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_CONNECTION_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONNECTION_MEMORY,
	    MHD_OPTION_NOTIFY_COMPLETED, request_completed, server,
	    MHD_OPTION_UNESCAPE_CALLBACK, unescape_except_nul, NULL,
	    MHD_OPTION_END);
	if (server->daemon == NULL) {
		/* libmicrohttpd has logged the reason; errno holds it when a system call failed. */
		rc = errno != 0 ? -errno : -EIO;
		log_warnx("api: cannot start the HTTP server: %s", strerror(-rc));
		goto fail;
	}
	info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
	format_listen_address(&cfg->listen_addr, info != NULL ? info->port : 0,
	    address, sizeof(address));
	log_info("API listening on %s", address);
	*out = server;
	return 0;
fail:
	sse_hub_free(server->hub);
	pthread_cond_destroy(&server->drained);
	pthread_mutex_destroy(&server->lock);
	free(server);
	return rc;
}

/* Waits until no request is in a wait or a stream, or timeout_ms has passed. */
static void
drain_waits(struct api_server *server, unsigned int timeout_ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&server->lock);
	while (server->waiting > 0 &&
	    pthread_cond_timedwait(&server->drained, &server->lock, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&server->lock);
}

void
api_stop(struct api_server *server)
{
	MHD_socket listen_fd;

	if (server == NULL)
		return;
	/*
	 * engine_stop has ended every wait and resumed its request. Stopping
	 * now would close those requests unanswered, so new connections are
	 * refused first and the resumed ones get a moment to answer 503, and
	 * the streams, ended here, to send their last chunk.
	 */
	listen_fd = MHD_quiesce_daemon(server->daemon);
	sse_hub_stop(server->hub);
	drain_waits(server, API_STOP_DRAIN_MS);
	MHD_stop_daemon(server->daemon);
	/* Stopping destroyed every stream's response, so the hub is empty. */
	sse_hub_free(server->hub);
	/* After quiescing, the listening socket is ours to close. */
	if (listen_fd != MHD_INVALID_SOCKET)
		close(listen_fd);
	pthread_cond_destroy(&server->drained);
	pthread_mutex_destroy(&server->lock);
	free(server);
}
