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

/* Checks the compact, ordered dump of value and releases it. */
static void
assert_json(json_t *value, const char *expected)
{
	char *text;

	assert_non_null(value);
	text = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(text);
	assert_string_equal(text, expected);
	free(text);
	json_decref(value);
}

static void
fill_connection(struct engine_conn_view *conn)
{
	memset(conn, 0, sizeof(*conn));
	conn->id = 42;
	conn->origin = ENGINE_ORIGIN_ACTIVE;
	conn->local.ip = inet_addr("10.9.0.2");
	conn->local.port = 49999;
	conn->remote.ip = inet_addr("10.9.0.1");
	conn->remote.port = 7000;
	conn->state = TCPINFO_ESTABLISHED;
	conn->history_len = 2;
	conn->history[0].state = TCPINFO_SYN_SENT;
	conn->history[0].at_us = 123;
	conn->history[0].cause.kind = TCPINFO_CAUSE_API_OPEN;
	conn->history[1].state = TCPINFO_ESTABLISHED;
	conn->history[1].at_us = 456;
	conn->history[1].cause.kind = TCPINFO_CAUSE_RX;
	conn->history[1].cause.flags = TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK;
	conn->counters.segs_in = 1;
	conn->counters.segs_out = 2;
	conn->counters.bytes_in = 3;
	conn->counters.bytes_out = 4;
	conn->counters.retransmits = 5;
	conn->counters.rst_in = 6;
	conn->counters.rst_out = 7;
	conn->has_tcb = true;
	conn->tcb = (struct engine_tcb){
		.iss = 1000, .irs = 2000, .snd_nxt = 1001, .snd_una = 1001, .rcv_nxt = 2001,
		.snd_wnd = 64240, .rcv_wnd = 65535, .mss = 1460, .rto_ms = 1000,
		.cwnd = 2920, .ssthresh = 65535, .nrtx = 0,
	};
	conn->send_queued = 8;
	conn->recv_buffered = 9;
	/* Outside TIME_WAIT this is not rendered, whatever it holds. */
	conn->time_wait_remaining_ms = 77;
}

#define TCB_42_JSON \
	"{\"iss\":1000,\"irs\":2000,\"snd_nxt\":1001,\"snd_una\":1001,\"rcv_nxt\":2001," \
	"\"snd_wnd\":64240,\"rcv_wnd\":65535,\"mss\":1460,\"rto_ms\":1000," \
	"\"cwnd\":2920,\"ssthresh\":65535,\"nrtx\":0}"

#define CONNECTION_42_JSON \
	"{\"id\":42,\"origin\":\"active\",\"listener_id\":null," \
	"\"local\":{\"ip\":\"10.9.0.2\",\"port\":49999}," \
	"\"remote\":{\"ip\":\"10.9.0.1\",\"port\":7000}," \
	"\"state\":\"ESTABLISHED\"," \
	"\"history\":[{\"state\":\"SYN_SENT\",\"at_us\":123,\"cause\":\"api:open\"}," \
	"{\"state\":\"ESTABLISHED\",\"at_us\":456,\"cause\":\"rx:SYN,ACK\"}]," \
	"\"counters\":{\"segs_in\":1,\"segs_out\":2,\"bytes_in\":3,\"bytes_out\":4," \
	"\"retransmits\":5,\"rst_in\":6,\"rst_in_ignored\":0,\"rst_out\":7}," \
	"\"tcb\":" TCB_42_JSON ",\"send_queued\":8,\"recv_buffered\":9," \
	"\"peer_state\":\"CLOSED\",\"peer_state_source\":\"inferred\",\"peer_history\":[],\"peer_kernel_history\":[]}"

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

