// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Capture files: round trip, and every kind of damage gives a named, located error, never a crash. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daxscope/core/capture.h"
#include "tap.h"

static char dir[256];

/* Rotating buffers: two paths can be used in one call. */
static const char *tmp(const char *name)
{
	static char paths[4][512];
	static int next;
	char *path = paths[next++ % 4];

	snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	return path;
}

struct written {
	uint32_t type;
	uint32_t len;
	uint8_t bytes[512];
};

static struct written sample[8];
static size_t nsample;

/* A small capture with one record of each type; remembers what it wrote. */
static void write_sample(const char *path)
{
	struct dx_capture_writer *w;
	struct dx_event e = { .ts = 123, .kind = DX_PUNCH_BEGIN, .pid = 5, .tid = 6 };
	struct dx_file f = { .ino = 9, .dev = 3, .gen = 1 };
	uint8_t path_rec[sizeof(f) + 8], hist[8 + sizeof(struct dx_hist)] = { 43 };
	uint8_t counts[sizeof(f) + sizeof(struct dx_file_counts)] = { 0 };
	const char banner[] = "daxscope: test banner";
	char err[256];

	memcpy(path_rec, &f, sizeof(f));
	memcpy(path_rec + sizeof(f), "/a/file", 8);
	nsample = 0;
#define ADD(t, p, l) (sample[nsample].type = (t), sample[nsample].len = (l), memcpy(sample[nsample++].bytes, (p), (l)))
	ADD(DX_REC_BANNER, banner, sizeof(banner));
	ADD(DX_REC_EVENT, &e, sizeof(e));
	e.kind = DX_PAGE_DIRTY;
	e.ts = 456;
	ADD(DX_REC_EVENT, &e, sizeof(e));
	ADD(DX_REC_PATH, path_rec, sizeof(path_rec));
	ADD(DX_REC_FUSE_HIST, hist, sizeof(hist));
	ADD(DX_REC_FILE_COUNTS, counts, sizeof(counts));
#undef ADD
	w = dx_capture_create(path, "6.18-test", err, sizeof(err));
	ok(w != NULL, "create %s", path);
	for (size_t i = 0; w && i < nsample; i++)
		dx_capture_append(w, sample[i].type, sample[i].bytes, sample[i].len);
	ok(w && dx_capture_finish(w, 7, 99, err, sizeof(err)) == 0, "finish writes the end record");
}

/* Reads a file; returns how many records matched the sample prefix, and the final status
 * (1 stopped on a mismatch, 0 clean end, -1 damage, -2 open failed, -3 status not sticky). */
static size_t read_back(const char *path, int *status, char *err, size_t errlen)
{
	struct dx_capture_reader *r = dx_capture_open(path, err, errlen);
	const void *payload;
	uint32_t type, len;
	size_t n = 0;
	int got;

	if (!r) {
		*status = -2;
		return 0;
	}
	while ((got = dx_capture_next(r, &type, &payload, &len)) > 0) {
		if (type == DX_REC_END)
			continue;
		if (n >= nsample || type != sample[n].type || len != sample[n].len ||
		    memcmp(payload, sample[n].bytes, len))
			break;
		n++;
	}
	*status = got;
	if (got < 0)
		snprintf(err, errlen, "%s", dx_capture_error(r));
	if (got <= 0 && dx_capture_next(r, &type, &payload, &len) != got)
		*status = -3; /* an end or an error must stay what it was */
	dx_capture_close(r);
	return n;
}

/* The sample records wholly inside the first `bytes` of the file, and the offset of the next record. */
static size_t records_within(long bytes, long *next)
{
	long at = (long)sizeof(struct dx_capture_header);
	size_t n = 0;

	for (; n < nsample && at + (long)sizeof(struct dx_record_header) + sample[n].len <= bytes; n++)
		at += (long)sizeof(struct dx_record_header) + sample[n].len;
	*next = at;
	return n;
}

/* The offset an error message names, -1 if none. */
static long error_offset(const char *err)
{
	const char *at = strstr(err, "offset ");

	return at ? strtol(at + strlen("offset "), NULL, 10) : -1;
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long)st.st_size;
}

