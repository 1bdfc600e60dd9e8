/*
 * test_request: the request body's framing: its size limits and
 * Content-Length, the content type, JSON syntax, duplicate and unknown
 * keys. test_request_fields checks each body's fields; test_request_query
 * the query parameters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "request_fixture.h"

static void
expect_unsupported_type(const char *content_type, const char *body)
{
	struct problem err;

	assert_int_equal(request_check_content_type(content_type, body, strlen(body), &err),
	    -ENOTSUP);
	assert_int_equal(problem_status(&err), 415);
	assert_int_equal(err.type, PROBLEM_UNSUPPORTED_MEDIA_TYPE);
}

static void
expect_json_type(const char *content_type, const char *body)
{
	struct problem err;

	assert_int_equal(request_check_content_type(content_type, body, strlen(body), &err), 0);
}

static void
test_body_size_limit(void **state)
{
	struct problem err;

	(void)state;
	assert_int_equal(request_check_body_size(0, &err), 0);
	assert_int_equal(request_check_body_size(65536, &err), 0);
	assert_int_equal(request_check_body_size(65537, &err), -EMSGSIZE);
	assert_int_equal(err.type, PROBLEM_PAYLOAD_TOO_LARGE);
	assert_int_equal(problem_status(&err), 413);
	assert_int_equal(request_check_body_size(UINT64_MAX, &err), -EMSGSIZE);
}

static void
test_content_length(void **state)
{
	struct problem err;

	(void)state;
	assert_true(request_content_length(NULL) == 0);
	assert_true(request_content_length("") == 0);
	assert_true(request_content_length("0") == 0);
	assert_true(request_content_length("65536") == 65536);
	assert_true(request_content_length("0000065537") == 65537);
	assert_true(request_content_length("18446744073709551615") == UINT64_MAX);
	assert_true(request_content_length("18446744073709551616") == UINT64_MAX);
	assert_true(request_content_length("340282366920938463463374607431768211456") == UINT64_MAX);
	/* Not a number: libmicrohttpd refuses it first, and the byte count still applies. */
	assert_true(request_content_length("12ab") == 0);
	assert_true(request_content_length("-1") == 0);
	assert_int_equal(request_check_body_size(request_content_length("65536"), &err), 0);
	assert_int_equal(request_check_body_size(request_content_length("65537"), &err), -EMSGSIZE);
}

static void
test_body_accumulates_up_to_limit(void **state)
{
	struct request_body body = { .data = NULL };
	static char piece[4096];
	struct problem err;
	size_t i;

	(void)state;
	memset(piece, 'x', sizeof(piece));
	for (i = 0; i < REQUEST_BODY_MAX / sizeof(piece); i++)
		assert_int_equal(request_body_append(&body, piece, sizeof(piece)), 0);
	assert_int_equal(body.len, 65536);
	assert_int_equal(body.received, 65536);
	assert_int_equal(request_check_body_size(body.received, &err), 0);
	assert_memory_equal(body.data + 65535, "x", 1);

	assert_int_equal(request_body_append(&body, "y", 1), 0);
	assert_int_equal(body.len, 65536);
	assert_true(body.received == 65537);
	assert_int_equal(request_check_body_size(body.received, &err), -EMSGSIZE);
	/* Once over, more data is counted but not stored. */
	assert_int_equal(request_body_append(&body, piece, sizeof(piece)), 0);
	assert_int_equal(body.len, 65536);
	assert_true(body.received == 65537 + sizeof(piece));
	assert_int_equal(request_check_body_size(body.received, &err), -EMSGSIZE);

	request_body_free(&body);
	assert_null(body.data);
	assert_int_equal(body.len, 0);
	request_body_free(NULL);
}

static void
test_body_single_oversized_piece(void **state)
{
	struct request_body body = { .data = NULL };
	char *big = calloc(1, 65537);
	struct problem err;

	(void)state;
	assert_non_null(big);
	assert_int_equal(request_body_append(&body, big, 65537), 0);
	assert_int_equal(body.len, 0);
	assert_null(body.data);
	assert_int_equal(request_check_body_size(body.received, &err), -EMSGSIZE);
	request_body_free(&body);
	free(big);
}

