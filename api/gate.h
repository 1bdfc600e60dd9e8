/*
 * gate: the API's front door. It owns the listening socket and every
 * client's socket, checks each request head (httphead.c), answers what is
 * malformed or over a limit itself, in problem+json, and relays the rest
 * to libmicrohttpd through a socket pair (relay.c).
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
 * Hands the HTTP server its end of a connection's socket pair; it owns fd
 * from then on, also when it fails. addr names it as a local socket.
 * Returns 0 or a negative errno.
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

/*
 * What libmicrohttpd's thread tells the gate about a connection the gate
 * relays: it started serving server_fd (the link, or NULL for one the gate
 * no longer relays), it finished a request on it, and it closed it. The
 * last two accept NULL.
 */
struct relay_link *gate_link_claim(struct gate *gate, int server_fd);
void gate_link_completed(struct gate *gate, struct relay_link *link);
void gate_link_release(struct gate *gate, struct relay_link *link);

/*
 * Closes the door: answers 503 to every connection still queued or whose
 * first head is being read, and closes the listening socket. Connections
 * already relayed go on until the HTTP server stops. Accepts NULL.
 */
void gate_stop(struct gate *gate);

/*
 * Once the HTTP server is stopped: passes on what it wrote last, stops the
 * thread, closes every connection and frees the gate. Accepts NULL.
 */
void gate_free(struct gate *gate);

#endif
