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

/* A comment's longest text: four state names, a step, a fault and a drop. */
#define CAPTURE_COMMENT_MAX 192

/*
 * Writes a segment event's comment into buf, len bytes (cut when short):
 * "lwIP ESTABLISHED -> FIN_WAIT_1, peer ESTABLISHED -> ESTABLISHED,
 * step teardown-1", then ", fault drop rule 3" and ", RFC 9293 drop
 * no-ack" when either applies.
 */
void capture_comment(const struct engine_event *event, char *buf, size_t len);

/* The application every capture names in its section header (shb_userappl). */
#define CAPTURE_APPLICATION "lwipd " LWIPD_VERSION
/* Long enough for any capture_describe() text. */
#define CAPTURE_DESCRIPTION_MAX 160

/*
 * Writes the interface's if_description into buf: "lwipd 10.9.0.2/24 on
 * tap0", then, when conn is not NULL, ", connection 1: 10.9.0.2:61006 <->
 * 10.9.0.1:7000".
 */
void capture_describe(const struct engine_iface_view *iface, const struct engine_conn_view *conn,
    char *buf, size_t len);

/*
 * The pcapng file of a timeline copied by engine_capture(): one packet per
 * segment event that kept its frame, on interface iface. *out is malloc'd,
 * *len its length. Returns 0, -EINVAL or -ENOMEM.
 */
int capture_file(const struct engine_timeline *timeline, const struct engine_iface_view *iface,
    uint8_t **out, size_t *len);

#endif
