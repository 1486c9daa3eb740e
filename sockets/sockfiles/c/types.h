/* The kernel types sockfiles.c reads, declared by hand instead of a
 * generated vmlinux.h: preserve_access_index makes each field access a CO-RE
 * relocation, found by name in the running kernel's BTF. */
#ifndef PORTWARDEN_SOCKFILES_TYPES_H
#define PORTWARDEN_SOCKFILES_TYPES_H

/* What bpf_helper_defs.h names. */
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
typedef unsigned short umode_t;

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
} __attribute__((preserve_access_index));

struct inode {
	umode_t i_mode;
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

/* The context of an iter/task_file program (kernel/bpf/task_iter.c). */
struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	__u32 fd;
	struct file *file;
} __attribute__((preserve_access_index));

#endif
