#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conntable.h"

static const struct engine_endpoint local = { .ip = 0x0200090a, .port = 50000 };
static const struct engine_endpoint remote = { .ip = 0x0100090a, .port = 7000 };

static struct tcpinfo_cause
cause(enum tcpinfo_cause_kind kind, uint8_t flags)
{
	return (struct tcpinfo_cause){ .kind = (uint8_t)kind, .flags = flags };
}

static struct conntable_entry *
add_closed(struct conntable *table)
{
	struct conntable_entry *conn = conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote);

	conntable_record_state(table, conn, TCPINFO_SYN_SENT, cause(TCPINFO_CAUSE_API_OPEN, 0), 1);
	conntable_record_state(table, conn, TCPINFO_CLOSED, cause(TCPINFO_CAUSE_RX, TCPINFO_FLAG_RST), 2);
	return conn;
}

static void
ids_grow_and_are_found(void **unused)
{
	struct conntable *table = conntable_new(10, sizeof(struct conntable_entry));
	struct conntable_entry *a = conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote);
	struct conntable_entry *b = conntable_add(table, ENGINE_ORIGIN_PASSIVE, TCPINFO_LISTEN, &local, &remote);

	(void)unused;
	assert_int_equal(a->id, 1);
	assert_int_equal(b->id, 2);
	assert_ptr_equal(conntable_find(table, 2), b);
	assert_null(conntable_find(table, 3));
	assert_ptr_equal(conntable_first(table), a);
	assert_ptr_equal(conntable_next(a), b);
	assert_null(conntable_next(b));
	assert_int_equal(conntable_live_count(table), 2);
	conntable_discard(table, a);
	assert_null(conntable_find(table, 1));
	assert_int_equal(conntable_live_count(table), 1);
	/* A discarded id is never handed out again. */
	assert_int_equal(conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote)->id, 3);
	conntable_free(table);
}

static void
history_and_fields(void **unused)
{
	struct conntable *table = conntable_new(10, sizeof(struct conntable_entry));
	struct conntable_entry *conn = conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote);

	(void)unused;
	conntable_record_state(table, conn, TCPINFO_SYN_SENT, cause(TCPINFO_CAUSE_API_OPEN, 0), 10);
	conntable_record_state(table, conn, TCPINFO_ESTABLISHED,
	    cause(TCPINFO_CAUSE_RX, TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK), 20);
	assert_int_equal(conn->id, 1);
	assert_int_equal(conn->state, TCPINFO_ESTABLISHED);
	assert_int_equal(conn->history_len, 2);
	assert_int_equal(conn->history[0].state, TCPINFO_SYN_SENT);
	assert_int_equal(conn->history[0].at_us, 10);
	assert_int_equal(conn->history[1].cause.kind, TCPINFO_CAUSE_RX);
	assert_int_equal(conn->history[1].cause.flags, TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK);
	assert_int_equal(conn->local.port, 50000);
	assert_int_equal(conn->remote.port, 7000);
	conntable_free(table);
}

static void
full_history_keeps_the_latest_state(void **unused)
{
	struct conntable *table = conntable_new(10, sizeof(struct conntable_entry));
	struct conntable_entry *conn = conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote);

	(void)unused;
	for (int i = 0; i < ENGINE_HISTORY_MAX + 3; i++)
		conntable_record_state(table, conn, TCPINFO_ESTABLISHED, cause(TCPINFO_CAUSE_API_OPEN, 0),
		    (uint64_t)i);
	conntable_record_state(table, conn, TCPINFO_TIME_WAIT, cause(TCPINFO_CAUSE_API_OPEN, 0), 99);
	assert_int_equal(conn->history_len, ENGINE_HISTORY_MAX);
	assert_int_equal(conn->history[ENGINE_HISTORY_MAX - 1].state, TCPINFO_TIME_WAIT);
	assert_int_equal(conn->history[ENGINE_HISTORY_MAX - 1].at_us, 99);
	conntable_free(table);
}

static void
closed_are_retained_up_to_the_cap_oldest_dropped_first(void **unused)
{
	struct conntable *table = conntable_new(2, sizeof(struct conntable_entry));
	uint64_t ids[4];

	(void)unused;
	for (int i = 0; i < 4; i++)
		ids[i] = add_closed(table)->id;
	/* Nothing is freed until a prune, so callers' pointers stay valid. */
	assert_non_null(conntable_find(table, ids[0]));
	conntable_prune(table);
	assert_null(conntable_find(table, ids[0]));
	assert_null(conntable_find(table, ids[1]));
	assert_non_null(conntable_find(table, ids[2]));
	assert_non_null(conntable_find(table, ids[3]));
	assert_int_equal(conntable_live_count(table), 0);
	conntable_free(table);
}

