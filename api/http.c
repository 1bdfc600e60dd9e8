/*
 * http: the HTTP server's lifecycle: starting and stopping libmicrohttpd,
 * taking each request through its calls, and queueing every answer.
 *
 * DESIGN: libmicrohttpd calls handle_request several times per request: once
 * with the headers, once per piece of body, and once more with no data. The
 * first call creates a struct exchange (freed by request_completed) and may
 * refuse an oversized Content-Length at once (see refuse_unread); the middle
 * calls collect the body; the last call does all the work: size check, then
 * routes_dispatch (routes.c), which finds the route, checks the method and
 * the query, and runs one handler (handlers_*.c), which validates, calls
 * the engine and fills a struct reply or a struct problem (errors.c maps
 * the engine's results). Every answer is queued in one place, queue_text,
 * so every response carries the same headers.
 *
 * A GET that waits holds no thread (waiting.c): its request is suspended
 * and resumed by the engine's wake. GET /v1/events answers with a stream
 * (sse.c) rather than a body; it too counts as waiting until it completes,
 * so api_stop, which first ends every stream, lets the streams finish as it
 * lets the waits answer.
 * A path with no route that names one of the lab page's files is answered
 * by webserve.c, with the page's own headers, and is not counted.
 *
 * Every answer queued is counted for /metrics by route pattern, method and
 * status (queue_response); the route is found once, on the first call.
 *
 * Connections come from the gate (gate.c): each is one end of a socket
 * pair that the gate relays to its client, passing on only requests whose
 * heads it has checked. libmicrohttpd has no listening socket of its own;
 * its connection notices tie each connection to the gate's relay, and its
 * completion notice tells the relay a request is finished, so the gate can
 * answer a bad request sent behind it in order. Connections stay open
 * between requests. Waits and streams are capped below the connection
 * limit (http_may_wait), so other requests always find a slot.
 *
 * Everything runs on libmicrohttpd's single internal thread, except the
 * engine's wake callbacks, which run on any thread with the core lock held
 * and only resume requests (lockorder.h). Engine calls block only briefly,
 * and no JSON value outlives the call that built it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "api_internal.h"
#include "capture_live.h"
#include "errors.h"
#include "gate.h"
#include "log.h"
#include "origin.h"
#include "render.h"
#include "sse.h"
#include "token.h"
#include "webserve.h"

/*
 * Per-connection memory for headers and read buffers; bodies are kept
 * outside it. Twice the gate's largest head, and no more than 32 KiB:
 * libmicrohttpd maps a bigger pool with mmap, and unmapping it at every
 * close costs each CPU a TLB flush.
 */
#define API_CONNECTION_MEMORY 32768

/* The most of an oversized body read and dropped so the client sees the 413; see refuse_unread. */
#define API_DISCARD_MAX (4u << 20)

/* How long api_stop lets requests whose wait the engine ended answer 503 before closing them. */
#define API_STOP_DRAIN_MS 1000

/*
 * Queues response with the headers every response carries, and one more
 * (name: value) unless name is NULL; counts it, and releases it.
 */
static enum MHD_Result
queue_response(struct api_server *server, struct exchange *exchange, unsigned int status,
    struct MHD_Response *response, const char *content_type, const char *name,
    const char *value)
{
	enum MHD_Result result = MHD_NO;

	if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES ||
	    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES)
		goto out;
	if (name != NULL && MHD_add_response_header(response, name, value) != MHD_YES)
		goto out;
	result = MHD_queue_response(exchange->connection, status, response);
	if (result == MHD_YES)
		metrics_http_count(&server->http, routes_index(exchange->route), exchange->method,
		    status);
out:
	MHD_destroy_response(response);
	return result;
}

/* Queues text, which it takes over; see queue_response. */
static enum MHD_Result
queue_text(struct api_server *server, struct exchange *exchange, unsigned int status,
    char *text, const char *content_type, const char *name, const char *value)
{
	struct MHD_Response *response;

	if (text == NULL)
		return MHD_NO;
	response = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (response == NULL) {
		free(text);
		return MHD_NO;
	}
	return queue_response(server, exchange, status, response, content_type, name, value);
}

