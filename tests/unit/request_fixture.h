/*
 * request_fixture: the checks the request parser's tests share
 * (test_request*.c).
 */
#ifndef LWIPD_REQUEST_FIXTURE_H
#define LWIPD_REQUEST_FIXTURE_H

#include "request.h"

/* Parses body as application/json and expects a 422 that names field. */
void expect_invalid(const char *body, const char *field);

/* Parses body as application/json and expects it to pass. */
void expect_valid(const char *body, struct engine_open_params *params);

/* Expects a 422 naming field from one of the new body parsers, given as its result. */
void expect_field(int rc, const struct problem *err, const char *field);

#endif
