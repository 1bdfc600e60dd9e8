/*
 * gate: the API's front door. It owns the listening socket, reads each new
 * connection's request head without consuming it (httphead.c), answers
 * what is malformed or over a limit itself, in problem+json, and hands the
 * rest to libmicrohttpd.
 */
#ifndef LWIPD_GATE_H
#define LWIPD_GATE_H

#include <sys/socket.h>

/* Connections kept beyond max_clients (and max_per_client) for GET /healthz and /metrics. */
#define GATE_RESERVE 8

/* How often the gate's thread calls its tick. */
#define GATE_TICK_MS 200

struct gate_config {
	unsigned int max_clients;	/* handed over at once, besides the reserve */
	unsigned int max_per_client;	/* the same, from one address */
	unsigned int timeout_s;		/* for a request head to arrive whole */
	void (*tick)(void *arg);	/* NULL, or called every GATE_TICK_MS on the gate's thread */
	void *tick_arg;
};

/*
 * Hands a connection whose head is well formed to the HTTP server, which
 * owns fd from then on, also when it fails. Returns 0 or a negative errno.
 */
typedef int gate_admit_fn(void *arg, int fd, const struct sockaddr *addr, socklen_t addr_len);

struct gate;

/*
 * Binds addr, listens and starts the gate's thread. *port is the port
 * bound. Returns 0 or a negative errno.
 */
int gate_start(const struct sockaddr_storage *addr, socklen_t addr_len,
    const struct gate_config *cfg, gate_admit_fn *admit, void *arg, struct gate **out,
    unsigned int *port);

/* The HTTP server closed a connection the gate handed over: its slot is free. */
void gate_closed(struct gate *gate, const struct sockaddr *addr);

/*
 * Closes the door: answers 503 to every connection still queued or being
 * read, stops the thread and closes the listening socket. Connections
 * already handed over are the HTTP server's. Accepts NULL.
 */
void gate_stop(struct gate *gate);

/* Frees the gate once the HTTP server is stopped, so gate_closed is not called again. Accepts NULL. */
void gate_free(struct gate *gate);

#endif
