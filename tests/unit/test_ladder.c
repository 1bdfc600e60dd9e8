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

#define ISS 1000u
#define IRS 5000u
#define EVENTS_MAX 80

struct builder {
	struct engine_timeline timeline;
	struct engine_event events[EVENTS_MAX];
};

static void
builder_init(struct builder *b)
{
	memset(b, 0, sizeof(*b));
	b->timeline.events = b->events;
	b->timeline.conn.id = 7;
	b->timeline.conn.origin = ENGINE_ORIGIN_ACTIVE;
	b->timeline.conn.local.ip = inet_addr("10.9.0.2");
	b->timeline.conn.local.port = 49152;
	b->timeline.conn.remote.ip = inet_addr("10.9.0.1");
	b->timeline.conn.remote.port = 7000;
	b->timeline.conn.state = TCPINFO_TIME_WAIT;
}

static void
add_state(struct builder *b, uint64_t at_us, enum tcpinfo_state from, enum tcpinfo_state to,
    uint8_t cause_kind, uint8_t cause_flags)
{
	struct engine_event *e = &b->events[b->timeline.count++];

	e->kind = ENGINE_EVENT_STATE;
	e->at_us = at_us;
	e->from = from;
	e->to = to;
	e->cause.kind = cause_kind;
	e->cause.flags = cause_flags;
}

/* A segment with relative numbers; its absolute ones follow from ISS and IRS. */
static void
add_segment(struct builder *b, uint64_t at_us, bool outbound, uint8_t flags, uint32_t rel_seq,
    uint32_t rel_ack, uint32_t len, enum tcpinfo_state before, enum tcpinfo_state after,
    enum tcpinfo_step step)
{
	struct engine_event *e = &b->events[b->timeline.count++];

	e->kind = ENGINE_EVENT_SEGMENT;
	e->at_us = at_us;
	e->outbound = outbound;
	e->flags = flags;
	e->has_rel_seq = true;
	e->rel_seq = rel_seq;
	e->seq = rel_seq + (outbound ? ISS : IRS);
	e->has_rel_ack = (flags & TCPINFO_FLAG_ACK) != 0;
	e->rel_ack = e->has_rel_ack ? rel_ack : 0;
	e->ack = e->has_rel_ack ? rel_ack + (outbound ? IRS : ISS) : 0;
	e->len = len;
	e->wnd = 65535;
	e->state_before = before;
	e->state_after = after;
	e->step = step;
}

#define SYN TCPINFO_FLAG_SYN
#define ACK TCPINFO_FLAG_ACK
#define FIN TCPINFO_FLAG_FIN
#define PSH TCPINFO_FLAG_PSH
#define OUT true
#define IN false

/* An active open, data both ways, and an active close through all four teardown steps. */
static void
build_active(struct builder *b)
{
	builder_init(b);
	add_state(b, 1000000, TCPINFO_CLOSED, TCPINFO_SYN_SENT, TCPINFO_CAUSE_API_OPEN, 0);
	add_segment(b, 1000012, OUT, SYN, 0, 0, 0, TCPINFO_SYN_SENT, TCPINFO_SYN_SENT,
	    TCPINFO_STEP_HANDSHAKE_1);
	add_segment(b, 1000420, IN, SYN | ACK, 0, 1, 0, TCPINFO_SYN_SENT, TCPINFO_ESTABLISHED,
	    TCPINFO_STEP_HANDSHAKE_2);
	add_state(b, 1000420, TCPINFO_SYN_SENT, TCPINFO_ESTABLISHED, TCPINFO_CAUSE_RX, SYN | ACK);
	add_segment(b, 1000431, OUT, ACK, 1, 1, 0, TCPINFO_ESTABLISHED, TCPINFO_ESTABLISHED,
	    TCPINFO_STEP_HANDSHAKE_3);
	add_segment(b, 1002000, OUT, PSH | ACK, 1, 1, 5, TCPINFO_ESTABLISHED, TCPINFO_ESTABLISHED,
	    TCPINFO_STEP_DATA);
	add_segment(b, 1002310, IN, ACK, 1, 6, 0, TCPINFO_ESTABLISHED, TCPINFO_ESTABLISHED,
	    TCPINFO_STEP_ACK);
	add_segment(b, 1003000, IN, PSH | ACK, 1, 6, 1460, TCPINFO_ESTABLISHED,
	    TCPINFO_ESTABLISHED, TCPINFO_STEP_DATA);
	add_segment(b, 1003009, OUT, ACK, 6, 1461, 0, TCPINFO_ESTABLISHED, TCPINFO_ESTABLISHED,
	    TCPINFO_STEP_ACK);
	add_state(b, 1500000, TCPINFO_ESTABLISHED, TCPINFO_FIN_WAIT_1, TCPINFO_CAUSE_API_CLOSE, 0);
	add_segment(b, 1500007, OUT, FIN | ACK, 6, 1461, 0, TCPINFO_FIN_WAIT_1,
	    TCPINFO_FIN_WAIT_1, TCPINFO_STEP_TEARDOWN_1);
	add_segment(b, 1500390, IN, ACK, 1461, 7, 0, TCPINFO_FIN_WAIT_1, TCPINFO_FIN_WAIT_2,
	    TCPINFO_STEP_TEARDOWN_2);
	add_state(b, 1500390, TCPINFO_FIN_WAIT_1, TCPINFO_FIN_WAIT_2, TCPINFO_CAUSE_RX, ACK);
	add_segment(b, 1500800, IN, FIN | ACK, 1461, 7, 0, TCPINFO_FIN_WAIT_2, TCPINFO_TIME_WAIT,
	    TCPINFO_STEP_TEARDOWN_3);
	add_state(b, 1500800, TCPINFO_FIN_WAIT_2, TCPINFO_TIME_WAIT, TCPINFO_CAUSE_RX, FIN | ACK);
	add_segment(b, 1500811, OUT, ACK, 7, 1462, 0, TCPINFO_TIME_WAIT, TCPINFO_TIME_WAIT,
	    TCPINFO_STEP_TEARDOWN_4);
}

