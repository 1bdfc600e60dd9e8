/*
 * engine: the connection engine that the API and the lwIP glue share.
 *
 * The API thread calls these functions with plain C values and gets plain
 * C snapshots back; nothing here carries lwIP or HTTP types. Each call takes
 * the stack's core lock for a short, bounded time and copies what it returns,
 * so callers never see shared state. The lock order is in lockorder.h.
 */
#ifndef LWIPD_ENGINE_H
#define LWIPD_ENGINE_H

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

/* Copies the limits the engine was started with; they never change, so no lock is taken. */
void engine_limits(const struct engine *engine, struct engine_limits *out);

/*
 * Starts an active open. On success fills *out with the new connection.
 * Results: ADDRESS_INVALID, NO_ROUTE (remote.ip), PORT_IN_USE (local_port
 * towards that remote endpoint), NO_PORT, LIMIT_REACHED (live
 * connections), NO_MEMORY, STOPPING.
 */
enum engine_result engine_open(struct engine *engine, const struct engine_open_params *params,
    struct engine_conn_view *out);

/*
 * Closes a connection: a FIN for ENGINE_CLOSE_GRACEFUL, a RST for
 * ENGINE_CLOSE_ABORT. *acted is set to false when there was nothing to do
 * (a graceful close of a connection already closing or closed, or an abort
 * of a closed one). *out holds the connection after the call.
 * Results: NOT_FOUND, STOPPING.
 */
enum engine_result engine_close(struct engine *engine, uint64_t id, enum engine_close_mode mode,
    struct engine_conn_view *out, bool *acted);

/* Copies one connection. Results: NOT_FOUND. */
enum engine_result engine_get(struct engine *engine, uint64_t id, struct engine_conn_view *out);

/* A page of a list: at most limit items with ids above after, in id order. */
#define ENGINE_PAGE_MAX 10000u
struct engine_page {
	uint64_t after;		/* 0: from the first */
	size_t limit;		/* 1 to ENGINE_PAGE_MAX */
};

/*
 * Copies a page of connections, only those in *state_filter when it is not
 * NULL; *more tells that further ones match. The core lock is taken for a
 * bounded number of connections at a time, so a connection that comes or
 * goes meanwhile may or may not be listed; after need not exist any more.
 * *out is malloc'd (NULL when *count is 0) and the caller frees it.
 * Results: NO_MEMORY.
 */
enum engine_result engine_list(struct engine *engine, const enum tcpinfo_state *state_filter,
    const struct engine_page *page, struct engine_conn_view **out, size_t *count, bool *more);

/* Copies the interface's configuration and counters. */
void engine_interface(struct engine *engine, struct engine_iface_view *out);

/* True while the stack and the TAP device are up and the daemon is not stopping. */
bool engine_healthy(struct engine *engine);

/* The number of connections not yet CLOSED. */
size_t engine_live_count(struct engine *engine);
/*
 * Listens on port with a backlog of handshakes in progress (1..1024).
 * Results: PORT_IN_USE (a listener or a connection uses the port),
 * LIMIT_REACHED (listeners), NO_MEMORY, STOPPING.
 */
enum engine_result engine_listen(struct engine *engine, uint16_t port, uint32_t backlog,
    struct engine_listener_view *out);

/* Stops listening; accepted connections stay. *out shows state CLOSED. Results: NOT_FOUND. */
enum engine_result engine_unlisten(struct engine *engine, uint64_t id, struct engine_listener_view *out);

/* Results: NOT_FOUND. */
enum engine_result engine_listener_get(struct engine *engine, uint64_t id, struct engine_listener_view *out);

/* Copies a page of listeners as engine_list() copies connections. Results: NO_MEMORY. */
enum engine_result engine_listener_list(struct engine *engine, const struct engine_page *page,
    struct engine_listener_view **out, size_t *count, bool *more);

/*
 * Half-closes a connection. Shutting the write side sends a FIN after any
 * queued data; shutting the read side discards data that arrives from now on.
 * Results: NOT_FOUND, WRONG_STATE (no such shutdown from this state), STOPPING.
 */
enum engine_result engine_shutdown(struct engine *engine, uint64_t id, enum engine_shutdown_how how,
    struct engine_conn_view *out);

/* Ends TIME_WAIT now (cause "api:expire"). Results: NOT_FOUND, WRONG_STATE (not in TIME_WAIT), STOPPING. */
enum engine_result engine_expire(struct engine *engine, uint64_t id, struct engine_conn_view *out);

