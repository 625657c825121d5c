// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The punch-safety verdict of a mount (docs/verdict.md): each operation that
 * changes data under the page cache, tried on scratch files while three
 * threads store (and write back), load through a mapping and read(2) the
 * range at times spread over the operation's own duration; then judged from
 * the kernel's evidence (was the fault lock held at each data change),
 * daxscope's findings, and what the workload read back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "daxscope/core/names.h"
#include "daxscope/core/report.h"
#include "daxscope/truth/verdict.h"
#include "engine.h"
#include "daxscope/outputs/json.h"

#define V_PAGES 64ULL /* a scratch file's pages */
#define V_FIRST 16ULL /* the operation's range: pages V_FIRST .. V_FIRST + V_COUNT - 1 */
#define V_COUNT 32ULL
#define V_MAP_PAGES (V_PAGES + V_COUNT) /* an insert or a growing truncate lengthens the file */
#define V_PER_ACCESSOR 4 /* accesses per thread per attempt, each on its own page of the range */
#define V_MIN_ATTEMPTS 3
#define V_MAX_ATTEMPTS 400
#define V_DEDUPE_RETRIES 10 /* dedupes in a row that found the ranges differ before the operation counts as failed */
#define V_SOURCE 0xc3 /* a copy's or a clone's source bytes: unlike any page of the file */
#define TOKEN_OFF 64    /* where accesses store and look */
#define PROBE_OFF 2048  /* never stored: holds what the operation left there, or damage */
#define SETTLE_NS 20000000ULL /* after the operation: let write-back requests land before checking */
/*
 * Where blocks are smaller than a page, a punch or zero range also takes the
 * first half of page V_TAIL, stored to before it (a writable pte) and after
 * it: a pte the operation leaves writable lets that store in without a fault,
 * and write-back never writes it (docs/design.md, After the operation).
 */
#define V_TAIL (V_FIRST + V_COUNT)
#define V_TAIL_LEN (TRUTH_PAGE / 2)

enum vop_kind { V_FALLOCATE, V_TRUNCATE_DOWN, V_TRUNCATE_UP, V_COPY, V_CLONE, V_DEDUPE };

struct vop {
	const char *name;
	enum vop_kind kind;
	int mode;          /* fallocate's */
	unsigned int dx_op; /* the window daxscope opens for it; 0: none (nothing is removed) */
};

static const struct vop vops[] = {
	{ "punch_hole", V_FALLOCATE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, DX_OP_PUNCH_HOLE },
	{ "zero_range", V_FALLOCATE, FALLOC_FL_ZERO_RANGE, DX_OP_ZERO_RANGE },
	{ "zero_range_keep_size", V_FALLOCATE, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, DX_OP_ZERO_RANGE },
	{ "collapse_range", V_FALLOCATE, FALLOC_FL_COLLAPSE_RANGE, DX_OP_COLLAPSE_RANGE },
	{ "insert_range", V_FALLOCATE, FALLOC_FL_INSERT_RANGE, DX_OP_INSERT_RANGE },
	{ "truncate_down", V_TRUNCATE_DOWN, 0, DX_OP_TRUNCATE },
	{ "truncate_up", V_TRUNCATE_UP, 0, 0 },
	{ "copy_file_range", V_COPY, 0, DX_OP_COPY_RANGE },
	{ "clone_range", V_CLONE, 0, DX_OP_CLONE_RANGE },
	{ "dedupe_range", V_DEDUPE, 0, DX_OP_DEDUPE_RANGE },
	{ "unshare_range", V_FALLOCATE, FALLOC_FL_UNSHARE_RANGE, DX_OP_UNSHARE_RANGE },
};
#define NOPS (sizeof(vops) / sizeof(vops[0]))

enum accessor { STORER, LOADER, READER, NACCESSORS };

struct vaccess {
	uint64_t page;
	struct truth_span span;
	uint64_t value; /* stored, or seen */
	uint64_t back;  /* a store's slot, read back at the end */
	bool happened;  /* false: SIGBUS past the end, or a failed read */
};

struct attempt {
	const struct vop *op;
	char path[PATH_MAX];
	int fd, src_fd;
	char *map;
	uint64_t ino;
	uint64_t offset_ns; /* when the accessors start, into the operation */
	struct truth_gate gate; /* t0: the operation's call */
	uint64_t t1;            /* its return */
	int err;                /* its errno */
	struct vaccess acc[NACCESSORS][V_PER_ACCESSOR];
	uint64_t wrong_pages, first_wrong; /* pages not as the operation must have left them; the first */
	unsigned int windows; /* daxscope's windows of it */
	bool sub_page;        /* the range takes the first half of page V_TAIL too */
	struct vaccess tail;  /* the store into that half after the operation returned */
};

struct accessor_arg {
	struct attempt *a;
	enum accessor who;
};

static uint64_t token_seq;

size_t dx_verdict_nops(void)
{
	return NOPS;
}

const char *dx_verdict_name(enum dx_verdict v)
{
	static const char *const names[] = {
		[DX_VERDICT_SAFE] = "SAFE",
		[DX_VERDICT_UNSAFE] = "UNSAFE",
		[DX_VERDICT_EXPOSED] = "EXPOSED",
		[DX_VERDICT_UNSUPPORTED] = "not supported",
		[DX_VERDICT_UNCHECKED] = "could not check",
	};

	return names[v];
}

/* ---- the file before and after ---- */

