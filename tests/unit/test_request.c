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

/* Parses body as application/json and expects a 422 that names field. */
static void
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

static void
expect_valid(const char *body, struct engine_open_params *params)
{
	struct problem err;

	assert_int_equal(request_parse_open(body, strlen(body), "application/json", params, &err), 0);
}

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

static void
test_remote_ip_required(void **state)
{
	struct engine_open_params params;
	const char *body = "{\"remote_port\":7000}";
	struct problem err;

	(void)state;
	assert_int_equal(request_parse_open(body, strlen(body), "application/json", &params, &err),
	    -EINVAL);
	assert_string_equal(err.field, "remote_ip");
	assert_string_equal(err.detail, "remote_ip is required");
}

static void
test_remote_ip_syntax(void **state)
{
	static const char *const bodies[] = {
		"{\"remote_ip\":167837697,\"remote_port\":7000}",
		"{\"remote_ip\":null,\"remote_port\":7000}",
		"{\"remote_ip\":[\"10.9.0.1\"],\"remote_port\":7000}",
		"{\"remote_ip\":\"\",\"remote_port\":7000}",
		"{\"remote_ip\":\"10.9.0\",\"remote_port\":7000}",
		"{\"remote_ip\":\"10.9.0.1.5\",\"remote_port\":7000}",
		"{\"remote_ip\":\"10.9.0.256\",\"remote_port\":7000}",
		"{\"remote_ip\":\"010.9.0.1\",\"remote_port\":7000}",
		"{\"remote_ip\":\"10.09.0.1\",\"remote_port\":7000}",
		"{\"remote_ip\":\"0x0a.9.0.1\",\"remote_port\":7000}",
		"{\"remote_ip\":\" 10.9.0.1\",\"remote_port\":7000}",
		"{\"remote_ip\":\"10.9.0.1 \",\"remote_port\":7000}",
		"{\"remote_ip\":\"10.9.0.-1\",\"remote_port\":7000}",
		"{\"remote_ip\":\"::1\",\"remote_port\":7000}",
		"{\"remote_ip\":\"localhost\",\"remote_port\":7000}",
		"{\"remote_ip\":\"10.9.0.1/24\",\"remote_port\":7000}",
		"{\"remote_ip\":\"0010.0009.0000.0001\",\"remote_port\":7000}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		expect_invalid(bodies[i], "remote_ip");
}

static void
test_remote_ip_ranges(void **state)
{
	static const char *const refused[] = {
		"0.0.0.0", "0.255.255.255", "127.0.0.1", "127.255.255.254",
		"224.0.0.1", "239.255.255.255", "240.0.0.1", "255.255.255.255",
	};
	static const char *const accepted[] = {
		"1.0.0.0", "126.255.255.255", "128.0.0.1", "223.255.255.255", "10.9.0.1",
	};
	struct engine_open_params params;
	char body[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(body, sizeof(body), "{\"remote_ip\":\"%s\",\"remote_port\":7000}", refused[i]);
		expect_invalid(body, "remote_ip");
	}
	for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		snprintf(body, sizeof(body), "{\"remote_ip\":\"%s\",\"remote_port\":7000}", accepted[i]);
		expect_valid(body, &params);
		assert_int_equal(params.remote.ip, inet_addr(accepted[i]));
	}
}

static void
test_remote_ip_range_details(void **state)
{
	struct engine_open_params params;
	const char *loopback = "{\"remote_ip\":\"127.0.0.1\",\"remote_port\":7000}";
	const char *multicast = "{\"remote_ip\":\"224.0.0.1\",\"remote_port\":7000}";
	struct problem err;

	(void)state;
	request_parse_open(loopback, strlen(loopback), "application/json", &params, &err);
	assert_non_null(strstr(err.detail, "loopback"));
	request_parse_open(multicast, strlen(multicast), "application/json", &params, &err);
	assert_non_null(strstr(err.detail, "multicast"));
}

static void
test_remote_port(void **state)
{
	static const char *const refused[] = {
		"0", "65536", "-1", "1.0", "7000.5", "1e3", "\"7000\"", "true", "false", "null",
		"[7000]", "{}", "9223372036854775807",
	};
	struct engine_open_params params;
	char body[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(body, sizeof(body), "{\"remote_ip\":\"10.9.0.1\",\"remote_port\":%s}",
		    refused[i]);
		expect_invalid(body, "remote_port");
	}
	expect_invalid("{\"remote_ip\":\"10.9.0.1\"}", "remote_port");
	expect_valid("{\"remote_ip\":\"10.9.0.1\",\"remote_port\":1}", &params);
	assert_int_equal(params.remote.port, 1);
	expect_valid("{\"remote_ip\":\"10.9.0.1\",\"remote_port\":65535}", &params);
	assert_int_equal(params.remote.port, 65535);
}

