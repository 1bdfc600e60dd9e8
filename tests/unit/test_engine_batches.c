/*
 * test_engine_batches: batches of opens on the fake stack: pacing within
 * in_flight, the counts, failure causes, the close modes and the hold,
 * stop, waits, the limits, timelines off, and the latency histogram.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "unit_helpers.h"

#define MAX_TCPS 64

static struct engine_batch_params
params(uint32_t count, uint32_t in_flight, enum engine_batch_close close, uint32_t hold_ms)
{
	return (struct engine_batch_params){
		.remote = { .ip = UNIT_REMOTE_IP, .port = 7000 }, .count = count,
		.in_flight = in_flight, .close = close, .hold_ms = hold_ms,
	};
}

static struct engine_batch_view
batch_get(struct engine *engine, uint64_t id)
{
	struct engine_batch_view view;

	assert_int_equal(engine_batch_get(engine, id, &view), ENGINE_OK);
	return view;
}

static uint64_t
batch_start(struct engine *engine, struct engine_batch_params p)
{
	struct engine_batch_view view;

	assert_int_equal(engine_batch_start(engine, &p, &view), ENGINE_OK);
	assert_int_equal(view.state, ENGINE_BATCH_RUNNING);
	return view.id;
}

/* Completes the handshake of every connection in SYN_SENT; returns how many there were. */
static size_t
establish_all(void)
{
	struct stack_tcp *tcps[MAX_TCPS];
	size_t n = fake_tcps_in(TCPINFO_SYN_SENT, tcps, MAX_TCPS);

	for (size_t i = 0; i < n; i++)
		unit_establish(tcps[i]);
	return n;
}

static void
test_pacing_keeps_in_flight_and_counts(void **state)
{
	struct engine *engine = unit_start();
	struct stack_tcp *tcps[MAX_TCPS];
	struct engine_batch_view view;
	uint64_t id;
	size_t rounds = 0;

	(void)state;
	id = batch_start(engine, params(10, 3, ENGINE_BATCH_CLOSE_ABORT, 0));
	view = batch_get(engine, id);
	assert_int_equal(view.started, 3);
	assert_int_equal(fake_tcps_in(TCPINFO_SYN_SENT, tcps, MAX_TCPS), 3);
	while (batch_get(engine, id).state == ENGINE_BATCH_RUNNING) {
		assert_true(fake_tcps_in(TCPINFO_SYN_SENT, tcps, MAX_TCPS) <= 3);
		assert_true(establish_all() > 0);
		/* The refill and the hold's close run on timers, never inside the hook. */
		assert_int_equal(fake_tcps_in(TCPINFO_ESTABLISHED, tcps, MAX_TCPS) > 0, 1);
		fake_advance_ms(0);
		assert_int_equal(fake_tcps_in(TCPINFO_ESTABLISHED, tcps, MAX_TCPS), 0);
		assert_true(++rounds <= 4);
	}
	view = batch_get(engine, id);
	assert_int_equal(view.state, ENGINE_BATCH_DONE);
	assert_int_equal(view.started, 10);
	assert_int_equal(view.established, 10);
	assert_int_equal(view.closed, 10);
	assert_int_equal(view.failed, 0);
	assert_int_equal(view.latency.count, 10);
	assert_int_equal(engine_live_count(engine), 0);
	unit_end(engine);
}

static void
test_failures_are_counted_by_cause(void **state)
{
	struct engine *engine = unit_start();
	struct stack_tcp *tcps[MAX_TCPS];
	struct engine_batch_view view;
	uint64_t id;

	(void)state;
	id = batch_start(engine, params(5, 4, ENGINE_BATCH_CLOSE_ABORT, 0));
	assert_int_equal(fake_tcps_in(TCPINFO_SYN_SENT, tcps, MAX_TCPS), 4);
	fake_state(tcps[0], TCPINFO_CLOSED, unit_cause(TCPINFO_CAUSE_RX,
	    TCPINFO_FLAG_RST | TCPINFO_FLAG_ACK));
	fake_state(tcps[1], TCPINFO_CLOSED, unit_cause(TCPINFO_CAUSE_RX,
	    TCPINFO_FLAG_RST | TCPINFO_FLAG_ACK));
	fake_state(tcps[2], TCPINFO_CLOSED, unit_cause(TCPINFO_CAUSE_TIMER_SYN_RETRIES, 0));
	fake_state(tcps[3], TCPINFO_CLOSED, unit_cause(TCPINFO_CAUSE_ARP_UNRESOLVED, 0));
	/* The fifth open cannot begin: no port. */
	fake_fail_next_connect(-EADDRNOTAVAIL);
	fake_advance_ms(0);
	view = batch_get(engine, id);
	assert_int_equal(view.state, ENGINE_BATCH_DONE);
	assert_int_equal(view.started, 5);
	assert_int_equal(view.failed, 5);
	assert_int_equal(view.established, 0);
	assert_int_equal(view.failures[ENGINE_BATCH_FAIL_REFUSED], 2);
	assert_int_equal(view.failures[ENGINE_BATCH_FAIL_TIMEOUT], 1);
	assert_int_equal(view.failures[ENGINE_BATCH_FAIL_UNRESOLVED], 1);
	assert_int_equal(view.failures[ENGINE_BATCH_FAIL_NO_PORT], 1);
	assert_int_equal(view.latency.count, 0);
	assert_int_equal(view.latency.p99_us, 0);
	unit_end(engine);
}

