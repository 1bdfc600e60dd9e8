/*
 * benchutil: endpoint lists, the open-files limit and numeric arguments
 * for the bench programs.
 */
#include "benchutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int
endpoints_parse(struct endpoints *out, const char *text, const char *prog)
{
	char buf[1024];
	char *save = NULL;

	if (strlen(text) >= sizeof(buf)) {
		fprintf(stderr, "%s: endpoint list too long\n", prog);
		return -1;
	}
	strcpy(buf, text);
	out->n = 0;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(tok, ':');
		char *end;
		unsigned long port;

		if (out->n == ENDPOINTS_MAX || colon == NULL) {
			fprintf(stderr, "%s: bad endpoint '%s' (IP:PORT, at most %d)\n", prog, tok,
			    ENDPOINTS_MAX);
			return -1;
		}
		*colon = '\0';
		port = strtoul(colon + 1, &end, 10);
		memset(&out->addr[out->n], 0, sizeof(out->addr[0]));
		out->addr[out->n].sin_family = AF_INET;
		if (*end || port == 0 || port > 65535 ||
		    inet_pton(AF_INET, tok, &out->addr[out->n].sin_addr) != 1) {
			fprintf(stderr, "%s: bad endpoint '%s:%s'\n", prog, tok, colon + 1);
			return -1;
		}
		out->addr[out->n].sin_port = htons((uint16_t)port);
		out->n++;
	}
	if (out->n == 0) {
		fprintf(stderr, "%s: no endpoint given\n", prog);
		return -1;
	}
	return 0;
}

void
raise_nofile(unsigned long want, const char *prog)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		/* Not root: take what the hard limit allows. */
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			fprintf(stderr, "%s: cannot raise the open-files limit: %s\n", prog,
			    strerror(errno));
	}
}

unsigned long
arg_ulong(const char *flag, const char *text, const char *prog)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-') {
		fprintf(stderr, "%s: %s: not a whole number: '%s'\n", prog, flag, text);
		exit(2);
	}
	return v;
}
