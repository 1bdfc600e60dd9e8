#include <errno.h>

#include "unit_helpers.h"

static void
assert_history(struct engine *engine, uint64_t id, const enum tcpinfo_state *states, size_t n)
{
	struct engine_conn_view view;

	assert_int_equal(engine_get(engine, id, &view), 0);
	assert_int_equal(view.history_len, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(view.history[i].state, states[i]);
}

static void
active_open_through_time_wait_to_closed(void **unused)
{
	static const enum tcpinfo_state path[] = { TCPINFO_SYN_SENT, TCPINFO_ESTABLISHED,
		TCPINFO_FIN_WAIT_1, TCPINFO_FIN_WAIT_2, TCPINFO_TIME_WAIT, TCPINFO_CLOSED };
	struct engine *engine = unit_start();
	struct engine_stats stats;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);
	bool acted;

	(void)unused;
	assert_int_equal(unit_state(engine, id), TCPINFO_ESTABLISHED);
	assert_int_equal(unit_last_cause(engine, id).flags, TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK);
	assert_int_equal(unit_close(engine, id, ENGINE_CLOSE_GRACEFUL, &acted),
	    TCPINFO_FIN_WAIT_1);
	assert_true(acted);
	assert_int_equal(unit_last_cause(engine, id).kind, TCPINFO_CAUSE_API_CLOSE);
	fake_segment(tcp, false, TCPINFO_FLAG_ACK, 5001, 1002, 0, TCPINFO_FIN_WAIT_2);
	fake_segment(tcp, false, TCPINFO_FLAG_FIN | TCPINFO_FLAG_ACK, 5001, 1002, 0,
	    TCPINFO_TIME_WAIT);
	assert_int_equal(unit_state(engine, id), TCPINFO_TIME_WAIT);
	fake_advance_ms(2 * UNIT_MSL_MS);
	assert_history(engine, id, path, sizeof(path) / sizeof(path[0]));
	assert_int_equal(unit_last_cause(engine, id).kind, TCPINFO_CAUSE_TIMER_2MSL);
	assert_int_equal(engine_live_count(engine), 0);
	engine_stats(engine, &stats);
	assert_int_equal(stats.tcp.active_opens, 1);
	assert_int_equal(stats.tcp.curr_estab, 0);
	assert_int_equal(stats.transitions[TCPINFO_TIME_WAIT][TCPINFO_CLOSED], 1);
	unit_end(engine);
}

static void
passive_open_through_last_ack_to_closed(void **unused)
{
	static const enum tcpinfo_state path[] = { TCPINFO_SYN_RCVD, TCPINFO_ESTABLISHED,
		TCPINFO_CLOSE_WAIT, TCPINFO_LAST_ACK, TCPINFO_CLOSED };
	struct engine *engine = unit_start();
	struct engine_listener_view listener;
	struct engine_conn_view view;
	struct engine_stats stats;
	struct stack_tcp *tcp;

	(void)unused;
	assert_int_equal(engine_listen(engine, 9000, 8, &listener), 0);
	assert_int_equal(engine_listen(engine, 9000, 8, &listener), ENGINE_PORT_IN_USE);
	tcp = fake_passive_open(fake_listener(9000), UNIT_REMOTE_IP, 40000);
	assert_non_null(tcp);
	fake_accept(fake_listener(9000), tcp);
	assert_int_equal(engine_listener_get(engine, listener.id, &listener), 0);
	assert_int_equal(listener.accepted, 1);
	assert_int_equal(engine_get(engine, 1, &view), 0);
	assert_int_equal(view.origin, ENGINE_ORIGIN_PASSIVE);
	assert_int_equal(view.listener_id, listener.id);
	assert_int_equal(view.local.port, 9000);
	assert_int_equal(view.remote.port, 40000);
	fake_segment(tcp, false, TCPINFO_FLAG_FIN | TCPINFO_FLAG_ACK, 7000, 1, 0, TCPINFO_CLOSE_WAIT);
	assert_int_equal(unit_close(engine, 1, ENGINE_CLOSE_GRACEFUL, NULL), TCPINFO_LAST_ACK);
	fake_segment(tcp, false, TCPINFO_FLAG_ACK, 7001, 2, 0, TCPINFO_CLOSED);
	assert_history(engine, 1, path, sizeof(path) / sizeof(path[0]));
	engine_stats(engine, &stats);
	assert_int_equal(stats.tcp.passive_opens, 1);
	assert_int_equal(stats.tcp.curr_estab, 0);
	unit_end(engine);
}

