// SPDX-License-Identifier: GPL-2.0
/* fabric_xsk: steer frames arriving on a SwiftFabric port into the AF_XDP socket bound to the
 * frame's rx queue, or, with the fast path on (fp_config, bpf/README.md "The fast path"),
 * forward in XDP what needs no userspace and steer only the rest.
 *
 * A frame on a queue no socket serves (a multi-queue NIC or veth with more queues than the
 * switch has workers) is dropped and counted (STAT_UNSERVED, `unserved_queue`): passed to the
 * kernel it would bypass the switch, unswitched and unseen. Until the switch says it is serving
 * (fabric_serving, once its sockets are in xsks_map) such a frame is passed and counted as
 * passed. The program is attached only while the switch runs.
 *
 * One instance of this program (and so one xsks_map) is loaded per port: queue 0 of two ports
 * must not share a map slot. The fast path's tables are shared by all instances.
 *
 * Section xdp.frags: the program handles multi-buffer frames, so the kernel lets it run on
 * interfaces whose MTU is larger than a page (jumbo frames); it steers them whole (the fast
 * path reads only the first buffer and leaves multi-buffer frames to userspace); the socket,
 * bound with XDP_USE_SG, receives them as chains of UMEM frames.
 *
 * Maps: fabric_maps.h (xsks_map, fabric_stats, fabric_serving) and fabric_fastpath.h.
 */
#include "fabric_maps.h"
#include "fabric_fastpath.h"

/* With FP_STAMP: the time XDP saw the frame, in the metadata area in front of it. */
static __always_inline void stamp(struct xdp_md *ctx)
{
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(__u64)))
		return;
	void *meta = (void *)(long)ctx->data_meta;
	void *data = (void *)(long)ctx->data;
	if (meta + sizeof(__u64) > data)
		return;
	__u64 now = bpf_ktime_get_ns();
	__builtin_memcpy(meta, &now, sizeof(now));
}

SEC("xdp.frags")
int fabric_xsk(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct fp_config *cfg = bpf_map_lookup_elem(&fp_config, &zero);
	if (cfg && (cfg->flags & FP_ON)) {
		/* fabric_port holds the port index + 1: an instance the switch has not told its port
		 * (0) forwards nothing. */
		__u32 *p = bpf_map_lookup_elem(&fabric_port, &zero);
		__u32 ingress = p && *p ? *p - 1 : FP_MAX_PORTS;
		__u64 bytes = bpf_xdp_get_buff_len(ctx);
		int port = fp_decide(ctx, cfg, ingress);
		if (port >= 0) {
			fp_count_forward(ingress, (__u32)port, bytes);
			return bpf_redirect_map(&fp_tx_ports, (__u32)port, 0);
		}
		fp_count_punt((__u32)-port);
	}
	if (cfg && (cfg->flags & FP_STAMP))
		stamp(ctx);

	__u32 queue = ctx->rx_queue_index;
	/* The lookup tells "socket bound" from "slot empty" so the counters are honest;
	 * bpf_redirect_map's XDP_PASS default covers a socket that goes away in between. */
	if (bpf_map_lookup_elem(&xsks_map, &queue)) {
		count(STAT_REDIRECTED);
		return bpf_redirect_map(&xsks_map, queue, XDP_PASS);
	}
	__u32 *serving = bpf_map_lookup_elem(&fabric_serving, &zero);
	if (serving && *serving) {
		count(STAT_UNSERVED);
		return XDP_DROP;
	}
	count(STAT_PASSED);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
