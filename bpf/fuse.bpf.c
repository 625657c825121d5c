// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * FUSE requests that matter to punches and the DAX window, joined from
 * fuse_request_send to fuse_request_end on (connection, unique): latency
 * histograms per opcode in the kernel, an event for the rare opcodes.
 * Classic tracepoints with the layout of their format files, so no fuse
 * type needs BTF (fuse may be a module without it).
 */
#include "daxscope.bpf.h"

/* from include/trace/events/fuse.h (6.12+), as events/fuse/<name>/format lays them out */
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

struct fuse_key {
	__u64 unique;
	__u32 connection;
	__u32 pad;
};

struct fuse_sent {
	__u64 ts;
	__u64 cgroup;
	__u32 opcode;
	__u32 tid;
	__u32 pid;
	__u16 flags; /* DX_F_CHANGE, DX_F_LOCKED or DX_F_LOCK_UNKNOWN, DX_F_KTHREAD of the sender */
	char comm[DX_COMM_LEN];
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

/* Sent by a task inside its window: the moment its data change begins, and was the lock held? */
static __always_inline __u16 change_flags(__u32 opcode)
{
	struct task_punch *tp;

	if (!changes_data(opcode) || !(tp = current_punch()))
		return 0;
	return DX_F_CHANGE | note_data_change(tp);
}

SEC("tracepoint/fuse/fuse_request_send")
int on_fuse_send(struct fuse_send_ctx *ctx)
{
	struct fuse_key key = { .unique = ctx->unique, .connection = ctx->connection };
	__u64 id = bpf_get_current_pid_tgid();
	struct fuse_sent sent = { .opcode = ctx->opcode };

	sent.flags = change_flags(ctx->opcode);
	if (slot_of(ctx->opcode) < 0 && !sent.flags)
		return 0;
	if (is_kthread())
		sent.flags |= DX_F_KTHREAD;
	if (filter_dev && ctx->connection != filter_dev)
		return 0;
	sent.ts = bpf_ktime_get_ns();
	sent.tid = (__u32)id;
	sent.cgroup = bpf_get_current_cgroup_id();
	sent.pid = id >> 32;
	bpf_get_current_comm(sent.comm, sizeof(sent.comm));
	if (bpf_map_update_elem(&fuse_sent, &key, &sent, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
	return 0;
}

SEC("tracepoint/fuse/fuse_request_end")
int on_fuse_end(struct fuse_end_ctx *ctx)
{
	struct fuse_key key = { .unique = ctx->unique, .connection = ctx->connection };
	struct fuse_sent *sent = bpf_map_lookup_elem(&fuse_sent, &key);
	struct dx_hist *hist;
	struct dx_event *e;
	__u32 slot;
	__u64 now;

	if (!sent)
		return 0;
	now = bpf_ktime_get_ns();
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
			e->file.dev = ctx->connection; /* the mount, as FUSE numbers it */
			e->fuse.latency_ns = now - sent->ts;
			e->fuse.opcode = sent->opcode;
			submit_event(e);
		}
	}
	bpf_map_delete_elem(&fuse_sent, &key);
	return 0;
}

/*
 * READ and WRITE requests on a punched file, at their send: a WRITE sent while
 * the punch changes data puts the page cache's bytes back into the hole; a
 * READ reads the range while it changes. Needs the request itself (tp_btf,
 * 6.12+): the classic tracepoint has no node id or offset.
 */
struct fuse_io_in { /* struct fuse_read_in and fuse_write_in begin alike (include/uapi/linux/fuse.h) */
	__u64 fh;
	__u64 offset;
	__u32 size;
};

SEC("tp_btf/fuse_request_send")
int BPF_PROG(on_fuse_io, const struct fuse_req *req)
{
	__u32 opcode = BPF_CORE_READ(req, in.h.opcode);
	struct fuse_node node = {};
	struct fuse_io_in in = {};
	struct dx_file_key key;
	struct dx_file *f;
	struct window *w;
	struct dx_event *e;
	const void *value;

	if (opcode != DX_FUSE_READ && opcode != DX_FUSE_WRITE)
		return 0;
	node.nodeid = BPF_CORE_READ(req, in.h.nodeid);
	node.dev = BPF_CORE_READ(req, fm, sb, s_dev);
	f = bpf_map_lookup_elem(&fuse_nodes, &node);
	if (!f)
		return 0;
	key.ino = f->ino;
	key.dev = f->dev;
	key.pad = 0;
	w = armed_window(&key);
	if (!w)
		return 0;
	value = BPF_CORE_READ(req, args, in_args[0].value);
	if (!value || bpf_probe_read_kernel(&in, sizeof(in), value) ||
	    !window_covers_bytes(w, in.offset, in.size))
		return 0;
	e = reserve_event(DX_IO_REQUEST);
	if (!e)
		return 0;
	if (opcode == DX_FUSE_WRITE)
		e->flags |= DX_F_WRITE;
	e->file = *f;
	e->io.offset = in.offset;
	e->io.len = in.size;
	e->io.opcode = opcode;
	submit_event(e);
	return 0;
}
