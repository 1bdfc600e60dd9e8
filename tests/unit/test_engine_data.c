#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit_helpers.h"

static void
send_waits_for_room_in_the_stack(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_conn_view view;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);

	(void)unused;
	tcp->send_space = 1000;
	assert_int_equal(engine_send(engine, id, NULL, 2500, NULL), 0);
	assert_int_equal(tcp->written_len, 1000);
	assert_int_equal(engine_get(engine, id, &view), 0);
	assert_int_equal(view.send_queued, 1500);
	fake_sendable(tcp, 1000);
	assert_int_equal(tcp->written_len, 2000);
	fake_sendable(tcp, 4096);
	assert_int_equal(tcp->written_len, 2500);
	assert_int_equal(engine_get(engine, id, &view), 0);
	assert_int_equal(view.send_queued, 0);
	/* The pattern counts from the first byte of the send, across the pauses. */
	for (size_t i = 0; i < tcp->written_len; i++)
		assert_int_equal(tcp->written[i], i % 251);
	assert_int_equal(tcp->flushes, 3);
	unit_end(engine);
}

static void
data_queued_before_the_handshake_goes_after_it(void **unused)
{
	struct engine *engine = unit_start();
	struct stack_tcp *tcp;
	uint64_t id = unit_open(engine, &tcp);

	(void)unused;
	assert_int_equal(engine_send(engine, id, "hello", 5, NULL), 0);
	assert_int_equal(tcp->written_len, 0);
	unit_establish(tcp);
	assert_int_equal(tcp->written_len, 5);
	assert_memory_equal(tcp->written, "hello", 5);
	unit_end(engine);
}

static void
send_refuses_what_cannot_be_sent_or_queued(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_conn_view view;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);

	(void)unused;
	tcp->send_space = 0;
	assert_int_equal(engine_send(engine, id, NULL, ENGINE_SEND_QUEUE_DEFAULT, NULL), 0);
	assert_int_equal(engine_send(engine, id, NULL, 1, NULL), ENGINE_QUEUE_FULL);
	assert_int_equal(engine_send(engine, 99, NULL, 1, NULL), ENGINE_NOT_FOUND);
	assert_int_equal(engine_shutdown(engine, id, ENGINE_SHUT_WRITE, &view), 0);
	/* The FIN waits behind the queue, so the state is still ESTABLISHED. */
	assert_int_equal(engine_send(engine, id, NULL, 1, &view), ENGINE_WRONG_STATE);
	assert_int_equal(view.state, TCPINFO_ESTABLISHED);
	unit_end(engine);
}

static void
fin_follows_the_last_queued_byte(void **unused)
{
	struct engine *engine = unit_start();
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);
	bool acted;

	(void)unused;
	tcp->send_space = 10;
	assert_int_equal(engine_send(engine, id, NULL, 30, NULL), 0);
	assert_int_equal(unit_close(engine, id, ENGINE_CLOSE_GRACEFUL, &acted), TCPINFO_ESTABLISHED);
	assert_true(acted);
	fake_sendable(tcp, 10);
	assert_int_equal(unit_state(engine, id), TCPINFO_ESTABLISHED);
	fake_sendable(tcp, 10);
	assert_int_equal(tcp->written_len, 30);
	assert_int_equal(unit_state(engine, id), TCPINFO_FIN_WAIT_1);
	assert_int_equal(unit_last_cause(engine, id).kind, TCPINFO_CAUSE_API_CLOSE);
	unit_end(engine);
}

static void
receive_ring_holds_the_window_closed_until_read(void **unused)
{
	struct engine *engine = unit_start();	/* recv_buffer 64 */
	uint8_t sent[100], *data;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);
	bool truncated;
	size_t len;

	(void)unused;
	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = (uint8_t)i;
	assert_int_equal(fake_receive(tcp, sent, 40), 40);
	assert_int_equal(fake_receive(tcp, sent + 40, 60), 24);
	assert_int_equal(tcp->held_len, 36);
	assert_int_equal(engine_read(engine, id, &data, &len, &truncated), 0);
	assert_int_equal(len, 64);
	assert_memory_equal(data, sent, 64);
	assert_false(truncated);
	free(data);
	/* The read made room: what was held came in, wrapping around the ring. */
	assert_int_equal(tcp->held_len, 0);
	assert_int_equal(engine_read(engine, id, &data, &len, &truncated), 0);
	assert_int_equal(len, 36);
	assert_memory_equal(data, sent + 64, 36);
	free(data);
	assert_int_equal(engine_read(engine, id, &data, &len, &truncated), 0);
	assert_int_equal(len, 0);
	assert_null(data);
	assert_int_equal(engine_read(engine, 99, &data, &len, &truncated), ENGINE_NOT_FOUND);
	unit_end(engine);
}

static void
shut_read_side_discards_and_says_so(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_conn_view view;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);
	bool truncated;
	uint8_t *data;
	size_t len;

	(void)unused;
	assert_int_equal(engine_shutdown(engine, id, ENGINE_SHUT_READ, &view), 0);
	assert_int_equal(fake_receive(tcp, "dropped", 7), 7);
	assert_int_equal(engine_read(engine, id, &data, &len, &truncated), 0);
	assert_int_equal(len, 0);
	assert_true(truncated);
	assert_int_equal(engine_read(engine, id, &data, &len, &truncated), 0);
	assert_false(truncated);
	unit_end(engine);
}

static void
counters_see_retransmissions(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_conn_view view;
	struct engine_stats stats;
	struct stack_tcp *tcp;
	uint64_t id = unit_open_established(engine, &tcp);

	(void)unused;
	fake_segment(tcp, true, TCPINFO_FLAG_ACK, 1001, 5001, 100, tcp->state);
	fake_segment(tcp, true, TCPINFO_FLAG_ACK, 1001, 5001, 100, tcp->state);
	assert_int_equal(engine_get(engine, id, &view), 0);
	assert_int_equal(view.counters.segs_out, 3);
	assert_int_equal(view.counters.bytes_out, 200);
	assert_int_equal(view.counters.retransmits, 1);
	engine_stats(engine, &stats);
	assert_int_equal(stats.tcp.retrans_segs, 1);
	unit_end(engine);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(send_waits_for_room_in_the_stack),
		cmocka_unit_test(data_queued_before_the_handshake_goes_after_it),
		cmocka_unit_test(send_refuses_what_cannot_be_sent_or_queued),
		cmocka_unit_test(fin_follows_the_last_queued_byte),
		cmocka_unit_test(receive_ring_holds_the_window_closed_until_read),
		cmocka_unit_test(shut_read_side_discards_and_says_so),
		cmocka_unit_test(counters_see_retransmissions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
