/*
 * stream_pump: the content reader of a response that streams for as long
 * as its client stays (the event stream, the live capture): it hands out
 * the owner's buffered bytes, asks the owner to refill the buffer, and
 * suspends the request while there is nothing, until a wake resumes it.
 */
#ifndef LWIPD_STREAM_PUMP_H
#define LWIPD_STREAM_PUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <microhttpd.h>

/* What a pump asks of the stream that owns it. */
struct stream_pump_ops {
	/*
	 * Refills the buffer, setting len and sent: returns how many items it
	 * read (0: none yet), or a negative errno to end the stream. It may
	 * read items and keep none (a filter), and is then asked again.
	 */
	int (*fill)(void *owner);
	/* The lock that wake and suspend meet under (lockorder.h). */
	void (*lock)(void *owner);
	void (*unlock)(void *owner);
	/* With the lock held: whether the stream ends rather than suspend. NULL: never. */
	bool (*stopping)(void *owner);
	/*
	 * A wake resumed the request and fill found nothing: puts a message
	 * in the buffer (a heartbeat, which shows whether the client is still
	 * there). NULL: suspend again.
	 */
	void (*heartbeat)(void *owner);
};

struct stream_pump {
	const struct stream_pump_ops *ops;
	void *owner;
	struct MHD_Connection *connection;
	const void *data;	/* the owner's buffer */
	size_t len;		/* bytes in data */
	size_t sent;		/* of which libmicrohttpd has taken these */
	/* Under the owner's lock: */
	bool suspended;		/* the reader suspended the request; a wake resumes it */
	bool woken;		/* a wake came while not suspended */
	bool resumed;		/* a wake resumed it; nothing read since */
};

/*
 * With the owner's lock held, from any thread: resumes the request if the
 * reader suspended it, or else tells the reader not to suspend.
 */
void stream_pump_wake(struct stream_pump *pump);

/*
 * libmicrohttpd's content reader, for the owner's to call: returns bytes
 * copied into buf, 0 with the request suspended, or the end of the stream.
 */
ssize_t stream_pump_read(struct stream_pump *pump, char *buf, size_t max);

#endif
