/*
 * notify: the service manager's notification protocol (sd_notify(3)),
 * spoken directly: one AF_UNIX datagram of "KEY=VALUE" lines to
 * $NOTIFY_SOCKET. Without that variable every call is a no-op.
 *
 * Sending never blocks, so the lwIP core thread can send the watchdog
 * pings itself; a datagram the manager cannot take at once is dropped.
 */
#ifndef LWIPD_NOTIFY_H
#define LWIPD_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#define NOTIFY_MESSAGE_MAX 1024

/*
 * Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. Call it before any
 * thread starts; the other functions only read what it stored.
 * Returns 0, or -EINVAL (logged) when a variable is malformed; notifying
 * is then off.
 */
int notify_init(void);

/* True when NOTIFY_SOCKET names a socket to notify. */
bool notify_enabled(void);

/*
 * The watchdog timeout the manager expects pings within, in microseconds;
 * 0 when it set none or set it for another process (WATCHDOG_PID).
 */
uint64_t notify_watchdog_usec(void);

/*
 * Sends one message, such as "READY=1" or "READY=1\nSTATUS=Serving".
 * Returns 0 (also when notifying is off), -EMSGSIZE, or the negative errno
 * of the failed send.
 */
int notify_send(const char *message);

/* As notify_send(), with the message built by printf-style formatting. */
int notify_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
