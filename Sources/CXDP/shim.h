#ifndef SWIFTFABRIC_CXDP_SHIM_H
#define SWIFTFABRIC_CXDP_SHIM_H
/* libxdp/libbpf and the AF_XDP UAPI for Swift. The XSK ring helpers in xdp/xsk.h are
 * always-inline C and import into Swift directly; the print callbacks are the only C of our own
 * here (Swift cannot define a function taking va_list). The rest of SwiftFabric's C (setns,
 * thread affinity, TPACKET_V3 accessors) is in CFabricShims, which does not link libxdp. */
#include <xdp/xsk.h>
#include <xdp/libxdp.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/if_xdp.h>
#include <linux/if_link.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <errno.h>
#include <unistd.h>
/* The XDP fast path's map layouts, shared with the program (FastPathMaps writes them). */
#include "../../bpf/fabric_fastpath_types.h"

/* Print callbacks for libxdp/libbpf: warnings and errors only (libxdp is chatty about its
 * dispatcher falling back, which is expected on this kernel), everything (--verbose), or
 * nothing (while libxdp tries its dispatcher). One macro writes the three for each library. */
#define SF_PRINT_CALLBACKS(lib, WARN)                                                              \
	static inline int sf_##lib##_print_warn(enum lib##_print_level level, const char *fmt, va_list ap) \
	{ return level > WARN ? 0 : vfprintf(stderr, fmt, ap); }                                   \
	static inline int sf_##lib##_print_all(enum lib##_print_level level, const char *fmt, va_list ap)  \
	{ (void)level; return vfprintf(stderr, fmt, ap); }                                         \
	static inline int sf_##lib##_print_none(enum lib##_print_level level, const char *fmt, va_list ap) \
	{ (void)level; (void)fmt; (void)ap; return 0; }
SF_PRINT_CALLBACKS(libxdp, LIBXDP_WARN)
SF_PRINT_CALLBACKS(libbpf, LIBBPF_WARN)

/* verbose: 2 = everything, 1 = warnings and errors, 0 = nothing. */
static inline void sf_set_library_logging(int verbose)
{
	libxdp_set_print(verbose == 2 ? sf_libxdp_print_all : verbose == 1 ? sf_libxdp_print_warn : sf_libxdp_print_none);
	libbpf_set_print(verbose == 2 ? sf_libbpf_print_all : verbose == 1 ? sf_libbpf_print_warn : sf_libbpf_print_none);
}

/* XDP attachment without libxdp's dispatcher. A link (bpf_link_create, BPF_XDP; kernel 5.9+)
 * holds the program on the interface for as long as its descriptor lives, so the kernel takes
 * the program off when the process dies, however it dies. Netlink attachment (the fallback)
 * outlives the process. `native`: driver mode, else generic (skb) mode. The link returns its
 * descriptor, netlink 0; both -errno on failure. */
#define SF_XDP_MODE_FLAGS(native) ((native) ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE)
static inline int sf_xdp_link_create(int prog_fd, int ifindex, int native)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = SF_XDP_MODE_FLAGS(native));
	int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	return fd < 0 ? -errno : fd;
}
static inline int sf_xdp_netlink_attach(int prog_fd, int ifindex, int native)
{
	int rc = bpf_xdp_attach(ifindex, prog_fd, SF_XDP_MODE_FLAGS(native) | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	return rc < 0 ? rc : 0;
}
/* Removes a netlink-attached program, only if it is still `prog_fd` (XDP_FLAGS_REPLACE). */
static inline int sf_xdp_netlink_detach(int prog_fd, int ifindex, int native)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = prog_fd);
	return bpf_xdp_detach(ifindex, SF_XDP_MODE_FLAGS(native), &opts);
}

/* The ring structs are embedded in Swift-allocated memory whose layout Swift derives from this
 * header; libxdp writes them through the pointers we pass. Same header, same layout. */
_Static_assert(sizeof(struct xdp_desc) == 16, "xdp_desc layout");
#endif