/*
 * Queues bytes to send: a copy of data, or, when data is NULL, len bytes of
 * the pattern byte[k] = k % 251 counted from the first byte of this call.
 * Queued bytes go to lwIP as its send buffer frees up, so a large send waits
 * rather than fails. *out (may be NULL) holds the connection after the call.
 * Results: NOT_FOUND, WRONG_STATE (the connection cannot send), QUEUE_FULL (more than
 * --max-send-queue bytes would wait), MEMORY_BUDGET (nothing is queued), NO_MEMORY,
 * STOPPING.
 */
enum engine_result engine_send(struct engine *engine, uint64_t id, const void *data, uint64_t len,
    struct engine_conn_view *out);

/*
 * Returns and drains the receive buffer: *data is malloc'd (NULL when empty).
 * *truncated tells that bytes were dropped since the last read, because the
 * read side was shut. Results: NOT_FOUND, NO_MEMORY.
 */
enum engine_result engine_read(struct engine *engine, uint64_t id, uint8_t **data, size_t *len, bool *truncated);

/* The same copy without draining: the buffer and *truncated stay as they were. */
enum engine_result engine_peek(struct engine *engine, uint64_t id, uint8_t **data, size_t *len, bool *truncated);

void engine_stats(struct engine *engine, struct engine_stats *out);

/*
 * Waiting without a thread: engine_wait_* either answers at once or
 * registers a waiter and calls wake(arg) later, with the core lock held and
 * from any thread, when the condition holds, can no longer hold, times out,
 * or the daemon stops. wake must only signal (e.g. resume a suspended HTTP
 * request); the caller then calls engine_wait_finish(). As it runs under
 * the core lock, wake may take only locks later in the order of
 * daemon/lockorder.h, and must not call the engine.
 */
struct engine_waiter;
typedef void (*engine_wake_fn)(void *arg);

enum engine_wait_result {
	ENGINE_WAIT_REACHED = 0,
	ENGINE_WAIT_TIMED_OUT,
	ENGINE_WAIT_UNREACHABLE,	/* the connection closed without passing the state */
	ENGINE_WAIT_STOPPING
};

#define ENGINE_WAIT_TIMEOUT_MAX_MS 60000u

/*
 * Waits until connection id is in state or has passed through it.
 * ENGINE_OK with *out registered, or with *out NULL when that holds
 * already. Results: NOT_FOUND, NO_MEMORY, STOPPING.
 */
enum engine_result engine_wait_state(struct engine *engine, uint64_t id, enum tcpinfo_state state,
    uint32_t timeout_ms, engine_wake_fn wake, void *arg, struct engine_waiter **out);

/* Waits until listener id has accepted at least count connections. Same returns. */
enum engine_result engine_wait_accepted(struct engine *engine, uint64_t id, uint64_t count,
    uint32_t timeout_ms, engine_wake_fn wake, void *arg, struct engine_waiter **out);

/* Waits until batch id is no longer running (done or stopped). Same returns. */
enum engine_result engine_wait_batch(struct engine *engine, uint64_t id, uint32_t timeout_ms,
    engine_wake_fn wake, void *arg, struct engine_waiter **out);

/*
 * Frees the waiter (also to cancel one that has not woken) and returns its
 * result; copies the connection or listener as it is now into conn_out or
 * listener_out, whichever the wait was for (either may be NULL). A copy is
 * not made when it has been dropped meanwhile; then *found is false. A
 * batch's wait copies nothing: *found tells whether it is still kept.
 */
enum engine_wait_result engine_wait_finish(struct engine *engine, struct engine_waiter *waiter,
    struct engine_conn_view *conn_out, struct engine_listener_view *listener_out, bool *found);

/*
 * Timelines: every segment of a connection, in and out, and every state
 * change, in time order. A timeline keeps its first ENGINE_TIMELINE_HEAD
 * events and the most recent ones up to the configured cap, and counts the
 * events dropped between the two.
 */
#define ENGINE_TIMELINE_HEAD 64
#define ENGINE_TIMELINE_DEFAULT 256
#define ENGINE_TIMELINE_MIN 128
#define ENGINE_TIMELINE_MAX 65536

/*
 * Each segment event keeps its frame's first bytes: the Ethernet, IPv4 and
 * TCP headers with their options (at most ENGINE_FRAME_HEADERS_MAX) and up
 * to --snaplen bytes of payload.
 */
#define ENGINE_FRAME_HEADERS_MAX (14 + 60 + 60)
#define ENGINE_SNAPLEN_DEFAULT 128
#define ENGINE_SNAPLEN_MAX 1500

