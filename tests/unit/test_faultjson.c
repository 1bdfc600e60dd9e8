#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "faultjson.h"

static int
parse(const char *body, struct fault_spec *spec, struct problem *err)
{
	return faultjson_parse(body, strlen(body), "application/json", spec, err);
}

static void
a_full_rule_parses(void **unused)
{
	struct fault_spec spec;
	struct problem err;

	(void)unused;
	assert_int_equal(parse("{\"dir\":\"out\",\"match\":{\"connection\":3,\"flags\":\"FIN\","
	    "\"exact_flags\":\"ACK,FIN\",\"state\":\"TIME_WAIT\",\"step\":\"teardown-4\",\"data\":false,"
	    "\"local_port\":50000,\"remote_port\":7000},\"action\":\"delay\",\"delay_ms\":300,"
	    "\"skip\":1,\"count\":0,\"probability\":0.25,\"seed\":7}", &spec, &err), 0);
	assert_int_equal(spec.dir, FAULT_DIR_OUT);
	assert_true(spec.match.has_connection && spec.match.connection == 3);
	assert_true(spec.match.has_flags && spec.match.flags == TCPINFO_FLAG_FIN);
	assert_int_equal(spec.match.exact_flags, TCPINFO_FLAG_FIN | TCPINFO_FLAG_ACK);
	assert_int_equal(spec.match.state, TCPINFO_TIME_WAIT);
	assert_int_equal(spec.match.step, TCPINFO_STEP_TEARDOWN_4);
	assert_true(spec.match.has_data && !spec.match.data);
	assert_int_equal(spec.match.local_port, 50000);
	assert_int_equal(spec.match.remote_port, 7000);
	assert_int_equal(spec.action, FAULT_DELAY);
	assert_int_equal(spec.delay_ms, 300);
	assert_int_equal(spec.skip, 1);
	assert_int_equal(spec.count, 0);
	assert_true(spec.probability == 0.25);
	assert_true(spec.has_seed && spec.seed == 7);
}

static void
defaults(void **unused)
{
	struct fault_spec spec;
	struct problem err;

	(void)unused;
	assert_int_equal(parse("{\"dir\":\"in\",\"action\":\"reorder\"}", &spec, &err), 0);
	assert_int_equal(spec.dir, FAULT_DIR_IN);
	assert_false(spec.match.has_connection || spec.match.has_flags || spec.match.has_step);
	assert_int_equal(spec.hold_ms, FAULTS_HOLD_DEFAULT_MS);
	assert_int_equal(spec.skip, 0);
	assert_int_equal(spec.count, 1);
	assert_true(spec.probability == 1.0);
	assert_false(spec.has_seed);
	assert_int_equal(parse("{\"dir\":\"in\",\"action\":\"drop\",\"probability\":1}", &spec, &err), 0);
	assert_int_equal(spec.hold_ms, 0);
}

static void
each_bad_member_is_named(void **unused)
{
	static const struct {
		const char *body;
		const char *field;
	} cases[] = {
		{ "{\"action\":\"drop\"}", "dir" },
		{ "{\"dir\":\"sideways\",\"action\":\"drop\"}", "dir" },
		{ "{\"dir\":1,\"action\":\"drop\"}", "dir" },
		{ "{\"dir\":\"in\"}", "action" },
		{ "{\"dir\":\"in\",\"action\":\"lose\"}", "action" },
		{ "{\"dir\":\"in\",\"action\":\"delay\"}", "delay_ms" },
		{ "{\"dir\":\"in\",\"action\":\"delay\",\"delay_ms\":0}", "delay_ms" },
		{ "{\"dir\":\"in\",\"action\":\"delay\",\"delay_ms\":60001}", "delay_ms" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"delay_ms\":5}", "delay_ms" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"hold_ms\":5}", "hold_ms" },
		{ "{\"dir\":\"in\",\"action\":\"reorder\",\"hold_ms\":0}", "hold_ms" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"skip\":-1}", "skip" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"count\":1.5}", "count" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"probability\":1.01}", "probability" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"probability\":-0.1}", "probability" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"probability\":\"half\"}", "probability" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"seed\":9007199254740993}", "seed" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"colour\":1}", "colour" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"match\":[]}", "match" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"match\":{\"conn\":1}}", "match.conn" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"match\":{\"connection\":0}}", "match.connection" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"match\":{\"flags\":\"SYN,SYN\"}}", "match.flags" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"match\":{\"flags\":\"\"}}", "match.flags" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"match\":{\"exact_flags\":\"syn\"}}", "match.exact_flags" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"match\":{\"state\":\"OPEN\"}}", "match.state" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"match\":{\"step\":\"teardown-5\"}}", "match.step" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"match\":{\"data\":1}}", "match.data" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"match\":{\"local_port\":0}}", "match.local_port" },
		{ "{\"dir\":\"in\",\"action\":\"drop\",\"match\":{\"remote_port\":65536}}", "match.remote_port" },
	};
	struct fault_spec spec;
	struct problem err;

	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(parse(cases[i].body, &spec, &err), -EINVAL);
		assert_int_equal(err.type, PROBLEM_INVALID_FIELD);
		assert_true(err.has_field);
		assert_string_equal(err.field, cases[i].field);
		/* The detail names the member, with its path where it begins with it. */
		const char *leaf = strchr(cases[i].field, '.');
		leaf = leaf != NULL ? leaf + 1 : cases[i].field;
		if (strstr(err.detail, leaf) == NULL ||
		    (strncmp(err.detail, leaf, strlen(leaf)) == 0 && leaf != cases[i].field))
			fail_msg("%s: %s", cases[i].field, err.detail);
	}
	assert_int_equal(parse("{\"dir\":", &spec, &err), -EBADMSG);
	assert_int_equal(parse("[]", &spec, &err), -EINVAL);
}

static void
renders_what_was_asked_and_done(void **unused)
{
	struct fault_rule_view view = {
		.id = 4, .matched = 5, .applied = 2,
		.spec = { .dir = FAULT_DIR_IN, .action = FAULT_DELAY, .delay_ms = 300, .count = 3,
		    .probability = 0.5, .has_seed = true, .seed = 11,
		    .match = { .has_flags = true, .flags = TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK,
		    .has_step = true, .step = TCPINFO_STEP_HANDSHAKE_2 } },
	};
	json_t *obj = faultjson_render(&view);
	char *text = json_dumps(obj, JSON_SORT_KEYS | JSON_COMPACT);

	(void)unused;
	assert_string_equal(text, "{\"action\":\"delay\",\"applied\":2,\"count\":3,\"delay_ms\":300,"
	    "\"dir\":\"in\",\"id\":4,\"match\":{\"flags\":\"SYN,ACK\",\"step\":\"handshake-2\"},"
	    "\"matched\":5,\"probability\":0.5,\"remaining\":1,\"seed\":11,\"skip\":0,"
	    "\"state\":\"active\"}");
	free(text);
	json_decref(obj);

	view.spec.count = 0;
	view.spec.action = FAULT_REORDER;
	view.spec.hold_ms = 1000;
	view.spent = false;
	obj = faultjson_render(&view);
	assert_true(json_is_null(json_object_get(obj, "remaining")));
	assert_int_equal(json_integer_value(json_object_get(obj, "hold_ms")), 1000);
	assert_null(json_object_get(obj, "delay_ms"));
	json_decref(obj);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_full_rule_parses),
		cmocka_unit_test(defaults),
		cmocka_unit_test(each_bad_member_is_named),
		cmocka_unit_test(renders_what_was_asked_and_done),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
