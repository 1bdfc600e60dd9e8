/*
 * DESIGN: a standalone SVG sequence diagram, drawn top to bottom in rows:
 *
 *   - two lifelines, lwIP at LIFE_LWIP and the peer at LIFE_PEER, headed by
 *     boxes naming each side and its endpoint;
 *   - one row per segment: an arrow from the sender's lifeline down to the
 *     receiver's, sloping by ROW_SLOPE, with the flags and relative numbers
 *     above it and the step below it (a teardown-2+3 says in words that the
 *     ACK and the FIN came together); a segment a fault rule dropped stops
 *     halfway in an X, with the rule beside it;
 *   - each side's state written beside its lifeline wherever it changes
 *     (lwIP's to the left, the peer's to the right), and a short row for
 *     each state change of lwIP's with its cause.
 *
 * Every element standing for a segment is a <g class="segment"> with
 * data-step (when the segment has one) and data-lost="true" when dropped,
 * so that a test can find them. Plain fonts (generic families only), CSS
 * in one <style>, no scripts, every text escaped for XML; the size follows
 * from the rows, so the output is bounded by the timeline's.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ladder.h"
#include "ladder_parts.h"

#define WIDTH 760
#define LIFE_LWIP 220
#define LIFE_PEER 540
#define TOP 80		/* below the heads */
#define ROW_SEGMENT 64
#define ROW_STATE 22
#define ROW_SLOPE 22
#define BOTTOM 30

static const char style[] =
    "text{font-family:sans-serif;font-size:12px;fill:#111}"
    ".head{font-weight:bold;font-size:13px}"
    ".endpoint{font-family:monospace;font-size:11px}"
    ".life{stroke:#888;stroke-width:1.5;stroke-dasharray:4 3}"
    ".box{fill:#eef2f7;stroke:#333}"
    ".segment line{stroke:#1f4e8c;stroke-width:1.6}"
    ".segment[data-lost] line{stroke:#b0201a;stroke-dasharray:6 3}"
    ".x{stroke:#b0201a;stroke-width:2.5}"
    ".label{font-family:monospace;font-size:11px}"
    ".step{font-size:11px;font-style:italic;fill:#444}"
    ".note{font-size:10px;fill:#b0201a}"
    ".state{font-family:monospace;font-size:11px;font-weight:bold;fill:#0a5d2a}"
    ".cause{font-size:10px;fill:#666}"
    ".gap{font-size:11px;fill:#666}";

/* Writes text escaped for XML character data and attribute values. */
static void
put_escaped(FILE *f, const char *text)
{
	for (; *text != '\0'; text++) {
		switch (*text) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		default:
			fputc(*text, f);
			break;
		}
	}
}

/* <text x y class anchor>escaped</text> */
static void
put_text(FILE *f, int x, int y, const char *class, const char *anchor, const char *text)
{
	fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"%s\" text-anchor=\"%s\">", x, y, class, anchor);
	put_escaped(f, text);
	fputs("</text>\n", f);
}

/* The rows' total height, so the canvas is known before drawing. */
static int
rows_height(const struct engine_timeline *timeline)
{
	int height = 0;

	for (size_t i = 0; i < timeline->count; i++)
		height += timeline->events[i].kind == ENGINE_EVENT_SEGMENT ? ROW_SEGMENT : ROW_STATE;
	if (timeline->dropped > 0)
		height += ROW_STATE;
	return height;
}

static void
put_heads(FILE *f, const struct engine_timeline *timeline, int bottom)
{
	char local[LADDER_ENDPOINT_MAX], remote[LADDER_ENDPOINT_MAX], title[96];
	const struct engine_conn_view *conn = &timeline->conn;

	ladder_endpoint(&conn->local, local, sizeof(local));
	ladder_endpoint(&conn->remote, remote, sizeof(remote));
	snprintf(title, sizeof(title), "connection %" PRIu64 ", %s open, now %s", conn->id,
	    conn->origin == ENGINE_ORIGIN_PASSIVE ? "passive" : "active", ladder_state(conn->state));
	put_text(f, WIDTH / 2, 18, "head", "middle", title);
	fprintf(f, "<line class=\"life\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
	    LIFE_LWIP, TOP - 14, LIFE_LWIP, bottom);
	fprintf(f, "<line class=\"life\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
	    LIFE_PEER, TOP - 14, LIFE_PEER, bottom);
	fprintf(f, "<rect class=\"box\" x=\"%d\" y=\"28\" width=\"140\" height=\"38\" rx=\"4\"/>\n",
	    LIFE_LWIP - 70);
	fprintf(f, "<rect class=\"box\" x=\"%d\" y=\"28\" width=\"140\" height=\"38\" rx=\"4\"/>\n",
	    LIFE_PEER - 70);
	put_text(f, LIFE_LWIP, 44, "head", "middle", "lwIP");
	put_text(f, LIFE_LWIP, 59, "endpoint", "middle", local);
	put_text(f, LIFE_PEER, 44, "head", "middle", "peer");
	put_text(f, LIFE_PEER, 59, "endpoint", "middle", remote);
}

