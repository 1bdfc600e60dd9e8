#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "render.h"

/* "ESTABLISHED->CLOSE_WAIT", with room to spare. */
#define RENDER_TRANSITION_KEY_MAX 48

json_int_t
render_u64(uint64_t value)
{
	return value > INT64_MAX ? INT64_MAX : (json_int_t)value;
}

static json_t *
render_endpoint(const struct engine_endpoint *endpoint)
{
	struct in_addr addr = { .s_addr = endpoint->ip };
	char ip[INET_ADDRSTRLEN];

	if (inet_ntop(AF_INET, &addr, ip, sizeof(ip)) == NULL)
		return NULL;
	return json_pack("{s:s, s:i}", "ip", ip, "port", (int)endpoint->port);
}

static json_t *
render_history_entry(const struct engine_history_entry *entry)
{
	char cause[TCPINFO_TEXT_MAX];

	/* A NULL state name makes json_pack fail, which is what an out-of-range state deserves. */
	return json_pack("{s:s, s:I, s:s}",
	    "state", tcpinfo_state_name(entry->state),
	    "at_us", render_u64(entry->at_us),
	    "cause", tcpinfo_cause_format(entry->cause, cause, sizeof(cause)));
}

static json_t *
render_peer_history(const struct engine_conn_view *conn)
{
	char cause[PEERSTATE_CAUSE_MAX];
	json_t *history;

	history = json_array();
	if (history == NULL)
		return NULL;
	for (size_t i = 0; i < conn->peer_history_len && i < PEERSTATE_HISTORY_MAX; i++) {
		const struct peerstate_entry *e = &conn->peer_history[i];

		if (json_array_append_new(history, json_pack("{s:s, s:I, s:s, s:s}",
		    "state", tcpinfo_state_name(e->state),
		    "at_us", render_u64(e->at_us),
		    "cause", peerstate_cause_format(e->cause, cause, sizeof(cause)),
		    "peer_state_source", "inferred")) != 0) {
			json_decref(history);
			return NULL;
		}
	}
	return history;
}

/*
 * The peer's transitions as the local kernel reported them (--peer-trace),
 * shaped as peer_history's entries, with the state the kernel left.
 */
static json_t *
render_kernel_history(const struct engine_conn_view *conn)
{
	json_t *history = json_array();

	for (size_t i = 0; history != NULL && i < conn->kernel_history_len &&
	    i < ENGINE_KERNEL_HISTORY_MAX; i++) {
		const struct engine_kernel_transition *t = &conn->kernel_history[i];

		if (json_array_append_new(history, json_pack("{s:s, s:I, s:s, s:s, s:s}",
		    "state", tcpinfo_state_name(t->to), "at_us", render_u64(t->at_us),
		    "cause", "kernel:inet_sock_set_state", "peer_state_source", "kernel",
		    "from", tcpinfo_state_name(t->from))) != 0) {
			json_decref(history);
			history = NULL;
		}
	}
	return history;
}

static json_t *
render_history(const struct engine_conn_view *conn)
{
	size_t len = conn->history_len < ENGINE_HISTORY_MAX ? conn->history_len : ENGINE_HISTORY_MAX;
	json_t *history;
	size_t i;

	history = json_array();
	if (history == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (json_array_append_new(history, render_history_entry(&conn->history[i])) != 0) {
			json_decref(history);
			return NULL;
		}
	}
	return history;
}

static json_t *
render_conn_counters(const struct engine_counters *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "segs_in", render_u64(c->segs_in),
	    "segs_out", render_u64(c->segs_out),
	    "bytes_in", render_u64(c->bytes_in),
	    "bytes_out", render_u64(c->bytes_out),
	    "retransmits", render_u64(c->retransmits),
	    "rst_in", render_u64(c->rst_in),
	    "rst_in_ignored", render_u64(c->rst_in_ignored),
	    "rst_out", render_u64(c->rst_out));
}

static json_t *
render_tcb(const struct engine_tcb *tcb)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "iss", (json_int_t)tcb->iss,
	    "irs", (json_int_t)tcb->irs,
	    "snd_nxt", (json_int_t)tcb->snd_nxt,
	    "snd_una", (json_int_t)tcb->snd_una,
	    "rcv_nxt", (json_int_t)tcb->rcv_nxt,
	    "snd_wnd", (json_int_t)tcb->snd_wnd,
	    "rcv_wnd", (json_int_t)tcb->rcv_wnd,
	    "mss", (json_int_t)tcb->mss,
	    "rto_ms", (json_int_t)tcb->rto_ms,
	    "cwnd", (json_int_t)tcb->cwnd,
	    "ssthresh", (json_int_t)tcb->ssthresh,
	    "nrtx", (json_int_t)tcb->nrtx);
}

