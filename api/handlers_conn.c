/*
 * handlers_conn: the handlers of /v1/connections and everything below it:
 * list, open, get (and wait), close, shutdown, expire, send, data, timeline.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "api_internal.h"
#include "errors.h"
#include "ladder.h"
#include "render.h"

/* What a problem about this request's connection names. */
static struct errors_subject
about(const struct call *call)
{
	return (struct errors_subject){ .noun = "connection", .id = call->id,
	    .limits = &call->server->limits };
}

/* The problem of a refused operation, naming the state the connection is in. */
static int
refused(const struct call *call, enum engine_result result, const char *refusal,
    const struct engine_conn_view *conn, struct problem *err)
{
	struct errors_subject subject = about(call);

	subject.refusal = refusal;
	subject.state = conn->state;
	return errors_engine(result, &subject, err);
}

int
handlers_conn_list(const struct call *call, struct reply *reply, struct problem *err)
{
	const struct request_param *state_param = routes_param(call, "state");
	struct engine_conn_view *conns = NULL;
	struct errors_subject subject = about(call);
	struct engine_page page;
	enum engine_result result;
	enum tcpinfo_state state;
	size_t count = 0;
	bool more;
	int rc;

	if (state_param != NULL) {
		rc = request_parse_state_filter(state_param->value, &state, err);
		if (rc != 0)
			return rc;
	}
	rc = routes_page(call, &page, err);
	if (rc != 0)
		return rc;
	result = engine_list(call->engine, state_param != NULL ? &state : NULL, &page, &conns,
	    &count, &more);
	if (result != ENGINE_OK)
		return errors_engine(result, &subject, err);
	rc = routes_reply_page(reply, render_connection_list(conns, count), API_CONNECTIONS_PATH,
	    state_param != NULL ? tcpinfo_state_name(state) : NULL, &page, more,
	    count > 0 ? conns[count - 1].id : 0, err);
	free(conns);
	return rc;
}

int
handlers_conn_open(const struct call *call, struct reply *reply, struct problem *err)
{
	struct engine_open_params params;
	struct engine_conn_view conn;
	struct errors_subject subject = { .op = ERRORS_OP_OPEN, .limits = &call->server->limits };
	enum engine_result result;
	int rc;

	rc = request_parse_open(call->body->data, call->body->len, routes_content_type(call),
	    &params, err);
	if (rc != 0)
		return rc;
	result = engine_open(call->engine, &params, &conn);
	if (result != ENGINE_OK) {
		subject.port = params.local_port;
		return errors_engine(result, &subject, err);
	}
	snprintf(reply->location, sizeof(reply->location), API_CONNECTIONS_PATH "/%" PRIu64,
	    conn.id);
	return routes_reply_json(reply, MHD_HTTP_CREATED, render_connection(&conn), err);
}

int
handlers_conn_get(const struct call *call, struct reply *reply, struct problem *err)
{
	struct request_wait wait;
	int rc;

	rc = request_parse_state_wait(routes_param(call, "wait_for"),
	    routes_param(call, "timeout_ms"), &wait, err);
	if (rc != 0)
		return rc;
	return waiting_get(call, &wait, WAITING_CONN, reply, err);
}

int
handlers_conn_close(const struct call *call, struct reply *reply, struct problem *err)
{
	const struct request_param *mode_param = routes_param(call, "mode");
	enum engine_close_mode mode = ENGINE_CLOSE_GRACEFUL;
	struct errors_subject subject = about(call);
	struct engine_conn_view conn;
	enum engine_result result;
	bool acted;
	int rc;

	if (mode_param != NULL) {
		rc = request_parse_close_mode(mode_param->value, &mode, err);
		if (rc != 0)
			return rc;
	}
	result = engine_close(call->engine, call->id, mode, &conn, &acted);
	if (result != ENGINE_OK)
		return errors_engine(result, &subject, err);
	/* 202: the close has started; 200: it had already, and this is where it stands. */
	return routes_reply_json(reply, acted ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK,
	    render_connection(&conn), err);
}

int
handlers_conn_shutdown(const struct call *call, struct reply *reply, struct problem *err)
{
	static const char *const refusals[] = {
		[ENGINE_SHUT_READ] = "cannot shut down the read side",
		[ENGINE_SHUT_WRITE] = "cannot shut down the write side",
		[ENGINE_SHUT_BOTH] = "cannot shut down both sides",
	};
	enum engine_shutdown_how how;
	struct engine_conn_view conn;
	enum engine_result result;
	int rc;

	rc = request_parse_shutdown(call->body->data, call->body->len, routes_content_type(call),
	    &how, err);
	if (rc != 0)
		return rc;
	result = engine_shutdown(call->engine, call->id, how, &conn);
	if (result != ENGINE_OK)
		return refused(call, result, refusals[how], &conn, err);
	/* 202, as for DELETE: the FIN may still wait behind queued data. */
	return routes_reply_json(reply, MHD_HTTP_ACCEPTED, render_connection(&conn), err);
}

