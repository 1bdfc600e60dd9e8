/*
 * connbuf: a connection's data buffers. The send queue holds bytes accepted
 * for sending and not yet given to lwIP, copies or generated pattern; the
 * receive ring holds received bytes until the API reads them. Pure code: no
 * lwIP and no locking; the engine calls it with the core lock held.
 *
 * Both charge the memory they hold to the daemon's budget (membudget.h):
 * the send queue the bytes of its copies (generated pattern holds none),
 * the ring its allocation. The ring starts small, grows with unread data up
 * to its cap and the budget's room, is freed once read empty, and shrinks to
 * its unread bytes when its connection closes.
 */
#ifndef LWIPD_CONNBUF_H
#define LWIPD_CONNBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "membudget.h"

/* The pattern of generated data repeats every 251 bytes, a prime, so it never lines up with segment sizes. */
#define CONNBUF_PATTERN_PERIOD 251u
/* The most pattern bytes generated at a time. */
#define CONNBUF_PATTERN_CHUNK 16384u
/* A receive ring's first allocation; it doubles from there. */
#define CONNBUF_RECV_FIRST 4096u

struct connbuf_chunk;

struct connbuf_send {
	struct connbuf_chunk *head;
	uint64_t queued;		/* bytes in all chunks, not yet consumed */
};

/* Received bytes, in a ring allocated on first use and grown as needed. */
struct connbuf_recv {
	uint8_t *bytes;
	size_t capacity;
	size_t start;
	size_t len;
};

/*
 * Queues a copy of data, or, when data is NULL, len bytes of the pattern
 * byte[k] = k % CONNBUF_PATTERN_PERIOD counted from the first byte of this
 * call. Returns 0, -ENOBUFS when the budget has no room for the copy
 * (nothing is queued), or -ENOMEM.
 */
int connbuf_send_push(struct connbuf_send *queue, const void *data, uint64_t len,
    struct membudget *budget);

/*
 * Points *bytes at up to max of the next bytes to send and returns how many;
 * 0 when the queue is empty. Pattern bytes are written into scratch, which
 * holds CONNBUF_PATTERN_CHUNK.
 */
size_t connbuf_send_peek(const struct connbuf_send *queue, size_t max,
    uint8_t scratch[CONNBUF_PATTERN_CHUNK], const uint8_t **bytes);

/* Drops the first n bytes, at most what connbuf_send_peek() returned. */
void connbuf_send_consume(struct connbuf_send *queue, size_t n, struct membudget *budget);

bool connbuf_send_empty(const struct connbuf_send *queue);

/* Frees every chunk and empties the queue. */
void connbuf_send_clear(struct connbuf_send *queue, struct membudget *budget);

/*
 * Copies as much of data as fits into the ring, grown towards max bytes as
 * far as the budget allows, and returns how much it took; 0 when there is
 * no room at all.
 */
size_t connbuf_recv_put(struct connbuf_recv *ring, size_t max, const uint8_t *data, size_t len,
    struct membudget *budget);

/*
 * Moves every buffered byte into *data, malloc'd (NULL when empty), sets
 * *len, and frees the ring. Returns 0, or -ENOMEM with the ring left as it was.
 */
int connbuf_recv_take(struct connbuf_recv *ring, uint8_t **data, size_t *len,
    struct membudget *budget);

/* The same copy, leaving the ring as it was. */
int connbuf_recv_copy(const struct connbuf_recv *ring, uint8_t **data, size_t *len);

/* Reallocates the ring to exactly its unread bytes (none: frees it); kept as it was when out of memory. */
void connbuf_recv_shrink(struct connbuf_recv *ring, struct membudget *budget);

/* Frees the ring's storage and empties it. */
void connbuf_recv_clear(struct connbuf_recv *ring, struct membudget *budget);

#endif
