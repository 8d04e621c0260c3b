// SPDX-License-Identifier: GPL-2.0
/* xdp_redirect: the kernel XDP baseline of the forwarding benchmark. A cross-connect of two
 * interfaces: every frame arriving on port_a leaves on port_b and vice versa, redirected in the
 * driver (bpf_redirect, bulked by the kernel's devmap flush), never seeing an skb. The loader
 * (Benchmarks/tools/xdpredir.c) sets the two ifindexes before loading. Anything else passes. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 port_a = 0;
const volatile __u32 port_b = 0;

SEC("xdp")
int xdp_redirect_pair(struct xdp_md *ctx)
{
	if (ctx->ingress_ifindex == port_a)
		return bpf_redirect(port_b, 0);
	if (ctx->ingress_ifindex == port_b)
		return bpf_redirect(port_a, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
