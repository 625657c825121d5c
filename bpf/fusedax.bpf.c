// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The FUSE/virtiofs DAX window (fs/fuse/dax.c): 2 MiB ranges mapped with
 * FUSE_SETUPMAPPING, removed with FUSE_REMOVEMAPPING, reclaimed by a worker
 * when free ranges run low, or inline by a fault or IO that finds none. Its
 * functions have no tracepoints: fentry/fexit only, resolved in the fuse
 * module's BTF. Every event carries the window's state after it.
 *
 * The reclaim of one range (reclaim_one_dmap_locked) and the inline reclaim
 * (inode_inline_reclaim_one_dmap) are static and get inlined or split
 * (".part.0" on Debian's 5.10, 6.1 and 6.12): no hook of their own. Both
 * begin a range's reclaim with fuse_dax_break_layouts over exactly its 2 MiB
 * (exported: never inlined) and end it with fuse_send_removemapping of that
 * one range; the worker does it inside fuse_dax_free_mem_worker, a fault or
 * IO elsewhere (inline). A punch or truncate breaks layouts over other spans.
 * A removal of one range of the inode the task last broke one range's
 * layouts over is that reclaim: told by the worker's pass, never by the
 * stall, whose fexit the kernel can skip (a preemptible kernel: another
 * task preempted inside on_dax_alloc on that CPU holds its recursion guard).
 */
#include "daxscope.bpf.h"

#define FUSE_DAX_SZ (1ULL << 21) /* fs/fuse/dax.c FUSE_DAX_SHIFT: one range */
#define IOMAP_WRITE (1u << 0)    /* include/linux/iomap.h, the same since 4.8 */
#define IOMAP_FAULT (1u << 3)    /* include/linux/iomap.h, the same in every kernel with FUSE DAX */

/* Mappings set up or removed so far, in every window: a task's use of a range is sent again only after one. */
__u64 dax_ops;

/* What one task is doing in a DAX window: since when (0: not). */
struct dax_task {
	__u64 pass;    /* a reclaim worker pass */
	__u64 reclaim; /* reclaiming one range: its layouts broken */
	__u64 stall;   /* no free range found */
	__u64 setup, remove;
	__u64 reclaim_inode; /* the inode whose one range's layouts it broke */
	__u32 stall_misses;  /* alloc_dax_mapping found none, this many times */
};

/* The last range use sent from this CPU: by which task, of which file and range, and dax_ops then. */
struct last_use {
	__u64 ino, range, ops;
	__u32 tid;
	__u16 flags;
};

/* Per CPU, not per task: a fault loop stays on its CPU, and a lookup here costs far less than in a hash. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct last_use);
} last_uses SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* a task killed mid-stall leaves its entry: evicted */
	__uint(max_entries, 4096);
	__type(key, __u32); /* tid */
	__type(value, struct dax_task);
} dax_tasks SEC(".maps");

static __always_inline struct dax_task *dax_task(bool create)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct dax_task *t = bpf_map_lookup_elem(&dax_tasks, &tid), zero = {};

	if (t || !create)
		return t;
	bpf_map_update_elem(&dax_tasks, &tid, &zero, BPF_NOEXIST);
	t = bpf_map_lookup_elem(&dax_tasks, &tid);
	if (!t)
		count_drop(DX_DROP_MAP_FULL);
	return t;
}

/* Now minus *since, and clear it; 0 if it was not set. */
static __always_inline __u64 took(__u64 *since)
{
	__u64 d = *since ? bpf_ktime_get_ns() - *since : 0;

	*since = 0;
	return d;
}

