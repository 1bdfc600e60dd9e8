/*
 * problem: RFC 9457 problem details as a plain C value.
 *
 * Validation code fills a struct problem without touching JSON or HTTP; the
 * HTTP layer turns it into a status code and an application/problem+json
 * body. The type decides the status, the "type" URN and the "title", so the
 * three can never disagree.
 */
#ifndef LWIPD_PROBLEM_H
#define LWIPD_PROBLEM_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#define PROBLEM_DETAIL_MAX 256
#define PROBLEM_FIELD_MAX 64
#define PROBLEM_LIMIT_MAX 32

enum problem_type {
	PROBLEM_MALFORMED_JSON = 0,	/* 400 */
	PROBLEM_NOT_FOUND,		/* 404 */
	PROBLEM_METHOD_NOT_ALLOWED,	/* 405 */
	PROBLEM_TIMEOUT,		/* 408: a wait ran out */
	PROBLEM_CONFLICT,		/* 409 */
	PROBLEM_PAYLOAD_TOO_LARGE,	/* 413 */
	PROBLEM_UNSUPPORTED_MEDIA_TYPE,	/* 415 */
	PROBLEM_INVALID_FIELD,		/* 422 */
	PROBLEM_INTERNAL,		/* 500 */
	PROBLEM_UNAVAILABLE,		/* 503 */
	PROBLEM_BAD_REQUEST,		/* 400: the HTTP framing, not the JSON */
	PROBLEM_UNAUTHORIZED,		/* 401 */
	PROBLEM_URI_TOO_LONG,		/* 414 */
	PROBLEM_EXPECTATION_FAILED,	/* 417 */
	PROBLEM_HEADERS_TOO_LARGE,	/* 431 */
	PROBLEM_NOT_IMPLEMENTED,	/* 501: a transfer coding other than chunked */
	PROBLEM_VERSION_NOT_SUPPORTED,	/* 505 */
	PROBLEM_FORBIDDEN,		/* 403: a browser request from another origin */
	PROBLEM_TYPE_COUNT
};

struct problem {
	enum problem_type type;
	char detail[PROBLEM_DETAIL_MAX];	/* one sentence, valid UTF-8 */
	bool has_field;				/* adds the "field" member */
	char field[PROBLEM_FIELD_MAX];
	bool has_position;			/* adds the "line" and "column" members */
	int line;
	int column;
	bool has_limit;				/* adds the "limit" and "value" members */
	char limit[PROBLEM_LIMIT_MAX];		/* the limit's flag without its dashes */
	uint64_t value;
};

/*
 * Fills *p, replacing what it held. field may be NULL for none. detail and
 * field are truncated to their buffers and made valid UTF-8, since they may
 * quote untrusted bytes.
 */
void problem_set(struct problem *p, enum problem_type type, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Adds the position of a JSON syntax error. */
void problem_set_position(struct problem *p, int line, int column);

/* Adds the limit that was reached, e.g. "max-connections", and its value. */
void problem_set_limit(struct problem *p, const char *limit, uint64_t value);

/* The HTTP status code of p's type, e.g. 422. */
unsigned int problem_status(const struct problem *p);

/* Builds the problem object. Returns a new reference, or NULL when out of memory. */
json_t *problem_to_json(const struct problem *p);

/* The title of p's type: the RFC 9110 reason phrase, e.g. "Not Found". */
const char *problem_title(const struct problem *p);

/* Renders the problem as response text (see render_text). Returns NULL when out of memory. */
char *problem_render(const struct problem *p);

#endif