/* Page p's every byte before the operation: each page its own, never 0 nor V_SOURCE. */
static unsigned char pre_byte(uint64_t p)
{
	return (unsigned char)(0x10 + p);
}

static bool in_range(uint64_t p)
{
	return p >= V_FIRST && p < V_FIRST + V_COUNT;
}

/* Pages of the file after the operation (a shrinking truncate is grown back before the check). */
static uint64_t pages_after(const struct vop *op)
{
	if (op->dx_op == DX_OP_COLLAPSE_RANGE)
		return V_PAGES - V_COUNT;
	if (op->dx_op == DX_OP_INSERT_RANGE || op->kind == V_TRUNCATE_UP)
		return V_PAGES + V_COUNT;
	return V_PAGES;
}

/* What every unstored byte of page p holds after the operation. */
static unsigned char byte_after(const struct vop *op, uint64_t p)
{
	switch (op->kind) {
	case V_TRUNCATE_DOWN: return p < V_FIRST ? pre_byte(p) : 0;
	case V_TRUNCATE_UP: return p < V_PAGES ? pre_byte(p) : 0;
	case V_COPY:
	case V_CLONE: return in_range(p) ? V_SOURCE : pre_byte(p);
	case V_DEDUPE: return pre_byte(p);
	case V_FALLOCATE: break;
	}
	switch (op->dx_op) {
	case DX_OP_PUNCH_HOLE:
	case DX_OP_ZERO_RANGE: return in_range(p) ? 0 : pre_byte(p);
	case DX_OP_COLLAPSE_RANGE: return p < V_FIRST ? pre_byte(p) : pre_byte(p + V_COUNT);
	case DX_OP_INSERT_RANGE: return p < V_FIRST ? pre_byte(p) : in_range(p) ? 0 : pre_byte(p - V_COUNT);
	default: return pre_byte(p); /* unshare */
	}
}

static uint64_t slot_of(unsigned char b)
{
	uint64_t v;

	memset(&v, b, sizeof(v));
	return v;
}

/* The page each access of a thread takes: the storer's, loader's and reader's interleave through the range. */
static uint64_t access_page(enum accessor who, int i)
{
	return V_FIRST + 1 + (uint64_t)who + (uint64_t)i * NACCESSORS;
}

/* ---- one attempt ---- */

static int write_pages(int fd, bool source, char *err, size_t errlen, const char *path)
{
	char block[TRUTH_PAGE];

	for (uint64_t p = 0; p < V_PAGES; p++) {
		memset(block, source ? V_SOURCE : pre_byte(p), sizeof(block));
		if (pwrite(fd, block, sizeof(block), (off_t)(p * TRUTH_PAGE)) != (ssize_t)sizeof(block))
			return truth_fail(err, errlen, "%s: write: %s", path, strerror(errno));
	}
	if (fsync(fd))
		return truth_fail(err, errlen, "%s: fsync: %s", path, strerror(errno));
	return 0;
}

static int scratch(const char *dir, const char *tag, unsigned int n, char *path, size_t pathlen, char *err,
		   size_t errlen)
{
	int fd;

	snprintf(path, pathlen, "%s/.daxcheck-verdict-%d-%s-%u", dir, (int)getpid(), tag, n);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return truth_fail(err, errlen, "%s: %s", path, strerror(errno));
	return fd;
}