static void copy_prefix(const char *from, const char *to, long bytes)
{
	char buf[8192];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	long done = 0;

	while (done < bytes) {
		ssize_t n = read(in, buf, (size_t)(bytes - done < (long)sizeof(buf) ? bytes - done : (long)sizeof(buf)));

		if (n <= 0 || write(out, buf, (size_t)n) != n)
			break;
		done += n;
	}
	close(in);
	close(out);
}

static void patch(const char *path, long offset, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY);

	if (pwrite(fd, bytes, len, offset) != (ssize_t)len)
		ok(0, "patch %s", path);
	close(fd);
}

static void test_round_trip(void)
{
	struct dx_capture_reader *r;
	const struct dx_capture_end *end;
	const void *payload;
	uint32_t type, len;
	char err[256];
	int status;

	write_sample(tmp("good.dxc"));
	is_int(read_back(tmp("good.dxc"), &status, err, sizeof(err)), nsample, "round trip: every record back, byte for byte");
	is_int(status, 0, "round trip: clean end");
	r = dx_capture_open(tmp("good.dxc"), err, sizeof(err));
	while (r && dx_capture_next(r, &type, &payload, &len) > 0)
		;
	end = r ? dx_capture_trailer(r) : NULL;
	ok(end && end->lost == 7 && end->duration_ns == 99 && end->records == nsample, "trailer: lost, duration, records");
	is_str(r ? dx_capture_info(r)->kernel : NULL, "6.18-test", "header: kernel");
	dx_capture_close(r);
	is_int(dx_crc32("123456789", 9), 0xCBF43926u, "crc32 check value");
}

static void test_every_truncation(void)
{
	long size = file_size(tmp("good.dxc"));
	int crashes_or_lies = 0, open_errors = 0;
	char err[256];

	for (long cut = 0; cut < size; cut++) {
		int status;
		size_t n;
		long next;

		copy_prefix(tmp("good.dxc"), tmp("cut.dxc"), cut);
		n = read_back(tmp("cut.dxc"), &status, err, sizeof(err));
		if (status == -2) {
			open_errors++;
			if (!strstr(err, "cut.dxc"))
				crashes_or_lies++;
			continue;
		}
		/* never a clean end; the file named, with the offset of the first record cut; every whole record kept */
		if (status != -1 || !strstr(err, "cut.dxc") || n != records_within(cut, &next) || error_offset(err) != next)
			crashes_or_lies++;
	}
	is_int(crashes_or_lies, 0,
	       "every truncation: every whole record back, then an error naming the file and the cut record's offset");
	is_int(open_errors, (long)sizeof(struct dx_capture_header), "cuts inside the header fail at open");
	copy_prefix(tmp("good.dxc"), tmp("cut.dxc"), size - 1);
	read_back(tmp("cut.dxc"), &(int){ 0 }, err, sizeof(err));
	ok(strstr(err, "truncated record at offset") != NULL, "a cut end record is reported as truncated: %s", err);
}

