// SPDX-License-Identifier: MIT
/* xdpgen: the max-rate sender of scripts/bench.sh (--sender xdpgen), much faster than sfprobe's
 * AF_PACKET sendmmsg.
 *
 *   xdpgen [--udp] BPF_OBJECT IFACE DST_MAC SRC_IP DST_IP FRAME_BYTES SECONDS [FLOWS]
 *
 * Builds the same frame as `sfprobe send` (Eth/IPv4 DSCP 26 ECT(0)/UDP 4791/BTH RC SEND_ONLY,
 * PSN = sequence number; --udp: DSCP 0, not ECN-capable, UDP port 4792, the same 12 bytes after
 * the UDP header; UDP source port 0xC0DE + (n mod FLOWS); IPv4 checksum set, UDP checksum and
 * ICRC zero), so the switch and the sink treat both senders' frames alike, and sends it as fast
 * as it can for SECONDS with BPF_PROG_RUN and BPF_F_TEST_XDP_LIVE_FRAMES (what xdp-trafficgen
 * does; Debian's xdp-trafficgen does not load on this kernel): the kernel runs BPF_OBJECT's
 * program (bpf/xdpgen.bpf.c) once per frame on a page-pool buffer initialised with the frame,
 * the program rewrites the frame's headers from the template and sets the sequence number and
 * source port, and redirects it out of IFACE (bpf_redirect, bulked by the kernel's flush).
 * FRAME_BYTES is without the FCS (as sfprobe's), 60 .. about 3500 (one page with the kernel's
 * head- and tailroom). Runs on the CPU it is started on (taskset it). It only sends at full rate:
 * no send times are kept and it cannot pace (for latency use sfprobe).
 *
 * Each BPF_PROG_RUN call sets up and tears down a page pool and its memory model, which costs
 * about 20-25 ms here (an RCU grace period, it seems): with 65536 frames a call that capped the
 * rate near 1.7 Mpps; with calls of ~0.25 s it is ~5 Mpps at 60 bytes. So the first call sends
 * 65536 frames to measure the rate, and every later one as many as fit in 0.25 s or in the time
 * left, whichever is less (the run ends within a few ms of SECONDS; `seconds` is what it took).
 *
 * IFACE is a veth here: a frame redirected into a veth reaches its peer end only if that end has
 * an XDP program or GRO on (DESIGN.md); otherwise the kernel drops it (-EOPNOTSUPP). xdpgen
 * reports IFACE's tx counters so that such a loss shows: tx_packets grows by what the peer end
 * took, tx_dropped by what it refused (its ring full, or not prepared).
 *
 * Prints one JSON line: sent (frames the program built and redirected), seconds, pps, and the
 * interface's tx_packets / tx_dropped deltas. The sequence number is 24 bits (the PSN's field) and
 * wraps after 2^24 frames, ~3 s at 5 Mpps: harmless for the max-rate runs, which count frames at
 * h2's interface, not sequence numbers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "csum.h"

#define MAX_FRAME 3500
#define SRC_PORT 0xC0DE
#define ROCE_PORT 4791
#define UDP_PORT 4792
#define FIRST_REPEAT 65536  /* the first call's frames: measures the rate */
#define CALL_NS 250000000ull /* later calls: about this long */
#define BATCH 256       /* frames per kernel batch (TEST_XDP_MAX_BATCH); flushed to IFACE together */

