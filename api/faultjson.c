/*
 * faultjson: the JSON form of a fault rule. See faultjson.h.
 *
 * A problem in a member of "match" names it with its path ("match.flags"),
 * in the field and at the start of the detail alike, so a client can tell
 * it from a top-level member of the same name.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "faultjson.h"
#include "jsonfield.h"

static const char *const rule_members[] = {
	"dir", "match", "action", "delay_ms", "hold_ms", "skip", "count", "probability", "seed", NULL,
};

static const char *const match_members[] = {
	"connection", "flags", "exact_flags", "state", "step", "data", "local_port", "remote_port",
	NULL,
};

/* Rewrites a problem about member m of "match" to name "match.m". */
static void
name_in_match(struct problem *err)
{
	char field[PROBLEM_FIELD_MAX + sizeof("match.")], detail[PROBLEM_DETAIL_MAX];
	bool detail_names_it;

	if (!err->has_field)
		return;
	detail_names_it = strncmp(err->detail, err->field, strlen(err->field)) == 0;
	snprintf(field, sizeof(field), "match.%s", err->field);
	memcpy(detail, err->detail, sizeof(detail));
	/* problem_set() truncates both to their buffers and keeps them valid UTF-8. */
	problem_set(err, err->type, field, detail_names_it ? "match.%s" : "%s", detail);
}

/* A string member, or NULL when absent; a value of another type is a problem. */
static int
string_member(json_t *obj, const char *name, const char **out, struct problem *err)
{
	json_t *value = json_object_get(obj, name);

	*out = NULL;
	if (value == NULL)
		return 0;
	if (!json_is_string(value)) {
		problem_set(err, PROBLEM_INVALID_FIELD, name, "%s must be a string, not %s", name,
		    jsonfield_type_name(value));
		return -EINVAL;
	}
	*out = json_string_value(value);
	return 0;
}

static int
parse_flags_member(json_t *obj, const char *name, bool *has, uint8_t *out, struct problem *err)
{
	const char *text;
	int rc = string_member(obj, name, &text, err);

	if (rc != 0 || text == NULL)
		return rc;
	if (tcpinfo_flags_parse(text, out) < 0) {
		problem_set(err, PROBLEM_INVALID_FIELD, name,
		    "%s must list TCP flags such as \"SYN,ACK\" (SYN, FIN, RST, PSH, ACK, URG, ECE, CWR), "
		    "each once, not '%.*s'", name, JSONFIELD_QUOTE_MAX, text);
		return -EINVAL;
	}
	*has = true;
	return 0;
}

static int
parse_match(json_t *match, struct fault_match *out, struct problem *err)
{
	uint64_t connection = 0;
	const char *text;
	int rc;

	if ((rc = jsonfield_check_known(match, match_members, err)) != 0)
		return rc;
	if ((rc = jsonfield_integer(match, "connection", false, 1, FAULTJSON_NUMBER_MAX, &connection,
	    err)) != 0)
		return rc;
	out->has_connection = json_object_get(match, "connection") != NULL;
	out->connection = connection;
	if ((rc = parse_flags_member(match, "flags", &out->has_flags, &out->flags, err)) != 0 ||
	    (rc = parse_flags_member(match, "exact_flags", &out->has_exact_flags, &out->exact_flags,
	    err)) != 0)
		return rc;
	if ((rc = string_member(match, "state", &text, err)) != 0)
		return rc;
	if (text != NULL && tcpinfo_state_parse(text, &out->state) < 0) {
		problem_set(err, PROBLEM_INVALID_FIELD, "state",
		    "state must be a TCP state such as \"ESTABLISHED\", not '%.*s'", JSONFIELD_QUOTE_MAX, text);
		return -EINVAL;
	}
	out->has_state = text != NULL;
	if ((rc = string_member(match, "step", &text, err)) != 0)
		return rc;
	if (text != NULL && tcpinfo_step_parse(text, &out->step) < 0) {
		problem_set(err, PROBLEM_INVALID_FIELD, "step",
		    "step must be a timeline step such as \"handshake-2\" or \"teardown-4\", not '%.*s'",
		    JSONFIELD_QUOTE_MAX, text);
		return -EINVAL;
	}
	out->has_step = text != NULL;
	if ((rc = jsonfield_boolean(match, "data", &out->data, err)) != 0)
		return rc;
	out->has_data = json_object_get(match, "data") != NULL;
	if ((rc = jsonfield_port(match, "local_port", false, &out->local_port, err)) != 0 ||
	    (rc = jsonfield_port(match, "remote_port", false, &out->remote_port, err)) != 0)
		return rc;
	out->has_local_port = json_object_get(match, "local_port") != NULL;
	out->has_remote_port = json_object_get(match, "remote_port") != NULL;
	return 0;
}

