/*
 * relay: moves one API connection's bytes between its client and
 * libmicrohttpd, and checks every request head on the way in.
 *
 * DESIGN: libmicrohttpd reads its end of a socket pair, never the
 * client's socket, so no byte reaches it that httphead_check has not
 * passed: the gate's thread peeks at the client's bytes, and once a head
 * (with a chunked body) is whole and well formed, it reads exactly that
 * request and writes it to the pair; a Content-Length body follows as it
 * arrives, unchecked, since it is data. Answers flow back the same way.
 * A bad head stops the inflow: once libmicrohttpd has finished every
 * request passed on before it (relay_link.completed, counted by its
 * completion callback) and its answers are out, the gate answers the bad
 * one and closes. Nothing blocks: what a socket does not take now is kept
 * (to_server, to_client) and nothing more is read that way until it is
 * written, so each connection holds at most one window each way.
 */
#include "relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Moves n, or keeps what the socket did not take. Returns 0, or -EPIPE when the peer is gone. */
static int
pass(int fd, char **pending, size_t *pending_len, const char *buf, size_t n)
{
	ssize_t sent = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (sent < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -EPIPE;
		sent = 0;
	}
	if ((size_t)sent == n)
		return 0;
	*pending = malloc(n - (size_t)sent);
	if (*pending == NULL)
		return -EPIPE;
	memcpy(*pending, buf + sent, n - (size_t)sent);
	*pending_len = n - (size_t)sent;
	return 0;
}

