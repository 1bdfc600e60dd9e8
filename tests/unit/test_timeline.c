#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "timeline.h"

#define S TCPINFO_FLAG_SYN
#define A TCPINFO_FLAG_ACK
#define F TCPINFO_FLAG_FIN
#define R TCPINFO_FLAG_RST
#define P TCPINFO_FLAG_PSH

struct seg {
	bool out;
	uint8_t flags;
	uint32_t seq, ack, len;
	enum tcpinfo_step want;
};

static void
check_steps(const struct seg *segs, size_t n)
{
	struct timeline_steps steps = { 0 };

	for (size_t i = 0; i < n; i++) {
		struct engine_event e = {
			.kind = ENGINE_EVENT_SEGMENT, .outbound = segs[i].out, .flags = segs[i].flags,
			.seq = segs[i].seq, .ack = segs[i].ack, .len = segs[i].len,
		};

		timeline_label(&steps, &e);
		if (e.step != segs[i].want)
			fail_msg("segment %zu: step %d, want %d", i, (int)e.step, (int)segs[i].want);
	}
}

/* lwIP opens, sends 10 bytes, gets 5 back, closes first; the peer's FIN comes apart from its ACK. */
static void
active_open_data_and_four_way_close(void **unused)
{
	static const struct seg segs[] = {
		{ true, S, 1000, 0, 0, TCPINFO_STEP_HANDSHAKE_1 },
		{ false, S | A, 5000, 1001, 0, TCPINFO_STEP_HANDSHAKE_2 },
		{ true, A, 1001, 5001, 0, TCPINFO_STEP_HANDSHAKE_3 },
		{ true, P | A, 1001, 5001, 10, TCPINFO_STEP_DATA },
		{ false, A, 5001, 1011, 0, TCPINFO_STEP_ACK },
		{ false, P | A, 5001, 1011, 5, TCPINFO_STEP_DATA },
		{ true, P | A, 1001, 5001, 10, TCPINFO_STEP_RETRANSMIT },
		{ true, F | A, 1011, 5006, 0, TCPINFO_STEP_TEARDOWN_1 },
		{ false, A, 5006, 1012, 0, TCPINFO_STEP_TEARDOWN_2 },
		{ false, F | A, 5006, 1012, 0, TCPINFO_STEP_TEARDOWN_3 },
		{ true, A, 1012, 5007, 0, TCPINFO_STEP_TEARDOWN_4 },
	};

	(void)unused;
	check_steps(segs, sizeof(segs) / sizeof(segs[0]));
}

/* The peer opens and closes first; lwIP acknowledges the peer's FIN with its own: three segments. */
static void
passive_open_and_combined_close(void **unused)
{
	static const struct seg segs[] = {
		{ false, S, 7000, 0, 0, TCPINFO_STEP_HANDSHAKE_1 },
		{ true, S | A, 300, 7001, 0, TCPINFO_STEP_HANDSHAKE_2 },
		{ false, A, 7001, 301, 0, TCPINFO_STEP_HANDSHAKE_3 },
		{ false, F | A, 7001, 301, 0, TCPINFO_STEP_TEARDOWN_1 },
		{ true, F | A, 301, 7002, 0, TCPINFO_STEP_TEARDOWN_2_3 },
		{ false, A, 7002, 302, 0, TCPINFO_STEP_TEARDOWN_4 },
		{ false, R, 7002, 0, 0, TCPINFO_STEP_RST },
	};

	(void)unused;
	check_steps(segs, sizeof(segs) / sizeof(segs[0]));
}

/*
 * lwIP closes first and the kernel answers with its FIN and the ACK of
 * lwIP's together, as measured against peer.py in echo mode; a retransmitted
 * FIN afterwards is a retransmission, not a second teardown-2+3.
 */
static void
active_close_answered_by_fin_and_ack_together(void **unused)
{
	static const struct seg segs[] = {
		{ true, S, 1000, 0, 0, TCPINFO_STEP_HANDSHAKE_1 },
		{ false, S | A, 5000, 1001, 0, TCPINFO_STEP_HANDSHAKE_2 },
		{ true, A, 1001, 5001, 0, TCPINFO_STEP_HANDSHAKE_3 },
		{ true, F | A, 1001, 5001, 0, TCPINFO_STEP_TEARDOWN_1 },
		{ false, F | A, 5001, 1002, 0, TCPINFO_STEP_TEARDOWN_2_3 },
		{ true, A, 1002, 5002, 0, TCPINFO_STEP_TEARDOWN_4 },
		{ false, F | A, 5001, 1002, 0, TCPINFO_STEP_RETRANSMIT },
		{ true, A, 1002, 5002, 0, TCPINFO_STEP_ACK },
	};

	(void)unused;
	check_steps(segs, sizeof(segs) / sizeof(segs[0]));
	assert_string_equal(tcpinfo_step_name(TCPINFO_STEP_TEARDOWN_2_3), "teardown-2+3");
}

