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
 *                  segment, whether or not it then reached lwIP);
 *   "lwip:abort"   lwIP reset the connection without a segment the engine
 *                  passed here (peerstate_local_abort()).
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
	PEERSTATE_CAUSE_LWIP_ABORT,	/* "lwip:abort" */
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

/*
 * Feeds one segment: outbound (lwIP sent it) or inbound (the peer sent it),
 * its TCPINFO_FLAG_* flags, its sequence and acknowledgement numbers, its
 * payload length and when it was seen. delivered is false when a fault rule
 * dropped it before its receiver (an outbound one before the wire, an
 * inbound one before lwIP): a dropped outbound segment leaves the peer as
 * it was, a dropped inbound one was still sent by the peer. Returns the
 * peer's state after the segment.
 */
enum tcpinfo_state peerstate_segment(struct peerstate *peer, bool outbound, uint8_t flags,
    uint32_t seq, uint32_t ack, uint32_t len, uint64_t at_us, bool delivered);

/*
 * lwIP reset the connection and its RST reached the peer, but the engine
 * saw no segment for it. Returns the peer's state afterwards.
 */
enum tcpinfo_state peerstate_local_abort(struct peerstate *peer, uint64_t at_us);

/* Writes a cause as "rx:FIN,ACK", "tx:SYN,ACK" or "lwip:abort" into buf. Returns buf. */
char *peerstate_cause_format(struct peerstate_cause cause, char *buf, size_t len);

#endif
