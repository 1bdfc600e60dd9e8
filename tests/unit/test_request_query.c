/*
 * test_request_query: the query parameters: waits, pages, known and
 * repeated names, state and connection filters, close modes, timeline
 * formats, Last-Event-ID and ids in the path.
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