static void
test_conn_problem(void **state)
{
	struct engine_conn_view conn;
	struct problem err;

	(void)state;
	fill_connection(&conn);
	problem_set(&err, PROBLEM_TIMEOUT, NULL,
	    "connection 42 did not reach TIME_WAIT within 10 ms; it is in ESTABLISHED");
	assert_json(render_conn_problem(&err, &conn),
	    "{\"type\":\"urn:lwipd:problem:timeout\",\"title\":\"Request Timeout\",\"status\":408,"
	    "\"detail\":\"connection 42 did not reach TIME_WAIT within 10 ms; it is in ESTABLISHED\","
	    "\"state\":\"ESTABLISHED\",\"connection\":" CONNECTION_42_JSON "}");
	conn.state = TCPINFO_STATE_COUNT;
	assert_null(render_conn_problem(&err, &conn));
}

static void
test_listener_problem(void **state)
{
	struct engine_listener_view listener = {
		.id = 3, .port = 9000, .backlog = 16, .state = TCPINFO_LISTEN, .accepted = 1,
	};
	struct problem err;

	(void)state;
	problem_set(&err, PROBLEM_TIMEOUT, NULL, "listener 3 accepted 1 of 2 connections within 5 ms");
	assert_json(render_listener_problem(&err, &listener),
	    "{\"type\":\"urn:lwipd:problem:timeout\",\"title\":\"Request Timeout\",\"status\":408,"
	    "\"detail\":\"listener 3 accepted 1 of 2 connections within 5 ms\","
	    "\"accepted\":1,\"listener\":{\"id\":3,\"port\":9000,\"backlog\":16,"
	    "\"state\":\"LISTEN\",\"accepted\":1}}");
}

static void
test_render_text(void **state)
{
	json_t *obj = json_pack("{s:s, s:i, s:[]}", "z", "last?", "a", 1, "m");
	char *text;

	(void)state;
	assert_non_null(obj);
	text = render_text(obj);
	assert_non_null(text);
	assert_string_equal(text, "{\"z\":\"last?\",\"a\":1,\"m\":[]}\n");
	free(text);
	json_decref(obj);
}

static void
test_problem_invalid_field(void **state)
{
	struct problem err;
	char *text;

	(void)state;
	problem_set(&err, PROBLEM_INVALID_FIELD, "remote_port",
	    "remote_port must be from 1 to 65535, not %d", 0);
	assert_int_equal(problem_status(&err), 422);
	text = problem_render(&err);
	assert_non_null(text);
	assert_string_equal(text,
	    "{\"type\":\"urn:lwipd:problem:invalid-field\",\"title\":\"Unprocessable Content\","
	    "\"status\":422,\"detail\":\"remote_port must be from 1 to 65535, not 0\","
	    "\"field\":\"remote_port\"}\n");
	free(text);
}

static void
test_problem_position(void **state)
{
	struct problem err;

	(void)state;
	problem_set(&err, PROBLEM_MALFORMED_JSON, NULL, "invalid JSON at line %d, column %d: %s",
	    3, 5, "end of file expected near 'x'");
	problem_set_position(&err, 3, 5);
	assert_json(problem_to_json(&err),
	    "{\"type\":\"urn:lwipd:problem:malformed-json\",\"title\":\"Bad Request\","
	    "\"status\":400,"
	    "\"detail\":\"invalid JSON at line 3, column 5: end of file expected near 'x'\","
	    "\"line\":3,\"column\":5}");
}

static void
test_problem_without_extensions(void **state)
{
	struct problem err;

	(void)state;
	problem_set(&err, PROBLEM_NOT_FOUND, NULL, "no resource at path '%s'", "/v1/\"x\"");
	assert_json(problem_to_json(&err),
	    "{\"type\":\"urn:lwipd:problem:not-found\",\"title\":\"Not Found\",\"status\":404,"
	    "\"detail\":\"no resource at path '/v1/\\\"x\\\"'\"}");
	/* An empty field name is still a field. */
	problem_set(&err, PROBLEM_INVALID_FIELD, "", "unknown query parameter ''");
	assert_json(problem_to_json(&err),
	    "{\"type\":\"urn:lwipd:problem:invalid-field\",\"title\":\"Unprocessable Content\","
	    "\"status\":422,\"detail\":\"unknown query parameter ''\",\"field\":\"\"}");
}

