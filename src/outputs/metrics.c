// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A report as OpenMetrics (or Prometheus 0.0.4) text: per mount, per DAX
 * window, and per file for the busiest few only, so that a fleet's series
 * stay bounded however many files a machine punches.
 */
#define _GNU_SOURCE /* open_memstream */
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/names.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/metrics.h"
#include "daxscope/outputs/report_out.h"
#include "daxscope/core/mounts.h"
#include "core/grow.h"

struct om {
	FILE *out;
	enum dx_metrics_format format;
};

/* A set of series: a mount, a file or a DAX window, its labels rendered once. */
struct entity {
	char *labels;
	const void *base; /* struct dx_file_stats, or struct dx_dax_window */
};

enum field_kind { FIELD_U64, FIELD_NS, FIELD_U32 };

/* One series of an entity: a field of its struct, under a family name (without _total). */
struct field {
	const char *name;
	const char *label; /* one more label (verdict="..."), or NULL */
	const char *help;  /* NULL: as the field before it, of the same family */
	size_t offset;
	enum field_kind kind; /* FIELD_NS: printed as seconds */
};

#define FILE_FIELD(name, label, help, member, kind) { name, label, help, offsetof(struct dx_file_stats, member), kind }
#define DAX_FIELD(name, help, member, kind) { name, NULL, help, offsetof(struct dx_dax_window, member), kind }

/* A file's counters; a mount's are the sums of its files'. */
static const struct field file_counters[] = {
	FILE_FIELD("punches", NULL, "Punch windows: fallocate punch, zero, collapse, insert, truncate.", punches, FIELD_U64),
	FILE_FIELD("punch_seconds", NULL, "Time inside punch windows.", punch_ns, FIELD_NS),
	FILE_FIELD("punches_unheld", NULL, "Punch windows that changed data without holding the fault lock for write.",
		   unheld_punches, FIELD_U64),
	FILE_FIELD("punches_faults_unwatched", NULL,
		   "Punch windows on a mapped file opened before the fault hooks were attached (on demand): faults unseen.",
		   unwatched_punches, FIELD_U64),
	FILE_FIELD("punches_change_undated", NULL,
		   "Punch windows on FUSE whose data change could not be dated on this kernel: verdicts unreliable.",
		   undated_punches, FIELD_U64),
	FILE_FIELD("punches_reads_unwatched", NULL,
		   "Punch windows on a mapped page-cache file on a kernel where its read faults go unseen: never clean.",
		   reads_unwatched_punches, FIELD_U64),
	FILE_FIELD("punches_partial", NULL,
		   "Punch windows that only counted some of their evidence (a window's limit or the evidence budget): "
		   "findings incomplete, never clean.",
		   partial_punches, FIELD_U64),
	FILE_FIELD("evidence_not_kept", NULL,
		   "Fault groups, page marks and requests of punch windows only counted, never judged.",
		   over_window_limit, FIELD_U64),
	FILE_FIELD("punches_lock_unknown", NULL,
		   "Punch windows that changed data before this kernel's fault lock was known (learned from faults "
		   "before 5.15): never judged held.",
		   lock_unknown_punches, FIELD_U64),
	FILE_FIELD("faults_during_punch", "verdict=\"blocked\"",
		   "Faults on a punched range inside its window, by verdict (docs/design.md).", blocked, FIELD_U64),
	FILE_FIELD("faults_during_punch", "verdict=\"unblocked_read\"", NULL, unblocked_read, FIELD_U64),
	FILE_FIELD("faults_during_punch", "verdict=\"unblocked_write\"", NULL, unblocked_write, FIELD_U64),
	FILE_FIELD("faults_during_punch", "verdict=\"early\"", NULL, early, FIELD_U64),
	FILE_FIELD("faults_during_punch", "verdict=\"dax_in_place\"", NULL, dax_in_place, FIELD_U64),
	FILE_FIELD("discarded_writes", NULL, "Pages dirtied after the punch began changing data and deleted dirty by it.",
		   discarded_writes, FIELD_U64),
	FILE_FIELD("discarded_writes_certain", NULL, "Discarded writes after the FUSE server's reply.",
		   certain_discards, FIELD_U64),
	FILE_FIELD("writable_after_punch", NULL,
		   "Stores after an operation through a page-table entry it left writable, found lost at write-back.",
		   writable_after_punch, FIELD_U64),
	FILE_FIELD("resurrected_data", NULL, "Write-backs of a punched range sent while the punch changed data.",
		   resurrected, FIELD_U64),
	FILE_FIELD("io_during_punch", NULL, "Read requests or direct IO on a punched range while the punch changed data.",
		   io_during_punch, FIELD_U64),
	FILE_FIELD("refaults", NULL, "Pages of a punched range read in while the punch changed data, never removed.",
		   refaults, FIELD_U64),
	FILE_FIELD("lock_waits", NULL, "Waits on the fault/punch lock.", lock_waits.count, FIELD_U64),
	FILE_FIELD("lock_waited_seconds", NULL, "Time waited on the fault/punch lock.", lock_waits.total_ns, FIELD_NS),
};

