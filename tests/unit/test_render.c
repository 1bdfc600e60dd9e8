/*
 * test_render: the JSON objects of connections, listeners, batches, the
 * interface, the statistics and received data. test_render_problem checks
 * the problems; test_render_timeline the timelines and stream events.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "problem.h"
#include "render.h"
#include "render_fixture.h"

static void
test_connection_object(void **state)
{
	struct engine_conn_view conn;

	(void)state;
	fill_connection(&conn);
	assert_json(render_connection(&conn), CONNECTION_42_JSON);
}

static void
test_connection_passive_and_causes(void **state)
{
	struct engine_conn_view conn;

	(void)state;
	memset(&conn, 0, sizeof(conn));
	conn.id = 7;
	conn.origin = ENGINE_ORIGIN_PASSIVE;
	conn.listener_id = 3;
	conn.local.ip = inet_addr("10.9.0.2");
	conn.local.port = 80;
	conn.remote.ip = inet_addr("10.9.0.1");
	conn.remote.port = 65535;
	conn.state = TCPINFO_CLOSED;
	conn.history_len = 3;
	conn.history[0].state = TCPINFO_SYN_RCVD;
	conn.history[0].cause.kind = TCPINFO_CAUSE_RX;
	conn.history[0].cause.flags = TCPINFO_FLAG_SYN;
	conn.history[1].state = TCPINFO_TIME_WAIT;
	conn.history[1].at_us = 10;
	conn.history[1].cause.kind = TCPINFO_CAUSE_RX;
	conn.history[1].cause.flags = TCPINFO_FLAG_FIN | TCPINFO_FLAG_ACK;
	conn.history[2].state = TCPINFO_CLOSED;
	conn.history[2].at_us = 20;
	conn.history[2].cause.kind = TCPINFO_CAUSE_TIMER_2MSL;
	assert_json(render_connection(&conn),
	    "{\"id\":7,\"origin\":\"passive\",\"listener_id\":3,"
	    "\"local\":{\"ip\":\"10.9.0.2\",\"port\":80},"
	    "\"remote\":{\"ip\":\"10.9.0.1\",\"port\":65535},"
	    "\"state\":\"CLOSED\","
	    "\"history\":[{\"state\":\"SYN_RCVD\",\"at_us\":0,\"cause\":\"rx:SYN\"},"
	    "{\"state\":\"TIME_WAIT\",\"at_us\":10,\"cause\":\"rx:FIN,ACK\"},"
	    "{\"state\":\"CLOSED\",\"at_us\":20,\"cause\":\"timer:2msl\"}],"
	    "\"counters\":{\"segs_in\":0,\"segs_out\":0,\"bytes_in\":0,\"bytes_out\":0,"
	    "\"retransmits\":0,\"rst_in\":0,\"rst_in_ignored\":0,\"rst_out\":0},"
	    "\"tcb\":null,\"send_queued\":0,\"recv_buffered\":0,"
	    "\"peer_state\":\"CLOSED\",\"peer_state_source\":\"inferred\",\"peer_history\":[],\"peer_kernel_history\":[]}");
}

#define CONNECTION_42_HEAD_TIME_WAIT \
	"{\"id\":42,\"origin\":\"active\",\"listener_id\":null," \
	"\"local\":{\"ip\":\"10.9.0.2\",\"port\":49999}," \
	"\"remote\":{\"ip\":\"10.9.0.1\",\"port\":7000}," \
	"\"state\":\"TIME_WAIT\",\"history\":[]," \
	"\"counters\":{\"segs_in\":1,\"segs_out\":2,\"bytes_in\":3,\"bytes_out\":4," \
	"\"retransmits\":5,\"rst_in\":6,\"rst_in_ignored\":0,\"rst_out\":7},"

static void
test_connection_time_wait(void **state)
{
	struct engine_conn_view conn;

	(void)state;
	fill_connection(&conn);
	conn.state = TCPINFO_TIME_WAIT;
	conn.history_len = 0;
	conn.time_wait_remaining_ms = 1999;
	assert_json(render_connection(&conn),
	    CONNECTION_42_HEAD_TIME_WAIT "\"time_wait_remaining_ms\":1999,"
	    "\"tcb\":" TCB_42_JSON ",\"send_queued\":8,\"recv_buffered\":9,"
	    "\"peer_state\":\"CLOSED\",\"peer_state_source\":\"inferred\",\"peer_history\":[],\"peer_kernel_history\":[]}");
	/* Zero is still shown: TIME_WAIT ends at the next timer tick. */
	conn.time_wait_remaining_ms = 0;
	conn.has_tcb = false;
	assert_json(render_connection(&conn),
	    CONNECTION_42_HEAD_TIME_WAIT "\"time_wait_remaining_ms\":0,"
	    "\"tcb\":null,\"send_queued\":8,\"recv_buffered\":9,"
	    "\"peer_state\":\"CLOSED\",\"peer_state_source\":\"inferred\",\"peer_history\":[],\"peer_kernel_history\":[]}");
}