json_t *
render_connection(const struct engine_conn_view *conn)
{
	bool passive = conn->origin == ENGINE_ORIGIN_PASSIVE;
	/* With the kernel's own records (--peer-trace), peer_state is the kernel's latest. */
	bool kernel = conn->kernel_history_len > 0 &&
	    conn->kernel_history_len <= ENGINE_KERNEL_HISTORY_MAX;
	json_t *obj;

	/* json_pack takes over each "o" value, also when it fails, so nothing leaks here. */
	obj = json_pack("{s:I, s:s, s:o, s:o, s:o, s:s, s:o, s:o}",
	    "id", render_u64(conn->id),
	    "origin", passive ? "passive" : "active",
	    "listener_id", passive ? json_integer(render_u64(conn->listener_id)) : json_null(),
	    "local", render_endpoint(&conn->local),
	    "remote", render_endpoint(&conn->remote),
	    "state", tcpinfo_state_name(conn->state),
	    "history", render_history(conn),
	    "counters", render_conn_counters(&conn->counters));
	if (obj == NULL)
		return NULL;
	/* time_wait_remaining_ms comes and goes with the state: the rest is added one by one. */
	if (conn->state == TCPINFO_TIME_WAIT &&
	    json_object_set_new(obj, "time_wait_remaining_ms",
	    json_integer(conn->time_wait_remaining_ms)) != 0)
		goto fail;
	if (json_object_set_new(obj, "tcb",
	    conn->has_tcb ? render_tcb(&conn->tcb) : json_null()) != 0 ||
	    json_object_set_new(obj, "send_queued",
	    json_integer(render_u64(conn->send_queued))) != 0 ||
	    json_object_set_new(obj, "recv_buffered",
	    json_integer(render_u64(conn->recv_buffered))) != 0 ||
	    json_object_set_new(obj, "peer_state", json_string(tcpinfo_state_name(kernel ?
	    conn->kernel_history[conn->kernel_history_len - 1].to : conn->peer_state))) != 0 ||
	    json_object_set_new(obj, "peer_state_source",
	    json_string(kernel ? "kernel" : "inferred")) != 0 ||
	    json_object_set_new(obj, "peer_history", render_peer_history(conn)) != 0 ||
	    json_object_set_new(obj, "peer_kernel_history", render_kernel_history(conn)) != 0)
		goto fail;
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

json_t *
render_list(const char *key, const void *items, size_t count,
    json_t *(*render_at)(const void *items, size_t i))
{
	json_t *list;

	list = json_array();
	if (list == NULL)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		if (json_array_append_new(list, render_at(items, i)) != 0) {
			json_decref(list);
			return NULL;
		}
	}
	return json_pack("{s:o}", key, list);
}

static json_t *
connection_at(const void *items, size_t i)
{
	return render_connection((const struct engine_conn_view *)items + i);
}

json_t *
render_connection_list(const struct engine_conn_view *conns, size_t count)
{
	return render_list("connections", conns, count, connection_at);
}

static json_t *
render_iface_counters(const struct engine_iface_counters *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "rx_frames", render_u64(c->rx_frames),
	    "tx_frames", render_u64(c->tx_frames),
	    "rx_bytes", render_u64(c->rx_bytes),
	    "tx_bytes", render_u64(c->tx_bytes),
	    "rx_dropped", render_u64(c->rx_dropped),
	    "rx_fragments", render_u64(c->rx_fragments),
	    "rx_malformed", render_u64(c->rx_malformed),
	    "rx_other", render_u64(c->rx_other));
}

