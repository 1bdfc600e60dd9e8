/*
 * lwipd: lwIP on a TAP device, with a REST API to open, close and watch
 * its TCP connections.
 *
 * The main thread sets everything up, then only waits for SIGTERM or SIGINT,
 * or for the TAP reader's word that the device is gone (exit status 1).
 * Those signals are blocked in every thread, so they arrive here and nowhere
 * else; shutting down never runs inside a signal handler.
 *
 * Under systemd (Type=notify) the main thread reports READY=1 once the API
 * listens, STATUS= whenever the count of live connections changes, and
 * STOPPING=1 on the signal. The watchdog pings come from a timer on lwIP's
 * core thread instead, so that a wedged stack stops them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "engine.h"
#include "faultjson.h"
#include "log.h"
#include "notify.h"
#include "stack.h"
#include "tap.h"

#define EXIT_USAGE 2

/* The TAP reader tells the main thread that the device is gone with this signal. */
#define LINK_LOST_SIGNAL SIGUSR2

/* How often the main thread looks at the connection count for STATUS=. */
#define STATUS_PERIOD_S 1

/*
 * Without --mac, a stable address from the TAP name and IPv4 address, so
 * restarts do not leave the peer's neighbour cache pointing at a stale MAC.
 */
static void
default_mac(const struct config *cfg, uint8_t mac[6])
{
	uint64_t hash = 1469598103934665603ull;	/* FNV-1a */
	const uint8_t *address = (const uint8_t *)&cfg->address;

	for (const char *p = cfg->tap_name; *p; p++)
		hash = (hash ^ (uint8_t)*p) * 1099511628211ull;
	for (size_t i = 0; i < sizeof(cfg->address); i++)
		hash = (hash ^ address[i]) * 1099511628211ull;
	mac[0] = 0x02;	/* locally administered, unicast */
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(hash >> (8 * i));
}

/* Called by the TAP reader; the main thread, waiting in sigtimedwait(), takes it from there. */
static void
raise_link_lost(void)
{
	kill(getpid(), LINK_LOST_SIGNAL);
}

/* Runs on lwIP's core thread with the lock held, and re-arms itself. */
static void
watchdog_tick(void *arg)
{
	uint32_t interval_ms = (uint32_t)(uintptr_t)arg;

	notify_send("WATCHDOG=1");
	stack_timeout(interval_ms, watchdog_tick, arg);
}

/* Pings at half the manager's timeout, as sd_watchdog_enabled(3) advises. */
static void
watchdog_start(void)
{
	uint64_t interval_ms = notify_watchdog_usec() / 2000;

	if (interval_ms == 0)
		return;
	if (interval_ms > UINT32_MAX)
		interval_ms = UINT32_MAX;
	stack_lock();
	stack_timeout((uint32_t)interval_ms, watchdog_tick, (void *)(uintptr_t)interval_ms);
	stack_unlock();
}

/*
 * Waits for SIGTERM or SIGINT and returns it. While notifying, it wakes
 * every STATUS_PERIOD_S to report a changed connection count: the engine
 * has no change events, and a look under the lock is cheap.
 */
static int
wait_for_stop(const sigset_t *signals, struct engine *engine, const char *where)
{
	const struct timespec period = { .tv_sec = STATUS_PERIOD_S };
	size_t reported = 0, live;
	int signo;

	notify_sendf("READY=1\nSTATUS=%s: 0 live connections", where);
	for (;;) {
		signo = sigtimedwait(signals, NULL, notify_enabled() ? &period : NULL);
		if (signo > 0)
			return signo;
		live = engine_live_count(engine);
		if (live != reported) {
			notify_sendf("STATUS=%s: %zu live connection%s", where, live, live == 1 ? "" : "s");
			reported = live;
		}
	}
}

