// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The fault lock of filesystems that no BTF locates (before 5.15 there is no
 * mapping->invalidate_lock; before 5.11 modules have no BTF), learned from
 * their faults, which take it by definition. Their fault handlers take the
 * lock shared right before they call the page-cache or DAX fault, on 5.10:
 * ext4_filemap_fault, ext4_dax_huge_fault (i_mmap_sem), __xfs_filemap_fault
 * (i_mmaplock, through xfs_ilock), __fuse_dax_fault (i_mmap_sem). So the
 * last rwsem a task took shared between the start of its fault
 * (handle_mm_fault, after mmap_lock) and filemap_fault or dax_iomap_fault is
 * the fault lock; none at all means the filesystem's faults take none (FUSE
 * without DAX). Its offset from the inode is the same for every inode of the
 * filesystem type: punch.bpf.c reads the lock of any inode from it.
 */
#include "daxscope.bpf.h"

/* A task inside a user fault: the last rwsem it took shared since the fault began, 0 if none. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tid */
	__type(value, __u64);
} fault_read_locks SEC(".maps");

/*
 * A fault on a file whose filesystem's fault lock is not known yet: what it
 * takes shared from here on is recorded. Kernels with invalidate_lock never
 * need it.
 */
SEC("fentry/handle_mm_fault")
int BPF_PROG(on_learn_fault_start, struct vm_area_struct *vma)
{
	struct inode *inode = BPF_CORE_READ(vma, vm_file, f_inode);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 none = 0, lock;

	if (bpf_core_field_exists(struct address_space, invalidate_lock) || !inode ||
	    learned_fault_lock(inode, &lock))
		return 0;
	if (bpf_map_update_elem(&fault_read_locks, &tid, &none, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
	return 0;
}

SEC("fexit/down_read")
int BPF_PROG(on_learn_read_lock, struct rw_semaphore *sem)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *last = bpf_map_lookup_elem(&fault_read_locks, &tid);

	if (last)
		*last = (__u64)sem;
	return 0;
}

/* The fault of VMF calls the page-cache (DAX 0) or DAX fault: what it took shared before is its filesystem's fault lock. */
static __always_inline void learn_fault_lock(struct vm_fault *vmf, __u32 dax)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct fault_lock_key key = { .dax = dax };
	struct fault_lock_seen seen = {};
	__u64 *sem = bpf_map_lookup_elem(&fault_read_locks, &tid);
	struct inode *inode;
	__u64 mapping;

	if (!sem)
		return; /* its filesystem's lock is known, or the fault began before the hooks */
	inode = BPF_CORE_READ(vmf, vma, vm_file, f_inode);
	if (!inode)
		return;
	key.fs_type = (__u64)BPF_CORE_READ(inode, i_sb, s_type);
	mapping = (__u64)BPF_CORE_READ(inode, i_mapping);
	seen.offset = (__s64)(*sem - (__u64)inode);
	if (!*sem)
		seen.none = 1;
	else if (seen.offset <= -FAULT_LOCK_REACH || seen.offset >= FAULT_LOCK_REACH || (seen.offset & 7) ||
		 *sem == (__u64)inode + bpf_core_field_offset(struct inode, i_rwsem) ||
		 *sem == mapping + bpf_core_field_offset(struct address_space, i_mmap_rwsem))
		return; /* not a lock of this inode's own: teaches nothing */
	bpf_map_update_elem(&fault_locks, &key, &seen, BPF_NOEXIST);
	bpf_map_delete_elem(&fault_read_locks, &tid);
}

SEC("fentry/filemap_fault")
int BPF_PROG(on_learn_filemap_fault, struct vm_fault *vmf)
{
	learn_fault_lock(vmf, 0);
	return 0;
}

SEC("fentry/dax_iomap_fault")
int BPF_PROG(on_learn_dax_fault, struct vm_fault *vmf)
{
	learn_fault_lock(vmf, 1);
	return 0;
}
