// SPDX-License-Identifier: MIT
/* sfprobe: timestamped RoCEv2 probe frames for SwiftFabric's forwarding-latency benchmark.
 *
 *   sfprobe send IFACE DST_MAC SRC_IP DST_IP FRAME_BYTES SECONDS PPS TXLOG [FLOWS]
 *       Sends RoCEv2 frames (Eth/IPv4 DSCP 26 ECT(0)/UDP 4791/BTH RC SEND_ONLY, PSN = sequence
 *       number) over an AF_PACKET socket with PACKET_QDISC_BYPASS. PPS > 0 paces: every frame
 *       due is sent (several per sendmmsg when the sender fell behind), each stamped with
 *       CLOCK_REALTIME just before the call; PPS 0 sends as fast as it can, 64 per call.
 *       Writes the send time of every sequence number (u64 ns) to TXLOG, prints JSON.
 *       FRAME_BYTES up to 9596 (jumbo frames: IFACE's MTU must hold FRAME_BYTES - 14).
 *       FLOWS (default 1, at most 64): the i-th frame of each sendmmsg batch takes UDP source
 *       port 0xC0DE + (i mod FLOWS), RoCEv2's entropy field, so a multi-queue interface spreads them over its queues.
 *       The ICRC is left zero: no peer in the benchmark checks it, and computing it per frame
 *       would slow the sender down, not the peers.
 *   sfprobe send --udp ...  and  sfprobe recv --udp ...
 *       Plain UDP instead (issue 16's non-RoCE traffic): DSCP 0, not ECN-capable, UDP destination
 *       port 4792 (not RoCEv2's), the same 12 bytes after the UDP header carrying the sequence
 *       number where a BTH has its PSN, so both kinds are counted and timed alike.
 *   sfprobe recv IFACE SECONDS RXLOG
 *       Receives on IFACE (AF_PACKET, recvmmsg, SO_TIMESTAMPNS: the kernel's stamp when the frame
 *       arrived at the interface, so the receiver's own scheduling is not in the measurement) for
 *       SECONDS, keeps the arrival time of each probe sequence number, writes them to RXLOG.
 *       Only a frame's first 128 bytes are read (the headers and the PSN), whatever its length.
 *   sfprobe join TXLOG RXLOG [CDF_POINTS]
 *       One-way latency of every probe both logs have: JSON with count, lost, p50/p90/p99/p99.9/
 *       max/mean (us) and a CDF of CDF_POINTS (default 100) quantiles.
 *
 * Both ends run on the same machine, so they share CLOCK_REALTIME. Frames go only where DST_MAC
 * points on IFACE: for the benchmark's own test bed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/net_tstamp.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
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
#define MAX_FRAME 9596     /* a 9600-byte frame counting its FCS (bench.sh sizes do), which the socket does not send */
#define MAX_SEQ (1u << 24) /* the PSN is 24 bits */
#define SRC_PORT 0xC0DE    /* RoCEv2 entropy port: marks the benchmark's frames (up to +63) */
#define ROCE_PORT 4791
#define UDP_PORT 4792      /* --udp: any port but RoCEv2's */
static int udp_mode;       /* --udp: plain UDP (DSCP 0, port UDP_PORT) instead of RoCEv2 */

/* `sfprobe CMD --udp ARGS...`: takes the flag out of argv. */
static void take_udp_flag(int *argc, char **argv)
{
	if (*argc > 2 && !strcmp(argv[2], "--udp")) {
		udp_mode = 1;
		for (int i = 2; i < *argc - 1; i++)
			argv[i] = argv[i + 1];
		(*argc)--;
	}
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int write_log(const char *path, const uint64_t *v, uint32_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(&n, sizeof(n), 1, f) != 1 || fwrite(v, sizeof(*v), n, f) != n) {
		perror(path);
		return -1;
	}
	return fclose(f);
}

static uint64_t *read_log(const char *path, uint32_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f || fread(n, sizeof(*n), 1, f) != 1 || *n > MAX_SEQ) {
		fprintf(stderr, "sfprobe: cannot read %s\n", path);
		exit(1);
	}
	uint64_t *v = calloc(*n ? *n : 1, sizeof(*v));
	if (!v || fread(v, sizeof(*v), *n, f) != *n) {
		fprintf(stderr, "sfprobe: short log %s\n", path);
		exit(1);
	}
	fclose(f);
	return v;
}

static int open_socket(const char *ifname, int protocol, uint8_t own_mac[6])
{
	int fd = socket(AF_PACKET, SOCK_RAW, htons(protocol));
	if (fd < 0) { perror("sfprobe: socket"); exit(1); }
	struct ifreq ifr = {0};
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) { perror("sfprobe: SIOCGIFHWADDR"); exit(1); }
	memcpy(own_mac, ifr.ifr_hwaddr.sa_data, 6);
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(ifname),
				  .sll_protocol = htons(protocol)};
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) { perror("sfprobe: bind"); exit(1); }
	return fd;
}