static void
test_unreachable_endpoint_refuses_the_batch(void **state)
{
	struct engine *engine = unit_start();
	struct engine_batch_params p = params(5, 2, ENGINE_BATCH_CLOSE_NONE, 0);
	struct engine_batch_view view, *list;
	size_t count;

	(void)state;
	fake_fail_next_connect(-ENETUNREACH);
	assert_int_equal(engine_batch_start(engine, &p, &view), ENGINE_NO_ROUTE);
	assert_int_equal(engine_batch_list(engine, &list, &count), ENGINE_OK);
	assert_int_equal(count, 0);
	assert_null(list);
	/* The next batch gets the first id: a refused one used none. */
	assert_int_equal(batch_start(engine, p), 1);
	unit_end(engine);
}

static void
test_graceful_close_after_hold(void **state)
{
	struct engine *engine = unit_start();
	struct stack_tcp *tcps[MAX_TCPS];
	struct engine_batch_view view;
	uint64_t id;

	(void)state;
	id = batch_start(engine, params(2, 2, ENGINE_BATCH_CLOSE_GRACEFUL, 500));
	assert_int_equal(establish_all(), 2);
	fake_advance_ms(499);
	assert_int_equal(fake_tcps_in(TCPINFO_ESTABLISHED, tcps, MAX_TCPS), 2);
	fake_advance_ms(1);
	assert_int_equal(fake_tcps_in(TCPINFO_FIN_WAIT_1, tcps, MAX_TCPS), 2);
	assert_int_equal(batch_get(engine, id).closed, 0);
	fake_state(tcps[0], TCPINFO_FIN_WAIT_2, unit_cause(TCPINFO_CAUSE_RX, TCPINFO_FLAG_ACK));
	fake_state(tcps[0], TCPINFO_TIME_WAIT, unit_cause(TCPINFO_CAUSE_RX,
	    TCPINFO_FLAG_FIN | TCPINFO_FLAG_ACK));
	view = batch_get(engine, id);
	assert_int_equal(view.closed, 1);
	assert_int_equal(view.state, ENGINE_BATCH_RUNNING);
	/* The peer resets the other before its close is through: it still counts as closed. */
	fake_state(tcps[1], TCPINFO_CLOSED, unit_cause(TCPINFO_CAUSE_RX, TCPINFO_FLAG_RST));
	view = batch_get(engine, id);
	assert_int_equal(view.closed, 2);
	assert_int_equal(view.state, ENGINE_BATCH_DONE);
	assert_true(view.elapsed_us >= 500000);
	unit_end(engine);
}

static void
test_reset_during_hold_and_close_none(void **state)
{
	struct engine *engine = unit_start();
	struct stack_tcp *tcps[MAX_TCPS];
	struct engine_batch_view view;
	uint64_t id;

	(void)state;
	id = batch_start(engine, params(1, 1, ENGINE_BATCH_CLOSE_ABORT, 1000));
	assert_int_equal(establish_all(), 1);
	assert_int_equal(fake_tcps_in(TCPINFO_ESTABLISHED, tcps, MAX_TCPS), 1);
	fake_state(tcps[0], TCPINFO_CLOSED, unit_cause(TCPINFO_CAUSE_RX, TCPINFO_FLAG_RST));
	view = batch_get(engine, id);
	assert_int_equal(view.state, ENGINE_BATCH_DONE);
	assert_int_equal(view.failures[ENGINE_BATCH_FAIL_RESET], 1);
	assert_int_equal(view.established, 1);
	fake_advance_ms(2000);	/* the hold's timer has nothing left to close */

	id = batch_start(engine, params(3, 3, ENGINE_BATCH_CLOSE_NONE, 0));
	assert_int_equal(establish_all(), 3);
	fake_advance_ms(1000);
	view = batch_get(engine, id);
	assert_int_equal(view.state, ENGINE_BATCH_DONE);
	assert_int_equal(view.closed, 0);
	assert_int_equal(fake_tcps_in(TCPINFO_ESTABLISHED, tcps, MAX_TCPS), 3);
	unit_end(engine);
}

