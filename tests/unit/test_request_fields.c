/*
 * test_request_fields: the fields of each request body: an open's remote
 * and local endpoint, a listener, a batch, a shutdown, an expiry and a
 * send, each refused with a 422 naming the field.
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
