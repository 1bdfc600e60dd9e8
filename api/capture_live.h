/*
 * capture_live: the live pcapng stream of GET /v1/capture.
 */
#ifndef LWIPD_CAPTURE_LIVE_H
#define LWIPD_CAPTURE_LIVE_H

#include <stdint.h>

#include <microhttpd.h>

#include "engine.h"

/* The live capture streams, for the sweep that ends those whose client hung up. */
struct capture_hub;

int capture_hub_new(struct capture_hub **out);

/* Frees an empty hub (stopping libmicrohttpd ends every stream). Accepts NULL. */
void capture_hub_free(struct capture_hub *hub);

/*
 * Ends the suspended streams whose client hung up. A suspended request's
 * socket is not watched by libmicrohttpd, and a capture stream is woken
 * only by frames, so without this a gone client would keep its reader
 * (and its --max-capture-readers slot) until the next frame. Called by the
 * gate's thread a few times a second; takes no lock but the hub's and the
 * streams'.
 */
void capture_hub_sweep(struct capture_hub *hub);

/*
 * A response streaming every frame on interface ifname (described as
 * description), or only connection conn_id's (0: all), as pcapng; a frame
 * of that connection's segments carries the same comment as in its
 * capture file. Returns 0 with *out set, or -ENOENT (no such connection),
 * -ENOBUFS (as many readers as the engine allows), -ENOMEM or -ESHUTDOWN.
 */
int capture_live_response(struct capture_hub *hub, struct engine *engine,
    struct MHD_Connection *connection, const char *ifname, const char *description,
    uint64_t conn_id, struct MHD_Response **out);

#endif