static void
live_connections_are_never_pruned(void **unused)
{
	struct conntable *table = conntable_new(0, sizeof(struct conntable_entry));
	struct conntable_entry *live = conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote);
	struct conntable_entry *closed = add_closed(table);
	uint64_t closed_id = closed->id;

	(void)unused;
	conntable_prune(table);
	assert_ptr_equal(conntable_find(table, live->id), live);
	assert_null(conntable_find(table, closed_id));
	conntable_free(table);
}

static void
pinned_survives_a_prune(void **unused)
{
	struct conntable *table = conntable_new(0, sizeof(struct conntable_entry));
	struct conntable_entry *conn = conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote);

	(void)unused;
	conntable_pin(table, conn);
	conntable_record_state(table, conn, TCPINFO_CLOSED, cause(TCPINFO_CAUSE_API_ABORT, 0), 1);
	conntable_prune(table);
	assert_ptr_equal(conntable_find(table, conn->id), conn);
	conntable_pin(table, NULL);
	conntable_prune(table);
	assert_null(conntable_find(table, 1));
	conntable_free(table);
}

static void
counters_and_retransmissions(void **unused)
{
	struct conntable *table = conntable_new(1, sizeof(struct conntable_entry));
	struct conntable_entry *conn = conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote);
	const struct engine_counters *c = &conn->counters;

	(void)unused;
	conntable_record_segment(conn, true, TCPINFO_FLAG_SYN, 1000, 0);
	conntable_record_segment(conn, true, TCPINFO_FLAG_SYN, 1000, 0);	/* SYN again */
	assert_int_equal(c->retransmits, 1);
	conntable_record_segment(conn, false, TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK, 5000, 0);
	conntable_record_segment(conn, true, TCPINFO_FLAG_ACK, 1001, 0);	/* pure ACK: no data */
	conntable_record_segment(conn, true, TCPINFO_FLAG_ACK, 1001, 100);
	conntable_record_segment(conn, true, TCPINFO_FLAG_ACK, 1101, 100);
	conntable_record_segment(conn, true, TCPINFO_FLAG_ACK, 1101, 100);	/* resent */
	conntable_record_segment(conn, false, TCPINFO_FLAG_ACK, 5001, 40);
	conntable_record_segment(conn, true, TCPINFO_FLAG_FIN | TCPINFO_FLAG_ACK, 1201, 0);
	conntable_record_segment(conn, true, TCPINFO_FLAG_RST, 1202, 0);
	conntable_record_segment(conn, false, TCPINFO_FLAG_RST | TCPINFO_FLAG_ACK, 5041, 0);
	assert_int_equal(c->segs_out, 8);
	assert_int_equal(c->segs_in, 3);
	assert_int_equal(c->bytes_out, 300);
	assert_int_equal(c->retransmits, 2);
	assert_int_equal(c->rst_out, 1);
	/* What lwIP accepted of inbound segments is the engine's to count, once lwIP has handled them. */
	assert_int_equal(c->bytes_in, 0);
	assert_int_equal(c->rst_in, 0);
	conntable_free(table);
}

static void
retransmission_detection_wraps_around(void **unused)
{
	struct conntable *table = conntable_new(1, sizeof(struct conntable_entry));
	struct conntable_entry *conn = conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote);

	(void)unused;
	conntable_record_segment(conn, true, TCPINFO_FLAG_ACK, 0xffffff00u, 0x100);
	conntable_record_segment(conn, true, TCPINFO_FLAG_ACK, 0, 0x100);
	assert_int_equal(conn->counters.retransmits, 0);
	conntable_record_segment(conn, true, TCPINFO_FLAG_ACK, 0xffffff80u, 0x80);
	assert_int_equal(conn->counters.retransmits, 1);
	conntable_free(table);
}

static int destroyed;

static void
count_destroyed(struct conntable_entry *conn)
{
	(void)conn;
	destroyed++;
}

static void
destructor_runs_for_every_freed_connection(void **unused)
{
	struct conntable *table = conntable_new(0, sizeof(struct conntable_entry));

	(void)unused;
	destroyed = 0;
	conntable_set_destructor(table, count_destroyed);
	add_closed(table);
	conntable_prune(table);
	assert_int_equal(destroyed, 1);
	conntable_discard(table, conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote));
	assert_int_equal(destroyed, 2);
	conntable_add(table, ENGINE_ORIGIN_PASSIVE, TCPINFO_LISTEN, &local, &remote);
	conntable_free(table);
	assert_int_equal(destroyed, 3);
}

