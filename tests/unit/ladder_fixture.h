/*
 * ladder_fixture: timelines for the ladder tests (text, SVG and Mermaid),
 * built segment by segment with the peer's states inferred by peerstate as
 * the engine would, and the golden-file comparison they share.
 */
#ifndef LWIPD_LADDER_FIXTURE_H
#define LWIPD_LADDER_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "peerstate.h"

#define FIXTURE_EVENTS_MAX 80

struct builder {
	struct engine_timeline timeline;
	struct engine_event events[FIXTURE_EVENTS_MAX];
	struct peerstate peer;
	uint64_t drop_rule;	/* non-zero: the next segment is dropped by this rule */
};

/* Connection 7, 10.9.0.2:49152 to 10.9.0.1:7000, no events yet. */
void builder_init(struct builder *b, enum engine_origin origin, enum tcpinfo_state now);

/* Frees what the builder's peer inference allocated; before another builder_init too. */
void builder_free(struct builder *b);

void add_state(struct builder *b, uint64_t at_us, enum tcpinfo_state from, enum tcpinfo_state to,
    uint8_t cause_kind, uint8_t cause_flags);

/* A segment with relative numbers; the absolute ones and the peer's states follow. */
void add_segment(struct builder *b, uint64_t at_us, bool outbound, uint8_t flags, uint32_t rel_seq,
    uint32_t rel_ack, uint32_t len, enum tcpinfo_state before, enum tcpinfo_state after,
    enum tcpinfo_step step);

/* The next segment is dropped by fault rule `rule` before its receiver. */
void drop_next(struct builder *b, uint64_t rule);

/* lwIP opens, data both ways, lwIP closes through all four teardown steps. */
void build_active(struct builder *b);

/* The peer opens to an lwIP listener and closes first. */
void build_passive_peer_close(struct builder *b);

/* lwIP closes and the peer answers with its FIN and its ACK together. */
void build_three_segment_close(struct builder *b);

/* As build_three_segment_close, but fault rule 3 drops lwIP's last ACK. */
void build_dropped_final_ack(struct builder *b);

/*
 * Compares actual with tests/unit/golden/NAME byte for byte. On a mismatch
 * prints the output, writes it to NAME.actual in the working directory and
 * names the first line that differs. Returns whether they match.
 */
bool matches_golden(const char *name, const char *actual);

#endif
