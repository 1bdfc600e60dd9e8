/*
 * test_peerstate: the peer's inferred states against what the Linux kernel
 * really went through, for the segment sequences measured on the TAP.
 *
 * Each scenario below is a timeline lwipd recorded against the kernel,
 * and the kernel's own transitions read from its sock:inet_sock_set_state
 * tracepoint for the same connection (names mapped to RFC 9293's). Linux
 * hands a socket entering TIME_WAIT (and an orphan reaching FIN_WAIT_2) to
 * a minisocket the tracepoint does not follow, so it shows "-> CLOSE" where
 * RFC 9293 enters TIME_WAIT: kernel_as_rfc() undoes exactly that.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "peerstate.h"

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

#define CLOSED TCPINFO_CLOSED
#define SYN_SENT TCPINFO_SYN_SENT
#define SYN_RCVD TCPINFO_SYN_RCVD
#define ESTABLISHED TCPINFO_ESTABLISHED
#define FIN_WAIT_1 TCPINFO_FIN_WAIT_1
#define FIN_WAIT_2 TCPINFO_FIN_WAIT_2
#define CLOSE_WAIT TCPINFO_CLOSE_WAIT
#define CLOSING TCPINFO_CLOSING
#define LAST_ACK TCPINFO_LAST_ACK
#define TIME_WAIT TCPINFO_TIME_WAIT
#define END TCPINFO_STATE_COUNT

struct seg {
	bool out;
	uint8_t flags;
	uint32_t seq, ack, len;
	bool dropped;		/* a fault rule dropped it before its receiver */
};

/* Feeds segs at 1 ms apart into a fresh peer. */
static void
feed(struct peerstate *peer, const struct seg *segs, size_t n)
{
	peerstate_init(peer);
	for (size_t i = 0; i < n; i++)
		peerstate_segment(peer, segs[i].out, segs[i].flags, segs[i].seq, segs[i].ack,
		    segs[i].len, 1000 * (i + 1), !segs[i].dropped);
}

/*
 * The kernel's newstates in order, ended by END, as RFC 9293 names them:
 * a CLOSE straight after FIN_WAIT_2 or CLOSING is the TIME_WAIT minisocket.
 */
static size_t
kernel_as_rfc(const enum tcpinfo_state *kernel, enum tcpinfo_state *out)
{
	size_t n;

	for (n = 0; kernel[n] != END; n++) {
		out[n] = kernel[n];
		if (kernel[n] == CLOSED && n > 0 &&
		    (kernel[n - 1] == FIN_WAIT_2 || kernel[n - 1] == CLOSING))
			out[n] = TIME_WAIT;
	}
	return n;
}

static void
assert_history(const struct peerstate *peer, const enum tcpinfo_state *kernel, const char *const *causes)
{
	enum tcpinfo_state want[PEERSTATE_HISTORY_MAX];
	char cause[PEERSTATE_CAUSE_MAX];
	size_t n = kernel_as_rfc(kernel, want);

	if (peer->history_len != n)
		fail_msg("%zu peer transitions, the kernel had %zu", (size_t)peer->history_len, n);
	for (size_t i = 0; i < n; i++) {
		if (peer->history[i].state != want[i])
			fail_msg("transition %zu: %s, the kernel's %s", i,
			    tcpinfo_state_name(peer->history[i].state), tcpinfo_state_name(want[i]));
		peerstate_cause_format(peer->history[i].cause, cause, sizeof(cause));
		assert_string_equal(cause, causes[i]);
	}
	if (n > 0)
		assert_int_equal(peer->state, want[n - 1]);
}

/* Feeds segs into a fresh peer and checks the states it inferred against the kernel's, with their causes. */
static void
expect_history(const struct seg *segs, size_t n, const enum tcpinfo_state *kernel,
    const char *const *causes)
{
	struct peerstate peer;

	feed(&peer, segs, n);
	assert_history(&peer, kernel, causes);
	peerstate_free(&peer);
}