static void
test_local_port(void **state)
{
	static const char *const refused[] = {
		"0", "65536", "-1", "1.0", "\"7000\"", "true", "null",
	};
	struct engine_open_params params;
	char body[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(body, sizeof(body),
		    "{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"local_port\":%s}", refused[i]);
		expect_invalid(body, "local_port");
	}
	expect_valid("{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"local_port\":1}", &params);
	assert_int_equal(params.local_port, 1);
	expect_valid("{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"local_port\":65535}",
	    &params);
	assert_int_equal(params.local_port, 65535);
	assert_false(params.timeline_off);
	expect_valid("{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"timeline\":false}", &params);
	assert_true(params.timeline_off);
	expect_invalid("{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"timeline\":\"no\"}",
	    "timeline");
}

static void
test_parse_open_output(void **state)
{
	struct engine_open_params params;

	(void)state;
	memset(&params, 0xff, sizeof(params));
	expect_valid(" {\"remote_port\":7000,\"remote_ip\":\"10.9.0.1\"}\n", &params);
	assert_int_equal(params.remote.ip, htonl(0x0a090001));
	assert_int_equal(params.remote.port, 7000);
	assert_int_equal(params.local_port, 0);

	expect_valid("{\"remote_ip\":\"192.168.1.2\",\"remote_port\":443,\"local_port\":40000}",
	    &params);
	assert_int_equal(params.remote.ip, htonl(0xc0a80102));
	assert_int_equal(params.remote.port, 443);
	assert_int_equal(params.local_port, 40000);
}

static void
test_parse_open_leaves_output_on_error(void **state)
{
	struct engine_open_params params = { .local_port = 1234 };
	const char *body = "{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"local_port\":0}";
	struct problem err;

	(void)state;
	assert_int_equal(request_parse_open(body, strlen(body), "application/json", &params, &err),
	    -EINVAL);
	assert_int_equal(params.local_port, 1234);
}

/* Expects a 422 naming field from one of the new body parsers, given as its result. */
static void
expect_field(int rc, const struct problem *err, const char *field)
{
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(problem_status(err), 422);
	assert_true(err->has_field);
	assert_string_equal(err->field, field);
}

static int
parse_listen(const char *body, struct request_listen *out, struct problem *err)
{
	return request_parse_listen(body, strlen(body), "application/json", out, err);
}

static int
parse_batch(const char *body, struct engine_batch_params *out, struct problem *err)
{
	return request_parse_batch(body, strlen(body), "application/json", out, err);
}

static void
test_batch_fields(void **state)
{
	static const struct {
		const char *body;
		const char *field;
	} bad[] = {
		{ "{\"remote_port\":7000,\"count\":1}", "remote_ip" },
		{ "{\"remote_ip\":\"10.9.0.1\",\"count\":1}", "remote_port" },
		{ "{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000}", "count" },
		{ "{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"count\":1000001}", "count" },
		{ "{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"count\":1,\"in_flight\":0}",
		    "in_flight" },
		{ "{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"count\":1,\"close\":1}", "close" },
		{ "{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"count\":1,\"hold_ms\":600001}",
		    "hold_ms" },
		{ "{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"count\":1,\"timelines\":1}",
		    "timelines" },
	};
	struct engine_batch_params params;
	struct problem err;

	(void)state;
	assert_int_equal(parse_batch("{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,\"count\":5}",
	    &params, &err), 0);
	assert_int_equal(params.count, 5);
	assert_int_equal(params.in_flight, REQUEST_BATCH_IN_FLIGHT_DEFAULT);
	assert_int_equal(params.close, ENGINE_BATCH_CLOSE_NONE);
	assert_int_equal(params.hold_ms, 0);
	assert_false(params.timelines);
	assert_int_equal(parse_batch("{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000,"
	    "\"count\":1000000,\"in_flight\":4096,\"close\":\"graceful\",\"hold_ms\":600000,"
	    "\"timelines\":true}", &params, &err), 0);
	assert_int_equal(params.in_flight, 4096);
	assert_int_equal(params.close, ENGINE_BATCH_CLOSE_GRACEFUL);
	assert_int_equal(params.hold_ms, 600000);
	assert_true(params.timelines);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_batch(bad[i].body, &params, &err), -EINVAL);
		assert_string_equal(err.field, bad[i].field);
	}
}

static void
test_listen_valid(void **state)
{
	struct request_listen params = { .port = 1, .backlog = 1 };
	struct problem err;

	(void)state;
	assert_int_equal(parse_listen("{\"port\":9000}", &params, &err), 0);
	assert_int_equal(params.port, 9000);
	assert_int_equal(params.backlog, REQUEST_BACKLOG_DEFAULT);
	assert_int_equal(parse_listen("{\"backlog\":1,\"port\":1}", &params, &err), 0);
	assert_int_equal(params.port, 1);
	assert_int_equal(params.backlog, 1);
	assert_int_equal(parse_listen("{\"port\":65535,\"backlog\":1024}", &params, &err), 0);
	assert_int_equal(params.port, 65535);
	assert_int_equal(params.backlog, 1024);
}

