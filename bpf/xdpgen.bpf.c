// SPDX-License-Identifier: GPL-2.0
/* xdpgen: the frame builder of Benchmarks/tools/xdpgen.c, the benchmark's max-rate sender.
 *
 * Not attached to any interface: xdpgen runs it with BPF_PROG_RUN and BPF_F_TEST_XDP_LIVE_FRAMES
 * (what xdp-trafficgen does), so every call turns one of the kernel's test-run page-pool buffers
 * into a frame and redirects it out of the sender's interface (a veth: it reaches the peer end,
 * the switch's port, as an XDP frame).
 *
 * The kernel recycles those buffers without restoring their contents, and a forwarder may have
 * rewritten a frame on its way (MACs, TTL, checksum, DSCP/ECN) before its page came back. So each
 * call first copies the template's first 60 bytes over the frame -- the whole of a 64-byte frame
 * (FCS not included), and every header byte of a larger one (Ethernet, IPv4, UDP and the 12 bytes
 * carrying the sequence number end at byte 54; the rest is zero padding nobody writes) -- then
 * sets what varies per frame exactly as sfprobe does: the 24-bit sequence number in bytes 51-53
 * (the BTH's PSN) and the UDP source port 0xC0DE + (n mod flows). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define GEN_COPY 60
#define SRC_PORT 0xC0DE

struct gen_cfg {
	__u32 ifindex;  /* where the frame leaves: the sender's veth */
	__u32 flows;    /* UDP source ports to cycle through, >= 1 */
	__u64 seq;      /* frames built so far (the next sequence number) */
	__u8 tmpl[64];  /* the frame's first GEN_COPY bytes */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_cfg);
} gen_cfg SEC(".maps");

SEC("xdp")
int xdpgen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct gen_cfg *c = bpf_map_lookup_elem(&gen_cfg, &zero);
	if (!c || data + GEN_COPY > end)
		return XDP_ABORTED;
	/* 7 x 8 + 4 bytes; unaligned packet stores are fine on x86. */
	__u64 *d = data, *t = (__u64 *)c->tmpl;
#pragma unroll
	for (int i = 0; i < 7; i++)
		d[i] = t[i];
	*(__u32 *)(data + 56) = *(__u32 *)(c->tmpl + 56);
	__u64 n = c->seq++;
	__u8 *f = data;
	__u16 port = (__u16)(SRC_PORT + (c->flows > 1 ? (__u32)n % c->flows : 0));
	*(__u16 *)(f + 34) = bpf_htons(port);
	f[51] = (__u8)(n >> 16);
	f[52] = (__u8)(n >> 8);
	f[53] = (__u8)n;
	return bpf_redirect(c->ifindex, 0);
}

/* The benchmark's optional sink (scripts/bench.sh --sink xdp-drop): on h2's veth end during the
 * max-rate runs, drops every frame in XDP, so that the forwarding core does not also pay for h2's
 * IP stack receiving and dropping each frame (it does, as the destination is no host). The veth
 * still counts every frame in rx_packets, which is what the benchmark reads. Multi-buffer aware
 * (xdp.frags), so it loads on a jumbo bed too, and in its own section, so `ip link set ... xdp obj
 * xdpgen.o sec xdp.frags` picks it. */
SEC("xdp.frags")
int xdpgen_sink(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
