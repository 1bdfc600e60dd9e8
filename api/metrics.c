/*
 * DESIGN: every family is written whole, "# HELP", "# TYPE" and then its
 * samples, so a family never appears twice. Families with labels write
 * only their non-zero samples where most combinations never happen
 * (transitions, HTTP requests); connections by state writes all eleven
 * states, so a dashboard sees zeros rather than gaps. Counters that
 * exceed what a float holds exactly still print as exact integers.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <errno.h>

#include "metrics.h"

static const char *const method_names[METRICS_METHOD_COUNT] = {
	[METRICS_METHOD_GET] = "GET",
	[METRICS_METHOD_HEAD] = "HEAD",
	[METRICS_METHOD_POST] = "POST",
	[METRICS_METHOD_DELETE] = "DELETE",
	[METRICS_METHOD_OTHER] = "other",
};

/* Every status the API answers; the last row counts any other. */
static const unsigned int statuses[METRICS_STATUS_COUNT - 1] = {
	200, 201, 202, 400, 404, 405, 408, 409, 413, 415, 422, 500, 503
};

struct counter {
	const char *name;
	const char *help;
	size_t offset;
	const char *type;
};

#define TCP(name, field, type, help) \
	{ "lwipd_tcp_" name, help, offsetof(struct engine_tcp_stats, field), type }

/* RFC 4022's tcp group, named after its MIB objects, with _total on the counters. */
static const struct counter tcp_counters[] = {
	TCP("active_opens_total", active_opens, "counter",
	    "Transitions from CLOSED to SYN_SENT (tcpActiveOpens)."),
	TCP("passive_opens_total", passive_opens, "counter",
	    "Transitions from LISTEN to SYN_RCVD (tcpPassiveOpens)."),
	TCP("attempt_fails_total", attempt_fails, "counter",
	    "Opening connections that failed (tcpAttemptFails)."),
	TCP("estab_resets_total", estab_resets, "counter",
	    "Transitions from ESTABLISHED or CLOSE_WAIT to CLOSED (tcpEstabResets)."),
	TCP("in_segs_total", in_segs, "counter",
	    "TCP segments received, errors included (tcpInSegs)."),
	TCP("out_segs_total", out_segs, "counter",
	    "TCP segments sent, retransmissions excluded (tcpOutSegs)."),
	TCP("retrans_segs_total", retrans_segs, "counter",
	    "TCP segments retransmitted (tcpRetransSegs)."),
	TCP("in_errs_total", in_errs, "counter", "TCP segments received in error (tcpInErrs)."),
	TCP("out_rsts_total", out_rsts, "counter", "TCP segments sent with RST (tcpOutRsts)."),
	TCP("in_rfc_drops_total", in_rfc_drops, "counter",
	    "TCP segments dropped before lwIP because RFC 9293 rejects them and lwIP 2.1.3 would not."),
	TCP("curr_estab", curr_estab, "gauge",
	    "Connections in ESTABLISHED or CLOSE_WAIT now (tcpCurrEstab)."),
};

#define IFACE(field, help) \
	{ "lwipd_interface_" #field "_total", help, \
	    offsetof(struct engine_iface_counters, field), "counter" }

static const struct counter iface_counters[] = {
	IFACE(rx_frames, "Frames read from the TAP device."),
	IFACE(tx_frames, "Frames written to the TAP device."),
	IFACE(rx_bytes, "Bytes of the frames read from the TAP device."),
	IFACE(tx_bytes, "Bytes of the frames written to the TAP device."),
	IFACE(rx_dropped, "Frames read from the TAP device and dropped for want of memory or backlog."),
	IFACE(rx_fragments, "IPv4 fragments read from the TAP device and dropped: lwipd does not reassemble."),
	IFACE(rx_malformed, "Frames read from the TAP device whose headers do not parse, dropped."),
	IFACE(rx_other, "Frames of protocols other than IPv4 and ARP, and UDP-Lite, read from the TAP device, dropped."),
};

enum metrics_method
metrics_method_parse(const char *method)
{
	int i;

	for (i = 0; i < METRICS_METHOD_OTHER; i++) {
		if (strcmp(method, method_names[i]) == 0)
			return (enum metrics_method)i;
	}
	return METRICS_METHOD_OTHER;
}