/* What a fault rule did to a segment. */
struct engine_fault {
	enum fault_action action;	/* FAULT_NONE: nothing */
	uint64_t rule;
	uint32_t hold_ms;		/* delay and reorder: the longest it was held */
	bool copy;			/* duplicate: this is the copy */
};

enum engine_event_kind {
	ENGINE_EVENT_SEGMENT = 0,
	ENGINE_EVENT_STATE
};

struct engine_event {
	enum engine_event_kind kind;
	uint64_t at_us;
	/* Segment events. */
	bool outbound;
	uint8_t flags;			/* TCPINFO_FLAG_* */
	uint32_t seq;			/* absolute, as on the wire */
	uint32_t ack;
	uint32_t len;			/* payload bytes */
	uint16_t wnd;			/* as on the wire, unscaled */
	bool has_rel_seq;		/* the sender's ISN is known */
	uint32_t rel_seq;		/* seq minus the sender's ISN */
	bool has_rel_ack;		/* ACK set and the receiver's ISN is known */
	uint32_t rel_ack;		/* ack minus the receiver's ISN */
	enum tcpinfo_state state_before;	/* lwIP's state before and after the segment */
	enum tcpinfo_state state_after;
	enum tcpinfo_state peer_state_before;	/* the peer's, as inferred from the segments */
	enum tcpinfo_state peer_state_after;
	enum tcpinfo_step step;
	enum tcpinfo_drop drop;			/* dropped before lwIP by RFC 9293's rules */
	struct engine_fault fault;		/* what a fault rule did to it, if one did */
	uint32_t frame_len;			/* the whole frame's length; 0 when not kept */
	uint32_t snap_len;			/* its first bytes kept (engine_capture) */
	/* State events. */
	enum tcpinfo_state from;
	enum tcpinfo_state to;
	struct tcpinfo_cause cause;
};

struct engine_timeline {
	struct engine_conn_view conn;
	size_t count;
	struct engine_event *events;	/* malloc'd, count long, in order */
	uint64_t dropped;		/* events left out between the head and the tail */
	uint64_t refused;		/* events not recorded: the memory budget was full */
	/* engine_capture only: event i's first snap_len bytes are at frames + i * frame_slot. */
	uint8_t *frames;		/* malloc'd */
	size_t frame_slot;
	uint64_t epoch_us;		/* the wall clock, in µs since the epoch, at at_us 0 */
};

/* Copies a connection's timeline. Results: NOT_FOUND, NO_MEMORY. */
enum engine_result engine_timeline(struct engine *engine, uint64_t id, struct engine_timeline *out);

/* The same with each segment's kept frame bytes, for a capture. */
enum engine_result engine_capture(struct engine *engine, uint64_t id, struct engine_timeline *out);

/* Frees what engine_timeline() copied. Accepts NULL. */
void engine_timeline_free(struct engine_timeline *timeline);

/*
 * The event stream: state changes of every connection, and connections and
 * listeners coming and going, numbered from 1 in one sequence. The engine
 * keeps the last ENGINE_STREAM_REPLAY of them so that a client reconnecting
 * with the number it saw last misses nothing, and never waits for a reader:
 * one that falls further behind than that learns it missed events.
 */
#define ENGINE_STREAM_REPLAY 4096

enum engine_stream_kind {
	ENGINE_STREAM_STATE = 0,
	ENGINE_STREAM_CONN_CREATED,
	ENGINE_STREAM_CONN_REMOVED,	/* dropped from the table (retention) */
	ENGINE_STREAM_LISTENER_CREATED,
	ENGINE_STREAM_LISTENER_REMOVED,
	ENGINE_STREAM_FAULT_FIRED,	/* a fault rule acted on a segment */
	ENGINE_STREAM_FAULT_SPENT,	/* a fault rule acted for the last time */
	ENGINE_STREAM_FAULT_OVERFLOW	/* a delay or reorder rule found the hold full and let a segment pass */
};

struct engine_stream_event {
	uint64_t seq;
	enum engine_stream_kind kind;
	uint64_t at_us;
	uint64_t id;			/* the connection's or the listener's */
	enum engine_origin origin;	/* connections */
	uint16_t port;			/* listeners */
	enum tcpinfo_state from;	/* state changes */
	enum tcpinfo_state to;
	struct tcpinfo_cause cause;
	uint64_t rule;			/* fault events: the rule; id is its segment's connection, or 0 */
	enum fault_action action;
	bool outbound;
};

struct engine_subscriber;

