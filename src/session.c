// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The live session: settles what this kernel allows before load (BTF,
 * tracepoints, helpers), loads the one skeleton, retries without any program
 * the verifier refuses, attaches the rest, and says in one line what is and
 * is not watched. Never fails silently: every dropped program has a reason.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/capability.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "daxscope/capture.h"
#include "daxscope/daxscope.h"
#include "daxscope.skel.h"

#define TRACEFS "/sys/kernel/tracing"
#define REASON_LEN 160
/* Every program of the skeleton: the most that can be refused or listed. */
#define NPROGS (sizeof(((struct daxscope_bpf *)0)->progs) / sizeof(struct bpf_program *))

/* What each program watches, for the banner. */
static const struct probe_name {
	const char *prog;
	const char *what;
} probe_names[] = {
	{ "on_vfs_fallocate", "fallocate punches" },
	{ "on_vfs_fallocate_exit", "fallocate punches" },
	{ "on_fallocate_enter", "fallocate punches" },
	{ "on_fallocate_exit", "fallocate punches" },
	{ "on_ftruncate_enter", "ftruncate" },
	{ "on_ftruncate_exit", "ftruncate" },
	{ "on_truncate_enter", "truncate(path)" },
	{ "on_truncate_exit", "truncate(path)" },
	{ "on_truncate_delete", "truncate(path)" },
	{ "on_task_exit", "punches cut short by exit" },
	{ "on_user_fault", "fault addresses" },
	{ "on_user_fault_vma", "user faults (through the VMA)" },
	{ "on_map_pages", "page-cache read faults" },
	{ "on_filemap_fault", "page-cache read faults" },
	{ "on_dax_pte_fault", "DAX pte faults" },
	{ "on_dax_pmd_fault", "DAX pmd faults" },
	{ "on_page_dirty", "dirtied pages" },
	{ "on_page_delete", "page-cache deletes" },
	{ "on_contention_begin", "fault/punch lock waits" },
	{ "on_contention_end", "fault/punch lock waits" },
	{ "on_map_pages_fexit", "page-cache read faults" },
	{ "on_filemap_fault_fentry", "page-cache read faults" },
	{ "on_page_dirty_page", "dirtied pages" },
	{ "on_down_write", "fault/punch lock waits" },
	{ "on_down_write_exit", "fault/punch lock waits" },
	{ "on_down_read", "fault/punch lock waits" },
	{ "on_down_read_exit", "fault/punch lock waits" },
	{ "on_dax_setup", "FUSE DAX mappings" },
	{ "on_dax_setup_exit", "FUSE DAX mappings" },
	{ "on_dax_remove", "FUSE DAX mappings" },
	{ "on_dax_remove_exit", "FUSE DAX mappings" },
	{ "on_dax_reclaim", "FUSE DAX range reclaim" },
	{ "on_dax_reclaim_exit", "FUSE DAX range reclaim" },
	{ "on_dax_freed", "FUSE DAX range reclaim" },
	{ "on_dax_reclaim_pass", "FUSE DAX reclaim passes" },
	{ "on_dax_reclaim_pass_exit", "FUSE DAX reclaim passes" },
	{ "on_dax_inline_reclaim", "FUSE DAX inline reclaim" },
	{ "on_dax_inline_reclaim_exit", "FUSE DAX inline reclaim" },
	{ "on_dax_alloc", "FUSE DAX allocation stalls" },
	{ "on_fuse_send", "FUSE requests" },
	{ "on_fuse_end", "FUSE requests" },
	{ "on_fuse_io", "FUSE READ/WRITE on punched files" },
	{ "on_copy_range_enter", "copy_file_range" },
	{ "on_copy_range_exit", "copy_file_range" },
	{ "on_ioctl_enter", "reflink clones and dedupe" },
	{ "on_ioctl_exit", "reflink clones and dedupe" },
	{ "on_change_ext4_es_remove_extent", "ext4 extent changes" },
	{ "on_change_xfs_bunmap", "xfs extent changes" },
	{ "on_change_xfs_insert_file_space", "xfs extent changes" },
	{ "on_change_dax_layout_busy_page_range", "DAX layout breaks" },
	{ "on_change_dax_layout_busy_page", "DAX layout breaks" },
	{ "on_page_add", "page-cache adds" },
	{ "on_dio_begin", "direct IO" },
};

