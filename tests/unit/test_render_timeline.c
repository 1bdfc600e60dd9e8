/*
 * test_render_timeline: a connection's timeline and the event stream's
 * events as JSON.
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
		cmocka_unit_test(test_timeline_object),
		cmocka_unit_test(test_timeline_empty),
		cmocka_unit_test(test_stream_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
