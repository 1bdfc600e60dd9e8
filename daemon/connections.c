/*
 * connections: what the API does to one connection: open, close, shutdown,
 * expire, send, read, and copies of it and its timeline. Each operation
 * takes the core lock once, acts through the glue, and copies the result.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

struct conn *
connections_start(struct engine *engine, const struct engine_open_params *params,
    uint64_t batch_id, enum engine_result *rc)
{
	struct engine_endpoint local = { .ip = engine->cfg.address, .port = params->local_port };
	struct stack_tcp *tcp;
	struct conn *conn;
	uint16_t chosen_port;

	*rc = engine_admit(engine, conntable_live_count(engine->table), engine->cfg.max_connections);
	if (*rc != ENGINE_OK)
		return NULL;
	conn = engine_conn_new(engine, ENGINE_ORIGIN_ACTIVE, &local, &params->remote);
	if (conn == NULL) {
		*rc = ENGINE_NO_MEMORY;
		return NULL;
	}
	conn->timeline_off = params->timeline_off;
	conn->batch_id = batch_id;
	conntable_pin(engine->table, &conn->entry);
	*rc = engine_result_of(stack_tcp_connect(conn, params->remote.ip, params->remote.port,
	    params->local_port, &tcp, &chosen_port));
	if (*rc != ENGINE_OK) {
		conntable_discard(engine->table, &conn->entry);
		return NULL;
	}
	conn->tcp = tcp;
	conn->entry.local.port = chosen_port;
	conntable_pin(engine->table, NULL);
	return conn;
}

enum engine_result
engine_open(struct engine *engine, const struct engine_open_params *params,
    struct engine_conn_view *out)
{
	struct conn *conn;
	enum engine_result rc;

	engine_lock();
	conn = connections_start(engine, params, 0, &rc);
	if (conn != NULL) {
		engine_conn_view(engine, conn, out);
		conntable_prune(engine->table);
	}
	engine_unlock();
	return rc;
}

/*
 * Finds a connection for an operation that may close it, pinned so the
 * record outlives the operation. Returns NULL, with *rc set, when there is none.
 */
static struct conn *
conn_begin(struct engine *engine, uint64_t id, enum engine_result *rc)
{
	struct conn *conn;

	*rc = ENGINE_OK;
	if (engine->stopping) {
		*rc = ENGINE_STOPPING;
		return NULL;
	}
	conn = engine_conn_find(engine, id);
	if (conn == NULL) {
		*rc = ENGINE_NOT_FOUND;
		return NULL;
	}
	conntable_pin(engine->table, &conn->entry);
	return conn;
}

static void
conn_end(struct engine *engine, struct conn *conn, struct engine_conn_view *out)
{
	if (out != NULL)
		engine_conn_view(engine, conn, out);
	conntable_pin(engine->table, NULL);
	conntable_prune(engine->table);
}

/* Shuts the write side now, or once the queued data is out; WRONG_STATE when it is shut already. */
static enum engine_result
conn_shut_write(struct conn *conn, struct tcpinfo_cause cause)
{
	if (!connbuf_send_empty(&conn->send)) {
		conn->fin_pending = true;
		conn->write_shut = true;
		return ENGINE_OK;
	}
	if (conn->close_requested && stack_tcp_close(conn->tcp, cause) < 0)
		return ENGINE_WRONG_STATE;
	if (!conn->close_requested && stack_tcp_shutdown_write(conn->tcp, cause) < 0)
		return ENGINE_WRONG_STATE;
	conn->write_shut = true;
	return ENGINE_OK;
}

enum engine_result
engine_close(struct engine *engine, uint64_t id, enum engine_close_mode mode,
    struct engine_conn_view *out, bool *acted)
{
	struct conn *conn;
	enum engine_result rc;

