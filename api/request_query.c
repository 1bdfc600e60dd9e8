/*
 * request_query: validation of the query string and of the id in a path,
 * as pure functions; request.h states the rules they share with request.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jsonfield.h"
#include "request.h"

int
request_check_query(const struct request_param *params, size_t count,
    const char *const *allowed, struct problem *err)
{
	size_t i, j;

	for (i = 0; i < count; i++) {
		for (j = 0; allowed[j] != NULL; j++) {
			if (strcmp(params[i].name, allowed[j]) == 0)
				break;
		}
		if (allowed[j] == NULL) {
			problem_set(err, PROBLEM_INVALID_FIELD, params[i].name,
			    "unknown query parameter '%.*s'", JSONFIELD_QUOTE_MAX, params[i].name);
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(params[i].name, params[j].name) == 0) {
				problem_set(err, PROBLEM_INVALID_FIELD, params[i].name,
				    "query parameter '%.*s' is given more than once",
				    JSONFIELD_QUOTE_MAX, params[i].name);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* Parses a state name as the value of the query parameter called field. */
static int
parse_state_param(const char *field, const char *value, enum tcpinfo_state *out,
    struct problem *err)
{
	if (value == NULL || tcpinfo_state_parse(value, out) != 0) {
		problem_set(err, PROBLEM_INVALID_FIELD, field,
		    "%s must be a TCP state name such as ESTABLISHED, not '%.*s'",
		    field, JSONFIELD_QUOTE_MAX, value == NULL ? "" : value);
		return -EINVAL;
	}
	return 0;
}

int
request_parse_state_filter(const char *value, enum tcpinfo_state *out, struct problem *err)
{
	return parse_state_param("state", value, out, err);
}

int
request_parse_close_mode(const char *value, enum engine_close_mode *out, struct problem *err)
{
	if (value != NULL && strcmp(value, "graceful") == 0) {
		*out = ENGINE_CLOSE_GRACEFUL;
		return 0;
	}
	if (value != NULL && strcmp(value, "abort") == 0) {
		*out = ENGINE_CLOSE_ABORT;
		return 0;
	}
	problem_set(err, PROBLEM_INVALID_FIELD, "mode",
	    "mode must be 'graceful' or 'abort', not '%.*s'",
	    JSONFIELD_QUOTE_MAX, value == NULL ? "" : value);
	return -EINVAL;
}

/* Parses len bytes of 1 to 19 decimal digits, at most max. Returns 0 or -EINVAL. */
static int
parse_decimal(const char *text, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t value = 0;
	size_t i;

	/* Nineteen digits always fit in 64 bits, so the sum below cannot overflow. */
	if (len == 0 || len > 19)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -EINVAL;
		value = value * 10 + (uint64_t)(text[i] - '0');
	}
	if (value > max)
		return -EINVAL;
	*out = value;
	return 0;
}

/* Parses the value of a decimal query parameter called field, from 0 to max. */
static int
parse_count_param(const char *field, const char *value, uint64_t max, uint64_t *out,
    struct problem *err)
{
	if (value == NULL || parse_decimal(value, strlen(value), max, out) != 0) {
		problem_set(err, PROBLEM_INVALID_FIELD, field,
		    "%s must be a decimal integer from 0 to %" PRIu64 ", not '%.*s'",
		    field, max, JSONFIELD_QUOTE_MAX, value == NULL ? "" : value);
		return -EINVAL;
	}
	return 0;
}

/* Parses ?timeout_ms= for a wait that wait names, or refuses it without one. */
static int
parse_wait_timeout(const struct request_param *wait, const char *wait_name,
    const struct request_param *timeout_ms, struct request_wait *out, struct problem *err)
{
	uint64_t ms = REQUEST_WAIT_TIMEOUT_DEFAULT_MS;
	int rc;

	if (timeout_ms != NULL && wait == NULL) {
		problem_set(err, PROBLEM_INVALID_FIELD, "timeout_ms",
		    "timeout_ms is only allowed together with %s", wait_name);
		return -EINVAL;
	}
	if (timeout_ms != NULL) {
		rc = parse_count_param("timeout_ms", timeout_ms->value, ENGINE_WAIT_TIMEOUT_MAX_MS,
		    &ms, err);
		if (rc != 0)
			return rc;
	}
	out->requested = wait != NULL;
	out->timeout_ms = (uint32_t)ms;
	return 0;
}

int
request_parse_state_wait(const struct request_param *wait_for,
    const struct request_param *timeout_ms, struct request_wait *out, struct problem *err)
{
	struct request_wait wait = { .state = TCPINFO_CLOSED };
	int rc;

	if (wait_for != NULL) {
		rc = parse_state_param("wait_for", wait_for->value, &wait.state, err);
		if (rc != 0)
			return rc;
	}
	rc = parse_wait_timeout(wait_for, "wait_for", timeout_ms, &wait, err);
	if (rc != 0)
		return rc;
	*out = wait;
	return 0;
}