struct gen_cfg {        /* bpf/xdpgen.bpf.c's */
	uint32_t ifindex;
	uint32_t flows;
	uint64_t seq;
	uint8_t tmpl[64];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned long long stat_of(const char *ifname, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname, name);
	FILE *f = fopen(path, "r");
	unsigned long long v = 0;
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

int main(int argc, char **argv)
{
	int udp_mode = 0;
	if (argc > 1 && !strcmp(argv[1], "--udp")) {
		udp_mode = 1;
		argv++;
		argc--;
	}
	if (argc != 8 && argc != 9) {
		fprintf(stderr, "usage: xdpgen [--udp] BPF_OBJECT IFACE DST_MAC SRC_IP DST_IP FRAME_BYTES SECONDS [FLOWS]\n");
		return 2;
	}
	const char *obj_path = argv[1], *ifname = argv[2];
	unsigned mac[6];
	if (sscanf(argv[3], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6) {
		fprintf(stderr, "xdpgen: bad MAC %s\n", argv[3]);
		return 2;
	}
	int size = atoi(argv[6]);
	double seconds = atof(argv[7]);
	int flows = argc >= 9 ? atoi(argv[8]) : 1;
	if (size < 60 || size > MAX_FRAME || seconds <= 0 || flows < 1 || flows > 64) {
		fprintf(stderr, "xdpgen: frame size 60..%d, seconds > 0, FLOWS 1..64\n", MAX_FRAME);
		return 2;
	}
	int ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "xdpgen: no interface %s\n", ifname);
		return 1;
	}
	uint8_t own[6];
	{
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		struct ifreq ifr = {0};
		strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
		if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr) < 0) { perror("xdpgen: SIOCGIFHWADDR"); return 1; }
		memcpy(own, ifr.ifr_hwaddr.sa_data, 6);
		close(s);
	}

	/* The frame: byte for byte what sfprobe send builds (its frame 0 of a batch). */
	static uint8_t f[MAX_FRAME];
	for (int k = 0; k < 6; k++) f[k] = (uint8_t)mac[k];
	memcpy(f + 6, own, 6);
	f[12] = 0x08; f[13] = 0x00;
	struct iphdr *ip = (struct iphdr *)(f + 14);
	ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = IPPROTO_UDP;
	ip->tos = udp_mode ? 0 : (26 << 2) | 2;
	ip->tot_len = htons((uint16_t)(size - 14));
	ip->frag_off = htons(0x4000);
	if (inet_pton(AF_INET, argv[4], &ip->saddr) != 1 || inet_pton(AF_INET, argv[5], &ip->daddr) != 1) {
		fprintf(stderr, "xdpgen: bad IPv4 address\n");
		return 2;
	}
	ip->check = csum(ip, 20);
	struct udphdr *udp = (struct udphdr *)(f + 34);
	udp->source = htons(SRC_PORT);
	udp->dest = htons(udp_mode ? UDP_PORT : ROCE_PORT);
	udp->len = htons((uint16_t)(size - 34));
	uint8_t *bth = f + 42;
	bth[0] = 0x04;
	bth[2] = 0xff; bth[3] = 0xff;
	bth[7] = 0x11;

	libbpf_set_print(NULL);
	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	if (libbpf_get_error(obj)) { fprintf(stderr, "xdpgen: cannot open %s\n", obj_path); return 1; }
	if (bpf_object__load(obj)) { fprintf(stderr, "xdpgen: load failed: %s\n", strerror(errno)); return 1; }
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "xdpgen");
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "gen_cfg");
	if (!prog || !map) { fprintf(stderr, "xdpgen: %s has no program xdpgen / map gen_cfg\n", obj_path); return 1; }
	int pfd = bpf_program__fd(prog), mfd = bpf_map__fd(map);
	struct gen_cfg cfg = {.ifindex = (uint32_t)ifindex, .flows = (uint32_t)flows, .seq = 0};
	memcpy(cfg.tmpl, f, sizeof(cfg.tmpl));
	uint32_t zero = 0;
	if (bpf_map_update_elem(mfd, &zero, &cfg, BPF_ANY)) { perror("xdpgen: map update"); return 1; }

	struct xdp_md ctx_in = {.data = 0, .data_end = (uint32_t)size, .ingress_ifindex = (uint32_t)ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = f, .data_size_in = (uint32_t)size,
		.ctx_in = &ctx_in, .ctx_size_in = sizeof(ctx_in),
		.repeat = FIRST_REPEAT, .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = BATCH);

	unsigned long long tx0 = stat_of(ifname, "tx_packets"), drop0 = stat_of(ifname, "tx_dropped");
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
	unsigned long long calls = 0;
	uint64_t t;
	while ((t = now_ns()) < end) {
		if (calls) {   /* frames for min(CALL_NS, time left) at the rate so far */
			double rate = (double)cfg.seq / (double)(t - start);   /* frames per ns */
			uint64_t left = end - t < CALL_NS ? end - t : CALL_NS;
			double n = rate * (double)left;
			opts.repeat = n < BATCH ? BATCH : n > (1u << 26) ? (1u << 26) : (uint32_t)n;
		}
		int err = bpf_prog_test_run_opts(pfd, &opts);
		if (err && errno != EINTR) {
			fprintf(stderr, "xdpgen: BPF_PROG_RUN: %s\n", strerror(errno));
			return 1;
		}
		calls++;
		if (bpf_map_lookup_elem(mfd, &zero, &cfg)) { perror("xdpgen: map lookup"); return 1; }
	}
	double took = (double)(now_ns() - start) / 1e9;
	if (bpf_map_lookup_elem(mfd, &zero, &cfg)) { perror("xdpgen: map lookup"); return 1; }
	unsigned long long tx = stat_of(ifname, "tx_packets") - tx0, drop = stat_of(ifname, "tx_dropped") - drop0;
	printf("{\"sender\": \"xdpgen\", \"sent\": %llu, \"seconds\": %.6f, \"pps\": %.0f, \"offered_pps\": 0, "
	       "\"calls\": %llu, \"tx_packets\": %llu, \"tx_dropped\": %llu}\n",
	       (unsigned long long)cfg.seq, took, (double)cfg.seq / took, calls, tx, drop);
	bpf_object__close(obj);
	return 0;
}
