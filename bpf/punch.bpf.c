// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Punch windows: fallocate modes and truncates that remove or move file data. */
#include "daxscope.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 filter_dev = 0;
const volatile __u64 linger_ns = 2000000000ULL;
const volatile __u64 wakeup_bytes = 1 << 18;

/*
 * The per-fault hooks of faults.bpf.c may be attached only while punches run
 * on mapped files (the collector's choice: docs/design.md, "Fault hooks on
 * demand"). The collector makes fault_hooks_epoch odd once they are all
 * attached and even before it detaches any. A window whose file is mapped
 * while the epoch is even asks for them and is marked unwatched; so is one on
 * a mapped file whose hooks went away before it closed.
 */
volatile __u32 fault_hooks_epoch = 1; /* odd: attached, and attached for good unless the collector says */
volatile __u32 fault_hooks_wanted;
volatile __s64 mapped_windows_open;
volatile __u64 mapped_window_last_ns; /* the last open or close of a window on a mapped file */
volatile __u32 fuse_dating;
/* Cleared by the collector when page-cache read faults, fault-around's too, are watched: until then, not. */
volatile __u32 page_reads_unwatched = 1;
volatile __s64 fuse_windows_open;

/* from include/uapi/linux/falloc.h */
#define FALLOC_FL_PUNCH_HOLE 0x02
#define FALLOC_FL_COLLAPSE_RANGE 0x08
#define FALLOC_FL_ZERO_RANGE 0x10
#define FALLOC_FL_INSERT_RANGE 0x20
#define FALLOC_FL_UNSHARE_RANGE 0x40

static __always_inline __u32 punch_op(__u32 mode)
{
	if (mode & FALLOC_FL_PUNCH_HOLE)
		return DX_OP_PUNCH_HOLE;
	if (mode & FALLOC_FL_ZERO_RANGE)
		return DX_OP_ZERO_RANGE;
	if (mode & FALLOC_FL_COLLAPSE_RANGE)
		return DX_OP_COLLAPSE_RANGE;
	if (mode & FALLOC_FL_INSERT_RANGE)
		return DX_OP_INSERT_RANGE;
	if (mode & FALLOC_FL_UNSHARE_RANGE)
		return DX_OP_UNSHARE_RANGE;
	return 0; /* preallocation: moves no data, races nothing */
}

/* Collapse and insert shift everything after the offset: their range runs to the end of file. */
static __always_inline __u64 changed_len(__u32 op, __u64 len)
{
	return op == DX_OP_COLLAPSE_RANGE || op == DX_OP_INSERT_RANGE ? ~0ULL : len;
}