static __always_inline void send_flagged(__u32 op, struct fuse_conn_dax___dx *fcd, struct inode *inode,
					 __u64 offset, __s32 ret, __u32 count, __u64 duration, __u16 flags)
{
	struct dx_event *e;

	if (!fcd)
		return;
	e = reserve_event(DX_DAX_RANGE);
	if (!e)
		return;
	e->flags |= flags;
	if (inode) {
		e->file.dev = BPF_CORE_READ(inode, i_sb, s_dev);
		e->file.ino = BPF_CORE_READ(inode, i_ino);
	}
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

static __always_inline void send(__u32 op, struct fuse_conn_dax___dx *fcd, struct inode *inode, __u64 offset,
				 __s32 ret, __u32 count, __u64 duration)
{
	send_flagged(op, fcd, inode, offset, ret, count, duration, 0);
}

/* A stall ends when the task has its range: from the free pool, or reclaimed inline. */
static __always_inline void stall_over(struct dax_task *t, struct fuse_conn_dax___dx *fcd, struct inode *inode)
{
	__u32 misses = t->stall_misses;

	t->reclaim = 0; /* an inline attempt that found its range taken */
	if (!t->stall)
		return;
	t->stall_misses = 0;
	send(DX_DAX_ALLOC_STALL, fcd, inode, 0, 0, misses, took(&t->stall));
}

/* An fentry program that only notes when FN began, in the task's FIELD; its fexit twin sends the event. */
#define STARTED(name, fn, field)                            \
	SEC("fentry/" #fn)                                  \
	int BPF_PROG(name)                                  \
	{                                                   \
		struct dax_task *t = dax_task(true);        \
                                                            \
		if (t)                                      \
			t->field = bpf_ktime_get_ns();      \
		return 0;                                   \
	}

STARTED(on_dax_setup, fuse_setup_one_mapping, setup)

SEC("fexit/fuse_setup_one_mapping")
int BPF_PROG(on_dax_setup_exit, struct inode *inode, unsigned long start_idx, struct fuse_dax_mapping___dx *dmap,
	     bool writable, bool upgrade, int ret)
{
	struct dax_task *t = dax_task(false);

	__sync_fetch_and_add(&dax_ops, 1);
	send(DX_DAX_SETUP, fuse_dax_window_of(inode), inode, BPF_CORE_READ(dmap, window_offset), ret, 1,
	     t ? took(&t->setup) : 0);
	return 0;
}

STARTED(on_dax_remove, fuse_send_removemapping, remove)

SEC("fexit/fuse_send_removemapping")
int BPF_PROG(on_dax_remove_exit, struct inode *inode, struct fuse_removemapping_in___dx *in,
	     struct fuse_removemapping_one___dx *one, int ret)
{
	struct fuse_conn_dax___dx *fcd = fuse_dax_window_of(inode);
	struct dax_task *t = dax_task(false);
	__u32 count = BPF_CORE_READ(in, count);
	__u64 offset = BPF_CORE_READ(one, moffset);

	__sync_fetch_and_add(&dax_ops, 1);
	send(DX_DAX_REMOVE, fcd, inode, offset, ret, count, t ? took(&t->remove) : 0);
	if (!t || !t->reclaim || count != 1 || t->reclaim_inode != (__u64)inode)
		return 0;
	/*
	 * The end of one range's reclaim: by the worker, or inline by IO that
	 * found no free range (a fault waits instead). Its stall's start unseen
	 * means that run of on_dax_alloc was skipped (recursion_misses).
	 */
	if (t->pass) {
		send(DX_DAX_RECLAIM, fcd, inode, offset, ret, 1, took(&t->reclaim));
	} else {
		send_flagged(DX_DAX_INLINE_RECLAIM, fcd, inode, offset, ret, 1, took(&t->reclaim),
			     t->stall ? 0 : DX_F_STALL_UNSEEN);
		stall_over(t, fcd, inode);
	}
	return 0;
}

SEC("fentry/fuse_dax_break_layouts")
int BPF_PROG(on_dax_break_layouts, struct inode *inode, __u64 start, __u64 end)
{
	struct dax_task *t;

	if (end - start + 1 != FUSE_DAX_SZ || start & (FUSE_DAX_SZ - 1)) /* a punch's or truncate's */
		return 0;
	t = dax_task(true);
	if (t) {
		t->reclaim = bpf_ktime_get_ns();
		t->reclaim_inode = (__u64)inode;
	}
	return 0;
}

/*
 * 7.x reclaims without fuse_dax_break_layouts: the layout break under it,
 * dax_layout_busy_page_range over the range's mapping (also what
 * fuse_dax_break_layouts ends in before), called again until no page is
 * busy. The first call over exactly one range of a FUSE file starts its
 * reclaim, unless fuse_dax_break_layouts already did over that inode.
 */
SEC("fentry/dax_layout_busy_page_range")
int BPF_PROG(on_dax_busy_range, struct address_space *mapping, loff_t start, loff_t end)
{
	struct inode *inode;
	struct dax_task *t;

	if (end - start + 1 != FUSE_DAX_SZ || start & (FUSE_DAX_SZ - 1) ||
	    BPF_CORE_READ(mapping, host, i_sb, s_magic) != FUSE_SUPER_MAGIC)
		return 0;
	inode = BPF_CORE_READ(mapping, host);
	t = dax_task(true);
	if (t && (!t->reclaim || t->reclaim_inode != (__u64)inode)) { /* a punch's start over another inode: stale */
		t->reclaim = bpf_ktime_get_ns();
		t->reclaim_inode = (__u64)inode;
	}
	return 0;
}

STARTED(on_dax_reclaim_pass, fuse_dax_free_mem_worker, pass)

SEC("fexit/fuse_dax_free_mem_worker")
int BPF_PROG(on_dax_reclaim_pass_exit, struct work_struct *work)
{
	/* container_of(work, struct fuse_conn_dax, free_work.work): work is delayed_work's first member */
	struct fuse_conn_dax___dx *fcd =
		(void *)work - bpf_core_field_offset(struct fuse_conn_dax___dx, free_work);
	struct dax_task *t = dax_task(false);

	send(DX_DAX_RECLAIM_PASS, fcd, NULL, 0, 0, 0, t ? took(&t->pass) : 0);
	if (t)
		t->reclaim = 0;
	return 0;
}

/* alloc_dax_mapping: NULL is a miss (no free range); a stall lasts until the task has a range. */
SEC("fexit/alloc_dax_mapping")
int BPF_PROG(on_dax_alloc, struct fuse_conn_dax___dx *fcd, struct fuse_dax_mapping___dx *dmap)
{
	struct dax_task *t = dax_task(!dmap);

	if (!t)
		return 0;
	if (dmap) {
		stall_over(t, fcd, NULL);
		return 0;
	}
	if (!t->stall)
		t->stall = bpf_ktime_get_ns();
	t->stall_misses++;
	return 0;
}

/*
 * A fault or IO uses one range of a file (the cache-size model replays these):
 * each fault of a page calls it, so a task's repeat of the last use sent from
 * its CPU is not sent again until a mapping was set up or removed somewhere
 * meanwhile. Another task or CPU between two uses only sends one more, and
 * uses of a mapped range change nothing in the model. At or past the end of
 * the file it is a hole: no range.
 */
/* A task's use of range RANGE of INODE, for writing or not, by a fault or IO: sent unless it repeats its last one. */
static __always_inline void range_used(struct inode *inode, loff_t pos, unsigned int flags)
{
	__u64 ino = BPF_CORE_READ(inode, i_ino), range = (__u64)pos / FUSE_DAX_SZ, ops = dax_ops;
	__u16 how = (flags & IOMAP_WRITE ? DX_F_WRITE : 0) | (flags & IOMAP_FAULT ? DX_F_DAX_FAULT : 0);
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), zero = 0;
	struct last_use *last;

	if (pos < 0 || pos >= BPF_CORE_READ(inode, i_size))
		return;
	last = bpf_map_lookup_elem(&last_uses, &zero);
	if (last) {
		if (last->tid == tid && last->ino == ino && last->range == range && last->flags == how &&
		    last->ops == ops)
			return;
		*last = (struct last_use){ .ino = ino, .range = range, .ops = ops, .tid = tid, .flags = how };
	}
	send_flagged(DX_DAX_USE, fuse_dax_window_of(inode), inode, range * FUSE_DAX_SZ, 0, 0, 0, how);
}

SEC("fentry/fuse_iomap_begin")
int BPF_PROG(on_dax_use, struct inode *inode, loff_t pos, loff_t length, unsigned int flags)
{
	range_used(inode, pos, flags);
	return 0;
}

/*
 * 7.x: iomap_ops has iomap_next instead of iomap_begin, and both fs/fuse/file.c
 * (buffered IO) and dax.c name theirs fuse_iomap_next: one BTF function for
 * two symbols, and fentry gets file.c's. The iterator that calls it is one:
 * iomap_iter returning 1 has just mapped the range at iter->pos. FUSE DAX
 * inodes only.
 */
struct iomap_iter___next {
	struct inode *inode;
	loff_t pos;
	unsigned int flags;
} __attribute__((preserve_access_index));

SEC("fexit/iomap_iter")
int BPF_PROG(on_dax_use_iter, const struct iomap_iter___next *iter, const void *ops, int ret)
{
	struct inode *inode = BPF_CORE_READ(iter, inode);

	if (ret > 0 && BPF_CORE_READ(inode, i_sb, s_magic) == FUSE_SUPER_MAGIC && BPF_CORE_READ(inode, i_flags) & S_DAX)
		range_used(inode, BPF_CORE_READ(iter, pos), BPF_CORE_READ(iter, flags));
	return 0;
}

/*
 * An evicted inode's ranges all go back to the free pool at once (the
 * cache-size model frees them too), in a removal that is no reclaim even of
 * one range: a start its task left (a punch over one range) is dropped.
 */
SEC("fentry/fuse_dax_inode_cleanup")
int BPF_PROG(on_dax_inode_evict, struct inode *inode)
{
	struct dax_task *t = dax_task(false);

	if (t && !t->pass)
		t->reclaim = 0;
	send(DX_DAX_EVICT, fuse_dax_window_of(inode), inode, 0, 0, 0, 0);
	return 0;
}

/* A mount made its window: a freed window's address may be given to the next mount's. */
SEC("fexit/fuse_dax_conn_alloc")
int BPF_PROG(on_dax_window_new, struct fuse_conn___dx *fc)
{
	send(DX_DAX_NEW, BPF_CORE_READ(fc, dax), NULL, 0, 0, 0, 0);
	return 0;
}
