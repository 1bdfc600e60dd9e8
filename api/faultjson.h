/*
 * faultjson: the JSON form of a fault rule, both ways: the body of
 * POST /v1/faults (and of --fault and the config file's fault key) into a
 * checked struct fault_spec, and a rule with its counts into the object the
 * API answers.
 */
#ifndef LWIPD_FAULTJSON_H
#define LWIPD_FAULTJSON_H

#include <stddef.h>

#include <jansson.h>

#include "faults.h"
#include "problem.h"

/* The largest skip, count, seed and connection: 2^53, beyond which JSON numbers lose precision. */
#define FAULTJSON_NUMBER_MAX (UINT64_C(1) << 53)

/*
 * Validates a rule body: size, Content-Type, JSON syntax, then the members
 * in the order dir, match (connection, flags, exact_flags, state, step,
 * data, local_port, remote_port), action, delay_ms, hold_ms, skip, count,
 * probability, seed. The first fault wins; its problem names the member,
 * e.g. "match.flags". Fills *out only on success.
 */
int faultjson_parse(const char *body, size_t len, const char *content_type,
    struct fault_spec *out, struct problem *err);

/* The rule object. Returns a new reference, or NULL when out of memory. */
json_t *faultjson_render(const struct fault_rule_view *rule);

#endif
