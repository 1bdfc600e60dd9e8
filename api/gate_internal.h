/*
 * gate_internal: what gate.c and gate_slots.c share: the gate, its
 * per-address counts, and the calls between the two files. Only the
 * gate's thread calls them, unless a comment says otherwise.
 */
#ifndef LWIPD_GATE_INTERNAL_H
#define LWIPD_GATE_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gate.h"
#include "problem.h"
#include "relay.h"

/* How long a refused client may go on sending before its connection is closed. */
#define GATE_LINGER_MS 2000
#define GATE_ANSWER_MAX 1024

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

uint64_t gate_now_ms(void);
/* Sends a problem as a whole HTTP/1.1 answer that closes the connection, best effort. */
void gate_send_problem(int fd, const struct problem *p, bool head_only);
/* Drops a link's reference; the last one frees it. Takes gate->lock, on any thread. */
void gate_link_put_locked(struct relay_link *link);
/* Takes a new connection into a slot, and reads its head if it is there already. */
void gate_accept_one(struct gate *gate, int fd, const struct sockaddr_storage *addr,
    socklen_t addr_len);
/* Moves a slot's bytes and acts on what it stopped for. */
void gate_slot_pump(struct gate *gate, struct relay *r);
/* Frees a slot and closes its connection. */
void gate_slot_release(struct gate *gate, struct relay *r);
/* Acts on the deadlines that have passed, and finds the next one. */
void gate_expire_slots(struct gate *gate, uint64_t now);
/* Pumps the relays that wait for libmicrohttpd to finish a request. */
void gate_pump_notified(struct gate *gate);

#endif
