/*
 * peertrace: see peertrace.h.
 *
 * DESIGN
 *
 * The tracepoint is not per network namespace, so the instance's filter
 * keeps IPv4 TCP sockets whose remote end (daddr) is lwIP's address, and
 * the reader matches each line by its exact 4-tuple to a tracked
 * connection: the kernel's side is the remote one (sport/saddr the
 * connection's remote end). The filter compares the four bytes of daddr
 * as one u32 as they lie in memory, which is how an address in network
 * byte order lies in a uint32_t too. A connecting socket's first line (CLOSE -> SYN_SENT) comes
 * before its port is bound, with sport 0, and before lwIP has a
 * connection for it; the reader keeps the latest few such lines, and the
 * first line of a connection to the same local port brings it in first.
 * Transitions are recorded under the core lock, as the kernel names them
 * (mapped to RFC 9293's names): a kernel CLOSE after FIN_WAIT_2 or CLOSING
 * is its TIME_WAIT, which the tracepoint does not show (README "The
 * peer's state").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_internal.h"
#include "log.h"
#include "peertrace.h"

#define PEERTRACE_EVENT "events/sock/inet_sock_set_state"
#define PEERTRACE_PATH_MAX 128
#define PEERTRACE_LINE_MAX 512
/* Connecting sockets' first lines kept until their connection shows up. */
#define PEERTRACE_PENDING 8

static const struct {
	const char *kernel;
	enum tcpinfo_state state;
} state_names[] = {
	{ "TCP_ESTABLISHED", TCPINFO_ESTABLISHED }, { "TCP_SYN_SENT", TCPINFO_SYN_SENT },
	{ "TCP_SYN_RECV", TCPINFO_SYN_RCVD }, { "TCP_FIN_WAIT1", TCPINFO_FIN_WAIT_1 },
	{ "TCP_FIN_WAIT2", TCPINFO_FIN_WAIT_2 }, { "TCP_TIME_WAIT", TCPINFO_TIME_WAIT },
	{ "TCP_CLOSE", TCPINFO_CLOSED }, { "TCP_CLOSE_WAIT", TCPINFO_CLOSE_WAIT },
	{ "TCP_LAST_ACK", TCPINFO_LAST_ACK }, { "TCP_LISTEN", TCPINFO_LISTEN },
	{ "TCP_CLOSING", TCPINFO_CLOSING },
};

struct peertrace {
	char dir[PEERTRACE_PATH_MAX];	/* the instance */
	int pipe_fd;
	int stop_fds[2];
	pthread_t thread;
	struct peertrace_line pending[PEERTRACE_PENDING];
	uint64_t pending_at[PEERTRACE_PENDING];
	size_t pending_next;
};

/* The value after "name=" in line, copied into buf; false when absent. */
static bool
field(const char *line, const char *name, char *buf, size_t len)
{
	size_t name_len = strlen(name), n;
	const char *p = line;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == line || p[-1] == ' ') && p[name_len] == '=')
			break;
		p += name_len;
	}
	if (p == NULL)
		return false;
	p += name_len + 1;
	n = strcspn(p, " \n");
	if (n == 0 || n >= len)
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return true;
}

static int
state_of(const char *name, enum tcpinfo_state *out)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (strcmp(name, state_names[i].kernel) == 0) {
			*out = state_names[i].state;
			return 0;
		}
	}
	return -EINVAL;
}

