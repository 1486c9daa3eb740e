// SPDX-License-Identifier: GPL-2.0
/* tcpevents: the life of every TCP socket, as the kernel changes its state.
 *
 * The sock:inet_sock_set_state tracepoint reports each state change of every
 * TCP socket in every network namespace. Only the changes that open or end a
 * lifetime go to user space: SYN_SENT (connect), ESTABLISHED after it (the
 * local port is chosen only then), SYN_RECV (a connection arriving on a
 * listener), LISTEN, and CLOSE (by then the local port reads 0). The process is recorded only
 * where the change runs in the process's own system call (connect, listen):
 * an arriving connection changes state in softirq, on whatever process the
 * CPU happened to run, so its owner comes from accept() instead.
 *
 * With every_change set (the dashboard's incremental table), every state
 * change goes to user space: the table must follow ESTABLISHED to FIN_WAIT1
 * and the rest as a fresh dump would show them.
 *
 * A full ring buffer drops the event and counts it in lost: never silently.
 *
 * A socket's byte counters go with its CLOSE, so that the record keeps what
 * each connection carried. For the dashboard, moved (on the tcp_probe
 * tracepoint: every segment an established connection receives, data or
 * acknowledgement) keeps each connection's newest counters in the traffic
 * map, which user space empties at each refresh: a connection that moved
 * no byte is not there, and costs nothing. */
#include "types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* include/net/tcp_states.h */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7
#define TCP_LISTEN 10

#define EVENT_STATE 1
#define EVENT_ACCEPT 2

struct event {
	__u64 time_ns; /* CLOCK_BOOTTIME */
	__u64 sock;    /* the socket's kernel address: its identity while it lives */
	__u64 cookie;  /* sock_diag's idiag_cookie */
	__u64 start_ns; /* the process's start, ns since boot: PID and this name one process */
	__u32 netns;   /* network namespace inode */
	__u32 pid;     /* thread group (process) ID; 0 when not in process context */
	__u8 kind;
	__u8 old_state;
	__u8 new_state;
	__u8 family;
	__u16 local_port;  /* host byte order */
	__u16 remote_port; /* network byte order, as the kernel keeps it */
	__u8 local_addr[16];
	__u8 remote_addr[16];
	char comm[16];
	__u64 cgroup; /* the process's cgroup (v2) ID: the inode of its directory */
	__u32 uid;    /* the process's real user and group: kept when it is gone */
	__u32 gid;
	__u64 rx_bytes; /* tcpi_bytes_received, at CLOSE */
	__u64 tx_bytes; /* tcpi_bytes_sent less tcpi_bytes_retrans, at CLOSE */
	/* The names of the process's cgroup (v2) directory and its parent's
	 * ("system.slice", "backup.service"): a unit or a container that may
	 * be gone, with its cgroup, before user space reads the event. */
	char cgroup_parent[64];
	char cgroup_leaf[96];
};

/* Force the type into BTF so bpf2go generates its Go twin. */
const struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Waking the reader for every event costs it more than reading the event:
 * it is woken only once this much waits, and reads on a short timer too. */
#define WAKEUP_BYTES (256 << 10)

static __always_inline void submit(struct event *e)
{
	__u64 waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(e, waiting > WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);
	if (n)
		(*n)++;
}

/* reserve takes room for an event about sk in the ring, cleared and dated;
 * NULL, counted as lost, when the ring is full. */
static __always_inline struct event *reserve(const struct sock *sk, __u8 kind)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->time_ns = bpf_ktime_get_boot_ns();
	e->sock = (__u64)sk;
	e->kind = kind;
	return e;
}

/* set_process names the process whose system call this is. */
static __always_inline void set_process(struct event *e)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	__u64 ids = bpf_get_current_uid_gid();
	e->uid = (__u32)ids;
	e->gid = ids >> 32;
	e->cgroup = bpf_get_current_cgroup_id();
	struct kernfs_node *kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	if (!kn)
		return;
	bpf_probe_read_kernel_str(e->cgroup_leaf, sizeof(e->cgroup_leaf), BPF_CORE_READ(kn, name));
	struct kernfs_node *parent;
	if (bpf_core_field_exists(kn->__parent))
		parent = BPF_CORE_READ(kn, __parent);
	else
		parent = BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
	if (parent)
		bpf_probe_read_kernel_str(e->cgroup_parent, sizeof(e->cgroup_parent), BPF_CORE_READ(parent, name));
}

static __always_inline void fill_ends(struct event *e, const struct sock *sk)
{
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->remote_port = BPF_CORE_READ(sk, __sk_common.skc_dport);
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (e->family == AF_INET) {
		__be32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(e->local_addr, &l, 4);
		__builtin_memcpy(e->remote_addr, &r, 4);
	} else {
		BPF_CORE_READ_INTO(&e->local_addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e->remote_addr, sk, __sk_common.skc_v6_daddr);
	}
}

