/*
 * render: engine snapshots as JSON values, and JSON values as response text.
 * Pure functions with no HTTP in them, so the exact output is unit-tested.
 */
#ifndef LWIPD_RENDER_H
#define LWIPD_RENDER_H

#include <stddef.h>

#include <jansson.h>

#include "engine.h"

/*
 * Each render_* builder returns a new reference, or NULL when out of memory
 * or when the view holds a value with no name (a state out of range).
 */
json_t *render_connection(const struct engine_conn_view *conn);

/* {"connections":[...]} in the order given. */
json_t *render_connection_list(const struct engine_conn_view *conns, size_t count);

json_t *render_interface(const struct engine_iface_view *iface);

/*
 * Dumps value compactly, keys in insertion order, with a trailing newline.
 * Returns a malloc'd string, or NULL when out of memory.
 */
char *render_text(const json_t *value);

#endif
