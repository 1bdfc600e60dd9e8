/*
 * origin: refuses what a browser sends on behalf of another site. A page
 * on another origin can POST to the API without a preflight (a "simple"
 * request), and a DNS name rebound to the API's address makes the API
 * that page's own origin; so a request must name the API by an IP address
 * or "localhost" (Host), and a browser must say it comes from the API's
 * own origin (Origin, Sec-Fetch-Site). curl and scripts send neither
 * Origin nor Sec-Fetch-Site, so only Host concerns them. Behind a bearer
 * token a rebound name gains nothing (the page on it has no token), so
 * Host is then free and the API may be named by its DNS name.
 */
#ifndef LWIPD_ORIGIN_H
#define LWIPD_ORIGIN_H

#include <stdbool.h>

#include "problem.h"

/* The longest Host or Origin value looked at; longer ones are refused. */
#define ORIGIN_VALUE_MAX 300

/*
 * Checks a request's Host (when check_host), Origin and Sec-Fetch-Site
 * (each NULL when absent). A lab page file (page_file true) may be a
 * navigation from a link on another site, so only its Host is checked.
 * Returns 0, or -EACCES with a 403 problem in *err naming the header.
 */
int origin_check(const char *host, bool check_host, const char *origin, const char *fetch_site,
    bool page_file, struct problem *err);

#endif
