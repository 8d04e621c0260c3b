// SPDX-License-Identifier: MIT
/* xsksend: the minimal C AF_XDP sender the traffic generator is measured against.
 *
 * Transmit-only AF_XDP socket (no XDP program), one UMEM of prebuilt copies of the same frame,
 * batches of 32 descriptors, one sendto() kick per batch when the ring asks, completions
 * collected after every batch. It does the least a generator can: no per-frame building.
 *
 * usage: xsksend IFACE FRAME_HEX SECONDS      (prints one JSON line: sent, seconds, pps)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xdp/xsk.h>
#include <xdp/libxdp.h>

#define NFRAMES 4096
#define FRAME 4096
#define RING 2048
#define BATCH 32

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s IFACE FRAME_HEX SECONDS\n", argv[0]);
		return 2;
	}
	size_t hexlen = strlen(argv[2]), len = hexlen / 2;
	if (len < 14 || len > 1514) { fprintf(stderr, "xsksend: frame of 14..1514 bytes\n"); return 2; }
	unsigned char frame[1514];
	for (size_t i = 0; i < len; i++) sscanf(argv[2] + 2 * i, "%2hhx", &frame[i]);
	double seconds = atof(argv[3]);

	void *area = mmap(NULL, (size_t)NFRAMES * FRAME, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (area == MAP_FAILED) { perror("mmap"); return 1; }
	for (int i = 0; i < NFRAMES; i++) memcpy((char *)area + (size_t)i * FRAME, frame, len);
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp;
	struct xsk_umem *umem;
	struct xsk_umem_config ucfg = {RING, RING, FRAME, 0, 0};
	int err = xsk_umem__create(&umem, area, (uint64_t)NFRAMES * FRAME, &fill, &comp, &ucfg);
	if (err) { fprintf(stderr, "xsksend: umem: %s\n", strerror(-err)); return 1; }
	struct xsk_socket *xsk;
	struct xsk_socket_config cfg = {.rx_size = 0, .tx_size = RING,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD, .bind_flags = XDP_USE_NEED_WAKEUP};
	err = xsk_socket__create(&xsk, argv[1], 0, umem, NULL, &tx, &cfg);
	if (err) { fprintf(stderr, "xsksend: socket: %s\n", strerror(-err)); return 1; }
	int fd = xsk_socket__fd(xsk);

	uint64_t free_stack[NFRAMES];
	unsigned free_top = 0;
	for (int i = 0; i < NFRAMES; i++) free_stack[free_top++] = (uint64_t)i * FRAME;
	uint64_t sent = 0, start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
	while (now_ns() < end) {
		unsigned idx, n = free_top < BATCH ? free_top : BATCH;
		if (n && xsk_ring_prod__reserve(&tx, n, &idx) == n) {
			for (unsigned i = 0; i < n; i++) {
				struct xdp_desc *d = xsk_ring_prod__tx_desc(&tx, idx + i);
				d->addr = free_stack[--free_top];
				d->len = (uint32_t)len;
				d->options = 0;
			}
			xsk_ring_prod__submit(&tx, n);
			sent += n;
		}
		if (xsk_ring_prod__needs_wakeup(&tx))
			sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
		unsigned c = xsk_ring_cons__peek(&comp, RING, &idx);
		for (unsigned i = 0; i < c; i++)
			free_stack[free_top++] = *xsk_ring_cons__comp_addr(&comp, idx + i);
		xsk_ring_cons__release(&comp, c);
	}
	double took = (double)(now_ns() - start) / 1e9;
	printf("{\"sent\": %llu, \"seconds\": %.6f, \"pps\": %.0f}\n", (unsigned long long)sent, took, (double)sent / took);
	xsk_socket__delete(xsk);
	xsk_umem__delete(umem);
	return 0;
}
