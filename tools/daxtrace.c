// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daxtrace: what races hole punches, live or through a capture file.
 *   daxtrace [-p PID] [--path DIR] [-d SECONDS]        findings live
 *   daxtrace record -o FILE [-p PID] [--path DIR] [-d SECONDS] [--max-size SIZE]
 *   daxtrace report FILE [--json] [--path DIR] [--perfetto OUT] [--html OUT]
 * Every mode takes the same road: a session's records (or a capture's) into a report.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/correlate.h"
#include "daxscope/core/parse.h"
#include "daxscope/core/paths.h"
#include "daxscope/core/report.h"
#include "daxscope/live/loop.h"
#include "daxscope/live/session.h"
#include "daxscope/outputs/report_out.h"
#include "daxscope/outputs/timeline.h"

#define MAX_SECONDS (366.0 * 24 * 3600) /* a year: longer is a typo */
#define LIVE_FINDINGS 4096               /* a live view keeps the newest findings, counts them all */
#define MIN_CAPTURE (64ULL << 10)        /* --max-size: room for the banner and probes, and some events */
#define MAX_CAPTURE (16ULL << 40)        /* --max-size: ext4's largest file */

enum mode { LIVE, RECORD, REPORT };

struct options {
	enum mode mode;
	uint32_t pid;
	char cgroup[PATH_MAX];
	char dir[PATH_MAX];
	const char *output;
	const char *input;
	const char *perfetto, *html; /* timeline outputs of a report */
	double duration;
	uint64_t max_size; /* --max-size in bytes, 0 for none (record) */
	bool json;
	struct dx_session_opts session; /* --fault-hooks, --hooks-idle (live, record) */
	struct dx_budget_opts budget;   /* --evidence-budget, --idle-files (live, report) */
	unsigned int given; /* which options were given: refused where they do not apply */
};

enum { OPT_PATH = 1000, OPT_JSON, OPT_CGROUP, OPT_PERFETTO, OPT_HTML, OPT_MAX_SIZE };

static const struct argp_option options[] = {
	{ "pid", 'p', "PID", 0, "only punches by this process (live, record)", 0 },
	{ "cgroup", OPT_CGROUP, "PATH", 0, "only punches by tasks of this cgroup v2 (live, record)", 0 },
	{ "path", OPT_PATH, "DIR", 0, "only files in DIR or below it (its filesystem, in the kernel)", 0 },
	{ "duration", 'd', "SECONDS", 0, "stop after SECONDS (live, record; default: until Ctrl-C)", 0 },
	{ "output", 'o', "FILE", 0, "capture file to write (record)", 0 },
	{ "max-size", OPT_MAX_SIZE, "SIZE", 0,
	  "stop recording before the capture passes SIZE bytes (K, M, G, T: powers of 1024; 64K to 16T); "
	  "the capture and its report say how many events were not written (record)", 0 },
	{ "json", OPT_JSON, NULL, 0, "JSON report, schema daxscope.report/2 (report)", 0 },
	{ "perfetto", OPT_PERFETTO, "OUT", 0, "also write a timeline trace (ui.perfetto.dev, chrome://tracing) (report)", 0 },
	{ "html", OPT_HTML, "OUT", 0, "also write a self-contained HTML report with timelines (report)", 0 },
	{ "verbose", 'v', NULL, 0, "print libbpf's own messages (as DAXSCOPE_DEBUG=1)", 0 },
	{ 0 },
};

static const char doc[] =
	"Shows what runs while a hole punch, zero/collapse/insert range, truncate or range copy changes a "
	"file's data: faults held off by its lock (blocked_fault) and, where it changed data without the "
	"lock, faults that got through (unblocked_fault), writes it threw away (discarded_write), pre-punch "
	"data written back into the hole (resurrected_data), IO meanwhile (io_during_punch) and pages read "
	"back in (refault); after it, stores through a page-table entry it left writable that write-back "
	"will never write (writable_after_punch)."
	"\v"
	"Examples:\n"
	"  daxtrace                            # live, until Ctrl-C\n"
	"  daxtrace record -o punch.dxc -d 30  # capture 30 s\n"
	"  daxtrace record -o punch.dxc --max-size 100M  # at most 100 MiB\n"
	"  daxtrace report punch.dxc --json    # summarise a capture\n"
	"  daxtrace report punch.dxc --perfetto t.json --html t.html  # timelines";

/* The options given that not every mode takes, as bits of options.given. */
enum { GIVEN_PID = 1, GIVEN_DURATION = 2, GIVEN_OUTPUT = 4, GIVEN_JSON = 8, GIVEN_CGROUP = 16, GIVEN_PERFETTO = 32,
       GIVEN_HTML = 64, GIVEN_MAX_SIZE = 128 };