/* The second FIN after a separate ACK of the first stays teardown-3. */
static void
fin_after_a_separate_ack_is_teardown_3(void **unused)
{
	static const struct seg segs[] = {
		{ false, S, 7000, 0, 0, TCPINFO_STEP_HANDSHAKE_1 },
		{ true, S | A, 300, 7001, 0, TCPINFO_STEP_HANDSHAKE_2 },
		{ false, A, 7001, 301, 0, TCPINFO_STEP_HANDSHAKE_3 },
		{ false, F | A, 7001, 301, 0, TCPINFO_STEP_TEARDOWN_1 },
		{ true, A, 301, 7002, 0, TCPINFO_STEP_TEARDOWN_2 },
		{ true, F | A, 301, 7002, 0, TCPINFO_STEP_TEARDOWN_3 },
		{ false, A, 7002, 302, 0, TCPINFO_STEP_TEARDOWN_4 },
	};

	(void)unused;
	check_steps(segs, sizeof(segs) / sizeof(segs[0]));
}

static void
simultaneous_close_and_repeated_syn(void **unused)
{
	static const struct seg segs[] = {
		{ true, S, 0xfffffff0u, 0, 0, TCPINFO_STEP_HANDSHAKE_1 },
		{ true, S, 0xfffffff0u, 0, 0, TCPINFO_STEP_RETRANSMIT },
		{ false, S | A, 9, 0xfffffff1u, 0, TCPINFO_STEP_HANDSHAKE_2 },
		{ true, A, 0xfffffff1u, 10, 0, TCPINFO_STEP_HANDSHAKE_3 },
		{ true, F | A, 0xfffffff1u, 10, 0, TCPINFO_STEP_TEARDOWN_1 },
		{ false, F | A, 10, 0xfffffff1u, 0, TCPINFO_STEP_TEARDOWN_3 },
		{ false, A, 11, 0xfffffff2u, 0, TCPINFO_STEP_ACK },
		{ true, A, 0xfffffff2u, 11, 0, TCPINFO_STEP_TEARDOWN_4 },
	};

	(void)unused;
	check_steps(segs, sizeof(segs) / sizeof(segs[0]));
}

static void
relative_numbers_follow_each_sides_isn(void **unused)
{
	struct timeline_steps steps = { 0 };
	struct engine_event syn = { .outbound = true, .flags = S, .seq = 100 };
	struct engine_event synack = { .outbound = false, .flags = S | A, .seq = 0xffffff00u, .ack = 101 };
	struct engine_event data = { .outbound = true, .flags = A, .seq = 101, .ack = 0xffffff01u, .len = 4 };

	(void)unused;
	timeline_label(&steps, &syn);
	assert_true(syn.has_rel_seq);
	assert_int_equal(syn.rel_seq, 0);
	assert_false(syn.has_rel_ack);
	timeline_label(&steps, &synack);
	assert_int_equal(synack.rel_seq, 0);
	assert_true(synack.has_rel_ack);
	assert_int_equal(synack.rel_ack, 1);
	timeline_label(&steps, &data);
	assert_int_equal(data.rel_seq, 1);
	assert_int_equal(data.rel_ack, 1);
}

static void
keeps_the_head_and_the_latest(void **unused)
{
	struct timeline timeline;
	struct engine_event *copy;
	const size_t cap = 128, total = 500;

	(void)unused;
	timeline_init(&timeline, cap, 0, NULL);
	for (size_t i = 0; i < total; i++) {
		struct engine_event e = { .kind = ENGINE_EVENT_STATE, .at_us = i };

		assert_int_equal(timeline_append(&timeline, &e), (int64_t)i);
	}
	assert_int_equal(timeline.count, cap);
	assert_int_equal(timeline.dropped, total - cap);
	copy = malloc(cap * sizeof(*copy));
	assert_non_null(copy);
	timeline_copy(&timeline, copy, NULL);
	for (size_t i = 0; i < ENGINE_TIMELINE_HEAD; i++)
		assert_int_equal(copy[i].at_us, i);
	for (size_t i = ENGINE_TIMELINE_HEAD; i < cap; i++)
		assert_int_equal(copy[i].at_us, total - cap + i);
	/* Kept events can still be found by number; dropped ones cannot. */
	assert_int_equal(timeline_get(&timeline, 3)->at_us, 3);
	assert_int_equal(timeline_get(&timeline, total - 1)->at_us, total - 1);
	assert_null(timeline_get(&timeline, 100));
	assert_null(timeline_get(&timeline, total));
	assert_null(timeline_get(&timeline, -1));
	free(copy);
	timeline_free(&timeline);
}

