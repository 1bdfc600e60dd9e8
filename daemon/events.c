/*
 * events: the event stream, one ring of the last ENGINE_STREAM_REPLAY
 * events shared by every subscriber, each with its own read position. The
 * stack never waits for a reader: one that falls out of the ring is told
 * once (behind) and its next read fails.
 */
#include <errno.h>
#include <stdlib.h>
#include <utlist.h>

#include "engine_internal.h"

/*
 * Idle subscribers are woken this often, so that their readers write
 * something and notice a client that went away while nothing happened.
 */
#define EVENTS_HEARTBEAT_MS 15000u

struct engine_subscriber {
	uint64_t next;			/* the number of the next event to read */
	engine_wake_fn wake;
	engine_wake_fn behind;
	void *arg;
	bool waiting;			/* read everything; wake on the next event */
	bool overrun;			/* fell out of the ring; behind() was called */
	struct engine_subscriber *prev, *next_subscriber;
};

static void
events_wake_idle(struct events *events)
{
	struct engine_subscriber *subscriber;

	DL_FOREACH2(events->subscribers, subscriber, next_subscriber) {
		if (subscriber->waiting) {
			subscriber->waiting = false;
			subscriber->wake(subscriber->arg);
		}
	}
}

static void
events_heartbeat(void *arg)
{
	struct engine *engine = arg;
	struct events *events = &engine->events;

	events->heartbeat_armed = false;
	if (events->subscribers == NULL || engine->stopping)
		return;
	events_wake_idle(events);
	stack_timeout(EVENTS_HEARTBEAT_MS, events_heartbeat, engine);
	events->heartbeat_armed = true;
}

/* The number of the oldest event the ring still holds. */
static uint64_t
events_oldest(const struct events *events)
{
	return events->next > ENGINE_STREAM_REPLAY ? events->next - ENGINE_STREAM_REPLAY : 1;
}

void
events_init(struct events *events)
{
	events->next = 1;
}

void
events_emit(struct engine *engine, struct engine_stream_event event)
{
	struct events *events = &engine->events;
	struct engine_subscriber *subscriber;
	uint64_t oldest;

	if (engine->stopping)
		return;
	event.seq = events->next++;
	event.at_us = engine_now_us(engine);
	events->ring[event.seq % ENGINE_STREAM_REPLAY] = event;
	oldest = events_oldest(events);
	DL_FOREACH2(events->subscribers, subscriber, next_subscriber) {
		if (!subscriber->overrun && subscriber->next < oldest) {
			subscriber->overrun = true;
			subscriber->behind(subscriber->arg);
		}
	}
	events_wake_idle(events);
}

void
events_stop(struct engine *engine)
{
	struct events *events = &engine->events;
	struct engine_subscriber *subscriber;

	DL_FOREACH2(events->subscribers, subscriber, next_subscriber)
		subscriber->wake(subscriber->arg);
	if (events->heartbeat_armed) {
		stack_untimeout(events_heartbeat, engine);
		events->heartbeat_armed = false;
	}
}

void
events_free(struct events *events)
{
	struct engine_subscriber *subscriber, *tmp;

	DL_FOREACH_SAFE2(events->subscribers, subscriber, tmp, next_subscriber) {
		DL_DELETE2(events->subscribers, subscriber, prev, next_subscriber);
		free(subscriber);
	}
	events->subscriber_count = 0;
}

int
engine_subscribe(struct engine *engine, uint64_t last_seen, engine_wake_fn wake,
    engine_wake_fn behind, void *arg, struct engine_subscriber **out)
{
	struct events *events = &engine->events;
	struct engine_subscriber *subscriber;
	uint64_t oldest;
	int rc = 0;

	engine_lock();
	rc = engine_admit_stream(engine, events->subscriber_count, engine->cfg.max_event_streams);
	if (rc != 0)
		goto unlock;
	subscriber = calloc(1, sizeof(*subscriber));
	if (subscriber == NULL) {
		rc = -ENOMEM;
		goto unlock;
	}
	/* A reconnecting client gets what the ring still holds of what it missed. */
	oldest = events_oldest(events);
	if (last_seen == 0 || last_seen >= events->next)
		subscriber->next = events->next;
	else
		subscriber->next = last_seen + 1 > oldest ? last_seen + 1 : oldest;
	subscriber->wake = wake;
	subscriber->behind = behind;
	subscriber->arg = arg;
	DL_APPEND2(events->subscribers, subscriber, prev, next_subscriber);
	events->subscriber_count++;
	if (!events->heartbeat_armed) {
		stack_timeout(EVENTS_HEARTBEAT_MS, events_heartbeat, engine);
		events->heartbeat_armed = true;
	}
	*out = subscriber;
unlock:
	engine_unlock();
	return rc;
}

int
engine_stream_read(struct engine *engine, struct engine_subscriber *subscriber,
    struct engine_stream_event *out, size_t max)
{
	struct events *events = &engine->events;
	size_t n = 0;
	int rc;

	engine_lock();
	if (engine->stopping) {
		rc = -ESHUTDOWN;
	} else if (subscriber->next < events_oldest(events)) {
		rc = -EOVERFLOW;
	} else {
		while (n < max && subscriber->next < events->next)
			out[n++] = events->ring[subscriber->next++ % ENGINE_STREAM_REPLAY];
		subscriber->waiting = n == 0;
		rc = (int)n;
	}
	engine_unlock();
	return rc;
}

void
engine_unsubscribe(struct engine *engine, struct engine_subscriber *subscriber)
{
	if (subscriber == NULL)
		return;
	engine_lock();
	DL_DELETE2(engine->events.subscribers, subscriber, prev, next_subscriber);
	engine->events.subscriber_count--;
	engine_unlock();
	free(subscriber);
}
