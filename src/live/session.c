// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The live session: settles what this kernel allows before load (BTF,
 * tracepoints, helpers), loads the one skeleton, retries without any program
 * the verifier refuses, attaches the rest, and keeps what is and is not
 * watched as data (struct dx_probe), rendered as the one-line banner. Never
 * fails silently: every dropped program has a reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/mounts.h"
#include "daxscope/core/names.h"
#include "daxscope/core/paths.h"
#include "daxscope/core/report.h"
#include "daxscope/live/session.h"
#include "daxscope/outputs/banner.h"
#include "daxscope.skel.h"

#define TRACEFS "/sys/kernel/tracing"
#define REASON_LEN 160
/* Every program of the skeleton: the most that can be refused or listed. */
#define NPROGS (sizeof(((struct daxscope_bpf *)0)->progs) / sizeof(struct bpf_program *))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the program registry ---- */

/* A program, named by its skeleton field: a name that is no program fails the build. */
#define PROG(name) offsetof(struct daxscope_bpf, progs.name)

/* What programs watch: each is one item of the banner, whatever programs serve it. */
enum concern {
	PUNCHES,
	FTRUNCATE,
	TRUNCATE_PATH,
	TASK_EXIT,
	MMAPS,
	FAULT_ADDRESSES,
	VMA_FAULTS,
	READ_FAULTS,
	FAULT_AROUND_PTES,
	DAX_PTE_FAULTS,
	DAX_PMD_FAULTS,
	DIRTIED_PAGES,
	PAGE_DELETES,
	PAGE_ADDS,
	BLOCK_READS,
	LOCK_WAITS,
	FUSE_DAX_MAPPINGS,
	FUSE_DAX_RECLAIM,
	FUSE_DAX_PASSES,
	FUSE_DAX_STALLS,
	FUSE_DAX_USES,
	FUSE_REQUESTS,
	FUSE_RECEIPTS,
	FUSE_IO,
	COPY_RANGE,
	REFLINK,
	EXT4_CHANGES,
	XFS_CHANGES,
	DAX_LAYOUT_BREAKS,
	DIRECT_IO,
	STORES_AFTER_OP,
	EXT4_FAULT_TIMING,
	XFS_FAULT_TIMING,
	FUSE_FAULT_TIMING,
	NCONCERNS
};

static const char *const concern_names[NCONCERNS] = {
	[PUNCHES] = "fallocate punches",
	[FTRUNCATE] = "ftruncate",
	[TRUNCATE_PATH] = "truncate(path)",
	[TASK_EXIT] = "punches cut short by exit",
	[MMAPS] = "mmaps during punches",
	[FAULT_ADDRESSES] = "fault addresses",
	[VMA_FAULTS] = "user faults (through the VMA)",
	[READ_FAULTS] = "page-cache read faults",
	[FAULT_AROUND_PTES] = "fault-around read faults (the faulting page's pte)",
	[DAX_PTE_FAULTS] = "DAX pte faults",
	[DAX_PMD_FAULTS] = "DAX pmd faults",
	[DIRTIED_PAGES] = "dirtied pages",
	[PAGE_DELETES] = "page-cache deletes",
	[PAGE_ADDS] = "page-cache adds",
	[BLOCK_READS] = "block reads of page-cache pages",
	[LOCK_WAITS] = "fault/punch lock waits",
	[FUSE_DAX_MAPPINGS] = "FUSE DAX mappings",
	[FUSE_DAX_RECLAIM] = "FUSE DAX range reclaim (worker and inline)",
	[FUSE_DAX_PASSES] = "FUSE DAX reclaim passes",
	[FUSE_DAX_STALLS] = "FUSE DAX allocation stalls",
	[FUSE_DAX_USES] = "FUSE DAX range uses (cache-size model)",
	[FUSE_REQUESTS] = "FUSE requests",
	[FUSE_RECEIPTS] = "FUSE requests at the server's reads of /dev/fuse",
	[FUSE_IO] = "FUSE READ/WRITE on punched files",
	[COPY_RANGE] = "copy_file_range",
	[REFLINK] = "reflink clones and dedupe",
	[EXT4_CHANGES] = "ext4 extent changes",
	[XFS_CHANGES] = "xfs extent changes",
	[DAX_LAYOUT_BREAKS] = "DAX layout breaks",
	[DIRECT_IO] = "direct IO",
	[STORES_AFTER_OP] = DX_PROBE_STORES_AFTER_OP,
	[EXT4_FAULT_TIMING] = "ext4 DAX fault timing",
	[XFS_FAULT_TIMING] = "xfs DAX fault timing",
	[FUSE_FAULT_TIMING] = "FUSE DAX fault timing",
};

/* A helper a program calls, and the kernel that brought it. */
struct helper {
	enum bpf_func_id id;
	const char *since;
};

static const struct helper find_vma = { BPF_FUNC_find_vma, "bpf_find_vma, 5.17+" };

/*
 * One entry per program of the skeleton. A stand-in loads only when the
 * program it stands in for is refused (or, with when_primary_loads, only
 * when it is not). primary 0 stands in for nothing: offset 0 is the
 * skeleton's own pointer, never a program.
 */
#define ENTRY(name, concern, ...) { .prog = PROG(name), .what = (concern), __VA_ARGS__ }
#define STANDS_IN_FOR(name) .primary = PROG(name)
#define ONLY_WITH(name) .primary = PROG(name), .when_primary_loads = true
/* Runs on every fault: attached only while punches run on mapped files, unless always asked for. */
#define ON_DEMAND .on_demand = true
/*
 * An fexit for kernels where its function returns void, or one that reads
 * the value it returns: on the other kernels not theirs, and named nowhere.
 */
