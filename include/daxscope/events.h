/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one event ABI shared by bpf/ and src/: what the kernel side puts into
 * the ring buffer and what a capture file stores. Bump DX_ABI_VERSION on any
 * layout change; the capture reader refuses other versions.
 */
#ifndef DAXSCOPE_EVENTS_H
#define DAXSCOPE_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define DX_ABI_VERSION 2
#define DX_COMM_LEN 16
#define DX_NAME_LEN 40
#define DX_HIST_SLOTS 40 /* log2 buckets of nanoseconds: up to ~18 minutes */
/* Pages are 4 KiB, on both sides: the kernel's PAGE_SHIFT on x86 (arch/x86/include/asm/page_types.h) and arm64 with CONFIG_ARM64_4K_PAGES (Debian's) */
#define DX_PAGE_SHIFT 12

enum dx_kind {
	DX_PUNCH_BEGIN = 1, /* fallocate/ftruncate/truncate that removes or moves data */
	DX_PUNCH_END,
	DX_MAP_FAULT,     /* filemap:mm_filemap_map_pages: a read fault served from the page cache */
	DX_FILEMAP_FAULT, /* filemap:mm_filemap_fault: a fault that needs a page read or locked */
	DX_DAX_FAULT,     /* fs_dax:dax_{pte,pmd}_fault_done */
	DX_PAGE_DIRTY,    /* writeback:writeback_dirty_folio */
	DX_PAGE_DELETE,   /* filemap:mm_filemap_delete_from_page_cache */
	DX_LOCK_WAIT,     /* lock:contention_begin..end on a watched fault/punch lock */
	DX_FUSE_REQ,      /* fuse:fuse_request_send..end, joined in the kernel */
	DX_DAX_RANGE,     /* FUSE DAX window: range mapped, removed, reclaimed; allocation stalls */
	DX_FAULT_DONE,    /* a filesystem DAX fault handler returned (fentry/fexit): page.duration_ns */
	DX_PAGE_ADD,      /* filemap:mm_filemap_add_to_page_cache: a page read into the cache */
	DX_IO_REQUEST,    /* a FUSE READ/WRITE request or a direct IO on an armed file, at its send */
	DX_PAGE_READ,     /* a block read of page-cache pages (submit_bio): page.index .. page.last */
	DX_LOST_STORE,    /* at a write-back: bytes stored where an operation zeroed part of the page, that no buffer writes */
	DX_KIND_MAX
};

enum dx_punch_op {
	DX_OP_PUNCH_HOLE = 1,
	DX_OP_ZERO_RANGE,
	DX_OP_COLLAPSE_RANGE,
	DX_OP_INSERT_RANGE,
	DX_OP_TRUNCATE, /* truncate(2) and ftruncate(2) to a smaller size */
	DX_OP_UNSHARE_RANGE, /* fallocate FALLOC_FL_UNSHARE_RANGE */
	DX_OP_COPY_RANGE,    /* copy_file_range(2): the destination range */
	DX_OP_CLONE_RANGE,   /* FICLONE, FICLONERANGE: the destination range */
	DX_OP_DEDUPE_RANGE,  /* FIDEDUPERANGE: the destination ranges */
	DX_OP_MAX
};

/* What keeps faults out of a window's range, read at each of its data changes (dx_punch_end.guard). */
enum dx_fault_guard {
	DX_GUARD_UNRECORDED,      /* a capture from before it was recorded */
	DX_GUARD_INVALIDATE_LOCK, /* mapping->invalidate_lock (5.15+) */
	DX_GUARD_FS_LOCK,         /* the filesystem's own rwsem: btrfs i_mmap_lock; before 5.15 ext4, fuse, xfs */
	DX_GUARD_LEARNED_LOCK,    /* the rwsem its filesystem's faults take, learned from them (no BTF locates it: 5.10) */
	DX_GUARD_SHMEM_FALLOC,    /* tmpfs hole punch: its shmem_falloc in inode->i_private */
	DX_GUARD_I_SIZE,          /* a truncate that takes no fault lock (btrfs, tmpfs): faults past the new size fail */
	DX_GUARD_NONE,            /* nothing to read: a tmpfs copy (the page cache's own), an unknown lock */
	DX_GUARD_MAX
};

