// SPDX-License-Identifier: MIT
/* xdpredir: loads bpf/xdp_redirect.bpf.c on two interfaces (native XDP) as a cross-connect,
 * runs until SIGINT/SIGTERM, then detaches it from both. The kernel XDP forwarding baseline
 * of scripts/bench.sh. Frames redirected into a veth are only received if the peer end has an
 * XDP program (bpf/xdp_pass.bpf.c); the benchmark attaches one.
 *
 * usage: xdpredir BPF_OBJECT IFACE_A IFACE_B
 */
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s BPF_OBJECT IFACE_A IFACE_B\n", argv[0]);
		return 2;
	}
	unsigned a = if_nametoindex(argv[2]), b = if_nametoindex(argv[3]);
	if (!a || !b) {
		fprintf(stderr, "xdpredir: no interface %s\n", a ? argv[3] : argv[2]);
		return 1;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) { fprintf(stderr, "xdpredir: cannot open %s: %s\n", argv[1], strerror(errno)); return 1; }
	struct bpf_map *rodata = bpf_object__find_map_by_name(obj, ".rodata");
	if (!rodata) { fprintf(stderr, "xdpredir: %s has no .rodata\n", argv[1]); return 1; }
	__u32 ports[2] = {a, b};
	if (bpf_map__set_initial_value(rodata, ports, sizeof(ports)) || bpf_object__load(obj)) {
		fprintf(stderr, "xdpredir: load failed: %s\n", strerror(errno));
		return 1;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "xdp_redirect_pair");
	int fd = prog ? bpf_program__fd(prog) : -1;
	if (fd < 0 || bpf_xdp_attach((int)a, fd, XDP_FLAGS_DRV_MODE, NULL) ||
	    bpf_xdp_attach((int)b, fd, XDP_FLAGS_DRV_MODE, NULL)) {
		fprintf(stderr, "xdpredir: attach failed: %s\n", strerror(errno));
		bpf_xdp_detach((int)a, XDP_FLAGS_DRV_MODE, NULL);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("xdpredir: forwarding %s <-> %s in the driver\n", argv[2], argv[3]);
	fflush(stdout);
	while (!stop)
		pause();
	bpf_xdp_detach((int)a, XDP_FLAGS_DRV_MODE, NULL);
	bpf_xdp_detach((int)b, XDP_FLAGS_DRV_MODE, NULL);
	bpf_object__close(obj);
	return 0;
}