/*
 * Programs that stand in for another: loaded only when their primary is
 * refused (or, with when_primary_loads, only when it is not).
 */
static const struct alternative {
	const char *prog;
	const char *primary;
	bool when_primary_loads;
} alternatives[] = {
	{ "on_fallocate_enter", "on_vfs_fallocate", false },
	{ "on_fallocate_exit", "on_vfs_fallocate", false },
	{ "on_map_pages", "on_map_pages_fexit", false },
	{ "on_user_fault", "on_map_pages", true },
	{ "on_user_fault_vma", "on_map_pages", false },
	{ "on_filemap_fault", "on_filemap_fault_fentry", false },
	{ "on_page_dirty_page", "on_page_dirty", false },
	{ "on_dax_freed", "on_dax_reclaim_exit", false },
	{ "on_down_write", "on_contention_begin", false },
	{ "on_down_write_exit", "on_contention_begin", false },
	{ "on_down_read", "on_contention_begin", false },
	{ "on_down_read_exit", "on_contention_begin", false },
};

struct dx_session {
	struct daxscope_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link **links;
	size_t nlinks;
	struct dx_paths *paths; /* names learned from live tasks, each handed out once */
	dx_record_fn fn;
	void *ctx;
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

static bool has_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (geteuid() == 0)
		return true;
	if (syscall(SYS_capget, &hdr, data))
		return false;
	/* CAP_BPF (39) and CAP_PERFMON (38) live in the second word */
	return (data[1].effective & (1u << (39 - 32))) && (data[1].effective & (1u << (38 - 32)));
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
 */
static int fentry_probe(const struct btf *vmlinux)
{
	static int verdict = 1; /* 1: not probed yet, 0: works, else -errno */
	struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int id, prog, link;

	if (verdict != 1)
		return verdict;
	id = vmlinux ? btf__find_by_name_kind(vmlinux, "filemap_fault", BTF_KIND_FUNC) : -1;
	if (id < 0)
		return verdict = -ENOENT;
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY, .attach_btf_id = id);
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "dx_fentry_probe", "GPL", ret0, 2, &opts);
	if (prog < 0)
		return verdict = -errno;
	link = bpf_link_create(prog, 0, BPF_TRACE_FENTRY, NULL);
	verdict = link < 0 ? -errno : 0;
	if (link >= 0)
		close(link);
	close(prog);
	return verdict;
}

/* Is NAME a function with BTF, in vmlinux or in a loaded module? */
static bool kernel_function_exists(const struct btf *vmlinux, const char *name)
{
	struct dirent *de;
	bool found = false;
	DIR *dir;

	if (btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) >= 0)
		return true;
	dir = opendir("/sys/kernel/btf");
	while (dir && !found && (de = readdir(dir))) {
		char path[300];
		struct btf *mod;

		if (de->d_name[0] == '.' || !strcmp(de->d_name, "vmlinux"))
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/btf/%s", de->d_name);
		mod = btf__parse_split(path, (struct btf *)vmlinux);
		found = mod && btf__find_by_name_kind(mod, name, BTF_KIND_FUNC) >= 0;
		btf__free(mod);
	}
	if (dir)
		closedir(dir);
	return found;
}

/* Helpers some programs call, with the kernel that brought them. */
static bool helper_missing(const char *prog, char *reason, size_t len)
{
	if (strcmp(prog, "on_user_fault_vma"))
		return false;
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_find_vma, NULL) == 1)
		return false;
	snprintf(reason, len, "needs bpf_find_vma, 5.17+");
	return true;
}