int
handlers_conn_expire(const struct call *call, struct reply *reply, struct problem *err)
{
	struct engine_conn_view conn;
	enum engine_result result;
	int rc;

	rc = request_parse_expire(call->body->data, call->body->len, routes_content_type(call), err);
	if (rc != 0)
		return rc;
	result = engine_expire(call->engine, call->id, &conn);
	if (result != ENGINE_OK)
		return refused(call, result, "only a connection in TIME_WAIT can be expired", &conn,
		    err);
	return routes_reply_json(reply, MHD_HTTP_OK, render_connection(&conn), err);
}

int
handlers_conn_send(const struct call *call, struct reply *reply, struct problem *err)
{
	struct engine_conn_view conn;
	struct request_send send;
	enum engine_result result;
	int rc;

	rc = request_parse_send(call->body->data, call->body->len, routes_content_type(call), &send,
	    err);
	if (rc != 0)
		return rc;
	result = engine_send(call->engine, call->id, send.data, send.len, &conn);
	if (result != ENGINE_OK)
		rc = refused(call, result, "cannot send", &conn, err);
	else
		rc = routes_reply_json(reply, MHD_HTTP_ACCEPTED,
		    json_pack("{s:I}", "queued", (json_int_t)send.len), err);
	request_send_free(&send);
	return rc;
}

/* GET drains the receive buffer unless ?peek=true; HEAD never does, as HEAD changes nothing. */
int
handlers_conn_data(const struct call *call, struct reply *reply, struct problem *err)
{
	const struct request_param *peek_param = routes_param(call, "peek");
	struct errors_subject subject = about(call);
	enum engine_result result;
	bool peek = call->head;
	uint8_t *data = NULL;
	bool truncated = false;
	size_t len = 0;
	int rc;

	if (peek_param != NULL) {
		rc = request_parse_peek(peek_param->value, &peek, err);
		if (rc != 0)
			return rc;
		peek = peek || call->head;
	}
	if (peek)
		result = engine_peek(call->engine, call->id, &data, &len, &truncated);
	else
		result = engine_read(call->engine, call->id, &data, &len, &truncated);
	if (result != ENGINE_OK)
		return errors_engine(result, &subject, err);
	rc = routes_reply_json(reply, MHD_HTTP_OK, render_data(data, len, truncated), err);
	free(data);
	return rc;
}

/* The Content-Type of each rendering but JSON. Mermaid has no registered type: text shows inline. */
static const char *const timeline_types[] = {
	[REQUEST_TIMELINE_TEXT] = "text/plain; charset=utf-8",
	[REQUEST_TIMELINE_SVG] = "image/svg+xml; charset=utf-8",
	[REQUEST_TIMELINE_MERMAID] = "text/plain; charset=utf-8",
};

/* Renders a timeline as text, SVG or Mermaid; NULL when that failed. */
static char *
timeline_render(const struct engine_timeline *timeline, enum request_timeline_format format)
{
	char *text = NULL;
	size_t len;

	switch (format) {
	case REQUEST_TIMELINE_TEXT:
		if (ladder_render(timeline, &text, &len) != 0)
			return NULL;
		return text;
	case REQUEST_TIMELINE_SVG:
		return ladder_svg(timeline, &len);
	case REQUEST_TIMELINE_MERMAID:
		return ladder_mermaid(timeline, &len);
	case REQUEST_TIMELINE_JSON:
		break;
	}
	return NULL;
}

int
handlers_conn_timeline(const struct call *call, struct reply *reply, struct problem *err)
{
	const struct request_param *param = routes_param(call, "format");
	enum request_timeline_format format = REQUEST_TIMELINE_JSON;
	struct errors_subject subject = about(call);
	struct engine_timeline timeline;
	enum engine_result result;
	int rc;

	if (param != NULL) {
		rc = request_parse_timeline_format(param->value, &format, err);
		if (rc != 0)
			return rc;
	}
	result = engine_timeline(call->engine, call->id, &timeline);
	if (result != ENGINE_OK)
		return errors_engine(result, &subject, err);
	if (format == REQUEST_TIMELINE_JSON)
		rc = routes_reply_json(reply, MHD_HTTP_OK, render_timeline(&timeline), err);
	else
		rc = routes_reply_text(reply, timeline_render(&timeline, format),
		    timeline_types[format], err);
	engine_timeline_free(&timeline);
	return rc;
}
