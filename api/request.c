/*
 * DESIGN: checks run in a fixed order so a request with several faults always
 * gets the same answer: body size, Content-Type, JSON syntax, unknown
 * members, then the known members in the order their parser lists them
 * (remote_ip, remote_port, local_port; port, backlog; data, data_base64,
 * size). The first fault wins. Query parameters follow the same rule: the
 * parameter that asks for a wait, then timeout_ms.
 *
 * Content-Type rule: application/json and any application/<x>+json are JSON,
 * in any letter case and with any parameters (e.g. "; charset=utf-8").
 * A body with no Content-Type (or an empty one) or with
 * application/x-www-form-urlencoded, curl's default for -d, is taken as
 * JSON only when its first non-whitespace byte is '{' or '['; this keeps
 * `curl -d '{...}'` working without accepting form data. Every other type
 * is refused with 415. A page on another origin could send such a form
 * without asking first, but browsers name its origin, and origin.c
 * refuses it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "jsonfield.h"
#include "request.h"

/* The first allocation for a body; it doubles from there up to REQUEST_BODY_MAX. */
#define REQUEST_BODY_INITIAL 1024

/* "255.255.255.255" */
#define REQUEST_IPV4_TEXT_MAX 15

int
request_body_append(struct request_body *body, const char *data, size_t size)
{
	size_t cap;
	char *grown;

	body->received = size > UINT64_MAX - body->received ? UINT64_MAX : body->received + size;
	/* Past the limit the body will be refused, so only the count matters. */
	if (body->received > REQUEST_BODY_MAX)
		return 0;
	if (body->len + size > body->cap) {
		cap = body->cap == 0 ? REQUEST_BODY_INITIAL : body->cap;
		while (cap < body->len + size)
			cap *= 2;
		if (cap > REQUEST_BODY_MAX)
			cap = REQUEST_BODY_MAX;
		grown = realloc(body->data, cap);
		if (grown == NULL)
			return -ENOMEM;
		body->data = grown;
		body->cap = cap;
	}
	memcpy(body->data + body->len, data, size);
	body->len += size;
	return 0;
}

void
request_body_free(struct request_body *body)
{
	if (body == NULL)
		return;
	free(body->data);
	memset(body, 0, sizeof(*body));
}

int
request_check_body_size(uint64_t size, struct problem *err)
{
	if (size <= REQUEST_BODY_MAX)
		return 0;
	problem_set(err, PROBLEM_PAYLOAD_TOO_LARGE, NULL,
	    "the request body exceeds the limit of %d bytes", REQUEST_BODY_MAX);
	return -EMSGSIZE;
}

uint64_t
request_content_length(const char *value)
{
	uint64_t size = 0;
	unsigned int digit;
	const char *p;

	if (value == NULL || value[0] == '\0')
		return 0;
	for (p = value; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		digit = (unsigned int)(*p - '0');
		if (size > (UINT64_MAX - digit) / 10)
			return UINT64_MAX;
		size = size * 10 + digit;
	}
	return size;
}

static bool
is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Finds the "type/subtype" part of a Content-Type value. Returns its length
 * and sets *start, or returns 0 when the value is not of the form
 * OWS type/subtype OWS [";" parameters].
 */
static size_t
media_type_span(const char *content_type, const char **start)
{
	const char *p = content_type + strspn(content_type, " \t");
	size_t len = strcspn(p, " \t;");
	const char *rest = p + len + strspn(p + len, " \t");

	if (*rest != '\0' && *rest != ';')
		return 0;
	*start = p;
	return len;
}

static bool
media_type_is(const char *type, size_t len, const char *expected)
{
	return len == strlen(expected) && strncasecmp(type, expected, len) == 0;
}

static bool
media_type_is_json(const char *type, size_t len)
{
	static const char prefix[] = "application/";
	static const char suffix[] = "+json";
	size_t prefix_len = sizeof(prefix) - 1;
	size_t suffix_len = sizeof(suffix) - 1;

	if (media_type_is(type, len, "application/json"))
		return true;
	return len > prefix_len + suffix_len &&
	    strncasecmp(type, prefix, prefix_len) == 0 &&
	    strncasecmp(type + len - suffix_len, suffix, suffix_len) == 0;
}

static bool
body_looks_like_json(const char *body, size_t len)
{
	size_t i = 0;

	while (i < len && is_json_space(body[i]))
		i++;
	return i < len && (body[i] == '{' || body[i] == '[');
}

int
request_check_content_type(const char *content_type, const char *body, size_t len,
    struct problem *err)
{
	const char *type = NULL;
	size_t type_len;