static void perform(struct attempt *a, enum accessor who, struct vaccess *x)
{
	volatile uint64_t *slot = (volatile uint64_t *)(a->map + x->page * TRUTH_PAGE + TOKEN_OFF);

	if (who == LOADER)
		madvise(a->map + x->page * TRUTH_PAGE, TRUTH_PAGE, MADV_DONTNEED); /* the load faults */
	truth_span_begin(&x->span);
	switch (who) {
	case STORER:
		x->value = 0xd5c0000000000000ULL | __atomic_add_fetch(&token_seq, 1, __ATOMIC_RELAXED);
		x->happened = truth_guarded_access(slot, &x->value, true);
		truth_span_end(&x->span);
		if (x->happened) /* written back while the operation may still run: pre-operation bytes could land */
			sync_file_range(a->fd, (off_t)(x->page * TRUTH_PAGE), TRUTH_PAGE,
					SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
		return;
	case LOADER: x->happened = truth_guarded_access(slot, &x->value, false); break;
	default:
		x->happened = pread(a->fd, &x->value, sizeof(x->value), (off_t)(x->page * TRUTH_PAGE + TOKEN_OFF)) ==
			      (ssize_t)sizeof(x->value);
	}
	truth_span_end(&x->span);
}

static void *accessor_thread(void *arg)
{
	struct accessor_arg *w = arg;
	struct attempt *a = w->a;

	truth_gate_wait(&a->gate);
	truth_sleep_until(a->gate.t0 + a->offset_ns);
	for (int i = 0; i < V_PER_ACCESSOR; i++)
		perform(a, w->who, &a->acc[w->who][i]);
	return NULL;
}

/* The operation: 0, or -1 with errno. */
static int do_op(const struct attempt *a)
{
	const struct vop *op = a->op;
	loff_t off = (loff_t)(V_FIRST * TRUTH_PAGE), in = off, out = off;
	loff_t len = (loff_t)(V_COUNT * TRUTH_PAGE + (a->sub_page ? V_TAIL_LEN : 0));
	struct file_clone_range clone = { .src_fd = a->src_fd, .src_offset = (uint64_t)off,
					  .src_length = (uint64_t)len, .dest_offset = (uint64_t)off };
	struct {
		struct file_dedupe_range r;
		struct file_dedupe_range_info info;
	} dedupe = { .r = { .src_offset = (uint64_t)off, .src_length = (uint64_t)len, .dest_count = 1 },
		     .info = { .dest_fd = a->fd, .dest_offset = (uint64_t)off } };

	switch (op->kind) {
	case V_FALLOCATE: return fallocate(a->fd, op->mode, off, len);
	case V_TRUNCATE_DOWN: return ftruncate(a->fd, off);
	case V_TRUNCATE_UP: return ftruncate(a->fd, (off_t)(V_MAP_PAGES * TRUTH_PAGE));
	case V_CLONE: return ioctl(a->fd, FICLONERANGE, &clone);
	case V_DEDUPE:
		if (ioctl(a->src_fd, FIDEDUPERANGE, &dedupe))
			return -1;
		errno = dedupe.info.status < 0 ? -dedupe.info.status : EILSEQ; /* EILSEQ: "the ranges differ" */
		return dedupe.info.status == FILE_DEDUPE_RANGE_SAME ? 0 : -1;
	case V_COPY: break;
	}
	while (len > 0) {
		ssize_t n = copy_file_range(a->src_fd, &in, a->fd, &out, (size_t)len, 0);

		if (n <= 0) {
			errno = n ? errno : EIO; /* copied nothing before the end */
			return -1;
		}
		len -= n;
	}
	return 0;
}

static void race(struct attempt *a)
{
	struct accessor_arg args[NACCESSORS];
	pthread_t threads[NACCESSORS];

	for (int w = 0; w < NACCESSORS; w++) {
		args[w] = (struct accessor_arg){ a, (enum accessor)w };
		for (int i = 0; i < V_PER_ACCESSOR; i++)
			a->acc[w][i].page = access_page((enum accessor)w, i);
		pthread_create(&threads[w], NULL, accessor_thread, &args[w]);
	}
	truth_gate_open(&a->gate);
	errno = 0;
	a->err = do_op(a) ? errno : 0;
	a->t1 = truth_now();
	if (a->sub_page && !a->err)
		perform(a, STORER, &a->tail);
	for (int w = 0; w < NACCESSORS; w++)
		pthread_join(threads[w], NULL);
}

/* What the file holds once written back and reread from the filesystem: the pages the model did not expect. */
static void read_back(struct attempt *a)
{
	unsigned char page[TRUTH_PAGE];
	int fd;

	fsync(a->fd);
	posix_fadvise(a->fd, 0, 0, POSIX_FADV_DONTNEED);
	fd = open(a->path, O_RDONLY);
	for (uint64_t p = 0; fd >= 0 && p < pages_after(a->op); p++) {
		bool read = pread(fd, page, sizeof(page), (off_t)(p * TRUTH_PAGE)) == (ssize_t)sizeof(page);

		if (read && page[PROBE_OFF] == byte_after(a->op, p) && (!a->sub_page || p != V_TAIL || !page[0]))
			continue;
		a->first_wrong = a->wrong_pages++ ? a->first_wrong : p;
	}
	for (int i = 0; fd >= 0 && i <= V_PER_ACCESSOR; i++) {
		struct vaccess *x = i < V_PER_ACCESSOR ? &a->acc[STORER][i] : &a->tail;

		if (pread(fd, &x->back, sizeof(x->back), (off_t)(x->page * TRUTH_PAGE + TOKEN_OFF)) != sizeof(x->back))
			x->back = 0;
	}
	if (fd >= 0)
		close(fd);
}

/* A punch or zero range on blocks smaller than a page: it can change part of a page. */
static bool takes_sub_page(const struct attempt *a)
{
	int block = 0;

	return a->op->kind == V_FALLOCATE && a->op->mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE) &&
	       !ioctl(a->fd, FIGETBSZ, &block) && block > 0 && V_TAIL_LEN % block == 0;
}

static int setup(struct attempt *a, const char *dir, unsigned int n, int src_fd, int twin_fd, char *err,
		 size_t errlen)
{
	struct stat st;

	a->fd = scratch(dir, a->op->name, n, a->path, sizeof(a->path), err, errlen);
	a->src_fd = src_fd;
	if (a->fd < 0)
		return -1;
	if (a->op->dx_op == DX_OP_UNSHARE_RANGE && twin_fd >= 0 && !ioctl(a->fd, FICLONE, twin_fd))
		fsync(a->fd); /* shares its extents: the unshare has something to copy */
	else if (write_pages(a->fd, false, err, errlen, a->path))
		return -1;
	a->map = mmap(NULL, V_MAP_PAGES * TRUTH_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0);
	if (a->map == MAP_FAILED || fstat(a->fd, &st))
		return truth_fail(err, errlen, "%s: mmap or stat: %s", a->path, strerror(errno));
	for (uint64_t p = 0; p < V_PAGES; p++)
		(void)*(volatile char *)(a->map + p * TRUTH_PAGE); /* mapped read-only: a store faults */
	a->sub_page = takes_sub_page(a);
	a->tail.page = V_TAIL;
	if (a->sub_page) /* a write fault: the pte is writable (and the page dirty) when the operation comes */
		*(volatile uint64_t *)(a->map + V_TAIL * TRUTH_PAGE + TOKEN_OFF) = slot_of(V_SOURCE);
	a->ino = st.st_ino;
	return 0;
}

