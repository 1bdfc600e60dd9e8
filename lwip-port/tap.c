/*
 * tap: opens a Linux TAP device, optionally inside another network
 * namespace, and closes it. Plain Linux; no lwIP.
 */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

/* Enters /run/netns/<netns> and returns an fd of the namespace to come back to. */
static int
netns_enter(const char *netns, int *home_fd)
{
	char path[320];
	int target_fd, rc = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	*home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*home_fd < 0) {
		rc = -errno;
		log_warn("open /proc/self/ns/net");
		goto out;
	}
	target_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (target_fd < 0) {
		rc = -errno;
		log_warn("network namespace '%s': open %s", netns, path);
		goto close_home;
	}
	if (setns(target_fd, CLONE_NEWNET) < 0) {
		rc = -errno;
		log_warn("network namespace '%s': setns", netns);
	}
	close(target_fd);
	if (rc == 0)
		goto out;
close_home:
	close(*home_fd);
	*home_fd = -1;
out:
	return rc;
}

static void
netns_leave(int home_fd)
{
	if (home_fd < 0)
		return;
	/* Failing to return would put the API socket in the wrong namespace. */
	if (setns(home_fd, CLONE_NEWNET) < 0)
		fatal("setns back to the daemon's own network namespace");
	close(home_fd);
}

static int
link_up_and_mtu(const char *name, uint32_t *mtu)
{
	struct ifreq ifr;
	int sock, rc = 0;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		rc = -errno;
		log_warn("socket for interface control");
		goto out;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
		rc = -errno;
		log_warn("%s: SIOCGIFFLAGS", name);
		goto close_sock;
	}
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) {
			rc = -errno;
			log_warn("%s: bringing the link up", name);
			goto close_sock;
		}
	}
	if (ioctl(sock, SIOCGIFMTU, &ifr) < 0) {
		rc = -errno;
		log_warn("%s: SIOCGIFMTU", name);
		goto close_sock;
	}
	*mtu = (uint32_t)ifr.ifr_mtu;
close_sock:
	close(sock);
out:
	return rc;
}

int
tap_open(const char *name, const char *netns, struct tap_device *out)
{
	struct ifreq ifr;
	int home_fd = -1, rc;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	snprintf(out->name, sizeof(out->name), "%s", name);
	if (netns[0] != '\0' && (rc = netns_enter(netns, &home_fd)) < 0)
		return rc;

	out->created = if_nametoindex(name) == 0;
	out->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (out->fd < 0) {
		rc = -errno;
		log_warn("open /dev/net/tun");
		goto leave;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(out->fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		log_warn("%s: attaching to the TAP device (is it a TAP, not a TUN or another kind?)", name);
		goto close_fd;
	}
	rc = link_up_and_mtu(name, &out->mtu);
	if (rc < 0)
		goto close_fd;
	netns_leave(home_fd);
	log_info("%s TAP device %s%s%s, MTU %u", out->created ? "created" : "attached to",
	    name, netns[0] ? " in network namespace " : "", netns, out->mtu);
	return 0;

close_fd:
	close(out->fd);
	out->fd = -1;
leave:
	netns_leave(home_fd);
	return rc;
}

void
tap_close(struct tap_device *tap)
{
	if (tap == NULL || tap->fd < 0)
		return;
	close(tap->fd);
	tap->fd = -1;
}
