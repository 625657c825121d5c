// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * FUSE requests that matter to punches and the DAX window, joined from
 * their send to their end: latency histograms per
 * opcode in the kernel, an event for the rare opcodes and for the request by
 * which a punch has the server change the data (its send dates the change).
 * Seen by the fuse tracepoints (6.11+; typed, tp_btf; without kernel BTF
 * the classic ones), else by fentry on the request's queueing (the fuse
 * module's BTF), else at the server's own read of it from /dev/fuse (syscall
 * tracepoints): docs/truth.md, "Dating a FUSE data change".
 */
#include "daxscope.bpf.h"

struct fuse_sent {
	__u64 ts;
	__u64 cgroup;
	__u32 connection; /* the mount, as FUSE numbers it: its superblock's device */
	__u32 opcode;
	__u32 tid;
	__u32 pid;
	__u16 flags; /* DX_F_CHANGE, DX_F_LOCKED or DX_F_LOCK_UNKNOWN, DX_F_KTHREAD of the sender */
	bool first_change; /* it was its punch's first data change */
	char comm[DX_COMM_LEN];
};

/*
 * Requests from their send to their end, by their address where the hook has
 * the request; the classic tracepoints have only its unique, which names it
 * on its connection. Until "fuse: capture the unique id of fuse commands
 * being sent" (Darrick Wong, 2025; not in Debian's 6.12) fuse_request_send
 * ran in fuse_send_one, before the queue numbered the request (fs/fuse/dev.c:
 * fuse_dev_queue_req; virtio_fs_send_req), so every request was sent as
 * unique 0 and ended as its number: there the classic pair joins nothing.
 */
struct fuse_key {
	__u64 id;         /* the struct fuse_req's address, or its unique */
	__u32 connection; /* with a unique, its connection; 0 with an address */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct fuse_key);
	__type(value, struct fuse_sent);
} fuse_sent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DX_FUSE_SLOTS);
	__type(key, __u32);
	__type(value, struct dx_hist);
} fuse_latency SEC(".maps");

/* The opcode's slot of fuse_latency (include/daxscope/events.h), -1 for opcodes without one. */
static __always_inline int slot_of(__u32 opcode)
{
	static const __u32 opcodes[DX_FUSE_SLOTS] = DX_FUSE_SLOT_OPCODES;

#pragma unroll
	for (int slot = 0; slot < DX_FUSE_SLOTS; slot++)
		if (opcodes[slot] == opcode)
			return slot;
	return -1;
}

/* The request a punch, truncate or copy sends to have the server change the data. */
static __always_inline bool changes_data(__u32 opcode)
{
	return opcode == DX_FUSE_FALLOCATE || opcode == DX_FUSE_COPY_FILE_RANGE || opcode == DX_FUSE_SETATTR;
}

/*
 * Sent by a task inside its window: the moment its data change begins, and
 * was the lock held? The window's request is dated.
 */
static __always_inline __u16 change_flags(__u32 opcode, bool *first)
{
	struct task_punch *tp;

	if (!changes_data(opcode) || !(tp = current_punch()))
		return 0;
	*first = !tp->changes;
	tp->dated = true;
	return DX_F_CHANGE | note_data_change(tp);
}

/*
 * The server answered the request that was to change the data with an error:
 * it changed nothing. A copy_file_range the server does not offer (ENOSYS,
 * EOPNOTSUPP) then falls back to the kernel's own page-cache copy
 * (fs/read_write.c, vfs_copy_file_range: splice_copy_file_range), which
 * writes the destination as write(2) does: the operation's own writes, no
 * data change under the page cache. Taken back from its punch's totals.
 */
static __always_inline void change_refused(const struct fuse_sent *sent)
{
	struct task_punch *tp = bpf_map_lookup_elem(&task_punches, &sent->tid);

	if (!tp || tp->pending_path || !tp->changes)
		return;
	tp->changes--;
	if (sent->flags & DX_F_LOCK_UNKNOWN) {
		if (tp->lock_unknown)
			tp->lock_unknown--;
	} else if (!(sent->flags & DX_F_LOCKED) && tp->unlocked) {
		tp->unlocked--;
	}
	if (sent->first_change && !tp->changes)
		tp->first_change = 0;
}

/*
 * A request sent to the server by the current task: kept until its end if it
 * has a histogram or, WITH_CHANGES, changes a punched file's data (not
 * without kernel BTF: no punch is watched there, and the lock's reads are CO-RE).
 */
