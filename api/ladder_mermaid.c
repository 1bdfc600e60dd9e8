/*
 * DESIGN: a Mermaid sequenceDiagram of the ladder, for GitHub and the
 * documentation tools that render Mermaid:
 *
 *   sequenceDiagram
 *       participant lwIP as lwIP 10.9.0.2:49152
 *       participant peer as peer 10.9.0.1:7000
 *       Note over peer: CLOSED
 *       lwIP->>peer: SYN seq=0
 *       Note over lwIP,peer: handshake-1
 *
 * One message per segment ("->>", or "-x" when a fault rule dropped it),
 * with its flags and relative numbers; a note over a side whenever its
 * state changes (lwIP's with the cause); a note over both for each step and
 * for what a fault did. Mermaid reads "#" and ";" specially and may take
 * "<...>" for HTML, so the text uses none of them: flags, names and numbers
 * only, which is all a timeline holds.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "ladder.h"
#include "ladder_parts.h"

/* "SYN,ACK seq=0 ack=1 len=5", with "?" for an unknown number. */
static void
put_message(FILE *f, const struct engine_event *event)
{
	char flags[TCPINFO_TEXT_MAX];

	tcpinfo_flags_format(event->flags, flags, sizeof(flags));
	fputs(flags[0] != '\0' ? flags : "no flags", f);
	if (event->has_rel_seq)
		fprintf(f, " seq=%" PRIu32, event->rel_seq);
	else
		fputs(" seq=?", f);
	if (event->flags & TCPINFO_FLAG_ACK) {
		if (event->has_rel_ack)
			fprintf(f, " ack=%" PRIu32, event->rel_ack);
		else
			fputs(" ack=?", f);
	}
	if (event->len > 0)
		fprintf(f, " len=%" PRIu32, event->len);
}

/* A note over one side when its state changed; *last remembers it. */
static void
put_side_state(FILE *f, const char *side, enum tcpinfo_state state, int *last)
{
	if (*last == (int)state)
		return;
	*last = (int)state;
	fprintf(f, "    Note over %s: %s\n", side, ladder_state(state));
}

/*
 * Whether a state event after event i says that lwIP entered state, with
 * its cause, before any segment shows lwIP in another state: the glue may
 * report the change after the segments lwIP sent while handling event i.
 */
static bool
told_later(const struct engine_timeline *timeline, size_t i, enum tcpinfo_state state)
{
	for (size_t j = i + 1; j < timeline->count; j++) {
		const struct engine_event *event = &timeline->events[j];

		if (event->kind == ENGINE_EVENT_STATE)
			return event->to == state;
		if (event->state_after != state)
			return false;
	}
	return false;
}

/* next_told: a later event is lwIP's change to state_after, and says it with its cause. */
static void
put_segment(FILE *f, const struct engine_event *event, bool next_told, int *last_lwip,
    int *last_peer)
{
	const char *step = tcpinfo_step_name(event->step);
	const char *arrow = ladder_lost(event) ? "-x" : "->>";
	char fault[LADDER_FAULT_MAX];

	if (*last_peer < 0)
		put_side_state(f, "peer", event->peer_state_before, last_peer);
	fprintf(f, "    %s%s%s: ", event->outbound ? "lwIP" : "peer", arrow,
	    event->outbound ? "peer" : "lwIP");
	put_message(f, event);
	fputc('\n', f);
	if (step != NULL && event->step == TCPINFO_STEP_TEARDOWN_2_3)
		fprintf(f, "    Note over lwIP,peer: %s, %s\n", step, ladder_together(event->outbound));
	else if (step != NULL)
		fprintf(f, "    Note over lwIP,peer: %s\n", step);
	ladder_fault(&event->fault, fault, sizeof(fault));
	if (fault[0] != '\0')
		fprintf(f, "    Note over lwIP,peer: %s\n", fault);
	if (!next_told)
		put_side_state(f, "lwIP", event->state_after, last_lwip);
	put_side_state(f, "peer", event->peer_state_after, last_peer);
}

static void
put_diagram(FILE *f, const struct engine_timeline *timeline)
{
	char local[LADDER_ENDPOINT_MAX], remote[LADDER_ENDPOINT_MAX], cause[TCPINFO_TEXT_MAX];
	int last_lwip = -1, last_peer = -1;

	ladder_endpoint(&timeline->conn.local, local, sizeof(local));
	ladder_endpoint(&timeline->conn.remote, remote, sizeof(remote));
	fprintf(f, "sequenceDiagram\n    participant lwIP as lwIP %s\n"
	    "    participant peer as peer %s\n", local, remote);
	for (size_t i = 0; i < timeline->count; i++) {
		const struct engine_event *event = &timeline->events[i];

		if (i == ENGINE_TIMELINE_HEAD && timeline->dropped > 0)
			fprintf(f, "    Note over lwIP,peer: ... %" PRIu64 " event%s not kept ...\n",
			    timeline->dropped, timeline->dropped == 1 ? "" : "s");
		if (event->kind == ENGINE_EVENT_SEGMENT) {
			put_segment(f, event, told_later(timeline, i, event->state_after), &last_lwip,
			    &last_peer);
			continue;
		}
		last_lwip = (int)event->to;
		fprintf(f, "    Note over lwIP: %s (%s)\n", ladder_state(event->to),
		    tcpinfo_cause_format(event->cause, cause, sizeof(cause)));
	}
}

char *
ladder_mermaid(const struct engine_timeline *timeline, size_t *len)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f;

	f = open_memstream(&text, &size);
	if (f == NULL)
		return NULL;
	put_diagram(f, timeline);
	return ladder_stream_close(f, &text, &size, len);
}