json_t *
render_interface(const struct engine_iface_view *iface)
{
	struct in_addr addr = { .s_addr = iface->address };
	char ip[INET_ADDRSTRLEN];
	char mac[sizeof("00:00:00:00:00:00")];

	if (inet_ntop(AF_INET, &addr, ip, sizeof(ip)) == NULL)
		return NULL;
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
	    iface->mac[0], iface->mac[1], iface->mac[2],
	    iface->mac[3], iface->mac[4], iface->mac[5]);
	/* The name buffer need not hold a NUL when the name fills it. */
	return json_pack("{s:s%, s:s, s:s, s:i, s:I, s:b, s:o}",
	    "name", iface->name, strnlen(iface->name, sizeof(iface->name)),
	    "mac", mac,
	    "address", ip,
	    "prefix", (int)iface->prefix,
	    "mtu", (json_int_t)iface->mtu,
	    "up", (int)iface->up,
	    "counters", render_iface_counters(&iface->counters));
}

json_t *
render_listener(const struct engine_listener_view *listener)
{
	return json_pack("{s:I, s:i, s:I, s:s, s:I}",
	    "id", render_u64(listener->id),
	    "port", (int)listener->port,
	    "backlog", (json_int_t)listener->backlog,
	    "state", tcpinfo_state_name(listener->state),
	    "accepted", render_u64(listener->accepted));
}

static json_t *
listener_at(const void *items, size_t i)
{
	return render_listener((const struct engine_listener_view *)items + i);
}

json_t *
render_listener_list(const struct engine_listener_view *listeners, size_t count)
{
	return render_list("listeners", listeners, count, listener_at);
}

static json_t *
render_tcp_stats(const struct engine_tcp_stats *tcp)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "active_opens", render_u64(tcp->active_opens),
	    "passive_opens", render_u64(tcp->passive_opens),
	    "attempt_fails", render_u64(tcp->attempt_fails),
	    "estab_resets", render_u64(tcp->estab_resets),
	    "curr_estab", render_u64(tcp->curr_estab),
	    "in_segs", render_u64(tcp->in_segs),
	    "out_segs", render_u64(tcp->out_segs),
	    "retrans_segs", render_u64(tcp->retrans_segs),
	    "in_errs", render_u64(tcp->in_errs),
	    "in_rfc_drops", render_u64(tcp->in_rfc_drops),
	    "out_rsts", render_u64(tcp->out_rsts));
}

static json_t *
render_fault_stats(const struct engine_fault_stats *faults)
{
	json_t *applied = json_object();

	for (int a = FAULT_NONE + 1; applied != NULL && a < FAULT_ACTION_COUNT; a++) {
		if (json_object_set_new(applied, faults_action_name((enum fault_action)a),
		    json_integer(render_u64(faults->applied[a]))) != 0) {
			json_decref(applied);
			applied = NULL;
		}
	}
	return json_pack("{s:I, s:o, s:I, s:I, s:I}",
	    "rules", render_u64(faults->rules),
	    "applied", applied,
	    "held", render_u64(faults->held),
	    "held_bytes", render_u64(faults->held_bytes),
	    "hold_overflows", render_u64(faults->hold_overflows));
}

static json_t *
render_capture_stats(const struct engine_capture_stats *capture)
{
	return json_pack("{s:I, s:I}", "readers", render_u64(capture->readers),
	    "readers_dropped", render_u64(capture->readers_dropped));
}

/* Only the edges taken: most of the 121 pairs are not edges of RFC 9293's diagram at all. */
static json_t *
render_transitions(const struct engine_stats *stats)
{
	char key[RENDER_TRANSITION_KEY_MAX];
	json_t *obj;
	int from, to;

	obj = json_object();
	if (obj == NULL)
		return NULL;
	for (from = 0; from < TCPINFO_STATE_COUNT; from++) {
		for (to = 0; to < TCPINFO_STATE_COUNT; to++) {
			if (stats->transitions[from][to] == 0)
				continue;
			snprintf(key, sizeof(key), "%s->%s",
			    tcpinfo_state_name((enum tcpinfo_state)from),
			    tcpinfo_state_name((enum tcpinfo_state)to));
			if (json_object_set_new(obj, key,
			    json_integer(render_u64(stats->transitions[from][to]))) != 0) {
				json_decref(obj);
				return NULL;
			}
		}
	}
	return obj;
}

static json_t *
render_memory_stats(const struct engine_memory_stats *memory)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "limit", render_u64(memory->limit),
	    "used", render_u64(memory->send_queued + memory->recv_buffers + memory->timelines),
	    "send_queued", render_u64(memory->send_queued),
	    "recv_buffers", render_u64(memory->recv_buffers),
	    "timelines", render_u64(memory->timelines),
	    "sends_refused", render_u64(memory->sends_refused),
	    "recv_deferred", render_u64(memory->recv_deferred),
	    "timeline_refused", render_u64(memory->timeline_refused));
}