static int do_send(int argc, char **argv)
{
	if (argc != 10 && argc != 11) {
		fprintf(stderr, "usage: sfprobe send [--udp] IFACE DST_MAC SRC_IP DST_IP FRAME_BYTES SECONDS PPS TXLOG [FLOWS]\n");
		return 2;
	}
	unsigned mac[6];
	if (sscanf(argv[3], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6) {
		fprintf(stderr, "sfprobe: bad MAC %s\n", argv[3]);
		return 2;
	}
	int size = atoi(argv[6]);
	double seconds = atof(argv[7]), pps = atof(argv[8]);
	int flows = argc == 11 ? atoi(argv[10]) : 1;
	if (flows < 1 || flows > BATCH) {
		fprintf(stderr, "sfprobe: FLOWS 1..%d\n", BATCH);
		return 2;
	}
	if (size < 60 || size > MAX_FRAME || seconds <= 0 || pps < 0 || (pps > 0 && pps * seconds >= MAX_SEQ)) {
		fprintf(stderr, "sfprobe: frame size 60..%d, seconds > 0, PPS >= 0 and PPS x SECONDS < 2^24\n", MAX_FRAME);
		return 2;
	}
	uint8_t own[6];
	int fd = open_socket(argv[2], ETH_P_IP, own);
	int one = 1;
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));

	static uint8_t frames[BATCH][MAX_FRAME];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		uint8_t *f = frames[i];
		for (int k = 0; k < 6; k++) f[k] = (uint8_t)mac[k];
		memcpy(f + 6, own, 6);
		f[12] = 0x08; f[13] = 0x00;
		struct iphdr *ip = (struct iphdr *)(f + 14);
		ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = IPPROTO_UDP;
		ip->tos = udp_mode ? 0 : (26 << 2) | 2;           /* DSCP 26 (RoCE), ECT(0); --udp: 0 */
		ip->tot_len = htons((uint16_t)(size - 14));
		ip->frag_off = htons(0x4000);
		inet_pton(AF_INET, argv[4], &ip->saddr);
		inet_pton(AF_INET, argv[5], &ip->daddr);
		ip->check = csum(ip, 20);
		struct udphdr *udp = (struct udphdr *)(f + 34);
		udp->source = htons((uint16_t)(SRC_PORT + i % flows));
		udp->dest = htons(udp_mode ? UDP_PORT : ROCE_PORT);
		udp->len = htons((uint16_t)(size - 34));
		uint8_t *bth = f + 42;
		bth[0] = 0x04;                                    /* RC SEND_ONLY */
		bth[2] = 0xff; bth[3] = 0xff;                     /* P_Key */
		bth[7] = 0x11;                                    /* dest QP 0x000011 */
		iov[i].iov_base = f;
		iov[i].iov_len = (size_t)size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	uint32_t cap = pps > 0 ? (uint32_t)(pps * seconds) + BATCH : MAX_SEQ;
	uint64_t *tx = calloc(cap, sizeof(*tx));
	if (!tx) { perror("sfprobe: calloc"); return 1; }
	uint64_t start = realtime_ns(), end = start + (uint64_t)(seconds * 1e9), t;
	uint32_t sent = 0;
	unsigned long long dropped_calls = 0;
	double interval = pps > 0 ? 1e9 / pps : 0;
	while ((t = realtime_ns()) < end && sent + BATCH <= cap) {
		unsigned n = BATCH;
		if (interval > 0) {
			uint64_t due = (uint64_t)((double)(t - start) / interval) + 1; /* frames due by now */
			if (due <= sent)
				continue;
			n = due - sent < BATCH ? (unsigned)(due - sent) : BATCH;
		}
		for (unsigned i = 0; i < n; i++) {
			uint32_t seq = sent + i;
			uint8_t *bth = frames[i] + 42;
			bth[9] = (uint8_t)(seq >> 16); bth[10] = (uint8_t)(seq >> 8); bth[11] = (uint8_t)seq;
		}
		t = realtime_ns();
		int r = sendmmsg(fd, msgs, n, 0);
		if (r > 0) {
			for (int i = 0; i < r; i++)
				tx[sent + (uint32_t)i] = t;
			sent += (uint32_t)r;
		} else if (r < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
			perror("sfprobe: sendmmsg");
			return 1;
		} else {
			dropped_calls++;
		}
	}
	double took = (double)(realtime_ns() - start) / 1e9;
	if (write_log(argv[9], tx, sent) < 0)
		return 1;
	printf("{\"sent\": %u, \"seconds\": %.6f, \"pps\": %.0f, \"offered_pps\": %.0f, \"refused_calls\": %llu}\n",
	       sent, took, (double)sent / took, pps, dropped_calls);
	return 0;
}

