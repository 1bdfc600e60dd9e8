/*
 * peerstate: the remote end's RFC 9293 state, inferred from the segments
 * seen at lwIP's side of the TAP.
 *
 * Pure bookkeeping: no lwIP, no I/O, no lock and no clock. The engine embeds
 * one struct peerstate per connection and calls peerstate_segment() for every
 * segment of it, in the order they cross the TAP, with the core lock held,
 * and peerstate_free() when the connection goes.
 *
 * The causes in a peer's history are written from the peer's side:
 *   "rx:<flags>"   the peer received a segment of lwIP's with these flags
 *                  (an outbound segment that reached the wire);
 *   "tx:<flags>"   the peer sent a segment with these flags (an inbound
 *                  segment, whether or not it then reached lwIP).
 * lwIP's aborts need no cause of their own: the glue reports the RST an
 * abort sends like any other segment.
 * Flags are named and ordered as tcpinfo_flags_format() writes them.
 */
#ifndef LWIPD_PEERSTATE_H
#define LWIPD_PEERSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpinfo.h"

/* RFC 9293's longest path has nine states; a peer's history never needs more. */
#define PEERSTATE_HISTORY_MAX 16

enum peerstate_cause_kind {
	PEERSTATE_CAUSE_RX = 0,		/* "rx:<flags>" */
	PEERSTATE_CAUSE_TX,		/* "tx:<flags>" */
	PEERSTATE_CAUSE_KIND_COUNT
};

struct peerstate_cause {
	uint8_t kind;	/* enum peerstate_cause_kind */
	uint8_t flags;	/* TCPINFO_FLAG_* of the segment, for RX and TX */
};

/* at_us first: 16 bytes rather than 24. */
struct peerstate_entry {
	uint64_t at_us;
	enum tcpinfo_state state;	/* the state entered */
	struct peerstate_cause cause;
};

/*
 * One peer. Embedded in a connection and initialised by peerstate_init();
 * every member is read-only outside peerstate.c.
 */
struct peerstate {
	enum tcpinfo_state state;
	/* What the peer has received of lwIP's sequence space, in order. */
	uint32_t rcv_nxt;
	/* The peer's own FIN, once seen: the sequence number after it. */
	uint32_t fin_end;
	/* lwIP's FIN, delivered but not yet known to have arrived before or
	 * after the peer's crossing segments (see peerstate.c). */
	uint32_t pending_fin_end;
	uint64_t pending_at_us;	/* when that FIN reached the wire */
	bool pending_crossed;	/* a segment of the peer's crossed it */
	bool have_rcv_nxt;
	bool fin_sent;
	bool fin_pending;
	uint8_t pending_flags;
	uint32_t history_len;
	uint32_t history_cap;	/* allocated (histbuf.h), at most PEERSTATE_HISTORY_MAX */
	struct peerstate_entry *history;
};

/* Long enough for any formatted cause, with its NUL. */
#define PEERSTATE_CAUSE_MAX 48

/*
 * Starts a peer in CLOSED with an empty history, for either kind of open:
 * the segments tell which (a SYN+ACK from the peer shows a listener's
 * connection, a SYN from it an active open).
 */
void peerstate_init(struct peerstate *peer);

/* Frees the history, allocated as it grows. Accepts NULL. */
void peerstate_free(struct peerstate *peer);

/* What the caller must rewrite in the segments it recorded before this one. */
enum peerstate_patch {
	PEERSTATE_PATCH_NONE = 0,
	/*
	 * lwIP's pending FIN reached the peer before it sent anything more: it
	 * entered step.before at that FIN's segment (sent at since_us), and
	 * stayed there through the segments recorded since.
	 */
	PEERSTATE_PATCH_FIN,
	/*
	 * The peer answered lwIP's SYN, so it was listening: LISTEN before
	 * lwIP's first SYN that reached it, SYN_RCVD from that SYN on.
	 */
	PEERSTATE_PATCH_LISTEN,
};

/* What one segment did to the peer. */
struct peerstate_step {
	/* The peer's state before the segment's own effect, but after what
	 * the segment shows of earlier ones (a pending FIN's arrival). */
	enum tcpinfo_state before;
	enum tcpinfo_state after;
	enum peerstate_patch patch;
	uint64_t since_us;	/* PEERSTATE_PATCH_FIN: when lwIP's FIN was sent */
};

/*
 * Feeds one segment: outbound (lwIP sent it) or inbound (the peer sent it),
 * its TCPINFO_FLAG_* flags, its sequence and acknowledgement numbers, its
 * payload length and when it was seen. delivered is false when a fault rule
 * dropped it before its receiver (an outbound one before the wire, an
 * inbound one before lwIP): a dropped outbound segment leaves the peer as
 * it was, a dropped inbound one was still sent by the peer. Returns the
 * peer's states around the segment and what to rewrite in earlier ones.
 */
struct peerstate_step peerstate_segment(struct peerstate *peer, bool outbound, uint8_t flags,
    uint32_t seq, uint32_t ack, uint32_t len, uint64_t at_us, bool delivered);

/* Writes a cause as "rx:FIN,ACK" or "tx:SYN,ACK" into buf. Returns buf. */
char *peerstate_cause_format(struct peerstate_cause cause, char *buf, size_t len);

#endif
