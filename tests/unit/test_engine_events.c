#include <errno.h>
#include <stdlib.h>

#include "unit_helpers.h"

struct reader {
	int wakes;
	int behind;
};

static void
reader_wake(void *arg)
{
	((struct reader *)arg)->wakes++;
}

static void
reader_behind(void *arg)
{
	((struct reader *)arg)->behind++;
}

static struct engine_subscriber *
subscribe(struct engine *engine, uint64_t last_seen, struct reader *reader)
{
	struct engine_subscriber *subscriber;

	assert_int_equal(engine_subscribe(engine, last_seen, reader_wake, reader_behind, reader,
	    &subscriber), 0);
	return subscriber;
}

static void
events_of_a_connection_in_order(void **unused)
{
	struct engine *engine = unit_start();
	struct reader reader = { 0 };
	struct engine_subscriber *subscriber = subscribe(engine, 0, &reader);
	struct engine_stream_event events[8];
	struct stack_tcp *tcp;

	(void)unused;
	assert_int_equal(engine_stream_read(engine, subscriber, events, 8), 0);
	unit_open_established(engine, &tcp);
	assert_int_equal(reader.wakes, 1);	/* once: it had not read since */
	assert_int_equal(engine_stream_read(engine, subscriber, events, 8), 3);
	assert_int_equal(events[0].kind, ENGINE_STREAM_CONN_CREATED);
	assert_int_equal(events[0].seq, 1);
	assert_int_equal(events[1].kind, ENGINE_STREAM_STATE);
	assert_int_equal(events[1].to, TCPINFO_SYN_SENT);
	assert_int_equal(events[2].from, TCPINFO_SYN_SENT);
	assert_int_equal(events[2].to, TCPINFO_ESTABLISHED);
	engine_unsubscribe(engine, subscriber);
	engine_unsubscribe(engine, NULL);
	unit_end(engine);
}

static void
replay_after_last_event_id(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_listener_view listener;
	struct engine_stream_event events[8];
	struct reader reader = { 0 };
	struct engine_subscriber *subscriber;

	(void)unused;
	for (uint16_t port = 9000; port < 9004; port++)
		assert_int_equal(engine_listen(engine, port, 8, &listener), 0);
	subscriber = subscribe(engine, 2, &reader);
	assert_int_equal(engine_stream_read(engine, subscriber, events, 8), 2);
	assert_int_equal(events[0].seq, 3);
	assert_int_equal(events[0].kind, ENGINE_STREAM_LISTENER_CREATED);
	assert_int_equal(events[0].port, 9002);
	engine_unsubscribe(engine, subscriber);
	/* A number from the future means only what is to come. */
	subscriber = subscribe(engine, 1000, &reader);
	assert_int_equal(engine_stream_read(engine, subscriber, events, 8), 0);
	engine_unsubscribe(engine, subscriber);
	unit_end(engine);
}

static void
replay_starts_at_the_oldest_kept(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_listener_view listener;
	struct engine_stream_event event;
	struct reader reader = { 0 };
	struct engine_subscriber *subscriber;

	(void)unused;
	assert_int_equal(engine_listen(engine, 9000, 8, &listener), 0);
	/* Each unlisten and listen is two events; fill the ring past its size. */
	for (int i = 0; i < ENGINE_STREAM_REPLAY / 2 + 1; i++) {
		assert_int_equal(engine_unlisten(engine, listener.id, &listener), 0);
		assert_int_equal(engine_listen(engine, 9000, 8, &listener), 0);
	}
	subscriber = subscribe(engine, 1, &reader);
	assert_int_equal(engine_stream_read(engine, subscriber, &event, 1), 1);
	/* 4099 events: the ring keeps the last ENGINE_STREAM_REPLAY, from number 4. */
	assert_int_equal(event.seq, 4);
	engine_unsubscribe(engine, subscriber);
	unit_end(engine);
}

