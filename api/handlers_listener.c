/*
 * handlers_listener: the handlers of /v1/listeners and /v1/listeners/{id}:
 * list, listen, get (and wait for accepted connections), unlisten.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "api_internal.h"
#include "errors.h"
#include "render.h"

int
handlers_listener_list(const struct call *call, struct reply *reply, struct problem *err)
{
	struct engine_listener_view *listeners = NULL;
	struct errors_subject subject = { .noun = "listener" };
	struct engine_page page;
	enum engine_result result;
	size_t count = 0;
	bool more;
	int rc;

	rc = routes_page(call, &page, err);
	if (rc != 0)
		return rc;
	result = engine_listener_list(call->engine, &page, &listeners, &count, &more);
	if (result != ENGINE_OK)
		return errors_engine(result, &subject, err);
	rc = routes_reply_page(reply, render_listener_list(listeners, count), API_LISTENERS_PATH,
	    NULL, &page, more, count > 0 ? listeners[count - 1].id : 0, err);
	free(listeners);
	return rc;
}

int
handlers_listener_listen(const struct call *call, struct reply *reply, struct problem *err)
{
	struct errors_subject subject = { .op = ERRORS_OP_LISTEN, .limits = &call->server->limits };
	struct engine_listener_view listener;
	struct request_listen params;
	enum engine_result result;
	int rc;

	rc = request_parse_listen(call->body->data, call->body->len, routes_content_type(call),
	    &params, err);
	if (rc != 0)
		return rc;
	result = engine_listen(call->engine, params.port, params.backlog, &listener);
	if (result != ENGINE_OK) {
		subject.port = params.port;
		return errors_engine(result, &subject, err);
	}
	snprintf(reply->location, sizeof(reply->location), API_LISTENERS_PATH "/%" PRIu64,
	    listener.id);
	return routes_reply_json(reply, MHD_HTTP_CREATED, render_listener(&listener), err);
}

int
handlers_listener_get(const struct call *call, struct reply *reply, struct problem *err)
{
	struct request_wait wait;
	int rc;

	rc = request_parse_accepted_wait(routes_param(call, "wait_accepted"),
	    routes_param(call, "timeout_ms"), &wait, err);
	if (rc != 0)
		return rc;
	return waiting_get(call, &wait, WAITING_LISTENER, reply, err);
}

int
handlers_listener_unlisten(const struct call *call, struct reply *reply, struct problem *err)
{
	struct errors_subject subject = { .noun = "listener", .id = call->id };
	struct engine_listener_view listener;
	enum engine_result result;

	result = engine_unlisten(call->engine, call->id, &listener);
	if (result != ENGINE_OK)
		return errors_engine(result, &subject, err);
	return routes_reply_json(reply, MHD_HTTP_OK, render_listener(&listener), err);
}
