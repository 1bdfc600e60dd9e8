#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sse.h"

/* The streams themselves need a running engine and libmicrohttpd; see the integration tests. */
int
engine_subscribe(struct engine *engine, uint64_t last_seen, engine_wake_fn wake,
    engine_wake_fn behind, void *arg, struct engine_subscriber **out)
{
	(void)engine;
	(void)last_seen;
	(void)wake;
	(void)behind;
	(void)arg;
	(void)out;
	fail();
	return -ENOSYS;
}

int
engine_stream_read(struct engine *engine, struct engine_subscriber *subscriber,
    struct engine_stream_event *out, size_t max)
{
	(void)engine;
	(void)subscriber;
	(void)out;
	(void)max;
	fail();
	return -ENOSYS;
}

void
engine_unsubscribe(struct engine *engine, struct engine_subscriber *subscriber)
{
	(void)engine;
	(void)subscriber;
	fail();
}

static void
assert_formatted(const struct engine_stream_event *event, const char *expected)
{
	char buf[SSE_EVENT_MAX];
	int n;

	n = sse_format_event(event, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(expected));
	assert_string_equal(buf, expected);
}

static void
test_format_state(void **state)
{
	struct engine_stream_event event = {
		.seq = 12,
		.kind = ENGINE_STREAM_STATE,
		.at_us = 345,
		.id = 3,
		.from = TCPINFO_SYN_SENT,
		.to = TCPINFO_ESTABLISHED,
		.cause = { .kind = TCPINFO_CAUSE_RX, .flags = TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK },
	};

	(void)state;
	assert_formatted(&event, "id: 12\nevent: state\n"
	    "data: {\"id\":3,\"from\":\"SYN_SENT\",\"to\":\"ESTABLISHED\",\"cause\":\"rx:SYN,ACK\","
	    "\"at_us\":345}\n\n");
}

static void
test_format_connection_and_listener(void **state)
{
	struct engine_stream_event event = {
		.seq = 1,
		.kind = ENGINE_STREAM_CONN_CREATED,
		.at_us = 10,
		.id = 4,
		.origin = ENGINE_ORIGIN_PASSIVE,
	};

	(void)state;
	assert_formatted(&event, "id: 1\nevent: connection\n"
	    "data: {\"id\":4,\"action\":\"created\",\"origin\":\"passive\",\"at_us\":10}\n\n");
	event.kind = ENGINE_STREAM_CONN_REMOVED;
	event.origin = ENGINE_ORIGIN_ACTIVE;
	event.seq = UINT64_MAX;
	assert_formatted(&event, "id: 18446744073709551615\nevent: connection\n"
	    "data: {\"id\":4,\"action\":\"removed\",\"origin\":\"active\",\"at_us\":10}\n\n");
	event.seq = 2;
	event.kind = ENGINE_STREAM_LISTENER_CREATED;
	event.port = 7000;
	assert_formatted(&event, "id: 2\nevent: listener\n"
	    "data: {\"id\":4,\"action\":\"created\",\"port\":7000,\"at_us\":10}\n\n");
	event.kind = ENGINE_STREAM_LISTENER_REMOVED;
	assert_formatted(&event, "id: 2\nevent: listener\n"
	    "data: {\"id\":4,\"action\":\"removed\",\"port\":7000,\"at_us\":10}\n\n");
}

/* The longest event fits SSE_EVENT_MAX; a short buffer and bad values are refused. */
static void
test_format_limits(void **state)
{
	struct engine_stream_event event = {
		.seq = UINT64_MAX,
		.kind = ENGINE_STREAM_STATE,
		.at_us = UINT64_MAX,
		.id = UINT64_MAX,
		.from = TCPINFO_ESTABLISHED,
		.to = TCPINFO_ESTABLISHED,
		.cause = { .kind = TCPINFO_CAUSE_RX, .flags = 0xff },
	};
	char buf[SSE_EVENT_MAX];

	(void)state;
	assert_true(sse_format_event(&event, buf, sizeof(buf)) > 0);
	assert_int_equal(sse_format_event(&event, buf, 40), -ENOSPC);
	event.to = TCPINFO_STATE_COUNT;
	assert_int_equal(sse_format_event(&event, buf, sizeof(buf)), -EINVAL);
	event.to = TCPINFO_CLOSED;
	event.kind = (enum engine_stream_kind)99;
	assert_int_equal(sse_format_event(&event, buf, sizeof(buf)), -EINVAL);
}

static void
test_filter(void **state)
{
	struct sse_filter all = { .by_connection = false };
	struct sse_filter one = { .by_connection = true, .connection = 5 };
	struct engine_stream_event event = { .kind = ENGINE_STREAM_STATE, .id = 5 };

	(void)state;
	assert_true(sse_filter_pass(&all, &event));
	assert_true(sse_filter_pass(&one, &event));
	event.kind = ENGINE_STREAM_CONN_CREATED;
	assert_true(sse_filter_pass(&one, &event));
	event.kind = ENGINE_STREAM_CONN_REMOVED;
	assert_true(sse_filter_pass(&one, &event));
	event.id = 6;
	assert_false(sse_filter_pass(&one, &event));
	assert_true(sse_filter_pass(&all, &event));
	event.kind = ENGINE_STREAM_STATE;
	assert_false(sse_filter_pass(&one, &event));
	/* Listeners are not connections, whatever their id. */
	event.kind = ENGINE_STREAM_LISTENER_CREATED;
	event.id = 5;
	assert_false(sse_filter_pass(&one, &event));
	event.kind = ENGINE_STREAM_LISTENER_REMOVED;
	assert_false(sse_filter_pass(&one, &event));
	assert_true(sse_filter_pass(&all, &event));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_state),
		cmocka_unit_test(test_format_connection_and_listener),
		cmocka_unit_test(test_format_limits),
		cmocka_unit_test(test_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
