/*
 * api: the REST control plane. One libmicrohttpd thread turns requests into
 * plain engine calls and renders the answers as JSON; JSON values never
 * leave that thread.
 */
#ifndef LWIPD_API_H
#define LWIPD_API_H

#include <sys/socket.h>

struct engine;
struct api_server;

struct api_config {
	struct sockaddr_storage listen_addr;	/* AF_INET or AF_INET6; port 0 picks one */
	socklen_t listen_addr_len;
	unsigned int max_clients;	/* connections at once, besides a reserve for health */
	unsigned int max_per_client;	/* connections from one address; 0: max_clients / 2 */
	unsigned int timeout_s;		/* for an idle or half-sent request */
	unsigned int max_waiters;	/* waits and streams at once, below max_clients; 0: 3/4 of it */
	const char *token_file;		/* NULL or empty: no bearer token required */
};

/*
 * Starts serving on cfg->listen_addr and logs the address it listens on.
 * Returns 0, or a negative errno when the socket cannot be bound.
 */
int api_start(const struct api_config *cfg, struct engine *engine, struct api_server **out);

/*
 * Stops serving and frees the server. Accepts NULL. Call it after
 * engine_stop(), which wakes every waiting request: libmicrohttpd aborts
 * when stopped with a request still suspended.
 */
void api_stop(struct api_server *server);

#endif