static size_t
status_index(unsigned int status)
{
	size_t i;

	for (i = 0; i < METRICS_STATUS_COUNT - 1; i++) {
		if (statuses[i] == status)
			break;
	}
	return i;
}

void
metrics_http_count(struct metrics_http *http, size_t route, enum metrics_method method,
    unsigned int status)
{
	if (route >= METRICS_ROUTE_MAX || (unsigned int)method >= METRICS_METHOD_COUNT)
		return;
	http->requests[route][method][status_index(status)]++;
}

static void
put_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Writes a label value escaped as the format asks: backslash, quote and newline. */
static void
put_label_value(FILE *f, const char *value)
{
	for (; *value != '\0'; value++) {
		if (*value == '\\' || *value == '"')
			fprintf(f, "\\%c", *value);
		else if (*value == '\n')
			fputs("\\n", f);
		else
			fputc(*value, f);
	}
}

static void
put_counters(FILE *f, const struct counter *counters, size_t count, const void *values)
{
	const char *base = values;
	uint64_t value;
	size_t i;

	for (i = 0; i < count; i++) {
		memcpy(&value, base + counters[i].offset, sizeof(value));
		put_family(f, counters[i].name, counters[i].type, counters[i].help);
		fprintf(f, "%s %" PRIu64 "\n", counters[i].name, value);
	}
}

static void
put_by_state(FILE *f, const uint64_t by_state[TCPINFO_STATE_COUNT])
{
	int state;

	put_family(f, "lwipd_connections", "gauge",
	    "Connections in the table, live and retained, by TCP state.");
	for (state = 0; state < TCPINFO_STATE_COUNT; state++) {
		fputs("lwipd_connections{state=\"", f);
		put_label_value(f, tcpinfo_state_name((enum tcpinfo_state)state));
		fprintf(f, "\"} %" PRIu64 "\n", by_state[state]);
	}
}

static void
put_transitions(FILE *f, const struct engine_stats *stats)
{
	int from, to;

	put_family(f, "lwipd_tcp_transitions_total", "counter",
	    "TCP state transitions, by the states left and entered.");
	for (from = 0; from < TCPINFO_STATE_COUNT; from++) {
		for (to = 0; to < TCPINFO_STATE_COUNT; to++) {
			if (stats->transitions[from][to] == 0)
				continue;
			fputs("lwipd_tcp_transitions_total{from=\"", f);
			put_label_value(f, tcpinfo_state_name((enum tcpinfo_state)from));
			fputs("\",to=\"", f);
			put_label_value(f, tcpinfo_state_name((enum tcpinfo_state)to));
			fprintf(f, "\"} %" PRIu64 "\n", stats->transitions[from][to]);
		}
	}
}

static void
put_http(FILE *f, const struct metrics_input *in)
{
	size_t route, status;
	int method;
	uint64_t n;

	put_family(f, "lwipd_http_requests_total", "counter",
	    "HTTP requests answered, by route pattern, method and status.");
	for (route = 0; route < in->route_count && route < METRICS_ROUTE_MAX; route++) {
		for (method = 0; method < METRICS_METHOD_COUNT; method++) {
			for (status = 0; status < METRICS_STATUS_COUNT; status++) {
				n = in->http->requests[route][method][status];
				if (n == 0)
					continue;
				fputs("lwipd_http_requests_total{route=\"", f);
				put_label_value(f, in->routes[route]);
				fprintf(f, "\",method=\"%s\",status=\"", method_names[method]);
				if (status < METRICS_STATUS_COUNT - 1)
					fprintf(f, "%u", statuses[status]);
				else
					fputs("other", f);
				fprintf(f, "\"} %" PRIu64 "\n", n);
			}
		}
	}
}

#define FAULTS(name, field, type, help) \
	{ "lwipd_faults_" name, help, offsetof(struct engine_fault_stats, field), type }

static const struct counter fault_counters[] = {
	FAULTS("rules", rules, "gauge", "Fault rules that exist, active and spent."),
	FAULTS("held", held, "gauge", "Segments held by delay and reorder rules now."),
	FAULTS("held_bytes", held_bytes, "gauge", "Bytes of the segments held now."),
	FAULTS("hold_overflows_total", hold_overflows, "counter",
	    "Segments a full hold let pass unharmed (--fault-hold-max, --fault-hold-bytes)."),
};

