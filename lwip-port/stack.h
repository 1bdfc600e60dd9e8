/*
 * stack: lwIP on one TAP device, and the TCP connections the engine drives.
 *
 * lwIP reports no state changes of its own, so this module compares each
 * tracked PCB's state before and after every event it drives (an inbound
 * frame, an API call, a timer) and reports the difference with its cause.
 * It also reports every segment of a tracked connection, in and out.
 *
 * Threads and the lock. Three kinds of thread run here: lwIP's core thread,
 * which runs lwIP's timers and every stack_timeout() callback; the TAP
 * reader, which handles each batch of frames under the core lock; and the
 * API threads, which call in between stack_lock() and stack_unlock().
 * stack_lwip_version, stack_start, stack_stop, stack_lock, stack_unlock and
 * stack_healthy need no lock (stack_healthy answers from state the lock
 * guards, so hold it for an exact answer). Every other function asserts that
 * its thread holds the core lock, and the process aborts if it does not.
 * Hooks run with the core lock held, so the core lock comes before any lock
 * a hook takes: a thread must not call stack_lock() while it holds one.
 *
 * The header carries no lwIP types, and errors are negative errno values.
 */
#ifndef LWIPD_STACK_H
#define LWIPD_STACK_H

#include <stdbool.h>
#include <stdint.h>

#include "faults.h"
#include "tap.h"
#include "tcpinfo.h"

struct stack_tcp;
struct stack_listener;

struct stack_segment {
	bool outbound;
	uint8_t flags;		/* TCPINFO_FLAG_* */
	uint32_t seq;
	uint32_t ack;
	uint16_t window;	/* as on the wire, unscaled */
	uint32_t payload_len;
	uint16_t local_port;	/* lwIP's end */
	uint16_t remote_port;
	/*
	 * lwIP's state before and after the segment. For an inbound one the
	 * state after is known only once lwIP has handled it: state changes
	 * reported until the segment_done hook are its doing.
	 */
	enum tcpinfo_state state_before;
	enum tcpinfo_state state_after;
	/*
	 * Set by the segment hook the first time it sees the segment: its step
	 * in the connection's life and what a fault rule does to it. The glue
	 * carries out the verdict and keeps these with a held segment.
	 */
	bool decided;
	bool labelled;		/* the step came from the connection's own labeller */
	enum tcpinfo_step step;
	struct fault_verdict fault;
	enum tcpinfo_drop drop;	/* set by the glue before the hook: dropped by RFC 9293's rules */
	bool hold_full;		/* set by the glue before the hook: no room to hold it for delay or reorder */
	/* Set by the glue before the hook: a SYN a listener owns, handled in LISTEN, and its peer's address. */
	bool listener_syn;
	uint32_t remote_ip;	/* network byte order; with listener_syn only */
	bool released;		/* a held segment on its way at last */
	bool copy;		/* the second of a duplicated segment */
	/*
	 * The frame, from its Ethernet header, valid during the hook only (a
	 * held one's is the hold's copy); headers_len covers Ethernet, IPv4
	 * and TCP with their options.
	 */
	const uint8_t *frame;
	size_t frame_len;
	size_t headers_len;
};

/* A frame on the TAP, for live capture; the 4-tuple is lwIP's view of a TCP one. */
struct stack_frame {
	bool outbound;
	const uint8_t *bytes;	/* from the Ethernet header; valid during the hook only */
	size_t len;
	bool tcp;		/* an IPv4 TCP segment whose headers parse */
	uint32_t remote_ip;	/* network byte order */
	uint16_t local_port;
	uint16_t remote_port;
};

/* What lwIP made of an inbound segment, for counters that count only what it accepted. */
struct stack_rx_outcome {
	uint32_t accepted_bytes;	/* payload that moved lwIP's rcv_nxt forward */
	bool reset;			/* a RST that ended the connection */
};

/*
 * The engine's side of the glue. Every hook runs with the core lock held, on
 * whichever thread drives the event: an API thread inside a stack_tcp_* call,
 * the TAP reader for a frame, or lwIP's core thread for a timer. Some run
 * inside lwIP's own callbacks, in the middle of lwIP handling a segment;
 * those may call back only as their comment allows. A handle is valid from
 * stack_tcp_connect() or passive_open until its TCPINFO_CLOSED report or
 * passive_abandoned; it is freed when that hook returns.
 */
