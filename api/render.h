/*
 * render: engine snapshots as JSON values, and JSON values as response text.
 * Pure functions with no HTTP in them, so the exact output is unit-tested.
 */
#ifndef LWIPD_RENDER_H
#define LWIPD_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine.h"
#include "problem.h"

/*
 * Each render_* builder returns a new reference, or NULL when out of memory
 * or when the view holds a value with no name (a state out of range).
 */
json_t *render_connection(const struct engine_conn_view *conn);

/* {"connections":[...]} in the order given. */
json_t *render_connection_list(const struct engine_conn_view *conns, size_t count);

json_t *render_interface(const struct engine_iface_view *iface);

json_t *render_listener(const struct engine_listener_view *listener);

/* {"listeners":[...]} in the order given. */
json_t *render_listener_list(const struct engine_listener_view *listeners, size_t count);

/* {"tcp":{...},"transitions":{"FROM->TO":N,...},"interface":{...}}; only non-zero transitions. */
json_t *render_stats(const struct engine_stats *stats);

/* {"data_base64","bytes","truncated"} for bytes drained from a receive buffer. */
json_t *render_data(const uint8_t *data, size_t len, bool truncated);

/*
 * {"connection":{...},"events":[...],"dropped":N}: segment events as
 * {"kind":"segment","at_us","dir","flags","seq","ack","rel_seq","rel_ack",
 * "len","wnd","state_before","state_after","step"}, state events as
 * {"kind":"state","at_us","from","to","cause"}.
 */
json_t *render_timeline(const struct engine_timeline *timeline);

/* The SSE event name of a stream event: "state", "connection" or "listener"; NULL when out of range. */
const char *render_stream_event_name(enum engine_stream_kind kind);

/*
 * The data of a stream event: {"id","from","to","cause","at_us"} for a
 * state change, {"id","action","origin","at_us"} for a connection and
 * {"id","action","port","at_us"} for a listener.
 */
json_t *render_stream_event(const struct engine_stream_event *event);

/* The problem object of a wait on a connection, plus its "state" and the "connection". */
json_t *render_conn_problem(const struct problem *p, const struct engine_conn_view *conn);

/* The problem object of a wait on a listener, plus its "accepted" count and the "listener". */
json_t *render_listener_problem(const struct problem *p,
    const struct engine_listener_view *listener);

/* A batch: its parameters, progress, failures by cause and handshake latencies. */
json_t *render_batch(const struct engine_batch_view *batch);

/* {"batches":[...]} in the order given. */
json_t *render_batch_list(const struct engine_batch_view *batches, size_t count);

/* The problem object of a wait on a batch, plus the "batch". */
json_t *render_batch_problem(const struct problem *p, const struct engine_batch_view *batch);

/* What the render files share. */
/* Engine counters are uint64_t; JSON integers here are int64_t, so clamp rather than wrap. */
json_int_t render_u64(uint64_t value);

/* {"key":[...]} of count items, each drawn by render_at(items, i). NULL when out of memory. */
json_t *render_list(const char *key, const void *items, size_t count,
    json_t *(*render_at)(const void *items, size_t i));

/* Adds the members of extras to a problem object. Takes both over; returns NULL when either is. */
json_t *render_problem_extend(json_t *obj, json_t *extras);

/*
 * Dumps value compactly, keys in insertion order, with a trailing newline.
 * Returns a malloc'd string, or NULL when out of memory.
 */
char *render_text(const json_t *value);

#endif
