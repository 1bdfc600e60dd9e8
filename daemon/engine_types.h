/*
 * engine_types: the plain C values engine.h's calls take and give back:
 * copies of connections, listeners and the interface, the statistics, the
 * open and close parameters, the results, and the limits with their
 * defaults. Nothing here carries lwIP or HTTP types.
 */
#ifndef LWIPD_ENGINE_TYPES_H
#define LWIPD_ENGINE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faults.h"
#include "peerstate.h"
#include "conninfo.h"
#include "tcpinfo.h"

#define ENGINE_IFNAME_MAX 16

/* lwIP's transmission control block, read from the PCB under the core lock. */
struct engine_tcb {
	uint32_t iss;		/* initial send sequence number */
	uint32_t irs;		/* initial receive sequence number; 0 until known */
	uint32_t snd_nxt;
	uint32_t snd_una;
	uint32_t rcv_nxt;
	uint32_t snd_wnd;	/* scaled, in bytes */
	uint32_t rcv_wnd;
	uint32_t mss;
	uint32_t rto_ms;
	uint32_t cwnd;
	uint32_t ssthresh;
	uint32_t nrtx;		/* retransmissions of the current segment */
};

/*
 * A transition of the peer's socket as the local kernel reported it
 * (--peer-trace), in RFC 9293's names: a CLOSE after FIN_WAIT_2 or CLOSING
 * is the kernel's TIME_WAIT, which its tracepoint does not show.
 */
struct engine_kernel_transition {
	uint64_t at_us;
	enum tcpinfo_state from;
	enum tcpinfo_state to;
};

#define ENGINE_KERNEL_HISTORY_MAX 16

/* A copy of one connection, taken under the core lock. */
struct engine_conn_view {
	uint64_t id;
	enum engine_origin origin;
	uint64_t listener_id;	/* passive connections: the listener that accepted it; else 0 */
	struct engine_endpoint local;
	struct engine_endpoint remote;
	enum tcpinfo_state state;
	size_t history_len;
	struct engine_history_entry history[ENGINE_HISTORY_MAX];
	struct engine_counters counters;
	uint32_t time_wait_remaining_ms;	/* meaningful in TIME_WAIT only */
	bool has_tcb;		/* false until the SYN has gone out */
	struct engine_tcb tcb;	/* the latest one, kept after the connection closes */
	uint64_t send_queued;	/* bytes accepted by /send and not yet given to lwIP */
	uint64_t recv_buffered;	/* bytes waiting in the receive buffer */
	/* The peer's state, inferred from the segments, and how it got there. */
	enum tcpinfo_state peer_state;
	size_t peer_history_len;
	struct peerstate_entry peer_history[PEERSTATE_HISTORY_MAX];
	/* The peer's transitions as the local kernel reported them (--peer-trace). */
	size_t kernel_history_len;
	struct engine_kernel_transition kernel_history[ENGINE_KERNEL_HISTORY_MAX];
};

/* A copy of one listener. */
struct engine_listener_view {
	uint64_t id;
	uint16_t port;
	uint32_t backlog;
	enum tcpinfo_state state;	/* LISTEN, or CLOSED once deleted */
	uint64_t accepted;		/* connections that completed the handshake */
};

