#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <sys/mman.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <xdp/xsk.h>
#include <time.h>
#define CHUNK 16384
#define NFR 2048
int main(int argc, char **argv) {
    const char *ifn = argv[1]; int chunk = argc > 2 ? atoi(argv[2]) : CHUNK; int huge = argc > 3 ? atoi(argv[3]) : 1; int sg = argc > 4 ? atoi(argv[4]) : 0;
    int ifi = if_nametoindex(ifn);
    struct bpf_object *o = bpf_object__open_file("jb.o", NULL);
    if (!o || bpf_object__load(o)) { fprintf(stderr, "load: %s\n", strerror(errno)); return 1; }
    struct bpf_program *p = bpf_object__find_program_by_name(o, "jb");
    int pfd = bpf_program__fd(p), mfd = bpf_object__find_map_fd_by_name(o, "xsks");
    int r = bpf_xdp_attach(ifi, pfd, XDP_FLAGS_DRV_MODE, NULL);
    printf("attach native (frags prog): %d %s\n", r, r ? strerror(-r) : "");
    size_t size = (size_t)NFR * chunk;
    void *area = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|(huge ? MAP_HUGETLB : 0), -1, 0);
    if (area == MAP_FAILED) { perror("mmap"); return 1; }
    struct xsk_ring_prod fq, tx; struct xsk_ring_cons cq, rx; struct xsk_umem *umem; struct xsk_socket *xsk;
    struct xsk_umem_config uc = { .fill_size = 2048, .comp_size = 2048, .frame_size = chunk, .frame_headroom = 0, .flags = 0 };
    r = xsk_umem__create(&umem, area, size, &fq, &cq, &uc);
    printf("umem chunk %d huge %d: %d %s\n", chunk, huge, r, r ? strerror(-r) : "");
    if (r) return 1;
    struct xsk_socket_config sc = { .rx_size = 2048, .tx_size = 2048, .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD, .bind_flags = XDP_COPY | (sg ? (1 << 4) : 0) };
    r = xsk_socket__create(&xsk, ifn, 0, umem, &rx, &tx, &sc);
    printf("xsk bind copy: %d %s\n", r, r ? strerror(-r) : "");
    if (r) return 1;
    int fd = xsk_socket__fd(xsk); __u32 k = 0;
    bpf_map_update_elem(mfd, &k, &fd, 0);
    __u32 idx; int n = xsk_ring_prod__reserve(&fq, 1024, &idx);
    for (int i = 0; i < n; i++) *xsk_ring_prod__fill_addr(&fq, idx + i) = (__u64)i * chunk;
    xsk_ring_prod__submit(&fq, n);
    // TX one jumbo frame (9014 bytes): one descriptor, or with SG three chained ones.
    unsigned char *f = (unsigned char*)area + (size_t)1500 * chunk; memset(f, 0xff, 6); memset(f + 6, 0x02, 6); f[12] = 0x88; f[13] = 0xb5; memset(f + 14, 0xab, chunk - 14);
    int parts = sg ? (9014 + chunk - 1) / chunk : 1; __u32 ti; xsk_ring_prod__reserve(&tx, parts, &ti);
    for (int q = 0; q < parts; q++) {
        struct xdp_desc *d = xsk_ring_prod__tx_desc(&tx, ti + q); d->addr = (__u64)(1500 + q) * chunk;
        if (q > 0) memset((unsigned char*)area + d->addr, 0xcd, chunk);
        int left = 9014 - q * chunk; d->len = sg ? (left > chunk ? chunk : left) : 9014; d->options = (sg && q < parts - 1) ? 1 : 0;
    }
    xsk_ring_prod__submit(&tx, parts);
    r = sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
    printf("tx kick 9014 B: %d %s\n", r, r < 0 ? strerror(errno) : "");
    struct pollfd pf = { .fd = fd, .events = POLLIN };
    time_t end = time(NULL) + 4; int got = 0;
    while (time(NULL) < end) {
        poll(&pf, 1, 200);
        __u32 ri; int m = xsk_ring_cons__peek(&rx, 64, &ri);
        for (int i = 0; i < m; i++) { const struct xdp_desc *rd = xsk_ring_cons__rx_desc(&rx, ri + i); if (got++ < 5) printf("rx len %u options %u\n", rd->len, rd->options); }
        xsk_ring_cons__release(&rx, m);
    }
    __u32 ci; int c = xsk_ring_cons__peek(&cq, 16, &ci); printf("tx completions %d, rx frames %d\n", c, got);
    struct xdp_statistics st; socklen_t sl = sizeof st; getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &sl);
    printf("stats rx_dropped %llu rx_invalid %llu tx_invalid %llu\n", st.rx_dropped, st.rx_invalid_descs, st.tx_invalid_descs);
    bpf_xdp_detach(ifi, XDP_FLAGS_DRV_MODE, NULL);
    return 0;
}
