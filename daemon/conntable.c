#include "conntable.h"
#include "histbuf.h"

#include <stdlib.h>
#include <utlist.h>

struct conntable {
	struct conntable_entry *by_id;
	struct idorder order;			/* id order: ids only grow, so appends keep it sorted */
	struct conntable_entry *closed;		/* oldest closed first */
	struct conntable_entry *pinned;
	size_t live_count;
	size_t closed_count;
	uint32_t retain_closed;
	uint64_t next_id;
	size_t entry_size;
	void (*destroy)(struct conntable_entry *entry);
};

struct conntable *
conntable_new(uint32_t retain_closed, size_t entry_size)
{
	struct conntable *table = calloc(1, sizeof(*table));

	if (table == NULL)
		return NULL;
	idorder_init(&table->order);
	table->retain_closed = retain_closed;
	table->next_id = 1;
	table->entry_size = entry_size > sizeof(struct conntable_entry) ? entry_size :
	    sizeof(struct conntable_entry);
	return table;
}

static void
conn_remove(struct conntable *table, struct conntable_entry *entry)
{
	HASH_DEL(table->by_id, entry);
	idorder_remove(&table->order, &entry->order);
	if (table->destroy != NULL)
		table->destroy(entry);
	free(entry->history);
	free(entry);
}

void
conntable_free(struct conntable *table)
{
	struct conntable_entry *entry, *tmp;

	if (table == NULL)
		return;
	HASH_ITER(hh, table->by_id, entry, tmp)
		conn_remove(table, entry);
	free(table);
}

struct conntable_entry *
conntable_add(struct conntable *table, enum engine_origin origin, enum tcpinfo_state initial,
    const struct engine_endpoint *local, const struct engine_endpoint *remote)
{
	struct conntable_entry *entry = calloc(1, table->entry_size);

	if (entry == NULL)
		return NULL;
	entry->id = table->next_id++;
	entry->origin = origin;
	entry->local = *local;
	entry->remote = *remote;
	entry->state = initial;
	HASH_ADD(hh, table->by_id, id, sizeof(entry->id), entry);
	idorder_append(&table->order, &entry->order, entry->id);
	table->live_count++;
	return entry;
}

void
conntable_discard(struct conntable *table, struct conntable_entry *entry)
{
	table->live_count--;
	if (table->pinned == entry)
		table->pinned = NULL;
	conn_remove(table, entry);
}

struct conntable_entry *
conntable_find(struct conntable *table, uint64_t id)
{
	struct conntable_entry *entry;

	HASH_FIND(hh, table->by_id, &id, sizeof(id), entry);
	return entry;
}

static struct conntable_entry *
entry_of(struct idorder_node *node)
{
	return node != NULL ? idorder_entry(node, struct conntable_entry, order) : NULL;
}

struct conntable_entry *
conntable_first(struct conntable *table)
{
	return entry_of(table->order.first);
}

struct conntable_entry *
conntable_next(struct conntable_entry *entry)
{
	return entry_of(entry->order.next);
}

struct conntable_entry *
conntable_after(struct conntable *table, uint64_t after)
{
	return entry_of(idorder_after(&table->order, after));
}

size_t
conntable_live_count(const struct conntable *table)
{
	return table->live_count;
}

void
conntable_record_state(struct conntable *table, struct conntable_entry *entry, enum tcpinfo_state state,
    struct tcpinfo_cause cause, uint64_t at_us)
{
	bool was_closed = entry->state == TCPINFO_CLOSED && entry->history_len > 0;
	int slot;

	/* A full history keeps its latest entry current rather than losing the end. */
	slot = histbuf_slot((void **)&entry->history, &entry->history_len, &entry->history_cap,
	    sizeof(*entry->history), ENGINE_HISTORY_MAX);
	if (slot >= 0)
		entry->history[slot] = (struct engine_history_entry){
			.state = state, .at_us = at_us, .cause = cause,
		};
	entry->state = state;

	if (state == TCPINFO_CLOSED && !was_closed) {
		table->live_count--;
		table->closed_count++;
		DL_APPEND2(table->closed, entry, closed_prev, closed_next);
	}
}

void
conntable_record_segment(struct conntable_entry *entry, bool outbound, uint8_t flags, uint32_t seq,
    uint32_t payload_len)
{
	struct engine_counters *c = &entry->counters;
	uint32_t seq_len = payload_len + !!(flags & TCPINFO_FLAG_SYN) + !!(flags & TCPINFO_FLAG_FIN);

	if (!outbound) {
		/* What lwIP accepted of it is counted once lwIP has handled it. */
		c->segs_in++;
		return;
	}
	c->segs_out++;
	c->bytes_out += payload_len;
	c->rst_out += !!(flags & TCPINFO_FLAG_RST);
	if (!(flags & TCPINFO_FLAG_RST) && tcpinfo_seq_resent(&entry->sent, seq, seq_len))
		c->retransmits++;
}

void
conntable_pin(struct conntable *table, struct conntable_entry *entry)
{
	table->pinned = entry;
}

void
conntable_prune(struct conntable *table)
{
	struct conntable_entry *entry = table->closed;

	while (table->closed_count > table->retain_closed && entry != NULL) {
		struct conntable_entry *next = entry->closed_next;

		if (entry != table->pinned) {
			DL_DELETE2(table->closed, entry, closed_prev, closed_next);
			table->closed_count--;
			conn_remove(table, entry);
		}
		entry = next;
	}
}

void
conntable_set_destructor(struct conntable *table, void (*destroy)(struct conntable_entry *entry))
{
	table->destroy = destroy;
}

void
conntable_set_retain(struct conntable *table, uint32_t retain_closed)
{
	table->retain_closed = retain_closed;
}
