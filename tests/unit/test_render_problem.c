/*
 * test_render_problem: application/problem+json: each problem's type,
 * status and extensions, the limits naming their flags, and the detail
 * kept valid UTF-8 and bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "problem.h"
#include "render.h"
#include "render_fixture.h"

static void
test_conn_problem(void **state)
{
	struct engine_conn_view conn;
	struct problem err;

	(void)state;
	fill_connection(&conn);
	problem_set(&err, PROBLEM_TIMEOUT, NULL,
	    "connection 42 did not reach TIME_WAIT within 10 ms; it is in ESTABLISHED");
	assert_json(render_conn_problem(&err, &conn),
	    "{\"type\":\"urn:lwipd:problem:timeout\",\"title\":\"Request Timeout\",\"status\":408,"
	    "\"detail\":\"connection 42 did not reach TIME_WAIT within 10 ms; it is in ESTABLISHED\","
	    "\"state\":\"ESTABLISHED\",\"connection\":" CONNECTION_42_JSON "}");
	conn.state = TCPINFO_STATE_COUNT;
	assert_null(render_conn_problem(&err, &conn));
}

static void
test_listener_problem(void **state)
{
	struct engine_listener_view listener = {
		.id = 3, .port = 9000, .backlog = 16, .state = TCPINFO_LISTEN, .accepted = 1,
	};
	struct problem err;

	(void)state;
	problem_set(&err, PROBLEM_TIMEOUT, NULL, "listener 3 accepted 1 of 2 connections within 5 ms");
	assert_json(render_listener_problem(&err, &listener),
	    "{\"type\":\"urn:lwipd:problem:timeout\",\"title\":\"Request Timeout\",\"status\":408,"
	    "\"detail\":\"listener 3 accepted 1 of 2 connections within 5 ms\","
	    "\"accepted\":1,\"listener\":{\"id\":3,\"port\":9000,\"backlog\":16,"
	    "\"state\":\"LISTEN\",\"accepted\":1}}");
}

static void
test_render_text(void **state)
{
	json_t *obj = json_pack("{s:s, s:i, s:[]}", "z", "last?", "a", 1, "m");
	char *text;

	(void)state;
	assert_non_null(obj);
	text = render_text(obj);
	assert_non_null(text);
	assert_string_equal(text, "{\"z\":\"last?\",\"a\":1,\"m\":[]}\n");
	free(text);
	json_decref(obj);
}

static void
test_problem_invalid_field(void **state)
{
	struct problem err;
	char *text;

	(void)state;
	problem_set(&err, PROBLEM_INVALID_FIELD, "remote_port",
	    "remote_port must be from 1 to 65535, not %d", 0);
	assert_int_equal(problem_status(&err), 422);
	text = problem_render(&err);
	assert_non_null(text);
	assert_string_equal(text,
	    "{\"type\":\"urn:lwipd:problem:invalid-field\",\"title\":\"Unprocessable Content\","
	    "\"status\":422,\"detail\":\"remote_port must be from 1 to 65535, not 0\","
	    "\"field\":\"remote_port\"}\n");
	free(text);
}

static void
test_problem_position(void **state)
{
	struct problem err;

	(void)state;
	problem_set(&err, PROBLEM_MALFORMED_JSON, NULL, "invalid JSON at line %d, column %d: %s",
	    3, 5, "end of file expected near 'x'");
	problem_set_position(&err, 3, 5);
	assert_json(problem_to_json(&err),
	    "{\"type\":\"urn:lwipd:problem:malformed-json\",\"title\":\"Bad Request\","
	    "\"status\":400,"
	    "\"detail\":\"invalid JSON at line 3, column 5: end of file expected near 'x'\","
	    "\"line\":3,\"column\":5}");
}

static void
test_problem_without_extensions(void **state)
{
	struct problem err;

	(void)state;
	problem_set(&err, PROBLEM_NOT_FOUND, NULL, "no resource at path '%s'", "/v1/\"x\"");
	assert_json(problem_to_json(&err),
	    "{\"type\":\"urn:lwipd:problem:not-found\",\"title\":\"Not Found\",\"status\":404,"
	    "\"detail\":\"no resource at path '/v1/\\\"x\\\"'\"}");
	/* An empty field name is still a field. */
	problem_set(&err, PROBLEM_INVALID_FIELD, "", "unknown query parameter ''");
	assert_json(problem_to_json(&err),
	    "{\"type\":\"urn:lwipd:problem:invalid-field\",\"title\":\"Unprocessable Content\","
	    "\"status\":422,\"detail\":\"unknown query parameter ''\",\"field\":\"\"}");
}