/* Reads the golden file next to this source. Returns a malloc'd string. */
static char *
read_golden(const char *name)
{
	char path[1024];
	const char *slash = strrchr(__FILE__, '/');
	FILE *f;
	char *text;
	long size;

	snprintf(path, sizeof(path), "%.*s/golden/%s",
	    slash != NULL ? (int)(slash - __FILE__) : 1, slash != NULL ? __FILE__ : ".", name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open the golden file %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	return text;
}

/*
 * Compares byte for byte. On a mismatch prints the output, writes it to
 * NAME.actual in the working directory and names the first line that
 * differs, so that `diff -u` against the golden file shows the rest.
 * Returns whether they match.
 */
static bool
matches_golden(const char *name, const char *actual)
{
	char *expected = read_golden(name);
	char out_path[256];
	size_t i, line = 1;
	bool same;
	FILE *f;

	same = strcmp(expected, actual) == 0;
	if (!same) {
		for (i = 0; expected[i] != '\0' && expected[i] == actual[i]; i++)
			line += expected[i] == '\n';
		snprintf(out_path, sizeof(out_path), "%s.actual", name);
		f = fopen(out_path, "wb");
		if (f != NULL) {
			fprintf(f, "%s", actual);
			fclose(f);
		}
		fprintf(stderr, "ladder differs from tests/unit/golden/%s at line %zu; the output "
		    "is in ./%s: diff -u tests/unit/golden/%s ./%s\n--- actual ---\n%s"
		    "--- end ---\n", name, line, out_path, name, out_path, actual);
	}
	free(expected);
	return same;
}

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

static void
test_golden_active(void **state)
{
	struct builder b;
	char *text = NULL;
	size_t len = 0;
	bool same;

	(void)state;
	build_active(&b);
	assert_int_equal(ladder_render(&b.timeline, &text, &len), 0);
	assert_terminal_safe(text, len);
	same = matches_golden("ladder_active.txt", text);
	free(text);
	assert_true(same);
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
	builder_init(&b);
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
}

/* The events dropped between the head and the tail are marked where they were. */
static void
test_dropped_marked(void **state)
{
	struct builder b;
	char *text = NULL, *mark, *line;
	size_t len = 0, i;

	(void)state;
	builder_init(&b);
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
	build_active(&b);
	b.events[1].state_after = TCPINFO_STATE_COUNT;
	assert_int_equal(ladder_render(&b.timeline, &text, &len), -EINVAL);
	build_active(&b);
	b.timeline.conn.state = TCPINFO_STATE_COUNT;
	assert_int_equal(ladder_render(&b.timeline, &text, &len), -EINVAL);
}

static void
test_empty_timeline(void **state)
{
	struct builder b;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	builder_init(&b);
	b.timeline.conn.state = TCPINFO_SYN_RCVD;
	b.timeline.conn.origin = ENGINE_ORIGIN_PASSIVE;
	assert_int_equal(ladder_render(&b.timeline, &text, &len), 0);
	assert_terminal_safe(text, len);
	assert_non_null(strstr(text, "connection 7, passive open, now SYN_RCVD\n"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_active),
		cmocka_unit_test(test_extremes_fit),
		cmocka_unit_test(test_dropped_marked),
		cmocka_unit_test(test_bad_values_refused),
		cmocka_unit_test(test_empty_timeline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
