/*
 * listeners: the engine's listening ports, their counts of accepted
 * connections, and the waits on them. The connections a listener forks
 * are the engine's (engine.c, the passive_open hook).
 */
#include <stdlib.h>

#include "engine_internal.h"

struct listener *
listeners_find(struct engine *engine, uint64_t id)
{
	struct listener *listener;

	HASH_FIND(hh, engine->listeners_by_id, &id, sizeof(id), listener);
	return listener;
}

static struct listener *
listener_of(struct idorder_node *node)
{
	return node != NULL ? idorder_entry(node, struct listener, order) : NULL;
}

struct listener *
listeners_after(struct engine *engine, uint64_t after)
{
	return listener_of(idorder_after(&engine->listeners, after));
}

struct listener *
listeners_next(struct listener *listener)
{
	return listener_of(listener->order.next);
}

void
listeners_view(const struct listener *listener, struct engine_listener_view *out)
{
	*out = (struct engine_listener_view){
		.id = listener->id,
		.port = listener->port,
		.backlog = listener->backlog,
		.state = listener->stack != NULL ? TCPINFO_LISTEN : TCPINFO_CLOSED,
		.accepted = listener->accepted,
	};
}

void
listeners_on_accepted(void *listener_owner)
{
	struct listener *listener = listener_owner;

	listener->accepted++;
	waits_check(listener->engine, &listener->waiters);
}

void
listeners_stop(struct engine *engine)
{
	struct listener *listener;

	for (listener = listeners_after(engine, 0); listener != NULL;
	    listener = listeners_next(listener)) {
		waits_wake_all(&listener->waiters, ENGINE_WAIT_STOPPING);
		if (listener->stack != NULL)
			stack_tcp_unlisten(listener->stack);
		listener->stack = NULL;
	}
}

void
listeners_free(struct engine *engine)
{
	struct listener *listener, *tmp;

	HASH_ITER(hh, engine->listeners_by_id, listener, tmp) {
		HASH_DEL(engine->listeners_by_id, listener);
		idorder_remove(&engine->listeners, &listener->order);
		free(listener);
	}
	engine->listener_count = 0;
}

enum engine_result
engine_listen(struct engine *engine, uint16_t port, uint32_t backlog,
    struct engine_listener_view *out)
{
	struct listener *listener;
	enum engine_result rc;

	engine_lock();
	rc = engine_admit(engine, engine->listener_count, engine->cfg.max_listeners);
	if (rc != ENGINE_OK)
		goto unlock;
	listener = calloc(1, sizeof(*listener));
	if (listener == NULL) {
		rc = ENGINE_NO_MEMORY;
		goto unlock;
	}
	listener->engine = engine;
	rc = engine_result_of(stack_tcp_listen(listener, port, backlog, &listener->stack));
	if (rc != ENGINE_OK) {
		free(listener);
		goto unlock;
	}
	listener->id = engine->next_listener_id++;
	listener->port = port;
	listener->backlog = backlog;
	HASH_ADD(hh, engine->listeners_by_id, id, sizeof(listener->id), listener);
	idorder_append(&engine->listeners, &listener->order, listener->id);
	engine->listener_count++;
	listeners_view(listener, out);
	events_emit(engine, (struct engine_stream_event){
		.kind = ENGINE_STREAM_LISTENER_CREATED, .id = listener->id, .port = port });
unlock:
	engine_unlock();
	return rc;
}

enum engine_result
engine_unlisten(struct engine *engine, uint64_t id, struct engine_listener_view *out)
{
	struct listener *listener;
	enum engine_result rc = ENGINE_OK;

	engine_lock();
	listener = listeners_find(engine, id);
	if (listener == NULL || listener->stack == NULL) {
		rc = ENGINE_NOT_FOUND;
		goto unlock;
	}
	waits_wake_all(&listener->waiters, ENGINE_WAIT_UNREACHABLE);
	stack_tcp_unlisten(listener->stack);
	listener->stack = NULL;
	listeners_view(listener, out);
	events_emit(engine, (struct engine_stream_event){
		.kind = ENGINE_STREAM_LISTENER_REMOVED, .id = listener->id, .port = listener->port });
	HASH_DEL(engine->listeners_by_id, listener);
	idorder_remove(&engine->listeners, &listener->order);
	engine->listener_count--;
	free(listener);
unlock:
	engine_unlock();
	return rc;
}

enum engine_result
engine_listener_get(struct engine *engine, uint64_t id, struct engine_listener_view *out)
{
	struct listener *listener;
	enum engine_result rc = ENGINE_OK;

	engine_lock();
	listener = listeners_find(engine, id);
	if (listener != NULL)
		listeners_view(listener, out);
	else
		rc = ENGINE_NOT_FOUND;
	engine_unlock();
	return rc;
}