static __always_inline void request_sent(const struct fuse_key *key, __u32 connection, __u32 opcode, bool with_changes)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct fuse_sent sent = { .opcode = opcode, .connection = connection };

	if (with_changes)
		sent.flags = change_flags(opcode, &sent.first_change);
	if (slot_of(opcode) < 0 && !sent.flags)
		return;
	if (is_kthread())
		sent.flags |= DX_F_KTHREAD;
	if (filter_dev && connection != filter_dev)
		return;
	sent.ts = bpf_ktime_get_ns();
	sent.tid = (__u32)id;
	sent.cgroup = bpf_get_current_cgroup_id();
	sent.pid = id >> 32;
	bpf_get_current_comm(sent.comm, sizeof(sent.comm));
	if (bpf_map_update_elem(&fuse_sent, key, &sent, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
}

static __always_inline void request_sent_typed(const struct fuse_req *req)
{
	struct fuse_key key = { .id = (__u64)req };

	request_sent(&key, BPF_CORE_READ(fuse_req_conn(req), dev), BPF_CORE_READ(req, in.h.opcode), true);
}

/*
 * A request's end (the reply with its ERROR, or an abort): its latency, and an
 * event for the rare opcodes and the data changes.
 */
static __always_inline void request_done(struct fuse_sent *sent, __s32 error)
{
	struct dx_hist *hist;
	struct dx_event *e;
	__u32 slot;
	__u64 now;

	now = bpf_ktime_get_ns();
	if (sent->flags & DX_F_CHANGE && error) {
		change_refused(sent);
		sent->flags &= ~(DX_F_CHANGE | DX_F_LOCKED);
	}
	slot = slot_of(sent->opcode);
	hist = bpf_map_lookup_elem(&fuse_latency, &slot);
	if (hist)
		hist_add(hist, now - sent->ts);
	/* reads and writes are too many for events: their histograms suffice (on_fuse_io sends those of armed files) */
	if (slot >= DX_FUSE_SLOT_FALLOCATE || sent->flags & DX_F_CHANGE) {
		e = reserve_event(DX_FUSE_REQ);
		if (e) {
			e->ts = now;
			e->flags = sent->flags;
			e->pid = sent->pid; /* the requesting task, not the server replying */
			e->tid = sent->tid;
			e->cgroup = sent->cgroup;
			__builtin_memcpy(e->comm, sent->comm, sizeof(e->comm));
			e->file.dev = sent->connection;
			e->fuse.latency_ns = now - sent->ts;
			e->fuse.opcode = sent->opcode;
			e->fuse.error = error;
			submit_event(e);
		}
	}
}

static __always_inline void request_ended(const struct fuse_key *key, __s32 error)
{
	struct fuse_sent *sent = bpf_map_lookup_elem(&fuse_sent, key);

	if (!sent)
		return;
	request_done(sent, error);
	bpf_map_delete_elem(&fuse_sent, key);
}

static __always_inline void request_ended_typed(const struct fuse_req *req)
{
	struct fuse_key key = { .id = (__u64)req };

	request_ended(&key, BPF_CORE_READ(req, out.h.error));
}

SEC("tp_btf/fuse_request_send")
int BPF_PROG(on_fuse_send, const struct fuse_req *req)
{
	request_sent_typed(req);
	return 0;
}

SEC("tp_btf/fuse_request_end")
int BPF_PROG(on_fuse_end, const struct fuse_req *req)
{
	request_ended_typed(req);
	return 0;
}

/* from include/trace/events/fuse.h (6.11+), as events/fuse/<name>/format lays them out */
struct fuse_send_ctx {
	__u64 common;
	__u32 connection;
	__u32 pad;
	__u64 unique;
	__u32 opcode;
	__u32 len;
};

struct fuse_end_ctx {
	__u64 common;
	__u32 connection;
	__u32 pad;
	__u64 unique;
	__u32 len;
	__s32 error;
};

/* Without kernel BTF: the classic tracepoints, by unique (the layout above needs no fuse type), for latencies. */
SEC("tracepoint/fuse/fuse_request_send")
int on_fuse_send_tp(struct fuse_send_ctx *ctx)
{
	struct fuse_key key = { .id = ctx->unique, .connection = ctx->connection };

	request_sent(&key, ctx->connection, ctx->opcode, false);
	return 0;
}

SEC("tracepoint/fuse/fuse_request_end")
int on_fuse_end_tp(struct fuse_end_ctx *ctx)
{
	struct fuse_key key = { .id = ctx->unique, .connection = ctx->connection };

	request_ended(&key, ctx->error);
	return 0;
}

/*
 * Before the tracepoints (6.11), where fentry may load and the fuse module
 * has BTF (5.11+): fs/fuse/dev.c's queue_request_and_unlock puts a request,
 * numbered, on the pending list the server (a /dev/fuse reader, or
 * virtio-fs) takes it from, under the queue's lock: at its entry the server
 * cannot have seen it yet, and the sender is the current task. Its end is
 * fuse_request_end, as for the tracepoint.
 */
SEC("fentry/queue_request_and_unlock")
int BPF_PROG(on_fuse_queue, void *fiq, struct fuse_req *req)
{
	request_sent_typed(req);
	return 0;
}

SEC("fentry/fuse_request_end")
int BPF_PROG(on_fuse_end_fentry, struct fuse_req *req)
{
	request_ended_typed(req);
	return 0;
}

/*
 * READ and WRITE requests on a punched file, at their send: a WRITE sent while
 * the punch changes data puts the page cache's bytes back into the hole; a
 * READ reads the range while it changes. Needs the request itself (tp_btf,
 * 6.12+; before, fentry on its queueing where the fuse module has BTF): the
 * classic tracepoint has no node id or offset.
 */
struct fuse_io_in { /* struct fuse_read_in and fuse_write_in begin alike (include/uapi/linux/fuse.h) */
	__u64 fh;
	__u64 offset;
	__u32 size;
};

/*
 * A READ or WRITE request IN on the FUSE file F, if its window is armed and
 * changes its pages. REQUESTER: 0 when the current task sent it, else the
 * requesting thread's id (the server is the current task; the requester's
 * process and name are not known there: its tid stands for both).
 */
static __always_inline void io_request(const struct dx_file *f, __u32 opcode, const struct fuse_io_in *in,
				       __u32 requester)
{
	struct dx_file_key key = { .ino = f->ino, .dev = f->dev };
	struct armed_file *w = armed_file_of(&key);
	struct dx_event *e;

	if (!w || !window_covers_bytes(w, in->offset, in->size) || !(e = reserve_event(DX_IO_REQUEST)))
		return;
	if (requester) {
		e->pid = e->tid = requester;
		e->flags = 0;
		e->comm[0] = '\0';
	}
	if (opcode == DX_FUSE_WRITE)
		e->flags |= DX_F_WRITE;
	e->file = *f;
	e->io.offset = in->offset;
	e->io.len = in->size;
	e->io.opcode = opcode;
	submit_event(e);
}

/* The device of the request's mount: its superblock's, or (7.x) its connection's, which fuse takes from its first mount. */
static __always_inline __u32 fuse_req_sb_dev(const void *req)
{
	const struct fuse_req___dx *r = req;

	if (bpf_core_field_exists(r->fm))
		return BPF_CORE_READ(r, fm, sb, s_dev);
	return BPF_CORE_READ(r, chan, conn, dev);
}

static __always_inline void fuse_io_sent(const struct fuse_req *req)
{
	__u32 opcode = BPF_CORE_READ(req, in.h.opcode);
	struct fuse_node node = {};
	struct fuse_io_in in = {};
	struct dx_file *f;
	const void *value;

	if (opcode != DX_FUSE_READ && opcode != DX_FUSE_WRITE)
		return;
	node.nodeid = BPF_CORE_READ(req, in.h.nodeid);
	node.dev = fuse_req_sb_dev(req);
	f = bpf_map_lookup_elem(&fuse_nodes, &node);
	value = f ? BPF_CORE_READ(req, args, in_args[0].value) : NULL;
	if (value && !bpf_probe_read_kernel(&in, sizeof(in), value))
		io_request(f, opcode, &in, 0);
}

SEC("tp_btf/fuse_request_send")
int BPF_PROG(on_fuse_io, const struct fuse_req *req)
{
	fuse_io_sent(req);
	return 0;
}

SEC("fentry/queue_request_and_unlock")
int BPF_PROG(on_fuse_io_queue, void *fiq, struct fuse_req *req)
{
	fuse_io_sent(req);
	return 0;
}

/*
 * Tracepoints only, before 6.11 (no fentry, or no fuse BTF: Debian's 5.10):
 * the server's own receipt. A /dev/fuse server reads each request, header
 * first (struct fuse_in_header, include/uapi/linux/fuse.h), whose pid is the
 * calling thread's (fs/fuse/dev.c, fuse_get_req: pid_nr_ns(task_pid(current),
 * fc->pid_ns)), and answers it with one write whose header (struct
 * fuse_out_header) names it again. libfuse may instead splice the request
 * into a pipe and read it from there at once (fuse-overlayfs on 5.10): the
 * thread's next read then holds it. Not seen: virtio-fs, FUSE over io_uring,
 * readv, and a mount whose pid namespace is not the initial one (its pids
 * are not the tids here); their windows are marked undated.
 */
struct fuse_in_header_uapi {
	__u32 len;
	__u32 opcode;
	__u64 unique;
	__u64 nodeid;
	__u32 uid;
	__u32 gid;
	__u32 pid;
	__u32 padding;
};

struct fuse_out_header_uapi {
	__u32 len;
	__s32 error;
	__u64 unique;
};

/* A request the server read, by its device file and number: until the server's reply. */
struct receipt_key {
	__u64 dev_file;
	__u64 unique;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct receipt_key);
	__type(value, struct fuse_sent); /* the punching task's, from its window (cgroup unknown: 0); the server is current */
} fuse_receipts SEC(".maps");