/*
 * Subscribes to events numbered after last_seen (0: only those to come; a
 * number older than the ring holds starts at the oldest kept). wake(arg) is
 * called, with the core lock held and from any thread, when new events
 * arrive after the subscriber has read everything, and every 15 s while it
 * is idle, so that a reader can check its client is still there; like a
 * waiter's wake it must only signal. behind(arg) is called the same way,
 * once, when the subscriber has fallen further behind than the ring holds:
 * a reader stuck on a client that does not read learns it there, as its
 * reads would only fail later. Returns 0, -ENOBUFS (--max-event-streams
 * subscribers already), -ENOMEM or -ESHUTDOWN. The stream's calls keep errno values:
 * the SSE hub is their one caller, and it answers for itself.
 */
int engine_subscribe(struct engine *engine, uint64_t last_seen, engine_wake_fn wake,
    engine_wake_fn behind, void *arg, struct engine_subscriber **out);

/*
 * Copies up to max of the subscriber's next events and advances past them.
 * Returns the number copied (0: none yet, wake will follow), -EOVERFLOW when
 * events it had not read were already overwritten, or -ESHUTDOWN when the
 * daemon is stopping.
 */
int engine_stream_read(struct engine *engine, struct engine_subscriber *subscriber,
    struct engine_stream_event *out, size_t max);

/* Ends a subscription. Accepts NULL. */
void engine_unsubscribe(struct engine *engine, struct engine_subscriber *subscriber);

/*
 * Live capture: every frame read from or written to the TAP, or only those
 * of one connection, copied (its first ENGINE_FRAME_HEADERS_MAX + --snaplen
 * bytes) into each reader's queue of ENGINE_CAPTURE_QUEUE frames. The
 * stack never waits: a reader whose queue is full is dropped and counted
 * (stats: capture_readers_dropped). wake(arg) and behind(arg) are called
 * as for a subscriber: with the core lock held, only to signal; wake when a
 * frame arrives for a reader that had read everything, or the daemon
 * stops; behind once when the reader is dropped.
 */
#define ENGINE_CAPTURE_QUEUE 256

struct engine_capture_frame {
	uint64_t ts_us;			/* microseconds since the epoch */
	uint32_t len;			/* the frame's length */
	uint32_t captured;		/* bytes kept */
	uint8_t bytes[ENGINE_FRAME_HEADERS_MAX + ENGINE_SNAPLEN_MAX];
};

struct engine_capture_reader;

/*
 * Starts a reader of every frame (connection 0) or of one connection's.
 * Returns 0, -ENOENT (no such connection), -ENOBUFS (--max-capture-readers
 * readers already), -ENOMEM or -ESHUTDOWN; errno values, as for the event
 * stream, whose one caller answers for itself.
 */
int engine_capture_open(struct engine *engine, uint64_t connection, engine_wake_fn wake,
    engine_wake_fn behind, void *arg, struct engine_capture_reader **out);

/*
 * Copies up to max queued frames, oldest first. Returns the number copied
 * (0: none yet, wake follows), -EOVERFLOW once the reader was dropped, or
 * -ESHUTDOWN when the daemon is stopping.
 */
int engine_capture_read(struct engine *engine, struct engine_capture_reader *reader,
    struct engine_capture_frame *out, size_t max);

/* Ends a reader; no wake runs after it returns. Accepts NULL. */
void engine_capture_close(struct engine *engine, struct engine_capture_reader *reader);

/* Connections in the table, live and retained, by state. */
void engine_count_by_state(struct engine *engine, uint64_t counts[TCPINFO_STATE_COUNT]);

/*
 * Fault rules (faults.h): they act on the segments between lwIP and the
 * wire. Rules are numbered from 1 and never renumbered.
 */

/* Adds a rule whose values the caller checked. RULES_FULL, STOPPING or NO_MEMORY otherwise. */
enum engine_result engine_fault_add(struct engine *engine, const struct fault_spec *spec,
    struct fault_rule_view *out);

/* Returns OK or NOT_FOUND. */
enum engine_result engine_fault_get(struct engine *engine, uint64_t id, struct fault_rule_view *out);

/* Copies up to max rules with ids above after, in id order; returns how many. */
size_t engine_fault_list(struct engine *engine, uint64_t after, struct fault_rule_view *out,
    size_t max);

/* Returns OK or NOT_FOUND; *out is the rule as it was. */
enum engine_result engine_fault_remove(struct engine *engine, uint64_t id,
    struct fault_rule_view *out);

/* Removes every rule; returns how many there were. */
size_t engine_fault_clear(struct engine *engine);

