// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Runs the kernel skipped (DX_REC_SKIPS): written and read back, refused
 * when malformed, and shown like lost events in the text report, its JSON,
 * and the metrics; a capture without the record (older) and a kernel that
 * does not count them are told apart from a count of 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/metrics.h"
#include "daxscope/outputs/report_out.h"
#include "tap.h"

struct skips {
	struct dx_skips_record h;
	struct dx_skipped_program p[2];
};

static uint32_t skips_len(const struct skips *s)
{
	return (uint32_t)(sizeof(s->h) + s->h.nprograms * sizeof(s->p[0]));
}

/* What an output prints for R, in a string to free. */
static char *printed(void (*print)(FILE *, const struct dx_report *), const struct dx_report *r)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	print(f, r);
	fclose(f);
	return text;
}

static void metrics(FILE *out, const struct dx_report *r)
{
	dx_metrics_write(out, r, &(struct dx_metrics_opts){ .format = DX_METRICS_PROMETHEUS });
}

/* A report of the records: the banner, then SKIPS records (each replaces the last), in NSKIPS. */
static struct dx_report *report_of(const struct skips *skips, size_t nskips)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ 0 });

	if (!r)
		abort();
	dx_report_take(DX_REC_BANNER, "daxscope: test", sizeof("daxscope: test"), r);
	for (size_t i = 0; i < nskips; i++)
		dx_report_take(DX_REC_SKIPS, &skips[i], skips_len(&skips[i]), r);
	return r;
}

static void test_unknown_and_not_counted(void)
{
	struct skips none = { .h.counted = 0 };
	struct dx_report *old = report_of(NULL, 0), *uncounted = report_of(&none, 1);
	char *json = printed(dx_report_json, old), *text = printed(dx_report_text, uncounted);

	is_int(dx_report_skips_known(old), DX_SKIPS_UNKNOWN, "a capture without the record: not known");
	ok(strstr(json, "\"skipped_runs\":null") && strstr(json, "\"complete\":true"),
	   "its JSON: skipped_runs null, still complete");
	free(json);
	json = printed(dx_report_json, uncounted);
	is_int(dx_report_skips_known(uncounted), DX_SKIPS_NOT_COUNTED, "counted 0: the kernel does not count them");
	ok(strstr(json, "\"skipped_runs\":null") && strstr(json, "\"skipped_runs_by_program\":null"),
	   "its JSON: null, not 0");
	ok(strstr(text, "not counted by this kernel") != NULL, "its text says they are not counted");
	free(json);
	free(text);
	dx_report_free(old);
	dx_report_free(uncounted);
}

static void test_counted(void)
{
	struct skips s[2] = {
		{ .h = { .counted = 1, .nprograms = 0 } },
		{ .h = { .counted = 1, .nprograms = 2 }, .p = { { "on_dax_alloc", 3 }, { "on_dax_busy_range", 1 } } },
	};
	struct dx_report *clean = report_of(s, 1), *r = report_of(s, 2);
	char *json = printed(dx_report_json, clean), *text, *om;

	is_int(dx_report_skipped_runs(clean), 0, "counted, none skipped: 0");
	ok(strstr(json, "\"skipped_runs\":0,\"skipped_runs_by_program\":{}") && strstr(json, "\"complete\":true"),
	   "its JSON: 0 and {}, complete");
	free(json);
	json = printed(dx_report_json, r);
	text = printed(dx_report_text, r);
	om = printed(metrics, r);
	is_int(dx_report_skipped_runs(r), 4, "the last record counts: 3 + 1");
	ok(strstr(json, "\"skipped_runs\":4,\"skipped_runs_by_program\":{\"on_dax_alloc\":3,\"on_dax_busy_range\":1}") != NULL,
	   "JSON: the total and each program's");
	ok(strstr(json, "\"complete\":false") != NULL, "JSON: a capture short of skipped runs is not complete");
	ok(strstr(text, "WARNING: the kernel skipped 4 runs") && strstr(text, "on_dax_alloc 3, on_dax_busy_range 1"),
	   "text: a warning naming the programs");
	ok(strstr(om, "daxscope_skipped_runs_total{program=\"on_dax_alloc\"} 3\n") &&
	   strstr(om, "daxscope_skipped_runs_total{program=\"on_dax_busy_range\"} 1\n"),
	   "metrics: a counter a program");
	free(json);
	free(text);
	free(om);
	dx_report_free(clean);
	dx_report_free(r);
}

static void test_fits(void)
{
	struct skips s = { .h = { .counted = 1, .nprograms = 1 }, .p = { { "on_dax_alloc", 3 } } };

	ok(dx_record_fits(DX_REC_SKIPS, &s, skips_len(&s)), "a well-formed record fits");
	ok(!dx_record_fits(DX_REC_SKIPS, &s, skips_len(&s) - 1), "one byte short of its programs: refused");
	ok(!dx_record_fits(DX_REC_SKIPS, &s, skips_len(&s) + sizeof(s.p[0])), "more programs than it says: refused");
	ok(!dx_record_fits(DX_REC_SKIPS, &s, sizeof(s.h) - 1), "shorter than its head: refused");
	s.h.counted = 0;
	ok(!dx_record_fits(DX_REC_SKIPS, &s, skips_len(&s)), "programs where the kernel does not count: refused");
	s.h.counted = 1;
	memset(s.p[0].name, 'x', sizeof(s.p[0].name));
	ok(!dx_record_fits(DX_REC_SKIPS, &s, skips_len(&s)), "a name without its NUL: refused");
}

static void test_round_trip(void)
{
	struct skips s = { .h = { .counted = 1, .nprograms = 1 }, .p = { { "on_dax_alloc", 7 } } };
	char path[] = "/tmp/test_skips.XXXXXX", err[256];
	int fd = mkstemp(path);
	struct dx_capture_writer *w;
	struct dx_capture_reader *in;
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ 0 });

	if (fd < 0 || !r)
		abort();
	close(fd);
	w = dx_capture_create(path, "test", err, sizeof(err));
	ok(w && !dx_capture_append(w, DX_REC_SKIPS, &s, skips_len(&s)) && !dx_capture_finish(w, 0, 1, err, sizeof(err)),
	   "written to a capture");
	in = dx_capture_open(path, err, sizeof(err));
	ok(in && dx_report_read(r, in, NULL, NULL) == 0, "read back to its end");
	ok(dx_report_nskipped(r) == 1 && !strcmp(dx_report_skipped(r, 0)->name, "on_dax_alloc") &&
	   dx_report_skipped(r, 0)->runs == 7, "the program and its count, as written");
	dx_capture_close(in);
	dx_report_free(r);
	unlink(path);
}

int main(void)
{
	plan(21);
	test_unknown_and_not_counted();
	test_counted();
	test_fits();
	test_round_trip();
	return done_testing();
}
