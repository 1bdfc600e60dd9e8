/*
 * faults: the fault rules a user sets, and the decision, segment by segment,
 * of which rule acts on a segment and how.
 *
 * Pure bookkeeping: no lwIP, no I/O, no lock and no clock. The engine calls
 * it with the core lock held, once for every TCP segment crossing the TAP in
 * either direction, before lwIP or the wire sees it; the glue carries out the
 * verdict (drop, hold, copy or corrupt the frame).
 */
#ifndef LWIPD_FAULTS_H
#define LWIPD_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpinfo.h"

#define FAULTS_DELAY_MAX_MS 60000u
#define FAULTS_HOLD_DEFAULT_MS 1000u

enum fault_dir {
	FAULT_DIR_IN = 0,	/* from the wire, before lwIP */
	FAULT_DIR_OUT,		/* from lwIP, before the wire */
};

enum fault_action {
	FAULT_NONE = 0,		/* no rule acts: the segment passes */
	FAULT_DROP,
	FAULT_DELAY,		/* held for delay_ms */
	FAULT_DUPLICATE,	/* passes twice */
	FAULT_REORDER,		/* held until the next segment of its connection and direction passed, or hold_ms */
	FAULT_CORRUPT,		/* one byte flipped, so that the TCP checksum fails */
	FAULT_ACTION_COUNT
};

/* What a rule matches. Each member counts only when its has_ flag is set; all set must hold. */
struct fault_match {
	bool has_connection, has_flags, has_exact_flags, has_state, has_step, has_data;
	bool has_local_port, has_remote_port;
	uint64_t connection;
	uint8_t flags;		/* the segment carries at least these */
	uint8_t exact_flags;	/* the segment carries exactly these */
	enum tcpinfo_state state;	/* lwIP's state when the segment is handled */
	enum tcpinfo_step step;
	bool data;		/* true: carries payload; false: carries none */
	uint16_t local_port;
	uint16_t remote_port;
};

/* A rule as the user asked for it. */
struct fault_spec {
	enum fault_dir dir;
	struct fault_match match;
	enum fault_action action;
	uint32_t delay_ms;	/* FAULT_DELAY: 1..FAULTS_DELAY_MAX_MS */
	uint32_t hold_ms;	/* FAULT_REORDER: 1..FAULTS_DELAY_MAX_MS */
	uint64_t skip;		/* matches to let pass first */
	uint64_t count;		/* matches to act on, then spent; 0: unlimited */
	double probability;	/* 0..1: the chance that a match past skip is acted on */
	bool has_seed;
	uint64_t seed;
};

/* A rule and what it did so far. */
struct fault_rule_view {
	uint64_t id;
	struct fault_spec spec;	/* has_seed is always set: the seed in use */
	uint64_t matched;	/* matches while active, skipped ones included */
	uint64_t applied;
	bool spent;
};

/* One segment, as the rules see it. */
struct fault_segment {
	enum fault_dir dir;
	uint64_t connection;	/* 0: no tracked connection */
	uint8_t flags;
	bool has_state;		/* false without a tracked connection */
	enum tcpinfo_state state;
	enum tcpinfo_step step;	/* TCPINFO_STEP_NONE without a tracked connection */
	uint32_t payload_len;
	uint16_t local_port;
	uint16_t remote_port;
	bool hold_full;		/* the hold has no room for it: delay and reorder rules cannot act */
};

struct fault_verdict {
	enum fault_action action;	/* FAULT_NONE: pass */
	uint64_t rule;
	uint32_t hold_ms;	/* FAULT_DELAY and FAULT_REORDER: how long, at most */
	uint64_t overflow_rule;	/* a delay or reorder rule that would have acted but for a full hold, or 0 */
};

/* What a decision did to a rule, for the event stream. */
enum fault_news {
	FAULT_NEWS_FIRED = 0,
	FAULT_NEWS_SPENT,
	FAULT_NEWS_OVERFLOW,	/* it would have held the segment, but the hold was full */
};

typedef void (*fault_news_fn)(void *arg, enum fault_news news, const struct fault_rule_view *rule);

struct faults;

/* A rule set holding at most max_rules rules; seed makes the seeds of rules given none. NULL: no memory. */
struct faults *faults_new(size_t max_rules, uint64_t seed);

/* Accepts NULL. */
void faults_free(struct faults *faults);

/*
 * Adds a rule, whose values the caller has checked, and sets *view. Returns
 * 0, -ENOSPC when max_rules rules exist, or -ENOMEM.
 */
int faults_add(struct faults *faults, const struct fault_spec *spec, struct fault_rule_view *view);

/* Returns 0, or -ENOENT. */
int faults_remove(struct faults *faults, uint64_t id);

/* Removes every rule; returns how many there were. */
size_t faults_clear(struct faults *faults);

/* Returns 0, or -ENOENT. */
int faults_get(const struct faults *faults, uint64_t id, struct fault_rule_view *out);

/* The number of rules, active and spent. */
size_t faults_count(const struct faults *faults);

size_t faults_max(const struct faults *faults);

/* Copies up to max rules with ids above after, in id order; returns how many. */
size_t faults_list(const struct faults *faults, uint64_t after, struct fault_rule_view *out, size_t max);

/*
 * Decides a segment's fate: the first active rule, in id order, that
 * matches it, is past its skip count and wins its draw acts on it. Every
 * active rule that matches counts the match. A delay or reorder rule that
 * would act on a segment the hold has no room for only counts the match
 * (it is neither applied nor spent), and a later rule may act. news (may be
 * NULL) hears of the rule that acted, of its being spent, and of such an
 * overflow.
 */
struct fault_verdict faults_decide(struct faults *faults, const struct fault_segment *segment,
    fault_news_fn news, void *arg);

/* Segments acted on, by action, since the start (removed rules' included). */
void faults_applied(const struct faults *faults, uint64_t out[FAULT_ACTION_COUNT]);

/* "drop", "delay", ..., or NULL for FAULT_NONE and values out of range. */
const char *faults_action_name(enum fault_action action);

/* Parses an action name. Returns 0, or -EINVAL. */
int faults_action_parse(const char *name, enum fault_action *out);

#endif