static const struct field dax_gauges[] = {
	DAX_FIELD("dax_ranges", "2 MiB ranges of the DAX window.", ranges, FIELD_U32),
	DAX_FIELD("dax_ranges_free", "Free ranges of the DAX window.", free, FIELD_U32),
	DAX_FIELD("dax_ranges_busy", "Busy ranges of the DAX window.", busy, FIELD_U32),
	DAX_FIELD("dax_ranges_min_free", "The fewest free ranges seen.", min_free, FIELD_U32),
};

static const struct field dax_counters[] = {
	DAX_FIELD("dax_setups", "FUSE_SETUPMAPPING requests.", setups, FIELD_U64),
	DAX_FIELD("dax_removes", "Ranges in FUSE_REMOVEMAPPING requests.", removes, FIELD_U64),
	DAX_FIELD("dax_reclaims", "Ranges reclaimed by the worker.", reclaims, FIELD_U64),
	DAX_FIELD("dax_inline_reclaims", "Ranges reclaimed inline by a fault or IO.", inline_reclaims, FIELD_U64),
	DAX_FIELD("dax_reclaim_passes", "Passes of the reclaim worker.", passes, FIELD_U64),
	DAX_FIELD("dax_alloc_stalls", "Faults or IO that waited for a free range.", alloc_stalls, FIELD_U64),
};

struct hist_family {
	const char *name, *help;
	size_t offset; /* of the struct dx_hist */
};

static const struct hist_family dax_hists[] = {
	{ "dax_reclaim_seconds", "One range's reclaim by the worker.", offsetof(struct dx_dax_window, reclaim_ns) },
	{ "dax_inline_reclaim_seconds", "One range's reclaim inline.", offsetof(struct dx_dax_window, inline_reclaim_ns) },
	{ "dax_alloc_stall_seconds", "Waits of faults or IO for a free range.", offsetof(struct dx_dax_window, stall_ns) },
};

static const struct hist_family lock_wait_hist = {
	"lock_wait_seconds", "Waits on the fault/punch lock.", offsetof(struct dx_file_stats, lock_waits)
};

/* ---- numbers and labels ---- */

