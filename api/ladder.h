/*
 * ladder: a connection's timeline as a ladder diagram, lwIP on the left and
 * the peer on the right, in three formats: plain text in the style of
 * RFC 9293's figures (ladder.c), a standalone SVG sequence diagram
 * (ladder_svg.c) and a Mermaid sequenceDiagram (ladder_mermaid.c). Pure
 * functions, so the exact output is unit-tested against golden files.
 */
#ifndef LWIPD_LADDER_H
#define LWIPD_LADDER_H

#include <stddef.h>

#include "engine.h"

/* No line of the text ladder is wider than this. */
#define LADDER_COLUMNS 80

/*
 * Renders timeline as plain ASCII lines, each ending with a newline.
 * *out is malloc'd and NUL-terminated, *len its length. Returns 0,
 * -EINVAL when the timeline holds a value with no name, or -ENOMEM.
 */
int ladder_render(const struct engine_timeline *timeline, char **out, size_t *len);

/*
 * Renders timeline as a standalone SVG document (UTF-8, no scripts, no
 * external resources). Returns it malloc'd and NUL-terminated, with its
 * length in *len, or NULL when out of memory. A value with no name shows
 * as "?".
 */
char *ladder_svg(const struct engine_timeline *timeline, size_t *len);

/*
 * Renders timeline as a Mermaid sequenceDiagram. Returns it malloc'd and
 * NUL-terminated, with its length in *len, or NULL when out of memory.
 */
char *ladder_mermaid(const struct engine_timeline *timeline, size_t *len);

#endif
