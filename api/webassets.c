/*
 * webassets: finds an embedded file of the lab page by its URL path. The
 * table itself is generated from api/web/ at build time.
 */
#include <string.h>

#include "webassets.h"

#define WEBASSET_INDEX "/index.html"

const struct webasset *
webasset_find(const char *path)
{
	size_t i;

	/* The page's address is the root; its file keeps its own name too. */
	if (strcmp(path, "/") == 0)
		path = WEBASSET_INDEX;
	for (i = 0; i < webasset_count; i++) {
		if (strcmp(path, webassets[i].path) == 0)
			return &webassets[i];
	}
	return NULL;
}
