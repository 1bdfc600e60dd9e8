/*
 * lockorder: the daemon's one lock order, checked in debug builds.
 *
 * LOCK ORDER. A thread may take, in this order and never against it:
 *   1. lwIP's core lock (stack_lock; lwIP's own thread holds it while it
 *      runs timers and the engine's hooks),
 *   2. the SSE hub's lock (api/sse.c), or the live capture hub's and
 *      then a live capture stream's (api/capture_live.c), never the SSE
 *      hub's with a capture lock,
 *   3. libmicrohttpd's internal locks (taken by MHD_resume_connection and
 *      the other MHD_* calls).
 * So the engine's wake callbacks, which run with the core lock held, may
 * take the hub's lock and call libmicrohttpd; code holding the hub's lock
 * must never call into the engine.
 *
 * Each lock site calls lockorder_acquire() before taking its lock and
 * lockorder_release() after dropping it. A per-thread count of the locks
 * held lets lockorder_acquire() assert that no lock later in the order is
 * held. Without NDEBUG the check aborts on a violation; with it, both calls
 * are empty. libmicrohttpd's locks are not instrumented: they are taken
 * last, inside the library.
 */
#ifndef LWIPD_LOCKORDER_H
#define LWIPD_LOCKORDER_H

enum lockorder_level {
	LOCKORDER_CORE = 0,
	LOCKORDER_SSE_HUB,
	LOCKORDER_CAPTURE_HUB,
	LOCKORDER_CAPTURE_STREAM,
	LOCKORDER_LEVEL_COUNT
};

#ifdef NDEBUG
static inline void lockorder_acquire(enum lockorder_level level) { (void)level; }
static inline void lockorder_release(enum lockorder_level level) { (void)level; }
#else
/* Asserts that this thread holds no lock after level in the order, and counts level as held. */
void lockorder_acquire(enum lockorder_level level);
void lockorder_release(enum lockorder_level level);
#endif

#endif
