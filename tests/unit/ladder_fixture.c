/*
 * ladder_fixture: timelines and golden files for the ladder tests; see
 * ladder_fixture.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ladder_fixture.h"
#include "timeline.h"

#define ISS 1000u
#define IRS 5000u

#define SYN TCPINFO_FLAG_SYN
#define ACK TCPINFO_FLAG_ACK
#define FIN TCPINFO_FLAG_FIN
#define PSH TCPINFO_FLAG_PSH
#define OUT true
#define IN false

void
builder_init(struct builder *b, enum engine_origin origin, enum tcpinfo_state now)
{
	memset(b, 0, sizeof(*b));
	b->timeline.events = b->events;
	b->timeline.conn.id = 7;
	b->timeline.conn.origin = origin;
	b->timeline.conn.local.ip = inet_addr("10.9.0.2");
	b->timeline.conn.local.port = 49152;
	b->timeline.conn.remote.ip = inet_addr("10.9.0.1");
	b->timeline.conn.remote.port = 7000;
	b->timeline.conn.state = now;
	peerstate_init(&b->peer);
}

void
builder_free(struct builder *b)
{
	peerstate_free(&b->peer);
}

void
add_state(struct builder *b, uint64_t at_us, enum tcpinfo_state from, enum tcpinfo_state to,
    uint8_t cause_kind, uint8_t cause_flags)
{
	struct engine_event *e = &b->events[b->timeline.count++];

	assert_true(b->timeline.count <= FIXTURE_EVENTS_MAX);
	e->kind = ENGINE_EVENT_STATE;
	e->at_us = at_us;
	e->from = from;
	e->to = to;
	e->cause.kind = cause_kind;
	e->cause.flags = cause_flags;
}

static struct engine_event *
event_at(void *events, uint64_t n)
{
	return &((struct engine_event *)events)[n];
}

/* Runs the last segment through the peer's inference, as the engine does. */
static void
infer_peer(struct builder *b, struct engine_event *e)
{
	struct peerstate_step step = peerstate_segment(&b->peer, e->outbound, e->flags, e->seq,
	    e->ack, e->len, e->at_us, e->fault.action != FAULT_DROP);

	e->peer_state_before = step.before;
	e->peer_state_after = step.after;
	if (step.patch != PEERSTATE_PATCH_NONE)
		timeline_rewrite_peer(event_at, b->events, b->timeline.count - 1, &step);
}

void
drop_next(struct builder *b, uint64_t rule)
{
	b->drop_rule = rule;
}

void
add_segment(struct builder *b, uint64_t at_us, bool outbound, uint8_t flags, uint32_t rel_seq,
    uint32_t rel_ack, uint32_t len, enum tcpinfo_state before, enum tcpinfo_state after,
    enum tcpinfo_step step)
{
	struct engine_event *e = &b->events[b->timeline.count++];

	assert_true(b->timeline.count <= FIXTURE_EVENTS_MAX);
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
	if (b->drop_rule != 0) {
		e->fault.action = FAULT_DROP;
		e->fault.rule = b->drop_rule;
		b->drop_rule = 0;
	}
	infer_peer(b, e);
}

