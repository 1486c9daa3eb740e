/* The few kernel types probes.c reads, declared by hand instead of a
 * generated vmlinux.h; preserve_access_index makes every access a CO-RE
 * relocation, found by name in the running kernel's BTF. */
#ifndef PORTWARDEN_PROBES_TYPES_H
#define PORTWARDEN_PROBES_TYPES_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};
enum {
	BPF_RB_AVAIL_DATA = 0,
};

enum bpf_map_type {
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_RINGBUF = 27,
};

/* The value is the running kernel's, relocated by name. */
enum skb_drop_reason {
	SKB_DROP_REASON_NO_SOCKET = 2,
};

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} __attribute__((preserve_access_index)) possible_net_t;

struct net_device {
	possible_net_t nd_net;
} __attribute__((preserve_access_index));

struct sk_buff {
	__u8 pkt_type : 3; /* PACKET_HOST, PACKET_BROADCAST, … */
	struct net_device *dev;
	unsigned char *head;
	__u16 transport_header;
	__u16 network_header;
} __attribute__((preserve_access_index));

#endif