static void
test_connection_large_tcb_and_queues(void **state)
{
	struct engine_conn_view conn;
	json_t *obj, *tcb;

	(void)state;
	fill_connection(&conn);
	conn.tcb.iss = UINT32_MAX;
	conn.tcb.snd_wnd = UINT32_MAX;
	conn.listener_id = 5;
	conn.send_queued = UINT64_MAX;
	conn.recv_buffered = (uint64_t)INT64_MAX + 1;
	obj = render_connection(&conn);
	assert_non_null(obj);
	/* An active connection has no listener, whatever the field holds. */
	assert_true(json_is_null(json_object_get(obj, "listener_id")));
	tcb = json_object_get(obj, "tcb");
	assert_true(json_integer_value(json_object_get(tcb, "iss")) == UINT32_MAX);
	assert_true(json_integer_value(json_object_get(tcb, "snd_wnd")) == UINT32_MAX);
	assert_true(json_integer_value(json_object_get(obj, "send_queued")) == INT64_MAX);
	assert_true(json_integer_value(json_object_get(obj, "recv_buffered")) == INT64_MAX);
	json_decref(obj);
}

static void
test_connection_empty_history(void **state)
{
	struct engine_conn_view conn;
	json_t *obj;

	(void)state;
	fill_connection(&conn);
	conn.history_len = 0;
	obj = render_connection(&conn);
	assert_non_null(obj);
	assert_int_equal(json_array_size(json_object_get(obj, "history")), 0);
	json_decref(obj);
}

static void
test_connection_history_is_bounded(void **state)
{
	struct engine_conn_view conn;
	json_t *obj;

	(void)state;
	fill_connection(&conn);
	conn.history_len = ENGINE_HISTORY_MAX + 5;
	obj = render_connection(&conn);
	assert_non_null(obj);
	assert_int_equal(json_array_size(json_object_get(obj, "history")), ENGINE_HISTORY_MAX);
	json_decref(obj);
}

static void
test_connection_clamps_large_values(void **state)
{
	struct engine_conn_view conn;
	json_t *obj;

	(void)state;
	fill_connection(&conn);
	conn.id = UINT64_MAX;
	conn.counters.bytes_in = (uint64_t)INT64_MAX + 1;
	conn.counters.bytes_out = (uint64_t)INT64_MAX;
	obj = render_connection(&conn);
	assert_non_null(obj);
	assert_true(json_integer_value(json_object_get(obj, "id")) == INT64_MAX);
	assert_true(json_integer_value(json_object_get(json_object_get(obj, "counters"),
	    "bytes_in")) == INT64_MAX);
	assert_true(json_integer_value(json_object_get(json_object_get(obj, "counters"),
	    "bytes_out")) == INT64_MAX);
	json_decref(obj);
}

static void
test_connection_bad_state_fails(void **state)
{
	struct engine_conn_view conn;

	(void)state;
	fill_connection(&conn);
	conn.state = TCPINFO_STATE_COUNT;
	assert_null(render_connection(&conn));
	fill_connection(&conn);
	conn.history[1].state = TCPINFO_STATE_COUNT;
	assert_null(render_connection(&conn));
}

