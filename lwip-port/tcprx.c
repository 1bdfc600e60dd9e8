/*
 * tcprx: the inbound half of the glue. A TCP segment from the wire is
 * matched to its connection (a new one for a listener's SYN), checked
 * against RFC 9293's rules, counted, reported for a verdict, and followed
 * through lwIP to tell what it changed and what lwIP accepted of it.
 */
#include <errno.h>
#include <stdlib.h>

#include <lwip/tcp.h>

#include "stack_internal.h"

/*
 * RFC 9293 drops what lwIP 2.1.3 would take: a segment without ACK in a
 * synchronized state (lwIP moves to CLOSE_WAIT on a bare FIN), and SYN with
 * FIN or RST, which no state accepts (lwIP makes a SYN_RCVD connection of a
 * SYN+FIN). RSTs and SYNs need no ACK.
 */
static enum tcpinfo_drop
rfc_drop(const struct frame_tcp *seg, const struct stack_tcp *t)
{
	uint8_t flags = seg->flags;

	if ((flags & TCPINFO_FLAG_SYN) && (flags & TCPINFO_FLAG_FIN))
		return TCPINFO_DROP_SYN_FIN;
	if ((flags & TCPINFO_FLAG_SYN) && (flags & TCPINFO_FLAG_RST))
		return TCPINFO_DROP_SYN_RST;
	if (t != NULL && !(flags & (TCPINFO_FLAG_ACK | TCPINFO_FLAG_RST | TCPINFO_FLAG_SYN)) &&
	    glue_state(t) >= TCPINFO_SYN_RCVD)
		return TCPINFO_DROP_NO_ACK;
	return TCPINFO_DROP_NONE;
}

/*
 * Whether lwIP 2.1.3 would abort on a segment of t with sequence number seq:
 * one exactly 2^31 from rcv_nxt fails the "insane offset!" assertion in
 * tcp_receive() (for a FIN), whose wrap-around comparison takes it for one
 * that overlaps rcv_nxt. No sequence number that far is in a window (RFC
 * 9293's acceptability test), so such a segment never reaches lwIP, even
 * with --lwip-raw.
 */
static bool
half_space_away(const struct stack_tcp *t, uint32_t seq)
{
	return t != NULL && !t->gone && t->pcb != NULL && seq - t->pcb->rcv_nxt == 0x80000000u;
}

/* Whether the segment arrives now: a fault rule neither lost it nor holds it. */
static bool
arrives(const struct stack_segment *report)
{
	if (report->fault.action == FAULT_DROP)
		return false;
	return report->released ||
	    (report->fault.action != FAULT_DELAY && report->fault.action != FAULT_REORDER);
}

static bool
passes(const struct stack_segment *report)
{
	return arrives(report) && report->drop == TCPINFO_DROP_NONE;
}

/*
 * Counts a segment that arrived, as RFC 4022's tcpInSegs does: also one
 * RFC 9293's rules or a full backlog then drop. A corrupted one counts as an
 * error: lwIP finds its checksum bad.
 */
static void
count_arrival(const struct frame_tcp *seg, const struct stack_segment *report)
{
	struct stack_tcp_totals *totals = &stack_state.totals;

	if (!arrives(report))
		return;
	totals->in_segs++;
	totals->in_errs += !seg->checksum_ok || report->fault.action == FAULT_CORRUPT;
}

/* A SYN that one of lwIP's listeners handles: lwIP's state for it is LISTEN. */
static bool
listener_syn(const struct frame_tcp *seg)
{
	return (seg->flags & (TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK | TCPINFO_FLAG_RST)) ==
	    TCPINFO_FLAG_SYN && glue_listening(seg->dst_port);
}

/*
 * An inbound segment the gate let through, or a held one released:
 * matched to its connection, checked against RFC 9293's rules, decided on
 * and reported. A listener's SYN is decided on before it makes a
 * connection, so that a SYN a rule drops or holds makes none yet. report
 * carries the verdict back; the caller carries it out. Returns -ENOBUFS
 * when a listener's full backlog drops the SYN.
 */
