/*
 * request: validation of everything a client sends, as pure functions.
 *
 * Each check returns 0, or a negative errno and fills *err with the problem
 * to answer: -EMSGSIZE (413), -ENOTSUP (415), -EBADMSG (400) or -EINVAL
 * (422). Nothing here knows about libmicrohttpd, so every rule is unit-tested.
 */
#ifndef LWIPD_REQUEST_H
#define LWIPD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "problem.h"

/* The largest request body accepted, in bytes. */
#define REQUEST_BODY_MAX 65536

/* A body as it arrives in pieces: every byte is counted, at most REQUEST_BODY_MAX are kept. */
struct request_body {
	char *data;
	size_t len;
	size_t cap;
	uint64_t received;	/* saturates at UINT64_MAX */
};

/* Appends one piece; once past the limit it only counts. Returns 0 or -ENOMEM. */
int request_body_append(struct request_body *body, const char *data, size_t size);

/* Frees the stored bytes and empties body. Accepts NULL. */
void request_body_free(struct request_body *body);

/* Checks a body size against REQUEST_BODY_MAX. */
int request_check_body_size(uint64_t size, struct problem *err);

/*
 * Returns the size a Content-Length header announces, saturating at
 * UINT64_MAX: 0 when value is NULL or not a plain decimal number, which
 * libmicrohttpd refuses before the API sees it.
 */
uint64_t request_content_length(const char *value);

/* Checks that a body is JSON by the Content-Type rule in request.c. content_type may be NULL. */
int request_check_content_type(const char *content_type, const char *body, size_t len,
    struct problem *err);

/*
 * Validates a POST /v1/connections body: size, Content-Type, JSON syntax,
 * then the members. Fills *out only on success.
 */
int request_parse_open(const char *body, size_t len, const char *content_type,
    struct engine_open_params *out, struct problem *err);

/* One query parameter; value is NULL for "?name" without '='. */
struct request_param {
	const char *name;
	const char *value;
};

/*
 * Checks that each parameter's name is in allowed (NULL-terminated) and
 * that none repeats, reporting the first offender in request order.
 */
int request_check_query(const struct request_param *params, size_t count,
    const char *const *allowed, struct problem *err);

/* Parses the value of ?state=, an exact state name such as "ESTABLISHED". */
int request_parse_state_filter(const char *value, enum tcpinfo_state *out, struct problem *err);

/* Parses the value of ?mode=: "graceful" or "abort". */
int request_parse_close_mode(const char *value, enum engine_close_mode *out, struct problem *err);

/* Parses a connection id path segment: 1 to 19 decimal digits. Returns 0 or -EINVAL. */
int request_parse_conn_id(const char *text, uint64_t *out);

#endif
