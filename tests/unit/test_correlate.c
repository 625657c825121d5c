// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The correlator on synthetic event streams: what each kind of punch/fault race must yield. */
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/hist.h"
#include "daxscope/outputs/report_out.h"
#include "tap.h"

#define MS 1000000ULL
#define T0 (1000 * MS)
#define PUNCHER 100
#define WRITER 200
#define READER 201

static const struct dx_file file_a = { .ino = 42, .dev = (8u << 20) | 1, .gen = 7 };

struct stream {
	struct dx_event ev[64];
	size_t n;
};

static struct dx_event *add(struct stream *s, uint16_t kind, uint32_t tid, uint64_t t)
{
	struct dx_event *e = &s->ev[s->n++];

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ts = T0 + t;
	e->tid = tid;
	e->pid = tid == PUNCHER || tid == WRITER || tid == READER ? 99 : tid;
	snprintf(e->comm, sizeof(e->comm), "task%u", tid);
	e->file = file_a;
	return e;
}

/* An operation OP by PUNCHER at T over PAGES pages from FIRST_PAGE. */
static void operation(struct stream *s, uint32_t op, uint64_t t, uint64_t first_page, uint64_t pages)
{
	struct dx_event *e = add(s, DX_PUNCH_BEGIN, PUNCHER, t);

	e->punch.op = op;
	e->punch.offset = first_page * 4096;
	e->punch.len = pages * 4096;
	e->punch.fd = 3;
}

static void punch(struct stream *s, uint64_t t, uint64_t first_page, uint64_t pages)
{
	operation(s, DX_OP_PUNCH_HOLE, t, first_page, pages);
}

static void page(struct stream *s, uint16_t kind, uint32_t tid, uint64_t t, uint64_t index, uint16_t flags)
{
	struct dx_event *e = add(s, kind, tid, t);

	e->page.index = index;
	e->page.last = index;
	if (kind == DX_MAP_FAULT)
		e->page.address = 0x7f0000000000ULL + index * 4096; /* the kernel saw the fault's address */
	e->flags = flags;
}

/* The punch's FUSE FALLOCATE: the data change begins at its send; plain FUSE holds no fault lock. */
static void fuse_request(struct stream *s, uint64_t sent, uint64_t reply, bool locked)
{
	struct dx_event *e = add(s, DX_FUSE_REQ, PUNCHER, reply);

	memset(&e->file, 0, sizeof(e->file));
	e->fuse.opcode = DX_FUSE_FALLOCATE;
	e->fuse.latency_ns = reply - sent;
	e->flags = DX_F_CHANGE | (locked ? DX_F_LOCKED : 0);
}

static void fuse_fallocate(struct stream *s, uint64_t sent, uint64_t reply)
{
	fuse_request(s, sent, reply, false);
}

/* The punch deletes a page: with its fault lock held or not, throwing away DIRTY_PAGES dirty pages with it. */
static void delete(struct stream *s, uint64_t t, uint64_t index, bool locked, uint64_t dirty_pages)
{
	page(s, DX_PAGE_DELETE, PUNCHER, t, index, locked ? DX_F_LOCKED : 0);
	s->ev[s->n - 1].page.cancelled_bytes = dirty_pages * 4096;
}

static void io_request(struct stream *s, uint32_t tid, uint64_t t, uint64_t first_page, uint64_t pages, bool write)
{
	struct dx_event *e = add(s, DX_IO_REQUEST, tid, t);

	e->io.offset = first_page * 4096;
	e->io.len = pages * 4096;
	e->io.opcode = write ? DX_FUSE_WRITE : DX_FUSE_READ;
	e->flags = write ? DX_F_WRITE : 0;
}

static void lock_wait(struct stream *s, uint32_t tid, uint64_t end, uint64_t waited)
{
	struct dx_event *e = add(s, DX_LOCK_WAIT, tid, end);

	e->lock.wait_ns = waited;
	e->lock.holder_tid = PUNCHER;
	e->flags = DX_F_HOLDER_KNOWN;
}

struct result {
	struct dx_finding f[64];
	size_t n;
	struct dx_punch_window p[32];
	size_t npunches;
};

static void keep(const struct dx_finding *f, void *ctx)
{
	struct result *r = ctx;

	if (r->n < 64)
		r->f[r->n++] = *f;
}

static void keep_punch(const struct dx_punch_window *p, void *ctx)
{
	struct result *r = ctx;

	if (r->npunches < 32)
		r->p[r->npunches++] = *p;
}

/* Runs a stream through a fresh correlator; returns it (for stats) after flush. */
static struct dx_correlator *run(const struct stream *s, struct result *r)
{
	struct dx_correlator_opts o = {
		.reorder_ns = 20 * MS, .grace_ns = 100 * MS, .on_finding = keep, .on_punch = keep_punch, .ctx = r,
	};
	struct dx_correlator *c = dx_correlator_new(&o);

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < s->n; i++)
		dx_correlator_push(c, &s->ev[i]);
	dx_correlator_flush(c);
	return c;
}

static size_t count(const struct result *r, enum dx_finding_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->f[i].kind == kind;
	return n;
}

static const struct dx_finding *find(const struct result *r, enum dx_finding_kind kind, uint64_t index)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->f[i].kind == kind && r->f[i].page_index == index)
			return &r->f[i];
	return NULL;
}

static const struct dx_file_stats *stats_of(const struct dx_correlator *c, const struct dx_file *f)
{
	for (size_t i = 0; i < dx_correlator_nfiles(c); i++) {
		const struct dx_file_stats *st = dx_correlator_file(c, i);

		if (st->file.ino == f->ino && st->file.dev == f->dev && st->file.gen == f->gen)
			return st;
	}
	return NULL;
}

/* The measured FUSE trail (kernel notes): punch, server punches, write at 70 ms, reply, delete. */
static void fuse_race(struct stream *s)
{
	punch(s, 0, 2, 4); /* pages 2..5 */
	page(s, DX_PAGE_DIRTY, WRITER, 70 * MS, 3, 0); /* page_mkwrite: no lock on plain FUSE */
	page(s, DX_MAP_FAULT, READER, 71 * MS, 4, 0);   /* fault-around from the page cache */
	page(s, DX_MAP_FAULT, READER, 72 * MS, 9, 0);   /* outside the range */
	page(s, DX_PAGE_DIRTY, WRITER, 72 * MS, 9, 0);
	fuse_fallocate(s, 1 * MS, 100 * MS);
	for (uint64_t i = 2; i <= 5; i++) /* one batch: its dirty bytes show at its first delete */
		delete(s, 101 * MS + i, i, false, i == 2);
	delete(s, 101 * MS + 9, 9, false, 0); /* outside: must not count */
	add(s, DX_PUNCH_END, PUNCHER, 102 * MS);
}

static void test_fuse_race(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_finding *f;
	const struct dx_file_stats *st;

	fuse_race(&s);
	c = run(&s, &r);
	is_int(count(&r, DX_FINDING_DISCARDED_WRITE), 1, "fuse race: one discarded write");
	f = find(&r, DX_FINDING_DISCARDED_WRITE, 3);
	ok(f != NULL, "fuse race: the discarded write is page 3");
	if (f) {
		is_int(f->fault.tid, WRITER, "discarded write: writer tid");
		is_int(f->punch.tid, PUNCHER, "discarded write: punch tid");
		ok(!f->certain, "dirtied before the FUSE reply: not certain");
		is_int(f->data_change_ns, T0 + 1 * MS, "the data change began when FALLOCATE went to the server");
		ok(!f->incomplete, "no event lost: complete");
	}
	f = find(&r, DX_FINDING_UNBLOCKED_FAULT, 4);
	ok(f && !f->write && f->fault.tid == READER, "fuse race: read fault on page 4 got through");
	f = find(&r, DX_FINDING_UNBLOCKED_FAULT, 3);
	ok(f && f->write && f->fault.tid == WRITER, "fuse race: write fault on page 3 got through");
	ok(!find(&r, DX_FINDING_UNBLOCKED_FAULT, 9) && !find(&r, DX_FINDING_DISCARDED_WRITE, 9),
	   "nothing on a page outside the punched range");
	is_int(count(&r, DX_FINDING_BLOCKED_FAULT), 0, "fuse race: no fault waited");
	st = stats_of(c, &file_a);
	ok(st != NULL, "fuse race: file stats exist");
	if (st) {
		is_int(st->punches, 1, "stats: one punch");
		is_int(st->discarded_writes, 1, "stats: one discarded write");
		is_int(st->unblocked_read, 1, "stats: one unblocked read");
		is_int(st->unblocked_write, 1, "stats: one unblocked write");
		is_int(st->punch_ns, 102 * MS, "stats: window length");
		is_int(st->unheld_punches, 1, "stats: a punch that changed data without the lock");
	}
	ok(r.npunches == 1 && r.p[0].changes == 6 && r.p[0].changes_unlocked == 6,
	   "the window's evidence: its request and five deletes, none with the lock");
	dx_correlator_free(c);
}

