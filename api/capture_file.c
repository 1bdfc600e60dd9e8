/*
 * capture_file: a connection's timeline as a pcapng file, one Enhanced
 * Packet Block per segment that kept its frame, each with a comment
 * telling the stack's view of it: lwIP's state before and after, the
 * peer's, the step, and any fault or RFC 9293 drop.
 *
 * DESIGN
 *
 * Timestamps are the daemon's: the engine's monotonic at_us moved onto
 * the wall clock it read at start, so the packets line up with the
 * timeline's events rather than with a clock set later. A segment's frame
 * is kept as the glue reported it, so a corrupted one shows as it was
 * before the corruption, and a dropped one is still in the file: the
 * comment says what became of it. The original length is the frame's, the
 * captured length what --snaplen kept.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "capture_file.h"
#include "ladder_parts.h"
#include "pcapng.h"

void
capture_comment(const struct engine_event *event, char *buf, size_t len)
{
	const char *step = tcpinfo_step_name(event->step);
	int used;

	used = snprintf(buf, len, "lwIP %s -> %s, peer %s -> %s, step %s",
	    ladder_state(event->state_before), ladder_state(event->state_after),
	    ladder_state(event->peer_state_before), ladder_state(event->peer_state_after),
	    step != NULL ? step : "none");
	if (used < 0 || (size_t)used >= len)
		return;
	if (event->fault.action != FAULT_NONE)
		used += snprintf(buf + used, len - (size_t)used, ", fault %s rule %" PRIu64 "%s",
		    faults_action_name(event->fault.action), event->fault.rule,
		    event->fault.copy ? " (the copy)" : "");
	if (used < 0 || (size_t)used >= len)
		return;
	if (event->drop != TCPINFO_DROP_NONE)
		snprintf(buf + used, len - (size_t)used, ", RFC 9293 drop %s",
		    tcpinfo_drop_name(event->drop) != NULL ? tcpinfo_drop_name(event->drop) : "?");
}

void
capture_describe(const struct engine_iface_view *iface, const struct engine_conn_view *conn,
    char *buf, size_t len)
{
	char address[INET_ADDRSTRLEN], local[LADDER_ENDPOINT_MAX], remote[LADDER_ENDPOINT_MAX];
	int used;

	if (inet_ntop(AF_INET, &iface->address, address, sizeof(address)) == NULL)
		snprintf(address, sizeof(address), "?");
	used = snprintf(buf, len, "lwipd %s/%u on %s", address, (unsigned int)iface->prefix,
	    iface->name);
	if (conn == NULL || used < 0 || (size_t)used >= len)
		return;
	ladder_endpoint(&conn->local, local, sizeof(local));
	ladder_endpoint(&conn->remote, remote, sizeof(remote));
	snprintf(buf + used, len - (size_t)used, ", connection %" PRIu64 ": %s <-> %s", conn->id,
	    local, remote);
}

int
capture_file(const struct engine_timeline *timeline, const struct engine_iface_view *view,
    uint8_t **out, size_t *len)
{
	char description[CAPTURE_DESCRIPTION_MAX];
	struct pcapng_interface iface = {
		.name = view->name,
		.description = description,
		.application = CAPTURE_APPLICATION,
		.snaplen = ENGINE_FRAME_HEADERS_MAX + ENGINE_SNAPLEN_MAX,
	};
	struct pcapng_packet *packets;
	char *comments;
	size_t count = 0;
	int rc;

	capture_describe(view, &timeline->conn, description, sizeof(description));
	/* Both bounded by the timeline's length, itself at most ENGINE_TIMELINE_MAX. */
	packets = calloc(timeline->count ? timeline->count : 1, sizeof(*packets));
	comments = malloc((timeline->count ? timeline->count : 1) * CAPTURE_COMMENT_MAX);
	if (packets == NULL || comments == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < timeline->count; i++) {
		const struct engine_event *event = &timeline->events[i];
		char *comment = comments + count * CAPTURE_COMMENT_MAX;

		if (event->kind != ENGINE_EVENT_SEGMENT || event->snap_len == 0 ||
		    timeline->frames == NULL)
			continue;
		capture_comment(event, comment, CAPTURE_COMMENT_MAX);
		packets[count++] = (struct pcapng_packet){
			.ts_us = timeline->epoch_us + event->at_us,
			.data = timeline->frames + i * timeline->frame_slot,
			.captured = event->snap_len,
			.original = event->frame_len,
			.comment = comment,
		};
	}
	rc = pcapng_file(&iface, packets, count, out, len);
out:
	free(comments);
	free(packets);
	return rc;
}