static void
test_connection_list(void **state)
{
	struct engine_conn_view conns[2];

	(void)state;
	assert_json(render_connection_list(NULL, 0), "{\"connections\":[]}");
	fill_connection(&conns[0]);
	fill_connection(&conns[1]);
	conns[1].id = 43;
	conns[1].history_len = 0;
	conns[1].state = TCPINFO_SYN_SENT;
	memset(&conns[1].counters, 0, sizeof(conns[1].counters));
	conns[1].has_tcb = false;
	conns[1].send_queued = 0;
	conns[1].recv_buffered = 0;
	assert_json(render_connection_list(conns, 2),
	    "{\"connections\":[" CONNECTION_42_JSON ","
	    "{\"id\":43,\"origin\":\"active\",\"listener_id\":null,"
	    "\"local\":{\"ip\":\"10.9.0.2\",\"port\":49999},"
	    "\"remote\":{\"ip\":\"10.9.0.1\",\"port\":7000},"
	    "\"state\":\"SYN_SENT\",\"history\":[],"
	    "\"counters\":{\"segs_in\":0,\"segs_out\":0,\"bytes_in\":0,\"bytes_out\":0,"
	    "\"retransmits\":0,\"rst_in\":0,\"rst_in_ignored\":0,\"rst_out\":0},"
	    "\"tcb\":null,\"send_queued\":0,\"recv_buffered\":0,"
	    "\"peer_state\":\"CLOSED\",\"peer_state_source\":\"inferred\",\"peer_history\":[],\"peer_kernel_history\":[]}]}");
}

static void
test_interface_object(void **state)
{
	struct engine_iface_view iface;
	static const uint8_t mac[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc };

	(void)state;
	memset(&iface, 0, sizeof(iface));
	strcpy(iface.name, "lwipd0");
	memcpy(iface.mac, mac, sizeof(mac));
	iface.address = inet_addr("10.9.0.2");
	iface.prefix = 24;
	iface.mtu = 1500;
	iface.up = true;
	iface.counters.rx_frames = 10;
	iface.counters.tx_frames = 11;
	iface.counters.rx_bytes = 1200;
	iface.counters.tx_bytes = 1300;
	iface.counters.rx_dropped = 2;
	iface.counters.rx_fragments = 3;
	iface.counters.rx_malformed = 4;
	iface.counters.rx_other = 5;
	assert_json(render_interface(&iface),
	    "{\"name\":\"lwipd0\",\"mac\":\"02:00:00:aa:bb:cc\",\"address\":\"10.9.0.2\","
	    "\"prefix\":24,\"mtu\":1500,\"up\":true,"
	    "\"counters\":{\"rx_frames\":10,\"tx_frames\":11,\"rx_bytes\":1200,"
	    "\"tx_bytes\":1300,\"rx_dropped\":2,\"rx_fragments\":3,\"rx_malformed\":4,\"rx_other\":5}}");
}

static void
test_interface_edges(void **state)
{
	struct engine_iface_view iface;
	static const uint8_t mac[6] = { 0xfe, 0xdc, 0xba, 0x09, 0x87, 0x65 };

	(void)state;
	memset(&iface, 0, sizeof(iface));
	/* A name that fills its buffer has no NUL. */
	memset(iface.name, 'n', sizeof(iface.name));
	memcpy(iface.mac, mac, sizeof(mac));
	iface.address = inet_addr("192.168.255.1");
	iface.prefix = 32;
	iface.mtu = 65535;
	iface.up = false;
	assert_json(render_interface(&iface),
	    "{\"name\":\"nnnnnnnnnnnnnnnn\",\"mac\":\"fe:dc:ba:09:87:65\","
	    "\"address\":\"192.168.255.1\",\"prefix\":32,\"mtu\":65535,\"up\":false,"
	    "\"counters\":{\"rx_frames\":0,\"tx_frames\":0,\"rx_bytes\":0,"
	    "\"tx_bytes\":0,\"rx_dropped\":0,\"rx_fragments\":0,\"rx_malformed\":0,\"rx_other\":0}}");
}

static void
test_listener_object(void **state)
{
	struct engine_listener_view listener = {
		.id = 3, .port = 9000, .backlog = 16, .state = TCPINFO_LISTEN, .accepted = 2,
	};

	(void)state;
	assert_json(render_listener(&listener),
	    "{\"id\":3,\"port\":9000,\"backlog\":16,\"state\":\"LISTEN\",\"accepted\":2}");
	listener.state = TCPINFO_CLOSED;
	listener.port = 65535;
	listener.backlog = 1024;
	listener.accepted = UINT64_MAX;
	assert_json(render_listener(&listener),
	    "{\"id\":3,\"port\":65535,\"backlog\":1024,\"state\":\"CLOSED\","
	    "\"accepted\":9223372036854775807}");
	listener.state = TCPINFO_STATE_COUNT;
	assert_null(render_listener(&listener));
}