static void
passive_connections_start_in_listen(void **unused)
{
	struct conntable *table = conntable_new(1, sizeof(struct conntable_entry));
	struct conntable_entry *conn = conntable_add(table, ENGINE_ORIGIN_PASSIVE, TCPINFO_LISTEN, &local, &remote);

	(void)unused;
	conn->listener_id = 7;
	assert_int_equal(conn->state, TCPINFO_LISTEN);
	assert_int_equal(conn->history_len, 0);
	assert_int_equal(conn->listener_id, 7);
	assert_int_equal(conn->origin, ENGINE_ORIGIN_PASSIVE);
	conntable_free(table);
}

static void
free_accepts_null(void **unused)
{
	(void)unused;
	conntable_free(NULL);
}

/* after= finds the next larger id whether that id is live, retained, pruned or never was. */
static void
after_finds_the_next_id_even_when_it_is_gone(void **unused)
{
	struct conntable *table = conntable_new(2, sizeof(struct conntable_entry));
	struct conntable_entry *live[3];

	(void)unused;
	add_closed(table);						/* 1 */
	live[0] = conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote);	/* 2 */
	add_closed(table);						/* 3 */
	add_closed(table);						/* 4 */
	live[1] = conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote);	/* 5 */
	live[2] = conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote);	/* 6 */
	conntable_prune(table);						/* 1 goes: 3 and 4 stay */
	assert_null(conntable_find(table, 1));
	assert_ptr_equal(conntable_after(table, 0), live[0]);
	assert_ptr_equal(conntable_after(table, 1), live[0]);
	assert_int_equal(conntable_after(table, 2)->id, 3);
	conntable_discard(table, live[1]);
	assert_ptr_equal(conntable_after(table, 4), live[2]);
	assert_ptr_equal(conntable_after(table, 5), live[2]);
	assert_null(conntable_after(table, 6));
	assert_null(conntable_after(table, UINT64_MAX));
	assert_ptr_equal(conntable_first(table), live[0]);
	assert_int_equal(conntable_next(live[0])->id, 3);
	conntable_free(table);
}

/* Against a plain array: many entries, a random half removed, every after= answered right. */
static void
after_agrees_with_a_sorted_array(void **unused)
{
	enum { N = 20000 };
	struct conntable *table = conntable_new(0, sizeof(struct conntable_entry));
	static struct conntable_entry *entries[N + 1];
	static bool gone[N + 2];
	struct conntable_entry *found;
	uint64_t expected;

	(void)unused;
	srand(12);
	for (uint64_t id = 1; id <= N; id++)
		entries[id] = conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote);
	for (uint64_t id = 1; id <= N; id++) {
		/* Runs of removals as well as single ones. */
		if (rand() % 2 == 0 || (id > 5000 && id < 6000)) {
			conntable_discard(table, entries[id]);
			gone[id] = true;
		}
	}
	for (uint64_t after = 0; after <= N + 1; after++) {
		for (expected = after + 1; expected <= N && gone[expected]; expected++)
			;
		found = conntable_after(table, after);
		if (expected > N)
			assert_null(found);
		else if (found == NULL || found->id != expected)
			fail_msg("after %lu: got %lu, expected %lu", (unsigned long)after,
			    found != NULL ? (unsigned long)found->id : 0ul, (unsigned long)expected);
	}
	/* New ids keep appending after removals at the end. */
	conntable_discard(table, conntable_after(table, N - 100));
	found = conntable_add(table, ENGINE_ORIGIN_ACTIVE, TCPINFO_CLOSED, &local, &remote);
	assert_ptr_equal(conntable_after(table, N), found);
	conntable_free(table);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ids_grow_and_are_found),
		cmocka_unit_test(history_and_fields),
		cmocka_unit_test(full_history_keeps_the_latest_state),
		cmocka_unit_test(closed_are_retained_up_to_the_cap_oldest_dropped_first),
		cmocka_unit_test(live_connections_are_never_pruned),
		cmocka_unit_test(pinned_survives_a_prune),
		cmocka_unit_test(counters_and_retransmissions),
		cmocka_unit_test(retransmission_detection_wraps_around),
		cmocka_unit_test(destructor_runs_for_every_freed_connection),
		cmocka_unit_test(passive_connections_start_in_listen),
		cmocka_unit_test(after_finds_the_next_id_even_when_it_is_gone),
		cmocka_unit_test(after_agrees_with_a_sorted_array),
		cmocka_unit_test(free_accepts_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
