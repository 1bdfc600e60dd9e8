/*
 * log: leveled messages on stderr, in the style of OpenBSD's log.c.
 * log_warn and fatal append strerror(errno); the x variants do not.
 *
 * Lines read "lwipd: level: message", or "<N>message" with the sd-daemon(3)
 * priority N when stderr is connected to the journal, which then records
 * the priority and adds the name itself.
 */
#ifndef LWIPD_LOG_H
#define LWIPD_LOG_H

#include <stdnoreturn.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

/*
 * Picks the line format: the journal's when $JOURNAL_STREAM names the
 * device and inode that stderr is open on, the plain one otherwise.
 * Call it before any thread logs.
 */
void log_init(void);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "error", "warn", "info" or "debug". Returns 0 or -EINVAL. */
int log_level_parse(const char *name, enum log_level *out);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