#define WHERE_VOID .returns = RETURNS_VOID
#define WHERE_VALUE .returns = RETURNS_VALUE
/* The entry and exit programs of FAULT_HANDLER(fn) in faults.bpf.c. */
#define FAULT_TIMING(fn, concern, mod) \
	ENTRY(on_enter_##fn, concern, .module = mod, ON_DEMAND), ENTRY(on_exit_##fn, concern, .module = mod, ON_DEMAND)

static const struct program {
	size_t prog;              /* PROG(name) */
	enum concern what;
	size_t primary;           /* PROG(name) of the program it stands in for, or 0 */
	bool when_primary_loads;
	const char *module;       /* fentry/fexit target in a module: its name (NULL: vmlinux) */
	const struct helper *helper;
	bool on_demand;
	enum { RETURNS_ANY, RETURNS_VOID, RETURNS_VALUE } returns; /* WHERE_VOID, WHERE_VALUE */
} registry[] = {
	/* punch windows (punch.bpf.c) */
	ENTRY(on_vfs_fallocate, PUNCHES),
	ENTRY(on_vfs_fallocate_exit, PUNCHES),
	ENTRY(on_fallocate_enter, PUNCHES, STANDS_IN_FOR(on_vfs_fallocate)),
	ENTRY(on_fallocate_exit, PUNCHES, STANDS_IN_FOR(on_vfs_fallocate)),
	ENTRY(on_ftruncate_enter, FTRUNCATE),
	ENTRY(on_ftruncate_exit, FTRUNCATE),
	ENTRY(on_truncate_enter, TRUNCATE_PATH),
	ENTRY(on_truncate_exit, TRUNCATE_PATH),
	ENTRY(on_truncate_delete, TRUNCATE_PATH),
	ENTRY(on_copy_range_enter, COPY_RANGE),
	ENTRY(on_copy_range_exit, COPY_RANGE),
	ENTRY(on_ioctl_enter, REFLINK),
	ENTRY(on_ioctl_exit, REFLINK),
	ENTRY(on_task_exit, TASK_EXIT),
	ENTRY(on_mmap_enter, MMAPS),
	ENTRY(on_change_ext4_es_remove_extent, EXT4_CHANGES),
	ENTRY(on_change_xfs_bunmap, XFS_CHANGES),
	ENTRY(on_change_xfs_insert_file_space, XFS_CHANGES),
	ENTRY(on_change_dax_layout_busy_page_range, DAX_LAYOUT_BREAKS),
	ENTRY(on_change_dax_layout_busy_page, DAX_LAYOUT_BREAKS),
	/* faults and page events (faults.bpf.c) */
	ENTRY(on_user_fault, FAULT_ADDRESSES, ONLY_WITH(on_map_pages), ON_DEMAND),
	ENTRY(on_user_fault_vma, VMA_FAULTS, STANDS_IN_FOR(on_map_pages), .helper = &find_vma, ON_DEMAND),
	ENTRY(on_map_pages_fexit, READ_FAULTS, WHERE_VALUE, ON_DEMAND),
	ENTRY(on_map_pages_fexit_void, FAULT_AROUND_PTES, STANDS_IN_FOR(on_map_pages_fexit), WHERE_VOID, ON_DEMAND),
	ENTRY(on_map_pages, READ_FAULTS, STANDS_IN_FOR(on_map_pages_fexit_void), ON_DEMAND),
	ENTRY(on_filemap_fault_fentry, READ_FAULTS, ON_DEMAND),
	ENTRY(on_filemap_fault, READ_FAULTS, STANDS_IN_FOR(on_filemap_fault_fentry), ON_DEMAND),
	ENTRY(on_dax_pte_fault, DAX_PTE_FAULTS, ON_DEMAND),
	ENTRY(on_dax_pmd_fault, DAX_PMD_FAULTS, ON_DEMAND),
	ENTRY(on_page_dirty, DIRTIED_PAGES),
	ENTRY(on_page_dirty_page, DIRTIED_PAGES, STANDS_IN_FOR(on_page_dirty)),
	ENTRY(on_page_delete, PAGE_DELETES),
	ENTRY(on_page_add, PAGE_ADDS),
	ENTRY(on_block_read, BLOCK_READS),
	FAULT_TIMING(ext4_dax_fault, EXT4_FAULT_TIMING, "ext4"),
	FAULT_TIMING(ext4_dax_huge_fault, EXT4_FAULT_TIMING, "ext4"),
	FAULT_TIMING(xfs_filemap_fault, XFS_FAULT_TIMING, "xfs"),
	FAULT_TIMING(xfs_filemap_huge_fault, XFS_FAULT_TIMING, "xfs"),
	FAULT_TIMING(xfs_filemap_page_mkwrite, XFS_FAULT_TIMING, "xfs"),
	FAULT_TIMING(xfs_filemap_pfn_mkwrite, XFS_FAULT_TIMING, "xfs"),
	FAULT_TIMING(__fuse_dax_fault, FUSE_FAULT_TIMING, "fuse"),
	/* lock waits (lockwait.bpf.c) */
	ENTRY(on_contention_begin, LOCK_WAITS),
	ENTRY(on_contention_end, LOCK_WAITS),
	ENTRY(on_down_write, LOCK_WAITS, STANDS_IN_FOR(on_contention_begin)),
	ENTRY(on_down_write_exit, LOCK_WAITS, STANDS_IN_FOR(on_contention_begin)),
	ENTRY(on_down_read, LOCK_WAITS, STANDS_IN_FOR(on_contention_begin)),
	ENTRY(on_down_read_exit, LOCK_WAITS, STANDS_IN_FOR(on_contention_begin)),
	/* the fault lock of filesystems no BTF locates, learned from their faults (lockid.bpf.c) */
	ENTRY(on_learn_fault_start, LOCK_WAITS, STANDS_IN_FOR(on_contention_begin), ON_DEMAND),
	ENTRY(on_learn_read_lock, LOCK_WAITS, STANDS_IN_FOR(on_contention_begin), ON_DEMAND),
	ENTRY(on_learn_filemap_fault, LOCK_WAITS, STANDS_IN_FOR(on_contention_begin), ON_DEMAND),
	ENTRY(on_learn_dax_fault, LOCK_WAITS, STANDS_IN_FOR(on_contention_begin), ON_DEMAND),
	/* FUSE requests (fuse.bpf.c) and IO (io.bpf.c) */
	ENTRY(on_fuse_send, FUSE_REQUESTS),
	ENTRY(on_fuse_end, FUSE_REQUESTS, ONLY_WITH(on_fuse_send)),
	ENTRY(on_fuse_send_tp, FUSE_REQUESTS, STANDS_IN_FOR(on_fuse_send)),
	ENTRY(on_fuse_end_tp, FUSE_REQUESTS, ONLY_WITH(on_fuse_send_tp)),
	ENTRY(on_fuse_queue, FUSE_REQUESTS, STANDS_IN_FOR(on_fuse_send_tp), .module = "fuse"),
	ENTRY(on_fuse_end_fentry, FUSE_REQUESTS, ONLY_WITH(on_fuse_queue), .module = "fuse"),
	ENTRY(on_fuse_receipt, FUSE_RECEIPTS, STANDS_IN_FOR(on_fuse_queue)),
	ENTRY(on_fuse_reply_writev, FUSE_RECEIPTS, ONLY_WITH(on_fuse_receipt)),
	ENTRY(on_fuse_reply_write, FUSE_RECEIPTS, ONLY_WITH(on_fuse_receipt)),
	ENTRY(on_fuse_splice, FUSE_RECEIPTS, ONLY_WITH(on_fuse_receipt)),
	ENTRY(on_fuse_io, FUSE_IO),
	ENTRY(on_fuse_io_queue, FUSE_IO, STANDS_IN_FOR(on_fuse_io), .module = "fuse"),
	ENTRY(on_dio_begin, DIRECT_IO),
	/* stores after the operation (afterop.bpf.c) */
	ENTRY(on_partial_invalidate, STORES_AFTER_OP),
	ENTRY(on_partial_invalidate_page, STORES_AFTER_OP, STANDS_IN_FOR(on_partial_invalidate)),
	ENTRY(on_write_back, STORES_AFTER_OP),
	ENTRY(on_write_back_page, STORES_AFTER_OP, STANDS_IN_FOR(on_write_back)),
	/* the FUSE DAX window (fusedax.bpf.c) */
	ENTRY(on_dax_setup, FUSE_DAX_MAPPINGS, .module = "fuse"),
	ENTRY(on_dax_setup_exit, FUSE_DAX_MAPPINGS, .module = "fuse"),
	ENTRY(on_dax_remove, FUSE_DAX_MAPPINGS, .module = "fuse"),
	ENTRY(on_dax_remove_exit, FUSE_DAX_MAPPINGS, .module = "fuse"),
	ENTRY(on_dax_break_layouts, FUSE_DAX_RECLAIM, .module = "fuse"),
	ENTRY(on_dax_busy_range, FUSE_DAX_RECLAIM, ONLY_WITH(on_dax_setup)),
	ENTRY(on_dax_reclaim_pass, FUSE_DAX_PASSES, .module = "fuse"),
	ENTRY(on_dax_reclaim_pass_exit, FUSE_DAX_PASSES, .module = "fuse"),
	ENTRY(on_dax_alloc, FUSE_DAX_STALLS, .module = "fuse"),
	ENTRY(on_dax_use, FUSE_DAX_USES, .module = "fuse"),
	ENTRY(on_dax_use_iter, FUSE_DAX_USES, STANDS_IN_FOR(on_dax_use)),
	ENTRY(on_dax_inode_evict, FUSE_DAX_USES, .module = "fuse"),
	ENTRY(on_dax_window_new, FUSE_DAX_MAPPINGS, .module = "fuse"),
};

/* A program added without an entry fails here; one entry given twice, at session open. */
_Static_assert(ARRAY_LEN(registry) == NPROGS, "every program of the skeleton needs one entry in registry[]");

static struct bpf_program *prog_of(const struct daxscope_bpf *skel, const struct program *p)
{
	return *(struct bpf_program *const *)((const char *)skel + p->prog);
}

/* The registry entry of PROG (NPROGS if none). */
static size_t entry_of(const struct daxscope_bpf *skel, const struct bpf_program *prog)
{
	for (size_t i = 0; i < ARRAY_LEN(registry); i++)
		if (prog_of(skel, &registry[i]) == prog)
			return i;
	return NPROGS;
}

/* The registry entry of the program at skeleton field FIELD (NPROGS if none). */
static size_t entry_at(size_t field)
{
	for (size_t i = 0; i < ARRAY_LEN(registry); i++)
		if (registry[i].prog == field)
			return i;
	return NPROGS;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Every program of the object has exactly one entry: a concern is never a raw program name. */
static int check_registry(const struct daxscope_bpf *skel, char *err, size_t errlen)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		size_t entries = 0;

		for (size_t i = 0; i < ARRAY_LEN(registry); i++)
			entries += prog_of(skel, &registry[i]) == prog;
		if (entries != 1)
			return fail(err, errlen, "BPF program %s has %zu entries in the registry of src/live/session.c, not one",
				    bpf_program__name(prog), entries);
	}
	return 0;
}

