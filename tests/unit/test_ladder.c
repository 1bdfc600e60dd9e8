#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ladder.h"
#include "ladder_fixture.h"

#define SYN TCPINFO_FLAG_SYN
#define ACK TCPINFO_FLAG_ACK
#define PSH TCPINFO_FLAG_PSH
#define OUT true
#define IN false

/* Every line ends in a newline, is at most LADDER_COLUMNS wide, and is plain ASCII. */
static void
assert_terminal_safe(const char *text, size_t len)
{
	size_t i, column = 0;

	assert_int_equal(strlen(text), len);
	assert_true(len > 0);
	assert_int_equal(text[len - 1], '\n');
	for (i = 0; i < len; i++) {
		if (text[i] == '\n') {
			assert_true(i == 0 || text[i - 1] != ' ');
			column = 0;
			continue;
		}
		assert_true(text[i] >= 0x20 && text[i] < 0x7f);
		column++;
		if (column > LADDER_COLUMNS)
			fail_msg("line wider than %d columns at byte %zu", LADDER_COLUMNS, i);
	}
}

/* Renders b as text and compares it with the golden file. */
static void
check_golden(const struct builder *b, const char *name)
{
	char *text = NULL;
	size_t len = 0;
	bool same;

	assert_int_equal(ladder_render(&b->timeline, &text, &len), 0);
	assert_terminal_safe(text, len);
	same = matches_golden(name, text);
	free(text);
	assert_true(same);
}

/* An active open closed by lwIP, with data both ways: both columns, all four teardown steps. */
static void
test_golden_active(void **state)
{
	struct builder b;

	(void)state;
	build_active(&b);
	check_golden(&b, "ladder_active.txt");
	builder_free(&b);
}

static void
test_golden_passive_peer_close(void **state)
{
	struct builder b;

	(void)state;
	build_passive_peer_close(&b);
	check_golden(&b, "ladder_passive.txt");
	builder_free(&b);
}

/* The teardown-2+3 row says in words that the ACK and the FIN came together. */
static void
test_golden_three_segment_close(void **state)
{
	struct builder b;

	(void)state;
	build_three_segment_close(&b);
	check_golden(&b, "ladder_three_segment.txt");
	builder_free(&b);
}

/* The dropped ACK is drawn lost and names its rule; the peer stays in LAST_ACK until the next. */
static void
test_golden_dropped_final_ack(void **state)
{
	struct builder b;

	(void)state;
	build_dropped_final_ack(&b);
	check_golden(&b, "ladder_dropped_ack.txt");
	builder_free(&b);
}

/* An inbound segment dropped before lwIP: its arrow starts whole at the peer and ends in an x. */
static void
test_lost_inbound(void **state)
{
	struct builder b;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	builder_init(&b, ENGINE_ORIGIN_ACTIVE, TCPINFO_SYN_SENT);
	drop_next(&b, 12);
	add_segment(&b, 5, IN, SYN | ACK, 0, 1, 0, TCPINFO_SYN_SENT, TCPINFO_SYN_SENT,
	    TCPINFO_STEP_HANDSHAKE_2);
	assert_int_equal(ladder_render(&b.timeline, &text, &len), 0);
	assert_terminal_safe(text, len);
	assert_non_null(strstr(text, " x-- <SEQ=0><ACK=1><CTL=SYN,ACK>    handshake-2 "));
	assert_non_null(strstr(text, "(dropped by fault rule 12)\n"));
	/* The peer still sent it: it is in SYN_RCVD. */
	assert_non_null(strstr(text, "SYN_RCVD\n"));
	free(text);
	builder_free(&b);
}

/* A corrupted segment is lost too: its receiver discards it for its checksum. */
static void
test_corrupted_is_lost(void **state)
{
	struct builder b;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	builder_init(&b, ENGINE_ORIGIN_ACTIVE, TCPINFO_ESTABLISHED);
	add_segment(&b, 5, OUT, PSH | ACK, 1, 1, 5, TCPINFO_ESTABLISHED, TCPINFO_ESTABLISHED,
	    TCPINFO_STEP_DATA);
	b.events[b.timeline.count - 1].fault = (struct engine_fault){
		.action = FAULT_CORRUPT, .rule = 4 };
	assert_int_equal(ladder_render(&b.timeline, &text, &len), 0);
	assert_terminal_safe(text, len);
	assert_non_null(strstr(text, " --x <SEQ=1><ACK=1><CTL=PSH,ACK><LEN=5>"));
	assert_non_null(strstr(text, "(corrupted by fault rule 4)\n"));
	free(text);
	builder_free(&b);
}

