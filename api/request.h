/*
 * request: validation of everything a client sends, as pure functions.
 *
 * Each check returns 0, or a negative errno and fills *err with the problem
 * to answer: -EMSGSIZE (413), -ENOTSUP (415), -EBADMSG (400), -EINVAL
 * (422) or, where a check copies data, -ENOMEM (503). Nothing here knows
 * about libmicrohttpd, so every rule is unit-tested.
 */
#ifndef LWIPD_REQUEST_H
#define LWIPD_REQUEST_H

#include <stdbool.h>
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

#define REQUEST_BATCH_IN_FLIGHT_DEFAULT 64

/*
 * Validates a POST /v1/batches body: remote_ip, remote_port and count are
 * required; in_flight, close ("none"), hold_ms (0) and timelines (false)
 * are not. Fills *out only on success.
 */
int request_parse_batch(const char *body, size_t len, const char *content_type,
    struct engine_batch_params *out, struct problem *err);

#define REQUEST_BACKLOG_DEFAULT 16
#define REQUEST_BACKLOG_MAX 1024

/* A POST /v1/listeners body. */
struct request_listen {
	uint16_t port;
	uint32_t backlog;
};

/* Validates a POST /v1/listeners body: members port (required), then backlog. */
int request_parse_listen(const char *body, size_t len, const char *content_type,
    struct request_listen *out, struct problem *err);

/* Validates a POST .../shutdown body: {"how":"write"|"read"|"both"}. */
int request_parse_shutdown(const char *body, size_t len, const char *content_type,
    enum engine_shutdown_how *out, struct problem *err);

/* Validates a POST .../expire body: none at all, or an empty JSON object. */
int request_parse_expire(const char *body, size_t len, const char *content_type,
    struct problem *err);

/* What a POST .../send queues: a copy of the bytes, or len bytes of the engine's pattern. */
struct request_send {
	uint8_t *data;		/* malloc'd; NULL for the pattern */
	uint64_t len;
};

/*
 * Validates a POST .../send body, which holds exactly one of "data" (a
 * string, sent as its UTF-8 bytes), "data_base64" (strict base64) or
 * "size" (1 to ENGINE_SEND_QUEUE_MAX pattern bytes, the most any
 * --max-send-queue allows; the engine applies the one set); at least one byte.
 * On success the caller frees *out with request_send_free().
 */
int request_parse_send(const char *body, size_t len, const char *content_type,
    struct request_send *out, struct problem *err);

/* Frees the copied bytes and empties send. Accepts NULL. */
void request_send_free(struct request_send *send);

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

#define REQUEST_WAIT_TIMEOUT_DEFAULT_MS 5000u
/* The largest ?wait_accepted=: 2^53, beyond which JSON numbers lose precision. */
#define REQUEST_WAIT_ACCEPTED_MAX (UINT64_C(1) << 53)

/* A wait a GET asks for; requested is false when it asks for none. */
struct request_wait {
	bool requested;
	enum tcpinfo_state state;	/* ?wait_for= */
	uint64_t accepted;		/* ?wait_accepted= */
	uint32_t timeout_ms;
};

/*
 * Parses ?wait_for=STATE and ?timeout_ms=N (0 to ENGINE_WAIT_TIMEOUT_MAX_MS,
 * default REQUEST_WAIT_TIMEOUT_DEFAULT_MS) from the parameters found, NULL
 * for one that is absent. timeout_ms alone is refused.
 */
int request_parse_state_wait(const struct request_param *wait_for,
    const struct request_param *timeout_ms, struct request_wait *out, struct problem *err);

/* The same for ?wait_accepted=N (0 to REQUEST_WAIT_ACCEPTED_MAX) and ?timeout_ms=. */
int request_parse_accepted_wait(const struct request_param *wait_accepted,
    const struct request_param *timeout_ms, struct request_wait *out, struct problem *err);

/* A list's page size when ?limit= is not given. */
#define REQUEST_PAGE_DEFAULT 1000u

/*
 * Parses a list's ?limit=N (1 to ENGINE_PAGE_MAX, default
 * REQUEST_PAGE_DEFAULT) and ?after=ID (default 0: from the first), NULL for
 * one that is absent.
 */
int request_parse_page(const struct request_param *limit, const struct request_param *after,
    struct engine_page *out, struct problem *err);

/* The same for ?wait_for=done on a batch, and ?timeout_ms=. */
int request_parse_batch_wait(const struct request_param *wait_for,
    const struct request_param *timeout_ms, struct request_wait *out, struct problem *err);

/* Parses the value of ?peek= on a connection's data: "true" or "false". */
int request_parse_peek(const char *value, bool *peek, struct problem *err);

/* The renderings of a timeline, as ?format= names them. */
enum request_timeline_format {
	REQUEST_TIMELINE_JSON = 0,
	REQUEST_TIMELINE_TEXT,
	REQUEST_TIMELINE_SVG,
	REQUEST_TIMELINE_MERMAID
};

/* Parses the value of ?format= on a timeline: "json", "text", "svg" or "mermaid". */
int request_parse_timeline_format(const char *value, enum request_timeline_format *out,
    struct problem *err);

/* Parses the value of ?connection= on the event stream: a connection id. */
int request_parse_connection_filter(const char *value, uint64_t *out, struct problem *err);

/*
 * Parses a Last-Event-ID header: the number of the last event a client saw.
 * value may be NULL; absent or empty, as SSE clients send after an empty
 * id, it is 0: new events only.
 */
int request_parse_last_event_id(const char *value, uint64_t *out, struct problem *err);

/*
 * Parses an id path segment of len bytes: 1 to 19 decimal digits, with no
 * leading zero. Returns 0 or -EINVAL.
 */
int request_parse_id(const char *text, size_t len, uint64_t *out);

#endif