static void
test_listen_invalid(void **state)
{
	static const struct {
		const char *body;
		const char *field;
	} cases[] = {
		{ "{}", "port" },
		{ "{\"backlog\":16}", "port" },
		{ "{\"port\":0}", "port" },
		{ "{\"port\":65536}", "port" },
		{ "{\"port\":-1}", "port" },
		{ "{\"port\":\"9000\"}", "port" },
		{ "{\"port\":9000.0}", "port" },
		{ "{\"port\":null}", "port" },
		{ "{\"port\":9000,\"backlog\":0}", "backlog" },
		{ "{\"port\":9000,\"backlog\":1025}", "backlog" },
		{ "{\"port\":9000,\"backlog\":-16}", "backlog" },
		{ "{\"port\":9000,\"backlog\":\"16\"}", "backlog" },
		{ "{\"port\":9000,\"backlog\":null}", "backlog" },
		{ "{\"port\":9000,\"backlog\":1e1}", "backlog" },
		/* Unknown members come first, then port before backlog. */
		{ "{\"port\":0,\"backlog\":0,\"reuse\":true}", "reuse" },
		{ "{\"backlog\":0,\"port\":0}", "port" },
		{ "{\"Port\":9000}", "Port" },
		{ "[9000]", "(body)" },
	};
	struct request_listen params = { .port = 7, .backlog = 7 };
	struct problem err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_field(parse_listen(cases[i].body, &params, &err), &err, cases[i].field);
	assert_int_equal(params.port, 7);
	assert_int_equal(params.backlog, 7);
	parse_listen("{\"port\":9000,\"backlog\":2000}", &params, &err);
	assert_string_equal(err.detail, "backlog must be from 1 to 1024, not 2000");
	parse_listen("{\"port\":true}", &params, &err);
	assert_string_equal(err.detail, "port must be an integer from 1 to 65535, not a boolean");
}

static void
test_listen_syntax_and_type(void **state)
{
	struct request_listen params;
	struct problem err;

	(void)state;
	assert_int_equal(request_parse_listen("{\"port\":", 8, "application/json", &params, &err),
	    -EBADMSG);
	assert_int_equal(request_parse_listen("{\"port\":1}", 10, "text/plain", &params, &err),
	    -ENOTSUP);
	assert_int_equal(request_parse_listen(NULL, 0, NULL, &params, &err), -ENOTSUP);
	assert_int_equal(request_parse_listen("{\"port\":1,\"port\":2}", 19, "application/json",
	    &params, &err), -EBADMSG);
	assert_int_equal(request_parse_listen("{\"port\":1}", REQUEST_BODY_MAX + 1, "application/json",
	    &params, &err), -EMSGSIZE);
}

static int
parse_shutdown(const char *body, enum engine_shutdown_how *how, struct problem *err)
{
	return request_parse_shutdown(body, strlen(body), "application/json", how, err);
}

static void
test_shutdown(void **state)
{
	enum engine_shutdown_how how = ENGINE_SHUT_BOTH;
	struct problem err;

	(void)state;
	assert_int_equal(parse_shutdown("{\"how\":\"write\"}", &how, &err), 0);
	assert_int_equal(how, ENGINE_SHUT_WRITE);
	assert_int_equal(parse_shutdown("{\"how\":\"read\"}", &how, &err), 0);
	assert_int_equal(how, ENGINE_SHUT_READ);
	assert_int_equal(parse_shutdown("{\"how\":\"both\"}", &how, &err), 0);
	assert_int_equal(how, ENGINE_SHUT_BOTH);

	expect_field(parse_shutdown("{}", &how, &err), &err, "how");
	assert_string_equal(err.detail, "how is required");
	expect_field(parse_shutdown("{\"how\":\"WRITE\"}", &how, &err), &err, "how");
	expect_field(parse_shutdown("{\"how\":\"wr\"}", &how, &err), &err, "how");
	expect_field(parse_shutdown("{\"how\":\"\"}", &how, &err), &err, "how");
	expect_field(parse_shutdown("{\"how\":\"write \"}", &how, &err), &err, "how");
	expect_field(parse_shutdown("{\"how\":1}", &how, &err), &err, "how");
	expect_field(parse_shutdown("{\"how\":[\"write\"]}", &how, &err), &err, "how");
	expect_field(parse_shutdown("{\"how\":null}", &how, &err), &err, "how");
	expect_field(parse_shutdown("{\"how\":\"write\",\"linger\":0}", &how, &err), &err, "linger");
	expect_field(parse_shutdown("\"write\"", &how, &err), &err, "(body)");
	assert_int_equal(how, ENGINE_SHUT_BOTH);
	assert_int_equal(request_parse_shutdown(NULL, 0, "application/json", &how, &err), -EBADMSG);
}

