/*
 * DESIGN: every segment row has the same columns, as in RFC 9293's figures:
 *
 *       ms lwIP 10.9.0.2:49152                                  peer 10.9.0.1:7000
 *    0.420 ESTABLISHED <-- <SEQ=0><ACK=1><CTL=SYN,ACK>    handshake-2  SYN_RCVD
 *
 * the time since the first event, lwIP's state after the segment, the
 * arrow of its direction, its relative numbers, its step, and the peer's
 * (inferred) state after it in the last eleven columns, under the peer's
 * endpoint. One arrow, not RFC 9293's two, leaves room for the step. A
 * segment a fault rule dropped has its arrow end in an x on lwIP's side
 * ("--x" dropped before the wire, "x--" before lwIP) and a row of its own
 * under it naming the rule; a teardown-2+3 row is followed by one saying
 * that the ACK and the FIN came together. State changes of lwIP get a short row of their own,
 * "(from SYN_SENT, rx:SYN,ACK)", in the segment column; before the first
 * segment such a row shows the peer's state at the start (LISTEN when it
 * answered lwIP's SYN) in the peer's column. A data or ack label
 * gives way when the row would push the peer's state further right; a row
 * still too wide (huge numbers, every flag, days of uptime) is cut and ends
 * in "...", so LADDER_COLUMNS holds for every input.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ladder.h"
#include "ladder_parts.h"

#define LADDER_TIME_WIDTH 8
#define LADDER_STATE_WIDTH 11	/* "ESTABLISHED" */
/* The arrow, the segment and the step, between the two states. */
#define LADDER_MIDDLE_WIDTH (LADDER_COLUMNS - LADDER_TIME_WIDTH - 2 * LADDER_STATE_WIDTH - 3)
/* Room for "<SEQ=1461><ACK=7><CTL=FIN,ACK>" with the longest step after it. */
#define LADDER_SEGMENT_WIDTH (LADDER_MIDDLE_WIDTH - 4 - 13)
/* Longer than any row before it is cut: every field is bounded. */
#define LADDER_LINE_MAX 384

/* Writes line with a newline, cut to LADDER_COLUMNS and without trailing blanks. */
static int
put_line(FILE *f, char *line)
{
	size_t len = strlen(line);

	if (len > LADDER_COLUMNS) {
		memcpy(line + LADDER_COLUMNS - 3, "...", 4);
		len = LADDER_COLUMNS;
	}
	while (len > 0 && line[len - 1] == ' ')
		line[--len] = '\0';
	return fprintf(f, "%s\n", line) < 0 ? -ENOMEM : 0;
}

/* A row under a segment, in its column: "(dropped by fault rule 3)". */
static int
put_note(FILE *f, const char *note)
{
	char line[LADDER_LINE_MAX];

	snprintf(line, sizeof(line), "%*s %*s     (%s)", LADDER_TIME_WIDTH, "",
	    LADDER_STATE_WIDTH, "", note);
	return put_line(f, line);
}

/* Whether the step may give way to a long segment: the data speaks for itself. */
static bool
step_optional(enum tcpinfo_step step)
{
	return step == TCPINFO_STEP_DATA || step == TCPINFO_STEP_ACK;
}

static int
put_segment(FILE *f, const struct engine_event *event, const char *time)
{
	const char *state = tcpinfo_state_name(event->state_after);
	const char *peer = tcpinfo_state_name(event->peer_state_after);
	const char *step = tcpinfo_step_name(event->step);
	bool lost = ladder_lost(event);
	const char *arrow;
	char segment[LADDER_SEGMENT_MAX], fault[LADDER_FAULT_MAX];
	char middle[LADDER_LINE_MAX / 2], line[LADDER_LINE_MAX];
	int n, rc;

	if (state == NULL || peer == NULL)
		return -EINVAL;
	/* A lost segment's arrow ends in an x on lwIP's side: dropped before the wire or before lwIP. */
	if (event->outbound)
		arrow = lost ? "--x" : "-->";
	else
		arrow = lost ? "x--" : "<--";
	ladder_segment(event, segment, sizeof(segment));
	n = snprintf(middle, sizeof(middle), "%s %-*s", arrow, LADDER_SEGMENT_WIDTH, segment);
	if (step != NULL && n >= 0 && (size_t)n < sizeof(middle) && (!step_optional(event->step) ||
	    (size_t)n + 1 + strlen(step) <= LADDER_MIDDLE_WIDTH))
		snprintf(middle + n, sizeof(middle) - (size_t)n, " %s", step);
	/* A row longer than the line is cut; put_line() marks it. */
	if (snprintf(line, sizeof(line), "%*s %-*s %-*s %s", LADDER_TIME_WIDTH, time,
	    LADDER_STATE_WIDTH, state, LADDER_MIDDLE_WIDTH, middle, peer) < 0)
		return -EINVAL;
	rc = put_line(f, line);
	if (rc == 0 && event->fault.action != FAULT_NONE) {
		ladder_fault(&event->fault, fault, sizeof(fault));
		rc = put_note(f, fault);
	}
	if (rc == 0 && event->step == TCPINFO_STEP_TEARDOWN_2_3)
		rc = put_note(f, ladder_together(event->outbound));
	return rc;
}

