/* SPDX-License-Identifier: GPL-2.0 */
/* The XDP fast path of fabric_xsk (issue 16): classify a frame, forward what needs no
 * userspace (bridge or router) through fp_tx_ports, punt the rest to the port's AF_XDP socket.
 * Design, maps and the punt rules: bpf/README.md, "The fast path"; key and value layouts:
 * fabric_fastpath_types.h (shared with the Swift control plane). */
#ifndef SWIFTFABRIC_BPF_FASTPATH_H
#define SWIFTFABRIC_BPF_FASTPATH_H
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "fabric_fastpath_types.h"

/* Shared maps (one set per switch; bpf_map__reuse_fd). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fp_config);
} fp_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FP_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct fp_port);
} fp_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, FP_MAX_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} fp_tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct fp_mac);
} fp_macs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fp_lpm4_key);
	__type(value, __u32);
} fp_fib4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fp_lpm6_key);
	__type(value, __u32);
} fp_fib6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FP_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct fp_target);
} fp_targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FP_MAX_HOPS);
	__type(key, __u32);
	__type(value, struct fp_hop);
} fp_hops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct fp_neigh);
} fp_neigh4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct fp_ip6);
	__type(value, struct fp_neigh);
} fp_neigh6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct fp_port_stats);
} fp_port_stats SEC(".maps");

/* Per-instance maps. fabric_port: this instance's port index + 1 (0: not told yet). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} fabric_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_PUNT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} fabric_punts SEC(".maps");

/* The verdict of the fast path: forward to `port` (>= 0) or punt (-reason). */
#define FP_FORWARD(port) ((int)(port))
#define FP_PUNT(reason) (-(int)(reason))

/* ---- FlowHash (Sources/FabricCore/L3/PathSelection/FlowHash.swift), bit for bit ---- */