static void finish(struct attempt *a)
{
	truth_sleep_until(a->t1 + SETTLE_NS);
	msync(a->map, V_MAP_PAGES * TRUTH_PAGE, MS_SYNC);
	munmap(a->map, V_MAP_PAGES * TRUTH_PAGE);
	if (a->op->kind == V_TRUNCATE_DOWN && !a->err)
		(void)!ftruncate(a->fd, (off_t)(V_PAGES * TRUTH_PAGE)); /* grown back: the cut must read as zeros */
	read_back(a);
	close(a->fd);
}

/* i-th of a sequence that fills [0, 1) ever more finely (van der Corput, base 2). */
static double spread(unsigned int i)
{
	double f = 0, half = 0.5;

	for (; i; i >>= 1, half /= 2)
		f += (i & 1) * half;
	return f;
}

/* ---- judging one operation ---- */

static bool refused(const struct vop *op, int e)
{
	return e == EOPNOTSUPP || e == ENOTTY || e == ENOSYS || e == EXDEV ||
	       (e == EINVAL && (op->kind == V_CLONE || op->kind == V_DEDUPE));
}

static struct attempt *attempt_of(struct attempt *as, unsigned int n, uint64_t ino, uint64_t begin_ns)
{
	for (unsigned int i = 0; i < n; i++)
		if (as[i].ino == ino && begin_ns >= as[i].gate.t0 && begin_ns <= as[i].t1)
			return &as[i];
	return NULL;
}

struct evidence {
	unsigned int missing;    /* attempts with no window */
	unsigned int undated, incomplete, unterminated, unwatched, reads_unwatched, partial;
	unsigned int adds_ordered; /* windows where no page read in can hold what the operation replaced */
	bool guard_mixed;
	bool fuse; /* the directory is on FUSE: a file without DAX has no fault lock to take (guard none) */
	bool trail_after_op; /* the trail is a store lost after the operation: kept over any other */
	const char *after_op_unwatched; /* why stores after the operation are not watched; NULL: they are */
	char trail[320];
};

static void note_window(struct dx_verdict_row *row, struct evidence *ev, struct attempt *a,
			const struct dx_punch_window *w)
{
	if (row->windows && w->guard != row->guard)
		ev->guard_mixed = true;
	row->windows++;
	row->guard = w->guard;
	row->changes += w->changes;
	row->changes_unlocked += w->changes_unlocked;
	row->changes_lock_unknown += w->changes_lock_unknown;
	ev->undated += w->change_undated;
	ev->incomplete += w->incomplete;
	ev->unterminated += w->unterminated || w->aborted;
	ev->unwatched += w->faults_unwatched;
	ev->adds_ordered += dx_punch_adds_cannot_go_stale(w);
	ev->reads_unwatched += w->reads_unwatched;
	ev->partial += w->partial;
	a->windows++;
}

static void note_finding(struct dx_verdict_row *row, struct evidence *ev, const struct attempt *a,
			 const struct dx_finding *f)
{
	if (f->kind == DX_FINDING_BLOCKED_FAULT) {
		row->waits++;
		row->wait_total_ns += f->wait_ns;
		row->wait_max_ns = f->wait_ns > row->wait_max_ns ? f->wait_ns : row->wait_max_ns;
		return;
	}
	row->findings[f->kind]++;
	if (f->kind == DX_FINDING_WRITABLE_AFTER_PUNCH && !ev->trail_after_op) {
		ev->trail_after_op = true;
		snprintf(ev->trail, sizeof(ev->trail),
			 "writable_after_punch on page %" PRIu64 " (byte %u): a store through a pte that %s by %u/%.16s left "
			 "writable (it changed part of the page at +%.3f ms, returned at +%.3f ms) was lost, found at "
			 "the write-back by %u/%.16s at +%.3f ms; %u/%.16s maps the file writable",
			 f->page_index, f->lost_byte, dx_punch_op_name(f->punch_op), f->punch.tid, f->punch.comm,
			 ((double)f->data_change_ns - (double)a->gate.t0) / 1e6,
			 ((double)a->t1 - (double)a->gate.t0) / 1e6, f->io.tid, f->io.comm,
			 ((double)f->t_ns - (double)a->gate.t0) / 1e6, f->fault.pid, f->fault.comm);
	} else if (!ev->trail[0] && f->page_index != DX_PAGE_UNKNOWN)
		snprintf(ev->trail, sizeof(ev->trail),
			 "%s on page %" PRIu64 " by %u/%.16s at +%.3f ms, during %s by %u/%.16s (data change from +%.3f "
			 "ms, returned at +%.3f ms)",
			 dx_finding_name(f->kind), f->page_index, f->fault.tid, f->fault.comm,
			 ((double)f->t_ns - (double)a->gate.t0) / 1e6, dx_punch_op_name(f->punch_op), f->punch.tid,
			 f->punch.comm, ((double)f->data_change_ns - (double)a->gate.t0) / 1e6,
			 ((double)a->t1 - (double)a->gate.t0) / 1e6);
}

static void count_access(struct dx_verdict_row *row, const struct attempt *a, enum accessor who,
			 const struct vaccess *x, char *trail, size_t len)
{
	bool after = x->happened && x->span.a0 > a->t1;
	bool lost = who == STORER && after && x->back != x->value;
	bool stale = who != STORER && after && x->value != slot_of(byte_after(a->op, x->page));

	row->lost_writes += lost;
	row->stale_reads += stale;
	if ((lost || stale) && !trail[0])
		snprintf(trail, len, "page %" PRIu64 ": a %s begun %.3f ms after the operation returned %s", x->page,
			 x == &a->tail ? "store (into the half of the page it changed)"
			 : who == STORER ? "store" : who == LOADER ? "mapped load" : "read(2)",
			 ((double)x->span.a0 - (double)a->t1) / 1e6,
			 lost ? "was not in the file afterwards" : "saw other bytes than it left");
}

