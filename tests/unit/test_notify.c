/*
 * The notification protocol against sockets bound here: what arrives, the
 * file system and abstract socket names, the watchdog variables, and that a
 * full socket makes sending fail rather than block.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "notify.h"

struct receiver {
	int fd;
	char path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
};

/* Binds a datagram socket and points NOTIFY_SOCKET at it; abstract: in the abstract namespace. */
static void
receiver_start(struct receiver *r, bool abstract)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	socklen_t len;

	r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(r->fd >= 0);
	if (abstract) {
		snprintf(r->path, sizeof(r->path), "@lwipd-test-notify-%d", (int)getpid());
		memcpy(addr.sun_path, r->path, strlen(r->path));
		addr.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(r->path));
	} else {
		snprintf(r->path, sizeof(r->path), "/tmp/lwipd-test-notify-%d", (int)getpid());
		unlink(r->path);
		strcpy(addr.sun_path, r->path);
		len = sizeof(addr);
	}
	assert_int_equal(bind(r->fd, (struct sockaddr *)&addr, len), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", r->path, 1), 0);
}

static void
receiver_stop(struct receiver *r)
{
	close(r->fd);
	if (r->path[0] == '/')
		unlink(r->path);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* The next datagram, or "" when none is waiting. */
static void
receive(struct receiver *r, char *buf, size_t size)
{
	ssize_t n = recv(r->fd, buf, size - 1, MSG_DONTWAIT);

	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		n = 0;
	}
	buf[n] = '\0';
}

static void
no_socket_means_no_op(void **unused)
{
	(void)unused;
	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "1000000", 1);
	assert_int_equal(notify_init(), 0);
	assert_false(notify_enabled());
	assert_int_equal(notify_watchdog_usec(), 0);
	assert_int_equal(notify_send("READY=1"), 0);
	assert_int_equal(notify_sendf("STATUS=%d", 1), 0);
	unsetenv("WATCHDOG_USEC");
}

static void
sends_to_a_path(void **unused)
{
	struct receiver r;
	char buf[2048];

	(void)unused;
	receiver_start(&r, false);
	assert_int_equal(notify_init(), 0);
	assert_true(notify_enabled());
	assert_int_equal(notify_send("READY=1\nSTATUS=tap0 10.9.0.2/24: 0 live connections"), 0);
	assert_int_equal(notify_sendf("STATUS=%s: %zu live connections", "tap0", (size_t)3), 0);
	assert_int_equal(notify_send("STOPPING=1"), 0);
	receive(&r, buf, sizeof(buf));
	assert_string_equal(buf, "READY=1\nSTATUS=tap0 10.9.0.2/24: 0 live connections");
	receive(&r, buf, sizeof(buf));
	assert_string_equal(buf, "STATUS=tap0: 3 live connections");
	receive(&r, buf, sizeof(buf));
	assert_string_equal(buf, "STOPPING=1");
	receiver_stop(&r);
}

static void
sends_to_an_abstract_name(void **unused)
{
	struct receiver r;
	char buf[64];

	(void)unused;
	receiver_start(&r, true);
	assert_int_equal(notify_init(), 0);
	assert_int_equal(notify_send("WATCHDOG=1"), 0);
	receive(&r, buf, sizeof(buf));
	assert_string_equal(buf, "WATCHDOG=1");
	receiver_stop(&r);
}

static void
bad_socket_names_turn_notifying_off(void **unused)
{
	char too_long[200];
	const char *const names[] = { "", "relative/path", "@", "/", too_long };

	(void)unused;
	memset(too_long, 'a', sizeof(too_long) - 1);
	too_long[0] = '/';
	too_long[sizeof(too_long) - 1] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		setenv("NOTIFY_SOCKET", names[i], 1);
		assert_int_equal(notify_init(), -EINVAL);
		assert_false(notify_enabled());
		assert_int_equal(notify_send("READY=1"), 0);
	}
	unsetenv("NOTIFY_SOCKET");
}

static void
watchdog_variables(void **unused)
{
	static const char *const bad[] = { "", "0", "-5", "+5", " 5", "5s", "abc",
	    "99999999999999999999999" };
	struct receiver r;
	char pid[32];

	(void)unused;
	receiver_start(&r, false);
	assert_int_equal(notify_init(), 0);
	assert_int_equal(notify_watchdog_usec(), 0);

	setenv("WATCHDOG_USEC", "2000000", 1);
	assert_int_equal(notify_init(), 0);
	assert_int_equal(notify_watchdog_usec(), 2000000);

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify_init(), 0);
	assert_int_equal(notify_watchdog_usec(), 2000000);

	/* Meant for another process: not an error, but no watchdog here. */
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify_init(), 0);
	assert_true(notify_enabled());
	assert_int_equal(notify_watchdog_usec(), 0);

	setenv("WATCHDOG_PID", "x", 1);
	assert_int_equal(notify_init(), -EINVAL);
	unsetenv("WATCHDOG_PID");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("WATCHDOG_USEC", bad[i], 1);
		assert_int_equal(notify_init(), -EINVAL);
		assert_false(notify_enabled());
		assert_int_equal(notify_watchdog_usec(), 0);
	}
	receiver_stop(&r);
}

static void
long_messages_are_refused_whole(void **unused)
{
	struct receiver r;
	char message[NOTIFY_MESSAGE_MAX + 2];
	char buf[NOTIFY_MESSAGE_MAX + 2];

	(void)unused;
	receiver_start(&r, false);
	assert_int_equal(notify_init(), 0);
	memset(message, 'x', sizeof(message) - 1);
	message[sizeof(message) - 1] = '\0';
	assert_int_equal(notify_send(message), -EMSGSIZE);
	assert_int_equal(notify_sendf("STATUS=%s", message), -EMSGSIZE);
	receive(&r, buf, sizeof(buf));
	assert_string_equal(buf, "");

	message[NOTIFY_MESSAGE_MAX] = '\0';
	assert_int_equal(notify_send(message), 0);
	receive(&r, buf, sizeof(buf));
	assert_string_equal(buf, message);
	receiver_stop(&r);
}

static void
send_errors_are_returned(void **unused)
{
	(void)unused;
	setenv("NOTIFY_SOCKET", "/nonexistent/lwipd-test-notify", 1);
	assert_int_equal(notify_init(), 0);
	assert_int_equal(notify_send("READY=1"), -ENOENT);
	unsetenv("NOTIFY_SOCKET");
}

/*
 * The core thread sends the watchdog pings, so a manager that stops reading
 * must not stall it. The alarm turns a blocking send into a failure.
 */
static void
full_socket_does_not_block(void **unused)
{
	struct receiver r;
	int rc = 0;

	(void)unused;
	receiver_start(&r, false);
	assert_int_equal(notify_init(), 0);
	alarm(60);
	for (int i = 0; i < 1000000 && rc == 0; i++)
		rc = notify_send("WATCHDOG=1");
	alarm(0);
	assert_int_equal(rc, -EAGAIN);
	receiver_stop(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_socket_means_no_op),
		cmocka_unit_test(sends_to_a_path),
		cmocka_unit_test(sends_to_an_abstract_name),
		cmocka_unit_test(bad_socket_names_turn_notifying_off),
		cmocka_unit_test(watchdog_variables),
		cmocka_unit_test(long_messages_are_refused_whole),
		cmocka_unit_test(send_errors_are_returned),
		cmocka_unit_test(full_socket_does_not_block),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