/* dx_event.flags */
#define DX_F_WRITE (1u << 0)        /* fault: write access; lock wait: writer */
#define DX_F_PMD (1u << 1)          /* DAX fault on a PMD (huge) entry */
#define DX_F_ABORTED (1u << 2)      /* punch end: the task exited inside the window */
#define DX_F_NO_FILE (1u << 3)      /* punch begin: inode found only later (truncate by path) */
#define DX_F_HOLDER_KNOWN (1u << 4) /* lock wait: holder is the punching task */
#define DX_F_ENTRY (1u << 5)        /* map fault seen at fault entry: a wait that follows is its own */
#define DX_F_KTHREAD (1u << 6)      /* the event's task is a kernel thread (journal, writeback, reclaim) */
#define DX_F_LOCKED (1u << 7)       /* punch's page delete or data change: it held its fault lock for write */
#define DX_F_CHANGE (1u << 8)       /* FUSE request of a punch: the one that changes the file's data */
#define DX_F_FAULTS_UNWATCHED (1u << 9) /* punch end: its file was mapped while the fault hooks were not attached */
#define DX_F_CHANGE_UNDATED (1u << 10)  /* punch end: a FUSE file whose request changing the data no probe dated */
#define DX_F_LOCK_UNKNOWN (1u << 11)    /* punch's page delete or data change: its fault lock was not known yet */
#define DX_F_DAX_FAULT (1u << 12)       /* FUSE DAX use: by a fault (which waits for a free range; IO reclaims inline) */
#define DX_F_LOCK_FREE (1u << 13)       /* page add: mapping->invalidate_lock (5.15+) was read, not held for write */
#define DX_F_STALL_UNSEEN (1u << 14)    /* FUSE DAX inline reclaim: no alloc_dax_mapping miss seen first (a skipped run) */
#define DX_F_READS_UNWATCHED (1u << 15) /* punch end: a mapped page-cache file, on a kernel where its read faults go unseen */

