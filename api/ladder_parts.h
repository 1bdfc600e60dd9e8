/*
 * ladder_parts: the pieces every ladder format shares (times, endpoints,
 * a segment's RFC 9293 notation, what a fault did), so that the text, SVG
 * and Mermaid ladders say the same things in the same words.
 */
#ifndef LWIPD_LADDER_PARTS_H
#define LWIPD_LADDER_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

/* "255.255.255.255:65535" */
#define LADDER_ENDPOINT_MAX 24
/* "<SEQ=4294967295>" and the like, four of them, and the longest flag list. */
#define LADDER_SEGMENT_MAX 128
/* The longest fault description, e.g. "delayed up to 60000 ms by fault rule 18446744073709551615". */
#define LADDER_FAULT_MAX 96
/* "18446744073709551.615" */
#define LADDER_TIME_MAX 32


/* Milliseconds since the first event, e.g. "12.345". */
void ladder_time(uint64_t at_us, uint64_t start_us, char *buf, size_t len);

/* "10.9.0.2:49152" */
void ladder_endpoint(const struct engine_endpoint *endpoint, char *buf, size_t len);

/* "<SEQ=0><ACK=1><CTL=SYN,ACK>", with "<LEN=n>" for data and "?" for an unknown number. */
void ladder_segment(const struct engine_event *event, char *buf, size_t len);

/* What a fault rule did, e.g. "dropped by fault rule 3"; empty when none did. */
void ladder_fault(const struct engine_fault *fault, char *buf, size_t len);

/* Said of a teardown-2+3 segment, in every format: that its FIN carried the ACK of the first. */
const char *ladder_together(bool outbound);

/* Whether a fault rule dropped the segment, or corrupted it so that its receiver discards it. */
bool ladder_lost(const struct engine_event *event);

/*
 * Closes f, opened by open_memstream(text, size), and returns *text with
 * its length in *len; or frees it and returns NULL when a write failed
 * (out of memory).
 */
char *ladder_stream_close(FILE *f, char **text, size_t *size, size_t *len);

/* The state's name, or "?" for a value out of range. */
const char *ladder_state(enum tcpinfo_state state);

#endif
