#include "errors.h"

#include <errno.h>
#include <inttypes.h>

#include "log.h"

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
		problem_set(err, PROBLEM_UNAVAILABLE, NULL, "%s",
		    s->op == ERRORS_OP_LISTEN ? "listener limit reached" :
		    s->op == ERRORS_OP_SUBSCRIBE ? "too many event stream clients" :
		    "connection limit reached");
		return -ENOBUFS;
	case ENGINE_QUEUE_FULL:
		problem_set(err, PROBLEM_CONFLICT, NULL,
		    "the send queue is full: at most %llu bytes may wait to be sent; retry later",
		    ENGINE_SEND_QUEUE_MAX);
		return -ENOBUFS;
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
	case ENGINE_RULES_FULL:
		problem_set(err, PROBLEM_UNAVAILABLE, NULL,
		    "fault rule limit reached: remove a rule, or raise the limit with --max-fault-rules");
		return -ENOBUFS;
	case ENGINE_MEMORY_BUDGET:
		problem_set(err, PROBLEM_UNAVAILABLE, NULL,
		    "memory budget reached: queued sends, receive buffers and timelines hold all "
		    "--memory-budget allows; retry once queued data is sent or read, or raise it "
		    "with --memory-budget");
		return -ENOBUFS;
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