/*
 * Batches: count active opens towards one endpoint, at most in_flight
 * handshakes outstanding at a time, each closed as asked hold_ms after it
 * is ESTABLISHED. The core thread drives them (batches.c); these calls only
 * start, copy and stop them.
 */
#define ENGINE_BATCH_COUNT_MAX 1000000u
#define ENGINE_BATCH_IN_FLIGHT_MAX 4096u
#define ENGINE_BATCH_HOLD_MAX_MS 600000u
#define ENGINE_BATCHES_KEPT 64		/* finished batches beyond this go, oldest first */

enum engine_batch_close {
	ENGINE_BATCH_CLOSE_NONE = 0,	/* leave each connection open */
	ENGINE_BATCH_CLOSE_GRACEFUL,	/* FIN */
	ENGINE_BATCH_CLOSE_ABORT	/* RST */
};

enum engine_batch_state {
	ENGINE_BATCH_RUNNING = 0,
	ENGINE_BATCH_DONE,		/* every connection finished as asked or failed */
	ENGINE_BATCH_STOPPED		/* stopped before it started them all */
};

/* Why a batch connection failed; the API names them. */
enum engine_batch_failure {
	ENGINE_BATCH_FAIL_REFUSED = 0,	/* the SYN was answered with a RST */
	ENGINE_BATCH_FAIL_TIMEOUT,	/* lwIP gave up retransmitting the SYN */
	ENGINE_BATCH_FAIL_UNRESOLVED,	/* ARP never resolved the next hop */
	ENGINE_BATCH_FAIL_RESET,	/* reset after ESTABLISHED, before the batch closed it */
	ENGINE_BATCH_FAIL_LIMIT,	/* the live connection limit refused the open */
	ENGINE_BATCH_FAIL_NO_PORT,	/* no free local port towards the endpoint */
	ENGINE_BATCH_FAIL_NO_MEMORY,
	ENGINE_BATCH_FAIL_CLOSED,	/* closed or aborted by the API, or by a stack timer */
	ENGINE_BATCH_FAIL_STOPPING,	/* the daemon stopped */
	ENGINE_BATCH_FAIL_OTHER,
	ENGINE_BATCH_FAIL_COUNT
};

struct engine_batch_params {
	struct engine_endpoint remote;
	uint32_t count;			/* 1..ENGINE_BATCH_COUNT_MAX */
	uint32_t in_flight;		/* 1..ENGINE_BATCH_IN_FLIGHT_MAX */
	enum engine_batch_close close;
	uint32_t hold_ms;		/* 0..ENGINE_BATCH_HOLD_MAX_MS */
	bool timelines;			/* record each connection's timeline */
};

/* Handshake latencies (SYN_SENT to ESTABLISHED), from a log-linear histogram: within 1/16. */
struct engine_latency {
	uint64_t count;
	uint64_t min_us, p50_us, p90_us, p99_us, max_us;	/* 0 when count is 0 */
};

struct engine_batch_view {
	uint64_t id;
	enum engine_batch_state state;
	struct engine_batch_params params;
	uint64_t started;		/* opens begun, failed ones included */
	uint64_t established;
	uint64_t failed;
	uint64_t failures[ENGINE_BATCH_FAIL_COUNT];
	uint64_t closed;		/* closed by the batch, and through TIME_WAIT or CLOSED */
	uint64_t elapsed_us;		/* from the start to the last connection finished, or now */
	struct engine_latency latency;
};

/*
 * Starts a batch whose values the caller checked; its first opens go out
 * before the call returns. Results: ADDRESS_INVALID, NO_ROUTE (the first
 * open's), LIMIT_REACHED (--max-batches run already), LINK_DOWN,
 * NO_MEMORY, STOPPING.
 */
enum engine_result engine_batch_start(struct engine *engine,
    const struct engine_batch_params *params, struct engine_batch_view *out);

/* Results: NOT_FOUND. */
enum engine_result engine_batch_get(struct engine *engine, uint64_t id,
    struct engine_batch_view *out);

/* Copies every kept batch in id order; *out is malloc'd (NULL when none). Results: NO_MEMORY. */
enum engine_result engine_batch_list(struct engine *engine, struct engine_batch_view **out,
    size_t *count);

/*
 * Stops a running batch from starting more opens; connections it opened
 * go on and are closed as asked. Results: NOT_FOUND.
 */
enum engine_result engine_batch_stop(struct engine *engine, uint64_t id,
    struct engine_batch_view *out);

#endif