/* Every limit's problem names the limit, its value and the flag that raises it. */
static void
test_limit_problems_name_their_flag(void **state)
{
	static const struct engine_limits limits = {
		.connections = 16384, .listeners = 3, .event_streams = 64, .capture_readers = 8,
		.send_queue = 65536, .fault_rules = 2,
	};
	static const struct {
		enum engine_result result;
		enum errors_op op;
		unsigned int status;
		const char *limit;
		uint64_t value;
		const char *detail;
	} cases[] = {
		{ ENGINE_LIMIT_REACHED, ERRORS_OP_OPEN, 503, "max-connections", 16384,
		    "connection limit reached: 16384 live connections; raise it with --max-connections" },
		{ ENGINE_LIMIT_REACHED, ERRORS_OP_LISTEN, 503, "max-listeners", 3,
		    "listener limit reached: 3 listeners; raise it with --max-listeners" },
		{ ENGINE_LIMIT_REACHED, ERRORS_OP_SUBSCRIBE, 503, "max-event-streams", 64,
		    "too many event stream clients: 64 event streams; raise it with --max-event-streams" },
		{ ENGINE_LIMIT_REACHED, ERRORS_OP_CAPTURE, 503, "max-capture-readers", 8,
		    "capture reader limit reached: 8 capture readers; raise it with --max-capture-readers" },
		{ ENGINE_QUEUE_FULL, ERRORS_OP_OTHER, 409, "max-send-queue", 65536,
		    "the send queue is full: 65536 bytes may wait; retry later, or raise it with "
		    "--max-send-queue" },
		{ ENGINE_RULES_FULL, ERRORS_OP_FAULT, 503, "max-fault-rules", 2,
		    "fault rule limit reached: 2 fault rules; remove a rule, or raise it with "
		    "--max-fault-rules" },
	};
	struct problem err;
	json_t *obj;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct errors_subject subject = { .op = cases[i].op, .limits = &limits };

		assert_int_equal(errors_engine(cases[i].result, &subject, &err), -ENOBUFS);
		assert_int_equal(problem_status(&err), cases[i].status);
		obj = problem_to_json(&err);
		assert_non_null(obj);
		assert_string_equal(json_string_value(json_object_get(obj, "detail")), cases[i].detail);
		assert_string_equal(json_string_value(json_object_get(obj, "limit")), cases[i].limit);
		assert_int_equal(json_integer_value(json_object_get(obj, "value")), cases[i].value);
		json_decref(obj);
	}
}