static void
abort_sends_rst_once(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_conn_view view;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);
	bool acted;

	(void)unused;
	assert_int_equal(unit_close(engine, id, ENGINE_CLOSE_ABORT, &acted), TCPINFO_CLOSED);
	assert_true(acted);
	assert_int_equal(unit_last_cause(engine, id).kind, TCPINFO_CAUSE_API_ABORT);
	unit_close(engine, id, ENGINE_CLOSE_ABORT, &acted);
	assert_false(acted);
	assert_int_equal(engine_close(engine, 99, ENGINE_CLOSE_ABORT, &view, &acted), ENGINE_NOT_FOUND);
	unit_end(engine);
}

static void
close_in_syn_sent_drops_the_connection(void **unused)
{
	struct engine *engine = unit_start();
	struct stack_tcp *tcp;
	uint64_t id = unit_open(engine, &tcp);
	bool acted;

	(void)unused;
	assert_int_equal(unit_close(engine, id, ENGINE_CLOSE_GRACEFUL, &acted), TCPINFO_CLOSED);
	assert_true(acted);
	unit_close(engine, id, ENGINE_CLOSE_GRACEFUL, &acted);
	assert_false(acted);
	unit_end(engine);
}

static void
shutdown_write_then_peer_fin(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_conn_view view;
	struct stack_tcp *tcp;
	uint64_t syn_sent = unit_open(engine, &tcp);
	uint64_t id;

	(void)unused;
	assert_int_equal(engine_shutdown(engine, syn_sent, ENGINE_SHUT_WRITE, &view), ENGINE_WRONG_STATE);
	id = unit_open_established(engine, &tcp);
	assert_int_equal(engine_shutdown(engine, id, ENGINE_SHUT_WRITE, &view), 0);
	assert_int_equal(view.state, TCPINFO_FIN_WAIT_1);
	assert_int_equal(unit_last_cause(engine, id).kind, TCPINFO_CAUSE_API_SHUTDOWN);
	assert_int_equal(engine_shutdown(engine, id, ENGINE_SHUT_WRITE, &view), ENGINE_WRONG_STATE);
	assert_int_equal(engine_shutdown(engine, id, ENGINE_SHUT_READ, &view), 0);
	assert_int_equal(engine_shutdown(engine, id, ENGINE_SHUT_READ, &view), ENGINE_WRONG_STATE);
	fake_segment(tcp, false, TCPINFO_FLAG_ACK, 5001, 1002, 0, TCPINFO_FIN_WAIT_2);
	fake_segment(tcp, false, TCPINFO_FLAG_FIN | TCPINFO_FLAG_ACK, 5001, 1002, 0,
	    TCPINFO_TIME_WAIT);
	assert_int_equal(unit_state(engine, id), TCPINFO_TIME_WAIT);
	unit_end(engine);
}

