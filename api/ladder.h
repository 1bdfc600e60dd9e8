/*
 * ladder: a connection's timeline as a two-column ladder diagram in the
 * style of RFC 9293's figures, lwIP on the left and the peer on the right,
 * for a terminal of LADDER_COLUMNS columns. A pure function, so the exact
 * output is unit-tested against a golden file.
 */
#ifndef LWIPD_LADDER_H
#define LWIPD_LADDER_H

#include <stddef.h>

#include "engine.h"

/* No line is wider than this. */
#define LADDER_COLUMNS 80

/*
 * Renders timeline as plain ASCII lines, each ending with a newline.
 * *out is malloc'd and NUL-terminated, *len its length. Returns 0,
 * -EINVAL when the timeline holds a value with no name, or -ENOMEM.
 */
int ladder_render(const struct engine_timeline *timeline, char **out, size_t *len);

#endif
