// SPDX-License-Identifier: GPL-2.0
/* xdp_pass_frags: bpf/xdp_pass.bpf.c in section xdp.frags, for the hosts' veth ends of a
 * jumbo test bed (scripts/bench.sh, peer xdp-redirect): frames XDP-redirected into a veth are
 * received only if its peer end runs XDP, and above about 3500 bytes of MTU only a
 * multi-buffer aware program may run there. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp.frags")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
