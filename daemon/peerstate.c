/*
 * DESIGN: the peer runs RFC 9293's state machine; we feed it the segments it
 * sent (inbound, as a sender) and the ones it received (outbound segments
 * that reached the wire). On a TAP whose other end is a local stack nothing
 * is lost or reordered except by lwipd's own fault rules, which the caller
 * reports, so a delivered segment is taken to arrive at once and in order.
 *
 * The one thing the wire at our end cannot order is a crossing: lwIP's FIN
 * and segments the peer sent before that FIN reached it. Such a FIN is held
 * as pending until the order is known: a segment of the peer's that
 * acknowledges it was sent after it arrived; one that does not was sent
 * before; and the next segment lwIP delivers arrives after it (FIFO).
 *
 * The rules, where the wire cannot tell, choose the state the peer must at
 * least be in:
 *  1. lwIP's SYN moves nothing: until the SYN+ACK comes back the peer may have
 *     no listener at all (a refused open leaves the peer's history empty).
 *     Once it comes back, the segments (not the history, which follows the
 *     kernel's own socket) show the peer in LISTEN before lwIP's first SYN
 *     that reached it and in SYN_RCVD from that SYN on (PEERSTATE_PATCH_LISTEN).
 *  2. The peer's SYN+ACK shows it in SYN_RCVD ("tx:SYN,ACK"); lwIP's ACK of it
 *     then makes it ESTABLISHED ("rx:ACK").
 *  3. The peer's SYN shows it in SYN_SENT ("tx:SYN"); lwIP's SYN+ACK makes it
 *     ESTABLISHED ("rx:SYN,ACK").
 *  4. The peer's first FIN shows it in FIN_WAIT_1 (from ESTABLISHED or
 *     SYN_RCVD) or LAST_ACK (from CLOSE_WAIT).
 *  5. lwIP's ACK covering the peer's FIN moves it FIN_WAIT_1 -> FIN_WAIT_2,
 *     CLOSING -> TIME_WAIT, LAST_ACK -> CLOSED. The peer does not say when
 *     its own ACK of our FIN reached us, so FIN_WAIT_1 lasts until then.
 *  6. lwIP's FIN, once it has arrived, moves the peer ESTABLISHED ->
 *     CLOSE_WAIT, FIN_WAIT_1 -> CLOSING, FIN_WAIT_2 -> TIME_WAIT. When the
 *     peer has not sent a FIN yet, ours is pending (above): the peer stays
 *     where it is until the order is known. When nothing of the peer's
 *     crossed it, it entered the new state when our FIN was sent, and the
 *     segments since are rewritten to show that (PEERSTATE_PATCH_FIN).
 *  7. A segment carrying both an ACK and a FIN acts as the ACK, then the FIN.
 *  8. A RST either way closes the peer (a peer with no connection stays
 *     CLOSED and records nothing).
 *  9. The peer's TIME_WAIT never ends here: its 2 MSL timer does not show on
 *     the wire, so TIME_WAIT is the state it must at least be in.
 * 10. lwIP's data and FIN beyond a gap (a dropped earlier segment) wait, as
 *     the peer keeps them out of order; the ACK they carry counts at once.
 */
#include "peerstate.h"
#include "histbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
peerstate_init(struct peerstate *peer)
{
	memset(peer, 0, sizeof(*peer));
	peer->state = TCPINFO_CLOSED;
}

void
peerstate_free(struct peerstate *peer)
{
	if (peer == NULL)
		return;
	free(peer->history);
	peer->history = NULL;
	peer->history_len = 0;
	peer->history_cap = 0;
}

/* Enters state with its cause. A full history reuses its last slot, so the latest state stays. */
static void
enter(struct peerstate *peer, enum tcpinfo_state state, uint64_t at_us, uint8_t kind, uint8_t flags)
{
	int slot;

	if (peer->state == state)
		return;
	peer->state = state;
	slot = histbuf_slot((void **)&peer->history, &peer->history_len, &peer->history_cap,
	    sizeof(*peer->history), PEERSTATE_HISTORY_MAX);
	if (slot >= 0)
		peer->history[slot] = (struct peerstate_entry){
			.state = state, .at_us = at_us, .cause = { .kind = kind, .flags = flags },
		};
}