static int
port_of(const char *text, uint16_t *out)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (*end != '\0' || v > UINT16_MAX)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int
peertrace_parse(const char *line, struct peertrace_line *out)
{
	char v[6][INET_ADDRSTRLEN + 16];
	struct peertrace_line l;

	if (strstr(line, "inet_sock_set_state:") == NULL ||
	    !field(line, "family", v[0], sizeof(v[0])) || strcmp(v[0], "AF_INET") != 0 ||
	    !field(line, "protocol", v[0], sizeof(v[0])) || strcmp(v[0], "IPPROTO_TCP") != 0)
		return -EINVAL;
	if (!field(line, "sport", v[0], sizeof(v[0])) || !field(line, "dport", v[1], sizeof(v[1])) ||
	    !field(line, "saddr", v[2], sizeof(v[2])) || !field(line, "daddr", v[3], sizeof(v[3])) ||
	    !field(line, "oldstate", v[4], sizeof(v[4])) ||
	    !field(line, "newstate", v[5], sizeof(v[5])))
		return -EINVAL;
	if (port_of(v[0], &l.sport) != 0 || port_of(v[1], &l.dport) != 0 ||
	    inet_pton(AF_INET, v[2], &l.saddr) != 1 || inet_pton(AF_INET, v[3], &l.daddr) != 1 ||
	    state_of(v[4], &l.from) != 0 || state_of(v[5], &l.to) != 0)
		return -EINVAL;
	*out = l;
	return 0;
}

/* The connection whose remote end the line's kernel socket is. Core lock held. */
static struct conn *
conn_of_line(struct engine *engine, const struct peertrace_line *l)
{
	struct conntable_entry *entry;

	for (entry = conntable_first(engine->table); entry != NULL; entry = conntable_next(entry)) {
		if (entry->local.ip == l->daddr && entry->local.port == l->dport &&
		    entry->remote.ip == l->saddr && entry->remote.port == l->sport)
			return conn_of(entry);
	}
	return NULL;
}

/*
 * Allocates the history on its first transition: most connections never
 * get one. A CLOSE after FIN_WAIT_2 or CLOSING is recorded as the
 * TIME_WAIT it stands for.
 */
static void
append(struct conn *conn, enum tcpinfo_state from, enum tcpinfo_state to, uint64_t at_us)
{
	if (to == TCPINFO_CLOSED && (from == TCPINFO_FIN_WAIT_2 || from == TCPINFO_CLOSING))
		to = TCPINFO_TIME_WAIT;
	if (conn->kernel == NULL)
		conn->kernel = calloc(1, sizeof(*conn->kernel));
	if (conn->kernel == NULL || conn->kernel->len == ENGINE_KERNEL_HISTORY_MAX)
		return;
	conn->kernel->entries[conn->kernel->len++] = (struct engine_kernel_transition){
		.from = from, .to = to, .at_us = at_us,
	};
}

/* Records one line, under the core lock. */
static void
record(struct engine *engine, struct peertrace *pt, const struct peertrace_line *l)
{
	uint64_t now = engine_now_us(engine);
	struct conn *conn;

	if (l->sport == 0 && l->to == TCPINFO_SYN_SENT) {
		pt->pending[pt->pending_next] = *l;
		pt->pending_at[pt->pending_next] = now;
		pt->pending_next = (pt->pending_next + 1) % PEERTRACE_PENDING;
		return;
	}
	conn = conn_of_line(engine, l);
	if (conn == NULL)
		return;
	if (conn->kernel == NULL && l->from == TCPINFO_SYN_SENT) {
		for (size_t i = 0; i < PEERTRACE_PENDING; i++) {
			struct peertrace_line *p = &pt->pending[i];

			if (p->to == TCPINFO_SYN_SENT && p->daddr == l->daddr && p->dport == l->dport &&
			    (p->saddr == l->saddr || p->saddr == 0)) {
				append(conn, p->from, p->to, pt->pending_at[i]);
				p->to = TCPINFO_CLOSED;	/* used */
				break;
			}
		}
	}
	append(conn, l->from, l->to, now);
}

static void *
reader_main(void *arg)
{
	struct engine *engine = arg;
	struct peertrace *pt = engine->peertrace;
	char buf[PEERTRACE_LINE_MAX * 8];
	size_t used = 0;
	struct pollfd fds[2] = {
		{ .fd = pt->pipe_fd, .events = POLLIN },
		{ .fd = pt->stop_fds[0], .events = POLLIN },
	};

	for (;;) {
		struct peertrace_line l;
		char *nl, *line;
		ssize_t n;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents)
			break;
		n = read(pt->pipe_fd, buf + used, sizeof(buf) - 1 - used);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
		line = buf;
		engine_lock();
		while ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			if (peertrace_parse(line, &l) == 0)
				record(engine, pt, &l);
			line = nl + 1;
		}
		engine_unlock();
		used -= (size_t)(line - buf);
		memmove(buf, line, used);
		/* A line longer than the buffer is no tracepoint line: drop it. */
		if (used == sizeof(buf) - 1)
			used = 0;
	}
	return NULL;
}

