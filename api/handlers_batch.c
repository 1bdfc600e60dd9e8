/*
 * handlers_batch: the handlers of /v1/batches: list, start, get (and wait
 * until done), stop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "api_internal.h"
#include "errors.h"
#include "render.h"

int
handlers_batch_list(const struct call *call, struct reply *reply, struct problem *err)
{
	struct errors_subject subject = { .noun = "batch" };
	struct engine_batch_view *batches = NULL;
	enum engine_result result;
	size_t count = 0;
	int rc;

	result = engine_batch_list(call->engine, &batches, &count);
	if (result != ENGINE_OK)
		return errors_engine(result, &subject, err);
	rc = routes_reply_json(reply, MHD_HTTP_OK, render_batch_list(batches, count), err);
	free(batches);
	return rc;
}

int
handlers_batch_start(const struct call *call, struct reply *reply, struct problem *err)
{
	struct errors_subject subject = { .op = ERRORS_OP_BATCH, .limits = &call->server->limits };
	struct engine_batch_params params;
	struct engine_batch_view batch;
	enum engine_result result;
	int rc;

	rc = request_parse_batch(call->body->data, call->body->len, routes_content_type(call),
	    &params, err);
	if (rc != 0)
		return rc;
	result = engine_batch_start(call->engine, &params, &batch);
	if (result != ENGINE_OK)
		return errors_engine(result, &subject, err);
	snprintf(reply->location, sizeof(reply->location), API_BATCHES_PATH "/%" PRIu64, batch.id);
	/* 202: the batch runs on after the answer. */
	return routes_reply_json(reply, MHD_HTTP_ACCEPTED, render_batch(&batch), err);
}

int
handlers_batch_get(const struct call *call, struct reply *reply, struct problem *err)
{
	struct request_wait wait;
	int rc;

	rc = request_parse_batch_wait(routes_param(call, "wait_for"),
	    routes_param(call, "timeout_ms"), &wait, err);
	if (rc != 0)
		return rc;
	return waiting_get(call, &wait, WAITING_BATCH, reply, err);
}

int
handlers_batch_stop(const struct call *call, struct reply *reply, struct problem *err)
{
	struct errors_subject subject = { .noun = "batch", .id = call->id };
	struct engine_batch_view batch;
	enum engine_result result;

	result = engine_batch_stop(call->engine, call->id, &batch);
	if (result != ENGINE_OK)
		return errors_engine(result, &subject, err);
	return routes_reply_json(reply, MHD_HTTP_OK, render_batch(&batch), err);
}
