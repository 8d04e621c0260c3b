// SPDX-License-Identifier: MIT
/* xskfwd: the minimal C AF_XDP forwarder SwiftFabric is measured against.
 *
 * Two ports, one shared UMEM (xsk_socket__create_shared), the same XDP program as the switch
 * (fabric_xsk.o), the same ring discipline (batched rx, bulk refill, need_wakeup kicks) and
 * poll() when idle. Its "logic" is a cross-connect: every frame from port A leaves on port B
 * and vice versa -- with two ports that is what a learning bridge does once it has learned,
 * minus the MAC lookup. So it is the ceiling for any AF_XDP program on this machine.
 *
 * Jumbo frames: the sockets are bound with XDP_USE_SG and the program (section xdp.frags) is
 * multi-buffer aware, so a frame longer than one UMEM frame arrives as a descriptor chain,
 * XDP_PKT_CONTD on all but its last descriptor. A chain is forwarded whole or dropped whole:
 * only complete chains are taken off the rx ring, and only as many as fit the tx ring. Each
 * descriptor's buffer comes back on the completion ring on its own.
 *
 * usage: xskfwd BPF_OBJECT IFACE_A IFACE_B        (runs until SIGINT/SIGTERM)
 * BPF_OBJECT: bpf/fabric_xsk.bpf.c compiled (its section xdp.frags).
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#define RING 2048
#define FRAME 4096
#define NFRAMES (2 * 3 * RING)
#define BATCH 64
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)   /* linux/if_xdp.h 6.6+ */
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif

struct port {
	struct xsk_ring_cons rx, comp;
	struct xsk_ring_prod tx, fill;
	struct xsk_socket *xsk;
	struct xdp_program *prog;
	int ifindex;
	unsigned fill_out, tx_out;
	unsigned long long rx_frames, tx_frames;
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static uint64_t free_stack[NFRAMES];
static unsigned free_top;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void refill(struct port *p)
{
	unsigned want = RING - p->fill_out, idx;
	if (want < BATCH && p->fill_out)
		return;
	if (want > free_top)
		want = free_top;
	if (!want || xsk_ring_prod__reserve(&p->fill, want, &idx) != want)
		return;
	for (unsigned i = 0; i < want; i++)
		*xsk_ring_prod__fill_addr(&p->fill, idx + i) = free_stack[--free_top];
	xsk_ring_prod__submit(&p->fill, want);
	p->fill_out += want;
	if (xsk_ring_prod__needs_wakeup(&p->fill))
		recvfrom(xsk_socket__fd(p->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

static void kick(struct port *p)
{
	sendto(xsk_socket__fd(p->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0);
}

static unsigned reclaim(struct port *p)
{
	unsigned idx, n;
	if (!p->tx_out)
		return 0;
	if (xsk_prod_nb_free(&p->tx, RING) < RING && xsk_ring_prod__needs_wakeup(&p->tx))
		kick(p);
	n = xsk_ring_cons__peek(&p->comp, RING, &idx);
	for (unsigned i = 0; i < n; i++)
		free_stack[free_top++] = *xsk_ring_cons__comp_addr(&p->comp, idx + i) & ~(uint64_t)(FRAME - 1);
	xsk_ring_cons__release(&p->comp, n);
	p->tx_out -= n;
	return n;
}

/* Receive a batch on `in` and put it straight onto `out`'s TX ring: whole chains only. */
static unsigned forward(struct port *in, struct port *out)
{
	unsigned idx_rx, idx_tx, got = xsk_ring_cons__peek(&in->rx, BATCH, &idx_rx), n = got;
	/* A chain cut off by the batch end stays on the ring for the next peek. */
	while (n && xsk_ring_cons__rx_desc(&in->rx, idx_rx + n - 1)->options & XDP_PKT_CONTD)
		n--;
	if (n < got)
		xsk_ring_cons__cancel(&in->rx, got - n);
	if (!n)
		return 0;
	unsigned room = xsk_prod_nb_free(&out->tx, n);
	unsigned m = n < room ? n : room;
	while (m && xsk_ring_cons__rx_desc(&in->rx, idx_rx + m - 1)->options & XDP_PKT_CONTD)
		m--;  /* the tx ring takes whole chains only */
	if (m && xsk_ring_prod__reserve(&out->tx, m, &idx_tx) != m)
		m = 0;
	unsigned frames = 0, sent = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&in->rx, idx_rx + i);
		frames += !(d->options & XDP_PKT_CONTD);
		if (i < m) {
			struct xdp_desc *t = xsk_ring_prod__tx_desc(&out->tx, idx_tx + i);
			t->addr = d->addr;
			t->len = d->len;
			t->options = d->options & XDP_PKT_CONTD;
			sent += !(d->options & XDP_PKT_CONTD);
		} else {
			free_stack[free_top++] = d->addr & ~(uint64_t)(FRAME - 1); /* TX full: drop */
		}
	}
	xsk_ring_cons__release(&in->rx, n);
	in->fill_out -= n;
	in->rx_frames += frames;
	if (m) {
		xsk_ring_prod__submit(&out->tx, m);
		out->tx_out += m;
		out->tx_frames += sent;
		if (xsk_ring_prod__needs_wakeup(&out->tx))
			kick(out);
	}
	return n;
}

static int print_none(enum libxdp_print_level l, const char *f, va_list ap) { (void)l; (void)f; (void)ap; return 0; }
static int print_none_bpf(enum libbpf_print_level l, const char *f, va_list ap) { (void)l; (void)f; (void)ap; return 0; }

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s BPF_OBJECT IFACE_A IFACE_B\n", argv[0]);
		return 2;
	}
	libxdp_set_print(print_none);
	libbpf_set_print(print_none_bpf);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	size_t size = (size_t)NFRAMES * FRAME;
	void *area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (area == MAP_FAILED) { perror("mmap"); return 1; }
	for (unsigned i = 0; i < NFRAMES; i++)
		free_stack[free_top++] = (uint64_t)i * FRAME;

	static struct port ports[2];
	struct xsk_umem *umem;
	struct xsk_umem_config ucfg = {RING, RING, FRAME, 0, 0};
	int err = xsk_umem__create(&umem, area, size, &ports[0].fill, &ports[0].comp, &ucfg);
	if (err) { fprintf(stderr, "xskfwd: umem: %s\n", strerror(-err)); return 1; }

	for (int i = 0; i < 2; i++) {
		struct port *p = &ports[i];
		p->ifindex = (int)if_nametoindex(argv[2 + i]);
		if (!p->ifindex) { fprintf(stderr, "xskfwd: no interface %s\n", argv[2 + i]); return 1; }
		p->prog = xdp_program__open_file(argv[1], "xdp.frags", NULL);
		if (libxdp_get_error(p->prog)) { fprintf(stderr, "xskfwd: cannot open section xdp.frags of %s\n", argv[1]); return 1; }
		xdp_program__set_xdp_frags_support(p->prog, true);
		const char *mode = "native";
		err = xdp_program__attach(p->prog, p->ifindex, XDP_MODE_NATIVE, 0);
		if (err) {
			mode = "skb";
			err = xdp_program__attach(p->prog, p->ifindex, XDP_MODE_SKB, 0);
		}
		if (err) { fprintf(stderr, "xskfwd: attach %s: %s\n", argv[2 + i], strerror(-err)); return 1; }
		printf("xskfwd: %s: XDP in %s mode\n", argv[2 + i], mode);
		struct xsk_socket_config cfg = {.rx_size = RING, .tx_size = RING,
			.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD, .bind_flags = XDP_USE_NEED_WAKEUP | XDP_USE_SG};
		err = xsk_socket__create_shared(&p->xsk, argv[2 + i], 0, umem, &p->rx, &p->tx, &p->fill, &p->comp, &cfg);
		if (err) { fprintf(stderr, "xskfwd: socket %s: %s\n", argv[2 + i], strerror(-err)); return 1; }
		int map = bpf_object__find_map_fd_by_name(xdp_program__bpf_obj(p->prog), "xsks_map");
		if (map < 0 || xsk_socket__update_xskmap(p->xsk, map)) { fprintf(stderr, "xskfwd: xskmap\n"); return 1; }
		refill(p);
	}
	printf("xskfwd: forwarding %s <-> %s\n", argv[2], argv[3]);
	fflush(stdout);

	struct pollfd fds[2] = {{xsk_socket__fd(ports[0].xsk), POLLIN, 0}, {xsk_socket__fd(ports[1].xsk), POLLIN, 0}};
	uint64_t last_work = now_ns();
	while (!stop) {
		unsigned work = 0;
		for (int i = 0; i < 2; i++) {
			work += reclaim(&ports[i]);
			work += forward(&ports[i], &ports[1 - i]);
			refill(&ports[i]);
		}
		uint64_t t = now_ns();
		if (work) {
			last_work = t;
		} else if (t - last_work > 200000) { /* idle 200 us: sleep until frames arrive */
			int short_wait = ports[0].tx_out || ports[1].tx_out;
			poll(fds, 2, short_wait ? 1 : 100);
		}
	}
	for (int i = 0; i < 2; i++) {
		xdp_program__detach(ports[i].prog, ports[i].ifindex, xdp_program__is_attached(ports[i].prog, ports[i].ifindex), 0);
		xdp_program__close(ports[i].prog);
	}
	for (int i = 0; i < 2; i++)
		xsk_socket__delete(ports[i].xsk);
	xsk_umem__delete(umem);
	printf("xskfwd: %s rx %llu tx %llu, %s rx %llu tx %llu\n", argv[2], ports[0].rx_frames, ports[0].tx_frames,
	       argv[3], ports[1].rx_frames, ports[1].tx_frames);
	return 0;
}