/* include/net/sock.h: enum sock_flags */
#define SOCK_DONE 1

/* received is the payload a connection received: bytes_received counts the
 * peer's FIN as one more, and tcp_fin() alone sets SOCK_DONE. */
static __always_inline __u64 received(const struct sock *sk)
{
	__u64 n = BPF_CORE_READ((const struct tcp_sock *)sk, bytes_received);
	unsigned long flags;
	if (bpf_core_field_exists(sk->__sk_common.skc_flags))
		flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	else
		flags = BPF_CORE_READ((const struct sock___old *)sk, sk_flags);
	if (n > 0 && (flags & (1UL << SOCK_DONE)))
		n--;
	return n;
}

/* Set by the loader: report every state change, not only a lifetime's ends. */
volatile const __u8 every_change = 0;

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(state_change, struct sock *sk, int old_state, int new_state)
{
	if (!every_change && new_state != TCP_SYN_SENT && new_state != TCP_SYN_RECV &&
	    new_state != TCP_LISTEN && new_state != TCP_CLOSE &&
	    !(new_state == TCP_ESTABLISHED && old_state == TCP_SYN_SENT))
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	unsigned short family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;

	struct event *e = reserve(sk, EVENT_STATE);
	if (!e)
		return 0;
	e->cookie = bpf_get_socket_cookie(sk);
	e->old_state = old_state;
	e->new_state = new_state;
	fill_ends(e, sk);
	if (new_state == TCP_CLOSE) {
		const struct tcp_sock *tp = (const struct tcp_sock *)sk;
		e->rx_bytes = received(sk);
		e->tx_bytes = BPF_CORE_READ(tp, bytes_sent) - BPF_CORE_READ(tp, bytes_retrans);
	}
	/* connect() and listen() run in the owner's system call. */
	if (new_state == TCP_SYN_SENT || new_state == TCP_LISTEN)
		set_process(e);
	submit(e);
	return 0;
}

/* The numbers of accept(2) and accept4(2) on the running architecture, set
 * by the loader; -1 for a system call the architecture lacks. */
volatile const long accept_nr = -1;
volatile const long accept4_nr = -1;

static __always_inline long syscall_nr(struct pt_regs *regs)
{
	if (bpf_core_field_exists(((struct pt_regs___x86 *)0)->orig_ax))
		return BPF_CORE_READ((struct pt_regs___x86 *)regs, orig_ax);
	if (bpf_core_field_exists(((struct pt_regs___arm64 *)0)->syscallno))
		return BPF_CORE_READ((struct pt_regs___arm64 *)regs, syscallno);
	return -1;
}

/* accept() hands an arrived connection to a process, as a new descriptor.
 * No tracepoint marks it and function tracing (fentry, kprobes) is not
 * available on every kernel, so the exit of every system call is watched
 * and all but a successful accept leave at the first comparison. The new
 * descriptor's socket is then read from the process's own file table. */
SEC("tp_btf/sys_exit")
int BPF_PROG(accepted, struct pt_regs *regs, long ret)
{
	if (ret < 0)
		return 0;
	long nr = syscall_nr(regs);
	if (nr < 0 || (nr != accept_nr && nr != accept4_nr))
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || (unsigned long)ret >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[ret]);
	if (!f)
		return 0;
	struct socket *so = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(so, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	struct event *e = reserve(sk, EVENT_ACCEPT);
	if (!e)
		return 0;
	fill_ends(e, sk);
	set_process(e);
	submit(e);
	return 0;
}

struct counters {
	__u64 rx; /* tcpi_bytes_received */
	__u64 tx; /* tcpi_bytes_sent less tcpi_bytes_retrans */
};

/* Force the type into BTF so bpf2go generates its Go twin. */
const struct counters *unused_counters __attribute__((unused));

/* The connections whose counters moved since user space last emptied the
 * map, by socket cookie; sized by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct counters);
} traffic SEC(".maps");

/* Counters the full traffic map could not take: the reader must read every
 * socket again. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} traffic_lost SEC(".maps");

SEC("tp_btf/tcp_probe")
int BPF_PROG(moved, struct sock *sk, struct sk_buff *skb)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u64 cookie = bpf_get_socket_cookie(sk);
	struct counters now = {
		.rx = received(sk),
		.tx = BPF_CORE_READ(tp, bytes_sent) - BPF_CORE_READ(tp, bytes_retrans),
	};
	struct counters *t = bpf_map_lookup_elem(&traffic, &cookie);
	if (t) { /* written in place: no allocation per segment */
		t->rx = now.rx;
		t->tx = now.tx;
		return 0;
	}
	if (bpf_map_update_elem(&traffic, &cookie, &now, BPF_NOEXIST) == 0)
		return 0;
	if (bpf_map_lookup_elem(&traffic, &cookie))
		return 0; /* another CPU put it there first */
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&traffic_lost, &zero);
	if (n)
		(*n)++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
