/*
 * capture_live: GET /v1/capture, every frame on the interface (or one
 * connection's) streamed live as pcapng: the section and interface blocks
 * once, then one Enhanced Packet Block per frame.
 *
 * DESIGN
 *
 * Like the event stream (sse.c): libmicrohttpd's content reader copies a
 * batch of frames out of the engine's reader queue (under the core lock,
 * for the copy only), encodes them into the stream's own buffer and hands
 * that out; the socket is written with no lock held. With nothing queued
 * the reader suspends its request, and the engine's wake resumes it
 * (stream_pump.c); the two meet under the stream's own lock (lockorder.h: after the core lock),
 * so a wake between the read that found nothing and the suspend is not
 * lost. The engine drops a reader that falls behind and calls its behind
 * callback, which shuts the socket down, so even a client that stopped
 * reading ends; engine_stop wakes every reader before api_stop, and a
 * woken reader then ends its stream. A client that hangs up is found by
 * the hub's sweep (the gate's tick), which ends its stream the same way.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <utlist.h>

#include "capture_file.h"
#include "capture_live.h"
#include "lockorder.h"
#include "log.h"
#include "pcapng.h"
#include "stream_pump.h"

/* Frames copied out of the engine at a time. */
#define CAPTURE_BATCH 16
/* One block: its fixed fields (32 bytes), a padded frame and a comment with its option headers. */
#define CAPTURE_BLOCK_MAX (32 + sizeof(((struct engine_capture_frame *)0)->bytes) + 4 + \
    CAPTURE_COMMENT_MAX + 12)
/* What libmicrohttpd asks the reader for at most. */
#define CAPTURE_READ_SIZE 16384

struct capture_hub {
	pthread_mutex_t lock;		/* guards the list */
	struct capture_stream *streams;
};

struct capture_stream {
	struct capture_hub *hub;
	struct capture_stream *prev, *next;	/* in hub->streams */
	int fd;				/* the request's socket, for the sweep; -1 unknown */
	bool hung_up;			/* the sweep found its client gone (under lock) */
	struct engine *engine;
	struct engine_capture_reader *reader;
	pthread_mutex_t lock;		/* guards the pump's flags */
	struct stream_pump pump;	/* hands out the encoded bytes in out */
	struct engine_capture_frame frames[CAPTURE_BATCH];
	struct engine_capture_record records[CAPTURE_BATCH];
	uint8_t out[CAPTURE_BATCH * CAPTURE_BLOCK_MAX];
};

static void
stream_lock(void *arg)
{
	struct capture_stream *stream = arg;

	lockorder_acquire(LOCKORDER_CAPTURE_STREAM);
	pthread_mutex_lock(&stream->lock);
}

static void
stream_unlock(void *arg)
{
	struct capture_stream *stream = arg;

	pthread_mutex_unlock(&stream->lock);
	lockorder_release(LOCKORDER_CAPTURE_STREAM);
}

/* The engine's wake callback: runs with the core lock held, on any thread. */
static void
wake_stream(void *arg)
{
	struct capture_stream *stream = arg;

	stream_lock(stream);
	stream_pump_wake(&stream->pump);
	stream_unlock(stream);
}

/* Ends the request even if its client reads no more: its socket fails, and a wake lets libmicrohttpd see it. */
static void
stream_end(struct capture_stream *stream)
{
	if (stream->fd >= 0)
		shutdown(stream->fd, SHUT_RDWR);
	wake_stream(stream);
}

/* The engine dropped the reader. */
static void
stream_behind(void *arg)
{
	log_warnx("api: dropping a capture reader that fell behind");
	stream_end(arg);
}

static void
hub_lock(struct capture_hub *hub)
{
	lockorder_acquire(LOCKORDER_CAPTURE_HUB);
	pthread_mutex_lock(&hub->lock);
}

static void
hub_unlock(struct capture_hub *hub)
{
	pthread_mutex_unlock(&hub->lock);
	lockorder_release(LOCKORDER_CAPTURE_HUB);
}

int
capture_hub_new(struct capture_hub **out)
{
	struct capture_hub *hub = calloc(1, sizeof(*hub));

	if (hub == NULL)
		return -ENOMEM;
	if (pthread_mutex_init(&hub->lock, NULL) != 0) {
		free(hub);
		return -ENOMEM;
	}
	*out = hub;
	return 0;
}

void
capture_hub_free(struct capture_hub *hub)
{
	if (hub == NULL)
		return;
	pthread_mutex_destroy(&hub->lock);
	free(hub);
}

/* Whether the stream's reader is suspended, waiting for frames, and not yet found hung up. */
static bool
stream_waiting(struct capture_stream *stream)
{
	bool waiting;

	stream_lock(stream);
	waiting = stream->pump.suspended && !stream->hung_up;
	stream_unlock(stream);
	return waiting;
}

/* The pump's stopping test, under the stream's lock: a hung-up stream ends rather than suspends again. */
static bool
stream_hung_up(void *arg)
{
	struct capture_stream *stream = arg;

	return stream->hung_up;
}

