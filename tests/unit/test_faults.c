#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "faults.h"

static struct fault_spec
drop_rule(enum fault_dir dir)
{
	return (struct fault_spec){ .dir = dir, .action = FAULT_DROP, .count = 1, .probability = 1.0 };
}

static struct fault_segment
segment(enum fault_dir dir, uint8_t flags)
{
	return (struct fault_segment){
		.dir = dir, .connection = 7, .flags = flags, .has_state = true,
		.state = TCPINFO_ESTABLISHED, .step = TCPINFO_STEP_ACK, .local_port = 50000,
		.remote_port = 7000,
	};
}

static void
rules_get_ids_in_order_and_a_cap(void **unused)
{
	struct faults *faults = faults_new(3, 1);
	struct fault_spec spec = drop_rule(FAULT_DIR_IN);
	struct fault_rule_view view, list[4];

	(void)unused;
	for (uint64_t id = 1; id <= 3; id++) {
		assert_int_equal(faults_add(faults, &spec, &view), 0);
		assert_int_equal(view.id, id);
		assert_true(view.spec.has_seed);
	}
	assert_int_equal(faults_add(faults, &spec, &view), -ENOSPC);
	assert_int_equal(faults_remove(faults, 2), 0);
	assert_int_equal(faults_remove(faults, 2), -ENOENT);
	assert_int_equal(faults_get(faults, 2, &view), -ENOENT);
	assert_int_equal(faults_get(faults, 3, &view), 0);
	assert_int_equal(faults_add(faults, &spec, &view), 0);
	assert_int_equal(view.id, 4);	/* ids are never reused */
	assert_int_equal(faults_list(faults, 0, list, 4), 3);
	assert_int_equal(list[0].id, 1);
	assert_int_equal(list[1].id, 3);
	assert_int_equal(list[2].id, 4);
	assert_int_equal(faults_list(faults, 1, list, 1), 1);
	assert_int_equal(list[0].id, 3);
	assert_int_equal(faults_clear(faults), 3);
	assert_int_equal(faults_count(faults), 0);
	faults_free(faults);
	faults_free(NULL);
}

static void
each_criterion_must_hold(void **unused)
{
	struct faults *faults = faults_new(1, 1);
	struct fault_spec spec = drop_rule(FAULT_DIR_OUT);
	struct fault_rule_view view;
	struct fault_segment seg;

	(void)unused;
	spec.count = 0;
	spec.match = (struct fault_match){
		.has_connection = true, .connection = 7,
		.has_flags = true, .flags = TCPINFO_FLAG_FIN,
		.has_exact_flags = true, .exact_flags = TCPINFO_FLAG_FIN | TCPINFO_FLAG_ACK,
		.has_state = true, .state = TCPINFO_ESTABLISHED,
		.has_step = true, .step = TCPINFO_STEP_ACK,
		.has_data = true, .data = false,
		.has_local_port = true, .local_port = 50000,
		.has_remote_port = true, .remote_port = 7000,
	};
	assert_int_equal(faults_add(faults, &spec, &view), 0);
	seg = segment(FAULT_DIR_OUT, TCPINFO_FLAG_FIN | TCPINFO_FLAG_ACK);
	assert_int_equal(faults_decide(faults, &seg, NULL, NULL).action, FAULT_DROP);

	struct fault_segment wrong[] = { seg, seg, seg, seg, seg, seg, seg, seg, seg, seg };
	wrong[0].dir = FAULT_DIR_IN;
	wrong[1].connection = 8;
	wrong[2].flags = TCPINFO_FLAG_ACK;
	wrong[3].flags |= TCPINFO_FLAG_PSH;
	wrong[4].state = TCPINFO_CLOSE_WAIT;
	wrong[5].has_state = false;
	wrong[6].step = TCPINFO_STEP_TEARDOWN_1;
	wrong[7].payload_len = 1;
	wrong[8].local_port = 50001;
	wrong[9].remote_port = 7001;
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++)
		assert_int_equal(faults_decide(faults, &wrong[i], NULL, NULL).action, FAULT_NONE);
	assert_int_equal(faults_get(faults, view.id, &view), 0);
	assert_int_equal(view.matched, 1);
	faults_free(faults);
}

