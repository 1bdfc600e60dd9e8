/*
 * routes: the route table, finding a path's route, dispatching a request to
 * its handler after checking the method and the query, and the replies
 * handlers fill.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "errors.h"

/* How much of an untrusted path or method a detail quotes. */
#define ROUTES_PATH_QUOTE_MAX 200
#define ROUTES_METHOD_QUOTE_MAX 32

static const char *const no_params[] = { NULL };
static const char *const list_params[] = { "state", "limit", "after", NULL };
static const char *const page_params[] = { "limit", "after", NULL };
static const char *const close_params[] = { "mode", NULL };
static const char *const get_params[] = { "wait_for", "timeout_ms", NULL };
static const char *const listener_get_params[] = { "wait_accepted", "timeout_ms", NULL };
static const char *const timeline_params[] = { "format", NULL };
static const char *const data_params[] = { "peek", NULL };
static const char *const events_params[] = { "connection", NULL };
static const char *const capture_params[] = { "connection", NULL };

static const struct route routes[] = {
	{ "/healthz", NULL, NULL, "GET, HEAD", handlers_healthz, no_params, NULL, NULL, NULL, NULL },
	{ "/v1/interface", NULL, NULL, "GET, HEAD", handlers_interface, no_params, NULL, NULL,
	    NULL, NULL },
	{ "/v1/stats", NULL, NULL, "GET, HEAD", handlers_stats, no_params, NULL, NULL, NULL, NULL },
	{ API_CONNECTIONS_PATH, NULL, NULL, "GET, HEAD, POST", handlers_conn_list, list_params,
	    MHD_HTTP_METHOD_POST, handlers_conn_open, no_params, NULL },
	{ API_CONNECTIONS_PATH "/", "", "connection", "GET, HEAD, DELETE", handlers_conn_get,
	    get_params, MHD_HTTP_METHOD_DELETE, handlers_conn_close, close_params, NULL },
	{ API_CONNECTIONS_PATH "/", "/shutdown", "connection", "POST", NULL, NULL,
	    MHD_HTTP_METHOD_POST, handlers_conn_shutdown, no_params, NULL },
	{ API_CONNECTIONS_PATH "/", "/expire", "connection", "POST", NULL, NULL,
	    MHD_HTTP_METHOD_POST, handlers_conn_expire, no_params, NULL },
	{ API_CONNECTIONS_PATH "/", "/send", "connection", "POST", NULL, NULL,
	    MHD_HTTP_METHOD_POST, handlers_conn_send, no_params, NULL },
	{ API_CONNECTIONS_PATH "/", "/data", "connection", "GET, HEAD", handlers_conn_data,
	    data_params, NULL, NULL, NULL, NULL },
	{ API_CONNECTIONS_PATH "/", "/timeline", "connection", "GET, HEAD",
	    handlers_conn_timeline, timeline_params, NULL, NULL, NULL, NULL },
	{ API_CONNECTIONS_PATH "/", "/capture", "connection", "GET, HEAD",
	    handlers_conn_capture, no_params, NULL, NULL, NULL, NULL },
	{ "/v1/events", NULL, NULL, "GET", handlers_events, events_params, NULL, NULL,
	    NULL, NULL },
	{ "/v1/capture", NULL, NULL, "GET", handlers_capture, capture_params, NULL, NULL,
	    NULL, NULL },
	{ "/metrics", NULL, NULL, "GET, HEAD", handlers_metrics, no_params, NULL, NULL, NULL, NULL },
	{ API_LISTENERS_PATH, NULL, NULL, "GET, HEAD, POST", handlers_listener_list, page_params,
	    MHD_HTTP_METHOD_POST, handlers_listener_listen, no_params, NULL },
	{ API_LISTENERS_PATH "/", "", "listener", "GET, HEAD, DELETE", handlers_listener_get,
	    listener_get_params, MHD_HTTP_METHOD_DELETE, handlers_listener_unlisten, no_params, NULL },
	{ API_FAULTS_PATH, NULL, NULL, "GET, HEAD, POST, DELETE", handlers_fault_list, page_params,
	    MHD_HTTP_METHOD_POST, handlers_fault_create, no_params, handlers_fault_clear },
	{ API_FAULTS_PATH "/", "", "fault rule", "GET, HEAD, DELETE", handlers_fault_get,
	    no_params, MHD_HTTP_METHOD_DELETE, handlers_fault_remove, no_params, NULL },
	{ API_BATCHES_PATH, NULL, NULL, "GET, HEAD, POST", handlers_batch_list, no_params,
	    MHD_HTTP_METHOD_POST, handlers_batch_start, no_params, NULL },
	{ API_BATCHES_PATH "/", "", "batch", "GET, HEAD, DELETE", handlers_batch_get, get_params,
	    MHD_HTTP_METHOD_DELETE, handlers_batch_stop, no_params, NULL },
};

