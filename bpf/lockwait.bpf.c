// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Contention on the fault/punch lock of files inside a punch window. The lock
 * is identified by address, as perf's lock_contention.bpf.c names mmap_lock:
 * punch.bpf.c records &inode->i_mapping->invalidate_lock when a window opens.
 */
#include "daxscope.bpf.h"

#define LCB_F_WRITE (1U << 2)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* waiting tid */
	__type(value, struct wait_start);
} wait_starts SEC(".maps");

SEC("tp_btf/contention_begin")
int BPF_PROG(on_contention_begin, void *lock, unsigned int flags)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct wait_start ws = { .lock = (__u64)lock, .flags = flags };
	struct lock_owner *owner = bpf_map_lookup_elem(&locks, &ws.lock);
	struct wait_start *old;

	/* a stale entry (window long closed, inode maybe freed) must not match */
	if (!owner || !file_armed(&owner->key))
		return 0;
	old = bpf_map_lookup_elem(&wait_starts, &tid);
	if (old && old->lock == ws.lock)
		return 0; /* the slow path can report one wait twice: keep the first */
	ws.ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&wait_starts, &tid, &ws, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
	return 0;
}

SEC("tp_btf/contention_end")
int BPF_PROG(on_contention_end, void *lock, int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct wait_start *ws = bpf_map_lookup_elem(&wait_starts, &tid);
	struct lock_owner *owner;
	struct window *w;
	struct dx_event *e;
	__u64 lock_addr = (__u64)lock, wait, ws_ts;
	bool writer;

	if (!ws || ws->lock != lock_addr)
		return 0;
	ws_ts = ws->ts;
	wait = bpf_ktime_get_ns() - ws_ts;
	writer = ws->flags & LCB_F_WRITE;
	bpf_map_delete_elem(&wait_starts, &tid);
	owner = bpf_map_lookup_elem(&locks, &lock_addr);

	e = reserve_event(DX_LOCK_WAIT);
	if (e) {
		e->flags = writer ? DX_F_WRITE : 0;
		e->lock.wait_ns = wait;
		e->lock.lock = lock_addr;
		if (owner) {
			e->file.ino = owner->key.ino;
			e->file.dev = owner->key.dev;
			e->file.gen = owner->gen;
			w = bpf_map_lookup_elem(&windows, &owner->key);
			/* the punch holds the lock for its whole window */
			if (w && w->tid != tid && ws_ts >= w->start && (!w->end || ws_ts <= w->end)) {
				e->flags |= DX_F_HOLDER_KNOWN;
				e->lock.holder_tid = w->tid;
				e->lock.holder_pid = w->pid;
				__builtin_memcpy(e->lock.holder_comm, w->comm, sizeof(w->comm));
			}
		}
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}