static void
test_problem_types(void **state)
{
	static const struct {
		enum problem_type type;
		unsigned int status;
		const char *urn;
		const char *title;
	} cases[] = {
		{ PROBLEM_MALFORMED_JSON, 400, "urn:lwipd:problem:malformed-json", "Bad Request" },
		{ PROBLEM_NOT_FOUND, 404, "urn:lwipd:problem:not-found", "Not Found" },
		{ PROBLEM_METHOD_NOT_ALLOWED, 405, "urn:lwipd:problem:method-not-allowed",
		    "Method Not Allowed" },
		{ PROBLEM_TIMEOUT, 408, "urn:lwipd:problem:timeout", "Request Timeout" },
		{ PROBLEM_CONFLICT, 409, "urn:lwipd:problem:conflict", "Conflict" },
		{ PROBLEM_PAYLOAD_TOO_LARGE, 413, "urn:lwipd:problem:payload-too-large",
		    "Content Too Large" },
		{ PROBLEM_UNSUPPORTED_MEDIA_TYPE, 415, "urn:lwipd:problem:unsupported-media-type",
		    "Unsupported Media Type" },
		{ PROBLEM_INVALID_FIELD, 422, "urn:lwipd:problem:invalid-field",
		    "Unprocessable Content" },
		{ PROBLEM_INTERNAL, 500, "urn:lwipd:problem:internal", "Internal Server Error" },
		{ PROBLEM_UNAVAILABLE, 503, "urn:lwipd:problem:unavailable", "Service Unavailable" },
		{ PROBLEM_BAD_REQUEST, 400, "urn:lwipd:problem:bad-request", "Bad Request" },
		{ PROBLEM_UNAUTHORIZED, 401, "urn:lwipd:problem:unauthorized", "Unauthorized" },
		{ PROBLEM_URI_TOO_LONG, 414, "urn:lwipd:problem:uri-too-long", "URI Too Long" },
		{ PROBLEM_EXPECTATION_FAILED, 417, "urn:lwipd:problem:expectation-failed",
		    "Expectation Failed" },
		{ PROBLEM_HEADERS_TOO_LARGE, 431, "urn:lwipd:problem:headers-too-large",
		    "Request Header Fields Too Large" },
		{ PROBLEM_NOT_IMPLEMENTED, 501, "urn:lwipd:problem:not-implemented", "Not Implemented" },
		{ PROBLEM_VERSION_NOT_SUPPORTED, 505, "urn:lwipd:problem:version-not-supported",
		    "HTTP Version Not Supported" },
		{ PROBLEM_FORBIDDEN, 403, "urn:lwipd:problem:forbidden", "Forbidden" },
	};
	struct problem err;
	json_t *obj;
	size_t i;

	(void)state;
	assert_int_equal(sizeof(cases) / sizeof(cases[0]), PROBLEM_TYPE_COUNT);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		problem_set(&err, cases[i].type, NULL, "detail");
		assert_int_equal(problem_status(&err), cases[i].status);
		obj = problem_to_json(&err);
		assert_non_null(obj);
		assert_string_equal(json_string_value(json_object_get(obj, "type")), cases[i].urn);
		assert_string_equal(json_string_value(json_object_get(obj, "title")), cases[i].title);
		assert_string_equal(problem_title(&err), cases[i].title);
		assert_int_equal(json_integer_value(json_object_get(obj, "status")), cases[i].status);
		json_decref(obj);
	}
}

static void
test_problem_sanitizes_utf8(void **state)
{
	char long_field[200];
	struct problem err;
	json_t *obj;

	(void)state;
	/* A lone continuation byte, an overlong '/', a surrogate, then valid "é" and "€". */
	problem_set(&err, PROBLEM_NOT_FOUND, NULL, "path '%s'",
	    "/a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xc3\xa9\xe2\x82\xac");
	assert_string_equal(err.detail, "path '/a?b??c???d\xc3\xa9\xe2\x82\xac'");
	assert_json(problem_to_json(&err),
	    "{\"type\":\"urn:lwipd:problem:not-found\",\"title\":\"Not Found\",\"status\":404,"
	    "\"detail\":\"path '/a?b??c???d\xc3\xa9\xe2\x82\xac'\"}");

	/* Truncation that cuts a multi-byte character leaves no broken tail. */
	memset(long_field, 'f', sizeof(long_field));
	memcpy(long_field + PROBLEM_FIELD_MAX - 2, "\xc3\xa9", 2);
	long_field[sizeof(long_field) - 1] = '\0';
	problem_set(&err, PROBLEM_INVALID_FIELD, long_field, "unknown field");
	assert_int_equal(strlen(err.field), PROBLEM_FIELD_MAX - 1);
	assert_int_equal(err.field[PROBLEM_FIELD_MAX - 2], '?');
	obj = problem_to_json(&err);
	assert_non_null(obj);
	json_decref(obj);
}

static void
test_problem_detail_truncated(void **state)
{
	char long_text[600];
	struct problem err;

	(void)state;
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	problem_set(&err, PROBLEM_NOT_FOUND, NULL, "%s", long_text);
	assert_int_equal(strlen(err.detail), PROBLEM_DETAIL_MAX - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_problem),
		cmocka_unit_test(test_listener_problem),
		cmocka_unit_test(test_render_text),
		cmocka_unit_test(test_problem_invalid_field),
		cmocka_unit_test(test_problem_position),
		cmocka_unit_test(test_problem_without_extensions),
		cmocka_unit_test(test_limit_problems_name_their_flag),
		cmocka_unit_test(test_problem_types),
		cmocka_unit_test(test_problem_sanitizes_utf8),
		cmocka_unit_test(test_problem_detail_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
