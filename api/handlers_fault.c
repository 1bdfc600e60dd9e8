/*
 * handlers_fault: the handlers of /v1/faults and /v1/faults/{id}: list,
 * create, get, remove one, remove all.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "api_internal.h"
#include "errors.h"
#include "faultjson.h"

/* A page holds at most this many rules, the cap of --max-fault-rules. */
#define HANDLERS_FAULTS_MAX 4096
/* Rules copied per engine call, so that the core lock is held briefly. */
#define HANDLERS_FAULTS_CHUNK 256

/* Copies a page of rules and one more, if there is one, into rules; returns how many. */
static size_t
fault_page(struct engine *engine, const struct engine_page *page, struct fault_rule_view *rules)
{
	size_t n = 0, want, got;
	uint64_t after = page->after;

	while (n <= page->limit) {
		want = page->limit + 1 - n < HANDLERS_FAULTS_CHUNK ? page->limit + 1 - n :
		    HANDLERS_FAULTS_CHUNK;
		got = engine_fault_list(engine, after, rules + n, want);
		n += got;
		if (got < want)
			break;
		after = rules[n - 1].id;
	}
	return n;
}

int
handlers_fault_list(const struct call *call, struct reply *reply, struct problem *err)
{
	struct fault_rule_view *rules;
	struct engine_page page;
	json_t *list, *body;
	size_t count;
	bool more;
	int rc;

	rc = routes_page(call, &page, err);
	if (rc != 0)
		return rc;
	if (page.limit > HANDLERS_FAULTS_MAX)
		page.limit = HANDLERS_FAULTS_MAX;
	rules = calloc(page.limit + 1, sizeof(*rules));
	if (rules == NULL)
		return errors_render_failed(err);
	count = fault_page(call->engine, &page, rules);
	more = count > page.limit;
	if (more)
		count = page.limit;
	list = json_array();
	for (size_t i = 0; list != NULL && i < count; i++) {
		if (json_array_append_new(list, faultjson_render(&rules[i])) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	body = list != NULL ? json_pack("{s:o}", "faults", list) : NULL;
	rc = routes_reply_page(reply, body, API_FAULTS_PATH, NULL, &page, more,
	    count > 0 ? rules[count - 1].id : 0, err);
	free(rules);
	return rc;
}

int
handlers_fault_create(const struct call *call, struct reply *reply, struct problem *err)
{
	struct errors_subject subject = { .op = ERRORS_OP_FAULT, .limits = &call->server->limits };
	struct fault_rule_view rule;
	enum engine_result result;
	struct fault_spec spec;
	int rc;

	rc = faultjson_parse(call->body->data, call->body->len, routes_content_type(call), &spec,
	    err);
	if (rc != 0)
		return rc;
	result = engine_fault_add(call->engine, &spec, &rule);
	if (result != ENGINE_OK)
		return errors_engine(result, &subject, err);
	snprintf(reply->location, sizeof(reply->location), API_FAULTS_PATH "/%" PRIu64, rule.id);
	return routes_reply_json(reply, MHD_HTTP_CREATED, faultjson_render(&rule), err);
}

int
handlers_fault_clear(const struct call *call, struct reply *reply, struct problem *err)
{
	size_t removed = engine_fault_clear(call->engine);

	return routes_reply_json(reply, MHD_HTTP_OK, json_pack("{s:I}", "removed",
	    (json_int_t)removed), err);
}

int
handlers_fault_get(const struct call *call, struct reply *reply, struct problem *err)
{
	struct errors_subject subject = { .noun = "fault rule", .id = call->id };
	struct fault_rule_view rule;
	enum engine_result result;

	result = engine_fault_get(call->engine, call->id, &rule);
	if (result != ENGINE_OK)
		return errors_engine(result, &subject, err);
	return routes_reply_json(reply, MHD_HTTP_OK, faultjson_render(&rule), err);
}

int
handlers_fault_remove(const struct call *call, struct reply *reply, struct problem *err)
{
	struct errors_subject subject = { .noun = "fault rule", .id = call->id };
	struct fault_rule_view rule;
	enum engine_result result;

	result = engine_fault_remove(call->engine, call->id, &rule);
	if (result != ENGINE_OK)
		return errors_engine(result, &subject, err);
	return routes_reply_json(reply, MHD_HTTP_OK, faultjson_render(&rule), err);
}