/* The dirtied page was written back before the punch deleted it: no write lost, the hole refilled. */
static void test_resurrected(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_finding *f;

	punch(&s, 0, 2, 4);
	fuse_fallocate(&s, 1 * MS, 100 * MS);
	page(&s, DX_PAGE_DIRTY, WRITER, 70 * MS, 3, 0);
	io_request(&s, 300, 71 * MS, 3, 1, true); /* sync_file_range's WRITE, before the reply */
	s.ev[s.n - 1].flags |= DX_F_KTHREAD;
	for (uint64_t i = 2; i <= 5; i++)
		delete(&s, 101 * MS + i, i, false, 0); /* clean: the kernel threw no dirty byte away */
	add(&s, DX_PUNCH_END, PUNCHER, 102 * MS);
	c = run(&s, &r);
	is_int(count(&r, DX_FINDING_DISCARDED_WRITE), 0, "written back before the delete: not discarded");
	f = find(&r, DX_FINDING_RESURRECTED_DATA, 3);
	ok(f != NULL, "a WRITE of the punched range after FALLOCATE was sent: resurrected data");
	if (f) {
		is_int(f->fault.tid, WRITER, "resurrected: the task that dirtied the page");
		is_int(f->io.tid, 300, "resurrected: the task that wrote it back");
		ok(!f->certain, "sent before the reply: the server may not have punched yet");
	}
	ok(find(&r, DX_FINDING_UNBLOCKED_FAULT, 3) != NULL, "the write fault that dirtied it got through");
	dx_correlator_free(c);
}

/* A page written back between two stores faults twice: each write fault is its own finding. */
static void test_second_write_fault(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;

	punch(&s, 0, 2, 4);
	fuse_fallocate(&s, 1 * MS, 100 * MS);
	page(&s, DX_PAGE_DIRTY, WRITER, 10 * MS, 3, 0);
	io_request(&s, WRITER, 11 * MS, 3, 1, true); /* sync_file_range: clean and write-protected again */
	page(&s, DX_PAGE_DIRTY, WRITER, 20 * MS, 3, 0);
	add(&s, DX_PUNCH_END, PUNCHER, 102 * MS);
	c = run(&s, &r);
	is_int(count(&r, DX_FINDING_UNBLOCKED_FAULT), 2, "two write faults on one page, a write-back between: two unblocked faults");
	dx_correlator_free(c);
}

/* A clean page deleted is no lost write, whatever dirtied it earlier (its write-back was not seen). */
static void test_clean_delete(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;

	punch(&s, 0, 2, 4);
	fuse_fallocate(&s, 1 * MS, 100 * MS);
	page(&s, DX_PAGE_DIRTY, WRITER, 70 * MS, 3, 0);
	delete(&s, 101 * MS, 3, false, 0);
	add(&s, DX_PUNCH_END, PUNCHER, 102 * MS);
	c = run(&s, &r);
	is_int(count(&r, DX_FINDING_DISCARDED_WRITE), 0, "the kernel threw away no dirty byte: no discarded write");
	ok(find(&r, DX_FINDING_UNBLOCKED_FAULT, 3) != NULL, "the window was judged: the write fault that dirtied it got through");
	dx_correlator_free(c);
	s.ev[s.n - 2].page.cancelled_bytes = 4096; /* the same delete, throwing the dirty page away */
	c = run(&s, &r);
	is_int(count(&r, DX_FINDING_DISCARDED_WRITE), 1, "the same delete with a dirty page thrown away: a discarded write");
	dx_correlator_free(c);
}

/* Reads while the server changes the data: a READ request, and pages read in but removed again after. */
static void test_io_and_refault(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_finding *f;

	punch(&s, 0, 2, 8);
	io_request(&s, READER, 500, 2, 1, false); /* before the data change: ordered before it */
	fuse_fallocate(&s, 1 * MS, 100 * MS);
	io_request(&s, READER, 50 * MS, 4, 2, false);
	page(&s, DX_PAGE_ADD, READER, 50 * MS + 10, 4, 0); /* deleted again by the punch: harmless */
	delete(&s, 101 * MS, 4, false, 0);
	add(&s, DX_PUNCH_END, PUNCHER, 102 * MS);
	c = run(&s, &r);
	f = find(&r, DX_FINDING_IO_DURING_PUNCH, 4);
	ok(f && f->last_page == 5, "a READ of pages 4-5 while the server punched: IO during the punch");
	ok(!find(&r, DX_FINDING_IO_DURING_PUNCH, 2), "a READ before FALLOCATE was sent is not");
	is_int(count(&r, DX_FINDING_REFAULT), 0, "a page read in and deleted by the punch after is no refault");
	dx_correlator_free(c);

	memset(&s, 0, sizeof(s));
	punch(&s, 0, 0, 8);
	delete(&s, 1 * MS, 4, false, 0); /* a local filesystem without the lock: invalidates, then changes extents */
	page(&s, DX_PAGE_ADD, READER, 2 * MS, 4, 0);
	add(&s, DX_PUNCH_END, PUNCHER, 5 * MS);
	c = run(&s, &r);
	ok(find(&r, DX_FINDING_REFAULT, 4) != NULL,
	   "read back into the cache after the punch deleted it, never removed again: refault");
	dx_correlator_free(c);
}

/* The punch's end, with the kernel's totals of its data changes. */
static void punch_end(struct stream *s, uint64_t t, uint32_t changes, uint32_t unknown, uint64_t first, uint64_t last)
{
	struct dx_event *e = add(s, DX_PUNCH_END, PUNCHER, t);

	e->punch_end.changes = changes;
	e->punch_end.lock_unknown = unknown;
	e->punch_end.first_change_ns = T0 + first;
	e->punch_end.last_change_ns = T0 + last;
}

/* A block read of pages FIRST .. LAST by TID (submit_bio). */
static void block_read(struct stream *s, uint32_t tid, uint64_t t, uint64_t first, uint64_t last)
{
	struct dx_event *e = add(s, DX_PAGE_READ, tid, t);

	e->page.index = first;
	e->page.last = last;
}

/*
 * A clone on btrfs drops the destination's cached pages last, after the
 * extents changed (btrfs_clone_files), and its reads wait on the extent
 * range lock it held meanwhile: a page read in behind the truncation, while
 * it still deletes higher pages, holds the clone. The same window on a
 * filesystem daxscope knows no such order of (ext4's magic here, or none in
 * an older capture) is a refault.
 */
static void test_btrfs_clone_adds(void)
{
	const uint32_t magics[] = { 0x9123683E /* BTRFS_SUPER_MAGIC */, 0xEF53 /* EXT4_SUPER_MAGIC */, 0 };

	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		struct stream s = { 0 };
		struct result r;
		struct dx_correlator *c;
		struct dx_event *e;

		operation(&s, DX_OP_CLONE_RANGE, 0, 0, 4);
		for (uint64_t p = 0; p < 4; p++)
			delete(&s, 3 * MS + p * 100, p, true, 0);
		page(&s, DX_PAGE_ADD, READER, 3 * MS + 150, 0, 0); /* behind the truncation */
		block_read(&s, READER, 3 * MS + 160, 0, 0);
		e = add(&s, DX_PUNCH_END, PUNCHER, 5 * MS);
		e->punch_end.op = DX_OP_CLONE_RANGE;
		e->punch_end.changes = 4;
		e->punch_end.first_change_ns = T0 + 3 * MS;
		e->punch_end.last_change_ns = T0 + 3 * MS + 300;
		e->punch_end.fs_magic = magics[i];
		c = run(&s, &r);
		if (!i)
			is_int(r.n, 0, "btrfs clone: a page read in behind its last-of-all truncation is no refault");
		else
			ok(r.n == 1 && find(&r, DX_FINDING_REFAULT, 0),
			   magics[i] ? "the same on ext4: a refault" : "the same with the filesystem not known: a refault");
		dx_correlator_free(c);
	}
}

/*
 * 5.10's read()/readahead take no fault lock: a page read in from the blocks
 * between the punch's page deletes and its last extent change may hold what
 * the punch removed, although the punch held its lock throughout; one of the
 * hole is zero-filled, with no block read.
 */
