#ifndef SWIFTFABRIC_CFABRICSHIMS_H
#define SWIFTFABRIC_CFABRICSHIMS_H
/* What Swift cannot reach on its own: calls glibc declares only under _GNU_SOURCE (setns,
 * thread affinity), an ioctl with a union argument, and the TPACKET_V3 ring accessors, whose
 * status words need acquire/release ordering. One prefix, sf_. Per-packet accessors are
 * static inline so they inline into the Swift loops.
 * (Glibc declares syscall() without _GNU_SOURCE; the wrappers use it for setns and affinity.) */
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

/* setns(2) for network namespaces; glibc declares setns only under _GNU_SOURCE, which the
 * Swift Glibc module is not built with. */
static inline int sf_setns_net(int fd)
{
	return (int)syscall(__NR_setns, fd, 0x40000000 /* CLONE_NEWNET */);
}

/* ppoll(2) with a nanosecond timeout (glibc declares ppoll only under _GNU_SOURCE): the run
 * loop sleeps until a frame on an emulated wire is due, which poll()'s milliseconds cannot say. */
static inline int sf_ppoll_ns(struct pollfd *fds, unsigned long n, uint64_t timeout_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / 1000000000u), .tv_nsec = (long)(timeout_ns % 1000000000u) };
	return (int)syscall(__NR_ppoll, fds, n, &ts, NULL, 0);
}

/* The MAC address of an interface in the calling thread's network namespace (SIOCGIFHWADDR;
 * /sys would show the namespace /sys was mounted in, not the one we setns()'d into). */
#include <sys/ioctl.h>
#include <string.h>
static inline int sf_interface_mac(const char *ifname, unsigned char out[6])
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

/* Asks `request` (an SIOCGIF* ioctl) about `ifname` through `fd`, any AF_INET datagram socket
 * of the namespace; 0, or -errno on failure. */
static inline int sf_interface_ioctl(int fd, const char *ifname, unsigned long request, struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	strncpy(ifr->ifr_name, ifname, IFNAMSIZ - 1);
	return ioctl(fd, request, ifr) < 0 ? -errno : 0;
}

/* An interface's flags (IFF_UP, IFF_RUNNING: admin up, and operationally up, i.e. carrier);
 * -errno on failure. */
static inline int sf_interface_flags(int fd, const char *ifname)
{
	struct ifreq ifr;
	int rc = sf_interface_ioctl(fd, ifname, SIOCGIFFLAGS, &ifr);
	return rc < 0 ? rc : ifr.ifr_flags & 0xffff;
}

/* An interface's MTU; -errno on failure. */
static inline int sf_interface_mtu(int fd, const char *ifname)
{
	struct ifreq ifr;
	int rc = sf_interface_ioctl(fd, ifname, SIOCGIFMTU, &ifr);
	return rc < 0 ? rc : ifr.ifr_mtu;
}

/* An interface's link speed in Mb/s as its driver reports it (ETHTOOL_GSET through
 * SIOCETHTOOL, in the calling thread's namespace); 0 when unknown (no link, a driver that
 * reports none), -errno on failure. veth reports a nominal 10000 whatever it carries. */
#include <linux/ethtool.h>
#ifndef SIOCETHTOOL
#define SIOCETHTOOL 0x8946
#endif
static inline long sf_interface_speed_mbps(const char *ifname)
{
	struct ifreq ifr;
	struct ethtool_cmd cmd;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memset(&cmd, 0, sizeof(cmd));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	cmd.cmd = ETHTOOL_GSET;
	ifr.ifr_data = (char *)&cmd;
	int rc = ioctl(fd, SIOCETHTOOL, &ifr);
	int err = rc < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	uint32_t speed = ethtool_cmd_speed(&cmd);
	return speed == 0 || speed == (uint32_t)SPEED_UNKNOWN ? 0 : (long)speed;
}

/* Sets or clears an interface's IFF_UP (`ip link set up|down`); 0 or -errno. */
static inline int sf_interface_set_up(int fd, const char *ifname, int up)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return -errno;
	return 0;
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

/* Nice value of the calling thread only (Linux applies PRIO_PROCESS with a thread id to that
 * thread). Returns 0 or -errno. */
#include <sys/resource.h>
static inline int sf_thread_setnice(int nice)
{
	return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice) ? -errno : 0;
}

/* AF_PACKET TPACKET_V3 rings (the switch's afpacket backend). Blocks of the RX ring belong to
 * user space while block_status has TP_STATUS_USER; every packet header says where the next
 * one is. The TX ring is fixed-size slots (variable-sized V3 TX slots are not supported by the
 * kernel): data at TPACKET3_HDRLEN - sizeof(struct sockaddr_ll) from the slot. Status words
 * are read with acquire and written with release ordering, as the kernel pairs them. */