/* ---- the session, and what the kernel allows, settled before load ---- */

struct dx_session {
	struct daxscope_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[NPROGS]; /* by registry entry */
	bool attachable[NPROGS];        /* attached at open: on-demand programs come back only if they were */
	bool on_demand;                 /* the per-fault programs come and go */
	uint64_t idle_ns;               /* ... and go once no mapped file was punched for this long */
	uint64_t retry_ns;              /* an attach failed: not again before this */
	struct dx_path_lookups *lookups; /* names asked of live tasks, each handed out once found */
	dx_record_fn fn;
	void *ctx;
	int handed; /* events handed out by the poll in progress */
	uint64_t unreadable; /* ring buffer records too short for an event: lost */
	struct dx_probe probes[NCONCERNS];
	size_t nprobes;
	char banner[2048];
};

static char libbpf_log[8192];

/* libbpf's messages are kept, not printed (DAXSCOPE_DEBUG=1 prints them): the banner gives the reason. */
static int keep_libbpf_log(enum libbpf_print_level level, const char *fmt, va_list args)
{
	size_t used = strlen(libbpf_log);

	if (getenv("DAXSCOPE_DEBUG")) {
		va_list copy;

		va_copy(copy, args);
		vfprintf(stderr, fmt, copy);
		va_end(copy);
	}
	if (level == LIBBPF_DEBUG || used >= sizeof(libbpf_log) - 1)
		return 0;
	return vsnprintf(libbpf_log + used, sizeof(libbpf_log) - used, fmt, args);
}

/* NULL when this process may load and attach tracing programs, else the capabilities it lacks:
 * root's uid is not enough (a service's bounding set may have dropped them). */
static const char *missing_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	bool bpf, perfmon;

	if (syscall(SYS_capget, &hdr, data))
		return "CAP_BPF and CAP_PERFMON";
	/* CAP_SYS_ADMIN still allows both (include/uapi/linux/capability.h: backward compatibility) */
	if (data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN))
		return NULL;
	bpf = data[CAP_TO_INDEX(CAP_BPF)].effective & CAP_TO_MASK(CAP_BPF);
	perfmon = data[CAP_TO_INDEX(CAP_PERFMON)].effective & CAP_TO_MASK(CAP_PERFMON);
	return bpf && perfmon ? NULL : bpf ? "CAP_PERFMON" : perfmon ? "CAP_BPF" : "CAP_BPF and CAP_PERFMON";
}

static void ensure_tracefs(void)
{
	if (access(TRACEFS "/events", F_OK) == 0)
		return;
	/* libbpf resolves classic tracepoints through tracefs; mounting it is harmless */
	mount("nodev", TRACEFS, "tracefs", 0, NULL);
}

/*
 * Can fentry/fexit programs load and attach here? Lockdown or a sandbox may
 * refuse them (EPERM) where tracepoints work: one tiny program tells.
 * 0 if they can, else -errno.
 */
static int fentry_probe(const struct btf *vmlinux)
{
	struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int id, prog, link, verdict;

	id = vmlinux ? btf__find_by_name_kind(vmlinux, "filemap_fault", BTF_KIND_FUNC) : -1;
	if (id < 0)
		return -ENOENT;
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY, .attach_btf_id = id);
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "dx_fentry_probe", "GPL", ret0, 2, &opts);
	if (prog < 0)
		return -errno;
	link = bpf_link_create(prog, 0, BPF_TRACE_FENTRY, NULL);
	verdict = link < 0 ? -errno : 0;
	if (link >= 0)
		close(link);
	close(prog);
	return verdict;
}

/* The kernel's BTF as the probe reads it: vmlinux, and each named module's, loaded once. */
struct kernel_btf {
	struct btf *vmlinux;
	int fentry; /* fentry_probe()'s verdict */
	struct module_btf {
		const char *name;
		struct btf *btf; /* NULL: not loaded, or without BTF */
	} modules[4];    /* the registry names three: fuse, ext4, xfs */
	size_t nmodules;
};