static void test_readahead_under_held_lock(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_finding *f;
	const struct dx_file_stats *st;

	punch(&s, 0, 0, 16);
	page(&s, DX_PAGE_ADD, READER, 500, 2, 0); /* before the data change: deleted or read before */
	delete(&s, 1 * MS, 2, true, 0);
	delete(&s, 1 * MS + 1, 3, true, 0);
	block_read(&s, READER, 1 * MS + 500, 2, 2); /* read before its add: another page's read */
	page(&s, DX_PAGE_ADD, READER, 2 * MS, 3, 0); /* after its delete, before the extents went */
	page(&s, DX_PAGE_ADD, READER, 2 * MS, 2, 0);
	page(&s, DX_PAGE_ADD, READER, 2 * MS, 4, 0); /* mapped the hole: zero-filled, no block read */
	block_read(&s, READER, 2 * MS + 10, 3, 3);
	page(&s, DX_PAGE_ADD, PUNCHER, 2 * MS + 1, 5, 0); /* the punch's own */
	block_read(&s, PUNCHER, 2 * MS + 2, 5, 5);
	page(&s, DX_PAGE_ADD, READER, 2 * MS + 3, 7, 0); /* mapped before the extents went, read after the punch */
	page(&s, DX_PAGE_ADD, READER, 4 * MS, 6, 0); /* after the extents went: the hole, no block read */
	punch_end(&s, 5 * MS, 3, 0, 1 * MS, 3 * MS);
	block_read(&s, READER, 6 * MS, 7, 7);
	c = run(&s, &r);
	is_int(r.n, 2, "readahead under a held lock: two findings");
	ok(find(&r, DX_FINDING_REFAULT, 7) != NULL, "a block read sent after the punch ended still counts");
	f = find(&r, DX_FINDING_REFAULT, 3);
	ok(f && f->fault.tid == READER && f->punch.tid == PUNCHER,
	   "a page read in from the blocks while the data changed, never removed: refault, with reader and punch");
	ok(!find(&r, DX_FINDING_REFAULT, 4) && !find(&r, DX_FINDING_REFAULT, 2),
	   "pages added meanwhile with no block read since (the hole, zero-filled) are none");
	ok(r.npunches == 1 && dx_punch_held_lock(&r.p[0]), "... although the punch held its lock");
	st = stats_of(c, &file_a);
	ok(st && st->held_punches == 1 && st->refaults == 2, "the file counts a held punch and its refaults");
	dx_correlator_free(c);

	/*
	 * The read of pages a reader added in the window is sent after the
	 * punch returned, once the next punch has begun (back-to-back punches):
	 * it is still the first window's refault, and no finding of the second,
	 * which added none of them.
	 */
	memset(&s, 0, sizeof(s));
	punch(&s, 0, 0, 16);
	delete(&s, 1 * MS, 7, true, 0);
	page(&s, DX_PAGE_ADD, READER, 2 * MS, 7, 0);
	punch_end(&s, 3 * MS, 2, 0, 1 * MS, 2 * MS + 500);
	punch(&s, 4 * MS, 0, 16);
	block_read(&s, READER, 5 * MS, 7, 7);
	punch_end(&s, 6 * MS, 1, 0, 5 * MS + 500, 5 * MS + 500);
	c = run(&s, &r);
	f = find(&r, DX_FINDING_REFAULT, 7);
	ok(f && f->punch_begin_ns == T0 && r.n == 1,
	   "a block read sent once the next punch began: the refault of the window that added the page");
	dx_correlator_free(c);

	/*
	 * The first window added a page of its hole (zero-filled: no read);
	 * the next punch deleted it, and the read of the page added after that
	 * (in no window) is no refault of the first (ext4_rows.t, 5.10: 272 such).
	 */
	memset(&s, 0, sizeof(s));
	punch(&s, 0, 0, 16);
	delete(&s, 1 * MS, 7, true, 0);
	page(&s, DX_PAGE_ADD, READER, 2 * MS, 7, 0);
	punch_end(&s, 3 * MS, 2, 0, 1 * MS, 2 * MS + 500);
	punch(&s, 4 * MS, 0, 16);
	delete(&s, 5 * MS, 7, true, 0);
	punch_end(&s, 6 * MS, 1, 0, 5 * MS, 5 * MS);
	block_read(&s, READER, 7 * MS, 7, 7);
	c = run(&s, &r);
	ok(r.n == 0, "a read after the next punch deleted the first window's page: no refault");
	dx_correlator_free(c);

	/*
	 * btrfs (6.12 guest, daxcheck --verdict): a reader's page added in the
	 * hole while the range was locked (zero-filled, no block read); after
	 * the window the workload drops the cache (POSIX_FADV_DONTNEED, a delete
	 * by the punch's task once its window ended) and reads the file back,
	 * the store it made since written: that block read is of another page.
	 */
	memset(&s, 0, sizeof(s));
	punch(&s, 0, 0, 16);
	delete(&s, 1 * MS, 7, true, 0);
	page(&s, DX_PAGE_ADD, READER, 2 * MS, 7, 0);
	punch_end(&s, 3 * MS, 2, 0, 1 * MS, 2 * MS + 500);
	delete(&s, 27 * MS, 7, false, 0);
	block_read(&s, PUNCHER, 28 * MS, 6, 8);
	c = run(&s, &r);
	is_int(r.n, 0, "a read after the page was dropped from the cache since its add (read-back): no refault");
	dx_correlator_free(c);

	memset(&s, 0, sizeof(s)); /* the same page read from the blocks before it was dropped: it was stale in the cache */
	punch(&s, 0, 0, 16);
	delete(&s, 1 * MS, 7, true, 0);
	page(&s, DX_PAGE_ADD, READER, 2 * MS, 7, 0);
	punch_end(&s, 3 * MS, 2, 0, 1 * MS, 2 * MS + 500);
	block_read(&s, READER, 13 * MS, 7, 7);
	delete(&s, 27 * MS, 7, false, 0);
	block_read(&s, PUNCHER, 28 * MS, 7, 7);
	c = run(&s, &r);
	f = find(&r, DX_FINDING_REFAULT, 7);
	ok(f && f->fault.tid == READER && r.n == 1, "read from the blocks after the punch, dropped later: still a refault");
	dx_correlator_free(c);

	/*
	 * The punch found the cache empty: its truncation deleted nothing and
	 * dated no change; the first is the removal of the extents. A page read
	 * in between holds what the punch removes all the same.
	 */
	memset(&s, 0, sizeof(s));
	punch(&s, 0, 0, 16);
	page(&s, DX_PAGE_ADD, READER, 1 * MS, 2, 0);
	block_read(&s, READER, 1 * MS + 10, 2, 2);
	page(&s, DX_PAGE_ADD, READER, 1 * MS + 20, 3, 0); /* the hole: no block read */
	punch_end(&s, 5 * MS, 1, 0, 3 * MS, 3 * MS);
	c = run(&s, &r);
	f = find(&r, DX_FINDING_REFAULT, 2);
	ok(f && f->fault.tid == READER && r.n == 1,
	   "a page read in from the blocks before the first dated change, never removed: refault");
	dx_correlator_free(c);

	memset(&s, 0, sizeof(s)); /* the same with the page removed by the punch after: harmless */
	punch(&s, 0, 0, 16);
	page(&s, DX_PAGE_ADD, READER, 1 * MS, 2, 0);
	block_read(&s, READER, 1 * MS + 10, 2, 2);
	delete(&s, 2 * MS, 2, true, 0);
	punch_end(&s, 5 * MS, 1, 0, 2 * MS, 3 * MS);
	c = run(&s, &r);
	is_int(r.n, 0, "a page read in before the truncation reached it is removed by it: no finding");
	dx_correlator_free(c);

	memset(&s, 0, sizeof(s)); /* a read request while a held punch changes data */
	punch(&s, 0, 0, 16);
	delete(&s, 1 * MS, 2, true, 0);
	io_request(&s, READER, 2 * MS, 2, 1, false);
	punch_end(&s, 5 * MS, 2, 0, 1 * MS, 3 * MS);
	io_request(&s, READER, 6 * MS, 3, 1, false); /* after the punch */
	c = run(&s, &r);
	ok(find(&r, DX_FINDING_IO_DURING_PUNCH, 2) && r.n == 1,
	   "a read while a held punch changed data is IO during the punch; one after it is not");
	dx_correlator_free(c);

	memset(&s, 0, sizeof(s)); /* a collapse leaves no hole: after its last change the blocks read are the new ones */
	punch(&s, 0, 0, 16);
	s.ev[0].punch.op = DX_OP_COLLAPSE_RANGE;
	delete(&s, 1 * MS, 2, true, 0);
	page(&s, DX_PAGE_ADD, READER, 4 * MS, 3, 0);
	block_read(&s, READER, 4 * MS + 10, 3, 3);
	punch_end(&s, 5 * MS, 2, 0, 1 * MS, 3 * MS);
	c = run(&s, &r);
	is_int(r.n, 0, "collapse: a page read in from the blocks after its last change is no refault");
	dx_correlator_free(c);
}