/* Every limit's problem names the limit, its value and the flag that raises it. */
static void
test_limit_problems_name_their_flag(void **state)
{
	static const struct engine_limits limits = {
		.connections = 16384, .listeners = 3, .event_streams = 64, .capture_readers = 8,
		.send_queue = 65536, .fault_rules = 2,
	};
	static const struct {
		enum engine_result result;
		enum errors_op op;
		unsigned int status;
		const char *limit;
		uint64_t value;
		const char *detail;
	} cases[] = {
		{ ENGINE_LIMIT_REACHED, ERRORS_OP_OPEN, 503, "max-connections", 16384,
		    "connection limit reached: 16384 live connections; raise it with --max-connections" },
		{ ENGINE_LIMIT_REACHED, ERRORS_OP_LISTEN, 503, "max-listeners", 3,
		    "listener limit reached: 3 listeners; raise it with --max-listeners" },
		{ ENGINE_LIMIT_REACHED, ERRORS_OP_SUBSCRIBE, 503, "max-event-streams", 64,
		    "too many event stream clients: 64 event streams; raise it with --max-event-streams" },
		{ ENGINE_LIMIT_REACHED, ERRORS_OP_CAPTURE, 503, "max-capture-readers", 8,
		    "capture reader limit reached: 8 capture readers; raise it with --max-capture-readers" },
		{ ENGINE_QUEUE_FULL, ERRORS_OP_OTHER, 409, "max-send-queue", 65536,
		    "the send queue is full: 65536 bytes may wait; retry later, or raise it with "
		    "--max-send-queue" },
		{ ENGINE_RULES_FULL, ERRORS_OP_FAULT, 503, "max-fault-rules", 2,
		    "fault rule limit reached: 2 fault rules; remove a rule, or raise it with "
		    "--max-fault-rules" },
	};
	struct problem err;
	json_t *obj;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct errors_subject subject = { .op = cases[i].op, .limits = &limits };

		assert_int_equal(errors_engine(cases[i].result, &subject, &err), -ENOBUFS);
		assert_int_equal(problem_status(&err), cases[i].status);
		obj = problem_to_json(&err);
		assert_non_null(obj);
		assert_string_equal(json_string_value(json_object_get(obj, "detail")), cases[i].detail);
		assert_string_equal(json_string_value(json_object_get(obj, "limit")), cases[i].limit);
		assert_int_equal(json_integer_value(json_object_get(obj, "value")), cases[i].value);
		json_decref(obj);
	}
}

