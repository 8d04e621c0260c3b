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
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <errno.h>
#endif