/* lwIP's FIN arrives at the peer (rule 6). */
static void
fin_arrives(struct peerstate *peer, uint8_t flags, uint64_t at_us)
{
	switch (peer->state) {
	case TCPINFO_SYN_RCVD:
	case TCPINFO_ESTABLISHED:
		enter(peer, TCPINFO_CLOSE_WAIT, at_us, PEERSTATE_CAUSE_RX, flags);
		break;
	case TCPINFO_FIN_WAIT_1:
		enter(peer, TCPINFO_CLOSING, at_us, PEERSTATE_CAUSE_RX, flags);
		break;
	case TCPINFO_FIN_WAIT_2:
		enter(peer, TCPINFO_TIME_WAIT, at_us, PEERSTATE_CAUSE_RX, flags);
		break;
	default:
		break;
	}
}

/*
 * The pending FIN is now known to have arrived: when it was sent, unless a
 * segment of the peer's crossed it, in which case it arrived after that.
 */
static void
resolve_pending(struct peerstate *peer, uint64_t at_us, struct peerstate_step *step)
{
	enum tcpinfo_state was = peer->state;

	if (!peer->fin_pending)
		return;
	peer->fin_pending = false;
	if (peer->pending_crossed) {
		fin_arrives(peer, peer->pending_flags, at_us);
		return;
	}
	fin_arrives(peer, peer->pending_flags, peer->pending_at_us);
	if (peer->state != was) {
		step->patch = PEERSTATE_PATCH_FIN;
		step->since_us = peer->pending_at_us;
	}
}

/* A RST closes a peer that has a connection (rule 8). */
static void
reset(struct peerstate *peer, uint8_t kind, uint8_t flags, uint64_t at_us)
{
	peer->fin_pending = false;
	if (peer->state != TCPINFO_CLOSED)
		enter(peer, TCPINFO_CLOSED, at_us, kind, flags);
}

/* The peer sent a segment: what that shows of its state (rules 1, 2, 3, 4). */
static void
peer_sent(struct peerstate *peer, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len,
    uint64_t at_us, struct peerstate_step *step)
{
	bool syn = flags & TCPINFO_FLAG_SYN, fin = flags & TCPINFO_FLAG_FIN;

	if (flags & TCPINFO_FLAG_RST) {
		reset(peer, PEERSTATE_CAUSE_TX, flags, at_us);
		return;
	}
	if (syn && !(flags & TCPINFO_FLAG_ACK)) {
		if (peer->state == TCPINFO_CLOSED)
			enter(peer, TCPINFO_SYN_SENT, at_us, PEERSTATE_CAUSE_TX, flags);
		return;
	}
	if (syn) {
		if (peer->state == TCPINFO_CLOSED || peer->state == TCPINFO_LISTEN ||
		    peer->state == TCPINFO_SYN_SENT) {
			/* It has lwIP's SYN: what lwIP sends next is in order from here. */
			peer->have_rcv_nxt = true;
			peer->rcv_nxt = ack;
			if (peer->state == TCPINFO_CLOSED) {
				/* It answers lwIP's SYN: it was listening, and has been in SYN_RCVD since. */
				step->patch = PEERSTATE_PATCH_LISTEN;
				step->before = TCPINFO_SYN_RCVD;
			}
			enter(peer, TCPINFO_SYN_RCVD, at_us, PEERSTATE_CAUSE_TX, flags);
		}
		return;
	}
	if (!fin || peer->fin_sent)
		return;
	peer->fin_sent = true;
	peer->fin_end = seq + len + 1;
	if (peer->state == TCPINFO_ESTABLISHED || peer->state == TCPINFO_SYN_RCVD)
		enter(peer, TCPINFO_FIN_WAIT_1, at_us, PEERSTATE_CAUSE_TX, flags);
	else if (peer->state == TCPINFO_CLOSE_WAIT)
		enter(peer, TCPINFO_LAST_ACK, at_us, PEERSTATE_CAUSE_TX, flags);
}

