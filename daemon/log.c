#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static enum log_level current_level = LOG_LEVEL_INFO;
static bool to_journal;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

/* sd-daemon(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO and LOG_DEBUG. */
static const int level_priorities[] = {
	[LOG_LEVEL_ERROR] = 3,
	[LOG_LEVEL_WARN] = 4,
	[LOG_LEVEL_INFO] = 6,
	[LOG_LEVEL_DEBUG] = 7,
};

/*
 * systemd sets JOURNAL_STREAM to "DEVICE:INODE" of the stream it connects;
 * a child whose stderr was redirected inherits the variable, hence the check.
 */
void
log_init(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	uint64_t dev, ino;
	struct stat st;
	int end = 0;

	to_journal = false;
	if (stream == NULL || fstat(STDERR_FILENO, &st) < 0)
		return;
	if (sscanf(stream, "%" SCNu64 ":%" SCNu64 "%n", &dev, &ino, &end) != 2 ||
	    stream[end] != '\0')
		return;
	to_journal = dev == (uint64_t)st.st_dev && ino == (uint64_t)st.st_ino;
}

void
log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level
log_get_level(void)
{
	return current_level;
}

int
log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* One fprintf per line so that lines from different threads never interleave. */
static void
log_emit(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char prefix[32], message[1024];

	if (level > current_level)
		return;
	vsnprintf(message, sizeof(message), fmt, ap);
	if (to_journal)
		snprintf(prefix, sizeof(prefix), "<%d>", level_priorities[level]);
	else
		snprintf(prefix, sizeof(prefix), "lwipd: %s: ", level_names[level]);
	if (errnum != 0)
		fprintf(stderr, "%s%s: %s\n", prefix, message, strerror(errnum));
	else
		fprintf(stderr, "%s%s\n", prefix, message);
}

void
log_warn(const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, errnum, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, errnum, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
