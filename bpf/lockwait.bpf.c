// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Contention on the fault/punch lock of files inside a punch window. The lock
 * is identified by address, as perf's lock_contention.bpf.c names mmap_lock:
 * punch.bpf.c records &inode->i_mapping->invalidate_lock when a window opens.
 *
 * Kernels before 5.19 have no lock:contention_* tracepoints: there, with
 * fentry allowed, a wait is the time spent in down_read/down_write on it.
 * Before 5.15 the lock is the filesystem's own (core_fixes.bpf.h,
 * lockid.bpf.c).
 */
#include "daxscope.bpf.h"

#define LCB_F_WRITE (1U << 2) /* from include/trace/events/lock.h */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* waiting tid */
	__type(value, struct wait_start);
} wait_starts SEC(".maps");

/* Starts timing a wait of this task on LOCK if it is a watched fault/punch lock. */
static __always_inline void begin_wait(__u64 lock, __u32 flags)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct lock_owner *owner = bpf_map_lookup_elem(&locks, &lock);
	struct wait_start ws = { .lock = lock, .flags = flags };
	struct wait_start *old;

	/* a stale entry (window long closed, inode maybe freed) must not match */
	if (!owner || !file_armed(&owner->key))
		return;
	old = bpf_map_lookup_elem(&wait_starts, &tid);
	if (old && old->lock == lock)
		return; /* the slow path can report one wait twice: keep the first */
	ws.ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&wait_starts, &tid, &ws, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
}

/* Ends it: one DX_LOCK_WAIT event, naming the punch as holder while its window held the lock. */
static __always_inline void end_wait(__u64 lock_addr, __u64 min_ns)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct wait_start *ws = bpf_map_lookup_elem(&wait_starts, &tid);
	struct lock_owner *owner;
	struct armed_file *w;
	struct dx_event *e;
	__u64 wait, ws_ts;
	bool writer;

	if (!ws || ws->lock != lock_addr)
		return;
	ws_ts = ws->ts;
	wait = bpf_ktime_get_ns() - ws_ts;
	writer = ws->flags & LCB_F_WRITE;
	bpf_map_delete_elem(&wait_starts, &tid);
	if (wait < min_ns)
		return;
	owner = bpf_map_lookup_elem(&locks, &lock_addr);
	e = reserve_event(DX_LOCK_WAIT);
	if (!e)
		return;
	e->flags |= writer ? DX_F_WRITE : 0;
	e->lock.wait_ns = wait;
	e->lock.lock = lock_addr;
	if (owner) {
		e->file.ino = owner->key.ino;
		e->file.dev = owner->key.dev;
		e->file.gen = owner->gen;
		w = bpf_map_lookup_elem(&armed_files, &owner->key);
		/* the punch holds the lock for its whole window */
		if (w && w->tid != tid && ws_ts >= w->start && (!w->end || ws_ts <= w->end)) {
			e->flags |= DX_F_HOLDER_KNOWN;
			e->lock.holder_tid = w->tid;
			e->lock.holder_pid = w->pid;
			__builtin_memcpy(e->lock.holder_comm, w->comm, sizeof(w->comm));
		}
	}
	submit_event(e);
}

SEC("tp_btf/contention_begin")
int BPF_PROG(on_contention_begin, void *lock, unsigned int flags)
{
	begin_wait((__u64)lock, flags);
	return 0;
}

SEC("tp_btf/contention_end")
int BPF_PROG(on_contention_end, void *lock, int ret)
{
	end_wait((__u64)lock, 0);
	return 0;
}

/* ---- without lock:contention_* (before 5.19): fentry on the rwsem API ---- */

#define UNCONTENDED_NS 20000 /* an acquisition faster than this did not wait */

SEC("fentry/down_write")
int BPF_PROG(on_down_write, struct rw_semaphore *sem)
{
	if (any_window_open())
		begin_wait((__u64)sem, LCB_F_WRITE);
	return 0;
}

/*
 * Both exits end unconditionally what their entry began: a waiter may outlive
 * the window it waited on, and a start left behind would time this thread's
 * next wait on the same lock (begin_wait keeps the first).
 */
SEC("fexit/down_write")
int BPF_PROG(on_down_write_exit, struct rw_semaphore *sem)
{
	end_wait((__u64)sem, UNCONTENDED_NS);
	return 0;
}

SEC("fentry/down_read")
int BPF_PROG(on_down_read, struct rw_semaphore *sem)
{
	if (any_window_open())
		begin_wait((__u64)sem, 0);
	return 0;
}

SEC("fexit/down_read")
int BPF_PROG(on_down_read_exit, struct rw_semaphore *sem)
{
	end_wait((__u64)sem, UNCONTENDED_NS);
	return 0;
}
