/*
 * origin: the same-origin rule of the API (see origin.h). A Host of a DNS
 * name is what DNS rebinding needs, and an address literal cannot be
 * rebound; so Host must be an IPv4 or bracketed IPv6 literal or
 * "localhost", with an optional port. Origin, when a browser sends it,
 * must be "http://" and that same Host; Sec-Fetch-Site must be
 * "same-origin" or "none" (typed by the user): browsers call another port
 * on the same address "same-site", which is still another origin.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "jsonfield.h"
#include "origin.h"

#define ORIGIN_PORT_DIGITS_MAX 5

/* Whether s (len bytes) is 1 to 5 digits. */
static bool
is_port(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > ORIGIN_PORT_DIGITS_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Whether the len bytes at s are an address of family af. */
static bool
is_address(int af, const char *s, size_t len)
{
	char text[INET6_ADDRSTRLEN];
	unsigned char addr[sizeof(struct in6_addr)];

	if (len == 0 || len >= sizeof(text))
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	return inet_pton(af, text, addr) == 1;
}

/* Whether a Host value names the server by an address literal or "localhost". */
static bool
host_is_literal(const char *host)
{
	size_t len = strlen(host), name_len;
	const char *colon, *close;

	if (len > ORIGIN_VALUE_MAX)
		return false;
	if (host[0] == '[') {
		close = strchr(host, ']');
		if (close == NULL || !is_address(AF_INET6, host + 1, (size_t)(close - host - 1)))
			return false;
		return close[1] == '\0' || (close[1] == ':' && is_port(close + 2, strlen(close + 2)));
	}
	colon = strchr(host, ':');
	name_len = colon != NULL ? (size_t)(colon - host) : len;
	if (colon != NULL && !is_port(colon + 1, strlen(colon + 1)))
		return false;
	return is_address(AF_INET, host, name_len) ||
	    (name_len == strlen("localhost") && strncasecmp(host, "localhost", name_len) == 0);
}

/* Whether origin is "http://" followed by host, the host compared without case. */
static bool
origin_is_host(const char *origin, const char *host)
{
	static const char scheme[] = "http://";

	return strncasecmp(origin, scheme, strlen(scheme)) == 0 &&
	    strcasecmp(origin + strlen(scheme), host) == 0;
}

int
origin_check(const char *host, bool check_host, const char *origin, const char *fetch_site,
    bool page_file, struct problem *err)
{
	/* HTTP/1.0 may come without a Host; no browser sends such a request. */
	if (check_host && host != NULL && !host_is_literal(host)) {
		problem_set(err, PROBLEM_FORBIDDEN, NULL,
		    "Host '%.*s' is not an IP address or localhost; name the API by its address "
		    "(a DNS name could be rebound to it)", JSONFIELD_QUOTE_MAX, host);
		return -EACCES;
	}
	if (page_file)
		return 0;
	if (origin != NULL && (host == NULL || !origin_is_host(origin, host))) {
		problem_set(err, PROBLEM_FORBIDDEN, NULL,
		    "Origin '%.*s' is not this API's origin; only the lab page it serves may call it "
		    "from a browser", JSONFIELD_QUOTE_MAX, origin);
		return -EACCES;
	}
	if (fetch_site != NULL && strcmp(fetch_site, "same-origin") != 0 &&
	    strcmp(fetch_site, "none") != 0) {
		problem_set(err, PROBLEM_FORBIDDEN, NULL,
		    "Sec-Fetch-Site '%.*s': a browser request from another origin is refused",
		    JSONFIELD_QUOTE_MAX, fetch_site);
		return -EACCES;
	}
	return 0;
}