static void
test_expire(void **state)
{
	struct problem err;

	(void)state;
	/* No body at all, whatever the Content-Type says. */
	assert_int_equal(request_parse_expire(NULL, 0, NULL, &err), 0);
	assert_int_equal(request_parse_expire(NULL, 0, "application/json", &err), 0);
	assert_int_equal(request_parse_expire("{}", 2, "application/json", &err), 0);
	assert_int_equal(request_parse_expire(" { } ", 5, NULL, &err), 0);
	expect_field(request_parse_expire("{\"now\":true}", 12, "application/json", &err), &err,
	    "now");
	expect_field(request_parse_expire("[]", 2, "application/json", &err), &err, "(body)");
	assert_int_equal(request_parse_expire("{", 1, "application/json", &err), -EBADMSG);
	assert_int_equal(request_parse_expire("now", 3, NULL, &err), -ENOTSUP);
	assert_int_equal(request_parse_expire("{}", 2, "text/plain", &err), -ENOTSUP);
}

static int
parse_send(const char *body, size_t len, struct request_send *out, struct problem *err)
{
	return request_parse_send(body, len, "application/json", out, err);
}

static void
expect_send_field(const char *body, const char *field)
{
	struct request_send send = { .data = NULL, .len = 12345 };
	struct problem err;

	expect_field(parse_send(body, strlen(body), &send, &err), &err, field);
	assert_null(send.data);
	assert_true(send.len == 12345);
}

static void
test_send_text(void **state)
{
	static const char body[] = "{\"data\":\"h\\u00e9\\u0000\\n\"}";
	struct request_send send;
	struct problem err;

	(void)state;
	assert_int_equal(parse_send("{\"data\":\"hello\"}", 16, &send, &err), 0);
	assert_true(send.len == 5);
	assert_memory_equal(send.data, "hello", 5);
	request_send_free(&send);
	assert_null(send.data);
	assert_true(send.len == 0);
	/* UTF-8 bytes go out as they are, a NUL included. */
	assert_int_equal(parse_send(body, sizeof(body) - 1, &send, &err), 0);
	assert_true(send.len == 5);
	assert_memory_equal(send.data, "h\xc3\xa9\0\n", 5);
	request_send_free(&send);
	request_send_free(NULL);
}

static void
test_send_base64(void **state)
{
	struct request_send send;
	struct problem err;
	const char *body = "{\"data_base64\":\"AP8KaGk=\"}";

	(void)state;
	assert_int_equal(parse_send(body, strlen(body), &send, &err), 0);
	assert_true(send.len == 5);
	assert_memory_equal(send.data, "\x00\xff\nhi", 5);
	request_send_free(&send);
	expect_send_field("{\"data_base64\":\"AP8KaGk\"}", "data_base64");
	expect_send_field("{\"data_base64\":\"AP8K aGk=\"}", "data_base64");
	expect_send_field("{\"data_base64\":\"AP8K\\naGk=\"}", "data_base64");
	expect_send_field("{\"data_base64\":\"AP8Kah==\"}", "data_base64");
	expect_send_field("{\"data_base64\":\"-_8K\"}", "data_base64");
	expect_send_field("{\"data_base64\":\"\"}", "data_base64");
	expect_send_field("{\"data_base64\":5}", "data_base64");
	expect_send_field("{\"data_base64\":null}", "data_base64");
}

static void
test_send_size(void **state)
{
	struct request_send send;
	struct problem err;
	char body[64];

	(void)state;
	assert_int_equal(parse_send("{\"size\":1}", 10, &send, &err), 0);
	assert_null(send.data);
	assert_true(send.len == 1);
	snprintf(body, sizeof(body), "{\"size\":%u}", ENGINE_SEND_QUEUE_MAX);
	assert_int_equal(parse_send(body, strlen(body), &send, &err), 0);
	assert_null(send.data);
	assert_true(send.len == ENGINE_SEND_QUEUE_MAX);
	snprintf(body, sizeof(body), "{\"size\":%u}", ENGINE_SEND_QUEUE_MAX + 1);
	expect_send_field(body, "size");
	expect_send_field("{\"size\":0}", "size");
	expect_send_field("{\"size\":-1}", "size");
	expect_send_field("{\"size\":1.5}", "size");
	expect_send_field("{\"size\":\"10\"}", "size");
	expect_send_field("{\"size\":null}", "size");
}