json_t *
render_stats(const struct engine_stats *stats)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
	    "tcp", render_tcp_stats(&stats->tcp),
	    "transitions", render_transitions(stats),
	    "interface", render_iface_counters(&stats->iface),
	    "faults", render_fault_stats(&stats->faults),
	    "capture", render_capture_stats(&stats->capture),
	    "memory", render_memory_stats(&stats->memory));
}

json_t *
render_data(const uint8_t *data, size_t len, bool truncated)
{
	char *text;
	json_t *obj;

	text = base64_encode(data, len);
	if (text == NULL)
		return NULL;
	obj = json_pack("{s:s, s:I, s:b}",
	    "data_base64", text,
	    "bytes", render_u64(len),
	    "truncated", (int)truncated);
	free(text);
	return obj;
}

/* rel_seq and rel_ack are null while the ISN they are relative to is unknown. */
static json_t *
render_relative(bool known, uint32_t value)
{
	return known ? json_integer((json_int_t)value) : json_null();
}

/* What a fault rule did to a segment: null, or {"rule","action"} with the delay or hold it had. */
static json_t *
render_fault(const struct engine_fault *fault)
{
	json_t *obj;
	int rc = 0;

	if (fault->action == FAULT_NONE)
		return json_null();
	obj = json_pack("{s:I, s:s}", "rule", render_u64(fault->rule),
	    "action", faults_action_name(fault->action));
	if (obj == NULL)
		return NULL;
	if (fault->action == FAULT_DELAY)
		rc |= json_object_set_new(obj, "delay_ms", json_integer(fault->hold_ms));
	if (fault->action == FAULT_REORDER)
		rc |= json_object_set_new(obj, "hold_ms", json_integer(fault->hold_ms));
	if (fault->copy)
		rc |= json_object_set_new(obj, "copy", json_true());
	if (rc != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *
render_event(const struct engine_event *event)
{
	char text[TCPINFO_TEXT_MAX];
	const char *step, *drop;

	if (event->kind == ENGINE_EVENT_STATE)
		return json_pack("{s:s, s:I, s:s, s:s, s:s}",
		    "kind", "state",
		    "at_us", render_u64(event->at_us),
		    "from", tcpinfo_state_name(event->from),
		    "to", tcpinfo_state_name(event->to),
		    "cause", tcpinfo_cause_format(event->cause, text, sizeof(text)));
	if (event->kind != ENGINE_EVENT_SEGMENT)
		return NULL;
	step = tcpinfo_step_name(event->step);
	drop = tcpinfo_drop_name(event->drop);
	return json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:o, s:o, s:I, s:i, s:s, s:s, s:s, s:s, s:o, s:o, s:o}",
	    "kind", "segment",
	    "at_us", render_u64(event->at_us),
	    "dir", event->outbound ? "out" : "in",
	    "flags", tcpinfo_flags_format(event->flags, text, sizeof(text)),
	    "seq", (json_int_t)event->seq,
	    "ack", (json_int_t)event->ack,
	    "rel_seq", render_relative(event->has_rel_seq, event->rel_seq),
	    "rel_ack", render_relative(event->has_rel_ack, event->rel_ack),
	    "len", (json_int_t)event->len,
	    "wnd", (int)event->wnd,
	    "state_before", tcpinfo_state_name(event->state_before),
	    "state_after", tcpinfo_state_name(event->state_after),
	    "peer_state_before", tcpinfo_state_name(event->peer_state_before),
	    "peer_state_after", tcpinfo_state_name(event->peer_state_after),
	    "step", step != NULL ? json_string(step) : json_null(),
	    "fault", render_fault(&event->fault),
	    "dropped", drop != NULL ? json_string(drop) : json_null());
}

json_t *
render_timeline(const struct engine_timeline *timeline)
{
	json_t *events;
	size_t i;

	events = json_array();
	if (events == NULL)
		return NULL;
	for (i = 0; i < timeline->count; i++) {
		if (json_array_append_new(events, render_event(&timeline->events[i])) != 0) {
			json_decref(events);
			return NULL;
		}
	}
	return json_pack("{s:o, s:o, s:I, s:I, s:b}",
	    "connection", render_connection(&timeline->conn),
	    "events", events,
	    "dropped", render_u64(timeline->dropped),
	    "refused", render_u64(timeline->refused),
	    "truncated", (int)(timeline->dropped > 0 || timeline->refused > 0));
}

