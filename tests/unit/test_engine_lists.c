/*
 * test_engine_lists: the engine's limits and its paged lists on the fake
 * stack: pages that follow one another see every connection once, with and
 * without a state filter, also after the connection they resume from is
 * gone, and the core lock is never held for more than a chunk of entries.
 */
#include <errno.h>
#include <stdlib.h>

#include "unit_helpers.h"

/* The chunk of daemon/engine_internal.h: entries looked at per hold of the lock. */
#define CHUNK 256

/* Lists every page of limit connections in *filter (NULL: all); returns the ids in ids. */
static size_t
list_all(struct engine *engine, const enum tcpinfo_state *filter, size_t limit, uint64_t *ids,
    size_t max)
{
	struct engine_page page = { .limit = limit };
	struct engine_conn_view *views;
	size_t count, n = 0;
	bool more = true;

	while (more) {
		assert_int_equal(engine_list(engine, filter, &page, &views, &count, &more), ENGINE_OK);
		assert_true(count <= limit);
		assert_true(!more || count == limit);
		for (size_t i = 0; i < count; i++) {
			assert_true(n < max);
			assert_true(filter == NULL || views[i].state == *filter);
			ids[n++] = views[i].id;
		}
		if (count > 0)
			page.after = views[count - 1].id;
		free(views);
	}
	return n;
}

static void
pages_see_every_connection_once(void **unused)
{
	struct engine *engine = unit_start();
	enum tcpinfo_state established = TCPINFO_ESTABLISHED;
	uint64_t ids[600], opened[600];
	struct stack_tcp *tcp;
	size_t n, matched = 0;

	(void)unused;
	for (size_t i = 0; i < 600; i++) {
		opened[i] = unit_open(engine, &tcp);
		if (i % 3 == 0) {
			unit_establish(tcp);
			matched++;
		}
	}
	n = list_all(engine, NULL, 25, ids, 600);
	assert_int_equal(n, 600);
	assert_memory_equal(ids, opened, sizeof(opened));
	n = list_all(engine, &established, 7, ids, 600);
	assert_int_equal(n, matched);
	for (size_t i = 0; i < n; i++)
		assert_true(ids[i] == opened[i * 3]);
	/* A filter matching nothing still ends, with nothing more. */
	established = TCPINFO_TIME_WAIT;
	assert_int_equal(list_all(engine, &established, 10, ids, 600), 0);
	unit_end(engine);
}

/* A page of 1000 out of 600 connections takes the lock once per 256 looked at, not once in all. */
static void
the_lock_is_held_for_a_chunk_at_a_time(void **unused)
{
	struct engine *engine = unit_start();
	enum tcpinfo_state state = TCPINFO_ESTABLISHED;
	struct engine_page page = { .limit = 1000 };
	struct engine_conn_view *views;
	struct stack_tcp *tcp;
	unsigned long before;
	size_t count;
	bool more;

	(void)unused;
	for (size_t i = 0; i < 600; i++)
		unit_open(engine, &tcp);
	before = fake_lock_count();
	assert_int_equal(engine_list(engine, NULL, &page, &views, &count, &more), ENGINE_OK);
	assert_int_equal(fake_lock_count() - before, (600 + CHUNK - 1) / CHUNK);
	assert_int_equal(count, 600);
	assert_false(more);
	free(views);
	/* A filter that matches nothing walks in chunks too. */
	before = fake_lock_count();
	assert_int_equal(engine_list(engine, &state, &page, &views, &count, &more), ENGINE_OK);
	assert_int_equal(fake_lock_count() - before, (600 + CHUNK - 1) / CHUNK);
	assert_int_equal(count, 0);
	assert_null(views);
	/* more is learnt from the next match, which is not copied. */
	page.limit = 600;
	assert_int_equal(engine_list(engine, NULL, &page, &views, &count, &more), ENGINE_OK);
	assert_false(more);
	free(views);
	page.limit = 599;
	assert_int_equal(engine_list(engine, NULL, &page, &views, &count, &more), ENGINE_OK);
	assert_true(more);
	assert_int_equal(count, 599);
	free(views);
	unit_end(engine);
}

