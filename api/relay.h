/*
 * relay: one API connection's bytes between its client and
 * libmicrohttpd, with every request head checked (httphead.c) before it
 * is passed on. The gate (gate.c) owns the relays and acts on what
 * relay_pump reports.
 */
#ifndef LWIPD_RELAY_H
#define LWIPD_RELAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "httphead.h"
#include "problem.h"

/*
 * What libmicrohttpd's thread tells a relay: how many requests it has
 * finished. Shared by the gate's thread and libmicrohttpd's; refs is
 * guarded by the gate's lock.
 */
struct relay_link {
	atomic_ulong completed;		/* requests libmicrohttpd has finished */
	atomic_bool notify;		/* the relay waits for completed: wake the gate */
	unsigned int refs;		/* the relay's, and libmicrohttpd's once it claims it */
	int server_fd;			/* libmicrohttpd's end, until it claims the link */
};

enum relay_state {
	RELAY_FREE,
	RELAY_READING,		/* no request passed on yet: the first head is awaited */
	RELAY_RELAYING,		/* connected to libmicrohttpd */
	RELAY_LINGERING,	/* answered and shut: what the client still sends is dropped */
};

/* What relay_pump stopped for. */
enum relay_event {
	RELAY_WAIT,		/* until a socket is ready, or libmicrohttpd finishes a request */
	RELAY_FIRST_HEAD,	/* the first head is whole and well formed: admit it or refuse */
	RELAY_REFUSE,		/* answer the problem now: every earlier answer has been relayed */
	RELAY_DONE,		/* the client or libmicrohttpd is done: shut the connection */
};

struct gate_client;

/* One client connection; the gate's thread owns it. */
struct relay {
	enum relay_state state;
	int fd;				/* the client's socket; -1 when free */
	int server_fd;			/* the gate's end of the pair to libmicrohttpd, or -1 */
	struct relay_link *link;	/* NULL until relaying */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct gate_client *client;
	uint64_t deadline_ms;
	uint64_t timeout_ms;		/* for a head, from the last request passed on */
	size_t seen;			/* bytes of the next head peeked the last time */
	bool hung_up;			/* the client shut its side */
	bool client_ready;		/* the client's socket may hold bytes not yet looked at */
	bool server_ready;		/* the same for libmicrohttpd's answers */
	bool refusing;			/* a bad head: answer it once the earlier answers are out */
	bool client_eof;		/* the client sent its last request */
	bool eof_passed;		/* and libmicrohttpd's end was shut for writing, as the client's was */
	bool server_eof;		/* libmicrohttpd closed its end: nothing more to read */
	bool server_unwritable;		/* writing to libmicrohttpd failed: it closed early, yet its answer is still read */
	bool broken;			/* a socket failed: close without lingering */
	bool is_head;			/* the refused request is a HEAD */
	uint64_t body_left;		/* bytes of a Content-Length body still to pass on */
	unsigned long forwarded;	/* requests passed on */
	struct problem refusal;
	char *to_server;		/* bytes read but not yet written, each way (malloc'd) */
	size_t to_server_len;
	char *to_client;
	size_t to_client_len;
};

/*
 * Moves what can be moved both ways, without blocking, and checks each
 * new head; scratch holds HTTPHEAD_PEEK_MAX bytes, now is the monotonic
 * time in ms. Returns what the gate
 * must do; *head is filled for RELAY_FIRST_HEAD, r->refusal for
 * RELAY_REFUSE.
 */
enum relay_event relay_pump(struct relay *r, char *scratch, struct httphead *head, uint64_t now);

/*
 * Starts relaying a READING connection whose first head the gate
 * admitted: server_fd is the gate's end of a pair whose other end
 * libmicrohttpd has, and link the relay's share with it.
 */
void relay_begin(struct relay *r, int server_fd, struct relay_link *link);

/* What the deadline's expiry means for a relaying connection. */
enum relay_expiry {
	RELAY_EXPIRY_BUSY,	/* libmicrohttpd is still answering: wait on */
	RELAY_EXPIRY_TIMEOUT,	/* a head began and did not end: answer 408 */
	RELAY_EXPIRY_CLOSE,	/* idle between requests, or stuck in a body: close */
};

enum relay_expiry relay_expired(const struct relay *r);

/* Frees the buffers and closes the sockets; the link is the gate's to put. Leaves r free. */
void relay_close(struct relay *r);

#endif
