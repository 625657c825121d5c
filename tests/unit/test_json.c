// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The JSON documents whatever bytes names hold (an attacker picks file names
 * and task names, a damaged capture anything): they parse as UTF-8 JSON with
 * real parsers, and the raw bytes come back from "<name>_bytes".
 */
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/names.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/report_out.h"
#include "daxscope/outputs/top.h"
#include "daxscope/outputs/json.h"
#include "tap.h"

#define MS 1000000ULL
#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

/* a newline, an ESC sequence that would clear a terminal, bytes that are no UTF-8, U+202E that reverses "gpj" */
#define RLO "\xe2\x80\xae" /* U+202E RIGHT-TO-LEFT OVERRIDE */
static const char evil_path[] = "/tmp/evil\n\x1b[31mred\xff\xfe" RLO "gpj.img";
static const char evil_path_text[] = "/tmp/evil\n\x1b[31mred" REPLACEMENT REPLACEMENT RLO "gpj.img";
/* sixteen bytes, no NUL: a comm filled to the end */
static const char evil_comm[DX_COMM_LEN + 1] = "a\nb\x1b[2J\xff\xfe" "wxyzuvw";
static char evil_name[DX_NAME_LEN]; /* a punch's dentry name, every byte 0xff: no NUL either */
static struct dx_probe evil_probe;   /* what: 0xfe to the end of the field; reason: ESCs */

static uint64_t clock_ns = 1000 * MS;

static void take(struct dx_report *r, uint16_t kind, uint32_t tid, uint64_t index, uint64_t cancelled)
{
	struct dx_event e = { .ts = clock_ns, .kind = kind, .pid = tid, .tid = tid };

	memcpy(e.comm, evil_comm, DX_COMM_LEN);
	e.file = (struct dx_file){ .ino = 1, .dev = 8u << 20 };
	if (kind == DX_PUNCH_BEGIN) {
		memcpy(e.punch.name, evil_name, DX_NAME_LEN);
		e.punch.op = DX_OP_PUNCH_HOLE;
		e.punch.len = 64 * 4096;
		e.punch.fd = -1;
	} else {
		e.page.index = index;
		e.page.cancelled_bytes = cancelled;
	}
	clock_ns += MS;
	dx_report_take(DX_REC_EVENT, &e, sizeof(e), r);
}

/* A report of one punch that discards another task's write, every name hostile. */
static struct dx_report *hostile_report(void)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ .keep_punches = true });
	struct dx_file f = { .ino = 1, .dev = 8u << 20 };
	char rec[sizeof(f) + sizeof(evil_path)];

	memset(evil_name, 0xff, sizeof(evil_name));
	memset(evil_probe.what, 0xfe, sizeof(evil_probe.what));
	memset(evil_probe.reason, '\x1b', sizeof(evil_probe.reason) - 1);
	dx_report_set_origin(r, "6.18-\xc3\xa9", 0); /* valid UTF-8 stays as it is */
	memcpy(rec, &f, sizeof(f));
	memcpy(rec + sizeof(f), evil_path, sizeof(evil_path));
	dx_report_take(DX_REC_PATH, rec, sizeof(rec), r);
	dx_report_take(DX_REC_BANNER, "banner \xc0\xaf", 10, r);
	dx_report_take(DX_REC_PROBE, &evil_probe, sizeof(evil_probe), r);
	take(r, DX_PUNCH_BEGIN, 100, 0, 0);
	take(r, DX_PAGE_DELETE, 100, 63, 0);
	take(r, DX_PAGE_DIRTY, 101, 0, 0);
	take(r, DX_PAGE_DELETE, 100, 0, 4096);
	take(r, DX_PUNCH_END, 100, 0, 0);
	dx_report_advance(r, clock_ns + 1000 * MS);
	dx_report_flush(r);
	dx_report_set_damaged(r, "cut at \xff");
	return r;
}

static yajl_val member(yajl_val obj, const char *key)
{
	const char *path[] = { key, NULL };

	return obj ? yajl_tree_get(obj, path, yajl_t_any) : NULL;
}

