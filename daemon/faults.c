/*
 * faults: the rule set and the decision, segment by segment, of which rule
 * acts. See faults.h.
 *
 * Rules sit in one array in id order, which is creation order, so "the
 * first rule that acts" is well defined and a lookup is a binary search.
 * Each rule draws from its own generator (splitmix64) seeded from the
 * rule's seed, so a rule's drops depend only on the segments it matched:
 * the same seed against the same exchange acts on the same segments.
 */
#include "faults.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct fault_rule {
	struct fault_rule_view view;
	uint64_t prng;
};

struct faults {
	struct fault_rule *rules;
	size_t count;
	size_t max;
	uint64_t next_id;
	uint64_t seeds;		/* makes the seeds of rules given none */
	uint64_t applied[FAULT_ACTION_COUNT];
};

static const char *const action_names[FAULT_ACTION_COUNT] = {
	[FAULT_DROP] = "drop",
	[FAULT_DELAY] = "delay",
	[FAULT_DUPLICATE] = "duplicate",
	[FAULT_REORDER] = "reorder",
	[FAULT_CORRUPT] = "corrupt",
};

/* splitmix64: small, fast, and every seed gives a full-period sequence. */
static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* True with the given probability; 1 always wins and 0 never does, without a draw. */
static bool
draw(struct fault_rule *rule)
{
	double p = rule->view.spec.probability;

	if (p >= 1.0)
		return true;
	if (p <= 0.0)
		return false;
	/* The top 53 bits as a double in [0, 1). */
	return (double)(splitmix64(&rule->prng) >> 11) * 0x1.0p-53 < p;
}

struct faults *
faults_new(size_t max_rules, uint64_t seed)
{
	struct faults *faults = calloc(1, sizeof(*faults));

	if (faults == NULL)
		return NULL;
	faults->rules = calloc(max_rules > 0 ? max_rules : 1, sizeof(*faults->rules));
	if (faults->rules == NULL) {
		free(faults);
		return NULL;
	}
	faults->max = max_rules;
	faults->next_id = 1;
	faults->seeds = seed;
	return faults;
}

void
faults_free(struct faults *faults)
{
	if (faults == NULL)
		return;
	free(faults->rules);
	free(faults);
}

int
faults_add(struct faults *faults, const struct fault_spec *spec, struct fault_rule_view *view)
{
	struct fault_rule *rule;

	if (faults->count >= faults->max)
		return -ENOSPC;
	rule = &faults->rules[faults->count++];
	memset(rule, 0, sizeof(*rule));
	rule->view.id = faults->next_id++;
	rule->view.spec = *spec;
	if (!spec->has_seed) {
		rule->view.spec.has_seed = true;
		/* 53 bits, so that a JSON client reads the seed back exactly. */
		rule->view.spec.seed = splitmix64(&faults->seeds) & ((UINT64_C(1) << 53) - 1);
	}
	rule->prng = rule->view.spec.seed;
	*view = rule->view;
	return 0;
}