static void
test_body_count_saturates(void **state)
{
	struct request_body body = { .received = UINT64_MAX - 1 };

	(void)state;
	assert_int_equal(request_body_append(&body, "abc", 3), 0);
	assert_true(body.received == UINT64_MAX);
	assert_int_equal(request_body_append(&body, "abc", 3), 0);
	assert_true(body.received == UINT64_MAX);
	assert_int_equal(body.len, 0);
}

static void
test_parse_open_size_threshold(void **state)
{
	struct engine_open_params params;
	const char *json = "{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000}";
	size_t json_len = strlen(json);
	char *body = malloc(65537);
	struct problem err;

	(void)state;
	assert_non_null(body);
	/* Valid JSON padded with trailing whitespace to exactly the limit. */
	memcpy(body, json, json_len);
	memset(body + json_len, ' ', 65537 - json_len);
	assert_int_equal(request_parse_open(body, 65536, "application/json", &params, &err), 0);
	assert_int_equal(request_parse_open(body, 65537, "application/json", &params, &err),
	    -EMSGSIZE);
	assert_int_equal(problem_status(&err), 413);
	free(body);
}

static void
test_content_type_json(void **state)
{
	(void)state;
	expect_json_type("application/json", "x");
	expect_json_type("application/json; charset=utf-8", "x");
	expect_json_type("Application/JSON;charset=UTF-8", "x");
	expect_json_type("  application/json ; charset=utf-8", "x");
	expect_json_type("application/problem+json", "x");
	expect_json_type("application/vnd.lwipd.v1+JSON; q=1", "x");
}

static void
test_content_type_refused(void **state)
{
	(void)state;
	expect_unsupported_type("text/plain", "{}");
	expect_unsupported_type("text/json", "{}");
	expect_unsupported_type("application/xml", "{}");
	expect_unsupported_type("multipart/form-data; boundary=x", "{}");
	expect_unsupported_type("application/jsonx", "{}");
	expect_unsupported_type("application/+json", "{}");
	expect_unsupported_type("application/json-seq", "{}");
	expect_unsupported_type("application/json garbage", "{}");
	expect_unsupported_type("application", "{}");
}

static void
test_content_type_sniffing(void **state)
{
	(void)state;
	expect_json_type(NULL, "{\"a\":1}");
	expect_json_type(NULL, " \t\r\n[1]");
	expect_json_type("", "{}");
	expect_json_type("application/x-www-form-urlencoded", "{\"remote_ip\":\"10.9.0.1\"}");
	expect_json_type("Application/X-WWW-Form-Urlencoded; charset=utf-8", "\n{}");
	expect_unsupported_type(NULL, "");
	expect_unsupported_type(NULL, "   ");
	expect_unsupported_type(NULL, "\"text\"");
	expect_unsupported_type(NULL, "remote_ip=10.9.0.1");
	expect_unsupported_type("application/x-www-form-urlencoded", "remote_ip=10.9.0.1&x={}");
	expect_unsupported_type("application/x-www-form-urlencoded", "");
	expect_unsupported_type("multipart/form-data; boundary=x", "{}");
	expect_unsupported_type("text/plain", "{}");
}

static void
test_parse_open_content_type(void **state)
{
	struct engine_open_params params;
	const char *body = "{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000}";
	struct problem err;

	(void)state;
	assert_int_equal(request_parse_open(body, strlen(body), NULL, &params, &err), 0);
	assert_int_equal(request_parse_open(body, strlen(body), "text/plain", &params, &err),
	    -ENOTSUP);
	assert_int_equal(problem_status(&err), 415);
}

static void
test_malformed_json_position(void **state)
{
	struct engine_open_params params;
	const char *body = "{\n  \"remote_ip\": ,\n}";
	struct problem err;

	(void)state;
	assert_int_equal(request_parse_open(body, strlen(body), "application/json", &params, &err),
	    -EBADMSG);
	assert_int_equal(err.type, PROBLEM_MALFORMED_JSON);
	assert_int_equal(problem_status(&err), 400);
	assert_true(err.has_position);
	assert_int_equal(err.line, 2);
	assert_int_equal(err.column, 16);
	assert_false(err.has_field);
	assert_non_null(strstr(err.detail, "invalid JSON at line 2, column 16: "));
}