static void
test_batch_object(void **state)
{
	struct engine_batch_view batch = {
		.id = 2, .state = ENGINE_BATCH_DONE,
		.params = { .remote = { .ip = inet_addr("10.9.0.1"), .port = 7000 }, .count = 4,
			.in_flight = 2, .close = ENGINE_BATCH_CLOSE_ABORT, .hold_ms = 10 },
		.started = 4, .established = 3, .failed = 1, .closed = 3, .elapsed_us = 500000,
		.latency = { .count = 3, .min_us = 100, .p50_us = 200, .p90_us = 300, .p99_us = 300,
			.max_us = 310 },
	};

	(void)state;
	batch.failures[ENGINE_BATCH_FAIL_REFUSED] = 1;
	assert_json(render_batch(&batch),
	    "{\"id\":2,\"state\":\"done\",\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,"
	    "\"count\":4,\"in_flight\":2,\"close\":\"abort\",\"hold_ms\":10,\"timelines\":false,"
	    "\"started\":4,\"established\":3,\"failed\":1,\"failures\":{\"refused\":1},"
	    "\"closed\":3,\"elapsed_us\":500000,\"rate\":6.0,\"latency_us\":{\"min\":100,"
	    "\"p50\":200,\"p90\":300,\"p99\":300,\"max\":310}}");
	batch.state = 3;
	assert_null(render_batch(&batch));
	assert_json(render_batch_list(NULL, 0), "{\"batches\":[]}");
}

static void
test_listener_list(void **state)
{
	struct engine_listener_view listeners[2] = {
		{ .id = 1, .port = 80, .backlog = 1, .state = TCPINFO_LISTEN, .accepted = 0 },
		{ .id = 4, .port = 9000, .backlog = 16, .state = TCPINFO_LISTEN, .accepted = 7 },
	};

	(void)state;
	assert_json(render_listener_list(NULL, 0), "{\"listeners\":[]}");
	assert_json(render_listener_list(listeners, 2),
	    "{\"listeners\":[{\"id\":1,\"port\":80,\"backlog\":1,\"state\":\"LISTEN\",\"accepted\":0},"
	    "{\"id\":4,\"port\":9000,\"backlog\":16,\"state\":\"LISTEN\",\"accepted\":7}]}");
}

static void
test_stats_object(void **state)
{
	static struct engine_stats stats;

	(void)state;
	memset(&stats, 0, sizeof(stats));
	stats.tcp = (struct engine_tcp_stats){
		.active_opens = 1, .passive_opens = 2, .attempt_fails = 3, .estab_resets = 4,
		.curr_estab = 5, .in_segs = 6, .out_segs = 7, .retrans_segs = 8, .in_errs = 9,
		.out_rsts = 10,
	};
	stats.iface = (struct engine_iface_counters){
		.rx_frames = 11, .tx_frames = 12, .rx_bytes = 13, .tx_bytes = 14, .rx_dropped = 15,
		.rx_fragments = 16, .rx_malformed = 17, .rx_other = 18,
	};
	/* Set out of order: keys come out in from-then-to enum order. */
	stats.transitions[TCPINFO_TIME_WAIT][TCPINFO_CLOSED] = 2;
	stats.transitions[TCPINFO_SYN_SENT][TCPINFO_ESTABLISHED] = 3;
	stats.transitions[TCPINFO_CLOSED][TCPINFO_SYN_SENT] = 4;
	stats.transitions[TCPINFO_LISTEN][TCPINFO_SYN_RCVD] = 1;
	stats.transitions[TCPINFO_SYN_SENT][TCPINFO_CLOSED] = 1;
	stats.transitions[TCPINFO_CLOSE_WAIT][TCPINFO_LAST_ACK] = (uint64_t)INT64_MAX + 1;
	stats.memory = (struct engine_memory_stats){
		.limit = 1000, .send_queued = 10, .recv_buffers = 20, .timelines = 30,
		.sends_refused = 1, .recv_deferred = 2, .timeline_refused = 3,
	};
	assert_json(render_stats(&stats),
	    "{\"tcp\":{\"active_opens\":1,\"passive_opens\":2,\"attempt_fails\":3,"
	    "\"estab_resets\":4,\"curr_estab\":5,\"in_segs\":6,\"out_segs\":7,"
	    "\"retrans_segs\":8,\"in_errs\":9,\"in_rfc_drops\":0,\"out_rsts\":10},"
	    "\"transitions\":{\"CLOSED->SYN_SENT\":4,\"LISTEN->SYN_RCVD\":1,"
	    "\"SYN_SENT->CLOSED\":1,\"SYN_SENT->ESTABLISHED\":3,"
	    "\"CLOSE_WAIT->LAST_ACK\":9223372036854775807,\"TIME_WAIT->CLOSED\":2},"
	    "\"interface\":{\"rx_frames\":11,\"tx_frames\":12,\"rx_bytes\":13,"
	    "\"tx_bytes\":14,\"rx_dropped\":15,\"rx_fragments\":16,\"rx_malformed\":17,\"rx_other\":18},"
	    "\"faults\":{\"rules\":0,\"applied\":{\"drop\":0,\"delay\":0,\"duplicate\":0,\"reorder\":0,\"corrupt\":0},\"held\":0,\"held_bytes\":0,\"hold_overflows\":0},"
	    "\"capture\":{\"readers\":0,\"readers_dropped\":0},"
	    "\"memory\":{\"limit\":1000,\"used\":60,\"send_queued\":10,\"recv_buffers\":20,"
	    "\"timelines\":30,\"sends_refused\":1,\"recv_deferred\":2,\"timeline_refused\":3}}");
}

