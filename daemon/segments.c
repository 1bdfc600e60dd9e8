/*
 * segments: the stack's segment hooks. Each segment between lwIP and the
 * wire is labelled with its step, decided on by the fault rules, recorded
 * in its connection's timeline with the peer's inferred state, and counted.
 *
 * DESIGN
 *
 * The glue reports a segment before it is carried out: the first report
 * decides (the step, then a fault rule's verdict, unless RFC 9293's rules
 * already dropped it). A held segment (delay, reorder) is recorded only
 * when it goes on, with the step it got when it was held, so the timeline
 * lists segments in the order lwIP handled them (inbound) or the wire
 * carried them (outbound): a reordered one shows as out of order. A
 * segment of no tracked connection is decided on as well (a rule may match
 * ports and flags), and recorded nowhere.
 *
 * The rule's "state" is lwIP's state when it handles the segment: for an
 * inbound one the state it finds, for an outbound one the state it sends
 * it in (the ACK of the peer's FIN leaves in TIME_WAIT). A listener's SYN
 * finds LISTEN. One a rule dropped makes no connection: it is remembered
 * (synmemo.c) and recorded first in the timeline of the connection that
 * the peer's retransmission makes, which is then labelled a retransmit.
 *
 * The peer's state on a segment is what peerstate_segment() infers, and
 * timeline_rewrite_peer() corrects the segments already recorded when a later one
 * shows more (peerstate.h: enum peerstate_patch), so that the states on
 * the segments pass through the peer's history in order.
 *
 * An inbound segment stays open until segment_done: the state changes
 * reported meanwhile are its doing, and what lwIP accepted of it (payload
 * in sequence, a RST that ended the connection) is counted then, so a
 * bad-checksum or out-of-window segment adds nothing to bytes_in or rst_in.
 */
#include "engine_internal.h"

#include <inttypes.h>
#include <string.h>

#include "log.h"

#define OVERFLOW_WARN_US 10000000u	/* a hold stays full while traffic lasts: one line per 10 s */

struct news_context {
	struct engine *engine;
	uint64_t connection;
	bool outbound;
};

/* Logs a full hold at most once per OVERFLOW_WARN_US, with the count of those not logged. */
static void
warn_overflow(struct engine *engine, const struct fault_rule_view *rule, uint64_t now_us)
{
	engine->overflows_unwarned++;
	if (engine->overflow_warned_us != 0 && now_us - engine->overflow_warned_us < OVERFLOW_WARN_US)
		return;
	log_warnx("fault rule %" PRIu64 ": the hold is full (--fault-hold-max, --fault-hold-bytes), "
	    "so %" PRIu64 " segment(s) passed unheld", rule->id, engine->overflows_unwarned);
	engine->overflow_warned_us = now_us;
	engine->overflows_unwarned = 0;
}

static enum engine_stream_kind
stream_kind(enum fault_news news)
{
	switch (news) {
	case FAULT_NEWS_FIRED:
		return ENGINE_STREAM_FAULT_FIRED;
	case FAULT_NEWS_SPENT:
		return ENGINE_STREAM_FAULT_SPENT;
	case FAULT_NEWS_OVERFLOW:
		break;
	}
	return ENGINE_STREAM_FAULT_OVERFLOW;
}

/* Calls nothing in the glue. */
static void
fault_news(void *arg, enum fault_news news, const struct fault_rule_view *rule)
{
	struct news_context *ctx = arg;
	uint64_t now_us = engine_now_us(ctx->engine);

	if (news == FAULT_NEWS_OVERFLOW)
		warn_overflow(ctx->engine, rule, now_us);
	events_emit(ctx->engine, (struct engine_stream_event){
		.kind = stream_kind(news),
		.at_us = now_us,
		.id = ctx->connection,
		.rule = rule->id,
		.action = rule->spec.action,
		.outbound = ctx->outbound,
	});
}

static bool
held_back(const struct stack_segment *segment)
{
	return !segment->released &&
	    (segment->fault.action == FAULT_DELAY || segment->fault.action == FAULT_REORDER);
}

/* Whether the segment reaches its receiver: the peer for an outbound one, lwIP for an inbound one. */
static bool
delivered(const struct stack_segment *segment)
{
	return segment->drop == TCPINFO_DROP_NONE && segment->fault.action != FAULT_DROP &&
	    segment->fault.action != FAULT_CORRUPT;
}

static struct engine_event
event_of(struct engine *engine, const struct stack_segment *segment)
{
	return (struct engine_event){
		.kind = ENGINE_EVENT_SEGMENT,
		.at_us = engine_now_us(engine),
		.outbound = segment->outbound,
		.flags = segment->flags,
		.seq = segment->seq,
		.ack = segment->ack,
		.len = segment->payload_len,
		.wnd = segment->window,
		.state_before = segment->state_before,
		.state_after = segment->state_after,
	};
}

