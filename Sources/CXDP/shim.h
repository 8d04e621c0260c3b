#ifndef SWIFTFABRIC_CXDP_SHIM_H
#define SWIFTFABRIC_CXDP_SHIM_H
/* Everything SwiftFabric needs from libxdp/libbpf and the kernel UAPI, in one header.
 * The XSK ring helpers in xdp/xsk.h are always-inline C and import into Swift directly. */
#include <xdp/xsk.h>
#include <xdp/libxdp.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/if_xdp.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>

/* Print callbacks for libxdp/libbpf: Swift cannot define a C function taking va_list, so the
 * two we need live here. Warnings and errors only (libxdp is chatty about its dispatcher
 * falling back, which is expected on this kernel), or everything for --verbose. */
static inline int fabric_libxdp_print_warn(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (level > LIBXDP_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static inline int fabric_libxdp_print_all(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

static inline int fabric_libbpf_print_warn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level > LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static inline int fabric_libbpf_print_all(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

static inline int fabric_libxdp_print_none(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	(void)level; (void)fmt; (void)ap;
	return 0;
}

static inline int fabric_libbpf_print_none(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level; (void)fmt; (void)ap;
	return 0;
}

/* verbose: 2 = everything, 1 = warnings and errors, 0 = nothing (while libxdp tries its
 * dispatcher, whose failure on this kernel is expected and otherwise printed as a warning). */
static inline void fabric_set_library_logging(int verbose)
{
	libxdp_set_print(verbose == 2 ? fabric_libxdp_print_all : verbose == 1 ? fabric_libxdp_print_warn : fabric_libxdp_print_none);
	libbpf_set_print(verbose == 2 ? fabric_libbpf_print_all : verbose == 1 ? fabric_libbpf_print_warn : fabric_libbpf_print_none);
}

/* setns(2) for network namespaces; glibc declares setns only under _GNU_SOURCE, which the
 * Swift Glibc module is not built with. */
static inline int fabric_setns_net(int fd)
{
	return (int)syscall(__NR_setns, fd, 0x40000000 /* CLONE_NEWNET */);
}

/* The MAC address of an interface in the calling thread's network namespace (SIOCGIFHWADDR;
 * /sys would show the namespace /sys was mounted in, not the one we setns()'d into). */
#include <sys/ioctl.h>
#include <string.h>
static inline int fabric_interface_mac(const char *ifname, unsigned char out[6])
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	int rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
	int err = rc < 0 ? -errno : 0;
	close(fd);
	if (!err)
		memcpy(out, ifr.ifr_hwaddr.sa_data, 6);
	return err;
}

/* CPU affinity of the calling thread as a raw bit mask (`size` bytes): glibc's wrappers need
 * _GNU_SOURCE, which the Swift Glibc module does not define. getaffinity returns the number of
 * bytes the kernel wrote, or -errno. */
#include <sys/syscall.h>
static inline long sf_thread_getaffinity(unsigned long size, void *mask)
{
	long rc = syscall(SYS_sched_getaffinity, 0, size, mask);
	return rc < 0 ? -errno : rc;
}

static inline long sf_thread_setaffinity(unsigned long size, const void *mask)
{
	long rc = syscall(SYS_sched_setaffinity, 0, size, mask);
	return rc < 0 ? -errno : 0;
}

/* The ring structs are embedded in Swift-allocated memory whose layout Swift derives from this
 * header; libxdp writes them through the pointers we pass. Same header, same layout. */
_Static_assert(sizeof(struct xdp_desc) == 16, "xdp_desc layout");
#endif