/* A page resumes after a connection that has been closed and dropped from the table. */
static void
a_page_resumes_after_a_dropped_connection(void **unused)
{
	struct engine_config cfg = unit_config();
	struct engine_page page = { .limit = 10 };
	struct engine_conn_view *views, view;
	struct engine *engine;
	struct stack_tcp *tcp;
	uint64_t ids[25];
	size_t count;
	bool more;

	(void)unused;
	cfg.retain_closed = 0;
	engine = unit_start_with(&cfg);
	for (size_t i = 0; i < 25; i++)
		ids[i] = unit_open(engine, &tcp);
	assert_int_equal(engine_list(engine, NULL, &page, &views, &count, &more), ENGINE_OK);
	assert_true(more);
	page.after = views[count - 1].id;
	free(views);
	unit_close(engine, ids[9], ENGINE_CLOSE_ABORT, NULL);
	unit_close(engine, ids[10], ENGINE_CLOSE_ABORT, NULL);
	unit_open(engine, &tcp);	/* an open prunes the closed ones */
	assert_int_equal(engine_get(engine, ids[9], &view), ENGINE_NOT_FOUND);
	assert_int_equal(engine_list(engine, NULL, &page, &views, &count, &more), ENGINE_OK);
	assert_int_equal(count, 10);
	assert_int_equal(views[0].id, ids[11]);
	free(views);
	unit_end(engine);
}

static void
listeners_page_too(void **unused)
{
	struct engine *engine = unit_start();
	struct engine_page page = { .limit = 10 };
	struct engine_listener_view listener, *views;
	uint64_t ids[30];
	size_t count;
	bool more;

	(void)unused;
	for (uint16_t i = 0; i < 30; i++) {
		assert_int_equal(engine_listen(engine, (uint16_t)(9000 + i), 8, &listener), ENGINE_OK);
		ids[i] = listener.id;
	}
	assert_int_equal(engine_listener_list(engine, &page, &views, &count, &more), ENGINE_OK);
	assert_int_equal(count, 10);
	assert_true(more);
	free(views);
	assert_int_equal(engine_unlisten(engine, ids[9], &listener), ENGINE_OK);
	page.after = ids[9];
	assert_int_equal(engine_listener_list(engine, &page, &views, &count, &more), ENGINE_OK);
	assert_int_equal(count, 10);
	assert_int_equal(views[0].id, ids[10]);
	assert_int_equal(views[9].id, ids[19]);
	assert_true(more);
	free(views);
	page.after = ids[19];
	assert_int_equal(engine_listener_list(engine, &page, &views, &count, &more), ENGINE_OK);
	assert_int_equal(count, 10);
	assert_false(more);
	free(views);
	unit_end(engine);
}

/* Each limit comes from the configuration, and engine_limits() reports it. */
static void
limits_are_the_configured_ones(void **unused)
{
	struct engine_config cfg = unit_config();
	struct engine_subscriber *subscriber, *extra;
	struct engine_listener_view listener;
	struct engine_limits limits;
	struct engine *engine;
	struct stack_tcp *tcp;
	struct engine_conn_view view;
	struct engine_open_params params = { .remote = { .ip = UNIT_REMOTE_IP, .port = 7000 } };
	int wakes = 0;
	uint64_t id;

	(void)unused;
	cfg.max_connections = 3;
	cfg.max_listeners = 2;
	cfg.max_event_streams = 1;
	cfg.max_send_queue = 65536;
	cfg.max_fault_rules = 5;
	engine = unit_start_with(&cfg);
	engine_limits(engine, &limits);
	assert_int_equal(limits.connections, 3);
	assert_int_equal(limits.listeners, 2);
	assert_int_equal(limits.event_streams, 1);
	assert_int_equal(limits.send_queue, 65536);
	assert_int_equal(limits.fault_rules, 5);
	id = unit_open_established(engine, &tcp);
	unit_open(engine, &tcp);
	unit_open(engine, &tcp);
	assert_int_equal(engine_open(engine, &params, &view), ENGINE_LIMIT_REACHED);
	assert_int_equal(engine_listen(engine, 9000, 8, &listener), ENGINE_OK);
	assert_int_equal(engine_listen(engine, 9001, 8, &listener), ENGINE_OK);
	assert_int_equal(engine_listen(engine, 9002, 8, &listener), ENGINE_LIMIT_REACHED);
	assert_int_equal(engine_subscribe(engine, 0, unit_count_wake, unit_count_wake, &wakes,
	    &subscriber), 0);
	assert_int_equal(engine_subscribe(engine, 0, unit_count_wake, unit_count_wake, &wakes,
	    &extra), -ENOBUFS);
	engine_unsubscribe(engine, subscriber);
	assert_int_equal(engine_send(engine, id, NULL, 65537, NULL), ENGINE_QUEUE_FULL);
	assert_int_equal(engine_send(engine, id, NULL, 65536, NULL), ENGINE_OK);
	unit_end(engine);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pages_see_every_connection_once),
		cmocka_unit_test(the_lock_is_held_for_a_chunk_at_a_time),
		cmocka_unit_test(a_page_resumes_after_a_dropped_connection),
		cmocka_unit_test(listeners_page_too),
		cmocka_unit_test(limits_are_the_configured_ones),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
