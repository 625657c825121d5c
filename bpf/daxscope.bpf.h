/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the per-concern BPF programs share: maps (declared __weak so that
 * `bpftool gen object` links them into one), load-time knobs and helpers.
 */
#ifndef DAXSCOPE_BPF_H
#define DAXSCOPE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "daxscope/events.h"
#include "core_fixes.bpf.h"

#define MAX_WINDOWS 16384
#define PF_KTHREAD 0x00200000 /* from include/linux/sched.h */

/* Knobs, set by the collector through rodata before load. */
extern const volatile __u32 filter_dev;  /* 0: every filesystem */
extern const volatile __u64 linger_ns;   /* keep a file armed this long after its punch */
extern const volatile __u64 wakeup_bytes; /* wake the collector once this much data waits */
/* Set while running (punch.bpf.c). */
extern volatile __u32 fuse_dating;       /* enum dx_fuse_dating, set by the collector */
extern volatile __s64 fuse_windows_open; /* punch windows open on FUSE files */

/*
 * A file's armed entry (docs/design.md, "Three windows"): its latest punch
 * window's range and task, open or lingering. Per-page events on the file are
 * sent while it is, for pages it changes (a window opened while another
 * lingers covers both's pages); the rest are only counted, in the file's
 * counts, which every window of the file hands on to the next for as long as
 * the entry stays in the armed_files map (not to a window of another file
 * that has the inode number now: its generation differs).
 */
struct armed_file {
	/* first, as struct dx_file_entry_head: the collector reads them from the map (hand_file_counts) */
	struct dx_file_counts counts;
	__u32 gen; /* the file's i_generation: another file of the inode number starts from zero */
	__u32 pad;
	__u64 start;
	__u64 end; /* 0 while open */
	__u64 first_page, last_page;
	__u64 mmapped_at;         /* the file's last mmap while it was armed, 0: none */
	__u64 mmapped_unwatched;  /* ... made while the fault hooks were not attached */
	__u32 tid;
	__u32 pid;
	char comm[DX_COMM_LEN];
};

_Static_assert(__builtin_offsetof(struct armed_file, counts) == __builtin_offsetof(struct dx_file_entry_head, counts) &&
		       __builtin_offsetof(struct armed_file, gen) == __builtin_offsetof(struct dx_file_entry_head, gen),
	       "struct armed_file begins as struct dx_file_entry_head");

/* The punch a task is inside, found again at syscall exit or task exit. */
struct task_punch {
	struct dx_file_key key;
	__u64 lock;     /* its inode's fault/punch lock, 0 if none (or not known yet: lock_pending) */
	__u64 guard;    /* tmpfs hole punch: &inode->i_private, set while faults are kept out (fault_guard_addr) */
	__u32 guard_kind; /* enum dx_fault_guard: what lock or guard is read */
	__u32 fs_magic;   /* its superblock's s_magic */
	__u64 new_size; /* truncate(path) until its inode is known */
	__u64 inode;    /* its struct inode, to find the lock once the filesystem's faults have shown it */
	__u32 gen;
	__u32 op;
	__u32 pending_path; /* truncate(path): inode learned at its first page delete */
	__u32 changes;      /* data changes sampled: page deletes, extent changes, its FUSE request */
	__u32 unlocked;     /* of which made without the fault lock held for write */
	__u32 lock_unknown; /* ... made while its fault lock was not known */
	__u64 first_change;
	__u64 last_change;
	__u64 cancelled_at_begin; /* the task's cancelled_write_bytes when the window opened */
	__u64 cancelled_seen;     /* ... at its last page delete */
	__u64 start;
	__u64 task;               /* the punching task_struct: whose hold of the lock another task's hook reads */
	__u32 hooks_epoch;        /* fault_hooks_epoch when it opened */
	bool mapped;              /* its file was mapped when it opened */
	bool page_cache;          /* its file is not DAX: its read faults are page-cache faults */
	bool unwatched;           /* ... while the fault hooks were not attached */
	bool fuse;                /* its file is FUSE: the server changes the data when it takes the request */
	bool dated;               /* ... and that request was seen (sent, or read by the server) */
	bool lock_pending;        /* its fault lock is learned from the filesystem's faults, not yet */
};

