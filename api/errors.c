#include "errors.h"

#include <errno.h>
#include <inttypes.h>

#include "log.h"

/* A limit that a problem names: the words of its detail, its flag and its value. */
struct limit {
	const char *reached;	/* kept as the details said before the limits had flags */
	const char *counted;	/* what the value counts */
	const char *hint;	/* what the client may do */
	const char *flag;	/* without its dashes, as the "limit" member */
	uint64_t value;
};

static struct limit
limit_of(enum engine_result result, const struct errors_subject *s)
{
	const struct engine_limits *l = s->limits;

	if (result == ENGINE_QUEUE_FULL)
		return (struct limit){ "the send queue is full", "bytes may wait",
		    "retry later, or raise it", "max-send-queue", l->send_queue };
	if (result == ENGINE_MEMORY_BUDGET)
		return (struct limit){ "memory budget reached",
		    "bytes of queued sends, receive buffers and timelines",
		    "retry once queued data is sent or read, or raise it", "memory-budget",
		    l->memory_budget };
	if (result == ENGINE_RULES_FULL)
		return (struct limit){ "fault rule limit reached", "fault rules",
		    "remove a rule, or raise it", "max-fault-rules", l->fault_rules };
	switch (s->op) {
	case ERRORS_OP_LISTEN:
		return (struct limit){ "listener limit reached", "listeners", "raise it",
		    "max-listeners", l->listeners };
	case ERRORS_OP_SUBSCRIBE:
		return (struct limit){ "too many event stream clients", "event streams", "raise it",
		    "max-event-streams", l->event_streams };
	case ERRORS_OP_CAPTURE:
		return (struct limit){ "capture reader limit reached", "capture readers", "raise it",
		    "max-capture-readers", l->capture_readers };
	case ERRORS_OP_BATCH:
		return (struct limit){ "batch limit reached", "batches running",
		    "stop one (DELETE), wait until one is done, or raise it", "max-batches", l->batches };
	default:
		return (struct limit){ "connection limit reached", "live connections", "raise it",
		    "max-connections", l->connections };
	}
}

/* E.g. "connection limit reached: 16384 live connections; raise it with --max-connections". */
static int
limit_problem(enum engine_result result, const struct errors_subject *s, enum problem_type type,
    struct problem *err)
{
	struct limit limit;

	if (s->limits == NULL) {
		log_warnx("api: a limit was reached with no limits to name");
		problem_set(err, PROBLEM_INTERNAL, NULL, "the engine failed unexpectedly");
		return -EIO;
	}
	limit = limit_of(result, s);
	problem_set(err, type, NULL, "%s: %" PRIu64 " %s; %s with --%s", limit.reached, limit.value,
	    limit.counted, limit.hint, limit.flag);
	problem_set_limit(err, limit.flag, limit.value);
	return -ENOBUFS;
}

int
errors_engine(enum engine_result result, const struct errors_subject *s, struct problem *err)
{
	switch (result) {
	case ENGINE_NOT_FOUND:
		problem_set(err, PROBLEM_NOT_FOUND, NULL, "no %s has id %" PRIu64, s->noun, s->id);
		return -ENOENT;
	case ENGINE_WRONG_STATE:
		problem_set(err, PROBLEM_CONFLICT, NULL, "%s; the connection is in state %s",
		    s->refusal, errors_state_text(s->state));
		return -ENOTCONN;
	case ENGINE_LIMIT_REACHED:
	case ENGINE_RULES_FULL:
		return limit_problem(result, s, PROBLEM_UNAVAILABLE, err);
	case ENGINE_QUEUE_FULL:
		return limit_problem(result, s, PROBLEM_CONFLICT, err);
	case ENGINE_ADDRESS_INVALID:
		problem_set(err, PROBLEM_INVALID_FIELD, "remote_ip",
		    "remote_ip is this interface's own, network or broadcast address");
		return -EINVAL;
	case ENGINE_NO_ROUTE:
		problem_set(err, PROBLEM_INVALID_FIELD, "remote_ip",
		    "remote_ip is off the interface's subnet and no --gateway is set");
		return -ENETUNREACH;
	case ENGINE_PORT_IN_USE:
		if (s->op == ERRORS_OP_LISTEN)
			problem_set(err, PROBLEM_CONFLICT, "port", "port %u is already in use",
			    (unsigned int)s->port);
		else
			problem_set(err, PROBLEM_CONFLICT, "local_port",
			    "local_port %u is already in use towards that remote endpoint",
			    (unsigned int)s->port);
		return -EADDRINUSE;
	case ENGINE_NO_PORT:
		problem_set(err, PROBLEM_UNAVAILABLE, NULL,
		    "no free local port towards that remote endpoint");
		return -EADDRNOTAVAIL;
	case ENGINE_NO_MEMORY:
		problem_set(err, PROBLEM_UNAVAILABLE, NULL, "the daemon is out of memory");
		return -ENOMEM;
	case ENGINE_STOPPING:
		problem_set(err, PROBLEM_UNAVAILABLE, NULL, "the daemon is stopping");
		return -ESHUTDOWN;
	case ENGINE_LINK_DOWN:
		problem_set(err, PROBLEM_UNAVAILABLE, NULL,
		    "the TAP device failed or was deleted: the link is down and the daemon is exiting");
		return -ENETDOWN;
	case ENGINE_MEMORY_BUDGET:
		return limit_problem(result, s, PROBLEM_UNAVAILABLE, err);
	case ENGINE_OK:
	default:
		log_warnx("api: unexpected engine result %d", (int)result);
		problem_set(err, PROBLEM_INTERNAL, NULL, "the engine failed unexpectedly");
		return -EIO;
	}
}

/* Rendering fails only when memory runs out or a view holds a value with no name. */
int
errors_render_failed(struct problem *err)
{
	log_warnx("api: cannot render a response");
	problem_set(err, PROBLEM_INTERNAL, NULL, "the response could not be rendered");
	return -ENOMEM;
}

const char *
errors_state_text(enum tcpinfo_state state)
{
	const char *name = tcpinfo_state_name(state);

	return name != NULL ? name : "?";
}