	engine_lock();
	conn = conn_begin(engine, id, &rc);
	if (conn == NULL)
		goto unlock;
	*acted = false;
	if (conn->tcp != NULL && mode == ENGINE_CLOSE_ABORT) {
		stack_tcp_abort(conn->tcp, engine_cause(TCPINFO_CAUSE_API_ABORT));
		*acted = true;
	} else if (conn->tcp != NULL && !conn->close_requested) {
		conn->close_requested = true;
		*acted = conn_shut_write(conn, engine_cause(TCPINFO_CAUSE_API_CLOSE)) == ENGINE_OK;
		/* Half-closed earlier, it may sit in FIN_WAIT_2 already: a full close bounds that wait. */
		if (conn->entry.state == TCPINFO_FIN_WAIT_2 && conn->deadline.queue == NULL)
			deadline_add(&engine->fin_wait_2, &conn->deadline);
	}
	conn_end(engine, conn, out);
unlock:
	engine_unlock();
	return rc;
}

enum engine_result
engine_shutdown(struct engine *engine, uint64_t id, enum engine_shutdown_how how,
    struct engine_conn_view *out)
{
	struct conn *conn;
	enum engine_result rc;

	engine_lock();
	conn = conn_begin(engine, id, &rc);
	if (conn == NULL)
		goto unlock;
	if (conn->tcp == NULL || conn->entry.state == TCPINFO_SYN_SENT ||
	    conn->entry.state == TCPINFO_LISTEN ||
	    (how != ENGINE_SHUT_READ && conn->write_shut) || (how != ENGINE_SHUT_WRITE && conn->read_shut)) {
		rc = ENGINE_WRONG_STATE;
	} else {
		if (how != ENGINE_SHUT_WRITE)
			conn->read_shut = true;
		if (how != ENGINE_SHUT_READ)
			rc = conn_shut_write(conn, engine_cause(TCPINFO_CAUSE_API_SHUTDOWN));
	}
	conn_end(engine, conn, out);
unlock:
	engine_unlock();
	return rc;
}

enum engine_result
engine_expire(struct engine *engine, uint64_t id, struct engine_conn_view *out)
{
	struct conn *conn;
	enum engine_result rc;

	engine_lock();
	conn = conn_begin(engine, id, &rc);
	if (conn == NULL)
		goto unlock;
	if (conn->entry.state == TCPINFO_TIME_WAIT && conn->tcp != NULL)
		stack_tcp_abort(conn->tcp, engine_cause(TCPINFO_CAUSE_API_EXPIRE));
	else
		rc = ENGINE_WRONG_STATE;
	conn_end(engine, conn, out);
unlock:
	engine_unlock();
	return rc;
}

static bool
can_send(enum tcpinfo_state state)
{
	return state == TCPINFO_SYN_SENT || state == TCPINFO_SYN_RCVD ||
	    state == TCPINFO_ESTABLISHED || state == TCPINFO_CLOSE_WAIT;
}

static enum engine_result
send_push(struct conn *conn, const void *data, uint64_t len)
{
	switch (connbuf_send_push(&conn->send, data, len, &conn->engine->budget)) {
	case 0:
		return ENGINE_OK;
	case -ENOBUFS:
		return ENGINE_MEMORY_BUDGET;
	default:
		return ENGINE_NO_MEMORY;
	}
}

enum engine_result
engine_send(struct engine *engine, uint64_t id, const void *data, uint64_t len,
    struct engine_conn_view *out)
{
	struct conn *conn;
	enum engine_result rc;

	engine_lock();
	conn = conn_begin(engine, id, &rc);
	if (conn == NULL)
		goto unlock;
	if (conn->tcp == NULL || conn->write_shut || !can_send(conn->entry.state))
		rc = ENGINE_WRONG_STATE;
	else if (len > engine->cfg.max_send_queue - conn->send.queued)
		rc = ENGINE_QUEUE_FULL;
	else
		rc = send_push(conn, data, len);
	if (rc == ENGINE_OK)
		engine_conn_pump(conn);
	conn_end(engine, conn, out);
unlock:
	engine_unlock();
	return rc;
}

