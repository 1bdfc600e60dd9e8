/*
 * faultpath: every TCP segment between lwIP and the TAP passes here, in both
 * directions, and here the verdict of the fault rules is carried out: drop,
 * corrupt, duplicate, or hold back (delay, reorder) and release later.
 *
 * DESIGN
 *
 * The glue reports each segment to the engine, which labels it, decides
 * its fate and records it in its connection's timeline. A dropped outbound
 * segment is one lwIP sent and the wire never carried; a dropped inbound
 * one is one the wire carried and lwIP never saw, so its owner hears at
 * once that lwIP is done with it. A held segment is recorded when it goes
 * on, keeping the step it was given when it was held.
 *
 * Held frames wait in a bounded holdq. They are released by one lwIP timer
 * on the core thread, never from inside lwIP's output (where handing a
 * frame to lwIP would re-enter it) nor by a thread without the core lock. A
 * timer set from the TAP reader would wait for lwIP's thread to wake on its
 * own (up to its next timer), so arming one also wakes it. A reorder-held frame is due as soon as the next segment of its
 * connection in its direction has passed; the timer then fires at once. The
 * rules learn before they decide whether the hold has room for the frame: a
 * delay or reorder rule then does not act on a frame that would not fit,
 * which passes unharmed (or meets a later rule) and is counted as an
 * overflow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lwip/sys.h>
#include <lwip/timeouts.h>

#include "holdq.h"
#include "stack_internal.h"

#define TCP_URGENT_POINTER_LOW 19	/* a header byte that no check other than the checksum reads */

static struct {
	struct holdq *held;
	bool timer_armed;
	uint64_t timer_at_ms;
	uint8_t *scratch;	/* a corrupted copy of one frame; the core lock serialises its use */
} path;

static void release_timer(void *arg);

static uint64_t
now_ms(void)
{
	return sys_now();
}

/* Arms the release timer for the earliest held frame, unless it is armed for then already. */
static void
arm_release(void)
{
	uint64_t at, now = now_ms();

	if (!holdq_next_release(path.held, &at) || (path.timer_armed && path.timer_at_ms <= at))
		return;
	if (path.timer_armed)
		sys_untimeout(release_timer, NULL);
	sys_timeout(at > now ? (u32_t)(at - now) : 0, release_timer, NULL);
	path.timer_armed = true;
	path.timer_at_ms = at;
	stack_wake_core();
}

static void
count_held(void)
{
	stack_state.totals.held = holdq_count(path.held);
	stack_state.totals.held_bytes = holdq_bytes(path.held);
}

static uint64_t
segment_key(const struct frame_tcp *seg, bool outbound)
{
	if (outbound)
		return frame_conn_key(seg->dst_ip, seg->src_port, seg->dst_port);
	return frame_conn_key(seg->src_ip, seg->dst_port, seg->src_port);
}

/* Copies the frame with one byte of its TCP segment flipped, so that its checksum fails. */
static const uint8_t *
corrupted(const uint8_t *frame, size_t len, const struct frame_tcp *seg)
{
	const uint8_t *ip = frame + FRAME_ETH_HEADER_LEN;
	/* The last payload byte: Ethernet padding after the IP datagram is not checksummed. */
	size_t at = FRAME_ETH_HEADER_LEN + (size_t)((ip[2] << 8) | ip[3]) - 1;

	memcpy(path.scratch, frame, len);
	if (seg->payload_len == 0)
		at = FRAME_ETH_HEADER_LEN + (size_t)(ip[0] & 0x0f) * 4 + TCP_URGENT_POINTER_LOW;
	path.scratch[at] = (uint8_t)~path.scratch[at];
	return path.scratch;
}

/* Before the rules decide: whether the hold has room for the frame. */
static void
ask_room(size_t len, struct stack_segment *report)
{
	report->hold_full = !holdq_room(path.held, len);
}

/* After they decided: a hold rule that found no room. */
static void
count_overflow(const struct stack_segment *report)
{
	stack_state.totals.hold_overflows += report->fault.overflow_rule != 0;
}

/*
 * Holds a frame its verdict holds back. Returns false when no memory is
 * left for the copy: the frame then goes on as if no rule had matched.
 */
static bool
hold(const uint8_t *frame, size_t len, const struct frame_tcp *seg, struct stack_segment *report)
{
	/* sys_now() counts whole milliseconds: one more makes the hold at least hold_ms. */
	int rc = holdq_hold(path.held, frame, len, report->outbound,
	    segment_key(seg, report->outbound), now_ms() + 1, report->fault.hold_ms,
	    report->fault.action == FAULT_REORDER, report, sizeof(*report));

	if (rc < 0) {
		report->fault.action = FAULT_NONE;
		report->released = true;
		return false;
	}
	count_held();
	arm_release();
	return true;
}

/* A segment passed: frames held until the next one of its connection and direction are due. */
static void
passed(const struct frame_tcp *seg, bool outbound)
{
	if (holdq_count(path.held) == 0)
		return;
	holdq_passed(path.held, outbound, segment_key(seg, outbound), now_ms());
	arm_release();
}

