// SPDX-License-Identifier: GPL-2.0
/* Does FP_STAMP's metadata reach an AF_XDP socket in copy mode, in front of the frame?
 * Run by stamp_check.sh inside a fresh namespace with a veth pair A <-> B: fabric_xsk is
 * attached (native) to A with only FP_STAMP set (the fast path off), a copy-mode socket is bound
 * to A's queue 0, a frame is sent into B with a packet socket, and the frame the socket receives
 * must be the frame sent, with bpf_ktime_get_ns() from between send and receive in the 8 bytes
 * before it (desc.addr - 8). Then again without FP_STAMP: no stamp there.
 *
 *   cc -O2 -o stamp_check stamp_check.c -lxdp -lbpf && stamp_check fabric_xsk.o A B */
#include <xdp/xsk.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "../../bpf/fabric_fastpath_types.h"

#define FRAMES 64
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE

static __u64 now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static int fail(const char *what)
{
	fprintf(stderr, "stamp_check: %s\n", what);
	return 1;
}

/* Sends `frame` into `ifname` and returns what the socket received, its stamp and the times
 * around it; 0 on success. */
static int round_trip(struct xsk_socket *xsk, struct xsk_ring_cons *rx, struct xsk_ring_prod *fq, void *umem_area,
		      int ifindex_b, const unsigned char *frame, size_t len, __u64 *t0, __u64 *t1, __u64 *stamp, int *same)
{
	int ps = socket(AF_PACKET, SOCK_RAW, 0);
	if (ps < 0)
		return fail("packet socket");
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = ifindex_b, .sll_halen = 6 };
	*t0 = now_ns();
	if (sendto(ps, frame, len, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)len)
		return close(ps), fail("sendto");
	close(ps);
	struct pollfd p = { .fd = xsk_socket__fd(xsk), .events = POLLIN };
	__u32 idx;
	for (int tries = 0; tries < 50; tries++) {
		if (xsk_ring_cons__peek(rx, 1, &idx) == 1) {
			*t1 = now_ns();
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(rx, idx);
			unsigned char *data = xsk_umem__get_data(umem_area, d->addr);
			/* Ours carries EtherType 0x88b5; anything else (the kernel's own IPv6 chatter on a
			 * link that just came up) is skipped. */
			int ours = d->len >= 14 && data[12] == frame[12] && data[13] == frame[13];
			if (ours) {
				memcpy(stamp, data - 8, 8);
				*same = d->len == len && memcmp(data, frame, len) == 0;
			}
			__u64 addr = d->addr;
			xsk_ring_cons__release(rx, 1);
			__u32 fidx;
			if (xsk_ring_prod__reserve(fq, 1, &fidx) == 1) {
				/* Back to the fill ring at the chunk's start; clear the old stamp. */
				__u64 chunk = addr - addr % FRAME_SIZE;
				memset((unsigned char *)umem_area + chunk, 0, FRAME_SIZE);
				*xsk_ring_prod__fill_addr(fq, fidx) = chunk;
				xsk_ring_prod__submit(fq, 1);
			}
			if (ours)
				return 0;
			continue;
		}
		poll(&p, 1, 100);
	}
	return fail("nothing received on the socket");
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return fail("usage: stamp_check OBJECT IFACE_A IFACE_B");
	int ifa = if_nametoindex(argv[2]), ifb = if_nametoindex(argv[3]);
	if (!ifa || !ifb)
		return fail("no such interface");
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (libbpf_get_error(obj) || bpf_object__load(obj))
		return fail("cannot load the object");
	int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "fabric_xsk"));
	int cfg_fd = bpf_object__find_map_fd_by_name(obj, "fp_config");
	int xsks = bpf_object__find_map_fd_by_name(obj, "xsks_map");
	if (bpf_xdp_attach(ifa, prog, XDP_FLAGS_DRV_MODE, NULL))
		return fail("cannot attach");
	int rc = 1;
	void *area = mmap(NULL, FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq, rx;
	struct xsk_umem *umem = NULL;
	struct xsk_socket *xsk = NULL;
	if (area == MAP_FAILED || xsk_umem__create(&umem, area, FRAMES * FRAME_SIZE, &fq, &cq, NULL)) {
		fail("umem");
		goto out;
	}
	struct xsk_socket_config sc = { .rx_size = 64, .tx_size = 64, .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
					 .bind_flags = XDP_COPY };
	if (xsk_socket__create(&xsk, argv[2], 0, umem, &rx, &tx, &sc) || xsk_socket__update_xskmap(xsk, xsks)) {
		fail("socket");
		goto out;
	}
	__u32 idx;
	if (xsk_ring_prod__reserve(&fq, FRAMES, &idx) != FRAMES) {
		fail("fill ring");
		goto out;
	}
	for (int i = 0; i < FRAMES; i++)
		*xsk_ring_prod__fill_addr(&fq, idx + i) = (__u64)i * FRAME_SIZE;
	xsk_ring_prod__submit(&fq, FRAMES);

	unsigned char frame[60] = { 0x02, 0x5f, 0, 0, 1, 0xfe, 0x02, 0x5f, 0, 0, 0, 1, 0x88, 0xb5 };
	for (int i = 14; i < 60; i++)
		frame[i] = (unsigned char)i;
	struct fp_config c = { .flags = FP_STAMP };
	__u32 zero = 0;
	__u64 t0, t1, stamp;
	int same;
	bpf_map_update_elem(cfg_fd, &zero, &c, 0);
	if (round_trip(xsk, &rx, &fq, area, ifb, frame, sizeof(frame), &t0, &t1, &stamp, &same))
		goto out;
	int stamped = same && t0 <= stamp && stamp <= t1;
	printf("FP_STAMP on: frame intact %s, stamp %llu in [%llu, %llu] %s (XDP saw it %llu ns after send, the socket's reader %llu ns after that)\n",
	       same ? "yes" : "NO", (unsigned long long)stamp, (unsigned long long)t0, (unsigned long long)t1,
	       stamped ? "yes" : "NO", (unsigned long long)(stamp - t0), (unsigned long long)(t1 - stamp));
	c.flags = 0;
	bpf_map_update_elem(cfg_fd, &zero, &c, 0);
	if (round_trip(xsk, &rx, &fq, area, ifb, frame, sizeof(frame), &t0, &t1, &stamp, &same))
		goto out;
	int unstamped = same && !(t0 <= stamp && stamp <= t1);
	printf("FP_STAMP off: frame intact %s, no stamp in front %s\n", same ? "yes" : "NO", unstamped ? "yes" : "NO");
	rc = stamped && unstamped ? 0 : 1;
out:
	if (xsk)
		xsk_socket__delete(xsk);
	if (umem)
		xsk_umem__delete(umem);
	bpf_xdp_detach(ifa, XDP_FLAGS_DRV_MODE, NULL);
	bpf_object__close(obj);
	return rc;
}
