/*
 * DESIGN: checks run in a fixed order so a request with several faults always
 * gets the same answer: body size, Content-Type, JSON syntax, unknown
 * members, then the known members in the order remote_ip, remote_port,
 * local_port. The first fault wins.
 *
 * Content-Type rule: application/json and any application/<x>+json are JSON,
 * in any letter case and with any parameters (e.g. "; charset=utf-8").
 * A body with no Content-Type (or an empty one) or with
 * application/x-www-form-urlencoded, curl's default for -d, is taken as
 * JSON only when its first non-whitespace byte is '{' or '['; this keeps
 * `curl -d '{...}'` working without accepting form data. Every other type
 * is refused with 415.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "request.h"

/* The first allocation for a body; it doubles from there up to REQUEST_BODY_MAX. */
#define REQUEST_BODY_INITIAL 1024

/* "255.255.255.255" */
#define REQUEST_IPV4_TEXT_MAX 15

/* How many bytes of an untrusted name or value a detail quotes. */
#define REQUEST_QUOTE_MAX 64

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
	    REQUEST_QUOTE_MAX, content_type);
	return -ENOTSUP;
}

static const char *
json_type_name(const json_t *value)
{
	switch (json_typeof(value)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value of unknown type";
}

static int
check_known_members(json_t *obj, struct problem *err)
{
	static const char *const known[] = { "remote_ip", "remote_port", "local_port", NULL };
	const char *key;
	json_t *value;
	size_t i;

	json_object_foreach(obj, key, value) {
		for (i = 0; known[i] != NULL; i++) {
			if (strcmp(key, known[i]) == 0)
				break;
		}
		if (known[i] == NULL) {
			problem_set(err, PROBLEM_INVALID_FIELD, key, "unknown field '%.*s'",
			    REQUEST_QUOTE_MAX, key);
			return -EINVAL;
		}
	}
	return 0;
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
		    json_type_name(value));
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

/* Parses an integer port member; *out is left alone when an optional one is absent. */
static int
parse_port(json_t *obj, const char *name, bool required, uint16_t *out,
    struct problem *err)
{
	json_t *value = json_object_get(obj, name);
	json_int_t port;

	if (value == NULL) {
		if (!required)
			return 0;
		problem_set(err, PROBLEM_INVALID_FIELD, name, "%s is required", name);
		return -EINVAL;
	}
	if (!json_is_integer(value)) {
		problem_set(err, PROBLEM_INVALID_FIELD, name,
		    "%s must be an integer from 1 to 65535, not %s", name, json_type_name(value));
		return -EINVAL;
	}
	port = json_integer_value(value);
	if (port < 1 || port > 65535) {
		problem_set(err, PROBLEM_INVALID_FIELD, name,
		    "%s must be from 1 to 65535, not %" JSON_INTEGER_FORMAT, name, port);
		return -EINVAL;
	}
	*out = (uint16_t)port;
	return 0;
}

int
request_parse_open(const char *body, size_t len, const char *content_type,
    struct engine_open_params *out, struct problem *err)
{
	struct engine_open_params params = { .local_port = 0 };
	json_error_t json_err;
	json_t *root;
	int rc;

	if (body == NULL)
		body = "";
	rc = request_check_body_size(len, err);
	if (rc != 0)
		return rc;
	rc = request_check_content_type(content_type, body, len, err);
	if (rc != 0)
		return rc;
	/* JSON_DECODE_ANY so that a valid scalar is a 422, not a syntax error. */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &json_err);
	if (root == NULL) {
		problem_set(err, PROBLEM_MALFORMED_JSON, NULL, "invalid JSON at line %d, column %d: %s",
		    json_err.line, json_err.column, json_err.text);
		problem_set_position(err, json_err.line, json_err.column);
		return -EBADMSG;
	}
	if (!json_is_object(root)) {
		problem_set(err, PROBLEM_INVALID_FIELD, "(body)", "the body must be a JSON object");
		rc = -EINVAL;
		goto out;
	}
	rc = check_known_members(root, err);
	if (rc != 0)
		goto out;
	rc = parse_remote_ip(root, &params.remote.ip, err);
	if (rc != 0)
		goto out;
	rc = parse_port(root, "remote_port", true, &params.remote.port, err);
	if (rc != 0)
		goto out;
	rc = parse_port(root, "local_port", false, &params.local_port, err);
	if (rc != 0)
		goto out;
	*out = params;
out:
	json_decref(root);
	return rc;
}

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
			    "unknown query parameter '%.*s'", REQUEST_QUOTE_MAX, params[i].name);
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(params[i].name, params[j].name) == 0) {
				problem_set(err, PROBLEM_INVALID_FIELD, params[i].name,
				    "query parameter '%.*s' is given more than once",
				    REQUEST_QUOTE_MAX, params[i].name);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int
request_parse_state_filter(const char *value, enum tcpinfo_state *out, struct problem *err)
{
	if (value == NULL || tcpinfo_state_parse(value, out) != 0) {
		problem_set(err, PROBLEM_INVALID_FIELD, "state",
		    "state must be a TCP state name such as ESTABLISHED, not '%.*s'",
		    REQUEST_QUOTE_MAX, value == NULL ? "" : value);
		return -EINVAL;
	}
	return 0;
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
	    REQUEST_QUOTE_MAX, value == NULL ? "" : value);
	return -EINVAL;
}

int
request_parse_conn_id(const char *text, uint64_t *out)
{
	size_t len = strspn(text, "0123456789");
	uint64_t id = 0;
	size_t i;

	/* Nineteen digits always fit in 64 bits, so the sum below cannot overflow. */
	if (len == 0 || len > 19 || text[len] != '\0')
		return -EINVAL;
	for (i = 0; i < len; i++)
		id = id * 10 + (uint64_t)(text[i] - '0');
	*out = id;
	return 0;
}