struct news_log {
	int fired, spent, overflow;
	uint64_t last_rule;
};

static void
record_news(void *arg, enum fault_news news, const struct fault_rule_view *rule)
{
	struct news_log *log = arg;

	if (news == FAULT_NEWS_FIRED)
		log->fired++;
	else if (news == FAULT_NEWS_SPENT)
		log->spent++;
	else
		log->overflow++;
	log->last_rule = rule->id;
}

static void
skip_then_count_then_spent(void **unused)
{
	struct faults *faults = faults_new(2, 1);
	struct fault_spec spec = drop_rule(FAULT_DIR_IN);
	struct fault_segment seg = segment(FAULT_DIR_IN, TCPINFO_FLAG_ACK);
	struct fault_rule_view view;
	struct news_log log = { 0 };
	enum fault_action got[6];

	(void)unused;
	spec.skip = 2;
	spec.count = 2;
	assert_int_equal(faults_add(faults, &spec, &view), 0);
	for (int i = 0; i < 6; i++)
		got[i] = faults_decide(faults, &seg, record_news, &log).action;
	assert_int_equal(got[0], FAULT_NONE);
	assert_int_equal(got[1], FAULT_NONE);
	assert_int_equal(got[2], FAULT_DROP);
	assert_int_equal(got[3], FAULT_DROP);
	assert_int_equal(got[4], FAULT_NONE);
	assert_int_equal(got[5], FAULT_NONE);
	assert_int_equal(log.fired, 2);
	assert_int_equal(log.spent, 1);
	assert_int_equal(faults_get(faults, view.id, &view), 0);
	assert_true(view.spent);
	assert_int_equal(view.matched, 4);	/* a spent rule stops counting */
	assert_int_equal(view.applied, 2);
	faults_free(faults);
}

static void
a_full_hold_leaves_a_delay_rule_unapplied(void **unused)
{
	struct faults *faults = faults_new(2, 1);
	struct fault_spec delay = drop_rule(FAULT_DIR_IN), drop = drop_rule(FAULT_DIR_IN);
	struct fault_segment seg = segment(FAULT_DIR_IN, TCPINFO_FLAG_ACK);
	struct fault_rule_view first, second;
	struct fault_verdict verdict;
	struct news_log log = { 0 };

	(void)unused;
	delay.action = FAULT_DELAY;
	delay.delay_ms = 100;
	assert_int_equal(faults_add(faults, &delay, &first), 0);
	assert_int_equal(faults_add(faults, &drop, &second), 0);
	seg.hold_full = true;
	verdict = faults_decide(faults, &seg, record_news, &log);
	/* The delay rule only counts the match; the drop rule after it acts. */
	assert_int_equal(verdict.action, FAULT_DROP);
	assert_int_equal(verdict.rule, second.id);
	assert_int_equal(verdict.overflow_rule, first.id);
	assert_int_equal(log.overflow, 1);
	assert_int_equal(faults_get(faults, first.id, &first), 0);
	assert_int_equal(first.matched, 1);
	assert_int_equal(first.applied, 0);
	assert_false(first.spent);
	seg.hold_full = false;
	verdict = faults_decide(faults, &seg, record_news, &log);
	assert_int_equal(verdict.action, FAULT_DELAY);
	assert_int_equal(verdict.overflow_rule, 0);
	assert_int_equal(faults_get(faults, first.id, &first), 0);
	assert_int_equal(first.applied, 1);
	assert_true(first.spent);

	uint64_t applied[FAULT_ACTION_COUNT];

	faults_applied(faults, applied);
	assert_int_equal(applied[FAULT_DELAY], 1);
	assert_int_equal(applied[FAULT_DROP], 1);
	faults_free(faults);
}

