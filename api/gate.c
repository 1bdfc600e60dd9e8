/*
 * gate: the API's front door: accepting connections, checking each
 * request head before libmicrohttpd sees it, and the connection limits.
 *
 * DESIGN: libmicrohttpd 0.9.75 has no hook between reading a request and
 * answering what it cannot parse (see httphead.c), and its own limits drop
 * a connection without a word. So the gate owns the listening socket and
 * runs one thread that polls it and every connection whose head has not
 * arrived whole. It reads with MSG_PEEK, so the bytes stay in the socket:
 * once httphead_check finds the head well formed, the connection goes to
 * libmicrohttpd (MHD_add_connection) as if just accepted, and it reads the
 * same bytes. Anything else the gate answers itself in problem+json, shuts
 * its side and reads what the client still sends for a moment (lingering),
 * so the answer is not lost in a reset. Every answer carries "Connection:
 * close" (http.c adds it too), so a second request never slips past the
 * gate on a kept-alive connection.
 *
 * The limits: at most max_clients connections in libmicrohttpd, and
 * max_per_client from one address, counted from hand-over to
 * libmicrohttpd's close notification (gate_closed). A GET or HEAD of
 * /healthz or /metrics may use GATE_RESERVE more, so they answer even when
 * every other slot is taken; waits and streams have their own cap below
 * max_clients (http.c), so they never take all slots either. Over a limit,
 * a client gets 503 as soon as its head is there. Heads being read take
 * one of max_clients slots of their own, for at most timeout_s (then 408);
 * when all are taken the oldest is answered 503 to make room, so clients
 * that send slowly cannot lock the door.
 *
 * The gate's lock guards the per-address counts, which libmicrohttpd's
 * thread lowers; it is taken only for counting, never around a call out.
 */
#include "gate.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "httphead.h"
#include "log.h"
#include "problem.h"

/* How long a refused client may go on sending before its connection is closed. */
#define GATE_LINGER_MS 2000
/* The pause after accept() fails for want of descriptors, so the loop does not spin. */
#define GATE_ACCEPT_PAUSE_MS 100
/* Connections accepted per wake-up, so reading heads keeps pace with accepting. */
#define GATE_ACCEPT_BATCH 64
/* Queued connections answered 503 at stop; the rest the kernel resets. */
#define GATE_STOP_ANSWER_MAX 4096
#define GATE_ANSWER_MAX 1024

/* One address and its connections. */
struct gate_client {
	struct in6_addr addr;		/* IPv4 as v4-mapped */
	unsigned int active;		/* handed over, not yet closed */
	unsigned int reading;		/* in a slot, head not yet checked */
};

/* A connection the gate holds: its head is being read, or it is answered and lingering. */
struct gate_slot {
	int fd;				/* -1: free */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct gate_client *client;
	uint64_t deadline_ms;
	size_t seen;			/* bytes peeked the last time */
	bool lingering;
};

