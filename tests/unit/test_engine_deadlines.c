#include "unit_helpers.h"

/* Drives an established connection into TIME_WAIT by a graceful close. */
static void
to_time_wait(struct engine *engine, uint64_t id, struct stack_tcp *tcp)
{

	unit_close(engine, id, ENGINE_CLOSE_GRACEFUL, NULL);
	fake_segment(tcp, false, TCPINFO_FLAG_FIN | TCPINFO_FLAG_ACK, 5001, 1002, 0,
	    TCPINFO_TIME_WAIT);
}

static void
time_wait_lasts_two_msl(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_conn_view view;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);

	(void)unused;
	fake_advance_ms(500);
	to_time_wait(engine, id, tcp);
	assert_int_equal(engine_get(engine, id, &view), 0);
	assert_int_equal(view.time_wait_remaining_ms, 2 * UNIT_MSL_MS);
	fake_advance_ms(2 * UNIT_MSL_MS - 1);
	assert_int_equal(engine_get(engine, id, &view), 0);
	assert_int_equal(view.state, TCPINFO_TIME_WAIT);
	assert_int_equal(view.time_wait_remaining_ms, 1);
	fake_advance_ms(1);
	assert_int_equal(unit_state(engine, id), TCPINFO_CLOSED);
	assert_int_equal(unit_last_cause(engine, id).kind, TCPINFO_CAUSE_TIMER_2MSL);
	assert_int_equal(fake_timer_count(), 0);
	unit_end(engine);
}

static void
time_wait_deadlines_come_in_order(void **unused)
{
	struct engine *engine = unit_start();
	struct stack_tcp *first_tcp, *second_tcp;
	uint64_t first = unit_open_established(engine, &first_tcp);
	uint64_t second = unit_open_established(engine, &second_tcp);

	(void)unused;
	to_time_wait(engine, first, first_tcp);
	fake_advance_ms(300);
	to_time_wait(engine, second, second_tcp);
	/* One timer, for the head of the queue. */
	assert_int_equal(fake_timer_count(), 1);
	fake_advance_ms(2 * UNIT_MSL_MS - 300);
	assert_int_equal(unit_state(engine, first), TCPINFO_CLOSED);
	assert_int_equal(unit_state(engine, second), TCPINFO_TIME_WAIT);
	fake_advance_ms(300);
	assert_int_equal(unit_state(engine, second), TCPINFO_CLOSED);
	unit_end(engine);
}

static void
fin_wait_2_after_a_close_times_out(void **unused)
{
	struct engine *engine = unit_start();
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);

	(void)unused;
	unit_close(engine, id, ENGINE_CLOSE_GRACEFUL, NULL);
	fake_segment(tcp, false, TCPINFO_FLAG_ACK, 5001, 1002, 0, TCPINFO_FIN_WAIT_2);
	fake_advance_ms(19999);
	assert_int_equal(unit_state(engine, id), TCPINFO_FIN_WAIT_2);
	fake_advance_ms(1);
	assert_int_equal(unit_state(engine, id), TCPINFO_CLOSED);
	assert_int_equal(unit_last_cause(engine, id).kind, TCPINFO_CAUSE_TIMER_FIN_WAIT_2);
	unit_end(engine);
}

static void
fin_wait_2_after_a_shutdown_waits_until_a_close(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_conn_view view;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);

	(void)unused;
	assert_int_equal(engine_shutdown(engine, id, ENGINE_SHUT_WRITE, &view), 0);
	fake_segment(tcp, false, TCPINFO_FLAG_ACK, 5001, 1002, 0, TCPINFO_FIN_WAIT_2);
	fake_advance_ms(60000);
	assert_int_equal(unit_state(engine, id), TCPINFO_FIN_WAIT_2);
	/* A full close bounds the wait from now on. */
	unit_close(engine, id, ENGINE_CLOSE_GRACEFUL, NULL);
	fake_advance_ms(19999);
	assert_int_equal(unit_state(engine, id), TCPINFO_FIN_WAIT_2);
	fake_advance_ms(1);
	assert_int_equal(unit_state(engine, id), TCPINFO_CLOSED);
	unit_end(engine);
}

static void
leaving_time_wait_early_cancels_its_deadline(void **unused)
{
	struct engine *engine = unit_start();
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);

	(void)unused;
	to_time_wait(engine, id, tcp);
	fake_state(tcp, TCPINFO_CLOSED, unit_cause(TCPINFO_CAUSE_RX, TCPINFO_FLAG_RST));
	fake_advance_ms(2 * UNIT_MSL_MS);
	assert_int_equal(unit_last_cause(engine, id).kind, TCPINFO_CAUSE_RX);
	unit_end(engine);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(time_wait_lasts_two_msl),
		cmocka_unit_test(time_wait_deadlines_come_in_order),
		cmocka_unit_test(fin_wait_2_after_a_close_times_out),
		cmocka_unit_test(fin_wait_2_after_a_shutdown_waits_until_a_close),
		cmocka_unit_test(leaving_time_wait_early_cancels_its_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