static void
test_problem_types(void **state)
{
	static const struct {
		enum problem_type type;
		unsigned int status;
		const char *urn;
		const char *title;
	} cases[] = {
		{ PROBLEM_MALFORMED_JSON, 400, "urn:lwipd:problem:malformed-json", "Bad Request" },
		{ PROBLEM_NOT_FOUND, 404, "urn:lwipd:problem:not-found", "Not Found" },
		{ PROBLEM_METHOD_NOT_ALLOWED, 405, "urn:lwipd:problem:method-not-allowed",
		    "Method Not Allowed" },
		{ PROBLEM_TIMEOUT, 408, "urn:lwipd:problem:timeout", "Request Timeout" },
		{ PROBLEM_CONFLICT, 409, "urn:lwipd:problem:conflict", "Conflict" },
		{ PROBLEM_PAYLOAD_TOO_LARGE, 413, "urn:lwipd:problem:payload-too-large",
		    "Content Too Large" },
		{ PROBLEM_UNSUPPORTED_MEDIA_TYPE, 415, "urn:lwipd:problem:unsupported-media-type",
		    "Unsupported Media Type" },
		{ PROBLEM_INVALID_FIELD, 422, "urn:lwipd:problem:invalid-field",
		    "Unprocessable Content" },
		{ PROBLEM_INTERNAL, 500, "urn:lwipd:problem:internal", "Internal Server Error" },
		{ PROBLEM_UNAVAILABLE, 503, "urn:lwipd:problem:unavailable", "Service Unavailable" },
		{ PROBLEM_BAD_REQUEST, 400, "urn:lwipd:problem:bad-request", "Bad Request" },
		{ PROBLEM_UNAUTHORIZED, 401, "urn:lwipd:problem:unauthorized", "Unauthorized" },
		{ PROBLEM_URI_TOO_LONG, 414, "urn:lwipd:problem:uri-too-long", "URI Too Long" },
		{ PROBLEM_EXPECTATION_FAILED, 417, "urn:lwipd:problem:expectation-failed",
		    "Expectation Failed" },
		{ PROBLEM_HEADERS_TOO_LARGE, 431, "urn:lwipd:problem:headers-too-large",
		    "Request Header Fields Too Large" },
		{ PROBLEM_NOT_IMPLEMENTED, 501, "urn:lwipd:problem:not-implemented", "Not Implemented" },
		{ PROBLEM_VERSION_NOT_SUPPORTED, 505, "urn:lwipd:problem:version-not-supported",
		    "HTTP Version Not Supported" },
	};
	struct problem err;
	json_t *obj;
	size_t i;

	(void)state;
	assert_int_equal(sizeof(cases) / sizeof(cases[0]), PROBLEM_TYPE_COUNT);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		problem_set(&err, cases[i].type, NULL, "detail");
		assert_int_equal(problem_status(&err), cases[i].status);
		obj = problem_to_json(&err);
		assert_non_null(obj);
		assert_string_equal(json_string_value(json_object_get(obj, "type")), cases[i].urn);
		assert_string_equal(json_string_value(json_object_get(obj, "title")), cases[i].title);
		assert_string_equal(problem_title(&err), cases[i].title);
		assert_int_equal(json_integer_value(json_object_get(obj, "status")), cases[i].status);
		json_decref(obj);
	}
}

static void
test_problem_sanitizes_utf8(void **state)
{
	char long_field[200];
	struct problem err;
	json_t *obj;

	(void)state;
	/* A lone continuation byte, an overlong '/', a surrogate, then valid "é" and "€". */
	problem_set(&err, PROBLEM_NOT_FOUND, NULL, "path '%s'",
	    "/a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xc3\xa9\xe2\x82\xac");
	assert_string_equal(err.detail, "path '/a?b??c???d\xc3\xa9\xe2\x82\xac'");
	assert_json(problem_to_json(&err),
	    "{\"type\":\"urn:lwipd:problem:not-found\",\"title\":\"Not Found\",\"status\":404,"
	    "\"detail\":\"path '/a?b??c???d\xc3\xa9\xe2\x82\xac'\"}");

	/* Truncation that cuts a multi-byte character leaves no broken tail. */
	memset(long_field, 'f', sizeof(long_field));
	memcpy(long_field + PROBLEM_FIELD_MAX - 2, "\xc3\xa9", 2);
	long_field[sizeof(long_field) - 1] = '\0';
	problem_set(&err, PROBLEM_INVALID_FIELD, long_field, "unknown field");
	assert_int_equal(strlen(err.field), PROBLEM_FIELD_MAX - 1);
	assert_int_equal(err.field[PROBLEM_FIELD_MAX - 2], '?');
	obj = problem_to_json(&err);
	assert_non_null(obj);
	json_decref(obj);
}

static void
test_problem_detail_truncated(void **state)
{
	char long_text[600];
	struct problem err;

	(void)state;
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	problem_set(&err, PROBLEM_NOT_FOUND, NULL, "%s", long_text);
	assert_int_equal(strlen(err.detail), PROBLEM_DETAIL_MAX - 1);
}