/* lwIP opens and closes first; the kernel ACKs the FIN, then sends its own. */
static void
active_open_closed_by_lwip(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0, false },
		{ IN, S | A, K, L + 1, 0, false },
		{ OUT, A, L + 1, K + 1, 0, false },
		{ OUT, F | A, L + 1, K + 1, 0, false },
		{ IN, A, K + 1, L + 2, 0, false },
		{ IN, F | A, K + 1, L + 2, 0, false },
		{ OUT, A, L + 2, K + 2, 0, false },
	};
	/* LISTEN->SYN_RECV, SYN_RECV->ESTABLISHED, ->CLOSE_WAIT, ->LAST_ACK, LAST_ACK->CLOSE */
	static const enum tcpinfo_state kernel[] = {
		SYN_RCVD, ESTABLISHED, CLOSE_WAIT, LAST_ACK, CLOSED, END
	};
	static const char *const causes[] = {
		"tx:SYN,ACK", "rx:ACK", "rx:FIN,ACK", "tx:FIN,ACK", "rx:ACK"
	};
	struct peerstate peer;

	(void)unused;
	feed(&peer, segs, sizeof(segs) / sizeof(segs[0]));
	assert_history(&peer, kernel, causes);
	/* CLOSE_WAIT is known once the kernel acknowledged the FIN, and dates from the FIN. */
	assert_int_equal(peer.history[2].at_us, 4000);
	peerstate_free(&peer);
}

/* The same, but the kernel's ACK rides on its FIN (peer.py's echo mode). */
static void
active_open_closed_by_lwip_three_segments(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0, false },
		{ IN, S | A, K, L + 1, 0, false },
		{ OUT, A, L + 1, K + 1, 0, false },
		{ OUT, F | A, L + 1, K + 1, 0, false },
		{ IN, F | A, K + 1, L + 2, 0, false },
		{ OUT, A, L + 2, K + 2, 0, false },
	};
	static const enum tcpinfo_state kernel[] = {
		SYN_RCVD, ESTABLISHED, CLOSE_WAIT, LAST_ACK, CLOSED, END
	};
	static const char *const causes[] = {
		"tx:SYN,ACK", "rx:ACK", "rx:FIN,ACK", "tx:FIN,ACK", "rx:ACK"
	};
	(void)unused;
	expect_history(segs, sizeof(segs) / sizeof(segs[0]), kernel, causes);
}

/* lwIP opens, the kernel closes first (close(2): an orphan), lwIP closes after. */
static void
active_open_closed_by_peer(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0, false },
		{ IN, S | A, K, L + 1, 0, false },
		{ OUT, A, L + 1, K + 1, 0, false },
		{ IN, F | A, K + 1, L + 1, 0, false },
		{ OUT, A, L + 1, K + 2, 0, false },
		{ OUT, F | A, L + 1, K + 2, 0, false },
		{ IN, A, K + 2, L + 2, 0, false },
	};
	/* ..., ESTABLISHED->FIN_WAIT1, FIN_WAIT1->FIN_WAIT2, FIN_WAIT2->CLOSE */
	static const enum tcpinfo_state kernel[] = {
		SYN_RCVD, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSED, END
	};
	static const char *const causes[] = {
		"tx:SYN,ACK", "rx:ACK", "tx:FIN,ACK", "rx:ACK", "rx:FIN,ACK"
	};
	(void)unused;
	expect_history(segs, sizeof(segs) / sizeof(segs[0]), kernel, causes);
}

/*
 * Simultaneous close, as measured: both FINs sent before either arrived.
 * lwIP's first FIN was dropped before the wire; the kernel's FIN came,
 * lwIP (CLOSING) acknowledged it and sent its FIN again.
 */
static void
simultaneous_close_first_fin_lost(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0, false },
		{ IN, S | A, K, L + 1, 0, false },
		{ OUT, A, L + 1, K + 1, 0, false },
		{ OUT, F | A, L + 1, K + 1, 0, true },
		{ IN, F | P | A, K + 1, L + 1, 0, false },
		{ OUT, A, L + 2, K + 2, 0, false },
		{ OUT, F | A, L + 1, K + 2, 0, false },
		{ IN, A, K + 2, L + 2, 0, false },
	};
	static const enum tcpinfo_state kernel[] = {
		SYN_RCVD, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSED, END
	};
	static const char *const causes[] = {
		"tx:SYN,ACK", "rx:ACK", "tx:FIN,PSH,ACK", "rx:ACK", "rx:FIN,ACK"
	};
	(void)unused;
	expect_history(segs, sizeof(segs) / sizeof(segs[0]), kernel, causes);
}

