/*
 * gate: the API's front door: accepting connections, the connection
 * limits and timeouts, and relaying each connection (relay.c) so that
 * every request head is checked before libmicrohttpd sees it.
 *
 * DESIGN: libmicrohttpd 0.9.75 has no hook between reading a request and
 * answering what it cannot parse (see httphead.c), and its own limits drop
 * a connection without a word. Handing it the client's socket after a
 * peek at the first head (as lwipd once did) checks only the first
 * request, so every answer had to close its connection, and every request
 * paid a TCP handshake. Its callbacks (the URI log, the header iteration,
 * STRICT_FOR_CLIENT) come after it has parsed, or answered, on its own
 * terms, and it offers no way to hand a socket back between requests. So
 * libmicrohttpd never gets the client's socket: the gate keeps it and
 * gives libmicrohttpd one end of a socket pair (MHD_add_connection), and
 * relay.c passes on each request only once httphead_check has passed it.
 * Connections stay open between requests (HTTP/1.1 keep-alive), and each
 * request on them gets the same checks and answers as the first. The cost
 * is two more reads and writes per request on the gate's thread, far less
 * than a handshake (README "Performance").
 *
 * One thread runs the gate: an epoll set, edge-triggered for connections,
 * holds the listening socket, an eventfd (stop, and libmicrohttpd's
 * completions a relay waits for) and both sockets of every connection.
 * Anything the gate answers itself is problem+json; it then shuts its
 * side and reads what the client still sends for a moment (lingering), so
 * the answer is not lost in a reset.
 *
 * The limits: at most max_clients connections relayed at once, and
 * max_per_client from one address, counted from the first request passed
 * on until the connection ends. A first request for GET or HEAD of
 * /healthz or /metrics may use GATE_RESERVE more, so they answer even when
 * every other slot is taken; waits and streams have their own cap below
 * max_clients (http.c), so they never take all slots either. Over a limit,
 * a client gets 503 as soon as its head is there. Heads not yet admitted
 * take one of max_clients slots of their own, for at most timeout_s (then
 * 408); when all are taken the oldest is answered 503 to make room, so
 * clients that send slowly cannot lock the door. Between requests a
 * connection may be idle for timeout_s; a head begun then must end within
 * it (408).
 *
 * The gate's lock guards the per-address counts and the links
 * libmicrohttpd's thread claims (gate_link_*); it is taken only for that,
 * never around a call out.
 */
#include "gate.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "httphead.h"
#include "log.h"
#include "problem.h"
#include "relay.h"

/* How long a refused client may go on sending before its connection is closed. */
#define GATE_LINGER_MS 2000
/* The pause after accept() fails for want of descriptors, so the loop does not spin. */
#define GATE_ACCEPT_PAUSE_MS 100
/* Connections accepted per wake-up, so reading heads keeps pace with accepting. */
#define GATE_ACCEPT_BATCH 64
/* Queued connections answered 503 at stop; the rest the kernel resets. */
#define GATE_STOP_ANSWER_MAX 4096
#define GATE_ANSWER_MAX 1024
#define GATE_EVENTS_MAX 64
/* The epoll tags of the two sockets that are not a connection's. */
#define TAG_LISTEN UINT64_MAX
#define TAG_WAKE (UINT64_MAX - 1)

/* One address and its connections. */
struct gate_client {
	struct in6_addr addr;		/* IPv4 as v4-mapped */
	unsigned int active;		/* relayed, not yet ended */
	unsigned int reading;		/* in a slot, first head not yet checked */
};