struct gate {
	struct gate_config cfg;
	gate_admit_fn *admit;
	void *admit_arg;
	int listen_fd;
	int wake_fd;			/* eventfd: gate_stop */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;		/* guards clients and active */
	struct gate_client *clients;
	size_t client_cap;
	unsigned int active;
	struct gate_slot *slots;	/* the thread's own */
	size_t slot_cap;
	struct pollfd *polls;
	char *peek;			/* HTTPHEAD_PEEK_MAX bytes */
	uint64_t accept_paused_until;
	uint64_t next_tick;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
addr_key(const struct sockaddr *sa, struct in6_addr *key)
{
	memset(key, 0, sizeof(*key));
	if (sa->sa_family == AF_INET6) {
		*key = ((const struct sockaddr_in6 *)sa)->sin6_addr;
	} else if (sa->sa_family == AF_INET) {
		key->s6_addr[10] = 0xff;
		key->s6_addr[11] = 0xff;
		memcpy(&key->s6_addr[12], &((const struct sockaddr_in *)sa)->sin_addr, 4);
	}
}

/* Finds addr's entry, or makes one in a free row when add is set. Takes gate->lock. */
static struct gate_client *
client_find_locked(struct gate *gate, const struct sockaddr *sa, bool add)
{
	struct gate_client *free_row = NULL;
	struct in6_addr key;

	addr_key(sa, &key);
	for (size_t i = 0; i < gate->client_cap; i++) {
		struct gate_client *c = &gate->clients[i];

		if (c->active == 0 && c->reading == 0) {
			if (free_row == NULL)
				free_row = c;
			continue;
		}
		if (memcmp(&c->addr, &key, sizeof(key)) == 0)
			return c;
	}
	if (!add || free_row == NULL)
		return NULL;
	free_row->addr = key;
	return free_row;
}

/* Sends a problem as a whole HTTP/1.1 answer, best effort: the socket is fresh and its buffer empty. */
static void
send_problem(int fd, const struct problem *p, bool head_only)
{
	char buf[GATE_ANSWER_MAX];
	char *body = problem_render(p);
	size_t body_len = body != NULL ? strlen(body) : 0;
	int n;

	n = snprintf(buf, sizeof(buf),
	    "HTTP/1.1 %u %s\r\nContent-Type: application/problem+json\r\n"
	    "Cache-Control: no-store\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
	    problem_status(p), problem_title(p), body_len,
	    head_only || body == NULL ? "" : body);
	free(body);
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Frees a slot; its connection is closed unless handed over. */
static void
slot_release(struct gate *gate, struct gate_slot *slot, bool close_fd)
{
	if (!slot->lingering) {
		pthread_mutex_lock(&gate->lock);
		slot->client->reading--;
		pthread_mutex_unlock(&gate->lock);
	}
	if (close_fd)
		close(slot->fd);
	slot->fd = -1;
}

/* Answers a slot's client and lets it linger. */
static void
slot_refuse(struct gate *gate, struct gate_slot *slot, const struct problem *p, bool head_only)
{
	send_problem(slot->fd, p, head_only);
	shutdown(slot->fd, SHUT_WR);
	if (!slot->lingering) {
		pthread_mutex_lock(&gate->lock);
		slot->client->reading--;
		pthread_mutex_unlock(&gate->lock);
	}
	slot->lingering = true;
	slot->deadline_ms = now_ms() + GATE_LINGER_MS;
}

/* A free slot, or the oldest one made free: a lingering one first, else the slowest head. */
static struct gate_slot *
slot_take(struct gate *gate)
{
	struct gate_slot *oldest = NULL, *oldest_linger = NULL;
	struct problem p;

	for (size_t i = 0; i < gate->slot_cap; i++) {
		struct gate_slot *s = &gate->slots[i];

		if (s->fd < 0)
			return s;
		if (s->lingering && (oldest_linger == NULL || s->deadline_ms < oldest_linger->deadline_ms))
			oldest_linger = s;
		if (!s->lingering && (oldest == NULL || s->deadline_ms < oldest->deadline_ms))
			oldest = s;
	}
	if (oldest_linger != NULL) {
		slot_release(gate, oldest_linger, true);
		return oldest_linger;
	}
	problem_set(&p, PROBLEM_UNAVAILABLE, NULL,
	    "too many clients are sending their requests slowly; the oldest is closed");
	send_problem(oldest->fd, &p, false);
	slot_release(gate, oldest, true);
	return oldest;
}

/* Hands a checked connection over, or answers 503 when it is over a limit. */
static void
slot_admit(struct gate *gate, struct gate_slot *slot, const struct httphead *head)
{
	unsigned int extra = head->reserved ? GATE_RESERVE : 0;
	struct gate_client *client = slot->client;
	struct problem p;
	bool over_total, over_client;
	int fd;

	pthread_mutex_lock(&gate->lock);
	over_total = gate->active >= gate->cfg.max_clients + extra;
	over_client = client->active >= gate->cfg.max_per_client + extra;
	if (!over_total && !over_client) {
		gate->active++;
		client->active++;
	}
	pthread_mutex_unlock(&gate->lock);
	if (over_total || over_client) {
		problem_set(&p, PROBLEM_UNAVAILABLE, NULL,
		    over_total ? "the API serves %u connections at once; retry later" :
		    "the API serves %u connections at once from one address; retry later",
		    over_total ? gate->cfg.max_clients : gate->cfg.max_per_client);
		slot_refuse(gate, slot, &p, head->is_head);
		return;
	}
	fd = slot->fd;
	slot_release(gate, slot, false);
	/* A refused hand-over never reaches libmicrohttpd's close notification. */
	if (gate->admit(gate->admit_arg, fd, (struct sockaddr *)&slot->addr, slot->addr_len) != 0)
		gate_closed(gate, (struct sockaddr *)&slot->addr);
}

/* Reads what a slot's client sent: a head to check, or, lingering, bytes to drop. */
static void
slot_read(struct gate *gate, struct gate_slot *slot, bool hung_up)
{
	struct httphead head;
	struct problem p;
	ssize_t n;
	int fd = slot->fd, rc;

	if (slot->lingering) {
		while ((n = recv(fd, gate->peek, HTTPHEAD_PEEK_MAX, MSG_DONTWAIT)) > 0)
			;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			slot_release(gate, slot, true);
		return;
	}
	n = recv(fd, gate->peek, HTTPHEAD_PEEK_MAX, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		slot_release(gate, slot, true);
		return;
	}
	if ((size_t)n == slot->seen && !hung_up)
		return;
	slot->seen = (size_t)n;
	rc = httphead_check(gate->peek, (size_t)n, &head, &p);
	if (rc == 0) {
		slot_admit(gate, slot, &head);
		return;
	}
	if (rc == -EAGAIN && !hung_up)
		return;
	if (rc == -EAGAIN)
		problem_set(&p, PROBLEM_BAD_REQUEST, NULL, "the request ended before its head did");
	slot_refuse(gate, slot, &p, head.is_head);
}

/* Takes a new connection into a slot, and reads its head if it is there already. */
static void
accept_one(struct gate *gate, int fd, const struct sockaddr_storage *addr, socklen_t addr_len)
{
	struct gate_client *client;
	struct gate_slot *slot;
	struct problem p;

	slot = slot_take(gate);
	pthread_mutex_lock(&gate->lock);
	client = client_find_locked(gate, (const struct sockaddr *)addr, true);
	if (client != NULL)
		client->reading++;
	pthread_mutex_unlock(&gate->lock);
	slot->fd = fd;
	slot->addr = *addr;
	slot->addr_len = addr_len;
	slot->seen = 0;
	slot->lingering = false;
	slot->deadline_ms = now_ms() + (uint64_t)gate->cfg.timeout_s * 1000u;
	slot->client = client;
	if (client == NULL) {
		/* Only when every row is held by another address: more than the gate can hold. */
		problem_set(&p, PROBLEM_UNAVAILABLE, NULL, "the API serves too many addresses at once");
		slot->lingering = true;
		slot_refuse(gate, slot, &p, false);
		return;
	}
	slot_read(gate, slot, false);
}

static void
accept_batch(struct gate *gate)
{
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int fd;

	for (int i = 0; i < GATE_ACCEPT_BATCH; i++) {
		addr_len = sizeof(addr);
		fd = accept4(gate->listen_fd, (struct sockaddr *)&addr, &addr_len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("api: cannot accept a connection");
				gate->accept_paused_until = now_ms() + GATE_ACCEPT_PAUSE_MS;
			}
			return;
		}
		accept_one(gate, fd, &addr, addr_len);
	}
}

/* Answers 408 to heads that took too long, and closes lingering connections whose time is up. */
static void
expire_slots(struct gate *gate, uint64_t now)
{
	struct problem p;

	for (size_t i = 0; i < gate->slot_cap; i++) {
		struct gate_slot *s = &gate->slots[i];

		if (s->fd < 0 || s->deadline_ms > now)
			continue;
		if (s->lingering) {
			slot_release(gate, s, true);
			continue;
		}
		problem_set(&p, PROBLEM_TIMEOUT, NULL, "the request head did not arrive within %u s",
		    gate->cfg.timeout_s);
		slot_refuse(gate, s, &p, false);
	}
}

/* Fills gate->polls; returns their number and the poll timeout. */
static nfds_t
poll_setup(struct gate *gate, uint64_t now, int *timeout)
{
	uint64_t next = gate->cfg.tick != NULL ? gate->next_tick : UINT64_MAX;
	nfds_t n = 0;

	gate->polls[n++] = (struct pollfd){ .fd = gate->wake_fd, .events = POLLIN };
	gate->polls[n++] = (struct pollfd){
		.fd = now >= gate->accept_paused_until ? gate->listen_fd : -1, .events = POLLIN };
	if (now < gate->accept_paused_until && gate->accept_paused_until < next)
		next = gate->accept_paused_until;
	for (size_t i = 0; i < gate->slot_cap; i++) {
		struct gate_slot *s = &gate->slots[i];

		gate->polls[n++] = (struct pollfd){ .fd = s->fd, .events = POLLIN | POLLRDHUP };
		if (s->fd >= 0 && s->deadline_ms < next)
			next = s->deadline_ms;
	}
	*timeout = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
	return n;
}

/* Answers what is left at stop: queued connections and heads being read get 503. */
static void
answer_all_stopping(struct gate *gate)
{
	struct problem p;
	int fd;

	problem_set(&p, PROBLEM_UNAVAILABLE, NULL, "the daemon is stopping");
	for (int i = 0; i < GATE_STOP_ANSWER_MAX; i++) {
		fd = accept4(gate->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		send_problem(fd, &p, false);
		close(fd);
	}
	for (size_t i = 0; i < gate->slot_cap; i++) {
		struct gate_slot *s = &gate->slots[i];

		if (s->fd < 0)
			continue;
		if (!s->lingering)
			send_problem(s->fd, &p, false);
		slot_release(gate, s, true);
	}
}

static void *
gate_run(void *arg)
{
	struct gate *gate = arg;
	uint64_t now;
	int timeout;
	nfds_t n;

	for (;;) {
		n = poll_setup(gate, now_ms(), &timeout);
		if (poll(gate->polls, n, timeout) < 0 && errno != EINTR) {
			log_warn("api: the gate's poll failed");
			break;
		}
		if (gate->polls[0].revents != 0)
			break;
		if (gate->polls[1].revents != 0)
			accept_batch(gate);
		/* Slots taken by accept_batch were not polled: their revents are from before. */
		for (size_t i = 0; i < gate->slot_cap; i++) {
			short ev = gate->polls[i + 2].revents;

			if (ev != 0 && gate->slots[i].fd >= 0 && gate->slots[i].fd == gate->polls[i + 2].fd)
				slot_read(gate, &gate->slots[i], (ev & (POLLRDHUP | POLLHUP | POLLERR)) != 0);
		}
		now = now_ms();
		expire_slots(gate, now);
		if (gate->cfg.tick != NULL && now >= gate->next_tick) {
			gate->cfg.tick(gate->cfg.tick_arg);
			gate->next_tick = now + GATE_TICK_MS;
		}
	}
	answer_all_stopping(gate);
	return NULL;
}

/* Creates, binds and listens on the socket. */
static int
listen_on(const struct sockaddr_storage *addr, socklen_t addr_len, unsigned int *port)
{
	struct sockaddr_storage bound;
	socklen_t bound_len = sizeof(bound);
	int fd, one = 1, rc;

	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)addr, addr_len) < 0 || listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &bound_len) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port :
	    ((struct sockaddr_in *)&bound)->sin_port);
	return fd;
}

