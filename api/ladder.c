/*
 * DESIGN: every row has the same columns, as in RFC 9293's figures 6 and 7:
 *
 *        ms  lwIP 10.9.0.2:49152                              peer 10.9.0.1:7000
 *     0.412  ESTABLISHED <-- <SEQ=0><ACK=1><CTL=SYN,ACK>       <-- handshake-2
 *
 * the time since the first event, lwIP's state after the event, the arrow
 * of the segment's direction on both sides of its relative numbers, and
 * its step. The peer's state is not known, so the step takes its column.
 * A state change gets a short row of its own, "(from SYN_SENT, rx:SYN,ACK)",
 * in the segment column. The widths fit LADDER_COLUMNS for any segment up
 * to <SEQ=1234567><ACK=1><CTL=PSH,ACK><LEN=1460>; a longer row (huge
 * numbers, many flags, days of uptime) is cut and ends in "...", so the
 * limit holds for every input.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ladder.h"

#define LADDER_TIME_WIDTH 9
#define LADDER_STATE_WIDTH 11	/* "ESTABLISHED" */
#define LADDER_SEGMENT_WIDTH 37
/* Longer than any row before it is cut: every field is bounded. */
#define LADDER_LINE_MAX 256
/* "<SEQ=4294967295>" and the like, four of them, and the longest flag list. */
#define LADDER_SEGMENT_MAX 128
/* "255.255.255.255:65535" */
#define LADDER_ENDPOINT_MAX 24

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

/* Milliseconds since the first event, e.g. "12.345". */
static void
format_time(uint64_t at_us, uint64_t start_us, char *buf, size_t len)
{
	uint64_t us = at_us > start_us ? at_us - start_us : 0;

	snprintf(buf, len, "%" PRIu64 ".%03u", us / 1000, (unsigned int)(us % 1000));
}

static void
format_endpoint(const struct engine_endpoint *endpoint, char *buf, size_t len)
{
	struct in_addr addr = { .s_addr = endpoint->ip };
	char ip[INET_ADDRSTRLEN] = "?";

	inet_ntop(AF_INET, &addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, (unsigned int)endpoint->port);
}

/* Appends "<NAME=value>", or "<NAME=?>" when the value is unknown. */
static size_t
append_field(char *buf, size_t len, size_t used, const char *name, bool known, uint32_t value)
{
	int n;

	if (known)
		n = snprintf(buf + used, len - used, "<%s=%" PRIu32 ">", name, value);
	else
		n = snprintf(buf + used, len - used, "<%s=?>", name);
	return n < 0 ? used : used + (size_t)n;
}

/* "<SEQ=0><ACK=1><CTL=SYN,ACK>", with "<LEN=n>" when the segment carries data. */
static void
format_segment(const struct engine_event *event, char *buf, size_t len)
{
	char flags[TCPINFO_TEXT_MAX];
	size_t used;

	used = append_field(buf, len, 0, "SEQ", event->has_rel_seq, event->rel_seq);
	if (event->flags & TCPINFO_FLAG_ACK)
		used = append_field(buf, len, used, "ACK", event->has_rel_ack, event->rel_ack);
	tcpinfo_flags_format(event->flags, flags, sizeof(flags));
	if (flags[0] != '\0' && used < len)
		used += (size_t)snprintf(buf + used, len - used, "<CTL=%s>", flags);
	if (event->len > 0 && used < len)
		append_field(buf, len, used, "LEN", true, event->len);
}

static int
put_segment(FILE *f, const struct engine_event *event, const char *time)
{
	const char *state = tcpinfo_state_name(event->state_after);
	const char *step = tcpinfo_step_name(event->step);
	const char *arrow = event->outbound ? "-->" : "<--";
	char segment[LADDER_SEGMENT_MAX];
	char line[LADDER_LINE_MAX];

	if (state == NULL)
		return -EINVAL;
	format_segment(event, segment, sizeof(segment));
	/* A row longer than the line is cut; put_line() marks it. */
	if (snprintf(line, sizeof(line), "%*s  %-*s %s %-*s %s %s",
	    LADDER_TIME_WIDTH, time, LADDER_STATE_WIDTH, state, arrow,
	    LADDER_SEGMENT_WIDTH, segment, arrow, step != NULL ? step : "") < 0)
		return -EINVAL;
	return put_line(f, line);
}

static int
put_state(FILE *f, const struct engine_event *event, const char *time)
{
	const char *from = tcpinfo_state_name(event->from);
	const char *to = tcpinfo_state_name(event->to);
	char cause[TCPINFO_TEXT_MAX];
	char line[LADDER_LINE_MAX];

	if (from == NULL || to == NULL)
		return -EINVAL;
	/* Four blanks stand for the arrow, so the text lines up with the segments. */
	if (snprintf(line, sizeof(line), "%*s  %-*s     (from %s, %s)",
	    LADDER_TIME_WIDTH, time, LADDER_STATE_WIDTH, to, from,
	    tcpinfo_cause_format(event->cause, cause, sizeof(cause))) < 0)
		return -EINVAL;
	return put_line(f, line);
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
	format_endpoint(&conn->local, local, sizeof(local));
	format_endpoint(&conn->remote, remote, sizeof(remote));
	snprintf(lwip, sizeof(lwip), "%*s  lwIP %s", LADDER_TIME_WIDTH, "ms", local);
	snprintf(peer, sizeof(peer), "peer %s", remote);
	/* The peer ends in the last column, over the steps. */
	pad = LADDER_COLUMNS - (int)strlen(lwip) - (int)strlen(peer);
	snprintf(line, sizeof(line), "%s%*s%s", lwip, pad > 1 ? pad : 1, "", peer);
	return put_line(f, line);
}

/* Marks where the events between the head and the tail were dropped. */
static int
put_dropped(FILE *f, uint64_t dropped)
{
	char line[LADDER_LINE_MAX];

	snprintf(line, sizeof(line), "%*s  ... %" PRIu64 " event%s not kept ...",
	    LADDER_TIME_WIDTH, "", dropped, dropped == 1 ? "" : "s");
	return put_line(f, line);
}

static int
put_ladder(FILE *f, const struct engine_timeline *timeline)
{
	uint64_t start = timeline->count > 0 ? timeline->events[0].at_us : 0;
	const struct engine_event *event;
	char time[LADDER_LINE_MAX];
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
		format_time(event->at_us, start, time, sizeof(time));
		if (event->kind == ENGINE_EVENT_SEGMENT)
			rc = put_segment(f, event, time);
		else if (event->kind == ENGINE_EVENT_STATE)
			rc = put_state(f, event, time);
		else
			rc = -EINVAL;
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