static void test_corruption(void)
{
	long first = (long)sizeof(struct dx_capture_header);
	long second = first + (long)sizeof(struct dx_record_header) + (long)sample[0].len;
	uint32_t huge = 0x7fffffff, unknown = 77;
	char err[256], want[64];
	int status;
	size_t n;

	copy_prefix(tmp("good.dxc"), tmp("flip.dxc"), file_size(tmp("good.dxc")));
	patch(tmp("flip.dxc"), second + (long)sizeof(struct dx_record_header) + 10, "\xff", 1);
	n = read_back(tmp("flip.dxc"), &status, err, sizeof(err));
	snprintf(want, sizeof(want), "offset %ld (checksum mismatch)", second);
	ok(status == -1 && strstr(err, want), "flipped payload byte: checksum error at its record: %s", err);
	is_int(n, 1, "flipped payload byte: the record before it is kept");

	copy_prefix(tmp("good.dxc"), tmp("len.dxc"), file_size(tmp("good.dxc")));
	patch(tmp("len.dxc"), second + 4, &huge, sizeof(huge));
	read_back(tmp("len.dxc"), &status, err, sizeof(err));
	ok(status == -1 && strstr(err, "bad record length"), "huge length: refused without allocating: %s", err);

	copy_prefix(tmp("good.dxc"), tmp("type.dxc"), file_size(tmp("good.dxc")));
	patch(tmp("type.dxc"), first, &unknown, sizeof(unknown));
	read_back(tmp("type.dxc"), &status, err, sizeof(err));
	ok(status == -1 && strstr(err, "unknown record type 77"), "unknown record type: %s", err);

	copy_prefix(tmp("good.dxc"), tmp("trail.dxc"), file_size(tmp("good.dxc")));
	patch(tmp("trail.dxc"), file_size(tmp("good.dxc")), "junk", 4);
	read_back(tmp("trail.dxc"), &status, err, sizeof(err));
	ok(status == -1 && strstr(err, "trailing data after the end record"), "trailing garbage: %s", err);
}

static void open_fails(const char *path, const char *expect, const char *name)
{
	char err[256] = "";
	struct dx_capture_reader *r = dx_capture_open(path, err, sizeof(err));

	ok(!r && strstr(err, expect) && strstr(err, path), "%s: %s", name, err);
	dx_capture_close(r);
}

static void test_not_captures(void)
{
	uint32_t v = 2;
	char err[256];
	FILE *f;

	open_fails(tmp("missing.dxc"), "cannot open", "nonexistent file");
	open_fails(dir, "not a regular file", "a directory");
	f = fopen(tmp("empty.dxc"), "w");
	fclose(f);
	open_fails(tmp("empty.dxc"), "not a daxscope capture (0 bytes", "empty file");
	f = fopen(tmp("text.dxc"), "w");
	for (int i = 0; i < 20; i++)
		fputs("this is a text file, not a capture\n", f);
	fclose(f);
	open_fails(tmp("text.dxc"), "bad magic", "a text file");
	copy_prefix(tmp("good.dxc"), tmp("v2.dxc"), file_size(tmp("good.dxc")));
	patch(tmp("v2.dxc"), 8, &v, sizeof(v));
	open_fails(tmp("v2.dxc"), "capture format version 2 at offset 8, this daxscope reads 1", "other format version");
	copy_prefix(tmp("good.dxc"), tmp("abi.dxc"), file_size(tmp("good.dxc")));
	v = 99;
	patch(tmp("abi.dxc"), 12, &v, sizeof(v));
	open_fails(tmp("abi.dxc"), "event ABI 99", "other event ABI");
	ok(!dx_capture_create("/nonexistent-dir/x.dxc", "k", err, sizeof(err)) && strstr(err, "/nonexistent-dir/x.dxc: cannot create"),
	   "writer: uncreatable path named: %s", err);
}

/* A capture's events, its CUT record (reason 0 if none) and whether it ends cleanly (0) or is damaged (-1). */
static int read_cut(const char *path, uint64_t *events, struct dx_capture_cut *cut)
{
	struct dx_capture_reader *r = dx_capture_open(path, NULL, 0);
	const void *payload;
	uint32_t type, len;
	int got;

	*events = 0;
	memset(cut, 0, sizeof(*cut));
	if (!r)
		return -2;
	while ((got = dx_capture_next(r, &type, &payload, &len)) > 0) {
		*events += type == DX_REC_EVENT;
		if (type == DX_REC_CUT)
			memcpy(cut, payload, sizeof(*cut));
	}
	dx_capture_close(r);
	return got;
}

/* Appends events until the writer refuses N of them; flushes every 64 as the recorder does once a second. */
static uint64_t fill(struct dx_capture_writer *w, int refusals)
{
	struct dx_event e = { .kind = DX_PAGE_DIRTY, .pid = 1, .tid = 1 };
	uint64_t taken = 0;
	char err[256];

	while (refusals > 0 && taken < 1000000) {
		e.ts = ++taken;
		if (dx_capture_append(w, DX_REC_EVENT, &e, sizeof(e)))
			refusals--;
		else if (taken % 64 == 0)
			dx_capture_flush(w, err, sizeof(err));
	}
	return taken;
}