/* Before its filesystem's faults showed the fault lock, a window is neither held nor judged for the rule. */
static void test_lock_unknown(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_file_stats *st;

	punch(&s, 0, 0, 16);
	page(&s, DX_PAGE_DELETE, PUNCHER, 1 * MS, 3, DX_F_LOCK_UNKNOWN);
	page(&s, DX_FILEMAP_FAULT, WRITER, 2 * MS, 3, 0); /* no wait seen: the lock was not watched yet */
	page(&s, DX_PAGE_DIRTY, WRITER, 2 * MS + 1, 3, 0);
	page(&s, DX_PAGE_ADD, READER, 2 * MS + 2, 4, 0);
	block_read(&s, READER, 2 * MS + 3, 4, 7);
	punch_end(&s, 5 * MS, 2, 2, 1 * MS, 3 * MS);
	c = run(&s, &r);
	is_int(count(&r, DX_FINDING_UNBLOCKED_FAULT), 0, "lock unknown: a fault that did not wait is no finding");
	ok(find(&r, DX_FINDING_REFAULT, 4) != NULL, "lock unknown: a page read in while the data changed still is");
	ok(r.npunches == 1 && !dx_punch_held_lock(&r.p[0]) && r.p[0].changes_lock_unknown == 2 &&
		   !r.p[0].changes_unlocked,
	   "the window says its lock was unknown at 2 changes, not held, not without it");
	st = stats_of(c, &file_a);
	ok(st && st->lock_unknown_punches == 1 && !st->held_punches && !st->unheld_punches,
	   "the file counts it apart from held and unheld punches");
	dx_correlator_free(c);

	memset(&s, 0, sizeof(s)); /* events alone, without the kernel's totals */
	punch(&s, 0, 0, 16);
	page(&s, DX_PAGE_DELETE, PUNCHER, 1 * MS, 3, DX_F_LOCK_UNKNOWN);
	delete(&s, 1 * MS + 1, 4, true, 0); /* learned meanwhile */
	add(&s, DX_PUNCH_END, PUNCHER, 5 * MS);
	c = run(&s, &r);
	ok(r.npunches == 1 && r.p[0].changes == 2 && r.p[0].changes_lock_unknown == 1 && !r.p[0].changes_unlocked &&
		   !dx_punch_held_lock(&r.p[0]),
	   "page deletes flagged lock-unknown count as such, not as without the lock");
	dx_correlator_free(c);
}

/* The operation's own work and kernel threads never make a finding. */
static void test_own_work(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_file_stats *st;

	punch(&s, 0, 2, 4);
	fuse_fallocate(&s, 1 * MS, 100 * MS);
	page(&s, DX_PAGE_DIRTY, PUNCHER, 100 * MS + 10, 2, 0);       /* zeroing its partial first page */
	page(&s, DX_PAGE_DIRTY, 77, 100 * MS + 20, 5, DX_F_KTHREAD); /* the journal */
	delete(&s, 101 * MS + 2, 2, false, 2);
	delete(&s, 101 * MS + 5, 5, false, 0);
	add(&s, DX_PUNCH_END, PUNCHER, 102 * MS);
	c = run(&s, &r);
	is_int(r.n, 0, "the punch's own dirtying and a kernel thread's: no finding");
	st = stats_of(c, &file_a);
	ok(st && st->own_work == 2, "both counted as the operation's own work");
	dx_correlator_free(c);
}

/*
 * The operation's own write requests: a copy whose server sent WRITEs of its
 * own (the kernel's page-cache copy after the server refused
 * COPY_FILE_RANGE), a truncate's held-off write-backs of a page it cuts.
 */
static void test_own_write_backs(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_file_stats *st;

	operation(&s, DX_OP_COPY_RANGE, 0, 2, 4);
	fuse_fallocate(&s, 1 * MS, 2 * MS);
	page(&s, DX_PAGE_DIRTY, PUNCHER, 3 * MS, 3, 0);
	io_request(&s, PUNCHER, 4 * MS, 2, 4, true);
	add(&s, DX_PUNCH_END, PUNCHER, 5 * MS);
	c = run(&s, &r);
	is_int(r.n, 0, "a copy writing its destination through the page cache: its own WRITEs are no finding");
	st = stats_of(c, &file_a);
	ok(st && st->own_work >= 1, "counted as the operation's own work");
	dx_correlator_free(c);

	memset(&s, 0, sizeof(s));
	operation(&s, DX_OP_TRUNCATE, 0, 4, 4);
	fuse_fallocate(&s, 1 * MS, 10 * MS);
	page(&s, DX_PAGE_DIRTY, WRITER, 5 * MS, 6, 0);
	io_request(&s, PUNCHER, 11 * MS, 6, 1, true); /* fuse_release_nowrite: clipped at the new size */
	io_request(&s, 300, 11 * MS + 5, 6, 1, true);
	add(&s, DX_PUNCH_END, PUNCHER, 12 * MS);
	c = run(&s, &r);
	is_int(count(&r, DX_FINDING_RESURRECTED_DATA), 0, "write-backs of a page a truncate cuts resurrect nothing");
	dx_correlator_free(c);
}

/* A window whose guard is no fault lock is neither held nor unheld. */
static void test_lockless_guard(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_file_stats *st;

	operation(&s, DX_OP_TRUNCATE, 0, 4, 4);
	delete(&s, 1 * MS, 5, false, 0);
	add(&s, DX_PUNCH_END, PUNCHER, 2 * MS)->punch_end.guard = DX_GUARD_I_SIZE;
	c = run(&s, &r);
	st = stats_of(c, &file_a);
	ok(st && st->lockless_punches == 1 && !st->unheld_punches && !st->held_punches,
	   "a btrfs or tmpfs truncate: no fault lock is its guard, never \"without the lock\"");
	ok(r.npunches == 1 && r.p[0].guard == DX_GUARD_I_SIZE, "the window says what keeps faults out");
	dx_correlator_free(c);
}

/* A truncate cuts the pages beyond the new end of file whatever the order: no lost write there. */
static void test_truncate_cut(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;

	operation(&s, DX_OP_TRUNCATE, 0, 4, 4);
	fuse_fallocate(&s, 1 * MS, 10 * MS);
	page(&s, DX_PAGE_DIRTY, WRITER, 5 * MS, 6, 0);
	page(&s, DX_MAP_FAULT, READER, 6 * MS, 5, 0);
	io_request(&s, READER, 7 * MS, 5, 2, false);
	delete(&s, 11 * MS, 6, false, 1);
	add(&s, DX_PUNCH_END, PUNCHER, 12 * MS);
	c = run(&s, &r);
	is_int(r.n, 0, "faults, writes and reads beyond the new end of file in a truncate: no finding");
	ok(r.npunches == 1 && r.p[0].changes == 2, "the window was judged: its request and its delete");
	dx_correlator_free(c);
	s.ev[0].punch.op = DX_OP_PUNCH_HOLE; /* the same events in a hole punch of those pages */
	c = run(&s, &r);
	ok(find(&r, DX_FINDING_DISCARDED_WRITE, 6) && find(&r, DX_FINDING_UNBLOCKED_FAULT, 5),
	   "the same events in a hole punch: the write discarded, the fault through");
	dx_correlator_free(c);
}


static void test_certain_loss(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_finding *f;

	punch(&s, 0, 2, 4);
	fuse_fallocate(&s, 1 * MS, 100 * MS);
	page(&s, DX_PAGE_DIRTY, WRITER, 100 * MS + 600, 2, 0);
	delete(&s, 101 * MS, 2, false, 1);
	add(&s, DX_PUNCH_END, PUNCHER, 102 * MS);
	c = run(&s, &r);
	f = find(&r, DX_FINDING_DISCARDED_WRITE, 2);
	ok(f && f->certain, "dirtied after the FUSE reply, then deleted: certain loss");
	dx_correlator_free(c);
}