struct stack_hooks {
	/*
	 * A tracked connection changed state. An active open's first report
	 * (SYN_SENT) comes before stack_tcp_connect() returns the handle.
	 *
	 * Any state but CLOSED is reported after lwIP has returned, never from
	 * inside it. The hook may then call stack_tcp_tcb, stack_tcp_send_space,
	 * stack_tcp_write, stack_tcp_flush, stack_tcp_shutdown_write and
	 * stack_tcp_close on this connection, but must not end it there:
	 * no stack_tcp_abort or stack_tcp_drop, and no stack_tcp_close in
	 * SYN_SENT, since the glue goes on using the handle after the hook.
	 *
	 * CLOSED may come from inside lwIP's err callback, when lwIP has freed
	 * the PCB itself. The handle then has no PCB (stack_tcp_tcb() returns
	 * false) and no other stack_* function may be called from this hook.
	 * After TCPINFO_CLOSED the handle is dead and must not be used again.
	 */
	void (*state_changed)(void *owner, enum tcpinfo_state state, struct tcpinfo_cause cause);
	/*
	 * A segment crossed the daemon: an inbound one before lwIP sees it, an
	 * outbound one from inside lwIP's output, before the wire sees it.
	 * owner is NULL for a segment of no tracked connection; arg is the
	 * hooks' arg. The first time
	 * (decided false) the hook labels the segment's step and decides what a
	 * fault rule does to it, filling step, fault and decided. It records
	 * the segment in owner's timeline then, unless the verdict holds it
	 * (delay, reorder): a held segment is reported again with released set
	 * when it goes on, and recorded then. A dropped inbound segment gets
	 * its segment_done at once. May call no stack_* function.
	 */
	void (*segment)(void *arg, void *owner, struct stack_segment *segment);
	/*
	 * lwIP has handled the inbound segment last reported for owner, and the
	 * change of state it made has been reported: CLOSED may have been
	 * reported already, so the hook may call no stack_* function. outcome
	 * says what lwIP accepted of it (nothing for a dropped segment).
	 */
	void (*segment_done)(void *owner, const struct stack_rx_outcome *outcome);
	/*
	 * A SYN reached a listener, on the TAP reader before lwIP sees it:
	 * returns the owner of the new connection, or NULL to drop the SYN. The
	 * connection's state reports follow. May call no stack_* function; tcp
	 * is the handle to keep.
	 */
	void *(*passive_open)(void *listener_owner, uint32_t remote_ip, uint16_t remote_port,
	    uint16_t local_port, struct stack_tcp *tcp);
	/*
	 * lwIP made no connection of that SYN after all; the owner is forgotten,
	 * nothing else follows, and the handle is freed when the hook returns.
	 * May call no stack_* function.
	 */
	void (*passive_abandoned)(void *owner);
	/*
	 * A frame was read from the TAP (before the gate) or written to it,
	 * reported only while stack_capture_frames(true) is in force; arg is
	 * the hooks' arg. May call no stack_* function.
	 */
	void (*frame)(void *arg, const struct stack_frame *frame);
	/*
	 * A listener's connection completed its handshake. Runs inside lwIP's
	 * accept callback, before the ESTABLISHED report; may call no stack_*
	 * function.
	 */
	void (*accepted)(void *listener_owner);
	/*
	 * Data arrived: returns how many of the len bytes the owner took. The
	 * rest is held, and the window stays closed over it, until
	 * stack_tcp_deliver() is called. Runs inside lwIP's recv callback, or
	 * inside stack_tcp_deliver(); may call no stack_* function.
	 */
	size_t (*received)(void *owner, const uint8_t *data, size_t len);
	/*
	 * lwIP's send buffer has room again. Runs inside lwIP's sent callback,
	 * for a segment of this connection the reader is handling. May call
	 * stack_tcp_send_space, stack_tcp_write, stack_tcp_flush,
	 * stack_tcp_shutdown_write, stack_tcp_close, stack_tcp_abort and
	 * stack_tcp_drop on this connection: if one of them ends it, CLOSED is
	 * reported from inside this hook, the glue tells lwIP, and the handle
	 * stays valid until this hook returns.
	 */
	void (*sendable)(void *owner);
	/* Passed to the hooks that may have no owner: the engine. */
	void *arg;
};

/* lwIP's transmission control block; see struct engine_tcb. */
struct stack_tcb {
	uint32_t iss;
	uint32_t irs;
	uint32_t snd_nxt;
	uint32_t snd_una;
	uint32_t rcv_nxt;
	uint32_t snd_wnd;
	uint32_t rcv_wnd;
	uint32_t mss;
	uint32_t rto_ms;
	uint32_t cwnd;
	uint32_t ssthresh;
	uint32_t nrtx;
};

/* TCP segments between lwIP and the wire, tracked or not. */
struct stack_tcp_totals {
	uint64_t in_segs;	/* handed to lwIP */
	uint64_t in_errs;	/* of those, with a bad checksum */
	uint64_t in_rfc_drops;	/* dropped before lwIP by RFC 9293's rules (see enum stack_drop) */
	uint64_t out_segs;	/* sent by lwIP, retransmissions included */
	uint64_t out_rsts;
	uint64_t held;		/* held by delay and reorder rules now */
	uint64_t held_bytes;
	uint64_t hold_overflows;	/* segments a full hold let pass unharmed */
};

struct stack_config {
	const struct tap_device *tap;
	uint32_t address;	/* network byte order */
	uint8_t prefix;
	uint32_t gateway;	/* network byte order; 0: none */
	uint8_t mac[6];
	size_t hold_max;	/* segments delay and reorder rules may hold at once */
	size_t hold_bytes;	/* and their bytes */
	bool lwip_raw;		/* hand lwIP what RFC 9293 says to drop, to show what lwIP does */
	/*
	 * Called once, from the TAP reader with no lock held, when the device
	 * fails or is deleted: the link is down for good, opens are refused,
	 * and the daemon should exit so that its supervisor restarts it.
	 */
	void (*link_lost)(void);
};

