/*
 * stream_pump: the suspend-and-wake content reader shared by the event
 * stream (sse.c) and the live capture (capture_live.c).
 *
 * DESIGN
 *
 * The reader never waits: when the owner has nothing, it suspends its
 * request and returns 0, which libmicrohttpd allows only for a suspended
 * request; the owner's wake resumes it. A wake can come from any thread
 * between the refill that found nothing and the suspend, and resuming a
 * request that is not suspended is not allowed; so both sides meet under
 * the owner's lock: the reader suspends only when no wake came meanwhile
 * (woken), and the wake resumes only a request marked suspended.
 */
#include <string.h>

#include "stream_pump.h"

void
stream_pump_wake(struct stream_pump *pump)
{
	if (pump->suspended) {
		pump->suspended = false;
		pump->resumed = true;
		MHD_resume_connection(pump->connection);
	} else {
		pump->woken = true;
	}
}

/* Whether a wake resumed the request since the last call. */
static bool
take_resumed(struct stream_pump *pump)
{
	bool resumed;

	pump->ops->lock(pump->owner);
	resumed = pump->resumed;
	pump->resumed = false;
	pump->ops->unlock(pump->owner);
	return resumed;
}

/*
 * Suspends the request until the next wake. Returns 1 when suspended, 0
 * when a wake came meanwhile (read again), or -1 when the owner stops.
 */
static int
suspend(struct stream_pump *pump)
{
	int rc = 1;

	pump->ops->lock(pump->owner);
	if (pump->ops->stopping != NULL && pump->ops->stopping(pump->owner)) {
		rc = -1;
	} else if (pump->woken) {
		pump->woken = false;
		rc = 0;
	} else {
		pump->suspended = true;
		MHD_suspend_connection(pump->connection);
	}
	pump->ops->unlock(pump->owner);
	return rc;
}

ssize_t
stream_pump_read(struct stream_pump *pump, char *buf, size_t max)
{
	size_t n;
	int rc;

	while (pump->sent == pump->len) {
		rc = pump->ops->fill(pump->owner);
		if (rc < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (rc > 0)
			continue;	/* all filtered out: the owner's wake comes only once it is drained */
		if (pump->ops->heartbeat != NULL && take_resumed(pump)) {
			pump->ops->heartbeat(pump->owner);
			continue;
		}
		rc = suspend(pump);
		if (rc < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (rc == 1)
			return 0;
	}
	n = pump->len - pump->sent;
	if (n > max)
		n = max;
	memcpy(buf, (const char *)pump->data + pump->sent, n);
	pump->sent += n;
	return (ssize_t)n;
}
