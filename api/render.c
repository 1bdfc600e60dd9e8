#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

/* Engine counters are uint64_t; JSON integers here are int64_t, so clamp rather than wrap. */
static json_int_t
clamp_u64(uint64_t value)
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
	    "at_us", clamp_u64(entry->at_us),
	    "cause", tcpinfo_cause_format(entry->cause, cause, sizeof(cause)));
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
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "segs_in", clamp_u64(c->segs_in),
	    "segs_out", clamp_u64(c->segs_out),
	    "bytes_in", clamp_u64(c->bytes_in),
	    "bytes_out", clamp_u64(c->bytes_out),
	    "retransmits", clamp_u64(c->retransmits),
	    "rst_in", clamp_u64(c->rst_in),
	    "rst_out", clamp_u64(c->rst_out));
}

json_t *
render_connection(const struct engine_conn_view *conn)
{
	/* json_pack takes over each "o" value, also when it fails, so nothing leaks here. */
	return json_pack("{s:I, s:s, s:o, s:o, s:s, s:o, s:o}",
	    "id", clamp_u64(conn->id),
	    "origin", conn->origin == ENGINE_ORIGIN_PASSIVE ? "passive" : "active",
	    "local", render_endpoint(&conn->local),
	    "remote", render_endpoint(&conn->remote),
	    "state", tcpinfo_state_name(conn->state),
	    "history", render_history(conn),
	    "counters", render_conn_counters(&conn->counters));
}

json_t *
render_connection_list(const struct engine_conn_view *conns, size_t count)
{
	json_t *list;
	size_t i;

	list = json_array();
	if (list == NULL)
		return NULL;
	for (i = 0; i < count; i++) {
		if (json_array_append_new(list, render_connection(&conns[i])) != 0) {
			json_decref(list);
			return NULL;
		}
	}
	return json_pack("{s:o}", "connections", list);
}

json_t *
render_interface(const struct engine_iface_view *iface)
{
	struct in_addr addr = { .s_addr = iface->address };
	char ip[INET_ADDRSTRLEN];
	char mac[sizeof("00:00:00:00:00:00")];
	const struct engine_iface_counters *c = &iface->counters;

	if (inet_ntop(AF_INET, &addr, ip, sizeof(ip)) == NULL)
		return NULL;
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
	    iface->mac[0], iface->mac[1], iface->mac[2],
	    iface->mac[3], iface->mac[4], iface->mac[5]);
	/* The name buffer need not hold a NUL when the name fills it. */
	return json_pack("{s:s%, s:s, s:s, s:i, s:I, s:b, s:{s:I, s:I, s:I, s:I, s:I}}",
	    "name", iface->name, strnlen(iface->name, sizeof(iface->name)),
	    "mac", mac,
	    "address", ip,
	    "prefix", (int)iface->prefix,
	    "mtu", (json_int_t)iface->mtu,
	    "up", (int)iface->up,
	    "counters",
	    "rx_frames", clamp_u64(c->rx_frames),
	    "tx_frames", clamp_u64(c->tx_frames),
	    "rx_bytes", clamp_u64(c->rx_bytes),
	    "tx_bytes", clamp_u64(c->tx_bytes),
	    "rx_dropped", clamp_u64(c->rx_dropped));
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
