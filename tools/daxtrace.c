// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daxtrace: faults that race hole punches, live or through a capture file.
 *   daxtrace [-p PID] [--path DIR] [-d SECONDS]        stream findings live
 *   daxtrace record -o FILE [-d SECONDS] [-p PID] [--path DIR]
 *   daxtrace report FILE [--json]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "daxscope/capture.h"
#include "daxscope/daxscope.h"

#define REORDER_NS 20000000ULL /* 20 ms */
#define GRACE_NS 100000000ULL  /* 100 ms */

static const char usage[] =
	"Usage: daxtrace [-p PID] [--path DIR] [-d SECONDS]\n"
	"       daxtrace record -o FILE [-p PID] [--path DIR] [-d SECONDS]\n"
	"       daxtrace report FILE [--json]\n"
	"\n"
	"Shows what runs while a hole punch, zero/collapse/insert range, truncate or\n"
	"range copy changes a file's data: faults held off by its lock (blocked_fault)\n"
	"and, where it changed data without the lock, faults that got through\n"
	"(unblocked_fault), writes it threw away (discarded_write), pre-punch data\n"
	"written back into the hole (resurrected_data), IO meanwhile (io_during_punch)\n"
	"and pages read back in (refault).\n"
	"\n"
	"  -p, --pid PID      only punches by this process\n"
	"      --path DIR     only files on DIR's filesystem (and paths under DIR)\n"
	"  -d, --duration S   stop after S seconds (default: until Ctrl-C)\n"
	"  -o, --output FILE  capture file to write (record)\n"
	"      --json         JSON report, schema daxscope.report/2 (report)\n"
	"  -h, --help         this text\n"
	"\n"
	"Examples:\n"
	"  daxtrace                            # live, until Ctrl-C\n"
	"  daxtrace record -o punch.dxc -d 30  # capture 30 s\n"
	"  daxtrace report punch.dxc --json    # summarise a capture\n";

struct options {
	uint32_t pid;
	const char *path;
	const char *output;
	const char *input;
	double duration;
	bool json;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "daxtrace: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage);
	return 2;
}

static int parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },      { "path", required_argument, NULL, 'P' },
		{ "duration", required_argument, NULL, 'd' }, { "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },	      { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "p:d:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			errno = 0;
			o->pid = (uint32_t)strtoul(optarg, &end, 10);
			if (errno || *end || !o->pid)
				return bad_usage("invalid PID '%s'", optarg);
			break;
		case 'P':
			o->path = optarg;
			break;
		case 'd':
			o->duration = strtod(optarg, &end);
			if (*end || o->duration <= 0)
				return bad_usage("invalid duration '%s' (seconds, > 0)", optarg);
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			return bad_usage("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	return 0;
}

/* ---- shared by live and record: a session that runs until a signal or -d ---- */

struct run {
	struct dx_session *session;
	uint64_t deadline; /* CLOCK_MONOTONIC, 0: none */
};

static int start(struct run *run, const struct options *o)
{
	struct dx_session_opts so = { .pid = o->pid, .path = o->path };
	char err[512];

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (dx_session_open(&so, &run->session, err, sizeof(err))) {
		fprintf(stderr, "daxtrace: %s\n", err);
		return 1;
	}
	fprintf(stderr, "%s\n", dx_session_banner(run->session));
	run->deadline = o->duration > 0 ? now_ns(CLOCK_MONOTONIC) + (uint64_t)(o->duration * 1e9) : 0;
	return 0;
}

static bool running(const struct run *run)
{
	return !stop && (!run->deadline || now_ns(CLOCK_MONOTONIC) < run->deadline);
}

/* Live stream ---------------------------------------------------------------------------- */

struct live {
	struct dx_report report;
	size_t printed;
	const char *under; /* --path prefix */
};

static bool wanted_file(const struct live *l, const struct dx_file *f)
{
	const char *path;

	if (!l->under)
		return true;
	path = dx_paths_get(l->report.paths, f);
	return path && !strncmp(path, l->under, strlen(l->under));
}

static void print_new_findings(struct live *l)
{
	for (; l->printed < l->report.nfindings; l->printed++) {
		const struct dx_finding *f = &l->report.findings[l->printed];

		if (wanted_file(l, &f->file))
			dx_report_finding_line(stdout, &l->report, f);
	}
	fflush(stdout);
}

static void take_live(const struct dx_event *e, void *ctx)
{
	struct live *l = ctx;

	dx_report_take(&l->report, e, true);
}

static int cmd_live(const struct options *o)
{
	struct live l = { .under = o->path };
	struct run run;
	uint64_t lost = 0;
	struct utsname u;
	int err = 0;

	if (dx_report_init(&l.report, REORDER_NS, GRACE_NS, false))
		return 1;
	if (start(&run, o)) {
		dx_report_free(&l.report);
		return 1;
	}
	uname(&u);
	snprintf(l.report.kernel, sizeof(l.report.kernel), "%.63s", u.release);
	snprintf(l.report.banner, sizeof(l.report.banner), "%s", dx_session_banner(run.session));
	l.report.realtime_offset_ns = (int64_t)(now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC));
	while (running(&run)) {
		err = dx_session_poll(run.session, 100, take_live, &l);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "daxtrace: reading events: %s\n", strerror(-err));
			break;
		}
		dx_correlator_advance(l.report.corr, now_ns(CLOCK_MONOTONIC));
		if (dx_session_drops(run.session, DX_DROP_RINGBUF) > lost) {
			lost = dx_session_drops(run.session, DX_DROP_RINGBUF);
			fprintf(stderr, "daxtrace: %" PRIu64 " events lost so far (ring buffer full)\n", lost);
		}
		print_new_findings(&l);
	}
	l.report.kernel_lost = dx_session_drops(run.session, DX_DROP_RINGBUF);
	dx_session_close(run.session);
	dx_correlator_flush(l.report.corr);
	print_new_findings(&l);
	fprintf(stderr, "daxtrace: %" PRIu64 " events, %" PRIu64 " lost, %zu findings\n",
		dx_correlator_events(l.report.corr), l.report.kernel_lost, l.report.nfindings);
	dx_report_free(&l.report);
	return err < 0 && err != -EINTR ? 1 : 0;
}

