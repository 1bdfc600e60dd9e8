#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lockorder.h"
#include "unit_helpers.h"

static void
in_order_is_allowed(void **unused)
{
	(void)unused;
	lockorder_acquire(LOCKORDER_CORE);
	lockorder_acquire(LOCKORDER_SSE_HUB);
	lockorder_release(LOCKORDER_SSE_HUB);
	lockorder_release(LOCKORDER_CORE);
	/* The core lock again after the hub's is released. */
	lockorder_acquire(LOCKORDER_SSE_HUB);
	lockorder_release(LOCKORDER_SSE_HUB);
	lockorder_acquire(LOCKORDER_CORE);
	lockorder_release(LOCKORDER_CORE);
}

static void
against_the_order_aborts(void **unused)
{
	pid_t pid;
	int status;

	(void)unused;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Quiet the assertion's message: the abort is what is tested. */
		close(STDERR_FILENO);
		lockorder_acquire(LOCKORDER_SSE_HUB);
		lockorder_acquire(LOCKORDER_CORE);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(in_order_is_allowed),
		cmocka_unit_test(against_the_order_aborts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
