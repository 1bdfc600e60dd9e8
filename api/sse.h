/*
 * sse: GET /v1/events, the engine's event stream as Server-Sent Events.
 * A hub owns every open stream; each stream is a libmicrohttpd response
 * whose content reader copies events out of the engine and suspends its
 * request while there are none.
 */
#ifndef LWIPD_SSE_H
#define LWIPD_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "engine.h"

/* Longer than any formatted event: every field of one is bounded. */
#define SSE_EVENT_MAX 512

struct sse_filter {
	bool by_connection;	/* ?connection=: only that connection's state and connection events */
	uint64_t connection;
};

/* Whether event passes filter. */
bool sse_filter_pass(const struct sse_filter *filter, const struct engine_stream_event *event);

/*
 * Writes event as "id: N\nevent: NAME\ndata: JSON\n\n" into buf. Returns
 * its length, or -EINVAL (a value with no name), -ENOMEM or -ENOSPC.
 */
int sse_format_event(const struct engine_stream_event *event, char *buf, size_t len);

struct sse_hub;

/* Returns 0 or -ENOMEM. */
int sse_hub_new(struct engine *engine, struct sse_hub **out);

/* Frees the hub once libmicrohttpd has stopped, so no stream is left. Accepts NULL. */
void sse_hub_free(struct sse_hub *hub);

/*
 * Ends every stream and refuses new ones: each stream sends what it holds
 * and ends, and a suspended one is resumed to do so.
 */
void sse_hub_stop(struct sse_hub *hub);

/* Streams the sweep watches at most: more than the engine's 64 subscribers. */
#define SSE_SWEEP_MAX 128

/*
 * Resumes each suspended stream whose client has hung up, so that
 * libmicrohttpd notices and frees its slot. Called from the gate's thread.
 */
void sse_hub_sweep(struct sse_hub *hub);

/* Streams open now, and streams dropped for falling behind since the start. */
void sse_hub_counts(struct sse_hub *hub, uint64_t *clients, uint64_t *dropped);

/*
 * Creates the response of a new stream for connection: events numbered
 * after last_seen (0: new events only) that pass filter, after a comment
 * line so that the client sees the headers at once. The caller queues and
 * destroys the response; the stream lives as long as it. Returns 0,
 * -ENOMEM, -ENOBUFS (too many streams) or -ESHUTDOWN.
 */
int sse_response(struct sse_hub *hub, struct MHD_Connection *connection,
    const struct sse_filter *filter, uint64_t last_seen, struct MHD_Response **out);

#endif
