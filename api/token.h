/*
 * token: the API's bearer token (--api-token-file): reading it, and
 * checking a request's Authorization header against it in constant time.
 */
#ifndef LWIPD_TOKEN_H
#define LWIPD_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define TOKEN_MIN 16
#define TOKEN_MAX 256

struct token {
	size_t len;			/* 0: no token is required */
	char value[TOKEN_MAX];
};

/*
 * Reads the token from path: a regular file of TOKEN_MIN to TOKEN_MAX
 * bytes of visible ASCII after one trailing newline is dropped. Returns 0,
 * or a negative errno after logging why.
 */
int token_load(const char *path, struct token *out);

/* Whether an Authorization header value (NULL when absent) is "Bearer " and the token. */
bool token_check(const struct token *token, const char *authorization);

#endif