/*
 * Simultaneous close, as measured the other way round: the kernel's first
 * FIN was lost before lwIP, so lwIP's FIN reached a kernel in FIN_WAIT_1.
 */
static void
simultaneous_close_peer_in_closing(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0, false },
		{ IN, S | A, K, L + 1, 0, false },
		{ OUT, A, L + 1, K + 1, 0, false },
		{ IN, F | A, K + 1, L + 1, 0, true },
		{ OUT, F | A, L + 1, K + 1, 0, false },
		{ IN, A, K + 2, L + 2, 0, false },
		{ IN, F | A, K + 1, L + 2, 0, false },
		{ OUT, A, L + 2, K + 2, 0, false },
	};
	/* ..., ESTABLISHED->FIN_WAIT1, FIN_WAIT1->CLOSING, CLOSING->CLOSE */
	static const enum tcpinfo_state kernel[] = {
		SYN_RCVD, ESTABLISHED, FIN_WAIT_1, CLOSING, CLOSED, END
	};
	static const char *const causes[] = {
		"tx:SYN,ACK", "rx:ACK", "tx:FIN,ACK", "rx:FIN,ACK", "rx:ACK"
	};
	(void)unused;
	expect_history(segs, sizeof(segs) / sizeof(segs[0]), kernel, causes);
}

/* Crossing FINs with nothing lost: the order shows in the acknowledgements. */
static void
crossing_fins(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0, false },
		{ IN, S | A, K, L + 1, 0, false },
		{ OUT, A, L + 1, K + 1, 0, false },
		{ OUT, F | A, L + 1, K + 1, 0, false },
		{ IN, F | A, K + 1, L + 1, 0, false },
		{ OUT, A, L + 2, K + 2, 0, false },
		{ IN, A, K + 2, L + 2, 0, false },
	};
	static const enum tcpinfo_state kernel[] = {
		SYN_RCVD, ESTABLISHED, FIN_WAIT_1, CLOSING, CLOSED, END
	};
	static const char *const causes[] = {
		"tx:SYN,ACK", "rx:ACK", "tx:FIN,ACK", "rx:FIN,ACK", "rx:ACK"
	};
	(void)unused;
	expect_history(segs, sizeof(segs) / sizeof(segs[0]), kernel, causes);
}

/* No listener: the kernel answers RST from no socket at all. */
static void
refused_open(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0, false },
		{ IN, R | A, 0, L + 1, 0, false },
	};
	static const enum tcpinfo_state kernel[] = { END };
	struct peerstate peer;

	(void)unused;
	feed(&peer, segs, sizeof(segs) / sizeof(segs[0]));
	assert_history(&peer, kernel, NULL);
	assert_int_equal(peer.state, CLOSED);
	peerstate_free(&peer);
}

/* lwIP aborts an established connection with a RST. */
static void
aborted_by_lwip(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0, false },
		{ IN, S | A, K, L + 1, 0, false },
		{ OUT, A, L + 1, K + 1, 0, false },
		{ OUT, R | A, L + 1, K + 1, 0, false },
	};
	static const enum tcpinfo_state kernel[] = { SYN_RCVD, ESTABLISHED, CLOSED, END };
	static const char *const causes[] = { "tx:SYN,ACK", "rx:ACK", "rx:RST,ACK" };
	(void)unused;
	expect_history(segs, sizeof(segs) / sizeof(segs[0]), kernel, causes);
}

/* The kernel connects to an lwIP listener and closes first. */
static void
passive_open(void **unused)
{
	static const struct seg segs[] = {
		{ IN, S, K, 0, 0, false },
		{ OUT, S | A, L, K + 1, 0, false },
		{ IN, A, K + 1, L + 1, 0, false },
		{ IN, F | A, K + 1, L + 1, 0, false },
		{ OUT, A, L + 1, K + 2, 0, false },
		{ OUT, F | A, L + 1, K + 2, 0, false },
		{ IN, A, K + 2, L + 2, 0, false },
	};
	/* CLOSE->SYN_SENT, SYN_SENT->ESTABLISHED, ->FIN_WAIT1, ->FIN_WAIT2, FIN_WAIT2->CLOSE */
	static const enum tcpinfo_state kernel[] = {
		SYN_SENT, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSED, END
	};
	static const char *const causes[] = {
		"tx:SYN", "rx:SYN,ACK", "tx:FIN,ACK", "rx:ACK", "rx:FIN,ACK"
	};
	(void)unused;
	expect_history(segs, sizeof(segs) / sizeof(segs[0]), kernel, causes);
}