static void
test_send_exactly_one(void **state)
{
	struct request_send send;
	struct problem err;

	(void)state;
	expect_send_field("{}", "data");
	assert_int_equal(parse_send("{}", 2, &send, &err), -EINVAL);
	assert_string_equal(err.detail, "one of data, data_base64 and size is required");
	/* The second one in the order data, data_base64, size is the one named. */
	expect_send_field("{\"data\":\"x\",\"size\":1}", "size");
	expect_send_field("{\"size\":1,\"data\":\"x\"}", "size");
	expect_send_field("{\"size\":1,\"data_base64\":\"eA==\"}", "size");
	expect_send_field("{\"data_base64\":\"eA==\",\"data\":\"x\"}", "data_base64");
	expect_send_field("{\"data\":\"x\",\"data_base64\":\"eA==\",\"size\":1}", "data_base64");
	/* Unknown members come before that, and a null is still a member given. */
	expect_send_field("{\"data\":\"x\",\"size\":1,\"text\":\"x\"}", "text");
	expect_send_field("{\"data\":null,\"size\":1}", "size");
	expect_send_field("{\"data\":\"\"}", "data");
	expect_send_field("{\"data\":42}", "data");
	expect_send_field("{\"data\":[\"x\"]}", "data");
	expect_send_field("[{\"data\":\"x\"}]", "(body)");
}

static void
test_send_syntax_and_type(void **state)
{
	struct request_send send = { .data = NULL };
	struct problem err;

	(void)state;
	assert_int_equal(request_parse_send("{\"data\":\"x\"}", 12, "text/plain", &send, &err),
	    -ENOTSUP);
	assert_int_equal(request_parse_send("{\"data\":\"x\"", 11, "application/json", &send, &err),
	    -EBADMSG);
	/* jansson refuses invalid UTF-8 in a string as a syntax error. */
	assert_int_equal(request_parse_send("{\"data\":\"\xff\"}", 12, "application/json", &send,
	    &err), -EBADMSG);
	assert_int_equal(err.line, 1);
	assert_non_null(strstr(err.detail, "unable to decode byte 0xff"));
	assert_int_equal(request_parse_send("{\"data\":\"x\",\"data\":\"y\"}", 23, "application/json",
	    &send, &err), -EBADMSG);
	assert_null(send.data);
}

static const struct request_param *
param(struct request_param *p, const char *name, const char *value)
{
	p->name = name;
	p->value = value;
	return p;
}

static void
test_state_wait(void **state)
{
	struct request_wait wait = { .requested = true };
	struct request_param w, t;
	struct problem err;

	(void)state;
	assert_int_equal(request_parse_state_wait(NULL, NULL, &wait, &err), 0);
	assert_false(wait.requested);

	assert_int_equal(request_parse_state_wait(param(&w, "wait_for", "TIME_WAIT"), NULL, &wait,
	    &err), 0);
	assert_true(wait.requested);
	assert_int_equal(wait.state, TCPINFO_TIME_WAIT);
	assert_int_equal(wait.timeout_ms, 5000);

	assert_int_equal(request_parse_state_wait(param(&w, "wait_for", "CLOSED"),
	    param(&t, "timeout_ms", "0"), &wait, &err), 0);
	assert_int_equal(wait.state, TCPINFO_CLOSED);
	assert_int_equal(wait.timeout_ms, 0);
	assert_int_equal(request_parse_state_wait(param(&w, "wait_for", "ESTABLISHED"),
	    param(&t, "timeout_ms", "60000"), &wait, &err), 0);
	assert_int_equal(wait.timeout_ms, 60000);
}

static void
test_state_wait_invalid(void **state)
{
	static const char *const bad_states[] = { "established", "", "ESTABLISHED ", "7", "LISTENX" };
	static const char *const bad_timeouts[] = {
		"60001", "-1", "+5", "1.5", "", " 5", "5ms", "0x10", "99999999999999999999",
	};
	struct request_wait wait = { .requested = false, .timeout_ms = 42 };
	struct request_param w, t;
	struct problem err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_states) / sizeof(bad_states[0]); i++)
		expect_field(request_parse_state_wait(param(&w, "wait_for", bad_states[i]), NULL,
		    &wait, &err), &err, "wait_for");
	expect_field(request_parse_state_wait(param(&w, "wait_for", NULL), NULL, &wait, &err), &err,
	    "wait_for");
	for (i = 0; i < sizeof(bad_timeouts) / sizeof(bad_timeouts[0]); i++)
		expect_field(request_parse_state_wait(param(&w, "wait_for", "CLOSED"),
		    param(&t, "timeout_ms", bad_timeouts[i]), &wait, &err), &err, "timeout_ms");
	expect_field(request_parse_state_wait(param(&w, "wait_for", "CLOSED"),
	    param(&t, "timeout_ms", NULL), &wait, &err), &err, "timeout_ms");
	/* timeout_ms alone, and wait_for checked before timeout_ms. */
	expect_field(request_parse_state_wait(NULL, param(&t, "timeout_ms", "100"), &wait, &err),
	    &err, "timeout_ms");
	assert_string_equal(err.detail, "timeout_ms is only allowed together with wait_for");
	expect_field(request_parse_state_wait(param(&w, "wait_for", "nope"),
	    param(&t, "timeout_ms", "nope"), &wait, &err), &err, "wait_for");
	assert_false(wait.requested);
	assert_int_equal(wait.timeout_ms, 42);
}

