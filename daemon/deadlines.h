/*
 * deadlines: FIFO queues of entries that each wait out one fixed duration,
 * with one stack timer for the head of each queue.
 *
 * Every entry in a queue waits the same time, so deadlines come in the order
 * entries join, and a FIFO replaces a priority queue. The clock is the
 * caller's (now_us), so a test can drive deadlines with a clock of its own;
 * the timer runs through stack_timeout(), with the core lock held.
 */
#ifndef LWIPD_DEADLINES_H
#define LWIPD_DEADLINES_H

#include <stdbool.h>
#include <stdint.h>

struct deadline_queue;

/* Embedded in what waits; NULL queue while it is in none. */
struct deadline_entry {
	struct deadline_queue *queue;
	uint64_t at_us;
	struct deadline_entry *prev, *next;
};

struct deadline_queue {
	struct deadline_entry *head;
	bool timer_armed;
	uint64_t duration_us;
	uint64_t (*now_us)(void *ctx);
	/* Ends the wait; it must take the entry off the queue (deadline_remove). */
	void (*expire)(struct deadline_entry *entry, void *ctx);
	void *ctx;
};

void deadline_queue_init(struct deadline_queue *queue, uint64_t duration_us,
    uint64_t (*now_us)(void *ctx), void (*expire)(struct deadline_entry *entry, void *ctx),
    void *ctx);

/* Cancels the queue's timer; the entries stay where they are. */
void deadline_queue_stop(struct deadline_queue *queue);

/* Starts entry's wait now, at the tail of queue. */
void deadline_add(struct deadline_queue *queue, struct deadline_entry *entry);

/* Takes entry off its queue, if it is on one. */
void deadline_remove(struct deadline_entry *entry);

/* Milliseconds left, rounded up; 0 once past. */
uint32_t deadline_remaining_ms(const struct deadline_entry *entry);

#endif