static void
put_faults(FILE *f, const struct engine_fault_stats *faults)
{
	put_counters(f, fault_counters, sizeof(fault_counters) / sizeof(fault_counters[0]), faults);
	put_family(f, "lwipd_faults_applied_total", "counter",
	    "Segments fault rules acted on, by action.");
	for (int a = FAULT_NONE + 1; a < FAULT_ACTION_COUNT; a++) {
		fputs("lwipd_faults_applied_total{action=\"", f);
		put_label_value(f, faults_action_name((enum fault_action)a));
		fprintf(f, "\"} %" PRIu64 "\n", faults->applied[a]);
	}
}

static void
put_capture(FILE *f, const struct engine_capture_stats *capture)
{
	put_family(f, "lwipd_capture_readers", "gauge", "Clients reading GET /v1/capture.");
	fprintf(f, "lwipd_capture_readers %" PRIu64 "\n", capture->readers);
	put_family(f, "lwipd_capture_readers_dropped_total", "counter",
	    "Live capture readers dropped for falling behind their queue.");
	fprintf(f, "lwipd_capture_readers_dropped_total %" PRIu64 "\n", capture->readers_dropped);
}

static void
put_memory(FILE *f, const struct engine_memory_stats *memory)
{
	static const char *const kinds[] = { "send", "recv", "timeline" };
	const uint64_t used[] = { memory->send_queued, memory->recv_buffers, memory->timelines };
	const uint64_t refused[] = { memory->sends_refused, memory->recv_deferred,
	    memory->timeline_refused };

	put_family(f, "lwipd_memory_budget_bytes", "gauge",
	    "The memory budget for queued sends, receive buffers and timelines (--memory-budget).");
	fprintf(f, "lwipd_memory_budget_bytes %" PRIu64 "\n", memory->limit);
	put_family(f, "lwipd_memory_used_bytes", "gauge", "Bytes charged to the memory budget, by kind.");
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		fprintf(f, "lwipd_memory_used_bytes{kind=\"%s\"} %" PRIu64 "\n", kinds[k], used[k]);
	put_family(f, "lwipd_memory_refused_total", "counter",
	    "What the full memory budget refused, by kind: sends answered 503, deliveries of "
	    "received data left in lwIP, timeline events not recorded.");
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		fprintf(f, "lwipd_memory_refused_total{kind=\"%s\"} %" PRIu64 "\n", kinds[k],
		    refused[k]);
}

static void
put_sse(FILE *f, const struct metrics_input *in)
{
	put_family(f, "lwipd_sse_clients", "gauge", "Clients connected to GET /v1/events.");
	fprintf(f, "lwipd_sse_clients %" PRIu64 "\n", in->sse_clients);
	put_family(f, "lwipd_sse_clients_dropped_total", "counter",
	    "Event stream clients dropped for falling behind the replay buffer.");
	fprintf(f, "lwipd_sse_clients_dropped_total %" PRIu64 "\n", in->sse_dropped);
}

int
metrics_render(const struct metrics_input *in, char **out, size_t *len)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f;
	int rc = 0;

	f = open_memstream(&text, &size);
	if (f == NULL)
		return -ENOMEM;
	put_counters(f, tcp_counters, sizeof(tcp_counters) / sizeof(tcp_counters[0]),
	    &in->stats.tcp);
	put_by_state(f, in->by_state);
	put_transitions(f, &in->stats);
	put_counters(f, iface_counters, sizeof(iface_counters) / sizeof(iface_counters[0]),
	    &in->stats.iface);
	put_faults(f, &in->stats.faults);
	put_capture(f, &in->stats.capture);
	put_memory(f, &in->stats.memory);
	put_http(f, in);
	put_sse(f, in);
	/* A memory stream fails only when it cannot grow; the error sticks until fclose. */
	if (ferror(f))
		rc = -ENOMEM;
	if (fclose(f) != 0)
		rc = -ENOMEM;
	if (rc != 0) {
		free(text);
		return rc;
	}
	*out = text;
	*len = size;
	return 0;
}