static void
test_accepted_wait(void **state)
{
	struct request_wait wait;
	struct request_param w, t;
	struct problem err;
	char text[32];

	(void)state;
	assert_int_equal(request_parse_accepted_wait(NULL, NULL, &wait, &err), 0);
	assert_false(wait.requested);
	assert_int_equal(request_parse_accepted_wait(param(&w, "wait_accepted", "3"), NULL, &wait,
	    &err), 0);
	assert_true(wait.requested);
	assert_true(wait.accepted == 3);
	assert_int_equal(wait.timeout_ms, 5000);
	assert_int_equal(request_parse_accepted_wait(param(&w, "wait_accepted", "0"),
	    param(&t, "timeout_ms", "250"), &wait, &err), 0);
	assert_true(wait.accepted == 0);
	assert_int_equal(wait.timeout_ms, 250);
	snprintf(text, sizeof(text), "%llu", (unsigned long long)REQUEST_WAIT_ACCEPTED_MAX);
	assert_int_equal(request_parse_accepted_wait(param(&w, "wait_accepted", text), NULL, &wait,
	    &err), 0);
	assert_true(wait.accepted == REQUEST_WAIT_ACCEPTED_MAX);

	snprintf(text, sizeof(text), "%llu", (unsigned long long)REQUEST_WAIT_ACCEPTED_MAX + 1);
	expect_field(request_parse_accepted_wait(param(&w, "wait_accepted", text), NULL, &wait,
	    &err), &err, "wait_accepted");
	expect_field(request_parse_accepted_wait(param(&w, "wait_accepted", "-1"), NULL, &wait,
	    &err), &err, "wait_accepted");
	expect_field(request_parse_accepted_wait(param(&w, "wait_accepted", "two"), NULL, &wait,
	    &err), &err, "wait_accepted");
	expect_field(request_parse_accepted_wait(param(&w, "wait_accepted", NULL), NULL, &wait,
	    &err), &err, "wait_accepted");
	expect_field(request_parse_accepted_wait(param(&w, "wait_accepted", "1"),
	    param(&t, "timeout_ms", "60001"), &wait, &err), &err, "timeout_ms");
	expect_field(request_parse_accepted_wait(NULL, param(&t, "timeout_ms", "1"), &wait, &err),
	    &err, "timeout_ms");
	assert_string_equal(err.detail, "timeout_ms is only allowed together with wait_accepted");
}

static void
test_page(void **state)
{
	struct engine_page page;
	struct request_param l, a;
	struct problem err;

	(void)state;
	assert_int_equal(request_parse_page(NULL, NULL, &page, &err), 0);
	assert_int_equal(page.limit, REQUEST_PAGE_DEFAULT);
	assert_true(page.after == 0);
	assert_int_equal(request_parse_page(param(&l, "limit", "10000"),
	    param(&a, "after", "9999999999999999999"), &page, &err), 0);
	assert_int_equal(page.limit, 10000);
	assert_true(page.after == UINT64_C(9999999999999999999));
	assert_int_equal(request_parse_page(param(&l, "limit", "1"), NULL, &page, &err), 0);
	assert_int_equal(page.limit, 1);
	expect_field(request_parse_page(param(&l, "limit", "0"), NULL, &page, &err), &err, "limit");
	assert_string_equal(err.detail, "limit must be a decimal integer from 1 to 10000, not '0'");
	expect_field(request_parse_page(param(&l, "limit", "10001"), NULL, &page, &err), &err,
	    "limit");
	expect_field(request_parse_page(param(&l, "limit", "ten"), NULL, &page, &err), &err, "limit");
	expect_field(request_parse_page(param(&l, "limit", NULL), NULL, &page, &err), &err, "limit");
	expect_field(request_parse_page(NULL, param(&a, "after", "-1"), &page, &err), &err, "after");
	expect_field(request_parse_page(NULL, param(&a, "after", "18446744073709551616"), &page,
	    &err), &err, "after");
	expect_field(request_parse_page(NULL, param(&a, "after", ""), &page, &err), &err, "after");
}

static const char *const close_params[] = { "mode", NULL };

static void
test_query_accepts_known(void **state)
{
	struct request_param params[] = { { "mode", "abort" } };
	struct problem err;

	(void)state;
	assert_int_equal(request_check_query(NULL, 0, close_params, &err), 0);
	assert_int_equal(request_check_query(params, 1, close_params, &err), 0);
}