/* A punched FUSE file is known by its node id too: its READ and WRITE requests carry only that. */
static __always_inline void remember_fuse_node(struct inode *inode, const struct dx_file_key *key)
{
	struct fuse_node node = { .dev = key->dev };
	struct dx_file f = { .ino = key->ino, .dev = key->dev };

	if (!fuse_nodeid_of(inode, &node.nodeid))
		return;
	f.gen = BPF_CORE_READ(inode, i_generation);
	if (bpf_map_update_elem(&fuse_nodes, &node, &f, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
}

static __always_inline bool inode_mapped(struct inode *inode)
{
	return BPF_CORE_READ(inode, i_mapping, i_mmap.rb_root.rb_node) != NULL; /* mapping_mapped() */
}

/* A mapped file is punched: can its faults be seen? If not, the collector is asked to attach the hooks. */
static __always_inline bool fault_hooks_live(void)
{
	if (fault_hooks_epoch & 1)
		return true;
	fault_hooks_wanted = 1;
	return false;
}

static __always_inline bool wanted(struct inode *inode)
{
	return punch_task_wanted() && (!filter_dev || BPF_CORE_READ(inode, i_sb, s_dev) == filter_dev);
}

static __always_inline void open_window(struct inode *inode, struct dentry *dentry, __u32 op,
					__u64 offset, __u64 len, int fd, __u16 flags)
{
	struct task_punch tp = { .op = op };
	struct armed_file w = { .first_page = offset >> DX_PAGE_SHIFT, .last_page = last_page_of(offset, len) };
	struct global_state *g = global_state();
	__u64 id = bpf_get_current_pid_tgid();
	struct armed_file *before, *last;
	struct armed_slot *slot;
	__u32 tid = (__u32)id;
	struct dx_event *e;

	inode = real_inode(inode);
	inode_key(inode, &tp.key);
	tp.gen = w.gen = BPF_CORE_READ(inode, i_generation);
	before = armed_file_of(&tp.key);
	if (before && before->gen != w.gen)
		before = NULL; /* another file's, of the inode number freed and taken again */
	last = before ?: bpf_map_lookup_elem(&armed_files, &tp.key); /* a file's counts outlive its linger */
	if (last && last->gen == w.gen)
		w.counts = last->counts;
	if (before) { /* late events of the one before are still wanted */
		if (before->first_page < w.first_page)
			w.first_page = before->first_page;
		if (before->last_page > w.last_page)
			w.last_page = before->last_page;
		w.mmapped_at = before->mmapped_at;
		w.mmapped_unwatched = before->mmapped_unwatched;
	}
	w.start = bpf_ktime_get_ns();
	w.tid = tid;
	w.pid = id >> 32;
	bpf_get_current_comm(w.comm, sizeof(w.comm));
	if (bpf_map_update_elem(&armed_files, &tp.key, &w, BPF_ANY)) {
		count_drop(DX_DROP_MAP_FULL);
		return;
	}
	tp.start = w.start;
	tp.hooks_epoch = fault_hooks_epoch;
	tp.mapped = inode_mapped(inode);
	tp.page_cache = !(BPF_CORE_READ(inode, i_flags) & S_DAX);
	if (tp.mapped) {
		tp.unwatched = !fault_hooks_live();
		mapped_window_last_ns = w.start;
		__sync_fetch_and_add(&mapped_windows_open, 1);
	}
	tp.task = bpf_get_current_task();
	tp.fuse = BPF_CORE_READ(inode, i_sb, s_magic) == FUSE_SUPER_MAGIC;
	if (tp.fuse)
		__sync_fetch_and_add(&fuse_windows_open, 1);
	tp.cancelled_at_begin = tp.cancelled_seen = cancelled_write_bytes();
	find_fault_lock(&tp, inode, op);
	if (bpf_map_update_elem(&task_punches, &tid, &tp, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
	remember_fuse_node(inode, &tp.key);
	if (g)
		__sync_fetch_and_add(&g->open_windows, 1);
	slot = armed_slot_of(&tp.key);
	if (slot)
		__sync_fetch_and_add(&slot->open, 1);

	e = reserve_event(DX_PUNCH_BEGIN);
	if (!e)
		return;
	e->flags |= flags;
	inode_file(inode, &e->file);
	e->punch.offset = offset;
	e->punch.len = len;
	e->punch.isize = BPF_CORE_READ(inode, i_size);
	e->punch.op = op;
	e->punch.fd = fd;
	if (dentry)
		bpf_probe_read_kernel_str(e->punch.name, sizeof(e->punch.name),
					  BPF_CORE_READ(dentry, d_name.name));
	if (tp.unwatched) /* the collector attaches the hooks: now, not at its next poll */
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	else
		submit_event(e);
}

static __always_inline void open_fd_window(int fd, __u32 op, __u64 offset, __u64 len)
{
	struct file *file = task_fd_file(fd);
	struct inode *inode;

	if (!file)
		return;
	inode = BPF_CORE_READ(file, f_inode);
	if (!inode || !wanted(inode))
		return;
	if (op == DX_OP_TRUNCATE) {
		__u64 size = BPF_CORE_READ(inode, i_size);

		if (offset >= size)
			return; /* growing or same size: no data goes away */
		len = size - offset;
	}
	open_window(inode, BPF_CORE_READ(file, f_path.dentry), op, offset, len, fd, 0);
}

static __always_inline void close_window(__u64 ret, __u16 flags)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct task_punch *tp = bpf_map_lookup_elem(&task_punches, &tid);
	struct global_state *g = global_state();
	struct armed_slot *slot;
	struct armed_file *w;
	struct dx_event *e;
	__u64 now;

	if (!tp)
		return;
	if (tp->pending_path) { /* truncate(path) that deleted no page: nothing was armed */
		bpf_map_delete_elem(&task_punches, &tid);
		return;
	}
	now = bpf_ktime_get_ns();
	w = bpf_map_lookup_elem(&armed_files, &tp->key);
	if (w && w->tid == tid)
		w->end = now; /* kept for linger_ns so that late events still reach the collector */
	if (tp->mapped) {
		__sync_fetch_and_add(&mapped_windows_open, -1);
		mapped_window_last_ns = now;
	}
	if (w && w->mmapped_unwatched >= tp->start)
		tp->unwatched = true;
	if ((tp->mapped || (w && w->mmapped_at >= tp->start)) && tp->hooks_epoch != fault_hooks_epoch)
		tp->unwatched = true; /* detached (or only attached) while it was open */
	if (tp->unwatched)
		flags |= DX_F_FAULTS_UNWATCHED;
	if (page_reads_unwatched && tp->page_cache && (tp->mapped || (w && w->mmapped_at >= tp->start)))
		flags |= DX_F_READS_UNWATCHED;
	if (tp->fuse) {
		__sync_fetch_and_add(&fuse_windows_open, -1);
		/*
		 * Seen at its send, a request not seen was not sent; seen by the
		 * server's read, it may have gone unseen, unless the operation
		 * failed having changed nothing (a mode FUSE refuses before sending).
		 */
		if (!tp->dated && fuse_dating != DX_FUSE_AT_SEND && ((__s64)ret >= 0 || tp->changes))
			flags |= DX_F_CHANGE_UNDATED;
	}
	if (g) {
		__sync_fetch_and_add(&g->open_windows, -1);
		raise_max(&g->armed_until, now + linger_ns);
	}
	slot = armed_slot_of(&tp->key);
	if (slot) {
		__sync_fetch_and_add(&slot->open, -1);
		slot->until = now + linger_ns;
	}
	e = reserve_event(DX_PUNCH_END);
	if (e) {
		e->flags |= flags;
		e->file.ino = tp->key.ino;
		e->file.dev = tp->key.dev;
		e->punch_end.ret = ret;
		e->punch_end.op = tp->op;
		e->punch_end.changes = tp->changes;
		e->punch_end.unlocked = tp->unlocked;
		e->punch_end.guard = tp->guard_kind;
		e->punch_end.lock_unknown = tp->lock_unknown;
		e->punch_end.fs_magic = tp->fs_magic;
		e->punch_end.first_change_ns = tp->first_change;
		e->punch_end.last_change_ns = tp->last_change;
		e->punch_end.cancelled_bytes = cancelled_write_bytes() - tp->cancelled_at_begin;
		submit_event(e);
	}
	bpf_map_delete_elem(&task_punches, &tid);
}

SEC("tracepoint/syscalls/sys_enter_fallocate")
int on_fallocate_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 op = punch_op((__u32)ctx->args[1]);

	if (op)
		open_fd_window((int)ctx->args[0], op, ctx->args[2],
			       changed_len(op, ctx->args[3]));
	return 0;
}

/*
 * Where fentry is allowed, the window is the VFS call itself: it excludes the
 * syscall's entry and exit, and it also sees punches that come from inside
 * the kernel (loop device discards, nfsd, overlayfs copy-up). The fallocate
 * syscall tracepoints stand in where it is not.
 */
SEC("fentry/vfs_fallocate")
int BPF_PROG(on_vfs_fallocate, struct file *file, int mode, loff_t offset, loff_t len)
{
	__u32 op = punch_op((__u32)mode);
	struct inode *inode = file->f_inode;

	if (op && inode && wanted(inode))
		open_window(inode, file->f_path.dentry, op, offset, changed_len(op, len), -1, 0);
	return 0;
}

SEC("fexit/vfs_fallocate")
int BPF_PROG(on_vfs_fallocate_exit, struct file *file, int mode, loff_t offset, loff_t len, int ret)
{
	close_window((__s64)ret, 0); /* vfs_fallocate returns an int: the register's upper half is not its sign */
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_ftruncate")
int on_ftruncate_enter(struct trace_event_raw_sys_enter *ctx)
{
	open_fd_window((int)ctx->args[0], DX_OP_TRUNCATE, ctx->args[1], 0);
	return 0;
}

/* No inode at entry: the window opens at the first page this task deletes (faults.bpf.c). */
SEC("tracepoint/syscalls/sys_enter_truncate")
int on_truncate_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct task_punch tp = { .op = DX_OP_TRUNCATE, .pending_path = 1 };
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!punch_task_wanted())
		return 0;
	tp.new_size = ctx->args[1];
	if (bpf_map_update_elem(&task_punches, &tid, &tp, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
	return 0;
}

/*
 * Offloaded copies change the destination range under the page cache just as
 * a punch does (the filesystem or the FUSE server copies in place): the
 * destination is a window too. off_out NULL means the file position.
 */
SEC("tracepoint/syscalls/sys_enter_copy_file_range")
int on_copy_range_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct file *file = task_fd_file((int)ctx->args[2]);
	loff_t off = 0;

	if (!file)
		return 0;
	if (!ctx->args[3] || bpf_probe_read_user(&off, sizeof(off), (void *)ctx->args[3]))
		off = BPF_CORE_READ(file, f_pos);
	open_fd_window((int)ctx->args[2], DX_OP_COPY_RANGE, off, ctx->args[4]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_copy_file_range")
int on_copy_range_exit(struct trace_event_raw_sys_exit *ctx)
{
	close_window(ctx->ret, 0);
	return 0;
}

/* from include/uapi/linux/fs.h */
#define FICLONE 0x40049409
#define FICLONERANGE 0x4020940d
#define FIDEDUPERANGE 0xc0189436

struct clone_range { /* struct file_clone_range */
	__s64 src_fd;
	__u64 src_offset, src_length, dest_offset;
};

struct dedupe_range { /* struct file_dedupe_range and its first destination */
	__u64 src_offset, src_length;
	__u16 dest_count, reserved1;
	__u32 reserved2;
	__s64 dest_fd;
	__u64 dest_offset;
};

/* Reflink clones change the ioctl's file (the destination); dedupe changes its first destination. */
SEC("tracepoint/syscalls/sys_enter_ioctl")
int on_ioctl_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 cmd = (__u32)ctx->args[1];
	struct clone_range cr;
	struct dedupe_range dr;

	if (cmd == FICLONE)
		open_fd_window((int)ctx->args[0], DX_OP_CLONE_RANGE, 0, ~0ULL);
	else if (cmd == FICLONERANGE && !bpf_probe_read_user(&cr, sizeof(cr), (void *)ctx->args[2]))
		open_fd_window((int)ctx->args[0], DX_OP_CLONE_RANGE, cr.dest_offset,
			       cr.src_length ? cr.src_length : ~0ULL);
	else if (cmd == FIDEDUPERANGE && !bpf_probe_read_user(&dr, sizeof(dr), (void *)ctx->args[2]) &&
		 dr.dest_count)
		open_fd_window((int)dr.dest_fd, DX_OP_DEDUPE_RANGE, dr.dest_offset, dr.src_length);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ioctl")
int on_ioctl_exit(struct trace_event_raw_sys_exit *ctx)
{
	close_window(ctx->ret, 0);
	return 0;
}

/*
 * Extent changes of local filesystems (DAX files have no page cache to
 * delete): ext4 drops the extent-status cache of every range it punches,
 * zeroes, collapses, inserts or truncates; xfs unmaps extents for punch,
 * zero, collapse and truncate, and shifts them for insert. Classic
 * tracepoints: ext4 and xfs may be modules without BTF.
 */
#define DATA_CHANGE_TRACEPOINT(sys, name)                \
	SEC("tracepoint/" #sys "/" #name)                \
	int on_change_##name(void *ctx)                  \
	{                                                \
		struct task_punch *tp = current_punch(); \
                                                         \
		if (tp)                                  \
			note_data_change(tp);            \
		return 0;                                \
	}

DATA_CHANGE_TRACEPOINT(ext4, ext4_es_remove_extent)
DATA_CHANGE_TRACEPOINT(xfs, xfs_bunmap)
DATA_CHANGE_TRACEPOINT(xfs, xfs_insert_file_space)

/*
 * DAX files: a punch breaks the layouts of its range (ext4, xfs and
 * virtio-fs alike wait for DAX pages still pinned) once it holds the fault
 * lock; on kernels without FUSE tracepoints it is the one moment seen of a
 * virtio-fs DAX punch. The range variant replaced the whole-file one in 5.11.
 */
#define DATA_CHANGE_FENTRY(fn)                           \
	SEC("fentry/" #fn)                               \
	int BPF_PROG(on_change_##fn)                     \
	{                                                \
		struct task_punch *tp = current_punch(); \
                                                         \
		if (tp)                                  \
			note_data_change(tp);            \
		return 0;                                \
	}

DATA_CHANGE_FENTRY(dax_layout_busy_page_range)
DATA_CHANGE_FENTRY(dax_layout_busy_page)

SEC("tracepoint/syscalls/sys_exit_fallocate")
int on_fallocate_exit(struct trace_event_raw_sys_exit *ctx)
{
	close_window(ctx->ret, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ftruncate")
int on_ftruncate_exit(struct trace_event_raw_sys_exit *ctx)
{
	close_window(ctx->ret, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_truncate")
int on_truncate_exit(struct trace_event_raw_sys_exit *ctx)
{
	close_window(ctx->ret, 0);
	return 0;
}

/* A file mapped during its punch can be faulted during it: its faults must be watched. */
SEC("tracepoint/syscalls/sys_enter_mmap")
int on_mmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct file *file = task_fd_file((int)ctx->args[4]);
	struct dx_file_key key;
	struct armed_file *w;

	if (!file)
		return 0;
	inode_key(real_inode(BPF_CORE_READ(file, f_inode)), &key);
	w = armed_file_of(&key);
	if (!w || w->end)
		return 0;
	w->mmapped_at = bpf_ktime_get_ns();
	if (!fault_hooks_live())
		w->mmapped_unwatched = w->mmapped_at;
	return 0;
}

/* A task that dies inside its window never reaches syscall exit. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_task_exit, struct task_struct *task)
{
	close_window(0, DX_F_ABORTED);
	return 0;
}

/* A truncate(path) learns its inode from the first page it deletes. */
SEC("tp_btf/mm_filemap_delete_from_page_cache")
int BPF_PROG(on_truncate_delete, void *folio)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct task_punch *tp = bpf_map_lookup_elem(&task_punches, &tid);
	struct inode *inode;
	__u64 new_size;

	if (!tp || !tp->pending_path)
		return 0;
	inode = BPF_CORE_READ(folio_mapping_of(folio), host);
	if (!inode || !wanted(inode))
		return 0;
	new_size = tp->new_size;
	bpf_map_delete_elem(&task_punches, &tid);
	/* no dentry at hand here: userspace resolves the name from dev:ino */
	open_window(inode, NULL, DX_OP_TRUNCATE, new_size, ~0ULL, -1, DX_F_NO_FILE);
	return 0;
}