/* Record ---------------------------------------------------------------------------------- */

struct recorder {
	struct dx_capture_writer *w;
	struct dx_paths *paths;
	uint64_t events;
	bool failed;
};

/* A record of a file and what is known of it (PATH, FILE_COUNTS): the dx_file, then the payload. */
static void record_of_file(struct recorder *rec, uint32_t type, const struct dx_file *f, const void *payload,
			   size_t len)
{
	char buf[sizeof(struct dx_file) + 4096];

	if (len > sizeof(buf) - sizeof(*f))
		return;
	memcpy(buf, f, sizeof(*f));
	memcpy(buf + sizeof(*f), payload, len);
	rec->failed |= dx_capture_append(rec->w, type, buf, (uint32_t)(sizeof(*f) + len)) != 0;
}

static void record_path(struct recorder *rec, const struct dx_file *f, const char *path)
{
	record_of_file(rec, DX_REC_PATH, f, path, strlen(path) + 1);
}

static void take_record(const struct dx_event *e, void *ctx)
{
	struct recorder *rec = ctx;
	const char *path = NULL;

	rec->events++;
	rec->failed |= dx_capture_append(rec->w, DX_REC_EVENT, e, sizeof(*e)) != 0;
	if (e->file.ino && !dx_paths_get(rec->paths, &e->file)) {
		if (e->kind == DX_PUNCH_BEGIN)
			path = dx_paths_resolve(rec->paths, &e->file, e->pid, e->punch.fd);
		else if (e->kind == DX_MAP_FAULT || e->kind == DX_FILEMAP_FAULT || e->kind == DX_PAGE_DIRTY)
			path = dx_paths_resolve(rec->paths, &e->file, e->pid, -1);
	}
	if (path)
		record_path(rec, &e->file, path);
}

static void record_file_counts(const struct dx_file *f, const struct dx_file_counts *c, void *ctx)
{
	record_of_file(ctx, DX_REC_FILE_COUNTS, f, c, sizeof(*c));
}

/* The kernel's aggregates, at the end: FUSE latency histograms, per-file page-event counters. */
static void record_aggregates(struct recorder *rec, const struct dx_session *s)
{
	struct {
		uint32_t opcode;
		uint32_t pad;
		struct dx_hist hist;
	} fuse;

	for (size_t i = 0; i < sizeof(dx_fuse_opcodes) / sizeof(dx_fuse_opcodes[0]); i++) {
		memset(&fuse, 0, sizeof(fuse));
		fuse.opcode = dx_fuse_opcodes[i];
		if (!dx_session_fuse_hist(s, fuse.opcode, &fuse.hist) && fuse.hist.count)
			rec->failed |= dx_capture_append(rec->w, DX_REC_FUSE_HIST, &fuse, sizeof(fuse)) != 0;
	}
	dx_session_file_counts(s, record_file_counts, rec);
}

