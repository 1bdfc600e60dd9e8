/*
 * holdq: frames a fault rule holds back (delay, reorder) until their time
 * comes, bounded in count and in bytes, released in order.
 *
 * Pure bookkeeping: no lwIP, no clock, no lock. The glue calls it on lwIP's
 * core thread with the core lock held, passes the time in, and arms one
 * timer for the earliest release.
 */
#ifndef LWIPD_HOLDQ_H
#define LWIPD_HOLDQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One held frame. The caller's record of it travels along in meta. */
struct holdq_frame {
	uint64_t release_at_ms;
	uint64_t order;		/* ties between equal release times go in holding order */
	size_t heap_index;
	bool outbound;
	uint64_t key;		/* the connection's key; reorder releases on the next segment of it */
	bool awaits_next;	/* reorder: released once the next segment of key in its direction passed */
	size_t len;
	uint8_t *bytes;
	size_t meta_len;
	uint8_t meta[];		/* the caller's record, meta_len bytes */
};

struct holdq;

/* A queue for at most max_frames frames and max_bytes frame bytes. NULL: no memory. */
struct holdq *holdq_new(size_t max_frames, size_t max_bytes);

/* Frees the queue and every frame still held. Accepts NULL. */
void holdq_free(struct holdq *q);

/* Whether a frame of len bytes fits within the bounds now. */
bool holdq_room(const struct holdq *q, size_t len);

/*
 * Holds a copy of the frame and of meta until now_ms + hold_ms, or, with
 * awaits_next, until the next segment of key in the same direction passed
 * if that comes first. Returns 0, -ENOBUFS when the frame would exceed a
 * bound (nothing is held), or -ENOMEM.
 */
int holdq_hold(struct holdq *q, const uint8_t *frame, size_t len, bool outbound, uint64_t key,
    uint64_t now_ms, uint32_t hold_ms, bool awaits_next, const void *meta, size_t meta_len);

/* A segment of key passed in that direction: frames awaiting it are due at now_ms. */
void holdq_passed(struct holdq *q, bool outbound, uint64_t key, uint64_t now_ms);

/* The earliest release time; false when nothing is held. */
bool holdq_next_release(const struct holdq *q, uint64_t *at_ms);

/* Takes the next frame due at now_ms, in release order, or NULL. Free it with holdq_frame_free(). */
struct holdq_frame *holdq_pop_due(struct holdq *q, uint64_t now_ms);

/* Takes the next frame whatever its time, in release order, or NULL: for a stop. */
struct holdq_frame *holdq_pop(struct holdq *q);

/* Accepts NULL. */
void holdq_frame_free(struct holdq_frame *frame);

size_t holdq_count(const struct holdq *q);
size_t holdq_bytes(const struct holdq *q);

#endif
