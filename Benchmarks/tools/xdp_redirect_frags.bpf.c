// SPDX-License-Identifier: GPL-2.0
/* xdp_redirect_frags: bpf/xdp_redirect.bpf.c (the kernel XDP baseline of scripts/bench.sh) in
 * section xdp.frags, for jumbo test beds. A veth refuses a program that is not multi-buffer
 * aware once its peer's MTU is larger than one page holds (about 3500 bytes); this one only
 * reads ingress_ifindex, so frames of any length pass through it whole. Same name, same
 * .rodata as the original, so Benchmarks/tools/xdpredir.c loads either. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 port_a = 0;
const volatile __u32 port_b = 0;

SEC("xdp.frags")
int xdp_redirect_pair(struct xdp_md *ctx)
{
	if (ctx->ingress_ifindex == port_a)
		return bpf_redirect(port_b, 0);
	if (ctx->ingress_ifindex == port_b)
		return bpf_redirect(port_a, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
