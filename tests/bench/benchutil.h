/*
 * benchutil: plumbing the bench programs share: lists of IPv4 endpoints
 * from the command line, the open-files limit, numbers from arguments.
 */
#ifndef LWIPD_BENCH_UTIL_H
#define LWIPD_BENCH_UTIL_H

#include <netinet/in.h>
#include <stddef.h>

#define ENDPOINTS_MAX 64

struct endpoints {
	size_t n;
	struct sockaddr_in addr[ENDPOINTS_MAX];
};

/* "IP:PORT[,IP:PORT...]"; returns 0, or -1 with a message on stderr. */
int endpoints_parse(struct endpoints *out, const char *text, const char *prog);
/* Raises RLIMIT_NOFILE to at least want (as root, the hard limit too). */
void raise_nofile(unsigned long want, const char *prog);
/* A whole non-negative number, or exits 2 naming the flag. */
unsigned long arg_ulong(const char *flag, const char *text, const char *prog);

#endif