static void
a_reader_that_falls_behind_is_told_once(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_listener_view listener;
	struct engine_stream_event event;
	struct reader reader = { 0 };
	struct engine_subscriber *subscriber = subscribe(engine, 0, &reader);

	(void)unused;
	assert_int_equal(engine_listen(engine, 9000, 8, &listener), 0);
	for (int i = 0; i < ENGINE_STREAM_REPLAY; i++) {
		assert_int_equal(engine_unlisten(engine, listener.id, &listener), 0);
		assert_int_equal(engine_listen(engine, 9000, 8, &listener), 0);
	}
	assert_int_equal(reader.behind, 1);
	assert_int_equal(engine_stream_read(engine, subscriber, &event, 1), -EOVERFLOW);
	engine_unsubscribe(engine, subscriber);
	unit_end(engine);
}

static void
idle_readers_hear_a_heartbeat_and_the_stop(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_stream_event event;
	struct reader reader = { 0 };
	struct engine_subscriber *subscriber = subscribe(engine, 0, &reader);

	(void)unused;
	assert_int_equal(engine_stream_read(engine, subscriber, &event, 1), 0);
	fake_advance_ms(15000);
	assert_int_equal(reader.wakes, 1);
	engine_stop(engine);
	assert_int_equal(reader.wakes, 2);
	assert_int_equal(engine_stream_read(engine, subscriber, &event, 1), -ESHUTDOWN);
	assert_int_equal(fake_timer_count(), 0);
	engine_unsubscribe(engine, subscriber);
	engine_free(engine);
	fake_stack_reset();
}

static void
subscribers_are_limited(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_subscriber *subscribers[64], *extra;
	struct reader reader = { 0 };

	(void)unused;
	for (int i = 0; i < 64; i++)
		subscribers[i] = subscribe(engine, 0, &reader);
	assert_int_equal(engine_subscribe(engine, 0, reader_wake, reader_behind, &reader, &extra),
	    -ENOBUFS);
	for (int i = 0; i < 64; i++)
		engine_unsubscribe(engine, subscribers[i]);
	unit_end(engine);
}

static void
closed_connections_are_retained_up_to_the_cap(void **unused)
{
	struct engine_config cfg = unit_config();
	struct engine *engine;
	struct engine_stream_event events[16];
	struct engine_conn_view view, *list;
	struct engine_page page = { .limit = ENGINE_PAGE_MAX };
	struct reader reader = { 0 };
	struct engine_subscriber *subscriber;
	uint64_t counts[TCPINFO_STATE_COUNT];
	bool more;
	struct stack_tcp *tcp;
	uint64_t ids[3];
	size_t count;
	int n;

	(void)unused;
	cfg.retain_closed = 2;
	engine = unit_start_with(&cfg);
	for (int i = 0; i < 3; i++) {
		ids[i] = unit_open(engine, &tcp);
		unit_close(engine, ids[i], ENGINE_CLOSE_ABORT, NULL);
	}
	assert_int_equal(engine_get(engine, ids[0], &view), ENGINE_NOT_FOUND);
	assert_int_equal(unit_state(engine, ids[1]), TCPINFO_CLOSED);
	assert_int_equal(engine_list(engine, NULL, &page, &list, &count, &more), 0);
	assert_int_equal(count, 2);
	assert_false(more);
	assert_int_equal(list[0].id, ids[1]);
	free(list);
	engine_count_by_state(engine, counts);
	assert_int_equal(counts[TCPINFO_CLOSED], 2);
	/* The stream told of the first one leaving the table. */
	subscriber = subscribe(engine, 0, &reader);
	engine_unsubscribe(engine, subscriber);
	subscriber = subscribe(engine, 1, &reader);
	n = engine_stream_read(engine, subscriber, events, 16);
	assert_true(n > 0);
	assert_int_equal(events[n - 1].kind, ENGINE_STREAM_CONN_REMOVED);
	assert_int_equal(events[n - 1].id, ids[0]);
	engine_unsubscribe(engine, subscriber);
	unit_end(engine);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(events_of_a_connection_in_order),
		cmocka_unit_test(replay_after_last_event_id),
		cmocka_unit_test(replay_starts_at_the_oldest_kept),
		cmocka_unit_test(a_reader_that_falls_behind_is_told_once),
		cmocka_unit_test(idle_readers_hear_a_heartbeat_and_the_stop),
		cmocka_unit_test(subscribers_are_limited),
		cmocka_unit_test(closed_connections_are_retained_up_to_the_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
