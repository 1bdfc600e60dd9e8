/*
 * stats: the engine's counters and what it reports of the interface:
 * RFC 4022's TCP group, every transition, counts by state, health.
 */
#include <string.h>

#include "engine_internal.h"

static bool
is_established(enum tcpinfo_state state)
{
	return state == TCPINFO_ESTABLISHED || state == TCPINFO_CLOSE_WAIT;
}

void
stats_count_transition(struct engine *engine, enum tcpinfo_state from, enum tcpinfo_state to)
{
	engine->transitions[from][to]++;
	engine->curr_estab += is_established(to);
	engine->curr_estab -= is_established(from);
}

void
engine_stats(struct engine *engine, struct engine_stats *out)
{
	struct stack_tcp_totals totals;
	struct engine_iface_view iface;
	const uint64_t (*t)[TCPINFO_STATE_COUNT] = engine->transitions;

	engine_interface(engine, &iface);
	engine_lock();
	stack_tcp_totals(&totals);
	memcpy(out->transitions, engine->transitions, sizeof(out->transitions));
	out->tcp = (struct engine_tcp_stats){
		.active_opens = t[TCPINFO_CLOSED][TCPINFO_SYN_SENT],
		.passive_opens = t[TCPINFO_LISTEN][TCPINFO_SYN_RCVD],
		.attempt_fails = t[TCPINFO_SYN_SENT][TCPINFO_CLOSED] + t[TCPINFO_SYN_RCVD][TCPINFO_CLOSED] +
		    t[TCPINFO_SYN_RCVD][TCPINFO_LISTEN],
		.estab_resets = t[TCPINFO_ESTABLISHED][TCPINFO_CLOSED] + t[TCPINFO_CLOSE_WAIT][TCPINFO_CLOSED],
		.curr_estab = engine->curr_estab,
		.in_segs = totals.in_segs,
		.out_segs = totals.out_segs - engine->retrans_segs,
		.retrans_segs = engine->retrans_segs,
		.in_errs = totals.in_errs,
		.in_rfc_drops = totals.in_rfc_drops,
		.out_rsts = totals.out_rsts,
	};
	out->faults = (struct engine_fault_stats){
		.rules = faults_count(engine->faults),
		.held = totals.held,
		.held_bytes = totals.held_bytes,
		.hold_overflows = totals.hold_overflows,
	};
	faults_applied(engine->faults, out->faults.applied);
	out->memory = (struct engine_memory_stats){
		.limit = engine->budget.limit,
		.send_queued = engine->budget.used[MEMBUDGET_SEND],
		.recv_buffers = engine->budget.used[MEMBUDGET_RECV],
		.timelines = engine->budget.used[MEMBUDGET_TIMELINE],
		.sends_refused = engine->budget.refused[MEMBUDGET_SEND],
		.recv_deferred = engine->budget.refused[MEMBUDGET_RECV],
		.timeline_refused = engine->budget.refused[MEMBUDGET_TIMELINE],
	};
	out->capture = (struct engine_capture_stats){
		.readers = engine->capture_reader_count,
		.readers_dropped = engine->capture_dropped,
	};
	engine_unlock();
	out->iface = iface.counters;
}

void
engine_interface(struct engine *engine, struct engine_iface_view *out)
{
	struct stack_iface_info info;

	engine_lock();
	stack_iface_info(&info);
	engine_unlock();

	memset(out, 0, sizeof(*out));
	memcpy(out->name, engine->cfg.ifname, sizeof(out->name));
	memcpy(out->mac, info.mac, sizeof(out->mac));
	out->address = engine->cfg.address;
	out->prefix = engine->cfg.prefix;
	out->mtu = info.mtu;
	out->up = info.up;
	out->counters = (struct engine_iface_counters){
		.rx_frames = info.rx_frames,
		.tx_frames = info.tx_frames,
		.rx_bytes = info.rx_bytes,
		.tx_bytes = info.tx_bytes,
		.rx_dropped = info.rx_dropped,
		.rx_fragments = info.rx_fragments,
		.rx_malformed = info.rx_malformed,
		.rx_other = info.rx_other,
	};
}

bool
engine_healthy(struct engine *engine)
{
	bool healthy;

	engine_lock();
	healthy = !engine->stopping && stack_healthy();
	engine_unlock();
	return healthy;
}

size_t
engine_live_count(struct engine *engine)
{
	size_t count;

	engine_lock();
	count = conntable_live_count(engine->table);
	engine_unlock();
	return count;
}

void
engine_count_by_state(struct engine *engine, uint64_t counts[TCPINFO_STATE_COUNT])
{
	struct conntable_entry *entry;

	memset(counts, 0, TCPINFO_STATE_COUNT * sizeof(counts[0]));
	engine_lock();
	for (entry = conntable_first(engine->table); entry != NULL; entry = conntable_next(entry))
		counts[entry->state]++;
	engine_unlock();
}