static int
parse_enum_member(json_t *obj, const char *name, const char *expected, int (*parse)(const char *,
    int *), int *out, struct problem *err)
{
	const char *text;
	int rc = string_member(obj, name, &text, err);

	if (rc != 0)
		return rc;
	if (text == NULL) {
		problem_set(err, PROBLEM_INVALID_FIELD, name, "%s is required: %s", name, expected);
		return -EINVAL;
	}
	if (parse(text, out) < 0) {
		problem_set(err, PROBLEM_INVALID_FIELD, name, "%s must be %s, not '%.*s'", name, expected,
		    JSONFIELD_QUOTE_MAX, text);
		return -EINVAL;
	}
	return 0;
}

static int
dir_parse(const char *text, int *out)
{
	if (strcmp(text, "in") == 0)
		*out = FAULT_DIR_IN;
	else if (strcmp(text, "out") == 0)
		*out = FAULT_DIR_OUT;
	else
		return -EINVAL;
	return 0;
}

static int
action_parse(const char *text, int *out)
{
	enum fault_action action;

	if (faults_action_parse(text, &action) < 0)
		return -EINVAL;
	*out = (int)action;
	return 0;
}

/* A member that only one action takes: refused with the others. */
static int
only_for(json_t *root, const char *name, enum fault_action owner, enum fault_action action,
    struct problem *err)
{
	if (action == owner || json_object_get(root, name) == NULL)
		return 0;
	problem_set(err, PROBLEM_INVALID_FIELD, name, "%s applies only to action \"%s\"", name,
	    faults_action_name(owner));
	return -EINVAL;
}

static int
parse_probability(json_t *root, double *out, struct problem *err)
{
	json_t *value = json_object_get(root, "probability");

	if (value == NULL)
		return 0;
	if (!json_is_number(value)) {
		problem_set(err, PROBLEM_INVALID_FIELD, "probability",
		    "probability must be a number from 0 to 1, not %s", jsonfield_type_name(value));
		return -EINVAL;
	}
	*out = json_number_value(value);
	if (!(*out >= 0.0 && *out <= 1.0)) {
		problem_set(err, PROBLEM_INVALID_FIELD, "probability",
		    "probability must be from 0 to 1, not %g", *out);
		return -EINVAL;
	}
	return 0;
}

int
faultjson_parse(const char *body, size_t len, const char *content_type, struct fault_spec *out,
    struct problem *err)
{
	struct fault_spec spec = {
		.count = 1, .probability = 1.0, .hold_ms = FAULTS_HOLD_DEFAULT_MS,
	};
	uint64_t delay = 0, hold = spec.hold_ms;
	int dir, action, rc;
	json_t *root, *match;

