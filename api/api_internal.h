/*
 * api_internal: what the API's own files share and nothing else sees: the
 * server, one request's state between libmicrohttpd's calls, the call a
 * handler gets, the reply it fills, and the route table's shape.
 */
#ifndef LWIPD_API_INTERNAL_H
#define LWIPD_API_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "engine.h"
#include "metrics.h"
#include "problem.h"
#include "request.h"
#include "token.h"

/* More parameters than any route accepts; see collect_param in routes.c for why this is safe. */
#define API_QUERY_MAX 16
/* The longest Location: a collection path, '/', and an id of up to 20 digits. */
#define API_LOCATION_MAX 64
#define API_DISPOSITION_MAX 96
/* The longest Link: a collection path, ?state=, ?limit= and ?after= with an id of 20 digits. */
#define API_LINK_MAX 160

#define API_CONNECTIONS_PATH "/v1/connections"
#define API_LISTENERS_PATH "/v1/listeners"
#define API_FAULTS_PATH "/v1/faults"
#define API_BATCHES_PATH "/v1/batches"

struct sse_hub;
struct capture_hub;
struct gate;

struct api_server {
	struct MHD_Daemon *daemon;
	struct engine *engine;
	struct engine_limits limits;	/* the engine's, for the problems that name them */
	struct gate *gate;
	pthread_mutex_t lock;
	pthread_cond_t drained;		/* signalled when waiting drops to 0 */
	unsigned int waiting;		/* requests that began a wait or a stream, not completed */
	unsigned int max_waiters;
	struct token token;		/* len 0: none required */
	struct sse_hub *hub;
	struct capture_hub *captures;	/* the live capture streams, for the gate's sweep */
	struct metrics_http http;	/* libmicrohttpd's thread only */
};

/* A wait from suspending its request until it is answered. */
struct pending_wait {
	bool begun;			/* the request was suspended; the next call answers */
	struct engine_waiter *waiter;	/* NULL when there is none to finish */
	enum engine_result start;	/* engine_wait_*'s result when it registered none */
};

/* The state of one request between libmicrohttpd's calls. */
struct exchange {
	struct request_body body;
	struct MHD_Connection *connection;	/* for the engine's wake */
	const struct route *route;		/* NULL for a path with no route */
	uint64_t id;				/* for paths with an id */
	enum metrics_method method;
	struct pending_wait wait;
	bool streaming;				/* answered with an event stream */
};

struct query {
	struct request_param params[API_QUERY_MAX];
	size_t count;
};

/* What a handler needs to know about its request. */
struct call {
	struct api_server *server;
	struct engine *engine;
	struct MHD_Connection *connection;
	const struct route *route;
	uint64_t id;			/* for paths with an id */
	bool head;			/* a HEAD: answered like GET, with nothing changed */
	const struct query *query;
	const struct request_body *body;
	struct exchange *exchange;
};

/* An answer that is not a struct problem: a resource, or a problem with members of its own. */
struct reply {
	unsigned int status;
	json_t *body;
	bool is_problem;		/* sends application/problem+json */
	bool suspended;			/* nothing to send yet: a wait has begun */
	char location[API_LOCATION_MAX];	/* empty for none */
	char link[API_LINK_MAX];		/* a list's next page; empty for none */
	char *text;			/* malloc'd: sent instead of body, as content_type */
	size_t text_len;		/* 0: text is a string, strlen() tells */
	const char *content_type;
	char disposition[API_DISPOSITION_MAX];	/* Content-Disposition; empty for none */
	struct MHD_Response *stream;	/* sent instead of body, as content_type or an event stream */
};

/* Returns 0 with *reply filled, or a negative errno with *err filled. */
typedef int handler_fn(const struct call *call, struct reply *reply, struct problem *err);

struct route {
	const char *path;		/* the whole path, or the part before the id */
	const char *after_id;		/* NULL when the path has no id; else what follows it */
	const char *noun;		/* what the id names, for a 404 */
	const char *allow;		/* the Allow header of a 405; names HEAD where get answers it */
	handler_fn *get;		/* NULL for none */
	const char *const *get_params;
	const char *change_method;	/* POST or DELETE, or NULL */
	handler_fn *change;
	const char *const *change_params;
	handler_fn *remove;		/* DELETE beside a POST (change_params apply), or NULL */
};