static yajl_val first(yajl_val arr)
{
	return YAJL_IS_ARRAY(arr) && arr->u.array.len ? arr->u.array.values[0] : NULL;
}

/* Do the hex digits of obj's "<key>_bytes" give back the raw bytes? */
static bool recovers(yajl_val obj, const char *key, const void *raw, size_t len)
{
	char name[64];
	const char *hex;
	unsigned char *bytes;
	size_t n = 0;
	bool same;

	snprintf(name, sizeof(name), "%s_bytes", key);
	hex = YAJL_GET_STRING(member(obj, name));
	if (!hex || strlen(hex) != 2 * len)
		return false;
	bytes = malloc(len + 1);
	for (; n < len && sscanf(hex + 2 * n, "%2hhx", &bytes[n]) == 1; n++)
		;
	same = n == len && !memcmp(bytes, raw, len);
	free(bytes);
	return same;
}

/* A second parser, of another code base: Python's json, on bytes decoded as strict UTF-8. */
static void python_accepts(const char *json, size_t len, const char *what)
{
	FILE *p;

	if (system("command -v python3 >/dev/null 2>&1")) {
		ok(1, "%s: python3 json # SKIP no python3", what);
		return;
	}
	p = popen("python3 -c 'import json,sys; json.loads(sys.stdin.buffer.read().decode(\"utf-8\"))'", "w");
	fwrite(json, 1, len, p);
	ok(p && pclose(p) == 0, "%s: python3 json.loads of the strict UTF-8 decoding", what);
}

/* Raw control bytes stay out of the text: escaped, or the document would not be one line. */
static bool one_clean_line(const char *json, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if ((unsigned char)json[i] < 0x20)
			return false;
	return len && json[len - 1] == '\n';
}

static yajl_val parse(const char *json, const char *what)
{
	char err[256] = "";
	yajl_val doc = yajl_tree_parse(json, err, sizeof(err));

	ok(doc != NULL, "%s: yajl's parser (UTF-8 checked) reads it %s", what, err);
	return doc;
}

static void test_report(void)
{
	struct dx_report *r = hostile_report();
	char *json = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&json, &len);
	yajl_val doc, file, finding, punch, probe;

	dx_report_json(mem, r);
	fclose(mem);
	ok(one_clean_line(json, len), "report: one line, no raw control bytes");
	python_accepts(json, len, "report");
	doc = parse(json, "report");
	file = first(member(doc, "files"));
	finding = first(member(doc, "findings"));
	punch = first(member(doc, "punches"));
	probe = first(member(doc, "probes"));
	is_str(YAJL_GET_STRING(member(file, "path")), evil_path_text, "path: newline and ESC kept, U+FFFD per bad byte");
	ok(recovers(file, "path", evil_path, strlen(evil_path)), "path_bytes: the raw path");
	ok(recovers(file, "name", evil_name, DX_NAME_LEN), "name_bytes: the dentry name, cut at its length");
	ok(recovers(finding, "fault_comm", evil_comm, DX_COMM_LEN), "fault_comm_bytes: the writer's comm");
	ok(recovers(finding, "punch_comm", evil_comm, DX_COMM_LEN), "punch_comm_bytes");
	ok(recovers(member(punch, "task"), "comm", evil_comm, DX_COMM_LEN), "punches[].task.comm_bytes");
	ok(recovers(doc, "banner", "banner \xc0\xaf", 9), "banner_bytes (an overlong '/')");
	ok(recovers(doc, "warning", "cut at \xff", 8), "warning_bytes");
	ok(recovers(probe, "what", evil_probe.what, sizeof(evil_probe.what)), "probes[].what_bytes: cut at its field");
	is_str(YAJL_GET_STRING(member(probe, "reason")), evil_probe.reason, "probes[].reason: only ESCs, valid UTF-8: escaped");
	ok(!member(probe, "reason_bytes"), "(and no reason_bytes)");
	is_str(YAJL_GET_STRING(member(doc, "kernel")), "6.18-\xc3\xa9", "valid UTF-8 kept as it is");
	ok(!member(doc, "kernel_bytes") && !member(doc, "schema_bytes"), "no _bytes member for valid UTF-8");
	yajl_tree_free(doc);
	free(json);
	dx_report_free(r);
}