/* Writes what was kept. Returns 0 once all is out, -EAGAIN while some is left, or -EPIPE. */
static int
flush(int fd, char **pending, size_t *pending_len)
{
	ssize_t sent = send(fd, *pending, *pending_len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (sent < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -EPIPE;
	if ((size_t)sent < *pending_len) {
		memmove(*pending, *pending + sent, *pending_len - (size_t)sent);
		*pending_len -= (size_t)sent;
		return -EAGAIN;
	}
	free(*pending);
	*pending = NULL;
	*pending_len = 0;
	return 0;
}

/* Peeks at the next head and checks it. Returns 1 when it moved on, 0 when it waits, or -EPIPE. */
static int
check_next(struct relay *r, char *scratch, struct httphead *head, size_t *peeked)
{
	ssize_t n = recv(r->fd, scratch, HTTPHEAD_PEEK_MAX, MSG_PEEK | MSG_DONTWAIT);
	int rc;

	/* Until the next event, only what is peeked now is there. */
	r->client_ready = false;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -EPIPE;
	if (n == 0) {
		r->client_eof = true;
		return 1;
	}
	if ((size_t)n == r->seen && !r->hung_up)
		return 0;
	r->seen = (size_t)n;
	*peeked = (size_t)n;
	rc = httphead_check(scratch, (size_t)n, head, &r->refusal);
	if (rc == 0)
		return 1;
	if (rc == -EAGAIN && !r->hung_up)
		return 0;
	if (rc == -EAGAIN)
		problem_set(&r->refusal, PROBLEM_BAD_REQUEST, NULL,
		    "the request ended before its head did");
	r->refusing = true;
	r->is_head = head->is_head;
	return 1;
}

/* Passes on the request whose head was checked: the head, a chunked body, what is there of another body. */
static int
forward_request(struct relay *r, char *scratch, const struct httphead *head, size_t peeked,
    uint64_t now)
{
	size_t take = head->framed_len;
	uint64_t body_there;
	ssize_t n;

	if (!head->chunked) {
		body_there = peeked - head->head_len;
		if (body_there > head->content_length)
			body_there = head->content_length;
		take = head->head_len + (size_t)body_there;
		r->body_left = head->content_length - body_there;
	}
	/* The bytes were peeked, so they are there to read. */
	n = recv(r->fd, scratch, take, MSG_DONTWAIT);
	if (n < 0 || (size_t)n != take)
		return -EPIPE;
	/* A request sent right behind it is there already, and brings no event. */
	r->client_ready = peeked > take;
	r->forwarded++;
	r->seen = 0;
	r->deadline_ms = now + r->timeout_ms;
	if (pass(r->server_fd, &r->to_server, &r->to_server_len, scratch, take) != 0)
		r->server_unwritable = true;
	return 1;
}

/* Moves bytes toward libmicrohttpd. Returns 1 when it moved on, 0 when it waits, or -EPIPE. */
static int
step_in(struct relay *r, char *scratch, uint64_t now)
{
	struct httphead head;
	size_t peeked = 0;
	ssize_t n;
	int rc;

	/*
	 * libmicrohttpd may answer before it has read a body (a 401, a 413)
	 * and close its end: writing then fails, but its answer is still to
	 * be read, so step_out goes on until its end of file.
	 */
	if (r->server_eof || r->server_unwritable)
		return 0;
	if (r->to_server_len > 0) {
		rc = flush(r->server_fd, &r->to_server, &r->to_server_len);
		if (rc == -EAGAIN)
			return 0;
		if (rc != 0)
			r->server_unwritable = true;
		/* Reading stopped while this was held, so bytes may wait that brought their event then. */
		r->client_ready = true;
		return 1;
	}
	/*
	 * libmicrohttpd sees the client's FIN as it would on the client's own
	 * socket, so a stream whose client left ends (sse.c, capture_live.c).
	 */
	if (r->client_eof && !r->eof_passed) {
		shutdown(r->server_fd, SHUT_WR);
		r->eof_passed = true;
		return 1;
	}
	if (r->refusing || r->client_eof || !r->client_ready)
		return 0;
	if (r->body_left > 0) {
		size_t want = r->body_left < HTTPHEAD_PEEK_MAX ? r->body_left : HTTPHEAD_PEEK_MAX;

		n = recv(r->fd, scratch, want, MSG_DONTWAIT);
		r->client_ready = n == (ssize_t)want;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -EPIPE;
		if (n == 0) {
			r->client_eof = true;
			return 1;
		}
		r->body_left -= (uint64_t)n;
		if (r->body_left == 0)
			r->deadline_ms = now + r->timeout_ms;
		if (pass(r->server_fd, &r->to_server, &r->to_server_len, scratch, (size_t)n) != 0)
			r->server_unwritable = true;
		return 1;
	}
	rc = check_next(r, scratch, &head, &peeked);
	if (rc <= 0 || r->refusing || r->client_eof)
		return rc;
	return forward_request(r, scratch, &head, peeked, now);
}

/* Moves bytes toward the client. Returns 1 when it moved on, 0 when it waits, or -EPIPE. */
static int
step_out(struct relay *r, char *scratch)
{
	ssize_t n;
	int rc;

	if (r->to_client_len > 0) {
		rc = flush(r->fd, &r->to_client, &r->to_client_len);
		r->server_ready = true;
		return rc == -EAGAIN ? 0 : rc == 0 ? 1 : -EPIPE;
	}
	if (r->server_eof || !r->server_ready)
		return 0;
	n = recv(r->server_fd, scratch, HTTPHEAD_PEEK_MAX, MSG_DONTWAIT);
	/* A short read took all there was; more brings an event. */
	r->server_ready = n == HTTPHEAD_PEEK_MAX;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		r->server_eof = true;
		return 1;
	}
	return pass(r->fd, &r->to_client, &r->to_client_len, scratch, (size_t)n) == 0 ? 1 : -EPIPE;
}

/* Whether libmicrohttpd has finished every request passed on; asks for a wake-up when not. */
static bool
server_idle(struct relay *r)
{
	if (atomic_load(&r->link->completed) == r->forwarded)
		return true;
	atomic_store(&r->link->notify, true);
	/* A completion between the two loads may have missed the flag. */
	return atomic_load(&r->link->completed) == r->forwarded;
}

static enum relay_event
pump_reading(struct relay *r, char *scratch, struct httphead *head)
{
	size_t peeked = 0;
	int rc = check_next(r, scratch, head, &peeked);

	if (rc < 0 || r->client_eof)
		return RELAY_DONE;
	if (r->refusing)
		return RELAY_REFUSE;
	return rc == 1 ? RELAY_FIRST_HEAD : RELAY_WAIT;
}

enum relay_event
relay_pump(struct relay *r, char *scratch, struct httphead *head, uint64_t now)
{
	bool idle = false;
	int in, out;

	if (r->broken)
		return RELAY_DONE;
	if (r->state == RELAY_READING)
		return pump_reading(r, scratch, head);
	/* Checked before the last read: answers written before a completion are read after it. */
	if (r->refusing || r->client_eof) {
		idle = server_idle(r);
		r->server_ready = true;
	}
	do {
		in = step_in(r, scratch, now);
		out = step_out(r, scratch);
		if (in < 0 || out < 0) {
			r->broken = true;
			return RELAY_DONE;
		}
	} while (in > 0 || out > 0);
	if (r->to_client_len > 0)
		return RELAY_WAIT;
	if (r->server_eof || (r->client_eof && r->body_left > 0))
		return RELAY_DONE;
	if (!r->refusing && !r->client_eof)
		return RELAY_WAIT;
	if (!idle) {
		if (!server_idle(r))
			return RELAY_WAIT;
		r->server_ready = true;
		while ((out = step_out(r, scratch)) > 0)
			;
		if (out < 0) {
			r->broken = true;
			return RELAY_DONE;
		}
		if (r->to_client_len > 0)
			return RELAY_WAIT;
	}
	atomic_store(&r->link->notify, false);
	return r->refusing ? RELAY_REFUSE : RELAY_DONE;
}

void
relay_begin(struct relay *r, int server_fd, struct relay_link *link)
{
	r->state = RELAY_RELAYING;
	r->server_fd = server_fd;
	r->link = link;
	r->seen = 0;
	r->client_ready = true;
}

enum relay_expiry
relay_expired(const struct relay *r)
{
	if (r->state == RELAY_READING)
		return RELAY_EXPIRY_TIMEOUT;
	if (r->body_left > 0)
		return RELAY_EXPIRY_CLOSE;
	if (atomic_load(&r->link->completed) != r->forwarded)
		return RELAY_EXPIRY_BUSY;
	return r->seen > 0 ? RELAY_EXPIRY_TIMEOUT : RELAY_EXPIRY_CLOSE;
}

void
relay_close(struct relay *r)
{
	if (r->fd >= 0)
		close(r->fd);
	if (r->server_fd >= 0)
		close(r->server_fd);
	free(r->to_server);
	free(r->to_client);
	*r = (struct relay){ .state = RELAY_FREE, .fd = -1, .server_fd = -1 };
}