struct engine_iface_counters {
	uint64_t rx_frames;
	uint64_t tx_frames;
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	uint64_t rx_dropped;	/* no memory, or a full listen backlog */
	uint64_t rx_fragments;	/* IPv4 fragments, dropped: lwipd does not reassemble */
	uint64_t rx_malformed;	/* headers that do not parse, dropped */
	uint64_t rx_other;	/* protocols other than IPv4 and ARP, and UDP-Lite, dropped */
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

/* RFC 4022's TCP group, as this daemon counts it, plus every transition. */
struct engine_tcp_stats {
	uint64_t active_opens;	/* CLOSED -> SYN_SENT */
	uint64_t passive_opens;	/* LISTEN -> SYN_RCVD */
	uint64_t attempt_fails;	/* SYN_SENT or SYN_RCVD -> CLOSED, SYN_RCVD -> LISTEN */
	uint64_t estab_resets;	/* ESTABLISHED or CLOSE_WAIT -> CLOSED */
	uint64_t curr_estab;	/* in ESTABLISHED or CLOSE_WAIT now */
	uint64_t in_segs;	/* all TCP segments received, errors included */
	uint64_t out_segs;	/* segments sent, retransmissions excluded */
	uint64_t retrans_segs;
	uint64_t in_errs;	/* received with a bad checksum or a malformed header */
	uint64_t in_rfc_drops;	/* dropped before lwIP: RFC 9293 rejects them, lwIP would not */
	uint64_t out_rsts;	/* segments sent with RST */
};

/* What fault rules did, and what they hold now. */
struct engine_fault_stats {
	uint64_t rules;				/* rules that exist, active and spent */
	uint64_t applied[FAULT_ACTION_COUNT];	/* segments acted on, by action */
	uint64_t held;				/* segments held by delay and reorder now */
	uint64_t held_bytes;
	uint64_t hold_overflows;		/* segments a full hold let pass unharmed */
};

/* Live capture readers (GET /v1/capture). */
struct engine_capture_stats {
	uint64_t readers;		/* reading now */
	uint64_t readers_dropped;	/* dropped for falling behind */
};

/* The memory budget (--memory-budget): bytes in use by kind, and what it refused. */
struct engine_memory_stats {
	uint64_t limit;
	uint64_t send_queued;		/* copies of data waiting to be sent */
	uint64_t recv_buffers;		/* receive rings, unread data and room */
	uint64_t timelines;		/* timeline events and their frame bytes */
	uint64_t sends_refused;		/* sends answered MEMORY_BUDGET */
	uint64_t recv_deferred;		/* times received data was left in lwIP for want of room */
	uint64_t timeline_refused;	/* timeline events not recorded */
};

struct engine_stats {
	struct engine_tcp_stats tcp;
	struct engine_memory_stats memory;
	struct engine_fault_stats faults;
	struct engine_capture_stats capture;
	uint64_t transitions[TCPINFO_STATE_COUNT][TCPINFO_STATE_COUNT];	/* [from][to] */
	struct engine_iface_counters iface;
};

/* A half-close, as shutdown(2) names them. */
enum engine_shutdown_how {
	ENGINE_SHUT_READ = 0,
	ENGINE_SHUT_WRITE,
	ENGINE_SHUT_BOTH
};

struct engine_open_params {
	struct engine_endpoint remote;
	uint16_t local_port;	/* 0: the engine picks a free ephemeral port */
	bool timeline_off;	/* record no timeline events, and allocate none */
};

enum engine_close_mode {
	ENGINE_CLOSE_GRACEFUL = 0,	/* FIN: the four-way teardown */
	ENGINE_CLOSE_ABORT		/* RST */
};

/*
 * What an engine operation did. Each function below names the results it
 * returns besides ENGINE_OK; where a view is copied out, it is copied
 * whenever the connection or listener exists, so a caller refused for
 * ENGINE_WRONG_STATE has the state in the view it asked for.
 */
enum engine_result {
	ENGINE_OK = 0,
	ENGINE_NOT_FOUND,		/* no connection or listener has that id */
	ENGINE_WRONG_STATE,		/* the connection's state allows no such operation */
	ENGINE_LIMIT_REACHED,		/* a configured limit: live connections, listeners, ... */
	ENGINE_QUEUE_FULL,		/* more than --max-send-queue bytes would wait */
	ENGINE_ADDRESS_INVALID,		/* this interface's own, network or broadcast address */
	ENGINE_NO_ROUTE,		/* off the subnet, and no gateway is configured */
	ENGINE_PORT_IN_USE,		/* the local port is taken */
	ENGINE_NO_PORT,			/* no ephemeral port is free towards that endpoint */
	ENGINE_NO_MEMORY,
	ENGINE_STOPPING,		/* the daemon is stopping */
	ENGINE_RULES_FULL,		/* as many fault rules as --max-fault-rules allows exist */
	ENGINE_LINK_DOWN,		/* the TAP device failed or is gone */
	ENGINE_MEMORY_BUDGET		/* --memory-budget has no room for it */
};

struct engine;
struct stack_config;

/*
 * What the engine calls back to signal a waiter, a subscriber or a capture
 * reader: with the core lock held, from any thread, only to signal.
 */
typedef void (*engine_wake_fn)(void *arg);

/*
 * The limits a user sets (config.c has their flags): their defaults and the
 * largest values allowed. lwIP allocates PCBs with malloc (Debian builds it
 * with MEMP_MEM_MALLOC), so no pool caps connections; its linear PCB lists
 * do: every inbound segment and timer tick walks them, and with 262144
 * connections a segment costs lwIP about a millisecond of walking.
 */
#define ENGINE_CONNECTIONS_DEFAULT 16384u
#define ENGINE_CONNECTIONS_MAX 262144u
#define ENGINE_LISTENERS_DEFAULT 1024u
#define ENGINE_LISTENERS_MAX 65535u		/* one per port */
#define ENGINE_EVENT_STREAMS_DEFAULT 64u
#define ENGINE_EVENT_STREAMS_MAX 4096u		/* --http-max-clients' own cap */
#define ENGINE_CAPTURE_READERS_DEFAULT 8u
#define ENGINE_CAPTURE_READERS_MAX 64u		/* each queues ENGINE_CAPTURE_QUEUE frames: 414 KiB */
#define ENGINE_SEND_QUEUE_DEFAULT (256u << 20)
#define ENGINE_SEND_QUEUE_MIN 65536u
#define ENGINE_SEND_QUEUE_MAX (1u << 30)
#define ENGINE_BATCHES_DEFAULT 8u
#define ENGINE_BATCHES_MAX 64u		/* no more than are kept */

/* The limits an engine runs with, for the problems that name them. */
struct engine_limits {
	uint32_t connections;		/* live, not CLOSED */
	uint32_t listeners;
	uint32_t event_streams;		/* event stream subscribers */
	uint32_t capture_readers;
	uint32_t send_queue;		/* bytes waiting to be sent, per connection */
	uint32_t fault_rules;
	uint32_t batches;		/* batches running at once */
	uint64_t memory_budget;		/* bytes of send copies, receive rings and timelines */
};

/* Settings the engine needs from the daemon's configuration. */
struct engine_config {
	char ifname[ENGINE_IFNAME_MAX];
	uint32_t address;	/* network byte order */
	uint8_t prefix;
	uint32_t msl_ms;
	uint32_t retain_closed;
	uint32_t recv_buffer;	/* bytes of received data kept per connection */
	uint32_t timeline_max;	/* events kept per connection's timeline */
	uint32_t snaplen;	/* payload bytes kept of each segment's frame, after its headers */
	uint64_t memory_budget;	/* bytes of send copies, receive rings and timelines in all */
	bool peer_trace;	/* read the kernel's TCP states (peertrace.h) */
	/*
	 * The engine's clock, in microseconds; NULL: CLOCK_MONOTONIC from the
	 * start. A test injects its own to drive deadlines.
	 */
	uint64_t (*clock_us)(void *arg);
	void *clock_arg;
	uint32_t max_connections;	/* the limits of struct engine_limits */
	uint32_t max_listeners;
	uint32_t max_event_streams;
	uint32_t max_capture_readers;
	uint32_t max_send_queue;
	uint32_t max_fault_rules;
	uint32_t max_batches;
	uint64_t fault_seed;	/* makes the seeds of rules given none */
	const struct fault_spec *faults;	/* rules in place from the start */
	size_t fault_count;
};

#endif
