/*
 * httphead: checks the raw bytes a client sent before libmicrohttpd parses
 * them: the request line, the header fields, the framing, and a chunked
 * body's chunks. Pure code: gate.c feeds it what it peeks at, and the fuzz
 * harness feeds it anything.
 */
#ifndef LWIPD_HTTPHEAD_H
#define LWIPD_HTTPHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "problem.h"
#include "request.h"

/* The longest request target, the longest head, and its most header fields. */
#define HTTPHEAD_TARGET_MAX 2048
#define HTTPHEAD_MAX 16384
#define HTTPHEAD_FIELDS_MAX 64
#define HTTPHEAD_METHOD_MAX 16
/* A chunked body is checked whole, so its framing must fit next to the head. */
#define HTTPHEAD_PEEK_MAX (HTTPHEAD_MAX + 2 * REQUEST_BODY_MAX)

/* What the gate needs to know about a request it lets through, or answers itself. */
struct httphead {
	size_t head_len;		/* bytes up to and including the empty line */
	size_t framed_len;		/* head_len, and a chunked body with its trailers */
	bool is_head;			/* method HEAD: an answer has no body */
	bool reserved;			/* GET or HEAD of /healthz or /metrics */
	bool chunked;
	bool expect_continue;
	uint64_t content_length;	/* 0 when absent */
};

/*
 * Checks len bytes at buf, the start of what a client sent. Returns 0 when
 * a whole request head (and a whole chunked body) is there and well formed,
 * -EAGAIN when what is there is well formed so far, or a negative errno with
 * *err filled: -EBADMSG (400), -EMSGSIZE (413, 414, 431), -ENOTSUP (417, 501,
 * 505). An error is found as soon as its byte arrives, so a garbage request
 * line is answered at once. *out is filled as far as the check got.
 */
int httphead_check(const char *buf, size_t len, struct httphead *out, struct problem *err);

#endif