/* ext4-like: the punch deletes pages under its lock; later faults wait for it. */
static void test_blocked_after_invalidation(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_finding *f;
	const struct dx_file_stats *st;

	punch(&s, 0, 0, 16);
	page(&s, DX_MAP_FAULT, READER, 5 * MS, 3, 0); /* before the delete: harmless */
	delete(&s, 10 * MS, 3, true, 0);
	page(&s, DX_PUNCH_END, PUNCHER, 49 * MS, 0, 0);
	lock_wait(&s, WRITER, 50 * MS, 38 * MS); /* waited from 12 ms, woken by the punch's unlock */
	page(&s, DX_FILEMAP_FAULT, WRITER, 50 * MS + 100, 3, 0);
	page(&s, DX_PAGE_DIRTY, WRITER, 50 * MS + 200, 3, 0);
	c = run(&s, &r);
	is_int(r.n, 1, "ext4-like: exactly one finding");
	f = find(&r, DX_FINDING_BLOCKED_FAULT, 3);
	ok(f != NULL, "the fault after the delete waited: blocked");
	if (f) {
		is_int(f->wait_ns, 38 * MS, "blocked fault: wait time");
		is_int(f->fault.tid, WRITER, "blocked fault: waiter");
		is_int(f->punch.tid, PUNCHER, "blocked fault: held by the punch");
		ok(f->write, "blocked fault: a write");
	}
	st = stats_of(c, &file_a);
	ok(st != NULL, "ext4-like: file stats exist");
	if (st) {
		is_int(st->early, 1, "the read before the delete counts as early");
		is_int(st->unblocked_read + st->unblocked_write, 0, "ext4-like: nothing got through");
		is_int(st->lock_waits.count, 1, "lock waits: count");
		is_int(st->lock_waits.max_ns, 38 * MS, "lock waits: max");
		is_int(st->read_waits, 1, "lock waits: a shared (fault) waiter");
		is_int(st->last_holder.tid, PUNCHER, "lock waits: holder is the punch");
		is_int(st->held_punches, 1, "the punch held its lock at every data change");
	}
	dx_correlator_free(c);
}

/* A wait belongs to the fault in progress, never to one the same task already finished. */
static void test_wait_after_finished_fault(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_finding *f;

	punch(&s, 0, 0, 64);
	page(&s, DX_DAX_FAULT, WRITER, 1 * MS, 10, DX_F_WRITE); /* finished before the punch took the lock */
	lock_wait(&s, WRITER, 30 * MS, 25 * MS);                 /* the next fault, on page 11, waited */
	page(&s, DX_DAX_FAULT, WRITER, 30 * MS + 10, 11, DX_F_WRITE);
	add(&s, DX_PUNCH_END, PUNCHER, 29 * MS);
	c = run(&s, &r);
	f = find(&r, DX_FINDING_BLOCKED_FAULT, 11);
	ok(f && f->wait_ns == 25 * MS && f->t_ns == T0 + 5 * MS, "the wait is the second fault's, from when it began waiting");
	ok(!find(&r, DX_FINDING_BLOCKED_FAULT, 10), "the finished fault did not wait");
	dx_correlator_free(c);
}

/* A write before the punch changed anything may be ordered before it: erasing it is right. */
static void test_write_before_data_change(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_file_stats *st;

	punch(&s, 0, 0, 16);
	page(&s, DX_PAGE_DIRTY, WRITER, 1 * MS, 5, 0); /* before the first delete */
	delete(&s, 2 * MS, 4, false, 0);
	page(&s, DX_PAGE_DIRTY, WRITER, 3 * MS, 6, 0); /* after deletes began, without the lock: got through */
	delete(&s, 4 * MS, 5, false, 2);
	delete(&s, 4 * MS + 1, 6, false, 0);
	add(&s, DX_PUNCH_END, PUNCHER, 5 * MS);
	c = run(&s, &r);
	ok(!find(&r, DX_FINDING_DISCARDED_WRITE, 5), "dirtied before the data change: erased, no finding");
	ok(find(&r, DX_FINDING_DISCARDED_WRITE, 6) != NULL, "dirtied after the punch began deleting: discarded");
	st = stats_of(c, &file_a);
	ok(st && st->erased_before == 1, "the earlier write is counted as erased before the change");
	dx_correlator_free(c);

	/* the same under the lock (ext4): nothing can get through */
	for (size_t i = 0; i < s.n; i++)
		if (s.ev[i].kind == DX_PAGE_DELETE)
			s.ev[i].flags |= DX_F_LOCKED;
	c = run(&s, &r);
	is_int(r.n, 0, "a punch holding its lock at every delete: no finding");
	st = stats_of(c, &file_a);
	ok(st && st->erased_before == 2, "both writes were ordered before it");
	dx_correlator_free(c);
}

/* A fault after the punch deleted its page, without waiting: through if the lock was free, impossible if held. */
static void test_unblocked_after_invalidation(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;

	punch(&s, 0, 0, 16);
	delete(&s, 10 * MS, 2, false, 0);
	delete(&s, 10 * MS, 4, false, 0); /* order-2 folio: pages 4..7 */
	page(&s, DX_FILEMAP_FAULT, READER, 12 * MS + 10, 6, 0);
	add(&s, DX_PUNCH_END, PUNCHER, 30 * MS);
	s.ev[2].page.order = 2;
	c = run(&s, &r);
	ok(find(&r, DX_FINDING_UNBLOCKED_FAULT, 6) != NULL,
	   "fault inside a deleted large folio, the lock free at the delete: unblocked");
	dx_correlator_free(c);

	s.ev[1].flags = s.ev[2].flags = DX_F_LOCKED;
	c = run(&s, &r);
	is_int(r.n, 0, "the same with the lock held at every delete: the fault ran outside the hold");
	dx_correlator_free(c);
}

/*
 * Fault-around fires for the pages it maps, not only the faulting one: a read
 * whose page the punch had deleted goes on to filemap_fault and the lock. If
 * the punch let go in between, it rightly goes on, though a waiter that the
 * scheduler woke late still seems to show the lock held.
 */
static void test_fault_around_then_lock_released(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_file_stats *st;

	punch(&s, 0, 2, 4);
	delete(&s, 5 * MS, 4, true, 0);
	page(&s, DX_MAP_FAULT, READER, 20 * MS, 4, 0);          /* mapped pages 0-1 around page 4 */
	add(&s, DX_PUNCH_END, PUNCHER, 20 * MS + 50);            /* let go just before */
	page(&s, DX_FILEMAP_FAULT, READER, 20 * MS + 80, 4, 0); /* took the free lock */
	lock_wait(&s, WRITER, 23 * MS, 22 * MS);                 /* woken 3 ms late */
	page(&s, DX_FILEMAP_FAULT, WRITER, 23 * MS + 10, 3, 0);
	c = run(&s, &r);
	ok(!find(&r, DX_FINDING_UNBLOCKED_FAULT, 4), "a read that reached the lock after the punch let go is not unblocked");
	ok(find(&r, DX_FINDING_BLOCKED_FAULT, 3) != NULL, "the late-woken waiter is blocked");
	st = stats_of(c, &file_a);
	ok(st && st->unblocked_read + st->unblocked_write == 0, "stats: nothing got through");
	dx_correlator_free(c);
}

/* Fault-around whose faulting address was not seen: one of the punched pages it mapped, all of them reported. */
static void test_map_fault_range_only(void)
{
	struct stream s = { 0 };
	struct result r;
	const struct dx_finding *f;
	struct dx_correlator *c;
	struct dx_event *e;

	punch(&s, 0, 2, 4);
	fuse_fallocate(&s, 1 * MS, 50 * MS);
	e = add(&s, DX_MAP_FAULT, READER, 20 * MS);
	e->page.index = 0;
	e->page.last = 15;
	add(&s, DX_PUNCH_END, PUNCHER, 60 * MS);
	c = run(&s, &r);
	f = find(&r, DX_FINDING_UNBLOCKED_FAULT, 2);
	ok(f && f->last_page == 5,
	   "fault-around over the punched range, page unknown: reported on the punched pages it mapped, 2-5");
	dx_correlator_free(c);
}

/* DAX: no page cache to delete; a fault that did not wait got through once FUSE sent the punch. */
static void test_dax_fault_without_wait(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_finding *f;

	punch(&s, 0, 0, 512);
	page(&s, DX_DAX_FAULT, READER, 1 * MS, 100, DX_F_PMD); /* before the punch reached the server */
	fuse_fallocate(&s, 2 * MS, 8 * MS);
	page(&s, DX_DAX_FAULT, READER, 3 * MS, 200, 0);
	add(&s, DX_PUNCH_END, PUNCHER, 10 * MS);
	c = run(&s, &r);
	ok(!find(&r, DX_FINDING_UNBLOCKED_FAULT, 100), "a DAX fault before the data changed is early");
	f = find(&r, DX_FINDING_UNBLOCKED_FAULT, 200);
	ok(f && f->dax, "a DAX fault after FALLOCATE went to the server, without waiting, got through");
	dx_correlator_free(c);

	/* a copy writes in place: a DAX fault maps the file's own memory, nothing goes stale */
	s.ev[0].punch.op = DX_OP_COPY_RANGE;
	c = run(&s, &r);
	is_int(r.n, 0, "a DAX fault during an unlocked copy_file_range is no finding");
	is_int(stats_of(c, &file_a)->dax_in_place, 1, "it is counted as a DAX fault during an in-place copy");
	dx_correlator_free(c);
	s.ev[3].kind = DX_FILEMAP_FAULT; /* the same through a page cache: stale */
	c = run(&s, &r);
	ok(find(&r, DX_FINDING_UNBLOCKED_FAULT, 200), "a page-cache fault during the same copy got through");
	dx_correlator_free(c);
	s.ev[0].punch.op = DX_OP_PUNCH_HOLE;
	s.ev[3].kind = DX_DAX_FAULT;

	/* virtio-fs DAX holds the invalidate lock while it sends FALLOCATE */
	s.ev[2].flags |= DX_F_LOCKED;
	c = run(&s, &r);
	is_int(r.n, 0, "with the lock held when FALLOCATE was sent, no DAX fault got through");
	dx_correlator_free(c);
}