static volatile sig_atomic_t stop;

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct options *o = state->input;
	char err[PATH_MAX + 64];
	uint64_t n;

	switch (key) {
	case 'p':
		if (!dx_parse_count(arg, 1, INT_MAX, &n))
			argp_error(state, "invalid PID '%s' (1 to %d)", arg, INT_MAX);
		o->pid = (uint32_t)n;
		o->given |= GIVEN_PID;
		break;
	case OPT_CGROUP:
		if (!dx_cgroup_dir(arg, o->cgroup, sizeof(o->cgroup)))
			argp_error(state, "--cgroup '%s': not a cgroup v2 directory", arg);
		o->given |= GIVEN_CGROUP;
		break;
	case OPT_PATH:
		if (dx_path_dir(arg, o->dir, sizeof(o->dir), err, sizeof(err)))
			argp_error(state, "--path %s", err);
		break;
	case 'd':
		if (!dx_parse_seconds(arg, 0.001, MAX_SECONDS, &o->duration))
			argp_error(state, "invalid duration '%s' (seconds, more than 0, at most %.0f)", arg, MAX_SECONDS);
		o->given |= GIVEN_DURATION;
		break;
	case 'o':
		o->output = arg;
		o->given |= GIVEN_OUTPUT;
		break;
	case OPT_MAX_SIZE:
		if (!dx_parse_size(arg, MIN_CAPTURE, MAX_CAPTURE, &o->max_size))
			argp_error(state, "invalid --max-size '%s' (bytes, or a number with K, M, G or T; 64K to 16T)", arg);
		o->given |= GIVEN_MAX_SIZE;
		break;
	case OPT_JSON:
		o->json = true;
		o->given |= GIVEN_JSON;
		break;
	case OPT_PERFETTO:
		o->perfetto = arg;
		o->given |= GIVEN_PERFETTO;
		break;
	case OPT_HTML:
		o->html = arg;
		o->given |= GIVEN_HTML;
		break;
	case 'v':
		setenv("DAXSCOPE_DEBUG", "1", 1);
		break;
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &o->session;
		state->child_inputs[1] = &o->budget;
		return 0;
	case ARGP_KEY_ARG:
		if (state->arg_num == 0 && !strcmp(arg, "record"))
			o->mode = RECORD;
		else if (state->arg_num == 0 && !strcmp(arg, "report"))
			o->mode = REPORT;
		else if (state->arg_num == 1 && o->mode == REPORT)
			o->input = arg;
		else
			argp_error(state, "unexpected argument '%s'", arg);
		return 0;
	case ARGP_KEY_END:
		if (o->mode == RECORD && !o->output)
			argp_error(state, "record needs -o FILE");
		if (o->mode == REPORT && !o->input)
			argp_error(state, "report needs a capture FILE");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = {
	{ &dx_session_argp, 0, NULL, 0 }, { &dx_budget_argp, 0, NULL, 0 }, { 0 }
};

static const struct argp argp = {
	options, parse_opt, "\n record -o FILE\n report FILE", doc, children, NULL, NULL,
};

/* Options that do not apply to the mode are an error, not ignored. */
static int check_applies(const struct options *o, const char *prog)
{
	static const struct {
		unsigned int bit;
		const char *name;
		unsigned int modes; /* bit per enum mode */
	} rules[] = {
		{ GIVEN_PID, "-p", 1u << LIVE | 1u << RECORD },
		{ GIVEN_CGROUP, "--cgroup", 1u << LIVE | 1u << RECORD },
		{ GIVEN_DURATION, "-d", 1u << LIVE | 1u << RECORD },
		{ GIVEN_OUTPUT, "-o", 1u << RECORD },
		{ GIVEN_MAX_SIZE, "--max-size", 1u << RECORD },
		{ GIVEN_JSON, "--json", 1u << REPORT },
		{ GIVEN_PERFETTO, "--perfetto", 1u << REPORT },
		{ GIVEN_HTML, "--html", 1u << REPORT },
	};
	static const char *const mode_names[] = { "live mode", "record", "report" };

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (o->given & rules[i].bit && !(rules[i].modes & 1u << o->mode)) {
			fprintf(stderr, "%s: %s does not apply to %s\n", prog, rules[i].name, mode_names[o->mode]);
			return 2;
		}
	if (o->mode == REPORT && (o->session.fault_hooks_always || o->session.fault_hooks_idle_ns)) {
		fprintf(stderr, "%s: --fault-hooks and --hooks-idle do not apply to report\n", prog);
		return 2;
	}
	return 0;
}

/* ---- live and record: a session until a signal or -d, through the live loop ---- */

/* The kernel's aggregates once a second, lost events while they happen (record: the capture's too). */
#define SNAPSHOT_NS 1000000000ULL

/*
 * LOOP says where the records go (a report, a sink) and what runs each
 * interval; the session, the deadline and the stop flag are filled in here.
 * 1: the session could not start (said why); 2: it stopped on a read error (said why); 0: fine.
 */
static int run_session(const struct options *o, struct dx_loop_opts *loop, uint64_t *events)
{
	struct dx_session_opts so = o->session;
	uint64_t deadline = o->duration > 0 ? dx_clock_ns(CLOCK_MONOTONIC) + (uint64_t)(o->duration * 1e9) : 0;
	struct dx_session *s;
	char err[512];
	int rc;

	so.pid = o->pid;
	so.cgroup = o->cgroup[0] ? o->cgroup : NULL;
	so.path = o->dir[0] ? o->dir : NULL;
	if (dx_session_open(&so, &s, err, sizeof(err))) {
		fprintf(stderr, "daxtrace: %s\n", err);
		return 1;
	}
	fprintf(stderr, "%s\n", dx_session_banner(s));
	if (o->pid && kill((pid_t)o->pid, 0) && errno == ESRCH)
		fprintf(stderr, "daxtrace: no process %u (yet): watching for it\n", o->pid);
	loop->source = dx_session_source(s);
	loop->poll_ms = DX_LOOP_POLL_MS;
	loop->interval_ns = SNAPSHOT_NS;
	loop->deadline_ns = deadline;
	loop->stop = &stop;
	loop->drain = true; /* what is still in the ring buffer, and the last counts */
	dx_session_describe(s, dx_loop_take, loop);
	if (o->dir[0])
		dx_loop_take(DX_REC_DIR, o->dir, (uint32_t)strlen(o->dir) + 1, loop);
	rc = dx_loop_run(loop, events);
	if (rc)
		fprintf(stderr, "daxtrace: reading events: %s\n", strerror(-rc));
	dx_session_close(s);
	return rc ? 2 : 0;
}

/* ---- live: findings as they are judged ---- */

struct live {
	struct dx_report *report;
	uint64_t lost;
};

static void print_finding(const struct dx_finding *f, void *ctx)
{
	struct live *l = ctx;

	dx_report_finding_line(stdout, l->report, f);
	fflush(stdout);
}

/* After the report took each record: the kernel's drop counts said more events were lost. */
static void say_lost(uint32_t type, const void *payload, uint32_t len, void *ctx)
{
	struct live *l = ctx;

	(void)payload, (void)len;
	if (type == DX_REC_DROPS && dx_report_lost(l->report) > l->lost) {
		l->lost = dx_report_lost(l->report);
		fprintf(stderr, "daxtrace: %" PRIu64 " events lost so far (ring buffer full)\n", l->lost);
	}
}

static int cmd_live(const struct options *o)
{
	struct live l = { 0 };
	struct dx_report_opts ro = {
		.max_findings = LIVE_FINDINGS, .evidence_budget = o->budget.evidence_budget, .idle_ns = o->budget.idle_ns,
		.on_finding = print_finding, .ctx = &l,
	};
	struct dx_loop_opts loop = { .sink = say_lost, .sink_ctx = &l };
	uint64_t events = 0;
	int rc;

	l.report = loop.report = dx_report_new(&ro);
	if (!l.report)
		return 1;
	dx_report_set_origin_here(l.report);
	rc = run_session(o, &loop, &events);
	if (rc == 1) {
		dx_report_free(l.report);
		return 1;
	}
	dx_report_flush(l.report);
	fprintf(stderr,
		"daxtrace: %" PRIu64 " events, %" PRIu64 " lost, %" PRIu64 " findings; kernel side: %" PRIu64
		" tracking-map insertions failed, %" PRIu64 " fault addresses not resolved\n",
		dx_report_events(l.report), dx_report_lost(l.report), dx_report_findings_judged(l.report),
		dx_report_drops(l.report, DX_DROP_MAP_FULL), dx_report_drops(l.report, DX_DROP_VMA));
	dx_report_free(l.report);
	return rc ? 1 : 0;
}

/* ---- record: the same records, into a capture file ---- */

struct recorder {
	const char *path;
	uint64_t max_size;
	struct dx_capture_writer *w; /* made at the first record: a session that fails writes nothing */
	uint64_t lost;
	bool failed;
};

static void take_record(uint32_t type, const void *payload, uint32_t len, void *ctx)
{
	struct recorder *rec = ctx;
	struct utsname u;
	char err[512];

	if (rec->failed && !rec->w)
		return;
	if (!rec->w) {
		uname(&u);
		rec->w = dx_capture_create(rec->path, u.release, err, sizeof(err));
		if (!rec->w) {
			fprintf(stderr, "daxtrace: %s\n", err);
			rec->failed = true;
			stop = 1;
			return;
		}
		dx_capture_limit(rec->w, rec->max_size);
	}
	if (type == DX_REC_DROPS)
		rec->lost = ((const struct dx_drops_record *)payload)->drops[DX_DROP_RINGBUF];
	/* after a failure or the bound, the writer counts what it refuses */
	if (dx_capture_append(rec->w, type, payload, len)) {
		rec->failed = true; /* finishing says why and how much the file holds */
		stop = 1;
	}
}

/* Each second, after the snapshot: a crash or power loss costs at most a second of capture. */
static bool flush_record(void *ctx, uint64_t elapsed_ns)
{
	struct recorder *rec = ctx;
	char err[512];

	(void)elapsed_ns;
	if (rec->w && !rec->failed && dx_capture_flush(rec->w, err, sizeof(err))) {
		rec->failed = true;
		stop = 1;
	}
	return true;
}

static int cmd_record(const struct options *o)
{
	struct recorder rec = { .path = o->output, .max_size = o->max_size };
	struct dx_loop_opts loop = { .sink = take_record, .sink_ctx = &rec, .on_interval = flush_record, .ctx = &rec };
	uint64_t started = dx_clock_ns(CLOCK_MONOTONIC), events = 0;
	char err[512];
	int rc;

	rc = run_session(o, &loop, &events) ? 1 : 0;
	if (!rec.w)
		return 1; /* the session did not start, or the file could not be made: said why, nothing written */
	/* a failed write or --max-size stopped the recording: finishing says so, and how many events the file holds */
	switch (dx_capture_finish(rec.w, rec.lost, dx_clock_ns(CLOCK_MONOTONIC) - started, err, sizeof(err))) {
	case -1:
		fprintf(stderr, "daxtrace: %s\n", err);
		return 1;
	case 1:
		fprintf(stderr, "daxtrace: %s\n", err);
		return rc;
	}
	fprintf(stderr, "daxtrace: recorded %" PRIu64 " events (%" PRIu64 " lost) to %s\n", events, rec.lost, o->output);
	return rc;
}

/* ---- report: a capture's records ---- */

/* The timeline outputs asked for; 1 if one could not be written (said why, nothing left at its name). */
static int write_timelines(const struct options *o, struct dx_timeline *t, const struct dx_report *r)
{
	char err[PATH_MAX + 128];
	int rc = 0;

	if (o->perfetto && dx_timeline_write_trace(t, r, o->perfetto, err, sizeof(err))) {
		fprintf(stderr, "daxtrace: %s\n", err);
		rc = 1;
	}
	if (o->html && dx_timeline_write_html(t, r, o->html, err, sizeof(err))) {
		fprintf(stderr, "daxtrace: %s\n", err);
		rc = 1;
	}
	return rc;
}

static int cmd_report(const struct options *o)
{
	struct dx_report_opts ro = {
		.keep_punches = true, .evidence_budget = o->budget.evidence_budget, .idle_ns = o->budget.idle_ns,
	};
	struct dx_capture_reader *in;
	struct dx_timeline *t;
	struct dx_report *r;
	char err[512];
	int got, rc;

	in = dx_capture_open(o->input, err, sizeof(err));
	if (!in) {
		fprintf(stderr, "daxtrace: %s\n", err);
		return 1;
	}
	r = dx_report_new(&ro);
	t = o->perfetto || o->html ? dx_timeline_new() : NULL;
	if (!r || ((o->perfetto || o->html) && !t)) {
		dx_report_free(r);
		dx_capture_close(in);
		return 1;
	}
	if (o->dir[0]) /* before the capture's own --path, which it then overrides */
		dx_report_set_dir(r, o->dir);
	got = dx_report_read(r, in, t ? dx_timeline_take : NULL, t);
	if (got < 0)
		fprintf(stderr, "daxtrace: %s\ndaxtrace: reporting what was readable before the damage\n",
			dx_capture_error(in));
	if (o->json)
		dx_report_json(stdout, r);
	else
		dx_report_text(stdout, r);
	rc = t ? write_timelines(o, t, r) : 0;
	dx_timeline_free(t);
	dx_report_free(r);
	dx_capture_close(in);
	return got < 0 || rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options o = { .mode = LIVE };
	int rc;

	argp_err_exit_status = 2; /* a usage error, as every daxscope tool says it */
	if (argp_parse(&argp, argc, argv, 0, NULL, &o))
		return 2;
	rc = check_applies(&o, argv[0]);
	if (rc)
		return rc;
	dx_loop_stop_on_signals(&stop); /* a capture is finished as for ^C */
	switch (o.mode) {
	case RECORD: return cmd_record(&o);
	case REPORT: return cmd_report(&o);
	case LIVE: break;
	}
	return cmd_live(&o);
}