/* lwIP's final ACK dropped before the wire: the peer stays in LAST_ACK until the next one. */
static void
dropped_final_ack(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0, false },
		{ IN, S | A, K, L + 1, 0, false },
		{ OUT, A, L + 1, K + 1, 0, false },
		{ OUT, F | A, L + 1, K + 1, 0, false },
		{ IN, F | A, K + 1, L + 2, 0, false },
		{ OUT, A, L + 2, K + 2, 0, true },
	};
	struct peerstate peer;

	(void)unused;
	feed(&peer, segs, sizeof(segs) / sizeof(segs[0]));
	assert_int_equal(peer.state, LAST_ACK);
	/* The peer sends its FIN again; that changes nothing; lwIP's answer gets through. */
	assert_int_equal(peerstate_segment(&peer, IN, F | A, K + 1, L + 2, 0, 9000, true).after, LAST_ACK);
	assert_int_equal(peerstate_segment(&peer, OUT, A, L + 2, K + 2, 0, 9100, true).after, CLOSED);
	assert_int_equal(peer.history[peer.history_len - 1].at_us, 9100);
	peerstate_free(&peer);
}

/* A peer's segment dropped before lwIP was still sent: its FIN moves the peer. */
static void
dropped_inbound_still_sent(void **unused)
{
	static const struct seg segs[] = {
		{ IN, S, K, 0, 0, true },
	};
	struct peerstate peer;

	(void)unused;
	feed(&peer, segs, 1);
	assert_int_equal(peer.state, SYN_SENT);
	peerstate_free(&peer);
}

/* lwIP's FIN beyond a dropped data segment waits until the gap is filled. */
static void
fin_beyond_a_gap_waits(void **unused)
{
	static const struct seg segs[] = {
		{ OUT, S, L, 0, 0, false },
		{ IN, S | A, K, L + 1, 0, false },
		{ OUT, A, L + 1, K + 1, 0, false },
		{ OUT, P | A, L + 1, K + 1, 100, true },
		{ OUT, F | A, L + 101, K + 1, 0, false },
	};
	struct peerstate peer;

	(void)unused;
	feed(&peer, segs, sizeof(segs) / sizeof(segs[0]));
	/* The peer acknowledges only up to the gap: still ESTABLISHED. */
	assert_int_equal(peerstate_segment(&peer, IN, A, K + 1, L + 1, 0, 7000, true).after, ESTABLISHED);
	/* The retransmission fills the gap; the FIN behind it is sent again, and arrives. */
	peerstate_segment(&peer, OUT, P | A, L + 1, K + 1, 100, 8000, true);
	peerstate_segment(&peer, OUT, F | A, L + 101, K + 1, 0, 9000, true);
	assert_int_equal(peerstate_segment(&peer, IN, A, K + 1, L + 102, 0, 9500, true).after, CLOSE_WAIT);
	peerstate_free(&peer);
}

static void
cause_format(void **unused)
{
	char buf[PEERSTATE_CAUSE_MAX];

	(void)unused;
	assert_string_equal(peerstate_cause_format((struct peerstate_cause){ PEERSTATE_CAUSE_RX,
	    F | A }, buf, sizeof(buf)), "rx:FIN,ACK");
	assert_string_equal(peerstate_cause_format((struct peerstate_cause){ 99, 0 }, buf, sizeof(buf)),
	    "unknown");
	/* A short buffer is cut, never overrun. */
	assert_string_equal(peerstate_cause_format((struct peerstate_cause){ PEERSTATE_CAUSE_TX,
	    S | A }, buf, 4), "tx:");
}

/*
 * What each segment reports: lwIP's FIN that nothing crossed is dated at
 * its own segment (PEERSTATE_PATCH_FIN), the next segment finds the peer in
 * CLOSE_WAIT, and a SYN+ACK answering lwIP's SYN shows a listener.
 */
