#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "problem.h"
#include "render.h"

#define PROBLEM_TYPE_PREFIX "urn:lwipd:problem:"

static const struct {
	unsigned int status;
	const char *slug;
	const char *title;	/* the RFC 9110 reason phrase */
} problem_types[PROBLEM_TYPE_COUNT] = {
	[PROBLEM_MALFORMED_JSON] = { 400, "malformed-json", "Bad Request" },
	[PROBLEM_NOT_FOUND] = { 404, "not-found", "Not Found" },
	[PROBLEM_METHOD_NOT_ALLOWED] = { 405, "method-not-allowed", "Method Not Allowed" },
	[PROBLEM_TIMEOUT] = { 408, "timeout", "Request Timeout" },
	[PROBLEM_CONFLICT] = { 409, "conflict", "Conflict" },
	[PROBLEM_PAYLOAD_TOO_LARGE] = { 413, "payload-too-large", "Content Too Large" },
	[PROBLEM_UNSUPPORTED_MEDIA_TYPE] = { 415, "unsupported-media-type", "Unsupported Media Type" },
	[PROBLEM_INVALID_FIELD] = { 422, "invalid-field", "Unprocessable Content" },
	[PROBLEM_INTERNAL] = { 500, "internal", "Internal Server Error" },
	[PROBLEM_UNAVAILABLE] = { 503, "unavailable", "Service Unavailable" },
	[PROBLEM_BAD_REQUEST] = { 400, "bad-request", "Bad Request" },
	[PROBLEM_UNAUTHORIZED] = { 401, "unauthorized", "Unauthorized" },
	[PROBLEM_URI_TOO_LONG] = { 414, "uri-too-long", "URI Too Long" },
	[PROBLEM_EXPECTATION_FAILED] = { 417, "expectation-failed", "Expectation Failed" },
	[PROBLEM_HEADERS_TOO_LARGE] = { 431, "headers-too-large", "Request Header Fields Too Large" },
	[PROBLEM_NOT_IMPLEMENTED] = { 501, "not-implemented", "Not Implemented" },
	[PROBLEM_VERSION_NOT_SUPPORTED] = { 505, "version-not-supported",
	    "HTTP Version Not Supported" },
	[PROBLEM_FORBIDDEN] = { 403, "forbidden", "Forbidden" },
};

/* Returns the length of the valid UTF-8 sequence at s, or 0 when it is not one. */
static size_t
utf8_sequence_length(const unsigned char *s)
{
	unsigned int code;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		code = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		code = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		code = s[0] & 0x07u;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		/* A NUL fails this test too, so a cut-off tail is never overrun. */
		if ((s[i] & 0xc0u) != 0x80u)
			return 0;
		code = (code << 6) | (s[i] & 0x3fu);
	}
	if ((len == 3 && code < 0x800) || (len == 4 && code < 0x10000) ||
	    code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
		return 0;
	return len;
}

/* Replaces each byte that is not part of valid UTF-8 by '?', as jansson rejects such strings. */
static void
utf8_sanitize(char *text)
{
	unsigned char *s = (unsigned char *)text;
	size_t len;

	while (*s != '\0') {
		len = utf8_sequence_length(s);
		if (len == 0) {
			*s = '?';
			len = 1;
		}
		s += len;
	}
}

void
problem_set(struct problem *p, enum problem_type type, const char *field,
    const char *fmt, ...)
{
	va_list ap;

	memset(p, 0, sizeof(*p));
	p->type = type;
	if (field != NULL) {
		p->has_field = true;
		snprintf(p->field, sizeof(p->field), "%s", field);
		utf8_sanitize(p->field);
	}
	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
	utf8_sanitize(p->detail);
}

void
problem_set_position(struct problem *p, int line, int column)
{
	p->has_position = true;
	p->line = line;
	p->column = column;
}

void
problem_set_limit(struct problem *p, const char *limit, uint64_t value)
{
	p->has_limit = true;
	snprintf(p->limit, sizeof(p->limit), "%s", limit);
	p->value = value;
}

unsigned int problem_status(const struct problem *p)
{
	return problem_types[p->type].status;
}

const char *
problem_title(const struct problem *p)
{
	return problem_types[p->type].title;
}

json_t *
problem_to_json(const struct problem *p)
{
	char type[sizeof(PROBLEM_TYPE_PREFIX) + 32];
	json_t *obj;

	snprintf(type, sizeof(type), PROBLEM_TYPE_PREFIX "%s", problem_types[p->type].slug);
	obj = json_pack("{s:s, s:s, s:I, s:s}",
	    "type", type,
	    "title", problem_types[p->type].title,
	    "status", (json_int_t)problem_types[p->type].status,
	    "detail", p->detail);
	if (obj == NULL)
		return NULL;
	if (p->has_field &&
	    json_object_set_new(obj, "field", json_string(p->field)) != 0)
		goto fail;
	if (p->has_position &&
	    (json_object_set_new(obj, "line", json_integer(p->line)) != 0 ||
	    json_object_set_new(obj, "column", json_integer(p->column)) != 0))
		goto fail;
	if (p->has_limit &&
	    (json_object_set_new(obj, "limit", json_string(p->limit)) != 0 ||
	    json_object_set_new(obj, "value", json_integer((json_int_t)p->value)) != 0))
		goto fail;
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

char *
problem_render(const struct problem *p)
{
	json_t *obj;
	char *text;

	obj = problem_to_json(p);
	if (obj == NULL)
		return NULL;
	text = render_text(obj);
	json_decref(obj);
	return text;
}