/* "tracepoint/syscalls/sys_enter_truncate" -> exists in tracefs? "tp_btf/x" -> BTF? */
static bool attach_point_exists(const struct bpf_program *prog, const struct btf *vmlinux,
				char *reason, size_t len)
{
	const char *sec = bpf_program__section_name(prog);
	char path[256], name[128];
	int err;

	if (helper_missing(bpf_program__name(prog), reason, len))
		return false;
	if (!strncmp(sec, "fentry/", 7) || !strncmp(sec, "fexit/", 6)) {
		err = fentry_probe(vmlinux);
		if (err) {
			snprintf(reason, len, "fentry/fexit not permitted here: %s", strerror(-err));
			return false;
		}
		if (!kernel_function_exists(vmlinux, strchr(sec, '/') + 1)) {
			snprintf(reason, len, "no BTF for function %s (inlined, or its module lacks BTF or is not loaded)",
				 strchr(sec, '/') + 1);
			return false;
		}
		return true;
	}

	/* without kernel BTF only programs free of CO-RE can load: the FUSE ones */
	if (!vmlinux && strncmp(sec, "tracepoint/fuse/", 16)) {
		snprintf(reason, len, "no kernel BTF");
		return false;
	}
	if (!strncmp(sec, "tracepoint/", 11)) {
		snprintf(path, sizeof(path), TRACEFS "/events/%s", sec + 11);
		if (access(path, F_OK) == 0)
			return true;
		snprintf(reason, len, "no tracepoint %s", sec + 11);
		return false;
	}
	if (!strncmp(sec, "tp_btf/", 7)) {
		snprintf(name, sizeof(name), "btf_trace_%s", sec + 7);
		if (btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) >= 0)
			return true;
		snprintf(reason, len, "no tracepoint %s", sec + 7);
		return false;
	}
	return true;
}

struct refusal {
	char prog[64];
	char reason[REASON_LEN];
};

static void refuse(struct refusal *list, size_t *n, size_t max, const char *prog, const char *reason)
{
	if (*n >= max)
		return;
	snprintf(list[*n].prog, sizeof(list[*n].prog), "%s", prog);
	snprintf(list[*n].reason, sizeof(list[*n].reason), "%s", reason);
	(*n)++;
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

static const char *what_of(const char *prog)
{
	/* the fault-handler pairs of faults.bpf.c: one concern, whatever the filesystem */
	if (!strncmp(prog, "on_enter_", 9) || !strncmp(prog, "on_exit_", 8))
		return strstr(prog, "ext4")  ? "ext4 DAX fault timing"
		       : strstr(prog, "xfs") ? "xfs DAX fault timing"
					     : "FUSE DAX fault timing";
	for (size_t i = 0; i < sizeof(probe_names) / sizeof(probe_names[0]); i++)
		if (!strcmp(probe_names[i].prog, prog))
			return probe_names[i].what;
	return prog;
}

/* Is WHAT covered by a program that loaded? */
static bool watched(const struct dx_session *s, const char *what)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, s->skel->obj)
		if (bpf_program__autoload(prog) && !strcmp(what_of(bpf_program__name(prog)), what))
			return true;
	return false;
}

/* One line: the mode, every watched concern, and every one not watched with its first reason. */
static void build_banner(struct dx_session *s, const struct refusal *refused, size_t nrefused)
{
	struct bpf_program *prog;
	bool fentry = false;
	struct utsname u;
	size_t used, not_watched, nlisted = 0;
	const char *listed[NPROGS];

	uname(&u);
	bpf_object__for_each_program(prog, s->skel->obj) {
		const char *sec = bpf_program__section_name(prog);

		fentry |= bpf_program__autoload(prog) && (!strncmp(sec, "fentry/", 7) || !strncmp(sec, "fexit/", 6));
	}
	used = (size_t)snprintf(s->banner, sizeof(s->banner), "daxscope: kernel %s, %s mode%s%s%s; watching:",
				u.release, fentry ? "fentry" : "tracepoint",
				fentry_probe(NULL) < 0 ? " (fentry/fexit not permitted: " : "",
				fentry_probe(NULL) < 0 ? strerror(-fentry_probe(NULL)) : "",
				fentry_probe(NULL) < 0 ? ")" : "");
	bpf_object__for_each_program(prog, s->skel->obj) {
		const char *what = what_of(bpf_program__name(prog));
		bool seen = false;

		for (size_t i = 0; i < nlisted; i++)
			seen |= !strcmp(listed[i], what);
		if (seen || !bpf_program__autoload(prog) || used >= sizeof(s->banner) || nlisted == NPROGS)
			continue;
		listed[nlisted++] = what;
		used += (size_t)snprintf(s->banner + used, sizeof(s->banner) - used, " %s,", what);
	}
	if (used < sizeof(s->banner) && s->banner[used - 1] == ',')
		s->banner[--used] = '\0';
	not_watched = used;
	used += (size_t)snprintf(s->banner + used, sizeof(s->banner) - used, "; NOT watching:");
	for (size_t i = 0, n = 0; i < nrefused && used < sizeof(s->banner); i++) {
		const char *what = what_of(refused[i].prog);
		bool seen = watched(s, what);

		for (size_t j = 0; j < i; j++)
			seen |= !strcmp(what_of(refused[j].prog), what);
		if (!seen)
			used += (size_t)snprintf(s->banner + used, sizeof(s->banner) - used, "%s %s (%s)",
						 n++ ? "," : "", what, refused[i].reason);
	}
	if (used == not_watched + strlen("; NOT watching:"))
		snprintf(s->banner + not_watched, sizeof(s->banner) - not_watched, "; not watching: nothing left out");
}