/* Text output (finding lines, the summary, daxtop's cells) escapes names as ls -b does. */
static void test_text(void)
{
	struct dx_report *r = hostile_report();
	char *text = NULL, out[128];
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	dx_report_text(mem, r);
	fclose(mem);
	ok(!strchr(text, '\x1b') && !memchr(text, 0xff, len), "text report: no ESC, no byte that is not UTF-8");
	ok(strstr(text, "/tmp/evil\\n\\033[31mred\\377\\376\\342\\200\\256gpj.img") != NULL,
	   "the path escaped as ls -b does, its right-to-left override too");
	ok(!strstr(text, RLO), "text report: no raw bidi control");
	ok(!strstr(text, "\nunblocked_fault") && !strstr(text, "evil\n"), "a newline in a name starts no line");
	is_str(dx_escape(out, sizeof(out), "a\\b\tc\x7f\xc3\xa9", SIZE_MAX), "a\\\\b\\tc\\177\xc3\xa9",
	       "backslash, tab, DEL escaped; valid UTF-8 kept");
	is_str(dx_escape(out, 8, "abcdefghij", SIZE_MAX), "abcdefg", "cut to the buffer, never past it");
	is_str(dx_escape(out, 6, "ab\x01", SIZE_MAX), "ab", "an escape that does not fit is left out whole");
	/* every Bidi_Control character, and C1 controls, byte by byte; their neighbours kept */
	is_str(dx_escape(out, sizeof(out), "\u202a\u202e\u2066\u2069\u200e\u200f\u061c", SIZE_MAX),
	       "\\342\\200\\252\\342\\200\\256\\342\\201\\246\\342\\201\\251\\342\\200\\216\\342\\200\\217\\330\\234",
	       "bidi controls U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C escaped");
	is_str(dx_escape(out, sizeof(out), "a\xc2\x9b" "2Jb", SIZE_MAX), "a\\302\\2332Jb", "C1 control (U+009B, CSI) escaped");
	is_str(dx_escape(out, sizeof(out), "\u2010\u202f\u206a\u00a0\u0627", SIZE_MAX), "\u2010\u202f\u206a\u00a0\u0627",
	       "printable neighbours of the controls kept");
	is_str(dx_escape(out, 10, "ab" RLO, SIZE_MAX), "ab\\342", "a control cut by the buffer never leaves a raw byte");
	free(text);
	dx_report_free(r);
}

static void test_top(void)
{
	struct dx_report *r = hostile_report();
	struct dx_top t = { 0 };
	char *json = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&json, &len);
	yajl_val doc, file;

	dx_top_update(&t, r, 1.0);
	dx_top_print_json(mem, &t, r, 1.0);
	fclose(mem);
	ok(one_clean_line(json, len), "daxtop: one line, no raw control bytes");
	python_accepts(json, len, "daxtop");
	doc = parse(json, "daxtop");
	file = first(member(doc, "files"));
	ok(recovers(file, "path", evil_path, strlen(evil_path)), "daxtop: files[].path_bytes");
	ok(recovers(first(member(file, "top_punchers")), "comm", evil_comm, DX_COMM_LEN),
	   "daxtop: files[].top_punchers[].comm_bytes");
	ok(recovers(doc, "banner", "banner \xc0\xaf", 9), "daxtop: banner_bytes");
	yajl_tree_free(doc);
	free(json);
	dx_top_free(&t);
	dx_report_free(r);
}

/*
 * A window the kernel marked as lacking evidence (FLAG): marked in the JSON,
 * per window (WINDOW_FIELD) and file (FILE_FIELD), and warned of in the text.
 */
