/*
 * DESIGN: a stream's content reader runs on libmicrohttpd's thread. It
 * copies a batch of events out of the engine (engine_stream_read holds the
 * engine's lock only for the copy), formats them into the stream's own
 * buffer, and hands that to libmicrohttpd piece by piece; the socket is
 * written with no lock held, so a slow client never holds up the stack.
 * It never waits: when the engine has nothing, the reader suspends its
 * request and returns 0, and the engine's wake callback resumes it.
 *
 * stream_pump.c does the suspending and the waking, under the hub's lock.
 * sse_hub_stop resumes the suspended streams the same way, so
 * libmicrohttpd never stops with one still suspended.
 *
 * A client that falls further behind than the engine's replay buffer is
 * told nothing more: its stream ends and the drop is counted. The engine
 * never waits for readers, so this is the only way a reader can lose. The
 * stream still ends cleanly: the events already formatted and the final
 * chunk go out as the client reads; one that never reads again is closed
 * by libmicrohttpd's timeout (--http-timeout-s). It no longer counts as a
 * client from the drop on.
 *
 * A suspended stream's socket is not watched by libmicrohttpd, so a client
 * that hangs up would hold its slot until the next heartbeat. The gate's
 * thread calls sse_hub_sweep a few times a second: a suspended stream
 * whose socket shows the hang-up is resumed, writes a comment, and
 * libmicrohttpd, failing to send it, ends the request and frees the slot.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>

#include <utlist.h>

#include "lockorder.h"
#include "log.h"
#include "render.h"
#include "sse.h"
#include "stream_pump.h"

/* Events copied out of the engine at a time. */
#define SSE_BATCH 16
/* What libmicrohttpd asks the reader for at most. */
#define SSE_BLOCK_SIZE 4096

static const char sse_hello[] = ": ok\n\n";
/* Written when a wake brought nothing: the engine's heartbeat, so a gone client is noticed. */
static const char sse_ping[] = ": ping\n\n";

struct sse_hub {
	struct engine *engine;
	pthread_mutex_t lock;		/* guards everything below and each stream's flags */
	struct sse_stream *streams;
	bool stopping;
	uint64_t clients;
	uint64_t dropped;
};

struct sse_stream {
	struct sse_hub *hub;
	struct engine_subscriber *subscriber;
	struct sse_filter filter;
	struct stream_pump pump;	/* hands out the formatted bytes in text */
	bool dropped;			/* fell behind the engine's ring; counted once */
	bool peer_closed;		/* the sweep saw the client's FIN and woke it once */
	int fd;				/* the connection's socket, for the sweep */
	char text[SSE_BATCH * SSE_EVENT_MAX];
	struct sse_stream *prev, *next;
};

/* Takes the hub's lock, second in the lock order of lockorder.h. */
static void
hub_lock(struct sse_hub *hub)
{
	lockorder_acquire(LOCKORDER_SSE_HUB);
	pthread_mutex_lock(&hub->lock);
}

static void
hub_unlock(struct sse_hub *hub)
{
	pthread_mutex_unlock(&hub->lock);
	lockorder_release(LOCKORDER_SSE_HUB);
}

bool
sse_filter_pass(const struct sse_filter *filter, const struct engine_stream_event *event)
{
	if (!filter->by_connection)
		return true;
	switch (event->kind) {
	case ENGINE_STREAM_STATE:
	case ENGINE_STREAM_CONN_CREATED:
	case ENGINE_STREAM_CONN_REMOVED:
	case ENGINE_STREAM_FAULT_FIRED:
	case ENGINE_STREAM_FAULT_SPENT:
	case ENGINE_STREAM_FAULT_OVERFLOW:
		return event->id == filter->connection;
	case ENGINE_STREAM_LISTENER_CREATED:
	case ENGINE_STREAM_LISTENER_REMOVED:
		break;
	}
	return false;
}