static err_t
send_out(const uint8_t *frame, size_t len, const struct frame_tcp *seg, struct stack_segment *report)
{
	err_t err;

	switch (report->fault.action) {
	case FAULT_DROP:
		return ERR_OK;
	case FAULT_CORRUPT:
		return tapnetif_write(corrupted(frame, len, seg), len);
	case FAULT_DUPLICATE:
		err = tapnetif_write(frame, len);
		if (err == ERR_OK && !report->copy) {
			report->copy = true;
			glue_segment_out(seg, report);
			err = tapnetif_write(frame, len);
		}
		break;
	default:
		err = tapnetif_write(frame, len);
		break;
	}
	passed(seg, true);
	return err;
}

err_t
faultpath_output(const uint8_t *frame, size_t len)
{
	struct stack_segment report = { 0 };
	struct frame_tcp seg;

	if (frame_parse_tcp(frame, len, &seg) < 0)
		return tapnetif_write(frame, len);
	ask_room(len, &report);
	glue_segment_out(&seg, &report);
	count_overflow(&report);
	if ((report.fault.action == FAULT_DELAY || report.fault.action == FAULT_REORDER) &&
	    hold(frame, len, &seg, &report))
		return ERR_OK;	/* lwIP takes it as sent */
	if (report.released)
		glue_segment_out(&seg, &report);	/* not held, for want of memory: recorded as it goes */
	return send_out(frame, len, &seg, &report);
}

/* Carries out an inbound segment's verdict, once the glue has reported it. */
static void
take_in(const uint8_t *frame, size_t len, const struct frame_tcp *seg, struct glue_rx *rx,
    struct stack_segment *report)
{
	struct glue_rx again = { 0 };

	if (report->drop != TCPINFO_DROP_NONE || report->fault.action == FAULT_DROP) {
		glue_rx_dropped(rx);
		return;
	}
	switch (report->fault.action) {
	case FAULT_CORRUPT:
		tapnetif_feed(corrupted(frame, len, seg), len, rx);
		break;
	case FAULT_DUPLICATE:
		tapnetif_feed(frame, len, rx);
		report->copy = true;
		if (glue_rx_segment(seg, &again, report) == 0)
			tapnetif_feed(frame, len, &again);
		break;
	default:
		tapnetif_feed(frame, len, rx);
		break;
	}
	passed(seg, false);
}

void
faultpath_input(const uint8_t *frame, size_t len, const struct frame_tcp *seg)
{
	struct stack_segment report = { 0 };
	struct glue_rx rx = { 0 };
	int rc;

	ask_room(len, &report);
	rc = glue_rx_segment(seg, &rx, &report);
	count_overflow(&report);
	if (rc < 0) {
		/* A full backlog drops the SYN, as a kernel does; the peer retries. */
		stack_state.iface.rx_dropped++;
		return;
	}
	if ((report.fault.action == FAULT_DELAY || report.fault.action == FAULT_REORDER) &&
	    !report.released) {
		/* The owner hears now that lwIP has nothing of it yet; it hears again on release. */
		glue_rx_dropped(&rx);
		if (hold(frame, len, seg, &report))
			return;
		rx = (struct glue_rx){ 0 };
		if (glue_rx_segment(seg, &rx, &report) < 0) {
			stack_state.iface.rx_dropped++;
			return;
		}
	}
	take_in(frame, len, seg, &rx, &report);
}

/* A held frame goes on: reported again, now to be recorded, then written or handed to lwIP. */
static void
release(struct holdq_frame *held)
{
	struct stack_segment report;
	struct glue_rx rx = { 0 };
	struct frame_tcp seg;

	memcpy(&report, held->meta, sizeof(report));
	report.released = true;
	if (frame_parse_tcp(held->bytes, held->len, &seg) < 0)
		return;
	if (held->outbound) {
		glue_segment_out(&seg, &report);
		send_out(held->bytes, held->len, &seg, &report);
		return;
	}
	if (glue_rx_segment(&seg, &rx, &report) < 0) {
		stack_state.iface.rx_dropped++;
		return;
	}
	take_in(held->bytes, held->len, &seg, &rx, &report);
}

static void
release_timer(void *arg)
{
	struct holdq_frame *held;

	(void)arg;
	path.timer_armed = false;
	while ((held = holdq_pop_due(path.held, now_ms())) != NULL) {
		count_held();
		release(held);
		holdq_frame_free(held);
	}
	count_held();
	arm_release();
}

int
faultpath_start(size_t hold_max, size_t hold_bytes)
{
	path.held = holdq_new(hold_max, hold_bytes);
	path.scratch = malloc(FRAME_MAX_LEN);
	if (path.held == NULL || path.scratch == NULL) {
		faultpath_stop();
		return -ENOMEM;
	}
	return 0;
}

/* Held frames are let go unsent: the daemon is stopping, as a wire that is cut loses what it carried. */
void
faultpath_stop(void)
{
	if (path.timer_armed)
		sys_untimeout(release_timer, NULL);
	path.timer_armed = false;
	holdq_free(path.held);
	path.held = NULL;
	free(path.scratch);
	path.scratch = NULL;
}
