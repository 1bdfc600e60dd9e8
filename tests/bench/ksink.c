/*
 * ksink: the kernel peer of the benchmark. Listens on one or more
 * IP:PORTs, accepts every connection and holds it until the other side
 * closes or resets it, so connections stay ESTABLISHED for as long as the
 * client wants. Prints "ready" once listening; on SIGTERM or SIGINT prints
 * one JSON line with its counts and exits 0.
 *
 * ksink --listen IP:PORT[,...]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchutil.h"

#define PROG "ksink"
#define BACKLOG 65535

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

int
main(int argc, char **argv)
{
	struct endpoints eps;
	struct epoll_event evs[512];
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned long long accepted = 0, closed = 0, live = 0, peak = 0;
	int lfds[ENDPOINTS_MAX];
	int ep;

	if (argc != 3 || strcmp(argv[1], "--listen") != 0) {
		fprintf(stderr, "usage: " PROG " --listen IP:PORT[,...]\n");
		return 2;
	}
	if (endpoints_parse(&eps, argv[2], PROG) != 0)
		return 2;
	raise_nofile(1u << 20, PROG);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return 1;
	for (size_t i = 0; i < eps.n; i++) {
		int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		/* A listener's tag is its index; a connection's is its fd + 1 << 32. */
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = i };

		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
		    bind(fd, (const struct sockaddr *)&eps.addr[i], sizeof(eps.addr[i])) != 0 ||
		    listen(fd, BACKLOG) != 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			fprintf(stderr, PROG ": listen on endpoint %zu: %s\n", i + 1, strerror(errno));
			return 1;
		}
		lfds[i] = fd;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stopping) {
		int n = epoll_wait(ep, evs, 512, 200);

		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag < eps.n) {
				int lfd = lfds[tag];

				for (int k = 0; k < 64; k++) {
					int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };

					if (fd < 0)
						break;
					ev.data.u64 = (uint64_t)fd + (1ull << 32);
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
						close(fd);
						continue;
					}
					accepted++;
					if (++live > peak)
						peak = live;
				}
			} else {
				int fd = (int)(tag - (1ull << 32));
				char buf[4096];
				ssize_t got = read(fd, buf, sizeof(buf));

				/* Data is read and dropped; end of stream or an error closes. */
				if (got <= 0 && !(got < 0 && errno == EAGAIN)) {
					close(fd);
					closed++;
					live--;
				}
			}
		}
	}
	printf("{\"tool\":\"ksink\",\"accepted\":%llu,\"closed\":%llu,\"live\":%llu,\"peak\":%llu}\n",
	    accepted, closed, live, peak);
	return 0;
}