struct gate {
	struct gate_config cfg;
	gate_admit_fn *admit;
	void *admit_arg;
	int listen_fd;
	int wake_fd;			/* eventfd: gate_stop, gate_free, completions */
	int epoll_fd;
	pthread_t thread;
	bool started;
	atomic_int stop;		/* 1: close the door; 2: end the thread */
	bool door_closed;		/* the thread's own */
	pthread_mutex_t lock;		/* guards clients, active, links, door_shut */
	pthread_cond_t door_shut_cond;
	bool door_shut;
	struct gate_client *clients;
	size_t client_cap;
	unsigned int active;
	struct relay_link **links;	/* handed over, not yet claimed by libmicrohttpd */
	unsigned int reading;		/* slots in RELAY_READING; the thread's own */
	struct relay *slots;		/* the thread's own */
	size_t slot_cap;
	char *scratch;			/* HTTPHEAD_PEEK_MAX bytes */
	uint64_t accept_paused_until;
	uint64_t next_tick;
	uint64_t next_expiry;		/* no deadline is earlier */
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

/* Sends a problem as a whole HTTP/1.1 answer, best effort: it is small and comes last. */
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

/* Drops a link's reference; the last one frees it. Takes gate->lock. */
static void
link_put_locked(struct relay_link *link)
{
	if (--link->refs == 0)
		free(link);
}

/* Sets a slot's deadline, and the gate's next look at the deadlines. */
static void
slot_deadline(struct gate *gate, struct relay *r, uint64_t at)
{
	r->deadline_ms = at;
	if (at < gate->next_expiry)
		gate->next_expiry = at;
}

/* Takes a slot out of the counts: its first head is no longer read, or it is no longer relayed. */
static void
slot_uncount(struct gate *gate, struct relay *r)
{
	pthread_mutex_lock(&gate->lock);
	if (r->state == RELAY_READING && r->client != NULL) {
		r->client->reading--;
		gate->reading--;
	} else if (r->state == RELAY_RELAYING) {
		r->client->active--;
		gate->active--;
	}
	if (r->link != NULL) {
		for (size_t i = 0; i < gate->slot_cap; i++) {
			if (gate->links[i] == r->link) {
				gate->links[i] = NULL;
				link_put_locked(r->link);
			}
		}
		link_put_locked(r->link);
		r->link = NULL;
	}
	pthread_mutex_unlock(&gate->lock);
}

/* Frees a slot and closes its connection. */
static void
slot_release(struct gate *gate, struct relay *r)
{
	slot_uncount(gate, r);
	relay_close(r);
}

/* Ends what the slot relays, answers its client when p is set, and lets it linger. */
static void
slot_finish(struct gate *gate, struct relay *r, const struct problem *p, bool head_only)
{
	if (r->broken) {
		slot_release(gate, r);
		return;
	}
	if (p != NULL)
		send_problem(r->fd, p, head_only);
	shutdown(r->fd, SHUT_WR);
	slot_uncount(gate, r);
	if (r->server_fd >= 0) {
		close(r->server_fd);
		r->server_fd = -1;
	}
	r->state = RELAY_LINGERING;
	slot_deadline(gate, r, now_ms() + GATE_LINGER_MS);
}

/* A free slot, or one made free: the oldest lingering one first, else the slowest head. */
static struct relay *
slot_take(struct gate *gate)
{
	struct relay *oldest = NULL, *oldest_linger = NULL, *free_slot = NULL;
	struct problem p;

	for (size_t i = 0; i < gate->slot_cap; i++) {
		struct relay *s = &gate->slots[i];

		if (s->state == RELAY_FREE && free_slot == NULL)
			free_slot = s;
		if (s->state == RELAY_LINGERING &&
		    (oldest_linger == NULL || s->deadline_ms < oldest_linger->deadline_ms))
			oldest_linger = s;
		if (s->state == RELAY_READING && (oldest == NULL || s->deadline_ms < oldest->deadline_ms))
			oldest = s;
	}
	/* Heads being read have max_clients slots; the rest are for connections relayed. */
	if (gate->reading < gate->cfg.max_clients || oldest == NULL) {
		if (free_slot != NULL)
			return free_slot;
		if (oldest_linger != NULL) {
			slot_release(gate, oldest_linger);
			return oldest_linger;
		}
	}
	problem_set(&p, PROBLEM_UNAVAILABLE, NULL,
	    "too many clients are sending their requests slowly; the oldest is closed");
	send_problem(oldest->fd, &p, false);
	slot_release(gate, oldest);
	return oldest;
}

/* Relays a connection whose first head is checked, or answers 503 when it is over a limit. */
static void
slot_admit(struct gate *gate, struct relay *r, const struct httphead *head)
{
	unsigned int extra = head->reserved ? GATE_RESERVE : 0;
	struct gate_client *client = r->client;
	/* libmicrohttpd is told its peer is local, so it tries no TCP options on it. */
	const struct sockaddr_un local = { .sun_family = AF_UNIX };
	struct relay_link *link = NULL;
	struct problem p;
	bool over_total, over_client;
	size_t i;
	int pair[2] = { -1, -1 };

	pthread_mutex_lock(&gate->lock);
	over_total = gate->active >= gate->cfg.max_clients + extra;
	over_client = client->active >= gate->cfg.max_per_client + extra;
	pthread_mutex_unlock(&gate->lock);
	if (over_total || over_client) {
		problem_set(&p, PROBLEM_UNAVAILABLE, NULL,
		    over_total ? "the API serves %u connections at once; retry later" :
		    "the API serves %u connections at once from one address; retry later",
		    over_total ? gate->cfg.max_clients : gate->cfg.max_per_client);
		slot_finish(gate, r, &p, head->is_head);
		return;
	}
	link = calloc(1, sizeof(*link));
	if (link == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
		free(link);
		log_warn("api: cannot relay a connection");
		slot_release(gate, r);
		return;
	}
	link->refs = 2;		/* the relay's, and the table's until libmicrohttpd claims it */
	link->server_fd = pair[1];
	pthread_mutex_lock(&gate->lock);
	/* An unclaimed link with this descriptor is stale: libmicrohttpd closed it unstarted. */
	for (i = 0; i < gate->slot_cap; i++) {
		if (gate->links[i] != NULL && gate->links[i]->server_fd == link->server_fd) {
			link_put_locked(gate->links[i]);
			gate->links[i] = NULL;
		}
	}
	/* A row is free: each slot has at most one link in the table. */
	for (i = 0; gate->links[i] != NULL; i++)
		;
	gate->links[i] = link;
	client->reading--;
	gate->reading--;
	client->active++;
	gate->active++;
	pthread_mutex_unlock(&gate->lock);
	relay_begin(r, pair[0], link);
	if (epoll_ctl(gate->epoll_fd, EPOLL_CTL_ADD, pair[0], &(struct epoll_event){
	    .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	    .data.u64 = (uint64_t)(r - gate->slots) * 2 + 1 }) != 0 ||
	    gate->admit(gate->admit_arg, pair[1], (const struct sockaddr *)&local,
	    (socklen_t)sizeof(local)) != 0) {
		/* libmicrohttpd closed its end: the relay sees it closed. */
		r->server_eof = true;
	}
}

/* Moves a slot's bytes and acts on what it stopped for. */
static void
slot_pump(struct gate *gate, struct relay *r)
{
	struct httphead head;
	ssize_t n;

	for (;;) {
		if (r->state == RELAY_LINGERING) {
			while ((n = recv(r->fd, gate->scratch, HTTPHEAD_PEEK_MAX, MSG_DONTWAIT)) > 0)
				;
			if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
				slot_release(gate, r);
			return;
		}
		switch (relay_pump(r, gate->scratch, &head, now_ms())) {
		case RELAY_WAIT:
			if (r->deadline_ms < gate->next_expiry)
				gate->next_expiry = r->deadline_ms;
			return;
		case RELAY_FIRST_HEAD:
			slot_admit(gate, r, &head);
			if (r->state != RELAY_RELAYING)
				return;
			continue;
		case RELAY_REFUSE:
			slot_finish(gate, r, &r->refusal, r->is_head);
			return;
		case RELAY_DONE:
			if (r->state == RELAY_READING)
				slot_release(gate, r);
			else
				slot_finish(gate, r, NULL, false);
			return;
		}
	}
}

/* Takes a new connection into a slot, and reads its head if it is there already. */
static void
accept_one(struct gate *gate, int fd, const struct sockaddr_storage *addr, socklen_t addr_len)
{
	struct gate_client *client;
	struct relay *r;
	struct problem p;
	int one = 1;

	r = slot_take(gate);
	pthread_mutex_lock(&gate->lock);
	client = client_find_locked(gate, (const struct sockaddr *)addr, true);
	if (client != NULL) {
		client->reading++;
		gate->reading++;
	}
	pthread_mutex_unlock(&gate->lock);
	*r = (struct relay){ .state = RELAY_READING, .fd = fd, .server_fd = -1, .addr = *addr,
	    .addr_len = addr_len, .client = client,
	    .timeout_ms = (uint64_t)gate->cfg.timeout_s * 1000u };
	slot_deadline(gate, r, now_ms() + r->timeout_ms);
	/* Answers go out as they come, not held back for a full segment. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (epoll_ctl(gate->epoll_fd, EPOLL_CTL_ADD, fd, &(struct epoll_event){
	    .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	    .data.u64 = (uint64_t)(r - gate->slots) * 2 }) != 0) {
		slot_release(gate, r);
		return;
	}
	if (client == NULL) {
		/* Only when every row is held by another address: more than the gate can hold. */
		problem_set(&p, PROBLEM_UNAVAILABLE, NULL, "the API serves too many addresses at once");
		slot_finish(gate, r, &p, false);
		return;
	}
	slot_pump(gate, r);
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
				epoll_ctl(gate->epoll_fd, EPOLL_CTL_DEL, gate->listen_fd, NULL);
			}
			return;
		}
		accept_one(gate, fd, &addr, addr_len);
	}
}

