#include "deadlines.h"

#include <stddef.h>
#include <utlist.h>

#include "stack.h"

static void deadline_timer(void *arg);

static uint32_t
ms_until(uint64_t at_us, uint64_t now_us)
{
	return at_us > now_us ? (uint32_t)((at_us - now_us + 999) / 1000) : 0;
}

static void
deadline_arm(struct deadline_queue *queue)
{
	if (queue->timer_armed || queue->head == NULL)
		return;
	stack_timeout(ms_until(queue->head->at_us, queue->now_us(queue->ctx)), deadline_timer, queue);
	queue->timer_armed = true;
}

/* Ends every wait in the queue whose deadline has passed. */
static void
deadline_timer(void *arg)
{
	struct deadline_queue *queue = arg;
	uint64_t now = queue->now_us(queue->ctx);
	struct deadline_entry *head;

	queue->timer_armed = false;
	while ((head = queue->head) != NULL && head->at_us <= now) {
		queue->expire(head, queue->ctx);
		/* An expiry that left the entry queued would spin here forever. */
		if (queue->head == head)
			deadline_remove(head);
	}
	deadline_arm(queue);
}

void
deadline_queue_init(struct deadline_queue *queue, uint64_t duration_us,
    uint64_t (*now_us)(void *ctx), void (*expire)(struct deadline_entry *entry, void *ctx),
    void *ctx)
{
	*queue = (struct deadline_queue){
		.duration_us = duration_us, .now_us = now_us, .expire = expire, .ctx = ctx,
	};
}

void
deadline_queue_stop(struct deadline_queue *queue)
{
	if (!queue->timer_armed)
		return;
	stack_untimeout(deadline_timer, queue);
	queue->timer_armed = false;
}

void
deadline_add(struct deadline_queue *queue, struct deadline_entry *entry)
{
	deadline_remove(entry);
	entry->at_us = queue->now_us(queue->ctx) + queue->duration_us;
	entry->queue = queue;
	DL_APPEND(queue->head, entry);
	deadline_arm(queue);
}

void
deadline_remove(struct deadline_entry *entry)
{
	if (entry->queue == NULL)
		return;
	DL_DELETE(entry->queue->head, entry);
	entry->queue = NULL;
}

uint32_t
deadline_remaining_ms(const struct deadline_entry *entry)
{
	const struct deadline_queue *queue = entry->queue;

	return queue != NULL ? ms_until(entry->at_us, queue->now_us(queue->ctx)) : 0;
}
