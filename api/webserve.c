/*
 * webserve: answers GET and HEAD for the lab page's files. The page talks
 * only to its own origin, so every answer forbids everything else: no
 * inline script or style, no other origin, no framing, no sniffing, no
 * referrer. Cache-Control: no-cache lets a browser keep a copy but makes
 * it ask each time; the ETag makes asking cheap (304).
 */
#include <stdbool.h>
#include <string.h>

#include "problem.h"
#include "webserve.h"

#define WEBSERVE_ALLOW "GET, HEAD"

static const char webserve_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

static const struct {
	const char *name;
	const char *value;
} webserve_headers[] = {
	{ "Content-Security-Policy", webserve_csp },
	{ "X-Content-Type-Options", "nosniff" },
	{ "Referrer-Policy", "no-referrer" },
	{ MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache" },
};

/* Length of the tag at s, a "W/" prefix included, up to a comma or the end. */
static size_t
tag_length(const char *s)
{
	size_t len = strcspn(s, ",");

	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	return len;
}

bool
webserve_etag_matches(const char *if_none_match, const char *etag)
{
	const char *s = if_none_match;
	size_t len, etag_len = strlen(etag);

	if (s == NULL)
		return false;
	while (*s != '\0') {
		s += strspn(s, " \t,");
		len = tag_length(s);
		if (len == 1 && s[0] == '*')
			return true;
		/* Weak comparison: a W/ prefix does not count. */
		if (len > 2 && strncmp(s, "W/", 2) == 0) {
			s += 2;
			len -= 2;
		}
		if (len == etag_len && strncmp(s, etag, len) == 0)
			return true;
		s += strcspn(s, ",");
	}
	return false;
}

/* Adds the headers every answer about the page carries, then queues it. */
static enum MHD_Result
queue(struct MHD_Connection *connection, unsigned int status, struct MHD_Response *response,
    const char *content_type, const char *etag, const char *allow)
{
	enum MHD_Result result = MHD_NO;
	size_t i;

	if (response == NULL)
		return MHD_NO;
	for (i = 0; i < sizeof(webserve_headers) / sizeof(webserve_headers[0]); i++) {
		if (MHD_add_response_header(response, webserve_headers[i].name,
		    webserve_headers[i].value) != MHD_YES)
			goto out;
	}
	if ((content_type != NULL && MHD_add_response_header(response,
	    MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) ||
	    (etag != NULL && MHD_add_response_header(response, MHD_HTTP_HEADER_ETAG,
	    etag) != MHD_YES) ||
	    (allow != NULL && MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW,
	    allow) != MHD_YES))
		goto out;
	result = MHD_queue_response(connection, status, response);
out:
	MHD_destroy_response(response);
	return result;
}

static enum MHD_Result
method_not_allowed(struct MHD_Connection *connection, const char *method)
{
	struct problem err;
	char *text;

	problem_set(&err, PROBLEM_METHOD_NOT_ALLOWED, NULL,
	    "method %.32s is not allowed here; use one of " WEBSERVE_ALLOW, method);
	text = problem_render(&err);
	if (text == NULL)
		return MHD_NO;
	return queue(connection, problem_status(&err),
	    MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE),
	    "application/problem+json", NULL, WEBSERVE_ALLOW);
}

enum MHD_Result
webserve_answer(struct MHD_Connection *connection, const struct webasset *asset,
    const char *method)
{
	const char *if_none_match;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return method_not_allowed(connection, method);
	if_none_match = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (webserve_etag_matches(if_none_match, asset->etag))
		return queue(connection, MHD_HTTP_NOT_MODIFIED,
		    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT),
		    NULL, asset->etag, NULL);
	/* libmicrohttpd leaves the body out of an answer to HEAD by itself. */
	return queue(connection, MHD_HTTP_OK,
	    MHD_create_response_from_buffer(asset->len, (void *)asset->data,
	    MHD_RESPMEM_PERSISTENT), asset->content_type, asset->etag, NULL);
}