static void test_out_of_order(void)
{
	struct stream s = { 0 }, shuffled;
	struct result a, b;
	struct dx_correlator *ca, *cb;

	fuse_race(&s);
	ca = run(&s, &a);
	/* CPUs stamp before they reserve: swap neighbours, each within the reorder window */
	shuffled = s;
	srand(7);
	for (size_t round = 0; round < 200; round++) {
		size_t i = (size_t)rand() % (shuffled.n - 1);

		if (shuffled.ev[i + 1].ts - shuffled.ev[i].ts < 5 * MS ||
		    shuffled.ev[i].ts - shuffled.ev[i + 1].ts < 5 * MS) {
			struct dx_event t = shuffled.ev[i];

			shuffled.ev[i] = shuffled.ev[i + 1];
			shuffled.ev[i + 1] = t;
		}
	}
	ok(memcmp(&shuffled, &s, sizeof(s)) != 0, "out of order: the stream really was shuffled");
	cb = run(&shuffled, &b);
	is_int(b.n, a.n, "out of order: same number of findings");
	for (size_t i = 0; i < a.n && i < b.n; i++)
		ok(a.f[i].kind == b.f[i].kind && a.f[i].page_index == b.f[i].page_index &&
			   a.f[i].fault.tid == b.f[i].fault.tid,
		   "out of order: finding %zu identical", i);
	dx_correlator_free(ca);
	dx_correlator_free(cb);
}

/*
 * Punch begins that arrive later than the reorder delay, each earlier than
 * the last: the first 16 late ones are kept apart and looked at one by one,
 * later ones are taken as beginning when they arrived, and say so.
 */
static void test_late_begins(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	size_t marked = 0;

	add(&s, DX_FAULT_DONE, 7, 1000 * MS); /* a bystander's event far ahead: every begin after it is late */
	for (uint32_t i = 0; i < 20; i++) {
		struct dx_event *e = add(&s, DX_PUNCH_BEGIN, 1000 + i, (500 - i) * MS);

		e->punch.op = DX_OP_PUNCH_HOLE;
		e->punch.len = 4096;
	}
	c = run(&s, &r);
	is_int(r.npunches, 20, "late begins: every window judged");
	for (size_t i = 0; i < r.npunches; i++)
		marked += r.p[i].incomplete;
	ok(!r.p[0].incomplete && !r.p[16].incomplete, "late begins: the first and 16 late ones are placed exactly");
	is_int(marked, 3, "late begins: the 3 past the limit are marked incomplete");
	ok(r.p[19].incomplete && r.p[19].begin_ns == T0 + 481 * MS, "... keeping their own begin");
	dx_correlator_free(c);
}

static void test_lost_in_middle(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;

	fuse_race(&s);
	for (size_t i = 3; i < s.n; i++)
		s.ev[i].lost = 3; /* three events vanished between the 3rd and 4th */
	c = run(&s, &r);
	is_int(dx_correlator_lost(c), 3, "lost events counted");
	ok(r.n > 0, "findings still reported after a loss");
	for (size_t i = 0; i < r.n; i++)
		ok(r.f[i].incomplete, "finding %zu flagged incomplete", i);
	dx_correlator_free(c);
}

/*
 * Measured on fuse-overlayfs: the write fault marked page 3 dirty, but the
 * punch unmapped the page before the store retired; the store faulted again
 * on the new page after the punch and survived.
 */
static void retried_store(struct stream *s, bool other_page_between)
{
	punch(s, 0, 2, 4);
	fuse_fallocate(s, MS / 2, 5 * MS);
	page(s, DX_PAGE_DIRTY, WRITER, 1 * MS, 3, 0);
	if (other_page_between) /* the writer moved on: its store to page 3 had retired */
		page(s, DX_PAGE_DIRTY, WRITER, 2 * MS, 9, 0);
	for (uint64_t i = 2; i <= 5; i++)
		delete(s, 6 * MS + i, i, false, i == 2);
	add(s, DX_PUNCH_END, PUNCHER, 7 * MS);
	page(s, DX_FILEMAP_FAULT, WRITER, 8 * MS, 3, DX_F_WRITE);
	page(s, DX_PAGE_DIRTY, WRITER, 8 * MS + 10, 3, 0);
}

static void test_retried_store(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_finding *f;

	retried_store(&s, false);
	c = run(&s, &r);
	f = find(&r, DX_FINDING_DISCARDED_WRITE, 3);
	ok(f && f->refaulted, "dirtied, deleted, then the writer's next fault is on the same page: refaulted");
	is_int(f ? f->deleted_ns : 0, T0 + 6 * MS + 3, "discarded write: when the punch deleted its page");
	dx_correlator_free(c);

	memset(&s, 0, sizeof(s));
	retried_store(&s, true);
	c = run(&s, &r);
	f = find(&r, DX_FINDING_DISCARDED_WRITE, 3);
	ok(f && !f->refaulted, "a fault on another page came first: the store had retired, not refaulted");
	dx_correlator_free(c);
}

static void test_punch_windows(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	struct dx_event *e;

	punch(&s, 0, 2, 4);
	fuse_fallocate(&s, 1 * MS, 9 * MS);
	e = add(&s, DX_PUNCH_END, PUNCHER, 10 * MS);
	e->punch_end.ret = -95; /* EOPNOTSUPP */
	e = add(&s, DX_PUNCH_BEGIN, READER, 20 * MS);
	e->punch.op = DX_OP_TRUNCATE;
	e->punch.len = UINT64_MAX;
	e = add(&s, DX_PUNCH_END, READER, 30 * MS);
	e->flags = DX_F_ABORTED | DX_F_FAULTS_UNWATCHED;
	punch(&s, 40 * MS, 0, 1); /* never ends */
	c = run(&s, &r);
	is_int(r.npunches, 3, "every window is handed to on_punch once judged");
	if (r.npunches == 3) {
		is_int(r.p[0].begin_ns, T0, "punch: begin");
		is_int(r.p[0].end_ns, T0 + 10 * MS, "punch: end");
		is_int(r.p[0].ret, -95, "punch: the syscall's return value");
		ok(r.p[0].fuse_sent_ns == T0 + 1 * MS && r.p[0].fuse_reply_ns == T0 + 9 * MS,
		   "punch: its FUSE FALLOCATE, sent and answered");
		ok(r.p[0].task.tid == PUNCHER && r.p[0].offset == 8192 && r.p[0].len == 16384 &&
			   r.p[0].op == DX_OP_PUNCH_HOLE,
		   "punch: task, range and operation");
		ok(r.p[1].aborted && r.p[1].op == DX_OP_TRUNCATE && !r.p[1].unterminated,
		   "a task that exited inside its window: aborted");
		ok(r.p[2].unterminated && !r.p[2].aborted, "a window whose end never came: unterminated");
		ok(r.p[1].faults_unwatched && !r.p[0].faults_unwatched && !r.p[2].faults_unwatched,
		   "a window the kernel marked as opened before the fault hooks: faults_unwatched, the others not");
	}
	is_int(dx_correlator_file(c, 0)->unwatched_punches, 1, "the file counts its unwatched window");
	dx_correlator_free(c);
}

/*
 * The kernel's end of a FUSE punch window with its totals: CHANGES data
 * changes (none with the lock), the first at FIRST_CHANGE, ONE dirty page
 * thrown away; FLAGS as the kernel set them.
 */
static void fuse_punch_end(struct stream *s, uint64_t t, uint32_t changes, uint64_t first_change, uint16_t flags)
{
	struct dx_event *e = add(s, DX_PUNCH_END, PUNCHER, t);

	e->punch_end.op = DX_OP_PUNCH_HOLE;
	e->punch_end.changes = changes;
	e->punch_end.unlocked = changes;
	e->punch_end.first_change_ns = first_change;
	e->punch_end.cancelled_bytes = 4096;
	e->flags = flags;
}

/* The store at 70 ms and the load at 71 ms of the measured race, then the punch's deletes after the reply. */
static void fuse_race_accesses(struct stream *s)
{
	punch(s, 0, 2, 4);
	page(s, DX_PAGE_DIRTY, WRITER, 70 * MS, 3, 0);
	page(s, DX_MAP_FAULT, READER, 71 * MS, 4, 0);
	for (uint64_t i = 2; i <= 5; i++)
		delete(s, 101 * MS + i, i, false, i == 2);
}

