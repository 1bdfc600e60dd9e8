/*
 * metrics: GET /metrics in the Prometheus text exposition format 0.0.4,
 * and the table of HTTP requests it reports. Rendering is a pure function
 * of plain values, so the exact output is unit-tested.
 */
#ifndef LWIPD_METRICS_H
#define LWIPD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

enum metrics_method {
	METRICS_METHOD_GET = 0,
	METRICS_METHOD_HEAD,
	METRICS_METHOD_POST,
	METRICS_METHOD_DELETE,
	METRICS_METHOD_OTHER,		/* counted as method="other" */
	METRICS_METHOD_COUNT
};

/* Routes the table can count, "other" (no route) included. */
#define METRICS_ROUTE_MAX 24
/* The statuses the API answers, plus one for any other. */
#define METRICS_STATUS_COUNT 14

/* Requests answered, by route, method and status. Bounded: about 9 KiB. */
struct metrics_http {
	uint64_t requests[METRICS_ROUTE_MAX][METRICS_METHOD_COUNT][METRICS_STATUS_COUNT];
};

enum metrics_method metrics_method_parse(const char *method);

/* Counts one answered request; route is below METRICS_ROUTE_MAX. */
void metrics_http_count(struct metrics_http *http, size_t route, enum metrics_method method,
    unsigned int status);

struct metrics_input {
	struct engine_stats stats;
	uint64_t by_state[TCPINFO_STATE_COUNT];	/* connections in the table */
	const struct metrics_http *http;
	const char *const *routes;	/* the route label of each row of http */
	size_t route_count;		/* at most METRICS_ROUTE_MAX */
	uint64_t sse_clients;
	uint64_t sse_dropped;
};

/*
 * Renders every family, each with its # HELP and # TYPE lines first.
 * *out is malloc'd and NUL-terminated, *len its length. Returns 0 or -ENOMEM.
 */
int metrics_render(const struct metrics_input *in, char **out, size_t *len);

#endif
