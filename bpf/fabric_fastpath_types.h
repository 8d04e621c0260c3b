/* SPDX-License-Identifier: GPL-2.0 */
/* The layouts of the XDP fast path's map keys and values (bpf/README.md, "The fast path"): one
 * definition, included by the XDP program (fabric_fastpath.h) and by Swift through CXDP's
 * shim.h, so FastPathMaps writes exactly what the program reads. Addresses are in network
 * order, everything else in host order. */
#ifndef SWIFTFABRIC_BPF_FASTPATH_TYPES_H
#define SWIFTFABRIC_BPF_FASTPATH_TYPES_H
#include <linux/types.h>

#define FP_MAX_PORTS 256        /* SwitchConfig.maxPorts is 255 */
#define FP_MAX_MEMBERS 64       /* FIB.maxECMPMembers */
#define FP_MAX_TARGETS 4096
#define FP_MAX_HOPS 4096
#define FP_PUNT_SLOTS 32        /* fabric_punts entries */
#define FP_TARGET_LOCAL 0xFFFFFFFFu     /* fp_fib4/6 value: an address of the switch */
/* XDP refreshes a source's seen_ns at most this often, and every 1/8 of the aging time if
 * that is sooner (FastPathSync folds it back as often): a table aging at 2 s must never see
 * seen_ns lag by a refresh plus a fold of a second each. */
#define FP_SEEN_REFRESH_NS 1000000000ull

/* fp_config.flags */
enum fp_config_flag {
	FP_ON = 1 << 0,
	FP_ROUTER = 1 << 1,
	FP_STAMP = 1 << 2,
};

/* fp_port.flags */
enum fp_port_flag {
	FP_PORT_FASTPATH = 1 << 0,
	FP_PORT_LINK_UP = 1 << 1,
	FP_PORT_IN_SERVICE = 1 << 2,
	FP_PORT_TRUST_PCP = 1 << 3,
	FP_PORT_EMULATED = 1 << 4,
	FP_PORT_CAPTURE = 1 << 5,
};

/* fp_hop.flags */
enum fp_hop_flag {
	FP_HOP_CONNECTED = 1 << 0,
};

/* LoadBalancingMode raw values */
#define FP_MODE_ECMP 0

/* Why a frame went to userspace: fabric_punts slots. */
enum fp_punt {
	FP_PUNT_MULTIBUF = 1,
	FP_PUNT_INGRESS,            /* ingress port not fast, or captured */
	FP_PUNT_RUNT,
	FP_PUNT_VLAN,
	FP_PUNT_MAC_CONTROL,
	FP_PUNT_NOT_MINE,           /* router: destination MAC not the port's */
	FP_PUNT_NOT_IP,
	FP_PUNT_MALFORMED,
	FP_PUNT_IPV4_OPTIONS,
	FP_PUNT_FRAGMENT,
	FP_PUNT_IPV6_EXTENSION,
	FP_PUNT_ROCE,               /* UDP 4791: RoCEv2 and CNPs */
	FP_PUNT_LOSSLESS,           /* traffic class in punt_tcs */
	FP_PUNT_ND,                 /* ICMPv6 neighbour discovery */
	FP_PUNT_MULTICAST,
	FP_PUNT_LOCAL,              /* to the switch's own address */
	FP_PUNT_TTL,
	FP_PUNT_NO_ROUTE,
	FP_PUNT_GROUP_MODE,         /* ECMP group in flowlet or spray mode */
	FP_PUNT_UNRESOLVED,         /* next hop without a (live) neighbour */
	FP_PUNT_EGRESS_DOWN,
	FP_PUNT_EGRESS_EMULATED,
	FP_PUNT_EGRESS_CAPTURE,
	FP_PUNT_OVERSIZE,
	FP_PUNT_NO_TX_PORT,
	FP_PUNT_INVALID_SOURCE,     /* bridge: group or zero source */
	FP_PUNT_GROUP_DEST,         /* bridge: flood or link-local */
	FP_PUNT_UNKNOWN_SOURCE,     /* bridge: to learn, or moved */
	FP_PUNT_UNKNOWN_DEST,       /* bridge: to flood */
	FP_PUNT_SAME_PORT,          /* bridge: destination behind the ingress port */
	FP_PUNT_COUNT
};

struct fp_config {
	__u32 flags;
	__u32 punt_tcs;
	__u64 mac_aging_ns;
	__u8 dscp_to_tc[64];
};

struct fp_port {
	__u32 flags;
	__u32 max_frame;
	__u8 mac[6];
	__u16 pad;
};

struct fp_mac {
	__u32 port;
	__u32 pad;
	__u64 seen_ns;
};

struct fp_lpm4_key {
	__u32 prefixlen;
	__u32 addr;
};

struct fp_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct fp_target {
	__u32 mode;
	__u32 count;
	__u32 live_count;               /* members whose port's link is up */
	__u32 pad;
	__u32 hops[FP_MAX_MEMBERS];     /* next-hop ids, in member order */
	__u8 live[FP_MAX_MEMBERS];      /* the live members' indices, in member order */
};

struct fp_hop {
	__u32 port;
	__u32 flags;
	__u8 gateway[16];
};

struct fp_ip6 {
	__u8 addr[16];
};

struct fp_neigh {
	__u8 mac[6];
	__u8 used;
	__u8 pad;
	__u64 expires_ns;
};

struct fp_port_stats {
	__u64 rx_frames;
	__u64 rx_bytes;
	__u64 tx_frames;
	__u64 tx_bytes;
};

_Static_assert(sizeof(struct fp_config) == 80, "fp_config layout");
_Static_assert(sizeof(struct fp_port) == 16, "fp_port layout");
_Static_assert(sizeof(struct fp_mac) == 16, "fp_mac layout");
_Static_assert(sizeof(struct fp_target) == 336, "fp_target layout");
_Static_assert(sizeof(struct fp_hop) == 24, "fp_hop layout");
_Static_assert(sizeof(struct fp_neigh) == 16, "fp_neigh layout");
_Static_assert(sizeof(struct fp_lpm6_key) == 20, "fp_lpm6_key layout");
#endif
