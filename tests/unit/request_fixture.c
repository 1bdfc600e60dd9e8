/*
 * request_fixture: the checks the request parser's tests share: a body
 * that parses, and a 422 that names its field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "request_fixture.h"

/* Parses body as application/json and expects a 422 that names field. */
void
expect_invalid(const char *body, const char *field)
{
	struct engine_open_params params;
	struct problem err;

	assert_int_equal(request_parse_open(body, strlen(body), "application/json", &params, &err),
	    -EINVAL);
	assert_int_equal(err.type, PROBLEM_INVALID_FIELD);
	assert_int_equal(problem_status(&err), 422);
	assert_true(err.has_field);
	assert_string_equal(err.field, field);
}

void
expect_valid(const char *body, struct engine_open_params *params)
{
	struct problem err;

	assert_int_equal(request_parse_open(body, strlen(body), "application/json", params, &err), 0);
}

/* Expects a 422 naming field from one of the new body parsers, given as its result. */
void
expect_field(int rc, const struct problem *err, const char *field)
{
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(problem_status(err), 422);
	assert_true(err->has_field);
	assert_string_equal(err->field, field);
}
