/*
 * test_engine_peer: the peer's states on each recorded segment agree with
 * its history, for every lifecycle, once segments.c has rewritten what a
 * later segment showed (a FIN that reached the peer, a listener).
 */
#include <stdlib.h>

#include "unit_helpers.h"

#define S TCPINFO_FLAG_SYN
#define A TCPINFO_FLAG_ACK
#define F TCPINFO_FLAG_FIN
#define R TCPINFO_FLAG_RST
#define P TCPINFO_FLAG_PSH
#define OUT true
#define IN false

/* lwIP's and the peer's initial sequence numbers. */
#define L 1000u
#define K 5000u

struct seg {
	bool out;
	uint8_t flags;
	uint32_t seq, ack, len;
};

/* Feeds segs 1 ms apart, lwIP's state left as it is. */
static void
feed(struct stack_tcp *tcp, const struct seg *segs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fake_advance_ms(1);
		fake_segment(tcp, segs[i].out, segs[i].flags, segs[i].seq, segs[i].ack, segs[i].len,
		    tcp->state);
	}
}

/* Appends state unless it repeats the last one. */
static void
note(enum tcpinfo_state *seen, size_t *n, enum tcpinfo_state state)
{
	if (*n == 0 || seen[*n - 1] != state)
		seen[(*n)++] = state;
}

/*
 * The distinct peer states over the segments' before and after: first,
 * the state the peer started in, then exactly the states of peer_history.
 */
static void
assert_segments_follow_history(struct engine *engine, uint64_t id, enum tcpinfo_state first)
{
	enum tcpinfo_state seen[2 * 32 + 1] = { 0 };
	struct engine_timeline timeline;
	size_t n = 0;

	assert_int_equal(engine_timeline(engine, id, &timeline), ENGINE_OK);
	for (size_t i = 0; i < timeline.count; i++) {
		const struct engine_event *event = &timeline.events[i];

		if (event->kind != ENGINE_EVENT_SEGMENT)
			continue;
		assert_true(n + 2 <= sizeof(seen) / sizeof(seen[0]));
		note(seen, &n, event->peer_state_before);
		note(seen, &n, event->peer_state_after);
	}
	assert_true(n > 0);
	assert_int_equal(seen[0], first);
	assert_int_equal(n - 1, timeline.conn.peer_history_len);
	for (size_t i = 0; i + 1 < n; i++)
		assert_int_equal(seen[i + 1], timeline.conn.peer_history[i].state);
	engine_timeline_free(&timeline);
}

/* The segment event numbered index among the segments (0: the first). */
static struct engine_event
segment_event(struct engine *engine, uint64_t id, size_t index)
{
	struct engine_timeline timeline;
	struct engine_event out = { 0 };

	assert_int_equal(engine_timeline(engine, id, &timeline), ENGINE_OK);
	for (size_t i = 0; i < timeline.count; i++) {
		if (timeline.events[i].kind != ENGINE_EVENT_SEGMENT)
			continue;
		if (index-- == 0) {
			out = timeline.events[i];
			break;
		}
	}
	engine_timeline_free(&timeline);
	assert_int_equal(out.kind, ENGINE_EVENT_SEGMENT);
	return out;
}

static void
run_active(const struct seg *segs, size_t n, enum tcpinfo_state first)
{
	struct engine *engine = unit_start();
	struct stack_tcp *tcp;
	uint64_t id = unit_open(engine, &tcp);

	feed(tcp, segs, n);
	assert_segments_follow_history(engine, id, first);
	unit_end(engine);
}

#define RUN_ACTIVE(segs, first) run_active(segs, sizeof(segs) / sizeof(segs[0]), first)

/* lwIP closes first, the peer answers with a three-segment close. */
static void
closed_by_lwip_three_segments(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0 }, { IN, S | A, K, L + 1, 0 }, { OUT, A, L + 1, K + 1, 0 },
		{ OUT, F | A, L + 1, K + 1, 0 }, { IN, F | A, K + 1, L + 2, 0 },
		{ OUT, A, L + 2, K + 2, 0 },
	};
	struct engine_conn_view view;
	struct engine_event event;
	struct engine *engine;
	struct stack_tcp *tcp;
	uint64_t id;

	(void)unused;
	RUN_ACTIVE(segs, TCPINFO_LISTEN);
	/* teardown-1 takes the peer to CLOSE_WAIT, dated at that segment. */
	engine = unit_start();
	id = unit_open(engine, &tcp);
	feed(tcp, segs, sizeof(segs) / sizeof(segs[0]));
	event = segment_event(engine, id, 3);
	assert_int_equal(event.step, TCPINFO_STEP_TEARDOWN_1);
	assert_int_equal(event.peer_state_before, TCPINFO_ESTABLISHED);
	assert_int_equal(event.peer_state_after, TCPINFO_CLOSE_WAIT);
	assert_int_equal(engine_get(engine, id, &view), ENGINE_OK);
	assert_int_equal(view.peer_history[2].state, TCPINFO_CLOSE_WAIT);
	assert_int_equal(view.peer_history[2].at_us, event.at_us);
	/* handshake-1 found a listener and left it in SYN_RCVD. */
	event = segment_event(engine, id, 0);
	assert_int_equal(event.peer_state_before, TCPINFO_LISTEN);
	assert_int_equal(event.peer_state_after, TCPINFO_SYN_RCVD);
	unit_end(engine);
}

