// SPDX-License-Identifier: GPL-2.0
/* xdp_redirect: the kernel XDP baseline of the forwarding benchmark. A cross-connect of two
 * interfaces: every frame arriving on port_a leaves on port_b and vice versa, redirected in the
 * driver (bpf_redirect, bulked by the kernel's devmap flush), never seeing an skb. The loader
 * (Benchmarks/tools/xdpredir.c) sets the two ifindexes before loading. Anything else passes. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Section "xdp" as built by scripts/build-bpf.sh; scripts/bench.sh also builds it with
 * -DXDP_SECTION='"xdp.frags"' for jumbo test beds (a veth refuses a program that is not
 * multi-buffer aware above about 3500 bytes of MTU; this one reads nothing past the headers). */
#ifndef XDP_SECTION
#define XDP_SECTION "xdp"
#endif

const volatile __u32 port_a = 0;
const volatile __u32 port_b = 0;

SEC(XDP_SECTION)
int xdp_redirect_pair(struct xdp_md *ctx)
{
	if (ctx->ingress_ifindex == port_a)
		return bpf_redirect(port_b, 0);
	if (ctx->ingress_ifindex == port_b)
		return bpf_redirect(port_a, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