static int
run(const struct config *cfg, const struct fault_spec *faults)
{
	struct tap_device tap;
	struct stack_config stack_cfg = {
		.tap = &tap,
		.address = cfg->address,
		.prefix = cfg->prefix,
		.gateway = cfg->gateway,
		.hold_max = cfg->fault_hold_max,
		.hold_bytes = cfg->fault_hold_bytes,
		.lwip_raw = cfg->lwip_raw,
		.link_lost = raise_link_lost,
	};
	struct engine_config engine_cfg = {
		.address = cfg->address,
		.prefix = cfg->prefix,
		.msl_ms = cfg->msl_ms,
		.retain_closed = cfg->retain_closed,
		.recv_buffer = cfg->recv_buffer,
		.timeline_max = cfg->timeline_max,
		.snaplen = cfg->snaplen,
		.memory_budget = cfg->memory_budget,
		.peer_trace = cfg->peer_trace,
		.max_connections = cfg->max_connections,
		.max_batches = cfg->max_batches,
		.max_listeners = cfg->max_listeners,
		.max_event_streams = cfg->max_event_streams,
		.max_capture_readers = cfg->max_capture_readers,
		.max_send_queue = cfg->max_send_queue,
		.max_fault_rules = cfg->max_fault_rules,
		.faults = faults,
		.fault_count = cfg->fault_count,
	};
	struct api_config api_cfg = {
		.listen_addr = cfg->listen_addr,
		.listen_addr_len = cfg->listen_addr_len,
		.max_clients = cfg->http_max_clients,
		.max_per_client = cfg->http_max_per_client,
		.timeout_s = cfg->http_timeout_s,
		.max_waiters = cfg->max_waiters,
		.token_file = cfg->api_token_file,
	};
	struct engine *engine = NULL;
	struct api_server *api = NULL;
	char address[INET_ADDRSTRLEN], where[CONFIG_TAP_NAME_MAX + INET_ADDRSTRLEN + 8];
	sigset_t signals;
	int rc, signo;

	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, LINK_LOST_SIGNAL);
	/* Before any thread starts, so that every thread inherits the mask. */
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (cfg->has_mac)
		memcpy(stack_cfg.mac, cfg->mac, sizeof(stack_cfg.mac));
	else
		default_mac(cfg, stack_cfg.mac);
	snprintf(engine_cfg.ifname, sizeof(engine_cfg.ifname), "%s", cfg->tap_name);
	/* Seeds for rules given none: a run's draws differ from the last one's unless a rule says. */
	if (getrandom(&engine_cfg.fault_seed, sizeof(engine_cfg.fault_seed), 0) !=
	    sizeof(engine_cfg.fault_seed))
		engine_cfg.fault_seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();

	rc = notify_init();
	if (rc < 0)
		goto out;
	rc = tap_open(cfg->tap_name, cfg->netns, &tap);
	if (rc < 0)
		goto out;
	rc = engine_start(&engine_cfg, &stack_cfg, &engine);
	if (rc < 0) {
		log_warnx("starting lwIP: %s", strerror(-rc));
		goto close_tap;
	}
	rc = api_start(&api_cfg, engine, &api);
	if (rc < 0)
		goto stop_engine;
	inet_ntop(AF_INET, &cfg->address, address, sizeof(address));
	log_info("lwIP is up on %s as %s/%u, MAC %02x:%02x:%02x:%02x:%02x:%02x, MSL %u ms",
	    cfg->tap_name, address, cfg->prefix, stack_cfg.mac[0], stack_cfg.mac[1],
	    stack_cfg.mac[2], stack_cfg.mac[3], stack_cfg.mac[4], stack_cfg.mac[5], cfg->msl_ms);

	watchdog_start();
	snprintf(where, sizeof(where), "%s %s/%u", cfg->tap_name, address, cfg->prefix);
	signo = wait_for_stop(&signals, engine, where);
	notify_send("STOPPING=1\nSTATUS=Stopping: aborting connections");
	if (signo == LINK_LOST_SIGNAL) {
		log_warnx("the TAP device %s is gone; stopping with a failure, for a restart",
		    cfg->tap_name);
		rc = -ENODEV;
	} else {
		log_info("%s received; aborting connections and stopping", strsignal(signo));
	}

stop_engine:
	/* RSTs go out while the TAP is still open; then nothing new can arrive. */
	engine_stop(engine);
	api_stop(api);
	stack_stop();
	engine_free(engine);
close_tap:
	tap_close(&tap);
out:
	return rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Checks each fault rule given at start as the API would; a bad one, or more
 * than the rule cap, is a usage error, found before the TAP is opened.
 */
static int
parse_faults(const struct config *cfg, struct fault_spec *specs)
{
	struct problem problem;

	if (cfg->fault_count > cfg->max_fault_rules) {
		fprintf(stderr, "lwipd: --fault: %zu rules exceed --max-fault-rules %" PRIu32 "\n",
		    cfg->fault_count, cfg->max_fault_rules);
		return -EINVAL;
	}
	for (size_t i = 0; i < cfg->fault_count; i++) {
		const char *json = cfg->faults[i].json;

		if (faultjson_parse(json, strlen(json), "application/json", &specs[i], &problem) < 0) {
			fprintf(stderr, "lwipd: %s: %s\n", cfg->faults[i].origin, problem.detail);
			return -EINVAL;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct fault_spec fault_specs[CONFIG_FAULTS_MAX];
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX];

	log_init();
	config_defaults(&cfg);
	if (config_parse_args(&cfg, argc, argv, &action, err, sizeof(err)) < 0) {
		fprintf(stderr, "lwipd: %s\n", err);
		return EXIT_USAGE;
	}
	if (action == CONFIG_ACTION_HELP) {
		config_usage(stdout);
		return EXIT_SUCCESS;
	}
	if (action == CONFIG_ACTION_VERSION) {
		printf("lwipd %s (lwIP %s)\n", LWIPD_VERSION, stack_lwip_version());
		return EXIT_SUCCESS;
	}
	if (parse_faults(&cfg, fault_specs) < 0)
		return EXIT_USAGE;
	if (action == CONFIG_ACTION_CHECK)
		return EXIT_SUCCESS;
	log_set_level(cfg.log_level);
	return run(&cfg, fault_specs);
}