static int do_recv(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: sfprobe recv [--udp] IFACE SECONDS RXLOG\n");
		return 2;
	}
	double seconds = atof(argv[3]);
	uint8_t own[6];
	int fd = open_socket(argv[2], ETH_P_IP, own);
	int one = 1, rcvbuf = 64 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0) { perror("sfprobe: SO_TIMESTAMPNS"); return 1; }
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	uint64_t *rx = calloc(MAX_SEQ, sizeof(*rx));
	if (!rx) { perror("sfprobe: calloc"); return 1; }

	static uint8_t bufs[BATCH][128];
	static char ctrl[BATCH][64];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	uint32_t highest = 0;
	unsigned long long probes = 0, others = 0, duplicates = 0;
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)seconds;
	deadline.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (deadline.tv_nsec >= 1000000000) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000; }
	printf("{\"listening\": true}\n");
	fflush(stdout);
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left_ms = (deadline.tv_sec - now.tv_sec) * 1000 + (deadline.tv_nsec - now.tv_nsec) / 1000000;
		if (left_ms <= 0)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, left_ms > 100 ? 100 : (int)left_ms) <= 0)
			continue;
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof(bufs[i])};
			msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1,
							  .msg_control = ctrl[i], .msg_controllen = sizeof(ctrl[i])};
		}
		int r = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		for (int i = 0; i < r; i++) {
			/* Packet sockets bound to an Ethernet device deliver the whole frame. */
			const uint8_t *f = bufs[i];
			if (msgs[i].msg_len < 54 || f[12] != 0x08 || f[13] != 0x00 || f[23] != IPPROTO_UDP ||
			    (unsigned)(((f[34] << 8) | f[35]) - SRC_PORT) >= BATCH ||
			    ((f[36] << 8) | f[37]) != (udp_mode ? UDP_PORT : ROCE_PORT)) {
				others++;
				continue;
			}
			uint64_t stamp = 0;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;
					memcpy(&ts, CMSG_DATA(c), sizeof(ts));
					stamp = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
				}
			if (!stamp)
				stamp = realtime_ns();
			uint32_t seq = ((uint32_t)f[51] << 16) | ((uint32_t)f[52] << 8) | f[53];
			if (rx[seq])
				duplicates++;
			rx[seq] = stamp;
			probes++;
			if (seq + 1 > highest)
				highest = seq + 1;
		}
	}
	struct tpacket_stats st = {0};
	socklen_t len = sizeof(st);
	getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len);
	if (write_log(argv[4], rx, highest) < 0)
		return 1;
	printf("{\"probes\": %llu, \"other_frames\": %llu, \"duplicates\": %llu, \"socket_drops\": %u}\n",
	       probes, others, duplicates, st.tp_drops);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int do_join(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: sfprobe join TXLOG RXLOG [CDF_POINTS]\n");
		return 2;
	}
	int points = argc > 4 ? atoi(argv[4]) : 100;
	uint32_t ntx, nrx;
	uint64_t *tx = read_log(argv[2], &ntx), *rx = read_log(argv[3], &nrx);
	uint64_t *lat = calloc(ntx ? ntx : 1, sizeof(*lat));
	uint32_t n = 0, early = 0;
	for (uint32_t s = 0; s < ntx && s < nrx; s++) {
		if (!tx[s] || !rx[s])
			continue;
		if (rx[s] < tx[s]) { early++; continue; } /* cannot happen on one clock; counted if it does */
		lat[n++] = rx[s] - tx[s];
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
#define Q(p) (n ? (double)lat[(uint32_t)((p) * (n - 1) + 0.5)] / 1000.0 : 0.0)
	double sum = 0;
	for (uint32_t i = 0; i < n; i++)
		sum += (double)lat[i];
	printf("{\"sent\": %u, \"measured\": %u, \"lost\": %u, \"clock_errors\": %u, \"p50_us\": %.2f, \"p90_us\": %.2f, "
	       "\"p99_us\": %.2f, \"p999_us\": %.2f, \"max_us\": %.2f, \"mean_us\": %.2f, \"cdf\": [",
	       ntx, n, ntx - n - early, early, Q(0.5), Q(0.9), Q(0.99), Q(0.999), n ? (double)lat[n - 1] / 1000.0 : 0.0,
	       n ? sum / n / 1000.0 : 0.0);
	for (int i = 0; n && i <= points; i++)
		printf("%s[%.2f, %.4f]", i ? ", " : "", Q((double)i / points), (double)i / points);
	printf("]}\n");
	return 0;
}

int main(int argc, char **argv)
{
	take_udp_flag(&argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "send")) return do_send(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "recv")) return do_recv(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "join")) return do_join(argc, argv);
	fprintf(stderr, "usage: sfprobe send|recv|join ... (see the comment at the top of sfprobe.c)\n");
	return 2;
}