int
request_parse_accepted_wait(const struct request_param *wait_accepted,
    const struct request_param *timeout_ms, struct request_wait *out, struct problem *err)
{
	struct request_wait wait = { .accepted = 0 };
	int rc;

	if (wait_accepted != NULL) {
		rc = parse_count_param("wait_accepted", wait_accepted->value,
		    REQUEST_WAIT_ACCEPTED_MAX, &wait.accepted, err);
		if (rc != 0)
			return rc;
	}
	rc = parse_wait_timeout(wait_accepted, "wait_accepted", timeout_ms, &wait, err);
	if (rc != 0)
		return rc;
	*out = wait;
	return 0;
}

int
request_parse_page(const struct request_param *limit, const struct request_param *after,
    struct engine_page *out, struct problem *err)
{
	uint64_t n = REQUEST_PAGE_DEFAULT, id = 0;
	int rc;

	if (limit != NULL && (limit->value == NULL ||
	    parse_decimal(limit->value, strlen(limit->value), ENGINE_PAGE_MAX, &n) != 0 || n == 0)) {
		problem_set(err, PROBLEM_INVALID_FIELD, "limit",
		    "limit must be a decimal integer from 1 to %u, not '%.*s'", ENGINE_PAGE_MAX,
		    JSONFIELD_QUOTE_MAX, limit->value == NULL ? "" : limit->value);
		return -EINVAL;
	}
	if (after != NULL) {
		rc = parse_count_param("after", after->value, UINT64_MAX, &id, err);
		if (rc != 0)
			return rc;
	}
	*out = (struct engine_page){ .after = id, .limit = (size_t)n };
	return 0;
}

int
request_parse_batch_wait(const struct request_param *wait_for,
    const struct request_param *timeout_ms, struct request_wait *out, struct problem *err)
{
	struct request_wait wait = { .accepted = 0 };
	int rc;

	if (wait_for != NULL && (wait_for->value == NULL || strcmp(wait_for->value, "done") != 0)) {
		problem_set(err, PROBLEM_INVALID_FIELD, "wait_for",
		    "wait_for must be 'done' on a batch, not '%.*s'", JSONFIELD_QUOTE_MAX,
		    wait_for->value == NULL ? "" : wait_for->value);
		return -EINVAL;
	}
	rc = parse_wait_timeout(wait_for, "wait_for", timeout_ms, &wait, err);
	if (rc != 0)
		return rc;
	*out = wait;
	return 0;
}

int
request_parse_peek(const char *value, bool *peek, struct problem *err)
{
	if (value != NULL && (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)) {
		*peek = value[0] == 't';
		return 0;
	}
	problem_set(err, PROBLEM_INVALID_FIELD, "peek", "peek must be 'true' or 'false', not '%.*s'",
	    JSONFIELD_QUOTE_MAX, value == NULL ? "" : value);
	return -EINVAL;
}

int
request_parse_timeline_format(const char *value, enum request_timeline_format *out,
    struct problem *err)
{
	static const char *const names[] = {
		[REQUEST_TIMELINE_JSON] = "json",
		[REQUEST_TIMELINE_TEXT] = "text",
		[REQUEST_TIMELINE_SVG] = "svg",
		[REQUEST_TIMELINE_MERMAID] = "mermaid",
	};

	for (size_t i = 0; value != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(value, names[i]) == 0) {
			*out = (enum request_timeline_format)i;
			return 0;
		}
	}
	problem_set(err, PROBLEM_INVALID_FIELD, "format",
	    "format must be 'json', 'text', 'svg' or 'mermaid', not '%.*s'",
	    JSONFIELD_QUOTE_MAX, value == NULL ? "" : value);
	return -EINVAL;
}

int
request_parse_connection_filter(const char *value, uint64_t *out, struct problem *err)
{
	return parse_count_param("connection", value, UINT64_MAX, out, err);
}

int
request_parse_last_event_id(const char *value, uint64_t *out, struct problem *err)
{
	if (value == NULL || value[0] == '\0') {
		*out = 0;
		return 0;
	}
	return parse_count_param("Last-Event-ID", value, UINT64_MAX, out, err);
}

int
request_parse_id(const char *text, size_t len, uint64_t *out)
{
	/* One spelling per id: "01" would name the same resource as "1". */
	if (len > 1 && text[0] == '0')
		return -EINVAL;
	return parse_decimal(text, len, UINT64_MAX, out);
}