static void
segment_steps(void **unused)
{
	struct peerstate peer;
	struct peerstate_step step;

	(void)unused;
	peerstate_init(&peer);
	step = peerstate_segment(&peer, OUT, S, L, 0, 0, 1000, true);
	assert_int_equal(step.before, CLOSED);
	assert_int_equal(step.after, CLOSED);
	assert_int_equal(step.patch, PEERSTATE_PATCH_NONE);
	step = peerstate_segment(&peer, IN, S | A, K, L + 1, 0, 2000, true);
	assert_int_equal(step.patch, PEERSTATE_PATCH_LISTEN);
	assert_int_equal(step.before, SYN_RCVD);
	assert_int_equal(step.after, SYN_RCVD);
	peerstate_segment(&peer, OUT, A, L + 1, K + 1, 0, 3000, true);
	step = peerstate_segment(&peer, OUT, F | A, L + 1, K + 1, 0, 4000, true);
	assert_int_equal(step.after, ESTABLISHED);	/* pending: nothing tells yet */
	step = peerstate_segment(&peer, IN, F | A, K + 1, L + 2, 0, 5000, true);
	assert_int_equal(step.patch, PEERSTATE_PATCH_FIN);
	assert_int_equal(step.since_us, 4000);
	assert_int_equal(step.before, CLOSE_WAIT);
	assert_int_equal(step.after, LAST_ACK);
	assert_int_equal(peer.history[2].state, CLOSE_WAIT);
	assert_int_equal(peer.history[2].at_us, 4000);
	peerstate_free(&peer);

	/* A segment of the peer's crossed the FIN: it arrived after that, not when sent. */
	peerstate_init(&peer);
	peerstate_segment(&peer, IN, S, K, 0, 0, 1000, true);
	peerstate_segment(&peer, OUT, S | A, L, K + 1, 0, 2000, true);
	peerstate_segment(&peer, IN, A, K + 1, L + 1, 0, 3000, true);
	peerstate_segment(&peer, OUT, F | A, L + 1, K + 1, 0, 4000, true);
	step = peerstate_segment(&peer, IN, P | A, K + 1, L + 1, 10, 5000, true);
	assert_int_equal(step.after, ESTABLISHED);
	step = peerstate_segment(&peer, IN, A, K + 11, L + 2, 0, 6000, true);
	assert_int_equal(step.patch, PEERSTATE_PATCH_NONE);
	assert_int_equal(step.before, CLOSE_WAIT);
	assert_int_equal(peer.history[peer.history_len - 1].at_us, 6000);
	peerstate_free(&peer);
}

/* The history is bounded; when full, the last slot holds the latest state. */
static void
history_is_bounded(void **unused)
{
	struct peerstate peer;

	(void)unused;
	peerstate_init(&peer);
	for (uint32_t i = 0; i < 2 * PEERSTATE_HISTORY_MAX; i++) {
		/* A SYN from the peer, then a RST from it: two transitions a round. */
		peerstate_segment(&peer, IN, S, K + i, 0, 0, i, true);
		peerstate_segment(&peer, IN, R, K + i + 1, 0, 0, i, true);
	}
	assert_int_equal(peer.history_len, PEERSTATE_HISTORY_MAX);
	assert_int_equal(peer.history[PEERSTATE_HISTORY_MAX - 1].state, CLOSED);
	assert_int_equal(peer.state, CLOSED);
	peerstate_free(&peer);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(active_open_closed_by_lwip),
		cmocka_unit_test(active_open_closed_by_lwip_three_segments),
		cmocka_unit_test(active_open_closed_by_peer),
		cmocka_unit_test(simultaneous_close_first_fin_lost),
		cmocka_unit_test(simultaneous_close_peer_in_closing),
		cmocka_unit_test(crossing_fins),
		cmocka_unit_test(refused_open),
		cmocka_unit_test(aborted_by_lwip),
		cmocka_unit_test(passive_open),
		cmocka_unit_test(dropped_final_ack),
		cmocka_unit_test(dropped_inbound_still_sent),
		cmocka_unit_test(fin_beyond_a_gap_waits),
		cmocka_unit_test(cause_format),
		cmocka_unit_test(segment_steps),
		cmocka_unit_test(history_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
