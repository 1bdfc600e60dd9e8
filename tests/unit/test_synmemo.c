#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "synmemo.h"

static struct stack_segment
syn(uint32_t remote_ip, uint16_t remote_port, uint32_t seq)
{
	return (struct stack_segment){
		.flags = TCPINFO_FLAG_SYN, .seq = seq, .local_port = 7100,
		.remote_port = remote_port, .listener_syn = true, .remote_ip = remote_ip,
	};
}

/* Two drops of one 4-tuple come back oldest first, once each; other 4-tuples stay. */
static void
taken_by_tuple_oldest_first(void **unused)
{
	static struct synmemo memo;
	struct stack_segment a = syn(1, 40000, 10), b = syn(1, 40001, 20), probe = syn(1, 40000, 99);
	struct synmemo_entry out;
	uint8_t frame[300];

	(void)unused;
	memset(frame, 0xab, sizeof(frame));
	a.frame = frame;
	a.frame_len = sizeof(frame);
	a.headers_len = 250;
	synmemo_remember(&memo, &a, 100);
	synmemo_remember(&memo, &b, 150);
	a.seq = 11;
	synmemo_remember(&memo, &a, 200);
	assert_true(synmemo_has(&memo, &probe, 300));
	assert_true(synmemo_take(&memo, &probe, 300, &out));
	assert_int_equal(out.segment.seq, 10);
	assert_int_equal(out.at_us, 100);
	/* The frame is a copy, cut to the bound. */
	assert_ptr_equal(out.segment.frame, out.frame);
	assert_int_equal(out.segment.frame_len, SYNMEMO_FRAME_MAX);
	assert_int_equal(out.segment.headers_len, SYNMEMO_FRAME_MAX);
	assert_int_equal(out.frame[SYNMEMO_FRAME_MAX - 1], 0xab);
	assert_true(synmemo_take(&memo, &probe, 300, &out));
	assert_int_equal(out.segment.seq, 11);
	assert_false(synmemo_take(&memo, &probe, 300, &out));
	assert_false(synmemo_has(&memo, &probe, 300));
	probe.remote_ip = 2;
	probe.remote_port = 40001;
	assert_false(synmemo_has(&memo, &probe, 300));
	probe.remote_ip = 1;
	assert_true(synmemo_take(&memo, &probe, 300, &out));
	assert_null(out.segment.frame);
	assert_int_equal(out.segment.seq, 20);
}

/* Bounded: the oldest is evicted when full, and an entry is forgotten after SYNMEMO_TTL_US. */
static void
bounded_and_expiring(void **unused)
{
	static struct synmemo memo;
	struct stack_segment s;
	struct synmemo_entry out;

	(void)unused;
	for (uint16_t i = 0; i <= SYNMEMO_MAX; i++) {
		s = syn(1, (uint16_t)(40000 + i), i);
		synmemo_remember(&memo, &s, 1000 + i);
	}
	s = syn(1, 40000, 0);
	assert_false(synmemo_has(&memo, &s, 2000));	/* the first, evicted */
	s = syn(1, 40001, 0);
	assert_true(synmemo_has(&memo, &s, 1001 + SYNMEMO_TTL_US));
	assert_false(synmemo_take(&memo, &s, 1002 + SYNMEMO_TTL_US, &out));
	s = syn(1, 40000 + SYNMEMO_MAX, 0);
	assert_true(synmemo_take(&memo, &s, 1000 + SYNMEMO_MAX + SYNMEMO_TTL_US, &out));
	assert_int_equal(out.segment.seq, SYNMEMO_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(taken_by_tuple_oldest_first),
		cmocka_unit_test(bounded_and_expiring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