/* lwIP's ACK, in order, reached the peer (rules 2 and 5). */
static void
ack_arrives(struct peerstate *peer, uint8_t flags, uint32_t ack, uint64_t at_us)
{
	bool covers_fin = peer->fin_sent && !tcpinfo_seq_lt(ack, peer->fin_end);

	switch (peer->state) {
	case TCPINFO_SYN_RCVD:
		enter(peer, TCPINFO_ESTABLISHED, at_us, PEERSTATE_CAUSE_RX, flags);
		break;
	case TCPINFO_FIN_WAIT_1:
		if (covers_fin)
			enter(peer, TCPINFO_FIN_WAIT_2, at_us, PEERSTATE_CAUSE_RX, flags);
		break;
	case TCPINFO_CLOSING:
		if (covers_fin)
			enter(peer, TCPINFO_TIME_WAIT, at_us, PEERSTATE_CAUSE_RX, flags);
		break;
	case TCPINFO_LAST_ACK:
		if (covers_fin)
			enter(peer, TCPINFO_CLOSED, at_us, PEERSTATE_CAUSE_RX, flags);
		break;
	default:
		break;
	}
}

/* lwIP's segment reached the peer (rules 1, 3, 5, 6, 7, 10). */
static void
peer_received(struct peerstate *peer, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len,
    uint64_t at_us)
{
	bool syn = flags & TCPINFO_FLAG_SYN, fin = flags & TCPINFO_FLAG_FIN;
	uint32_t end = seq + len + syn + fin;

	if (flags & TCPINFO_FLAG_RST) {
		reset(peer, PEERSTATE_CAUSE_RX, flags, at_us);
		return;
	}
	if (syn) {
		/* lwIP's SYN+ACK to a peer whose SYN it answers, or crossing SYNs. */
		peer->have_rcv_nxt = true;
		peer->rcv_nxt = end;
		if (peer->state == TCPINFO_SYN_SENT)
			enter(peer, (flags & TCPINFO_FLAG_ACK) ? TCPINFO_ESTABLISHED : TCPINFO_SYN_RCVD,
			    at_us, PEERSTATE_CAUSE_RX, flags);
		return;
	}
	/* The ACK counts even on a segment out of order; its data and FIN wait. */
	if (flags & TCPINFO_FLAG_ACK)
		ack_arrives(peer, flags, ack, at_us);
	if (peer->have_rcv_nxt) {
		if (tcpinfo_seq_lt(peer->rcv_nxt, seq))
			return;		/* beyond a gap: held out of order */
		if (tcpinfo_seq_lt(peer->rcv_nxt, end))
			peer->rcv_nxt = end;
	}
	if (!fin || peer->fin_pending)
		return;
	if (peer->fin_sent) {
		/* The peer's FIN is seen already, so nothing of its can cross ours. */
		fin_arrives(peer, flags, at_us);
		return;
	}
	peer->fin_pending = true;
	peer->pending_fin_end = end;
	peer->pending_flags = flags;
	peer->pending_at_us = at_us;
	peer->pending_crossed = false;
}

struct peerstate_step
peerstate_segment(struct peerstate *peer, bool outbound, uint8_t flags, uint32_t seq,
    uint32_t ack, uint32_t len, uint64_t at_us, bool delivered)
{
	struct peerstate_step step = { .patch = PEERSTATE_PATCH_NONE };

	if (outbound) {
		/* In order on the wire: a pending FIN arrived before this segment. */
		if (delivered)
			resolve_pending(peer, at_us, &step);
		step.before = peer->state;
		if (delivered)
			peer_received(peer, flags, seq, ack, len, at_us);
		step.after = peer->state;
		return step;
	}
	/* A segment of the peer's that acknowledges our FIN was sent after it
	 * arrived; one that does not was sent before: it crossed our FIN. */
	if (peer->fin_pending && (flags & TCPINFO_FLAG_ACK) &&
	    !tcpinfo_seq_lt(ack, peer->pending_fin_end))
		resolve_pending(peer, at_us, &step);
	else if (peer->fin_pending)
		peer->pending_crossed = true;
	step.before = peer->state;
	peer_sent(peer, flags, seq, ack, len, at_us, &step);
	step.after = peer->state;
	return step;
}

char *
peerstate_cause_format(struct peerstate_cause cause, char *buf, size_t len)
{
	char flags[TCPINFO_TEXT_MAX];

	switch (cause.kind) {
	case PEERSTATE_CAUSE_RX:
	case PEERSTATE_CAUSE_TX:
		snprintf(buf, len, "%s:%s", cause.kind == PEERSTATE_CAUSE_RX ? "rx" : "tx",
		    tcpinfo_flags_format(cause.flags, flags, sizeof(flags)));
		break;
	default:
		snprintf(buf, len, "unknown");
		break;
	}
	return buf;
}