/* A punched file as the server's reads name it: by node id on its connection (struct fuse_conn *). */
struct receipt_node {
	__u64 nodeid;
	__u64 connection;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct receipt_node);
	__type(value, struct dx_file);
} receipt_nodes SEC(".maps");

/* Threads that spliced a request out of the device, until they read it from their pipe: the device file. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} fuse_splicers SEC(".maps");

#define MISC_MAJOR 10  /* from include/uapi/linux/major.h */
#define FUSE_MINOR 229 /* from include/linux/miscdevice.h */
#define MINORBITS 20   /* from include/linux/kdev_t.h: the kernel's dev_t */
/* x86_64 kernel stacks: PAGE_SIZE << THREAD_SIZE_ORDER (2, without KASAN), arch/x86/include/asm/page_64_types.h */
#define THREAD_SIZE (4096 << 2)

/* The file at FD of the current task if it is the FUSE device, else NULL. */
static __always_inline struct file *fuse_device_at(int fd)
{
	struct file *file = task_fd_file(fd);
	struct inode *inode = file ? BPF_CORE_READ(file, f_inode) : NULL;

	return inode && BPF_CORE_READ(inode, i_rdev) == (MISC_MAJOR << MINORBITS | FUSE_MINOR) ? file : NULL;
}

/*
 * The connection a FUSE device file serves: its private_data is a struct
 * fuse_dev, whose first member is the struct fuse_conn * (fs/fuse/fuse_i.h,
 * 4.x to 6.x; read by offset: the fuse module has no BTF on 5.10).
 */