int
glue_rx_segment(const struct frame_tcp *seg, struct glue_rx *rx, struct stack_segment *report)
{
	rx->flags = seg->flags;
	rx->seq = seg->seq;
	rx->t = glue_segment_owner(seg, false);
	if (!report->decided) {
		report->drop = stack_state.lwip_raw ? TCPINFO_DROP_NONE : rfc_drop(seg, rx->t);
		if (report->drop == TCPINFO_DROP_NONE && half_space_away(rx->t, seg->seq))
			report->drop = TCPINFO_DROP_HALF_SPACE;
		stack_state.totals.in_rfc_drops += report->drop != TCPINFO_DROP_NONE;
	}
	if (rx->t == NULL) {
		if (!report->decided) {
			report->listener_syn = listener_syn(seg);
			report->remote_ip = seg->src_ip;
			glue_report_segment(NULL, seg, false, report);
		}
		count_arrival(seg, report);
		if (!passes(report))
			return 0;
		if (glue_passive_begin(seg, &rx->t) < 0)
			return -ENOBUFS;
		if (rx->t == NULL)
			return 0;
		rx->passive = true;
		glue_report_segment(rx->t, seg, false, report);
		return 0;
	}
	glue_report_segment(rx->t, seg, false, report);
	count_arrival(seg, report);
	return 0;
}

/* A segment of rx that never reaches lwIP: its owner hears at once that lwIP is done with it. */
void
glue_rx_dropped(struct glue_rx *rx)
{
	static const struct stack_rx_outcome nothing;

	if (rx->t != NULL)
		stack_state.hooks.segment_done(rx->t->owner, &nothing);
}

/*
 * Whether lwIP would abort on the segment now (see half_space_away()). A
 * segment is checked when it arrives; one a fault rule held is checked
 * again here, just before lwIP, since rcv_nxt moved meanwhile.
 */
bool
glue_rx_unsafe(const struct glue_rx *rx)
{
	return !rx->passive && half_space_away(rx->t, rx->seq);
}

/* Just before lwIP handles the frame: what it changes is the frame's doing. */
void
glue_rx_begin(struct glue_rx *rx)
{
	struct stack_tcp *t = rx->t;

	rx->state_before = t != NULL ? t->last_state : TCPINFO_CLOSED;
	rx->had_pcb = t != NULL && t->pcb != NULL;
	rx->rcv_nxt_before = rx->had_pcb ? t->pcb->rcv_nxt : 0;
	glue_input_begin(t, &rx->saved, glue_cause(TCPINFO_CAUSE_RX, rx->flags));
}

/*
 * What lwIP accepted of the segment: the payload by which rcv_nxt moved (a
 * FIN it took moves it one more), and whether a RST ended the connection.
 * Out-of-sequence data lwIP queued counts once a later segment fills the gap.
 */
static struct stack_rx_outcome
rx_outcome(const struct glue_rx *rx)
{
	struct stack_rx_outcome outcome = { 0 };
	const struct stack_tcp *t = rx->t;
	uint32_t moved;

	if (t->gone) {
		outcome.reset = (rx->flags & TCPINFO_FLAG_RST) != 0;
		return outcome;
	}
	/* Before a SYN, rcv_nxt means nothing yet; lwIP takes no data from one. */
	if (!rx->had_pcb || t->pcb == NULL || (rx->flags & TCPINFO_FLAG_SYN))
		return outcome;
	moved = t->pcb->rcv_nxt - rx->rcv_nxt_before;
	if ((rx->flags & TCPINFO_FLAG_FIN) && moved > 0 && t->last_state != rx->state_before &&
	    (t->last_state == TCPINFO_CLOSE_WAIT || t->last_state == TCPINFO_CLOSING ||
	    t->last_state == TCPINFO_TIME_WAIT))
		moved--;
	outcome.accepted_bytes = moved;
	return outcome;
}

/* After lwIP has handled the frame: report the change it made, then let the owner know it is done. */
void
glue_rx_end(struct glue_rx *rx)
{
	struct tcpinfo_cause cause = glue_cause(TCPINFO_CAUSE_RX, rx->flags);
	struct stack_tcp *t = rx->t;

	struct stack_rx_outcome outcome;

	glue_input_end(&rx->saved);
	if (rx->passive) {
		glue_passive_end(t, cause);
	} else if (t != NULL) {
		if (!t->gone)
			glue_sync_state(t, cause);
		outcome = rx_outcome(rx);
		stack_state.hooks.segment_done(t->owner, &outcome);
		if (t->gone)
			free(t);
	}
}