/* Acts on the deadlines that have passed, and finds the next one. */
static void
expire_slots(struct gate *gate, uint64_t now)
{
	struct problem p;

	if (now < gate->next_expiry)
		return;
	gate->next_expiry = UINT64_MAX;
	for (size_t i = 0; i < gate->slot_cap; i++) {
		struct relay *r = &gate->slots[i];

		if (r->state == RELAY_FREE)
			continue;
		if (r->deadline_ms <= now) {
			if (r->state == RELAY_LINGERING) {
				slot_release(gate, r);
				continue;
			}
			switch (relay_expired(r)) {
			case RELAY_EXPIRY_BUSY:
				r->deadline_ms = now + r->timeout_ms;
				break;
			case RELAY_EXPIRY_TIMEOUT:
				problem_set(&p, PROBLEM_TIMEOUT, NULL,
				    "the request head did not arrive within %u s", gate->cfg.timeout_s);
				slot_finish(gate, r, &p, false);
				break;
			case RELAY_EXPIRY_CLOSE:
				r->broken = true;
				slot_finish(gate, r, NULL, false);
				break;
			}
			if (r->state == RELAY_FREE)
				continue;
		}
		if (r->deadline_ms < gate->next_expiry)
			gate->next_expiry = r->deadline_ms;
	}
}