/* One segment's row, starting at y. */
static void
put_segment(FILE *f, const struct engine_event *event, int y)
{
	int from = event->outbound ? LIFE_LWIP : LIFE_PEER;
	int to = event->outbound ? LIFE_PEER : LIFE_LWIP;
	int y1 = y + 14, y2 = y1 + ROW_SLOPE;
	bool lost = ladder_lost(event);
	const char *step = tcpinfo_step_name(event->step);
	char segment[LADDER_SEGMENT_MAX], fault[LADDER_FAULT_MAX];
	int x_end = lost ? (from + to) / 2 : to, y_end = lost ? (y1 + y2) / 2 : y2;

	fputs("<g class=\"segment\"", f);
	if (step != NULL) {
		fputs(" data-step=\"", f);
		put_escaped(f, step);
		fputs("\"", f);
	}
	fprintf(f, " data-dir=\"%s\"%s>\n", event->outbound ? "out" : "in",
	    lost ? " data-lost=\"true\"" : "");
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"%s/>\n", from, y1, x_end, y_end,
	    lost ? "" : " marker-end=\"url(#head)\"");
	if (lost)
		fprintf(f, "<path class=\"x\" d=\"M%d %d l12 12 M%d %d l-12 12\"/>\n",
		    x_end - 6, y_end - 6, x_end + 6, y_end - 6);
	ladder_segment(event, segment, sizeof(segment));
	put_text(f, (LIFE_LWIP + LIFE_PEER) / 2, y1 - 3, "label", "middle", segment);
	put_text(f, (LIFE_LWIP + LIFE_PEER) / 2, y2 + 13, "step", "middle", step != NULL ? step : "");
	if (event->step == TCPINFO_STEP_TEARDOWN_2_3)
		put_text(f, (LIFE_LWIP + LIFE_PEER) / 2, y2 + 25, "step", "middle",
		    ladder_together(event->outbound));
	ladder_fault(&event->fault, fault, sizeof(fault));
	/* A drop is said beside its X; other faults under the step. */
	if (lost)
		put_text(f, x_end + 12, y_end + 4, "note", "start", fault);
	else if (fault[0] != '\0')
		put_text(f, (LIFE_LWIP + LIFE_PEER) / 2, y2 + 25, "note", "middle", fault);
	fputs("</g>\n", f);
}

/* Writes a side's state beside its lifeline when it changed; *last remembers it. */
static void
put_side_state(FILE *f, bool peer, enum tcpinfo_state state, int y, int *last)
{
	if (*last == (int)state)
		return;
	*last = (int)state;
	if (peer)
		put_text(f, LIFE_PEER + 8, y, "state", "start", ladder_state(state));
	else
		put_text(f, LIFE_LWIP - 8, y, "state", "end", ladder_state(state));
}

static void
put_rows(FILE *f, const struct engine_timeline *timeline)
{
	int y = TOP, last_lwip = -1, last_peer = -1;
	char cause[TCPINFO_TEXT_MAX], gap[64];

	for (size_t i = 0; i < timeline->count; i++) {
		const struct engine_event *event = &timeline->events[i];

		if (i == ENGINE_TIMELINE_HEAD && timeline->dropped > 0) {
			snprintf(gap, sizeof(gap), "... %" PRIu64 " event%s not kept ...",
			    timeline->dropped, timeline->dropped == 1 ? "" : "s");
			put_text(f, WIDTH / 2, y + 15, "gap", "middle", gap);
			y += ROW_STATE;
		}
		if (event->kind != ENGINE_EVENT_SEGMENT) {
			put_side_state(f, false, event->to, y + 15, &last_lwip);
			tcpinfo_cause_format(event->cause, cause, sizeof(cause));
			put_text(f, LIFE_LWIP + 8, y + 15, "cause", "start", cause);
			y += ROW_STATE;
			continue;
		}
		/* The peer's state before the first segment: where its column starts. */
		if (last_peer < 0)
			put_side_state(f, true, event->peer_state_before, y + 10, &last_peer);
		put_segment(f, event, y);
		put_side_state(f, false, event->state_after, y + 14 + ROW_SLOPE + 4, &last_lwip);
		put_side_state(f, true, event->peer_state_after, y + 14 + ROW_SLOPE + 4, &last_peer);
		y += ROW_SEGMENT;
	}
}

char *
ladder_svg(const struct engine_timeline *timeline, size_t *len)
{
	int height = TOP + rows_height(timeline) + BOTTOM;
	char *text = NULL;
	size_t size = 0;
	FILE *f;

	f = open_memstream(&text, &size);
	if (f == NULL)
		return NULL;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	    "viewBox=\"0 0 %d %d\">\n<style>%s</style>\n"
	    "<defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
	    "markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\">"
	    "<path d=\"M0 0 L10 5 L0 10 z\" fill=\"#1f4e8c\"/></marker></defs>\n"
	    "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
	    WIDTH, height, WIDTH, height, style);
	put_heads(f, timeline, height - BOTTOM + 10);
	put_rows(f, timeline);
	fputs("</svg>\n", f);
	return ladder_stream_close(f, &text, &size, len);
}
