#include "conntable.h"

#include <stdlib.h>
#include <string.h>
#include <utlist.h>

struct conntable {
	struct conn *by_id;
	struct conn *all;		/* id order: ids only grow, so appends keep it sorted */
	struct conn *closed;		/* oldest closed first */
	struct conn *pinned;
	size_t live_count;
	size_t closed_count;
	uint32_t retain_closed;
	uint64_t next_id;
	void (*destroy)(struct conn *conn);
};

/* Sequence-space comparison, modulo 2^32 (RFC 9293 section 3.4). */
static bool
seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

struct conntable *
conntable_new(uint32_t retain_closed)
{
	struct conntable *table = calloc(1, sizeof(*table));

	if (table == NULL)
		return NULL;
	table->retain_closed = retain_closed;
	table->next_id = 1;
	return table;
}

void
conntable_free(struct conntable *table)
{
	struct conn *conn, *tmp;

	if (table == NULL)
		return;
	HASH_ITER(hh, table->by_id, conn, tmp) {
		HASH_DEL(table->by_id, conn);
		if (table->destroy != NULL)
			table->destroy(conn);
		free(conn);
	}
	free(table);
}

struct conn *
conntable_add(struct conntable *table, enum engine_origin origin, enum tcpinfo_state initial,
    const struct engine_endpoint *local, const struct engine_endpoint *remote)
{
	struct conn *conn = calloc(1, sizeof(*conn));

	if (conn == NULL)
		return NULL;
	conn->id = table->next_id++;
	conn->origin = origin;
	conn->local = *local;
	conn->remote = *remote;
	conn->state = initial;
	HASH_ADD(hh, table->by_id, id, sizeof(conn->id), conn);
	DL_APPEND(table->all, conn);
	table->live_count++;
	return conn;
}

static void
conn_remove(struct conntable *table, struct conn *conn)
{
	HASH_DEL(table->by_id, conn);
	DL_DELETE(table->all, conn);
	if (table->destroy != NULL)
		table->destroy(conn);
	free(conn);
}

void
conntable_discard(struct conntable *table, struct conn *conn)
{
	table->live_count--;
	if (table->pinned == conn)
		table->pinned = NULL;
	conn_remove(table, conn);
}

struct conn *
conntable_find(struct conntable *table, uint64_t id)
{
	struct conn *conn;

	HASH_FIND(hh, table->by_id, &id, sizeof(id), conn);
	return conn;
}

struct conn *
conntable_first(struct conntable *table)
{
	return table->all;
}

struct conn *
conntable_next(struct conn *conn)
{
	return conn->next;
}

size_t
conntable_live_count(const struct conntable *table)
{
	return table->live_count;
}

void
conntable_record_state(struct conntable *table, struct conn *conn, enum tcpinfo_state state,
    struct tcpinfo_cause cause, uint64_t at_us)
{
	struct engine_history_entry *entry;
	bool was_closed = conn->state == TCPINFO_CLOSED && conn->history_len > 0;

	/* A full history keeps its latest entry current rather than losing the end. */
	if (conn->history_len < ENGINE_HISTORY_MAX)
		conn->history_len++;
	entry = &conn->history[conn->history_len - 1];
	entry->state = state;
	entry->at_us = at_us;
	entry->cause = cause;
	conn->state = state;

	if (state == TCPINFO_CLOSED && !was_closed) {
		table->live_count--;
		table->closed_count++;
		DL_APPEND2(table->closed, conn, closed_prev, closed_next);
	}
}

void
conntable_record_segment(struct conn *conn, bool outbound, uint8_t flags, uint32_t seq,
    uint32_t payload_len)
{
	struct engine_counters *c = &conn->counters;
	uint32_t seq_len = payload_len + !!(flags & TCPINFO_FLAG_SYN) + !!(flags & TCPINFO_FLAG_FIN);

	if (!outbound) {
		c->segs_in++;
		c->bytes_in += payload_len;
		c->rst_in += !!(flags & TCPINFO_FLAG_RST);
		return;
	}
	c->segs_out++;
	c->bytes_out += payload_len;
	c->rst_out += !!(flags & TCPINFO_FLAG_RST);
	if (seq_len == 0 || (flags & TCPINFO_FLAG_RST))
		return;
	if (conn->snd_max_valid && seq_lt(seq, conn->snd_max))
		c->retransmits++;
	if (!conn->snd_max_valid || seq_lt(conn->snd_max, seq + seq_len)) {
		conn->snd_max = seq + seq_len;
		conn->snd_max_valid = true;
	}
}

void
conntable_pin(struct conntable *table, struct conn *conn)
{
	table->pinned = conn;
}

void
conntable_prune(struct conntable *table)
{
	struct conn *conn = table->closed;

	while (table->closed_count > table->retain_closed && conn != NULL) {
		struct conn *next = conn->closed_next;

		if (conn != table->pinned) {
			DL_DELETE2(table->closed, conn, closed_prev, closed_next);
			table->closed_count--;
			conn_remove(table, conn);
		}
		conn = next;
	}
}

void
conntable_set_destructor(struct conntable *table, void (*destroy)(struct conn *conn))
{
	table->destroy = destroy;
}

void
conntable_set_retain(struct conntable *table, uint32_t retain_closed)
{
	table->retain_closed = retain_closed;
}

void
conntable_view(const struct conn *conn, struct engine_conn_view *out)
{
	memset(out, 0, sizeof(*out));
	out->id = conn->id;
	out->origin = conn->origin;
	out->listener_id = conn->listener_id;
	out->local = conn->local;
	out->remote = conn->remote;
	out->state = conn->state;
	out->history_len = conn->history_len;
	memcpy(out->history, conn->history, conn->history_len * sizeof(conn->history[0]));
	out->counters = conn->counters;
	out->has_tcb = conn->has_tcb;
	out->tcb = conn->tcb;
	out->send_queued = conn->send_queued;
	out->recv_buffered = conn->recv.len;
}