static const struct btf *module_btf(struct kernel_btf *k, const char *name)
{
	struct module_btf *m;

	for (size_t i = 0; i < k->nmodules; i++)
		if (!strcmp(k->modules[i].name, name))
			return k->modules[i].btf;
	if (k->nmodules == ARRAY_LEN(k->modules))
		return NULL;
	m = &k->modules[k->nmodules++];
	m->name = name;
	m->btf = btf__load_module_btf(name, k->vmlinux);
	return m->btf;
}

static void kernel_btf_free(struct kernel_btf *k)
{
	for (size_t i = 0; i < k->nmodules; i++)
		btf__free(k->modules[i].btf);
	btf__free(k->vmlinux);
}

/* Is FN a function with BTF, in vmlinux or (built as one) in MODULE? */
static bool kernel_function_exists(struct kernel_btf *k, const char *fn, const char *module)
{
	const struct btf *mod;

	if (btf__find_by_name_kind(k->vmlinux, fn, BTF_KIND_FUNC) >= 0)
		return true;
	mod = module ? module_btf(k, module) : NULL;
	return mod && btf__find_by_name_kind(mod, fn, BTF_KIND_FUNC) >= 0;
}

/* Does vmlinux's FN return void (its FUNC_PROTO's return type is 0)? */
static bool kernel_function_returns_void(const struct kernel_btf *k, const char *fn)
{
	int id = k->vmlinux ? btf__find_by_name_kind(k->vmlinux, fn, BTF_KIND_FUNC) : -1;
	const struct btf_type *proto = id < 0 ? NULL : btf__type_by_id(k->vmlinux, btf__type_by_id(k->vmlinux, id)->type);

	return proto && btf_is_func_proto(proto) && !proto->type;
}

static bool is_fentry(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	return !strncmp(sec, "fentry/", 7) || !strncmp(sec, "fexit/", 6);
}

/* "tracepoint/syscalls/sys_enter_truncate" -> exists in tracefs? "tp_btf/x" -> BTF? "fentry/fn" -> fn's BTF? */
static bool attach_point_exists(const struct program *p, const struct bpf_program *prog, struct kernel_btf *k,
				char *reason, size_t len)
{
	const char *sec = bpf_program__section_name(prog);
	char path[256], name[128];

	if (p->helper && libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, p->helper->id, NULL) != 1) {
		snprintf(reason, len, "needs %s", p->helper->since);
		return false;
	}
	if (is_fentry(prog)) {
		const char *fn = strchr(sec, '/') + 1;

		if (k->fentry) {
			snprintf(reason, len, "fentry/fexit not permitted here: %s", strerror(-k->fentry));
			return false;
		}
		if (!kernel_function_exists(k, fn, p->module)) {
			snprintf(reason, len, "no BTF for function %s (inlined, or its module lacks BTF or is not loaded)", fn);
			return false;
		}
		return true;
	}

	/* without kernel BTF only programs free of CO-RE can load: the FUSE ones */
	if (!k->vmlinux && strncmp(sec, "tracepoint/fuse/", 16)) {
		snprintf(reason, len, "no kernel BTF");
		return false;
	}
	if (!strncmp(sec, "tracepoint/", 11)) {
		snprintf(path, sizeof(path), TRACEFS "/events/%s", sec + 11);
		if (access(path, F_OK) == 0)
			return true;
		if (errno == EACCES) /* tracefs is root's, mode 0700: CAP_BPF and CAP_PERFMON do not open it */
			snprintf(reason, len, "%s not readable: needs root, or CAP_DAC_READ_SEARCH", TRACEFS);
		else
			snprintf(reason, len, "no tracepoint %s", sec + 11);
		return false;
	}
	if (!strncmp(sec, "tp_btf/", 7)) {
		snprintf(name, sizeof(name), "btf_trace_%s", sec + 7);
		if (btf__find_by_name_kind(k->vmlinux, name, BTF_KIND_TYPEDEF) >= 0)
			return true;
		snprintf(reason, len, "no tracepoint %s", sec + 7);
		return false;
	}
	return true;
}

/* ---- stand-ins, chosen before load ---- */

/* The programs refused so far (registry entries), in the order they were, with why. */
struct refusals {
	struct refusal {
		size_t entry;
		char reason[REASON_LEN];
		bool unnamed; /* not this kernel's program (WHERE_VOID, WHERE_VALUE): its concern is not the banner's */
		bool at_load; /* by the verifier, at attach or on request, not for want of its attach point or of fentry */
	} list[NPROGS];
	size_t n;
};

static struct refusal *refuse(struct refusals *r, size_t entry, const char *reason)
{
	if (r->n >= NPROGS)
		return NULL;
	r->list[r->n].entry = entry;
	snprintf(r->list[r->n].reason, sizeof(r->list[r->n].reason), "%s", reason);
	r->list[r->n].unnamed = r->list[r->n].at_load = false;
	return &r->list[r->n++];
}

/* Refused by the verifier, at attach or on request: see settle_probes. */
static void refuse_at_load(struct refusals *r, size_t entry, const char *reason)
{
	struct refusal *refusal = refuse(r, entry, reason);

	if (refusal)
		refusal->at_load = true;
}

static bool is_refused(const struct refusals *r, size_t entry)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->list[i].entry == entry)
			return true;
	return false;
}

static bool wanted(const struct refusals *r, size_t entry);

static bool will_load(const struct refusals *r, size_t entry)
{
	return !is_refused(r, entry) && wanted(r, entry);
}

/* Does ENTRY's program, or a program it stands in for, load? */
static bool covered(const struct refusals *r, size_t entry)
{
	const struct program *p = &registry[entry];

	if (will_load(r, entry))
		return true;
	return p->primary && !p->when_primary_loads && covered(r, entry_at(p->primary));
}

/* Is this program wanted, given the fate of the program it stands in for (or helps)? */
static bool wanted(const struct refusals *r, size_t entry)
{
	const struct program *p = &registry[entry];

	if (!p->primary)
		return true;
	if (p->when_primary_loads)
		return will_load(r, entry_at(p->primary));
	return !covered(r, entry_at(p->primary));
}

/*
 * Which program did the kernel refuse, and why? libbpf names it in
 * "prog 'NAME': ..."; the verifier's own reason is the log line just before
 * its "processed N insns" summary.
 */
static struct bpf_program *refused_program(struct daxscope_bpf *skel, char *reason, size_t len)
{
	const char *at = strstr(libbpf_log, "prog '"), *summary, *line;
	char name[64];

	if (!at || sscanf(at, "prog '%63[^']'", name) != 1)
		return NULL;
	summary = strstr(at, "\nprocessed ");
	if (summary) {
		for (line = summary - 1; line > at && line[-1] != '\n'; line--)
			;
		snprintf(reason, len, "refused by the verifier: %.*s", (int)(summary - line), line);
	} else {
		snprintf(reason, len, "refused by the kernel: %.60s", at + strlen(name) + 8);
		reason[strcspn(reason, "\n")] = '\0';
	}
	return bpf_object__find_program_by_name(skel->obj, name);
}

/* ---- load and attach ---- */

/*
 * The file of an event, asked of the task while it still has it open: the
 * punch by its fd, a fault or a dirtying task by its mappings and open files;
 * and a punched file's mount, as the punching task's mount namespace has it.
 */