static void count_damage(struct dx_verdict_row *row, struct attempt *a, char *trail, size_t len)
{
	for (int w = 0; w < NACCESSORS; w++)
		for (int i = 0; i < V_PER_ACCESSOR; i++)
			count_access(row, a, (enum accessor)w, &a->acc[w][i], trail, len);
	if (a->sub_page) {
		count_access(row, a, STORER, &a->tail, trail, len);
		row->sub_page_stores += a->tail.happened && a->tail.span.a0 > a->t1;
	}
	row->wrong_pages += a->wrong_pages;
	if (a->wrong_pages && !trail[0])
		snprintf(trail, len, "page %" PRIu64 " (of %" PRIu64 " in this attempt) held bytes the operation cannot "
			 "have left, from before it, once written back and reread", a->first_wrong, a->wrong_pages);
}

static bool before_5_15(void)
{
	struct utsname u;
	unsigned int major = 0, minor = 0;

	return !uname(&u) && sscanf(u.release, "%u.%u", &major, &minor) == 2 && (major < 5 || (major == 5 && minor < 15));
}

/* What a verdict from this guard rests on, on this kernel. */
static void guard_rests_on(struct dx_verdict_row *row)
{
	const char *reads = before_5_15()
				    ? "; before 5.15 read(2) and readahead take no fault lock, so reads are judged only by "
				      "their findings (refault, io_during_punch)"
				    : "";

	switch (row->guard) {
	case DX_GUARD_INVALIDATE_LOCK:
		snprintf(row->rests_on, sizeof(row->rests_on),
			 "whether the operation held mapping->invalidate_lock for write, read at each data change; "
			 "faults, read(2) and readahead take it shared (5.15+)");
		return;
	case DX_GUARD_FS_LOCK:
		snprintf(row->rests_on, sizeof(row->rests_on),
			 "whether the operation held the filesystem's own fault rwsem for write, read at each data "
			 "change%s", reads);
		return;
	case DX_GUARD_LEARNED_LOCK:
		snprintf(row->rests_on, sizeof(row->rests_on),
			 "whether the operation held the rwsem this filesystem's faults take (learned from them: no BTF "
			 "locates it) for write, read at each data change%s", reads);
		return;
	case DX_GUARD_SHMEM_FALLOC:
		snprintf(row->rests_on, sizeof(row->rests_on),
			 "whether tmpfs's shmem_falloc guard (inode->i_private) was set at each data change: shmem_fault "
			 "waits on it for pages in the range; read(2) does not wait, its findings judge it");
		return;
	default:
		snprintf(row->rests_on, sizeof(row->rests_on), "the guard daxscope read: %s",
			 dx_fault_guard_name(row->guard));
	}
}

/*
 * A FUSE file without DAX has no fault lock before 5.15 (fuse_inode's
 * i_mmap_sem is taken by DAX faults only) and its punch takes none
 * (fs/fuse/file.c fuse_file_fallocate: block_faults only for DAX): a data
 * change there is made with faults free, whatever the race did.
 */
static bool fuse_without_lock(const struct dx_verdict_row *row, const struct evidence *ev)
{
	return ev->fuse && row->guard == DX_GUARD_NONE;
}

/* What a verdict from this guard rests on, on this kernel; then, on part of a page, what judges the store after it. */
static void rests_on(struct dx_verdict_row *row, const struct evidence *ev)
{
	size_t used;

	guard_rests_on(row);
	if (fuse_without_lock(row, ev))
		snprintf(row->rests_on, sizeof(row->rests_on),
			 "FUSE without DAX: its faults take no lock before 5.15 and the operation takes none for them "
			 "(fuse_file_fallocate, fuse_do_setattr), so each data change the kernel saw was made with "
			 "faults free; the findings and the read-back say what got through");
	used = strlen(row->rests_on);
	if (row->windows && ev->adds_ordered == row->windows)
		snprintf(row->rests_on + used, sizeof(row->rests_on) - used,
			 "; a page read into the range meanwhile cannot hold what it replaced: btrfs drops the range's "
			 "cached pages after the clone, whose extent range lock its reads wait on");
	if (!row->sub_page_stores)
		return;
	used = strlen(row->rests_on);
	if (ev->after_op_unwatched)
		snprintf(row->rests_on + used, sizeof(row->rests_on) - used,
			 "; the half page it changed in each attempt, stored to after it: the read-back alone (%" PRIu64
			 " stores), as writable_after_punch is not watched on this kernel (%s)",
			 row->sub_page_stores, ev->after_op_unwatched);
	else
		snprintf(row->rests_on + used, sizeof(row->rests_on) - used,
			 "; the half page it changed in each attempt, stored to after it: the read-back (%" PRIu64
			 " stores) and writable_after_punch (fentry on the partial invalidate and the next write-back: a "
			 "byte in a buffer that maps no block)", row->sub_page_stores);
}

