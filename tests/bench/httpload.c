/*
 * httpload: drives lwipd's REST API with C keep-alive HTTP/1.1 clients on
 * epoll, each with one request outstanding, and prints one JSON line. A
 * server that answers "Connection: close" (lwipd did before its gate
 * relayed kept-alive connections) gets a new connection for the next
 * request.
 *
 *   --mode open: each operation is POST /v1/connections to the next
 *     target; then, with --wait, GET ...?wait_for=ESTABLISHED; then,
 *     unless --close none, DELETE (graceful) or DELETE ?mode=abort. Its
 *     latency runs from the POST to the open's answer (the wait's, with
 *     --wait). The ids of the first and last open are reported, so held
 *     connections can be found.
 *   --mode get: GET --path over and over.
 *
 * httpload --api IP:PORT --mode open|get [--clients C] [--count N]
 *          [--seconds T] [--target IP:PORT[,...]] [--wait]
 *          [--close none|graceful|abort] [--path P] [--stop-after-errors E]
 *          [--progress]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchutil.h"
#include "latency.h"

#define PROG "httpload"
#define CLIENTS_MAX 1024u
#define REQ_MAX 512
#define RESP_MAX 65536
#define STATUS_MAX 600

enum step { STEP_IDLE, STEP_POST, STEP_WAIT, STEP_DELETE, STEP_GET };

struct client {
	int fd;
	enum step step;
	char req[REQ_MAX];
	size_t req_len, req_off;
	char resp[RESP_MAX];
	size_t resp_len;
	uint64_t op_start_us;
	unsigned long long id;
};

static struct {
	struct sockaddr_in api;
	struct endpoints targets;
	bool open_mode, wait, progress;
	enum { CLOSE_NONE, CLOSE_GRACEFUL, CLOSE_ABORT } close;
	unsigned long clients, count, seconds, stop_after_errors;
	char path[256];
} opt = { .clients = 1, .count = 1000000000ul, .seconds = 10, .close = CLOSE_ABORT,
	  .stop_after_errors = 1000000000ul, .path = "/healthz" };

static struct {
	unsigned long long started, ok, errors, requests, reconnects;
	unsigned long long first_id, last_id;
	unsigned long long status[STATUS_MAX];
	struct latency *lat;
} run;

static void
usage(void)
{
	fprintf(stderr, "usage: " PROG " --api IP:PORT --mode open|get [--clients C] [--count N] "
	    "[--seconds T] [--target IP:PORT[,...]] [--wait] [--close none|graceful|abort] "
	    "[--path P] [--stop-after-errors E] [--progress]\n");
	exit(2);
}

static void
parse_args(int argc, char **argv)
{
	struct endpoints api;
	bool have_api = false, have_mode = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--wait")) {
			opt.wait = true;
			continue;
		}
		if (!strcmp(a, "--progress")) {
			opt.progress = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (!strcmp(a, "--api")) {
			if (endpoints_parse(&api, v, PROG) != 0)
				exit(2);
			opt.api = api.addr[0];
			have_api = true;
		} else if (!strcmp(a, "--mode")) {
			if (strcmp(v, "open") && strcmp(v, "get"))
				usage();
			opt.open_mode = !strcmp(v, "open");
			have_mode = true;
		} else if (!strcmp(a, "--target")) {
			if (endpoints_parse(&opt.targets, v, PROG) != 0)
				exit(2);
		} else if (!strcmp(a, "--close")) {
			if (!strcmp(v, "none"))
				opt.close = CLOSE_NONE;
			else if (!strcmp(v, "graceful"))
				opt.close = CLOSE_GRACEFUL;
			else if (!strcmp(v, "abort"))
				opt.close = CLOSE_ABORT;
			else
				usage();
		} else if (!strcmp(a, "--path")) {
			if (strlen(v) >= sizeof(opt.path) || v[0] != '/')
				usage();
			strcpy(opt.path, v);
		} else if (!strcmp(a, "--clients")) {
			opt.clients = arg_ulong(a, v, PROG);
		} else if (!strcmp(a, "--count")) {
			opt.count = arg_ulong(a, v, PROG);
		} else if (!strcmp(a, "--seconds")) {
			opt.seconds = arg_ulong(a, v, PROG);
		} else if (!strcmp(a, "--stop-after-errors")) {
			opt.stop_after_errors = arg_ulong(a, v, PROG);
		} else {
			usage();
		}
	}
	if (!have_api || !have_mode || opt.clients == 0 || opt.clients > CLIENTS_MAX ||
	    (opt.open_mode && opt.targets.n == 0))
		usage();
}

static int
api_connect(void)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&opt.api, sizeof(opt.api)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/*
 * Opens a new connection for c when its last response closed the old one.
 * Returns false when that fails.
 */