/* --max-size: the file stays within the bound, ends with CUT and END records that count the events refused. */
static void test_max_size(void)
{
	struct dx_capture_writer *w = dx_capture_create(tmp("bounded.dxc"), "k", NULL, 0);
	struct dx_capture_cut cut;
	uint64_t taken, held;
	uint32_t crc;
	char err[256];
	long at;
	int rc;

	dx_capture_limit(w, 8192);
	taken = fill(w, 5);
	rc = dx_capture_finish(w, 0, 1, err, sizeof(err));
	ok(rc == 1 && strstr(err, "stopped at --max-size 8192 bytes") && strstr(err, "5 after them not written"),
	   "max size: finish says it stopped at the bound: %s", err);
	ok(file_size(tmp("bounded.dxc")) <= 8192 && file_size(tmp("bounded.dxc")) > 8192 - 256,
	   "max size: the file is within the bound, and nearly fills it (%ld bytes)", file_size(tmp("bounded.dxc")));
	rc = read_cut(tmp("bounded.dxc"), &held, &cut);
	ok(rc == 0 && cut.reason == DX_CUT_MAX_SIZE && cut.max_size == 8192 && cut.events_not_written == 5 &&
		   held + 5 == taken,
	   "max size: read to a clean end; the CUT record gives the bound and the 5 events refused");
	/* a CUT whose reason this reader does not know is damage, not a guess (its CRC made right) */
	cut.reason = 9;
	crc = dx_crc32(&cut, sizeof(cut));
	at = file_size(tmp("bounded.dxc")) - (long)(2 * sizeof(struct dx_record_header) + sizeof(cut) +
						   sizeof(struct dx_capture_end));
	patch(tmp("bounded.dxc"), at + (long)offsetof(struct dx_record_header, crc32), &crc, sizeof(crc));
	patch(tmp("bounded.dxc"), at + (long)sizeof(struct dx_record_header), &cut, sizeof(cut));
	is_int(read_cut(tmp("bounded.dxc"), &held, &cut), -1, "max size: a CUT of an unknown reason is damage");
}

/* A write cut short (here by RLIMIT_FSIZE, as a full filesystem does): cut back to whole records, CUT and END after them. */
static void test_short_write(void)
{
	struct rlimit old, small = { .rlim_cur = 20000 };
	struct dx_capture_writer *w = dx_capture_create(tmp("short.dxc"), "k", NULL, 0);
	struct dx_capture_cut cut;
	uint64_t taken, held;
	char err[256];
	int rc;

	signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG instead */
	getrlimit(RLIMIT_FSIZE, &old);
	small.rlim_max = old.rlim_max;
	setrlimit(RLIMIT_FSIZE, &small);
	taken = fill(w, 3);
	rc = dx_capture_finish(w, 0, 1, err, sizeof(err));
	setrlimit(RLIMIT_FSIZE, &old);
	ok(rc == -1 && strstr(err, "write failed: File too large; cut back to its last whole record"),
	   "short write: finish says it failed and was cut back: %s", err);
	rc = read_cut(tmp("short.dxc"), &held, &cut);
	ok(rc == 0 && cut.reason == DX_CUT_WRITE_FAILED && cut.error == EFBIG && held > 0 &&
		   held + cut.events_not_written == taken,
	   "short write: read to a clean end; CUT says why and counts what is missing (%llu held, %llu taken)",
	   (unsigned long long)held, (unsigned long long)taken);
	ok(file_size(tmp("short.dxc")) <= 20000, "short write: nothing past the limit");
}

int main(void)
{
	snprintf(dir, sizeof(dir), "%s/daxscope-capture-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	plan(29);
	test_round_trip();
	test_max_size();
	test_short_write();
	test_every_truncation();
	test_corruption();
	test_not_captures();
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			ok(0, "cleanup %s", dir);
	}
	return done_testing();
}