#define ROUTES_COUNT (sizeof(routes) / sizeof(routes[0]))
/* The metrics table has a row for each route and one for paths with none. */
_Static_assert(ROUTES_COUNT < METRICS_ROUTE_MAX, "metrics_http has too few routes");

size_t
routes_index(const struct route *route)
{
	return route != NULL ? (size_t)(route - routes) : ROUTES_COUNT;
}

const struct route *
routes_healthz(void)
{
	return &routes[0];
}

size_t
routes_count(void)
{
	return ROUTES_COUNT;
}

void
routes_label(size_t i, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", routes[i].path, routes[i].after_id != NULL ? "{id}" : "",
	    routes[i].after_id != NULL ? routes[i].after_id : "");
}

const struct route *
routes_find(const char *path, uint64_t *id)
{
	const char *id_text;
	size_t i, len, id_len;

	for (i = 0; i < ROUTES_COUNT; i++) {
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

const struct request_param *
routes_param(const struct call *call, const char *name)
{
	const struct query *query = call->query;

	for (size_t i = 0; i < query->count; i++) {
		if (strcmp(query->params[i].name, name) == 0)
			return &query->params[i];
	}
	return NULL;
}

const char *
routes_content_type(const struct call *call)
{
	return MHD_lookup_connection_value(call->connection, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
}

int
routes_reply_json(struct reply *reply, unsigned int status, json_t *body, struct problem *err)
{
	if (body == NULL)
		return errors_render_failed(err);
	reply->status = status;
	reply->body = body;
	return 0;
}

int
routes_page(const struct call *call, struct engine_page *out, struct problem *err)
{
	return request_parse_page(routes_param(call, "limit"), routes_param(call, "after"), out, err);
}

int
routes_reply_page(struct reply *reply, json_t *body, const char *path, const char *state,
    const struct engine_page *page, bool more, uint64_t last, struct problem *err)
{
	if (more)
		snprintf(reply->link, sizeof(reply->link),
		    "<%s?%s%s%slimit=%zu&after=%" PRIu64 ">; rel=\"next\"", path,
		    state != NULL ? "state=" : "", state != NULL ? state : "", state != NULL ? "&" : "",
		    page->limit, last);
	return routes_reply_json(reply, MHD_HTTP_OK, body, err);
}

int
routes_reply_text(struct reply *reply, char *text, const char *content_type, struct problem *err)
{
	if (text == NULL)
		return errors_render_failed(err);
	reply->status = MHD_HTTP_OK;
	reply->text = text;
	reply->content_type = content_type;
	return 0;
}

int
routes_reply_problem(struct reply *reply, const struct problem *p, json_t *body,
    struct problem *err)
{
	if (body == NULL)
		return errors_render_failed(err);
	reply->status = problem_status(p);
	reply->body = body;
	reply->is_problem = true;
	return 0;
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

int
routes_check(const struct route *route, const char *path, const char *method,
    const struct query *query, handler_fn **handle, const char **allow, struct problem *err)
{
	bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	const char *const *params;

	if (route == NULL) {
		problem_set(err, PROBLEM_NOT_FOUND, NULL, "no resource at path '%.*s%s'",
		    ROUTES_PATH_QUOTE_MAX, path, strlen(path) > ROUTES_PATH_QUOTE_MAX ? "..." : "");
		return -ENOENT;
	}
	/* A stream has no headers-only form, so its route leaves HEAD out of Allow. */
	if (route->get != NULL && (strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	    (head && strstr(route->allow, MHD_HTTP_METHOD_HEAD) != NULL))) {
		*handle = route->get;
		params = route->get_params;
	} else if (route->change_method != NULL && strcmp(method, route->change_method) == 0) {
		*handle = route->change;
		params = route->change_params;
	} else if (route->remove != NULL && strcmp(method, MHD_HTTP_METHOD_DELETE) == 0) {
		*handle = route->remove;
		params = route->change_params;
	} else {
		*allow = route->allow;
		problem_set(err, PROBLEM_METHOD_NOT_ALLOWED, NULL,
		    "method %.*s is not allowed here; use one of %s",
		    ROUTES_METHOD_QUOTE_MAX, method, route->allow);
		return -EPERM;
	}
	return request_check_query(query->params, query->count, params, err);
}

int
routes_dispatch(struct api_server *server, struct MHD_Connection *connection, const char *url,
    const char *method, struct exchange *exchange, struct reply *reply, const char **allow,
    struct problem *err)
{
	struct query query = { .count = 0 };
	struct call call = {
		.server = server,
		.engine = server->engine,
		.connection = connection,
		.route = exchange->route,
		.id = exchange->id,
		.head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0,
		.query = &query,
		.body = &exchange->body,
		.exchange = exchange,
	};
	handler_fn *handle = NULL;
	int rc;

	MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, collect_param, &query);
	rc = routes_check(exchange->route, url, method, &query, &handle, allow, err);
	if (rc != 0)
		return rc;
	return handle(&call, reply, err);
}