void
capture_hub_sweep(struct capture_hub *hub)
{
	struct pollfd polls[ENGINE_CAPTURE_READERS_MAX];
	struct capture_stream *watched[ENGINE_CAPTURE_READERS_MAX];
	struct capture_stream *stream;
	nfds_t n = 0;

	hub_lock(hub);
	DL_FOREACH(hub->streams, stream) {
		if (n == ENGINE_CAPTURE_READERS_MAX || stream->fd < 0 || !stream_waiting(stream))
			continue;
		polls[n] = (struct pollfd){ .fd = stream->fd, .events = POLLRDHUP };
		watched[n++] = stream;
	}
	if (n > 0 && poll(polls, n, 0) > 0) {
		for (nfds_t i = 0; i < n; i++) {
			if (polls[i].revents == 0)
				continue;
			stream_lock(watched[i]);
			watched[i]->hung_up = true;
			stream_unlock(watched[i]);
			stream_end(watched[i]);
		}
	}
	hub_unlock(hub);
}

/*
 * Encodes the next batch of frames, each of a recorded segment with its
 * comment. Returns how many (0: none yet), or a negative errno.
 */
static int
stream_fill(void *arg)
{
	struct capture_stream *stream = arg;
	int count = engine_capture_read(stream->engine, stream->reader, stream->frames,
	    stream->records, CAPTURE_BATCH);
	char comment[CAPTURE_COMMENT_MAX];
	size_t n;

	if (count <= 0)
		return count;
	stream->pump.len = 0;
	stream->pump.sent = 0;
	for (int i = 0; i < count; i++) {
		const struct engine_capture_frame *frame = &stream->frames[i];
		struct pcapng_packet packet = {
			.ts_us = frame->ts_us,
			.data = frame->bytes,
			.captured = frame->captured,
			.original = frame->len,
		};

		if (stream->records[i].has_event) {
			capture_comment(&stream->records[i].event, comment, sizeof(comment));
			packet.comment = comment;
		}
		if (pcapng_packet(&packet, stream->out + stream->pump.len,
		    sizeof(stream->out) - stream->pump.len, &n) != 0)
			return -ENOSPC;
		stream->pump.len += n;
	}
	return count;
}

static const struct stream_pump_ops pump_ops = {
	.fill = stream_fill,
	.lock = stream_lock,
	.unlock = stream_unlock,
	.stopping = stream_hung_up,
};

/* libmicrohttpd's content reader. */
static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct capture_stream *stream = cls;

	(void)pos;
	return stream_pump_read(&stream->pump, buf, max);
}

/* Called by libmicrohttpd when it destroys the response. */
static void
stream_free(void *cls)
{
	struct capture_stream *stream = cls;

	/* After this no wake runs or will run, so the stream may go. */
	engine_capture_close(stream->engine, stream->reader);
	hub_lock(stream->hub);
	DL_DELETE(stream->hub->streams, stream);
	hub_unlock(stream->hub);
	pthread_mutex_destroy(&stream->lock);
	free(stream);
}

int
capture_live_response(struct capture_hub *hub, struct engine *engine,
    struct MHD_Connection *connection, const char *ifname, const char *description,
    uint64_t conn_id, struct MHD_Response **out)
{
	struct pcapng_interface iface = {
		.name = ifname,
		.description = description,
		.application = CAPTURE_APPLICATION,
		.snaplen = ENGINE_FRAME_HEADERS_MAX + ENGINE_SNAPLEN_MAX,
	};
	const union MHD_ConnectionInfo *info;
	struct MHD_Response *response;
	struct capture_stream *stream;
	int rc;

	stream = calloc(1, sizeof(*stream));
	if (stream == NULL)
		return -ENOMEM;
	stream->hub = hub;
	info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	stream->fd = info != NULL ? info->connect_fd : -1;
	stream->engine = engine;
	stream->pump = (struct stream_pump){ .ops = &pump_ops, .owner = stream,
	    .connection = connection, .data = stream->out };
	rc = pcapng_header(&iface, stream->out, sizeof(stream->out), &stream->pump.len);
	if (rc != 0)
		goto free_stream;
	rc = -pthread_mutex_init(&stream->lock, NULL);
	if (rc != 0)
		goto free_stream;
	rc = engine_capture_open(engine, conn_id, wake_stream, stream_behind, stream,
	    &stream->reader);
	if (rc != 0)
		goto destroy_lock;
	response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, CAPTURE_READ_SIZE,
	    stream_read, stream, stream_free);
	if (response == NULL) {
		rc = -ENOMEM;
		goto close_reader;
	}
	hub_lock(hub);
	DL_APPEND(hub->streams, stream);
	hub_unlock(hub);
	*out = response;
	return 0;
close_reader:
	engine_capture_close(engine, stream->reader);
destroy_lock:
	pthread_mutex_destroy(&stream->lock);
free_stream:
	free(stream);
	return rc;
}
