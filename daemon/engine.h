/*
 * engine: the connection engine that the API and the lwIP glue share.
 *
 * The API thread calls these functions with plain C values and gets plain
 * C snapshots back; nothing here carries lwIP or HTTP types. Each call takes
 * the stack's core lock for a short, bounded time and copies what it returns,
 * so callers never see shared state.
 */
#ifndef LWIPD_ENGINE_H
#define LWIPD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpinfo.h"

/* A state history never holds more entries than this: RFC 9293's longest path has nine. */
#define ENGINE_HISTORY_MAX 16

#define ENGINE_IFNAME_MAX 16

enum engine_origin {
	ENGINE_ORIGIN_ACTIVE = 0,
	ENGINE_ORIGIN_PASSIVE
};

/* An IPv4 endpoint. ip is in network byte order, port in host order. */
struct engine_endpoint {
	uint32_t ip;
	uint16_t port;
};

struct engine_history_entry {
	enum tcpinfo_state state;
	uint64_t at_us;		/* microseconds since the daemon started */
	struct tcpinfo_cause cause;
};

struct engine_counters {
	uint64_t segs_in;
	uint64_t segs_out;
	uint64_t bytes_in;	/* TCP payload bytes */
	uint64_t bytes_out;
	uint64_t retransmits;
	uint64_t rst_in;
	uint64_t rst_out;
};

/* A copy of one connection, taken under the core lock. */
struct engine_conn_view {
	uint64_t id;
	enum engine_origin origin;
	struct engine_endpoint local;
	struct engine_endpoint remote;
	enum tcpinfo_state state;
	size_t history_len;
	struct engine_history_entry history[ENGINE_HISTORY_MAX];
	struct engine_counters counters;
};

struct engine_iface_counters {
	uint64_t rx_frames;
	uint64_t tx_frames;
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	uint64_t rx_dropped;
};

struct engine_iface_view {
	char name[ENGINE_IFNAME_MAX];
	uint8_t mac[6];
	uint32_t address;	/* network byte order */
	uint8_t prefix;
	uint32_t mtu;
	bool up;
	struct engine_iface_counters counters;
};

struct engine_open_params {
	struct engine_endpoint remote;
	uint16_t local_port;	/* 0: the engine picks a free ephemeral port */
};

enum engine_close_mode {
	ENGINE_CLOSE_GRACEFUL = 0,	/* FIN: the four-way teardown */
	ENGINE_CLOSE_ABORT		/* RST */
};

struct engine;
struct stack_config;

/* Settings the engine needs from the daemon's configuration. */
struct engine_config {
	char ifname[ENGINE_IFNAME_MAX];
	uint32_t address;	/* network byte order */
	uint8_t prefix;
	uint32_t msl_ms;
	uint32_t retain_closed;
};

/*
 * For main: creates the engine and starts the stack under it.
 * Returns 0 or a negative errno.
 */
int engine_start(const struct engine_config *cfg, const struct stack_config *stack_cfg,
    struct engine **out);

/* For main: aborts every live connection with a RST and refuses new work. */
void engine_stop(struct engine *engine);

/* Frees the engine after engine_stop() and the stack's stop. Accepts NULL. */
void engine_free(struct engine *engine);

/*
 * Starts an active open. On success fills *out with the new connection.
 * Returns 0 or:
 *   -EINVAL        remote.ip is this interface's own, network or broadcast address
 *   -ENETUNREACH   remote.ip is off the subnet and no gateway is configured
 *   -EADDRINUSE    local_port is already used towards that remote endpoint
 *   -EADDRNOTAVAIL no ephemeral port is free towards that remote endpoint
 *   -ENOBUFS       the live connection limit is reached
 *   -ENOMEM        out of memory
 *   -ESHUTDOWN     the daemon is stopping
 */
int engine_open(struct engine *engine, const struct engine_open_params *params,
    struct engine_conn_view *out);

/*
 * Closes a connection: a FIN for ENGINE_CLOSE_GRACEFUL, a RST for
 * ENGINE_CLOSE_ABORT. *acted is set to false when there was nothing to do
 * (a graceful close of a connection already closing or closed, or an abort
 * of a closed one). *out holds the connection after the call.
 * Returns 0, -ENOENT for an unknown id, or -ESHUTDOWN.
 */
int engine_close(struct engine *engine, uint64_t id, enum engine_close_mode mode,
    struct engine_conn_view *out, bool *acted);

/* Copies one connection. Returns 0 or -ENOENT. */
int engine_get(struct engine *engine, uint64_t id, struct engine_conn_view *out);

/*
 * Copies every connection in id order, or only those in *state_filter when
 * it is not NULL. *out is malloc'd (NULL when *count is 0) and the caller
 * frees it. Returns 0 or -ENOMEM.
 */
int engine_list(struct engine *engine, const enum tcpinfo_state *state_filter,
    struct engine_conn_view **out, size_t *count);

/* Copies the interface's configuration and counters. */
void engine_interface(struct engine *engine, struct engine_iface_view *out);

/* True while the stack and the TAP device are up and the daemon is not stopping. */
bool engine_healthy(struct engine *engine);

/* The number of connections not yet CLOSED. */
size_t engine_live_count(struct engine *engine);

#endif