static int cmd_record(const struct options *o)
{
	struct recorder rec = { 0 };
	uint64_t started, last_flush, lost;
	struct utsname u;
	struct run run;
	char err[512];
	int rc = 0;

	if (!o->output)
		return bad_usage("record needs -o FILE%s", "");
	uname(&u);
	rec.paths = dx_paths_new();
	rec.w = dx_capture_create(o->output, u.release, err, sizeof(err));
	if (!rec.w || !rec.paths) {
		fprintf(stderr, "daxtrace: %s\n", rec.w ? "out of memory" : err);
		dx_paths_free(rec.paths);
		return 1;
	}
	if (start(&run, o)) {
		dx_capture_finish(rec.w, 0, 0, err, sizeof(err));
		dx_paths_free(rec.paths);
		return 1;
	}
	rec.failed |= dx_capture_append(rec.w, DX_REC_BANNER, dx_session_banner(run.session),
					(uint32_t)strlen(dx_session_banner(run.session)) + 1) != 0;
	started = last_flush = now_ns(CLOCK_MONOTONIC);
	while (running(&run) && !rec.failed) {
		int n = dx_session_poll(run.session, 100, take_record, &rec);

		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "daxtrace: reading events: %s\n", strerror(-n));
			rc = 1;
			break;
		}
		/* a crash or power loss costs at most a second of capture */
		if (now_ns(CLOCK_MONOTONIC) - last_flush > 1000000000ULL) {
			if (dx_capture_flush(rec.w, err, sizeof(err)))
				rec.failed = true;
			last_flush = now_ns(CLOCK_MONOTONIC);
		}
	}
	dx_session_poll(run.session, 0, take_record, &rec); /* what is still in the ring buffer */
	record_aggregates(&rec, run.session);
	lost = dx_session_drops(run.session, DX_DROP_RINGBUF);
	dx_session_close(run.session);
	if (dx_capture_finish(rec.w, lost, now_ns(CLOCK_MONOTONIC) - started, err, sizeof(err)) ||
	    rec.failed) {
		fprintf(stderr, "daxtrace: %s\n", rec.failed && !err[0] ? "writing the capture failed" : err);
		rc = 1;
	}
	fprintf(stderr, "daxtrace: recorded %" PRIu64 " events (%" PRIu64 " lost) to %s\n", rec.events,
		lost, o->output);
	dx_paths_free(rec.paths);
	return rc;
}

/* Report ---------------------------------------------------------------------------------- */

static void take_record_payload(struct dx_report *r, uint32_t type, const void *p, uint32_t len)
{
	const struct dx_capture_end *end;

	switch (type) {
	case DX_REC_EVENT:
		dx_correlator_push(r->corr, p);
		break;
	case DX_REC_PATH:
		if (len > sizeof(struct dx_file) && ((const char *)p)[len - 1] == '\0')
			dx_paths_set(r->paths, p, (const char *)p + sizeof(struct dx_file));
		break;
	case DX_REC_BANNER:
		snprintf(r->banner, sizeof(r->banner), "%.*s", (int)len, (const char *)p);
		break;
	case DX_REC_FUSE_HIST:
		for (size_t i = 0; len >= 8 + sizeof(struct dx_hist) && i < 5; i++)
			if (dx_fuse_opcodes[i] == *(const uint32_t *)p)
				memcpy(&r->fuse[i], (const char *)p + 8, sizeof(struct dx_hist));
		break;
	case DX_REC_FILE_COUNTS:
		dx_report_kernel_counts(p, (const struct dx_file_counts *)((const char *)p + sizeof(struct dx_file)), r);
		break;
	case DX_REC_END:
		end = p;
		r->kernel_lost = end->lost;
		r->duration_ns = end->duration_ns;
		break;
	}
}

static int cmd_report(const struct options *o)
{
	struct dx_capture_reader *in;
	const struct dx_capture_header *h;
	struct dx_report r;
	const void *payload;
	uint32_t type, len;
	char err[512];
	int got;

	if (!o->input)
		return bad_usage("report needs a capture FILE%s", "");
	in = dx_capture_open(o->input, err, sizeof(err));
	if (!in) {
		fprintf(stderr, "daxtrace: %s\n", err);
		return 1;
	}
	if (dx_report_init(&r, REORDER_NS, GRACE_NS, true)) {
		dx_capture_close(in);
		return 1;
	}
	h = dx_capture_info(in);
	snprintf(r.kernel, sizeof(r.kernel), "%.*s", (int)sizeof(h->kernel), h->kernel);
	r.realtime_offset_ns = (int64_t)(h->realtime_ns - h->monotonic_ns);
	while ((got = dx_capture_next(in, &type, &payload, &len)) > 0)
		take_record_payload(&r, type, payload, len);
	if (got < 0) {
		r.warning = dx_capture_error(in);
		fprintf(stderr, "daxtrace: %s\ndaxtrace: reporting what was readable before the damage\n",
			r.warning);
	}
	dx_correlator_flush(r.corr);
	if (o->json)
		dx_report_json(stdout, &r);
	else
		dx_report_text(stdout, &r);
	dx_report_free(&r);
	dx_capture_close(in);
	return got < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	const char *cmd = argc > 1 ? argv[1] : "";
	bool sub = !strcmp(cmd, "record") || !strcmp(cmd, "report");
	int rc;

	rc = parse(argc - sub, argv + sub, &o);
	if (rc)
		return rc;
	if (!strcmp(cmd, "report")) {
		if (optind + sub < argc)
			o.input = argv[optind + sub];
		if (optind + sub + 1 < argc)
			return bad_usage("unexpected argument '%s'", argv[optind + sub + 1]);
		return cmd_report(&o);
	}
	if (optind + sub < argc)
		return bad_usage("unknown command or argument '%s'", argv[optind + sub]);
	return !strcmp(cmd, "record") ? cmd_record(&o) : cmd_live(&o);
}
