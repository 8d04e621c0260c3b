// SPDX-License-Identifier: MIT
/* sfgen: a minimal UDP frame blaster for SwiftFabric's forwarding benchmarks.
 *
 * AF_PACKET raw socket with PACKET_QDISC_BYPASS, sendmmsg() of 64 prebuilt frames per call:
 * the cheapest way to offer a veth more frames per second than a software forwarder can
 * take, without kernel modules (no pktgen on this kernel) or a second XDP program.
 *
 * usage: sfgen IFACE DST_MAC SRC_IP DST_IP FRAME_BYTES SECONDS [PPS]
 *   Frames are Eth/IPv4/UDP (dst port 9, checksum 0) of FRAME_BYTES without FCS (60 = a
 *   64-byte frame on the wire), source MAC = IFACE's. Prints one JSON line: sent, seconds.
 *   Only for test beds the lab created: it sends wherever DST_MAC points on IFACE.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "csum.h"

#define BATCH 64

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: %s IFACE DST_MAC SRC_IP DST_IP FRAME_BYTES SECONDS [PPS]\n", argv[0]);
		return 2;
	}
	const char *ifname = argv[1];
	unsigned mac[6];
	if (sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6) {
		fprintf(stderr, "sfgen: bad MAC %s\n", argv[2]);
		return 2;
	}
	int size = atoi(argv[5]);
	double seconds = atof(argv[6]);
	double pps = argc > 7 ? atof(argv[7]) : 0;
	if (size < 60 || size > 1514 || seconds <= 0) {
		fprintf(stderr, "sfgen: frame size must be 60..1514, seconds > 0\n");
		return 2;
	}

	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (fd < 0) { perror("sfgen: socket"); return 1; }
	int one = 1;
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	struct ifreq ifr = {0};
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) { perror("sfgen: SIOCGIFHWADDR"); return 1; }
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(ifname),
				  .sll_protocol = htons(ETH_P_IP)};
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) { perror("sfgen: bind"); return 1; }

	static uint8_t frames[BATCH][1514];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		uint8_t *f = frames[i];
		memset(f, 0, sizeof(frames[i]));
		for (int k = 0; k < 6; k++) f[k] = (uint8_t)mac[k];
		memcpy(f + 6, ifr.ifr_hwaddr.sa_data, 6);
		f[12] = 0x08; f[13] = 0x00;
		struct iphdr *ip = (struct iphdr *)(f + 14);
		ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = IPPROTO_UDP;
		ip->tot_len = htons((uint16_t)(size - 14));
		ip->id = htons((uint16_t)i);
		inet_pton(AF_INET, argv[3], &ip->saddr);
		inet_pton(AF_INET, argv[4], &ip->daddr);
		ip->check = csum(ip, 20);
		struct udphdr *udp = (struct udphdr *)(f + 34);
		udp->source = htons((uint16_t)(10000 + i));
		udp->dest = htons(9);
		udp->len = htons((uint16_t)(size - 34));
		iov[i].iov_base = f;
		iov[i].iov_len = (size_t)size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9), sent = 0, t;
	double interval = pps > 0 ? 1e9 / pps : 0;
	while ((t = now_ns()) < end) {
		int n = BATCH;
		if (interval > 0) {
			uint64_t due = start + (uint64_t)((double)sent * interval);
			if (t < due)
				continue;
			n = 1;
		}
		int r = sendmmsg(fd, msgs, (unsigned)n, 0);
		if (r > 0)
			sent += (uint64_t)r;
		else if (r < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
			perror("sfgen: sendmmsg");
			return 1;
		}
	}
	double took = (double)(now_ns() - start) / 1e9;
	printf("{\"sent\": %llu, \"seconds\": %.6f, \"pps\": %.0f}\n", (unsigned long long)sent, took, (double)sent / took);
	close(fd);
	return 0;
}