/* Queues a handler's text reply, which may be binary and a download; see queue_response. */
static enum MHD_Result
queue_reply_text(struct api_server *server, struct exchange *exchange, struct reply *reply)
{
	size_t len = reply->text_len ? reply->text_len : strlen(reply->text);
	struct MHD_Response *response;

	response = MHD_create_response_from_buffer(len, reply->text, MHD_RESPMEM_MUST_FREE);
	if (response == NULL) {
		free(reply->text);
		return MHD_NO;
	}
	if (reply->disposition[0] != '\0' && MHD_add_response_header(response,
	    MHD_HTTP_HEADER_CONTENT_DISPOSITION, reply->disposition) != MHD_YES) {
		MHD_destroy_response(response);
		return MHD_NO;
	}
	return queue_response(server, exchange, reply->status, response, reply->content_type,
	    NULL, NULL);
}

/* Queues a problem, with one more header unless name is NULL. */
static enum MHD_Result
queue_problem(struct api_server *server, struct exchange *exchange, const struct problem *err,
    const char *name, const char *value)
{
	return queue_text(server, exchange, problem_status(err), problem_render(err),
	    "application/problem+json", name, value);
}

int
http_may_wait(const struct api_server *server, struct problem *err)
{
	/* Only libmicrohttpd's thread changes the count upwards, and this runs on it. */
	if (server->waiting < server->max_waiters)
		return 0;
	problem_set(err, PROBLEM_UNAVAILABLE, NULL,
	    "%u requests are waiting or streaming already, the most at once; retry later",
	    server->max_waiters);
	return -EBUSY;
}

/* Counts a request that waits or streams, for api_stop. */
static void
begin_waiting(struct api_server *server)
{
	pthread_mutex_lock(&server->lock);
	server->waiting++;
	pthread_mutex_unlock(&server->lock);
}

/* Answers a request whose body has arrived. */
static enum MHD_Result
answer(struct api_server *server, struct MHD_Connection *connection, const char *url,
    const char *method, struct exchange *exchange)
{
	struct reply reply = { .body = NULL };
	const struct webasset *asset;
	const char *allow = NULL;
	struct problem err;
	enum MHD_Result result;
	char *text;
	int rc;

	/* The size comes first, as it does when Content-Length already tells it. */
	rc = request_check_body_size(exchange->body.received, &err);
	/* A path with no API route may be one of the lab page's files. */
	if (rc == 0 && exchange->route == NULL && (asset = webasset_find(url)) != NULL)
		return webserve_answer(connection, asset, method);
	if (rc == 0)
		rc = routes_dispatch(server, connection, url, method, exchange, &reply, &allow, &err);
	if (rc != 0)
		return queue_problem(server, exchange, &err,
		    allow != NULL ? MHD_HTTP_HEADER_ALLOW : NULL, allow);
	/* Suspended: libmicrohttpd calls again once the wait is over. */
	if (reply.suspended) {
		begin_waiting(server);
		return MHD_YES;
	}
	if (reply.stream != NULL) {
		result = queue_response(server, exchange, reply.status, reply.stream,
		    reply.content_type != NULL ? reply.content_type : "text/event-stream", NULL, NULL);
		if (result == MHD_YES) {
			exchange->streaming = true;
			begin_waiting(server);
		}
		return result;
	}
	if (reply.text != NULL)
		return queue_reply_text(server, exchange, &reply);
	text = render_text(reply.body);
	json_decref(reply.body);
	if (text == NULL) {
		errors_render_failed(&err);
		return queue_problem(server, exchange, &err, NULL, NULL);
	}
	return queue_text(server, exchange, reply.status, text,
	    reply.is_problem ? "application/problem+json" : "application/json",
	    reply.location[0] != '\0' ? MHD_HTTP_HEADER_LOCATION :
	    reply.link[0] != '\0' ? MHD_HTTP_HEADER_LINK : NULL,
	    reply.location[0] != '\0' ? reply.location : reply.link);
}

