// SPDX-License-Identifier: GPL-2.0
/* sockfiles: every socket every process holds, from the kernel's task-file
 * iterator: one record (process, fd, socket inode) per open socket, read in
 * one pass inside the kernel where /proc would take a readlink per fd.
 * Threads sharing their process's file table are visited once. */
#include "types.h"
#include <bpf/bpf_helpers.h>

#define S_IFMT 00170000
#define S_IFSOCK 0140000

struct record {
	__u32 tgid;  /* the process (thread group) ID */
	__u32 fd;    /* the descriptor in its file table */
	__u64 inode; /* the socket's inode: sock_diag's idiag_inode */
};

/* Force the type into BTF so bpf2go generates its Go twin. */
const struct record *unused_record __attribute__((unused));

SEC("iter/task_file")
int socket_files(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	if (!task || !file)
		return 0;
	/* Plain loads: the verifier knows these kernel types (BTF) and makes
	 * each a fault-safe load, cheaper than a probe-read helper call. */
	struct inode *inode = file->f_inode;
	if (!inode || (inode->i_mode & S_IFMT) != S_IFSOCK)
		return 0;
	struct record r = {
		.tgid = task->tgid,
		.fd = ctx->fd,
		.inode = inode->i_ino,
	};
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
