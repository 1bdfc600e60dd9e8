/*
 * jsonfield: typed access to the members of a JSON request body, each
 * failure a problem that names the member.
 *
 * Shared by every body parser (request.c, faultreq.c) so that a wrong type,
 * an unknown member or a number out of range reads the same everywhere.
 */
#ifndef LWIPD_JSONFIELD_H
#define LWIPD_JSONFIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "problem.h"

/* How many bytes of an untrusted name or value a detail quotes. */
#define JSONFIELD_QUOTE_MAX 64

/* "an object", "a string", ...: for details such as "port must be an integer, not a string". */
const char *jsonfield_type_name(const json_t *value);

/* Refuses the first member, in document order, whose name is not in known (NULL-terminated). */
int jsonfield_check_known(json_t *obj, const char *const *known, struct problem *err);

/*
 * Parses an integer member from min to max; *out is left alone when an
 * optional one is absent. name is the member's name in obj; the problem
 * names it as field.
 */
int jsonfield_integer(json_t *obj, const char *name, bool required, uint64_t min, uint64_t max,
    uint64_t *out, struct problem *err);

/* Parses an optional boolean member; *out is left alone when it is absent. */
int jsonfield_boolean(json_t *obj, const char *name, bool *out, struct problem *err);

/* A port, 1..65535, as jsonfield_integer() parses it. */
int jsonfield_port(json_t *obj, const char *name, bool required, uint16_t *out,
    struct problem *err);

/*
 * Checks a body up to its members: size, Content-Type, JSON syntax, that it
 * is an object, and that each member's name is in known. flags adds to the
 * JSON_REJECT_DUPLICATES every body gets. On success *out is a new reference.
 */
int jsonfield_load_object(const char *body, size_t len, const char *content_type, size_t flags,
    const char *const *known, json_t **out, struct problem *err);

#endif