/* http.c */
/* Returns 0 when a request may begin a wait or a stream, or -EBUSY with a 503 in *err. */
int http_may_wait(const struct api_server *server, struct problem *err);

/* routes.c */
const struct route *routes_find(const char *path, uint64_t *id);
/* The route of /healthz, which needs no token. */
const struct route *routes_healthz(void);
/* A route's row in the metrics table; routes_count() is the row for paths with no route. */
size_t routes_index(const struct route *route);
size_t routes_count(void);
/* Writes the pattern of route i, e.g. "/v1/connections/{id}/send". */
void routes_label(size_t i, char *buf, size_t len);
/*
 * Finds the handler of method on route (NULL: no route at path) and checks
 * the query against the handler's parameters: the part of a request that
 * needs nothing from libmicrohttpd, so that the fuzz harness runs it too.
 * Returns 0, or -ENOENT (404), -EPERM (405, *allow set) or -EINVAL (422).
 */
int routes_check(const struct route *route, const char *path, const char *method,
    const struct query *query, handler_fn **handle, const char **allow, struct problem *err);
/* Checks the method and the query parameters, and runs the route's handler. */
int routes_dispatch(struct api_server *server, struct MHD_Connection *connection, const char *url,
    const char *method, struct exchange *exchange, struct reply *reply, const char **allow,
    struct problem *err);
/* Returns the parameter called name, or NULL when the request has none. */
const struct request_param *routes_param(const struct call *call, const char *name);
const char *routes_content_type(const struct call *call);
/* Parses a list's ?limit= and ?after=. */
int routes_page(const struct call *call, struct engine_page *out, struct problem *err);
/*
 * Answers with a page of a list, and when more follow, a Link header to the
 * next one: path?state=STATE&limit=N&after=LAST (state: the filter to keep, or NULL).
 */
int routes_reply_page(struct reply *reply, json_t *body, const char *path, const char *state,
    const struct engine_page *page, bool more, uint64_t last, struct problem *err);
/* Fill *reply with body or text (taken over), or answer 500 when building it failed. */
int routes_reply_json(struct reply *reply, unsigned int status, json_t *body, struct problem *err);
int routes_reply_text(struct reply *reply, char *text, const char *content_type,
    struct problem *err);
int routes_reply_problem(struct reply *reply, const struct problem *p, json_t *body,
    struct problem *err);

/* waiting.c */
enum waiting_kind {
	WAITING_CONN = 0,
	WAITING_LISTENER,
	WAITING_BATCH
};

/*
 * A GET that may wait (?wait_for= on a connection or a batch,
 * ?wait_accepted= on a listener): begins the wait, or answers it once it is
 * over, or answers at once when none was asked for.
 */
int waiting_get(const struct call *call, const struct request_wait *wait, enum waiting_kind kind,
    struct reply *reply, struct problem *err);
/* Frees the waiter of a request that ends without its answer. */
void waiting_abandon(struct api_server *server, struct exchange *exchange);

/* handlers_conn.c */
handler_fn handlers_conn_list, handlers_conn_open, handlers_conn_get, handlers_conn_close;
handler_fn handlers_conn_shutdown, handlers_conn_expire, handlers_conn_send, handlers_conn_data;
handler_fn handlers_conn_timeline;

/* handlers_capture.c */
handler_fn handlers_conn_capture, handlers_capture;

/* handlers_listener.c */
handler_fn handlers_listener_list, handlers_listener_listen, handlers_listener_get;
handler_fn handlers_listener_unlisten;

/* handlers_fault.c */
handler_fn handlers_fault_list, handlers_fault_create, handlers_fault_clear;
handler_fn handlers_fault_get, handlers_fault_remove;

/* handlers_batch.c */
handler_fn handlers_batch_list, handlers_batch_start, handlers_batch_get, handlers_batch_stop;

/* handlers_observe.c */
handler_fn handlers_healthz, handlers_interface, handlers_stats, handlers_events, handlers_metrics;

#endif
