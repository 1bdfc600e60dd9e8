/*
 * kclient: the kernel's side of the benchmark. Opens connections on kernel
 * sockets with epoll, K handshakes in flight, to one or more servers, and
 * closes each as soon as it is established, with a RST (SO_LINGER 0) or a
 * FIN. It can first open H connections and hold them, to measure with
 * that many open. Prints one JSON line: handshakes/s, latency p50/p99
 * (connect() to writable), errors.
 *
 * kclient --target IP:PORT[,...] --count N [--in-flight K] [--close rst|graceful]
 *         [--hold H] [--seconds T] [--timeout-ms MS] [--stay]
 *
 * With --stay it keeps its held connections after printing, until SIGTERM
 * or SIGINT: one process holds only as many as its open-files limit
 * allows, so several such holders make up a large H.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchutil.h"
#include "latency.h"

#define PROG "kclient"
#define IN_FLIGHT_MAX 65536u

struct slot {
	int fd;			/* -1 when free */
	uint64_t started_us;
};

static struct {
	struct endpoints targets;
	unsigned long count, in_flight, hold, seconds, timeout_ms;
	bool rst, stay;
} opt = { .in_flight = 256, .seconds = 60, .timeout_ms = 5000, .rst = true };

static struct {
	uint64_t started, ok, errors, timeouts;
	int *held;
	unsigned long nheld;
	struct latency *lat;
} run;

static void
usage(void)
{
	fprintf(stderr, "usage: " PROG " --target IP:PORT[,...] --count N [--in-flight K] "
	    "[--close rst|graceful] [--hold H] [--seconds T] [--timeout-ms MS] [--stay]\n");
	exit(2);
}

static void
parse_args(int argc, char **argv)
{
	bool have_target = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--stay")) {
			opt.stay = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (!strcmp(a, "--target")) {
			if (endpoints_parse(&opt.targets, v, PROG) != 0)
				exit(2);
			have_target = true;
		} else if (!strcmp(a, "--count")) {
			opt.count = arg_ulong(a, v, PROG);
		} else if (!strcmp(a, "--in-flight")) {
			opt.in_flight = arg_ulong(a, v, PROG);
		} else if (!strcmp(a, "--hold")) {
			opt.hold = arg_ulong(a, v, PROG);
		} else if (!strcmp(a, "--seconds")) {
			opt.seconds = arg_ulong(a, v, PROG);
		} else if (!strcmp(a, "--timeout-ms")) {
			opt.timeout_ms = arg_ulong(a, v, PROG);
		} else if (!strcmp(a, "--close")) {
			if (strcmp(v, "rst") && strcmp(v, "graceful"))
				usage();
			opt.rst = !strcmp(v, "rst");
		} else {
			usage();
		}
	}
	if (!have_target || opt.in_flight == 0 || opt.in_flight > IN_FLIGHT_MAX)
		usage();
}

/* Starts one non-blocking connect in s; false if the socket call failed. */
static bool
start_one(int ep, struct slot *s, uint64_t seq)
{
	const struct sockaddr_in *to = &opt.targets.addr[seq % opt.targets.n];
	struct epoll_event ev = { .events = EPOLLOUT };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	s->started_us = now_us();
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) != 0 && errno != EINPROGRESS) {
		close(fd);
		return false;
	}
	s->fd = fd;
	ev.data.ptr = s;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		close(fd);
		s->fd = -1;
		return false;
	}
	return true;
}

static void
close_as_asked(int fd)
{
	if (opt.rst) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(fd);
}

/* Ends the slot's connection: held, or closed as asked. */
static void
finish(int ep, struct slot *s, bool ok, bool holding)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
	if (ok && holding) {
		run.held[run.nheld++] = s->fd;
	} else if (ok) {
		latency_add(run.lat, now_us() - s->started_us);
		close_as_asked(s->fd);
	} else {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(s->fd);
	}
	if (ok)
		run.ok += !holding;
	else
		run.errors++;
	s->fd = -1;
}

/*
 * Runs `total` opens with at most in_flight outstanding, until `deadline`
 * stops new ones; holds them when `holding`. Returns the time it took.
 */
