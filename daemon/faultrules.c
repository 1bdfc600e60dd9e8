/*
 * faultrules: the fault rules as the API sees them: added, listed, looked
 * up and removed under the core lock. Deciding on segments is segments.c's
 * job; faults.c keeps the rules.
 */
#include "engine_internal.h"

#include <errno.h>

enum engine_result
engine_fault_add(struct engine *engine, const struct fault_spec *spec, struct fault_rule_view *out)
{
	enum engine_result result = ENGINE_OK;
	int rc;

	engine_lock();
	if (engine->stopping) {
		result = ENGINE_STOPPING;
		goto unlock;
	}
	rc = faults_add(engine->faults, spec, out);
	if (rc == -ENOSPC)
		result = ENGINE_RULES_FULL;
	else if (rc < 0)
		result = ENGINE_NO_MEMORY;
unlock:
	engine_unlock();
	return result;
}

enum engine_result
engine_fault_get(struct engine *engine, uint64_t id, struct fault_rule_view *out)
{
	int rc;

	engine_lock();
	rc = faults_get(engine->faults, id, out);
	engine_unlock();
	return rc < 0 ? ENGINE_NOT_FOUND : ENGINE_OK;
}

size_t
engine_fault_list(struct engine *engine, uint64_t after, struct fault_rule_view *out, size_t max)
{
	size_t n;

	engine_lock();
	n = faults_list(engine->faults, after, out, max);
	engine_unlock();
	return n;
}

enum engine_result
engine_fault_remove(struct engine *engine, uint64_t id, struct fault_rule_view *out)
{
	enum engine_result result = ENGINE_NOT_FOUND;

	engine_lock();
	if (faults_get(engine->faults, id, out) == 0 && faults_remove(engine->faults, id) == 0)
		result = ENGINE_OK;
	engine_unlock();
	return result;
}

size_t
engine_fault_clear(struct engine *engine)
{
	size_t n;

	engine_lock();
	n = faults_clear(engine->faults);
	engine_unlock();
	return n;
}