static void
short_timelines_grow_in_order(void **unused)
{
	struct timeline timeline;
	struct engine_event copy[40];

	(void)unused;
	timeline_init(&timeline, 256, 0, NULL);
	for (size_t i = 0; i < 40; i++)
		timeline_append(&timeline, &(struct engine_event){ .at_us = i });
	assert_int_equal(timeline.count, 40);
	assert_int_equal(timeline.dropped, 0);
	assert_true(timeline.capacity < 256);
	timeline_copy(&timeline, copy, NULL);
	for (size_t i = 0; i < 40; i++)
		assert_int_equal(copy[i].at_us, i);
	assert_int_equal(timeline_get(&timeline, 39)->at_us, 39);
	timeline_free(&timeline);
	timeline_free(NULL);
}

/* Frames ring with their events, cut to the slot; the copy keeps them in event order. */
static void
frames_go_with_their_events(void **unused)
{
	const size_t cap = 128, total = 300, slot = 8;
	struct timeline timeline;
	struct engine_event *copy;
	uint8_t frame[12], *frames;

	(void)unused;
	timeline_init(&timeline, cap, slot, NULL);
	for (size_t i = 0; i < total; i++) {
		int64_t n = timeline_append(&timeline, &(struct engine_event){ .at_us = i });

		memset(frame, (int)(i & 0xff), sizeof(frame));
		timeline_keep_frame(&timeline, n, frame, i % 2 ? sizeof(frame) : 3, 1500);
	}
	copy = malloc(cap * sizeof(*copy));
	frames = malloc(cap * slot);
	assert_non_null(copy);
	assert_non_null(frames);
	timeline_copy(&timeline, copy, frames);
	for (size_t i = 0; i < cap; i++) {
		uint64_t n = copy[i].at_us;

		assert_int_equal(copy[i].frame_len, 1500);
		assert_int_equal(copy[i].snap_len, n % 2 ? slot : 3);
		for (size_t k = 0; k < copy[i].snap_len; k++)
			assert_int_equal(frames[i * slot + k], n & 0xff);
	}
	/* A dropped event keeps nothing. */
	timeline_keep_frame(&timeline, 100, frame, sizeof(frame), sizeof(frame));
	free(frames);
	free(copy);
	timeline_free(&timeline);
}

/* Storage is charged as it grows; past the budget events are refused, and a shrink gives back the rest. */
static void
budget_truncates_and_shrink_credits(void **unused)
{
	const size_t slot = 100, each = sizeof(struct engine_event) + slot;
	const size_t first = TIMELINE_FIRST_CAPACITY;
	struct membudget budget;
	struct timeline timeline;

	(void)unused;
	/* Room for the first allocation and not for the next. */
	membudget_init(&budget, first * each + first / 2 * each);
	timeline_init(&timeline, 256, slot, &budget);
	assert_int_equal(budget.used[MEMBUDGET_TIMELINE], 0);
	for (size_t i = 0; i < 20; i++)
		timeline_append(&timeline, &(struct engine_event){ .at_us = i });
	assert_int_equal(timeline.count, first);
	assert_int_equal(timeline.refused, 20 - first);
	assert_int_equal(timeline.dropped, 0);
	assert_int_equal(budget.used[MEMBUDGET_TIMELINE], first * each);
	assert_int_equal(budget.refused[MEMBUDGET_TIMELINE], 20 - first);
	/* Room again: the timeline grows, doubling, and keeps its order. */
	membudget_init(&budget, 1 << 20);
	budget.used[MEMBUDGET_TIMELINE] = first * each;
	for (size_t i = 20; i < 37; i++)
		timeline_append(&timeline, &(struct engine_event){ .at_us = i });
	assert_int_equal(timeline.count, first + 17);
	assert_int_equal(timeline.capacity, first * 4);
	assert_int_equal(budget.used[MEMBUDGET_TIMELINE], first * 4 * each);
	timeline_shrink(&timeline);
	assert_int_equal(timeline.capacity, first + 17);
	assert_int_equal(budget.used[MEMBUDGET_TIMELINE], (first + 17) * each);
	assert_int_equal(timeline_get(&timeline, (int64_t)first + 16)->at_us, 36);
	assert_int_equal(timeline_get(&timeline, (int64_t)first - 1)->at_us, first - 1);
	timeline_free(&timeline);
	assert_int_equal(budget.used[MEMBUDGET_TIMELINE], 0);
	/* An empty timeline shrinks to nothing. */
	timeline_init(&timeline, 256, slot, &budget);
	timeline_shrink(&timeline);
	assert_null(timeline.events);
	assert_int_equal(budget.used[MEMBUDGET_TIMELINE], 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(active_open_data_and_four_way_close),
		cmocka_unit_test(passive_open_and_combined_close),
		cmocka_unit_test(active_close_answered_by_fin_and_ack_together),
		cmocka_unit_test(fin_after_a_separate_ack_is_teardown_3),
		cmocka_unit_test(simultaneous_close_and_repeated_syn),
		cmocka_unit_test(relative_numbers_follow_each_sides_isn),
		cmocka_unit_test(keeps_the_head_and_the_latest),
		cmocka_unit_test(short_timelines_grow_in_order),
		cmocka_unit_test(frames_go_with_their_events),
		cmocka_unit_test(budget_truncates_and_shrink_credits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
