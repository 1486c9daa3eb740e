// SPDX-License-Identifier: GPL-2.0
/* udpflows: every UDP exchange, with the process that made it, however
 * short: the flows of each socket (one per peer), as the socket-address
 * hooks of the root cgroup see them — connect(), sendmsg() to a peer,
 * recvmsg() from one — and the socket's release, which ends them.
 *
 * Every UDP send and receive in every namespace runs these programs: a
 * flow already reported leaves at one map lookup; it is reported again
 * only when its local port became known (a first send has none yet) or
 * after REPORT_EVERY of activity, so a busy flow stays a few events.
 *
 * Each program allows what it sees: they observe, never filter. A full
 * ring drops the event and counts it in lost. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

/* The task fields read, relocated by name in the running kernel's BTF. */
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct nsproxy {
	struct net *net_ns;
} __attribute__((preserve_access_index));

struct task_struct {
	struct task_struct *group_leader;
	struct nsproxy *nsproxy;
	char comm[16];
	__u64 start_boottime;
} __attribute__((preserve_access_index));

#define AF_INET 2
#define AF_INET6 10
#define SOCK_DGRAM 2
#define IPPROTO_UDP 17

#define KIND_CONNECT 1
#define KIND_SEND 2
#define KIND_RECV 3
#define KIND_RELEASE 4

#define REPORT_EVERY (10ULL * 1000 * 1000 * 1000)

struct flow_event {
	__u64 time_ns;     /* CLOCK_BOOTTIME */
	__u64 cookie;      /* the socket's, as sock_diag's idiag_cookie */
	__u64 netns;       /* the namespace's inode: the calling thread's, where its sockets live */
	__u64 cgroup;      /* the process's cgroup (v2) ID */
	__u32 pid;
	__u32 uid;
	__u32 gid;
	__u8 kind;
	__u8 family;       /* 4 or 6 */
	__u16 local_port;  /* host byte order; 0 while unbound */
	__u16 peer_port;   /* host byte order */
	__u8 pad[6];
	__u8 local_addr[16];
	__u8 peer_addr[16];
	char comm[16];     /* the process's (its main thread's), not the thread's */
	__u64 start_ns;    /* the process's start: with pid, one process */
};

const struct flow_event *unused_flow_event __attribute__((unused));

struct flow_key {
	__u64 cookie;
	__u8 peer[16];
	__u16 port;
	__u8 pad[6];
};

struct flow_seen {
	__u64 at;
	__u16 local_port;
	__u8 pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_seen);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

#define WAKEUP_BYTES (64 << 10)

static __always_inline void submit(struct flow_event *e)
{
	struct flow_event *out = bpf_ringbuf_reserve(&events, sizeof(*out), 0);
	if (!out) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			(*n)++;
		return;
	}
	__builtin_memcpy(out, e, sizeof(*e));
	__u64 waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(out, waiting > WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

static __always_inline void process(struct flow_event *e)
{
	e->pid = bpf_get_current_pid_tgid() >> 32;
	__u64 ids = bpf_get_current_uid_gid();
	e->uid = (__u32)ids;
	e->gid = ids >> 32;
	e->cgroup = bpf_get_current_cgroup_id();
	/* A datagram is often sent by a worker thread (dig's "isc-net-0000"):
	 * the process is named by its main thread. */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	BPF_CORE_READ_STR_INTO(&e->comm, leader, comm);
	e->start_ns = BPF_CORE_READ(leader, start_boottime);
	e->netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
}

/* flow reports a flow of ctx's socket with its peer, unless reported
 * lately with the same local port. */
static __always_inline void flow(struct bpf_sock_addr *ctx, __u8 kind, int v6)
{
	if (ctx->type != SOCK_DGRAM || ctx->protocol != IPPROTO_UDP)
		return;
	struct flow_event e = {};
	e.kind = kind;
	e.cookie = bpf_get_socket_cookie(ctx);
	e.peer_port = bpf_ntohs((__u16)ctx->user_port);
	struct bpf_sock *sk = ctx->sk;
	if (!sk)
		return;
	e.local_port = sk->src_port;
	if (v6) {
		e.family = 6;
		__u32 p0 = ctx->user_ip6[0], p1 = ctx->user_ip6[1], p2 = ctx->user_ip6[2], p3 = ctx->user_ip6[3];
		__builtin_memcpy(&e.peer_addr[0], &p0, 4);
		__builtin_memcpy(&e.peer_addr[4], &p1, 4);
		__builtin_memcpy(&e.peer_addr[8], &p2, 4);
		__builtin_memcpy(&e.peer_addr[12], &p3, 4);
		__u32 l0 = sk->src_ip6[0], l1 = sk->src_ip6[1], l2 = sk->src_ip6[2], l3 = sk->src_ip6[3];
		__builtin_memcpy(&e.local_addr[0], &l0, 4);
		__builtin_memcpy(&e.local_addr[4], &l1, 4);
		__builtin_memcpy(&e.local_addr[8], &l2, 4);
		__builtin_memcpy(&e.local_addr[12], &l3, 4);
	} else {
		e.family = 4;
		__u32 p = ctx->user_ip4, l = sk->src_ip4;
		__builtin_memcpy(e.peer_addr, &p, 4);
		__builtin_memcpy(e.local_addr, &l, 4);
	}
	struct flow_key key = {.cookie = e.cookie, .port = e.peer_port};
	__builtin_memcpy(key.peer, e.peer_addr, 16);
	e.time_ns = bpf_ktime_get_boot_ns();
	struct flow_seen *seen = bpf_map_lookup_elem(&flows, &key);
	if (seen && e.time_ns - seen->at < REPORT_EVERY && (seen->local_port != 0 || e.local_port == 0))
		return;
	struct flow_seen now = {.at = e.time_ns, .local_port = e.local_port};
	bpf_map_update_elem(&flows, &key, &now, BPF_ANY);
	process(&e);
	submit(&e);
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx) { flow(ctx, KIND_CONNECT, 0); return 1; }
SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx) { flow(ctx, KIND_CONNECT, 1); return 1; }
SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx) { flow(ctx, KIND_SEND, 0); return 1; }
SEC("cgroup/sendmsg6")
int sendmsg6(struct bpf_sock_addr *ctx) { flow(ctx, KIND_SEND, 1); return 1; }
SEC("cgroup/recvmsg4")
int recvmsg4(struct bpf_sock_addr *ctx) { flow(ctx, KIND_RECV, 0); return 1; }
SEC("cgroup/recvmsg6")
int recvmsg6(struct bpf_sock_addr *ctx) { flow(ctx, KIND_RECV, 1); return 1; }

/* A UDP socket's release ends its flows. */
SEC("cgroup/sock_release")
int released(struct bpf_sock *sk)
{
	if (sk->type != SOCK_DGRAM || sk->protocol != IPPROTO_UDP)
		return 1;
	struct flow_event e = {};
	e.kind = KIND_RELEASE;
	e.cookie = bpf_get_socket_cookie(sk);
	e.time_ns = bpf_ktime_get_boot_ns();
	process(&e);
	submit(&e);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