/*
 * Tracepoints only, before 6.11 (5.10): the kernel dates the change at the
 * server's read of FALLOCATE from /dev/fuse (3 ms, after the punch blocked in
 * its send) and makes the request's event at the server's reply write; the
 * end's totals carry the receipt as the first change. The race is found as
 * where the send is seen.
 */
static void test_fuse_dated_at_receipt(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_finding *f;

	fuse_race_accesses(&s);
	fuse_fallocate(&s, 3 * MS, 100 * MS);
	fuse_punch_end(&s, 102 * MS, 5, T0 + 3 * MS, 0);
	c = run(&s, &r);
	f = find(&r, DX_FINDING_DISCARDED_WRITE, 3);
	ok(f && f->fault.tid == WRITER, "dated at the server's receipt: the store at 70 ms is a discarded write");
	ok(f && f->data_change_ns == T0 + 3 * MS, "... after the data change, which began at the receipt");
	ok(find(&r, DX_FINDING_UNBLOCKED_FAULT, 4) != NULL, "... and the load at 71 ms an unblocked fault");
	ok(r.npunches == 1 && r.p[0].fuse_sent_ns == T0 + 3 * MS && r.p[0].fuse_reply_ns == T0 + 100 * MS &&
		   !r.p[0].change_undated,
	   "the window: its request received and answered, dated");
	is_int(dx_correlator_file(c, 0)->undated_punches, 0, "the file counts no undated window");
	dx_correlator_free(c);
}

/*
 * No probe dated the request (no tracepoint, no fentry, a server that
 * splices): the kernel's first change is the delete after the reply, so the
 * store comes before it, as on 6.1 and 5.10 before dating (issue 19). The
 * kernel marks the window; it is carried to the window and the file, and
 * never passes for a window that held its lock.
 */
static void test_fuse_undated(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_file_stats *st;

	fuse_race_accesses(&s);
	fuse_punch_end(&s, 102 * MS, 4, T0 + 101 * MS + 2, DX_F_CHANGE_UNDATED);
	c = run(&s, &r);
	is_int(count(&r, DX_FINDING_DISCARDED_WRITE), 0, "undated: the store cannot be ordered after the change");
	ok(r.npunches == 1 && r.p[0].change_undated && !r.p[0].faults_unwatched, "the window is marked change_undated");
	ok(r.npunches == 1 && r.p[0].changes_unlocked > 0, "... and shows its changes without the lock");
	st = dx_correlator_file(c, 0);
	is_int(st->undated_punches, 1, "the file counts its undated window");
	is_int(st->held_punches, 0, "an undated window is never one that held its lock");
	ok(st->erased_before + st->early > 0, "what it could not order is counted, not found");
	dx_correlator_free(c);
}

/*
 * FUSE holding the fault lock across its change (the 6.12 guest's livepatch,
 * tests/vm/patches/fuse-fallocate-invalidate-lock.patch): FALLOCATE sent at
 * 1 ms under the lock, answered at 9 ms, the cache truncated at 10 ms, the
 * lock let go, the syscall's return at 13 ms (fs/fuse/file.c,
 * fuse_file_fallocate: inode_unlock, then fuse_flush_time_update). A READ at
 * 12 ms reaches the server after its reply: it reads what the punch left. Only
 * the reply says so: without it (every window of 6.12 until bpf/fuse.bpf.c
 * joined requests by their address) the change lasts to the return, and the
 * READ counts (fuse_patched.t: about 1 attempt in 300 EXPOSED).
 */
static void fuse_punch_held(struct stream *s, uint64_t read_at, bool answered)
{
	struct dx_event *end;

	punch(s, 0, 2, 4);
	if (answered)
		fuse_request(s, 1 * MS, 9 * MS, true);
	delete(s, 10 * MS, 3, true, 0);
	io_request(s, READER, read_at, 2, 4, false);
	end = add(s, DX_PUNCH_END, PUNCHER, 13 * MS);
	end->punch_end.op = DX_OP_PUNCH_HOLE;
	end->punch_end.guard = DX_GUARD_INVALIDATE_LOCK;
	end->punch_end.changes = 2;
	end->punch_end.first_change_ns = T0 + 1 * MS;
	end->punch_end.last_change_ns = T0 + 10 * MS;
}

static void test_fuse_read_after_reply(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;

	fuse_punch_held(&s, 12 * MS, true);
	c = run(&s, &r);
	ok(r.npunches == 1 && r.p[0].fuse_reply_ns == T0 + 9 * MS && dx_punch_held_lock(&r.p[0]),
	   "the window: its FALLOCATE answered at 9 ms, the lock held at every change");
	is_int(r.n, 0, "a READ after the reply, before the return: no finding");
	dx_correlator_free(c);

	memset(&s, 0, sizeof(s));
	fuse_punch_held(&s, 5 * MS, true);
	c = run(&s, &r);
	ok(find(&r, DX_FINDING_IO_DURING_PUNCH, 2) && r.n == 1, "a READ before the reply: IO during the punch");
	dx_correlator_free(c);

	memset(&s, 0, sizeof(s));
	fuse_punch_held(&s, 12 * MS, false);
	c = run(&s, &r);
	ok(r.npunches == 1 && !r.p[0].fuse_reply_ns && find(&r, DX_FINDING_IO_DURING_PUNCH, 2),
	   "its end not joined to its send: the change lasts to the return, and the same READ counts");
	dx_correlator_free(c);
}

/*
 * A punch of a mapped page-cache file on a kernel where its read faults go
 * unseen (5.10 without fentry: no filemap_fault or fault-around hook, no
 * bpf_find_vma). The kernel marks the window; it is carried to the window and the
 * file, and the window next to it, unmarked, stays so.
 */
static void test_reads_unwatched(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;

	punch(&s, 0, 2, 4);
	add(&s, DX_PUNCH_END, PUNCHER, 10 * MS)->flags = DX_F_READS_UNWATCHED;
	punch(&s, 20 * MS, 2, 4);
	add(&s, DX_PUNCH_END, PUNCHER, 30 * MS);
	c = run(&s, &r);
	ok(r.npunches == 2 && r.p[0].reads_unwatched && !r.p[0].faults_unwatched && !r.p[1].reads_unwatched,
	   "the window the kernel marked is reads_unwatched, the next one not");
	is_int(dx_correlator_file(c, 0)->reads_unwatched_punches, 1, "the file counts its window with reads unwatched");
	dx_correlator_free(c);
}

static void test_punch_never_ends(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	const struct dx_file_stats *st;

	punch(&s, 0, 2, 4);
	fuse_fallocate(&s, 1 * MS, 10 * MS); /* reply came, then the task was killed: no end event */
	page(&s, DX_MAP_FAULT, READER, 20 * MS, 2, 0);
	c = run(&s, &r);
	st = stats_of(c, &file_a);
	ok(st && st->unterminated == 1, "a window never closed is counted as unterminated");
	ok(r.n == 1 && r.f[0].kind == DX_FINDING_UNBLOCKED_FAULT && r.f[0].incomplete,
	   "its fault is reported, flagged incomplete");
	dx_correlator_free(c);
}

static void test_end_lost_then_new_punch(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;

	punch(&s, 0, 2, 4);
	punch(&s, 50 * MS, 2, 4); /* same task again: the first end was lost */
	add(&s, DX_PUNCH_END, PUNCHER, 60 * MS);
	c = run(&s, &r);
	is_int(stats_of(c, &file_a)->punches, 2, "two punches");
	is_int(stats_of(c, &file_a)->unterminated, 1, "the first one ended unseen");
	dx_correlator_free(c);
}

static void test_inode_reuse(void)
{
	struct stream s = { 0 };
	struct result r;
	struct dx_correlator *c;
	struct dx_file reused = file_a;

	reused.gen = 8; /* same inode number, a different file */
	punch(&s, 0, 0, 16);
	page(&s, DX_PAGE_DELETE, PUNCHER, 1 * MS, 3, 0);
	page(&s, DX_PAGE_DIRTY, WRITER, 2 * MS + 10, 3, 0);
	s.ev[s.n - 1].file = reused;
	page(&s, DX_PAGE_DELETE, PUNCHER, 3 * MS, 3, 0);
	add(&s, DX_PUNCH_END, PUNCHER, 4 * MS);
	c = run(&s, &r);
	is_int(r.n, 0, "inode reuse: events of the new file do not match the old file's punch");
	is_int(dx_correlator_nfiles(c), 2, "inode reuse: two distinct files");
	dx_correlator_free(c);
}