#include <stdint.h>
static inline int sf_tp3_block_ready(const void *blk)
{
	const struct tpacket_block_desc *b = blk;
	return (__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
}
static inline uint32_t sf_tp3_block_packets(const void *blk) { return ((const struct tpacket_block_desc *)blk)->hdr.bh1.num_pkts; }
static inline void *sf_tp3_block_first(void *blk)
{
	return (uint8_t *)blk + ((struct tpacket_block_desc *)blk)->hdr.bh1.offset_to_first_pkt;
}
static inline void sf_tp3_block_release(void *blk)
{
	__atomic_store_n(&((struct tpacket_block_desc *)blk)->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}
static inline void *sf_tp3_next(void *pkt) { return (uint8_t *)pkt + ((struct tpacket3_hdr *)pkt)->tp_next_offset; }
/* Copies the frame at `pkt` to `dst` (capacity `cap`), putting back an 802.1Q/802.1ad tag the
 * kernel took out of the frame into the header. Returns the length, or -1 if it does not fit
 * or was truncated by the ring. */
static inline int sf_tp3_copy(const void *pkt, uint8_t *dst, uint32_t cap)
{
	const struct tpacket3_hdr *h = pkt;
	const uint8_t *src = (const uint8_t *)pkt + h->tp_mac;
	uint32_t len = h->tp_snaplen;
	if (len != h->tp_len || len < 14)
		return -1;
	if (h->tp_status & TP_STATUS_VLAN_VALID) {
		if (len + 4 > cap)
			return -1;
		uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : ETH_P_8021Q;
		uint16_t tci = (uint16_t)h->hv1.tp_vlan_tci;
		memcpy(dst, src, 12);
		dst[12] = (uint8_t)(tpid >> 8); dst[13] = (uint8_t)tpid;
		dst[14] = (uint8_t)(tci >> 8); dst[15] = (uint8_t)tci;
		memcpy(dst + 16, src + 12, len - 12);
		return (int)len + 4;
	}
	if (len > cap)
		return -1;
	memcpy(dst, src, len);
	return (int)len;
}
/* TX slot states: 0 free, 1 in the kernel's hands, 2 free after a malformed-frame refusal. */
static inline int sf_tp3_tx_state(const void *slot)
{
	uint32_t st = __atomic_load_n(&((const struct tpacket3_hdr *)slot)->tp_status, __ATOMIC_ACQUIRE);
	if (st == TP_STATUS_AVAILABLE) return 0;
	if (st & TP_STATUS_WRONG_FORMAT) return 2;
	return 1;
}
static inline void sf_tp3_tx_put(void *slot, const void *data, uint32_t len)
{
	struct tpacket3_hdr *h = slot;
	memcpy((uint8_t *)slot + TPACKET3_HDRLEN - sizeof(struct sockaddr_ll), data, len);
	h->tp_len = len;
	h->tp_snaplen = len;
	h->tp_next_offset = 0;
	__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
}
/* A TX slot filled piece by piece (a jumbo frame gathered from its chain of frames): where
 * its data goes, then the length once it is there. */
static inline void *sf_tp3_tx_data(void *slot) { return (uint8_t *)slot + TPACKET3_HDRLEN - sizeof(struct sockaddr_ll); }
static inline void sf_tp3_tx_commit(void *slot, uint32_t len)
{
	struct tpacket3_hdr *h = slot;
	h->tp_len = len;
	h->tp_snaplen = len;
	h->tp_next_offset = 0;
	__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
}
static inline uint32_t sf_tp3_tx_capacity(uint32_t frame_size) { return frame_size - (TPACKET3_HDRLEN - sizeof(struct sockaddr_ll)); }
/* Sets up one port's socket: TPACKET_V3, RX and TX rings (block_size x block_nr each, TX in
 * frame_size slots), qdisc bypass, no copies of our own transmissions, promiscuous, bound to
 * ifindex. Returns the fd and the mapping (RX ring first, then TX), or -errno. */
static inline int sf_afpacket_open(int ifindex, uint32_t block_size, uint32_t block_nr, uint32_t frame_size,
				   uint32_t retire_ms, void **map_out, size_t *map_len)
{
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		return -errno;
	int v = TPACKET_V3, one = 1;
	struct tpacket_req3 rx = {.tp_block_size = block_size, .tp_block_nr = block_nr, .tp_frame_size = frame_size,
				  .tp_frame_nr = block_size / frame_size * block_nr, .tp_retire_blk_tov = retire_ms};
	struct tpacket_req3 tx = {.tp_block_size = block_size, .tp_block_nr = block_nr, .tp_frame_size = frame_size,
				  .tp_frame_nr = block_size / frame_size * block_nr};
	struct packet_mreq mr = {.mr_ifindex = ifindex, .mr_type = PACKET_MR_PROMISC};
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex};
	int err = 0;
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof(rx)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof(tx)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)))
		err = -errno;
	size_t len = (size_t)block_size * block_nr * 2;
	void *map = err ? MAP_FAILED : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (!err && map == MAP_FAILED)
		err = -errno;
	if (!err && bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		err = -errno;
	if (err) {
		if (map != MAP_FAILED)
			munmap(map, len);
		close(fd);
		return err;
	}
	*map_out = map;
	*map_len = len;
	return fd;
}
/* PACKET_STATISTICS (reset by every read): frames the ring had no room for. */
static inline long sf_afpacket_drops(int fd)
{
	struct tpacket_stats_v3 st;
	socklen_t len = sizeof(st);
	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len))
		return -errno;
	return st.tp_drops;
}


/* A read prefetch into every cache level (x86 PREFETCHT0): the data path asks for the next
 * frames' headers and the LPM entries of a batch before it uses them (VPP's dual loop). A
 * hint: it never faults, whatever the address. Swift has no prefetch intrinsic. */
static inline void sf_prefetch(const void *p)
{
	__builtin_prefetch(p, 0, 3);
}

/* As sf_prefetch, for a line the caller is about to write (PREFETCHW where the CPU has it). */
static inline void sf_prefetch_write(void *p)
{
	__builtin_prefetch(p, 1, 3);
}

/* No struct is mirrored in Swift: the ring headers are read and written only here, so C's
 * own layout is the only one in play (no _Static_assert needed). */
#endif