/* A file as the kernel side's maps key it (no generation: one entry per inode). */
struct dx_file_key {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

/* Whose punches open windows (the punch_filter map): set before load and while running. */
struct dx_punch_filter {
	__u32 tgid;      /* 0: every process */
	__u32 in_cgroup; /* 1: only tasks under the cgroup in the filter_cgroup map */
};

/* Identifies a file across inode-number reuse. */
struct dx_file {
	__u64 ino;
	__u32 dev; /* kernel dev_t: major << 20 | minor */
	__u32 gen; /* i_generation */
};

struct dx_punch {
	__u64 offset; /* bytes */
	__u64 len;    /* bytes; ~0 = to end of file */
	__u64 isize;  /* i_size when the window opened */
	__u32 op;     /* enum dx_punch_op */
	__s32 fd;
	char name[DX_NAME_LEN]; /* dentry name, for when no path can be resolved */
};

/*
 * What the kernel side saw of the punch's data changes (page deletes, extent
 * changes, its FUSE request). guard took a pad and last_change_ns and
 * lock_unknown bytes no member used: captures made before them read 0 there,
 * which means "not known" (guard: unrecorded).
 */
struct dx_punch_end {
	__s64 ret;
	__u32 op;
	__u32 changes;      /* data changes sampled */
	__u32 unlocked;     /* of which made without the fault lock held for write by the punching task */
	__u32 guard;        /* enum dx_fault_guard: what was read */
	__u64 first_change_ns;
	__u64 cancelled_bytes; /* dirty page-cache bytes it threw away (task I/O accounting) */
	__u64 last_change_ns;
	__u32 lock_unknown; /* data changes made before its fault lock was known (learned from faults: bpf/lockid.bpf.c) */
	__u32 fs_magic;     /* its superblock's s_magic (0 in captures from before): the order its filesystem keeps */
};

/*
 * A deleted folio's dirty mark in the page cache, read at its delete
 * (dx_page.dirty). Truncation cancels a folio's dirty flag first
 * (folio_cancel_dirty) but leaves the mark on its page-cache entry until the
 * delete removes the entry, and writeback clears the mark when it starts: the
 * mark says whether the folio's last dirtying ever went to the file.
 */
enum dx_deleted_dirty {
	DX_DELETED_UNREAD, /* not read: a capture from before, or no page-cache node holds the entry (index 0 alone) */
	DX_DELETED_CLEAN,  /* written back (or never dirtied) since it was last dirtied */
	DX_DELETED_DIRTY,  /* still dirty: what it was last dirtied with never went to the file */
};

struct dx_page {
	__u64 index;   /* page index in the file (map faults: the faulting page if known, else first) */
	__u64 address; /* user address of the fault, 0 if unknown */
	__u64 last;    /* map faults: last page of the fault-around range */
	__u32 order;   /* folio order (page deletes) */
	__u32 dirty;   /* page deletes: enum dx_deleted_dirty (0 in captures from before) */
	__u64 duration_ns; /* fault done: from handler entry, so lock waits inside count */
	__u64 cancelled_bytes; /* punch's page delete: dirty bytes it threw away since its last delete */
};

struct dx_lock_wait {
	__u64 wait_ns; /* ts is the end of the wait */
	__u64 lock;    /* lock address, to tell locks apart */
	__u32 holder_tid;
	__u32 holder_pid;
	char holder_comm[DX_COMM_LEN];
};

struct dx_fuse_req {
	__u64 latency_ns; /* ts is the reply; ts - latency_ns the send */
	__u32 opcode;
	__s32 error; /* the server's answer: 0 or -errno */
};

/* An IO request on an armed file: FUSE READ/WRITE (opcode) or a direct IO (opcode 0). */
struct dx_io {
	__u64 offset;
	__u64 len;
	__u32 opcode;
	__u32 pad;
};

/*
 * A store after the operation (bpf/afterop.bpf.c): the operation changed part
 * of a page (blocks smaller than a page) and dropped that part's buffers; at
 * the page's next write-back the event's task found bytes there that are not
 * zero, in a buffer that maps no block: stored with no fault and no write(2)
 * since, through a page-table entry left writable, and never written.
 */
struct dx_lost_store {
	__u64 index;          /* the page */
	__u64 punch_begin_ns; /* the operation's window */
	__u64 changed_ns;     /* when it dropped the part's buffers (partial invalidate) */
	__u32 offset, len;    /* the part, bytes of the page */
	__u32 first_byte;     /* offset in the page of the first stored byte found there */
	__u32 op;             /* enum dx_punch_op */
	__u32 punch_pid, punch_tid;
	__u32 mapper_pid;     /* a process then mapping the file shared and writable over the page; 0: none found */
	__u32 pad;
	char mapper_comm[DX_COMM_LEN];
};
_Static_assert(sizeof(struct dx_lost_store) <= sizeof(struct dx_punch), "dx_event's union keeps its size");

enum dx_dax_op {
	DX_DAX_SETUP = 1,      /* FUSE_SETUPMAPPING of one range (fuse_setup_one_mapping) */
	DX_DAX_REMOVE,         /* FUSE_REMOVEMAPPING request (fuse_send_removemapping) */
	DX_DAX_RECLAIM,        /* the worker reclaimed one range: layouts broken .. REMOVEMAPPING done */
	DX_DAX_RECLAIM_PASS,   /* one pass of the reclaim worker (fuse_dax_free_mem_worker) */
	DX_DAX_INLINE_RECLAIM, /* a stalled fault or IO reclaimed a range itself, the same way */
	DX_DAX_ALLOC_STALL,    /* a fault or IO found no free range (count: alloc_dax_mapping misses) until it had one */
	DX_DAX_USE,            /* a fault or IO used a range of a file (fuse_iomap_begin): offset is the file's, flags DX_F_WRITE */
	DX_DAX_NEW,            /* a mount made a window (fuse_dax_conn_alloc): a window at the same address is another */
	DX_DAX_EVICT,          /* an inode left the cache: all its ranges freed (fuse_dax_inode_cleanup) */
	DX_DAX_OP_MAX
};

/* The state of a FUSE DAX window (struct fuse_conn_dax) after an operation on it. */
struct dx_dax_range {
	__u64 window;      /* the fuse_conn_dax address: tells windows apart */
	__u64 duration_ns; /* ts is the end */
	__u64 offset;      /* window offset of the range, when one; a use: the file offset */
	__u32 op;          /* enum dx_dax_op */
	__s32 ret;
	__u32 nr_ranges;
	__u32 nr_free;
	__u32 nr_busy;
	__u32 count; /* ranges in a REMOVEMAPPING request; misses in a stall */
};

struct dx_event {
	__u64 ts; /* CLOCK_MONOTONIC ns (bpf_ktime_get_ns) */
	__u16 kind;
	__u16 flags;
	__u32 lost; /* events lost (DX_DROP_RINGBUF) before this one: a jump marks a gap */
	__u32 pid; /* tgid of the task the event happened in */
	__u32 tid;
	__u64 cgroup; /* its cgroup v2 id (the inode number of the cgroup directory) */
	char comm[DX_COMM_LEN];
	struct dx_file file;
	union {
		struct dx_punch punch;
		struct dx_punch_end punch_end;
		struct dx_page page;
		struct dx_lock_wait lock;
		struct dx_fuse_req fuse;
		struct dx_dax_range dax;
		struct dx_io io;
		struct dx_lost_store lost_store;
	};
};

/*
 * Captures store events as they are, and tests that rewrite a capture read
 * these from here (tests/lib/Daxscope/Test.pm): a layout change fails the
 * build until they, and DX_ABI_VERSION, follow.
 */
#define DX_EVENT_SIZE 136
#define DX_EVENT_COMM_OFFSET 32
_Static_assert(sizeof(struct dx_event) == DX_EVENT_SIZE, "struct dx_event changed: bump DX_ABI_VERSION, set DX_EVENT_SIZE");
_Static_assert(__builtin_offsetof(struct dx_event, comm) == DX_EVENT_COMM_OFFSET,
	       "struct dx_event's comm moved: bump DX_ABI_VERSION, set DX_EVENT_COMM_OFFSET");

/* FUSE opcodes the kernel side keeps (include/uapi/linux/fuse.h). */
#define DX_FUSE_SETATTR 4
#define DX_FUSE_READ 15
#define DX_FUSE_WRITE 16
#define DX_FUSE_FALLOCATE 43
#define DX_FUSE_COPY_FILE_RANGE 47
#define DX_FUSE_SETUPMAPPING 48
#define DX_FUSE_REMOVEMAPPING 49

/*
 * How the kernel side dates the request by which a FUSE punch, truncate or
 * copy has the server change the data (the collector sets fuse_dating once
 * its programs are attached): at its send to the server (the fuse_request_send
 * tracepoint, or fentry on its queueing), at the server's read of it from
 * /dev/fuse, or not at all. A FUSE window with no request dated is
 * DX_F_CHANGE_UNDATED unless requests are seen at their send (then it sent
 * none).
 */
enum dx_fuse_dating {
	DX_FUSE_UNDATED,
	DX_FUSE_AT_SEND,
	DX_FUSE_AT_RECEIPT,
};

/* The FUSE opcodes with a kernel latency histogram: slots of the fuse_latency map, in display order. */
enum dx_fuse_slot {
	DX_FUSE_SLOT_READ,
	DX_FUSE_SLOT_WRITE,
	DX_FUSE_SLOT_FALLOCATE,
	DX_FUSE_SLOT_SETUPMAPPING,
	DX_FUSE_SLOT_REMOVEMAPPING,
	DX_FUSE_SLOTS
};

/* The opcode of each slot, for either side: DX_FUSE_SLOT_OPCODES[slot]. */
#define DX_FUSE_SLOT_OPCODES { DX_FUSE_READ, DX_FUSE_WRITE, DX_FUSE_FALLOCATE, DX_FUSE_SETUPMAPPING, DX_FUSE_REMOVEMAPPING }

/* In-kernel aggregates, read by the collector (never by a front end). */
struct dx_hist {
	__u64 slots[DX_HIST_SLOTS];
	__u64 count;
	__u64 total_ns;
	__u64 max_ns;
};

/* Per-file page-event counters, kept for every armed file. */
struct dx_file_counts {
	__u64 faults_read;  /* page-cache read faults (fault-around and filemap_fault) */
	__u64 faults_write; /* pages made dirty: write faults and write(2) */
	__u64 dax_pte;
	__u64 dax_pmd;
	__u64 deleted;
};

/* The head of a file's entry in the kernel's windows map, as the collector reads it. */
struct dx_file_entry_head {
	struct dx_file_counts counts;
	__u32 gen; /* the file counted (i_generation): another file of the inode number starts from zero */
	__u32 pad;
};

/* Failure counters the kernel side (and the collector, where said) keeps, each read with dx_session_drops(); all are printed, none is silent. */
enum dx_drop {
	DX_DROP_RINGBUF = 0, /* ring buffer full, or a record too short to read (the collector's count): event lost */
	DX_DROP_MAP_FULL,    /* a tracking map was full: a window, lock, wait, fault timing or FUSE request not kept */
	DX_DROP_VMA,         /* user fault whose VMA could not be looked up */
	DX_DROP_NAMES,       /* a file's name not looked up: the lookups waiting were too many (the collector's count) */
	DX_DROP_MAX
};

#endif /* DAXSCOPE_EVENTS_H */