static void
the_first_rule_acts_and_later_ones_count(void **unused)
{
	struct faults *faults = faults_new(2, 1);
	struct fault_spec first = drop_rule(FAULT_DIR_IN), second = drop_rule(FAULT_DIR_IN);
	struct fault_segment seg = segment(FAULT_DIR_IN, TCPINFO_FLAG_ACK);
	struct fault_rule_view a, b;
	struct fault_verdict verdict;
	uint64_t applied[FAULT_ACTION_COUNT];

	(void)unused;
	second.action = FAULT_DELAY;
	second.delay_ms = 300;
	second.count = 0;
	assert_int_equal(faults_add(faults, &first, &a), 0);
	assert_int_equal(faults_add(faults, &second, &b), 0);
	verdict = faults_decide(faults, &seg, NULL, NULL);
	assert_int_equal(verdict.action, FAULT_DROP);
	assert_int_equal(verdict.rule, a.id);
	verdict = faults_decide(faults, &seg, NULL, NULL);
	assert_int_equal(verdict.action, FAULT_DELAY);
	assert_int_equal(verdict.rule, b.id);
	assert_int_equal(verdict.hold_ms, 300);
	assert_int_equal(faults_get(faults, b.id, &b), 0);
	assert_int_equal(b.matched, 2);
	assert_int_equal(b.applied, 1);
	faults_applied(faults, applied);
	assert_int_equal(applied[FAULT_DROP], 1);
	assert_int_equal(applied[FAULT_DELAY], 1);
	faults_free(faults);
}

/* Which of n matching segments a rule of that probability and seed acts on, as a bit mask. */
static uint64_t
pattern_of(double probability, uint64_t seed, int n)
{
	struct faults *faults = faults_new(1, 99);
	struct fault_spec spec = drop_rule(FAULT_DIR_OUT);
	struct fault_segment seg = segment(FAULT_DIR_OUT, TCPINFO_FLAG_ACK);
	struct fault_rule_view view;
	uint64_t mask = 0;

	spec.count = 0;
	spec.probability = probability;
	spec.has_seed = true;
	spec.seed = seed;
	assert_int_equal(faults_add(faults, &spec, &view), 0);
	assert_int_equal(view.spec.seed, seed);
	for (int i = 0; i < n; i++) {
		if (faults_decide(faults, &seg, NULL, NULL).action == FAULT_DROP)
			mask |= 1ull << i;
	}
	faults_free(faults);
	return mask;
}

static void
a_seed_repeats_its_draws(void **unused)
{
	uint64_t a = pattern_of(0.2, 42, 64);
	int hits = __builtin_popcountll(a);

	(void)unused;
	assert_int_equal(a, pattern_of(0.2, 42, 64));
	assert_int_not_equal(a, pattern_of(0.2, 43, 64));
	assert_true(hits > 2 && hits < 30);
	assert_int_equal(pattern_of(0.0, 42, 64), 0);
	assert_int_equal(pattern_of(1.0, 42, 64), UINT64_MAX);
}

static void
rules_without_a_seed_get_different_ones(void **unused)
{
	struct faults *faults = faults_new(2, 5);
	struct fault_spec spec = drop_rule(FAULT_DIR_OUT);
	struct fault_rule_view a, b;

	(void)unused;
	assert_int_equal(faults_add(faults, &spec, &a), 0);
	assert_int_equal(faults_add(faults, &spec, &b), 0);
	assert_int_not_equal(a.spec.seed, b.spec.seed);
	faults_free(faults);
}

static void
action_names_round_trip(void **unused)
{
	enum fault_action action;

	(void)unused;
	for (int i = FAULT_NONE + 1; i < FAULT_ACTION_COUNT; i++) {
		assert_int_equal(faults_action_parse(faults_action_name((enum fault_action)i), &action), 0);
		assert_int_equal(action, i);
	}
	assert_null(faults_action_name(FAULT_NONE));
	assert_int_equal(faults_action_parse("Drop", &action), -EINVAL);
	assert_int_equal(faults_action_parse("", &action), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rules_get_ids_in_order_and_a_cap),
		cmocka_unit_test(each_criterion_must_hold),
		cmocka_unit_test(skip_then_count_then_spent),
		cmocka_unit_test(a_full_hold_leaves_a_delay_rule_unapplied),
		cmocka_unit_test(the_first_rule_acts_and_later_ones_count),
		cmocka_unit_test(a_seed_repeats_its_draws),
		cmocka_unit_test(rules_without_a_seed_get_different_ones),
		cmocka_unit_test(action_names_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