struct stack_iface_info {
	uint8_t mac[6];
	uint32_t mtu;
	bool up;
	uint64_t rx_frames;
	uint64_t tx_frames;
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	uint64_t rx_dropped;		/* no memory, or a full listen backlog */
	uint64_t rx_fragments;		/* IPv4 fragments: lwipd does not reassemble */
	uint64_t rx_malformed;		/* headers that do not parse */
	uint64_t rx_other;		/* protocols other than IPv4 and ARP, and UDP-Lite */
};

/* The version of the lwIP library linked in, e.g. "2.1.3". Needs no lock. */
const char *stack_lwip_version(void);

/* Starts lwIP's core thread and the TAP reader. Returns 0 or a negative errno. */
int stack_start(const struct stack_config *cfg, const struct stack_hooks *hooks);

/* Stops the TAP reader. lwIP's core thread lives until the process exits. */
void stack_stop(void);

void stack_lock(void);
void stack_unlock(void);

/* True while the TAP reader runs and the interface is up. Needs no lock; see above. */
bool stack_healthy(void);

void stack_iface_info(struct stack_iface_info *out);

void stack_tcp_totals(struct stack_tcp_totals *out);

/* Turns the frame hook on or off: frames are parsed for it only while it is on. */
void stack_capture_frames(bool on);

/*
 * Starts an active open from local_port (0: a free ephemeral port) and sets
 * *chosen_port, reporting SYN_SENT. The SYN itself waits until ARP has
 * resolved the next hop, so lwIP's small ARP queue never drops it; if ARP
 * never answers, CLOSED follows with cause "arp:unresolved". Errors: -ENETDOWN (the TAP
 * device is gone), -EINVAL, -ENETUNREACH, -EADDRINUSE, -EADDRNOTAVAIL, -ENOMEM.
 */
int stack_tcp_connect(void *owner, uint32_t remote_ip, uint16_t remote_port,
    uint16_t local_port, struct stack_tcp **out, uint16_t *chosen_port);

/*
 * Sends a FIN: the write side is shut, and receiving goes on until the peer
 * closes too. A connection whose SYN is not answered yet is simply dropped.
 * Returns 0, or -EALREADY when the connection is already closing.
 */
int stack_tcp_close(struct stack_tcp *tcp, struct tcpinfo_cause cause);

/*
 * Sends a FIN, as stack_tcp_close() does, but only from SYN_RCVD,
 * ESTABLISHED or CLOSE_WAIT. Returns 0, or -ENOTCONN from any other state.
 */
int stack_tcp_shutdown_write(struct stack_tcp *tcp, struct tcpinfo_cause cause);

/* Room in lwIP's send buffer, in bytes; 0 when the connection cannot send, and in SYN_SENT. */
size_t stack_tcp_send_space(struct stack_tcp *tcp);

/*
 * Copies up to len bytes into lwIP's send buffer and sets *written; sending
 * starts with stack_tcp_flush(). Returns 0, or -ENOTCONN when the
 * connection cannot send.
 */
int stack_tcp_write(struct stack_tcp *tcp, const void *data, size_t len, size_t *written);

void stack_tcp_flush(struct stack_tcp *tcp);

/* Offers held received data to the owner again, reopening the window over what it takes. */
void stack_tcp_deliver(struct stack_tcp *tcp);

/* Copies the TCB. Returns false when there is no PCB (waiting for ARP, or closed). */
bool stack_tcp_tcb(struct stack_tcp *tcp, struct stack_tcb *out);

/*
 * Listens on port; backlog bounds the handshakes in progress, and SYNs
 * beyond it are dropped. Returns 0, -EADDRINUSE when a listener or an
 * active open uses the port, or -ENOMEM.
 */
int stack_tcp_listen(void *owner, uint16_t port, uint32_t backlog, struct stack_listener **out);

/* Stops listening and frees the listener. Its connections stay; those mid-handshake are reset by lwIP. */
void stack_tcp_unlisten(struct stack_listener *listener);

/*
 * Drops the connection and reports TCPINFO_CLOSED. Sends a RST unless the
 * connection is in TIME_WAIT or has sent nothing yet.
 */
void stack_tcp_abort(struct stack_tcp *tcp, struct tcpinfo_cause cause);

/*
 * Aborts every connection that has a PCB, as stack_tcp_abort() does each,
 * in the order that makes it cheap; for a stop. Connections still waiting
 * for ARP are left to the caller.
 */
void stack_tcp_abort_all(struct tcpinfo_cause cause);

/* Drops the connection silently, as a timed-out FIN_WAIT_2 is, and reports TCPINFO_CLOSED. */
void stack_tcp_drop(struct stack_tcp *tcp, struct tcpinfo_cause cause);

/* Runs fn(arg) on lwIP's core thread, with the lock held, after ms milliseconds. */
void stack_timeout(uint32_t ms, void (*fn)(void *arg), void *arg);

/* Cancels a pending stack_timeout() of fn(arg). */
void stack_untimeout(void (*fn)(void *arg), void *arg);

#endif
