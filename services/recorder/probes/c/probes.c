// SPDX-License-Identifier: GPL-2.0
/* probes: every packet that reached this host for a port nothing listens
 * on — what a port scan is made of.
 *
 * The kernel drops such a packet with the reason NO_SOCKET after it has
 * answered it (a TCP reset, an ICMP port unreachable: the answer may be
 * rate-limited, the drop is not), in every network namespace, for IPv4
 * and IPv6, TCP and UDP. The skb:kfree_skb tracepoint sees each drop; all
 * but NO_SOCKET leave at the first comparison. Each probe goes to user
 * space, which adds them up per source: a full ring drops the probe and
 * counts it in lost, never silently. */
#include "types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define PACKET_HOST 0
#define TCP_RST 0x04
#define TCP_ACK 0x10

struct probe {
	__u64 time_ns; /* CLOCK_BOOTTIME */
	__u32 netns;   /* the namespace the packet arrived in */
	__u8 family;   /* 4 or 6 */
	__u8 proto;    /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 tcp_flags;
	__u8 pad;
	__u16 local_port; /* host byte order */
	__u16 remote_port;
	__u8 local_addr[16];
	__u8 remote_addr[16];
};

/* Force the type into BTF so bpf2go generates its Go twin. */
const struct probe *unused_probe __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} probes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

#define WAKEUP_BYTES (64 << 10)

static __always_inline __u16 be16(const __u8 *p)
{
	return ((__u16)p[0] << 8) | p[1];
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(dropped, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	if (reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NO_SOCKET))
		return 0;
	/* Only what was sent to this host: UDP and TCP drop link-layer
	 * broadcast and multicast with other reasons today; this keeps a LAN's
	 * chatter out should that change. */
	if (BPF_CORE_READ_BITFIELD_PROBED(skb, pkt_type) != PACKET_HOST)
		return 0;
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u8 ip[40];
	if (bpf_probe_read_kernel(ip, 20, head + nh))
		return 0;
	struct probe p = {};
	__u8 version = ip[0] >> 4;
	if (version == 4) {
		p.family = 4;
		p.proto = ip[9];
		__builtin_memcpy(p.remote_addr, &ip[12], 4);
		__builtin_memcpy(p.local_addr, &ip[16], 4);
	} else if (version == 6) {
		if (bpf_probe_read_kernel(ip, 40, head + nh))
			return 0;
		p.family = 6;
		p.proto = ip[6];
		__builtin_memcpy(p.remote_addr, &ip[8], 16);
		__builtin_memcpy(p.local_addr, &ip[24], 16);
	} else {
		return 0;
	}
	if (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP)
		return 0;
	__u8 l4[14];
	if (bpf_probe_read_kernel(l4, sizeof(l4), head + th))
		return 0;
	p.remote_port = be16(&l4[0]);
	p.local_port = be16(&l4[2]);
	if (p.proto == IPPROTO_TCP) {
		p.tcp_flags = l4[13];
		/* An ACK or a reset to a closed port is a connection's late
		 * packet (or a scanner's own host answering the answers), never
		 * a probe: left here, it costs user space nothing. */
		if (p.tcp_flags & (TCP_ACK | TCP_RST))
			return 0;
	}
	p.netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	p.time_ns = bpf_ktime_get_boot_ns();

	struct probe *e = bpf_ringbuf_reserve(&probes, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			(*n)++;
		return 0;
	}
	__builtin_memcpy(e, &p, sizeof(p));
	__u64 waiting = bpf_ringbuf_query(&probes, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(e, waiting > WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
