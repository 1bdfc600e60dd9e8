/*
 * capture: live readers of every frame on the interface, for
 * GET /v1/capture. The glue hands each frame read from or written to the
 * TAP to the frame hook, with the core lock held; each reader gets a copy
 * of its first bytes in a queue of its own.
 *
 * DESIGN
 *
 * The stack never waits for a reader: a frame goes into each reader's
 * bounded queue (ENGINE_CAPTURE_QUEUE frames of at most
 * ENGINE_FRAME_HEADERS_MAX + --snaplen bytes), and a reader whose queue is
 * full is dropped and counted: it learns it at its next read, and its
 * behind callback lets the API end its request even if its client stopped
 * reading. Frames are the TAP's own, before the gate and the fault path
 * inbound and as written outbound, so a frame the gate or a fault rule
 * drops inbound is there, and an outbound one a rule drops is not (it
 * never reached the wire). The glue parses frames for the hook only while
 * a reader exists (stack_capture_frames).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <utlist.h>

#include "engine_internal.h"

struct engine_capture_reader {
	uint64_t connection;		/* 0: every frame */
	struct engine_endpoint local, remote;
	engine_wake_fn wake, behind;
	void *arg;
	bool waiting;			/* read everything: wake on the next frame */
	bool overflowed;
	size_t head, count;		/* the queue, a ring */
	struct engine_capture_frame queue[ENGINE_CAPTURE_QUEUE];
	struct engine_capture_reader *prev, *next;
};

/* Whether a frame belongs to the reader's connection: its 4-tuple, either way. */
static bool
wanted(const struct engine_capture_reader *reader, const struct stack_frame *frame)
{
	if (reader->connection == 0)
		return true;
	return frame->tcp && frame->remote_ip == reader->remote.ip &&
	    frame->local_port == reader->local.port && frame->remote_port == reader->remote.port;
}

/* The stack's frame hook. Calls nothing in the glue. */
void
capture_on_frame(void *arg, const struct stack_frame *frame)
{
	struct engine *engine = arg;
	struct engine_capture_reader *reader;
	uint64_t ts_us = engine->started_unix_us + engine_now_us(engine);
	size_t keep = ENGINE_FRAME_HEADERS_MAX + engine->cfg.snaplen;

	if (keep > frame->len)
		keep = frame->len;
	DL_FOREACH(engine->capture_readers, reader) {
		struct engine_capture_frame *slot;

		if (reader->overflowed || !wanted(reader, frame))
			continue;
		if (reader->count == ENGINE_CAPTURE_QUEUE) {
			reader->overflowed = true;
			engine->capture_dropped++;
			reader->behind(reader->arg);
			continue;
		}
		slot = &reader->queue[(reader->head + reader->count++) % ENGINE_CAPTURE_QUEUE];
		slot->ts_us = ts_us;
		slot->len = (uint32_t)frame->len;
		slot->captured = (uint32_t)keep;
		memcpy(slot->bytes, frame->bytes, keep);
		if (reader->waiting) {
			reader->waiting = false;
			reader->wake(reader->arg);
		}
	}
}

int
engine_capture_open(struct engine *engine, uint64_t connection, engine_wake_fn wake,
    engine_wake_fn behind, void *arg, struct engine_capture_reader **out)
{
	struct engine_capture_reader *reader = NULL;
	struct conn *conn;
	int rc = 0;

	engine_lock();
	rc = engine_admit_stream(engine, engine->capture_reader_count, engine->cfg.max_capture_readers);
	if (rc != 0)
		goto unlock;
	conn = connection != 0 ? engine_conn_find(engine, connection) : NULL;
	if (connection != 0 && conn == NULL) {
		rc = -ENOENT;
		goto unlock;
	}
	reader = calloc(1, sizeof(*reader));
	if (reader == NULL) {
		rc = -ENOMEM;
		goto unlock;
	}
	reader->connection = connection;
	if (conn != NULL) {
		reader->local = conn->entry.local;
		reader->remote = conn->entry.remote;
	}
	reader->wake = wake;
	reader->behind = behind;
	reader->arg = arg;
	reader->waiting = true;
	DL_APPEND(engine->capture_readers, reader);
	if (engine->capture_reader_count++ == 0)
		stack_capture_frames(true);
	*out = reader;
unlock:
	engine_unlock();
	return rc;
}

/*
 * How many of a connection's latest events a queued frame's segment is
 * looked for in: a queue holds ENGINE_CAPTURE_QUEUE frames, each at most
 * one segment event, with a few state changes between.
 */
#define CAPTURE_MATCH_SPAN (4 * ENGINE_CAPTURE_QUEUE)

/*
 * The reader's connection's record of frame: the latest segment event
 * that kept a frame of the same length and first bytes. An inbound frame
 * is handled under the same core lock that reported it, so its segment is
 * recorded by the time a reader gets the lock; one a fault rule holds is
 * recorded only when it goes on, and has no record before.
 */
static void
match_record(struct engine *engine, const struct engine_capture_reader *reader,
    const struct engine_capture_frame *frame, struct engine_capture_record *record)
{
	struct conn *conn = engine_conn_find(engine, reader->connection);
	struct timeline *timeline = conn != NULL ? conn->timeline : NULL;

	record->has_event = false;
	if (timeline == NULL)
		return;
	for (uint64_t n = timeline->appended, seen = 0; n-- > 0 && seen < CAPTURE_MATCH_SPAN; seen++) {
		struct engine_event *event = timeline_get(timeline, (int64_t)n);
		const uint8_t *kept = timeline_frame(timeline, (int64_t)n);
		size_t len;

		if (event == NULL)
			return;
		if (event->kind != ENGINE_EVENT_SEGMENT || kept == NULL || event->frame_len != frame->len)
			continue;
		len = event->snap_len < frame->captured ? event->snap_len : frame->captured;
		if (memcmp(kept, frame->bytes, len) == 0) {
			record->has_event = true;
			record->event = *event;
			return;
		}
	}
}

int
engine_capture_read(struct engine *engine, struct engine_capture_reader *reader,
    struct engine_capture_frame *out, struct engine_capture_record *records, size_t max)
{
	size_t n = 0;
	int rc;

	engine_lock();
	if (engine->stopping) {
		rc = -ESHUTDOWN;
		goto unlock;
	}
	if (reader->overflowed) {
		rc = -EOVERFLOW;
		goto unlock;
	}
	for (; n < max && reader->count > 0; n++) {
		out[n] = reader->queue[reader->head];
		reader->head = (reader->head + 1) % ENGINE_CAPTURE_QUEUE;
		reader->count--;
		if (records != NULL && reader->connection != 0)
			match_record(engine, reader, &out[n], &records[n]);
		else if (records != NULL)
			records[n].has_event = false;
	}
	reader->waiting = reader->count == 0;
	rc = (int)n;
unlock:
	engine_unlock();
	return rc;
}

void
engine_capture_close(struct engine *engine, struct engine_capture_reader *reader)
{
	if (reader == NULL)
		return;
	engine_lock();
	DL_DELETE(engine->capture_readers, reader);
	if (--engine->capture_reader_count == 0)
		stack_capture_frames(false);
	engine_unlock();
	free(reader);
}

/* For engine_stop: every reader hears that the daemon stops. Calls nothing in the glue. */
void
capture_stop(struct engine *engine)
{
	struct engine_capture_reader *reader;

	DL_FOREACH(engine->capture_readers, reader)
		reader->wake(reader->arg);
}
