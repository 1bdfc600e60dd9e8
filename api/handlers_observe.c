/*
 * handlers_observe: the handlers that watch rather than act: /healthz,
 * /v1/interface, /v1/stats, the event stream /v1/events, and /metrics.
 */
#include <errno.h>

#include "api_internal.h"
#include "errors.h"
#include "render.h"
#include "sse.h"

/* The longest route label: a route's path, "{id}", and what follows the id. */
#define OBSERVE_ROUTE_LABEL_MAX 64

int
handlers_healthz(const struct call *call, struct reply *reply, struct problem *err)
{
	if (!engine_healthy(call->engine)) {
		problem_set(err, PROBLEM_UNAVAILABLE, NULL,
		    "the stack or the TAP device is down, or the daemon is stopping");
		return -EAGAIN;
	}
	return routes_reply_json(reply, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"), err);
}

int
handlers_interface(const struct call *call, struct reply *reply, struct problem *err)
{
	struct engine_iface_view iface;

	engine_interface(call->engine, &iface);
	return routes_reply_json(reply, MHD_HTTP_OK, render_interface(&iface), err);
}

int
handlers_stats(const struct call *call, struct reply *reply, struct problem *err)
{
	struct engine_stats stats;

	engine_stats(call->engine, &stats);
	return routes_reply_json(reply, MHD_HTTP_OK, render_stats(&stats), err);
}

/* The engine result an SSE hub error stands for; the stream's calls keep errno values. */
static enum engine_result
stream_result(int rc)
{
	switch (rc) {
	case -ENOBUFS:
		return ENGINE_LIMIT_REACHED;
	case -ESHUTDOWN:
		return ENGINE_STOPPING;
	case -ENOMEM:
		return ENGINE_NO_MEMORY;
	default:
		return ENGINE_OK;	/* not the engine's: errors_engine calls it internal */
	}
}

int
handlers_events(const struct call *call, struct reply *reply, struct problem *err)
{
	const struct request_param *connection = routes_param(call, "connection");
	struct sse_filter filter = { .by_connection = connection != NULL };
	struct errors_subject subject = {
		.op = ERRORS_OP_SUBSCRIBE, .limits = &call->server->limits };
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
	rc = http_may_wait(call->server, err);
	if (rc != 0)
		return rc;
	rc = sse_response(call->server->hub, call->connection, &filter, last_seen, &reply->stream);
	if (rc != 0)
		return errors_engine(stream_result(rc), &subject, err);
	reply->status = MHD_HTTP_OK;
	return 0;
}

/* Reports the route patterns, "/v1/connections/{id}/send", as the rows of server->http. */
int
handlers_metrics(const struct call *call, struct reply *reply, struct problem *err)
{
	size_t count = routes_count();	/* below METRICS_ROUTE_MAX; see routes.c */
	char labels[METRICS_ROUTE_MAX][OBSERVE_ROUTE_LABEL_MAX];
	const char *names[METRICS_ROUTE_MAX];
	struct metrics_input in = {
		.http = &call->server->http,
		.routes = names,
		.route_count = count + 1,
	};
	char *text = NULL;
	size_t i, len;

	for (i = 0; i < count; i++) {
		routes_label(i, labels[i], sizeof(labels[i]));
		names[i] = labels[i];
	}
	names[count] = "other";
	engine_stats(call->engine, &in.stats);
	engine_count_by_state(call->engine, in.by_state);
	sse_hub_counts(call->server->hub, &in.sse_clients, &in.sse_dropped);
	if (metrics_render(&in, &text, &len) != 0)
		return errors_render_failed(err);
	return routes_reply_text(reply, text, "text/plain; version=0.0.4; charset=utf-8", err);
}
