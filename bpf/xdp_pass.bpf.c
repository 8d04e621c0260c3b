// SPDX-License-Identifier: GPL-2.0
/* xdp_pass: does nothing but XDP_PASS. Attached in native mode to the host-side end of a veth
 * so that frames XDP-redirected into that veth (kernel XDP forwarding baselines) are received
 * instead of vanishing with -EOPNOTSUPP (see DESIGN.md, "Facts measured"). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Section "xdp" as built by scripts/build-bpf.sh; scripts/bench.sh also builds it with
 * -DXDP_SECTION='"xdp.frags"' for jumbo test beds (a veth refuses a program that is not
 * multi-buffer aware above about 3500 bytes of MTU; this one reads nothing past the headers). */
#ifndef XDP_SECTION
#define XDP_SECTION "xdp"
#endif

SEC(XDP_SECTION)
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
