/*
 * render_batch: a batch's copy as JSON, for /v1/batches and its waits.
 * Pure, as render.c is.
 */
#include <arpa/inet.h>

#include "render.h"

/* The failure causes' names, as the connection history names what caused them. */
static const char *const failure_names[ENGINE_BATCH_FAIL_COUNT] = {
	[ENGINE_BATCH_FAIL_REFUSED] = "refused",
	[ENGINE_BATCH_FAIL_TIMEOUT] = "timeout",
	[ENGINE_BATCH_FAIL_UNRESOLVED] = "unresolved",
	[ENGINE_BATCH_FAIL_RESET] = "reset",
	[ENGINE_BATCH_FAIL_LIMIT] = "limit",
	[ENGINE_BATCH_FAIL_NO_PORT] = "no_port",
	[ENGINE_BATCH_FAIL_NO_MEMORY] = "no_memory",
	[ENGINE_BATCH_FAIL_CLOSED] = "closed",
	[ENGINE_BATCH_FAIL_STOPPING] = "stopping",
	[ENGINE_BATCH_FAIL_OTHER] = "other",
};

static const char *const state_names[] = {
	[ENGINE_BATCH_RUNNING] = "running",
	[ENGINE_BATCH_DONE] = "done",
	[ENGINE_BATCH_STOPPED] = "stopped",
};

static const char *const close_names[] = {
	[ENGINE_BATCH_CLOSE_NONE] = "none",
	[ENGINE_BATCH_CLOSE_GRACEFUL] = "graceful",
	[ENGINE_BATCH_CLOSE_ABORT] = "abort",
};

/* {"cause":count,...} of the causes that occurred. */
static json_t *
render_failures(const struct engine_batch_view *batch)
{
	json_t *obj = json_object();

	for (size_t i = 0; obj != NULL && i < ENGINE_BATCH_FAIL_COUNT; i++) {
		if (batch->failures[i] > 0 &&
		    json_object_set_new(obj, failure_names[i], json_integer(render_u64(
		    batch->failures[i]))) != 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

json_t *
render_batch(const struct engine_batch_view *b)
{
	struct in_addr addr = { .s_addr = b->params.remote.ip };
	const struct engine_latency *l = &b->latency;
	char ip[INET_ADDRSTRLEN];
	double rate;

	if ((size_t)b->state >= sizeof(state_names) / sizeof(state_names[0]) ||
	    (size_t)b->params.close >= sizeof(close_names) / sizeof(close_names[0]) ||
	    inet_ntop(AF_INET, &addr, ip, sizeof(ip)) == NULL)
		return NULL;
	rate = b->elapsed_us > 0 ? (double)b->established * 1e6 / (double)b->elapsed_us : 0.0;
	return json_pack("{s:I, s:s, s:s, s:i, s:I, s:I, s:s, s:I, s:b, s:I, s:I, s:I, s:o,"
	    " s:I, s:I, s:f, s:{s:I, s:I, s:I, s:I, s:I}}",
	    "id", render_u64(b->id),
	    "state", state_names[b->state],
	    "remote_ip", ip,
	    "remote_port", (int)b->params.remote.port,
	    "count", (json_int_t)b->params.count,
	    "in_flight", (json_int_t)b->params.in_flight,
	    "close", close_names[b->params.close],
	    "hold_ms", (json_int_t)b->params.hold_ms,
	    "timelines", (int)b->params.timelines,
	    "started", render_u64(b->started),
	    "established", render_u64(b->established),
	    "failed", render_u64(b->failed),
	    "failures", render_failures(b),
	    "closed", render_u64(b->closed),
	    "elapsed_us", render_u64(b->elapsed_us),
	    "rate", rate,
	    "latency_us",
	    "min", render_u64(l->min_us),
	    "p50", render_u64(l->p50_us),
	    "p90", render_u64(l->p90_us),
	    "p99", render_u64(l->p99_us),
	    "max", render_u64(l->max_us));
}

static json_t *
batch_at(const void *items, size_t i)
{
	return render_batch((const struct engine_batch_view *)items + i);
}

json_t *
render_batch_list(const struct engine_batch_view *batches, size_t count)
{
	return render_list("batches", batches, count, batch_at);
}

json_t *
render_batch_problem(const struct problem *p, const struct engine_batch_view *batch)
{
	return render_problem_extend(problem_to_json(p), json_pack("{s:o}", "batch",
	    render_batch(batch)));
}