/*
 * The file of an event, named while the task still has it open: the punch by
 * its fd, a fault or a dirtying task by its mappings and open files.
 */
static const char *learn_path(struct dx_session *s, const struct dx_event *e)
{
	if (!e->file.ino || dx_paths_get(s->paths, &e->file))
		return NULL;
	if (e->kind == DX_PUNCH_BEGIN)
		return dx_paths_resolve(s->paths, &e->file, e->pid, e->punch.fd);
	if (e->kind == DX_MAP_FAULT || e->kind == DX_FILEMAP_FAULT || e->kind == DX_PAGE_DIRTY)
		return dx_paths_resolve(s->paths, &e->file, e->pid, -1);
	return NULL;
}

/* A record of a file and a payload (PATH, FILE_COUNTS): the dx_file, then the payload. */
static void hand_path(struct dx_session *s, const struct dx_file *f, const char *path)
{
	char buf[sizeof(struct dx_file) + 4096];
	size_t len = strlen(path) + 1;

	if (len > sizeof(buf) - sizeof(*f))
		return; /* longer than PATH_MAX: left unnamed */
	memcpy(buf, f, sizeof(*f));
	memcpy(buf + sizeof(*f), path, len);
	s->fn(DX_REC_PATH, buf, (uint32_t)(sizeof(*f) + len), s->ctx);
}

static int on_ring_event(void *ctx, void *data, size_t size)
{
	struct dx_session *s = ctx;
	const char *path;

	if (size < sizeof(struct dx_event))
		return 0;
	s->fn(DX_REC_EVENT, data, sizeof(struct dx_event), s->ctx);
	path = learn_path(s, data);
	if (path)
		hand_path(s, &((const struct dx_event *)data)->file, path);
	return 0;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static bool is_refused(const struct refusal *refused, size_t n, const char *prog)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(refused[i].prog, prog))
			return true;
	return false;
}

static const struct alternative *alternative_of(const char *prog)
{
	for (size_t i = 0; i < sizeof(alternatives) / sizeof(alternatives[0]); i++)
		if (!strcmp(alternatives[i].prog, prog))
			return &alternatives[i];
	return NULL;
}

static bool wanted_alternative(const char *prog, const struct refusal *refused, size_t nrefused);

static bool will_load(const char *prog, const struct refusal *refused, size_t nrefused)
{
	return !is_refused(refused, nrefused, prog) && wanted_alternative(prog, refused, nrefused);
}

/* Does PROG, or a program it stands in for, load? */
static bool covered(const char *prog, const struct refusal *refused, size_t nrefused)
{
	const struct alternative *a = alternative_of(prog);

	if (will_load(prog, refused, nrefused))
		return true;
	return a && !a->when_primary_loads && covered(a->primary, refused, nrefused);
}

/* Is this program wanted, given the fate of the program it stands in for (or helps)? */
static bool wanted_alternative(const char *prog, const struct refusal *refused, size_t nrefused)
{
	const struct alternative *a = alternative_of(prog);

	if (!a)
		return true;
	if (a->when_primary_loads)
		return will_load(a->primary, refused, nrefused);
	return !covered(a->primary, refused, nrefused);
}

