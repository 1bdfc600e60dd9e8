/*
 * jsonfield: typed access to the members of a JSON request body. See
 * jsonfield.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "jsonfield.h"
#include "request.h"

const char *
jsonfield_type_name(const json_t *value)
{
	switch (json_typeof(value)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value of unknown type";
}

int
jsonfield_check_known(json_t *obj, const char *const *known, struct problem *err)
{
	const char *key;
	json_t *value;
	size_t i;

	json_object_foreach(obj, key, value) {
		for (i = 0; known[i] != NULL; i++) {
			if (strcmp(key, known[i]) == 0)
				break;
		}
		if (known[i] == NULL) {
			problem_set(err, PROBLEM_INVALID_FIELD, key, "unknown field '%.*s'",
			    JSONFIELD_QUOTE_MAX, key);
			return -EINVAL;
		}
	}
	return 0;
}

int
jsonfield_integer(json_t *obj, const char *name, bool required, uint64_t min, uint64_t max,
    uint64_t *out, struct problem *err)
{
	json_t *value = json_object_get(obj, name);
	json_int_t number;

	if (value == NULL) {
		if (!required)
			return 0;
		problem_set(err, PROBLEM_INVALID_FIELD, name, "%s is required", name);
		return -EINVAL;
	}
	if (!json_is_integer(value)) {
		problem_set(err, PROBLEM_INVALID_FIELD, name,
		    "%s must be an integer from %" PRIu64 " to %" PRIu64 ", not %s",
		    name, min, max, jsonfield_type_name(value));
		return -EINVAL;
	}
	number = json_integer_value(value);
	if (number < 0 || (uint64_t)number < min || (uint64_t)number > max) {
		problem_set(err, PROBLEM_INVALID_FIELD, name,
		    "%s must be from %" PRIu64 " to %" PRIu64 ", not %" JSON_INTEGER_FORMAT,
		    name, min, max, number);
		return -EINVAL;
	}
	*out = (uint64_t)number;
	return 0;
}

int
jsonfield_boolean(json_t *obj, const char *name, bool *out, struct problem *err)
{
	json_t *value = json_object_get(obj, name);

	if (value == NULL)
		return 0;
	if (!json_is_boolean(value)) {
		problem_set(err, PROBLEM_INVALID_FIELD, name, "%s must be true or false, not %s",
		    name, jsonfield_type_name(value));
		return -EINVAL;
	}
	*out = json_is_true(value);
	return 0;
}

int
jsonfield_port(json_t *obj, const char *name, bool required, uint16_t *out,
    struct problem *err)
{
	uint64_t port = *out;
	int rc;

	rc = jsonfield_integer(obj, name, required, 1, 65535, &port, err);
	if (rc == 0)
		*out = (uint16_t)port;
	return rc;
}

int
jsonfield_load_object(const char *body, size_t len, const char *content_type, size_t flags,
    const char *const *known, json_t **out, struct problem *err)
{
	json_error_t json_err;
	json_t *root;
	int rc;

	if (body == NULL)
		body = "";
	rc = request_check_body_size(len, err);
	if (rc != 0)
		return rc;
	rc = request_check_content_type(content_type, body, len, err);
	if (rc != 0)
		return rc;
	/* JSON_DECODE_ANY so that a valid scalar is a 422, not a syntax error. */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | flags, &json_err);
	if (root == NULL) {
		problem_set(err, PROBLEM_MALFORMED_JSON, NULL, "invalid JSON at line %d, column %d: %s",
		    json_err.line, json_err.column, json_err.text);
		problem_set_position(err, json_err.line, json_err.column);
		return -EBADMSG;
	}
	if (!json_is_object(root)) {
		problem_set(err, PROBLEM_INVALID_FIELD, "(body)", "the body must be a JSON object");
		rc = -EINVAL;
		goto fail;
	}
	rc = jsonfield_check_known(root, known, err);
	if (rc != 0)
		goto fail;
	*out = root;
	return 0;
fail:
	json_decref(root);
	return rc;
}