static bool
reopen_if_closed(int ep, struct client *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	const char *head_end = strstr(c->resp, "\r\n\r\n");
	const char *found = strcasestr(c->resp, "\r\nConnection: close\r\n");

	if (found == NULL || head_end == NULL || found > head_end)
		return true;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = api_connect();
	return c->fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == 0;
}

/* Sends what is left of c's request; false when the connection failed. */
static bool
send_rest(struct client *c)
{
	while (c->req_off < c->req_len) {
		ssize_t n = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EINTR;
		c->req_off += (size_t)n;
	}
	return true;
}

static bool
request(struct client *c, enum step step, const char *method, const char *path, const char *body)
{
	int n;

	if (body)
		n = snprintf(c->req, sizeof(c->req), "%s %s HTTP/1.1\r\nHost: lwipd\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		    method, path, strlen(body), body);
	else
		n = snprintf(c->req, sizeof(c->req), "%s %s HTTP/1.1\r\nHost: lwipd\r\n\r\n",
		    method, path);
	if (n < 0 || (size_t)n >= sizeof(c->req))
		return false;
	c->step = step;
	c->req_len = (size_t)n;
	c->req_off = 0;
	c->resp_len = 0;
	run.requests++;
	return send_rest(c);
}

/* The first step of a new operation, or STEP_IDLE when none may start. */
static bool
begin_op(struct client *c, bool may_start)
{
	char path[300], body[128];
	const struct sockaddr_in *t;
	char ip[INET_ADDRSTRLEN];

	c->step = STEP_IDLE;
	/* may_start was decided per batch of events; the count is checked per op. */
	if (!may_start || run.started >= opt.count)
		return true;
	run.started++;
	c->op_start_us = now_us();
	if (!opt.open_mode) {
		snprintf(path, sizeof(path), "%s", opt.path);
		return request(c, STEP_GET, "GET", path, NULL);
	}
	t = &opt.targets.addr[run.started % opt.targets.n];
	inet_ntop(AF_INET, &t->sin_addr, ip, sizeof(ip));
	snprintf(body, sizeof(body), "{\"remote_ip\":\"%s\",\"remote_port\":%u}", ip,
	    ntohs(t->sin_port));
	return request(c, STEP_POST, "POST", "/v1/connections", body);
}

/* Length of a complete response at the head of c->resp, 0 if not yet, -1 if unusable. */
static long
complete_length(struct client *c, int *status)
{
	char *end, *cl;
	size_t head;
	unsigned long len;

	c->resp[c->resp_len] = '\0';
	end = strstr(c->resp, "\r\n\r\n");
	if (end == NULL)
		return c->resp_len >= RESP_MAX - 1 ? -1 : 0;
	head = (size_t)(end - c->resp) + 4;
	if (sscanf(c->resp, "HTTP/1.%*d %d", status) != 1)
		return -1;
	cl = strcasestr(c->resp, "\r\nContent-Length:");
	if (cl == NULL || cl > end)
		return -1;	/* lwipd answers with a length; anything else is not measured */
	len = strtoul(cl + 17, NULL, 10);
	if (head + len >= RESP_MAX)
		return -1;
	return c->resp_len >= head + len ? (long)(head + len) : 0;
}

static void
op_failed(int status)
{
	run.errors++;
	if (status > 0 && status < STATUS_MAX)
		run.status[status]++;
}

/* The connection c->id is open (established, with --wait): hold or close it. */
static bool
opened(struct client *c, bool may_start)
{
	char path[128];

	latency_add(run.lat, now_us() - c->op_start_us);
	if (run.first_id == 0)
		run.first_id = c->id;
	run.last_id = c->id;
	if (opt.close == CLOSE_NONE) {
		run.ok++;
		return begin_op(c, may_start);
	}
	snprintf(path, sizeof(path), "/v1/connections/%llu%s", c->id,
	    opt.close == CLOSE_ABORT ? "?mode=abort" : "");
	return request(c, STEP_DELETE, "DELETE", path, NULL);
}

/* Handles one complete response; returns false to close the connection. */
static bool
on_response(struct client *c, int status, bool may_start)
{
	char path[128];
	const char *body = strstr(c->resp, "\r\n\r\n") + 4;
	const char *idp;

	switch (c->step) {
	case STEP_GET:
		if (status == 200) {
			run.ok++;
			latency_add(run.lat, now_us() - c->op_start_us);
		} else {
			op_failed(status);
		}
		break;
	case STEP_POST:
		idp = strstr(body, "\"id\":");
		if (status != 201 || idp == NULL) {
			op_failed(status);
			break;
		}
		c->id = strtoull(idp + 5, NULL, 10);
		if (!opt.wait)
			return opened(c, may_start);
		snprintf(path, sizeof(path),
		    "/v1/connections/%llu?wait_for=ESTABLISHED&timeout_ms=10000", c->id);
		return request(c, STEP_WAIT, "GET", path, NULL);
	case STEP_WAIT:
		if (status != 200) {
			op_failed(status);
			break;
		}
		return opened(c, may_start);
	case STEP_DELETE:
		if (status == 202 || status == 200)
			run.ok++;
		else
			op_failed(status);
		break;
	case STEP_IDLE:
		return false;
	}
	return begin_op(c, may_start);
}

static void
print_result(uint64_t elapsed)
{
	bool first = true;

	printf("{\"tool\":\"httpload\",\"mode\":\"%s\",\"clients\":%lu,\"started\":%llu,\"ok\":%llu,"
	    "\"errors\":%llu,\"requests\":%llu,\"reconnects\":%llu,\"elapsed_s\":%.6f,\"rate\":%.1f,"
	    "\"p50_us\":%llu,\"p99_us\":%llu,\"max_us\":%llu,\"first_id\":%llu,\"last_id\":%llu,"
	    "\"status\":{",
	    opt.open_mode ? "open" : "get", opt.clients, run.started, run.ok, run.errors,
	    run.requests, run.reconnects, elapsed / 1e6,
	    elapsed ? (double)run.ok * 1e6 / (double)elapsed : 0.0,
	    (unsigned long long)latency_pct(run.lat, 0.50),
	    (unsigned long long)latency_pct(run.lat, 0.99),
	    (unsigned long long)run.lat->max_us, run.first_id, run.last_id);
	for (int s = 0; s < STATUS_MAX; s++) {
		if (run.status[s]) {
			printf("%s\"%d\":%llu", first ? "" : ",", s, run.status[s]);
			first = false;
		}
	}
	printf("}}\n");
}

int
main(int argc, char **argv)
{
	struct client *cl;
	struct epoll_event evs[64];
	uint64_t begun, deadline, hard_end, last_progress;
	unsigned long busy = 0;
	int ep;

	parse_args(argc, argv);
	cl = calloc(opt.clients, sizeof(*cl));
	run.lat = latency_new();
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (cl == NULL || run.lat == NULL || ep < 0) {
		fprintf(stderr, PROG ": out of memory or epoll\n");
		return 1;
	}
	begun = last_progress = now_us();
	deadline = begun + opt.seconds * 1000000u;
	/* In-flight operations get 15 s more (a wait times out after 10). */
	hard_end = deadline + 15000000u;
	for (unsigned long i = 0; i < opt.clients; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &cl[i] };

		cl[i].fd = api_connect();
		if (cl[i].fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev) != 0) {
			fprintf(stderr, PROG ": cannot connect to the API: %s\n", strerror(errno));
			return 1;
		}
	}
	for (unsigned long i = 0; i < opt.clients; i++) {
		bool may = run.started < opt.count;

		if (!begin_op(&cl[i], may)) {
			fprintf(stderr, PROG ": send failed\n");
			return 1;
		}
		busy += cl[i].step != STEP_IDLE;
	}
	while (busy > 0 && now_us() < hard_end) {
		int n = epoll_wait(ep, evs, 64, 100);
		uint64_t now = now_us();
		bool may_start = run.started < opt.count && now < deadline &&
		    run.errors < opt.stop_after_errors;

		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;
			ssize_t got = recv(c->fd, c->resp + c->resp_len, RESP_MAX - 1 - c->resp_len, 0);
			long len;
			int status = 0;

			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (got > 0) {
				c->resp_len += (size_t)got;
				len = complete_length(c, &status);
				if (len == 0)
					continue;
				if (len > 0 && (size_t)len == c->resp_len && reopen_if_closed(ep, c) &&
				    on_response(c, status, may_start)) {
					busy -= c->step == STEP_IDLE;
					continue;
				}
			}
			/* A closed, failed or garbled connection: count, reconnect, go on. */
			if (c->step != STEP_IDLE)
				op_failed(status);
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			run.reconnects++;
			c->fd = api_connect();
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
			if (c->fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0 ||
			    !begin_op(c, may_start) || c->step == STEP_IDLE) {
				if (c->fd >= 0)
					close(c->fd);
				c->fd = -1;
				c->step = STEP_IDLE;
				busy--;
			}
		}
		if (opt.progress && now - last_progress >= 1000000) {
			last_progress = now;
			fprintf(stderr, PROG ": %.0f s: %llu ok, %llu errors\n", (now - begun) / 1e6,
			    run.ok, run.errors);
		}
	}
	print_result(now_us() - begun);
	for (unsigned long i = 0; i < opt.clients; i++)
		if (cl[i].fd >= 0)
			close(cl[i].fd);
	close(ep);
	free(cl);
	free(run.lat);
	return 0;
}
