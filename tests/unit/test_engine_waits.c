#include <errno.h>

#include "unit_helpers.h"

static void
wait_on_a_state_reached_already_answers_at_once(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_waiter *waiter = NULL;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);
	int wakes = 0;

	(void)unused;
	/* Passed through SYN_SENT counts as reached, as does being in ESTABLISHED. */
	assert_int_equal(engine_wait_state(engine, id, TCPINFO_SYN_SENT, 1000, unit_count_wake,
	    &wakes, &waiter), ENGINE_OK);
	assert_null(waiter);
	assert_int_equal(engine_wait_state(engine, id, TCPINFO_ESTABLISHED, 1000, unit_count_wake,
	    &wakes, &waiter), ENGINE_OK);
	assert_null(waiter);
	assert_int_equal(engine_wait_state(engine, 77, TCPINFO_ESTABLISHED, 1000, unit_count_wake,
	    &wakes, &waiter), ENGINE_NOT_FOUND);
	assert_int_equal(wakes, 0);
	unit_end(engine);
}

static void
wait_on_a_state_is_woken_when_reached(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_waiter *waiter;
	struct engine_conn_view view;
	struct stack_tcp *tcp;
	uint64_t id = unit_open(engine, &tcp);
	int wakes = 0;
	bool found;

	(void)unused;
	waiter = unit_wait_state(engine, id, TCPINFO_ESTABLISHED, 5000, &wakes);
	assert_int_equal(fake_timer_count(), 1);
	unit_establish(tcp);
	assert_int_equal(wakes, 1);
	assert_int_equal(fake_timer_count(), 0);
	assert_int_equal(engine_wait_finish(engine, waiter, &view, NULL, &found),
	    ENGINE_WAIT_REACHED);
	assert_true(found);
	assert_int_equal(view.state, TCPINFO_ESTABLISHED);
	unit_end(engine);
}

static void
wait_on_a_state_times_out(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_waiter *waiter;
	struct engine_conn_view view;
	struct stack_tcp *tcp;
	uint64_t id = unit_open(engine, &tcp);
	int wakes = 0;
	bool found;

	(void)unused;
	waiter = unit_wait_state(engine, id, TCPINFO_ESTABLISHED, 300, &wakes);
	fake_advance_ms(299);
	assert_int_equal(wakes, 0);
	fake_advance_ms(1);
	assert_int_equal(wakes, 1);
	assert_int_equal(engine_wait_finish(engine, waiter, &view, NULL, &found),
	    ENGINE_WAIT_TIMED_OUT);
	assert_int_equal(view.state, TCPINFO_SYN_SENT);
	unit_end(engine);
}

static void
wait_timeout_is_capped(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_waiter *waiter;
	struct stack_tcp *tcp;
	uint64_t id = unit_open(engine, &tcp);
	int wakes = 0;

	(void)unused;
	assert_int_equal(engine_wait_state(engine, id, TCPINFO_ESTABLISHED, UINT32_MAX,
	    unit_count_wake, &wakes, &waiter), 0);
	fake_advance_ms(ENGINE_WAIT_TIMEOUT_MAX_MS);
	assert_int_equal(wakes, 1);
	assert_int_equal(unit_finish(engine, waiter), ENGINE_WAIT_TIMED_OUT);
	unit_end(engine);
}

static void
wait_on_a_state_never_reached_is_unreachable(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_waiter *waiter, *late;
	struct stack_tcp *tcp;
	uint64_t id = unit_open(engine, &tcp);
	int wakes = 0;

	(void)unused;
	waiter = unit_wait_state(engine, id, TCPINFO_ESTABLISHED, 5000, &wakes);
	unit_close(engine, id, ENGINE_CLOSE_ABORT, NULL);
	assert_int_equal(wakes, 1);
	assert_int_equal(unit_finish(engine, waiter), ENGINE_WAIT_UNREACHABLE);
	/* Registered on a closed connection: woken at once. */
	late = unit_wait_state(engine, id, TCPINFO_ESTABLISHED, 5000, &wakes);
	assert_int_equal(wakes, 2);
	assert_int_equal(unit_finish(engine, late), ENGINE_WAIT_UNREACHABLE);
	assert_int_equal(fake_timer_count(), 0);
	unit_end(engine);
}

