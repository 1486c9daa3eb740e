/* The few kernel types tcpevents.c reads, declared by hand instead of a
 * generated vmlinux.h. preserve_access_index makes every field access a CO-RE
 * relocation: the loader finds each field by name in the running kernel's BTF,
 * so the offsets below need not match any kernel's layout. */
#ifndef PORTWARDEN_TYPES_H
#define PORTWARDEN_TYPES_H

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

/* bpf_ringbuf_query's and bpf_ringbuf_submit's flags (linux/bpf.h). */
enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};
enum {
	BPF_RB_AVAIL_DATA = 0,
};
/* bpf_map_update_elem's flags. */
enum {
	BPF_NOEXIST = 1,
};

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_RINGBUF = 27,
};

struct in6_addr {
	union {
		__u8 u6_addr8[16];
	} in6_u;
} __attribute__((preserve_access_index));

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} __attribute__((preserve_access_index)) possible_net_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
	unsigned long skc_flags;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
} __attribute__((preserve_access_index));

/* Before Linux 6.8 the socket's flags were its own field, not in
 * sock_common: CO-RE takes whichever the kernel has. */
struct sock___old {
	unsigned long sk_flags;
} __attribute__((preserve_access_index));

/* The payload counters of a TCP socket (RFC 4898's ThruOctets), as
 * tcp_info reports them. */
struct tcp_sock {
	__u64 bytes_received;
	__u64 bytes_sent;
	__u64 bytes_retrans;
} __attribute__((preserve_access_index));

struct sk_buff;

struct socket {
	struct sock *sk;
} __attribute__((preserve_access_index));

struct file {
	void *private_data;
} __attribute__((preserve_access_index));

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

/* A cgroup's directory: its name, and its parent's (__parent since Linux
 * 6.15, parent before: CO-RE takes whichever the kernel has). */
struct kernfs_node {
	struct kernfs_node *__parent;
	const char *name;
} __attribute__((preserve_access_index));

struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

struct cgroup {
	struct kernfs_node *kn;
} __attribute__((preserve_access_index));

struct css_set {
	struct cgroup *dfl_cgrp;
} __attribute__((preserve_access_index));

struct task_struct {
	struct files_struct *files;
	struct task_struct *group_leader;
	__u64 start_boottime;
	struct css_set *cgroups;
} __attribute__((preserve_access_index));

/* The system call number in each architecture's saved registers; the
 * ___flavour suffix lets CO-RE match both against the kernel's pt_regs. */
struct pt_regs___x86 {
	long orig_ax;
} __attribute__((preserve_access_index));

struct pt_regs___arm64 {
	int syscallno;
} __attribute__((preserve_access_index));

struct pt_regs;

#endif
