/*
 * fake_stack: a stand-in for lwip-port/stack.c, so a test can run the
 * engine in-process without root, a TAP device or lwIP.
 *
 * It implements every function of stack.h the way the glue behaves towards
 * the engine (close from ESTABLISHED reports FIN_WAIT_1, abort reports
 * CLOSED, ...), and lets the test drive the hooks as lwIP's callbacks would:
 * inbound state changes, segments, data, passive opens. Time is the test's:
 * stack_timeout() callbacks fire only from fake_advance_ms(), and
 * fake_clock_us() is the clock to give the engine. Every stack_tcp_* call
 * asserts that the caller holds the lock, as lwIP's LWIP_ASSERT_CORE_LOCKED
 * does, that the handle has not been reported CLOSED, and that the hook
 * running, if any, may make that call as stack.h states above each hook
 * (timers aside; see enum fake_allow).
 */
#ifndef LWIPD_FAKE_STACK_H
#define LWIPD_FAKE_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stack.h"

/* What the fake knows of one connection; the test may read and set it. */
struct stack_tcp {
	void *owner;
	enum tcpinfo_state state;
	bool dead;			/* reported CLOSED: the engine must not use it again */
	uint32_t remote_ip;
	uint16_t remote_port;
	uint16_t local_port;
	size_t send_space;		/* what stack_tcp_send_space() reports while it can send */
	uint8_t *written;		/* every byte given to stack_tcp_write, malloc'd */
	size_t written_len;
	unsigned int flushes;
	uint8_t *held;			/* received data the owner did not take yet */
	size_t held_len;
	bool has_tcb;
	struct stack_tcb tcb;
	struct stack_tcp *next_fake;
};

struct stack_listener {
	void *owner;
	uint16_t port;
	uint32_t backlog;
	struct stack_listener *next_fake;
};

/* Forgets every handle and timer; the clock goes back to 0. Call between tests. */
void fake_stack_reset(void);

/* The clock to put in engine_config.clock_us. */
uint64_t fake_clock_us(void *arg);

/* Moves the clock on and fires every timer that falls due, in order, with the lock held. */
void fake_advance_ms(uint32_t ms);

/* How many times the lock was taken since the last reset. */
unsigned long fake_lock_count(void);

/* How many stack_timeout() callbacks are pending. */
size_t fake_timer_count(void);

/* The next stack_tcp_connect() fails with rc (a negative errno), once. */
void fake_fail_next_connect(int rc);

/* The handle of the latest active or passive open, or NULL. */
struct stack_tcp *fake_last_tcp(void);

/* Copies up to max handles not yet reported CLOSED that are in state, newest first; returns how many. */
size_t fake_tcps_in(enum tcpinfo_state state, struct stack_tcp **out, size_t max);

/* The listener on port, or NULL. */
struct stack_listener *fake_listener(uint16_t port);

/*
 * The drivers below take the lock and call the engine's hooks, as lwIP's
 * callbacks would on its core thread.
 */

/* Reports a state change (CLOSED frees the handle). */
void fake_state(struct stack_tcp *tcp, enum tcpinfo_state state, struct tcpinfo_cause cause);

/*
 * Reports a segment. An inbound one is followed by the state change it
 * caused, if next is not the current state, then by segment_done.
 */
void fake_segment(struct stack_tcp *tcp, bool outbound, uint8_t flags, uint32_t seq,
    uint32_t ack, uint32_t len, enum tcpinfo_state next);

/* Offers data to the owner; what it does not take is held until stack_tcp_deliver(). */
size_t fake_receive(struct stack_tcp *tcp, const void *data, size_t len);

/* Sets the send space and tells the owner its send buffer has room. */
void fake_sendable(struct stack_tcp *tcp, size_t space);

/*
 * A SYN reaches listener: a passive open (LISTEN -> SYN_RCVD). Returns the
 * new handle, or NULL when the engine refused it.
 */
struct stack_tcp *fake_passive_open(struct stack_listener *listener, uint32_t remote_ip,
    uint16_t remote_port);

/* The handshake of tcp, forked from listener, completes (SYN_RCVD -> ESTABLISHED). */
void fake_accept(struct stack_listener *listener, struct stack_tcp *tcp);

#endif