static uint64_t
phase(int ep, struct slot *slots, unsigned long total, bool holding, uint64_t deadline)
{
	struct epoll_event evs[256];
	uint64_t begun = now_us(), last_scan = begun, started = 0, busy = 0;
	uint64_t hard_end = deadline + opt.timeout_ms * 1000u;

	for (;;) {
		uint64_t now = now_us();

		for (unsigned long i = 0; i < opt.in_flight && started < total && now < deadline; i++) {
			if (slots[i].fd >= 0)
				continue;
			started++;
			if (start_one(ep, &slots[i], run.started++))
				busy++;
			else
				run.errors++;
		}
		if (busy == 0 && (started == total || now >= deadline))
			break;
		if (now >= hard_end)
			break;
		int n = epoll_wait(ep, evs, 256, 50);

		for (int i = 0; i < n; i++) {
			struct slot *s = evs[i].data.ptr;
			int err = 0;
			socklen_t len = sizeof(err);

			getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
			finish(ep, s, err == 0, holding);
			busy--;
		}
		now = now_us();
		if (now - last_scan >= 100000) {
			last_scan = now;
			for (unsigned long i = 0; i < opt.in_flight; i++) {
				if (slots[i].fd >= 0 &&
				    now - slots[i].started_us > opt.timeout_ms * 1000u) {
					run.timeouts++;
					finish(ep, &slots[i], false, holding);
					busy--;
				}
			}
		}
	}
	/* Past the hard end: whatever is left counts as timed out. */
	for (unsigned long i = 0; i < opt.in_flight; i++) {
		if (slots[i].fd >= 0) {
			run.timeouts++;
			finish(ep, &slots[i], false, holding);
		}
	}
	return now_us() - begun;
}

int
main(int argc, char **argv)
{
	struct slot *slots;
	uint64_t elapsed, hold_errors;
	int ep;

	parse_args(argc, argv);
	raise_nofile(opt.hold + opt.in_flight + 1024, PROG);
	slots = calloc(opt.in_flight, sizeof(*slots));
	run.held = calloc(opt.hold + 1, sizeof(int));
	run.lat = latency_new();
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (slots == NULL || run.held == NULL || run.lat == NULL || ep < 0) {
		fprintf(stderr, PROG ": out of memory or epoll\n");
		return 1;
	}
	for (unsigned long i = 0; i < opt.in_flight; i++)
		slots[i].fd = -1;

	phase(ep, slots, opt.hold, true, now_us() + opt.seconds * 1000000u);
	hold_errors = run.errors + run.timeouts;
	run.errors = run.timeouts = 0;
	elapsed = phase(ep, slots, opt.count, false, now_us() + opt.seconds * 1000000u);

	printf("{\"tool\":\"kclient\",\"close\":\"%s\",\"in_flight\":%lu,\"held\":%lu,"
	    "\"hold_errors\":%llu,\"count\":%lu,\"ok\":%llu,\"errors\":%llu,\"timeouts\":%llu,"
	    "\"elapsed_s\":%.6f,\"rate\":%.1f,\"p50_us\":%llu,\"p99_us\":%llu,\"max_us\":%llu}\n",
	    opt.rst ? "rst" : "graceful", opt.in_flight, run.nheld,
	    (unsigned long long)hold_errors, opt.count, (unsigned long long)run.ok,
	    (unsigned long long)run.errors, (unsigned long long)run.timeouts, elapsed / 1e6,
	    elapsed ? (double)run.ok * 1e6 / (double)elapsed : 0.0,
	    (unsigned long long)latency_pct(run.lat, 0.50),
	    (unsigned long long)latency_pct(run.lat, 0.99),
	    (unsigned long long)run.lat->max_us);
	fflush(stdout);
	if (opt.stay) {
		sigset_t set;
		int sig;

		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		sigprocmask(SIG_BLOCK, &set, NULL);
		sigwait(&set, &sig);
	}
	for (unsigned long i = 0; i < run.nheld; i++)
		close_as_asked(run.held[i]);
	close(ep);
	free(slots);
	free(run.held);
	free(run.lat);
	return 0;
}
