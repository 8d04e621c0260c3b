// SPDX-License-Identifier: GPL-2.0
/* fabric_xsk: steer every frame arriving on a SwiftFabric port into the AF_XDP socket bound to
 * the frame's rx queue. A frame on a queue no socket serves (a multi-queue NIC or veth with
 * more queues than the switch has workers) is dropped and counted (STAT_UNSERVED,
 * `unserved_queue`): passed to the kernel it would bypass the switch, unswitched and unseen.
 * Until the switch says it is serving (fabric_serving, once its sockets are in xsks_map) such a
 * frame is passed and counted as passed. The program is attached only while the switch runs.
 *
 * One instance of this program (and so one xsks_map) is loaded per port: queue 0 of two ports
 * must not share a map slot.
 *
 * Section xdp.frags: the program handles multi-buffer frames (it reads nothing of the frame),
 * so the kernel lets it run on interfaces whose MTU is larger than a page (jumbo frames) and
 * passes such frames on whole; the socket, bound with XDP_USE_SG, receives them as chains of
 * UMEM frames.
 *
 * Maps (xsks_map, fabric_stats) in fabric_maps.h.
 */
#include "fabric_maps.h"

SEC("xdp.frags")
int fabric_xsk(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;

	/* The lookup tells "socket bound" from "slot empty" so the counters are honest;
	 * bpf_redirect_map's XDP_PASS default covers a socket that goes away in between. */
	if (bpf_map_lookup_elem(&xsks_map, &queue)) {
		count(STAT_REDIRECTED);
		return bpf_redirect_map(&xsks_map, queue, XDP_PASS);
	}
	__u32 zero = 0;
	__u32 *serving = bpf_map_lookup_elem(&fabric_serving, &zero);
	if (serving && *serving) {
		count(STAT_UNSERVED);
		return XDP_DROP;
	}
	count(STAT_PASSED);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