static void
test_query_unknown(void **state)
{
	struct request_param typo[] = { { "mod", "abort" } };
	struct request_param later[] = { { "mode", "abort" }, { "x", NULL } };
	struct request_param none_allowed[] = { { "state", "ESTABLISHED" } };
	static const char *const nothing[] = { NULL };
	struct problem err;

	(void)state;
	assert_int_equal(request_check_query(typo, 1, close_params, &err), -EINVAL);
	assert_int_equal(problem_status(&err), 422);
	assert_string_equal(err.field, "mod");
	assert_string_equal(err.detail, "unknown query parameter 'mod'");

	assert_int_equal(request_check_query(later, 2, close_params, &err), -EINVAL);
	assert_string_equal(err.field, "x");

	assert_int_equal(request_check_query(none_allowed, 1, nothing, &err), -EINVAL);
	assert_string_equal(err.field, "state");
}

static void
test_query_repeated(void **state)
{
	struct request_param twice[] = { { "mode", "abort" }, { "mode", "abort" } };
	struct problem err;

	(void)state;
	assert_int_equal(request_check_query(twice, 2, close_params, &err), -EINVAL);
	assert_int_equal(problem_status(&err), 422);
	assert_string_equal(err.field, "mode");
	assert_non_null(strstr(err.detail, "more than once"));
}

static void
test_state_filter(void **state)
{
	enum tcpinfo_state parsed = TCPINFO_CLOSED;
	struct problem err;

	(void)state;
	assert_int_equal(request_parse_state_filter("ESTABLISHED", &parsed, &err), 0);
	assert_int_equal(parsed, TCPINFO_ESTABLISHED);
	assert_int_equal(request_parse_state_filter("TIME_WAIT", &parsed, &err), 0);
	assert_int_equal(parsed, TCPINFO_TIME_WAIT);
	assert_int_equal(request_parse_state_filter("established", &parsed, &err), -EINVAL);
	assert_int_equal(problem_status(&err), 422);
	assert_string_equal(err.field, "state");
	assert_int_equal(request_parse_state_filter("", &parsed, &err), -EINVAL);
	assert_int_equal(request_parse_state_filter(NULL, &parsed, &err), -EINVAL);
	assert_string_equal(err.field, "state");
}

static void
test_close_mode(void **state)
{
	enum engine_close_mode mode = ENGINE_CLOSE_ABORT;
	struct problem err;

	(void)state;
	assert_int_equal(request_parse_close_mode("graceful", &mode, &err), 0);
	assert_int_equal(mode, ENGINE_CLOSE_GRACEFUL);
	assert_int_equal(request_parse_close_mode("abort", &mode, &err), 0);
	assert_int_equal(mode, ENGINE_CLOSE_ABORT);
	assert_int_equal(request_parse_close_mode("ABORT", &mode, &err), -EINVAL);
	assert_int_equal(problem_status(&err), 422);
	assert_string_equal(err.field, "mode");
	assert_int_equal(request_parse_close_mode("", &mode, &err), -EINVAL);
	assert_int_equal(request_parse_close_mode(NULL, &mode, &err), -EINVAL);
	assert_string_equal(err.field, "mode");
}

static void
test_timeline_format(void **state)
{
	enum request_timeline_format format = REQUEST_TIMELINE_TEXT;
	struct problem err;

	(void)state;
	assert_int_equal(request_parse_timeline_format("json", &format, &err), 0);
	assert_int_equal(format, REQUEST_TIMELINE_JSON);
	assert_int_equal(request_parse_timeline_format("text", &format, &err), 0);
	assert_int_equal(format, REQUEST_TIMELINE_TEXT);
	assert_int_equal(request_parse_timeline_format("svg", &format, &err), 0);
	assert_int_equal(format, REQUEST_TIMELINE_SVG);
	assert_int_equal(request_parse_timeline_format("mermaid", &format, &err), 0);
	assert_int_equal(format, REQUEST_TIMELINE_MERMAID);
	assert_int_equal(request_parse_timeline_format("TEXT", &format, &err), -EINVAL);
	assert_int_equal(problem_status(&err), 422);
	assert_string_equal(err.field, "format");
	assert_int_equal(request_parse_timeline_format("", &format, &err), -EINVAL);
	assert_int_equal(request_parse_timeline_format("texts", &format, &err), -EINVAL);
	assert_int_equal(request_parse_timeline_format("png", &format, &err), -EINVAL);
	assert_int_equal(request_parse_timeline_format(NULL, &format, &err), -EINVAL);
	assert_string_equal(err.field, "format");
}

