// SPDX-License-Identifier: GPL-2.0
/* roce_rx: the receive steering of a RoCE NIC for `fabric traffic recv` on a host interface.
 *
 * RoCEv2 data packets for this host (Ethernet [802.1Q] / IPv4 or IPv6 / UDP dst 4791 / BTH with
 * an opcode other than CNP and RC ACKNOWLEDGE) go to the AF_XDP socket of their rx queue;
 * everything else, CNPs, ACKs/NAKs and PFC frames included, goes on to the kernel (XDP_PASS),
 * where the host keeps doing ARP/ND
 * and a sender's AF_PACKET control socket still sees the frames it must react to.
 *
 * Section xdp.frags: frames longer than a page (a 4096-byte RoCE MTU) arrive as multi-buffer
 * frames; the headers read here are always in the first buffer.
 *
 * Maps (xsks_map, fabric_stats: [0] redirected, [1] passed) in fabric_maps.h.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "fabric_maps.h"

static __always_inline int pass(void)
{
	count(STAT_PASSED);
	return XDP_PASS;
}

SEC("xdp.frags")
int fabric_roce_rx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return pass();
	__u16 proto = eth->h_proto;
	void *l3 = eth + 1;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		if (l3 + 4 > end)
			return pass();
		proto = *(__u16 *)(l3 + 2);
		l3 += 4;
	}
	struct udphdr *udp;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		if ((void *)(ip + 1) > end || ip->protocol != 17 || ip->ihl < 5)
			return pass();
		udp = l3 + ip->ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > end || ip6->nexthdr != 17)
			return pass();
		udp = (void *)(ip6 + 1);
	} else {
		return pass();
	}
	if ((void *)(udp + 1) + 1 > end || udp->dest != bpf_htons(4791))
		return pass();
	__u8 opcode = *(__u8 *)(udp + 1);
	if (opcode == 0x81 || opcode == 0x11)  /* CNP, ACK/NAK: for the sender's control socket */
		return pass();
	__u32 queue = ctx->rx_queue_index;
	if (!bpf_map_lookup_elem(&xsks_map, &queue))
		return pass();
	count(STAT_REDIRECTED);
	return bpf_redirect_map(&xsks_map, queue, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
