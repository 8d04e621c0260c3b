/* SPDX-License-Identifier: GPL-2.0 */
/* The maps every SwiftFabric XDP program has, as user space (FabricXDP's XDPProgram) finds them
 * by name: xsks_map, the AF_XDP socket of each rx queue, and fabric_stats, a per-CPU array of
 * [STAT_REDIRECTED] frames sent to a socket, [STAT_PASSED] frames passed to the kernel and
 * [STAT_UNSERVED] frames dropped because no socket serves their rx queue (user space sums the
 * CPUs; nothing here takes a lock or an atomic). */
#ifndef SWIFTFABRIC_BPF_MAPS_H
#define SWIFTFABRIC_BPF_MAPS_H
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} fabric_stats SEC(".maps");

/* fabric_serving[0]: set by the switch once every socket it serves is in xsks_map. Until then
 * a frame finding no socket is passed to the kernel (the switch is still starting); after, it
 * is on a queue the switch does not serve. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} fabric_serving SEC(".maps");

#define STAT_REDIRECTED 0
#define STAT_PASSED 1
#define STAT_UNSERVED 2

static __always_inline void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&fabric_stats, &slot);
	if (n)
		*n += 1;
}
#endif
