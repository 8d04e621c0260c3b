// SPDX-License-Identifier: GPL-2.0
/* xdp_pass: does nothing but XDP_PASS. Attached in native mode to the host-side end of a veth
 * so that frames XDP-redirected into that veth (kernel XDP forwarding baselines) are received
 * instead of vanishing with -EOPNOTSUPP (see DESIGN.md, "Facts measured"). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