	if (content_type == NULL || content_type[0] == '\0') {
		if (body_looks_like_json(body, len))
			return 0;
		problem_set(err, PROBLEM_UNSUPPORTED_MEDIA_TYPE, NULL,
		    "a body sent without a Content-Type must start with '{' or '['; "
		    "send it as application/json");
		return -ENOTSUP;
	}
	type_len = media_type_span(content_type, &type);
	if (type_len > 0 && media_type_is_json(type, type_len))
		return 0;
	if (type_len > 0 && media_type_is(type, type_len, "application/x-www-form-urlencoded") &&
	    body_looks_like_json(body, len))
		return 0;
	problem_set(err, PROBLEM_UNSUPPORTED_MEDIA_TYPE, NULL,
	    "Content-Type '%.*s' is not JSON; send the body as application/json",
	    JSONFIELD_QUOTE_MAX, content_type);
	return -ENOTSUP;
}

/*
 * glibc's and musl's inet_pton accept exactly four decimal parts from 0 to
 * 255 and refuse leading zeros ("010.0.0.1"), so no octal or hex form of an
 * address gets through; the unit tests pin that down.
 */
static int
parse_remote_ip(json_t *obj, uint32_t *out, struct problem *err)
{
	json_t *value = json_object_get(obj, "remote_ip");
	struct in_addr addr;
	uint32_t ip;

	if (value == NULL) {
		problem_set(err, PROBLEM_INVALID_FIELD, "remote_ip", "remote_ip is required");
		return -EINVAL;
	}
	if (!json_is_string(value)) {
		problem_set(err, PROBLEM_INVALID_FIELD, "remote_ip",
		    "remote_ip must be a string holding an IPv4 address, not %s",
		    jsonfield_type_name(value));
		return -EINVAL;
	}
	if (json_string_length(value) > REQUEST_IPV4_TEXT_MAX ||
	    inet_pton(AF_INET, json_string_value(value), &addr) != 1) {
		problem_set(err, PROBLEM_INVALID_FIELD, "remote_ip",
		    "remote_ip must be an IPv4 address in dotted-quad form, such as 10.9.0.1");
		return -EINVAL;
	}
	ip = ntohl(addr.s_addr);
	if ((ip >> 24) == 0) {
		problem_set(err, PROBLEM_INVALID_FIELD, "remote_ip",
		    "remote_ip must not be in 0.0.0.0/8, which means this network");
		return -EINVAL;
	}
	if ((ip >> 24) == 127) {
		problem_set(err, PROBLEM_INVALID_FIELD, "remote_ip",
		    "remote_ip must not be a loopback address (127.0.0.0/8)");
		return -EINVAL;
	}
	if ((ip >> 28) == 0xe) {
		problem_set(err, PROBLEM_INVALID_FIELD, "remote_ip",
		    "remote_ip must not be a multicast address (224.0.0.0/4)");
		return -EINVAL;
	}
	if ((ip >> 28) == 0xf) {
		problem_set(err, PROBLEM_INVALID_FIELD, "remote_ip",
		    "remote_ip must not be a reserved or broadcast address (240.0.0.0/4)");
		return -EINVAL;
	}
	*out = addr.s_addr;
	return 0;
}

int
request_parse_open(const char *body, size_t len, const char *content_type,
    struct engine_open_params *out, struct problem *err)
{
	static const char *const known[] = { "remote_ip", "remote_port", "local_port", "timeline",
		NULL };
	struct engine_open_params params = { .local_port = 0 };
	bool timeline = true;
	json_t *root;
	int rc;

	rc = jsonfield_load_object(body, len, content_type, 0, known, &root, err);
	if (rc != 0)
		return rc;
	rc = parse_remote_ip(root, &params.remote.ip, err);
	if (rc != 0)
		goto out;
	rc = jsonfield_port(root, "remote_port", true, &params.remote.port, err);
	if (rc != 0)
		goto out;
	rc = jsonfield_port(root, "local_port", false, &params.local_port, err);
	if (rc != 0)
		goto out;
	rc = jsonfield_boolean(root, "timeline", &timeline, err);
	if (rc != 0)
		goto out;
	params.timeline_off = !timeline;
	*out = params;
out:
	json_decref(root);
	return rc;
}

