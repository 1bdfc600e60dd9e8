/*
 * timeline: one connection's segments and state changes, bounded, and the
 * labelling of each segment's role (handshake-1, teardown-3, data...).
 * Pure bookkeeping, no lwIP and no locking; the engine calls it with the
 * core lock held.
 */
#ifndef LWIPD_TIMELINE_H
#define LWIPD_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "membudget.h"

/*
 * A timeline keeps its first ENGINE_TIMELINE_HEAD events and then the most
 * recent ones in a ring, up to cap in all. Storage grows as events come, so
 * a short connection costs little.
 *
 * Each event may keep its frame's first bytes in a slot of frame_slot
 * bytes, in a side array parallel to the events: grown, ringed and freed
 * with them, so a timeline costs at most cap * (sizeof(event) + frame_slot).
 * That storage is charged to the memory budget as it grows; an event the
 * budget has no room for is not recorded, only counted (refused), and the
 * timeline is then truncated.
 */
/* The events a timeline's first allocation holds: a handshake and its state changes. */
#define TIMELINE_FIRST_CAPACITY 8

struct timeline {
	struct engine_event *events;
	uint8_t *frames;	/* capacity slots of frame_slot bytes; NULL when frame_slot is 0 */
	/* 32 bits each, as every connection has a timeline: cap <= ENGINE_TIMELINE_MAX. */
	uint32_t frame_slot;
	uint32_t capacity;	/* allocated */
	uint32_t count;		/* stored, at most cap */
	uint32_t cap;
	uint64_t appended;	/* every event ever appended; numbers them from 0 */
	uint64_t dropped;	/* left out between the head and the tail, or out of memory */
	uint64_t refused;	/* not recorded: the memory budget had no room */
	struct membudget *budget;	/* NULL: unbudgeted */
};

/* What the labeller remembers of a connection's segments so far. */
struct timeline_steps {
	int handshake;		/* how many handshake steps were seen */
	bool opener_outbound;	/* the direction of handshake-1 */
	struct tcpinfo_seq_mark sent[2];	/* [outbound] */
	int teardown;		/* the highest teardown step seen */
	bool first_fin_outbound;
	uint32_t first_fin_end;	/* the sequence number after the first FIN */
	uint32_t second_fin_end;
	bool teardown_2_seen;
	bool teardown_4_seen;
	bool isn_known[2];	/* [outbound]: each side's ISN, from its SYN */
	uint32_t isn[2];
};

/* frame_slot: the bytes of a frame an event keeps (0: none); budget may be NULL. */
void timeline_init(struct timeline *timeline, size_t cap, size_t frame_slot,
    struct membudget *budget);

/* Frees the events. Accepts NULL. */
void timeline_free(struct timeline *timeline);

/* Gives back the storage no event uses, for a timeline that is complete. */
void timeline_shrink(struct timeline *timeline);

/*
 * Appends a copy of event and returns its number, or -1 when out of memory
 * (the event is then counted as dropped) or out of budget (counted as refused).
 */
int64_t timeline_append(struct timeline *timeline, const struct engine_event *event);

/*
 * Keeps the first len bytes of event number's frame, frame_len bytes long
 * in all, or as many as its slot holds. Sets the event's snap_len and
 * frame_len; nothing when the event was dropped.
 */
void timeline_keep_frame(struct timeline *timeline, int64_t number, const uint8_t *frame,
    size_t len, size_t frame_len);

/* The stored event with that number, or NULL when it was dropped. */
struct engine_event *timeline_get(struct timeline *timeline, int64_t number);

/* The frame bytes event number kept (its snap_len), or NULL when it kept none. */
const uint8_t *timeline_frame(struct timeline *timeline, int64_t number);

/*
 * Copies the stored events in order into out, which holds timeline->count,
 * and, when frames is not NULL, their frames' slots into it
 * (timeline->count * timeline->frame_slot bytes).
 */
void timeline_copy(const struct timeline *timeline, struct engine_event *out, uint8_t *frames);

/* Fills a segment event's sequence numbers relative to the ISNs, noting an ISN its SYN shows. */
void timeline_relative(struct timeline_steps *steps, struct engine_event *segment);

/*
 * Fills a segment event's step and its sequence numbers relative to the
 * ISNs, and updates what the labeller remembers.
 */
void timeline_label(struct timeline_steps *steps, struct engine_event *segment);

/* Event number n of count, or NULL when it is not kept. */
typedef struct engine_event *(*timeline_event_at)(void *events, uint64_t n);

/*
 * Rewrites the peer's states on the segments numbered below count, as a
 * later segment's step asks (peerstate.h: enum peerstate_patch), so that
 * the states on the segments pass through the peer's history in order.
 */
void timeline_rewrite_peer(timeline_event_at at, void *events, uint64_t count,
    const struct peerstate_step *step);

#endif
