/*
 * webassets: the lab page's files (api/web/), embedded into the binary at
 * build time by cmake/embed_web.cmake, found by URL path.
 */
#ifndef LWIPD_WEBASSETS_H
#define LWIPD_WEBASSETS_H

#include <stddef.h>

struct webasset {
	const char *path;		/* "/index.html", "/lab.css", ... */
	const unsigned char *data;
	size_t len;
	const char *content_type;	/* e.g. "text/css" */
	const char *etag;		/* strong, quoted: "\"<hex>\"" */
};

/* The generated table: one entry per file, webasset_count in all. */
extern const struct webasset webassets[];
extern const size_t webasset_count;

/* The asset at path ("/" is "/index.html"), or NULL when there is none. */
const struct webasset *webasset_find(const char *path);

#endif