static void learn_path(struct dx_session *s, const struct dx_event *e)
{
	if (!e->file.ino)
		return;
	if (e->kind == DX_PUNCH_BEGIN)
		dx_path_lookups_ask(s->lookups, &e->file, e->pid, e->cgroup, e->punch.fd, e->punch.name, true);
	else if (e->kind == DX_MAP_FAULT || e->kind == DX_FILEMAP_FAULT || e->kind == DX_PAGE_DIRTY)
		dx_path_lookups_ask(s->lookups, &e->file, e->pid, e->cgroup, -1, "", false);
}

/* A record of a file and a payload (PATH, FILE_COUNTS): the dx_file, then the payload. */
static void hand_path(const struct dx_file *f, const char *path, void *session)
{
	struct dx_session *s = session;
	char buf[sizeof(struct dx_file) + 4096];
	size_t len = strlen(path) + 1;

	if (len > sizeof(buf) - sizeof(*f))
		return; /* longer than PATH_MAX: left unnamed */
	memcpy(buf, f, sizeof(*f));
	memcpy(buf + sizeof(*f), path, len);
	s->fn(DX_REC_PATH, buf, (uint32_t)(sizeof(*f) + len), s->ctx);
}

static void hand_mount(uint32_t dev, uint64_t mntns, const char *fstype, const char *point, void *session)
{
	struct dx_session *s = session;
	char buf[sizeof(struct dx_mount_record) + 4096];
	struct dx_mount_record *m = (struct dx_mount_record *)buf;
	size_t len = strlen(point) + 1;

	if (len > sizeof(buf) - sizeof(*m))
		return; /* longer than PATH_MAX: left unknown */
	*m = (struct dx_mount_record){ .dev = dev, .mntns = mntns };
	snprintf(m->fstype, sizeof(m->fstype), "%s", fstype);
	memcpy(buf + sizeof(*m), point, len);
	s->fn(DX_REC_MOUNT, buf, (uint32_t)(sizeof(*m) + len), s->ctx);
}

/*
 * A poll hands out at most this many events: libbpf consumes for as long as
 * data keeps coming, and under a sustained storm a front end must still get
 * back to its screen and its signals. The rest waits for the next poll.
 */
#define POLL_BUDGET 65536
#define BUDGET_SPENT (-EALREADY) /* stops libbpf's consuming; not an error */

/*
 * A record shorter than an event (none is while both sides build from one
 * events.h) cannot be read: it is lost, counted with the events the ring
 * buffer had no room for (dx_session_drops) and in the lost count of each
 * event after it, so that the windows open across it are incomplete.
 */
static int on_ring_event(void *ctx, void *data, size_t size)
{
	struct dx_session *s = ctx;
	struct dx_event raised;

	if (size < sizeof(struct dx_event)) {
		s->unreadable++;
		return 0;
	}
	if (s->unreadable) {
		memcpy(&raised, data, sizeof(raised));
		raised.lost += s->unreadable;
		data = &raised;
	}
	s->fn(DX_REC_EVENT, data, sizeof(struct dx_event), s->ctx);
	learn_path(s, data);
	return ++s->handed < POLL_BUDGET ? 0 : BUDGET_SPENT;
}

/*
 * Without kernel BTF libbpf refuses any object that has CO-RE relocations,
 * even in programs it will not load. Point it at an empty BTF instead: the
 * programs that need the kernel's types are disabled anyway.
 */
static char empty_btf[] = "/tmp/daxscope-empty-btf-XXXXXX";
static bool empty_btf_made; /* mkstemp may leave an X at the end: the template cannot tell */

static void remove_empty_btf(void)
{
	if (!empty_btf_made)
		return;
	unlink(empty_btf);
	memcpy(empty_btf + sizeof(empty_btf) - 7, "XXXXXX", 6);
	empty_btf_made = false;
}

static const char *empty_btf_path(void)
{
	char *path = empty_btf;
	struct btf *btf;
	const void *raw;
	__u32 size;
	int fd;

	if (empty_btf_made)
		return path;
	btf = btf__new_empty();
	fd = mkstemp(path);
	if (!btf || fd < 0) {
		btf__free(btf);
		return NULL;
	}
	btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	raw = btf__raw_data(btf, &size);
	if (!raw || write(fd, raw, size) != (ssize_t)size) {
		close(fd);
		btf__free(btf);
		return NULL;
	}
	close(fd);
	btf__free(btf);
	empty_btf_made = true;
	return path;
}

static struct daxscope_bpf *open_configured(const struct dx_session_opts *o, uint32_t dev, bool kernel_btf,
					    const struct refusals *r)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = kernel_btf ? NULL : empty_btf_path());
	struct daxscope_bpf *skel = daxscope_bpf__open_opts(&open_opts);
	size_t ringbuf_bytes = o->ringbuf_bytes ? o->ringbuf_bytes : 8u << 20;

	if (!skel)
		return NULL;
	skel->rodata->filter_dev = dev;
	skel->rodata->linger_ns = o->linger_ns ? o->linger_ns : 2000000000ULL;
	skel->rodata->wakeup_bytes = ringbuf_bytes / 32; /* early enough that the rest absorbs a burst */
	bpf_map__set_max_entries(skel->maps.events, ringbuf_bytes);
	for (size_t i = 0; i < ARRAY_LEN(registry); i++)
		if (!will_load(r, i))
			bpf_program__set_autoload(prog_of(skel, &registry[i]), false);
	return skel;
}

/*
 * DAXSCOPE_REFUSE=NAME[,NAME...] refuses those programs as a kernel could:
 * how the banner and the stand-ins answer a refusal is tested on any kernel.
 */
static bool refused_on_request(const char *name)
{
	const char *list = getenv("DAXSCOPE_REFUSE");
	size_t len = strlen(name);

	for (const char *at = list; at && *at; at += strcspn(at, ","), at += *at == ',')
		if (strcspn(at, ",") == len && !strncmp(at, name, len))
			return true;
	return false;
}

