/*
 * synmemo: the listener SYNs a fault rule dropped, remembered by 4-tuple
 * until the connection they would have made exists, so that its timeline
 * can show them first.
 *
 * A listener's SYN is decided on before lwIP makes a connection of it; a
 * dropped one makes none, and has no timeline to go in yet. The peer
 * retransmits it, and the SYN that gets through makes the connection: the
 * engine then takes what is remembered for its 4-tuple and records it
 * ahead. Pure and bounded: SYNMEMO_MAX entries, the oldest evicted when
 * full, each forgotten SYNMEMO_TTL_US after its drop (a peer that gave up
 * retries no more).
 */
#ifndef LWIPD_SYNMEMO_H
#define LWIPD_SYNMEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stack.h"

#define SYNMEMO_MAX 16
#define SYNMEMO_TTL_US 120000000u	/* two minutes: about as long as Linux's SYN retries last */
#define SYNMEMO_FRAME_MAX 192	/* Ethernet, IPv4 and TCP headers with their longest options */

struct synmemo_entry {
	bool used;
	uint64_t at_us;			/* when it was dropped */
	struct stack_segment segment;	/* its frame is frame below, cut to SYNMEMO_FRAME_MAX */
	uint8_t frame[SYNMEMO_FRAME_MAX];
};

struct synmemo {
	struct synmemo_entry entries[SYNMEMO_MAX];
	size_t next;			/* the slot written next: the oldest when all are used */
};

/* Remembers a listener SYN (segment->remote_ip set) dropped at at_us, evicting the oldest when full. */
void synmemo_remember(struct synmemo *memo, const struct stack_segment *segment, uint64_t at_us);

/* Whether a SYN of segment's 4-tuple, dropped at most SYNMEMO_TTL_US before now_us, is remembered. */
bool synmemo_has(struct synmemo *memo, const struct stack_segment *segment, uint64_t now_us);

/*
 * Takes the oldest remembered SYN of segment's 4-tuple into *out (its
 * segment's frame then points into out). Returns false when none is left.
 */
bool synmemo_take(struct synmemo *memo, const struct stack_segment *segment, uint64_t now_us,
    struct synmemo_entry *out);

#endif
