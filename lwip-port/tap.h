/*
 * tap: opens a Linux TAP device, optionally inside another network namespace.
 * Plain Linux; no lwIP.
 */
#ifndef LWIPD_TAP_H
#define LWIPD_TAP_H

#include <stdbool.h>
#include <stdint.h>

struct tap_device {
	int fd;			/* non-blocking; frames without packet information */
	char name[16];
	uint32_t mtu;
	bool created;		/* false when an existing device was attached */
};

/*
 * Attaches to the TAP device `name`, creating it if missing, and brings its
 * link up. With a non-empty `netns`, does so inside /run/netns/<netns>; the
 * calling thread returns to its own namespace before this returns.
 * Must run before other threads start. Returns 0 or a negative errno, and
 * logs the reason.
 */
int tap_open(const char *name, const char *netns, struct tap_device *out);

/* Closes the device. Accepts a device that failed to open. */
void tap_close(struct tap_device *tap);

#endif