/* Why the evidence cannot carry a SAFE, or NULL when it can. */
static const char *unchecked(const struct dx_verdict_row *row, const struct evidence *ev, char *buf, size_t len)
{
	if (!row->windows)
		return "daxscope opened no window for it (it removes no data, so none is watched)";
	if (ev->missing)
		snprintf(buf, len, "%u of %u attempts had no window daxscope could place", ev->missing, row->attempts);
	else if (ev->undated)
		snprintf(buf, len, "%u FUSE window(s) whose data change no probe of this kernel dated", ev->undated);
	else if (ev->incomplete || ev->unterminated)
		snprintf(buf, len, "%u window(s) lost events or never ended", ev->incomplete + ev->unterminated);
	else if (ev->unwatched)
		snprintf(buf, len, "faults were not watched in %u window(s)", ev->unwatched);
	else if (ev->reads_unwatched)
		snprintf(buf, len, "this kernel's page-cache read faults are not all watched (%u window(s) on a mapped file)",
			 ev->reads_unwatched);
	else if (ev->partial)
		snprintf(buf, len, "%u window(s) only counted some of their evidence (past the evidence budget)",
			 ev->partial);
	else if (!row->changes)
		snprintf(buf, len, "the kernel saw no data change under the page cache in %u window(s): the operation "
			 "wrote through it as write(2) does, or changed data where daxscope has no probe",
			 row->windows);
	else if (row->changes_lock_unknown)
		snprintf(buf, len, "%" PRIu64 " data change(s) came before the fault lock was learned",
			 row->changes_lock_unknown);
	else if (ev->guard_mixed)
		snprintf(buf, len, "its windows read different guards");
	else if (row->guard == DX_GUARD_I_SIZE)
		snprintf(buf, len, "no fault lock: this truncate writes the new i_size first and faults past it fail "
				   "(truncate_setsize), an order daxscope does not read");
	else if (!dx_fault_guard_is_lock(row->guard))
		snprintf(buf, len, "no lock to read: the operation takes none that faults take (guard %s)",
			 dx_fault_guard_name(row->guard));
	else if (before_5_15() && (row->guard == DX_GUARD_FS_LOCK || row->guard == DX_GUARD_LEARNED_LOCK))
		snprintf(buf, len, "faults were held off at all %" PRIu64 " data changes, but before 5.15 read(2) and "
			 "readahead take no fault lock (invalidate_lock came in 5.15): nothing read in the kernel keeps "
			 "them out, though none was seen refaulting a page in %u attempts", row->changes, row->attempts);
	else
		return NULL;
	return buf;
}

static void decide(const struct vop *op, struct dx_verdict_row *row, const struct evidence *ev, const char *damage)
{
	bool got_through = false;
	char buf[256], waits[96], through[96] = "", kept[96], unknown[48] = "";
	const char *why;

	for (int k = DX_FINDING_UNBLOCKED_FAULT; k < DX_FINDING_KIND_MAX; k++) {
		size_t used = strlen(through);

		got_through |= row->findings[k] != 0;
		if (row->findings[k])
			snprintf(through + used, sizeof(through) - used, "%s%" PRIu64 " %s", used ? ", " : "",
				 row->findings[k], dx_finding_name(k));
	}
	rests_on(row, ev);
	if (row->changes_lock_unknown) /* no lock learned (5.10 btrfs: its faults take none) */
		snprintf(unknown, sizeof(unknown), ", %" PRIu64 " with no lock to read", row->changes_lock_unknown);
	if (row->lost_writes || row->stale_reads || row->wrong_pages) {
		row->verdict = DX_VERDICT_UNSAFE;
		snprintf(row->why, sizeof(row->why),
			 "damage read back: %" PRIu64 " lost write(s), %" PRIu64 " stale read(s), %" PRIu64
			 " page(s) with bytes from before the operation; %" PRIu64 " of %" PRIu64
			 " data changes without the fault lock%s",
			 row->lost_writes, row->stale_reads, row->wrong_pages, row->changes_unlocked, row->changes,
			 unknown);
		snprintf(row->example, sizeof(row->example), "%s%s%s", damage, ev->trail[0] ? "; daxscope: " : "",
			 ev->trail);
		return;
	}
	if (got_through || (row->changes_unlocked && (dx_fault_guard_is_lock(row->guard) || fuse_without_lock(row, ev)))) {
		const char *loses = op->kind == V_TRUNCATE_DOWN
					    ? "faults and reads reach the pages being cut while it changes data, and see or "
					      "dirty bytes the cut then drops"
					    : "a store to a mapped page of the range could be lost, or bytes from before the "
					      "operation written back into it";

		row->verdict = DX_VERDICT_EXPOSED;
		if (row->changes_unlocked)
			snprintf(row->why, sizeof(row->why),
				 "%" PRIu64 " of %" PRIu64 " data changes made without the fault lock; no damage in %u "
				 "attempts. A slower backing store (delayfs --delay-ms) widens the window: %s",
				 row->changes_unlocked, row->changes, row->attempts, loses);
		else if (row->changes_lock_unknown)
			snprintf(row->why, sizeof(row->why),
				 "no fault lock was read at %" PRIu64 " of its %" PRIu64 " data changes (guard %s), and "
				 "accesses got through (%s); no damage in %u attempts",
				 row->changes_lock_unknown, row->changes, dx_fault_guard_name(row->guard), through,
				 row->attempts);
		else /* what got through came past the lock: before 5.15, read(2) and readahead */
			snprintf(row->why, sizeof(row->why),
				 "the fault lock was held at all %" PRIu64 " data changes, but accesses got through it "
				 "(%s); no damage in %u attempts", row->changes, through, row->attempts);
		snprintf(row->example, sizeof(row->example), "%s", ev->trail);
		return;
	}
	why = unchecked(row, ev, buf, sizeof(buf));
	if (why) {
		row->verdict = DX_VERDICT_UNCHECKED;
		snprintf(row->why, sizeof(row->why), "%s", why);
		return;
	}
	row->verdict = DX_VERDICT_SAFE;
	snprintf(waits, sizeof(waits), "%" PRIu64 " accesses seen waiting on it (longest %.3f ms)", row->waits,
		 (double)row->wait_max_ns / 1e6);
	snprintf(kept, sizeof(kept), "; the %" PRIu64 " stores after it into the half page it changed were all read "
		 "back", row->sub_page_stores);
	snprintf(row->why, sizeof(row->why),
		 "the fault lock (or guard) was held at all %" PRIu64 " data changes of %u attempts; %s; nothing got "
		 "through, nothing was damaged%s",
		 row->changes, row->attempts, row->waits ? waits : "no access was seen waiting on it",
		 row->sub_page_stores ? kept : "");
}