/*
 * Without kernel BTF libbpf refuses any object that has CO-RE relocations,
 * even in programs it will not load. Point it at an empty BTF instead: the
 * programs that need the kernel's types are disabled anyway.
 */
static const char *empty_btf_path(void)
{
	static char path[] = "/tmp/daxscope-empty-btf-XXXXXX";
	struct btf *btf;
	const void *raw;
	__u32 size;
	int fd;

	if (path[sizeof(path) - 2] != 'X')
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
	return path;
}

static struct daxscope_bpf *open_configured(const struct dx_session_opts *o, uint32_t dev, bool kernel_btf,
					    const struct refusal *refused, size_t nrefused)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = kernel_btf ? NULL : empty_btf_path());
	struct daxscope_bpf *skel = daxscope_bpf__open_opts(&open_opts);
	size_t ringbuf_bytes = o->ringbuf_bytes ? o->ringbuf_bytes : 8u << 20;
	struct bpf_program *prog;

	if (!skel)
		return NULL;
	skel->rodata->filter_tgid = o->pid;
	skel->rodata->filter_dev = dev;
	skel->rodata->linger_ns = o->linger_ns ? o->linger_ns : 2000000000ULL;
	skel->rodata->wakeup_bytes = ringbuf_bytes / 32; /* early enough that the rest absorbs a burst */
	bpf_map__set_max_entries(skel->maps.events, ringbuf_bytes);
	bpf_object__for_each_program(prog, skel->obj)
		if (is_refused(refused, nrefused, bpf_program__name(prog)) || !wanted_alternative(bpf_program__name(prog), refused, nrefused))
			bpf_program__set_autoload(prog, false);
	return skel;
}

/* Load, dropping each program the kernel refuses (with its reason) and retrying. */
static int load(struct dx_session *s, const struct dx_session_opts *o, uint32_t dev,
		struct refusal *refused, size_t *nrefused, size_t max, char *err, size_t errlen)
{
	const struct btf *vmlinux = libbpf_find_kernel_btf();
	struct bpf_program *prog;
	char reason[REASON_LEN];

	s->skel = open_configured(o, dev, vmlinux, refused, *nrefused);
	if (!s->skel)
		return fail(err, errlen, "cannot open the BPF object: %s", strerror(errno));
	bpf_object__for_each_program(prog, s->skel->obj)
		if (!attach_point_exists(prog, vmlinux, reason, sizeof(reason)))
			refuse(refused, nrefused, max, bpf_program__name(prog), reason);
	for (size_t tries = 0; tries <= max; tries++) {
		daxscope_bpf__destroy(s->skel);
		s->skel = open_configured(o, dev, vmlinux, refused, *nrefused);
		if (!s->skel)
			return fail(err, errlen, "cannot open the BPF object: %s", strerror(errno));
		libbpf_log[0] = '\0';
		if (!daxscope_bpf__load(s->skel)) {
			if (!vmlinux)
				unlink(empty_btf_path());
			btf__free((struct btf *)vmlinux);
			return 0;
		}
		prog = refused_program(s->skel, reason, sizeof(reason));
		if (!prog || is_refused(refused, *nrefused, bpf_program__name(prog)))
			break;
		refuse(refused, nrefused, max, bpf_program__name(prog), reason);
	}
	if (!vmlinux)
		unlink(empty_btf_path());
	btf__free((struct btf *)vmlinux);
	libbpf_log[strcspn(libbpf_log, "\n")] = '\0';
	return fail(err, errlen, "cannot load the BPF programs: %s",
		    libbpf_log[0] ? libbpf_log : strerror(errno));
}

static void attach(struct dx_session *s, struct refusal *refused, size_t *nrefused, size_t max)
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
			refuse(refused, nrefused, max, bpf_program__name(prog), reason);
			continue;
		}
		s->links[s->nlinks++] = link;
	}
}

