/*
 * engine_streams: what the engine records over time and hands out in
 * copies: a connection's timeline, the event stream of every connection
 * and listener, and live capture readers of the frames on the TAP. Each
 * call takes the core lock briefly, as engine.h's do.
 */
#ifndef LWIPD_ENGINE_STREAMS_H
#define LWIPD_ENGINE_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine_types.h"

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

/* A frame's segment as its connection's timeline recorded it, for a one-connection reader. */
struct engine_capture_record {
	bool has_event;			/* the frame matched a recorded segment */
	struct engine_event event;
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
 * Copies up to max queued frames, oldest first, and, when records is not
 * NULL (max long), what the reader's connection recorded of each: the
 * segment event whose kept frame has the same first bytes, if it has one
 * yet (never for a reader of every frame). Returns the number copied (0:
 * none yet, wake follows), -EOVERFLOW once the reader was dropped, or
 * -ESHUTDOWN when the daemon is stopping.
 */
int engine_capture_read(struct engine *engine, struct engine_capture_reader *reader,
    struct engine_capture_frame *out, struct engine_capture_record *records, size_t max);

/* Ends a reader; no wake runs after it returns. Accepts NULL. */
void engine_capture_close(struct engine *engine, struct engine_capture_reader *reader);

#endif