/* Load, dropping each program the kernel refuses (with its reason) and retrying. */
static int load(struct dx_session *s, const struct dx_session_opts *o, uint32_t dev, struct refusals *r,
		int *fentry, char *err, size_t errlen)
{
	struct kernel_btf k = { .vmlinux = btf__load_vmlinux_btf() };
	struct bpf_program *prog;
	char reason[REASON_LEN];
	int ret = -1;

	*fentry = k.fentry = fentry_probe(k.vmlinux);
	s->skel = open_configured(o, dev, k.vmlinux, r);
	if (!s->skel) {
		fail(err, errlen, "cannot open the BPF object: %s", strerror(errno));
		goto out;
	}
	if (check_registry(s->skel, err, errlen))
		goto out;
	bpf_object__for_each_program(prog, s->skel->obj) {
		size_t i = entry_of(s->skel, prog);
		struct refusal *other_kernels;

		if (registry[i].returns != RETURNS_ANY &&
		    kernel_function_returns_void(&k, strchr(bpf_program__section_name(prog), '/') + 1) !=
			    (registry[i].returns == RETURNS_VOID)) {
			other_kernels = refuse(r, i, registry[i].returns == RETURNS_VOID
							     ? "for kernels where its function returns void"
							     : "for kernels where its function returns a value");
			if (other_kernels)
				other_kernels->unnamed = true;
		} else if (!attach_point_exists(&registry[i], prog, &k, reason, sizeof(reason))) {
			refuse(r, i, reason);
		} else if (refused_on_request(bpf_program__name(prog))) {
			refuse_at_load(r, i, "refused on request (DAXSCOPE_REFUSE)");
		}
	}
	for (size_t tries = 0; tries <= NPROGS; tries++) {
		daxscope_bpf__destroy(s->skel);
		s->skel = open_configured(o, dev, k.vmlinux, r);
		if (!s->skel) {
			fail(err, errlen, "cannot open the BPF object: %s", strerror(errno));
			goto out;
		}
		libbpf_log[0] = '\0';
		if (!daxscope_bpf__load(s->skel)) {
			ret = 0;
			goto out;
		}
		prog = refused_program(s->skel, reason, sizeof(reason));
		if (!prog || is_refused(r, entry_of(s->skel, prog)))
			break;
		refuse_at_load(r, entry_of(s->skel, prog), reason);
	}
	libbpf_log[strcspn(libbpf_log, "\n")] = '\0';
	fail(err, errlen, "cannot load the BPF programs: %s", libbpf_log[0] ? libbpf_log : strerror(errno));
out:
	remove_empty_btf();
	kernel_btf_free(&k);
	return ret;
}

/* Attaches every loaded program, in the object's order; ATTACHED[entry] says which did. */
static void attach(struct dx_session *s, struct refusals *r, bool *attached)
{
	struct bpf_program *prog;
	char reason[REASON_LEN];

	bpf_object__for_each_program(prog, s->skel->obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			snprintf(reason, sizeof(reason), "attach failed: %s", strerror(errno));
			refuse_at_load(r, entry_of(s->skel, prog), reason);
			continue;
		}
		attached[entry_of(s->skel, prog)] = true;
		s->links[entry_of(s->skel, prog)] = link;
	}
}

/* ---- the per-fault programs, on demand ---- */

/* Called before any goes: a window that opens from now on sees them gone, and one open sees them change. */
static void detach_fault_hooks(struct dx_session *s)
{
	s->skel->data->fault_hooks_epoch += s->skel->data->fault_hooks_epoch & 1;
	for (size_t i = 0; i < ARRAY_LEN(registry); i++)
		if (registry[i].on_demand && s->links[i]) {
			bpf_link__destroy(s->links[i]);
			s->links[i] = NULL;
		}
}

/* All or none: a window is watched only once every one is back. */
static bool attach_fault_hooks(struct dx_session *s)
{
	for (size_t i = 0; i < ARRAY_LEN(registry); i++) {
		if (!registry[i].on_demand || !s->attachable[i] || s->links[i])
			continue;
		s->links[i] = bpf_program__attach(prog_of(s->skel, &registry[i]));
		if (!s->links[i]) {
			detach_fault_hooks(s);
			return false;
		}
	}
	s->skel->data->fault_hooks_epoch |= 1;
	return true;
}

/*
 * After each poll: attach when a punch on a mapped file asked for the hooks
 * (its window is marked unwatched in the kernel), detach when no mapped file
 * has been punched for idle_ns. A failed attach is retried a second later;
 * meanwhile every such window stays marked, so nothing passes for watched.
 */
static void tend_fault_hooks(struct dx_session *s)
{
	uint64_t now = dx_clock_ns(CLOCK_MONOTONIC);
	bool live = s->skel->data->fault_hooks_epoch & 1;

	if (!live && s->skel->bss->fault_hooks_wanted && now >= s->retry_ns) {
		s->skel->bss->fault_hooks_wanted = 0;
		if (!attach_fault_hooks(s)) {
			s->skel->bss->fault_hooks_wanted = 1;
			s->retry_ns = now + 1000000000ULL;
		}
	} else if (live && s->skel->bss->mapped_windows_open <= 0 &&
		   now - s->skel->bss->mapped_window_last_ns > s->idle_ns) {
		detach_fault_hooks(s);
	}
}

/* ---- the outcome, as data and as the banner ---- */

/* Is WHAT listed already, as add_probe stores it (cut to the probe's length: a long name must not list twice)? */
static bool listed(const struct dx_session *s, const char *what)
{
	for (size_t i = 0; i < s->nprobes; i++)
		if (!strncmp(s->probes[i].what, what, sizeof(s->probes[i].what) - 1))
			return true;
	return false;
}

static void add_probe(struct dx_session *s, enum concern what, const char *reason)
{
	struct dx_probe *p = &s->probes[s->nprobes];

	if (listed(s, concern_names[what]))
		return;
	snprintf(p->what, sizeof(p->what), "%s", concern_names[what]);
	/* the last way of dating a FUSE data change: without it FUSE windows cannot be judged */
	snprintf(p->reason, sizeof(p->reason), "%s%s", reason ? reason : "",
		 reason && what == FUSE_RECEIPTS ? "; FUSE verdicts are unreliable on this kernel" : "");
	p->watched = !reason;
	s->nprobes++;
}

/*
 * Is refused ENTRY, which was asked for, made up for? Yes if a program
 * standing in for it loads (or is made up for in turn). One that nothing
 * stands in for by name, such as the exit of a pair, is made up for when
 * its concern's stand-ins for refused programs all load: a pair stands in
 * for a pair, named after its entry.
 */
static bool made_up_for(const struct refusals *r, size_t entry)
{
	bool named = false, pair = true, any = false;

	for (size_t i = 0; i < ARRAY_LEN(registry); i++) {
		const struct program *p = &registry[i];

		if (!p->primary || p->when_primary_loads)
			continue;
		if (entry_at(p->primary) == entry) {
			named = true;
			if (will_load(r, i) || (is_refused(r, i) && wanted(r, i) && made_up_for(r, i)))
				return true;
		} else if (p->what == registry[entry].what && is_refused(r, entry_at(p->primary)) && wanted(r, i)) {
			pair &= will_load(r, i);
			any = true;
		}
	}
	return !named && any && pair;
}

/*
 * One probe per concern, in banner order: the watched ones as the object
 * lists their first attached program, then the rest in the order their
 * first program was refused, with its reason. A concern is watched only if
 * each of its programs asked for and refused at load or attach is made up
 * for by a stand-in: an exit without its entry, or a send without its end,
 * watches nothing, and is listed with the last such refusal. (An attach
 * point this kernel lacks leaves nothing of it to miss.) A stand-in that was
 * not needed names no concern of its own.
 */
