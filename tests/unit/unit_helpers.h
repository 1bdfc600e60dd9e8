/*
 * unit_helpers: what the unit tests share: cmocka's includes, causes, and
 * an engine started on the fake stack with the fake clock, with the moves
 * most tests begin with (open, establish, count wakes).
 */
#ifndef LWIPD_UNIT_HELPERS_H
#define LWIPD_UNIT_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine.h"
#include "fake_stack.h"
#include "membudget.h"

/* 10.9.0.2 and 10.9.0.1, in network byte order on a little-endian host. */
#define UNIT_LOCAL_IP 0x0200090au
#define UNIT_REMOTE_IP 0x0100090au
#define UNIT_MSL_MS 1000u

static inline struct tcpinfo_cause
unit_cause(enum tcpinfo_cause_kind kind, uint8_t flags)
{
	return (struct tcpinfo_cause){ .kind = (uint8_t)kind, .flags = flags };
}

static inline struct engine_config
unit_config(void)
{
	return (struct engine_config){
		.ifname = "tap0", .address = UNIT_LOCAL_IP, .prefix = 24, .msl_ms = UNIT_MSL_MS,
		.retain_closed = 16, .recv_buffer = 64, .timeline_max = ENGINE_TIMELINE_DEFAULT,
		.clock_us = fake_clock_us, .max_connections = ENGINE_CONNECTIONS_DEFAULT,
		.max_listeners = ENGINE_LISTENERS_DEFAULT, .max_event_streams = ENGINE_EVENT_STREAMS_DEFAULT,
		.max_capture_readers = ENGINE_CAPTURE_READERS_DEFAULT,
		.max_send_queue = ENGINE_SEND_QUEUE_DEFAULT, .max_batches = ENGINE_BATCHES_DEFAULT,
		.memory_budget = MEMBUDGET_DEFAULT,
	};
}

/* Starts an engine with cfg on a fresh fake stack. */
static inline struct engine *
unit_start_with(const struct engine_config *cfg)
{
	struct stack_config stack_cfg = { .address = UNIT_LOCAL_IP, .prefix = 24 };
	struct engine *engine = NULL;

	fake_stack_reset();
	assert_int_equal(engine_start(cfg, &stack_cfg, &engine), 0);
	return engine;
}

static inline struct engine *
unit_start(void)
{
	struct engine_config cfg = unit_config();

	return unit_start_with(&cfg);
}

/* Stops and frees the engine, then forgets the fake stack's handles. */
static inline void
unit_end(struct engine *engine)
{
	engine_stop(engine);
	engine_free(engine);
	fake_stack_reset();
}

/* Opens an active connection towards port 7000; returns its id and sets *tcp. */
static inline uint64_t
unit_open(struct engine *engine, struct stack_tcp **tcp)
{
	struct engine_open_params params = { .remote = { .ip = UNIT_REMOTE_IP, .port = 7000 } };
	struct engine_conn_view view;

	assert_int_equal(engine_open(engine, &params, &view), 0);
	assert_int_equal(view.state, TCPINFO_SYN_SENT);
	*tcp = fake_last_tcp();
	return view.id;
}

/* Completes the handshake of an active open: SYN out, SYN+ACK in. */
static inline void
unit_establish(struct stack_tcp *tcp)
{
	fake_segment(tcp, true, TCPINFO_FLAG_SYN, 1000, 0, 0, tcp->state);
	fake_segment(tcp, false, TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK, 5000, 1001, 0,
	    TCPINFO_ESTABLISHED);
}

/* Opens and establishes; returns the id. */
static inline uint64_t
unit_open_established(struct engine *engine, struct stack_tcp **tcp)
{
	uint64_t id = unit_open(engine, tcp);

	unit_establish(*tcp);
	return id;
}

static inline enum tcpinfo_state
unit_state(struct engine *engine, uint64_t id)
{
	struct engine_conn_view view;

	assert_int_equal(engine_get(engine, id, &view), 0);
	return view.state;
}

/* The last cause in a connection's history. */
static inline struct tcpinfo_cause
unit_last_cause(struct engine *engine, uint64_t id)
{
	struct engine_conn_view view;

	assert_int_equal(engine_get(engine, id, &view), 0);
	assert_true(view.history_len > 0);
	return view.history[view.history_len - 1].cause;
}

/* Closes connection id and returns its state after the call; sets *acted unless NULL. */
static inline enum tcpinfo_state
unit_close(struct engine *engine, uint64_t id, enum engine_close_mode mode, bool *acted)
{
	struct engine_conn_view view;
	bool did;

	assert_int_equal(engine_close(engine, id, mode, &view, &did), ENGINE_OK);
	if (acted != NULL)
		*acted = did;
	return view.state;
}

/* A wake callback that counts its calls in the int at arg. */
static inline void
unit_count_wake(void *arg)
{
	(*(int *)arg)++;
}

/* Waits for connection id to reach state, counting wakes in *wakes; NULL when it has already. */
static inline struct engine_waiter *
unit_wait_state(struct engine *engine, uint64_t id, enum tcpinfo_state state, uint32_t timeout_ms,
    int *wakes)
{
	struct engine_waiter *waiter;

	assert_int_equal(engine_wait_state(engine, id, state, timeout_ms, unit_count_wake, wakes,
	    &waiter), ENGINE_OK);
	return waiter;
}

/* Finishes a wait and returns its result, copying nothing. */
static inline enum engine_wait_result
unit_finish(struct engine *engine, struct engine_waiter *waiter)
{
	bool found;

	return engine_wait_finish(engine, waiter, NULL, NULL, &found);
}

#endif