/* Huge numbers, every flag, unknown relative numbers and long causes still fit. */
static void
test_extremes_fit(void **state)
{
	struct builder b;
	struct engine_event *e;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	builder_init(&b, ENGINE_ORIGIN_ACTIVE, TCPINFO_TIME_WAIT);
	add_segment(&b, 0, IN, 0xff, 4294967295u, 4294967295u, 4294967295u,
	    TCPINFO_ESTABLISHED, TCPINFO_ESTABLISHED, TCPINFO_STEP_HANDSHAKE_1);
	e = &b.events[0];
	e->has_rel_seq = false;
	add_segment(&b, UINT64_MAX, OUT, SYN | ACK, 4294967295u, 4294967295u, 4294967295u,
	    TCPINFO_ESTABLISHED, TCPINFO_CLOSE_WAIT, TCPINFO_STEP_RETRANSMIT);
	add_state(&b, UINT64_MAX, TCPINFO_ESTABLISHED, TCPINFO_CLOSE_WAIT, TCPINFO_CAUSE_RX, 0xff);
	b.timeline.conn.id = UINT64_MAX;
	b.timeline.conn.local.ip = inet_addr("255.255.255.255");
	b.timeline.conn.local.port = 65535;
	b.timeline.conn.remote.ip = inet_addr("255.255.255.254");
	b.timeline.conn.remote.port = 65535;
	assert_int_equal(ladder_render(&b.timeline, &text, &len), 0);
	assert_terminal_safe(text, len);
	/* An unknown number shows as '?', not as a number. */
	assert_non_null(strstr(text, "<SEQ=?>"));
	/* A cut row says so. */
	assert_non_null(strstr(text, "...\n"));
	free(text);
	builder_free(&b);
}

/* The events dropped between the head and the tail are marked where they were. */
static void
test_dropped_marked(void **state)
{
	struct builder b;
	char *text = NULL, *mark, *line;
	size_t len = 0, i;

	(void)state;
	builder_init(&b, ENGINE_ORIGIN_ACTIVE, TCPINFO_TIME_WAIT);
	for (i = 0; i < ENGINE_TIMELINE_HEAD + 2; i++)
		add_segment(&b, 1000 * i, OUT, PSH | ACK, 1 + (uint32_t)i, 1, 1,
		    TCPINFO_ESTABLISHED, TCPINFO_ESTABLISHED, TCPINFO_STEP_DATA);
	b.timeline.dropped = 1234;
	assert_int_equal(ladder_render(&b.timeline, &text, &len), 0);
	assert_terminal_safe(text, len);
	mark = strstr(text, "... 1234 events not kept ...");
	assert_non_null(mark);
	/* Two header lines and the head come before it. */
	line = text;
	for (i = 0; i < 2 + ENGINE_TIMELINE_HEAD; i++)
		line = strchr(line, '\n') + 1;
	assert_true(mark > line && mark < strchr(line, '\n'));
	free(text);

	/* Nothing dropped: no mark. */
	b.timeline.dropped = 0;
	assert_int_equal(ladder_render(&b.timeline, &text, &len), 0);
	assert_null(strstr(text, "not kept"));
	free(text);
	builder_free(&b);
}

static void
test_bad_values_refused(void **state)
{
	struct builder b;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	build_active(&b);
	b.events[3].to = TCPINFO_STATE_COUNT;
	assert_int_equal(ladder_render(&b.timeline, &text, &len), -EINVAL);
	assert_null(text);
	builder_free(&b);
	build_active(&b);
	b.events[1].state_after = TCPINFO_STATE_COUNT;
	assert_int_equal(ladder_render(&b.timeline, &text, &len), -EINVAL);
	builder_free(&b);
	build_active(&b);
	b.timeline.conn.state = TCPINFO_STATE_COUNT;
	assert_int_equal(ladder_render(&b.timeline, &text, &len), -EINVAL);
	builder_free(&b);
	build_active(&b);
	b.events[1].peer_state_after = TCPINFO_STATE_COUNT;
	assert_int_equal(ladder_render(&b.timeline, &text, &len), -EINVAL);
	builder_free(&b);
}

static void
test_empty_timeline(void **state)
{
	struct builder b;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	builder_init(&b, ENGINE_ORIGIN_ACTIVE, TCPINFO_TIME_WAIT);
	b.timeline.conn.state = TCPINFO_SYN_RCVD;
	b.timeline.conn.origin = ENGINE_ORIGIN_PASSIVE;
	assert_int_equal(ladder_render(&b.timeline, &text, &len), 0);
	assert_terminal_safe(text, len);
	assert_non_null(strstr(text, "connection 7, passive open, now SYN_RCVD\n"));
	free(text);
	builder_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_active),
		cmocka_unit_test(test_golden_passive_peer_close),
		cmocka_unit_test(test_golden_three_segment_close),
		cmocka_unit_test(test_golden_dropped_final_ack),
		cmocka_unit_test(test_lost_inbound),
		cmocka_unit_test(test_corrupted_is_lost),
		cmocka_unit_test(test_extremes_fit),
		cmocka_unit_test(test_dropped_marked),
		cmocka_unit_test(test_bad_values_refused),
		cmocka_unit_test(test_empty_timeline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
