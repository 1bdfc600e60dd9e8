/*
 * lists: the pages of connections and listeners that the API lists.
 *
 * DESIGN
 *
 * A long table must not hold the core lock for a walk over all of it,
 * because lwIP's timers and every frame wait for that lock. So a page is
 * gathered in chunks. The lock is taken for at most ENGINE_LIST_CHUNK
 * entries, released, and taken again to resume after the last id looked at.
 * The ordered index (idorder.h) finds that place again in O(log n), even when
 * the entry has gone meanwhile. Room for a chunk's copies is allocated while
 * the lock is released. A page learns whether more follow by finding one
 * more match, which it does not copy.
 */
#include <stdlib.h>

#include "engine_internal.h"

/* What gathering needs to know of one kind of entry. */
struct list_kind {
	size_t view_size;
	/* The first entry with an id above after, and the next one; NULL at the end. */
	void *(*after)(struct engine *engine, uint64_t after);
	void *(*next)(void *entry);
	uint64_t (*id)(const void *entry);
	bool (*match)(const void *entry, const void *filter);
	void (*copy)(struct engine *engine, void *entry, void *view);
};

static enum engine_result
gather(struct engine *engine, const struct list_kind *kind, const void *filter,
    const struct engine_page *page, void **out, size_t *count, bool *more)
{
	char *views = NULL, *grown;
	size_t n = 0, cap = 0, want, looked;
	uint64_t cursor = page->after;
	enum engine_result rc = ENGINE_OK;
	bool end = false;
	void *entry;

	*more = false;
	while (!end && !*more) {
		if (cap < page->limit && cap - n < ENGINE_LIST_CHUNK) {
			want = cap + ENGINE_LIST_CHUNK < page->limit ? cap + ENGINE_LIST_CHUNK : page->limit;
			grown = realloc(views, want * kind->view_size);
			if (grown == NULL) {
				rc = ENGINE_NO_MEMORY;
				n = 0;
				break;
			}
			views = grown;
			cap = want;
		}
		engine_lock();
		entry = kind->after(engine, cursor);
		for (looked = 0; entry != NULL && looked < ENGINE_LIST_CHUNK; looked++) {
			cursor = kind->id(entry);
			if (kind->match(entry, filter)) {
				if (n == page->limit) {
					*more = true;
					break;
				}
				kind->copy(engine, entry, views + n++ * kind->view_size);
			}
			entry = kind->next(entry);
		}
		end = entry == NULL;
		engine_unlock();
	}
	if (n == 0) {
		free(views);
		views = NULL;
	}
	*out = views;
	*count = n;
	return rc;
}

static void *
conn_after(struct engine *engine, uint64_t after)
{
	return conntable_after(engine->table, after);
}

static void *
conn_next(void *entry)
{
	return conntable_next(entry);
}

static uint64_t
conn_id(const void *entry)
{
	return ((const struct conntable_entry *)entry)->id;
}

/* filter: the state asked for, or NULL for every connection. */
static bool
conn_match(const void *entry, const void *filter)
{
	return filter == NULL ||
	    ((const struct conntable_entry *)entry)->state == *(const enum tcpinfo_state *)filter;
}

static void
conn_copy(struct engine *engine, void *entry, void *view)
{
	engine_conn_view(engine, conn_of(entry), view);
}

static const struct list_kind conn_kind = {
	.view_size = sizeof(struct engine_conn_view),
	.after = conn_after,
	.next = conn_next,
	.id = conn_id,
	.match = conn_match,
	.copy = conn_copy,
};

enum engine_result
engine_list(struct engine *engine, const enum tcpinfo_state *state_filter,
    const struct engine_page *page, struct engine_conn_view **out, size_t *count, bool *more)
{
	void *views;
	enum engine_result rc = gather(engine, &conn_kind, state_filter, page, &views, count, more);

	*out = views;
	return rc;
}

static void *
listener_after(struct engine *engine, uint64_t after)
{
	return listeners_after(engine, after);
}

static void *
listener_next(void *entry)
{
	return listeners_next(entry);
}

static uint64_t
listener_id(const void *entry)
{
	return ((const struct listener *)entry)->id;
}

static bool
listener_match(const void *entry, const void *filter)
{
	(void)entry;
	(void)filter;
	return true;
}

static void
listener_copy(struct engine *engine, void *entry, void *view)
{
	(void)engine;
	listeners_view(entry, view);
}

static const struct list_kind listener_kind = {
	.view_size = sizeof(struct engine_listener_view),
	.after = listener_after,
	.next = listener_next,
	.id = listener_id,
	.match = listener_match,
	.copy = listener_copy,
};

enum engine_result
engine_listener_list(struct engine *engine, const struct engine_page *page,
    struct engine_listener_view **out, size_t *count, bool *more)
{
	void *views;
	enum engine_result rc = gather(engine, &listener_kind, NULL, page, &views, count, more);

	*out = views;
	return rc;
}
