/*
 * test_engine_memory: the engine at its memory budget: a send refused
 * whole, received data left in the stack, timeline events refused, and the
 * buffers of a closed connection given back.
 */
#include <stdlib.h>
#include <string.h>

#include "timeline.h"
#include "unit_helpers.h"

/* What a timeline's first allocation costs with unit_config()'s snaplen of 0. */
#define FIRST_TIMELINE \
	(TIMELINE_FIRST_CAPACITY * (sizeof(struct engine_event) + ENGINE_FRAME_HEADERS_MAX))

static struct engine_memory_stats
memory_of(struct engine *engine)
{
	struct engine_stats stats;

	engine_stats(engine, &stats);
	return stats.memory;
}

static struct engine *
start_with_budget(uint64_t budget, uint32_t retain_closed)
{
	struct engine_config cfg = unit_config();

	cfg.memory_budget = budget;
	cfg.retain_closed = retain_closed;
	return unit_start_with(&cfg);
}

static void
send_beyond_the_budget_is_refused_whole(void **unused)
{
	struct engine *engine = start_with_budget(FIRST_TIMELINE + 1000, 16);
	static uint8_t data[1001];
	struct engine_conn_view view;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);

	(void)unused;
	assert_int_equal(memory_of(engine).timelines, FIRST_TIMELINE);
	tcp->send_space = 0;
	assert_int_equal(engine_send(engine, id, data, 1001, &view), ENGINE_MEMORY_BUDGET);
	assert_int_equal(view.send_queued, 0);
	assert_int_equal(engine_send(engine, id, data, 600, NULL), ENGINE_OK);
	assert_int_equal(engine_send(engine, id, data, 401, &view), ENGINE_MEMORY_BUDGET);
	assert_int_equal(view.send_queued, 600);
	/* Generated data holds no memory, so the budget does not limit it. */
	assert_int_equal(engine_send(engine, id, NULL, 1u << 20, NULL), ENGINE_OK);
	assert_int_equal(memory_of(engine).send_queued, 600);
	assert_int_equal(memory_of(engine).sends_refused, 2);
	/* Once sent, the copy is given back and the next send fits. */
	fake_sendable(tcp, 600);
	assert_int_equal(memory_of(engine).send_queued, 0);
	assert_int_equal(engine_send(engine, id, data, 1000, NULL), ENGINE_OK);
	unit_end(engine);
}

static void
received_data_waits_in_the_stack_while_the_budget_is_full(void **unused)
{
	struct engine *engine = start_with_budget(2 * FIRST_TIMELINE + 500, 16);
	static uint8_t data[500], *got;
	struct stack_tcp *sender, *receiver;
	uint64_t a = unit_open_established(engine, &sender);
	uint64_t b = unit_open_established(engine, &receiver);
	bool truncated;
	size_t len;

	(void)unused;
	sender->send_space = 0;
	assert_int_equal(engine_send(engine, a, data, 500, NULL), ENGINE_OK);
	assert_int_equal(fake_receive(receiver, "held", 4), 0);
	assert_int_equal(receiver->held_len, 4);
	assert_int_equal(memory_of(engine).recv_deferred, 1);
	assert_int_equal(memory_of(engine).recv_buffers, 0);
	/* Room again: a read of b takes the held bytes in and returns them. */
	fake_sendable(sender, 500);
	assert_int_equal(engine_read(engine, b, &got, &len, &truncated), ENGINE_OK);
	assert_int_equal(len, 4);
	assert_memory_equal(got, "held", 4);
	free(got);
	assert_int_equal(receiver->held_len, 0);
	/* Read empty, the ring is freed. */
	assert_int_equal(memory_of(engine).recv_buffers, 0);
	unit_end(engine);
}

static void
timeline_events_beyond_the_budget_are_refused_and_counted(void **unused)
{
	struct engine *engine = start_with_budget(FIRST_TIMELINE + FIRST_TIMELINE / 2, 16);
	struct engine_timeline timeline;
	struct stack_tcp *tcp;
	uint64_t a = unit_open_established(engine, &tcp);
	uint64_t b = unit_open_established(engine, &tcp);

	(void)unused;
	assert_int_equal(engine_timeline(engine, a, &timeline), ENGINE_OK);
	assert_true(timeline.count > 0);
	assert_int_equal(timeline.refused, 0);
	engine_timeline_free(&timeline);
	assert_int_equal(engine_timeline(engine, b, &timeline), ENGINE_OK);
	assert_int_equal(timeline.count, 0);
	assert_true(timeline.refused >= 2);
	assert_int_equal(memory_of(engine).timeline_refused, timeline.refused);
	engine_timeline_free(&timeline);
	unit_end(engine);
}

static void
closed_connections_keep_only_what_their_history_needs(void **unused)
{
	struct engine *engine = start_with_budget(1u << 20, 16);
	struct engine_memory_stats memory;
	struct engine_timeline timeline;
	static uint8_t data[300];
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);
	bool acted, truncated;
	uint8_t *got;
	size_t len;

	(void)unused;
	tcp->send_space = 0;
	assert_int_equal(engine_send(engine, id, data, 300, NULL), ENGINE_OK);
	assert_int_equal(fake_receive(tcp, "unread", 6), 6);
	memory = memory_of(engine);
	assert_int_equal(memory.send_queued, 300);
	assert_int_equal(memory.recv_buffers, 64);	/* the ring, capped by recv_buffer */
	assert_int_equal(unit_close(engine, id, ENGINE_CLOSE_ABORT, &acted), TCPINFO_CLOSED);
	memory = memory_of(engine);
	assert_int_equal(memory.send_queued, 0);
	assert_int_equal(memory.recv_buffers, 6);
	assert_int_equal(engine_timeline(engine, id, &timeline), ENGINE_OK);
	assert_int_equal(memory.timelines,
	    timeline.count * (sizeof(struct engine_event) + ENGINE_FRAME_HEADERS_MAX));
	engine_timeline_free(&timeline);
	/* The unread bytes are still there to read. */
	assert_int_equal(engine_read(engine, id, &got, &len, &truncated), ENGINE_OK);
	assert_int_equal(len, 6);
	assert_memory_equal(got, "unread", 6);
	free(got);
	assert_int_equal(memory_of(engine).recv_buffers, 0);
	unit_end(engine);
}

/* A record pruned from retention gives everything back. */
static void
pruned_connections_give_everything_back(void **unused)
{
	struct engine *engine = start_with_budget(1u << 20, 0);
	struct engine_memory_stats memory;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);
	bool acted;

	(void)unused;
	tcp->send_space = 0;
	assert_int_equal(engine_send(engine, id, "abc", 3, NULL), ENGINE_OK);
	assert_int_equal(fake_receive(tcp, "unread", 6), 6);
	unit_close(engine, id, ENGINE_CLOSE_ABORT, &acted);
	memory = memory_of(engine);
	assert_int_equal(memory.send_queued + memory.recv_buffers + memory.timelines, 0);
	unit_end(engine);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(send_beyond_the_budget_is_refused_whole),
		cmocka_unit_test(received_data_waits_in_the_stack_while_the_budget_is_full),
		cmocka_unit_test(timeline_events_beyond_the_budget_are_refused_and_counted),
		cmocka_unit_test(closed_connections_keep_only_what_their_history_needs),
		cmocka_unit_test(pruned_connections_give_everything_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