/* A timeline of one state change and two segments, one with relative numbers unknown. */
static void
test_timeline_object(void **state)
{
	struct engine_event events[3];
	struct engine_timeline timeline = { .count = 3, .events = events, .dropped = 5 };
	json_t *obj;
	char *text;

	(void)state;
	fill_connection(&timeline.conn);
	memset(events, 0, sizeof(events));
	events[0].kind = ENGINE_EVENT_STATE;
	events[0].at_us = 10;
	events[0].from = TCPINFO_CLOSED;
	events[0].to = TCPINFO_SYN_SENT;
	events[0].cause.kind = TCPINFO_CAUSE_API_OPEN;
	events[1].kind = ENGINE_EVENT_SEGMENT;
	events[1].at_us = 11;
	events[1].outbound = true;
	events[1].flags = TCPINFO_FLAG_SYN;
	events[1].seq = 4294967295u;
	events[1].ack = 0;
	events[1].has_rel_seq = true;
	events[1].rel_seq = 0;
	events[1].wnd = 65535;
	events[1].state_before = TCPINFO_SYN_SENT;
	events[1].state_after = TCPINFO_SYN_SENT;
	events[1].step = TCPINFO_STEP_HANDSHAKE_1;
	events[2].kind = ENGINE_EVENT_SEGMENT;
	events[2].at_us = 12;
	events[2].seq = 7;
	events[2].ack = 8;
	events[2].has_rel_ack = true;
	events[2].rel_ack = 1;
	events[2].len = 3;
	events[2].state_before = TCPINFO_SYN_SENT;
	events[2].state_after = TCPINFO_CLOSED;
	events[2].step = TCPINFO_STEP_NONE;
	events[2].drop = TCPINFO_DROP_NO_ACK;
	events[2].peer_state_before = TCPINFO_ESTABLISHED;
	events[2].peer_state_after = TCPINFO_ESTABLISHED;
	events[1].peer_state_after = TCPINFO_SYN_RCVD;
	events[1].fault = (struct engine_fault){ .action = FAULT_DELAY, .rule = 3, .hold_ms = 300 };
	obj = render_timeline(&timeline);
	assert_non_null(obj);
	/* The connection object is render_connection's, tested above. */
	assert_true(json_is_object(json_object_get(obj, "connection")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(obj, "connection"),
	    "id")), 42);
	assert_true(json_object_del(obj, "connection") == 0);
	text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(text);
	assert_string_equal(text, "{\"events\":["
	    "{\"kind\":\"state\",\"at_us\":10,\"from\":\"CLOSED\",\"to\":\"SYN_SENT\","
	    "\"cause\":\"api:open\"},"
	    "{\"kind\":\"segment\",\"at_us\":11,\"dir\":\"out\",\"flags\":\"SYN\","
	    "\"seq\":4294967295,\"ack\":0,\"rel_seq\":0,\"rel_ack\":null,\"len\":0,"
	    "\"wnd\":65535,\"state_before\":\"SYN_SENT\",\"state_after\":\"SYN_SENT\","
	    "\"peer_state_before\":\"CLOSED\",\"peer_state_after\":\"SYN_RCVD\","
	    "\"step\":\"handshake-1\",\"fault\":{\"rule\":3,\"action\":\"delay\",\"delay_ms\":300},"
	    "\"dropped\":null},"
	    "{\"kind\":\"segment\",\"at_us\":12,\"dir\":\"in\",\"flags\":\"\","
	    "\"seq\":7,\"ack\":8,\"rel_seq\":null,\"rel_ack\":1,\"len\":3,"
	    "\"wnd\":0,\"state_before\":\"SYN_SENT\",\"state_after\":\"CLOSED\","
	    "\"peer_state_before\":\"ESTABLISHED\",\"peer_state_after\":\"ESTABLISHED\","
	    "\"step\":null,\"fault\":null,\"dropped\":\"rfc9293:no-ack\"}],"
	    "\"dropped\":5,\"refused\":0,\"truncated\":true}");
	free(text);
	/* The key order of the whole object: connection first. */
	json_decref(obj);
	obj = render_timeline(&timeline);
	text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_true(strncmp(text, "{\"connection\":{\"id\":42,",
	    strlen("{\"connection\":{\"id\":42,")) == 0);
	free(text);
	json_decref(obj);

	/* A value with no name fails the whole timeline. */
	events[2].state_after = TCPINFO_STATE_COUNT;
	assert_null(render_timeline(&timeline));
	events[2].state_after = TCPINFO_CLOSED;
	events[0].to = TCPINFO_STATE_COUNT;
	assert_null(render_timeline(&timeline));
	events[0].to = TCPINFO_CLOSED;
	events[0].kind = (enum engine_event_kind)7;
	assert_null(render_timeline(&timeline));
}