static void settle_probes(struct dx_session *s, const struct refusals *r, const bool *attached)
{
	bool broken[NCONCERNS] = { false }, in_part[NCONCERNS] = { false };
	const char *why[NCONCERNS] = { NULL }; /* a concern's last such refusal: a stand-in's, if one was */
	struct bpf_program *prog;

	for (size_t i = 0; i < r->n; i++) {
		enum concern what = registry[r->list[i].entry].what;

		if (!r->list[i].at_load || !wanted(r, r->list[i].entry))
			continue;
		broken[what] |= !made_up_for(r, r->list[i].entry);
		why[what] = r->list[i].reason;
	}
	bpf_object__for_each_program(prog, s->skel->obj) {
		size_t i = entry_of(s->skel, prog);

		if (attached[i] && broken[registry[i].what])
			in_part[registry[i].what] = true;
		else if (attached[i])
			add_probe(s, registry[i].what, NULL);
	}
	for (size_t i = 0; i < r->n; i++) {
		enum concern what = registry[r->list[i].entry].what;

		if (!r->list[i].unnamed)
			add_probe(s, what, in_part[what] ? why[what] : r->list[i].reason);
	}
}

/* How FUSE data changes are dated, by the programs attached (enum dx_fuse_dating). */
static uint32_t fuse_dating(const bool *attached)
{
	if ((attached[entry_at(PROG(on_fuse_send))] && attached[entry_at(PROG(on_fuse_end))]) ||
	    (attached[entry_at(PROG(on_fuse_queue))] && attached[entry_at(PROG(on_fuse_end_fentry))]))
		return DX_FUSE_AT_SEND;
	return attached[entry_at(PROG(on_fuse_receipt))] ? DX_FUSE_AT_RECEIPT : DX_FUSE_UNDATED;
}

/*
 * Are page-cache read faults all seen: every user fault at its entry (through
 * the VMA), or filemap_fault's and fault-around's, which never reaches it?
 */
static bool page_reads_watched(const bool *attached)
{
	bool fault = attached[entry_at(PROG(on_filemap_fault_fentry))] || attached[entry_at(PROG(on_filemap_fault))];
	bool around = attached[entry_at(PROG(on_map_pages_fexit))] || attached[entry_at(PROG(on_map_pages_fexit_void))] ||
		      attached[entry_at(PROG(on_map_pages))];

	return attached[entry_at(PROG(on_user_fault_vma))] || (fault && around);
}

/*
 * "fentry mode", or "tracepoint mode (fentry/fexit not permitted: REASON)",
 * then when the per-fault hooks run.
 */
static void format_mode(const struct dx_session *s, const bool *attached, int fentry, bool always, char *buf,
			size_t len)
{
	bool any = false;

	for (size_t i = 0; i < ARRAY_LEN(registry); i++)
		any |= attached[i] && is_fentry(prog_of(s->skel, &registry[i]));
	snprintf(buf, len, "%s mode%s%s%s, fault hooks %s", any ? "fentry" : "tracepoint",
		 fentry ? " (fentry/fexit not permitted: " : "", fentry ? strerror(-fentry) : "", fentry ? ")" : "",
		 s->on_demand ? "attached while punches run on mapped files"
		 : always     ? "always attached"
			      : "always attached (on demand needs mmaps watched)");
}

int dx_session_open(const struct dx_session_opts *o, struct dx_session **out, char *err, size_t errlen)
{
	struct refusals refused = { .n = 0 };
	bool attached[NPROGS] = { false };
	const char *missing;
	struct dx_session *s;
	char mode[REASON_LEN];
	struct utsname u;
	uint32_t dev = 0;
	struct stat st;
	int fentry;

	*out = NULL;
	missing = missing_privileges();
	if (missing)
		return fail(err, errlen, "needs root, or CAP_BPF and CAP_PERFMON, to load BPF programs (missing here: %s)",
			    missing);
	if (o->path) {
		if (stat(o->path, &st))
			return fail(err, errlen, "%s: %s", o->path, strerror(errno));
		if (!dx_path_sb_dev(o->path, &dev, (char[64]){ 0 }, 64)) /* kernel inodes name the superblock's */
			dev = dx_dev_from_user(st.st_dev);
	}
	ensure_tracefs();
	libbpf_set_print(keep_libbpf_log);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->lookups = dx_path_lookups_new(o->path))) {
		free(s);
		return fail(err, errlen, "out of memory");
	}
	if (load(s, o, dev, &refused, &fentry, err, errlen) ||
	    dx_session_filter(s, o->pid, o->cgroup, err, errlen)) /* before any program runs */
		goto fail;
	attach(s, &refused, attached);
	memcpy(s->attachable, attached, sizeof(s->attachable));
	if (!memchr(attached, true, sizeof(attached))) {
		fail(err, errlen, "no BPF program could be attached (first: %s: %s)",
		     refused.n ? bpf_program__name(prog_of(s->skel, &registry[refused.list[0].entry])) : "?",
		     refused.n ? refused.list[0].reason : "?");
		goto fail;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_ring_event, s, NULL);
	if (!s->rb) {
		fail(err, errlen, "cannot open the ring buffer: %s", strerror(errno));
		goto fail;
	}
	settle_probes(s, &refused, attached);
	s->skel->bss->fuse_dating = fuse_dating(attached);
	s->skel->data->page_reads_unwatched = !page_reads_watched(attached);
	/* without mmaps watched a file mapped during a punch would pass for unmapped */
	s->on_demand = !o->fault_hooks_always && attached[entry_at(PROG(on_mmap_enter))];
	/* never before the last window's linger is over: its late events are still wanted */
	s->idle_ns = o->fault_hooks_idle_ns ? o->fault_hooks_idle_ns : 10000000000ULL;
	if (s->idle_ns < s->skel->rodata->linger_ns)
		s->idle_ns = s->skel->rodata->linger_ns;
	if (s->on_demand)
		detach_fault_hooks(s);
	format_mode(s, attached, fentry, o->fault_hooks_always, mode, sizeof(mode));
	uname(&u);
	dx_format_banner(s->banner, sizeof(s->banner), u.release, mode, s->probes, s->nprobes);
	*out = s;
	return 0;
fail:
	dx_session_close(s);
	return -1;
}

const char *dx_session_banner(const struct dx_session *s)
{
	return s->banner;
}

int dx_session_filter(struct dx_session *s, uint32_t pid, const char *cgroup, char *err, size_t errlen)
{
	struct dx_punch_filter f = { .tgid = pid, .in_cgroup = cgroup != NULL };
	uint32_t zero = 0;
	int fd = -1, rc;

	if (cgroup) {
		fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return fail(err, errlen, "%s: %s", cgroup, strerror(errno));
		rc = bpf_map__update_elem(s->skel->maps.filter_cgroup, &zero, sizeof(zero), &fd, sizeof(fd), BPF_ANY);
		close(fd);
		if (rc)
			return fail(err, errlen, "%s: not a cgroup v2 directory (%s)", cgroup, strerror(-rc));
	}
	rc = bpf_map__update_elem(s->skel->maps.punch_filter, &zero, sizeof(zero), &f, sizeof(f), BPF_ANY);
	return rc ? fail(err, errlen, "cannot set the punch filter: %s", strerror(-rc)) : 0;
}