static void dax_op(struct stream *s, uint64_t window, uint32_t op, uint64_t t, uint32_t free, uint64_t took)
{
	struct dx_event *e = add(s, DX_DAX_RANGE, op == DX_DAX_RECLAIM_PASS ? 300 : READER, t);

	memset(&e->file, 0, sizeof(e->file));
	if (op == DX_DAX_SETUP)
		e->file.dev = (0u << 20) | 52; /* the mount, named where an inode is at hand */
	e->dax.window = window;
	e->dax.op = op;
	e->dax.nr_ranges = 8;
	e->dax.nr_free = free;
	e->dax.nr_busy = 8 - free;
	e->dax.duration_ns = took;
	e->dax.count = 1;
}

/* A fault or IO used range RANGE of file 77 through the window. */
static void dax_use(struct stream *s, uint64_t window, uint64_t t, uint64_t range)
{
	dax_op(s, window, DX_DAX_USE, t, 3, 0);
	s->ev[s->n - 1].file.ino = 77;
	s->ev[s->n - 1].dax.offset = range << 21;
}

/* The DAX window's accounting, since no virtio-fs DAX device can be made to fire here. */
static void test_dax_window(void)
{
	struct stream s = { 0 };
	const struct dx_dax_window *w, *other;
	struct dx_correlator *c;
	struct result r;
	char advice[512];

	for (uint32_t i = 0; i < 7; i++)
		dax_op(&s, 0xA000, DX_DAX_SETUP, i * MS, 7 - i, 100000);
	dax_op(&s, 0xA000, DX_DAX_ALLOC_STALL, 8 * MS, 0, 3 * MS);
	dax_op(&s, 0xA000, DX_DAX_RECLAIM, 9 * MS, 1, 2 * MS);
	dax_op(&s, 0xA000, DX_DAX_RECLAIM, 10 * MS, 2, 4 * MS);
	dax_op(&s, 0xA000, DX_DAX_RECLAIM_PASS, 11 * MS, 2, 7 * MS);
	dax_op(&s, 0xA000, DX_DAX_INLINE_RECLAIM, 12 * MS, 2, 1 * MS);
	dax_op(&s, 0xA000, DX_DAX_INLINE_RECLAIM, 12 * MS + 1, 2, 1 * MS);
	s.ev[s.n - 1].flags |= DX_F_STALL_UNSEEN; /* its alloc_dax_mapping run skipped by the kernel */
	dax_op(&s, 0xB000, DX_DAX_SETUP, 13 * MS, 7, 50000);
	for (uint32_t i = 0; i < 30; i++) /* ten ranges read in turn, three times: more than 8 hold */
		dax_use(&s, 0xA000, 14 * MS + i, i % 10);
	c = run(&s, &r);
	is_int(dx_correlator_ndax(c), 2, "dax: two windows told apart by their fuse_conn_dax");
	w = dx_correlator_dax(c, 0);
	other = dx_correlator_dax(c, 1);
	ok(w && other && w->window == 0xA000 && other->window == 0xB000, "dax: in order of appearance");
	if (!w)
		return;
	is_int(w->setups, 7, "dax: SETUPMAPPINGs counted");
	is_int(w->setup_ns.count, 7, "dax: with their latency");
	is_int(w->alloc_stalls, 1, "dax: an allocation stall");
	is_int(w->alloc_misses, 1, "dax: with its misses");
	is_int(w->stall_ns.max_ns, 3 * MS, "dax: and how long it waited for a range");
	is_int(w->reclaims, 2, "dax: ranges reclaimed by the worker");
	is_int(w->inline_reclaims, 2, "dax: two reclaimed inline");
	is_int(w->inline_stall_unseen, 1, "dax: one of them without its stall seen");
	is_int(w->alloc_stalls, 1, "dax: which opens no stall");
	is_int(w->reclaim_ns.count, 2, "dax: per-range reclaim latency, worker");
	is_int(w->inline_reclaim_ns.count, 2, "dax: and inline");
	is_int(w->reclaim_ns.max_ns, 4 * MS, "dax: slowest range");
	is_int(w->passes, 1, "dax: one reclaim pass");
	is_int(w->pass_ns.max_ns, 7 * MS, "dax: pass latency");
	is_int(w->min_free, 0, "dax: the window ran out");
	ok(w->ranges == 8 && w->free == 3 && w->busy == 5, "dax: state after the last event, a use's too");
	is_int(w->dev, 52, "dax: the mount's device learned from a mapping");
	ok(dx_correlator_dax_model(c, 0) && dx_dax_model_uses(dx_correlator_dax_model(c, 0)) == 30,
	   "dax: its range uses feed its model");
	ok(!dx_correlator_dax_model(c, 1), "dax: a window without uses has none");
	dx_dax_advice(w, dx_correlator_dax_model(c, 0), advice, sizeof(advice));
	ok(strstr(advice, "raise the host's cache-size to 24 MiB") && strstr(advice, "30 predicted (30-30), 7 made") &&
	       strstr(advice, "waited on mappings, stalls and reclaims") && strstr(advice, "384 KiB at 24 MiB"),
	   "dax: a scan of 10 ranges through 8: every use a new mapping; 12 ranges hold it: %s", advice);
	dx_dax_advice(other, NULL, advice, sizeof(advice));
	ok(strstr(advice, "no range use recorded"), "dax: no uses, no advice: %s", advice);
	dx_correlator_free(c);
}

/*
 * Of two sizes that map as often, the one where the worker removes nothing:
 * each reclaim holds its file's invalidate lock until its REMOVEMAPPING's
 * reply. Six ranges of a file read once, the file evicted, five times: 30
 * mappings at every size, but up to 6 ranges the worker removes them.
 */
static void test_dax_advice_reclaims(void)
{
	struct stream s = { 0 };
	struct dx_correlator *c;
	struct result r;
	char advice[512];

	for (uint32_t i = 0; i < 6; i++)
		dax_op(&s, 0xC000, DX_DAX_SETUP, i * MS, 7 - i, 100000);
	for (uint32_t i = 0; i < 4; i++)
		dax_op(&s, 0xC000, DX_DAX_RECLAIM, 7 * MS + i, 2, 2 * MS);
	for (uint32_t round = 0; round < 5; round++) {
		for (uint32_t i = 0; i < 6; i++)
			dax_use(&s, 0xC000, 20 * MS + round * 10 * MS + i * MS, i);
		dax_op(&s, 0xC000, DX_DAX_EVICT, 20 * MS + round * 10 * MS + 7 * MS, 8, 0);
		s.ev[s.n - 1].file.ino = 77;
	}
	c = run(&s, &r);
	ok(dx_correlator_ndax(c) == 1, "dax advice: one window");
	if (dx_correlator_ndax(c) == 1) {
		dx_dax_advice(dx_correlator_dax(c, 0), dx_correlator_dax_model(c, 0), advice, sizeof(advice));
		ok(strstr(advice, "could shrink to 14 MiB") != NULL,
		   "dax advice: 7 ranges, the least where nothing is reclaimed, not fewer mapping as often: %s", advice);
	}
	dx_correlator_free(c);
}

static void test_hist(void)
{
	struct dx_hist h = { 0 };

	for (int i = 0; i < 99; i++)
		dx_hist_add(&h, 1000); /* slot 9: [512, 1024) */
	dx_hist_add(&h, 5 * MS);
	is_int(h.count, 100, "hist: count");
	is_int(dx_hist_quantile(&h, 0.5), 1023, "hist: p50 is the upper bound of its slot");
	is_int(dx_hist_quantile(&h, 0.99), 1023, "hist: p99");
	is_int(dx_hist_quantile(&h, 1.0), 5 * MS, "hist: p100 capped at max");
	is_int(h.total_ns, 99 * 1000 + 5 * MS, "hist: total");
}

int main(void)
{
	test_fuse_race();
	test_resurrected();
	test_clean_delete();
	test_second_write_fault();
	test_io_and_refault();
	test_readahead_under_held_lock();
	test_btrfs_clone_adds();
	test_lock_unknown();
	test_own_work();
	test_own_write_backs();
	test_lockless_guard();
	test_truncate_cut();
	test_certain_loss();
	test_blocked_after_invalidation();
	test_unblocked_after_invalidation();
	test_fault_around_then_lock_released();
	test_write_before_data_change();
	test_wait_after_finished_fault();
	test_map_fault_range_only();
	test_dax_fault_without_wait();
	test_out_of_order();
	test_lost_in_middle();
	test_late_begins();
	test_punch_never_ends();
	test_retried_store();
	test_punch_windows();
	test_fuse_dated_at_receipt();
	test_fuse_undated();
	test_fuse_read_after_reply();
	test_reads_unwatched();
	test_end_lost_then_new_punch();
	test_inode_reuse();
	test_dax_window();
	test_dax_advice_reclaims();
	test_hist();
	return done_testing();
}
