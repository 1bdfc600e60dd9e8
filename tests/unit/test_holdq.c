#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "holdq.h"

/* Holds a one-byte frame named by its byte, with that byte as meta too. */
static int
hold(struct holdq *q, uint8_t name, uint64_t now, uint32_t ms, bool awaits_next, uint64_t key)
{
	return holdq_hold(q, &name, 1, false, key, now, ms, awaits_next, &name, 1);
}

static uint8_t
pop_name(struct holdq *q, uint64_t now)
{
	struct holdq_frame *frame = holdq_pop_due(q, now);
	uint8_t name;

	if (frame == NULL)
		return 0;
	assert_int_equal(frame->meta_len, 1);
	assert_int_equal(frame->meta[0], frame->bytes[0]);
	name = frame->bytes[0];
	holdq_frame_free(frame);
	return name;
}

static void
releases_by_time_then_holding_order(void **unused)
{
	struct holdq *q = holdq_new(16, 1024);
	uint64_t at;

	(void)unused;
	assert_false(holdq_next_release(q, &at));
	assert_int_equal(hold(q, 'a', 0, 300, false, 1), 0);
	assert_int_equal(hold(q, 'b', 0, 100, false, 1), 0);
	assert_int_equal(hold(q, 'c', 50, 50, false, 1), 0);	/* due at 100 too, held later */
	assert_int_equal(hold(q, 'd', 60, 500, false, 1), 0);
	assert_true(holdq_next_release(q, &at));
	assert_int_equal(at, 100);
	assert_int_equal(pop_name(q, 99), 0);
	assert_int_equal(pop_name(q, 100), 'b');
	assert_int_equal(pop_name(q, 100), 'c');
	assert_int_equal(pop_name(q, 100), 0);
	assert_int_equal(pop_name(q, 1000), 'a');
	assert_int_equal(pop_name(q, 1000), 'd');
	assert_int_equal(holdq_count(q), 0);
	assert_int_equal(holdq_bytes(q), 0);
	holdq_free(q);
	holdq_free(NULL);
	holdq_frame_free(NULL);
}

static void
bounds_in_count_and_bytes(void **unused)
{
	struct holdq *q = holdq_new(2, 100);
	uint8_t big[80] = { 0 };

	(void)unused;
	assert_int_equal(holdq_hold(q, big, sizeof(big), true, 1, 0, 10, false, NULL, 0), 0);
	assert_int_equal(holdq_hold(q, big, 21, true, 1, 0, 10, false, NULL, 0), -ENOBUFS);
	assert_int_equal(holdq_hold(q, big, 20, true, 1, 0, 10, false, NULL, 0), 0);
	assert_int_equal(holdq_bytes(q), 100);
	assert_int_equal(holdq_hold(q, big, 0, true, 1, 0, 10, false, NULL, 0), -ENOBUFS);
	assert_int_equal(holdq_count(q), 2);
	/* Freeing a queue frees what it still holds (ASan checks). */
	holdq_free(q);
}

static void
reorder_waits_for_the_next_segment_of_its_connection(void **unused)
{
	struct holdq *q = holdq_new(8, 1024);
	uint64_t at;

	(void)unused;
	assert_int_equal(hold(q, 'r', 0, 1000, true, 7), 0);
	assert_int_equal(hold(q, 's', 0, 1000, true, 8), 0);
	assert_int_equal(hold(q, 'd', 0, 200, false, 7), 0);
	holdq_passed(q, true, 7, 5);		/* the other direction */
	holdq_passed(q, false, 9, 5);		/* another connection */
	assert_int_equal(pop_name(q, 5), 0);
	holdq_passed(q, false, 7, 10);
	assert_true(holdq_next_release(q, &at));
	assert_int_equal(at, 10);
	assert_int_equal(pop_name(q, 10), 'r');
	assert_int_equal(pop_name(q, 10), 0);
	holdq_passed(q, false, 7, 20);		/* 'd' does not await the next segment */
	assert_int_equal(pop_name(q, 20), 0);
	assert_int_equal(pop_name(q, 200), 'd');
	assert_int_equal(pop_name(q, 999), 0);
	assert_int_equal(pop_name(q, 1000), 's');	/* its hold ran out */
	holdq_free(q);
}

static void
many_frames_come_out_sorted(void **unused)
{
	struct holdq *q = holdq_new(512, 1 << 20);
	struct holdq_frame *frame;
	uint64_t last = 0, last_order = 0;
	uint32_t x = 12345;

	(void)unused;
	for (int i = 0; i < 500; i++) {
		x = x * 1103515245u + 12345u;
		assert_int_equal(hold(q, (uint8_t)i, 0, (x >> 16) % 64, (x >> 8) & 1, (x >> 4) % 3), 0);
	}
	holdq_passed(q, false, 1, 3);
	holdq_passed(q, false, 2, 40);
	for (int i = 0; i < 500; i++) {
		frame = holdq_pop(q);
		assert_non_null(frame);
		assert_true(frame->release_at_ms > last ||
		    (frame->release_at_ms == last && frame->order > last_order) || i == 0);
		last = frame->release_at_ms;
		last_order = frame->order;
		holdq_frame_free(frame);
	}
	assert_null(holdq_pop(q));
	holdq_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(releases_by_time_then_holding_order),
		cmocka_unit_test(bounds_in_count_and_bytes),
		cmocka_unit_test(reorder_waits_for_the_next_segment_of_its_connection),
		cmocka_unit_test(many_frames_come_out_sorted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