/* Parses a batch's optional "close": "none", "graceful" or "abort". */
static int
parse_batch_close(json_t *obj, enum engine_batch_close *out, struct problem *err)
{
	static const char *const names[] = {
		[ENGINE_BATCH_CLOSE_NONE] = "none",
		[ENGINE_BATCH_CLOSE_GRACEFUL] = "graceful",
		[ENGINE_BATCH_CLOSE_ABORT] = "abort",
	};
	json_t *value = json_object_get(obj, "close");
	size_t i;

	if (value == NULL)
		return 0;
	for (i = 0; json_is_string(value) && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(json_string_value(value), names[i]) == 0) {
			*out = (enum engine_batch_close)i;
			return 0;
		}
	}
	problem_set(err, PROBLEM_INVALID_FIELD, "close",
	    "close must be \"none\", \"graceful\" or \"abort\"");
	return -EINVAL;
}

int
request_parse_batch(const char *body, size_t len, const char *content_type,
    struct engine_batch_params *out, struct problem *err)
{
	static const char *const known[] = { "remote_ip", "remote_port", "count", "in_flight",
		"close", "hold_ms", "timelines", NULL };
	struct engine_batch_params params = { .close = ENGINE_BATCH_CLOSE_NONE };
	uint64_t count = 0, in_flight = REQUEST_BATCH_IN_FLIGHT_DEFAULT, hold_ms = 0;
	json_t *root;
	int rc;

	rc = jsonfield_load_object(body, len, content_type, 0, known, &root, err);
	if (rc != 0)
		return rc;
	if ((rc = parse_remote_ip(root, &params.remote.ip, err)) != 0 ||
	    (rc = jsonfield_port(root, "remote_port", true, &params.remote.port, err)) != 0 ||
	    (rc = jsonfield_integer(root, "count", true, 1, ENGINE_BATCH_COUNT_MAX, &count,
	    err)) != 0 ||
	    (rc = jsonfield_integer(root, "in_flight", false, 1, ENGINE_BATCH_IN_FLIGHT_MAX,
	    &in_flight, err)) != 0 ||
	    (rc = parse_batch_close(root, &params.close, err)) != 0 ||
	    (rc = jsonfield_integer(root, "hold_ms", false, 0, ENGINE_BATCH_HOLD_MAX_MS, &hold_ms,
	    err)) != 0 ||
	    (rc = jsonfield_boolean(root, "timelines", &params.timelines, err)) != 0)
		goto out;
	params.count = (uint32_t)count;
	params.in_flight = (uint32_t)in_flight;
	params.hold_ms = (uint32_t)hold_ms;
	*out = params;
out:
	json_decref(root);
	return rc;
}

int
request_parse_listen(const char *body, size_t len, const char *content_type,
    struct request_listen *out, struct problem *err)
{
	static const char *const known[] = { "port", "backlog", NULL };
	uint64_t backlog = REQUEST_BACKLOG_DEFAULT;
	uint16_t port = 0;
	json_t *root;
	int rc;

	rc = jsonfield_load_object(body, len, content_type, 0, known, &root, err);
	if (rc != 0)
		return rc;
	rc = jsonfield_port(root, "port", true, &port, err);
	if (rc != 0)
		goto out;
	rc = jsonfield_integer(root, "backlog", false, 1, REQUEST_BACKLOG_MAX, &backlog, err);
	if (rc != 0)
		goto out;
	out->port = port;
	out->backlog = (uint32_t)backlog;
out:
	json_decref(root);
	return rc;
}

int
request_parse_shutdown(const char *body, size_t len, const char *content_type,
    enum engine_shutdown_how *out, struct problem *err)
{
	static const char *const known[] = { "how", NULL };
	static const struct {
		const char *name;
		enum engine_shutdown_how how;
	} hows[] = {
		{ "write", ENGINE_SHUT_WRITE },
		{ "read", ENGINE_SHUT_READ },
		{ "both", ENGINE_SHUT_BOTH },
	};
	json_t *root, *value;
	size_t i;
	int rc;

	rc = jsonfield_load_object(body, len, content_type, 0, known, &root, err);
	if (rc != 0)
		return rc;
	value = json_object_get(root, "how");
	rc = -EINVAL;
	if (value == NULL) {
		problem_set(err, PROBLEM_INVALID_FIELD, "how", "how is required");
		goto out;
	}
	if (!json_is_string(value)) {
		problem_set(err, PROBLEM_INVALID_FIELD, "how",
		    "how must be the string 'write', 'read' or 'both', not %s",
		    jsonfield_type_name(value));
		goto out;
	}
	for (i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
		if (strcmp(json_string_value(value), hows[i].name) == 0) {
			*out = hows[i].how;
			rc = 0;
			goto out;
		}
	}
	problem_set(err, PROBLEM_INVALID_FIELD, "how",
	    "how must be 'write', 'read' or 'both', not '%.*s'",
	    JSONFIELD_QUOTE_MAX, json_string_value(value));
out:
	json_decref(root);
	return rc;
}