void
gate_free(struct gate *gate)
{
	if (gate == NULL)
		return;
	if (gate->listen_fd >= 0)
		close(gate->listen_fd);
	if (gate->wake_fd >= 0)
		close(gate->wake_fd);
	pthread_mutex_destroy(&gate->lock);
	free(gate->clients);
	free(gate->slots);
	free(gate->polls);
	free(gate->peek);
	free(gate);
}

int
gate_start(const struct sockaddr_storage *addr, socklen_t addr_len,
    const struct gate_config *cfg, gate_admit_fn *admit, void *arg, struct gate **out,
    unsigned int *port)
{
	struct gate *gate;
	int rc;

	gate = calloc(1, sizeof(*gate));
	if (gate == NULL)
		return -ENOMEM;
	gate->cfg = *cfg;
	gate->admit = admit;
	gate->admit_arg = arg;
	gate->listen_fd = -1;
	gate->wake_fd = -1;
	pthread_mutex_init(&gate->lock, NULL);
	gate->slot_cap = cfg->max_clients;
	/* Every address that may hold a connection, handed over or being read, has a row. */
	gate->client_cap = (size_t)cfg->max_clients * 2 + GATE_RESERVE;
	gate->clients = calloc(gate->client_cap, sizeof(*gate->clients));
	gate->slots = calloc(gate->slot_cap, sizeof(*gate->slots));
	gate->polls = calloc(gate->slot_cap + 2, sizeof(*gate->polls));
	gate->peek = malloc(HTTPHEAD_PEEK_MAX);
	rc = -ENOMEM;
	if (gate->clients == NULL || gate->slots == NULL || gate->polls == NULL || gate->peek == NULL)
		goto fail;
	for (size_t i = 0; i < gate->slot_cap; i++)
		gate->slots[i].fd = -1;
	gate->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (gate->wake_fd < 0) {
		rc = -errno;
		goto fail;
	}
	gate->listen_fd = listen_on(addr, addr_len, port);
	if (gate->listen_fd < 0) {
		rc = gate->listen_fd;
		goto fail;
	}
	/* Before the thread starts: a connection it hands over may close at once, calling gate_closed. */
	*out = gate;
	rc = -pthread_create(&gate->thread, NULL, gate_run, gate);
	if (rc != 0)
		goto fail;
	gate->started = true;
	return 0;
fail:
	*out = NULL;
	gate_free(gate);
	return rc;
}

void
gate_closed(struct gate *gate, const struct sockaddr *addr)
{
	struct gate_client *client;

	pthread_mutex_lock(&gate->lock);
	client = client_find_locked(gate, addr, false);
	if (client != NULL && client->active > 0) {
		client->active--;
		gate->active--;
	}
	pthread_mutex_unlock(&gate->lock);
}

void
gate_stop(struct gate *gate)
{
	uint64_t one = 1;

	if (gate == NULL || !gate->started)
		return;
	if (write(gate->wake_fd, &one, sizeof(one)) < 0)
		log_warn("api: cannot wake the gate");
	pthread_join(gate->thread, NULL);
	gate->started = false;
	close(gate->listen_fd);
	gate->listen_fd = -1;
}