/* A request header's value, or NULL when it is absent. */
static const char *
header(struct MHD_Connection *connection, const char *name)
{
	return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
}

/*
 * Whether to refuse an oversized body before reading it. A client that
 * waits for "100 Continue" has sent nothing yet. Other clients may be
 * writing the whole body before they read (Python's urllib does), and
 * closing on them would lose the answer in a reset; so a body up to
 * API_DISCARD_MAX is read and dropped first, and only a larger one is cut
 * short.
 */
static bool
refuse_unread(struct MHD_Connection *connection, uint64_t announced)
{
	const char *expect = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_EXPECT);

	return announced > API_DISCARD_MAX ||
	    (expect != NULL && strcasecmp(expect, "100-continue") == 0);
}

static enum MHD_Result
handle_request(void *cls, struct MHD_Connection *connection, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct api_server *server = cls;
	struct exchange *exchange = *req_cls;
	struct problem err;
	uint64_t announced;
	bool page_file;

	(void)version;
	if (exchange == NULL) {
		exchange = calloc(1, sizeof(*exchange));
		if (exchange == NULL)
			return MHD_NO;
		exchange->connection = connection;
		exchange->route = routes_find(url, &exchange->id);
		exchange->method = metrics_method_parse(method);
		*req_cls = exchange;
		page_file = exchange->route == NULL && webasset_find(url) != NULL;
		if (origin_check(header(connection, MHD_HTTP_HEADER_HOST), server->token.len == 0,
		    header(connection, MHD_HTTP_HEADER_ORIGIN), header(connection, "Sec-Fetch-Site"),
		    page_file, &err) != 0)
			return queue_problem(server, exchange, &err, NULL, NULL);
		/*
		 * /healthz tells only up or down, and the lab page's files carry no
		 * data (the page asks for the token), so neither needs the secret.
		 */
		if (exchange->route != routes_healthz() && !page_file &&
		    !token_check(&server->token, MHD_lookup_connection_value(connection,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION))) {
			problem_set(&err, PROBLEM_UNAUTHORIZED, NULL,
			    "this API needs \"Authorization: Bearer TOKEN\" with the token of "
			    "--api-token-file");
			return queue_problem(server, exchange, &err, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
			    "Bearer realm=\"lwipd\"");
		}
		announced = request_content_length(MHD_lookup_connection_value(connection,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH));
		/* An answer queued now makes libmicrohttpd skip the body and close. */
		if (request_check_body_size(announced, &err) != 0 &&
		    refuse_unread(connection, announced))
			return queue_problem(server, exchange, &err, NULL, NULL);
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (request_body_append(&exchange->body, upload_data, *upload_data_size) != 0)
			return MHD_NO;
		*upload_data_size = 0;
		/* libmicrohttpd 0.9.75 cannot answer in the middle of a body: close instead. */
		return exchange->body.received > API_DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	return answer(server, connection, url, method, exchange);
}

static void
request_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
    enum MHD_RequestTerminationCode code)
{
	struct api_server *server = cls;
	struct exchange *exchange = *req_cls;
	const union MHD_ConnectionInfo *info;

	(void)code;
	/* The gate answers a bad request only after every earlier one is finished. */
	info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (info != NULL)
		gate_link_completed(server->gate, info->socket_context);
	if (exchange == NULL)
		return;
	/* A request resumed but not answered (its client left, or the daemon stops) holds its waiter. */
	waiting_abandon(server, exchange);
	if (exchange->wait.begun || exchange->streaming) {
		pthread_mutex_lock(&server->lock);
		if (--server->waiting == 0)
			pthread_cond_broadcast(&server->drained);
		pthread_mutex_unlock(&server->lock);
	}
	request_body_free(&exchange->body);
	free(exchange);
	*req_cls = NULL;
}