static __always_inline __u64 fuse_connection_of(struct file *dev)
{
	void *fud = BPF_CORE_READ(dev, private_data);
	__u64 fc = 0;

	bpf_probe_read_kernel(&fc, sizeof(fc), fud);
	return fc;
}

/* The server read a READ or WRITE request: on a file a punch's request named, and after that. */
static __always_inline void receipt_io(struct file *dev, const struct fuse_in_header_uapi *h, const void *args)
{
	struct receipt_node node = { .nodeid = h->nodeid, .connection = fuse_connection_of(dev) };
	struct dx_file *f = bpf_map_lookup_elem(&receipt_nodes, &node);
	struct fuse_io_in in;

	if (f && !bpf_probe_read_user(&in, sizeof(in), args))
		io_request(f, h->opcode, &in, h->pid);
}

/*
 * The registers the current task entered its syscall with, at the top of its
 * kernel stack (task_pt_regs() on x86_64); trusted only when they hold the
 * syscall the tracepoint is for (so a stack laid out otherwise reads as none).
 */
static __always_inline struct pt_regs *syscall_regs(long nr)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct pt_regs *regs = (struct pt_regs *)(BPF_CORE_READ(task, stack) + THREAD_SIZE) - 1;

	return BPF_CORE_READ(regs, orig_ax) == nr ? regs : NULL;
}

/* The device the current thread's read takes a request of: read from it, or spliced out of it just before. */
static __always_inline struct file *request_source(int fd)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct file *dev = fuse_device_at(fd);
	__u64 *spliced;

	if (dev || !(spliced = bpf_map_lookup_elem(&fuse_splicers, &tid)))
		return dev;
	dev = (struct file *)*spliced;
	bpf_map_delete_elem(&fuse_splicers, &tid);
	return dev;
}