static __always_inline __u64 fp_mix(__u64 x)
{
	/* splitmix64 finaliser */
	__u64 z = x + 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static __always_inline __u32 fp_hash_v4(__u32 src, __u32 dst, __u8 proto, __u16 sport, __u16 dport)
{
	__u64 a = (__u64)src << 32 | dst;
	__u64 b = (__u64)proto << 32 | (__u64)sport << 16 | dport;
	return (__u32)(fp_mix(a ^ fp_mix(b)) >> 16);
}

static __always_inline __u32 fp_hash_v6(__u64 src_hi, __u64 src_lo, __u64 dst_hi, __u64 dst_lo, __u8 proto, __u16 sport,
					__u16 dport)
{
	__u64 a = fp_mix(src_hi ^ fp_mix(src_lo));
	__u64 b = fp_mix(dst_hi ^ fp_mix(dst_lo ^ a));
	__u64 c = (__u64)proto << 32 | (__u64)sport << 16 | dport;
	return (__u32)(fp_mix(b ^ c) >> 16);
}

/* Keeps clang from dropping a bounds mask it can prove redundant but the verifier cannot
 * (m < n <= 64 holds, yet the verifier tracks only the mask). */
#define fp_opaque(v) asm volatile("" : "+r"(v))

/* HashPathSelector.hash: multiply-shift. */
static __always_inline __u32 fp_member(__u32 hash, __u32 n)
{
	return (__u32)(((__u64)hash * n) >> 32);
}

static __always_inline int fp_port_up(__u32 port)
{
	struct fp_port *p = bpf_map_lookup_elem(&fp_ports, &port);
	return p && (p->flags & FP_PORT_LINK_UP);
}

/* AdaptivePathSelector.select, mode ecmp: the hashed member, or if its port's link is down,
 * `liveMember`: a second hash (murmur3's finaliser) over the live members only, `m` itself when
 * none is up. The live members are listed by the control plane in the target (`live`), which
 * it rewrites with the link state: no loop here (a loop over 64 members, even in a global
 * function, ran the verifier past its 1M instructions). */
static __always_inline __u32 fp_select_ecmp(struct fp_target *t, __u32 n, __u32 hash)
{
	__u32 m = fp_member(hash, n);
	fp_opaque(m);
	m &= FP_MAX_MEMBERS - 1;
	struct fp_hop *hop = bpf_map_lookup_elem(&fp_hops, &t->hops[m]);
	if (!hop || fp_port_up(hop->port))
		return m;
	__u32 live = t->live_count;
	if (live == 0 || live > FP_MAX_MEMBERS)
		return m;
	__u32 x = hash ^ 0x5BD1E995u;
	x ^= x >> 16;
	x *= 0x85EBCA6Bu;
	x ^= x >> 13;
	x *= 0xC2B2AE35u;
	x ^= x >> 16;
	__u32 pick = fp_member(x, live);
	fp_opaque(pick);
	pick &= FP_MAX_MEMBERS - 1;
	return t->live[pick];
}

/* ---- Rewrite (Sources/FabricPacket/Rewrite.swift) ---- */

/* RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), as Rewrite.adjustChecksum computes it. */
static __always_inline __u16 fp_adjust_checksum(__u16 hc, __u16 old, __u16 new)
{
	__u32 sum = (__u32)(__u16)~hc + (__u32)(__u16)~old + (__u32)new;
	sum = (sum & 0xFFFF) + (sum >> 16);
	sum = (sum & 0xFFFF) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline void fp_count_punt(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&fabric_punts, &reason);
	if (n)
		*n += 1;
}

static __always_inline void fp_count_forward(__u32 ingress, __u32 egress, __u64 bytes)
{
	struct fp_port_stats *s = bpf_map_lookup_elem(&fp_port_stats, &ingress);
	if (s) {
		s->rx_frames += 1;
		s->rx_bytes += bytes;
	}
	s = bpf_map_lookup_elem(&fp_port_stats, &egress);
	if (s) {
		s->tx_frames += 1;
		s->tx_bytes += bytes;
	}
}

static __always_inline __u64 fp_load_mac(const __u8 *p)
{
	return (__u64)p[0] << 40 | (__u64)p[1] << 32 | (__u64)p[2] << 24 | (__u64)p[3] << 16 | (__u64)p[4] << 8 | p[5];
}

static __always_inline __u64 fp_load_be64(const __u8 *p)
{
	__u64 v = 0;
#pragma unroll
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* What the L3/L4 headers say, for classification and the flow hash. */
struct fp_l3 {
	__u8 version;           /* 4 or 6 */
	__u8 proto;
	__u8 dscp;
	__u8 ttl;
	__u16 sport;
	__u16 dport;
};

/* Parses IPv4/IPv6 and the transport header at constant offsets (an untagged frame, no IPv4
 * options, no IPv6 extension headers); 0 or a punt reason. Never more lenient than
 * FrameParser: what it accepts, the Swift parser parses the same way. */
static __always_inline int fp_parse_ip(void *data, void *data_end, __u16 ethertype, struct fp_l3 *l3)
{
	__u8 *ip = data + ETH_HLEN;
	__u32 avail = (__u32)(data_end - (void *)ip);
	__u8 *l4;
	__u32 l4avail;
	if (ethertype == ETH_P_IP) {
		if ((void *)(ip + 20) > data_end)
			return FP_PUNT_MALFORMED;
		if (ip[0] >> 4 != 4 || (ip[0] & 0x0F) < 5)
			return FP_PUNT_MALFORMED;
		if ((ip[0] & 0x0F) != 5)
			return FP_PUNT_IPV4_OPTIONS;
		__u32 total = (__u32)ip[2] << 8 | ip[3];
		if (total < 20 || total > avail)
			return FP_PUNT_MALFORMED;
		if (((__u32)ip[6] << 8 | ip[7]) & 0x3FFF)
			return FP_PUNT_FRAGMENT;
		l3->version = 4;
		l3->dscp = ip[1] >> 2;
		l3->ttl = ip[8];
		l3->proto = ip[9];
		l4 = ip + 20;
		l4avail = total - 20;
	} else {
		if ((void *)(ip + 40) > data_end)
			return FP_PUNT_MALFORMED;
		if (ip[0] >> 4 != 6)
			return FP_PUNT_MALFORMED;
		__u32 payload = (__u32)ip[4] << 8 | ip[5];
		if (40 + payload > avail)
			return FP_PUNT_MALFORMED;
		l3->version = 6;
		l3->dscp = (__u8)((((__u32)ip[0] << 8 | ip[1]) >> 4) >> 2) & 0x3F;
		l3->ttl = ip[7];
		l3->proto = ip[6];
		if (l3->proto != 6 && l3->proto != 17 && l3->proto != 58)
			return FP_PUNT_IPV6_EXTENSION;
		l4 = ip + 40;
		l4avail = payload;
	}
	l3->sport = 0;
	l3->dport = 0;
	if (l3->proto == 17) {
		if (l4avail < 8 || (void *)(l4 + 8) > data_end)
			return FP_PUNT_MALFORMED;
		__u32 ulen = (__u32)l4[4] << 8 | l4[5];
		if (ulen < 8 || ulen > l4avail)
			return FP_PUNT_MALFORMED;
		l3->sport = (__u16)((__u32)l4[0] << 8 | l4[1]);
		l3->dport = (__u16)((__u32)l4[2] << 8 | l4[3]);
		if (l3->dport == 4791)
			return FP_PUNT_ROCE;
	} else if (l3->proto == 6) {
		if (l4avail < 4 || (void *)(l4 + 4) > data_end)
			return FP_PUNT_MALFORMED;
		l3->sport = (__u16)((__u32)l4[0] << 8 | l4[1]);
		l3->dport = (__u16)((__u32)l4[2] << 8 | l4[3]);
	} else if (l3->proto == 58) {
		if (l4avail < 4 || (void *)(l4 + 4) > data_end)
			return FP_PUNT_MALFORMED;
		if (l4[0] >= 133 && l4[0] <= 137)
			return FP_PUNT_ND;
	}
	return 0;
}

/* Checks the egress port; 0 or a punt reason. */
static __always_inline int fp_egress_ok(__u32 port, __u32 len)
{
	struct fp_port *e = bpf_map_lookup_elem(&fp_ports, &port);
	if (!e)
		return FP_PUNT_EGRESS_DOWN;
	__u32 f = e->flags;
	if (!(f & FP_PORT_LINK_UP) || !(f & FP_PORT_IN_SERVICE))
		return FP_PUNT_EGRESS_DOWN;
	if (f & FP_PORT_EMULATED)
		return FP_PUNT_EGRESS_EMULATED;
	if (f & FP_PORT_CAPTURE)
		return FP_PUNT_EGRESS_CAPTURE;
	if (e->max_frame && len > e->max_frame)
		return FP_PUNT_OVERSIZE;
	if (!bpf_map_lookup_elem(&fp_tx_ports, &port))
		return FP_PUNT_NO_TX_PORT;
	return 0;
}

static __always_inline int fp_bridge(void *data, void *data_end, __u32 ingress, __u64 now, struct fp_config *cfg)
{
	__u8 *eth = data;
	__u64 dst = fp_load_mac(eth), src = fp_load_mac(eth + 6);
	if ((src & (1ull << 40)) || src == 0)
		return FP_PUNT(FP_PUNT_INVALID_SOURCE);
	if (dst & (1ull << 40))
		return FP_PUNT(FP_PUNT_GROUP_DEST);
	struct fp_mac *s = bpf_map_lookup_elem(&fp_macs, &src);
	if (!s || s->port != ingress)
		return FP_PUNT(FP_PUNT_UNKNOWN_SOURCE);
	struct fp_mac *d = bpf_map_lookup_elem(&fp_macs, &dst);
	if (!d || now - d->seen_ns >= cfg->mac_aging_ns)
		return FP_PUNT(FP_PUNT_UNKNOWN_DEST);
	if (d->port == ingress)
		return FP_PUNT(FP_PUNT_SAME_PORT);
	/* The Swift table learns on every frame; XDP refreshes its copy of `seen` every
	 * min(1 s, aging / 8) (the control plane folds it back as often, before aging), not per
	 * frame from every CPU. */
	__u64 refresh = cfg->mac_aging_ns >> 3;
	if (refresh > FP_SEEN_REFRESH_NS)
		refresh = FP_SEEN_REFRESH_NS;
	if (now - s->seen_ns > refresh)
		s->seen_ns = now;
	return FP_FORWARD(d->port);
}

/* Router: the route path of Router.route, then the rewrite. */
static __always_inline int fp_route(void *data, void *data_end, __u32 ingress, struct fp_port *in, struct fp_l3 *l3)
{
	__u8 *eth = data;
	__u8 *ip = data + ETH_HLEN;
	__u32 target_id;
	__u32 hash = 0;
	if (l3->version == 4) {
		if ((void *)(ip + 20) > data_end)
			return FP_PUNT(FP_PUNT_MALFORMED);
		struct fp_lpm4_key k = { .prefixlen = 32 };
		__builtin_memcpy(&k.addr, ip + 16, 4);
		__u32 *t = bpf_map_lookup_elem(&fp_fib4, &k);
		if (t && *t == FP_TARGET_LOCAL)
			return FP_PUNT(FP_PUNT_LOCAL);
		if (l3->ttl <= 1)
			return FP_PUNT(FP_PUNT_TTL);
		if (!t)
			return FP_PUNT(FP_PUNT_NO_ROUTE);
		target_id = *t;
	} else {
		if ((void *)(ip + 40) > data_end)
			return FP_PUNT(FP_PUNT_MALFORMED);
		if (ip[24] == 0xFF)
			return FP_PUNT(FP_PUNT_MULTICAST);
		struct fp_lpm6_key k = { .prefixlen = 128 };
		__builtin_memcpy(k.addr, ip + 24, 16);
		__u32 *t = bpf_map_lookup_elem(&fp_fib6, &k);
		if (t && *t == FP_TARGET_LOCAL)
			return FP_PUNT(FP_PUNT_LOCAL);
		if (l3->ttl <= 1)
			return FP_PUNT(FP_PUNT_TTL);
		if (!t)
			return FP_PUNT(FP_PUNT_NO_ROUTE);
		target_id = *t;
	}
	struct fp_target *t = bpf_map_lookup_elem(&fp_targets, &target_id);
	if (!t || t->count == 0 || t->count > FP_MAX_MEMBERS)
		return FP_PUNT(FP_PUNT_NO_ROUTE);
	__u32 n = t->count;
	__u32 m = 0;
	if (n > 1) {
		if (t->mode != FP_MODE_ECMP)
			return FP_PUNT(FP_PUNT_GROUP_MODE);
		if (l3->version == 4) {
			__u32 src = (__u32)ip[12] << 24 | (__u32)ip[13] << 16 | (__u32)ip[14] << 8 | ip[15];
			__u32 dst = (__u32)ip[16] << 24 | (__u32)ip[17] << 16 | (__u32)ip[18] << 8 | ip[19];
			hash = fp_hash_v4(src, dst, l3->proto, l3->sport, l3->dport);
		} else {
			if ((void *)(ip + 40) > data_end)
				return FP_PUNT(FP_PUNT_MALFORMED);
			hash = fp_hash_v6(fp_load_be64(ip + 8), fp_load_be64(ip + 16), fp_load_be64(ip + 24), fp_load_be64(ip + 32),
					  l3->proto, l3->sport, l3->dport);
		}
		m = fp_select_ecmp(t, n, hash);
	}
	fp_opaque(m);
	m &= FP_MAX_MEMBERS - 1;
	struct fp_hop *hop = bpf_map_lookup_elem(&fp_hops, &t->hops[m]);
	if (!hop)
		return FP_PUNT(FP_PUNT_NO_ROUTE);
	__u32 egress = hop->port;
	int connected = hop->flags & FP_HOP_CONNECTED;
	struct fp_neigh *nb;
	if (l3->version == 4) {
		if ((void *)(ip + 20) > data_end)
			return FP_PUNT(FP_PUNT_MALFORMED);
		__u32 key;
		if (connected)
			__builtin_memcpy(&key, ip + 16, 4);
		else
			__builtin_memcpy(&key, hop->gateway, 4);
		nb = bpf_map_lookup_elem(&fp_neigh4, &key);
	} else {
		if ((void *)(ip + 40) > data_end)
			return FP_PUNT(FP_PUNT_MALFORMED);
		struct fp_ip6 key;
		if (connected)
			__builtin_memcpy(key.addr, ip + 24, 16);
		else
			__builtin_memcpy(key.addr, hop->gateway, 16);
		nb = bpf_map_lookup_elem(&fp_neigh6, &key);
	}
	if (!nb || (nb->expires_ns && bpf_ktime_get_ns() >= nb->expires_ns))
		return FP_PUNT(FP_PUNT_UNRESOLVED);
	__u32 len = (__u32)(data_end - data);
	int bad = fp_egress_ok(egress, len);
	if (bad)
		return FP_PUNT(bad);
	struct fp_port *out = bpf_map_lookup_elem(&fp_ports, &egress);
	if (!out)
		return FP_PUNT(FP_PUNT_EGRESS_DOWN);
	if (!nb->used)
		nb->used = 1;

	/* Decided: rewrite. TTL/hop limit - 1 (the IPv4 checksum by RFC 1624), then the MACs. */
	if (l3->version == 4) {
		if ((void *)(ip + 20) > data_end)
			return FP_PUNT(FP_PUNT_MALFORMED);
		__u16 old = (__u16)((__u32)ip[8] << 8 | ip[9]);
		__u16 new = old - 0x0100;
		__u16 hc = (__u16)((__u32)ip[10] << 8 | ip[11]);
		hc = fp_adjust_checksum(hc, old, new);
		ip[8] = new >> 8;
		ip[10] = hc >> 8;
		ip[11] = hc & 0xFF;
	} else {
		if ((void *)(ip + 40) > data_end)
			return FP_PUNT(FP_PUNT_MALFORMED);
		ip[7] -= 1;
	}
	__builtin_memcpy(eth, nb->mac, 6);
	__builtin_memcpy(eth + 6, out->mac, 6);
	return FP_FORWARD(egress);
}

/* The fast path for one frame: a port to forward to (>= 0), or -reason. Touches the frame only
 * when it forwards it. */
static __always_inline int fp_decide(struct xdp_md *ctx, struct fp_config *cfg, __u32 ingress)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (bpf_xdp_get_buff_len(ctx) != (__u64)(data_end - data))
		return FP_PUNT(FP_PUNT_MULTIBUF);
	struct fp_port *in = bpf_map_lookup_elem(&fp_ports, &ingress);
	if (!in || !(in->flags & FP_PORT_FASTPATH) || (in->flags & FP_PORT_CAPTURE))
		return FP_PUNT(FP_PUNT_INGRESS);
	__u8 *eth = data;
	if ((void *)(eth + ETH_HLEN) > data_end)
		return FP_PUNT(FP_PUNT_RUNT);
	__u16 ethertype = (__u16)((__u32)eth[12] << 8 | eth[13]);
	if (ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD)
		return FP_PUNT(FP_PUNT_VLAN);
	if (ethertype == 0x8808)
		return FP_PUNT(FP_PUNT_MAC_CONTROL);
	int router = cfg->flags & FP_ROUTER;
	int port = 0;
	if (router) {
		if (fp_load_mac(eth) != fp_load_mac(in->mac))
			return FP_PUNT(FP_PUNT_NOT_MINE);
	} else {
		port = fp_bridge(data, data_end, ingress, bpf_ktime_get_ns(), cfg);
		if (port < 0)
			return port;
	}
	struct fp_l3 l3 = {};
	__u8 tc = 0;
	if (ethertype == ETH_P_IP || ethertype == ETH_P_IPV6) {
		int bad = fp_parse_ip(data, data_end, ethertype, &l3);
		if (bad)
			return FP_PUNT(bad);
		/* Classifier.trafficClass: an untagged frame on a PCP-trust port is TC 0. */
		if (!(in->flags & FP_PORT_TRUST_PCP))
			tc = cfg->dscp_to_tc[l3.dscp & 63];
	} else if (router) {
		return FP_PUNT(FP_PUNT_NOT_IP);
	}
	if (cfg->punt_tcs & (1u << (tc & 7)))
		return FP_PUNT(FP_PUNT_LOSSLESS);
	if (router)
		return fp_route(data, data_end, ingress, in, &l3);
	int bad = fp_egress_ok((__u32)port, (__u32)(data_end - data));
	return bad ? FP_PUNT(bad) : FP_FORWARD(port);
}
#endif