/* Ties a connection to the gate's relay when it starts, and unties it when it closes. */
static void
connection_notified(void *cls, struct MHD_Connection *connection, void **socket_cls,
    enum MHD_ConnectionNotificationCode code)
{
	struct api_server *server = cls;
	const union MHD_ConnectionInfo *info;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		gate_link_release(server->gate, *socket_cls);
		*socket_cls = NULL;
		return;
	}
	info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	*socket_cls = info != NULL ? gate_link_claim(server->gate, info->connect_fd) : NULL;
}

/* The gate's tick: frees the slots of streams whose clients hung up while they were idle. */
static void
sweep_streams(void *arg)
{
	struct api_server *server = arg;

	sse_hub_sweep(server->hub);
	capture_hub_sweep(server->captures);
}

/* The gate hands over its socket pair's other end: libmicrohttpd owns fd from here, even refused. */
static int
admit_connection(void *arg, int fd, const struct sockaddr *addr, socklen_t addr_len)
{
	struct api_server *server = arg;

	return MHD_add_connection(server->daemon, fd, addr, addr_len) == MHD_YES ? 0 : -EIO;
}

/*
 * Decodes %HH escapes in the path and in query names and values, but leaves
 * a string holding "%00" or "%2F" as it is. Decoded, the NUL would cut the C
 * string short, so "/v1/connections/1%00x" would act on connection 1 and
 * "?mode=abort%00x" would abort; and an encoded slash is data, not a
 * separator, so "/v1/connections/47%2Fsend" must not reach the send route.
 * Kept encoded, both match no route and no parameter value, and are refused.
 */
static size_t
unescape_safe(void *cls, struct MHD_Connection *connection, char *text)
{
	(void)cls;
	(void)connection;
	if (strstr(text, "%00") != NULL || strcasestr(text, "%2f") != NULL)
		return strlen(text);
	return MHD_http_unescape(text);
}

__attribute__((format(printf, 2, 0)))
static void
log_mhd(void *cls, const char *fmt, va_list ap)
{
	char message[512];
	size_t len;
	int saved_errno = errno;

	(void)cls;
	/*
	 * libmicrohttpd's end of each connection is a local socket (gate.c),
	 * which has no TCP options. 0.9.75 takes only EINVAL, ENOPROTOOPT and
	 * ENOTSOCK to mean so, while Linux answers EOPNOTSUPP, so it would log
	 * these three lines for every answer.
	 */
	if (strstr(fmt, "option to %s state failed") != NULL ||
	    strncmp(fmt, "Failed to push the data from buffers", 36) == 0)
		return;
	vsnprintf(message, sizeof(message), fmt, ap);
	/* libmicrohttpd ends its messages with a newline; log_warnx adds its own. */
	len = strlen(message);
	while (len > 0 && message[len - 1] == '\n')
		message[--len] = '\0';
	log_warnx("http: %s", message);
	/* api_start reads errno after a failed start, so logging must not change it. */
	errno = saved_errno;
}

/* Writes "127.0.0.1:8080" or "[::1]:8080". */
static void
format_listen_address(const struct sockaddr_storage *addr, unsigned int port, char *buf,
    size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (addr->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, port);
	}
}

/* Sets up what api_stop needs to wait for requests in a wait, on the monotonic clock. */
static int
sync_init(struct api_server *server)
{
	pthread_condattr_t attr;
	int rc;

	rc = pthread_condattr_init(&attr);
	if (rc != 0)
		return -rc;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&server->drained, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0)
		return -rc;
	rc = pthread_mutex_init(&server->lock, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&server->drained);
		return -rc;
	}
	return 0;
}

/* Starts libmicrohttpd without a listening socket: the gate hands it connections. */
static int
start_daemon(const struct api_config *cfg, struct api_server *server)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;

	errno = 0;
	server->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle_request, server,
	    /* First, so that libmicrohttpd logs nothing through its own logger. */
	    MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
	    /* The gate never hands over more; the limit only backs it up. */
	    MHD_OPTION_CONNECTION_LIMIT, cfg->max_clients + GATE_RESERVE,
	    MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONNECTION_MEMORY,
	    MHD_OPTION_NOTIFY_COMPLETED, request_completed, server,
	    MHD_OPTION_NOTIFY_CONNECTION, connection_notified, server,
	    MHD_OPTION_UNESCAPE_CALLBACK, unescape_safe, NULL,
	    MHD_OPTION_END);
	if (server->daemon == NULL) {
		/* libmicrohttpd has logged the reason; errno holds it when a system call failed. */
		return errno != 0 ? -errno : -EIO;
	}
	return 0;
}

