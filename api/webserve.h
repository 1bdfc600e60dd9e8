/*
 * webserve: answers a request for one of the lab page's files, with the
 * headers that keep the page to its own origin (a strict
 * Content-Security-Policy among them) and with ETag revalidation.
 */
#ifndef LWIPD_WEBSERVE_H
#define LWIPD_WEBSERVE_H

#include <stdbool.h>

#include <microhttpd.h>

#include "webassets.h"

/*
 * Queues the answer to method on asset: 200 with the file (HEAD: without
 * it), 304 when If-None-Match names its ETag, 405 problem for any other
 * method. Returns what MHD_queue_response returned.
 */
enum MHD_Result webserve_answer(struct MHD_Connection *connection,
    const struct webasset *asset, const char *method);

/* Whether an If-None-Match value (NULL: none) matches etag, by the weak comparison RFC 9110 asks for. */
bool webserve_etag_matches(const char *if_none_match, const char *etag);

#endif