const struct dx_probe *dx_session_probes(const struct dx_session *s, size_t *n)
{
	*n = s->nprobes;
	return s->probes;
}

void dx_session_describe(const struct dx_session *s, dx_record_fn fn, void *ctx)
{
	fn(DX_REC_BANNER, s->banner, (uint32_t)strlen(s->banner) + 1, ctx);
	for (size_t i = 0; i < s->nprobes; i++)
		fn(DX_REC_PROBE, &s->probes[i], sizeof(s->probes[i]), ctx);
}

int dx_session_poll(struct dx_session *s, int timeout_ms, dx_record_fn fn, void *ctx)
{
	int woken, rest;

	s->fn = fn;
	s->ctx = ctx;
	s->handed = 0;
	/* the kernel side wakes us only for a batch: read what waits without a wakeup too */
	woken = ring_buffer__poll(s->rb, timeout_ms);
	if (woken < 0 && woken != -EINTR && woken != BUDGET_SPENT)
		return woken;
	rest = s->handed < POLL_BUDGET ? ring_buffer__consume(s->rb) : 0;
	if (rest < 0 && rest != BUDGET_SPENT)
		return rest;
	if (s->on_demand)
		tend_fault_hooks(s);
	dx_path_lookups_collect(s->lookups, hand_path, hand_mount, s);
	return s->handed;
}

uint64_t dx_session_drops(const struct dx_session *s, enum dx_drop which)
{
	uint32_t key = which;
	uint64_t n = 0;

	if (which == DX_DROP_NAMES)
		return dx_path_lookups_dropped(s->lookups);
	bpf_map__lookup_elem(s->skel->maps.drops, &key, sizeof(key), &n, sizeof(n), 0);
	return which == DX_DROP_RINGBUF ? n + s->unreadable : n;
}

static void hand_fuse_hists(const struct dx_session *s, dx_record_fn fn, void *ctx)
{
	static const uint32_t opcodes[DX_FUSE_SLOTS] = DX_FUSE_SLOT_OPCODES;

	for (uint32_t slot = 0; slot < DX_FUSE_SLOTS; slot++) {
		struct dx_fuse_hist_record h = { .opcode = opcodes[slot] };

		if (!bpf_map__lookup_elem(s->skel->maps.fuse_latency, &slot, sizeof(slot), &h.hist, sizeof(h.hist), 0) &&
		    h.hist.count)
			fn(DX_REC_FUSE_HIST, &h, sizeof(h), ctx);
	}
}

/*
 * The kernel keeps a file's counters at the head of its window's value (struct
 * dx_file_entry_head). Read in batches (hash maps, 5.6+; the ring buffer needs
 * 5.8): a live view with 10,000 files takes 40 syscalls a refresh, not 20,000.
 * A walk that fails midway hands what it read before; the next snapshot reads all again.
 */
#define FILE_COUNTS_BATCH 256

static void hand_file_counts(const struct dx_session *s, dx_record_fn fn, void *ctx)
{
	const struct bpf_map *map = s->skel->maps.armed_files;
	size_t size = bpf_map__value_size(map);
	struct dx_file_key keys[FILE_COUNTS_BATCH];
	struct dx_file_counts_record r;
	__u64 token = 0; /* opaque to us: a hash map's next bucket */
	char *values = malloc(FILE_COUNTS_BATCH * size);

	if (!values || size < sizeof(struct dx_file_entry_head)) {
		free(values);
		return;
	}
	for (void *from = NULL;; from = &token) {
		__u32 n = FILE_COUNTS_BATCH;
		int err = bpf_map_lookup_batch(bpf_map__fd(map), from, &token, keys, values, &n, NULL);

		if (err && errno != ENOENT) /* only ENOENT (the map's end) says n were read */
			break;
		for (__u32 i = 0; i < n; i++) {
			const struct dx_file_entry_head *head = (const void *)(values + i * size);

			r.counts = head->counts;
			r.file = (struct dx_file){ .ino = keys[i].ino, .dev = keys[i].dev, .gen = head->gen };
			fn(DX_REC_FILE_COUNTS, &r, sizeof(r), ctx);
		}
		if (err)
			break;
	}
	free(values);
}

/* Every loaded program's runs the kernel skipped: those that missed any, or that this kernel does not count. */
static void hand_skips(const struct dx_session *s, dx_record_fn fn, void *ctx)
{
	struct {
		struct dx_skips_record h;
		struct dx_skipped_program p[NPROGS];
	} r = { .h.counted = 1 };

	for (size_t i = 0; i < ARRAY_LEN(registry) && r.h.counted; i++) {
		const struct bpf_program *prog = prog_of(s->skel, &registry[i]);
		struct dx_skipped_program *p = &r.p[r.h.nprograms];
		int fd = bpf_program__fd(prog);

		if (fd < 0) /* not loaded */
			continue;
		r.h.counted = dx_prog_skipped_runs(fd, &p->runs) == 1; /* unreadable: not counted, never 0 */
		if (r.h.counted && p->runs) {
			snprintf(p->name, sizeof(p->name), "%s", bpf_program__name(prog));
			r.h.nprograms++;
		}
	}
	if (!r.h.counted)
		r.h.nprograms = 0;
	fn(DX_REC_SKIPS, &r, (uint32_t)(sizeof(r.h) + r.h.nprograms * sizeof(r.p[0])), ctx);
}

void dx_session_snapshot(const struct dx_session *s, dx_record_fn fn, void *ctx)
{
	struct dx_drops_record d;

	hand_fuse_hists(s, fn, ctx);
	hand_file_counts(s, fn, ctx);
	hand_skips(s, fn, ctx);
	for (uint32_t i = 0; i < DX_DROP_MAX; i++)
		d.drops[i] = dx_session_drops(s, i);
	fn(DX_REC_DROPS, &d, sizeof(d), ctx);
}

void dx_session_finish(struct dx_session *s, dx_record_fn fn, void *ctx)
{
	s->fn = fn;
	s->ctx = ctx;
	dx_path_lookups_drain(s->lookups, hand_path, hand_mount, s);
}

static int source_poll(void *s, int timeout_ms, dx_record_fn fn, void *ctx)
{
	return dx_session_poll(s, timeout_ms, fn, ctx);
}

static void source_finish(void *s, dx_record_fn fn, void *ctx)
{
	dx_session_finish(s, fn, ctx);
}

static void source_snapshot(void *s, dx_record_fn fn, void *ctx)
{
	dx_session_snapshot(s, fn, ctx);
}

static uint64_t source_now(void *s)
{
	(void)s;
	return dx_clock_ns(CLOCK_MONOTONIC);
}

struct dx_loop_source dx_session_source(struct dx_session *s)
{
	return (struct dx_loop_source){
		.poll = source_poll, .finish = source_finish, .snapshot = source_snapshot, .now = source_now, .src = s,
	};
}

void dx_session_close(struct dx_session *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	for (size_t i = 0; i < NPROGS; i++)
		bpf_link__destroy(s->links[i]);
	daxscope_bpf__destroy(s->skel);
	dx_path_lookups_free(s->lookups);
	free(s);
}