char *
peertrace_filter(uint32_t address, char *buf, size_t len)
{
	snprintf(buf, len, "family == 2 && protocol == 6 && daddr == 0x%08x", (unsigned int)address);
	return buf;
}

static int
write_file(const char *dir, const char *rel, const char *text)
{
	char path[PEERTRACE_PATH_MAX * 2];
	ssize_t n;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	if (n != (ssize_t)strlen(text))
		rc = n < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}

int
peertrace_start(struct engine *engine)
{
	char path[PEERTRACE_PATH_MAX * 2], filter[PEERTRACE_FILTER_MAX];
	struct peertrace *pt;
	int rc;

	pt = calloc(1, sizeof(*pt));
	if (pt == NULL)
		return -ENOMEM;
	pt->pipe_fd = -1;
	pt->stop_fds[0] = pt->stop_fds[1] = -1;
	snprintf(pt->dir, sizeof(pt->dir), PEERTRACE_TRACEFS "/instances/lwipd-%ld", (long)getpid());
	if (mkdir(pt->dir, 0700) < 0) {
		rc = -errno;
		log_warnx("--peer-trace: cannot create %s (%s): the peer's state stays inferred",
		    pt->dir, strerror(-rc));
		goto free_pt;
	}
	rc = write_file(pt->dir, PEERTRACE_EVENT "/filter",
	    peertrace_filter(engine->cfg.address, filter, sizeof(filter)));
	if (rc == 0)
		rc = write_file(pt->dir, PEERTRACE_EVENT "/enable", "1");
	if (rc != 0) {
		log_warnx("--peer-trace: cannot enable sock:inet_sock_set_state (%s): the peer's "
		    "state stays inferred", strerror(-rc));
		goto remove_dir;
	}
	snprintf(path, sizeof(path), "%s/trace_pipe", pt->dir);
	pt->pipe_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (pt->pipe_fd < 0 || pipe2(pt->stop_fds, O_CLOEXEC) < 0) {
		rc = -errno;
		goto disable;
	}
	engine->peertrace = pt;
	rc = -pthread_create(&pt->thread, NULL, reader_main, engine);
	if (rc != 0) {
		engine->peertrace = NULL;
		goto disable;
	}
	log_info("--peer-trace: reading the kernel's TCP states through %s", pt->dir);
	return 0;
disable:
	log_warnx("--peer-trace: cannot read the trace (%s): the peer's state stays inferred",
	    strerror(-rc));
	write_file(pt->dir, PEERTRACE_EVENT "/enable", "0");
remove_dir:
	if (pt->pipe_fd >= 0)
		close(pt->pipe_fd);
	if (pt->stop_fds[0] >= 0) {
		close(pt->stop_fds[0]);
		close(pt->stop_fds[1]);
	}
	rmdir(pt->dir);
free_pt:
	free(pt);
	return rc;
}

void
peertrace_stop(struct engine *engine)
{
	struct peertrace *pt = engine->peertrace;

	if (pt == NULL)
		return;
	if (write(pt->stop_fds[1], "x", 1) != 1)
		log_warn("--peer-trace: cannot stop the reader");
	pthread_join(pt->thread, NULL);
	close(pt->pipe_fd);
	close(pt->stop_fds[0]);
	close(pt->stop_fds[1]);
	write_file(pt->dir, PEERTRACE_EVENT "/enable", "0");
	if (rmdir(pt->dir) < 0)
		log_warn("--peer-trace: cannot remove %s", pt->dir);
	engine->peertrace = NULL;
	free(pt);
}