/* Pumps the relays that wait for libmicrohttpd to finish a request. */
static void
pump_notified(struct gate *gate)
{
	for (size_t i = 0; i < gate->slot_cap; i++) {
		struct relay *r = &gate->slots[i];

		if (r->state == RELAY_RELAYING && atomic_load(&r->link->notify))
			slot_pump(gate, r);
	}
}

/* Closes the door: queued connections and first heads being read get 503. */
static void
close_door(struct gate *gate)
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
	close(gate->listen_fd);
	gate->listen_fd = -1;
	for (size_t i = 0; i < gate->slot_cap; i++) {
		struct relay *r = &gate->slots[i];

		if (r->state != RELAY_READING)
			continue;
		send_problem(r->fd, &p, false);
		slot_release(gate, r);
	}
	gate->door_closed = true;
	pthread_mutex_lock(&gate->lock);
	gate->door_shut = true;
	pthread_cond_broadcast(&gate->door_shut_cond);
	pthread_mutex_unlock(&gate->lock);
}

/* Handles one wake-up's events; returns false when the thread is to end. */
static bool
handle_events(struct gate *gate, const struct epoll_event *events, int n)
{
	bool accept_ready = false;
	uint64_t count;

	for (int i = 0; i < n; i++) {
		uint64_t tag = events[i].data.u64;
		struct relay *r;

		if (tag == TAG_LISTEN) {
			accept_ready = true;
			continue;
		}
		if (tag == TAG_WAKE) {
			if (read(gate->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
				log_warn("api: cannot read the gate's wake-up");
			if (atomic_load(&gate->stop) == 2)
				return false;
			if (atomic_load(&gate->stop) == 1 && !gate->door_closed)
				close_door(gate);
			pump_notified(gate);
			continue;
		}
		r = &gate->slots[tag / 2];
		if (r->state == RELAY_FREE)
			continue;
		if (tag % 2 == 0 && (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)
			r->hung_up = true;
		slot_pump(gate, r);
	}
	/* Last, so that no slot is taken again while events for it wait in this batch. */
	if (accept_ready && !gate->door_closed)
		accept_batch(gate);
	return true;
}

static void *
gate_run(void *arg)
{
	struct epoll_event events[GATE_EVENTS_MAX];
	struct gate *gate = arg;
	uint64_t now, next;
	int n;

	for (;;) {
		now = now_ms();
		next = gate->next_expiry;
		if (gate->cfg.tick != NULL && gate->next_tick < next)
			next = gate->next_tick;
		if (gate->accept_paused_until != 0 && gate->accept_paused_until < next)
			next = gate->accept_paused_until;
		n = epoll_wait(gate->epoll_fd, events, GATE_EVENTS_MAX,
		    next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now));
		if (n < 0 && errno != EINTR) {
			log_warn("api: the gate's poll failed");
			break;
		}
		if (n > 0 && !handle_events(gate, events, n))
			break;
		now = now_ms();
		if (gate->accept_paused_until != 0 && now >= gate->accept_paused_until) {
			gate->accept_paused_until = 0;
			if (!gate->door_closed)
				epoll_ctl(gate->epoll_fd, EPOLL_CTL_ADD, gate->listen_fd,
				    &(struct epoll_event){ .events = EPOLLIN, .data.u64 = TAG_LISTEN });
		}
		expire_slots(gate, now);
		if (gate->cfg.tick != NULL && now >= gate->next_tick) {
			gate->cfg.tick(gate->cfg.tick_arg);
			gate->next_tick = now + GATE_TICK_MS;
		}
	}
	if (!gate->door_closed)
		close_door(gate);
	/* libmicrohttpd has stopped: pass on what it wrote last, then close everything. */
	for (size_t i = 0; i < gate->slot_cap; i++) {
		if (gate->slots[i].state == RELAY_RELAYING)
			slot_pump(gate, &gate->slots[i]);
		if (gate->slots[i].state != RELAY_FREE)
			slot_release(gate, &gate->slots[i]);
	}
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

static void
wake(struct gate *gate)
{
	uint64_t one = 1;

	if (write(gate->wake_fd, &one, sizeof(one)) < 0)
		log_warn("api: cannot wake the gate");
}

void
gate_free(struct gate *gate)
{
	if (gate == NULL)
		return;
	if (gate->started) {
		atomic_store(&gate->stop, 2);
		wake(gate);
		pthread_join(gate->thread, NULL);
	}
	if (gate->listen_fd >= 0)
		close(gate->listen_fd);
	if (gate->wake_fd >= 0)
		close(gate->wake_fd);
	if (gate->epoll_fd >= 0)
		close(gate->epoll_fd);
	/* libmicrohttpd has stopped; links it never claimed are only the table's now. */
	for (size_t i = 0; gate->links != NULL && i < gate->slot_cap; i++) {
		if (gate->links[i] != NULL)
			link_put_locked(gate->links[i]);
	}
	pthread_cond_destroy(&gate->door_shut_cond);
	pthread_mutex_destroy(&gate->lock);
	free(gate->clients);
	free(gate->slots);
	free(gate->links);
	free(gate->scratch);
	free(gate);
}

/* Adds fd to the gate's epoll set, level-triggered, with tag. */
static int
watch(struct gate *gate, int fd, uint64_t tag)
{
	return epoll_ctl(gate->epoll_fd, EPOLL_CTL_ADD, fd,
	    &(struct epoll_event){ .events = EPOLLIN, .data.u64 = tag }) == 0 ? 0 : -errno;
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
	gate->next_expiry = UINT64_MAX;
	pthread_mutex_init(&gate->lock, NULL);
	pthread_cond_init(&gate->door_shut_cond, NULL);
	/* Heads being read, connections relayed with the reserve, and one lingering at least. */
	gate->slot_cap = (size_t)cfg->max_clients * 2 + GATE_RESERVE + 1;
	/* Every address that may hold a connection, relayed or being read, has a row. */
	gate->client_cap = (size_t)cfg->max_clients * 2 + GATE_RESERVE;
	gate->clients = calloc(gate->client_cap, sizeof(*gate->clients));
	gate->slots = calloc(gate->slot_cap, sizeof(*gate->slots));
	gate->links = calloc(gate->slot_cap, sizeof(*gate->links));
	gate->scratch = malloc(HTTPHEAD_PEEK_MAX);
	gate->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	rc = -ENOMEM;
	if (gate->clients == NULL || gate->slots == NULL || gate->links == NULL ||
	    gate->scratch == NULL)
		goto fail;
	for (size_t i = 0; i < gate->slot_cap; i++)
		gate->slots[i] = (struct relay){ .state = RELAY_FREE, .fd = -1, .server_fd = -1 };
	gate->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (gate->wake_fd < 0 || gate->epoll_fd < 0) {
		rc = -errno;
		goto fail;
	}
	gate->listen_fd = listen_on(addr, addr_len, port);
	if (gate->listen_fd < 0) {
		rc = gate->listen_fd;
		goto fail;
	}
	rc = watch(gate, gate->wake_fd, TAG_WAKE);
	if (rc == 0)
		rc = watch(gate, gate->listen_fd, TAG_LISTEN);
	if (rc != 0)
		goto fail;
	/* Before the thread starts: libmicrohttpd may claim a link at once. */
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

struct relay_link *
gate_link_claim(struct gate *gate, int server_fd)
{
	struct relay_link *link = NULL;

	pthread_mutex_lock(&gate->lock);
	for (size_t i = 0; i < gate->slot_cap; i++) {
		if (gate->links[i] != NULL && gate->links[i]->server_fd == server_fd) {
			/* The table's reference becomes libmicrohttpd's. */
			link = gate->links[i];
			gate->links[i] = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&gate->lock);
	return link;
}

void
gate_link_completed(struct gate *gate, struct relay_link *link)
{
	if (link == NULL)
		return;
	atomic_fetch_add(&link->completed, 1);
	if (atomic_load(&link->notify))
		wake(gate);
}

void
gate_link_release(struct gate *gate, struct relay_link *link)
{
	if (link == NULL)
		return;
	pthread_mutex_lock(&gate->lock);
	link_put_locked(link);
	pthread_mutex_unlock(&gate->lock);
}

void
gate_stop(struct gate *gate)
{
	if (gate == NULL || !gate->started)
		return;
	atomic_store(&gate->stop, 1);
	wake(gate);
	pthread_mutex_lock(&gate->lock);
	while (!gate->door_shut)
		pthread_cond_wait(&gate->door_shut_cond, &gate->lock);
	pthread_mutex_unlock(&gate->lock);
}