static void test_marked_window(uint16_t flag, const char *window_field, const char *file_field, const char *warning)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ .keep_punches = true });
	struct dx_event e = { .ts = clock_ns, .kind = DX_PUNCH_BEGIN, .pid = 5, .tid = 5 };
	char *json = NULL, *text = NULL;
	size_t len = 0, text_len = 0;
	FILE *mem;
	yajl_val doc;

	e.file = (struct dx_file){ .ino = 2, .dev = 9u << 20 };
	e.punch.op = DX_OP_PUNCH_HOLE;
	e.punch.len = 4096;
	dx_report_take(DX_REC_EVENT, &e, sizeof(e), r);
	e.ts += MS;
	e.kind = DX_PUNCH_END;
	e.flags = flag;
	dx_report_take(DX_REC_EVENT, &e, sizeof(e), r);
	dx_report_advance(r, e.ts + 1000 * MS);
	dx_report_flush(r);
	mem = open_memstream(&json, &len);
	dx_report_json(mem, r);
	fclose(mem);
	doc = parse(json, window_field);
	ok(YAJL_IS_TRUE(member(first(member(doc, "punches")), window_field)), "punches[].%s", window_field);
	ok(YAJL_GET_INTEGER(member(first(member(doc, "files")), file_field)) == 1, "files[].%s", file_field);
	mem = open_memstream(&text, &text_len);
	dx_report_text(mem, r);
	fclose(mem);
	ok(text && strstr(text, warning), "the text report warns: %s", warning);
	yajl_tree_free(doc);
	free(json);
	free(text);
	dx_report_free(r);
}

/* The UTF-8 check itself, at RFC 3629's edges. */
static void test_utf8_edges(void)
{
	static const struct {
		const char *s, *what;
		bool valid;
	} cases[] = {
		{ "plain", "ASCII", true },
		{ "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "2, 3 and 4 byte sequences", true },
		{ "\xf4\x8f\xbf\xbf", "U+10FFFF, the last code point", true },
		{ "\x7f\xc2\x80", "DEL and a C1 control", true },
		{ "\xc0\xaf", "an overlong '/'", false },
		{ "\xe0\x80\xaf", "an overlong 3-byte form", false },
		{ "\xed\xa0\x80", "a UTF-16 surrogate", false },
		{ "\xf4\x90\x80\x80", "beyond U+10FFFF", false },
		{ "\xf5\x80\x80\x80", "a lead byte never used", false },
		{ "ab\xe2\x82", "a sequence cut short at the end", false },
		{ "\x80", "a lone continuation byte", false },
	};
	char *json = NULL;
	size_t len = 0, n = sizeof(cases) / sizeof(cases[0]);
	FILE *mem = open_memstream(&json, &len);
	yajl_gen g = dx_json_open(mem);
	yajl_val doc;
	char key[8];

	dx_json_map(g, NULL);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "s%zu", i);
		dx_json_text(g, key, cases[i].s);
	}
	dx_json_end_map(g);
	dx_json_close(g, mem);
	fclose(mem);
	doc = parse(json, "UTF-8 edges");
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "s%zu", i);
		if (cases[i].valid)
			is_str(YAJL_GET_STRING(member(doc, key)), cases[i].s, cases[i].what);
		else
			ok(recovers(doc, key, cases[i].s, strlen(cases[i].s)), "%s: replaced, its bytes kept", cases[i].what);
	}
	is_str(YAJL_GET_STRING(member(doc, "s9")), "ab" REPLACEMENT REPLACEMENT, "a cut sequence: one U+FFFD per byte");
	yajl_tree_free(doc);
	free(json);
}

int main(void)
{
	test_report();
	test_text();
	test_top();
	test_marked_window(DX_F_CHANGE_UNDATED, "change_undated", "punches_change_undated",
			   "WARNING: 1 punch window on FUSE whose data change could not be dated on this kernel");
	test_marked_window(DX_F_READS_UNWATCHED, "reads_unwatched", "punches_reads_unwatched",
			   "WARNING: 1 punch window on a mapped page-cache file, and this kernel's page-cache read faults");
	test_utf8_edges();
	return done_testing();
}
