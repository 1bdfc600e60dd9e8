/*
 * capture_live: the live pcapng stream of GET /v1/capture.
 */
#ifndef LWIPD_CAPTURE_LIVE_H
#define LWIPD_CAPTURE_LIVE_H

#include <stdint.h>

#include <microhttpd.h>

#include "engine.h"

/*
 * A response streaming every frame on interface ifname (described as
 * description), or only connection conn_id's (0: all), as pcapng; a frame
 * of that connection's segments carries the same comment as in its
 * capture file. Returns 0 with *out set, or -ENOENT (no such connection),
 * -ENOBUFS (as many readers as the engine allows), -ENOMEM or -ESHUTDOWN.
 */
int capture_live_response(struct engine *engine, struct MHD_Connection *connection,
    const char *ifname, const char *description, uint64_t conn_id, struct MHD_Response **out);

#endif
