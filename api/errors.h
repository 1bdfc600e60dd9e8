/*
 * errors: the one map from what the engine did to the RFC 9457 problem the
 * API answers with. Handlers say which operation they ran and on what; the
 * wording of every engine problem lives here.
 */
#ifndef LWIPD_ERRORS_H
#define LWIPD_ERRORS_H

#include <stdint.h>

#include "engine.h"
#include "problem.h"

/* Operations whose problems say more than the result alone. */
enum errors_op {
	ERRORS_OP_OTHER = 0,
	ERRORS_OP_OPEN,			/* POST /v1/connections */
	ERRORS_OP_LISTEN,		/* POST /v1/listeners */
	ERRORS_OP_SUBSCRIBE,		/* GET /v1/events */
	ERRORS_OP_CAPTURE,		/* GET /v1/capture */
	ERRORS_OP_FAULT,		/* POST /v1/faults */
	ERRORS_OP_BATCH			/* POST /v1/batches */
};

struct errors_subject {
	enum errors_op op;
	const char *noun;		/* NOT_FOUND: "connection", "listener", "fault rule" or "batch" */
	uint64_t id;
	uint16_t port;			/* PORT_IN_USE: the port asked for */
	const char *refusal;		/* WRONG_STATE: what could not be done */
	enum tcpinfo_state state;	/* WRONG_STATE: the state the connection is in */
	/* LIMIT_REACHED, QUEUE_FULL, RULES_FULL: the engine's limits, which they name. */
	const struct engine_limits *limits;
};

/*
 * Fills *err for a result other than ENGINE_OK and returns a negative
 * errno for it (e.g. -ENOENT for ENGINE_NOT_FOUND).
 */
int errors_engine(enum engine_result result, const struct errors_subject *subject,
    struct problem *err);

/* Fills *err for a response that could not be rendered (out of memory) and returns -ENOMEM. */
int errors_render_failed(struct problem *err);

/* A state's name for a detail; never NULL. */
const char *errors_state_text(enum tcpinfo_state state);

#endif
