// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The FUSE/virtiofs DAX window (fs/fuse/dax.c): 2 MiB ranges mapped with
 * FUSE_SETUPMAPPING, removed with FUSE_REMOVEMAPPING, reclaimed by a worker
 * when free ranges run low, or inline by a read/write that finds none. Its
 * functions have no tracepoints: fentry/fexit only, resolved in the fuse
 * module's BTF. Every event carries the window's state after it.
 */
#include "daxscope.bpf.h"

/* from include/linux/err.h: the last MAX_ERRNO (4095) addresses are error codes */
#define MAX_ERRNO 4095
#define IS_ERR_VALUE(x) ((unsigned long)(void *)(x) >= (unsigned long)-MAX_ERRNO)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64); /* tid << 8 | op */
	__type(value, __u64);
} dax_starts SEC(".maps");

static __always_inline __u64 start_key(__u32 op)
{
	return (bpf_get_current_pid_tgid() & 0xffffffff) << 8 | op;
}

static __always_inline void started(__u32 op)
{
	__u64 key = start_key(op), now = bpf_ktime_get_ns();

	if (bpf_map_update_elem(&dax_starts, &key, &now, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
}

static __always_inline __u64 elapsed(__u32 op)
{
	__u64 key = start_key(op), *t = bpf_map_lookup_elem(&dax_starts, &key), d = 0;

	if (t) {
		d = bpf_ktime_get_ns() - *t;
		bpf_map_delete_elem(&dax_starts, &key);
	}
	return d;
}

/* An fentry program that only notes when FN began; its fexit twin sends the event. */
#define STARTED(name, fn, op)            \
	SEC("fentry/" #fn)               \
	int BPF_PROG(name)               \
	{                                \
		started(op);             \
		return 0;                \
	}

static __always_inline void send(__u32 op, struct fuse_conn_dax___dx *fcd, struct inode *inode, __u64 offset,
				 __s32 ret, __u32 count, __u64 duration)
{
	struct dx_event *e;

	if (!fcd)
		return;
	e = reserve_event(DX_DAX_RANGE);
	if (!e)
		return;
	if (inode)
		e->file.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	e->dax.window = (__u64)fcd;
	e->dax.duration_ns = duration;
	e->dax.offset = offset;
	e->dax.op = op;
	e->dax.ret = ret;
	e->dax.nr_ranges = BPF_CORE_READ(fcd, nr_ranges);
	e->dax.nr_free = BPF_CORE_READ(fcd, nr_free_ranges);
	e->dax.nr_busy = BPF_CORE_READ(fcd, nr_busy_ranges);
	e->dax.count = count;
	submit_event(e);
}

STARTED(on_dax_setup, fuse_setup_one_mapping, DX_DAX_SETUP)

SEC("fexit/fuse_setup_one_mapping")
int BPF_PROG(on_dax_setup_exit, struct inode *inode, unsigned long start_idx, struct fuse_dax_mapping___dx *dmap,
	     bool writable, bool upgrade, int ret)
{
	send(DX_DAX_SETUP, fuse_dax_window_of(inode), inode, BPF_CORE_READ(dmap, window_offset), ret, 1,
	     elapsed(DX_DAX_SETUP));
	return 0;
}

STARTED(on_dax_remove, fuse_send_removemapping, DX_DAX_REMOVE)

SEC("fexit/fuse_send_removemapping")
int BPF_PROG(on_dax_remove_exit, struct inode *inode, struct fuse_removemapping_in___dx *in, void *remove_one,
	     int ret)
{
	send(DX_DAX_REMOVE, fuse_dax_window_of(inode), inode, 0, ret, BPF_CORE_READ(in, count), elapsed(DX_DAX_REMOVE));
	return 0;
}

STARTED(on_dax_reclaim, reclaim_one_dmap_locked, DX_DAX_RECLAIM)

SEC("fexit/reclaim_one_dmap_locked")
int BPF_PROG(on_dax_reclaim_exit, struct inode *inode, struct fuse_dax_mapping___dx *dmap, int ret)
{
	send(DX_DAX_RECLAIM, fuse_dax_window_of(inode), inode, BPF_CORE_READ(dmap, window_offset), ret, 1,
	     elapsed(DX_DAX_RECLAIM));
	return 0;
}

/* Where reclaim_one_dmap_locked is inlined: count the ranges as they return to the free pool. */
SEC("fentry/dmap_reinit_add_to_free_pool")
int BPF_PROG(on_dax_freed, struct fuse_conn_dax___dx *fcd, struct fuse_dax_mapping___dx *dmap)
{
	send(DX_DAX_RECLAIM, fcd, NULL, BPF_CORE_READ(dmap, window_offset), 0, 1, 0);
	return 0;
}

STARTED(on_dax_reclaim_pass, fuse_dax_free_mem_worker, DX_DAX_RECLAIM_PASS)

SEC("fexit/fuse_dax_free_mem_worker")
int BPF_PROG(on_dax_reclaim_pass_exit, struct work_struct *work)
{
	/* container_of(work, struct fuse_conn_dax, free_work.work): work is delayed_work's first member */
	struct fuse_conn_dax___dx *fcd =
		(void *)work - bpf_core_field_offset(struct fuse_conn_dax___dx, free_work);

	send(DX_DAX_RECLAIM_PASS, fcd, NULL, 0, 0, 0, elapsed(DX_DAX_RECLAIM_PASS));
	return 0;
}

STARTED(on_dax_inline_reclaim, inode_inline_reclaim_one_dmap, DX_DAX_INLINE_RECLAIM)

SEC("fexit/inode_inline_reclaim_one_dmap")
int BPF_PROG(on_dax_inline_reclaim_exit, struct fuse_conn_dax___dx *fcd, struct inode *inode, bool *retry,
	     struct fuse_dax_mapping___dx *dmap)
{
	__u64 took = elapsed(DX_DAX_INLINE_RECLAIM);

	if (dmap && !IS_ERR_VALUE(dmap)) /* a range, not NULL or an error */
		send(DX_DAX_INLINE_RECLAIM, fcd, inode, BPF_CORE_READ(dmap, window_offset), 0, 1, took);
	return 0;
}

SEC("fexit/alloc_dax_mapping")
int BPF_PROG(on_dax_alloc, struct fuse_conn_dax___dx *fcd, struct fuse_dax_mapping___dx *dmap)
{
	if (!dmap)
		send(DX_DAX_ALLOC_STALL, fcd, NULL, 0, 0, 0, 0);
	return 0;
}