static void
closed_by_lwip_four_segments(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0 }, { IN, S | A, K, L + 1, 0 }, { OUT, A, L + 1, K + 1, 0 },
		{ OUT, F | A, L + 1, K + 1, 0 }, { IN, A, K + 1, L + 2, 0 },
		{ IN, F | A, K + 1, L + 2, 0 }, { OUT, A, L + 2, K + 2, 0 },
	};

	(void)unused;
	RUN_ACTIVE(segs, TCPINFO_LISTEN);
}

/* Data the peer sent before lwIP's FIN reached it crosses that FIN. */
static void
closed_by_lwip_crossing_data(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0 }, { IN, S | A, K, L + 1, 0 }, { OUT, A, L + 1, K + 1, 0 },
		{ OUT, F | A, L + 1, K + 1, 0 }, { IN, P | A, K + 1, L + 1, 10 },
		{ IN, F | A, K + 11, L + 2, 0 }, { OUT, A, L + 2, K + 12, 0 },
	};

	(void)unused;
	RUN_ACTIVE(segs, TCPINFO_LISTEN);
}

static void
closed_by_peer(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0 }, { IN, S | A, K, L + 1, 0 }, { OUT, A, L + 1, K + 1, 0 },
		{ IN, F | A, K + 1, L + 1, 0 }, { OUT, A, L + 1, K + 2, 0 },
		{ OUT, F | A, L + 1, K + 2, 0 }, { IN, A, K + 2, L + 2, 0 },
	};

	(void)unused;
	RUN_ACTIVE(segs, TCPINFO_LISTEN);
}

static void
simultaneous_close(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0 }, { IN, S | A, K, L + 1, 0 }, { OUT, A, L + 1, K + 1, 0 },
		{ OUT, F | A, L + 1, K + 1, 0 }, { IN, F | A, K + 1, L + 1, 0 },
		{ OUT, A, L + 2, K + 2, 0 }, { IN, A, K + 2, L + 2, 0 },
	};

	(void)unused;
	RUN_ACTIVE(segs, TCPINFO_LISTEN);
}

/* A refused open never had a listener: CLOSED throughout. */
static void
refused(void **unused)
{
	static const struct seg segs[] = { { OUT, S, L, 0, 0 }, { IN, R | A, 0, L + 1, 0 } };

	(void)unused;
	RUN_ACTIVE(segs, TCPINFO_CLOSED);
}

static void
aborted_by_lwip(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0 }, { IN, S | A, K, L + 1, 0 }, { OUT, A, L + 1, K + 1, 0 },
		{ OUT, R | A, L + 1, K + 1, 0 },
	};

	(void)unused;
	RUN_ACTIVE(segs, TCPINFO_LISTEN);
}

/* The peer opens (lwIP listens) and closes first. */
static void
passive_open(void **unused)
{
	static const struct seg segs[] = {
		{ IN, S, K, 0, 0 }, { OUT, S | A, L, K + 1, 0 }, { IN, A, K + 1, L + 1, 0 },
		{ IN, F | A, K + 1, L + 1, 0 }, { OUT, A, L + 1, K + 2, 0 },
		{ OUT, F | A, L + 1, K + 2, 0 }, { IN, A, K + 2, L + 2, 0 },
	};
	struct engine *engine = unit_start();
	struct engine_listener_view listener;
	struct stack_tcp *tcp;

	(void)unused;
	assert_int_equal(engine_listen(engine, 7001, 8, &listener), 0);
	tcp = fake_passive_open(fake_listener(7001), UNIT_REMOTE_IP, 40000);
	assert_non_null(tcp);
	feed(tcp, segs, sizeof(segs) / sizeof(segs[0]));
	/* The engine's first connection: id 1. */
	assert_segments_follow_history(engine, 1, TCPINFO_CLOSED);
	unit_end(engine);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(closed_by_lwip_three_segments),
		cmocka_unit_test(closed_by_lwip_four_segments),
		cmocka_unit_test(closed_by_lwip_crossing_data),
		cmocka_unit_test(closed_by_peer),
		cmocka_unit_test(simultaneous_close),
		cmocka_unit_test(refused),
		cmocka_unit_test(aborted_by_lwip),
		cmocka_unit_test(passive_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
