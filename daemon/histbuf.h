/*
 * histbuf: the storage of a bounded history (a connection's states, its
 * peer's states): allocated at its first entry and grown as entries come,
 * since most connections keep a handful of the at most 16 entries.
 */
#ifndef LWIPD_HISTBUF_H
#define LWIPD_HISTBUF_H

#include <stddef.h>
#include <stdint.h>

/* The entries a history's first allocation holds: an open and its handshake. */
#define HISTBUF_FIRST 4

/*
 * Makes room for one more entry of size bytes in *entries, which holds *len
 * of *cap allocated, at most max, and returns the index to write it at,
 * counted in *len. A full history, or one that cannot grow for want of
 * memory, returns its last index, so the latest entry stays current; -1
 * when there is none.
 */
int histbuf_slot(void **entries, uint32_t *len, uint32_t *cap, size_t size, uint32_t max);

#endif