/* The shortest decimal that reads back as the same double: le values stay the same from scrape to scrape. */
static const char *number(char *buf, size_t len, double v)
{
	for (int digits = 1; digits <= 17; digits++) {
		snprintf(buf, len, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

static const char *u64(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

static const char *seconds(char *buf, size_t len, uint64_t ns)
{
	return number(buf, len, (double)ns / 1e9);
}

/*
 * name="value", the value first as `ls -b` prints a name (valid UTF-8, no
 * control bytes: paths are anyone's), then with the format's escapes for a
 * backslash and a quote (a newline cannot be left).
 */
static void put_label(FILE *out, const char *name, const char *value, bool first)
{
	size_t n = strlen(value), cap = 4 * n + 1; /* \ooo: four bytes a byte at most */
	char *shown = malloc(cap);

	if (!shown)
		abort();
	dx_escape(shown, cap, value, n);
	fprintf(out, "%s%s=\"", first ? "" : ",", name);
	for (const char *c = shown; *c; c++) {
		if (*c == '\\' || *c == '"')
			fputc('\\', out);
		fputc(*c, out);
	}
	fputc('"', out);
	free(shown);
}

/*
 * The machine's mount of DEV, else (none, or unmounted since) another
 * namespace's as a task there saw it, else fstype "unknown".
 */
static char *mount_labels(const struct dx_report *r, const struct dx_mounts *mounts, uint32_t dev, const char *more,
			  const char *value)
{
	const struct dx_mount *m = mounts ? dx_mounts_find(mounts, dev) : NULL;
	char *s = NULL, devname[24];
	size_t len;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		abort();
	if (!m || m->gone)
		m = dx_mounts_find(dx_report_ns_mounts(r), dev) ?: m;
	dx_format_dev(dev, devname, sizeof(devname));
	put_label(f, "dev", devname, true);
	put_label(f, "fstype", m ? m->fstype : "unknown", false);
	put_label(f, "mountpoint", m ? m->point : "", false);
	if (more)
		put_label(f, more, value, false);
	fclose(f);
	return s;
}

/* ---- samples and families ---- */

static void family(const struct om *o, const char *name, const char *type, bool in_seconds, const char *help)
{
	/* 0.0.4 names a counter by its samples' name; OpenMetrics by the family's */
	const char *total = o->format == DX_METRICS_PROMETHEUS && !strcmp(type, "counter") ? "_total" : "";

	fprintf(o->out, "# TYPE daxscope_%s%s %s\n", name, total, type);
	if (in_seconds && o->format == DX_METRICS_OPENMETRICS)
		fprintf(o->out, "# UNIT daxscope_%s seconds\n", name);
	fprintf(o->out, "# HELP daxscope_%s%s %s\n", name, total, help);
}

static void sample(const struct om *o, const char *name, const char *suffix, const char *labels, const char *extra,
		   const char *value)
{
	bool some = labels && *labels, more = extra && *extra;

	fprintf(o->out, "daxscope_%s%s", name, suffix);
	if (some || more)
		fprintf(o->out, "{%s%s%s}", some ? labels : "", some && more ? "," : "", more ? extra : "");
	fprintf(o->out, " %s\n", value);
}

static const char *field_value(char *buf, size_t len, const void *base, const struct field *f)
{
	const char *p = (const char *)base + f->offset;
	uint32_t v32;
	uint64_t v;

	if (f->kind == FIELD_U32) {
		memcpy(&v32, p, sizeof(v32));
		return u64(buf, len, v32);
	}
	memcpy(&v, p, sizeof(v));
	return f->kind == FIELD_NS ? seconds(buf, len, v) : u64(buf, len, v);
}

/* Each field's family once (fields of one family are adjacent), each entity's series under it. */
static void fields(const struct om *o, const char *prefix, const char *type, const struct field *list, size_t n,
		   const struct entity *ents, size_t nents)
{
	const char *suffix = strcmp(type, "counter") ? "" : "_total";
	char name[96], value[32];

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%s", prefix, list[i].name);
		if (list[i].help)
			family(o, name, type, list[i].kind == FIELD_NS, list[i].help);
		for (size_t e = 0; e < nents; e++)
			sample(o, name, suffix, ents[e].labels, list[i].label,
			       field_value(value, sizeof(value), ents[e].base, &list[i]));
	}
}

/* Slot i holds [2^i, 2^(i+1)) ns (slot 0 also 0, the last everything above): its bound is 2^(i+1) - 1 ns. */
static void histogram(const struct om *o, const char *name, const char *labels, const struct dx_hist *h)
{
	uint64_t below = 0;
	char le[48], bound[32], value[32];

	for (unsigned int i = 0; i + 1 < DX_HIST_SLOTS; i++) {
		below += h->slots[i];
		snprintf(le, sizeof(le), "le=\"%s\"", seconds(bound, sizeof(bound), (2ULL << i) - 1));
		sample(o, name, "_bucket", labels, le, u64(value, sizeof(value), below));
	}
	below += h->slots[DX_HIST_SLOTS - 1];
	/* the count as the slots have it: +Inf and _count must agree */
	sample(o, name, "_bucket", labels, "le=\"+Inf\"", u64(value, sizeof(value), below));
	sample(o, name, "_sum", labels, NULL, seconds(value, sizeof(value), h->total_ns));
	sample(o, name, "_count", labels, NULL, u64(value, sizeof(value), below));
}

static void histograms(const struct om *o, const struct hist_family *hf, const struct entity *ents, size_t n)
{
	family(o, hf->name, "histogram", true, hf->help);
	for (size_t e = 0; e < n; e++)
		histogram(o, hf->name, ents[e].labels, (const void *)((const char *)ents[e].base + hf->offset));
}

static void free_entities(struct entity *ents, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ents[i].labels);
	free(ents);
}

static void *alloc_array(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		abort();
	return p;
}

/* ---- mounts: the sums of their files ---- */

static void add_file(struct dx_file_stats *sum, const struct dx_file_stats *st)
{
	for (size_t i = 0; i < sizeof(file_counters) / sizeof(file_counters[0]); i++) {
		uint64_t a, b;

		memcpy(&a, (char *)sum + file_counters[i].offset, sizeof(a));
		memcpy(&b, (const char *)st + file_counters[i].offset, sizeof(b));
		a += b;
		memcpy((char *)sum + file_counters[i].offset, &a, sizeof(a));
	}
	/* the lock-wait count and total are counters above: only the slots and the maximum here */
	for (unsigned int s = 0; s < DX_HIST_SLOTS; s++)
		sum->lock_waits.slots[s] += st->lock_waits.slots[s];
	if (st->lock_waits.max_ns > sum->lock_waits.max_ns)
		sum->lock_waits.max_ns = st->lock_waits.max_ns;
}

/* Takes what BEFORE counted out of SUM (which holds it): the maximum wait stays. */
static void sub_file(struct dx_file_stats *sum, const struct dx_file_stats *before)
{
	for (size_t i = 0; i < sizeof(file_counters) / sizeof(file_counters[0]); i++) {
		uint64_t a, b;

		memcpy(&a, (char *)sum + file_counters[i].offset, sizeof(a));
		memcpy(&b, (const char *)before + file_counters[i].offset, sizeof(b));
		a -= b < a ? b : a;
		memcpy((char *)sum + file_counters[i].offset, &a, sizeof(a));
	}
	for (unsigned int s = 0; s < DX_HIST_SLOTS; s++)
		sum->lock_waits.slots[s] -= before->lock_waits.slots[s] < sum->lock_waits.slots[s]
						    ? before->lock_waits.slots[s]
						    : sum->lock_waits.slots[s];
}

struct dx_mount_history {
	struct dx_file_stats *before; /* file.dev: the device */
	size_t n, cap;
	uint64_t files_seen; /* the report's at the last learn: files first seen after it are of mounts found since */
};

struct dx_mount_history *dx_mount_history_new(void)
{
	struct dx_mount_history *h = calloc(1, sizeof(*h));

	if (!h)
		abort();
	return h;
}

static const struct dx_file_stats *history_of(const struct dx_mount_history *h, uint32_t dev)
{
	for (size_t i = 0; h && i < h->n; i++)
		if (h->before[i].file.dev == dev)
			return &h->before[i];
	return NULL;
}

/* What DEV's files first seen before the last learn counted is its earlier mounts'. */
static void renew(struct dx_mount_history *h, const struct dx_report *r, uint32_t dev)
{
	struct dx_file_stats *before = (struct dx_file_stats *)history_of(h, dev);
	size_t nfiles = dx_report_nfiles(r);
	const struct dx_file_stats **files = alloc_array(nfiles, sizeof(*files));

	if (!before)
		before = DX_PUSH(h->before, h->n, h->cap);
	memset(before, 0, sizeof(*before));
	before->file.dev = dev;
	nfiles = dx_report_files(r, files);
	for (size_t i = 0; i < nfiles; i++)
		if (files[i]->file.dev == dev && files[i]->first_seen <= h->files_seen)
			add_file(before, files[i]);
	free(files);
}

void dx_mount_history_learn(struct dx_mount_history *h, const struct dx_report *r, const struct dx_mounts *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->list[i].renewed)
			renew(h, r, m->list[i].dev);
	h->files_seen = dx_report_files_seen(r);
}

void dx_mount_history_free(struct dx_mount_history *h)
{
	if (!h)
		return;
	free(h->before);
	free(h);
}

/* Files with a finding's counts: those of a mount rank it, those of a file its series. */
/* Findings of data lost: writes thrown away or never written, old bytes written back. */
struct mount_sum {
	struct dx_file_stats sum; /* file.dev: the mount's device */
	bool known;               /* in the mount table: a mount of this machine's, not of a user's namespace */
};

static int file_by_dev(const void *a, const void *b)
{
	const struct dx_file_stats *x = *(const struct dx_file_stats *const *)a, *y = *(const struct dx_file_stats *const *)b;

	return (x->file.dev > y->file.dev) - (x->file.dev < y->file.dev);
}

static int mount_by_dev(const void *a, const void *b)
{
	const struct mount_sum *x = a, *y = b;

	return (x->sum.file.dev > y->sum.file.dev) - (x->sum.file.dev < y->sum.file.dev);
}

/* Mounts in the mount table first, then those with the most findings, then punches; the device breaks ties. */
static int mount_rank(const void *a, const void *b)
{
	const struct mount_sum *x = a, *y = b;
	uint64_t kx[3] = { x->known, dx_file_findings(&x->sum), x->sum.punches };
	uint64_t ky[3] = { y->known, dx_file_findings(&y->sum), y->sum.punches };

	for (int i = 0; i < 3; i++)
		if (kx[i] != ky[i])
			return kx[i] < ky[i] ? 1 : -1;
	return mount_by_dev(a, b);
}

/*
 * One sum per device over its files, by device number, less its earlier
 * mounts'; how many. Sorted, not searched: anyone can make mounts.
 */
static size_t sum_mounts(const struct dx_report *r, const struct dx_metrics_opts *o, struct mount_sum **out)
{
	const struct dx_mounts *mounts = o->mounts;
	size_t nfiles = dx_report_nfiles(r), n = 0;
	const struct dx_file_stats **files = alloc_array(nfiles, sizeof(*files));
	struct mount_sum *sums = alloc_array(nfiles, sizeof(*sums));

	nfiles = dx_report_files(r, files);
	qsort(files, nfiles, sizeof(*files), file_by_dev);
	for (size_t i = 0; i < nfiles; i++) {
		if (!n || sums[n - 1].sum.file.dev != files[i]->file.dev) {
			sums[n].sum.file.dev = files[i]->file.dev;
			sums[n++].known = mounts && dx_mounts_find(mounts, files[i]->file.dev);
		}
		add_file(&sums[n - 1].sum, files[i]);
	}
	for (size_t i = 0; i < n; i++) {
		const struct dx_file_stats *before = history_of(o->history, sums[i].sum.file.dev);

		if (before)
			sub_file(&sums[i].sum, before);
	}
	free(files);
	*out = sums;
	return n;
}

/*
 * The first max mounts by rank keep their series, by device number; the rest
 * are summed into sums[max], labelled "other". How many were folded there.
 */
static size_t fold_mounts(struct mount_sum *sums, size_t n, size_t max)
{
	if (n <= max)
		return 0;
	qsort(sums, n, sizeof(*sums), mount_rank);
	for (size_t i = max + 1; i < n; i++)
		add_file(&sums[max].sum, &sums[i].sum);
	qsort(sums, max, sizeof(*sums), mount_by_dev);
	return n - max;
}

static void mount_series(const struct om *o, const struct dx_report *r, const struct dx_metrics_opts *opts)
{
	struct mount_sum *sums;
	size_t n = sum_mounts(r, opts, &sums), max = opts->max_mounts ? opts->max_mounts : DX_METRICS_MOUNTS_DEFAULT;
	size_t folded = fold_mounts(sums, n, max), nents = folded ? max + 1 : n;
	struct entity *ents = alloc_array(nents, sizeof(*ents));
	char value[32];

	for (size_t i = 0; i < nents; i++) {
		bool other = folded && i == max;

		ents[i] = (struct entity){ other ? strdup("dev=\"other\",fstype=\"other\",mountpoint=\"other\"")
						 : mount_labels(r, opts->mounts, sums[i].sum.file.dev, NULL, NULL),
					   &sums[i].sum };
		if (!ents[i].labels)
			abort();
	}
	fields(o, "", "counter", file_counters, sizeof(file_counters) / sizeof(file_counters[0]), ents, nents);
	histograms(o, &lock_wait_hist, ents, nents);
	family(o, "mounts", "gauge", false, "Mounts with punched files.");
	sample(o, "mounts", "", NULL, NULL, u64(value, sizeof(value), n));
	family(o, "mounts_folded", "gauge", false,
	       "Mounts past the per-mount series budget (--max-mounts): their counters are summed under dev=\"other\".");
	sample(o, "mounts_folded", "", NULL, NULL, u64(value, sizeof(value), folded));
	free_entities(ents, nents);
	free(sums);
}

/* ---- the busiest files ---- */

/*
 * Files that lost data first (discarded writes, resurrected data), then with
 * other findings, then by lock waits, then by punches; the report's order
 * breaks ties. A file merely hammered, with faults or waits by the million,
 * never pushes a lost write out of the series.
 */
static int busier(const void *a, const void *b)
{
	const struct dx_file_stats *x = *(const struct dx_file_stats *const *)a, *y = *(const struct dx_file_stats *const *)b;
	uint64_t kx[4] = { dx_file_lost_data(x), dx_file_findings(x), x->lock_waits.count, x->punches };
	uint64_t ky[4] = { dx_file_lost_data(y), dx_file_findings(y), y->lock_waits.count, y->punches };

	for (int i = 0; i < 4; i++)
		if (kx[i] != ky[i])
			return kx[i] < ky[i] ? 1 : -1;
	return (x > y) - (x < y);
}

static char *file_labels(const struct dx_report *r, const struct dx_file_stats *st)
{
	char *s = NULL, dev[24], ino[24], label[PATH_MAX];
	size_t len;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		abort();
	dx_format_dev(st->file.dev, dev, sizeof(dev));
	put_label(f, "dev", dev, true);
	put_label(f, "ino", u64(ino, sizeof(ino), st->file.ino), false); /* a path may name several files in turn */
	put_label(f, "path", dx_report_file_label(r, &st->file, label, sizeof(label)), false);
	fclose(f);
	return s;
}

static void file_series(const struct om *o, const struct dx_report *r, size_t top)
{
	size_t nfiles = dx_report_nfiles(r), n;
	const struct dx_file_stats **all = alloc_array(nfiles, sizeof(*all));
	struct entity *ents;

	nfiles = dx_report_files(r, all);
	n = nfiles < top ? nfiles : top;
	ents = alloc_array(n, sizeof(*ents));
	qsort(all, nfiles, sizeof(*all), busier);
	for (size_t i = 0; i < n; i++)
		ents[i] = (struct entity){ file_labels(r, all[i]), all[i] };
	fields(o, "file_", "counter", file_counters, sizeof(file_counters) / sizeof(file_counters[0]), ents, n);
	free_entities(ents, n);
	free(all);
}

/* ---- DAX windows ---- */

/* The cache-size model's verdict on a window (docs/dax-model.md), as its advice words it; none without range uses. */
struct dax_model_entity {
	const char *labels;
	const struct dx_dax_window *w;
	struct dx_dax_verdict v;
};

/* A prediction: the median, and the lowest and highest replay where there is an interval (not from one replay). */
static void bounded(const struct om *o, const char *name, const char *labels, uint32_t replays, const char *median,
		    const char *lowest, const char *highest)
{
	sample(o, name, "", labels, "bound=\"median\"", median);
	if (replays == 1)
		return;
	sample(o, name, "", labels, "bound=\"lowest\"", lowest);
	sample(o, name, "", labels, "bound=\"highest\"", highest);
}

/* A point's SETUPMAPPINGs. */
static void model_setups(const struct om *o, const char *name, const char *labels, const struct dx_dax_model_point *p)
{
	char v[3][32];

	bounded(o, name, labels, p->replays, u64(v[0], sizeof(v[0]), p->setups), u64(v[1], sizeof(v[1]), p->setups_lo),
		u64(v[2], sizeof(v[2]), p->setups_hi));
}

/* ... and the wait at them, in seconds. */
static void model_wait(const struct om *o, const char *name, const char *labels, struct dx_dax_wait t)
{
	char v[3][32];

	bounded(o, name, labels, t.replays, seconds(v[0], sizeof(v[0]), (uint64_t)t.ns),
		seconds(v[1], sizeof(v[1]), (uint64_t)t.lo), seconds(v[2], sizeof(v[2]), (uint64_t)t.hi));
}

static void dax_model_series(const struct om *o, const struct dax_model_entity *ents, size_t n)
{
	bool timed = false, here = false, here_timed = false;
	char value[32];

	for (size_t i = 0; i < n; i++) { /* a family only with samples */
		timed = timed || ents[i].w->setup_ns.count;
		here = here || ents[i].v.have_here;
		here_timed = here_timed || (ents[i].v.have_here && ents[i].w->setup_ns.count);
	}
	family(o, "dax_model_advised_ranges", "gauge", false,
	       "The window the cache-size model advises, in 2 MiB ranges: the smallest whose predicted wait on mappings "
	       "(or mappings, untimed) is within 10% of the least.");
	for (size_t i = 0; i < n; i++)
		sample(o, "dax_model_advised_ranges", "", ents[i].labels, NULL,
		       u64(value, sizeof(value), ents[i].v.recommended.ranges));
	family(o, "dax_model_advised_setups", "gauge", false,
	       "FUSE_SETUPMAPPINGs the model predicts at the advised size for the uses so far: the median, and the lowest "
	       "and highest of its replays.");
	for (size_t i = 0; i < n; i++)
		model_setups(o, "dax_model_advised_setups", ents[i].labels, &ents[i].v.recommended);
	family(o, "dax_model_advised_faults_unseen", "gauge", false,
	       "1: the advised size is below the window recorded, whose pages kept mapped fault again there unseen: "
	       "likely more mappings (record at that size to check).");
	for (size_t i = 0; i < n; i++)
		sample(o, "dax_model_advised_faults_unseen", "", ents[i].labels, NULL,
		       ents[i].v.recommended.faults_unseen ? "1" : "0");
	if (timed)
		family(o, "dax_model_advised_wait_seconds", "gauge", true,
		       "The wait on mappings, stalls and reclaims the model predicts at the advised size, at the round "
		       "trips measured (windows whose SETUPMAPPINGs were timed).");
	for (size_t i = 0; i < n; i++)
		if (ents[i].w->setup_ns.count)
			model_wait(o, "dax_model_advised_wait_seconds", ents[i].labels,
				   dx_dax_wait(ents[i].w, &ents[i].v.recommended));
	if (here)
		family(o, "dax_model_setups", "gauge", false,
		       "FUSE_SETUPMAPPINGs the model predicts at the window's own size (dax_setups: as made).");
	for (size_t i = 0; i < n; i++)
		if (ents[i].v.have_here)
			model_setups(o, "dax_model_setups", ents[i].labels, &ents[i].v.here);
	if (here_timed)
		family(o, "dax_model_wait_seconds", "gauge", true,
		       "The wait the model predicts at the window's own size (dax_waited_seconds: as measured).");
	for (size_t i = 0; i < n; i++)
		if (ents[i].v.have_here && ents[i].w->setup_ns.count)
			model_wait(o, "dax_model_wait_seconds", ents[i].labels, dx_dax_wait(ents[i].w, &ents[i].v.here));
}

static void dax_series(const struct om *o, const struct dx_report *r, const struct dx_mounts *mounts)
{
	size_t n = dx_report_ndax(r), nmodels = 0;
	struct entity *ents = alloc_array(n, sizeof(*ents));
	struct dax_model_entity *models = alloc_array(n, sizeof(*models));
	char index[24], value[32];

	/* a device may have had several windows (a mount, another at its address): the report's index tells them */
	for (size_t i = 0; i < n; i++) {
		const struct dx_dax_window *w = dx_report_dax(r, i);

		ents[i] = (struct entity){ mount_labels(r, mounts, w->dev, "window", u64(index, sizeof(index), i)), w };
	}
	fields(o, "", "gauge", dax_gauges, sizeof(dax_gauges) / sizeof(dax_gauges[0]), ents, n);
	fields(o, "", "counter", dax_counters, sizeof(dax_counters) / sizeof(dax_counters[0]), ents, n);
	family(o, "dax_waited_seconds", "counter", true,
	       "What the window's users waited on mappings, stalls and the worker's reclaims, as measured.");
	for (size_t i = 0; i < n; i++)
		sample(o, "dax_waited_seconds", "_total", ents[i].labels, NULL,
		       seconds(value, sizeof(value), (uint64_t)dx_dax_waited_ns(ents[i].base)));
	for (size_t i = 0; i < sizeof(dax_hists) / sizeof(dax_hists[0]); i++)
		histograms(o, &dax_hists[i], ents, n);
	for (size_t i = 0; i < n; i++)
		if (dx_dax_verdict(ents[i].base, dx_report_dax_model(r, i), &models[nmodels].v)) {
			models[nmodels].labels = ents[i].labels;
			models[nmodels++].w = ents[i].base;
		}
	if (nmodels)
		dax_model_series(o, models, nmodels);
	free(models);
	free_entities(ents, n);
}

/* ---- the collector itself ---- */

static void collector_series(const struct om *o, const struct dx_report *r)
{
	static const char *const drops[DX_DROP_MAX] = {
		[DX_DROP_RINGBUF] = "ringbuf", [DX_DROP_MAP_FULL] = "map_full", [DX_DROP_VMA] = "vma",
		[DX_DROP_NAMES] = "names",
	};
	char value[32], reason[32];

	family(o, "lost_events", "counter", false, "Events lost: findings of their windows are marked incomplete.");
	sample(o, "lost_events", "_total", NULL, NULL, u64(value, sizeof(value), dx_report_lost(r)));
	family(o, "skipped_runs", "counter", false,
	       "Runs of a program the kernel skipped (its recursion guard): what they would have seen is missing. "
	       "Programs that missed none have no series; none has where the kernel does not count them (before 5.12).");
	for (size_t i = 0; i < dx_report_nskipped(r); i++) {
		char *label = NULL;
		size_t len;
		FILE *f = open_memstream(&label, &len);

		if (!f)
			abort();
		put_label(f, "program", dx_report_skipped(r, i)->name, true);
		fclose(f);
		sample(o, "skipped_runs", "_total", label, NULL, u64(value, sizeof(value), dx_report_skipped(r, i)->runs));
		free(label);
	}
	family(o, "events", "counter", false, "Events read from the kernel.");
	sample(o, "events", "_total", NULL, NULL, u64(value, sizeof(value), dx_report_events(r)));
	family(o, "kernel_drops", "counter", false, "Failures: ring buffer full, tracking map full, VMA lookup, file names not looked up (too many waiting).");
	for (int i = 0; i < DX_DROP_MAX; i++) {
		snprintf(reason, sizeof(reason), "reason=\"%s\"", drops[i]);
		sample(o, "kernel_drops", "_total", NULL, reason, u64(value, sizeof(value), dx_report_drops(r, i)));
	}
	family(o, "files", "gauge", false, "Files seen punched (per-file series: the busiest of them only).");
	sample(o, "files", "", NULL, NULL, u64(value, sizeof(value), dx_report_files_seen(r)));
	family(o, "files_dropped", "counter", false,
	       "Files dropped idle or past the most held: their counts in their mount's (idle files) (ino 0).");
	sample(o, "files_dropped", "_total", NULL, NULL, u64(value, sizeof(value), dx_report_files_dropped(r)));
}

static void http_series(const struct om *o, const struct dx_metrics_http *http)
{
	char value[32];

	family(o, "http_connections_refused", "counter", false,
	       "Connections closed at once: their client (a local user, else an address) held its share already.");
	sample(o, "http_connections_refused", "_total", NULL, NULL, u64(value, sizeof(value), http->refused));
	family(o, "http_requests_cut", "counter", false,
	       "Requests cut at the deadline: a client too slow to send its request or to read the reply.");
	sample(o, "http_requests_cut", "_total", NULL, NULL, u64(value, sizeof(value), http->cut));
}

void dx_metrics_write(FILE *out, const struct dx_report *r, const struct dx_metrics_opts *opts)
{
	struct om o = { out, opts->format };

	collector_series(&o, r);
	if (opts->http)
		http_series(&o, opts->http);
	mount_series(&o, r, opts);
	file_series(&o, r, opts->top_files < DX_METRICS_TOP_MAX ? opts->top_files : DX_METRICS_TOP_MAX);
	dax_series(&o, r, opts->mounts);
	if (o.format == DX_METRICS_OPENMETRICS)
		fputs("# EOF\n", out);
}