struct lock_owner {
	struct dx_file_key key;
	__u32 gen;
};

struct wait_start {
	__u64 lock;
	__u64 ts;
	__u32 flags;
};


/*
 * A cheap pre-filter in front of the armed_files hash, for hooks that run on
 * every fault: files hash into slots, a slot is armed while any of its files
 * has an open window or lingers. False positives only cost the hash lookup.
 */
#define ARMED_SLOTS 4096

struct armed_slot {
	__s64 open;
	__u64 until; /* last window end + linger_ns */
};

struct global_state {
	__s64 open_windows;
	__u64 armed_until; /* the latest window end + linger_ns: some file may be armed until then */
};

/*
 * Where no BTF locates a filesystem's fault lock (private inode types of a
 * module before 5.11 and no mapping->invalidate_lock, 5.15), its faults show
 * it (bpf/lockid.bpf.c): per filesystem type and DAX or not, the lock's
 * offset from the inode, or that its faults take none.
 */
struct fault_lock_key {
	__u64 fs_type; /* struct file_system_type *: one per driver */
	__u32 dax;
	__u32 pad;
};

struct fault_lock_seen {
	__s64 offset; /* lock address - inode address */
	__u32 none;   /* its faults take no rwsem of the inode */
	__u32 pad;
};


struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by the collector before load */
} events SEC(".maps") __weak;

/* LRU: entries of ended windows stay for linger_ns and are never deleted, only displaced */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_WINDOWS);
	__type(key, struct dx_file_key);
	__type(value, struct armed_file);
} armed_files SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_WINDOWS);
	__type(key, __u32); /* tid */
	__type(value, struct task_punch);
} task_punches SEC(".maps") __weak;

/* LRU: entries outlive their window, since waiters wake after the punch ends */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_WINDOWS);
	__type(key, __u64); /* lock address */
	__type(value, struct lock_owner);
} locks SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct fault_lock_key);
	__type(value, struct fault_lock_seen);
} fault_locks SEC(".maps") __weak;

/* FUSE requests name a file by node id: the punched FUSE files, by (dev, node id). */
struct fuse_node {
	__u64 nodeid;
	__u32 dev;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_WINDOWS);
	__type(key, struct fuse_node);
	__type(value, struct dx_file);
} fuse_nodes SEC(".maps") __weak;


struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DX_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct global_state);
} gstate SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dx_punch_filter);
} punch_filter SEC(".maps") __weak;

/* The cgroup of punch_filter.in_cgroup, as libbpf-tools' biolatency filters in the kernel. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} filter_cgroup SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ARMED_SLOTS);
	__type(key, __u32);
	__type(value, struct armed_slot);
} armed_slots SEC(".maps") __weak;

static __always_inline void count_drop(__u32 why)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &why);

	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline struct global_state *global_state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&gstate, &zero);
}

/* Is the current task a kernel thread? (false without kernel BTF: the FUSE programs load without it) */
static __always_inline bool is_kthread(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return bpf_core_field_exists(task->flags) && BPF_CORE_READ(task, flags) & PF_KTHREAD;
}