static void
test_timeline_empty(void **state)
{
	struct engine_timeline timeline = { .count = 0, .events = NULL };
	json_t *obj;

	(void)state;
	fill_connection(&timeline.conn);
	obj = render_timeline(&timeline);
	assert_non_null(obj);
	assert_int_equal(json_array_size(json_object_get(obj, "events")), 0);
	assert_true(json_is_array(json_object_get(obj, "events")));
	assert_int_equal(json_integer_value(json_object_get(obj, "dropped")), 0);
	json_decref(obj);
}

static void
test_stream_events(void **state)
{
	struct engine_stream_event event = {
		.seq = 9,
		.kind = ENGINE_STREAM_STATE,
		.at_us = 77,
		.id = 3,
		.from = TCPINFO_FIN_WAIT_2,
		.to = TCPINFO_TIME_WAIT,
		.cause = { .kind = TCPINFO_CAUSE_RX, .flags = TCPINFO_FLAG_FIN | TCPINFO_FLAG_ACK },
	};

	(void)state;
	assert_string_equal(render_stream_event_name(event.kind), "state");
	assert_json(render_stream_event(&event), "{\"id\":3,\"from\":\"FIN_WAIT_2\","
	    "\"to\":\"TIME_WAIT\",\"cause\":\"rx:FIN,ACK\",\"at_us\":77}");
	event.kind = ENGINE_STREAM_CONN_REMOVED;
	event.origin = ENGINE_ORIGIN_PASSIVE;
	assert_string_equal(render_stream_event_name(event.kind), "connection");
	assert_json(render_stream_event(&event),
	    "{\"id\":3,\"action\":\"removed\",\"origin\":\"passive\",\"at_us\":77}");
	event.kind = ENGINE_STREAM_LISTENER_CREATED;
	event.port = 80;
	assert_string_equal(render_stream_event_name(event.kind), "listener");
	assert_json(render_stream_event(&event),
	    "{\"id\":3,\"action\":\"created\",\"port\":80,\"at_us\":77}");
	event.kind = (enum engine_stream_kind)42;
	assert_null(render_stream_event_name(event.kind));
	assert_null(render_stream_event(&event));
	event.kind = ENGINE_STREAM_STATE;
	event.from = TCPINFO_STATE_COUNT;
	assert_null(render_stream_event(&event));
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
		cmocka_unit_test(test_conn_problem),
		cmocka_unit_test(test_listener_problem),
		cmocka_unit_test(test_timeline_object),
		cmocka_unit_test(test_timeline_empty),
		cmocka_unit_test(test_stream_events),
		cmocka_unit_test(test_render_text),
		cmocka_unit_test(test_problem_invalid_field),
		cmocka_unit_test(test_problem_position),
		cmocka_unit_test(test_problem_without_extensions),
		cmocka_unit_test(test_limit_problems_name_their_flag),
		cmocka_unit_test(test_problem_types),
		cmocka_unit_test(test_problem_sanitizes_utf8),
		cmocka_unit_test(test_problem_detail_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
