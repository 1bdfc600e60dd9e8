/*
 * ports: chooses the local port of each active open and counts which ports
 * active opens use.
 *
 * DESIGN
 *
 * Local ports are chosen here, not by lwIP: its allocator scans every PCB
 * list per candidate and fails slowly when the 16K range fills. The glue's
 * hash of 4-tuples tells in one lookup whether a port is free towards a
 * peer, and every PCB is bound with SOF_REUSEADDR so that a port can serve
 * many peers. A listener needs its port free towards everyone, so the count
 * of active opens per port is kept too.
 */
#include <errno.h>
#include <stdlib.h>

#include "stack_internal.h"

#define EPHEMERAL_FIRST 49152u
#define EPHEMERAL_COUNT 16384u

/* How many active opens use a local port. */
struct port_use {
	uint16_t port;
	uint32_t count;
	UT_hash_handle hh;
};

static struct port_use *port_uses;

static struct port_use *
port_use_find(uint16_t port)
{
	struct port_use *use;

	HASH_FIND(hh, port_uses, &port, sizeof(port), use);
	return use;
}

int
ports_use_add(uint16_t port)
{
	struct port_use *use = port_use_find(port);

	if (use == NULL) {
		use = calloc(1, sizeof(*use));
		if (use == NULL)
			return -ENOMEM;
		use->port = port;
		HASH_ADD(hh, port_uses, port, sizeof(use->port), use);
	}
	use->count++;
	return 0;
}

void
ports_use_release(uint16_t port)
{
	struct port_use *use = port_use_find(port);

	if (use != NULL && --use->count == 0) {
		HASH_DEL(port_uses, use);
		free(use);
	}
}

bool
ports_used(uint16_t port)
{
	return port_use_find(port) != NULL;
}

/* A local port is taken towards a peer by a connection to it, and towards everyone by a listener. */
bool
ports_taken(uint32_t remote_ip, uint16_t local_port, uint16_t remote_port)
{
	return glue_find(frame_conn_key(remote_ip, local_port, remote_port)) != NULL ||
	    glue_listening(local_port);
}

/* A random start, then the next free port towards this peer: at most one range of lookups. */
int
ports_pick(uint32_t remote_ip, uint16_t remote_port, uint16_t *out)
{
	uint32_t start = (uint32_t)rand() % EPHEMERAL_COUNT;

	for (uint32_t i = 0; i < EPHEMERAL_COUNT; i++) {
		uint16_t port = (uint16_t)(EPHEMERAL_FIRST + (start + i) % EPHEMERAL_COUNT);

		if (!ports_taken(remote_ip, port, remote_port)) {
			*out = port;
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}