/* Labels the segment and asks the rules about it, once. */
static void
decide(struct engine *engine, struct conn *conn, struct stack_segment *segment)
{
	struct news_context ctx = {
		.engine = engine,
		.connection = conn != NULL ? conn->entry.id : 0,
		.outbound = segment->outbound,
	};
	struct fault_segment seen = {
		.dir = segment->outbound ? FAULT_DIR_OUT : FAULT_DIR_IN,
		.connection = ctx.connection,
		.flags = segment->flags,
		.has_state = conn != NULL || segment->listener_syn,
		.state = conn == NULL ? TCPINFO_LISTEN :
		    segment->outbound ? segment->state_after : segment->state_before,
		.payload_len = segment->payload_len,
		.local_port = segment->local_port,
		.remote_port = segment->remote_port,
		.hold_full = segment->hold_full,
	};
	struct engine_event event;

	segment->decided = true;
	if (conn != NULL) {
		event = event_of(engine, segment);
		timeline_label(&conn->steps, &event);
		segment->step = event.step;
		segment->labelled = true;
	} else if ((segment->flags & (TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK)) == TCPINFO_FLAG_SYN) {
		/* A SYN for a listener: its connection does not exist yet, unless a rule dropped its first. */
		segment->step = segment->listener_syn && synmemo_has(&engine->dropped_syns, segment,
		    engine_now_us(engine)) ? TCPINFO_STEP_RETRANSMIT : TCPINFO_STEP_HANDSHAKE_1;
	}
	if (segment->drop != TCPINFO_DROP_NONE)
		return;
	seen.step = segment->step;
	segment->fault = faults_decide(engine->faults, &seen, fault_news, &ctx);
	if (conn == NULL && segment->listener_syn && segment->fault.action == FAULT_DROP) {
		struct stack_segment lost = *segment;

		/* It finds LISTEN and leaves it so: lwIP never saw it. */
		lost.state_before = TCPINFO_LISTEN;
		lost.state_after = TCPINFO_LISTEN;
		synmemo_remember(&engine->dropped_syns, &lost, engine_now_us(engine));
	}
}

/* The bytes of the frame kept: all its headers, then up to --snaplen of payload. */
static size_t
snapshot_len(const struct engine *engine, const struct stack_segment *segment)
{
	size_t len = segment->headers_len + engine->cfg.snaplen;

	return len < segment->frame_len ? len : segment->frame_len;
}

/* timeline_rewrite_peer()'s view of a connection's timeline. */
static struct engine_event *
event_at(void *timeline, uint64_t number)
{
	return timeline_get(timeline, (int64_t)number);
}

/* Records the segment in its connection's timeline and counters, with the peer's state. */
static void
record(struct engine *engine, struct conn *conn, const struct stack_segment *segment, uint64_t at_us)
{
	uint64_t before = conn->entry.counters.retransmits;
	struct engine_event event = event_of(engine, segment);
	struct peerstate_step peer;
	struct timeline *timeline;
	int64_t number;

	event.at_us = at_us;
	if (segment->labelled) {
		timeline_relative(&conn->steps, &event);
		event.step = segment->step;
	} else {
		timeline_label(&conn->steps, &event);
	}
	event.drop = segment->drop;
	event.fault = (struct engine_fault){
		.action = segment->fault.action,
		.rule = segment->fault.rule,
		.hold_ms = segment->fault.hold_ms,
		.copy = segment->copy,
	};
	peer = peerstate_segment(&conn->peer, segment->outbound, segment->flags, segment->seq,
	    segment->ack, segment->payload_len, event.at_us, delivered(segment));
	event.peer_state_before = peer.before;
	event.peer_state_after = peer.after;
	if (segment->outbound || delivered(segment))
		conntable_record_segment(&conn->entry, segment->outbound, segment->flags, segment->seq,
		    segment->payload_len);
	else
		conn->entry.counters.rst_in_ignored += !!(segment->flags & TCPINFO_FLAG_RST);
	engine->retrans_segs += conn->entry.counters.retransmits - before;
	timeline = engine_conn_timeline(conn);
	if (timeline != NULL && peer.patch != PEERSTATE_PATCH_NONE)
		timeline_rewrite_peer(event_at, timeline, timeline->appended, &peer);
	number = timeline != NULL ? timeline_append(timeline, &event) : -1;
	if (segment->frame != NULL && number >= 0)
		timeline_keep_frame(timeline, number, segment->frame,
		    snapshot_len(engine, segment), segment->frame_len);
	if (!segment->outbound) {
		/* Until lwIP is done with it, its state changes are this segment's, and the record stays. */
		conn->open_event = number;
		conn->open_rst = (segment->flags & TCPINFO_FLAG_RST) && delivered(segment);
		conntable_pin(engine->table, &conn->entry);
	}
}

/* The stack's segment hook. Calls nothing in the glue. */
void
segments_on_segment(void *arg, void *owner, struct stack_segment *segment)
{
	struct engine *engine = arg;
	struct conn *conn = owner;
	struct synmemo_entry lost;

	if (!segment->decided)
		decide(engine, conn, segment);
	if (conn == NULL || held_back(segment))
		return;
	/* The listener SYNs a rule dropped go first in the connection their retransmission made. */
	while (segment->listener_syn &&
	    synmemo_take(&engine->dropped_syns, segment, engine_now_us(engine), &lost))
		record(engine, conn, &lost.segment, lost.at_us);
	record(engine, conn, segment, engine_now_us(engine));
}

/* The stack's segment_done hook. Calls nothing in the glue. */
void
segments_on_done(void *owner, const struct stack_rx_outcome *outcome)
{
	struct conn *conn = owner;
	struct engine *engine = conn->engine;
	struct engine_counters *counters = &conn->entry.counters;

	counters->bytes_in += outcome->accepted_bytes;
	if (conn->open_rst) {
		counters->rst_in += outcome->reset;
		counters->rst_in_ignored += !outcome->reset;
	}
	conn->open_rst = false;
	conn->open_event = -1;
	conntable_pin(engine->table, NULL);
	conntable_prune(engine->table);
}
