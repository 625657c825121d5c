/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel types as they were on other kernels, and the accessors that read
 * whichever one this kernel has (as libbpf-tools' core_fixes.bpf.h). CO-RE
 * ignores the ___suffix of a flavour and matches it by name and field against
 * the running kernel's BTF (vmlinux or a module), choosing at load time.
 */
#ifndef DAXSCOPE_CORE_FIXES_BPF_H
#define DAXSCOPE_CORE_FIXES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

/* ---- page cache: struct folio or struct page ---- */

/*
 * Page-cache tracepoints pass a struct folio where the kernel has one
 * (commit 7b230db3b8d3 "mm: Introduce struct folio", 5.16), else a struct
 * page. A folio overlays its head page (FOLIO_MATCH, include/linux/mm_types.h),
 * so its mapping and index read right through a page too.
 */
struct page___old {
	struct address_space *mapping;
	unsigned long index;
} __attribute__((preserve_access_index));

static __always_inline struct address_space *folio_mapping_of(void *folio_or_page)
{
	if (bpf_core_type_exists(struct folio))
		return BPF_CORE_READ((struct folio *)folio_or_page, mapping);
	return BPF_CORE_READ((struct page___old *)folio_or_page, mapping);
}

static __always_inline __u64 folio_index_of(void *folio_or_page)
{
	if (bpf_core_type_exists(struct folio))
		return BPF_CORE_READ((struct folio *)folio_or_page, index);
	return BPF_CORE_READ((struct page___old *)folio_or_page, index);
}

/*
 * page.flags (and a folio's, which overlays its head page): an unsigned long,
 * or a memdesc_flags_t since commit 53fbef56e07d ("mm: introduce
 * memdesc_flags_t", 6.17).
 */
struct page___plain {
	unsigned long flags;
} __attribute__((preserve_access_index));

struct memdesc_flags___dx {
	unsigned long f;
};

struct page___memdesc {
	struct memdesc_flags___dx flags;
} __attribute__((preserve_access_index));

static __always_inline unsigned long page_flags(struct page *page)
{
	struct page___plain *plain = (void *)page;
	struct page___memdesc *memdesc = (void *)page;

	if (bpf_core_field_exists(plain->flags))
		return BPF_CORE_READ(plain, flags);
	if (bpf_core_field_exists(memdesc->flags.f))
		return BPF_CORE_READ(memdesc, flags.f);
	return 0;
}

/*
 * A folio's order: in _folio_order, or in the low byte of _flags_1 since
 * commit ebc1baf5c9b4 ("mm: free up a word in the first tail page", 6.6).
 */
struct folio___order {
	unsigned char _folio_order;
	unsigned long _flags_1;
} __attribute__((preserve_access_index));

#define FOLIO_ORDER_MASK 0xff /* from include/linux/mm.h, folio_large_order(): _flags_1 & 0xff */

static __always_inline __u32 folio_order_of(struct folio *folio)
{
	unsigned long head = 1UL << bpf_core_enum_value(enum pageflags, PG_head);
	struct folio___order *order = (void *)folio;

	if (!(page_flags((struct page *)folio) & head))
		return 0;
	if (bpf_core_field_exists(order->_folio_order))
		return BPF_CORE_READ(order, _folio_order);
	if (bpf_core_field_exists(order->_flags_1))
		return BPF_CORE_READ(order, _flags_1) & FOLIO_ORDER_MASK;
	return 0;
}

/* ---- faults: struct vm_fault ---- */

/* vm_fault.flags is an enum fault_flag from 5.12 (commit not found here), an unsigned int before. */
struct vm_fault___old {
	unsigned int flags;
} __attribute__((preserve_access_index));

/* FAULT_FLAG_WRITE: an enum fault_flag value from 5.12, before it #define FAULT_FLAG_WRITE 0x01 (include/linux/mm.h). */
static __always_inline unsigned int fault_flag_write(void)
{
	if (bpf_core_enum_value_exists(enum fault_flag, FAULT_FLAG_WRITE))
		return bpf_core_enum_value(enum fault_flag, FAULT_FLAG_WRITE);
	return 0x01;
}

static __always_inline bool fault_is_write(struct vm_fault *vmf)
{
	struct vm_fault___old *old = (void *)vmf;

	if (bpf_core_field_exists(old->flags))
		return BPF_CORE_READ(old, flags) & fault_flag_write();
	return BPF_CORE_READ(vmf, flags) & fault_flag_write();
}

/* VM_FAULT_NOPAGE: enum vm_fault_reason (include/linux/mm_types.h); 0x100 wherever it is not in the BTF. */
static __always_inline unsigned int vm_fault_nopage(void)
{
	if (bpf_core_enum_value_exists(enum vm_fault_reason, VM_FAULT_NOPAGE))
		return bpf_core_enum_value(enum vm_fault_reason, VM_FAULT_NOPAGE);
	return 0x100;
}

/* ---- the fault/punch lock of an inode ---- */

/*
 * Before mapping->invalidate_lock (commit 730633f0b7f9 "mm: Protect
 * operations adding pages to page cache with invalidate_lock", 5.15) each
 * filesystem had its own fault/punch rwsem in its inode. Flavours of the
 * private inode types resolve where those types have BTF: built into
 * vmlinux, or modules from commit 36e68442d1af ("bpf: Load and verify kernel
 * module BTFs", 5.11). xfs's i_mmaplock was an mrlock_t whose rwsem comes
 * first (a plain rwsem from "xfs: replace mrlock_t with rw_semaphores", 5.14;
 * its commit id not found here): any struct matches a struct for CO-RE, at
 * the same offset.
 */
struct ext4_inode_info___old {
	struct rw_semaphore i_mmap_sem;
	struct inode vfs_inode;
} __attribute__((preserve_access_index));

struct xfs_inode___old {
	struct rw_semaphore i_mmaplock;
	struct inode i_vnode;
} __attribute__((preserve_access_index));

struct fuse_inode___old {
	struct inode inode;
	struct rw_semaphore i_mmap_sem;
} __attribute__((preserve_access_index));

/*
 * btrfs keeps its own fault/punch rwsem to this day (fs/btrfs/btrfs_inode.h,
 * i_mmap_lock): punches take it for write through btrfs_inode_lock(...,
 * BTRFS_ILOCK_MMAP), btrfs_page_mkwrite takes it shared; mapping->
 * invalidate_lock is never taken by its punch.
 */
struct btrfs_inode___dx {
	struct rw_semaphore i_mmap_lock;
	struct inode vfs_inode;
} __attribute__((preserve_access_index));

#define EXT4_SUPER_MAGIC 0xEF53     /* from include/uapi/linux/magic.h */
#define BTRFS_SUPER_MAGIC 0x9123683E /* from include/uapi/linux/magic.h */
#define OVERLAYFS_SUPER_MAGIC 0x794c7630 /* from include/uapi/linux/magic.h */
#define TMPFS_MAGIC 0x01021994      /* from include/uapi/linux/magic.h */
#define XFS_SUPER_MAGIC 0x58465342  /* from include/uapi/linux/magic.h */
#define FUSE_SUPER_MAGIC 0x65735546 /* from fs/fuse/inode.c; virtiofs too */

/* container_of(inode, TYPE, INODE_FIELD)->LOCK_FIELD */
#define FS_LOCK(inode, type, inode_field, lock_field) \
	((__u64)(inode) - bpf_core_field_offset(type, inode_field) + bpf_core_field_offset(type, lock_field))

/*
 * The lock faults take shared and punches take exclusive:
 * mapping->invalidate_lock (commit 730633f0b7f9, above), else the filesystem's own; 0 where
 * neither has BTF (lockwait.bpf.c then learns it from the punch). Which one
 * into *kind (enum dx_fault_guard).
 */
static __always_inline __u64 fault_lock_addr(struct inode *inode, __u32 *kind)
{
	struct address_space *mapping = BPF_CORE_READ(inode, i_mapping);
	unsigned long magic = BPF_CORE_READ(inode, i_sb, s_magic);

	*kind = DX_GUARD_FS_LOCK;
	if (magic == BTRFS_SUPER_MAGIC && bpf_core_field_exists(struct btrfs_inode___dx, i_mmap_lock))
		return FS_LOCK(inode, struct btrfs_inode___dx, vfs_inode, i_mmap_lock);
	if (mapping && bpf_core_field_exists(mapping->invalidate_lock)) {
		*kind = DX_GUARD_INVALIDATE_LOCK;
		return (__u64)mapping + bpf_core_field_offset(struct address_space, invalidate_lock);
	}
	if (magic == EXT4_SUPER_MAGIC && bpf_core_field_exists(struct ext4_inode_info___old, i_mmap_sem))
		return FS_LOCK(inode, struct ext4_inode_info___old, vfs_inode, i_mmap_sem);
	if (magic == XFS_SUPER_MAGIC && bpf_core_field_exists(struct xfs_inode___old, i_mmaplock))
		return FS_LOCK(inode, struct xfs_inode___old, i_vnode, i_mmaplock);
	if (magic == FUSE_SUPER_MAGIC && bpf_core_field_exists(struct fuse_inode___old, i_mmap_sem))
		return FS_LOCK(inode, struct fuse_inode___old, inode, i_mmap_sem);
	*kind = DX_GUARD_NONE; /* until lockwait.bpf.c learns it */
	return 0;
}

/*
 * tmpfs keeps faults out of a hole being punched its own way: shmem_fallocate
 * points inode->i_private at its struct shmem_falloc (the range) while it
 * unmaps and truncates, and shmem_fault waits on it for pages in the range
 * (mm/shmem.c, shmem_falloc_wait). Its address, for a hole punch to read at
 * each data change; 0 where faults are kept out by a lock, or by nothing to
 * read: truncates of btrfs (btrfs_setsize) and tmpfs (shmem_setattr) take no
 * lock faults take, they write the new i_size first (truncate_setsize) and
 * faults past it fail; a tmpfs copy writes through the page cache. *kind
 * says which.
 */
static __always_inline __u64 fault_guard_addr(struct inode *inode, __u32 op, __u32 *kind)
{
	unsigned long magic = BPF_CORE_READ(inode, i_sb, s_magic);

	if (op == DX_OP_TRUNCATE && (magic == TMPFS_MAGIC || magic == BTRFS_SUPER_MAGIC)) {
		*kind = DX_GUARD_I_SIZE;
		return 0;
	}
	if (magic != TMPFS_MAGIC)
		return 0;
	*kind = op == DX_OP_PUNCH_HOLE ? DX_GUARD_SHMEM_FALLOC : DX_GUARD_NONE;
	return op == DX_OP_PUNCH_HOLE ? (__u64)inode + bpf_core_field_offset(struct inode, i_private) : 0;
}

/*
 * An overlayfs file's pages, faults and punch lock are its upper file's: the
 * VFS calls reach the real file (ovl_fallocate, ovl_mmap: backing_file_mmap
 * puts the real file in the VMA). The upper inode follows ovl_inode's
 * vfs_inode (fs/overlayfs/ovl_entry.h); NULL if not copied up.
 */
struct ovl_inode___dx {
	struct inode vfs_inode;
	struct dentry *__upperdentry;
} __attribute__((preserve_access_index));

static __always_inline struct inode *real_inode(struct inode *inode)
{
	struct ovl_inode___dx *oi;
	struct inode *upper;

	if (BPF_CORE_READ(inode, i_sb, s_magic) != OVERLAYFS_SUPER_MAGIC ||
	    !bpf_core_field_exists(struct ovl_inode___dx, __upperdentry))
		return inode;
	oi = (void *)((__u64)inode - bpf_core_field_offset(struct ovl_inode___dx, vfs_inode));
	upper = BPF_CORE_READ(oi, __upperdentry, d_inode);
	return upper ?: inode;
}

/* ---- FUSE private types (fs/fuse/fuse_i.h, fs/fuse/dax.c), from the fuse BTF ---- */

/* The node id follows the inode in struct fuse_inode. */
struct fuse_inode___dx {
	struct inode inode;
	__u64 nodeid;
} __attribute__((preserve_access_index));

/* The FUSE node id of INODE into *nodeid; false where it is not FUSE or fuse has no BTF. */
static __always_inline bool fuse_nodeid_of(struct inode *inode, __u64 *nodeid)
{
	struct fuse_inode___dx *fi = (void *)inode;

	if (BPF_CORE_READ(inode, i_sb, s_magic) != FUSE_SUPER_MAGIC ||
	    !bpf_core_field_exists(struct fuse_inode___dx, nodeid))
		return false;
	*nodeid = BPF_CORE_READ(fi, nodeid);
	return true;
}

/* The DAX window of a FUSE connection and its 2 MiB ranges (private to fs/fuse/dax.c). */
struct fuse_conn_dax___dx {
	long nr_free_ranges;
	unsigned long nr_busy_ranges;
	unsigned long nr_ranges;
	struct delayed_work free_work;
} __attribute__((preserve_access_index));

struct fuse_conn___dx {
	struct fuse_conn_dax___dx *dax;
	dev_t dev;
} __attribute__((preserve_access_index));

struct fuse_mount___dx {
	struct fuse_conn___dx *fc;
	struct super_block *sb;
} __attribute__((preserve_access_index));

/* 7.x: a request belongs to a channel (struct fuse_chan), not a mount */
struct fuse_chan___dx {
	struct fuse_conn___dx *conn;
} __attribute__((preserve_access_index));

struct fuse_req___dx {
	struct fuse_mount___dx *fm;
	struct fuse_chan___dx *chan;
} __attribute__((preserve_access_index));

/* A request's connection: req->fm->fc until 7.x, then req->chan->conn. */
static __always_inline struct fuse_conn___dx *fuse_req_conn(const void *req)
{
	const struct fuse_req___dx *r = req;

	if (bpf_core_field_exists(r->fm))
		return BPF_CORE_READ(r, fm, fc);
	return BPF_CORE_READ(r, chan, conn);
}

struct fuse_dax_mapping___dx {
	__u64 window_offset;
} __attribute__((preserve_access_index));

struct fuse_removemapping_in___dx {
	__u32 count;
} __attribute__((preserve_access_index));

struct fuse_removemapping_one___dx {
	__u64 moffset;
} __attribute__((preserve_access_index));

/* The DAX window of the FUSE mount INODE is on (NULL without one). */
static __always_inline struct fuse_conn_dax___dx *fuse_dax_window_of(struct inode *inode)
{
	struct fuse_mount___dx *fm = BPF_CORE_READ(inode, i_sb, s_fs_info);

	return BPF_CORE_READ(fm, fc, dax);
}

#endif /* DAXSCOPE_CORE_FIXES_BPF_H */