static void
expire_ends_time_wait_only(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_conn_view view;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);

	(void)unused;
	assert_int_equal(engine_expire(engine, id, &view), ENGINE_WRONG_STATE);
	assert_int_equal(engine_expire(engine, 42, &view), ENGINE_NOT_FOUND);
	fake_state(tcp, TCPINFO_TIME_WAIT, unit_cause(TCPINFO_CAUSE_RX, TCPINFO_FLAG_FIN));
	assert_int_equal(engine_expire(engine, id, &view), 0);
	assert_int_equal(view.state, TCPINFO_CLOSED);
	assert_int_equal(unit_last_cause(engine, id).kind, TCPINFO_CAUSE_API_EXPIRE);
	/* The 2MSL timer, still armed, finds nothing left to end. */
	fake_advance_ms(2 * UNIT_MSL_MS);
	assert_int_equal(unit_last_cause(engine, id).kind, TCPINFO_CAUSE_API_EXPIRE);
	unit_end(engine);
}

static void
failed_connect_leaves_no_record(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_open_params params = { .remote = { .ip = UNIT_REMOTE_IP, .port = 7000 } };
	struct engine_conn_view *list;
	struct engine_conn_view view;
	struct engine_page page = { .limit = ENGINE_PAGE_MAX };
	size_t count;
	bool more;

	(void)unused;
	fake_fail_next_connect(-EADDRINUSE);
	assert_int_equal(engine_open(engine, &params, &view), ENGINE_PORT_IN_USE);
	assert_int_equal(engine_list(engine, NULL, &page, &list, &count, &more), 0);
	assert_int_equal(count, 0);
	assert_null(list);
	unit_end(engine);
}

static void
stop_aborts_every_live_connection(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_open_params params = { .remote = { .ip = UNIT_REMOTE_IP, .port = 7000 } };
	struct engine_conn_view view;
	struct stack_tcp *tcp;
	uint64_t a = unit_open_established(engine, &tcp);
	uint64_t b = unit_open(engine, &tcp);

	(void)unused;
	engine_stop(engine);
	assert_int_equal(unit_state(engine, a), TCPINFO_CLOSED);
	assert_int_equal(unit_last_cause(engine, b).kind, TCPINFO_CAUSE_DAEMON_STOP);
	assert_int_equal(engine_open(engine, &params, &view), ENGINE_STOPPING);
	assert_false(engine_healthy(engine));
	engine_free(engine);
	fake_stack_reset();
}

static void
engines_start_and_stop_repeatedly(void **unused)
{
	(void)unused;
	for (int i = 0; i < 3; i++) {
		struct engine *engine = unit_start();
		struct stack_tcp *tcp;

		assert_true(engine_healthy(engine));
		assert_int_equal(unit_open_established(engine, &tcp), 1);
		unit_end(engine);
	}
}

static void
timeline_gives_inbound_segments_their_state_after(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_timeline timeline;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);

	(void)unused;
	assert_int_equal(engine_timeline(engine, id, &timeline), 0);
	/* SYN_SENT, the SYN, the SYN+ACK, ESTABLISHED. */
	assert_int_equal(timeline.count, 4);
	assert_int_equal(timeline.events[1].step, TCPINFO_STEP_HANDSHAKE_1);
	assert_int_equal(timeline.events[2].step, TCPINFO_STEP_HANDSHAKE_2);
	assert_int_equal(timeline.events[2].state_after, TCPINFO_ESTABLISHED);
	assert_int_equal(timeline.events[3].kind, ENGINE_EVENT_STATE);
	engine_timeline_free(&timeline);
	engine_timeline_free(NULL);
	unit_end(engine);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(active_open_through_time_wait_to_closed),
		cmocka_unit_test(passive_open_through_last_ack_to_closed),
		cmocka_unit_test(abort_sends_rst_once),
		cmocka_unit_test(close_in_syn_sent_drops_the_connection),
		cmocka_unit_test(shutdown_write_then_peer_fin),
		cmocka_unit_test(expire_ends_time_wait_only),
		cmocka_unit_test(failed_connect_leaves_no_record),
		cmocka_unit_test(stop_aborts_every_live_connection),
		cmocka_unit_test(engines_start_and_stop_repeatedly),
		cmocka_unit_test(timeline_gives_inbound_segments_their_state_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