enum engine_result
engine_read(struct engine *engine, uint64_t id, uint8_t **data, size_t *len, bool *truncated)
{
	enum engine_result rc = ENGINE_OK;
	struct conn *conn;

	engine_lock();
	conn = engine_conn_find(engine, id);
	if (conn == NULL) {
		rc = ENGINE_NOT_FOUND;
		goto unlock;
	}
	/* An empty ring may have refused data for want of budget: it waits in the glue. */
	if (conn->tcp != NULL && conn->recv.len == 0)
		stack_tcp_deliver(conn->tcp);
	if (connbuf_recv_take(&conn->recv, data, len, &engine->budget) < 0) {
		rc = ENGINE_NO_MEMORY;
		goto unlock;
	}
	*truncated = conn->recv_truncated;
	conn->recv_truncated = false;
	/* Room again: what waited outside the window comes in, and the window reopens. */
	if (conn->tcp != NULL)
		stack_tcp_deliver(conn->tcp);
unlock:
	engine_unlock();
	return rc;
}

enum engine_result
engine_peek(struct engine *engine, uint64_t id, uint8_t **data, size_t *len, bool *truncated)
{
	enum engine_result rc = ENGINE_OK;
	struct conn *conn;

	engine_lock();
	conn = engine_conn_find(engine, id);
	if (conn == NULL)
		rc = ENGINE_NOT_FOUND;
	else if (connbuf_recv_copy(&conn->recv, data, len) < 0)
		rc = ENGINE_NO_MEMORY;
	else
		*truncated = conn->recv_truncated;
	engine_unlock();
	return rc;
}

enum engine_result
engine_get(struct engine *engine, uint64_t id, struct engine_conn_view *out)
{
	enum engine_result rc = ENGINE_OK;
	struct conn *conn;

	engine_lock();
	conn = engine_conn_find(engine, id);
	if (conn != NULL)
		engine_conn_view(engine, conn, out);
	else
		rc = ENGINE_NOT_FOUND;
	engine_unlock();
	return rc;
}

/* Copies a connection's timeline, and its frames when with_frames. */
static enum engine_result
copy_timeline(struct engine *engine, uint64_t id, bool with_frames, struct engine_timeline *out)
{
	enum engine_result rc = ENGINE_OK;
	struct timeline *timeline;
	struct conn *conn;

	memset(out, 0, sizeof(*out));
	engine_lock();
	conn = engine_conn_find(engine, id);
	if (conn == NULL) {
		rc = ENGINE_NOT_FOUND;
		goto unlock;
	}
	timeline = conn->timeline;
	engine_conn_view(engine, conn, &out->conn);
	out->epoch_us = engine->started_unix_us;
	if (timeline == NULL)
		goto unlock;	/* no event yet, or its timeline is off */
	if (timeline->count > 0) {
		out->events = malloc(timeline->count * sizeof(*out->events));
		if (with_frames && timeline->frame_slot > 0) {
			out->frames = malloc(timeline->count * timeline->frame_slot);
			out->frame_slot = timeline->frame_slot;
		}
		if (out->events == NULL || (with_frames && out->frames == NULL)) {
			rc = ENGINE_NO_MEMORY;
			goto free_copy;
		}
		timeline_copy(timeline, out->events, with_frames ? out->frames : NULL);
	}
	out->count = timeline->count;
	out->dropped = timeline->dropped;
	out->refused = timeline->refused;
	goto unlock;
free_copy:
	engine_timeline_free(out);
unlock:
	engine_unlock();
	return rc;
}

enum engine_result
engine_timeline(struct engine *engine, uint64_t id, struct engine_timeline *out)
{
	return copy_timeline(engine, id, false, out);
}

enum engine_result
engine_capture(struct engine *engine, uint64_t id, struct engine_timeline *out)
{
	return copy_timeline(engine, id, true, out);
}

void
engine_timeline_free(struct engine_timeline *timeline)
{
	if (timeline == NULL)
		return;
	free(timeline->events);
	free(timeline->frames);
	timeline->events = NULL;
	timeline->frames = NULL;
	timeline->count = 0;
}