/* Reserve an event with its common header filled; NULL (and counted) when full. */
static __always_inline struct dx_event *reserve_event(__u16 kind)
{
	__u32 why = DX_DROP_RINGBUF;
	__u64 *lost = bpf_map_lookup_elem(&drops, &why);
	__u64 id = bpf_get_current_pid_tgid();
	struct dx_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(DX_DROP_RINGBUF);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts = bpf_ktime_get_ns();
	e->kind = kind;
	e->lost = lost ? *lost : 0;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->cgroup = bpf_get_current_cgroup_id();
	if (is_kthread())
		e->flags = DX_F_KTHREAD;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

/*
 * Hand an event to the collector. A wakeup per event costs more than the
 * event (an irq_work, in a VM an IPI and a VM exit), and a fast collector is
 * caught up, so woken, on nearly every one: it is woken only once a batch
 * waits, and otherwise reads what is there at its next poll timeout.
 */
static __always_inline void submit_event(struct dx_event *e)
{
	bpf_ringbuf_submit(e, bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
											      : BPF_RB_NO_WAKEUP);
}

/* The file at FD of the current task (NULL if none). */
static __always_inline struct file *task_fd_file(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

static __always_inline void inode_key(struct inode *inode, struct dx_file_key *key)
{
	key->ino = BPF_CORE_READ(inode, i_ino);
	key->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key->pad = 0;
}

/* The same, by direct loads: only for BTF-typed (tp_btf) pointers, and cheaper on hot paths. */
static __always_inline void inode_key_btf(struct inode *inode, struct dx_file_key *key)
{
	key->ino = inode->i_ino;
	key->dev = inode->i_sb->s_dev;
	key->pad = 0;
}

static __always_inline void inode_file(struct inode *inode, struct dx_file *f)
{
	f->ino = BPF_CORE_READ(inode, i_ino);
	f->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	f->gen = BPF_CORE_READ(inode, i_generation);
}

/* The task's dirty page-cache bytes thrown away so far (task I/O accounting; 0 without it). */
static __always_inline __u64 cancelled_write_bytes(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (!bpf_core_field_exists(task->ioac))
		return 0;
	return BPF_CORE_READ(task, ioac.cancelled_write_bytes);
}

/* from kernel/locking/rwsem.c: count bit 0 is "held for write"; owner is the task, flags in its low bits */
#define RWSEM_WRITER_LOCKED 1UL
#define RWSEM_OWNER_FLAGS 7UL

/*
 * Does TASK hold the rwsem at LOCK for write? Read from the lock itself, at
 * the moment the punch changes data: proof, not inference.
 */
static __always_inline bool holds_for_write(__u64 lock, __u64 task)
{
	struct rw_semaphore *sem = (struct rw_semaphore *)lock;
	long count, owner;

	if (!sem || !bpf_core_field_exists(sem->owner))
		return false;
	count = BPF_CORE_READ(sem, count.counter);
	owner = BPF_CORE_READ(sem, owner.counter);
	return (count & RWSEM_WRITER_LOCKED) && (owner & ~RWSEM_OWNER_FLAGS) == (long)task;
}

/* The punch the current task is inside, if any (not a truncate(path) whose inode is still unknown). */
static __always_inline struct task_punch *current_punch(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct task_punch *tp = bpf_map_lookup_elem(&task_punches, &tid);

	return tp && !tp->pending_path ? tp : NULL;
}

/* Are faults kept out now by the filesystem's own guard (tmpfs: a punch's shmem_falloc in i_private)? */
static __always_inline bool guard_set(__u64 guard)
{
	void *set = NULL;

	return !bpf_probe_read_kernel(&set, sizeof(set), (void *)guard) && set;
}

#define S_DAX (1 << 13) /* from include/linux/fs.h */

/* The lock lies in the filesystem's inode, which holds the VFS inode (ext4_inode_info: about 1 KiB on 5.10). */
#define FAULT_LOCK_REACH 4096

/*
 * The fault lock of INODE as its filesystem's faults showed it: true and *LOCK
 * (0: they take none) once known. The offset is bounded here too: an inode
 * from BTF (fentry) is a pointer, and the verifier adds no unbounded number to
 * one.
 */
static __always_inline bool learned_fault_lock(struct inode *inode, __u64 *lock)
{
	struct fault_lock_key key = {
		.fs_type = (__u64)BPF_CORE_READ(inode, i_sb, s_type),
		.dax = !!(BPF_CORE_READ(inode, i_flags) & S_DAX),
	};
	struct fault_lock_seen *seen = bpf_map_lookup_elem(&fault_locks, &key);
	__s64 offset;

	if (!seen)
		return false;
	offset = seen->offset;
	if (offset <= -FAULT_LOCK_REACH || offset >= FAULT_LOCK_REACH)
		return false; /* never learned so: lockid.bpf.c keeps only offsets within reach */
	*lock = seen->none ? 0 : (__u64)inode + offset;
	return true;
}

/* Lock waits on the punch's lock name its file (lockwait.bpf.c). */
static __always_inline void remember_lock_owner(const struct task_punch *tp)
{
	struct lock_owner owner = { .key = tp->key, .gen = tp->gen };

	if (tp->lock && bpf_map_update_elem(&locks, &tp->lock, &owner, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
}

/* The lock found for TP: kept, and named as learned where its filesystem's faults showed it. */
static __always_inline void fault_lock_found(struct task_punch *tp, bool learned)
{
	tp->lock_pending = false;
	if (learned)
		tp->guard_kind = tp->lock ? DX_GUARD_LEARNED_LOCK : DX_GUARD_NONE;
	remember_lock_owner(tp);
}

/*
 * What keeps faults out of the punch (operation OP) on INODE: tp->lock,
 * mapping->invalidate_lock or the filesystem's own through BTF, or tp->guard
 * (tmpfs); none for FUSE without DAX; else the lock as the filesystem's
 * faults showed it; if they have not yet, the window tries again at each
 * data change.
 */
static __always_inline void find_fault_lock(struct task_punch *tp, struct inode *inode, __u32 op)
{
	tp->inode = (__u64)inode;
	tp->fs_magic = BPF_CORE_READ(inode, i_sb, s_magic);
	tp->lock = fault_lock_addr(inode, &tp->guard_kind);
	tp->guard = fault_guard_addr(inode, op, &tp->guard_kind);
	if (tp->lock || tp->guard_kind != DX_GUARD_NONE)
		fault_lock_found(tp, false);
	else if (tp->fuse && !(BPF_CORE_READ(inode, i_flags) & S_DAX))
		fault_lock_found(tp, false); /* fs/fuse/file.c: fuse_file_vm_ops fault and page_mkwrite take no lock */
	else if (learned_fault_lock(inode, &tp->lock))
		fault_lock_found(tp, true);
	else
		tp->lock_pending = true;
}

/*
 * The punch changes data now (TASK, the punching task, makes the change or
 * waits on the server that does): was its fault lock (or guard) held?
 * Counted in the window; DX_F_LOCKED, DX_F_LOCK_UNKNOWN (not learned yet) or
 * 0 for the event.
 */
static __always_inline __u16 note_data_change_of(struct task_punch *tp, __u64 task)
{
	__u64 now = bpf_ktime_get_ns();
	bool held;

	if (tp->lock_pending && learned_fault_lock((struct inode *)tp->inode, &tp->lock))
		fault_lock_found(tp, true);
	if (!tp->first_change)
		tp->first_change = now;
	tp->last_change = now;
	tp->changes++;
	if (tp->lock_pending) {
		tp->lock_unknown++;
		return DX_F_LOCK_UNKNOWN;
	}
	held = tp->guard ? guard_set(tp->guard) : holds_for_write(tp->lock, task);
	if (!held)
		tp->unlocked++;
	return held ? DX_F_LOCKED : 0;
}

/* ... made by the current task. */
static __always_inline __u16 note_data_change(struct task_punch *tp)
{
	return note_data_change_of(tp, bpf_get_current_task());
}

/* Is the current task one whose punches are watched (-p, --cgroup)? */
static __always_inline bool punch_task_wanted(void)
{
	__u32 zero = 0;
	struct dx_punch_filter *f = bpf_map_lookup_elem(&punch_filter, &zero);

	if (!f)
		return true;
	if (f->tgid && (bpf_get_current_pid_tgid() >> 32) != f->tgid)
		return false;
	return !f->in_cgroup || bpf_current_task_under_cgroup(&filter_cgroup, 0) == 1;
}

static __always_inline struct armed_slot *armed_slot_of(const struct dx_file_key *key)
{
	__u32 slot = (__u32)(key->ino ^ (key->ino >> 32) ^ key->dev) & (ARMED_SLOTS - 1);

	return bpf_map_lookup_elem(&armed_slots, &slot);
}

/* The file's punch window if it is open, or ended less than linger_ns ago; else NULL. */
static __always_inline struct armed_file *armed_file_of(const struct dx_file_key *key)
{
	struct armed_slot *slot = armed_slot_of(key);
	struct armed_file *w;
	__u64 now = 0;

	if (!slot)
		return NULL;
	if (slot->open <= 0) {
		if (!slot->until) /* slot never armed: answered without reading the clock */
			return NULL;
		now = bpf_ktime_get_ns();
		if (slot->until <= now)
			return NULL;
	}
	w = bpf_map_lookup_elem(&armed_files, key);
	if (!w || (w->end && (now ?: bpf_ktime_get_ns()) - w->end >= linger_ns))
		return NULL;
	return w;
}

static __always_inline bool file_armed(const struct dx_file_key *key)
{
	return armed_file_of(key) != NULL;
}

/* Does the window change any of pages [first, last]? Events on other pages cannot be findings. */
static __always_inline bool window_covers(const struct armed_file *w, __u64 first, __u64 last)
{
	return first <= w->last_page && last >= w->first_page;
}

/* The pages of bytes [offset, offset + len): the last is the end of the file when the sum wraps. */
static __always_inline __u64 last_page_of(__u64 offset, __u64 len)
{
	__u64 end = offset + (len ? len : 1) - 1;

	return end < offset ? ~0ULL : end >> DX_PAGE_SHIFT;
}

/* Does the window change any page of bytes [offset, offset + len)? */
static __always_inline bool window_covers_bytes(const struct armed_file *w, __u64 offset, __u64 len)
{
	return window_covers(w, offset >> DX_PAGE_SHIFT, last_page_of(offset, len));
}

/* Cheap gate for the hottest hook (every user fault): is any punch in progress at all? */
static __always_inline bool any_window_open(void)
{
	struct global_state *g = global_state();

	return g && g->open_windows > 0;
}

/* ... or did one end less than linger_ns ago (its file still armed: late events reach its window)? */
static __always_inline bool any_window_armed(void)
{
	struct global_state *g = global_state();

	return g && (g->open_windows > 0 || bpf_ktime_get_ns() < g->armed_until);
}

/*
 * Raise *MAX to NS, as a max, with a plain compare and store: two updates at
 * once on two CPUs may leave the smaller one. The max is a value some update
 * stored, never above the true max, and below it only when a larger value
 * raced others. Not compare-and-exchange: BPF has it from 5.12 (commit
 * 5ffa25502b5a, "bpf: Add instructions for atomic_[cmp]xchg"), and 5.10's
 * verifier refuses a program that holds the instruction at all, even in a
 * branch its kernel version never takes ("BPF_STX uses reserved fields":
 * the FUSE reply programs were refused there).
 */
static __always_inline void raise_max(__u64 *max, __u64 ns)
{
	if (ns > *max)
		*max = ns;
}

static __always_inline void hist_add(struct dx_hist *h, __u64 ns)
{
	__u32 slot = 0;
	__u64 v = ns;

	/* log2 bucket: slot k holds [2^k, 2^(k+1)) ns, slot 0 also holds 0 */
#pragma unroll
	for (int i = 0; i < 6; i++) {
		__u32 shift = 32 >> i;

		if (v >> shift) {
			v >>= shift;
			slot += shift;
		}
	}
	if (slot >= DX_HIST_SLOTS)
		slot = DX_HIST_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->total_ns, ns);
	raise_max(&h->max_ns, ns);
}

#endif /* DAXSCOPE_BPF_H */