static void judge_op(struct dx_truth *t, struct dx_verdict_row *row, struct attempt *as, unsigned int n,
		     size_t *punch_mark, size_t *finding_mark)
{
	struct dx_report *r = truth_report_settled(t, as[n - 1].t1 + SETTLE_NS);
	struct evidence ev = { .after_op_unwatched = truth_unwatched(t, DX_PROBE_STORES_AFTER_OP), .fuse = truth_is_fuse(t) };
	char damage[240] = "";

	for (size_t i = *punch_mark; i < dx_report_npunches(r); i++) {
		const struct dx_punch_window *w = dx_report_punch(r, i);
		struct attempt *a = attempt_of(as, n, w->file.ino, w->begin_ns);

		if (a && w->op == a->op->dx_op)
			note_window(row, &ev, a, w);
	}
	for (size_t i = *finding_mark; i < dx_report_nfindings(r); i++) {
		const struct dx_finding *f = dx_report_finding(r, i);
		const struct attempt *a = attempt_of(as, n, f->file.ino, f->punch_begin_ns);

		if (a)
			note_finding(row, &ev, a, f);
	}
	*punch_mark = dx_report_npunches(r);
	*finding_mark = dx_report_nfindings(r);
	truth_report_unlock(t);
	for (unsigned int i = 0; i < n; i++) {
		ev.missing += !as[i].windows && row->windows;
		count_damage(row, &as[i], damage, sizeof(damage));
	}
	decide(as[0].op, row, &ev, damage);
}

/* A copy's or a clone's source (another byte), a dedupe's or an unshare's twin (the same bytes); -1 if none. */
static int source_of(const char *dir, const struct vop *op, char *path, size_t len, char *err, size_t errlen)
{
	int fd;

	if (op->kind != V_COPY && op->kind != V_CLONE && op->kind != V_DEDUPE && op->dx_op != DX_OP_UNSHARE_RANGE)
		return -1;
	fd = scratch(dir, "source", 0, path, len, err, errlen);
	if (fd >= 0 && write_pages(fd, op->kind == V_COPY || op->kind == V_CLONE, err, errlen, path)) {
		close(fd);
		unlink(path);
		return -2;
	}
	return fd < 0 ? -2 : fd;
}

static int check_op(struct dx_truth *t, const struct vop *op, const struct dx_verdict_opts *o, double seconds,
		    struct dx_verdict_row *row, size_t *punch_mark, size_t *finding_mark, char *err, size_t errlen)
{
	struct attempt *as = calloc(V_MAX_ATTEMPTS, sizeof(*as));
	uint64_t deadline = truth_now() + (uint64_t)(seconds * 1e9), total_ns = 0;
	char src_path[PATH_MAX];
	int src_fd, ret = 0;
	unsigned int n = 0, differed = 0;

	memset(row, 0, sizeof(*row));
	snprintf(row->op, sizeof(row->op), "%s", op->name);
	if (!as)
		return truth_fail(err, errlen, "out of memory");
	src_fd = source_of(truth_dir(t), op, src_path, sizeof(src_path), err, errlen);
	if (src_fd == -2) {
		free(as);
		return -1;
	}
	while (n < V_MAX_ATTEMPTS && (n < V_MIN_ATTEMPTS || truth_now() < deadline)) {
		struct attempt *a = &as[n];

		if (o->stop && *o->stop) {
			ret = truth_fail(err, errlen, "stopped");
			break;
		}

		*a = (struct attempt){ .op = op, .gate = TRUTH_GATE_INIT }; /* a slot tried again starts clean */
		/* the first attempt learns the duration; the rest start their accesses spread over it */
		a->offset_ns = n ? (uint64_t)(spread(n) * 1.25 * (double)total_ns / n) : 0;
		if (setup(a, truth_dir(t), n, src_fd, src_fd, err, errlen)) {
			if (a->fd >= 0)
				close(a->fd);
			ret = -1;
			break;
		}
		race(a);
		finish(a);
		/*
		 * A dedupe compares the ranges first and changes nothing where they
		 * differ: a store of the race's that came before the compare makes
		 * them differ. No attempt: try it again.
		 */
		if (op->kind == V_DEDUPE && a->err == EILSEQ && ++differed < V_DEDUPE_RETRIES) {
			unlink(a->path);
			continue;
		}
		differed = 0;
		n++;
		total_ns += a->t1 - a->gate.t0;
		if (a->err)
			break;
	}
	if (src_fd >= 0) {
		close(src_fd);
		unlink(src_path);
	}
	row->attempts = n;
	row->op_ns = n ? total_ns / n : 0;
	if (!ret && n && as[n - 1].err) {
		int e = as[n - 1].err;

		row->attempts = n - 1;
		row->op_ns = row->attempts ? (total_ns - (as[n - 1].t1 - as[n - 1].gate.t0)) / row->attempts : 0;
		row->verdict = refused(op, e) ? DX_VERDICT_UNSUPPORTED : DX_VERDICT_UNCHECKED;
		snprintf(row->why, sizeof(row->why), "%s%s", refused(op, e) ? "" : "the operation failed: ",
			 e == EILSEQ ? "the ranges differ" : strerror(e));
	} else if (!ret && truth_poll_error(t)) {
		ret = truth_fail(err, errlen, "reading events: %s", strerror(-truth_poll_error(t)));
	} else if (!ret) {
		judge_op(t, row, as, n, punch_mark, finding_mark);
	}
	for (unsigned int i = 0; i < n + (ret != 0); i++)
		if (as[i].path[0])
			unlink(as[i].path);
	free(as);
	return ret;
}

