#include "notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

/* Written once by notify_init() before any thread starts, then only read. */
static struct sockaddr_un notify_addr;
static socklen_t notify_addr_len;	/* 0: notifying is off */
static uint64_t watchdog_usec;

/* A whole decimal number, no sign or spaces, that fits in 64 bits. */
static int
parse_u64(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long value;

	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = value;
	return 0;
}

/* "/path" names a socket in the file system, "@name" one in the abstract namespace. */
static int
set_address(const char *name)
{
	size_t len = strlen(name);

	if ((name[0] != '/' && name[0] != '@') || len < 2 || len >= sizeof(notify_addr.sun_path))
		return -EINVAL;
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, name, len);
	if (name[0] == '@')
		notify_addr.sun_path[0] = '\0';
	notify_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	return 0;
}

static int
set_watchdog(const char *usec_text, const char *pid_text)
{
	uint64_t usec, pid;

	if (usec_text == NULL)
		return 0;
	if (parse_u64(usec_text, &usec) < 0 || usec == 0)
		return -EINVAL;
	if (pid_text != NULL) {
		if (parse_u64(pid_text, &pid) < 0)
			return -EINVAL;
		/* The manager meant another process, e.g. the parent that forked this one. */
		if (pid != (uint64_t)getpid())
			return 0;
	}
	watchdog_usec = usec;
	return 0;
}

int
notify_init(void)
{
	const char *socket_name = getenv("NOTIFY_SOCKET");
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");

	notify_addr_len = 0;
	watchdog_usec = 0;
	if (socket_name == NULL)
		return 0;
	if (set_address(socket_name) < 0) {
		log_warnx("NOTIFY_SOCKET: '%.120s' is not an absolute path or @abstract name", socket_name);
		return -EINVAL;
	}
	if (set_watchdog(usec, pid) < 0) {
		log_warnx("WATCHDOG_USEC or WATCHDOG_PID is not a positive decimal number");
		notify_addr_len = 0;
		return -EINVAL;
	}
	return 0;
}

bool
notify_enabled(void)
{
	return notify_addr_len != 0;
}

uint64_t
notify_watchdog_usec(void)
{
	return notify_enabled() ? watchdog_usec : 0;
}

int
notify_send(const char *message)
{
	size_t len = strlen(message);
	ssize_t sent;
	int fd, rc = 0;

	if (!notify_enabled())
		return 0;
	if (len > NOTIFY_MESSAGE_MAX)
		return -EMSGSIZE;
	/* A socket per message keeps no state between threads; messages are rare. */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(fd, message, len, MSG_NOSIGNAL, (const struct sockaddr *)&notify_addr,
	    notify_addr_len);
	if (sent < 0)
		rc = -errno;
	else if ((size_t)sent != len)
		rc = -EMSGSIZE;
	close(fd);
	return rc;
}

int
notify_sendf(const char *fmt, ...)
{
	char message[NOTIFY_MESSAGE_MAX + 1];
	va_list ap;
	int len;

	if (!notify_enabled())
		return 0;
	va_start(ap, fmt);
	len = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(message))
		return -EMSGSIZE;
	return notify_send(message);
}