int
api_start(const struct api_config *cfg, struct engine *engine, struct api_server **out)
{
	struct gate_config gate_cfg = {
		.max_clients = cfg->max_clients,
		.max_per_client = cfg->max_per_client != 0 ? cfg->max_per_client : cfg->max_clients / 2,
		.timeout_s = cfg->timeout_s,
		.tick = sweep_streams,
	};
	char address[INET6_ADDRSTRLEN + sizeof("[]:65535")];
	struct api_server *server;
	unsigned int port;
	int rc;

	if (cfg->listen_addr.ss_family != AF_INET6 && cfg->listen_addr.ss_family != AF_INET)
		return -EAFNOSUPPORT;
	server = calloc(1, sizeof(*server));
	if (server == NULL)
		return -ENOMEM;
	server->engine = engine;
	engine_limits(engine, &server->limits);
	server->max_waiters = cfg->max_waiters != 0 ? cfg->max_waiters : cfg->max_clients / 4 * 3;
	gate_cfg.tick_arg = server;
	rc = sync_init(server);
	if (rc != 0) {
		free(server);
		return rc;
	}
	if (cfg->token_file != NULL && cfg->token_file[0] != '\0') {
		rc = token_load(cfg->token_file, &server->token);
		if (rc != 0)
			goto fail;
	}
	rc = sse_hub_new(engine, &server->hub);
	if (rc == 0)
		rc = capture_hub_new(&server->captures);
	if (rc != 0)
		goto fail;
	rc = start_daemon(cfg, server);
	if (rc == 0)
		rc = gate_start(&cfg->listen_addr, cfg->listen_addr_len, &gate_cfg, admit_connection,
		    server, &server->gate, &port);
	if (rc != 0) {
		log_warnx("api: cannot start the HTTP server: %s", strerror(-rc));
		goto fail;
	}
	format_listen_address(&cfg->listen_addr, port, address, sizeof(address));
	log_info("API listening on %s%s", address, server->token.len > 0 ? " (bearer token)" : "");
	*out = server;
	return 0;
fail:
	if (server->daemon != NULL)
		MHD_stop_daemon(server->daemon);
	capture_hub_free(server->captures);
	sse_hub_free(server->hub);
	explicit_bzero(&server->token, sizeof(server->token));
	pthread_cond_destroy(&server->drained);
	pthread_mutex_destroy(&server->lock);
	free(server);
	return rc;
}

/* Waits until no request is in a wait or a stream, or timeout_ms has passed. */
static void
drain_waits(struct api_server *server, unsigned int timeout_ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&server->lock);
	while (server->waiting > 0 &&
	    pthread_cond_timedwait(&server->drained, &server->lock, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&server->lock);
}

void
api_stop(struct api_server *server)
{
	if (server == NULL)
		return;
	/*
	 * engine_stop has ended every wait and resumed its request. Stopping
	 * now would close those requests unanswered, so the gate first answers
	 * 503 to every connection it has not handed over and closes the door;
	 * then the resumed requests get a moment to answer 503, and the
	 * streams, ended here, to send their last chunk.
	 */
	gate_stop(server->gate);
	sse_hub_stop(server->hub);
	drain_waits(server, API_STOP_DRAIN_MS);
	MHD_stop_daemon(server->daemon);
	/* The gate's thread sweeps the hub on its tick until it is joined, so the gate goes first. */
	gate_free(server->gate);
	/* Stopping destroyed every stream's response, so the hubs are empty. */
	capture_hub_free(server->captures);
	sse_hub_free(server->hub);
	explicit_bzero(&server->token, sizeof(server->token));
	pthread_cond_destroy(&server->drained);
	pthread_mutex_destroy(&server->lock);
	free(server);
}