	rc = jsonfield_load_object(body, len, content_type, 0, rule_members, &root, err);
	if (rc != 0)
		return rc;
	if ((rc = parse_enum_member(root, "dir", "\"in\" or \"out\"", dir_parse, &dir, err)) != 0)
		goto out;
	spec.dir = (enum fault_dir)dir;
	match = json_object_get(root, "match");
	if (match != NULL && !json_is_object(match)) {
		problem_set(err, PROBLEM_INVALID_FIELD, "match", "match must be an object, not %s",
		    jsonfield_type_name(match));
		rc = -EINVAL;
		goto out;
	}
	if (match != NULL && (rc = parse_match(match, &spec.match, err)) != 0) {
		name_in_match(err);
		goto out;
	}
	rc = parse_enum_member(root, "action", "one of \"drop\", \"delay\", \"duplicate\", \"reorder\", "
	    "\"corrupt\"", action_parse, &action, err);
	if (rc != 0)
		goto out;
	spec.action = (enum fault_action)action;
	if ((rc = only_for(root, "delay_ms", FAULT_DELAY, spec.action, err)) != 0 ||
	    (rc = jsonfield_integer(root, "delay_ms", spec.action == FAULT_DELAY, 1,
	    FAULTS_DELAY_MAX_MS, &delay, err)) != 0 ||
	    (rc = only_for(root, "hold_ms", FAULT_REORDER, spec.action, err)) != 0 ||
	    (rc = jsonfield_integer(root, "hold_ms", false, 1, FAULTS_DELAY_MAX_MS, &hold, err)) != 0 ||
	    (rc = jsonfield_integer(root, "skip", false, 0, FAULTJSON_NUMBER_MAX, &spec.skip, err)) != 0 ||
	    (rc = jsonfield_integer(root, "count", false, 0, FAULTJSON_NUMBER_MAX, &spec.count, err)) != 0 ||
	    (rc = parse_probability(root, &spec.probability, err)) != 0 ||
	    (rc = jsonfield_integer(root, "seed", false, 0, FAULTJSON_NUMBER_MAX, &spec.seed, err)) != 0)
		goto out;
	spec.delay_ms = (uint32_t)delay;
	spec.hold_ms = spec.action == FAULT_REORDER ? (uint32_t)hold : 0;
	spec.has_seed = json_object_get(root, "seed") != NULL;
	*out = spec;
out:
	json_decref(root);
	return rc;
}

static int
set_flags(json_t *obj, const char *name, uint8_t flags)
{
	char text[TCPINFO_TEXT_MAX];

	return json_object_set_new(obj, name, json_string(tcpinfo_flags_format(flags, text,
	    sizeof(text))));
}

static json_t *
render_match(const struct fault_match *m)
{
	json_t *obj = json_object();
	int rc = 0;

	if (obj == NULL)
		return NULL;
	if (m->has_connection)
		rc |= json_object_set_new(obj, "connection", json_integer((json_int_t)m->connection));
	if (m->has_flags)
		rc |= set_flags(obj, "flags", m->flags);
	if (m->has_exact_flags)
		rc |= set_flags(obj, "exact_flags", m->exact_flags);
	if (m->has_state)
		rc |= json_object_set_new(obj, "state", json_string(tcpinfo_state_name(m->state)));
	if (m->has_step)
		rc |= json_object_set_new(obj, "step", json_string(tcpinfo_step_name(m->step)));
	if (m->has_data)
		rc |= json_object_set_new(obj, "data", json_boolean(m->data));
	if (m->has_local_port)
		rc |= json_object_set_new(obj, "local_port", json_integer(m->local_port));
	if (m->has_remote_port)
		rc |= json_object_set_new(obj, "remote_port", json_integer(m->remote_port));
	if (rc != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

json_t *
faultjson_render(const struct fault_rule_view *rule)
{
	const struct fault_spec *spec = &rule->spec;
	json_t *obj;
	int rc = 0;

	obj = json_pack("{s:I, s:s, s:o, s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:s}",
	    "id", (json_int_t)rule->id,
	    "dir", spec->dir == FAULT_DIR_IN ? "in" : "out",
	    "match", render_match(&spec->match),
	    "action", faults_action_name(spec->action),
	    "skip", (json_int_t)spec->skip,
	    "count", (json_int_t)spec->count,
	    "probability", spec->probability,
	    "seed", (json_int_t)spec->seed,
	    "matched", (json_int_t)rule->matched,
	    "applied", (json_int_t)rule->applied,
	    "state", rule->spent ? "spent" : "active");
	if (obj == NULL)
		return NULL;
	/* remaining: null for a rule without a count, which is never spent. */
	rc |= json_object_set_new(obj, "remaining", spec->count == 0 ? json_null() :
	    json_integer((json_int_t)(spec->count - rule->applied)));
	if (spec->action == FAULT_DELAY)
		rc |= json_object_set_new(obj, "delay_ms", json_integer(spec->delay_ms));
	if (spec->action == FAULT_REORDER)
		rc |= json_object_set_new(obj, "hold_ms", json_integer(spec->hold_ms));
	if (rc != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}