SEC("tracepoint/syscalls/sys_exit_splice")
int on_fuse_splice(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pt_regs *regs;
	__u64 dev;

	if (fuse_windows_open <= 0 || ctx->ret < (long)sizeof(struct fuse_in_header_uapi) ||
	    !(regs = syscall_regs((int)ctx->id)))
		return 0;
	dev = (__u64)fuse_device_at((int)BPF_CORE_READ(regs, di)); /* splice's fd_in */
	if (dev && bpf_map_update_elem(&fuse_splicers, &tid, &dev, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
	return 0;
}

/* The server read a request: if a punching task's request that changes data, its change begins now. */
SEC("tracepoint/syscalls/sys_exit_read")
int on_fuse_receipt(struct trace_event_raw_sys_exit *ctx)
{
	struct fuse_in_header_uapi h;
	struct fuse_sent r = {};
	struct receipt_key key;
	struct task_punch *tp;
	struct receipt_node node;
	struct dx_file file;
	struct pt_regs *regs;
	struct armed_file *w;
	struct file *dev;
	const char *buf;

	if (fuse_windows_open <= 0 || ctx->ret < (long)sizeof(h) || !(regs = syscall_regs((int)ctx->id)))
		return 0;
	dev = request_source((int)BPF_CORE_READ(regs, di));
	buf = (const char *)BPF_CORE_READ(regs, si);
	if (!dev || bpf_probe_read_user(&h, sizeof(h), buf))
		return 0;
	if ((h.opcode == DX_FUSE_READ || h.opcode == DX_FUSE_WRITE) &&
	    ctx->ret >= (long)(sizeof(h) + sizeof(struct fuse_io_in))) {
		receipt_io(dev, &h, buf + sizeof(h));
		return 0;
	}
	tp = changes_data(h.opcode) ? bpf_map_lookup_elem(&task_punches, &h.pid) : NULL;
	if (!tp || !tp->fuse || tp->pending_path || tp->dated)
		return 0;
	tp->dated = true;
	/* its file by the node id the server knows it by: the READs and WRITEs of it that follow */
	node.nodeid = h.nodeid;
	node.connection = fuse_connection_of(dev);
	file.ino = tp->key.ino;
	file.dev = tp->key.dev;
	file.gen = tp->gen;
	if (bpf_map_update_elem(&receipt_nodes, &node, &file, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
	r.first_change = !tp->changes;
	r.flags = DX_F_CHANGE | note_data_change_of(tp, tp->task);
	w = bpf_map_lookup_elem(&armed_files, &tp->key);
	if (!w || w->tid != h.pid)
		return 0;
	r.ts = bpf_ktime_get_ns();
	r.opcode = h.opcode;
	r.tid = w->tid;
	r.pid = w->pid;
	__builtin_memcpy(r.comm, w->comm, sizeof(r.comm));
	r.connection = tp->key.dev; /* a FUSE connection is numbered by its superblock's device */
	key.dev_file = (__u64)dev;
	key.unique = h.unique;
	if (bpf_map_update_elem(&fuse_receipts, &key, &r, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
	return 0;
}

/*
 * The server's reply to a request it read: the request's end. Replies come
 * while their punch still waits, so the hooks on every write(2) do nothing
 * more than a load while no FUSE window is open.
 */
static __always_inline void fuse_replied(int fd, const void *header)
{
	struct fuse_out_header_uapi h;
	struct receipt_key key;
	struct fuse_sent *r;

	if (bpf_probe_read_user(&h, sizeof(h), header))
		return;
	key.dev_file = (__u64)fuse_device_at(fd);
	key.unique = h.unique;
	r = key.dev_file ? bpf_map_lookup_elem(&fuse_receipts, &key) : NULL;
	if (!r)
		return;
	request_done(r, h.error);
	bpf_map_delete_elem(&fuse_receipts, &key);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int on_fuse_reply_writev(struct trace_event_raw_sys_enter *ctx)
{
	const void *first = NULL;

	if (fuse_windows_open > 0 && ctx->args[2] &&
	    !bpf_probe_read_user(&first, sizeof(first), (void *)ctx->args[1])) /* iov[0].iov_base */
		fuse_replied((int)ctx->args[0], first);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_write")
int on_fuse_reply_write(struct trace_event_raw_sys_enter *ctx)
{
	if (fuse_windows_open > 0)
		fuse_replied((int)ctx->args[0], (void *)ctx->args[1]);
	return 0;
}
