/*
 * fuzz_http: libFuzzer harness for the HTTP request path, from the raw
 * bytes a client sends to the validated arguments of a handler, without
 * sockets and without libmicrohttpd's connection.
 *
 * The input is what arrives on a connection. The gate's check
 * (httphead_check) runs on it as it does on peeked bytes; a request it
 * passes is split as libmicrohttpd would split it (method, path, query
 * parameters, body), then routed and its method and query checked
 * (routes_check), and the parameters and body validated by the parser the
 * handler would call. It stops there, before the engine: every problem on
 * the way is rendered, as it would be answered.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_internal.h"
#include "faultjson.h"
#include "httphead.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A request as libmicrohttpd would hand it over. */
struct split {
	char *method;
	char *path;
	struct query query;
	const char *content_type;
	const char *body;
	size_t body_len;
};

/* Renders a problem as the server would answer it, so its text is checked too. */
static void
render(const struct problem *err)
{
	free(problem_render(err));
}

static const struct request_param *
param(const struct query *query, const char *name)
{
	for (size_t i = 0; i < query->count; i++) {
		if (strcmp(query->params[i].name, name) == 0)
			return &query->params[i];
	}
	return NULL;
}

/* Splits "a=1&b" into parameters, in place, as many as a query holds. */
static void
split_query(char *text, struct query *query)
{
	char *pair, *save = NULL, *eq;

	for (pair = strtok_r(text, "&", &save); pair != NULL && query->count < API_QUERY_MAX;
	    pair = strtok_r(NULL, "&", &save)) {
		eq = strchr(pair, '=');
		if (eq != NULL)
			*eq++ = '\0';
		query->params[query->count].name = pair;
		query->params[query->count].value = eq;
		query->count++;
	}
}

/* Finds the Content-Type among the head's lines (NUL-terminated, CRLF-separated). */
static const char *
find_content_type(char *fields)
{
	static const char name[] = "content-type:";
	char *line, *save = NULL;

	for (line = strtok_r(fields, "\r\n", &save); line != NULL; line = strtok_r(NULL, "\r\n", &save)) {
		if (strncasecmp(line, name, sizeof(name) - 1) == 0)
			return line + sizeof(name) - 1 + strspn(line + sizeof(name) - 1, " \t");
	}
	return NULL;
}

/* Splits a checked head, copied to text, into its parts; the checks guarantee its shape. */
static void
split_request(char *text, const char *raw, size_t size, const struct httphead *head,
    struct split *out)
{
	char *target, *version, *query;

	text += strspn(text, "\r\n");
	out->method = text;
	target = strchr(text, ' ');
	*target++ = '\0';
	version = strchr(target, ' ');
	*version++ = '\0';
	query = strchr(target, '?');
	if (query != NULL) {
		*query++ = '\0';
		split_query(query, &out->query);
	}
	out->path = target;
	out->content_type = find_content_type(version);
	out->body = raw + head->head_len;
	out->body_len = size - head->head_len;
	if (!head->chunked && out->body_len > head->content_length)
		out->body_len = (size_t)head->content_length;
}

/* Runs the parser the handler would run on the parameters and the body. */
static int
validate(handler_fn *handle, const struct split *req, struct problem *err)
{
	const struct query *q = &req->query;
	struct engine_open_params open;
	struct fault_spec fault;
	struct request_listen listen;
	enum engine_shutdown_how how;
	enum engine_close_mode mode;
	struct request_send send;
	struct request_wait wait;
	enum tcpinfo_state state;
	struct engine_page page;
	uint64_t id;
	enum request_timeline_format format;
	bool flag;
	int rc;

	if (handle == handlers_fault_create)
		return faultjson_parse(req->body, req->body_len, req->content_type, &fault, err);
	if (handle == handlers_conn_open)
		return request_parse_open(req->body, req->body_len, req->content_type, &open, err);
	if (handle == handlers_listener_listen)
		return request_parse_listen(req->body, req->body_len, req->content_type, &listen, err);
	if (handle == handlers_conn_shutdown)
		return request_parse_shutdown(req->body, req->body_len, req->content_type, &how, err);
	if (handle == handlers_conn_expire)
		return request_parse_expire(req->body, req->body_len, req->content_type, err);
	if (handle == handlers_conn_send) {
		rc = request_parse_send(req->body, req->body_len, req->content_type, &send, err);
		if (rc == 0)
			request_send_free(&send);
		return rc;
	}
	if (handle == handlers_conn_get)
		return request_parse_state_wait(param(q, "wait_for"), param(q, "timeout_ms"), &wait,
		    err);
	if (handle == handlers_listener_get)
		return request_parse_accepted_wait(param(q, "wait_accepted"), param(q, "timeout_ms"),
		    &wait, err);
	if (handle == handlers_conn_list && param(q, "state") != NULL &&
	    (rc = request_parse_state_filter(param(q, "state")->value, &state, err)) != 0)
		return rc;
	if (handle == handlers_conn_list || handle == handlers_listener_list ||
	    handle == handlers_fault_list)
		return request_parse_page(param(q, "limit"), param(q, "after"), &page, err);
	if (handle == handlers_conn_close && param(q, "mode") != NULL)
		return request_parse_close_mode(param(q, "mode")->value, &mode, err);
	if (handle == handlers_conn_data && param(q, "peek") != NULL)
		return request_parse_peek(param(q, "peek")->value, &flag, err);
	if (handle == handlers_conn_timeline && param(q, "format") != NULL)
		return request_parse_timeline_format(param(q, "format")->value, &format, err);
	if (handle == handlers_events && param(q, "connection") != NULL)
		return request_parse_connection_filter(param(q, "connection")->value, &id, err);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct split req = { .method = NULL };
	const char *raw = (const char *)data;
	const struct route *route;
	const char *allow = NULL;
	handler_fn *handle = NULL;
	struct httphead head;
	struct problem err;
	uint64_t id = 0;
	char *text;
	int rc;

	if (size > HTTPHEAD_PEEK_MAX)
		return 0;
	rc = httphead_check(raw, size, &head, &err);
	if (rc != 0) {
		/* -EAGAIN: well formed so far, and no problem to answer yet. */
		if (rc != -EAGAIN)
			render(&err);
		return 0;
	}
	text = malloc(head.head_len + 1);
	if (text == NULL)
		return 0;
	memcpy(text, raw, head.head_len);
	text[head.head_len] = '\0';
	split_request(text, raw, size, &head, &req);
	route = routes_find(req.path, &id);
	if (request_check_body_size(head.content_length, &err) != 0 ||
	    routes_check(route, req.path, req.method, &req.query, &handle, &allow, &err) != 0 ||
	    validate(handle, &req, &err) != 0)
		render(&err);
	free(text);
	return 0;
}