static void
wait_cancelled_before_it_woke(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_waiter *waiter;
	struct stack_tcp *tcp;
	uint64_t id = unit_open(engine, &tcp);
	int wakes = 0;
	bool found;

	(void)unused;
	waiter = unit_wait_state(engine, id, TCPINFO_ESTABLISHED, 5000, &wakes);
	assert_int_equal(engine_wait_finish(engine, waiter, NULL, NULL, &found),
	    ENGINE_WAIT_TIMED_OUT);
	assert_true(found);
	assert_int_equal(fake_timer_count(), 0);
	unit_establish(tcp);
	assert_int_equal(wakes, 0);
	unit_end(engine);
}

static void
wait_on_a_listener_is_woken_by_accepts(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_listener_view listener;
	struct engine_waiter *waiter;
	struct stack_tcp *tcp;
	int wakes = 0;
	bool found;

	(void)unused;
	assert_int_equal(engine_listen(engine, 9000, 8, &listener), 0);
	assert_int_equal(engine_wait_accepted(engine, listener.id, 2, 5000, unit_count_wake, &wakes,
	    &waiter), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(wakes, 0);
		tcp = fake_passive_open(fake_listener(9000), UNIT_REMOTE_IP, (uint16_t)(40000 + i));
		fake_accept(fake_listener(9000), tcp);
	}
	assert_int_equal(wakes, 1);
	assert_int_equal(engine_wait_finish(engine, waiter, NULL, &listener, &found),
	    ENGINE_WAIT_REACHED);
	assert_int_equal(listener.accepted, 2);
	assert_int_equal(engine_wait_accepted(engine, listener.id, 2, 5000, unit_count_wake, &wakes,
	    &waiter), ENGINE_OK);
	assert_null(waiter);
	assert_int_equal(engine_wait_accepted(engine, 99, 1, 5000, unit_count_wake, &wakes,
	    &waiter), ENGINE_NOT_FOUND);
	unit_end(engine);
}

static void
wait_on_a_listener_times_out_or_ends_with_it(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_listener_view listener;
	struct engine_waiter *timed, *ended;
	int wakes = 0;
	bool found;

	(void)unused;
	assert_int_equal(engine_listen(engine, 9000, 8, &listener), 0);
	assert_int_equal(engine_wait_accepted(engine, listener.id, 1, 100, unit_count_wake, &wakes,
	    &timed), 0);
	assert_int_equal(engine_wait_accepted(engine, listener.id, 1, 5000, unit_count_wake, &wakes,
	    &ended), 0);
	fake_advance_ms(100);
	assert_int_equal(wakes, 1);
	assert_int_equal(engine_wait_finish(engine, timed, NULL, &listener, &found),
	    ENGINE_WAIT_TIMED_OUT);
	assert_int_equal(engine_unlisten(engine, listener.id, &listener), 0);
	assert_int_equal(listener.state, TCPINFO_CLOSED);
	assert_int_equal(wakes, 2);
	assert_int_equal(engine_wait_finish(engine, ended, NULL, &listener, &found),
	    ENGINE_WAIT_UNREACHABLE);
	assert_false(found);
	unit_end(engine);
}

static void
stop_wakes_every_wait(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_listener_view listener;
	struct engine_waiter *on_conn, *on_listener;
	struct stack_tcp *tcp;
	uint64_t id = unit_open(engine, &tcp);
	int wakes = 0;

	(void)unused;
	assert_int_equal(engine_listen(engine, 9000, 8, &listener), 0);
	on_conn = unit_wait_state(engine, id, TCPINFO_ESTABLISHED, 5000, &wakes);
	assert_int_equal(engine_wait_accepted(engine, listener.id, 1, 5000, unit_count_wake, &wakes,
	    &on_listener), 0);
	engine_stop(engine);
	assert_int_equal(wakes, 2);
	assert_int_equal(unit_finish(engine, on_conn), ENGINE_WAIT_STOPPING);
	assert_int_equal(unit_finish(engine, on_listener), ENGINE_WAIT_STOPPING);
	assert_int_equal(engine_wait_state(engine, id, TCPINFO_ESTABLISHED, 5000, unit_count_wake,
	    &wakes, &on_conn), ENGINE_STOPPING);
	engine_free(engine);
	fake_stack_reset();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wait_on_a_state_reached_already_answers_at_once),
		cmocka_unit_test(wait_on_a_state_is_woken_when_reached),
		cmocka_unit_test(wait_on_a_state_times_out),
		cmocka_unit_test(wait_timeout_is_capped),
		cmocka_unit_test(wait_on_a_state_never_reached_is_unreachable),
		cmocka_unit_test(wait_cancelled_before_it_woke),
		cmocka_unit_test(wait_on_a_listener_is_woken_by_accepts),
		cmocka_unit_test(wait_on_a_listener_times_out_or_ends_with_it),
		cmocka_unit_test(stop_wakes_every_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