int
sse_format_event(const struct engine_stream_event *event, char *buf, size_t len)
{
	const char *name = render_stream_event_name(event->kind);
	json_t *data;
	char *text;
	int n;

	if (name == NULL)
		return -EINVAL;
	data = render_stream_event(event);
	if (data == NULL)
		return -EINVAL;
	text = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(data);
	if (text == NULL)
		return -ENOMEM;
	n = snprintf(buf, len, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", event->seq, name, text);
	free(text);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

int
sse_hub_new(struct engine *engine, struct sse_hub **out)
{
	struct sse_hub *hub;

	hub = calloc(1, sizeof(*hub));
	if (hub == NULL)
		return -ENOMEM;
	if (pthread_mutex_init(&hub->lock, NULL) != 0) {
		free(hub);
		return -ENOMEM;
	}
	hub->engine = engine;
	*out = hub;
	return 0;
}

void
sse_hub_free(struct sse_hub *hub)
{
	if (hub == NULL)
		return;
	pthread_mutex_destroy(&hub->lock);
	free(hub);
}

/* Resumes stream if its reader suspended it, or tells the reader not to. Takes hub->lock. */
static void
wake_locked(struct sse_stream *stream)
{
	stream_pump_wake(&stream->pump);
}

void
sse_hub_stop(struct sse_hub *hub)
{
	struct sse_stream *stream;

	hub_lock(hub);
	hub->stopping = true;
	DL_FOREACH(hub->streams, stream)
		wake_locked(stream);
	hub_unlock(hub);
}

void
sse_hub_counts(struct sse_hub *hub, uint64_t *clients, uint64_t *dropped)
{
	hub_lock(hub);
	*clients = hub->clients;
	*dropped = hub->dropped;
	hub_unlock(hub);
}

/* The engine's wake callback: runs with the engine's lock held, on any thread. */
static void
wake_stream(void *arg)
{
	struct sse_stream *stream = arg;

	hub_lock(stream->hub);
	wake_locked(stream);
	hub_unlock(stream->hub);
}

/* Counts a stream that fell behind, once; it is no longer a client. Takes hub->lock. */
static void
count_drop(struct sse_stream *stream)
{
	hub_lock(stream->hub);
	if (!stream->dropped) {
		stream->dropped = true;
		stream->hub->dropped++;
		stream->hub->clients--;
		log_warnx("api: dropping an event stream client that fell behind");
	}
	hub_unlock(stream->hub);
}

/*
 * The engine's callback for a stream that fell out of its ring. Its reader
 * learns it at its next read, when the client has taken what was sent, and
 * ends the stream with its final chunk.
 */
static void
stream_behind(void *arg)
{
	struct sse_stream *stream = arg;

	count_drop(stream);
	wake_stream(stream);
}

void
sse_hub_sweep(struct sse_hub *hub)
{
	struct pollfd polls[SSE_SWEEP_MAX];
	struct sse_stream *watched[SSE_SWEEP_MAX];
	struct sse_stream *stream;
	nfds_t n = 0;

	hub_lock(hub);
	DL_FOREACH(hub->streams, stream) {
		if (!stream->pump.suspended || n == SSE_SWEEP_MAX)
			continue;
		/* After the FIN woke it once, only an error or a reset counts: it may still read. */
		polls[n] = (struct pollfd){ .fd = stream->fd,
		    .events = stream->peer_closed ? 0 : POLLRDHUP };
		watched[n++] = stream;
	}
	if (n > 0 && poll(polls, n, 0) > 0) {
		for (nfds_t i = 0; i < n; i++) {
			if (polls[i].revents == 0)
				continue;
			watched[i]->peer_closed = true;
			wake_locked(watched[i]);
		}
	}
	hub_unlock(hub);
}

/*
 * Copies the next batch of events and formats those that pass the filter.
 * Returns how many were read (0: none yet), or a negative errno to end the
 * stream.
 */
static int
stream_fill(void *arg)
{
	struct sse_stream *stream = arg;
	struct engine_stream_event events[SSE_BATCH];
	int count, i, n;

	count = engine_stream_read(stream->hub->engine, stream->subscriber, events, SSE_BATCH);
	if (count == -EOVERFLOW)
		count_drop(stream);
	if (count <= 0)
		return count;
	stream->pump.len = 0;
	stream->pump.sent = 0;
	for (i = 0; i < count; i++) {
		if (!sse_filter_pass(&stream->filter, &events[i]))
			continue;
		n = sse_format_event(&events[i], stream->text + stream->pump.len,
		    sizeof(stream->text) - stream->pump.len);
		if (n < 0) {
			log_warnx("api: cannot format event %" PRIu64 ": %s", events[i].seq,
			    strerror(-n));
			return n;
		}
		stream->pump.len += (size_t)n;
	}
	return count;
}

static void
stream_lock(void *arg)
{
	struct sse_stream *stream = arg;

	hub_lock(stream->hub);
}

static void
stream_unlock(void *arg)
{
	struct sse_stream *stream = arg;

	hub_unlock(stream->hub);
}

static bool
stream_stopping(void *arg)
{
	struct sse_stream *stream = arg;

	return stream->hub->stopping;
}

/* Woken with nothing to say: a heartbeat; writing it shows whether the client is there. */
static void
stream_ping(void *arg)
{
	struct sse_stream *stream = arg;

	memcpy(stream->text, sse_ping, sizeof(sse_ping) - 1);
	stream->pump.len = sizeof(sse_ping) - 1;
	stream->pump.sent = 0;
}

static const struct stream_pump_ops pump_ops = {
	.fill = stream_fill,
	.lock = stream_lock,
	.unlock = stream_unlock,
	.stopping = stream_stopping,
	.heartbeat = stream_ping,
};

/* libmicrohttpd's content reader. */
static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse_stream *stream = cls;

	(void)pos;
	return stream_pump_read(&stream->pump, buf, max);
}

/* Called by libmicrohttpd when it destroys the response. */
static void
stream_free(void *cls)
{
	struct sse_stream *stream = cls;
	struct sse_hub *hub = stream->hub;

	/* After this no wake runs or will run, so the stream may go. */
	engine_unsubscribe(hub->engine, stream->subscriber);
	hub_lock(hub);
	DL_DELETE(hub->streams, stream);
	if (!stream->dropped)
		hub->clients--;
	hub_unlock(hub);
	free(stream);
}

int
sse_response(struct sse_hub *hub, struct MHD_Connection *connection,
    const struct sse_filter *filter, uint64_t last_seen, struct MHD_Response **out)
{
	const union MHD_ConnectionInfo *info;
	struct MHD_Response *response;
	struct sse_stream *stream;
	int rc;

	stream = calloc(1, sizeof(*stream));
	if (stream == NULL)
		return -ENOMEM;
	info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	stream->hub = hub;
	stream->pump = (struct stream_pump){ .ops = &pump_ops, .owner = stream,
	    .connection = connection, .data = stream->text };
	stream->fd = info != NULL ? info->connect_fd : -1;
	stream->filter = *filter;
	memcpy(stream->text, sse_hello, sizeof(sse_hello) - 1);
	stream->pump.len = sizeof(sse_hello) - 1;
	hub_lock(hub);
	rc = hub->stopping ? -ESHUTDOWN : 0;
	hub_unlock(hub);
	if (rc == 0)
		rc = engine_subscribe(hub->engine, last_seen, wake_stream, stream_behind, stream,
		    &stream->subscriber);
	if (rc != 0) {
		free(stream);
		return rc;
	}
	response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK_SIZE,
	    stream_read, stream, stream_free);
	if (response == NULL) {
		engine_unsubscribe(hub->engine, stream->subscriber);
		free(stream);
		return -ENOMEM;
	}
	hub_lock(hub);
	DL_APPEND(hub->streams, stream);
	hub->clients++;
	hub_unlock(hub);
	*out = response;
	return 0;
}