static void
test_peek(void **state)
{
	struct problem err;
	bool peek = false;

	(void)state;
	assert_int_equal(request_parse_peek("true", &peek, &err), 0);
	assert_true(peek);
	assert_int_equal(request_parse_peek("false", &peek, &err), 0);
	assert_false(peek);
	assert_int_equal(request_parse_peek("1", &peek, &err), -EINVAL);
	assert_int_equal(problem_status(&err), 422);
	assert_string_equal(err.field, "peek");
	assert_int_equal(request_parse_peek(NULL, &peek, &err), -EINVAL);
}

static void
test_connection_filter(void **state)
{
	struct problem err;
	uint64_t id = 0;

	(void)state;
	assert_int_equal(request_parse_connection_filter("42", &id, &err), 0);
	assert_int_equal(id, 42);
	assert_int_equal(request_parse_connection_filter("9999999999999999999", &id, &err), 0);
	assert_true(id == UINT64_C(9999999999999999999));
	assert_int_equal(request_parse_connection_filter("-1", &id, &err), -EINVAL);
	assert_int_equal(problem_status(&err), 422);
	assert_string_equal(err.field, "connection");
	assert_int_equal(request_parse_connection_filter("1x", &id, &err), -EINVAL);
	assert_int_equal(request_parse_connection_filter("", &id, &err), -EINVAL);
	assert_int_equal(request_parse_connection_filter("18446744073709551616", &id, &err),
	    -EINVAL);
	assert_int_equal(request_parse_connection_filter(NULL, &id, &err), -EINVAL);
	assert_string_equal(err.field, "connection");
}

static void
test_last_event_id(void **state)
{
	struct problem err;
	uint64_t seen = 99;

	(void)state;
	assert_int_equal(request_parse_last_event_id(NULL, &seen, &err), 0);
	assert_int_equal(seen, 0);
	seen = 99;
	assert_int_equal(request_parse_last_event_id("", &seen, &err), 0);
	assert_int_equal(seen, 0);
	assert_int_equal(request_parse_last_event_id("17", &seen, &err), 0);
	assert_int_equal(seen, 17);
	assert_int_equal(request_parse_last_event_id(" 17", &seen, &err), -EINVAL);
	assert_int_equal(problem_status(&err), 422);
	assert_string_equal(err.field, "Last-Event-ID");
	assert_int_equal(request_parse_last_event_id("abc", &seen, &err), -EINVAL);
	assert_int_equal(seen, 17);
}

static void
test_id(void **state)
{
	static const char *const refused[] = {
		"", "+1", "-1", " 1", "1 ", "1a", "0x1", "1.0", "1/", "10000000000000000000",
		"99999999999999999999", "00000000000000000001", "007", "01", "00",
	};
	uint64_t id = 0;
	size_t i;

	(void)state;
	assert_int_equal(request_parse_id("1", 1, &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(request_parse_id("0", 1, &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(request_parse_id("9999999999999999999", 19, &id), 0);
	assert_true(id == UINT64_C(9999999999999999999));
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_int_equal(request_parse_id(refused[i], strlen(refused[i]), &id), -EINVAL);
	/* Only len bytes count: the id segment of "12/shutdown". */
	assert_int_equal(request_parse_id("12/shutdown", 2, &id), 0);
	assert_int_equal(id, 12);
	assert_int_equal(request_parse_id("12/shutdown", 3, &id), -EINVAL);
	assert_int_equal(request_parse_id("12", 0, &id), -EINVAL);
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
		cmocka_unit_test(test_remote_ip_required),
		cmocka_unit_test(test_remote_ip_syntax),
		cmocka_unit_test(test_remote_ip_ranges),
		cmocka_unit_test(test_remote_ip_range_details),
		cmocka_unit_test(test_remote_port),
		cmocka_unit_test(test_local_port),
		cmocka_unit_test(test_parse_open_output),
		cmocka_unit_test(test_parse_open_leaves_output_on_error),
		cmocka_unit_test(test_listen_valid),
		cmocka_unit_test(test_batch_fields),
		cmocka_unit_test(test_listen_invalid),
		cmocka_unit_test(test_listen_syntax_and_type),
		cmocka_unit_test(test_shutdown),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_send_text),
		cmocka_unit_test(test_send_base64),
		cmocka_unit_test(test_send_size),
		cmocka_unit_test(test_send_exactly_one),
		cmocka_unit_test(test_send_syntax_and_type),
		cmocka_unit_test(test_state_wait),
		cmocka_unit_test(test_state_wait_invalid),
		cmocka_unit_test(test_accepted_wait),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_query_accepts_known),
		cmocka_unit_test(test_query_unknown),
		cmocka_unit_test(test_query_repeated),
		cmocka_unit_test(test_state_filter),
		cmocka_unit_test(test_close_mode),
		cmocka_unit_test(test_timeline_format),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_connection_filter),
		cmocka_unit_test(test_last_event_id),
		cmocka_unit_test(test_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