int dx_verdict_check(struct dx_truth *t, const struct dx_verdict_opts *o, struct dx_verdict_row *rows, char *err,
		     size_t errlen)
{
	size_t punch_mark = 0, finding_mark = 0;
	uint64_t start = truth_now();

	for (size_t i = 0; i < NOPS; i++) {
		double left = o->seconds - (double)(truth_now() - start) / 1e9;

		if (check_op(t, &vops[i], o, left > 0 ? left / (double)(NOPS - i) : 0, &rows[i], &punch_mark,
			     &finding_mark, err, errlen))
			return -1;
		if (o->progress)
			fprintf(o->progress, "daxcheck: %-20s %-15s %u attempts, %.1f s\n", rows[i].op,
				dx_verdict_name(rows[i].verdict), rows[i].attempts, (double)(truth_now() - start) / 1e9);
	}
	return 0;
}

/* ---- output ---- */

static void print_json_row(yajl_gen g, const struct dx_verdict_row *r)
{
	dx_json_map(g, NULL);
	dx_json_text(g, "op", r->op);
	dx_json_text(g, "verdict", dx_verdict_name(r->verdict));
	dx_json_u64(g, "attempts", r->attempts);
	dx_json_micros(g, "op_us", r->op_ns);
	dx_json_u64(g, "windows", r->windows);
	dx_json_u64(g, "changes", r->changes);
	dx_json_u64(g, "changes_unlocked", r->changes_unlocked);
	dx_json_u64(g, "changes_lock_unknown", r->changes_lock_unknown);
	dx_json_text(g, "guard", r->windows ? dx_fault_guard_name(r->guard) : "");
	dx_json_u64(g, "waits", r->waits);
	dx_json_micros(g, "wait_max_us", r->wait_max_ns);
	dx_json_micros(g, "wait_total_us", r->wait_total_ns);
	dx_json_map(g, "findings");
	for (int k = DX_FINDING_UNBLOCKED_FAULT; k < DX_FINDING_KIND_MAX; k++)
		if (r->findings[k])
			dx_json_u64(g, dx_finding_name(k), r->findings[k]);
	dx_json_end_map(g);
	dx_json_map(g, "damage");
	dx_json_u64(g, "lost_writes", r->lost_writes);
	dx_json_u64(g, "stale_reads", r->stale_reads);
	dx_json_u64(g, "wrong_pages", r->wrong_pages);
	dx_json_end_map(g);
	dx_json_u64(g, "sub_page_stores", r->sub_page_stores);
	dx_json_text(g, "why", r->why);
	dx_json_text(g, "rests_on", r->verdict == DX_VERDICT_UNSUPPORTED ? "" : r->rests_on);
	dx_json_text(g, "example", r->example);
	dx_json_end_map(g);
}

void dx_verdict_print(FILE *out, const struct dx_truth *t, const struct dx_verdict_row *rows, bool json)
{
	struct utsname u = { 0 };
	char date[32];
	time_t now = time(NULL);
	yajl_gen g;

	uname(&u);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	if (!json) {
		fprintf(out, "%s on %s, kernel %s, %s\n", dx_truth_fs(t), truth_dir(t), u.release, date);
		for (size_t i = 0; i < NOPS; i++) {
			const struct dx_verdict_row *r = &rows[i];

			fprintf(out, "%-21s %-15s %s\n", r->op, dx_verdict_name(r->verdict), r->why);
			if (r->verdict == DX_VERDICT_SAFE || r->verdict == DX_VERDICT_EXPOSED || r->verdict == DX_VERDICT_UNSAFE)
				fprintf(out, "%-37s rests on: %s\n", "", r->rests_on);
			if (r->example[0])
				fprintf(out, "%-37s example: %s\n", "", r->example);
		}
		return;
	}
	g = dx_json_open(out);
	dx_json_map(g, NULL);
	dx_json_text(g, "schema", "daxscope.verdict/1");
	dx_json_text(g, "fs", dx_truth_fs(t));
	dx_json_text(g, "dir", truth_dir(t));
	dx_json_text(g, "kernel", u.release);
	dx_json_text(g, "date", date);
	dx_json_text(g, "banner", dx_truth_banner(t));
	dx_json_array(g, "ops");
	for (size_t i = 0; i < NOPS; i++)
		print_json_row(g, &rows[i]);
	dx_json_end_array(g);
	dx_json_end_map(g);
	dx_json_close(g, out);
}