static void
test_stats_no_transitions(void **state)
{
	static struct engine_stats stats;

	(void)state;
	memset(&stats, 0, sizeof(stats));
	assert_json(render_stats(&stats),
	    "{\"tcp\":{\"active_opens\":0,\"passive_opens\":0,\"attempt_fails\":0,"
	    "\"estab_resets\":0,\"curr_estab\":0,\"in_segs\":0,\"out_segs\":0,"
	    "\"retrans_segs\":0,\"in_errs\":0,\"in_rfc_drops\":0,\"out_rsts\":0},"
	    "\"transitions\":{},"
	    "\"interface\":{\"rx_frames\":0,\"tx_frames\":0,\"rx_bytes\":0,"
	    "\"tx_bytes\":0,\"rx_dropped\":0,\"rx_fragments\":0,\"rx_malformed\":0,\"rx_other\":0},"
	    "\"faults\":{\"rules\":0,\"applied\":{\"drop\":0,\"delay\":0,\"duplicate\":0,\"reorder\":0,\"corrupt\":0},\"held\":0,\"held_bytes\":0,\"hold_overflows\":0},"
	    "\"capture\":{\"readers\":0,\"readers_dropped\":0},"
	    "\"memory\":{\"limit\":0,\"used\":0,\"send_queued\":0,\"recv_buffers\":0,"
	    "\"timelines\":0,\"sends_refused\":0,\"recv_deferred\":0,\"timeline_refused\":0}}");
}

static void
test_data_object(void **state)
{
	static const uint8_t bytes[] = { 'h', 'i', 0x00, 0xff, 0x80 };

	(void)state;
	assert_json(render_data(NULL, 0, false),
	    "{\"data_base64\":\"\",\"bytes\":0,\"truncated\":false}");
	assert_json(render_data(bytes, sizeof(bytes), true),
	    "{\"data_base64\":\"aGkA/4A=\",\"bytes\":5,\"truncated\":true}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connection_object),
		cmocka_unit_test(test_connection_passive_and_causes),
		cmocka_unit_test(test_connection_time_wait),
		cmocka_unit_test(test_connection_large_tcb_and_queues),
		cmocka_unit_test(test_connection_empty_history),
		cmocka_unit_test(test_connection_history_is_bounded),
		cmocka_unit_test(test_connection_clamps_large_values),
		cmocka_unit_test(test_connection_bad_state_fails),
		cmocka_unit_test(test_connection_list),
		cmocka_unit_test(test_interface_object),
		cmocka_unit_test(test_interface_edges),
		cmocka_unit_test(test_listener_object),
		cmocka_unit_test(test_listener_list),
		cmocka_unit_test(test_batch_object),
		cmocka_unit_test(test_stats_object),
		cmocka_unit_test(test_stats_no_transitions),
		cmocka_unit_test(test_data_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