int
request_parse_expire(const char *body, size_t len, const char *content_type,
    struct problem *err)
{
	static const char *const known[] = { NULL };
	json_t *root;
	int rc;

	/* A client may send no body at all, and then no Content-Type either. */
	if (len == 0)
		return 0;
	rc = jsonfield_load_object(body, len, content_type, 0, known, &root, err);
	if (rc != 0)
		return rc;
	json_decref(root);
	return 0;
}

/* Copies the bytes of the string member "data"; jansson has checked they are UTF-8. */
static int
parse_send_text(json_t *value, struct request_send *out, struct problem *err)
{
	size_t len;

	if (!json_is_string(value)) {
		problem_set(err, PROBLEM_INVALID_FIELD, "data", "data must be a string, not %s",
		    jsonfield_type_name(value));
		return -EINVAL;
	}
	len = json_string_length(value);
	if (len == 0) {
		problem_set(err, PROBLEM_INVALID_FIELD, "data", "data must hold at least one byte");
		return -EINVAL;
	}
	out->data = malloc(len);
	if (out->data == NULL) {
		problem_set(err, PROBLEM_UNAVAILABLE, NULL, "the daemon is out of memory");
		return -ENOMEM;
	}
	memcpy(out->data, json_string_value(value), len);
	out->len = len;
	return 0;
}

static int
parse_send_base64(json_t *value, struct request_send *out, struct problem *err)
{
	size_t len = 0;
	int rc;

	if (!json_is_string(value)) {
		problem_set(err, PROBLEM_INVALID_FIELD, "data_base64",
		    "data_base64 must be a string, not %s", jsonfield_type_name(value));
		return -EINVAL;
	}
	rc = base64_decode(json_string_value(value), json_string_length(value), &out->data, &len);
	if (rc == -ENOMEM) {
		problem_set(err, PROBLEM_UNAVAILABLE, NULL, "the daemon is out of memory");
		return rc;
	}
	if (rc != 0) {
		problem_set(err, PROBLEM_INVALID_FIELD, "data_base64",
		    "data_base64 must be standard base64 with padding (RFC 4648 section 4), "
		    "with no whitespace");
		return rc;
	}
	if (len == 0) {
		problem_set(err, PROBLEM_INVALID_FIELD, "data_base64",
		    "data_base64 must hold at least one byte");
		return -EINVAL;
	}
	out->len = len;
	return 0;
}

int
request_parse_send(const char *body, size_t len, const char *content_type,
    struct request_send *out, struct problem *err)
{
	static const char *const known[] = { "data", "data_base64", "size", NULL };
	struct request_send send = { .data = NULL };
	const char *chosen = NULL;
	json_t *root;
	size_t i;
	int rc;

	/* JSON_ALLOW_NUL: "\u0000" is a byte like any other in data. */
	rc = jsonfield_load_object(body, len, content_type, JSON_ALLOW_NUL, known, &root, err);
	if (rc != 0)
		return rc;
	rc = -EINVAL;
	for (i = 0; known[i] != NULL; i++) {
		if (json_object_get(root, known[i]) == NULL)
			continue;
		if (chosen != NULL) {
			problem_set(err, PROBLEM_INVALID_FIELD, known[i],
			    "give only one of data, data_base64 and size, not both %s and %s",
			    chosen, known[i]);
			goto out;
		}
		chosen = known[i];
	}
	if (chosen == NULL) {
		problem_set(err, PROBLEM_INVALID_FIELD, "data",
		    "one of data, data_base64 and size is required");
		goto out;
	}
	if (strcmp(chosen, "data") == 0)
		rc = parse_send_text(json_object_get(root, chosen), &send, err);
	else if (strcmp(chosen, "data_base64") == 0)
		rc = parse_send_base64(json_object_get(root, chosen), &send, err);
	else
		rc = jsonfield_integer(root, chosen, true, 1, ENGINE_SEND_QUEUE_MAX, &send.len, err);
	if (rc != 0)
		goto out;
	*out = send;
	send.data = NULL;
out:
	free(send.data);
	json_decref(root);
	return rc;
}

void
request_send_free(struct request_send *send)
{
	if (send == NULL)
		return;
	free(send->data);
	memset(send, 0, sizeof(*send));
}