/* lwIP's state change; peer, when not NULL, is the peer's state, in its column. */
static int
put_state(FILE *f, const struct engine_event *event, const char *time, const char *peer)
{
	const char *from = tcpinfo_state_name(event->from);
	const char *to = tcpinfo_state_name(event->to);
	char cause[TCPINFO_TEXT_MAX];
	char text[LADDER_LINE_MAX / 2], line[LADDER_LINE_MAX];

	if (from == NULL || to == NULL)
		return -EINVAL;
	/* Four blanks stand for the arrow, so the text lines up with the segments. */
	if (snprintf(text, sizeof(text), "%*s %-*s     (from %s, %s)",
	    LADDER_TIME_WIDTH, time, LADDER_STATE_WIDTH, to, from,
	    tcpinfo_cause_format(event->cause, cause, sizeof(cause))) < 0)
		return -EINVAL;
	if (snprintf(line, sizeof(line), "%-*s %s", LADDER_COLUMNS - LADDER_STATE_WIDTH - 1, text,
	    peer != NULL ? peer : "") < 0)
		return -EINVAL;
	return put_line(f, line);
}

/* The peer's state before the first segment, or NULL when there is none. */
static const char *
peer_at_start(const struct engine_timeline *timeline)
{
	for (size_t i = 0; i < timeline->count; i++)
		if (timeline->events[i].kind == ENGINE_EVENT_SEGMENT)
			return tcpinfo_state_name(timeline->events[i].peer_state_before);
	return NULL;
}

/* The connection, its state now, and the two endpoints above their columns. */
static int
put_header(FILE *f, const struct engine_timeline *timeline)
{
	const struct engine_conn_view *conn = &timeline->conn;
	const char *state = tcpinfo_state_name(conn->state);
	char local[LADDER_ENDPOINT_MAX], remote[LADDER_ENDPOINT_MAX];
	char line[LADDER_LINE_MAX], lwip[LADDER_LINE_MAX / 2], peer[LADDER_LINE_MAX / 2];
	int rc, pad;

	if (state == NULL)
		return -EINVAL;
	snprintf(line, sizeof(line), "connection %" PRIu64 ", %s open, now %s", conn->id,
	    conn->origin == ENGINE_ORIGIN_PASSIVE ? "passive" : "active", state);
	rc = put_line(f, line);
	if (rc != 0)
		return rc;
	ladder_endpoint(&conn->local, local, sizeof(local));
	ladder_endpoint(&conn->remote, remote, sizeof(remote));
	snprintf(lwip, sizeof(lwip), "%*s lwIP %s", LADDER_TIME_WIDTH, "ms", local);
	snprintf(peer, sizeof(peer), "peer %s", remote);
	/* The peer ends in the last column, over its states. */
	pad = LADDER_COLUMNS - (int)strlen(lwip) - (int)strlen(peer);
	snprintf(line, sizeof(line), "%s%*s%s", lwip, pad > 1 ? pad : 1, "", peer);
	return put_line(f, line);
}

/* Marks where the events between the head and the tail were dropped. */
static int
put_dropped(FILE *f, uint64_t dropped)
{
	char line[LADDER_LINE_MAX];

	snprintf(line, sizeof(line), "%*s ... %" PRIu64 " event%s not kept ...",
	    LADDER_TIME_WIDTH, "", dropped, dropped == 1 ? "" : "s");
	return put_line(f, line);
}

static int
put_ladder(FILE *f, const struct engine_timeline *timeline)
{
	uint64_t start = timeline->count > 0 ? timeline->events[0].at_us : 0;
	const char *peer = peer_at_start(timeline);
	const struct engine_event *event;
	char time[LADDER_TIME_MAX];
	size_t i;
	int rc;

	rc = put_header(f, timeline);
	for (i = 0; rc == 0 && i < timeline->count; i++) {
		if (i == ENGINE_TIMELINE_HEAD && timeline->dropped > 0) {
			rc = put_dropped(f, timeline->dropped);
			if (rc != 0)
				break;
		}
		event = &timeline->events[i];
		ladder_time(event->at_us, start, time, sizeof(time));
		if (event->kind == ENGINE_EVENT_SEGMENT) {
			rc = put_segment(f, event, time);
			peer = NULL;	/* its row shows the peer's state from here */
		} else if (event->kind == ENGINE_EVENT_STATE) {
			rc = put_state(f, event, time, peer);
		}
		else {
			rc = -EINVAL;
		}
	}
	return rc;
}

int
ladder_render(const struct engine_timeline *timeline, char **out, size_t *len)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f;
	int rc;

	f = open_memstream(&text, &size);
	if (f == NULL)
		return -ENOMEM;
	rc = put_ladder(f, timeline);
	if (fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc != 0) {
		free(text);
		return rc;
	}
	*out = text;
	*len = size;
	return 0;
}