const char *
render_stream_event_name(enum engine_stream_kind kind)
{
	switch (kind) {
	case ENGINE_STREAM_STATE:
		return "state";
	case ENGINE_STREAM_CONN_CREATED:
	case ENGINE_STREAM_CONN_REMOVED:
		return "connection";
	case ENGINE_STREAM_LISTENER_CREATED:
	case ENGINE_STREAM_LISTENER_REMOVED:
		return "listener";
	case ENGINE_STREAM_FAULT_FIRED:
	case ENGINE_STREAM_FAULT_SPENT:
	case ENGINE_STREAM_FAULT_OVERFLOW:
		return "fault";
	}
	return NULL;
}

json_t *
render_stream_event(const struct engine_stream_event *event)
{
	char cause[TCPINFO_TEXT_MAX];
	const char *action;

	switch (event->kind) {
	case ENGINE_STREAM_STATE:
		return json_pack("{s:I, s:s, s:s, s:s, s:I}",
		    "id", render_u64(event->id),
		    "from", tcpinfo_state_name(event->from),
		    "to", tcpinfo_state_name(event->to),
		    "cause", tcpinfo_cause_format(event->cause, cause, sizeof(cause)),
		    "at_us", render_u64(event->at_us));
	case ENGINE_STREAM_CONN_CREATED:
	case ENGINE_STREAM_CONN_REMOVED:
		action = event->kind == ENGINE_STREAM_CONN_CREATED ? "created" : "removed";
		return json_pack("{s:I, s:s, s:s, s:I}",
		    "id", render_u64(event->id),
		    "action", action,
		    "origin", event->origin == ENGINE_ORIGIN_PASSIVE ? "passive" : "active",
		    "at_us", render_u64(event->at_us));
	case ENGINE_STREAM_LISTENER_CREATED:
	case ENGINE_STREAM_LISTENER_REMOVED:
		action = event->kind == ENGINE_STREAM_LISTENER_CREATED ? "created" : "removed";
		return json_pack("{s:I, s:s, s:i, s:I}",
		    "id", render_u64(event->id),
		    "action", action,
		    "port", (int)event->port,
		    "at_us", render_u64(event->at_us));
	case ENGINE_STREAM_FAULT_FIRED:
	case ENGINE_STREAM_FAULT_SPENT:
	case ENGINE_STREAM_FAULT_OVERFLOW:
		return json_pack("{s:I, s:s, s:s, s:s, s:o, s:I}",
		    "rule", render_u64(event->rule),
		    "event", event->kind == ENGINE_STREAM_FAULT_FIRED ? "fired" :
		    event->kind == ENGINE_STREAM_FAULT_SPENT ? "spent" : "overflow",
		    "action", faults_action_name(event->action),
		    "dir", event->outbound ? "out" : "in",
		    "connection", event->id != 0 ? json_integer(render_u64(event->id)) : json_null(),
		    "at_us", render_u64(event->at_us));
	}
	return NULL;
}

json_t *
render_problem_extend(json_t *obj, json_t *extras)
{
	if (obj == NULL || extras == NULL) {
		json_decref(obj);
		json_decref(extras);
		return NULL;
	}
	if (json_object_update_new(obj, extras) != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

json_t *
render_conn_problem(const struct problem *p, const struct engine_conn_view *conn)
{
	return render_problem_extend(problem_to_json(p), json_pack("{s:s, s:o}",
	    "state", tcpinfo_state_name(conn->state),
	    "connection", render_connection(conn)));
}

json_t *
render_listener_problem(const struct problem *p, const struct engine_listener_view *listener)
{
	return render_problem_extend(problem_to_json(p), json_pack("{s:I, s:o}",
	    "accepted", render_u64(listener->accepted),
	    "listener", render_listener(listener)));
}

char *
render_text(const json_t *value)
{
	char *text, *grown;
	size_t len;

	/* jansson allocates with malloc, as nothing here calls json_set_alloc_funcs. */
	text = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL)
		return NULL;
	len = strlen(text);
	grown = realloc(text, len + 2);
	if (grown == NULL) {
		free(text);
		return NULL;
	}
	grown[len] = '\n';
	grown[len + 1] = '\0';
	return grown;
}