/* The index of the first rule with an id of at least id: a binary search, ids being in order. */
static size_t
rule_lower_bound(const struct faults *faults, uint64_t id)
{
	size_t lo = 0, hi = faults->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (faults->rules[mid].view.id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The index of the rule with that id, or -1. */
static ptrdiff_t
rule_index(const struct faults *faults, uint64_t id)
{
	size_t lo = rule_lower_bound(faults, id);

	return lo < faults->count && faults->rules[lo].view.id == id ? (ptrdiff_t)lo : -1;
}

int
faults_remove(struct faults *faults, uint64_t id)
{
	ptrdiff_t i = rule_index(faults, id);

	if (i < 0)
		return -ENOENT;
	memmove(&faults->rules[i], &faults->rules[i + 1],
	    (faults->count - (size_t)i - 1) * sizeof(*faults->rules));
	faults->count--;
	return 0;
}

size_t
faults_clear(struct faults *faults)
{
	size_t n = faults->count;

	faults->count = 0;
	return n;
}

int
faults_get(const struct faults *faults, uint64_t id, struct fault_rule_view *out)
{
	ptrdiff_t i = rule_index(faults, id);

	if (i < 0)
		return -ENOENT;
	*out = faults->rules[i].view;
	return 0;
}

size_t
faults_count(const struct faults *faults)
{
	return faults->count;
}

size_t
faults_max(const struct faults *faults)
{
	return faults->max;
}

size_t
faults_list(const struct faults *faults, uint64_t after, struct fault_rule_view *out, size_t max)
{
	size_t n = 0;

	/* Ids above after are those of at least after + 1; none is above UINT64_MAX. */
	for (size_t i = after == UINT64_MAX ? faults->count : rule_lower_bound(faults, after + 1);
	    i < faults->count && n < max; i++)
		out[n++] = faults->rules[i].view;
	return n;
}

static bool
matches(const struct fault_spec *spec, const struct fault_segment *seg)
{
	const struct fault_match *m = &spec->match;

	if (spec->dir != seg->dir)
		return false;
	if (m->has_connection && m->connection != seg->connection)
		return false;
	if (m->has_flags && (seg->flags & m->flags) != m->flags)
		return false;
	if (m->has_exact_flags && seg->flags != m->exact_flags)
		return false;
	if (m->has_state && (!seg->has_state || seg->state != m->state))
		return false;
	if (m->has_step && seg->step != m->step)
		return false;
	if (m->has_data && (seg->payload_len > 0) != m->data)
		return false;
	if (m->has_local_port && seg->local_port != m->local_port)
		return false;
	if (m->has_remote_port && seg->remote_port != m->remote_port)
		return false;
	return true;
}

static bool
spent(const struct fault_rule_view *view)
{
	return view->spec.count != 0 && view->applied >= view->spec.count;
}

struct fault_verdict
faults_decide(struct faults *faults, const struct fault_segment *segment, fault_news_fn news,
    void *arg)
{
	struct fault_verdict verdict = { .action = FAULT_NONE };

	for (size_t i = 0; i < faults->count; i++) {
		struct fault_rule *rule = &faults->rules[i];
		struct fault_rule_view *view = &rule->view;

		if (view->spent || !matches(&view->spec, segment))
			continue;
		view->matched++;
		/* One rule acts on a segment; later ones still count the match. */
		if (verdict.action != FAULT_NONE || view->matched <= view->spec.skip || !draw(rule))
			continue;
		if (segment->hold_full &&
		    (view->spec.action == FAULT_DELAY || view->spec.action == FAULT_REORDER)) {
			if (verdict.overflow_rule == 0)
				verdict.overflow_rule = view->id;
			if (news != NULL)
				news(arg, FAULT_NEWS_OVERFLOW, view);
			continue;
		}
		view->applied++;
		view->spent = spent(view);
		faults->applied[view->spec.action]++;
		verdict.action = view->spec.action;
		verdict.rule = view->id;
		verdict.hold_ms = view->spec.action == FAULT_DELAY ? view->spec.delay_ms :
		    view->spec.action == FAULT_REORDER ? view->spec.hold_ms : 0;
		if (news != NULL) {
			news(arg, FAULT_NEWS_FIRED, view);
			if (view->spent)
				news(arg, FAULT_NEWS_SPENT, view);
		}
	}
	return verdict;
}

void
faults_applied(const struct faults *faults, uint64_t out[FAULT_ACTION_COUNT])
{
	memcpy(out, faults->applied, sizeof(faults->applied));
}

const char *
faults_action_name(enum fault_action action)
{
	if ((unsigned)action >= FAULT_ACTION_COUNT)
		return NULL;
	return action_names[action];
}

int
faults_action_parse(const char *name, enum fault_action *out)
{
	for (int i = FAULT_NONE + 1; i < FAULT_ACTION_COUNT; i++) {
		if (strcmp(name, action_names[i]) == 0) {
			*out = (enum fault_action)i;
			return 0;
		}
	}
	return -EINVAL;
}
