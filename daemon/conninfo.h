/*
 * conninfo: the plain values that describe one connection, its endpoints,
 * origin, state history and counters. The connection table records them
 * and the engine's views copy them; nothing here knows of either.
 */
#ifndef LWIPD_CONNINFO_H
#define LWIPD_CONNINFO_H

#include <stdint.h>

#include "tcpinfo.h"

/* A state history never holds more entries than this: RFC 9293's longest path has nine. */
#define ENGINE_HISTORY_MAX 16

enum engine_origin {
	ENGINE_ORIGIN_ACTIVE = 0,
	ENGINE_ORIGIN_PASSIVE
};

/* An IPv4 endpoint. ip is in network byte order, port in host order. */
struct engine_endpoint {
	uint32_t ip;
	uint16_t port;
};

/* at_us first: 16 bytes rather than 24, as every connection keeps a history. */
struct engine_history_entry {
	uint64_t at_us;		/* microseconds since the daemon started */
	enum tcpinfo_state state;
	struct tcpinfo_cause cause;
};

struct engine_counters {
	uint64_t segs_in;
	uint64_t segs_out;
	uint64_t bytes_in;	/* payload lwIP accepted in sequence */
	uint64_t bytes_out;
	uint64_t retransmits;
	uint64_t rst_in;	/* RSTs that ended the connection */
	uint64_t rst_in_ignored;	/* RSTs lwIP did not act on (out of window, or dropped before it) */
	uint64_t rst_out;
};

#endif
