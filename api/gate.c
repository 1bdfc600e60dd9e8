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
#include "gate_internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

/* The pause after accept() fails for want of descriptors, so the loop does not spin. */
#define GATE_ACCEPT_PAUSE_MS 100
/* Connections accepted per wake-up, so reading heads keeps pace with accepting. */
#define GATE_ACCEPT_BATCH 64
/* Queued connections answered 503 at stop; the rest the kernel resets. */
#define GATE_STOP_ANSWER_MAX 4096
#define GATE_EVENTS_MAX 64
/* The epoll tags of the two sockets that are not a connection's. */
#define TAG_LISTEN UINT64_MAX
#define TAG_WAKE (UINT64_MAX - 1)

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
				gate->accept_paused_until = gate_now_ms() + GATE_ACCEPT_PAUSE_MS;
				epoll_ctl(gate->epoll_fd, EPOLL_CTL_DEL, gate->listen_fd, NULL);
			}
			return;
		}
		gate_accept_one(gate, fd, &addr, addr_len);
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
		gate_send_problem(fd, &p, false);
		close(fd);
	}
	close(gate->listen_fd);
	gate->listen_fd = -1;
	for (size_t i = 0; i < gate->slot_cap; i++) {
		struct relay *r = &gate->slots[i];

		if (r->state != RELAY_READING)
			continue;
		gate_send_problem(r->fd, &p, false);
		gate_slot_release(gate, r);
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
			gate_pump_notified(gate);
			continue;
		}
		r = &gate->slots[tag / 2];
		if (r->state == RELAY_FREE)
			continue;
		if (tag % 2 == 0 && (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)
			r->hung_up = true;
		/* Reset, or shut both ways: nothing more can reach the client. */
		if (tag % 2 == 0 && (events[i].events & (EPOLLHUP | EPOLLERR)) != 0)
			r->broken = true;
		if ((events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
			if (tag % 2 == 0)
				r->client_ready = true;
			else
				r->server_ready = true;
		}
		gate_slot_pump(gate, r);
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
		now = gate_now_ms();
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
		now = gate_now_ms();
		if (gate->accept_paused_until != 0 && now >= gate->accept_paused_until) {
			gate->accept_paused_until = 0;
			if (!gate->door_closed)
				epoll_ctl(gate->epoll_fd, EPOLL_CTL_ADD, gate->listen_fd,
				    &(struct epoll_event){ .events = EPOLLIN, .data.u64 = TAG_LISTEN });
		}
		gate_expire_slots(gate, now);
		if (gate->cfg.tick != NULL && now >= gate->next_tick) {
			gate->cfg.tick(gate->cfg.tick_arg);
			gate->next_tick = now + GATE_TICK_MS;
		}
	}
	if (!gate->door_closed)
		close_door(gate);
	/*
	 * libmicrohttpd has stopped: pass on what it wrote last (a stream's
	 * final chunk, a 503), then close everything. The stop's wake may have
	 * come before the event of those last bytes, so each end is read
	 * without waiting for one.
	 */
	for (size_t i = 0; i < gate->slot_cap; i++) {
		if (gate->slots[i].state == RELAY_RELAYING) {
			gate->slots[i].server_ready = true;
			gate_slot_pump(gate, &gate->slots[i]);
		}
		if (gate->slots[i].state != RELAY_FREE)
			gate_slot_release(gate, &gate->slots[i]);
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
			gate_link_put_locked(gate->links[i]);
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
	gate_link_put_locked(link);
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