int dx_session_open(const struct dx_session_opts *o, struct dx_session **out, char *err, size_t errlen)
{
	struct refusal refused[NPROGS];
	size_t nrefused = 0, nprogs = 0;
	struct bpf_program *prog;
	struct dx_session *s;
	uint32_t dev = 0;
	struct stat st;

	*out = NULL;
	if (!has_privileges())
		return fail(err, errlen, "needs root, or CAP_BPF and CAP_PERFMON, to load BPF programs");
	if (o->path) {
		if (stat(o->path, &st))
			return fail(err, errlen, "%s: %s", o->path, strerror(errno));
		dev = dx_dev_from_user(st.st_dev);
	}
	ensure_tracefs();
	libbpf_set_print(keep_libbpf_log);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->paths = dx_paths_new())) {
		free(s);
		return fail(err, errlen, "out of memory");
	}
	if (load(s, o, dev, refused, &nrefused, NPROGS, err, errlen))
		goto fail;
	bpf_object__for_each_program(prog, s->skel->obj)
		nprogs++;
	s->links = calloc(nprogs, sizeof(*s->links));
	if (!s->links) {
		fail(err, errlen, "out of memory");
		goto fail;
	}
	attach(s, refused, &nrefused, NPROGS);
	if (!s->nlinks) {
		fail(err, errlen, "no BPF program could be attached (first: %s: %s)",
		     nrefused ? refused[0].prog : "?", nrefused ? refused[0].reason : "?");
		goto fail;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_ring_event, s, NULL);
	if (!s->rb) {
		fail(err, errlen, "cannot open the ring buffer: %s", strerror(errno));
		goto fail;
	}
	build_banner(s, refused, nrefused);
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

void dx_session_describe(const struct dx_session *s, dx_record_fn fn, void *ctx)
{
	fn(DX_REC_BANNER, s->banner, (uint32_t)strlen(s->banner) + 1, ctx);
}

int dx_session_poll(struct dx_session *s, int timeout_ms, dx_record_fn fn, void *ctx)
{
	int woken, rest;

	s->fn = fn;
	s->ctx = ctx;
	/* the kernel side wakes us only for a batch: read what waits without a wakeup too */
	woken = ring_buffer__poll(s->rb, timeout_ms);
	if (woken < 0 && woken != -EINTR)
		return woken;
	rest = ring_buffer__consume(s->rb);
	if (rest < 0)
		return rest;
	return (woken > 0 ? woken : 0) + rest;
}

uint64_t dx_session_drops(const struct dx_session *s, enum dx_drop which)
{
	uint32_t key = which;
	uint64_t n = 0;

	bpf_map__lookup_elem(s->skel->maps.drops, &key, sizeof(key), &n, sizeof(n), 0);
	return n;
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

static void hand_file_counts(const struct dx_session *s, dx_record_fn fn, void *ctx)
{
	const struct bpf_map *map = s->skel->maps.file_counts;
	struct dx_file_key key, next;
	struct dx_file_counts_record r;
	void *prev = NULL;

	while (!bpf_map__get_next_key(map, prev, &next, sizeof(next))) {
		key = next;
		prev = &key;
		if (bpf_map__lookup_elem(map, &key, sizeof(key), &r.counts, sizeof(r.counts), 0))
			continue; /* evicted meanwhile */
		memset(&r.file, 0, sizeof(r.file));
		r.file.ino = key.ino;
		r.file.dev = key.dev;
		fn(DX_REC_FILE_COUNTS, &r, sizeof(r), ctx);
	}
}

void dx_session_snapshot(const struct dx_session *s, dx_record_fn fn, void *ctx)
{
	struct dx_drops_record d;

	hand_fuse_hists(s, fn, ctx);
	hand_file_counts(s, fn, ctx);
	for (uint32_t i = 0; i < DX_DROP_MAX; i++)
		d.drops[i] = dx_session_drops(s, i);
	fn(DX_REC_DROPS, &d, sizeof(d), ctx);
}

void dx_session_close(struct dx_session *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	for (size_t i = 0; i < s->nlinks; i++)
		bpf_link__destroy(s->links[i]);
	free(s->links);
	daxscope_bpf__destroy(s->skel);
	dx_paths_free(s->paths);
	free(s);
}