void
build_active(struct builder *b)
{
	builder_init(b, ENGINE_ORIGIN_ACTIVE, TCPINFO_TIME_WAIT);
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

void
build_passive_peer_close(struct builder *b)
{
	builder_init(b, ENGINE_ORIGIN_PASSIVE, TCPINFO_CLOSED);
	b->timeline.conn.local.port = 9000;
	b->timeline.conn.remote.port = 55232;
	add_segment(b, 2000000, IN, SYN, 0, 0, 0, TCPINFO_LISTEN, TCPINFO_SYN_RCVD,
	    TCPINFO_STEP_HANDSHAKE_1);
	add_state(b, 2000000, TCPINFO_LISTEN, TCPINFO_SYN_RCVD, TCPINFO_CAUSE_RX, SYN);
	add_segment(b, 2000015, OUT, SYN | ACK, 0, 1, 0, TCPINFO_SYN_RCVD, TCPINFO_SYN_RCVD,
	    TCPINFO_STEP_HANDSHAKE_2);
	add_segment(b, 2000160, IN, ACK, 1, 1, 0, TCPINFO_SYN_RCVD, TCPINFO_ESTABLISHED,
	    TCPINFO_STEP_HANDSHAKE_3);
	add_state(b, 2000160, TCPINFO_SYN_RCVD, TCPINFO_ESTABLISHED, TCPINFO_CAUSE_RX, ACK);
	add_segment(b, 2500700, IN, FIN | ACK, 1, 1, 0, TCPINFO_ESTABLISHED, TCPINFO_CLOSE_WAIT,
	    TCPINFO_STEP_TEARDOWN_1);
	add_state(b, 2500700, TCPINFO_ESTABLISHED, TCPINFO_CLOSE_WAIT, TCPINFO_CAUSE_RX, FIN | ACK);
	add_segment(b, 2500712, OUT, ACK, 1, 2, 0, TCPINFO_CLOSE_WAIT, TCPINFO_CLOSE_WAIT,
	    TCPINFO_STEP_TEARDOWN_2);
	add_state(b, 2800000, TCPINFO_CLOSE_WAIT, TCPINFO_LAST_ACK, TCPINFO_CAUSE_API_CLOSE, 0);
	add_segment(b, 2800009, OUT, FIN | ACK, 1, 2, 0, TCPINFO_LAST_ACK, TCPINFO_LAST_ACK,
	    TCPINFO_STEP_TEARDOWN_3);
	add_segment(b, 2800190, IN, ACK, 2, 2, 0, TCPINFO_LAST_ACK, TCPINFO_CLOSED,
	    TCPINFO_STEP_TEARDOWN_4);
	add_state(b, 2800190, TCPINFO_LAST_ACK, TCPINFO_CLOSED, TCPINFO_CAUSE_RX, ACK);
}

/* The open and lwIP's FIN, shared by the three-segment closes. */
static void
build_open_and_fin(struct builder *b)
{
	builder_init(b, ENGINE_ORIGIN_ACTIVE, TCPINFO_TIME_WAIT);
	add_state(b, 1000000, TCPINFO_CLOSED, TCPINFO_SYN_SENT, TCPINFO_CAUSE_API_OPEN, 0);
	add_segment(b, 1000010, OUT, SYN, 0, 0, 0, TCPINFO_SYN_SENT, TCPINFO_SYN_SENT,
	    TCPINFO_STEP_HANDSHAKE_1);
	add_segment(b, 1000300, IN, SYN | ACK, 0, 1, 0, TCPINFO_SYN_SENT, TCPINFO_ESTABLISHED,
	    TCPINFO_STEP_HANDSHAKE_2);
	add_state(b, 1000300, TCPINFO_SYN_SENT, TCPINFO_ESTABLISHED, TCPINFO_CAUSE_RX, SYN | ACK);
	add_segment(b, 1000310, OUT, ACK, 1, 1, 0, TCPINFO_ESTABLISHED, TCPINFO_ESTABLISHED,
	    TCPINFO_STEP_HANDSHAKE_3);
	add_state(b, 1200000, TCPINFO_ESTABLISHED, TCPINFO_FIN_WAIT_1, TCPINFO_CAUSE_API_CLOSE, 0);
	add_segment(b, 1200008, OUT, FIN | ACK, 1, 1, 0, TCPINFO_FIN_WAIT_1, TCPINFO_FIN_WAIT_1,
	    TCPINFO_STEP_TEARDOWN_1);
	add_segment(b, 1200150, IN, FIN | ACK, 1, 2, 0, TCPINFO_FIN_WAIT_1, TCPINFO_TIME_WAIT,
	    TCPINFO_STEP_TEARDOWN_2_3);
	add_state(b, 1200150, TCPINFO_FIN_WAIT_1, TCPINFO_TIME_WAIT, TCPINFO_CAUSE_RX, FIN | ACK);
}

void
build_three_segment_close(struct builder *b)
{
	build_open_and_fin(b);
	add_segment(b, 1200160, OUT, ACK, 2, 2, 0, TCPINFO_TIME_WAIT, TCPINFO_TIME_WAIT,
	    TCPINFO_STEP_TEARDOWN_4);
}

void
build_dropped_final_ack(struct builder *b)
{
	build_open_and_fin(b);
	drop_next(b, 3);
	add_segment(b, 1200160, OUT, ACK, 2, 2, 0, TCPINFO_TIME_WAIT, TCPINFO_TIME_WAIT,
	    TCPINFO_STEP_TEARDOWN_4);
	/* The peer, still in LAST_ACK, sends its FIN again; this ACK gets through. */
	add_segment(b, 1400150, IN, FIN | ACK, 1, 2, 0, TCPINFO_TIME_WAIT, TCPINFO_TIME_WAIT,
	    TCPINFO_STEP_RETRANSMIT);
	add_segment(b, 1400161, OUT, ACK, 2, 2, 0, TCPINFO_TIME_WAIT, TCPINFO_TIME_WAIT,
	    TCPINFO_STEP_ACK);
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

bool
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
		fprintf(stderr, "output differs from tests/unit/golden/%s at line %zu; it is in "
		    "./%s: diff -u tests/unit/golden/%s ./%s\n--- actual ---\n%s--- end ---\n",
		    name, line, out_path, name, out_path, actual);
	}
	free(expected);
	return same;
}
