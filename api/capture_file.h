/*
 * capture_file: a connection's timeline as a pcapng file for Wireshark,
 * each packet commented with the stack's view of it. Pure: no locks, no
 * HTTP.
 */
#ifndef LWIPD_CAPTURE_FILE_H
#define LWIPD_CAPTURE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/*
 * Writes a segment event's comment into buf, len bytes (cut when short):
 * "lwIP ESTABLISHED -> FIN_WAIT_1, peer ESTABLISHED -> ESTABLISHED,
 * step teardown-1", then ", fault drop rule 3" and ", RFC 9293 drop
 * no-ack" when either applies.
 */
void capture_comment(const struct engine_event *event, char *buf, size_t len);

/*
 * The pcapng file of a timeline copied by engine_capture(): one packet per
 * segment event that kept its frame, on interface ifname. *out is malloc'd,
 * *len its length. Returns 0, -EINVAL or -ENOMEM.
 */
int capture_file(const struct engine_timeline *timeline, const char *ifname, uint8_t **out,
    size_t *len);

#endif