static void
test_stop_and_wait(void **state)
{
	struct engine *engine = unit_start();
	struct engine_batch_view view;
	struct engine_waiter *waiter;
	int wakes = 0;
	bool found;
	uint64_t id;

	(void)state;
	id = batch_start(engine, params(100, 2, ENGINE_BATCH_CLOSE_ABORT, 0));
	assert_int_equal(engine_wait_batch(engine, id, 1000, unit_count_wake, &wakes, &waiter),
	    ENGINE_OK);
	assert_non_null(waiter);
	assert_int_equal(engine_batch_stop(engine, id, &view), ENGINE_OK);
	assert_int_equal(view.state, ENGINE_BATCH_STOPPED);
	assert_int_equal(wakes, 1);
	assert_int_equal(engine_wait_finish(engine, waiter, NULL, NULL, &found), ENGINE_WAIT_REACHED);
	assert_true(found);
	/* What was open goes on as asked; nothing new starts. */
	assert_int_equal(establish_all(), 2);
	fake_advance_ms(10);
	view = batch_get(engine, id);
	assert_int_equal(view.started, 2);
	assert_int_equal(view.closed, 2);
	assert_int_equal(view.state, ENGINE_BATCH_STOPPED);
	/* A batch no longer running needs no waiter. */
	assert_int_equal(engine_wait_batch(engine, id, 1000, unit_count_wake, &wakes, &waiter),
	    ENGINE_OK);
	assert_null(waiter);
	assert_int_equal(engine_batch_stop(engine, 99, &view), ENGINE_NOT_FOUND);
	assert_int_equal(engine_wait_batch(engine, 99, 10, unit_count_wake, &wakes, &waiter),
	    ENGINE_NOT_FOUND);
	unit_end(engine);
}

static void
test_wait_times_out_and_stop_wakes(void **state)
{
	struct engine *engine = unit_start();
	struct engine_waiter *waiter;
	int wakes = 0;
	bool found;
	uint64_t id;

	(void)state;
	id = batch_start(engine, params(4, 1, ENGINE_BATCH_CLOSE_NONE, 0));
	assert_int_equal(engine_wait_batch(engine, id, 50, unit_count_wake, &wakes, &waiter),
	    ENGINE_OK);
	fake_advance_ms(50);
	assert_int_equal(wakes, 1);
	assert_int_equal(engine_wait_finish(engine, waiter, NULL, NULL, &found),
	    ENGINE_WAIT_TIMED_OUT);
	assert_int_equal(engine_wait_batch(engine, id, 1000, unit_count_wake, &wakes, &waiter),
	    ENGINE_OK);
	engine_stop(engine);
	assert_int_equal(wakes, 2);
	assert_int_equal(engine_wait_finish(engine, waiter, NULL, NULL, &found),
	    ENGINE_WAIT_STOPPING);
	assert_int_equal(batch_get(engine, id).failures[ENGINE_BATCH_FAIL_STOPPING], 1);
	engine_free(engine);
	fake_stack_reset();
}

static void
test_running_limit_and_eviction(void **state)
{
	struct engine *engine = unit_start();
	struct engine_batch_params p = params(1, 1, ENGINE_BATCH_CLOSE_NONE, 0);
	struct engine_batch_view view, *list;
	size_t count;
	int i;

	(void)state;
	for (i = 0; i < (int)ENGINE_BATCHES_DEFAULT; i++)
		batch_start(engine, p);
	assert_int_equal(engine_batch_start(engine, &p, &view), ENGINE_LIMIT_REACHED);
	assert_int_equal(engine_batch_stop(engine, 1, &view), ENGINE_OK);
	/* Finished batches are kept up to ENGINE_BATCHES_KEPT; the oldest go first. */
	for (i = 0; i < ENGINE_BATCHES_KEPT; i++) {
		establish_all();
		batch_start(engine, p);
	}
	assert_int_equal(engine_batch_list(engine, &list, &count), ENGINE_OK);
	assert_int_equal(count, ENGINE_BATCHES_KEPT);
	assert_int_equal(list[count - 1].id, ENGINE_BATCHES_DEFAULT + ENGINE_BATCHES_KEPT);
	assert_true(list[0].id > 1);
	free(list);
	unit_end(engine);
}