static void
test_malformed_json_cases(void **state)
{
	static const char *const bodies[] = {
		"",
		"   ",
		"{",
		"{\"remote_ip\":\"10.9.0.1\",}",
		"{\"remote_ip\":\"10.9.0.1\"} trailing",
		"{'remote_ip':'10.9.0.1'}",
		"{\"remote_port\":99999999999999999999999}",
		"{\"remote_ip\":\"10.9\\u0000.0.1\"}",
	};
	struct engine_open_params params;
	struct problem err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		assert_int_equal(request_parse_open(bodies[i], strlen(bodies[i]), "application/json",
		    &params, &err), -EBADMSG);
		assert_int_equal(problem_status(&err), 400);
		assert_true(err.has_position);
		assert_int_equal(err.line, 1);
	}
	/* The HTTP layer passes NULL for a request with no body at all. */
	assert_int_equal(request_parse_open(NULL, 0, "application/json", &params, &err), -EBADMSG);
	assert_int_equal(err.line, 1);
}

static void
test_duplicate_keys(void **state)
{
	struct engine_open_params params;
	const char *body = "{\"remote_ip\":\"10.9.0.1\",\"remote_port\":1,\"remote_port\":2}";
	struct problem err;

	(void)state;
	assert_int_equal(request_parse_open(body, strlen(body), "application/json", &params, &err),
	    -EBADMSG);
	assert_int_equal(problem_status(&err), 400);
	assert_non_null(strstr(err.detail, "duplicate"));
}

static void
test_body_not_object(void **state)
{
	(void)state;
	expect_invalid("[]", "(body)");
	expect_invalid("[{\"remote_ip\":\"10.9.0.1\"}]", "(body)");
	expect_invalid("7000", "(body)");
	expect_invalid("\"10.9.0.1\"", "(body)");
	expect_invalid("null", "(body)");
}

static void
test_unknown_fields(void **state)
{
	struct engine_open_params params;
	const char *body = "{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"timeout\":3}";
	struct problem err;

	(void)state;
	assert_int_equal(request_parse_open(body, strlen(body), "application/json", &params, &err),
	    -EINVAL);
	assert_string_equal(err.field, "timeout");
	assert_string_equal(err.detail, "unknown field 'timeout'");
	/* Unknown members are reported before missing or invalid known ones. */
	expect_invalid("{\"remote_port\":0,\"Remote_ip\":\"10.9.0.1\"}", "Remote_ip");
	expect_invalid("{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"\":1}", "");
	/* The first unknown member in document order wins. */
	expect_invalid("{\"zz\":1,\"q\":2,\"a\":3,\"remote_ip\":\"10.9.0.1\"}", "zz");
}

static void
test_member_order(void **state)
{
	(void)state;
	expect_invalid("{}", "remote_ip");
	expect_invalid("{\"remote_port\":0,\"local_port\":0}", "remote_ip");
	expect_invalid("{\"local_port\":0,\"remote_ip\":\"10.9.0.1\",\"remote_port\":0}",
	    "remote_port");
	expect_invalid("{\"local_port\":0,\"remote_ip\":\"10.9.0.1\",\"remote_port\":1}",
	    "local_port");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_size_limit),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_body_accumulates_up_to_limit),
		cmocka_unit_test(test_body_single_oversized_piece),
		cmocka_unit_test(test_body_count_saturates),
		cmocka_unit_test(test_parse_open_size_threshold),
		cmocka_unit_test(test_content_type_json),
		cmocka_unit_test(test_content_type_refused),
		cmocka_unit_test(test_content_type_sniffing),
		cmocka_unit_test(test_parse_open_content_type),
		cmocka_unit_test(test_malformed_json_position),
		cmocka_unit_test(test_malformed_json_cases),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_body_not_object),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_member_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
