/*
 * gate_slots: the connections a gate holds: taking a slot for each, the
 * limits at its first request, the answers the gate gives itself,
 * lingering, and the deadlines. gate.c runs them; see its DESIGN.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gate_internal.h"
#include "log.h"

uint64_t
gate_now_ms(void)
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
void
gate_send_problem(int fd, const struct problem *p, bool head_only)
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
void
gate_link_put_locked(struct relay_link *link)
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
				gate_link_put_locked(r->link);
			}
		}
		gate_link_put_locked(r->link);
		r->link = NULL;
	}
	pthread_mutex_unlock(&gate->lock);
}

/* Frees a slot and closes its connection. */
void
gate_slot_release(struct gate *gate, struct relay *r)
{
	slot_uncount(gate, r);
	relay_close(r);
}

/* Ends what the slot relays, answers its client when p is set, and lets it linger. */
static void
slot_finish(struct gate *gate, struct relay *r, const struct problem *p, bool head_only)
{
	if (r->broken) {
		gate_slot_release(gate, r);
		return;
	}
	if (p != NULL)
		gate_send_problem(r->fd, p, head_only);
	shutdown(r->fd, SHUT_WR);
	slot_uncount(gate, r);
	if (r->server_fd >= 0) {
		close(r->server_fd);
		r->server_fd = -1;
	}
	r->state = RELAY_LINGERING;
	slot_deadline(gate, r, gate_now_ms() + GATE_LINGER_MS);
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
			gate_slot_release(gate, oldest_linger);
			return oldest_linger;
		}
	}
	problem_set(&p, PROBLEM_UNAVAILABLE, NULL,
	    "too many clients are sending their requests slowly; the oldest is closed");
	gate_send_problem(oldest->fd, &p, false);
	gate_slot_release(gate, oldest);
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
		gate_slot_release(gate, r);
		return;
	}
	link->refs = 2;		/* the relay's, and the table's until libmicrohttpd claims it */
	link->server_fd = pair[1];
	pthread_mutex_lock(&gate->lock);
	/* An unclaimed link with this descriptor is stale: libmicrohttpd closed it unstarted. */
	for (i = 0; i < gate->slot_cap; i++) {
		if (gate->links[i] != NULL && gate->links[i]->server_fd == link->server_fd) {
			gate_link_put_locked(gate->links[i]);
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
void
gate_slot_pump(struct gate *gate, struct relay *r)
{
	struct httphead head;
	ssize_t n;

	for (;;) {
		if (r->state == RELAY_LINGERING) {
			while ((n = recv(r->fd, gate->scratch, HTTPHEAD_PEEK_MAX, MSG_DONTWAIT)) > 0)
				;
			if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
				gate_slot_release(gate, r);
			return;
		}
		switch (relay_pump(r, gate->scratch, &head, gate_now_ms())) {
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
				gate_slot_release(gate, r);
			else
				slot_finish(gate, r, NULL, false);
			return;
		}
	}
}

/* Takes a new connection into a slot, and reads its head if it is there already. */
void
gate_accept_one(struct gate *gate, int fd, const struct sockaddr_storage *addr, socklen_t addr_len)
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
	slot_deadline(gate, r, gate_now_ms() + r->timeout_ms);
	/* Answers go out as they come, not held back for a full segment. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (epoll_ctl(gate->epoll_fd, EPOLL_CTL_ADD, fd, &(struct epoll_event){
	    .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	    .data.u64 = (uint64_t)(r - gate->slots) * 2 }) != 0) {
		gate_slot_release(gate, r);
		return;
	}
	if (client == NULL) {
		/* Only when every row is held by another address: more than the gate can hold. */
		problem_set(&p, PROBLEM_UNAVAILABLE, NULL, "the API serves too many addresses at once");
		slot_finish(gate, r, &p, false);
		return;
	}
	gate_slot_pump(gate, r);
}

/* Acts on the deadlines that have passed, and finds the next one. */
void
gate_expire_slots(struct gate *gate, uint64_t now)
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
				gate_slot_release(gate, r);
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
void
gate_pump_notified(struct gate *gate)
{
	for (size_t i = 0; i < gate->slot_cap; i++) {
		struct relay *r = &gate->slots[i];

		if (r->state == RELAY_RELAYING && atomic_load(&r->link->notify))
			gate_slot_pump(gate, r);
	}
}