static void
test_timelines_off_unless_asked(void **state)
{
	struct engine *engine = unit_start();
	struct engine_batch_params p = params(1, 1, ENGINE_BATCH_CLOSE_NONE, 0);
	struct engine_open_params open = {
		.remote = { .ip = UNIT_REMOTE_IP, .port = 7000 }, .timeline_off = true,
	};
	struct engine_timeline timeline;
	struct engine_conn_view conn;

	(void)state;
	batch_start(engine, p);
	establish_all();
	p.timelines = true;
	batch_start(engine, p);
	establish_all();
	assert_int_equal(engine_open(engine, &open, &conn), ENGINE_OK);
	unit_establish(fake_last_tcp());
	assert_int_equal(engine_timeline(engine, 1, &timeline), ENGINE_OK);
	assert_int_equal(timeline.count, 0);
	assert_int_equal(timeline.dropped, 0);
	engine_timeline_free(&timeline);
	assert_int_equal(engine_timeline(engine, 2, &timeline), ENGINE_OK);
	assert_true(timeline.count >= 3);
	engine_timeline_free(&timeline);
	assert_int_equal(engine_timeline(engine, conn.id, &timeline), ENGINE_OK);
	assert_int_equal(timeline.count, 0);
	engine_timeline_free(&timeline);
	/* Off, the connection still counts its segments. */
	assert_int_equal(engine_get(engine, 1, &conn), ENGINE_OK);
	assert_int_equal(conn.counters.segs_out, 1);
	assert_int_equal(conn.state, TCPINFO_ESTABLISHED);
	unit_end(engine);
}

static void
test_latency_is_syn_to_established(void **state)
{
	struct engine *engine = unit_start();
	struct engine_batch_view view;
	uint64_t id;

	(void)state;
	id = batch_start(engine, params(1, 1, ENGINE_BATCH_CLOSE_NONE, 0));
	fake_advance_ms(5);
	establish_all();
	view = batch_get(engine, id);
	assert_int_equal(view.latency.count, 1);
	assert_int_equal(view.latency.min_us, 5000);
	assert_int_equal(view.latency.p50_us, 5000);
	assert_int_equal(view.latency.max_us, 5000);
	unit_end(engine);
}

static void
test_histogram_percentiles(void **state)
{
	struct histogram *h = calloc(1, sizeof(*h));
	uint64_t p;

	(void)state;
	assert_non_null(h);
	assert_int_equal(histogram_percentile(h, 500), 0);
	for (uint64_t v = 1; v <= 1000; v++)
		histogram_add(h, v);
	/* Within 1/16 above the true value, never past the extremes. */
	p = histogram_percentile(h, 500);
	assert_true(p >= 500 && p <= 500 + 500 / 16);
	p = histogram_percentile(h, 990);
	assert_true(p >= 990 && p <= 990 + 990 / 16);
	assert_int_equal(histogram_percentile(h, 1000), 1000);
	assert_int_equal(histogram_percentile(h, 0), 1);
	/* Small values are exact; a huge one lands in the last bucket. */
	memset(h, 0, sizeof(*h));
	histogram_add(h, 7);
	histogram_add(h, UINT64_MAX);
	assert_int_equal(histogram_percentile(h, 500), 7);
	assert_int_equal(histogram_percentile(h, 1000), UINT64_MAX);
	free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pacing_keeps_in_flight_and_counts),
		cmocka_unit_test(test_failures_are_counted_by_cause),
		cmocka_unit_test(test_unreachable_endpoint_refuses_the_batch),
		cmocka_unit_test(test_graceful_close_after_hold),
		cmocka_unit_test(test_reset_during_hold_and_close_none),
		cmocka_unit_test(test_stop_and_wait),
		cmocka_unit_test(test_wait_times_out_and_stop_wakes),
		cmocka_unit_test(test_running_limit_and_eviction),
		cmocka_unit_test(test_timelines_off_unless_asked),
		cmocka_unit_test(test_latency_is_syn_to_established),
		cmocka_unit_test(test_histogram_percentiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
